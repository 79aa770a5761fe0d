/* SPDX-License-Identifier: MIT */
/*
 * Slow and hostile clients against resdeliv-server: a subscriber that
 * never reads while 10,000 messages go out, a reconnect storm of 1,000
 * clients replaying from "0-0", malformed and abusive WebSocket frames,
 * absurd last_event_id values, 10,000 subscriptions on one connection,
 * and bad HTTP API requests. Each must get a clear answer (a pusher:error
 * frame, a close code, a 4xx) while the server goes on serving others,
 * with its memory bounded; every test ends the server with SIGTERM and
 * fails on a non-zero exit or a sanitizer report on its stderr, so that
 * under the ASan+UBSan build a crash or leak the abuse caused shows.
 *
 * Usage: check_hostile /path/to/resdeliv-server
 */
#include "hostile.h"
#include "../e2e/e2e_scenarios.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *server_bin;

/* The server of the running test (a copy: the test's own lives on its
 * stack): a failed assertion leaves the test before its stop_clean(),
 * and the child must not outlive the program. */
static struct hostile_server live;
static int live_set;

static void stop_live(void)
{
    char why[1024];

    if (live_set) {
        live_set = 0;
        (void)hostile_server_stop(&live, why, sizeof(why));
    }
}

static void start(struct hostile_server *h, const char *const *args)
{
    stop_live();
    ck_assert_msg(hostile_server_start(h, server_bin, args) == 0,
                  "cannot start %s", server_bin);
    live = *h;
    live_set = 1;
}

static void stop_clean(struct hostile_server *h)
{
    char why[1024];

    live_set = 0;
    ck_assert_msg(hostile_server_stop(h, why, sizeof(why)) == 0, "%s", why);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) +
           (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A new client on a channel of its own gets a message published now. */
static void still_serving(int port, const char *why)
{
    static int round;
    struct e2e_pusher p;
    char channel[64];

    snprintf(channel, sizeof(channel), "witness-%d", ++round);
    ck_assert_msg(e2e_pusher_connect(&p, port) == 0,
                  "no new connection after %s", why);
    e2e_subscribe_ok(&p, channel, NULL, NULL);
    e2e_publish_run(port, channel, "alive", 1, 1);
    e2e_expect_run(&p, "alive", 1, 1, NULL, NULL);
    e2e_pusher_close(&p);
}

/* ---------------------------------------------------------------- slow */

#define SLOW_TOTAL 10000
#define SLOW_PAD 4096
#define SLOW_MAX_QUEUED (4L * 1024 * 1024) /* the shim's default bound */

/* Everything the slow client's socket holds: a prefix of the run in
 * order, then the end of the connection. @return messages read. */
static long drain_slow(struct e2e_pusher *p)
{
    long n = 0;
    cJSON *f;

    while ((f = e2e_pusher_next(p, E2E_TIMEOUT_MS)) != NULL) {
        cJSON *d = e2e_data(f);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "n");
        ck_assert_str_eq(e2e_event(f), "tick");
        ck_assert_msg(cJSON_IsNumber(v) && v->valueint == n,
                      "slow client: message %ld out of order", n);
        n++;
        cJSON_Delete(d);
        cJSON_Delete(f);
    }
    return n;
}

