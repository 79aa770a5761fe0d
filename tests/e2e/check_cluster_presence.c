/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of presence channels across resdeliv-server nodes in
 * cluster mode: three server processes share one private redis-server and
 * the members of one presence channel sit on different nodes. Every
 * subscriber's subscription_succeeded lists the users present on any node,
 * each once; a join or a user's last leave is announced exactly once to
 * every other subscriber whatever its node; a user still connected on
 * another node is not removed; and the users of a node killed with
 * SIGKILL are removed on the surviving nodes once its heartbeat expires.
 *
 * Each node writes its members into a Redis hash before announcing them,
 * and a view that loads reads that hash: the test waits for the hash to
 * hold a join before the next subscriber comes, so what each one must be
 * told does not depend on how fast a node talks to Redis. Skips (77)
 * without redis-server unless RESDELIV_REQUIRE_REDIS=1.
 *
 * Usage: check_cluster_presence /path/to/resdeliv-server
 */
#include "../redis_suite.h"
#include "e2e_scenarios.h"

#include <resdeliv/auth.h>
#include <resdeliv/presence.h>

#include <hiredis/hiredis.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NODES 3
#define NODE_A 0
#define NODE_B 1
#define NODE_C 2
/* Long enough for an announcement to cross nodes through Redis. */
#define QUIET_MS 600
/* Heartbeat ttl (10 s) plus one check period plus slack: the bound the
 * design promises, with room for a loaded machine. */
#define REMOVAL_LIMIT_MS 20000

static const char *server_bin;
static struct redis_server redis;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void start_nodes(struct e2e_server *s)
{
    for (int i = 0; i < NODES; i++) {
        char id[16];
        const char *args[] = {"--store",   redis.url, "--cluster",
                              "--node-id", id,        NULL};

        snprintf(id, sizeof(id), "node-%d", i);
        ck_assert_msg(e2e_server_start(&s[i], server_bin, args) == 0,
                      "cannot start %s --cluster on %s", server_bin,
                      redis.url);
    }
}

static void stop_nodes(struct e2e_server *s)
{
    for (int i = 0; i < NODES; i++) {
        if (s[i].pid > 0) {
            ck_assert_int_eq(e2e_server_stop(&s[i]), 0);
        }
    }
}

/* ------------------------------------------------------ Redis's view */

/* Fields of every presence hash of `channel`: one per (node, user). */
static long count_fields(redisContext *rc, const char *channel)
{
    redisReply *keys = redisCommand(rc, "KEYS *%s*:presence", channel);
    long total = 0;

    ck_assert_ptr_nonnull(keys);
    ck_assert_int_eq(keys->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *n = redisCommand(rc, "HLEN %b", keys->element[i]->str,
                                     keys->element[i]->len);
        ck_assert_ptr_nonnull(n);
        ck_assert_int_eq(n->type, REDIS_REPLY_INTEGER);
        total += n->integer;
        freeReplyObject(n);
    }
    freeReplyObject(keys);
    return total;
}

/* Until the channel's hashes hold `want` fields. */
static void wait_fields(const char *channel, long want)
{
    redisContext *rc = redisConnect("127.0.0.1", redis.port);
    uint64_t end = now_ms() + E2E_TIMEOUT_MS;
    long have;

    ck_assert_msg(rc != NULL && rc->err == 0, "cannot reach %s", redis.url);
    while ((have = count_fields(rc, channel)) != want) {
        ck_assert_msg(now_ms() < end, "%s: %ld presence fields, want %ld",
                      channel, have, want);
        usleep(20000);
    }
    redisFree(rc);
}

/* ------------------------------------------------------------ members */

/* Connect to `node` and subscribe to presence `channel` as `user` with
 * user_info {"name": user}. @return subscription_succeeded's data. */
