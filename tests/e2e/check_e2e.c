/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of resdeliv-server on the memory store, driven over
 * real sockets by a hand-written WebSocket client and a signing HTTP
 * client: resume after a drop, the gap case, private-channel auth before
 * replay, client events never replayed, 100 clients each replaying 1000
 * missed messages with bounded server memory, and the command line.
 *
 * Usage: check_e2e /path/to/resdeliv-server
 */
#include "e2e_scenarios.h"

#include <resdeliv/resdeliv.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *server_bin;

static void start(struct e2e_server *s, const char *const *args)
{
    ck_assert_msg(e2e_server_start(s, server_bin, args) == 0, "cannot start %s",
                  server_bin);
}

static void stop_clean(struct e2e_server *s)
{
    ck_assert_msg(e2e_server_stop(s) == 0,
                  "server did not shut down cleanly on SIGTERM");
}

/* ---------------------------------------------------------------- cli */

START_TEST(cli_help_and_bad_flags)
{
    static const char *const help[] = {"--help", NULL};
    static const char *const bad[][3] = {
        {"--bogus", NULL},
        {"--port", "http", NULL},
        {"--port", "70000", NULL},
        {"--port", NULL},
        {"--store", "ftp://x", NULL},
        {"--retention", "-1", NULL},
        {"--config", "/nonexistent/resdeliv.json", NULL},
        {"stray", NULL},
    };

    ck_assert_int_eq(e2e_run_status(server_bin, help), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(e2e_run_status(server_bin, bad[i]) == 2,
                      "%s %s: expected exit 2", bad[i][0],
                      bad[i][1] ? bad[i][1] : "");
    }
}
END_TEST

START_TEST(cli_bad_config_file)
{
    char path[] = "/tmp/resdeliv-e2e-XXXXXX";
    int fd = mkstemp(path);
    const char *args[] = {"--config", path, NULL};

    ck_assert_int_ge(fd, 0);
    ck_assert_int_gt(write(fd, "{\"replay_batch_size\": \"x\"}", 26), 0);
    close(fd);
    ck_assert_int_eq(e2e_run_status(server_bin, args), 2);
    unlink(path);
}
END_TEST

START_TEST(cli_config_file_applies)
{
    char path[] = "/tmp/resdeliv-e2e-XXXXXX";
    int fd = mkstemp(path);
    const char *args[] = {"--config", path, NULL};
    static const char json[] = "{\"retention\":{\"default_max_messages\":3}}";
    struct e2e_server s;
    struct e2e_pusher p;
    struct e2e_mark mark;
    cJSON *gap;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, json, sizeof(json) - 1),
                     (ssize_t)sizeof(json) - 1);
    close(fd);
    start(&s, args);
    ck_assert_int_eq(e2e_pusher_connect(&p, s.port), 0);
    e2e_subscribe_ok(&p, "cfg", NULL, NULL);
    e2e_publish_run(s.port, "cfg", "tick", 1, 1);
    e2e_expect_run(&p, "tick", 1, 1, &mark, NULL);
    e2e_pusher_close(&p);
    e2e_publish_run(s.port, "cfg", "tick", 2, 6);
    ck_assert_int_eq(e2e_pusher_connect(&p, s.port), 0);
    e2e_subscribe_ok(&p, "cfg", &mark, NULL);
    gap = e2e_pusher_until(&p, "resdeliv:gap", E2E_TIMEOUT_MS);
    ck_assert_msg(gap != NULL, "retention 3 from the file: expected a gap");
    cJSON_Delete(gap);
    e2e_expect_run(&p, "tick", 5, 3, NULL, NULL);
    e2e_pusher_close(&p);
    stop_clean(&s);
    unlink(path);
}
END_TEST

/* ------------------------------------------------------------- replay */

START_TEST(resume_after_drop)
{
    struct e2e_server s;

    start(&s, NULL);
    e2e_resume_scenario(&s, &s, "orders");
    stop_clean(&s);
}
END_TEST