START_TEST(slow_reader_disconnected_at_bound)
{
    static const char *const args[] = {"--retention", "100", NULL};
    struct hostile_server s;
    struct e2e_pusher slow, fast;
    struct timespec t0;
    long before, after, got;

    start(&s, args);
    ck_assert_int_eq(e2e_pusher_connect(&slow, s.s.port), 0);
    e2e_subscribe_ok(&slow, "firehose", NULL, NULL);
    ck_assert_int_eq(e2e_pusher_connect(&fast, s.s.port), 0);
    e2e_subscribe_ok(&fast, "firehose", NULL, NULL);
    before = e2e_server_hwm_kb(&s.s);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* The slow one reads nothing; the fast one keeps up batch by batch. */
    for (int n = 0; n < SLOW_TOTAL; n += 10) {
        ck_assert_int_eq(
            e2e_publish_batch(s.s.port, "firehose", "tick", n, 10, SLOW_PAD),
            200);
        e2e_expect_run(&fast, "tick", n, 10, NULL, NULL);
    }
    after = e2e_server_hwm_kb(&s.s);
    printf("slow: %d messages of %d bytes published in %.1f s; server "
           "VmHWM %ld KiB before, %ld KiB after (+%ld KiB)\n",
           SLOW_TOTAL, SLOW_PAD, seconds_since(&t0), before, after,
           after - before);
    got = drain_slow(&slow);
    printf("slow: the never-reading client got %ld of %d messages (%ld "
           "KiB), then close code %d\n",
           got, SLOW_TOTAL, got * (SLOW_PAD + 100) / 1024, slow.ws.close_code);
    fflush(stdout);
    /* Cut off near the bound: what it got fits in the shim's queue plus
     * the kernel's socket buffers, far short of the ~41 MiB published. */
    ck_assert_int_lt(got, SLOW_TOTAL);
    ck_assert_int_lt(got * SLOW_PAD, SLOW_MAX_QUEUED + 8L * 1024 * 1024);
    ck_assert_msg(slow.ws.close_code == 4100 || slow.ws.close_code == 0,
                  "close code %d", slow.ws.close_code);
    ck_assert_int_gt(before, 0);
    ck_assert_int_lt(after - before, 24 * 1024);
    e2e_pusher_close(&slow);
    e2e_pusher_close(&fast);
    still_serving(s.s.port, "a slow reader");
    stop_clean(&s);
}
END_TEST

/* --------------------------------------------------------------- storm */

#define STORM_RETAINED 1000
#define SEAM_MAX_REPLAYING 256 /* the seam's default max_replaying */

struct storm_figures {
    long base_kb;
    long peak_kb;
    double seconds;
};

/* `n` clients resubscribe with "0-0" at once; each must get the whole
 * retained log once, in order. */
static void storm(int n, struct storm_figures *fig)
{
    static const char sub[] = "{\"event\":\"pusher:subscribe\",\"data\":{"
                              "\"channel\":\"storm\",\"last_event_id\":"
                              "\"0-0\"}}";
    struct hostile_client *c = calloc((size_t)n, sizeof(*c));
    struct hostile_server s;
    struct timespec t0;
    int done;

    ck_assert_ptr_nonnull(c);
    start(&s, NULL);
    for (int i = 0; i < STORM_RETAINED; i += 10) {
        ck_assert_int_eq(
            e2e_publish_batch(s.s.port, "storm", "tick", i, 10, 200), 200);
    }
    ck_assert_int_eq(hostile_fleet_open(c, n, s.s.port), 0);
    fig->base_kb = e2e_server_hwm_kb(&s.s);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(wsc_send_raw(c[i].ws.fd, WSC_FIN | WSC_OP_TEXT, sub,
                                      sizeof(sub) - 1, sizeof(sub) - 1),
                         0);
    }
    done = hostile_fleet_run(c, n, "tick", 0, STORM_RETAINED, 300000);
    fig->seconds = seconds_since(&t0);
    fig->peak_kb = e2e_server_hwm_kb(&s.s);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(c[i].got == STORM_RETAINED && c[i].bad == 0,
                      "client %d of %d: %ld messages, %d unexpected frames, "
                      "close %d",
                      i, n, c[i].got, c[i].bad, c[i].ws.close_code);
    }
    ck_assert_int_eq(done, n);
    hostile_fleet_close(c, n);
    free(c);
    still_serving(s.s.port, "a reconnect storm");
    stop_clean(&s);
}

