/* SPDX-License-Identifier: MIT */
/*
 * The subscription seam's state, shared by the connection side
 * (server.c), live delivery (server_live.c) and the per-subscription
 * replay machine (server_replay.c). Nothing here is exported.
 *
 * Lifetimes: the host may close a connection, unsubscribe or even free
 * the server from inside any transport call the seam makes, and a store
 * may complete an operation inline or later. Connections and
 * subscriptions are therefore reference counted: the owning list holds
 * one reference, every asynchronous operation in flight one, and every
 * function that calls the transport one while it does. A removed
 * subscription is marked `dead` and releases its held messages at once;
 * its memory goes with the last reference. The server itself is freed
 * only when no call into it is running (`depth`).
 */
#ifndef RESDELIV_SERVER_INTERNAL_H
#define RESDELIV_SERVER_INTERNAL_H

#include "internal.h"

/* Intrusive chained hash table node and table. */
struct resdeliv__hnode {
    struct resdeliv__hnode *next;
    uint64_t hash;
};

struct resdeliv__htable {
    struct resdeliv__hnode **buckets;
    size_t size; /* power of two, or 0 */
    size_t count;
};

/* Subscription states. */
#define RESDELIV__SUB_WAITING 0   /* queued for a replay slot */
#define RESDELIV__SUB_OPENING 1   /* cursor open in flight */
#define RESDELIV__SUB_REPLAYING 2 /* sending pages */
#define RESDELIV__SUB_FLUSHING 3  /* sending held live messages */
#define RESDELIV__SUB_LIVE 4      /* joined: the host delivers */

/* One live frame held while a subscription replays. */
struct resdeliv__held {
    struct resdeliv__held *next;
    struct resdeliv_id id; /* zero: untagged */
    int fresh;             /* passed the dedup window already */
    size_t len;
    char frame[];
};

/* One frame of the page being sent. */
struct resdeliv__out {
    char *text;
    size_t len;
    int entry; /* 1: a replayed entry with `id` */
    struct resdeliv_id id;
};

struct resdeliv__conn;
struct resdeliv__chan;

struct resdeliv__sub {
    resdeliv_server *srv;
    struct resdeliv__conn *conn; /* NULL once dead */
    struct resdeliv__sub *next;  /* the connection's list */
    struct resdeliv__chan *chan; /* holding index entry, or NULL */
    struct resdeliv__sub *hprev, *hnext;
    struct resdeliv__sub *wprev, *wnext; /* waiting FIFO */
    struct resdeliv__sub *ovf_next;      /* overflow pass of a delivery */
    int state;
    int refs;
    int dead;
    int waiting;
    int has_slot; /* counts against max_replaying */
    int busy;     /* an open or fetch is in flight */
    int in_call;  /* inside the call that started it */
    int ended;    /* the cursor has nothing more to give */
    int wants_writable;
    int stale_run; /* RESDELIV_ESTALE answers in a row */
    int op_status; /* outcome of the last open or fetch */
    char *last_id;
    char *last_epoch;
    char *data; /* subscription_succeeded inner object */
    size_t data_len;
    resdeliv_replay *cur;
    struct resdeliv_replay_status status; /* as opened */
    resdeliv_dedup *dedup;
    struct resdeliv_id last_replayed;
    struct resdeliv__held *held_head, *held_tail;
    uint64_t nheld;
    struct resdeliv__out *page;
    size_t page_n, page_next, page_cap;
    size_t channel_len;
    char channel[RESDELIV_MAX_CHANNEL_LEN + 1];
};

struct resdeliv__conn {
    struct resdeliv__hnode node; /* first: the table hands nodes back */
    void *key;
    struct resdeliv__sub *subs;
    size_t nsubs;
    int refs;
    int closed;
    int want_writable; /* request_writable made, writable not yet seen */
};

/* Subscriptions of one channel that are not live yet. */
struct resdeliv__chan {
    struct resdeliv__hnode node;
    struct resdeliv__sub *head;
    size_t len;
    char name[];
};

/* Subscriptions of one channel on this server, in any state, counted
 * for the on_channel hook (only when the host set one). */
struct resdeliv__active {
    struct resdeliv__hnode node;
    size_t subs;
    size_t len;
    char name[];
};

/* An asynchronous publish: the names its results are delivered under. */
struct resdeliv__pub {
    resdeliv_server *srv; /* NULL once the server is freed */
    struct resdeliv__pub *prev, *next;
    resdeliv_publish_cb cb;
    void *arg;
    void *except;
    size_t n;
    struct resdeliv_message names[]; /* channel and event; data unused */
};

struct resdeliv_server {
    resdeliv_log *log;
    struct resdeliv_transport tp;
    struct resdeliv_server_options opts;
    struct resdeliv__htable conns;
    struct resdeliv__htable chans;
    struct resdeliv__htable actives; /* on_channel counts */
    struct resdeliv__sub *wait_head, *wait_tail;
    struct resdeliv__pub *pubs;
    struct resdeliv_server_stats stats;
    int depth;    /* calls into the server running now */
    int freeing;  /* resdeliv_server_free() was called */
    int starting; /* start_waiting() is running */
};

/* ---- server.c ---------------------------------------------------------- */

void resdeliv__server_enter(resdeliv_server *srv);
/* Leave a call; frees the server when it was freed meanwhile. */
void resdeliv__server_leave(resdeliv_server *srv);
void resdeliv__server_say(resdeliv_server *srv, uint32_t level, const char *fmt,
                          ...) __attribute__((format(printf, 3, 4)));
void resdeliv__server_conn_ref(struct resdeliv__conn *c);
void resdeliv__server_conn_unref(struct resdeliv__conn *c);
/* Ask the host for a writable callback unless one is pending. */
void resdeliv__server_want_writable(resdeliv_server *srv,
                                    struct resdeliv__conn *c);
/* Forget a connection now (every subscription removed); the host is not
 * told. */
void resdeliv__server_conn_drop(resdeliv_server *srv, struct resdeliv__conn *c);
/* Send a pusher:error, ask the host to close, then drop the connection. */
void resdeliv__server_conn_fail(resdeliv_server *srv, struct resdeliv__conn *c,
                                uint32_t code, const char *msg);
/* 1 when `channel` is 1..RESDELIV_MAX_CHANNEL_LEN bytes with no control
 * character; sets `*len`. */
int resdeliv__server_channel_ok(const char *channel, size_t *len);
/* The holding index entry of a channel, or NULL. */
struct resdeliv__chan *resdeliv__server_chan_find(const resdeliv_server *srv,
                                                  const char *name, size_t len);
/* Take a subscription out of its channel's holding index. */
void resdeliv__server_unhold(resdeliv_server *srv, struct resdeliv__sub *s);

/* ---- server_replay.c --------------------------------------------------- */

void resdeliv__sub_ref(struct resdeliv__sub *s);
void resdeliv__sub_unref(struct resdeliv__sub *s);
/* Remove a subscription (already unlinked from its connection). */
void resdeliv__sub_kill(resdeliv_server *srv, struct resdeliv__sub *s);
void resdeliv__sub_drop_held(resdeliv_server *srv, struct resdeliv__sub *s);
/* Give a new subscription a slot or queue it, and start what can start. */
void resdeliv__sub_begin(resdeliv_server *srv, struct resdeliv__sub *s);
/* Start waiting replays while slots are free. */
void resdeliv__server_start_waiting(resdeliv_server *srv);
/* The writable turn of one connection. */
void resdeliv__server_serve(resdeliv_server *srv, struct resdeliv__conn *c);

#endif /* RESDELIV_SERVER_INTERNAL_H */
