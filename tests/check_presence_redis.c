/* SPDX-License-Identifier: MIT */
/*
 * Presence across nodes (presence.h): two or three in-process Pusher
 * servers, each with its own presence registry and node id on one real
 * libuv loop, sharing a private redis-server. Members on different nodes
 * see each other in subscription_succeeded and in member_added/removed, a
 * user on two nodes counts once, and a node that stops refreshing its
 * heartbeat has its members removed within the time to live plus one
 * period. Also the announcement format and the registry's bad input.
 * Skips (77) without redis-server unless RESDELIV_REQUIRE_REDIS=1.
 */
#include "presence_view_internal.h"
#include "pusher_test_host.h"
#include "redis_suite.h"

#include <resdeliv/adapters/libuv.h>

#include <hiredis/hiredis.h>

#include <time.h>
#include <unistd.h>

#define TTL_MS 600u
#define SUCCEEDED "pusher_internal:subscription_succeeded"
#define ADDED "pusher_internal:member_added"
#define REMOVED "pusher_internal:member_removed"

static struct redis_server srv;

struct node {
    struct thost h;
    resdeliv_presence *pr;
};

static uv_loop_t loop;
static struct resdeliv_loop hooks;

static void loop_setup(void)
{
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    resdeliv_loop_uv_init(&hooks, &loop);
}