START_TEST(reconnect_storm_paced)
{
    struct storm_figures small, big;
    long grow_small, grow_big;

    storm(100, &small);
    storm(1000, &big);
    grow_small = small.peak_kb - small.base_kb;
    grow_big = big.peak_kb - big.base_kb;
    printf("storm: 100 clients x %d messages in %.1f s, server VmHWM %ld -> "
           "%ld KiB (+%ld)\n",
           STORM_RETAINED, small.seconds, small.base_kb, small.peak_kb,
           grow_small);
    printf("storm: 1000 clients x %d messages in %.1f s, server VmHWM %ld -> "
           "%ld KiB (+%ld); %ld KiB per replay in flight at 100 clients\n",
           STORM_RETAINED, big.seconds, big.base_kb, big.peak_kb, grow_big,
           grow_small / 100);
    fflush(stdout);
    /* Unpaced, 1000 replays of ~330 KiB each would hold ~330 MiB. Paced,
     * a replay holds about a page (100 entries) at a time, and at most
     * SEAM_MAX_REPLAYING run at once: the 100-client run tells what one
     * replay in flight costs, and the storm may cost twice that per
     * running replay, whatever the number of clients waiting. */
    ck_assert_int_gt(grow_small, 0);
    ck_assert_int_lt(grow_big,
                     2 * SEAM_MAX_REPLAYING * grow_small / 100 + 16 * 1024);
    ck_assert_int_lt(grow_big, 1000L * STORM_RETAINED * 330 / 1024 / 3);
}
END_TEST

/* -------------------------------------------------------------- frames */

#define EXPECT_ERROR 0  /* pusher:error, the connection stays usable */
#define EXPECT_OK (-1)  /* subscription_succeeded */
#define EXPECT_GAP (-2) /* succeeded, then a gap notice, no replay */

struct frame_case {
    const char *name;
    void (*send)(int fd);
    int expect;         /* a close code, or one of EXPECT_* */
    const char *detail; /* in the error frame or gap notice */
};

static void send_text(int fd, const char *t)
{
    wsc_send_raw(fd, WSC_FIN | WSC_OP_TEXT, t, strlen(t), strlen(t));
}

/* A subscribe on `channel` whose body is `len` bytes: `head`, `fill`
 * repeated, `tail`. */
static void send_padded(int fd, const char *head, char fill, size_t n,
                        const char *tail)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *b = malloc(hl + n + tl);

    ck_assert_ptr_nonnull(b);
    memcpy(b, head, hl);
    memset(b + hl, fill, n);
    memcpy(b + hl + n, tail, tl);
    wsc_send_raw(fd, WSC_FIN | WSC_OP_TEXT, b, hl + n + tl, hl + n + tl);
    free(b);
}

static void oversized(int fd)
{
    send_padded(fd, "{\"event\":\"x\",\"data\":\"", 'a', 100000, "\"}");
}

static void announces_huge(int fd)
{
    char *b = malloc(70000);

    ck_assert_ptr_nonnull(b);
    memset(b, 'a', 70000);
    wsc_send_raw(fd, WSC_FIN | WSC_OP_TEXT, b, 70000, (uint64_t)1 << 62);
    free(b);
}

static void bad_utf8(int fd)
{
    send_text(fd, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                  "\"a\xff\xfe\"}}");
}

static void nested_100k(int fd)
{
    send_padded(fd, "", '[', 100000, "");
}

static void nested_60k(int fd)
{
    send_padded(fd, "{\"event\":\"pusher:subscribe\",\"data\":", '[', 60000,
                "}");
}

static void garbage(int fd)
{
    unsigned char b[256];
    unsigned v = 12345;

    for (size_t i = 0; i < sizeof(b); i++) {
        v = v * 1103515245u + 12345u;
        b[i] = (unsigned char)(v >> 16);
    }
    b[0] = '{';
    wsc_send_raw(fd, WSC_FIN | WSC_OP_TEXT, b, sizeof(b), sizeof(b));
}

static void not_json(int fd)
{
    send_text(fd, "hello");
}

static void empty(int fd)
{
    wsc_send_raw(fd, WSC_FIN | WSC_OP_TEXT, "", 0, 0);
}

static const char frag_sub[] =
    "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"fragged\"}}";

static void bad_opcode(int fd)
{
    wsc_send_raw(fd, WSC_FIN | 3, "xx", 2, 2);
}

static void rsv_bits(int fd)
{
    wsc_send_raw(fd, WSC_FIN | 0x40 | WSC_OP_TEXT, frag_sub, strlen(frag_sub),
                 strlen(frag_sub));
}

