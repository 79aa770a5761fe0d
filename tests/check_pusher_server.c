/* SPDX-License-Identifier: MIT */
/*
 * Tests of the Pusher server's WebSocket side with a real in-process host
 * (pusher_test_host.h) over the memory store: options, opening (app key,
 * path, protocol version), ping/pong and bad frames, public subscriptions
 * fed by the HTTP API, and private subscriptions with good and bad auth
 * (nothing replayed on bad auth). Presence, client events and reconnects
 * are in check_pusher_server_presence.c.
 */
#include "pusher_server_fixture.h"

/* ---- options ------------------------------------------------------------ */

START_TEST(options_refused)
{
    struct resdeliv_pusher_server_options o;
    struct resdeliv_transport tp = t_transport(&H);
    resdeliv_pusher_server *ps = (void *)&o;
    char err[256] = "";

    resdeliv_pusher_server_options_init(&o);
    ck_assert_uint_eq(o.activity_timeout, 120);
    ck_assert_uint_eq(o.max_body, RESDELIV_PUSHER_DEFAULT_MAX_BODY);
    o.app_id = "a";
    o.app_key = NULL;
    o.app_secret = "s";
    ck_assert_int_eq(
        resdeliv_pusher_server_new(H.log, &tp, &o, &ps, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_null(ps);
    ck_assert_ptr_nonnull(strstr(err, "app_key"));
    o.app_key = "k/1";
    ck_assert_int_eq(
        resdeliv_pusher_server_new(H.log, &tp, &o, &ps, err, sizeof(err)),
        RESDELIV_EINVAL);
    o.app_key = "k";
    o.max_frame = 0;
    ck_assert_int_eq(
        resdeliv_pusher_server_new(H.log, &tp, &o, &ps, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "max_frame"));
    o.max_frame = 1024;
    o.abi_version = (RESDELIV_ABI_MAJOR + 1u) << 16;
    ck_assert_int_eq(
        resdeliv_pusher_server_new(H.log, &tp, &o, &ps, err, sizeof(err)),
        RESDELIV_EABI);
    o.abi_version = RESDELIV_ABI_VERSION;
    ck_assert_int_eq(
        resdeliv_pusher_server_new(NULL, &tp, &o, &ps, err, sizeof(err)),
        RESDELIV_EINVAL);
    tp.send = NULL;
    ck_assert_int_eq(
        resdeliv_pusher_server_new(H.log, &tp, &o, &ps, err, sizeof(err)),
        RESDELIV_EINVAL);
    resdeliv_pusher_server_free(NULL);
    ck_assert_ptr_nonnull(resdeliv_pusher_server_seam(H.ps));
}
END_TEST

/* ---- open --------------------------------------------------------------- */

START_TEST(open_established)
{
    struct tconn *a = t_open(&H, 0), *b = t_open(&H, 1);
    cJSON *f = t_frame(a, 0), *d = t_data(f);
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(d, "activity_timeout");
    struct resdeliv_server_stats st;

    ck_assert_int_eq(resdeliv_pusher_socket_id_valid(a->socket_id), 1);
    ck_assert_int_eq(resdeliv_pusher_socket_id_valid(b->socket_id), 1);
    ck_assert_str_ne(a->socket_id, b->socket_id);
    ck_assert(cJSON_IsNumber(at) && at->valueint == 120);
    ck_assert_int_eq(a->closed, 0);
    ck_assert_int_eq(resdeliv_server_stats(resdeliv_pusher_server_seam(H.ps),
                                           &st, sizeof(st)),
                     0);
    ck_assert_uint_eq(st.connections, 2);
    /* The same connection twice is a host bug. */
    ck_assert_int_eq(resdeliv_pusher_server_open(H.ps, a, T_PATH),
                     RESDELIV_EINVAL);
    cJSON_Delete(d);
    cJSON_Delete(f);
}
END_TEST

static void open_refused(const char *path, int code)
{
    struct tconn *c = &H.conns[0];

    ck_assert_int_ne(resdeliv_pusher_server_open(H.ps, c, path), 0);
    ck_assert_uint_eq(c->n, 1);
    ck_assert_int_eq(t_count(c, "pusher:error", NULL), 1);
    ck_assert_int_eq(error_code(c, 0), code);
    ck_assert_int_eq(c->closed, 1);
    ck_assert_uint_eq(c->code, (uint32_t)code);
    /* No state was kept: frames from it are refused, close is a no-op. */
    ck_assert_int_eq(t_send_text(&H, c, "{\"event\":\"pusher:ping\"}"),
                     RESDELIV_ENOENT);
    resdeliv_pusher_server_close(H.ps, c);
}

START_TEST(open_unknown_key)
{
    open_refused("/app/other-key?protocol=7", 4001);
}
END_TEST

START_TEST(open_bad_path)
{
    open_refused("/socket/app-key?protocol=7", 4005);
}
END_TEST

START_TEST(open_bad_protocol)
{
    open_refused("/app/app-key?client=js&protocol=seven", 4006);
}
END_TEST

START_TEST(open_old_protocol)
{
    open_refused("/app/app-key?protocol=3&client=js", 4007);
}
END_TEST

START_TEST(open_no_protocol)
{
    open_refused("/app/app-key?client=js", 4008);
}
END_TEST

START_TEST(open_null_args)
{
    ck_assert_int_eq(resdeliv_pusher_server_open(NULL, &H.conns[0], T_PATH),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_server_open(H.ps, &H.conns[0], NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_server_message(H.ps, NULL, "x", 1),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_server_writable(H.ps, &H.conns[3]),
                     RESDELIV_ENOENT);
    resdeliv_pusher_server_close(H.ps, &H.conns[3]);
    resdeliv_pusher_server_close(NULL, NULL);
}
END_TEST

/* ---- frames ------------------------------------------------------------- */

START_TEST(ping_pong)
{
    struct tconn *c = t_open(&H, 0);
    cJSON *f;

    t_clear(c);
    ck_assert_int_eq(t_send_text(&H, c,
                                 "{\"event\":\"pusher:ping\","
                                 "\"data\":{}}"),
                     0);
    ck_assert_uint_eq(c->n, 1);
    f = t_frame(c, 0);
    ck_assert_str_eq(t_str(f, "event"), "pusher:pong");
    cJSON_Delete(f);
    /* A pong from the client needs no answer. */
    ck_assert_int_eq(t_send_text(&H, c, "{\"event\":\"pusher:pong\"}"), 0);
    ck_assert_uint_eq(c->n, 1);
}
END_TEST

START_TEST(pong_waits_for_writable)
{
    struct tconn *c = t_open(&H, 0);

    t_clear(c);
    c->eagain = 1;
    ck_assert_int_eq(t_send_text(&H, c, "{\"event\":\"pusher:ping\"}"), 0);
    ck_assert_uint_eq(c->n, 0);
    ck_assert_int_eq(c->want, 1);
    c->eagain = 0;
    t_drive(&H);
    ck_assert_uint_eq(c->n, 1);
    ck_assert_int_eq(t_count(c, "pusher:pong", NULL), 1);
}
END_TEST

START_TEST(outbox_bounded)
{
    struct tconn *c = t_open(&H, 0);
    int i;

    c->eagain = 1;
    for (i = 0; i < 100 && !c->closed; i++) {
        t_send_text(&H, c, "{\"event\":\"pusher:ping\"}");
    }
    /* A client that never reads is closed, not buffered for ever. */
    ck_assert_int_eq(c->closed, 1);
    ck_assert_uint_eq(c->code, 4100);
    ck_assert_int_gt(i, 8);
}
END_TEST

START_TEST(bad_frames)
{
    static const char *const bad[] = {
        "not json",
        "[1,2]",
        "{\"data\":{}}",
        "{\"event\":7}",
        "{\"event\":\"pusher:subscribe\",\"data\":{}}",
        "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a b\"}}",
        "{\"event\":\"pusher:unsubscribe\",\"data\":{}}",
        "{\"event\":\"pusher:nonsense\"}",
    };
    struct tconn *c = t_open(&H, 0);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t_clear(c);
        ck_assert_int_ne(t_send_text(&H, c, bad[i]), 0);
        ck_assert_msg(c->n == 1 && t_count(c, "pusher:error", NULL) == 1,
                      "no pusher:error for %s", bad[i]);
    }
    ck_assert_int_eq(c->closed, 0);
}
END_TEST

START_TEST(frame_too_large)
{
    struct resdeliv_pusher_server_options o;
    struct tconn *c;
    char big[300];
    cJSON *d;

    t_teardown(&H);
    resdeliv_pusher_server_options_init(&o);
    o.max_frame = 100;
    t_setup(&H, &o);
    c = t_open(&H, 0);
    t_clear(c);
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "{\"event\":\"pusher:ping\"}", 23);
    ck_assert_int_eq(t_send_text(&H, c, big), RESDELIV_EBADFRAME);
    ck_assert_int_eq(t_count(c, "pusher:pong", NULL), 0);
    d = error_data(c, 0);
    ck_assert_ptr_nonnull(strstr(t_str(d, "message"), "limit"));
    cJSON_Delete(d);
}
END_TEST

/* ---- public channels ----------------------------------------------------- */

START_TEST(public_publish)
{
    struct tconn *c = t_open(&H, 0);
    struct tresp r;
    cJSON *f, *d;
    long i;

    ck_assert_int_eq(t_subscribe(&H, c, "news", NULL, NULL, NULL, NULL), 0);
    t_drive(&H);
    ck_assert_int_eq(
        t_count(c, "pusher_internal:subscription_succeeded", "news"), 1);
    ck_assert(t_joined(&H, c, "news"));
    ck_assert_int_eq(t_publish(&H,
                               "{\"name\":\"story\",\"channel\":\"news\","
                               "\"data\":\"{\\\"n\\\":1}\"}",
                               &r),
                     0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{}");
    i = t_find(c, "story", 0);
    ck_assert_int_ge(i, 0);
    f = t_frame(c, (size_t)i);
    ck_assert_str_eq(t_str(f, "channel"), "news");
    d = t_data(f);
    ck_assert_ptr_nonnull(t_str(d, "_replay_id"));
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(d, "n")->valueint, 1);
    cJSON_Delete(d);
    cJSON_Delete(f);
    t_resp_clear(&r);
    /* Unsubscribing twice: the second is quiet. */
    ck_assert_int_eq(t_send_text(&H, c,
                                 "{\"event\":\"pusher:unsubscribe\","
                                 "\"data\":{\"channel\":\"news\"}}"),
                     0);
    t_clear(c);
    ck_assert_int_eq(t_send_text(&H, c,
                                 "{\"event\":\"pusher:unsubscribe\","
                                 "\"data\":{\"channel\":\"news\"}}"),
                     RESDELIV_ENOENT);
    ck_assert_uint_eq(c->n, 0);
}
END_TEST

START_TEST(subscribe_twice)
{
    struct tconn *c = t_open(&H, 0);

    ck_assert_int_eq(t_subscribe(&H, c, "news", NULL, NULL, NULL, NULL), 0);
    t_clear(c);
    ck_assert_int_ne(t_subscribe(&H, c, "news", NULL, NULL, NULL, NULL), 0);
    ck_assert_int_eq(t_count(c, "pusher:error", NULL), 1);
    ck_assert_int_eq(t_count(c, "pusher_internal:subscription_succeeded", NULL),
                     0);
}
END_TEST

/* ---- private channels --------------------------------------------------- */

START_TEST(private_good_auth)
{
    struct tconn *c = t_open(&H, 0);
    char from[RESDELIV_ID_BUFSIZE];

    fill_log("private-x", from, sizeof(from));
    ck_assert_int_eq(t_subscribe_auth(&H, c, "private-x", NULL, from, NULL), 0);
    t_drive(&H);
    ck_assert_int_eq(
        t_count(c, "pusher_internal:subscription_succeeded", "private-x"), 1);
    ck_assert_int_eq(t_count(c, "e", "private-x"), 3);
    ck_assert(t_joined(&H, c, "private-x"));
}
END_TEST

static void bad_auth_case(const char *auth, const char *socket_id)
{
    struct tconn *c = t_open(&H, 0), *other = t_open(&H, 1);
    char from[RESDELIV_ID_BUFSIZE], sig[200];
    struct resdeliv_server_stats st;
    cJSON *d;

    fill_log("private-x", from, sizeof(from));
    if (socket_id != NULL) {
        ck_assert_int_gt(
            resdeliv_pusher_channel_auth(T_KEY, T_SECRET, other->socket_id,
                                         "private-x", NULL, sig, sizeof(sig)),
            0);
        auth = sig;
    }
    t_clear(c);
    ck_assert_int_eq(t_subscribe(&H, c, "private-x", auth, NULL, from, NULL),
                     RESDELIV_EAUTH);
    t_drive(&H);
    ck_assert_uint_eq(c->n, 1);
    ck_assert_int_eq(t_count(c, "pusher:subscription_error", "private-x"), 1);
    d = error_data(c, 0);
    ck_assert_str_eq(t_str(d, "type"), "AuthError");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(d, "status")->valueint,
                     401);
    cJSON_Delete(d);
    /* Nothing replayed, nothing joined, no subscription at the seam. */
    ck_assert_int_eq(t_count(c, "e", NULL), 0);
    ck_assert(!t_joined(&H, c, "private-x"));
    ck_assert_int_eq(resdeliv_server_stats(resdeliv_pusher_server_seam(H.ps),
                                           &st, sizeof(st)),
                     0);
    ck_assert_uint_eq(st.subscriptions, 0);
    ck_assert_uint_eq(st.replayed, 0);
    /* A client event there is refused too. */
    t_clear(c);
    t_send_text(&H, c,
                "{\"event\":\"client-x\",\"channel\":\"private-x\","
                "\"data\":{}}");
    ck_assert_int_eq(error_code(c, 0), 4301);
}

