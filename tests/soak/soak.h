/* SPDX-License-Identifier: MIT */
/*
 * The churn soak's shared state. One process and one thread drive every
 * socket with poll(): resdeliv-server children, WebSocket clients that drop
 * and resume at random, an HTTP publisher, and the checker that proves the
 * library's promise on what the clients saw: every message owed to a client
 * arrives exactly once and in order, or a gap notice announced its loss.
 *
 * Messages carry {"seq":N} in their data; N counts up per channel and the
 * publisher keeps at most one request per channel in flight, so a channel's
 * log order is its seq order. Ids are learnt from what the clients see.
 */
#ifndef RESDELIV_SOAK_H
#define RESDELIV_SOAK_H

#include "../wsclient.h"

#include <resdeliv/resdeliv.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SOAK_MAX_SERVERS 2
#define SOAK_EPOCH_SIZE 24
#define SOAK_MAX_EPOCHS 64
#define SOAK_BATCH 10

/* What the publisher knows of a seq. */
enum { ACK_UNKNOWN = 0, ACK_OK = 1, ACK_FAILED = 2 };
/* What the clients saw of a seq (struct soak_seq), and what one client
 * got of it (struct soak_client's `got`). */
enum { SEEN_TAGGED = 1, SEEN_UNTAGGED = 2 };
/* Gap reasons the checker knows by name (soak_check.c); one more slot
 * counts the others. */
#define SOAK_GAP_REASONS 8

struct soak_seq {
    struct resdeliv_id id; /* first tagged sighting */
    uint16_t epoch;        /* index into the channel's epochs + 1, 0 none */
    uint8_t ack;
    uint8_t seen;
};

/* An HTTP request of the publisher (Connection: close). */
struct soak_http {
    int fd;    /* -1 when idle */
    char *out; /* request bytes */
    size_t out_len, out_off;
    char in[512]; /* the start of the answer: the status line */
    size_t in_len;
    uint64_t first, n; /* the seqs it carries */
    double started;
};

struct soak_channel {
    char name[32];
    struct soak_seq *seqs; /* indexed by seq, [0] unused */
    uint64_t cap;
    uint64_t next_seq;    /* next seq to publish, from 1 */
    uint64_t pending;     /* owed by the rate, not yet sent */
    double pending_since; /* when the oldest of them became owed */
    uint64_t last_acked;  /* highest acknowledged seq */
    int home;             /* server index publishes and clients go to */
    char epochs[SOAK_MAX_EPOCHS][SOAK_EPOCH_SIZE];
    int n_epochs;
    struct soak_http req;
};

/* A loss the checker could not excuse when it saw it; settled at the end
 * when every publish has been answered. */
struct soak_hole {
    int client;
    uint64_t from, to;        /* seqs, inclusive */
    int anchored;             /* from a subscription position, not a message */
    struct resdeliv_id after; /* anchored: owed are ids above this... */
    uint16_t epoch;           /* ...in this epoch */
};

enum client_state {
    CS_DOWN,       /* waiting to reconnect */
    CS_CONNECTING, /* non-blocking connect */
    CS_UPGRADING,  /* handshake sent, waiting for 101 */
    CS_WELCOME,    /* waiting for pusher:connection_established */
    CS_SUBSCRIBING,
    CS_LIVE,
    CS_HALF_OPEN, /* not reading, socket kept */
};

enum client_mode { MODE_NORMAL, MODE_SLOW };

struct soak_client {
    int index;
    int chan;
    int server;
    struct wsc ws; /* the socket and what was read of it */
    enum client_state state;
    enum client_mode mode;
    double next_event; /* drop time, or reconnect/half-open end */
    double mode_until; /* slow reading ends */
    double slow_next;  /* next slow read */
    unsigned char out[2048];
    size_t out_len;
    /* Resume mark, kept like the JavaScript client keeps it. */
    int has_mark;
    struct resdeliv_id mark;
    char mark_epoch[SOAK_EPOCH_SIZE];
    /* Checker state. */
    int cursor_known;
    uint64_t cursor; /* last seq delivered */
    int gap_seen;    /* a gap notice since the last delivery */
    int anchored;    /* a subscription position waits for a message */
    struct resdeliv_id anchor;
    uint16_t anchor_epoch;
    double subscribed_at;
    /* Per seq of its channel, SEEN_* bits of the copies it got, so that a
     * copy again can be told from one that came out of order. */
    uint8_t *got;
    uint64_t got_cap;
};