static void lone_continuation(int fd)
{
    wsc_send_raw(fd, WSC_FIN | WSC_OP_CONT, frag_sub, strlen(frag_sub),
                 strlen(frag_sub));
}

static void binary(int fd)
{
    wsc_send_raw(fd, WSC_FIN | WSC_OP_BINARY, frag_sub, strlen(frag_sub),
                 strlen(frag_sub));
}

static void byte_fragments(int fd)
{
    size_t n = strlen(frag_sub);

    wsc_send_raw(fd, WSC_OP_TEXT, frag_sub, 1, 1);
    for (size_t i = 1; i < n; i++) {
        wsc_send_raw(fd, (i == n - 1 ? WSC_FIN : 0) | WSC_OP_CONT, frag_sub + i,
                     1, 1);
    }
}

static void fragments_with_ping(int fd)
{
    wsc_send_raw(fd, WSC_OP_TEXT, frag_sub, 5, 5);
    wsc_send_raw(fd, WSC_FIN | WSC_OP_PING, "hi", 2, 2);
    wsc_send_raw(fd, WSC_OP_CONT, frag_sub + 5, 10, 10);
    wsc_send_raw(fd, WSC_FIN | WSC_OP_CONT, frag_sub + 15,
                 strlen(frag_sub) - 15, strlen(frag_sub) - 15);
}

static void fragments_past_limit(int fd)
{
    static char chunk[1000];

    memset(chunk, 'a', sizeof(chunk));
    wsc_send_raw(fd, WSC_OP_TEXT, chunk, sizeof(chunk), sizeof(chunk));
    for (int i = 0; i < 80; i++) {
        wsc_send_raw(fd, WSC_OP_CONT, chunk, sizeof(chunk), sizeof(chunk));
    }
}

static void id_overflow(int fd)
{
    send_text(fd, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                  "\"absurd\",\"last_event_id\":\"99999999999999999999-0\"}}");
}

static void id_negative(int fd)
{
    send_text(fd, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                  "\"absurd\",\"last_event_id\":\"-1\"}}");
}

static void id_10k(int fd)
{
    send_padded(fd,
                "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                "\"absurd\",\"last_event_id\":\"",
                '7', 10240, "-0\"}}");
}

static void id_number(int fd)
{
    send_text(fd, "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                  "\"absurd\",\"last_event_id\":5}}");
}

static const struct frame_case frame_cases[] = {
    {"oversized frame", oversized, 1009, NULL},
    {"frame announcing 2^62 bytes", announces_huge, 1009, NULL},
    {"invalid UTF-8", bad_utf8, EXPECT_ERROR, "UTF-8"},
    {"100k '['", nested_100k, 1009, NULL},
    {"60k '[' in data", nested_60k, EXPECT_ERROR, "nesting too deep"},
    {"garbage bytes", garbage, EXPECT_ERROR, "frame"},
    {"not JSON", not_json, EXPECT_ERROR, "not valid JSON"},
    {"empty frame", empty, EXPECT_ERROR, "empty"},
    {"opcode 3", bad_opcode, 1002, NULL},
    {"RSV bit", rsv_bits, 1002, NULL},
    {"continuation first", lone_continuation, 1002, NULL},
    {"binary frame", binary, 1003, NULL},
    {"1-byte fragments", byte_fragments, EXPECT_OK, NULL},
    {"ping between fragments", fragments_with_ping, EXPECT_OK, NULL},
    {"fragments past the limit", fragments_past_limit, 1009, NULL},
    {"last_event_id 20 digits", id_overflow, EXPECT_GAP, "invalid_id"},
    {"last_event_id -1", id_negative, EXPECT_GAP, "invalid_id"},
    {"last_event_id 10 KB", id_10k, EXPECT_GAP, "invalid_id"},
    {"last_event_id a number", id_number, EXPECT_ERROR, "last_event_id"},
};

