/* SPDX-License-Identifier: MIT */
/*
 * Tests of the Pusher server's WebSocket side with a real in-process host
 * (pusher_test_host.h) over the memory store: opening (app key, path,
 * protocol version), ping/pong and bad frames, public subscriptions fed by
 * the HTTP API, private subscriptions with good and bad auth (nothing
 * replayed on bad auth), presence members counted per user with
 * member_added/member_removed, client events relayed to the others and
 * never logged, and a reconnect with last_event_id that gets every missed
 * message once, in order.
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

/* The pusher:error (or subscription_error) data of frame `i`. */
static cJSON *error_data(const struct tconn *c, size_t i)
{
    cJSON *f = t_frame(c, i), *d = t_data(f);

    cJSON_Delete(f);
    ck_assert_ptr_nonnull(d);
    return d;
}

static int error_code(const struct tconn *c, size_t i)
{
    cJSON *d = error_data(c, i);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(d, "code");
    int v = cJSON_IsNumber(code) ? code->valueint : 0;

    cJSON_Delete(d);
    return v;
}

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

/* Three messages in the log of `channel`; `id` gets "0-0", a
 * last_event_id from before all of them. */
static void fill_log(const char *channel, char *id, size_t size)
{
    char body[256];
    struct tresp r;

    for (int n = 1; n <= 3; n++) {
        snprintf(body, sizeof(body),
                 "{\"name\":\"e\",\"channel\":\"%s\","
                 "\"data\":\"{\\\"n\\\":%d}\"}",
                 channel, n);
        ck_assert_int_eq(t_publish(&H, body, &r), 0);
        ck_assert_int_eq(r.status, 200);
        t_resp_clear(&r);
    }
    ck_assert_int_eq(snprintf(id, size, "0-0"), 3);
}

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

/* ---- presence ----------------------------------------------------------- */

#define PCH "presence-room"

static cJSON *presence_of(const struct tconn *c)
{
    long i = t_find(c, "pusher_internal:subscription_succeeded", 0);
    cJSON *f, *d, *p;

    ck_assert_int_ge(i, 0);
    f = t_frame(c, (size_t)i);
    d = t_data(f);
    p = cJSON_DetachItemFromObjectCaseSensitive(d, "presence");
    ck_assert_ptr_nonnull(p);
    cJSON_Delete(d);
    cJSON_Delete(f);
    return p;
}

static int presence_count(const struct tconn *c)
{
    cJSON *p = presence_of(c);
    int n = cJSON_GetObjectItemCaseSensitive(p, "count")->valueint;

    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "ids")), n);
    cJSON_Delete(p);
    return n;
}

static struct tconn *join_as(size_t i, const char *channel_data)
{
    struct tconn *c = t_open(&H, i);

    ck_assert_int_eq(t_subscribe_auth(&H, c, PCH, channel_data, NULL, NULL), 0);
    t_drive(&H);
    return c;
}

/* The user_id in the data of `c`'s first `event` frame. */
static char *member_event_user(const struct tconn *c, const char *event)
{
    long i = t_find(c, event, 0);
    cJSON *f, *d;
    char *id;

    ck_assert_int_ge(i, 0);
    f = t_frame(c, (size_t)i);
    d = t_data(f);
    id = strdup(t_str(d, "user_id"));
    cJSON_Delete(d);
    cJSON_Delete(f);
    return id;
}

START_TEST(presence_join_leave)
{
    struct tconn *a = join_as(0, "{\"user_id\":\"1\",\"user_info\":"
                                 "{\"name\":\"ann\"}}");
    struct tconn *b, *b2;
    cJSON *p;
    char *who;

    p = presence_of(a);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(p, "count")->valueint, 1);
    ck_assert_str_eq(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "ids"), 0)
            ->valuestring,
        "1");
    ck_assert_str_eq(
        t_str(cJSON_GetObjectItemCaseSensitive(
                  cJSON_GetObjectItemCaseSensitive(p, "hash"), "1"),
              "name"),
        "ann");
    cJSON_Delete(p);
    ck_assert_int_eq(t_count(a, "pusher_internal:member_added", NULL), 0);

    b = join_as(1, "{\"user_id\":2,\"user_info\":{\"name\":\"bob\"}}");
    ck_assert_int_eq(presence_count(b), 2);
    ck_assert_int_eq(t_count(a, "pusher_internal:member_added", PCH), 1);
    ck_assert_int_eq(t_count(b, "pusher_internal:member_added", PCH), 0);
    who = member_event_user(a, "pusher_internal:member_added");
    ck_assert_str_eq(who, "2");
    free(who);

    /* A second connection of user 2 is not a new member. */
    b2 = join_as(2, "{\"user_id\":\"2\"}");
    ck_assert_int_eq(presence_count(b2), 2);
    ck_assert_int_eq(t_count(a, "pusher_internal:member_added", PCH), 1);

    t_close_conn(&H, b2);
    ck_assert_int_eq(t_count(a, "pusher_internal:member_removed", PCH), 0);
    t_close_conn(&H, b);
    ck_assert_int_eq(t_count(a, "pusher_internal:member_removed", PCH), 1);
    who = member_event_user(a, "pusher_internal:member_removed");
    ck_assert_str_eq(who, "2");
    free(who);
}
END_TEST

