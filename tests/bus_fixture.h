/* SPDX-License-Identifier: MIT */
/*
 * The fixture the Redis bus's Check programs share (check_bus*.c): a
 * private redis-server for the whole program, a small poll(2) loop behind
 * the loop hooks, what the bus hands over (entries and gaps), and a test
 * node (loop, event-loop Redis store, bus, a plain hiredis client) with
 * helpers that append entries the way the store lays them out and
 * announce them with a plain PUBLISH of a bus message.
 */
#ifndef RESDELIV_TEST_BUS_FIXTURE_H
#define RESDELIV_TEST_BUS_FIXTURE_H

#include "bus_redis_internal.h"
#include "redis_suite.h"

#include <check.h>
#include <hiredis/hiredis.h>

#define WAIT_MS 10000u
#define NSLOTS 32
#define MAXSEEN 2048

/* The program's redis-server, started by redis_suite_run(). */
extern struct redis_server srv;

struct slot {
    int used;
    int fd;
    uint32_t events;
    int armed;
    uint64_t due;
    resdeliv_loop_io_cb io;
    resdeliv_loop_timer_cb tm;
    void *arg;
};

struct tloop {
    struct slot w[NSLOTS];
    struct slot t[NSLOTS];
};

/* Loop hooks over `l`. */
struct resdeliv_loop hooks(struct tloop *l);
/* One turn: wait at most `ms` for sockets, then run due timers. */
void loop_once(struct tloop *l, int ms);
/* Run the loop until `*flag` is set, at most WAIT_MS; returns `*flag`. */
int loop_until(struct tloop *l, const int *flag);
/* Run the loop for `ms`. */
void loop_spin(struct tloop *l, uint64_t ms);

/* ---- what the bus hands over ---- */

struct seen_entry {
    char channel[64];
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_id id;
    uint32_t flags;
    char event[32];
    char data[64];
};

struct seen_gap {
    char channel[64];
    uint32_t reason;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
};

struct seen {
    struct seen_entry e[MAXSEEN];
    size_t ne;
    struct seen_gap g[64];
    size_t ng;
    int done;
    int got_gap;
    size_t want;
    resdeliv_bus **free_in_entry; /* freed on the first entry when set */
};

/* The bus callbacks, recording into the `struct seen` of their arg. */
void on_entry(void *arg, const char *channel, size_t channel_len,
              const struct resdeliv_position *pos, uint32_t flags,
              const char *event, size_t event_len, const char *data,
              size_t data_len);
void on_gap(void *arg, const char *channel, size_t channel_len,
            const struct resdeliv_replay_status *st);

/* ---- a test node: loop, store, bus ---- */

struct node {
    struct tloop loop;
    struct resdeliv_loop h;
    resdeliv_store *store;
    resdeliv_bus *bus;
    struct seen seen;
    redisContext *rc; /* the test's own client */
};

/* A node on the Redis at `url`, its store connected. */
struct node *node_new(const char *url);
void node_free(struct node *n);
/* Keys of log `chan` of app "app" under the default prefix. */
void keys(const char *chan, char *stream, char *epoch, char *bus);
/* A command on the test's client; an error reply fails the test. */
redisReply *cmd(redisContext *c, const char *fmt, ...);
/* Append an entry as the store lays it out. @return its id. */
struct resdeliv_id append(struct node *n, const char *chan, const char *epoch,
                          const char *event, const char *data);
/* PUBLISH a bus message. @return receivers. */
long long announce(struct node *n, const char *chan, const char *epoch,
                   const struct resdeliv_id *id, uint32_t flags,
                   const char *event, const char *data);
/* append() then announce() with flags 1. */
struct resdeliv_id publish(struct node *n, const char *chan, const char *epoch,
                           const char *event, const char *data);
/* Subscribers of the bus channel of `chan`, as Redis counts them. */
long long numsub(struct node *n, const char *chan);
/* Spin until Redis counts `want` subscribers of the bus channel. */
void wait_numsub(struct node *n, const char *chan, long long want);
/* Run the loop until the node has seen `want` entries in all. */
void wait_entries(struct node *n, size_t want);
struct resdeliv_bus_stats stats(const struct node *n);
/* Kill the bus's pub/sub connection (the store's is a normal client). */
void kill_pubsub(struct node *n);

#endif /* RESDELIV_TEST_BUS_FIXTURE_H */
