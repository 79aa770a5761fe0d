/* SPDX-License-Identifier: MIT */
/*
 * The Redis bus against a private redis-server (bus_fixture.h) when
 * things go wrong: catch-up from the log after its pub/sub connection is
 * killed, across an epoch change, for a log that is gone and after Redis
 * restarts; and freeing the bus with work in flight or from inside its
 * own callback.
 */
#include "bus_fixture.h"

#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* ---- interruptions ---- */

START_TEST(catchup_after_kill)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_id ids[4];
    struct resdeliv_bus_stats st;

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "cu1", 3), 0);
    wait_numsub(n, "cu1", 1);
    ids[0] = publish(n, "cu1", "ep1", "ev", "{\"n\":0}");
    wait_entries(n, 1);
    kill_pubsub(n);
    /* Published while the bus is away: nobody hears the PUBLISH. */
    ids[1] = publish(n, "cu1", "ep1", "ev", "{\"n\":1}");
    ids[2] = publish(n, "cu1", "ep1", "ev", "{\"n\":2}");
    wait_entries(n, 3);
    wait_numsub(n, "cu1", 1);
    ids[3] = publish(n, "cu1", "ep1", "ev", "{\"n\":3}");
    wait_entries(n, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[i].id, &ids[i]), 0);
    }
    ck_assert_str_eq(n->seen.e[2].data, "{\"n\":2}");
    st = stats(n);
    ck_assert_uint_eq(st.reconnects, 1);
    ck_assert_uint_eq(st.caught_up, 2);
    ck_assert_uint_eq(st.gaps, 0);
    ck_assert_uint_eq(n->seen.ng, 0);
    node_free(n);
}
END_TEST

START_TEST(catchup_epoch_changed)
{
    struct node *n = node_new(srv.url);
    char stream[128], ek[128], bus[128];
    struct resdeliv_id fresh;

    keys("cu2", stream, ek, bus);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "cu2", 3), 0);
    wait_numsub(n, "cu2", 1);
    publish(n, "cu2", "ep1", "ev", "{}");
    wait_entries(n, 1);
    kill_pubsub(n);
    /* The log is lost and made again under a new epoch. */
    freeReplyObject(cmd(n->rc, "DEL %s %s", stream, ek));
    fresh = append(n, "cu2", "ep2", "ev", "{\"new\":1}");
    wait_entries(n, 2);
    ck_assert_uint_eq(n->seen.ng, 1);
    ck_assert_uint_eq(n->seen.g[0].reason, RESDELIV_GAP_EPOCH_CHANGED);
    ck_assert_str_eq(n->seen.g[0].epoch, "ep2");
    ck_assert_str_eq(n->seen.e[1].epoch, "ep2");
    ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[1].id, &fresh), 0);
    node_free(n);
}
END_TEST

START_TEST(catchup_missing)
{
    struct node *n = node_new(srv.url);
    char stream[128], ek[128], bus[128];

    keys("cu3", stream, ek, bus);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "cu3", 3), 0);
    wait_numsub(n, "cu3", 1);
    publish(n, "cu3", "ep1", "ev", "{}");
    wait_entries(n, 1);
    freeReplyObject(cmd(n->rc, "DEL %s %s", stream, ek));
    kill_pubsub(n);
    wait_numsub(n, "cu3", 1);
    ck_assert(loop_until(&n->loop, &n->seen.got_gap));
    ck_assert_uint_eq(n->seen.ng, 1);
    ck_assert_uint_eq(n->seen.g[0].reason, RESDELIV_GAP_MISSING);
    /* A new log then flows without another gap. */
    publish(n, "cu3", "ep9", "ev", "{}");
    wait_entries(n, 2);
    ck_assert_uint_eq(n->seen.ng, 1);
    node_free(n);
}
END_TEST

START_TEST(catchup_redis_restart)
{
    struct redis_server own;
    struct node *n;
    int rc;

    memset(&own, 0, sizeof(own));
    rc = redis_server_start(&own, NULL);
    ck_assert_int_eq(rc, REDIS_SERVER_OK);
    n = node_new(own.url);
    redisFree(n->rc);
    n->rc = redisConnect("127.0.0.1", own.port);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rs1", 3), 0);
    wait_numsub(n, "rs1", 1);
    publish(n, "rs1", "ep1", "ev", "{}");
    wait_entries(n, 1);
    redis_server_kill(&own);
    loop_spin(&n->loop, 100);
    ck_assert_int_eq(redis_server_restart(&own), REDIS_SERVER_OK);
    redisFree(n->rc);
    n->rc = redisConnect("127.0.0.1", own.port);
    /* No persistence: the log is gone, which the bus announces. */
    wait_numsub(n, "rs1", 1);
    ck_assert(loop_until(&n->loop, &n->seen.got_gap));
    ck_assert_uint_eq(n->seen.ng, 1);
    ck_assert_uint_eq(n->seen.g[0].reason, RESDELIV_GAP_MISSING);
    publish(n, "rs1", "ep2", "ev", "{}");
    wait_entries(n, 2);
    ck_assert_uint_ge(stats(n).reconnects, 1);
    node_free(n);
    redis_server_stop(&own);
}
END_TEST