START_TEST(resume_without_epoch_and_unsubscribe)
{
    struct e2e_server s;
    struct e2e_pusher p;
    struct e2e_mark mark;

    start(&s, NULL);
    ck_assert_int_eq(e2e_pusher_connect(&p, s.port), 0);
    e2e_subscribe_ok(&p, "news", NULL, NULL);
    e2e_publish_run(s.port, "news", "tick", 1, 2);
    e2e_expect_run(&p, "tick", 1, 2, &mark, NULL);
    /* After an unsubscribe nothing of the channel arrives. */
    ck_assert_int_eq(wsc_send_text(&p.ws, "{\"event\":\"pusher:unsubscribe\","
                                          "\"data\":{\"channel\":\"news\"}}"),
                     0);
    e2e_publish_run(s.port, "news", "tick", 3, 2);
    e2e_expect_quiet(&p, "tick", 300);
    /* Id only (no epoch): the two missed ones, in order. */
    mark.epoch[0] = '\0';
    ck_assert_int_eq(
        e2e_pusher_subscribe(&p, "news", mark.id, NULL, NULL, NULL), 0);
    e2e_expect_run(&p, "tick", 3, 2, &mark, NULL);
    e2e_pusher_close(&p);
    stop_clean(&s);
}
END_TEST

START_TEST(gap_when_retention_trimmed)
{
    static const char *const args[] = {"--retention", "5", NULL};
    struct e2e_server s;
    struct e2e_pusher p;
    struct e2e_mark mark;
    cJSON *f, *d;

    start(&s, args);
    ck_assert_int_eq(e2e_pusher_connect(&p, s.port), 0);
    e2e_subscribe_ok(&p, "prices", NULL, NULL);
    e2e_publish_run(s.port, "prices", "tick", 1, 1);
    e2e_expect_run(&p, "tick", 1, 1, &mark, NULL);
    e2e_pusher_close(&p);
    ck_assert_int_eq(e2e_publish_batch(s.port, "prices", "tick", 2, 10, 0),
                     200);
    ck_assert_int_eq(e2e_publish_batch(s.port, "prices", "tick", 12, 10, 0),
                     200);

    ck_assert_int_eq(e2e_pusher_connect(&p, s.port), 0);
    e2e_subscribe_ok(&p, "prices", &mark, NULL);
    /* The notice comes before any replayed message. */
    f = e2e_pusher_next(&p, E2E_TIMEOUT_MS);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(e2e_event(f), "resdeliv:gap");
    d = e2e_data(f);
    ck_assert_ptr_nonnull(e2e_str(d, "reason"));
    ck_assert_ptr_nonnull(e2e_str(d, "oldest"));
    cJSON_Delete(d);
    cJSON_Delete(f);
    e2e_expect_run(&p, "tick", 17, 5, &mark, NULL);
    e2e_expect_quiet(&p, "tick", 200);
    e2e_pusher_close(&p);
    stop_clean(&s);
}
END_TEST

START_TEST(shutdown_with_clients_connected)
{
    struct e2e_server s;
    struct e2e_pusher p[3];
    struct e2e_mark zero = {"0-0", ""};

    start(&s, NULL);
    ck_assert_int_eq(e2e_publish_batch(s.port, "busy", "tick", 1, 10, 0), 200);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(e2e_pusher_connect(&p[i], s.port), 0);
        e2e_subscribe_ok(&p[i], "busy", i == 0 ? &zero : NULL, NULL);
    }
    /* Connections open, one mid-replay: SIGTERM still ends cleanly. */
    stop_clean(&s);
    for (int i = 0; i < 3; i++) {
        e2e_pusher_close(&p[i]);
    }
}
END_TEST

