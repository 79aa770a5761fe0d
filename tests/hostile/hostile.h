/* SPDX-License-Identifier: MIT */
/*
 * What the hostile-client tests need beyond the end-to-end helpers: the
 * server child with its stderr kept (a sanitizer report there fails the
 * test) and a fleet of WebSocket clients read from one thread with
 * poll(). Raw HTTP requests and raw frames the well-behaved client never
 * sends come from the tests' client (wsc_http_exchange, wsc_send_raw).
 */
#ifndef RESDELIV_HOSTILE_H
#define RESDELIV_HOSTILE_H

#include "../e2e/e2e_client.h"

#include <stddef.h>

/* The server child, its stderr in a temporary file. */
struct hostile_server {
    struct e2e_server s;
    char err_path[64];
};

/* Start `bin --port 0 [args...]` with a small ASan quarantine (freed
 * blocks leave the resident set, so VmHWM means what it says). @return 0
 * or -1. */
int hostile_server_start(struct hostile_server *h, const char *bin,
                         const char *const *args);

/* SIGTERM and wait. @return 0 when it exited 0 and its stderr holds no
 * sanitizer report, else -1 with the reason in `why`. */
int hostile_server_stop(struct hostile_server *h, char *why, size_t size);

/* A client of the fleet. */
struct hostile_client {
    struct wsc ws;  /* close_code -1 on EOF without a close frame */
    int subscribed; /* subscription_succeeded seen */
    long next;      /* next "n" expected */
    long got;       /* messages of the run received */
    int bad;        /* out of order, duplicate or unknown frame */
};

/* Connect `n` Pusher clients (connection_established read). @return 0 or
 * -1 (the ones opened are closed). */
int hostile_fleet_open(struct hostile_client *c, int n, int port);

/* Read every client until each has `want` messages of `event` with
 * data {"n": first..}, or `timeout_ms` passes. @return the number of
 * clients that completed. */
int hostile_fleet_run(struct hostile_client *c, int n, const char *event,
                      long first, long want, int timeout_ms);

void hostile_fleet_close(struct hostile_client *c, int n);

#endif /* RESDELIV_HOSTILE_H */
