/* SPDX-License-Identifier: MIT */
/*
 * bench-cluster's shared declarations: the figures of one configuration
 * of the rate runs (nodes, subscribers, publishes/s, Redis commands) and
 * the Redis-side helpers of bench_cluster_redis.c.
 */
#ifndef RESDELIV_BENCH_CLUSTER_H
#define RESDELIV_BENCH_CLUSTER_H

#include "bench_server.h"

#include <hiredis/hiredis.h>

#define MAX_REPS 99
#define MAX_CMDS 96
#define NCONF 4

struct fig {
    double s[MAX_REPS];
    int n;
};

/* Redis calls per command, from INFO commandstats. */
struct cmdtab {
    int n;
    char name[MAX_CMDS][40];
    double calls[MAX_CMDS];
};

/* One configuration of the rate runs. */
struct conf {
    const char *name;
    const char *channel;
    int first;          /* publishers spread over nodes first.. */
    int nodes;          /* ..first + nodes - 1 */
    struct bsub **subs; /* its subscribers */
    size_t nsubs;
    struct fig rate;    /* publishes/s */
    struct fig cmds;    /* Redis calls per publish */
    struct fig cpu;     /* server CPU (nodes + redis), us per publish */
    struct cmdtab tot;  /* calls over the counted repetitions */
    double msgs;        /* publishes over the counted repetitions */
    struct cmdtab sent; /* MONITOR: commands the nodes sent ... */
    struct cmdtab lua;  /* ... and those their scripts ran */
    double mon_msgs;
};

/* INFO commandstats into `t`. @return 0 or -1. */
int bc_cmdstats(redisContext *rc, struct cmdtab *t);
/* The calls of `name`, or NULL when `t` has none. */
const double *bc_cmd_get(const struct cmdtab *t, const char *name);
/* Adds after - before to `tot`, INFO left out. @return the sum. */
double bc_cmd_diff(const struct cmdtab *before, const struct cmdtab *after,
                   struct cmdtab *tot);
/* A new connection in MONITOR mode, or NULL. */
redisContext *bc_monitor_start(int port);
/* Counts what `mon` showed into cf->sent and cf->lua, up to a marker sent
 * on `rc`, and frees `mon`. @return 0 or -1. */
int bc_monitor_collect(redisContext *rc, redisContext *mon, struct conf *cf);

void bc_print_cmds(const struct conf *cf, int nconf);
void bc_print_sent(const struct conf *confs, int nconf, int warm);
/* Commands sent per publish in the monitored run. */
double bc_sent_per_pub(const struct conf *cf);

#endif /* RESDELIV_BENCH_CLUSTER_H */
