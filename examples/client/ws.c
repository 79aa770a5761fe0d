/* SPDX-License-Identifier: MIT */
/*
 * The WebSocket client of resdeliv-client (see ws.h): the HTTP upgrade,
 * then frames. Reads go through one growing buffer; a frame is taken only
 * once all its bytes are in, so a message split across TCP reads, or across
 * WebSocket fragments, comes out whole.
 */
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    OP_CONT = 0,
    OP_TEXT = 1,
    OP_BINARY = 2,
    OP_CLOSE = 8,
    OP_PING = 9,
    OP_PONG = 10
};

/* The frame masks and the handshake key must be unpredictable (RFC 6455
 * 10.3); a failed getrandom() leaves the stack bytes, still not zero. */
static void random_bytes(unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            return;
        }
        p += r;
        n -= (size_t)r;
    }
}

static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

static int tcp_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    /* Pusher frames are small and interactive. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Read what is there into the buffer. @return 1, 0 on timeout, -1 when
 * the peer closed or the read failed. */
static int fill(struct ws *ws, int timeout_ms)
{
    struct pollfd pfd = {ws->fd, POLLIN, 0};
    ssize_t r;
    int n;

    if (ws->cap - ws->have < 4096) {
        size_t cap = ws->cap != 0 ? ws->cap * 2 : 16384;
        unsigned char *b = realloc(ws->buf, cap);
        if (b == NULL) {
            return -1;
        }
        ws->buf = b;
        ws->cap = cap;
    }
    do {
        n = poll(&pfd, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        return 0;
    }
    r = n > 0 ? recv(ws->fd, ws->buf + ws->have, ws->cap - ws->have, 0) : -1;
    if (r <= 0) {
        return -1;
    }
    ws->have += (size_t)r;
    return 1;
}

static void consume(struct ws *ws, size_t n)
{
    memmove(ws->buf, ws->buf + n, ws->have - n);
    ws->have -= n;
}

/* Send the upgrade request and wait for "101 Switching Protocols". Bytes
 * after the response head are the first frames and stay in the buffer. */
static int handshake(struct ws *ws, int port, const char *path, int timeout_ms,
                     char *err, size_t errsize)
{
    unsigned char nonce[16];
    char key[25], req[1024];
    unsigned char *end = NULL;
    int n;

    random_bytes(nonce, sizeof(nonce));
    base64(nonce, sizeof(nonce), key);
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 path, port, key);
    if (n < 0 || (size_t)n >= sizeof(req) ||
        write_all(ws->fd, req, (size_t)n) != 0) {
        snprintf(err, errsize, "cannot send the upgrade request");
        return -1;
    }
    while (end == NULL) {
        if (fill(ws, timeout_ms) <= 0 || ws->have > 16384) {
            snprintf(err, errsize, "no WebSocket handshake answer");
            return -1;
        }
        end = memmem(ws->buf, ws->have, "\r\n\r\n", 4);
    }
    if (ws->have < 12 || memcmp(ws->buf, "HTTP/1.1 101", 12) != 0) {
        size_t line = strcspn((const char *)ws->buf, "\r");
        snprintf(err, errsize, "upgrade refused: %.*s",
                 (int)(line < 80 ? line : 80), (const char *)ws->buf);
        return -1;
    }
    consume(ws, (size_t)(end + 4 - ws->buf));
    return 0;
}

int ws_open(struct ws *ws, int port, const char *path, int timeout_ms,
            char *err, size_t errsize)
{
    memset(ws, 0, sizeof(*ws));
    ws->fd = tcp_connect(port);
    if (ws->fd < 0) {
        snprintf(err, errsize, "cannot connect to 127.0.0.1:%d: %s", port,
                 strerror(errno));
        return -1;
    }
    if (handshake(ws, port, path, timeout_ms, err, errsize) != 0) {
        ws_drop(ws);
        return -1;
    }
    return 0;
}