static void loop_teardown(void)
{
    /* Closing handles finish on the next turns. */
    for (int i = 0; i < 100 && uv_loop_alive(&loop); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static void node_up(struct node *n, const char *node_id)
{
    struct resdeliv_redis_options o;
    char err[256] = "";
    int rc;

    t_setup(&n->h, NULL);
    resdeliv_redis_options_init(&o);
    o.url = srv.url;
    rc = resdeliv_presence_redis_new(&o, &hooks, T_APP_ID, node_id, TTL_MS,
                                     &n->pr, err, sizeof(err));
    ck_assert_msg(rc == 0, "presence: %d %s", rc, err);
    ck_assert_int_eq(resdeliv_pusher_server_set_presence(n->h.ps, n->pr), 0);
}

static void node_down(struct node *n)
{
    ck_assert_int_eq(resdeliv_pusher_server_set_presence(n->h.ps, NULL), 0);
    resdeliv_presence_free(n->pr);
    n->pr = NULL;
    t_teardown(&n->h);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Run the loop until `c` holds `n` frames of `event`, at most `ms`. */
static int wait_count(const struct tconn *c, const char *event, size_t n,
                      uint64_t ms)
{
    uint64_t end = now_ms() + ms;

    while (t_count(c, event, NULL) < n && now_ms() < end) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return t_count(c, event, NULL) >= n;
}

/* Let the loop run `ms` (announcements that should not come). */
static void spin(uint64_t ms)
{
    uint64_t end = now_ms() + ms;

    while (now_ms() < end) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

/* Subscribe connection `i` of `n` to `channel` as `user`, wait for the
 * succeeded frame and return its presence object. */
static cJSON *join(struct node *n, size_t i, const char *channel,
                   const char *user)
{
    struct tconn *c = t_open(&n->h, i);
    char cd[128];
    cJSON *f, *d, *p;
    long at;

    snprintf(cd, sizeof(cd), "{\"user_id\":\"%s\",\"user_info\":{\"n\":1}}",
             user);
    ck_assert_int_eq(t_subscribe_auth(&n->h, c, channel, cd, NULL, NULL), 0);
    ck_assert_msg(wait_count(c, SUCCEEDED, 1, 5000), "no succeeded frame");
    at = t_find(c, SUCCEEDED, 0);
    f = t_frame(c, (size_t)at);
    d = t_data(f);
    p = cJSON_DetachItemFromObject(d, "presence");
    cJSON_Delete(d);
    cJSON_Delete(f);
    ck_assert_ptr_nonnull(p);
    return p;
}

static int count_of(const cJSON *p)
{
    return cJSON_GetObjectItem(p, "count")->valueint;
}

static int has_id(const cJSON *p, const char *user)
{
    const cJSON *id;

    cJSON_ArrayForEach(id, cJSON_GetObjectItem(p, "ids"))
    {
        if (cJSON_IsString(id) && strcmp(id->valuestring, user) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The user id of the last `event` frame of `c`. */
static int last_user_is(const struct tconn *c, const char *event,
                        const char *user)
{
    long at = -1, i = -1;
    cJSON *f, *d;
    int ok;

    while ((i = t_find(c, event, (size_t)(i + 1))) >= 0) {
        at = i;
    }
    if (at < 0) {
        return 0;
    }
    f = t_frame(c, (size_t)at);
    d = t_data(f);
    ok = t_str(d, "user_id") != NULL && strcmp(t_str(d, "user_id"), user) == 0;
    cJSON_Delete(d);
    cJSON_Delete(f);
    return ok;
}

/* Fields of the presence hash of `channel` in Redis. */
static long long hash_len(const char *channel)
{
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    redisReply *r;
    long long n = -1;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->err, 0);
    r = redisCommand(c, "HLEN delivery:{" T_APP_ID ":%s}:presence", channel);
    if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
        n = r->integer;
    }
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* ------------------------------------------------------------- members */

START_TEST(test_members_across_nodes)
{
    static const char ch[] = "presence-room-1";
    struct node a, b;
    struct tconn *a0, *b0;
    cJSON *p;

    loop_setup();
    node_up(&a, "node-a1");
    node_up(&b, "node-b1");
    p = join(&a, 0, ch, "ann");
    ck_assert_int_eq(count_of(p), 1);
    cJSON_Delete(p);
    p = join(&b, 0, ch, "bob");
    /* bob sees ann, who sits on the other node, and himself. */
    ck_assert_int_eq(count_of(p), 2);
    ck_assert(has_id(p, "ann"));
    ck_assert(has_id(p, "bob"));
    cJSON_Delete(p);
    a0 = &a.h.conns[0];
    b0 = &b.h.conns[0];
    ck_assert(wait_count(a0, ADDED, 1, 5000));
    ck_assert(last_user_is(a0, ADDED, "bob"));
    /* bob leaves: ann hears it across the nodes. */
    t_close_conn(&b.h, b0);
    ck_assert(wait_count(a0, REMOVED, 1, 5000));
    ck_assert(last_user_is(a0, REMOVED, "bob"));
    ck_assert_int_eq(hash_len(ch), 1);
    node_down(&b);
    node_down(&a);
    loop_teardown();
}
END_TEST

START_TEST(test_three_nodes)
{
    static const char ch[] = "presence-room-3";
    struct node n[3];
    cJSON *p;

    loop_setup();
    node_up(&n[0], "node-a3");
    node_up(&n[1], "node-b3");
    node_up(&n[2], "node-c3");
    cJSON_Delete(join(&n[0], 0, ch, "u0"));
    cJSON_Delete(join(&n[1], 0, ch, "u1"));
    p = join(&n[2], 0, ch, "u2");
    ck_assert_int_eq(count_of(p), 3);
    cJSON_Delete(p);
    /* The first node hears both later members, once each. */
    ck_assert(wait_count(&n[0].h.conns[0], ADDED, 2, 5000));
    ck_assert(wait_count(&n[1].h.conns[0], ADDED, 1, 5000));
    spin(100);
    ck_assert_uint_eq(t_count(&n[0].h.conns[0], ADDED, NULL), 2);
    ck_assert_uint_eq(t_count(&n[1].h.conns[0], ADDED, NULL), 1);
    ck_assert_uint_eq(t_count(&n[2].h.conns[0], ADDED, NULL), 0);
    for (int i = 2; i >= 0; i--) {
        node_down(&n[i]);
    }
    loop_teardown();
}
END_TEST

/* ------------------------------------------------------------ same user */

START_TEST(test_same_user_counts_once)
{
    static const char ch[] = "presence-room-2";
    struct node a, b;
    struct tconn *watch;
    cJSON *p;

    loop_setup();
    node_up(&a, "node-a2");
    node_up(&b, "node-b2");
    cJSON_Delete(join(&a, 0, ch, "sam"));
    cJSON_Delete(join(&a, 1, ch, "watcher"));
    watch = &a.h.conns[1];
    /* sam opens a tab on the other node: still one member. */
    p = join(&b, 0, ch, "sam");
    ck_assert_int_eq(count_of(p), 2);
    cJSON_Delete(p);
    spin(150);
    ck_assert_uint_eq(t_count(watch, ADDED, NULL), 0);
    ck_assert_int_eq(hash_len(ch), 3);
    /* sam closes the first tab: still there on node b. */
    t_close_conn(&a.h, &a.h.conns[0]);
    spin(150);
    ck_assert_uint_eq(t_count(watch, REMOVED, NULL), 0);
    /* and the last one: gone. */
    t_close_conn(&b.h, &b.h.conns[0]);
    ck_assert(wait_count(watch, REMOVED, 1, 5000));
    ck_assert(last_user_is(watch, REMOVED, "sam"));
    node_down(&b);
    node_down(&a);
    loop_teardown();
}
END_TEST

/* ---------------------------------------------------------- node death */

START_TEST(test_dead_node_members_removed)
{
    static const char ch[] = "presence-room-4";
    struct node a, b;
    struct tconn *a0;
    uint64_t bound = TTL_MS + TTL_MS / 3;

    loop_setup();
    node_up(&a, "node-a4");
    node_up(&b, "node-b4");
    cJSON_Delete(join(&a, 0, ch, "alive"));
    cJSON_Delete(join(&b, 0, ch, "doomed"));
    a0 = &a.h.conns[0];
    ck_assert(wait_count(a0, ADDED, 1, 5000));
    /* b stops without a word: its registry goes, its field stays. */
    ck_assert_int_eq(resdeliv_pusher_server_set_presence(b.h.ps, NULL), 0);
    resdeliv_presence_free(b.pr);
    b.pr = NULL;
    ck_assert_int_eq(hash_len(ch), 2);
    /* Within the bound, plus slack for a loaded machine. */
    ck_assert(wait_count(a0, REMOVED, 1, bound * 4));
    ck_assert(last_user_is(a0, REMOVED, "doomed"));
    spin(50);
    ck_assert_int_eq(hash_len(ch), 1);
    t_teardown(&b.h);
    node_down(&a);
    loop_teardown();
}
END_TEST

/* A node that joins a channel holding a dead node's field: the member is
 * listed at first, then removed within the bound. */
START_TEST(test_dead_node_found_on_load)
{
    static const char ch[] = "presence-room-5";
    struct node a, b;
    struct tconn *b0;

    loop_setup();
    node_up(&a, "node-a5");
    cJSON_Delete(join(&a, 0, ch, "ghost"));
    spin(50);
    ck_assert_int_eq(resdeliv_pusher_server_set_presence(a.h.ps, NULL), 0);
    resdeliv_presence_free(a.pr);
    a.pr = NULL;
    node_up(&b, "node-b5");
    cJSON_Delete(join(&b, 0, ch, "late"));
    b0 = &b.h.conns[0];
    ck_assert(wait_count(b0, REMOVED, 1, (TTL_MS + TTL_MS / 3) * 4));
    ck_assert(last_user_is(b0, REMOVED, "ghost"));
    t_teardown(&a.h);
    node_down(&b);
    loop_teardown();
}
END_TEST

/* A field an earlier run of the same node id left behind is neither
 * listed nor kept. */
START_TEST(test_stale_own_field)
{
    static const char ch[] = "presence-room-7";
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    struct node a;
    redisReply *r;
    cJSON *p;

    ck_assert_ptr_nonnull(c);
    r = redisCommand(c, "HSET delivery:{" T_APP_ID ":%s}:presence %s {}", ch,
                     "node-a7\n\"stale\"");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    redisFree(c);
    ck_assert_int_eq(hash_len(ch), 1);
    loop_setup();
    node_up(&a, "node-a7");
    p = join(&a, 0, ch, "fresh");
    ck_assert_int_eq(count_of(p), 1);
    ck_assert(!has_id(p, "stale"));
    cJSON_Delete(p);
    spin(100);
    ck_assert_int_eq(hash_len(ch), 1);
    node_down(&a);
    loop_teardown();
}
END_TEST

/* ------------------------------------------------------------- format */

START_TEST(test_format_roundtrip)
{
    struct resdeliv__pv_msg m;
    char *msg = NULL;
    size_t len = 0;

    ck_assert_int_eq(
        resdeliv__pv_format(1, "n-1", "\"u 1\"", "{\"a\":2}", &msg, &len), 0);
    ck_assert_str_eq(msg, "RDP1 + n-1 5\n\"u 1\"{\"a\":2}");
    ck_assert_int_eq(resdeliv__pv_parse(msg, len, &m), 0);
    ck_assert_int_eq(m.added, 1);
    ck_assert_str_eq(m.node, "n-1");
    ck_assert_uint_eq(m.user_id_len, 5);
    ck_assert_int_eq(memcmp(m.user_id, "\"u 1\"", 5), 0);
    ck_assert_uint_eq(m.user_info_len, 7);
    free(msg);
    ck_assert_int_eq(resdeliv__pv_format(0, "n", "\"u\"", "{}", &msg, &len), 0);
    ck_assert_str_eq(msg, "RDP1 - n 3\n\"u\"");
    ck_assert_int_eq(resdeliv__pv_parse(msg, len, &m), 0);
    ck_assert_int_eq(m.added, 0);
    ck_assert_uint_eq(m.user_info_len, 0);
    free(msg);
}
END_TEST

START_TEST(test_parse_bad)
{
    static const char *const bad[] = {
        "",
        "RD1 0-0 1-1 0 1\nex", /* a log entry of the same channel */
        "RDP1 * n 1\nx",       /* unknown op */
        "RDP1 + n 3\nxy",      /* user id past the end */
        "RDP1 + n 0\n",        /* empty user id */
        "RDP1 + n 01\nx",      /* leading zero */
        "RDP1 + n -1\nx",      /* sign */
        "RDP1 + n 1x",         /* no newline */
        "RDP1 +  1\nx",        /* empty node */
        "RDP1 + n/1 1\nx",     /* node outside the alphabet */
        "RDP1 + n 1",          /* length without newline */
    };
    struct resdeliv__pv_msg m;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(resdeliv__pv_parse(bad[i], strlen(bad[i]), &m) ==
                          RESDELIV_EBADFRAME,
                      "accepted: %s", bad[i]);
    }
    ck_assert(!resdeliv__pv_node_id_ok(""));
    ck_assert(!resdeliv__pv_node_id_ok("a b"));
    ck_assert(resdeliv__pv_node_id_ok("node-1.a_b"));
}
END_TEST

START_TEST(test_view_counts_users_once)
{
    struct resdeliv__pv v = {0};
    char *data = NULL;
    int edge = 0;

    ck_assert_int_eq(resdeliv__pv_add(&v, "\"u\"", NULL, "a", &edge), 0);
    ck_assert_int_eq(edge, 1);
    ck_assert_int_eq(resdeliv__pv_add(&v, "\"u\"", NULL, "b", &edge), 0);
    ck_assert_int_eq(edge, 0);
    ck_assert_int_eq(resdeliv__pv_add(&v, "\"u\"", NULL, "b", &edge), 0);
    ck_assert_int_eq(edge, 0);
    ck_assert_int_eq(resdeliv__pv_data(&v, &data, NULL), 0);
    ck_assert_str_eq(data,
                     "{\"presence\":{\"ids\":[\"u\"],\"hash\":{\"u\":null},"
                     "\"count\":1}}");
    free(data);
    ck_assert_int_eq(resdeliv__pv_remove(&v, "\"u\"", "a", &edge), 0);
    ck_assert_int_eq(edge, 0);
    ck_assert_int_eq(resdeliv__pv_remove(&v, "\"u\"", "a", &edge),
                     RESDELIV_ENOENT);
    ck_assert_int_eq(resdeliv__pv_remove(&v, "\"u\"", "b", &edge), 0);
    ck_assert_int_eq(edge, 1);
    ck_assert_uint_eq(v.n, 0);
    resdeliv__pv_clear(&v);
}
END_TEST

/* ----------------------------------------------------------- bad input */

START_TEST(test_new_bad_input)
{
    struct resdeliv_redis_options o;
    resdeliv_presence *pr = (resdeliv_presence *)&o;
    char err[256] = "";

    loop_setup();
    resdeliv_redis_options_init(&o);
    o.url = srv.url;
    ck_assert_int_eq(resdeliv_presence_redis_new(NULL, &hooks, T_APP_ID, "n", 0,
                                                 &pr, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(pr);
    ck_assert_int_eq(resdeliv_presence_redis_new(&o, &hooks, T_APP_ID, "a b", 0,
                                                 &pr, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "node_id"));
    ck_assert_int_eq(resdeliv_presence_redis_new(&o, &hooks, T_APP_ID, "n", 10,
                                                 &pr, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "ttl_ms"));
    o.url = "http://127.0.0.1";
    ck_assert_int_eq(resdeliv_presence_redis_new(&o, &hooks, T_APP_ID, "n", 0,
                                                 &pr, err, sizeof(err)),
                     RESDELIV_EBADURL);
    ck_assert_ptr_null(pr);
    resdeliv_presence_free(NULL);
    loop_teardown();
}
END_TEST

START_TEST(test_attach_rules)
{
    struct node a, b;

    loop_setup();
    node_up(&a, "node-a6");
    t_setup(&b.h, NULL);
    ck_assert_int_eq(resdeliv_pusher_server_set_presence(NULL, a.pr),
                     RESDELIV_EINVAL);
    /* One registry serves one server. */
    ck_assert_int_eq(resdeliv_pusher_server_set_presence(b.h.ps, a.pr),
                     RESDELIV_EINVAL);
    /* Members counted before the registry would be missing from it. */
    t_open(&b.h, 0);
    ck_assert_int_eq(resdeliv_pusher_server_set_presence(a.h.ps, NULL), 0);
    ck_assert_int_eq(resdeliv_pusher_server_set_presence(b.h.ps, a.pr),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_server_set_presence(a.h.ps, a.pr), 0);
    t_teardown(&b.h);
    node_down(&a);
    loop_teardown();
}
END_TEST

static Suite *presence_suite(void)
{
    Suite *s = suite_create("presence_redis");
    TCase *tc;

    tc = tcase_create("format");
    tcase_add_test(tc, test_format_roundtrip);
    tcase_add_test(tc, test_parse_bad);
    tcase_add_test(tc, test_view_counts_users_once);
    suite_add_tcase(s, tc);
    tc = tcase_create("members");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_members_across_nodes);
    tcase_add_test(tc, test_three_nodes);
    tcase_add_test(tc, test_same_user_counts_once);
    suite_add_tcase(s, tc);
    tc = tcase_create("death");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_dead_node_members_removed);
    tcase_add_test(tc, test_dead_node_found_on_load);
    tcase_add_test(tc, test_stale_own_field);
    suite_add_tcase(s, tc);
    tc = tcase_create("bad_input");
    tcase_add_test(tc, test_new_bad_input);
    tcase_add_test(tc, test_attach_rules);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return redis_suite_run(&srv, NULL, presence_suite());
}
