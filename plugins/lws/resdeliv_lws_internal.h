/* SPDX-License-Identifier: MIT */
/*
 * Shared state of the libwebsockets shim: the shim object, the per
 * connection output queue of reference-counted frames, and the channel
 * sets that broadcast walks. Only the shim's own files (resdeliv_lws.c,
 * resdeliv_lws_channels.c, resdeliv_lws_http.c) include it.
 */
#ifndef RESDELIV_LWS_INTERNAL_H
#define RESDELIV_LWS_INTERNAL_H

#include "resdeliv_lws.h"

/* One frame, shared by every queue it is on. The payload starts at
 * buf + LWS_PRE; the `hlen` bytes before it hold the frame's WebSocket
 * header, so that the whole frame can be written raw, alone or copied
 * into a run of frames. */
struct rlws_frame {
    uint32_t refs;
    size_t len;  /* payload bytes */
    size_t hlen; /* header bytes, 2, 4 or 10 */
    unsigned char buf[];
};

struct rlws_qnode {
    struct rlws_qnode *next;
    struct rlws_frame *frame;
};

struct rlws_channel;
struct rlws_conn;

/* A connection's place in a channel set: in the channel's list (prev,
 * next) and in the connection's own list (next_of_conn). */
struct rlws_member {
    struct rlws_channel *ch;
    struct rlws_conn *conn;
    struct rlws_member *prev;
    struct rlws_member *next;
    struct rlws_member *next_of_conn;
};

struct rlws_channel {
    struct rlws_channel *hnext;
    struct rlws_member *head;
    uint64_t hash;
    size_t name_len;
    char name[];
};

struct rlws_conn {
    struct lws *wsi;
    struct rlws_qnode *qhead;
    struct rlws_qnode *qtail;
    size_t queued;
    int want_lib; /* the library asked for its writable hook */
    int pollout;  /* a writable callback is asked for and still to come */
    int closing;  /* close requested: no more frames, flush then close */
    uint32_t code;
    unsigned char reason[123]; /* a close payload is at most 125 */
    size_t reason_len;
    char *rx; /* message being reassembled from fragments */
    size_t rx_len;
    size_t rx_cap;
    struct rlws_member *members;
};

struct resdeliv_lws {
    struct resdeliv_lws_options opts;
    resdeliv_pusher_server *ps;
    uint64_t max_body;
    uint64_t max_frame;
    struct rlws_channel **buckets;
    size_t nbuckets;
    struct resdeliv_lws_stats stats;
    unsigned char *batch; /* runs of frames are gathered here, LWS_PRE on */
    size_t batch_cap;     /* bytes after the LWS_PRE headroom */
};

/* The request target of `wsi`: the URI header `token` (WSI_TOKEN_GET_URI,
 * WSI_TOKEN_POST_URI) and, when there are arguments, '?' and the query
 * (lws hands arguments decoded; they are percent-encoded again so that the
 * library's decoding gives them back). `*query_at` (may be NULL) gets the
 * offset of the query, or the length when there is none. Free `*out`.
 * @return 0, RESDELIV_ENOENT (no such header), RESDELIV_ENOMEM. */
int resdeliv__lws_request_target(struct lws *wsi, int token, char **out,
                                 size_t *query_at);

/* The channel sets (resdeliv_lws_channels.c). */

/* The channel `name` of `len` bytes, or NULL when it has no member. */
struct rlws_channel *resdeliv__lws_channel_find(resdeliv_lws *rl,
                                                const char *name, size_t len);

/* Add connection `c` to channel `name` (once; joining again is a no-op).
 * @return 0 or RESDELIV_ENOMEM. */
int resdeliv__lws_join(resdeliv_lws *rl, struct rlws_conn *c, const char *name,
                       size_t len);

/* Take `c` out of channel `name`, if it is in it. */
void resdeliv__lws_leave(resdeliv_lws *rl, struct rlws_conn *c,
                         const char *name, size_t len);

/* Take `c` out of every channel it is in. */
void resdeliv__lws_leave_all(resdeliv_lws *rl, struct rlws_conn *c);

/* Free every channel and membership, and the table. */
void resdeliv__lws_channels_free(resdeliv_lws *rl);

#endif /* RESDELIV_LWS_INTERNAL_H */
