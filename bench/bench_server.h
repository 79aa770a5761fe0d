/* SPDX-License-Identifier: MIT */
/*
 * bench-server's shared state: the subscribers (what each saw of the
 * current run), the publisher (prepared, signed HTTP requests sent over a
 * few keep-alive connections, one in flight on each) and the goal of the
 * current run, all advanced by the message callback of the event loop.
 */
#ifndef RESDELIV_BENCH_SERVER_H
#define RESDELIV_BENCH_SERVER_H

#include "bench_server_net.h"

#include <stddef.h>
#include <stdint.h>

#define BS_APP_ID "app-id"
#define BS_KEY "app-key"
#define BS_SECRET "app-secret"
#define BS_EVENT "bench"
#define BS_ID_MAX 48
#define BS_MAX_PUB 8
#define BS_DATA_SIZE 200
#define BS_RUN_TIMEOUT_MS 60000

struct bsub {
    struct bconn *c;
    int track_ids;  /* copy _replay_id/_replay_epoch of each message */
    int subscribed; /* subscription_succeeded frames */
    int sub_errors; /* pusher:error / subscription_error frames */
    int gaps;       /* resdeliv:gap frames */
    int got;        /* bench events in this run */
    int bad;        /* id not above the previous one, or none */
    uint64_t last_ms; /* the previous message's id */
    uint64_t last_seq;
    int reached;    /* got the run's quota */
    char last_id[BS_ID_MAX];
    char epoch[BS_ID_MAX];
};

struct breq {
    char *text;
    size_t len;
};

struct bench {
    struct bnet *net;
    int port;
    int server_pid; /* for its CPU time */
    /* the publisher */
    struct bconn *pub[BS_MAX_PUB];
    int npub;
    struct breq *reqs;
    size_t nreq;
    size_t next_req;
    size_t answered;
    int bad_status; /* an answer that was not 200 */
    uint64_t t_answer;
    /* the goal: every watched subscriber gets `want` messages */
    struct bsub **watch;
    size_t nwatch;
    int want;
    size_t reached;
    uint64_t t_reached;
    /* subscriptions to wait for */
    size_t subscribed;
    size_t want_subscribed;
    int failed; /* a connection closed */
};

/* The event loop's message callback; `arg` is the struct bench. */
void bs_on_msg(void *arg, struct bconn *c, int status, const char *text,
               size_t len);

/* Connects one Pusher client (handshake with the end-to-end tests' client,
 * untimed) and hands its socket to the event loop. @return 0 or -1. */
int bs_sub_connect(struct bench *b, struct bsub *s);
/* Sends pusher:subscribe; `last_id` and `epoch` may be NULL. */
int bs_sub_subscribe(struct bsub *s, const char *channel, const char *last_id,
                     const char *epoch);

/* Prepares `nreq` signed requests: each an /events publish of one
 * message (batch 1) or a /batch_events of `batch` messages, numbered from
 * `first_n`, on `channel`. @return 0 or -1. */
int bs_prepare(struct bench *b, const char *channel, int first_n, size_t nreq,
               int batch);
void bs_requests_free(struct bench *b);
/* Opens `n` keep-alive publisher connections. @return 0 or -1. */
int bs_pub_open(struct bench *b, int n);
void bs_pub_close(struct bench *b);

/* Sets the goal (every subscriber of `watch` gets `want` messages, their
 * ids increasing from above `after`, which may be NULL) and resets the
 * counters of a run. */
void bs_goal(struct bench *b, struct bsub **watch, size_t nwatch, int want,
             const char *after);
/* Starts the prepared requests (one per publisher connection) and runs
 * until every answer came and the goal is reached. @return 0 or -1. */
int bs_run_publish(struct bench *b);
/* Runs until `want_subscribed` subscription_succeeded frames came. */
int bs_run_subscribed(struct bench *b, size_t want);
/* Runs until the goal is reached (no publishing). */
int bs_run_goal(struct bench *b);

#endif /* RESDELIV_BENCH_SERVER_H */
