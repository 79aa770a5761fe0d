/* SPDX-License-Identifier: MIT */
/*
 * What the hostile-client tests need beyond the end-to-end helpers: the
 * server child with its stderr kept (a sanitizer report there fails the
 * test), raw HTTP requests, raw WebSocket frames the well-behaved client
 * never sends, and a fleet of WebSocket clients read from one thread with
 * poll().
 */
#ifndef RESDELIV_HOSTILE_H
#define RESDELIV_HOSTILE_H

#include "../e2e/e2e_client.h"

#include <stddef.h>
#include <stdint.h>

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

/* Send `len` bytes of `req` on a new connection, optionally half-close,
 * read the answer until the server closes or `timeout_ms` passes.
 * `*body` (may be NULL) gets what followed the header. @return the status
 * of the first response line, 0 when the server closed without one, -1 on
 * a local error or when it neither answered nor closed in time. */
int hostile_http(int port, const char *req, size_t len, int half_close,
                 int timeout_ms, char **body);

/* One client frame: FIN bit `fin`, `opcode` (RSV bits above it go out
 * as given), masked `len` bytes of
 * `data`; the header announces `announced` bytes (normally `len`).
 * @return 0 or -1. */
int hostile_frame(int fd, int fin, int opcode, const void *data, size_t len,
                  uint64_t announced);

/* A client of the fleet. */
struct hostile_client {
    int fd;
    unsigned char *buf;
    size_t have;
    size_t cap;
    int subscribed; /* subscription_succeeded seen */
    long next;      /* next "n" expected */
    long got;       /* messages of the run received */
    int bad;        /* out of order, duplicate or unknown frame */
    int close_code; /* from a close frame; -1 on EOF without one */
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