START_TEST(presence_unsubscribe)
{
    struct tconn *a = join_as(0, "{\"user_id\":\"1\"}");
    struct tconn *b = join_as(1, "{\"user_id\":\"2\"}");

    ck_assert_int_eq(t_send_text(&H, b,
                                 "{\"event\":\"pusher:unsubscribe\","
                                 "\"data\":{\"channel\":\"" PCH "\"}}"),
                     0);
    ck_assert_int_eq(t_count(a, "pusher_internal:member_removed", PCH), 1);
    /* The member list now has only user 1. */
    t_close_conn(&H, a);
    a = join_as(2, "{\"user_id\":\"3\"}");
    ck_assert_int_eq(presence_count(a), 1);
}
END_TEST

START_TEST(presence_bad_channel_data)
{
    static const char *const bad[] = {
        "not json", "{}", "{\"user_id\":\"\"}", "{\"user_id\":true}", "[1]",
        /* One object and then more: not one JSON value. */
        "{\"user_id\":\"1\"} \"x\"", "{\"user_id\":\"1\"}{}",
    };
    struct tconn *c = t_open(&H, 0);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t_clear(c);
        ck_assert_int_ne(t_subscribe_auth(&H, c, PCH, bad[i], NULL, NULL), 0);
        ck_assert_msg(t_count(c, "pusher:subscription_error", PCH) == 1,
                      "no subscription_error for %s", bad[i]);
        ck_assert_int_eq(
            t_count(c, "pusher_internal:subscription_succeeded", NULL), 0);
    }
    /* Without channel_data at all: refused before the signature check. */
    t_clear(c);
    ck_assert_int_ne(t_subscribe_auth(&H, c, PCH, NULL, NULL, NULL), 0);
    ck_assert_int_eq(t_count(c, "pusher:subscription_error", PCH), 1);
}
END_TEST

START_TEST(presence_member_limit)
{
    struct resdeliv_pusher_server_options o;
    struct tconn *a, *b, *a2;
    cJSON *d;

    t_teardown(&H);
    resdeliv_pusher_server_options_init(&o);
    o.max_presence_members = 1;
    t_setup(&H, &o);
    a = join_as(0, "{\"user_id\":\"1\"}");
    ck_assert_int_eq(presence_count(a), 1);
    b = t_open(&H, 1);
    ck_assert_int_eq(
        t_subscribe_auth(&H, b, PCH, "{\"user_id\":\"2\"}", NULL, NULL),
        RESDELIV_EOVERFLOW);
    ck_assert_int_eq(t_count(b, "pusher:subscription_error", PCH), 1);
    d = error_data(b, b->n - 1);
    ck_assert_str_eq(t_str(d, "type"), "LimitReached");
    cJSON_Delete(d);
    ck_assert_int_eq(t_count(a, "pusher_internal:member_added", NULL), 0);
    /* The same user again still fits. */
    a2 = join_as(2, "{\"user_id\":\"1\"}");
    ck_assert_int_eq(presence_count(a2), 1);
}
END_TEST

/* ---- client events ------------------------------------------------------ */

