/* SPDX-License-Identifier: MIT */
/*
 * Tests of the Pusher server's WebSocket side with a real in-process host
 * (pusher_test_host.h) over the memory store: presence members counted
 * per user with member_added/member_removed, client events relayed to the
 * others and never logged, and a reconnect with last_event_id that gets
 * every missed message once, in order.
 */
#include "pusher_server_fixture.h"

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

static Suite *pusher_server_presence_suite(void)
{
    Suite *s = suite_create("pusher_server_presence");
    TCase *tc;

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
    SRunner *sr = srunner_create(pusher_server_presence_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
