/* SPDX-License-Identifier: MIT */
/*
 * Internals of the bus (bus.h): the message parser, which is pure and
 * built in every configuration (bus.c), and the limits the Redis bus
 * (bus_redis.c) works within, shared with its tests.
 */
#ifndef RESDELIV_BUS_REDIS_INTERNAL_H
#define RESDELIV_BUS_REDIS_INTERNAL_H

#include "redis_loop_internal.h"

#include <resdeliv/bus.h>
#include <resdeliv/loop.h>

/* Suffix of a log's bus channel after its stream key. */
#define RESDELIV__BUS_SUFFIX ":bus"

/* Channels named in one SUBSCRIBE or UNSUBSCRIBE. */
#define RESDELIV__BUS_BATCH 256
/* Entries one catch-up read asks for. */
#define RESDELIV__BUS_PAGE 100
/* Entries one catch-up recovers at most; past it, a gap (cap). */
#define RESDELIV__BUS_CATCHUP_MAX 100000
/* Bus messages a channel keeps while it catches up, and their bytes. A
 * fuller queue is dropped and the log read again (it holds them all). */
#define RESDELIV__BUS_QUEUE_MAX 1024
#define RESDELIV__BUS_QUEUE_BYTES (4u * 1024u * 1024u)

/* A parsed bus message; event and data point into the message. */
struct resdeliv__bus_msg {
    struct resdeliv_position pos;
    uint32_t flags;
    uint32_t reserved;
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
};

/*
 * Parse `RD1 <epoch> <id> <flags> <event_len>\n<event><data>`: the epoch a
 * valid token, the id a valid non-zero id, flags a decimal uint32 and
 * event_len a decimal length within the message, every number without
 * sign or leading zero, single spaces.
 * @return 0 or RESDELIV_EBADFRAME (`out` then untouched).
 */
int resdeliv__bus_parse(const char *msg, size_t len,
                        struct resdeliv__bus_msg *out);

/* ---- the bus's state, shared by bus_channels.c (channels and what
 * they hand over), bus_catchup.c (getting in sync through the store) and
 * bus_redis.c (the pub/sub connection and the API) ---- */

struct redisAsyncContext;

/* Catch-up calls that failed are tried again this often, waiting 100 ms
 * doubling up to 1.6 s, before the channel gives up with a gap. */
#define RESDELIV__BUS_RETRY_MAX 8
#define RESDELIV__BUS_RETRY_MIN_MS 100u

#define RESDELIV__BUS_CALL_START 0 /* the starting position */
#define RESDELIV__BUS_CALL_CHECK                                               \
    1 /* epoch and retention after an interruption */
#define RESDELIV__BUS_CALL_READ 2 /* a page of entries after the last one */

typedef struct resdeliv_bus resdeliv__bus_t;

struct resdeliv__bus_qmsg {
    struct resdeliv__bus_qmsg *next;
    struct resdeliv__bus_msg m;
    size_t size;
    char bytes[];
};

struct resdeliv__bus_chan {
    resdeliv__bus_t *bus;
    struct resdeliv__bus_chan *hnext; /* table chain */
    struct resdeliv__bus_chan *pnext; /* SUBSCRIBE / UNSUBSCRIBE to send */
    struct resdeliv__bus_chan *wnext; /* a catch-up read to issue */
    struct resdeliv__bus_chan *rnext; /* a failed catch-up to try again */
    uint64_t hash;
    size_t refs;
    int pins;
    int pending;       /* on the pending list */
    int in_work;       /* on the work list */
    int in_retry;      /* on the retry list */
    uint32_t attempts; /* failed catch-up calls in a row */
    int on_redis;      /* SUBSCRIBE sent on this connection, no UNSUBSCRIBE */
    int confirmed;     /* Redis confirmed it */
    int unsub_sent;    /* UNSUBSCRIBE not confirmed yet */
    int start_busy;    /* starting position being read */
    int have_pos;      /* `last` is known */
    int synced;        /* bus messages go straight out */
    int need_check;    /* the connection dropped since the last sync */
    int busy;          /* a catch-up call is in flight */
    int overflowed;    /* queued messages were dropped */
    uint64_t gen;      /* catch-up calls of older generations are ignored */
    uint64_t recovered;
    struct resdeliv_position last;
    struct resdeliv__bus_qmsg *qhead, *qtail;
    size_t qn, qbytes;
    char *key; /* the Redis channel */
    size_t key_len;
    size_t len;
    char name[];
};

