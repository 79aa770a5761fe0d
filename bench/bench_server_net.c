/* SPDX-License-Identifier: MIT */
/*
 * bench-server's event loop (see bench_server_net.h): one epoll set over
 * connections whose reading is the tests' client's (tests/wsclient.h): a
 * read buffer consumed by moving an offset (no memmove per frame),
 * server-to-client WebSocket frames handed over in place, and HTTP/1.1
 * responses with a Content-Length read off keep-alive connections.
 */
#include "bench_server_net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EVENTS 256
#define CONNECT_MS 10000

struct bnet {
    int ep;
    bnet_msg_fn on_msg;
    void *arg;
};

uint64_t bnet_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct bnet *bnet_new(bnet_msg_fn on_msg, void *arg)
{
    struct bnet *net = calloc(1, sizeof(*net));

    if (net == NULL) {
        return NULL;
    }
    net->ep = epoll_create1(EPOLL_CLOEXEC);
    if (net->ep < 0) {
        free(net);
        return NULL;
    }
    net->on_msg = on_msg;
    net->arg = arg;
    return net;
}

void bnet_free(struct bnet *net)
{
    if (net != NULL) {
        close(net->ep);
        free(net);
    }
}

static struct bconn *add(struct bnet *net, struct wsc *ws, int kind, void *user)
{
    struct bconn *c = calloc(1, sizeof(*c));
    struct epoll_event ev;

    if (c == NULL) {
        wsc_drop(ws);
        return NULL;
    }
    c->net = net;
    c->ws = *ws;
    c->kind = kind;
    c->user = user;
    wsc_init(ws, -1);
    fcntl(c->ws.fd, F_SETFL, fcntl(c->ws.fd, F_GETFL) | O_NONBLOCK);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl(net->ep, EPOLL_CTL_ADD, c->ws.fd, &ev) != 0) {
        wsc_drop(&c->ws);
        free(c);
        return NULL;
    }
    return c;
}

struct bconn *bnet_add_ws(struct bnet *net, struct wsc *ws, void *user)
{
    return add(net, ws, BNET_WS, user);
}

struct bconn *bnet_http_open(struct bnet *net, int port, void *user)
{
    struct wsc ws;

    wsc_init(&ws, wsc_connect(port, CONNECT_MS));
    return ws.fd >= 0 ? add(net, &ws, BNET_HTTP, user) : NULL;
}

void bnet_close(struct bconn *c)
{
    if (c == NULL) {
        return;
    }
    if (c->ws.fd >= 0) {
        epoll_ctl(c->net->ep, EPOLL_CTL_DEL, c->ws.fd, NULL);
    }
    wsc_drop(&c->ws);
    free(c);
}

int bnet_send(struct bconn *c, const void *data, size_t len)
{
    if (wsc_send_all(c->ws.fd, data, len) != 0) {
        c->closed = 1;
        return -1;
    }
    return 0;
}

int bnet_ws_send(struct bconn *c, const char *text, size_t len)
{
    if (wsc_send(&c->ws, WSC_OP_TEXT, text, len) != 0) {
        c->closed = 1;
        return -1;
    }
    return 0;
}

/* Every whole message in the buffer, in place when not fragmented.
 * @return 0, or -1 to close. */
static int ws_parse(struct bconn *c)
{
    struct wsc_msg m;
    int rc;

    while ((rc = wsc_next(&c->ws, &m)) != WSC_MORE) {
        if (rc == WSC_CLOSED) {
            return -1;
        }
        if (rc == WSC_PING) {
            if (wsc_send(&c->ws, WSC_OP_PONG, m.data, m.len) != 0) {
                return -1;
            }
            continue;
        }
        c->net->on_msg(c->net->arg, c, 0, m.data, m.len);
    }
    return 0;
}

/* Every whole response in the buffer. @return 0, or -1 to close. */
static int http_parse(struct bconn *c)
{
    struct wsc *ws = &c->ws;

    for (;;) {
        const char *b = (const char *)ws->buf + ws->off;
        size_t head, body;
        int status, rc = wsc_http_response(b, ws->have - ws->off, &status,
                                           &head, &body);
        if (rc <= 0) {
            return rc;
        }
        ws->off += head + body;
        c->net->on_msg(c->net->arg, c, status, b + head, body);
    }
}

static void on_readable(struct bconn *c)
{
    int rc = wsc_read(&c->ws, 0);

    if (rc == 0) {
        return;
    }
    if (rc < 0) {
        c->closed = 1;
    } else {
        rc = c->kind == BNET_WS ? ws_parse(c) : http_parse(c);
        c->closed = rc != 0;
    }
    if (c->closed) {
        epoll_ctl(c->net->ep, EPOLL_CTL_DEL, c->ws.fd, NULL);
        /* Tell the owner, which can notice and fail its run. */
        c->net->on_msg(c->net->arg, c, -1, NULL, 0);
    }
}

int bnet_run(struct bnet *net, int timeout_ms, bnet_done_fn done, void *arg)
{
    struct epoll_event evs[EVENTS];
    uint64_t deadline = bnet_now_ns() + (uint64_t)timeout_ms * 1000000ull;

    while (!done(arg)) {
        uint64_t now = bnet_now_ns();
        int n;

        if (now >= deadline) {
            return -1;
        }
        n = epoll_wait(net->ep, evs, EVENTS,
                       (int)((deadline - now) / 1000000ull) + 1);
        if (n < 0 && errno != EINTR) {
            return -1;
        }
        for (int i = 0; i < n; i++) {
            on_readable(evs[i].data.ptr);
        }
    }
    return 0;
}
