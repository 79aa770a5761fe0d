/* SPDX-License-Identifier: MIT */
/*
 * The in-process host shared by the seam's Check programs: a transport
 * that records the frames of each connection, keeps the joined
 * (connection, channel) pairs and broadcasts over them, and lets the test
 * decide when a connection is writable and when send() says EAGAIN; the
 * real memory store and log under it, or a wrapper imitating an
 * event-loop store whose reads and infos complete only when the test runs
 * them. Messages carry {"seq":N}; frames are read back with cJSON.
 */
#ifndef RESDELIV_TEST_SERVER_HOST_H
#define RESDELIV_TEST_SERVER_HOST_H

#include <resdeliv/resdeliv.h>

#define MAXCONN 100
#define MAXSEQ 4096
#define CH "room"

struct tconn {
    char **frames;
    size_t n, cap;
    int want; /* request_writable seen */
    int closed;
    uint32_t code;
    char reason[256];
    long budget;      /* sends before EAGAIN; -1 unlimited */
    int fail_send;    /* send fails and the host closes from inside */
    int free_on_send; /* the host frees the server from inside send */
    int fail_join;    /* join() answers an error */
    size_t since;     /* frames at the last writable call */
    size_t burst;     /* most frames between two writable calls */
};

struct join {
    struct tconn *c;
    char channel[RESDELIV_MAX_CHANNEL_LEN + 1];
    size_t at; /* frames the connection had when it joined */
};

struct pending {
    int kind; /* 1 info, 2 read */
    struct resdeliv_log_key key;
    char channel[RESDELIV_MAX_CHANNEL_LEN + 1];
    struct resdeliv_id after;
    int has_after;
    uint64_t cap;
    resdeliv_info_cb info_cb;
    resdeliv_read_cb read_cb;
    void *arg;
};

/* The event-loop store: appends go through, reads and infos wait. */
struct deferred {
    resdeliv_store *inner;
    struct pending q[256];
    size_t nq;
};

struct fx {
    uint64_t now;
    resdeliv_store *mem;
    resdeliv_store *store;
    struct deferred *def;
    resdeliv_log *log;
    resdeliv_server *srv;
    struct tconn conns[MAXCONN];
    struct join *joins;
    size_t njoins, capjoins;
    size_t nleaves; /* leave() calls */
    int seq;
    struct resdeliv_id ids[MAXSEQ];
    int close_reenters;
};

struct fr {
    char event[64];
    char channel[64];
    int seq;         /* -1 when the data has none */
    char id[48];     /* data's _replay_id, "" when none */
    char reason[32]; /* gap reason */
    int code;        /* pusher:error code */
};

struct resdeliv_transport host_transport(struct fx *fx);
void fx_open_with(struct fx *fx, const struct resdeliv_config *cfg,
                  const struct resdeliv_server_options *opts, int deferred);
/* Batch size `batch`, retention `cap`, gap notices on or off. */
void fx_open(struct fx *fx, uint64_t batch, uint64_t cap, int gap,
             const struct resdeliv_server_options *opts);
void fx_close(struct fx *fx);
/* Publish `count` messages {"seq":N} on `channel` through the server. */
void pub(struct fx *fx, const char *channel, int count);
void id_text(const struct fx *fx, int seq, char *buf);
/* Subscribe conns[k] to CH resuming after message `seq` (-1: no id). */
int sub(struct fx *fx, int k, int seq);
/* Give every connection that asked its writable turns until none asks. */
void drive(struct fx *fx);
struct resdeliv_server_stats stats(const struct fx *fx);
const struct join *joined(const struct fx *fx, const struct tconn *c,
                          const char *channel);
/* Complete the oldest pending call of the deferred store; 0 when none. */
int def_run_one(struct deferred *d);
struct fr frame_at(const struct tconn *c, size_t i);
void expect_event(const struct tconn *c, size_t i, const char *event);
/* Frames [at, at + count) are messages seq first, first + 1, ... */
void expect_seqs(const struct tconn *c, size_t at, int first, int count);

#endif /* RESDELIV_TEST_SERVER_HOST_H */