START_TEST(client_event_relayed)
{
    struct tconn *a = t_open(&H, 0), *b = t_open(&H, 1), *c;
    struct resdeliv_position pos;
    cJSON *f, *d;
    long i;

    ck_assert_int_eq(t_subscribe_auth(&H, a, "private-chat", NULL, NULL, NULL),
                     0);
    ck_assert_int_eq(t_subscribe_auth(&H, b, "private-chat", NULL, NULL, NULL),
                     0);
    t_drive(&H);
    t_clear(a);
    t_clear(b);
    ck_assert_int_eq(t_send_text(&H, a,
                                 "{\"event\":\"client-typing\","
                                 "\"channel\":\"private-chat\","
                                 "\"data\":{\"who\":\"ann\"}}"),
                     0);
    ck_assert_uint_eq(a->n, 0);
    ck_assert_uint_eq(b->n, 1);
    f = t_frame(b, 0);
    ck_assert_str_eq(t_str(f, "event"), "client-typing");
    ck_assert_str_eq(t_str(f, "channel"), "private-chat");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(f, "user_id"));
    d = t_data(f);
    ck_assert_str_eq(t_str(d, "who"), "ann");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(d, "_replay_id"));
    cJSON_Delete(d);
    cJSON_Delete(f);

    /* Never logged: the log is empty and a replay from the start has no
     * client event. */
    ck_assert_int_eq(resdeliv_log_position(H.log, "private-chat", &pos), 0);
    ck_assert(pos.id.ms == 0 && pos.id.seq == 0);
    c = t_open(&H, 2);
    ck_assert_int_eq(t_subscribe_auth(&H, c, "private-chat", NULL, "0-0", NULL),
                     0);
    t_drive(&H);
    i = t_find(c, "pusher_internal:subscription_succeeded", 0);
    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(t_count(c, "client-typing", NULL), 0);
}
END_TEST

START_TEST(client_event_presence_user_id)
{
    struct tconn *a = join_as(0, "{\"user_id\":\"7\"}");
    struct tconn *b = join_as(1, "{\"user_id\":\"8\"}");
    long i;
    cJSON *f;

    t_clear(b);
    ck_assert_int_eq(t_send_text(&H, a,
                                 "{\"event\":\"client-wave\","
                                 "\"channel\":\"" PCH "\","
                                 "\"data\":\"{}\"}"),
                     0);
    i = t_find(b, "client-wave", 0);
    ck_assert_int_ge(i, 0);
    f = t_frame(b, (size_t)i);
    ck_assert_str_eq(t_str(f, "user_id"), "7");
    cJSON_Delete(f);
}
END_TEST

START_TEST(client_event_refused)
{
    struct tconn *a = t_open(&H, 0), *b = t_open(&H, 1);

    ck_assert_int_eq(t_subscribe(&H, a, "news", NULL, NULL, NULL, NULL), 0);
    ck_assert_int_eq(t_subscribe(&H, b, "news", NULL, NULL, NULL, NULL), 0);
    t_drive(&H);
    t_clear(a);
    t_clear(b);
    /* A public channel. */
    ck_assert_int_eq(t_send_text(&H, a,
                                 "{\"event\":\"client-x\","
                                 "\"channel\":\"news\",\"data\":{}}"),
                     RESDELIV_EWHISPER);
    ck_assert_int_eq(error_code(a, 0), 4301);
    /* Not subscribed. */
    t_clear(a);
    ck_assert_int_eq(t_send_text(&H, a,
                                 "{\"event\":\"client-x\","
                                 "\"channel\":\"private-y\","
                                 "\"data\":{}}"),
                     RESDELIV_EWHISPER);
    ck_assert_int_eq(error_code(a, 0), 4301);
    /* No channel. */
    t_clear(a);
    ck_assert_int_eq(t_send_text(&H, a, "{\"event\":\"client-x\"}"),
                     RESDELIV_EWHISPER);
    ck_assert_uint_eq(b->n, 0);
    ck_assert_uint_eq(H.broadcasts, 0);
}
END_TEST

START_TEST(client_events_disabled)
{
    struct resdeliv_pusher_server_options o;
    struct tconn *a, *b;

    t_teardown(&H);
    resdeliv_pusher_server_options_init(&o);
    o.client_events = 0;
    t_setup(&H, &o);
    a = t_open(&H, 0);
    b = t_open(&H, 1);
    ck_assert_int_eq(t_subscribe_auth(&H, a, "private-c", NULL, NULL, NULL), 0);
    ck_assert_int_eq(t_subscribe_auth(&H, b, "private-c", NULL, NULL, NULL), 0);
    t_drive(&H);
    t_clear(a);
    t_clear(b);
    ck_assert_int_eq(t_send_text(&H, a,
                                 "{\"event\":\"client-x\","
                                 "\"channel\":\"private-c\","
                                 "\"data\":{}}"),
                     RESDELIV_EWHISPER);
    ck_assert_int_eq(error_code(a, 0), 4301);
    ck_assert_uint_eq(b->n, 0);
}
END_TEST

/* ---- reconnect and replay ----------------------------------------------- */

