/* SPDX-License-Identifier: MIT */
/*
 * Tests of the Pusher server's HTTP API with a real in-process host
 * (pusher_test_host.h) over the memory store: requests are signed the way
 * Pusher's server SDKs sign them (resdeliv_pusher_http_sign), and the
 * answers are checked for their status and body: 200 after the events are
 * logged and delivered, 401 on a bad signature, 413 on an oversized body,
 * 400 with a message on bad JSON or members, 404 on an unknown path or
 * app, batch_events, and socket_id exclusion.
 */
#include "pusher_test_host.h"

static struct thost H;

static void setup(void)
{
    t_setup(&H, NULL);
}

static void teardown(void)
{
    t_teardown(&H);
}

/* A subscriber of each channel in `channels` (NULL-terminated). */
static struct tconn *subscriber(size_t i, const char *const *channels)
{
    struct tconn *c = t_open(&H, i);

    for (; *channels != NULL; channels++) {
        ck_assert_int_eq(t_subscribe(&H, c, *channels, NULL, NULL, NULL, NULL),
                         0);
    }
    t_drive(&H);
    t_clear(c);
    return c;
}

static uint64_t logged(const char *channel)
{
    struct resdeliv_position pos;

    ck_assert_int_eq(resdeliv_log_position(H.log, channel, &pos), 0);
    return pos.id.seq + pos.id.ms;
}

/* The answer is `status` with an "error" message containing `needle`. */
static void expect_error(struct tresp *r, int status, const char *needle)
{
    cJSON *b;

    ck_assert_int_eq(r->calls, 1);
    ck_assert_int_eq(r->status, status);
    ck_assert_ptr_nonnull(r->body);
    b = cJSON_Parse(r->body);
    ck_assert_msg(b != NULL && t_str(b, "error") != NULL,
                  "no error message: %s", r->body);
    ck_assert_msg(strstr(t_str(b, "error"), needle) != NULL, "\"%s\" not in %s",
                  needle, r->body);
    cJSON_Delete(b);
    t_resp_clear(r);
}

/* ---- publishing --------------------------------------------------------- */

