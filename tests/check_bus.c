/* SPDX-License-Identifier: MIT */
/*
 * The Redis bus against a private redis-server (bus_fixture.h), on its
 * own: parsing of bus messages, argument checks, live delivery (order,
 * duplicates and bad messages, epochs, the window) and reference counted
 * subscriptions in batches. Catch-up after interruptions and freeing with
 * work in flight are in check_bus_catchup.c.
 */
#include "bus_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- parse ---- */

static int parses(const char *text)
{
    struct resdeliv__bus_msg m;
    return resdeliv__bus_parse(text, strlen(text), &m);
}

START_TEST(parse_good)
{
    const char *t = "RD1 ab-C_9 1700000000000-3 1 7\nmessage{\"a\":1}";
    struct resdeliv__bus_msg m;

    ck_assert_int_eq(resdeliv__bus_parse(t, strlen(t), &m), 0);
    ck_assert_str_eq(m.pos.epoch, "ab-C_9");
    ck_assert(m.pos.id.ms == 1700000000000ULL && m.pos.id.seq == 3);
    ck_assert_uint_eq(m.flags, 1);
    ck_assert_uint_eq(m.event_len, 7);
    ck_assert(memcmp(m.event, "message", 7) == 0);
    ck_assert_uint_eq(m.data_len, 7);
    ck_assert(memcmp(m.data, "{\"a\":1}", 7) == 0);
    /* Empty event and data; data with a newline and a NUL byte. */
    ck_assert_int_eq(parses("RD1 e 1-0 0 0\n"), 0);
    ck_assert_int_eq(resdeliv__bus_parse("RD1 e 1-0 0 1\nxa\nb\0c", 20, &m), 0);
    ck_assert_uint_eq(m.data_len, 5);
    ck_assert_uint_eq(m.flags, 0);
}
END_TEST

START_TEST(parse_bad)
{
    static const char *const bad[] = {
        "",
        "RD1",
        "RD2 e 1-0 0 0\n",
        "rd1 e 1-0 0 0\n",
        "RD1  e 1-0 0 0\n", /* double space */
        "RD1 e! 1-0 0 0\n", /* epoch character */
        "RD1 0123456789012345678901234567890123 1-0 0 0\n", /* epoch long */
        "RD1 e 0-0 0 0\n",                                  /* zero id */
        "RD1 e 1 0 0\n",                                    /* id without seq */
        "RD1 e -1-0 0 0\n",
        "RD1 e 1-0 01 0\n",         /* leading zero */
        "RD1 e 1-0 4294967296 0\n", /* flags overflow */
        "RD1 e 1-0 +1 0\n",
        "RD1 e 1-0 0 5\nabc", /* event longer than the message */
        "RD1 e 1-0 0 99999999999999999999999\n",
        "RD1 e 1-0 0 0", /* no newline */
        "RD1 e 1-0 0 0 \n",
        "RD1 e 1-0 0\n",
        "RD1 e 1-0\n",
    };
    struct resdeliv__bus_msg m;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parses(bad[i]) == RESDELIV_EBADFRAME, "accepted '%s'",
                      bad[i]);
    }
    ck_assert_int_eq(resdeliv__bus_parse(NULL, 3, &m), RESDELIV_EBADFRAME);
    ck_assert_int_eq(resdeliv__bus_parse("RD1 e 1-0 0 0\n", 14, NULL),
                     RESDELIV_EBADFRAME);
}
END_TEST

/* ---- arguments ---- */

