/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the hostile-client tests (see hostile.h): the server child
 * with its stderr captured, raw HTTP, raw frames, and a fleet of clients
 * driven by one poll() loop, which is what lets a thousand of them replay
 * at once without a thread each.
 */
#include "hostile.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

/* ------------------------------------------------------------- server */

int hostile_server_start(struct hostile_server *h, const char *bin,
                         const char *const *args)
{
    int fd, saved, rc;

    snprintf(h->err_path, sizeof(h->err_path), "/tmp/hostile-err-XXXXXX");
    fd = mkstemp(h->err_path);
    if (fd < 0) {
        return -1;
    }
    /* The child inherits stderr: point ours at the file around the fork. */
    setenv("ASAN_OPTIONS", "quarantine_size_mb=1", 1);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    rc = e2e_server_start(&h->s, bin, args);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0, cap = 4096;
    char *b = malloc(cap);

    while (f != NULL && b != NULL) {
        size_t r = fread(b + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) {
            break;
        }
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    if (b != NULL) {
        b[n] = '\0';
    }
    return b;
}

int hostile_server_stop(struct hostile_server *h, char *why, size_t size)
{
    static const char *const marks[] = {"Sanitizer",
                                        "runtime error:", "LeakSanitizer"};
    int status = e2e_server_stop(&h->s);
    char *text = slurp(h->err_path);
    int rc = 0;

    snprintf(why, size, "ok");
    if (status != 0) {
        snprintf(why, size, "server exit status %d; stderr: %.600s", status,
                 text != NULL ? text : "");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && text != NULL && i < 3; i++) {
        const char *at = strstr(text, marks[i]);
        if (at != NULL) {
            snprintf(why, size, "sanitizer report: %.800s", at);
            rc = -1;
        }
    }
    free(text);
    unlink(h->err_path);
    return rc;
}

/* ---------------------------------------------------------------- raw */

static int tcp_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

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
    return fd;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Until EOF (1), reset (1) or the deadline (0). */
static int read_until_close(int fd, char **all, size_t *n, long deadline)
{
    size_t cap = 4096;
    char *b = malloc(cap);

    *n = 0;
    *all = b;
    while (b != NULL) {
        struct pollfd pfd = {fd, POLLIN, 0};
        long left = deadline - now_ms();
        ssize_t r;
        if (*n + 1 >= cap) {
            char *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                break;
            }
            *all = b = nb;
            cap *= 2;
        }
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            b[*n] = '\0';
            return 0;
        }
        r = recv(fd, b + *n, cap - *n - 1, 0);
        if (r <= 0) {
            b[*n] = '\0';
            return 1;
        }
        *n += (size_t)r;
    }
    return -1;
}

/* A send the server may cut short by closing: partial sends are fine. */
static void send_some(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        p += w;
        len -= (size_t)w;
    }
}

int hostile_http(int port, const char *req, size_t len, int half_close,
                 int timeout_ms, char **body)
{
    int fd = tcp_connect(port), status = 0, closed;
    char *all = NULL, *sep;
    size_t n = 0;

    if (body != NULL) {
        *body = NULL;
    }
    if (fd < 0) {
        return -1;
    }
    send_some(fd, req, len);
    if (half_close) {
        shutdown(fd, SHUT_WR);
    }
    closed = read_until_close(fd, &all, &n, now_ms() + timeout_ms);
    close(fd);
    if (all == NULL || closed < 0) {
        free(all);
        return -1;
    }
    if (sscanf(all, "HTTP/1.%*d %d", &status) != 1) {
        status = closed ? 0 : -1;
    }
    sep = strstr(all, "\r\n\r\n");
    if (body != NULL) {
        *body = strdup(sep != NULL ? sep + 4 : "");
    }
    free(all);
    return status;
}

int hostile_frame(int fd, int fin, int opcode, const void *data, size_t len,
                  uint64_t announced)
{
    static const unsigned char mask[4] = {0x21, 0x43, 0x65, 0x87};
    unsigned char *f = malloc(len + 14);
    size_t h = 2;

    if (f == NULL) {
        return -1;
    }
    /* Bits 4-6 of `opcode` go out as they are: the RSV bits. */
    f[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x7f));
    if (announced < 126) {
        f[1] = (unsigned char)(0x80 | announced);
    } else if (announced < 65536) {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(announced >> 8);
        f[3] = (unsigned char)announced;
        h = 4;
    } else {
        f[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) {
            f[2 + i] = (unsigned char)(announced >> (56 - 8 * i));
        }
        h = 10;
    }
    memcpy(f + h, mask, 4);
    for (size_t i = 0; i < len; i++) {
        f[h + 4 + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
    }
    send_some(fd, (const char *)f, h + 4 + len);
    free(f);
    return 0;
}

