/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of resdeliv-server on the Redis store (the event-loop
 * client on the server's libuv loop), against a private redis-server:
 * resume on the same server, and resume on another server process that
 * shares the history. Skips (77) without redis-server unless
 * RESDELIV_REQUIRE_REDIS=1.
 *
 * Usage: check_e2e_redis /path/to/resdeliv-server
 */
#include "../redis_suite.h"
#include "e2e_scenarios.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *server_bin;
static struct redis_server redis;

static void start_on_redis(struct e2e_server *s, const char *retention)
{
    const char *args[] = {"--store", redis.url, "--retention", retention, NULL};

    ck_assert_msg(e2e_server_start(s, server_bin, args) == 0,
                  "cannot start %s on %s", server_bin, redis.url);
}

START_TEST(resume_same_server)
{
    struct e2e_server s;

    start_on_redis(&s, "1000");
    e2e_resume_scenario(&s, &s, "redis-orders");
    ck_assert_int_eq(e2e_server_stop(&s), 0);
}
END_TEST

START_TEST(resume_on_another_server)
{
    struct e2e_server a, b;

    start_on_redis(&a, "1000");
    start_on_redis(&b, "1000");
    e2e_resume_scenario(&a, &b, "redis-shared");
    ck_assert_int_eq(e2e_server_stop(&a), 0);
    ck_assert_int_eq(e2e_server_stop(&b), 0);
}
END_TEST

START_TEST(gap_on_redis)
{
    struct e2e_server s;
    struct e2e_pusher p;
    struct e2e_mark mark;
    cJSON *gap;

    start_on_redis(&s, "5");
    ck_assert_int_eq(e2e_pusher_connect(&p, s.port), 0);
    e2e_subscribe_ok(&p, "redis-gap", NULL, NULL);
    e2e_publish_run(s.port, "redis-gap", "tick", 1, 1);
    e2e_expect_run(&p, "tick", 1, 1, &mark, NULL);
    e2e_pusher_close(&p);
    /* MAXLEN ~ trims whole stream nodes: publish well past the cap. */
    for (int n = 2; n < 402; n += 10) {
        ck_assert_int_eq(
            e2e_publish_batch(s.port, "redis-gap", "tick", n, 10, 0), 200);
    }
    ck_assert_int_eq(e2e_pusher_connect(&p, s.port), 0);
    e2e_subscribe_ok(&p, "redis-gap", &mark, NULL);
    gap = e2e_pusher_next(&p, E2E_TIMEOUT_MS);
    ck_assert_ptr_nonnull(gap);
    ck_assert_str_eq(e2e_event(gap), "resdeliv:gap");
    cJSON_Delete(gap);
    e2e_pusher_close(&p);
    ck_assert_int_eq(e2e_server_stop(&s), 0);
}
END_TEST

static Suite *e2e_redis_suite(void)
{
    Suite *s = suite_create("e2e_redis");
    TCase *resume = tcase_create("resume");
    TCase *gap = tcase_create("gap");

    tcase_add_test(resume, resume_same_server);
    tcase_add_test(resume, resume_on_another_server);
    tcase_add_test(gap, gap_on_redis);
    suite_add_tcase(s, resume);
    suite_add_tcase(s, gap);
    return s;
}

int main(int argc, char **argv)
{
    static const char *const extra[] = {"--stream-node-max-entries", "4", NULL};

    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/resdeliv-server\n", argv[0]);
        return 1;
    }
    server_bin = argv[1];
    return redis_suite_run(&redis, extra, e2e_redis_suite());
}
