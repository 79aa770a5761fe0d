/* SPDX-License-Identifier: MIT */
/*
 * Internals of the event-loop Redis store, shared by its two modules: the
 * connection, loop hooks and lifetime (store_redis_async.c) and the store
 * operations with their reply handling (redis_async_ops.c). See
 * store_redis_async.c for how operations complete exactly once.
 */
#ifndef RESDELIV_REDIS_ASYNC_INTERNAL_H
#define RESDELIV_REDIS_ASYNC_INTERNAL_H

#include "redis_loop_internal.h"

/* Connection states. */
#define RESDELIV__RA_DOWN 0
#define RESDELIV__RA_CONNECTING 1
#define RESDELIV__RA_READY 2

/* Kinds of operation. */
#define RESDELIV__RA_HANDSHAKE 0
#define RESDELIV__RA_APPEND 1
#define RESDELIV__RA_READ 2
#define RESDELIV__RA_INFO 3
#define RESDELIV__RA_DROP 4

struct resdeliv__ra_store;

/* One store operation; the privdata of each of its hiredis commands. */
struct resdeliv__ra_op {
    struct resdeliv__ra_op *prev, *next; /* live ops of the store */
    struct resdeliv__ra_op *wnext;       /* waiting for the handshake */
    struct resdeliv__ra_store *s;        /* NULL once orphaned */
    int kind;
    int done;         /* the user callback ran */
    int busy;         /* a completion of this op is running */
    int status;       /* first failure seen */
    size_t inflight;  /* commands hiredis still owes a reply */
    size_t replies;   /* replies received in the current round */
    size_t ncmds;     /* commands of the current round */
    union {
        resdeliv_append_cb append;
        resdeliv_read_cb read;
        resdeliv_info_cb info;
        resdeliv_done_cb done;
    } cb;
    void *arg;
    /* read, info, drop */
    struct resdeliv__redis_keys keys;
    struct resdeliv_id after;
    int has_after;
    int counting;     /* info: the count script is running */
    uint64_t probe;   /* info: COUNT of the probe sent, 0 for none */
    uint64_t max;     /* read: max entries; info: cap */
    struct resdeliv_log_info info;
    /* append: one block holds the op, its copied items and their bytes;
     * the batch has the script calls and results. `queue` of the batch
     * lists the groups whose reply is awaited, in reply order. */
    size_t n;
    struct resdeliv_append_item *items;
    struct resdeliv__redis_batch batch;
    size_t ohead, otail;
    /* handshake */
    int steps[4];
};

struct resdeliv__ra_store {
    struct resdeliv_loop loop;
    struct resdeliv__redis_loop io; /* the connection on the loop */
    void *timer;
    int armed;
    int state;
    int freeing;      /* redisAsyncFree() was called on ac */
    int lost;         /* ac lost its connection */
    int doomed;       /* ac is dropped at the next timer callback */
    int closing;      /* destroy ran */
    int depth;        /* entry points running */
    struct resdeliv__redis_url url;
    char *prefix;
    size_t prefix_len;
    int publish;      /* the append script PUBLISHes each entry (bus.h) */
    uint64_t connect_ms;
    uint64_t command_ms;
    unsigned version;
    int64_t skew_ms;  /* server clock - local clock, from assigned ids */
    char sha[48];
    uint32_t failures;
    uint64_t rng;
    struct resdeliv__redis_epochs epochs;
    uint64_t last_progress;
    size_t cmds_out;  /* commands awaiting a reply on ac */
    struct resdeliv__ra_op *ops_head, *ops_tail;
    struct resdeliv__ra_op *wait_head, *wait_tail;
    char errmsg[512];
};

/* Defined in store_redis_async.c. */
void resdeliv__ra_enter(struct resdeliv__ra_store *s);
int resdeliv__ra_leave(struct resdeliv__ra_store *s);
/* Queue (connecting) or send (ready) a new op; on error it is freed and
 * its callback never runs. */
int resdeliv__ra_submit(struct resdeliv__ra_store *s,
                        struct resdeliv__ra_op *op);
int resdeliv__ra_send(struct resdeliv__ra_store *s,
                      struct resdeliv__ra_op *op,
                      const struct resdeliv__redis_argv *a);
int resdeliv__ra_sendv(struct resdeliv__ra_store *s,
                       struct resdeliv__ra_op *op,
                       const struct resdeliv__redis_cmd *cmd);
/* Drop the connection soon (never from inside this call). */
void resdeliv__ra_abort(struct resdeliv__ra_store *s, const char *why);
void resdeliv__ra_op_free(struct resdeliv__ra_op *op);

/* Defined in redis_async_ops.c. */
int resdeliv__ra_op_send(struct resdeliv__ra_store *s,
                         struct resdeliv__ra_op *op);
/* One reply (NULL: none will come) for a store operation. */
void resdeliv__ra_op_reply(struct resdeliv__ra_store *s,
                           struct resdeliv__ra_op *op, const redisReply *r);
/* Complete an op that has no data to hand over (no-op when done). */
void resdeliv__ra_op_fail(struct resdeliv__ra_op *op, int status);
/* Check and copy the options and loop hooks into a zeroed store. */
int resdeliv__ra_configure(struct resdeliv__ra_store *s,
                           const struct resdeliv_redis_options *opts,
                           const struct resdeliv_loop *loop, char *err,
                           size_t errsize);
/* The store vtable's operations. */
int resdeliv__ra_append(void *self, const char *app_id, size_t app_id_len,
                        const struct resdeliv_append_item *items, size_t n,
                        resdeliv_append_cb cb, void *arg);
int resdeliv__ra_read(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, size_t max,
                      resdeliv_read_cb cb, void *arg);
int resdeliv__ra_info(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, uint64_t cap,
                      resdeliv_info_cb cb, void *arg);
int resdeliv__ra_drop(void *self, const struct resdeliv_log_key *key,
                      resdeliv_done_cb cb, void *arg);

#endif /* RESDELIV_REDIS_ASYNC_INTERNAL_H */