/* The _replay_id of every `event` frame of `c`, in order, and its n. */
static size_t replay_ns(const struct tconn *c, int *ns, size_t max)
{
    size_t k = 0;

    for (size_t i = 0; i < c->n && k < max; i++) {
        cJSON *f = t_frame(c, i), *d;
        const char *e = t_str(f, "event");
        if (e != NULL && strcmp(e, "e") == 0) {
            d = t_data(f);
            ns[k++] = cJSON_GetObjectItemCaseSensitive(d, "n")->valueint;
            cJSON_Delete(d);
        }
        cJSON_Delete(f);
    }
    return k;
}

static void publish_n(int n)
{
    char body[128];
    struct tresp r;

    snprintf(body, sizeof(body),
             "{\"name\":\"e\",\"channel\":\"feed\","
             "\"data\":\"{\\\"n\\\":%d}\"}",
             n);
    ck_assert_int_eq(t_publish(&H, body, &r), 0);
    ck_assert_int_eq(r.status, 200);
    t_resp_clear(&r);
}

START_TEST(reconnect_replays_missed)
{
    struct tconn *a = t_open(&H, 0), *b;
    char last[RESDELIV_ID_BUFSIZE], epoch[RESDELIV_EPOCH_BUFSIZE];
    int ns[32];
    size_t k;
    cJSON *f, *d;
    long i;

    ck_assert_int_eq(t_subscribe(&H, a, "feed", NULL, NULL, NULL, NULL), 0);
    t_drive(&H);
    publish_n(1);
    publish_n(2);
    i = t_find(a, "e", 0);
    i = t_find(a, "e", (size_t)i + 1);
    ck_assert_int_ge(i, 0);
    f = t_frame(a, (size_t)i);
    d = t_data(f);
    snprintf(last, sizeof(last), "%s", t_str(d, "_replay_id"));
    snprintf(epoch, sizeof(epoch), "%s", t_str(d, "_replay_epoch"));
    cJSON_Delete(d);
    cJSON_Delete(f);
    t_close_conn(&H, a);

    publish_n(3);
    publish_n(4);
    publish_n(5);
    b = t_open(&H, 1);
    ck_assert_int_eq(t_subscribe(&H, b, "feed", NULL, NULL, last, epoch), 0);
    /* Published while the replay is under way: held, then sent once. */
    publish_n(6);
    t_drive(&H);
    publish_n(7);
    k = replay_ns(b, ns, 32);
    ck_assert_uint_eq(k, 5);
    for (size_t j = 0; j < k; j++) {
        ck_assert_int_eq(ns[j], (int)j + 3);
    }
    ck_assert_int_eq(t_find(b, "pusher_internal:subscription_succeeded", 0), 1);
    ck_assert_int_eq(t_count(b, "resdeliv:gap", NULL), 0);
}
END_TEST

START_TEST(presence_announce_held_during_replay)
{
    struct tconn *a, *b;
    char from[RESDELIV_ID_BUFSIZE];

    fill_log(PCH, from, sizeof(from));
    a = t_open(&H, 0);
    ck_assert_int_eq(
        t_subscribe_auth(&H, a, PCH, "{\"user_id\":\"1\"}", from, NULL), 0);
    /* a is still replaying when b joins: the announcement waits. */
    b = join_as(1, "{\"user_id\":\"2\"}");
    ck_assert_int_eq(presence_count(b), 2);
    t_drive(&H);
    ck_assert_int_eq(t_count(a, "pusher_internal:member_added", PCH), 1);
    ck_assert_int_eq(t_count(a, "e", PCH), 3);
    ck_assert_int_gt(t_find(a, "pusher_internal:member_added", 0),
                     t_find(a, "e", 0));
}
END_TEST

/* ---- suite -------------------------------------------------------------- */

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

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

    tc = tcase("presence");
    tcase_add_test(tc, presence_join_leave);
    tcase_add_test(tc, presence_unsubscribe);
    tcase_add_test(tc, presence_bad_channel_data);
    tcase_add_test(tc, presence_member_limit);
    tcase_add_test(tc, presence_announce_held_during_replay);
    suite_add_tcase(s, tc);

    tc = tcase("client_events");
    tcase_add_test(tc, client_event_relayed);
    tcase_add_test(tc, client_event_presence_user_id);
    tcase_add_test(tc, client_event_refused);
    tcase_add_test(tc, client_events_disabled);
    suite_add_tcase(s, tc);

    tc = tcase("replay");
    tcase_add_test(tc, reconnect_replays_missed);
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