static cJSON *join(struct e2e_pusher *p, const struct e2e_server *s,
                   int node, const char *channel, const char *user)
{
    char cd[128];
    char auth[256];
    cJSON *f;
    cJSON *data;

    snprintf(cd, sizeof(cd), "{\"user_id\":\"%s\",\"user_info\":"
             "{\"name\":\"%s\"}}", user, user);
    ck_assert_int_eq(e2e_pusher_connect(p, s[node].port), 0);
    ck_assert_int_gt(resdeliv_pusher_channel_auth(E2E_KEY, E2E_SECRET,
                                                  p->socket_id, channel, cd,
                                                  auth, sizeof(auth)),
                     0);
    ck_assert_int_eq(e2e_pusher_subscribe(p, channel, NULL, NULL, auth, cd),
                     0);
    f = e2e_pusher_next(p, E2E_TIMEOUT_MS);
    ck_assert_msg(f != NULL, "%s on node %d: no answer to the subscribe",
                  user, node);
    ck_assert_msg(
        strcmp(e2e_event(f), "pusher_internal:subscription_succeeded") == 0,
        "%s on node %d: subscribe answered with %s", user, node,
        e2e_event(f));
    data = e2e_data(f);
    cJSON_Delete(f);
    ck_assert_ptr_nonnull(data);
    return data;
}

/* `data` lists exactly `users` (n of them), each once, with its info. */
static void expect_members(cJSON *data, const char *const *users, int n)
{
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(data, "presence");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(pr, "ids");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(pr, "hash");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(pr, "count");
    const cJSON *id;

    ck_assert_msg(cJSON_IsArray(ids) && cJSON_IsObject(hash) &&
                      cJSON_IsNumber(count),
                  "no presence ids/hash/count in subscription data");
    ck_assert_int_eq(count->valueint, n);
    ck_assert_int_eq(cJSON_GetArraySize(ids), n);
    ck_assert_int_eq(cJSON_GetArraySize(hash), n);
    for (int i = 0; i < n; i++) {
        int seen = 0;
        const cJSON *info = cJSON_GetObjectItemCaseSensitive(hash, users[i]);
        cJSON_ArrayForEach(id, ids)
        {
            seen += cJSON_IsString(id) &&
                    strcmp(id->valuestring, users[i]) == 0;
        }
        ck_assert_msg(seen == 1, "%s listed %d times in ids", users[i], seen);
        ck_assert_msg(info != NULL, "%s missing from hash", users[i]);
        ck_assert_str_eq(e2e_str(info, "name"), users[i]);
    }
    cJSON_Delete(data);
}

/* The next member announcement is `event` for `user`; other frames are
 * skipped. */
static void expect_member(struct e2e_pusher *p, const char *event,
                          const char *user, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    cJSON *f;

    for (;;) {
        int left = (int)(end - now_ms());
        const char *ev;

        ck_assert_msg(now_ms() < end, "no %s for %s", event, user);
        f = e2e_pusher_next(p, left);
        ck_assert_msg(f != NULL, "no %s for %s", event, user);
        ev = e2e_event(f);
        if (strncmp(ev, "pusher_internal:member_", 23) == 0) {
            break;
        }
        cJSON_Delete(f);
    }
    {
        cJSON *d = e2e_data(f);
        ck_assert_msg(strcmp(e2e_event(f), event) == 0,
                      "%s arrived where %s for %s was due",
                      e2e_event(f), event, user);
        ck_assert_str_eq(e2e_str(d, "user_id"), user);
        cJSON_Delete(d);
    }
    cJSON_Delete(f);
}

/* No member announcement of any kind arrives for QUIET_MS. */
static void expect_no_member_news(struct e2e_pusher *p)
{
    cJSON *f;

    while ((f = e2e_pusher_next(p, QUIET_MS)) != NULL) {
        ck_assert_msg(strncmp(e2e_event(f), "pusher_internal:member_", 23) !=
                          0,
                      "unexpected %s frame", e2e_event(f));
        cJSON_Delete(f);
    }
}

/* Exactly one `event` for `user`, then no other announcement. */
static void expect_once(struct e2e_pusher *p, const char *event,
                        const char *user)
{
    expect_member(p, event, user, E2E_TIMEOUT_MS);
    expect_no_member_news(p);
}

/* u1 on A, u2 on B, u1 again on B, u3 on C: every list is the union,
 * u1 once; u3's join is announced once to everyone else; u1 leaving A
 * changes nothing, u1 leaving B too removes u1 everywhere. */
