/* SPDX-License-Identifier: MIT */
/*
 * bench-server's event loop (see bench_server_net.h): one epoll set, a
 * read buffer per connection that is consumed by moving an offset (no
 * memmove per frame), server-to-client WebSocket frames parsed in place,
 * and HTTP/1.1 responses with a Content-Length read off keep-alive
 * connections.
 */
#include "bench_server_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_START 65536
#define READ_ROOM 16384
#define EVENTS 256
#define SEND_WAIT_MS 5000

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

static struct bconn *add(struct bnet *net, int fd, int kind, void *user)
{
    struct bconn *c = calloc(1, sizeof(*c));
    struct epoll_event ev;
    int one = 1;

    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->buf = malloc(BUF_START);
    c->net = net;
    c->fd = fd;
    c->kind = kind;
    c->cap = BUF_START;
    c->user = user;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (c->buf == NULL || epoll_ctl(net->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        c->fd = -1;
        close(fd);
        free(c->buf);
        free(c);
        return NULL;
    }
    return c;
}

struct bconn *bnet_add_ws(struct bnet *net, int fd, void *user)
{
    return add(net, fd, BNET_WS, user);
}

struct bconn *bnet_http_open(struct bnet *net, int port, void *user)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return NULL;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return NULL;
    }
    return add(net, fd, BNET_HTTP, user);
}

