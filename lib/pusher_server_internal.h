/* SPDX-License-Identifier: MIT */
/*
 * The Pusher server's state, shared by its connection side
 * (pusher_server.c), its channel side (pusher_channels.c: subscribe,
 * unsubscribe, client events, presence announcements), its presence
 * member table (pusher_presence.c) and its HTTP API (pusher_http.c).
 * Nothing here is exported.
 */
#ifndef RESDELIV_PUSHER_SERVER_INTERNAL_H
#define RESDELIV_PUSHER_SERVER_INTERNAL_H

#include "internal.h"

#include <resdeliv/auth.h>
#include <resdeliv/presence.h>
#include <resdeliv/pusher_server.h>

/* Frames of ours (pongs, errors) queued while the host cannot take them;
 * a client that reads nothing cannot make this grow past the bound. */
#define RESDELIV__PUSHER_OUTBOX_MAX 64

#define RESDELIV__PUSHER_SOCKET_ID_SIZE 48

/* One channel a connection subscribed to (auth passed, seam accepted). */
struct resdeliv__pusher_sub {
    struct resdeliv__pusher_sub *next;
    char *channel;
    char *user_id; /* presence: the member's id as a JSON string */
};

/* One frame of ours waiting for the connection to be writable. */
struct resdeliv__pusher_out {
    struct resdeliv__pusher_out *next;
    size_t len;
    char text[];
};

struct resdeliv__pusher_conn {
    struct resdeliv__pusher_conn *next_ptr; /* chain in by_ptr */
    struct resdeliv__pusher_conn *next_sid; /* chain in by_sid */
    void *conn;
    uint64_t serial; /* N of the socket id N.R */
    char socket_id[RESDELIV__PUSHER_SOCKET_ID_SIZE];
    struct resdeliv__pusher_sub *subs;
    struct resdeliv__pusher_out *out_head;
    struct resdeliv__pusher_out *out_tail;
    size_t out_n;
};

typedef struct resdeliv__presence resdeliv__presence;
struct resdeliv__pusher_http_op;

struct resdeliv_pusher_server {
    struct resdeliv_pusher_server_options opts; /* owns the app strings */
    struct resdeliv_transport tp;
    resdeliv_log *log;
    resdeliv_server *seam;
    resdeliv__presence *presence;
    struct resdeliv__pusher_conn **by_ptr;
    struct resdeliv__pusher_conn **by_sid;
    size_t nbuckets; /* a power of two */
    size_t nconns;
    uint64_t next_serial;
    uint64_t rng; /* used only where getrandom() is unavailable */
    struct resdeliv__pusher_http_op *http_ops; /* in flight */
    /* Presence across nodes (presence.h), borrowed; NULL: this server's
     * members only, in `presence`. */
    resdeliv_presence *cluster;
};

/* ---- pusher_server.c ---- */

/* The state of `conn`, or NULL when it is not an open connection. */
struct resdeliv__pusher_conn *
resdeliv__pusher_conn_find(resdeliv_pusher_server *ps, const void *conn);

/* The connection whose socket id is `socket_id`, or NULL. */
void *resdeliv__pusher_conn_by_socket_id(resdeliv_pusher_server *ps,
                                         const char *socket_id);

/* Send one of our frames to `pc`, after those of ours still waiting;
 * RESDELIV_EAGAIN from the host queues it (bounded: a full queue closes
 * the connection with 4100). */
int resdeliv__pusher_send(resdeliv_pusher_server *ps,
                          struct resdeliv__pusher_conn *pc, const char *frame,
                          size_t len);

/* pusher:error with `code` (0: null) and `message`. */
int resdeliv__pusher_send_error(resdeliv_pusher_server *ps,
                                struct resdeliv__pusher_conn *pc, int code,
                                const char *message);

/* One line to the host's log, if it has one. */
void resdeliv__pusher_log(resdeliv_pusher_server *ps, uint32_t level,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- pusher_channels.c ---- */

/* The subscribe, unsubscribe and client-* frames of `pc`; `text` is the
 * whole frame, `f` the parsed one. Errors are answered on the wire; the
 * return value is for logging. */
int resdeliv__pusher_subscribe(resdeliv_pusher_server *ps,
                               struct resdeliv__pusher_conn *pc,
                               const char *text, size_t len);
int resdeliv__pusher_unsubscribe(resdeliv_pusher_server *ps,
                                 struct resdeliv__pusher_conn *pc,
                                 const struct resdeliv_pusher_frame *f);
int resdeliv__pusher_client_event(resdeliv_pusher_server *ps,
                                  struct resdeliv__pusher_conn *pc,
                                  const struct resdeliv_pusher_frame *f);

/* `pc` is closing: it leaves its presence channels (member_removed for a
 * user's last connection) and its subscription list is freed. */
void resdeliv__pusher_leave_all(resdeliv_pusher_server *ps,
                                struct resdeliv__pusher_conn *pc);

/* ---- pusher_presence.c ---- */

int resdeliv__presence_new(resdeliv__presence **out);
void resdeliv__presence_free(resdeliv__presence *pr);

/* channel_data `{"user_id": string or number, "user_info": any}` into the
 * user id as a JSON string literal (numbers as their text) and user_info
 * as compact JSON text (NULL when absent). RESDELIV_EBADFRAME with a
 * message naming the problem. */
int resdeliv__presence_parse(const char *channel_data, char **user_id,
                             char **user_info, char *err, size_t errsize);

/* Count one connection of `user_id` on `channel`; `*first` is 1 when the
 * user was not a member. RESDELIV_EOVERFLOW when the user is new and the
 * channel already has `max_members`. */
int resdeliv__presence_join(resdeliv__presence *pr, const char *channel,
                            const char *user_id, const char *user_info,
                            uint64_t max_members, int *first);

/* One connection of `user_id` left `channel`; `*last` (may be NULL) is 1
 * when it was the user's last. RESDELIV_ENOENT for no such member. */
int resdeliv__presence_leave(resdeliv__presence *pr, const char *channel,
                             const char *user_id, int *last);

/* Members of `channel` now. */
uint64_t resdeliv__presence_count(resdeliv__presence *pr, const char *channel);

/* `{"presence":{"ids":[...],"hash":{...},"count":N}}` for `channel`. */
int resdeliv__presence_data(resdeliv__presence *pr, const char *channel,
                            char **out, size_t *out_len);

/* The data of pusher_internal:member_added (`added` 1, with user_info)
 * or member_removed for `user_id` (a JSON string literal). */
int resdeliv__presence_member_data(const char *user_id, const char *user_info,
                                   int added, char **out, size_t *out_len);

/* ---- pusher_http.c ---- */

/* The server is being freed: requests still waiting for the store finish
 * without touching it (their done callbacks still run, once). */
void resdeliv__pusher_http_detach_all(resdeliv_pusher_server *ps);

#endif /* RESDELIV_PUSHER_SERVER_INTERNAL_H */