/* The bus works but its store cannot reach Redis (here: a server of its
 * own, killed) when the bus's connection drops: the catch-up is tried
 * again after growing pauses (100 ms doubling), then announced as
 * store_unavailable. A store call that fails at once, inside the retry,
 * must not use up every attempt in that same retry. */
START_TEST(catchup_store_down)
{
    struct node *n = calloc(1, sizeof(*n));
    struct redis_server own;
    struct resdeliv_redis_options o;
    struct resdeliv_bus_callbacks cb = {RESDELIV_STRUCT_HEAD(cb)};
    struct timespec t0, t1;
    char err[256] = "";
    long ms;

    ck_assert_ptr_nonnull(n);
    memset(&own, 0, sizeof(own));
    ck_assert_int_eq(redis_server_start(&own, NULL), REDIS_SERVER_OK);
    n->h = hooks(&n->loop);
    resdeliv_redis_options_init(&o);
    o.url = own.url;
    ck_assert_int_eq(resdeliv_store_redis_async_new(&o, &n->h, &n->store,
                                                    err, sizeof(err)),
                     0);
    o.url = srv.url;
    cb.arg = &n->seen;
    cb.entry = on_entry;
    cb.gap = on_gap;
    ck_assert_int_eq(resdeliv_bus_redis_new(&o, &n->h, "app", n->store, &cb,
                                            &n->bus, err, sizeof(err)),
                     0);
    n->rc = redisConnect("127.0.0.1", srv.port);
    ck_assert(n->rc != NULL && n->rc->err == 0);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "sd1", 3), 0);
    wait_numsub(n, "sd1", 1);
    redis_server_kill(&own);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    freeReplyObject(redisCommand(n->rc, "CLIENT KILL TYPE pubsub"));
    /* Eight attempts take 7.9 s: allow twice the usual wait. */
    ck_assert(loop_until(&n->loop, &n->seen.got_gap) ||
              loop_until(&n->loop, &n->seen.got_gap));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 +
         (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_uint_eq(n->seen.ng, 1);
    ck_assert_uint_eq(n->seen.g[0].reason, RESDELIV_GAP_STORE_UNAVAILABLE);
    /* At least the first five pauses: 100 + 200 + 400 + 800 + 1600. */
    ck_assert_msg(ms >= 3100, "gave up after %ld ms", ms);
    node_free(n);
    redis_server_stop(&own);
}
END_TEST

/* ---- freeing ---- */

START_TEST(free_in_flight)
{
    struct node *n = node_new(srv.url);

    /* The starting-point read is in flight on the store. */
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "fr1", 3), 0);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "fr2", 3), 0);
    loop_once(&n->loop, 0);
    resdeliv_bus_free(n->bus);
    n->bus = NULL;
    loop_spin(&n->loop, 50);
    node_free(n);
}
END_TEST

START_TEST(free_in_callback)
{
    struct node *n = node_new(srv.url);

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "fr3", 3), 0);
    wait_numsub(n, "fr3", 1);
    n->seen.free_in_entry = &n->bus;
    publish(n, "fr3", "ep1", "ev", "{}");
    publish(n, "fr3", "ep1", "ev", "{}");
    wait_entries(n, 1);
    ck_assert_ptr_null(n->bus);
    loop_spin(&n->loop, 50);
    ck_assert_uint_eq(n->seen.ne, 1);
    node_free(n);
}
END_TEST

static Suite *bus_catchup_suite(void)
{
    Suite *s = suite_create("bus_catchup");
    TCase *tc;

    tc = tcase_create("catchup");
    tcase_add_test(tc, catchup_after_kill);
    tcase_add_test(tc, catchup_epoch_changed);
    tcase_add_test(tc, catchup_missing);
    tcase_add_test(tc, catchup_redis_restart);
    tcase_add_test(tc, catchup_store_down);
    suite_add_tcase(s, tc);

    tc = tcase_create("free");
    tcase_add_test(tc, free_in_flight);
    tcase_add_test(tc, free_in_callback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return redis_suite_run(&srv, NULL, bus_catchup_suite());
}
