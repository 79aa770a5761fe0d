/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the hostile-client tests (see hostile.h): the server child
 * with its stderr captured, and a fleet of clients driven by one poll()
 * loop, which is what lets a thousand of them replay at once without a
 * thread each.
 */
#include "hostile.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -------------------------------------------------------------- fleet */

int hostile_fleet_open(struct hostile_client *c, int n, int port)
{
    for (int i = 0; i < n; i++) {
        struct e2e_pusher p;
        memset(&c[i], 0, sizeof(c[i]));
        wsc_init(&c[i].ws, -1);
        if (e2e_pusher_connect(&p, port) != 0) {
            hostile_fleet_close(c, i);
            return -1;
        }
        /* The connection moves to the fleet, buffer and all. */
        c[i].ws = p.ws;
    }
    return 0;
}

void hostile_fleet_close(struct hostile_client *c, int n)
{
    for (int i = 0; i < n; i++) {
        wsc_drop(&c[i].ws);
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

/* Read what is there and take the whole messages. @return -1 when the
 * client is finished with. */
static int fleet_read(struct hostile_client *c, const char *event_key)
{
    struct wsc_msg m;
    int rc;

    if (wsc_read(&c->ws, MSG_DONTWAIT) < 0) {
        c->ws.close_code = c->ws.close_code ? c->ws.close_code : -1;
        return -1;
    }
    while ((rc = wsc_next(&c->ws, &m)) != WSC_MORE) {
        if (rc == WSC_CLOSED) {
            return -1;
        }
        if (rc == WSC_PING) {
            (void)wsc_send(&c->ws, WSC_OP_PONG, m.data, m.len);
        } else if (m.opcode == WSC_OP_TEXT) {
            char *t = strndup(m.data, m.len);
            if (t != NULL) {
                on_text(c, t, event_key);
            }
            free(t);
        }
    }
    return 0;
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
            int live =
                c[i].ws.fd >= 0 && c[i].got < want && !c[i].ws.close_code;
            pfd[i].fd = live ? c[i].ws.fd : -1;
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
