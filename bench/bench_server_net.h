/* SPDX-License-Identifier: MIT */
/*
 * The client side of bench-server: many WebSocket subscribers and a few
 * keep-alive HTTP publishers, all driven by ONE thread on one epoll set, so
 * a thousand subscribers cost a thousand sockets, not a thousand threads,
 * and the client does as little work per frame as possible (frames are
 * handed over in place, never copied or reassembled unless fragmented).
 *
 * The bytes on the wire are the tests' client's (tests/wsclient.h):
 * WebSocket connections are opened with e2e_pusher_connect() (blocking)
 * and then taken over here, read buffer and all; frames and HTTP
 * responses are read with its non-blocking pieces.
 */
#ifndef RESDELIV_BENCH_SERVER_NET_H
#define RESDELIV_BENCH_SERVER_NET_H

#include "wsclient.h"

#include <stddef.h>
#include <stdint.h>

#define BNET_WS 1
#define BNET_HTTP 2

struct bnet;

struct bconn {
    struct bnet *net;
    struct wsc ws; /* the socket, its read buffer, a close frame's code */
    int kind;      /* BNET_WS or BNET_HTTP */
    int closed;    /* the peer closed or an error happened */
    void *user;
};

/* A complete text message (not NUL-terminated), or for an HTTP connection
 * one response: `status` and its body. */
typedef void (*bnet_msg_fn)(void *arg, struct bconn *c, int status,
                            const char *text, size_t len);
/* 1 when the run is finished. */
typedef int (*bnet_done_fn)(void *arg);

struct bnet *bnet_new(bnet_msg_fn on_msg, void *arg);
void bnet_free(struct bnet *net);

/* Takes over `ws`, an upgraded WebSocket, with what it has buffered;
 * `*ws` is left closed either way. @return the connection or NULL. */
struct bconn *bnet_add_ws(struct bnet *net, struct wsc *ws, void *user);
/* A keep-alive TCP connection to 127.0.0.1:port for HTTP requests. */
struct bconn *bnet_http_open(struct bnet *net, int port, void *user);
/* Closes and forgets one connection. */
void bnet_close(struct bconn *c);

/* One masked text frame. @return 0 or -1. */
int bnet_ws_send(struct bconn *c, const char *text, size_t len);
/* Raw bytes (a prepared HTTP request). @return 0 or -1. */
int bnet_send(struct bconn *c, const void *data, size_t len);

/* Dispatches messages until `done(arg)` says so. @return 0, or -1 on a
 * timeout (`timeout_ms` for the whole run) or an epoll error. */
int bnet_run(struct bnet *net, int timeout_ms, bnet_done_fn done, void *arg);

uint64_t bnet_now_ns(void);

#endif /* RESDELIV_BENCH_SERVER_NET_H */