START_TEST(args_new)
{
    struct tloop l;
    struct resdeliv_loop h;
    struct resdeliv_redis_options o;
    struct resdeliv_bus_callbacks cb = {RESDELIV_STRUCT_HEAD(cb)};
    resdeliv_store *st = NULL;
    resdeliv_bus *b = (resdeliv_bus *)&l;
    char err[256];

    memset(&l, 0, sizeof(l));
    h = hooks(&l);
    resdeliv_redis_options_init(&o);
    o.url = srv.url;
    ck_assert_int_eq(resdeliv_store_memory_new(NULL, &st), 0);
    cb.entry = on_entry;
    cb.gap = on_gap;
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, NULL, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", NULL, &cb, &b, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(err, "store"));
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "app_id"));
    cb.gap = NULL;
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "gap"));
    cb.gap = on_gap;
    cb.abi_version = RESDELIV_ABI_VERSION + (1u << 16);
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EABI);
    cb.abi_version = RESDELIV_ABI_VERSION;
    o.url = "redis://127.0.0.1:99999";
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EBADURL);
    ck_assert_ptr_nonnull(strstr(err, "port"));
    o.url = srv.url;
    h.timer_stop = NULL;
    ck_assert_int_eq(
        resdeliv_bus_redis_new(&o, &h, "app", st, &cb, &b, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "timer_stop"));
    ck_assert_ptr_null(b);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(args_calls)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_bus_stats st;
    char longname[RESDELIV_MAX_CHANNEL_LEN + 2];

    memset(longname, 'x', sizeof(longname));
    ck_assert_int_eq(resdeliv_bus_subscribe(NULL, "a", 1), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, NULL, 1), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "a", 0), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "a\nb", 3),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, longname, sizeof(longname)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "never", 5),
                     RESDELIV_ENOENT);
    ck_assert_int_eq(resdeliv_bus_stats(NULL, &st, sizeof(st)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_bus_stats(n->bus, NULL, sizeof(st)),
                     RESDELIV_EINVAL);
    resdeliv_bus_free(NULL);
    node_free(n);
}
END_TEST

/* ---- live delivery ---- */

START_TEST(live_order)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_id ids[3];
    struct resdeliv_bus_stats st;

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "live1", 5), 0);
    wait_numsub(n, "live1", 1);
    ids[0] = publish(n, "live1", "ep1", "ev", "{\"n\":0}");
    ids[1] = publish(n, "live1", "ep1", "ev", "{\"n\":1}");
    ids[2] = publish(n, "live1", "ep1", "other", "plain");
    wait_entries(n, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(n->seen.e[i].channel, "live1");
        ck_assert_str_eq(n->seen.e[i].epoch, "ep1");
        ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[i].id, &ids[i]), 0);
        ck_assert_uint_eq(n->seen.e[i].flags, 1);
    }
    ck_assert_str_eq(n->seen.e[1].data, "{\"n\":1}");
    ck_assert_str_eq(n->seen.e[2].event, "other");
    ck_assert_str_eq(n->seen.e[2].data, "plain");
    st = stats(n);
    ck_assert_uint_eq(st.channels, 1);
    ck_assert_uint_eq(st.entries, 3);
    ck_assert_uint_eq(n->seen.ng, 0);
    node_free(n);
}
END_TEST

START_TEST(live_duplicates_and_bad)
{
    struct node *n = node_new(srv.url);
    char stream[128], ek[128], bus[128];
    struct resdeliv_id a, b;
    struct resdeliv_bus_stats st;

    keys("dup1", stream, ek, bus);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "dup1", 4), 0);
    wait_numsub(n, "dup1", 1);
    a = publish(n, "dup1", "ep1", "ev", "{}");
    wait_entries(n, 1);
    /* The same id again, an older one, and garbage: none handed over. */
    announce(n, "dup1", "ep1", &a, 1, "ev", "{}");
    freeReplyObject(cmd(n->rc, "PUBLISH %s %s", bus, "RD1 ep1 nope 0 0\n"));
    freeReplyObject(cmd(n->rc, "PUBLISH %s %s", bus, "hello"));
    b = publish(n, "dup1", "ep1", "ev", "{\"b\":1}");
    wait_entries(n, 2);
    ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[1].id, &b), 0);
    st = stats(n);
    ck_assert_uint_eq(st.duplicates, 1);
    ck_assert_uint_eq(st.bad_messages, 2);
    ck_assert_uint_eq(st.entries, 2);
    node_free(n);
}
END_TEST

START_TEST(live_epoch_change)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_id id;

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "ep1c", 4), 0);
    wait_numsub(n, "ep1c", 1);
    publish(n, "ep1c", "old", "ev", "{}");
    wait_entries(n, 1);
    /* A message of another epoch: a gap first, then the entry, even with
     * a lower id. */
    id.ms = 1;
    id.seq = 1;
    announce(n, "ep1c", "new", &id, 0, "ev", "{}");
    wait_entries(n, 2);
    ck_assert_uint_eq(n->seen.ng, 1);
    ck_assert_uint_eq(n->seen.g[0].reason, RESDELIV_GAP_EPOCH_CHANGED);
    ck_assert_str_eq(n->seen.g[0].epoch, "new");
    ck_assert_str_eq(n->seen.e[1].epoch, "new");
    ck_assert_uint_eq(stats(n).gaps, 1);
    node_free(n);
}
END_TEST

/* Entries appended between the starting point and the SUBSCRIBE are
 * read from the log: none falls between the two. */