START_TEST(slow_reader_closed_with_4100)
{
    static const char *const args[] = {"--retention", "10", NULL};
    struct e2e_server s;
    struct e2e_pusher slow, fast;
    char *text = NULL;
    int rc;

    start(&s, args);
    ck_assert_int_eq(e2e_pusher_connect(&slow, s.port), 0);
    e2e_subscribe_ok(&slow, "firehose", NULL, NULL);
    /* Never read: the server's queue for it fills past its limit. */
    for (int n = 0; n < 400; n += 10) {
        ck_assert_int_eq(
            e2e_publish_batch(s.port, "firehose", "tick", n, 10, 20000), 200);
    }
    while ((rc = wsc_recv(&slow.ws, E2E_TIMEOUT_MS, &text, NULL)) == 1) {
        free(text);
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(slow.ws.close_code, 4100);
    e2e_pusher_close(&slow);
    /* The server goes on serving others. */
    ck_assert_int_eq(e2e_pusher_connect(&fast, s.port), 0);
    e2e_subscribe_ok(&fast, "firehose", NULL, NULL);
    e2e_publish_run(s.port, "firehose", "tick", 1000, 1);
    e2e_expect_run(&fast, "tick", 1000, 1, NULL, NULL);
    e2e_pusher_close(&fast);
    stop_clean(&s);
}
END_TEST

/* --------------------------------------------------------------- auth */

static void auth_for(const struct e2e_pusher *p, const char *channel, char *out,
                     size_t size)
{
    ck_assert_int_gt(resdeliv_pusher_channel_auth(E2E_KEY, E2E_SECRET,
                                                  p->socket_id, channel, NULL,
                                                  out, size),
                     0);
}

START_TEST(bad_auth_gets_no_replay)
{
    struct e2e_server s;
    struct e2e_pusher p;
    struct e2e_mark zero = {"0-0", ""};
    char auth[256];
    cJSON *f;

    start(&s, NULL);
    e2e_publish_run(s.port, "private-room", "said", 1, 3);
    ck_assert_int_eq(e2e_pusher_connect(&p, s.port), 0);
    ck_assert_int_eq(e2e_pusher_subscribe(&p, "private-room", "0-0", NULL,
                                          E2E_KEY ":0000", NULL),
                     0);
    f = e2e_pusher_next(&p, E2E_TIMEOUT_MS);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(strcmp(e2e_event(f), "pusher:subscription_error") == 0 ||
                      strcmp(e2e_event(f), "pusher:error") == 0,
                  "bad auth answered with %s", e2e_event(f));
    cJSON_Delete(f);
    e2e_expect_quiet(&p, "said", 300);

    /* The same client with the right signature gets the history. */
    auth_for(&p, "private-room", auth, sizeof(auth));
    e2e_subscribe_ok(&p, "private-room", &zero, auth);
    e2e_expect_run(&p, "said", 1, 3, NULL, NULL);
    e2e_pusher_close(&p);
    stop_clean(&s);
}
END_TEST

START_TEST(client_events_not_replayed)
{
    struct e2e_server s;
    struct e2e_pusher a, b;
    struct e2e_mark mark;
    char auth[256];
    cJSON *f;
    static const char whisper[] =
        "{\"event\":\"client-typing\",\"channel\":\"private-chat\","
        "\"data\":{\"who\":\"a\"}}";

    start(&s, NULL);
    ck_assert_int_eq(e2e_pusher_connect(&a, s.port), 0);
    ck_assert_int_eq(e2e_pusher_connect(&b, s.port), 0);
    auth_for(&a, "private-chat", auth, sizeof(auth));
    e2e_subscribe_ok(&a, "private-chat", NULL, auth);
    auth_for(&b, "private-chat", auth, sizeof(auth));
    e2e_subscribe_ok(&b, "private-chat", NULL, auth);
    e2e_publish_run(s.port, "private-chat", "said", 1, 1);
    e2e_expect_run(&b, "said", 1, 1, &mark, NULL);

    ck_assert_int_eq(wsc_send_text(&a.ws, whisper), 0);
    f = e2e_pusher_until(&b, "client-typing", E2E_TIMEOUT_MS);
    ck_assert_msg(f != NULL, "the other subscriber gets the client event");
    cJSON_Delete(f);
    e2e_pusher_close(&b);

    ck_assert_int_eq(wsc_send_text(&a.ws, whisper), 0);
    e2e_publish_run(s.port, "private-chat", "said", 2, 1);
    ck_assert_int_eq(e2e_pusher_connect(&b, s.port), 0);
    auth_for(&b, "private-chat", auth, sizeof(auth));
    e2e_subscribe_ok(&b, "private-chat", &mark, auth);
    e2e_expect_run(&b, "said", 2, 1, &mark, NULL);
    e2e_expect_quiet(&b, "client-typing", 300);
    e2e_pusher_close(&a);
    e2e_pusher_close(&b);
    stop_clean(&s);
}
END_TEST

START_TEST(unknown_app_key_refused)
{
    struct e2e_server s;
    struct wsc ws;
    char *text = NULL;

    start(&s, NULL);
    ck_assert_int_eq(
        wsc_open(&ws, s.port, "/app/nope?protocol=7", E2E_TIMEOUT_MS), 0);
    ck_assert_int_eq(wsc_recv(&ws, E2E_TIMEOUT_MS, &text, NULL), 1);
    ck_assert_ptr_nonnull(strstr(text, "pusher:error"));
    ck_assert_ptr_nonnull(strstr(text, "4001"));
    free(text);
    ck_assert_int_eq(wsc_recv(&ws, E2E_TIMEOUT_MS, &text, NULL), -1);
    ck_assert_int_eq(ws.close_code, 4001);
    wsc_drop(&ws);
    stop_clean(&s);
}
END_TEST

/* ---------------------------------------------------------------- http */

START_TEST(http_api_errors)
{
    struct e2e_server s;
    char *big, *resp = NULL;

    start(&s, NULL);
    /* Unsigned, then signed with the wrong secret's key. */
    ck_assert_int_eq(e2e_http(s.port, "POST", "/apps/app-id/events",
                              "{\"name\":\"e\",\"channel\":\"c\","
                              "\"data\":\"{}\"}",
                              &resp),
                     401);
    ck_assert_ptr_nonnull(strstr(resp, "error"));
    free(resp);
    ck_assert_int_eq(e2e_http(s.port, "POST",
                              "/apps/app-id/events?auth_key=nope&auth_"
                              "timestamp=1&auth_version=1.0&auth_signature=0",
                              "{}", NULL),
                     401);
    /* Signed but not JSON. */
    ck_assert_int_eq(e2e_post_signed(s.port, "/apps/app-id/events", "{"), 400);
    /* Larger than the 256 KiB limit. */
    big = malloc(300 * 1024 + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', 300 * 1024);
    big[300 * 1024] = '\0';
    ck_assert_int_eq(e2e_http(s.port, "POST", "/apps/app-id/events", big, NULL),
                     413);
    free(big);
    ck_assert_int_eq(e2e_http(s.port, "GET", "/nothing/here", NULL, NULL), 404);
    /* And the server still publishes after all that. */
    e2e_publish_run(s.port, "after-errors", "tick", 1, 1);
    stop_clean(&s);
}
END_TEST

/* --------------------------------------------------------------- load */

#define LOAD_CLIENTS 100
#define LOAD_MISSED 1000
#define LOAD_PAD 1024

/* Freed blocks should leave the server's resident set: a small ASan
 * quarantine (ignored by a build without ASan) keeps the figure honest. */
static void small_quarantine(void)
{
    const char *old = getenv("ASAN_OPTIONS");
    char buf[1024];

    snprintf(buf, sizeof(buf), "%s%squarantine_size_mb=1",
             old != NULL ? old : "", old != NULL && *old ? ":" : "");
    setenv("ASAN_OPTIONS", buf, 1);
}

START_TEST(many_clients_replay_bounded)
{
    struct e2e_pusher *p = calloc(LOAD_CLIENTS, sizeof(*p));
    struct e2e_mark *marks = calloc(LOAD_CLIENTS, sizeof(*marks));
    struct e2e_server s;
    long before, after;

    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(marks);
    small_quarantine();
    start(&s, NULL);
    for (int i = 0; i < LOAD_CLIENTS; i++) {
        ck_assert_int_eq(e2e_pusher_connect(&p[i], s.port), 0);
        e2e_subscribe_ok(&p[i], "load", NULL, NULL);
    }
    ck_assert_int_eq(e2e_publish_batch(s.port, "load", "tick", 1, 1, 0), 200);
    for (int i = 0; i < LOAD_CLIENTS; i++) {
        e2e_expect_run(&p[i], "tick", 1, 1, &marks[i], NULL);
        e2e_pusher_close(&p[i]);
    }
    for (int n = 0; n < LOAD_MISSED; n += 10) {
        ck_assert_int_eq(
            e2e_publish_batch(s.port, "load", "tick", 2 + n, 10, LOAD_PAD),
            200);
    }
    before = e2e_server_hwm_kb(&s);
    /* Every client resumes at once; each is then read to the end in turn,
     * so the others sit unread meanwhile: the server must pace them. */
    for (int i = 0; i < LOAD_CLIENTS; i++) {
        ck_assert_int_eq(e2e_pusher_connect(&p[i], s.port), 0);
        e2e_subscribe_ok(&p[i], "load", &marks[i], NULL);
    }
    for (int i = 0; i < LOAD_CLIENTS; i++) {
        e2e_expect_run(&p[i], "tick", 2, LOAD_MISSED, NULL, NULL);
    }
    after = e2e_server_hwm_kb(&s);
    printf("load: %d clients x %d missed messages of %d bytes: server VmHWM "
           "%ld KiB before the replays, %ld KiB after (+%ld KiB)\n",
           LOAD_CLIENTS, LOAD_MISSED, LOAD_PAD, before, after, after - before);
    fflush(stdout);
    /* Queued all at once the replays would hold ~100 MiB of frames. */
    ck_assert_int_gt(before, 0);
    ck_assert_int_lt(after - before, 48 * 1024);
    for (int i = 0; i < LOAD_CLIENTS; i++) {
        e2e_pusher_close(&p[i]);
    }
    stop_clean(&s);
    free(p);
    free(marks);
}
END_TEST

static Suite *e2e_suite(void)
{
    Suite *s = suite_create("e2e");
    TCase *cli = tcase_create("cli");
    TCase *replay = tcase_create("replay");
    TCase *auth = tcase_create("auth");
    TCase *load = tcase_create("load");
    TCase *http = tcase_create("http");

    tcase_add_test(cli, cli_help_and_bad_flags);
    tcase_add_test(cli, cli_bad_config_file);
    tcase_add_test(cli, cli_config_file_applies);
    tcase_add_test(replay, resume_after_drop);
    tcase_add_test(replay, resume_without_epoch_and_unsubscribe);
    tcase_add_test(replay, gap_when_retention_trimmed);
    tcase_add_test(replay, shutdown_with_clients_connected);
    tcase_add_test(replay, slow_reader_closed_with_4100);
    tcase_add_test(auth, bad_auth_gets_no_replay);
    tcase_add_test(auth, client_events_not_replayed);
    tcase_add_test(auth, unknown_app_key_refused);
    tcase_add_test(http, http_api_errors);
    tcase_add_test(load, many_clients_replay_bounded);
    tcase_set_timeout(load, 600);
    suite_add_tcase(s, cli);
    suite_add_tcase(s, replay);
    suite_add_tcase(s, auth);
    suite_add_tcase(s, http);
    suite_add_tcase(s, load);
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
    sr = srunner_create(e2e_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