/* The next frame must be `event` and carry `detail`. */
static void expect_frame(struct e2e_pusher *p, const struct frame_case *fc,
                         const char *event)
{
    char *text = NULL;

    ck_assert_msg(wsc_recv(&p->ws, E2E_TIMEOUT_MS, &text, NULL) == 1,
                  "%s: no answer (close code %d)", fc->name, p->ws.close_code);
    ck_assert_msg(strstr(text, event) != NULL, "%s: expected %s, got %.200s",
                  fc->name, event, text);
    ck_assert_msg(fc->detail == NULL || strstr(text, fc->detail) != NULL,
                  "%s: '%s' not in %.300s", fc->name, fc->detail, text);
    free(text);
}

static void check_answer(struct e2e_pusher *p, const struct frame_case *fc)
{
    char *text = NULL;
    int rc;

    if (fc->expect > 0) {
        while ((rc = wsc_recv(&p->ws, E2E_TIMEOUT_MS, &text, NULL)) == 1) {
            free(text);
        }
        ck_assert_msg(rc == -1 && p->ws.close_code == fc->expect,
                      "%s: expected close %d, got rc %d close %d", fc->name,
                      fc->expect, rc, p->ws.close_code);
        return;
    }
    if (fc->expect == EXPECT_ERROR) {
        expect_frame(p, fc, "\"pusher:error\"");
        /* Still a working connection. */
        ck_assert_int_eq(
            wsc_send_text(&p->ws, "{\"event\":\"pusher:ping\",\"data\":{}}"),
            0);
        expect_frame(p, &(struct frame_case){fc->name, NULL, 0, NULL},
                     "pusher:pong");
        return;
    }
    expect_frame(p, &(struct frame_case){fc->name, NULL, 0, NULL},
                 "subscription_succeeded");
    if (fc->expect == EXPECT_GAP) {
        expect_frame(p, fc, "resdeliv:gap");
        /* An id the server cannot read replays nothing. */
        e2e_expect_quiet(p, "tick", 200);
    }
}

START_TEST(hostile_frames)
{
    struct hostile_server s;
    size_t n = sizeof(frame_cases) / sizeof(frame_cases[0]);

    start(&s, NULL);
    e2e_publish_run(s.s.port, "absurd", "tick", 1, 3);
    for (size_t i = 0; i < n; i++) {
        struct e2e_pusher p;
        ck_assert_int_eq(e2e_pusher_connect(&p, s.s.port), 0);
        frame_cases[i].send(p.ws.fd);
        check_answer(&p, &frame_cases[i]);
        e2e_pusher_close(&p);
        still_serving(s.s.port, frame_cases[i].name);
    }
    printf("frames: %zu hostile frame cases answered, server still "
           "serving\n",
           n);
    stop_clean(&s);
}
END_TEST

#define MANY_SUBS 10000
#define SEAM_MAX_SUBS 100 /* the seam's default max_subscriptions */

static void count_answer(const char *text, int *ok, int *refused)
{
    if (strstr(text, "subscription_succeeded") != NULL) {
        (*ok)++;
    } else if (strstr(text, "\"pusher:error\"") != NULL &&
               strstr(text, "4100") != NULL &&
               strstr(text, "too many subscriptions") != NULL) {
        (*refused)++;
    } else {
        ck_abort_msg("unexpected answer to a subscribe: %.200s", text);
    }
}

START_TEST(ten_thousand_subscriptions)
{
    struct hostile_server s;
    struct e2e_pusher p;
    int ok = 0, refused = 0;
    char frame[128], *text = NULL;

    start(&s, NULL);
    ck_assert_int_eq(e2e_pusher_connect(&p, s.s.port), 0);
    for (int i = 0; i < MANY_SUBS; i++) {
        snprintf(frame, sizeof(frame),
                 "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                 "\"many-%d\"}}",
                 i);
        send_text(p.ws.fd, frame);
        /* Read what is there, so neither side's buffers fill up. */
        while (wsc_recv(&p.ws, 0, &text, NULL) == 1) {
            count_answer(text, &ok, &refused);
            free(text);
        }
    }
    while (ok + refused < MANY_SUBS &&
           wsc_recv(&p.ws, E2E_TIMEOUT_MS, &text, NULL) == 1) {
        count_answer(text, &ok, &refused);
        free(text);
    }
    printf("subscriptions: %d subscribes on one connection: %d succeeded, "
           "%d refused with 4100\n",
           MANY_SUBS, ok, refused);
    fflush(stdout);
    ck_assert_int_eq(ok, SEAM_MAX_SUBS);
    ck_assert_int_eq(refused, MANY_SUBS - SEAM_MAX_SUBS);
    /* The connection and its accepted subscriptions go on. */
    e2e_publish_run(s.s.port, "many-0", "tick", 1, 1);
    e2e_expect_run(&p, "tick", 1, 1, NULL, NULL);
    e2e_pusher_close(&p);
    still_serving(s.s.port, "10,000 subscriptions");
    stop_clean(&s);
}
END_TEST