struct resdeliv__bus_ticket {
    struct resdeliv__bus_ticket *prev, *next;
    resdeliv__bus_t *bus;          /* NULL once the bus is freed */
    struct resdeliv__bus_chan *ch; /* NULL once the channel is gone */
    uint64_t gen;
    int kind;
};

struct resdeliv_bus {
    struct resdeliv_loop loop;
    struct resdeliv_bus_callbacks cb;
    resdeliv_store *store;
    struct resdeliv__redis_loop io; /* the pub/sub connection */
    void *timer; /* reconnect backoff, or the connect deadline */
    void *work;  /* zero-delay: pending (un)subscribes, catch-up reads */
    void *retry; /* failed catch-up calls */
    int freeing; /* redisAsyncFree() was called on ac */
    int established;
    int connected_once;
    int closing;
    int depth;
    uint32_t failures;
    uint64_t rng;
    struct resdeliv__redis_url url;
    char *prefix;
    size_t prefix_len;
    char *app;
    size_t app_len;
    uint64_t connect_ms;
    struct resdeliv__bus_chan **buckets;
    size_t nbuckets;
    size_t nchans;
    struct resdeliv__bus_chan *pend_head, *pend_tail;
    struct resdeliv__bus_chan *work_head, *work_tail;
    struct resdeliv__bus_chan *retry_head;
    struct resdeliv__bus_ticket *calls;
    struct resdeliv_bus_stats stats;
    char errmsg[256];
};

/* bus_channels.c */
void resdeliv__bus_enter(resdeliv__bus_t *b);
/* Leave an entry point; the bus is released when it was freed meanwhile
 * and this was the outermost one. */
void resdeliv__bus_leave(resdeliv__bus_t *b);
void resdeliv__bus_release(resdeliv__bus_t *b);
void resdeliv__bus_qdrop(struct resdeliv__bus_chan *ch);
struct resdeliv__bus_chan *resdeliv__bus_chan_find(const resdeliv__bus_t *b,
                                                   const char *key, size_t len);
/* Free a channel nobody needs any more (no-op otherwise). */
void resdeliv__bus_chan_release(struct resdeliv__bus_chan *ch);
/* SUBSCRIBE or UNSUBSCRIBE `ch` soon, as its references say. */
void resdeliv__bus_pend(struct resdeliv__bus_chan *ch);
void resdeliv__bus_gap(struct resdeliv__bus_chan *ch, uint32_t reason,
                       const struct resdeliv_position *now,
                       const struct resdeliv_id *oldest);
/* Hand one entry over unless it is a duplicate. @return 1 when handed. */
int resdeliv__bus_hand(struct resdeliv__bus_chan *ch,
                       const struct resdeliv__bus_msg *m);
void resdeliv__bus_go_synced(struct resdeliv__bus_chan *ch);
/* Keep a copy of a message (parsed from `raw`) until the channel is in
 * sync; a full queue is dropped and the log read again. */
void resdeliv__bus_enqueue(struct resdeliv__bus_chan *ch,
                           const struct resdeliv__bus_msg *m, const char *raw,
                           size_t len);

/* bus_catchup.c */
/* Start a store call (CALL_*). @return 0 (the completion runs, maybe
 * already did) or an error (it will not). */
int resdeliv__bus_call(struct resdeliv__bus_chan *ch, int kind);
/* Get in sync once Redis confirmed and the position is known. */
void resdeliv__bus_sync(struct resdeliv__bus_chan *ch);
void resdeliv__bus_read_now(struct resdeliv__bus_chan *ch);

/* bus_redis.c */
/* Run the work timer soon: pending (un)subscribes, catch-up reads. */
void resdeliv__bus_arm_work(resdeliv__bus_t *b);

/* 1 when work on `ch` must stop: the bus is closing or the channel was
 * left (by a callback, typically). */
static inline int resdeliv__bus_gone(const struct resdeliv__bus_chan *ch)
{
    return ch->bus->closing || ch->refs == 0;
}

#endif /* RESDELIV_BUS_REDIS_INTERNAL_H */
