/* SPDX-License-Identifier: MIT */
/**
 * @file pusher_server.h
 * The Pusher protocol (version 7) server side for one app, on top of the
 * subscription seam: what a WebSocket server's callbacks call so that Pusher
 * clients (pusher-js, Laravel Echo) and Pusher server SDKs work against it,
 * with replay. Shims in plugins/ map a WebSocket library's callbacks onto
 * these calls; they stay thin.
 *
 * WebSocket side: open (path `/app/{key}?protocol=7&client=...`, sends
 * `pusher:connection_established` or `pusher:error` 4001/4005/4006/4007 and
 * closes), message (ping/pong, subscribe with HMAC auth for private- and
 * presence- channels and `last_event_id`, unsubscribe, client events on
 * private/presence channels delivered to the other subscribers and never
 * logged), writable, close (presence member_removed).
 * HTTP side: `POST /apps/{id}/events` and `/apps/{id}/batch_events` with the
 * Pusher auth signature and body_md5 checked; each event is logged, tagged
 * and fanned out through the seam.
 *
 * Thread: one thread at a time, like the seam.
 */
#ifndef RESDELIV_PUSHER_SERVER_H
#define RESDELIV_PUSHER_SERVER_H

#include "common.h"
#include "log.h"
#include "server.h"
#include "transport.h"

RESDELIV_BEGIN_DECLS

typedef struct resdeliv_pusher_server resdeliv_pusher_server;

/** Largest HTTP API body accepted by default (bytes). */
#define RESDELIV_PUSHER_DEFAULT_MAX_BODY (256u * 1024u)

/** Options; fill with resdeliv_pusher_server_options_init(). Strings are
 * copied by resdeliv_pusher_server_new(). */
struct resdeliv_pusher_server_options {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *app_id;
    const char *app_key;
    const char *app_secret;
    uint32_t activity_timeout;   /**< seconds, sent to clients (120) */
    uint32_t client_events;      /**< 1: relay client-* events (1) */
    uint64_t max_body;           /**< HTTP API body limit (256 KiB) */
    uint64_t max_frame;          /**< client frame limit (64 KiB) */
    uint64_t max_presence_members; /**< per presence channel (100) */
    uint64_t timestamp_window;   /**< HTTP auth_timestamp skew, s (600) */
    struct resdeliv_server_options seam; /**< seam limits */
};

/** Defaults, including the struct heads (app strings NULL). */
RESDELIV_API void resdeliv_pusher_server_options_init(
    struct resdeliv_pusher_server_options *opts);

/**
 * A Pusher server for one app over `log` (borrowed; its app id should be
 * opts->app_id) and `transport` (copied). @return 0, RESDELIV_EINVAL
 * (missing app id/key/secret, bad options; message in `err`),
 * RESDELIV_EABI, RESDELIV_ENOMEM.
 */
RESDELIV_API int resdeliv_pusher_server_new(
    resdeliv_log *log, const struct resdeliv_transport *transport,
    const struct resdeliv_pusher_server_options *opts,
    resdeliv_pusher_server **out, char *err, size_t errsize);

/** Free the server and every connection's state. Accepts NULL. */
RESDELIV_API void resdeliv_pusher_server_free(resdeliv_pusher_server *ps);

/** The seam under this server (for stats). Ownership: the server's. */
RESDELIV_API resdeliv_server *
resdeliv_pusher_server_seam(resdeliv_pusher_server *ps);

/**
 * A WebSocket connection opened on `path` (with its query string). Sends
 * connection_established, or pusher:error and closes for an unknown app
 * key (4001), a wrong path (4005) or a bad protocol version (4006/4007).
 * @return 0 when the connection is accepted, else the error (the host
 * should let the close proceed).
 */
RESDELIV_API int resdeliv_pusher_server_open(resdeliv_pusher_server *ps,
                                             void *conn, const char *path);

/** One complete text message from `conn`. Protocol errors are answered
 * with pusher:error frames; the return value is for logging only. */
RESDELIV_API int resdeliv_pusher_server_message(resdeliv_pusher_server *ps,
                                                void *conn, const char *text,
                                                size_t len);

/** The host's writable callback for `conn`. */
RESDELIV_API int resdeliv_pusher_server_writable(resdeliv_pusher_server *ps,
                                                 void *conn);

/** `conn` closed: presence members leave, replays stop, state freed. */
RESDELIV_API void resdeliv_pusher_server_close(resdeliv_pusher_server *ps,
                                               void *conn);

/** An HTTP API request, as the host received it. */
struct resdeliv_http_request {
    const char *method;   /**< "POST", "GET", ... */
    const char *path;     /**< without the query string */
    const char *query;    /**< raw query string, without '?' (may be "") */
    const char *body;
    size_t body_len;
};

/** An HTTP API response: status and a JSON body (free with
 * resdeliv_free()). */
struct resdeliv_http_response {
    int status;
    char *body;
    size_t body_len;
};

/** Completion of an HTTP API request. `resp` lives until it returns; the
 * callback may take `resp->body` by setting it to NULL (then free it with
 * resdeliv_free()). */
typedef void (*resdeliv_http_done_cb)(void *arg,
                                      struct resdeliv_http_response *resp);

/**
 * Handle an HTTP API request: POST /apps/{id}/events and
 * /apps/{id}/batch_events (auth signature and body_md5 checked: 401 on a
 * bad signature, 413 on an oversized body, 400 with a message on bad JSON,
 * 404 on an unknown path or app). The answer comes through `done`, exactly
 * once, after the store accepted the events (at once on the memory store,
 * from the event loop on an event-loop-driven store): a 200 means every
 * event was logged, or delivered untagged under on_log_failure
 * deliver_untagged.
 * @return 0 (done will be called), RESDELIV_EINVAL or RESDELIV_ENOMEM (done
 * is not called).
 */
RESDELIV_API int resdeliv_pusher_server_http(
    resdeliv_pusher_server *ps, const struct resdeliv_http_request *req,
    uint64_t now_s, resdeliv_http_done_cb done, void *arg);

RESDELIV_END_DECLS

#endif /* RESDELIV_PUSHER_SERVER_H */