/* ---------------------------------------------------------------- http */

#define POST_EVENTS "POST /apps/app-id/events"
#define HDRS " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
#define EVENT_BODY "{\"name\":\"e\",\"channel\":\"c\",\"data\":\"{}\"}"

struct http_case {
    const char *name;
    const char *head; /* request line and headers, up to the blank line */
    const char *body;
    int half_close;
    int status; /* exact status; 0: the server closes without one */
};

static const struct http_case http_cases[] = {
    {"no Content-Length", POST_EVENTS HDRS, EVENT_BODY, 0, 411},
    {"chunked body", POST_EVENTS HDRS "Transfer-Encoding: chunked\r\n",
     "2\r\n{}\r\n0\r\n\r\n", 0, 411},
    {"huge Content-Length",
     POST_EVENTS HDRS "Content-Length: 1000000000000\r\n", EVENT_BODY, 0, 413},
    {"Content-Length -1", POST_EVENTS HDRS "Content-Length: -1\r\n", EVENT_BODY,
     0, 400},
    {"Content-Length abc", POST_EVENTS HDRS "Content-Length: abc\r\n",
     EVENT_BODY, 0, 400},
    {"Content-Length 2^64+1",
     POST_EVENTS HDRS "Content-Length: 18446744073709551617\r\n", EVENT_BODY, 0,
     400},
    {"truncated body, half-closed", POST_EVENTS HDRS "Content-Length: 100\r\n",
     EVENT_BODY, 1, 0},
    {"missing auth", POST_EVENTS HDRS "Content-Length: 38\r\n", EVENT_BODY, 0,
     401},
    {"forged auth",
     POST_EVENTS "?auth_key=app-key&auth_timestamp=1&auth_version=1.0&"
                 "auth_signature=00" HDRS "Content-Length: 38\r\n",
     EVENT_BODY, 0, 401},
    {"GET on the API", "GET /apps/app-id/events" HDRS, "", 0, 405},
    {"PUT", "PUT /apps/app-id/events" HDRS "Content-Length: 38\r\n", EVENT_BODY,
     0, 405},
    {"DELETE", "DELETE /apps/app-id/events" HDRS, "", 0, 405},
    {"path traversal", "GET /apps/../../etc/passwd" HDRS, "", 0, 404},
    {"encoded traversal", "GET /%2e%2e/%2e%2e/etc/passwd" HDRS, "", 0, 404},
    {"unknown path", "GET /nothing/here" HDRS, "", 0, 404},
};

static int run_http_case(int port, const struct http_case *hc, char **body)
{
    size_t hl = strlen(hc->head), bl = strlen(hc->body);
    char *req = malloc(hl + bl + 3);
    int status;

    ck_assert_ptr_nonnull(req);
    memcpy(req, hc->head, hl);
    memcpy(req + hl, "\r\n", 2);
    memcpy(req + hl + 2, hc->body, bl);
    status = wsc_http_exchange(port, req, hl + 2 + bl, hc->half_close,
                               E2E_TIMEOUT_MS, body);
    free(req);
    return status;
}

