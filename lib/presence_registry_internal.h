/* SPDX-License-Identifier: MIT */
/*
 * The presence registry's state, shared by its two modules: the
 * connections, heartbeat and API (presence_redis.c) and the views with
 * their loads and announcements (presence_load.c). Built with hiredis only.
 */
#ifndef RESDELIV_PRESENCE_REGISTRY_INTERNAL_H
#define RESDELIV_PRESENCE_REGISTRY_INTERNAL_H

#include "presence_redis_internal.h"
#include "presence_view_internal.h"
#include "redis_loop_internal.h"

#include <hiredis/async.h>

/* States of a view. */
#define RESDELIV__PV_SUBSCRIBING 0 /* SUBSCRIBE sent, not yet confirmed */
#define RESDELIV__PV_LOADING 1     /* HGETALL sent */
#define RESDELIV__PV_READY 2

struct resdeliv__pwaiter {
    struct resdeliv__pwaiter *next;
    void *conn;
    uint64_t serial;
    size_t len;
    char text[];
};

struct resdeliv__pqmsg {
    struct resdeliv__pqmsg *next;
    size_t len;
    char msg[];
};

struct resdeliv__pview {
    struct resdeliv__pview *next;
    char *channel;
    char *hkey; /* the presence hash */
    char *bkey; /* the log's bus channel */
    int state;
    int idle;      /* periods seen without a local member */
    uint64_t gen;  /* tells a load's reply from a later load's */
    size_t locals; /* users of this node */
    struct resdeliv__pv pv;
    struct resdeliv__pwaiter *waiters;
    struct resdeliv__pqmsg *qhead, *qtail;
    size_t nq;
};

struct resdeliv__pconn {
    resdeliv_presence *pr;
    struct resdeliv__redis_loop io;
    int sub; /* the pub/sub connection */
};

#define RESDELIV__PRUN_MAX 40

/* The run token another node's heartbeat held when last checked: a new
 * token means the node restarted with the same id, and the fields of its
 * earlier run would otherwise outlive it behind a live heartbeat. */
struct resdeliv__prun {
    struct resdeliv__prun *next;
    char node[RESDELIV__PV_NODE_MAX + 1];
    char run[RESDELIV__PRUN_MAX + 1];
};

struct resdeliv_presence {
    struct resdeliv_loop loop;
    struct resdeliv__redis_url url;
    char *prefix;
    char *app_id;
    char *node_key;
    char node[RESDELIV__PV_NODE_MAX + 1];
    uint64_t ttl_ms;
    uint64_t period_ms;
    uint64_t gen;
    struct resdeliv__pconn cmd, sub;
    void *timer;
    struct resdeliv__pview *views;
    struct resdeliv__cluster_hooks hooks;
    char run[RESDELIV__PRUN_MAX + 1]; /* this run's heartbeat value */
    struct resdeliv__prun *runs;      /* other nodes' last seen tokens */
    int attached;
    int closing;
};

/* A change of the merged view to hand to the server once the view is
 * consistent again (the hooks may re-enter the registry). */
struct resdeliv__pchange {
    struct resdeliv__pchange *next;
    char *channel;
    char *user_id;
    char *user_info;
    int added;
};

/* ---- presence_load.c ---- */

/* A command on `rc`; RESDELIV_ESTORE (fn not called) when it is down. */
int resdeliv__prs_send(struct resdeliv__pconn *rc, redisCallbackFn *fn,
                       void *priv, int argc, const char **argv,
                       const size_t *lens);
/* A reply nobody waits for. */
void resdeliv__prs_ignore(redisAsyncContext *ac, void *reply, void *privdata);

struct resdeliv__pview *resdeliv__prs_view_find(resdeliv_presence *pr,
                                                const char *channel);
/* A view of `channel`, subscribing (or ready, without pub/sub). */
int resdeliv__prs_view_new(resdeliv_presence *pr, const char *channel,
                           struct resdeliv__pview **out);
/* Unsubscribe and free. */
void resdeliv__prs_view_drop(resdeliv_presence *pr, struct resdeliv__pview *v);
void resdeliv__prs_view_free(struct resdeliv__pview *v);
void resdeliv__prs_subscribe(resdeliv_presence *pr, struct resdeliv__pview *v,
                             int on);
void resdeliv__prs_queue_clear(struct resdeliv__pview *v);
/* Write or delete the field of (node, user) and announce it. */
void resdeliv__prs_field_send(resdeliv_presence *pr,
                              const struct resdeliv__pview *v, int added,
                              const char *node, const char *user_id,
                              const char *user_info);
/* A load finished with `r` (NULL: without the hash); see presence_load.c. */
void resdeliv__prs_load_done(resdeliv_presence *pr, struct resdeliv__pview *v,
                             const redisReply *r);
void resdeliv__prs_change_push(struct resdeliv__pchange **list,
                               const char *channel, const char *user_id,
                               const char *user_info, int added);
/* Hand the changes to the server (oldest first) and free them. */
void resdeliv__prs_changes_fire(resdeliv_presence *pr,
                                struct resdeliv__pchange *list);

#endif /* RESDELIV_PRESENCE_REGISTRY_INTERNAL_H */