static int send_frame(struct ws *ws, int opcode, const void *data, size_t len)
{
    unsigned char head[14], mask[4];
    unsigned char *f;
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
    random_bytes(mask, sizeof(mask));
    memcpy(head + h, mask, 4);
    f = malloc(h + 4 + len);
    if (f == NULL || ws->fd < 0) {
        free(f);
        return -1;
    }
    memcpy(f, head, h + 4);
    for (size_t i = 0; i < len; i++) {
        f[h + 4 + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
    }
    rc = write_all(ws->fd, f, h + 4 + len);
    free(f);
    return rc;
}

int ws_send_text(struct ws *ws, const char *text, size_t len)
{
    return send_frame(ws, OP_TEXT, text, len);
}

/* Is a whole frame buffered? Header length in *hlen, payload in *plen.
 * @return 1 yes, 0 not yet, -1 a frame the client refuses (too large, or
 * masked: a server never masks). */
static int frame_ready(const struct ws *ws, size_t *hlen, size_t *plen)
{
    const unsigned char *b = ws->buf;
    uint64_t len;
    size_t h = 2;

    if (ws->have < 2) {
        return 0;
    }
    if (b[1] & 0x80) {
        return -1;
    }
    len = b[1] & 0x7f;
    if (len == 126) {
        h = 4;
        len = ws->have >= 4 ? ((uint64_t)b[2] << 8) | b[3] : 0;
    } else if (len == 127) {
        h = 10;
        len = 0;
        for (int i = 0; ws->have >= 10 && i < 8; i++) {
            len = (len << 8) | b[2 + i];
        }
    }
    if (len > WS_MAX_MESSAGE) {
        return -1;
    }
    *hlen = h;
    *plen = (size_t)len;
    return ws->have >= h && ws->have - h >= (size_t)len;
}

static int append_msg(struct ws *ws, const unsigned char *p, size_t n)
{
    char *m;

    if (ws->msg_len + n > WS_MAX_MESSAGE) {
        return -1;
    }
    m = realloc(ws->msg, ws->msg_len + n + 1);
    if (m == NULL) {
        return -1;
    }
    memcpy(m + ws->msg_len, p, n);
    ws->msg = m;
    ws->msg_len += n;
    ws->msg[ws->msg_len] = '\0';
    return 0;
}

/* Take one buffered frame. @return 1 a message is complete, 0 keep
 * reading, -1 the connection is over. */
static int take_frame(struct ws *ws, size_t h, size_t len)
{
    int fin = ws->buf[0] & 0x80, op = ws->buf[0] & 0x0f;
    const unsigned char *p = ws->buf + h;
    int rc = 0;

    if (op == OP_CLOSE) {
        ws->close_code = len >= 2 ? (p[0] << 8) | p[1] : 1005;
        rc = -1;
    } else if (op == OP_PING) {
        rc = send_frame(ws, OP_PONG, p, len) == 0 ? 0 : -1;
    } else if (op == OP_CONT || op == OP_TEXT || op == OP_BINARY) {
        rc = append_msg(ws, p, len) != 0 ? -1 : (fin ? 1 : 0);
    }
    consume(ws, h + len);
    return rc;
}

int ws_recv(struct ws *ws, int timeout_ms, char **out, size_t *len)
{
    size_t h, plen;
    int rc;

    *out = NULL;
    *len = 0;
    if (ws->fd < 0) {
        return -1;
    }
    for (;;) {
        while ((rc = frame_ready(ws, &h, &plen)) == 1) {
            rc = take_frame(ws, h, plen);
            if (rc < 0) {
                return -1;
            }
            if (rc == 1) {
                *out = ws->msg != NULL ? ws->msg : calloc(1, 1);
                *len = ws->msg_len;
                ws->msg = NULL;
                ws->msg_len = 0;
                return *out != NULL ? 1 : -1;
            }
        }
        if (rc < 0) {
            return -1;
        }
        rc = fill(ws, timeout_ms);
        if (rc <= 0) {
            return rc;
        }
    }
}

void ws_close(struct ws *ws)
{
    static const unsigned char normal[2] = {0x03, 0xe8}; /* 1000 */

    if (ws->fd >= 0) {
        send_frame(ws, OP_CLOSE, normal, sizeof(normal));
    }
    ws_drop(ws);
}

void ws_drop(struct ws *ws)
{
    if (ws->fd >= 0) {
        close(ws->fd);
    }
    ws->fd = -1;
    free(ws->buf);
    free(ws->msg);
    ws->buf = NULL;
    ws->msg = NULL;
    ws->have = ws->cap = ws->msg_len = 0;
}