START_TEST(members_span_nodes)
{
    static const char ch[] = "presence-cl-span";
    static const char *const u12[] = {"u1", "u2"};
    static const char *const u123[] = {"u1", "u2", "u3"};
    static const char *const u23[] = {"u2", "u3"};
    static const char *const u1239[] = {"u1", "u2", "u3", "u9"};
    struct e2e_server s[NODES];
    struct e2e_pusher a1, b2, b1, c3, late;

    start_nodes(s);
    expect_members(join(&a1, s, NODE_A, ch, "u1"), u12, 1);
    wait_fields(ch, 1);
    expect_members(join(&b2, s, NODE_B, ch, "u2"), u12, 2);
    expect_once(&a1, "pusher_internal:member_added", "u2");
    wait_fields(ch, 2);
    expect_members(join(&b1, s, NODE_B, ch, "u1"), u12, 2);
    wait_fields(ch, 3);
    expect_no_member_news(&a1);
    expect_no_member_news(&b2);

    expect_members(join(&c3, s, NODE_C, ch, "u3"), u123, 3);
    expect_once(&a1, "pusher_internal:member_added", "u3");
    expect_once(&b2, "pusher_internal:member_added", "u3");
    expect_once(&b1, "pusher_internal:member_added", "u3");
    wait_fields(ch, 4);
    expect_no_member_news(&c3);

    /* u1 leaves A but stays on B. */
    e2e_pusher_close(&a1);
    wait_fields(ch, 3);
    expect_no_member_news(&b2);
    expect_no_member_news(&b1);
    expect_no_member_news(&c3);
    expect_members(join(&late, s, NODE_A, ch, "u9"), u1239, 4);
    expect_once(&b2, "pusher_internal:member_added", "u9");
    expect_once(&c3, "pusher_internal:member_added", "u9");
    e2e_pusher_close(&late);
    expect_once(&b2, "pusher_internal:member_removed", "u9");
    expect_once(&c3, "pusher_internal:member_removed", "u9");

    /* u1's last connection goes. */
    e2e_pusher_close(&b1);
    expect_once(&b2, "pusher_internal:member_removed", "u1");
    expect_once(&c3, "pusher_internal:member_removed", "u1");
    wait_fields(ch, 2);
    expect_members(join(&late, s, NODE_A, ch, "u2"), u23, 2);
    e2e_pusher_close(&late);
    e2e_pusher_close(&b2);
    e2e_pusher_close(&c3);
    stop_nodes(s);
}
END_TEST

/* SIGKILL node C: u3, only there, leaves the surviving nodes' views with
 * one member_removed each, within the heartbeat bound; u2, also on B,
 * stays; a later view does not list u3. */