/* -------------------------------------------------------------- fleet */

int hostile_fleet_open(struct hostile_client *c, int n, int port)
{
    for (int i = 0; i < n; i++) {
        struct e2e_pusher p;
        memset(&c[i], 0, sizeof(c[i]));
        c[i].fd = -1;
        if (e2e_pusher_connect(&p, port) != 0) {
            hostile_fleet_close(c, i);
            return -1;
        }
        /* Nothing follows connection_established before a subscribe. */
        c[i].fd = p.ws.fd;
        p.ws.fd = -1;
        e2e_ws_close(&p.ws);
    }
    return 0;
}

void hostile_fleet_close(struct hostile_client *c, int n)
{
    for (int i = 0; i < n; i++) {
        if (c[i].fd >= 0) {
            close(c[i].fd);
        }
        free(c[i].buf);
        c[i].buf = NULL;
        c[i].fd = -1;
    }
}

/* One text message: succeeded, one of the run, or something else. */
static void on_text(struct hostile_client *c, const char *t,
                    const char *event_key)
{
    const char *n;

    if (strstr(t, "\"event\":\"pusher_internal:subscription_succeeded\"")) {
        c->subscribed = 1;
        return;
    }
    n = strstr(t, event_key) != NULL ? strstr(t, "\\\"n\\\":") : NULL;
    if (n == NULL || !c->subscribed || strtol(n + 6, NULL, 10) != c->next) {
        c->bad++;
        return;
    }
    c->next++;
    c->got++;
}

/* Frames in the client's buffer. @return -1 when it closed. */
static int take_frames(struct hostile_client *c, const char *event_key)
{
    size_t off = 0;
    int rc = 0;

    while (rc == 0 && c->have - off >= 2) {
        const unsigned char *b = c->buf + off;
        size_t h = 2, len = b[1] & 0x7f;
        if (len == 126) {
            h = 4;
            len = c->have - off >= 4 ? ((size_t)b[2] << 8) | b[3] : 0;
        } else if (len == 127) {
            h = 10;
            len = 0;
            for (int i = 0; c->have - off >= 10 && i < 8; i++) {
                len = (len << 8) | b[2 + i];
            }
        }
        if (c->have - off < h || c->have - off - h < len) {
            break;
        }
        if ((b[0] & 0x0f) == 8) {
            c->close_code = len >= 2 ? (b[h] << 8) | b[h + 1] : 1005;
            rc = -1;
        } else if ((b[0] & 0x0f) == 1) {
            char *t = strndup((const char *)b + h, len);
            if (t != NULL) {
                on_text(c, t, event_key);
            }
            free(t);
        }
        off += h + len;
    }
    memmove(c->buf, c->buf + off, c->have - off);
    c->have -= off;
    return rc;
}

/* Read what is there. @return -1 when the client is finished with. */
static int fleet_read(struct hostile_client *c, const char *event_key)
{
    ssize_t r;

    if (c->have + 65536 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        unsigned char *b = realloc(c->buf, cap);
        if (b == NULL) {
            return -1;
        }
        c->buf = b;
        c->cap = cap;
    }
    r = recv(c->fd, c->buf + c->have, c->cap - c->have, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        c->close_code = c->close_code ? c->close_code : -1;
        return -1;
    }
    if (r > 0) {
        c->have += (size_t)r;
    }
    return take_frames(c, event_key);
}

int hostile_fleet_run(struct hostile_client *c, int n, const char *event,
                      long first, long want, int timeout_ms)
{
    struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
    long deadline = now_ms() + timeout_ms;
    char key[128];
    int done = 0;

    if (pfd == NULL) {
        return 0;
    }
    snprintf(key, sizeof(key), "\"event\":\"%s\"", event);
    for (int i = 0; i < n; i++) {
        c[i].next = first;
    }
    while (done < n && now_ms() < deadline) {
        int nlive = 0;
        for (int i = 0; i < n; i++) {
            int live = c[i].fd >= 0 && c[i].got < want && !c[i].close_code;
            pfd[i].fd = live ? c[i].fd : -1;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
            nlive += live;
        }
        if (nlive == 0 || (poll(pfd, (nfds_t)n, 200) < 0 && errno != EINTR)) {
            break;
        }
        done = 0;
        for (int i = 0; i < n; i++) {
            if (pfd[i].revents != 0) {
                (void)fleet_read(&c[i], key);
            }
            done += c[i].got >= want;
        }
    }
    free(pfd);
    return done;
}