START_TEST(private_bad_signature)
{
    bad_auth_case(T_KEY ":0000000000000000000000000000000000000000000000000000"
                        "000000000000",
                  NULL);
}
END_TEST

START_TEST(private_missing_auth)
{
    bad_auth_case(NULL, NULL);
}
END_TEST

START_TEST(private_other_socket)
{
    bad_auth_case(NULL, "other");
}
END_TEST

START_TEST(private_garbage_auth)
{
    bad_auth_case("garbage", NULL);
}
END_TEST

static Suite *pusher_server_suite(void)
{
    Suite *s = suite_create("pusher_server");
    TCase *tc;

    tc = tcase("options");
    tcase_add_test(tc, options_refused);
    suite_add_tcase(s, tc);

    tc = tcase("open");
    tcase_add_test(tc, open_established);
    tcase_add_test(tc, open_unknown_key);
    tcase_add_test(tc, open_bad_path);
    tcase_add_test(tc, open_bad_protocol);
    tcase_add_test(tc, open_old_protocol);
    tcase_add_test(tc, open_no_protocol);
    tcase_add_test(tc, open_null_args);
    suite_add_tcase(s, tc);

    tc = tcase("frames");
    tcase_add_test(tc, ping_pong);
    tcase_add_test(tc, pong_waits_for_writable);
    tcase_add_test(tc, outbox_bounded);
    tcase_add_test(tc, bad_frames);
    tcase_add_test(tc, frame_too_large);
    suite_add_tcase(s, tc);

    tc = tcase("public");
    tcase_add_test(tc, public_publish);
    tcase_add_test(tc, subscribe_twice);
    suite_add_tcase(s, tc);

    tc = tcase("private");
    tcase_add_test(tc, private_good_auth);
    tcase_add_test(tc, private_bad_signature);
    tcase_add_test(tc, private_missing_auth);
    tcase_add_test(tc, private_other_socket);
    tcase_add_test(tc, private_garbage_auth);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pusher_server_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