START_TEST(dead_node_members_removed)
{
    static const char ch[] = "presence-cl-kill";
    static const char *const u12[] = {"u1", "u2"};
    static const char *const u123[] = {"u1", "u2", "u3"};
    struct e2e_server s[NODES];
    struct e2e_pusher a1, b2, c3, c2, late;
    uint64_t t0, ta, tb;
    int status = 0;

    start_nodes(s);
    expect_members(join(&a1, s, NODE_A, ch, "u1"), u12, 1);
    wait_fields(ch, 1);
    expect_members(join(&b2, s, NODE_B, ch, "u2"), u12, 2);
    expect_once(&a1, "pusher_internal:member_added", "u2");
    wait_fields(ch, 2);
    expect_members(join(&c3, s, NODE_C, ch, "u3"), u123, 3);
    expect_once(&a1, "pusher_internal:member_added", "u3");
    expect_once(&b2, "pusher_internal:member_added", "u3");
    wait_fields(ch, 3);
    expect_members(join(&c2, s, NODE_C, ch, "u2"), u123, 3);
    wait_fields(ch, 4);
    expect_no_member_news(&a1);
    expect_no_member_news(&b2);
    expect_no_member_news(&c3);

    t0 = now_ms();
    ck_assert_int_eq(kill(s[NODE_C].pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(s[NODE_C].pid, &status, 0), s[NODE_C].pid);
    s[NODE_C].pid = -1;
    e2e_pusher_close(&c3);
    e2e_pusher_close(&c2);
    expect_member(&a1, "pusher_internal:member_removed", "u3",
                  REMOVAL_LIMIT_MS + 5000);
    ta = now_ms() - t0;
    expect_member(&b2, "pusher_internal:member_removed", "u3",
                  (int)(REMOVAL_LIMIT_MS + 5000 - ta));
    tb = now_ms() - t0;
    printf("dead node's member removed after %llu ms on node A, "
           "%llu ms on node B\n", (unsigned long long)ta,
           (unsigned long long)tb);
    fflush(stdout);
    ck_assert_msg(ta <= REMOVAL_LIMIT_MS && tb <= REMOVAL_LIMIT_MS,
                  "removal took %llu/%llu ms, bound %d ms",
                  (unsigned long long)ta, (unsigned long long)tb,
                  REMOVAL_LIMIT_MS);
    expect_no_member_news(&a1);
    expect_no_member_news(&b2);
    wait_fields(ch, 2);
    expect_members(join(&late, s, NODE_A, ch, "u2"), u12, 2);
    e2e_pusher_close(&late);
    e2e_pusher_close(&a1);
    e2e_pusher_close(&b2);
    stop_nodes(s);
}
END_TEST

/* Node C is killed and started again at once with the same node id, and
 * nobody subscribes there again: its heartbeat never lapses, but the
 * earlier run's u3 must still leave the other nodes' views. */
START_TEST(node_restarted_same_id)
{
    static const char ch[] = "presence-cl-restart";
    static const char *const u123[] = {"u1", "u2", "u3"};
    static const char *const u13[] = {"u1", "u3"};
    struct e2e_server s[NODES];
    struct e2e_pusher a1, b2, c3;
    char id[16];
    const char *args[] = {"--store",   redis.url, "--cluster",
                          "--node-id", id,        NULL};
    uint64_t t0, took;
    int status = 0;

    start_nodes(s);
    expect_members(join(&a1, s, NODE_A, ch, "u1"), u123, 1);
    wait_fields(ch, 1);
    expect_members(join(&c3, s, NODE_C, ch, "u3"), u13, 2);
    expect_once(&a1, "pusher_internal:member_added", "u3");
    wait_fields(ch, 2);
    /* Node A asks about node C once per heartbeat period (ttl/3). */
    usleep(RESDELIV_PRESENCE_DEFAULT_TTL_MS / 3 * 1000 + 500000);

    t0 = now_ms();
    ck_assert_int_eq(kill(s[NODE_C].pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(s[NODE_C].pid, &status, 0), s[NODE_C].pid);
    e2e_pusher_close(&c3);
    snprintf(id, sizeof(id), "node-%d", NODE_C);
    ck_assert_int_eq(e2e_server_start(&s[NODE_C], server_bin, args), 0);
    expect_member(&a1, "pusher_internal:member_removed", "u3",
                  REMOVAL_LIMIT_MS + 5000);
    took = now_ms() - t0;
    printf("restarted node's earlier member removed after %llu ms\n",
           (unsigned long long)took);
    fflush(stdout);
    ck_assert_msg(took <= REMOVAL_LIMIT_MS, "removal took %llu ms",
                  (unsigned long long)took);
    expect_no_member_news(&a1);
    wait_fields(ch, 1);
    expect_members(join(&b2, s, NODE_B, ch, "u2"), u123, 2);
    e2e_pusher_close(&a1);
    e2e_pusher_close(&b2);
    stop_nodes(s);
}
END_TEST

static Suite *cluster_presence_suite(void)
{
    Suite *s = suite_create("cluster_presence");
    TCase *span = tcase_create("span");
    TCase *faults = tcase_create("faults");

    tcase_add_test(span, members_span_nodes);
    tcase_set_timeout(span, 120);
    tcase_add_test(faults, dead_node_members_removed);
    tcase_add_test(faults, node_restarted_same_id);
    tcase_set_timeout(faults, 120);
    suite_add_tcase(s, span);
    suite_add_tcase(s, faults);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/resdeliv-server\n", argv[0]);
        return 1;
    }
    server_bin = argv[1];
    return redis_suite_run(&redis, NULL, cluster_presence_suite());
}