START_TEST(bad_http_requests)
{
    struct hostile_server s;
    char *big;
    size_t n = sizeof(http_cases) / sizeof(http_cases[0]);

    start(&s, NULL);
    for (size_t i = 0; i < n; i++) {
        char *body = NULL;
        int status = run_http_case(s.s.port, &http_cases[i], &body);
        ck_assert_msg(status == http_cases[i].status,
                      "%s: expected %d, got %d (%.200s)", http_cases[i].name,
                      http_cases[i].status, status, body ? body : "");
        ck_assert_msg(status == 0 || strstr(body, "\"error\"") != NULL,
                      "%s: the answer names no error: %.200s",
                      http_cases[i].name, body);
        ck_assert_ptr_null(strstr(body, "root:"));
        free(body);
        ck_assert_int_eq(e2e_publish(s.s.port, "after-http", "tick", "{}"),
                         200);
    }
    /* A little over the limit: read and dropped, then a clean 413. */
    big = malloc(300 * 1024 + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', 300 * 1024);
    big[300 * 1024] = '\0';
    ck_assert_int_eq(
        e2e_http(s.s.port, "POST", "/apps/app-id/events", big, NULL), 413);
    free(big);
    /* Signed, but not JSON, and the wrong app. */
    ck_assert_int_eq(e2e_post_signed(s.s.port, "/apps/app-id/events", "{"),
                     400);
    ck_assert_int_eq(
        e2e_post_signed(s.s.port, "/apps/other/events", EVENT_BODY), 404);
    printf("http: %zu bad requests answered 4xx, server still serving\n",
           n + 3);
    still_serving(s.s.port, "bad HTTP requests");
    stop_clean(&s);
}
END_TEST

/* Requests lws 4.1 refuses before the shim sees them: the request line or
 * headers overflow its header buffer and it drops the connection without
 * a status. The server must stay up. */
static char *repeat(const char *head, const char *unit, int n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *b = malloc(hl + ul * (size_t)n + tl + 1), *p = b;

    ck_assert_ptr_nonnull(b);
    memcpy(p, head, hl);
    p += hl;
    for (int i = 0; i < n; i++, p += ul) {
        memcpy(p, unit, ul);
    }
    memcpy(p, tail, tl + 1);
    return b;
}

START_TEST(oversized_http_head)
{
    struct hostile_server s;
    char *reqs[3];
    int status;

    start(&s, NULL);
    reqs[0] = repeat(POST_EVENTS "?", "a=b&", 25000, HDRS "\r\n");
    reqs[1] = repeat("GET /apps/app-id/events" HDRS, "X-Hostile: v\r\n", 10000,
                     "\r\n");
    reqs[2] = repeat("", "\x01garbage ", 1, "\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        status = wsc_http_exchange(s.s.port, reqs[i], strlen(reqs[i]), 0,
                                   E2E_TIMEOUT_MS, NULL);
        printf("http: oversized or garbage head %d answered %d%s\n", i, status,
               status == 0 ? " (lws dropped the connection)" : "");
        ck_assert_msg(status == 0 || (status >= 400 && status < 500),
                      "head %d: status %d", i, status);
        free(reqs[i]);
        ck_assert_int_eq(e2e_publish(s.s.port, "after-head", "tick", "{}"),
                         200);
    }
    fflush(stdout);
    still_serving(s.s.port, "oversized HTTP heads");
    stop_clean(&s);
}
END_TEST

static Suite *hostile_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *slow = tcase_create("slow");
    TCase *storm_tc = tcase_create("storm");
    TCase *frames = tcase_create("frames");
    TCase *http = tcase_create("http");

    tcase_add_test(slow, slow_reader_disconnected_at_bound);
    tcase_add_test(storm_tc, reconnect_storm_paced);
    tcase_add_test(frames, hostile_frames);
    tcase_add_test(frames, ten_thousand_subscriptions);
    tcase_add_test(http, bad_http_requests);
    tcase_add_test(http, oversized_http_head);
    tcase_set_timeout(slow, 300);
    tcase_set_timeout(storm_tc, 900);
    tcase_set_timeout(frames, 300);
    tcase_set_timeout(http, 300);
    suite_add_tcase(s, slow);
    suite_add_tcase(s, storm_tc);
    suite_add_tcase(s, frames);
    suite_add_tcase(s, http);
    return s;
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed;

    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/resdeliv-server\n", argv[0]);
        return 1;
    }
    server_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    atexit(stop_live);
    sr = srunner_create(hostile_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