void bnet_close(struct bconn *c)
{
    if (c == NULL) {
        return;
    }
    if (c->fd >= 0) {
        epoll_ctl(c->net->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    free(c->buf);
    free(c->frag);
    free(c);
}

int bnet_send(struct bconn *c, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {c->fd, POLLOUT, 0};
            if (poll(&pfd, 1, SEND_WAIT_MS) <= 0) {
                return -1;
            }
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            c->closed = 1;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int send_frame(struct bconn *c, int opcode, const void *data,
                      size_t len)
{
    static const unsigned char mask[4] = {0x5a, 0x13, 0xc7, 0x2e};
    unsigned char head[14], small[512], *f;
    size_t h = 2;
    int rc;

    head[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        head[1] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        head[1] = 0x80 | 126;
        head[2] = (unsigned char)(len >> 8);
        head[3] = (unsigned char)len;
        h = 4;
    } else {
        head[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) {
            head[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        }
        h = 10;
    }
    memcpy(head + h, mask, 4);
    f = h + 4 + len <= sizeof(small) ? small : malloc(h + 4 + len);
    if (f == NULL) {
        return -1;
    }
    memcpy(f, head, h + 4);
    for (size_t i = 0; i < len; i++) {
        f[h + 4 + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
    }
    rc = bnet_send(c, f, h + 4 + len);
    if (f != small) {
        free(f);
    }
    return rc;
}

int bnet_ws_send(struct bconn *c, const char *text, size_t len)
{
    return send_frame(c, 1, text, len);
}

/* ------------------------------------------------------------ frames */

static int frag_append(struct bconn *c, const unsigned char *p, size_t n)
{
    char *m = realloc(c->frag, c->frag_len + n + 1);

    if (m == NULL) {
        return -1;
    }
    memcpy(m + c->frag_len, p, n);
    c->frag = m;
    c->frag_len += n;
    return 0;
}

/* One frame whose payload is at `p`. @return 0, or -1 to close. */
static int ws_frame(struct bconn *c, int fin, int op, const unsigned char *p,
                    size_t len)
{
    struct bnet *net = c->net;

    if (op == 8) {
        c->close_code = len >= 2 ? (p[0] << 8) | p[1] : 1005;
        return -1;
    }
    if (op == 9) {
        return send_frame(c, 10, p, len);
    }
    if (op != 0 && op != 1 && op != 2) {
        return 0;
    }
    if (fin && c->frag == NULL) {
        net->on_msg(net->arg, c, 0, (const char *)p, len);
        return 0;
    }
    if (frag_append(c, p, len) != 0) {
        return -1;
    }
    if (fin) {
        net->on_msg(net->arg, c, 0, c->frag, c->frag_len);
        free(c->frag);
        c->frag = NULL;
        c->frag_len = 0;
    }
    return 0;
}

/* Every complete frame in the buffer. @return 0, or -1 to close. */
static int ws_parse(struct bconn *c)
{
    while (c->have - c->off >= 2) {
        const unsigned char *b = c->buf + c->off;
        size_t avail = c->have - c->off, h = 2, len = b[1] & 0x7f;

        if (len == 126) {
            h = 4;
            len = avail >= 4 ? ((size_t)b[2] << 8) | b[3] : 0;
        } else if (len == 127) {
            h = 10;
            len = 0;
            for (int i = 0; avail >= 10 && i < 8; i++) {
                len = (len << 8) | b[2 + i];
            }
        }
        if (avail < h || avail - h < len) {
            break;
        }
        c->off += h + len;
        if (ws_frame(c, b[0] & 0x80, b[0] & 0x0f, b + h, len) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Content-Length of a header block, or 0. */
static size_t content_length(const char *head, size_t n)
{
    static const char name[] = "\r\ncontent-length:";
    size_t k = sizeof(name) - 1;

    for (size_t i = 0; i + k <= n; i++) {
        if (strncasecmp(head + i, name, k) == 0) {
            return (size_t)strtoull(head + i + k, NULL, 10);
        }
    }
    return 0;
}

/* Every complete response in the buffer. @return 0, or -1 to close. */
static int http_parse(struct bconn *c)
{
    for (;;) {
        const char *b = (const char *)c->buf + c->off;
        size_t avail = c->have - c->off, hlen, blen;
        const char *end = memmem(b, avail, "\r\n\r\n", 4);
        int status = 0;

        if (end == NULL) {
            return 0;
        }
        hlen = (size_t)(end + 4 - b);
        blen = content_length(b, hlen);
        if (avail < hlen + blen) {
            return 0;
        }
        if (avail < 12 || strncmp(b, "HTTP/1.", 7) != 0) {
            return -1;
        }
        status = atoi(b + 9);
        c->off += hlen + blen;
        c->net->on_msg(c->net->arg, c, status, b + hlen, blen);
    }
}

/* Room for at least READ_ROOM more bytes. @return 0 or -1. */
static int make_room(struct bconn *c)
{
    if (c->off == c->have) {
        c->off = c->have = 0;
    }
    if (c->cap - c->have >= READ_ROOM) {
        return 0;
    }
    if (c->off > 0) {
        memmove(c->buf, c->buf + c->off, c->have - c->off);
        c->have -= c->off;
        c->off = 0;
    }
    if (c->cap - c->have < READ_ROOM) {
        unsigned char *b = realloc(c->buf, c->cap * 2);
        if (b == NULL) {
            return -1;
        }
        c->buf = b;
        c->cap *= 2;
    }
    return 0;
}

static void on_readable(struct bconn *c)
{
    ssize_t r;
    int rc;

    if (make_room(c) != 0) {
        c->closed = 1;
        return;
    }
    r = recv(c->fd, c->buf + c->have, c->cap - c->have, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (r <= 0) {
        c->closed = 1;
    } else {
        c->have += (size_t)r;
        rc = c->kind == BNET_WS ? ws_parse(c) : http_parse(c);
        c->closed = rc != 0;
    }
    if (c->closed) {
        epoll_ctl(c->net->ep, EPOLL_CTL_DEL, c->fd, NULL);
        /* Tell the owner, which can notice and fail its run. */
        c->net->on_msg(c->net->arg, c, -1, NULL, 0);
    }
}

int bnet_run(struct bnet *net, int timeout_ms, bnet_done_fn done, void *arg)
{
    struct epoll_event evs[EVENTS];
    uint64_t deadline =
        bnet_now_ns() + (uint64_t)timeout_ms * 1000000ull;

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