struct soak_counts {
    uint64_t checked;         /* tagged + untagged deliveries checked */
    uint64_t untagged;        /* deliveries without an id */
    uint64_t duplicates;      /* seq at or below the cursor */
    uint64_t untagged_again;  /* a copy again, one of the two untagged */
    uint64_t id_mismatch;     /* one seq seen with two ids in one epoch */
    uint64_t gap_covered;     /* seqs skipped under a gap notice */
    uint64_t unacked_skipped; /* skipped seqs whose publish failed */
    uint64_t lost;            /* tagged losses without a gap notice */
    uint64_t lost_untagged;   /* losses of untagged messages, no notice */
    uint64_t drops_hard, drops_half_open, slow_periods;
    uint64_t server_closes; /* the server ended a connection */
    uint64_t connects, connect_failures, subscriptions;
    uint64_t gaps;
    uint64_t gap_reasons[SOAK_GAP_REASONS + 1];
    uint64_t pusher_errors;
    uint64_t protocol_errors; /* frames the checker did not expect */
    uint64_t published, publish_failed, requests;
    uint64_t faults_redis, faults_server;
    uint64_t not_caught_up;
    uint64_t server_crashes;
};

struct soak_server {
    pid_t pid;
    int port;
    int killed; /* by the fault schedule */
    long hwm_kb;
};

struct soak_opts {
    double duration;
    int clients;
    int channels;
    double rate;
    const char *store; /* "memory" or "redis" */
    int faults;
    int redis_persist;
    long retention;
    unsigned seed;
    double drain;
    int verbose;
    const char *server_bin;
};

struct soak {
    struct soak_opts o;
    struct soak_channel *chans;
    struct soak_client *clients;
    struct soak_server servers[SOAK_MAX_SERVERS];
    int n_servers;
    struct soak_hole *holes;
    size_t n_holes, holes_cap;
    struct soak_counts c;
    double t0;
    int draining; /* no more drops; everyone reconnects */
    int publishing;
    double credit; /* messages owed by the rate, not yet assigned */
    int rr;        /* next channel to assign one to */
    uint64_t rng;
};

/* soak_opts.c: the command line, and removing a private redis directory
 * (with its append-only files). @return 0, or the exit status. */
int soak_parse_args(struct soak_opts *o, const char **store, int argc,
                    char **argv);
void soak_remove_tree(const char *dir);

double soak_now(void);
double soak_rand(struct soak *s); /* [0, 1) */

/* soak_ws.c: the WebSocket clients. */
void soak_client_init(struct soak *s, struct soak_client *cl, int index);
/* Poll events for the client's fd (0 when it has no fd to poll). */
short soak_client_events(const struct soak_client *cl, double now);
void soak_client_io(struct soak *s, struct soak_client *cl, short revents);
/* Timers: drops, reconnects, slow reads. */
void soak_client_tick(struct soak *s, struct soak_client *cl, double now);
void soak_client_close(struct soak_client *cl);

/* soak_pub.c: the publisher. */
void soak_pub_tick(struct soak *s, double dt, double now);
short soak_pub_events(const struct soak_channel *ch);
void soak_pub_io(struct soak *s, struct soak_channel *ch, short revents);
void soak_pub_abort(struct soak *s, struct soak_channel *ch);
int soak_pub_idle(const struct soak *s);

/* soak_check.c: the checker. soak_check_message() takes a seq the
 * publisher has sent (1 to next_seq - 1). */
int soak_check_init(struct soak *s);
void soak_check_free(struct soak *s);
void soak_check_subscribed(struct soak *s, struct soak_client *cl,
                           const struct resdeliv_id *pos, const char *epoch);
void soak_check_gap(struct soak *s, struct soak_client *cl, const char *reason);
void soak_check_message(struct soak *s, struct soak_client *cl, uint64_t seq,
                        const struct resdeliv_id *id, const char *epoch);
int soak_check_caught_up(const struct soak *s, const struct soak_client *cl);
void soak_check_finish(struct soak *s);
uint16_t soak_check_epoch(struct soak_channel *ch, const char *epoch);
void soak_check_report(const struct soak *s, const char *label);

#endif /* RESDELIV_SOAK_H */