START_TEST(events_delivered)
{
    static const char *const chans[] = {"a", "b", NULL};
    struct tconn *c = subscriber(0, chans);
    struct tresp r;
    cJSON *f, *d;

    ck_assert_int_eq(t_publish(&H,
                               "{\"name\":\"hello\",\"channels\":"
                               "[\"a\",\"b\"],\"data\":\"{\\\"x\\\":1}\"}",
                               &r),
                     0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{}");
    t_resp_clear(&r);
    ck_assert_int_eq(t_count(c, "hello", "a"), 1);
    ck_assert_int_eq(t_count(c, "hello", "b"), 1);
    f = t_frame(c, 0);
    d = t_data(f);
    ck_assert_ptr_nonnull(t_str(d, "_replay_id"));
    cJSON_Delete(d);
    cJSON_Delete(f);
    ck_assert_uint_gt(logged("a"), 0);
    ck_assert_uint_gt(logged("b"), 0);
}
END_TEST

START_TEST(events_info_answer)
{
    struct tresp r;

    ck_assert_int_eq(t_publish(&H,
                               "{\"name\":\"e\",\"channel\":\"a\","
                               "\"data\":\"x\",\"info\":\"user_count\"}",
                               &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"channels\":{}}");
    t_resp_clear(&r);
}
END_TEST

START_TEST(socket_id_excluded)
{
    static const char *const chans[] = {"room", NULL};
    struct tconn *a = subscriber(0, chans), *b = subscriber(1, chans);
    char body[256];
    struct tresp r;

    snprintf(body, sizeof(body),
             "{\"name\":\"said\",\"channel\":\"room\","
             "\"data\":\"{}\",\"socket_id\":\"%s\"}",
             a->socket_id);
    ck_assert_int_eq(t_publish(&H, body, &r), 0);
    ck_assert_int_eq(r.status, 200);
    t_resp_clear(&r);
    ck_assert_int_eq(t_count(a, "said", NULL), 0);
    ck_assert_int_eq(t_count(b, "said", NULL), 1);
    /* Still logged: a's next connection may replay it. */
    ck_assert_uint_gt(logged("room"), 0);
    /* A socket id of no connection here excludes nobody. */
    ck_assert_int_eq(t_publish(&H,
                               "{\"name\":\"said\",\"channel\":\"room\","
                               "\"data\":\"{}\",\"socket_id\":\"9.9\"}",
                               &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    t_resp_clear(&r);
    ck_assert_int_eq(t_count(a, "said", NULL), 1);
    ck_assert_int_eq(t_count(b, "said", NULL), 2);
}
END_TEST

START_TEST(batch_events)
{
    static const char *const chans[] = {"a", "b", NULL};
    struct tconn *a = subscriber(0, chans), *b = subscriber(1, chans);
    char body[512];
    struct tresp r;

    snprintf(body, sizeof(body),
             "{\"batch\":["
             "{\"name\":\"one\",\"channel\":\"a\",\"data\":\"{}\"},"
             "{\"name\":\"two\",\"channel\":\"b\",\"data\":\"{}\","
             "\"socket_id\":\"%s\"},"
             "{\"name\":\"three\",\"channel\":\"a\",\"data\":\"{}\"}]}",
             a->socket_id);
    ck_assert_int_eq(t_http(&H, "POST", "/apps/" T_APP_ID "/batch_events", body,
                            T_SECRET, &r),
                     0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{}");
    t_resp_clear(&r);
    ck_assert_int_eq(t_count(a, "one", "a"), 1);
    ck_assert_int_eq(t_count(a, "two", "b"), 0);
    ck_assert_int_eq(t_count(a, "three", "a"), 1);
    ck_assert_int_eq(t_count(b, "two", "b"), 1);
    /* In request order. */
    ck_assert_int_lt(t_find(a, "one", 0), t_find(a, "three", 0));
}
END_TEST

START_TEST(batch_info_answer)
{
    struct tresp r;

    ck_assert_int_eq(t_http(&H, "POST", "/apps/" T_APP_ID "/batch_events",
                            "{\"batch\":[{\"name\":\"e\",\"channel\":\"a\","
                            "\"data\":\"x\",\"info\":\"subscription_count\"},"
                            "{\"name\":\"e\",\"channel\":\"b\","
                            "\"data\":\"x\"}]}",
                            T_SECRET, &r),
                     0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"batch\":[{},{}]}");
    t_resp_clear(&r);
}
END_TEST

/* ---- refusals ----------------------------------------------------------- */

START_TEST(bad_signature)
{
    static const char *const chans[] = {"a", NULL};
    struct tconn *c = subscriber(0, chans);
    struct tresp r;

    ck_assert_int_eq(t_http(&H, "POST", "/apps/" T_APP_ID "/events",
                            "{\"name\":\"e\",\"channel\":\"a\","
                            "\"data\":\"{}\"}",
                            "wrong-secret", &r),
                     0);
    expect_error(&r, 401, "signature");
    ck_assert_uint_eq(c->n, 0);
    ck_assert_uint_eq(logged("a"), 0);
}
END_TEST

START_TEST(unsigned_request)
{
    struct resdeliv_http_request req = {
        .method = "POST",
        .path = "/apps/" T_APP_ID "/events",
        .query = "",
        .body = "{}",
        .body_len = 2,
    };
    struct tresp r = {0};

    ck_assert_int_eq(resdeliv_pusher_server_http(H.ps, &req, T_NOW, t_done, &r),
                     0);
    expect_error(&r, 401, "auth_key");
}
END_TEST

START_TEST(body_too_large)
{
    struct resdeliv_pusher_server_options o;
    char body[300];
    struct tresp r;

    t_teardown(&H);
    resdeliv_pusher_server_options_init(&o);
    o.max_body = 200;
    t_setup(&H, &o);
    snprintf(body, sizeof(body),
             "{\"name\":\"e\",\"channel\":\"a\","
             "\"data\":\"%0250d\"}",
             7);
    ck_assert_int_eq(t_publish(&H, body, &r), 0);
    expect_error(&r, 413, "limit");
    ck_assert_uint_eq(logged("a"), 0);
}
END_TEST

START_TEST(bad_json)
{
    static const struct {
        const char *body;
        const char *needle;
    } bad[] = {
        {"{not json", "JSON"},
        {"[1]", "object"},
        {"{\"channel\":\"a\",\"data\":\"x\"}", "name"},
        {"{\"name\":\"e\",\"channel\":\"a\"}", "data"},
        {"{\"name\":\"e\",\"channel\":\"a\",\"data\":{\"x\":1}}", "data"},
        {"{\"name\":\"e\",\"data\":\"x\"}", "channel"},
        {"{\"name\":\"e\",\"channels\":[],\"data\":\"x\"}", "channels"},
        {"{\"name\":\"e\",\"channels\":\"a\",\"data\":\"x\"}", "channels"},
        {"{\"name\":\"e\",\"channel\":\"a b\",\"data\":\"x\"}", "channel"},
        {"{\"name\":\"e\",\"channels\":[\"a\",7],\"data\":\"x\"}", "channel"},
        {"{\"name\":\"client-e\",\"channel\":\"a\",\"data\":\"x\"}", "client-"},
        {"{\"name\":\"pusher:x\",\"channel\":\"a\",\"data\":\"x\"}", "pusher:"},
        /* Only the library writes resdeliv: events (gap notices, the
         * log's unlogged markers). */
        {"{\"name\":\"resdeliv:anything\",\"channel\":\"a\","
         "\"data\":\"x\"}",
         "resdeliv:"},
        {"{\"name\":\"e\",\"channel\":\"a\",\"data\":\"x\","
         "\"socket_id\":\"abc\"}",
         "socket_id"},
        {"{\"name\":\"e\",\"channel\":\"a\",\"data\":\"\\u0000\"}", "body"},
        /* cJSON stops after the first value; what follows must not be
         * ignored (found by fuzz_http_body). */
        {"{\"name\":\"e\",\"channel\":\"a\",\"data\":\"x\"} \"x\"", "JSON"},
        {"{\"name\":\"e\",\"channel\":\"a\",\"data\":\"x\"} {}", "JSON"},
    };
    struct tresp r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(t_publish(&H, bad[i].body, &r), 0);
        expect_error(&r, 400, bad[i].needle);
    }
    ck_assert_uint_eq(logged("a"), 0);
}
END_TEST

START_TEST(too_many_channels)
{
    char body[2048] = "{\"name\":\"e\",\"data\":\"x\",\"channels\":[";
    size_t len = strlen(body);
    struct tresp r;

    for (int i = 0; i < 101; i++) {
        len += (size_t)snprintf(body + len, sizeof(body) - len, "%s\"c%d\"",
                                i ? "," : "", i);
    }
    snprintf(body + len, sizeof(body) - len, "]}");
    ck_assert_int_eq(t_publish(&H, body, &r), 0);
    expect_error(&r, 400, "100");
    ck_assert_uint_eq(logged("c0"), 0);
}
END_TEST

START_TEST(batch_too_large)
{
    char body[2048] = "{\"batch\":[";
    size_t len = strlen(body);
    struct tresp r;

    for (int i = 0; i < 11; i++) {
        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                "%s{\"name\":\"e\",\"channel\":\"a\","
                                "\"data\":\"x\"}",
                                i ? "," : "");
    }
    snprintf(body + len, sizeof(body) - len, "]}");
    ck_assert_int_eq(t_http(&H, "POST", "/apps/" T_APP_ID "/batch_events", body,
                            T_SECRET, &r),
                     0);
    expect_error(&r, 400, "batch");
    /* One bad event refuses the whole batch. */
    ck_assert_int_eq(t_http(&H, "POST", "/apps/" T_APP_ID "/batch_events",
                            "{\"batch\":[{\"name\":\"e\",\"channel\":\"a\","
                            "\"data\":\"x\"},{\"name\":\"e\"}]}",
                            T_SECRET, &r),
                     0);
    expect_error(&r, 400, "data");
    ck_assert_uint_eq(logged("a"), 0);
}
END_TEST

START_TEST(unknown_paths)
{
    struct tresp r;

    ck_assert_int_eq(
        t_http(&H, "POST", "/apps/other/events", "{}", T_SECRET, &r), 0);
    expect_error(&r, 404, "app");
    ck_assert_int_eq(
        t_http(&H, "POST", "/apps/" T_APP_ID "/channels", "{}", T_SECRET, &r),
        0);
    expect_error(&r, 404, "not found");
    ck_assert_int_eq(t_http(&H, "POST", "/elsewhere", "{}", T_SECRET, &r), 0);
    expect_error(&r, 404, "not found");
    ck_assert_int_eq(
        t_http(&H, "GET", "/apps/" T_APP_ID "/events", NULL, T_SECRET, &r), 0);
    expect_error(&r, 405, "POST");
}
END_TEST

START_TEST(null_arguments)
{
    struct resdeliv_http_request req = {
        .method = "POST",
        .path = "/",
        .query = "",
        .body = NULL,
        .body_len = 0,
    };
    struct tresp r = {0};

    ck_assert_int_eq(resdeliv_pusher_server_http(NULL, &req, T_NOW, t_done, &r),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_server_http(H.ps, NULL, T_NOW, t_done, &r),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_server_http(H.ps, &req, T_NOW, NULL, &r),
                     RESDELIV_EINVAL);
    req.body_len = 3;
    ck_assert_int_eq(resdeliv_pusher_server_http(H.ps, &req, T_NOW, t_done, &r),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(r.calls, 0);
}
END_TEST

/* ---- suite -------------------------------------------------------------- */

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

static Suite *pusher_http_suite(void)
{
    Suite *s = suite_create("pusher_http");
    TCase *tc;

    tc = tcase("publish");
    tcase_add_test(tc, events_delivered);
    tcase_add_test(tc, events_info_answer);
    tcase_add_test(tc, socket_id_excluded);
    suite_add_tcase(s, tc);

    tc = tcase("batch");
    tcase_add_test(tc, batch_events);
    tcase_add_test(tc, batch_info_answer);
    tcase_add_test(tc, batch_too_large);
    suite_add_tcase(s, tc);

    tc = tcase("auth");
    tcase_add_test(tc, bad_signature);
    tcase_add_test(tc, unsigned_request);
    suite_add_tcase(s, tc);

    tc = tcase("refusals");
    tcase_add_test(tc, body_too_large);
    tcase_add_test(tc, bad_json);
    tcase_add_test(tc, too_many_channels);
    tcase_add_test(tc, unknown_paths);
    tcase_add_test(tc, null_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pusher_http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