START_TEST(live_window)
{
    struct node *n = node_new(srv.url);
    struct resdeliv_id before, inside;

    struct timespec pause = {0, 30 * 1000000L};

    before = append(n, "win1", "ep1", "ev", "{\"n\":0}");
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "win1", 4), 0);
    /* One turn writes the starting-point read and queues the SUBSCRIBE,
     * which goes out on the next turn; an entry appended in between is
     * announced to nobody: only the log has it. */
    loop_once(&n->loop, 0);
    nanosleep(&pause, NULL);
    ck_assert_int_eq(numsub(n, "win1"), 0);
    inside = append(n, "win1", "ep1", "ev", "{\"n\":1}");
    wait_numsub(n, "win1", 1);
    wait_entries(n, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&n->seen.e[0].id, &inside), 0);
    ck_assert_int_gt(resdeliv_id_cmp(&inside, &before), 0);
    loop_spin(&n->loop, 50);
    ck_assert_uint_eq(n->seen.ne, 1);
    node_free(n);
}
END_TEST

/* ---- subscriptions ---- */

START_TEST(subs_refcount)
{
    struct node *n = node_new(srv.url);

    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rc1", 3), 0);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rc1", 3), 0);
    wait_numsub(n, "rc1", 1);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "rc1", 3), 0);
    loop_spin(&n->loop, 50);
    ck_assert_int_eq(numsub(n, "rc1"), 1);
    ck_assert_uint_eq(stats(n).channels, 1);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "rc1", 3), 0);
    wait_numsub(n, "rc1", 0);
    ck_assert_uint_eq(stats(n).channels, 0);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "rc1", 3),
                     RESDELIV_ENOENT);
    /* Left and back before Redis answered: subscribed in the end. */
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rc1", 3), 0);
    wait_numsub(n, "rc1", 1);
    ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, "rc1", 3), 0);
    loop_once(&n->loop, 0);
    ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, "rc1", 3), 0);
    loop_spin(&n->loop, 100);
    wait_numsub(n, "rc1", 1);
    publish(n, "rc1", "ep1", "ev", "{}");
    wait_entries(n, 1);
    node_free(n);
}
END_TEST

START_TEST(subs_many)
{
    struct node *n = node_new(srv.url);
    char name[32];
    redisReply *r;
    int count = RESDELIV__BUS_BATCH * 2 + 17;

    for (int i = 0; i < count; i++) {
        int len = snprintf(name, sizeof(name), "many.%d", i);
        ck_assert_int_eq(resdeliv_bus_subscribe(n->bus, name, (size_t)len), 0);
    }
    wait_numsub(n, "many.0", 1);
    wait_numsub(n, "many.528", 1);
    loop_spin(&n->loop, 100);
    r = cmd(n->rc, "PUBSUB NUMPAT");
    freeReplyObject(r);
    r = cmd(n->rc, "PUBSUB CHANNELS delivery:{app:many.*");
    ck_assert_uint_eq(r->elements, (size_t)count);
    freeReplyObject(r);
    ck_assert_uint_eq(stats(n).channels, (uint64_t)count);
    publish(n, "many.300", "ep1", "ev", "{}");
    wait_entries(n, 1);
    ck_assert_str_eq(n->seen.e[0].channel, "many.300");
    for (int i = 0; i < count; i++) {
        int len = snprintf(name, sizeof(name), "many.%d", i);
        ck_assert_int_eq(resdeliv_bus_unsubscribe(n->bus, name, (size_t)len),
                         0);
    }
    wait_numsub(n, "many.528", 0);
    node_free(n);
}
END_TEST

static Suite *bus_suite(void)
{
    Suite *s = suite_create("bus");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_test(tc, parse_good);
    tcase_add_test(tc, parse_bad);
    suite_add_tcase(s, tc);

    tc = tcase_create("args");
    tcase_add_test(tc, args_new);
    tcase_add_test(tc, args_calls);
    suite_add_tcase(s, tc);

    tc = tcase_create("live");
    tcase_add_test(tc, live_order);
    tcase_add_test(tc, live_duplicates_and_bad);
    tcase_add_test(tc, live_epoch_change);
    tcase_add_test(tc, live_window);
    suite_add_tcase(s, tc);

    tc = tcase_create("subscriptions");
    tcase_add_test(tc, subs_refcount);
    tcase_add_test(tc, subs_many);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return redis_suite_run(&srv, NULL, bus_suite());
}
