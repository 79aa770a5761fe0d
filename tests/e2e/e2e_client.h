/* SPDX-License-Identifier: MIT */
/*
 * What the end-to-end tests drive resdeliv-server with: the server as a
 * child process on a free loopback port, and over the tests' WebSocket
 * and HTTP client (../wsclient.h) the Pusher HTTP API with real
 * signatures and Pusher-level helpers. The soak, the hostile tests and
 * the server benchmarks use them too.
 */
#ifndef RESDELIV_E2E_CLIENT_H
#define RESDELIV_E2E_CLIENT_H

#include "../wsclient.h"

#include <cjson/cJSON.h>

#include <stddef.h>
#include <sys/types.h>

#define E2E_APP_ID "app-id"
#define E2E_KEY "app-key"
#define E2E_SECRET "app-secret"
#define E2E_TIMEOUT_MS 10000

struct e2e_server {
    pid_t pid;
    int port;
};

/* Start `bin --port 0 [args...]` (args NULL-terminated, may be NULL) and
 * read the port it prints. @return 0 or -1. */
int e2e_server_start(struct e2e_server *s, const char *bin,
                     const char *const *args);
/* SIGTERM, wait (SIGKILL after 10 s). @return the exit status, or -1 when
 * it did not exit by itself. Accepts a server that is not running. */
int e2e_server_stop(struct e2e_server *s);
/* Peak resident set (VmHWM) in KiB, or -1. */
long e2e_server_hwm_kb(const struct e2e_server *s);
/* Run `bin args...` to completion with stdout/stderr to /dev/null.
 * @return the exit status or -1. */
int e2e_run_status(const char *bin, const char *const *args);

/* One HTTP/1.1 request with Connection: close. `*resp` (may be NULL) gets
 * the body; caller frees. @return the status or -1. */
int e2e_http(int port, const char *method, const char *target, const char *body,
             char **resp);
/* The text of a POST of `blen` bytes of `body` to `path`, signed for the
 * test app as Pusher's server SDKs sign; "Connection: close" unless
 * `keep_alive`. @return it (caller frees) with its length in `*len`, or
 * NULL. */
char *e2e_signed_post(const char *path, const char *body, size_t blen,
                      int keep_alive, size_t *len);
/* POST `path` with `body`, signed for the test app. @return the HTTP
 * status or -1. */
int e2e_post_signed(int port, const char *path, const char *body);
/* POST /apps/{id}/events, signed. `data` is the event's data text.
 * @return the HTTP status or -1. */
int e2e_publish(int port, const char *channel, const char *event,
                const char *data);
/* POST /apps/{id}/batch_events with `n` (at most 10) events of `channel`
 * whose data is {"n":first+i}, plus a "pad" string of `pad` bytes when
 * `pad` is not 0. @return the HTTP status or -1. */
int e2e_publish_batch(int port, const char *channel, const char *event,
                      int first, int n, size_t pad);

/* A Pusher client: WebSocket on /app/{key}, connection_established read. */
struct e2e_pusher {
    struct wsc ws;
    char socket_id[64];
};

int e2e_pusher_connect(struct e2e_pusher *p, int port);
/* Send pusher:subscribe; `last_id`, `epoch`, `auth`, `channel_data` may be
 * NULL. @return 0 or -1. */
int e2e_pusher_subscribe(struct e2e_pusher *p, const char *channel,
                         const char *last_id, const char *epoch,
                         const char *auth, const char *channel_data);
/* The next frame, parsed (caller deletes), NULL on timeout or close.
 * pusher:ping is answered and skipped. */
cJSON *e2e_pusher_next(struct e2e_pusher *p, int timeout_ms);
/* Frames until one with `event` (others are deleted); NULL if none. */
cJSON *e2e_pusher_until(struct e2e_pusher *p, const char *event,
                        int timeout_ms);
void e2e_pusher_close(struct e2e_pusher *p);

/* A frame's "event" string, or "". */
const char *e2e_event(const cJSON *frame);
/* A frame's data parsed from its JSON string (or the object itself);
 * caller deletes. */
cJSON *e2e_data(const cJSON *frame);
/* A string member of an object, or NULL. */
const char *e2e_str(const cJSON *obj, const char *name);

#endif /* RESDELIV_E2E_CLIENT_H */
