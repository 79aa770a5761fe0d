/* SPDX-License-Identifier: MIT */
/**
 * @file transport.h
 * What a host WebSocket server gives the library: a way to send a text
 * frame to one connection, to broadcast to a channel's local subscribers,
 * to ask for a writable callback, to close a connection, and to log.
 *
 * The library never assumes a WebSocket library: plugins/ adapt this vtable
 * to libwebsockets, civetweb and others. Connections are the host's own
 * opaque pointers (an lws `struct lws *`, a civetweb `mg_connection *`).
 * Replay is paced by writability: the library queues at most one replay page
 * per connection and asks for a writable callback before sending more.
 *
 * Hosts fill the struct with designated initializers starting with
 * RESDELIV_STRUCT_HEAD(t); members are only ever appended.
 */
#ifndef RESDELIV_TRANSPORT_H
#define RESDELIV_TRANSPORT_H

#include "common.h"

RESDELIV_BEGIN_DECLS

/** Log levels for the `log` member. */
#define RESDELIV_LOG_ERROR 0u
#define RESDELIV_LOG_WARN 1u
#define RESDELIV_LOG_INFO 2u
#define RESDELIV_LOG_DEBUG 3u

/** WebSocket close codes the library uses (plus Pusher's 4000-4999). */
#define RESDELIV_CLOSE_NORMAL 1000u
#define RESDELIV_CLOSE_POLICY 1008u
#define RESDELIV_CLOSE_TOO_BIG 1009u

/** The host transport vtable. `host` is passed back to every member. */
struct resdeliv_transport {
    uint32_t struct_size;
    uint32_t abi_version;
    void *host;
    /** Mandatory. Queue one text frame to `conn`. The frame is borrowed
     * for the call; the host copies it if it sends later.
     * @return 0, RESDELIV_EAGAIN (not writable now: ask for writable and
     * retry), RESDELIV_ECLOSED. */
    int (*send)(void *host, void *conn, const char *frame, size_t len);
    /** Mandatory. Deliver one frame to every local subscriber of `channel`
     * except `except` (may be NULL): the host's own fan-out. */
    int (*broadcast)(void *host, const char *channel, size_t channel_len,
                     const char *frame, size_t len, void *except);
    /** Mandatory. Call the library's writable hook for `conn` when it can
     * take more data (lws_callback_on_writable). */
    int (*request_writable)(void *host, void *conn);
    /** Mandatory. Close `conn` with a WebSocket close code and reason
     * (the reason may be NULL). */
    int (*close)(void *host, void *conn, uint32_t code, const char *reason);
    /** Optional. Log one NUL-terminated line at a RESDELIV_LOG_* level. */
    void (*log)(void *host, uint32_t level, const char *msg);
    /** Mandatory for the subscription seam (server.h). Add `conn` to the
     * local subscribers of `channel`: from now on broadcast() reaches it.
     * The seam calls it once the subscription's replay has caught up, so a
     * replaying connection never receives a live broadcast twice. */
    int (*join)(void *host, void *conn, const char *channel,
                size_t channel_len);
    /** Mandatory for the seam. Remove `conn` from the local subscribers of
     * `channel` (the client unsubscribed). Hosts drop every membership of
     * a connection themselves when it closes. */
    int (*leave)(void *host, void *conn, const char *channel,
                 size_t channel_len);
};

RESDELIV_END_DECLS

#endif /* RESDELIV_TRANSPORT_H */
