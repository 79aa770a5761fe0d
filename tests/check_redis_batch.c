/* SPDX-License-Identifier: MIT */
/*
 * Appends of the Redis store as pure functions, without a server: how a
 * batch is grouped, the commands of a group's plain pipeline and of its
 * script call, and what every combination of pipeline replies means
 * (stored, fall back to the script, or failed because the log changed
 * under the append). The store tests (check_store_redis*.c) run the same
 * code against a real redis-server; the races judged here cannot be made
 * to happen on demand there.
 */
#include "redis_internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char errbuf[512];

/* The words of a command, space-separated. */
static const char *words(const struct resdeliv__redis_cmd *cmd, char *buf,
                         size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < cmd->argc; i++) {
        used += (size_t)snprintf(buf + used, size - used, "%s%.*s",
                                 i ? " " : "", (int)cmd->len[i],
                                 cmd->argv[i]);
        ck_assert_uint_lt(used, size);
    }
    return buf;
}

static redisReply reply_of(int type, const char *s)
{
    redisReply r;

    memset(&r, 0, sizeof(r));
    r.type = type;
    r.str = (char *)s;
    r.len = s != NULL ? strlen(s) : 0;
    return r;
}

static void batch_of(struct resdeliv__redis_batch *b,
                     const struct resdeliv_append_item *items, size_t n)
{
    struct resdeliv__redis_epochs pool;

    memset(&pool, 0, sizeof(pool));
    ck_assert_int_eq(resdeliv__redis_batch_init(b, "t", 1, "app", 3, items, n,
                                                &pool),
                     0);
}

/* Feed a whole pipeline of group g: `r[0..n)`; the last call's answer.
 * Every earlier reply must leave more to come. */
static int feed(struct resdeliv__redis_batch *b, size_t g,
                const redisReply *const *r, size_t n)
{
    int st = -1;

    errbuf[0] = '\0';
    ck_assert_uint_eq(b->groups[g].ncmds, n);
    for (size_t i = 0; i < n; i++) {
        st = resdeliv__redis_batch_pipe_reply(b, g, r[i], errbuf,
                                              sizeof(errbuf));
        if (i + 1 < n) {
            ck_assert_int_eq(st, RESDELIV__REDIS_MORE);
        }
    }
    return st;
}

/* ---- commands ---- */

/* Items sort by channel into one group per log; each sole group gets a
 * pipeline: GET, its XADDs (the last one trims), GET, and the age's
 * XTRIM and PEXPIREs. */
START_TEST(pipe_commands)
{
    struct resdeliv_append_item it[3] = {
        {"solo", 4, "ev", 2, "{}", 2, {100, 5000}, 0, 0},
        {"pair", 4, "ev", 2, "a", 1, {100, 0}, 0, 0},
        {"pair", 4, "ev", 2, "b", 1, {100, 0}, 0, 0}};
    static const char *const pair[4] = {
        "GET t:{app:pair}:epoch", "XADD t:{app:pair} NOMKSTREAM * e ev d a",
        "XADD t:{app:pair} NOMKSTREAM MAXLEN ~ 100 * e ev d b",
        "GET t:{app:pair}:epoch"};
    static const char *const solo[6] = {
        "GET t:{app:solo}:epoch",
        "XADD t:{app:solo} NOMKSTREAM MAXLEN ~ 100 * e ev d {}",
        "GET t:{app:solo}:epoch",
        "XTRIM t:{app:solo} MINID ~ 95000",
        "PEXPIRE t:{app:solo} 5000",
        "PEXPIRE t:{app:solo}:epoch 5000"};
    struct resdeliv__redis_batch b;
    char buf[256];
    size_t n;

    batch_of(&b, it, 3);
    ck_assert_uint_eq(b.ngroups, 2);
    ck_assert_uint_eq(b.groups[0].count, 2);
    for (size_t g = 0; g < 2; g++) {
        ck_assert_int_eq(resdeliv__redis_batch_fast(&b, g, 70000), 1);
        ck_assert_int_eq(resdeliv__redis_batch_fast(&b, g, 60200), 1);
        /* No NOMKSTREAM before 6.2: the script does everything. */
        ck_assert_int_eq(resdeliv__redis_batch_fast(&b, g, 60016), 0);
        ck_assert_int_eq(resdeliv__redis_batch_fast(&b, g, 0), 0);
    }
    n = resdeliv__redis_batch_pipe(&b, 0, it, 100000, b.cmds);
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(words(&b.cmds[i], buf, sizeof(buf)), pair[i]);
    }
    n = resdeliv__redis_batch_pipe(&b, 1, it, 100000, b.cmds);
    ck_assert_uint_eq(n, RESDELIV__REDIS_PIPE_CMDS(1));
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(words(&b.cmds[i], buf, sizeof(buf)), solo[i]);
    }
    /* No MAXLEN without a cap; no MINID before the clock passes the age;
     * no age, no trim or expiry. */
    it[0].retention.max_messages = 0;
    ck_assert_uint_eq(resdeliv__redis_batch_pipe(&b, 1, it, 4000, b.cmds), 5);
    ck_assert_str_eq(words(&b.cmds[1], buf, sizeof(buf)),
                     "XADD t:{app:solo} NOMKSTREAM * e ev d {}");
    ck_assert_str_eq(words(&b.cmds[3], buf, sizeof(buf)), solo[4]);
    it[0].retention.max_age_ms = 0;
    ck_assert_uint_eq(resdeliv__redis_batch_pipe(&b, 1, it, 4000, b.cmds), 3);
    resdeliv__redis_batch_clear(&b);
}
END_TEST

/* A batch that publishes, or a log split over several groups, goes
 * through the script: its order within the log must survive a fall-back,
 * and a notification must leave with its XADD. */
START_TEST(script_when_needed)
{
    struct resdeliv_append_item it[3] = {
        {"x", 1, "ev", 2, "a", 1, {100, 0}, 0, 0},
        {"x", 1, "ev", 2, "b", 1, {50, 0}, 0, 0},
        {"y", 1, "ev", 2, "c", 1, {100, 0}, 0, 0}};
    struct resdeliv__redis_batch b;
    char buf[512];
    char want[512];

    batch_of(&b, it, 3);
    ck_assert_uint_eq(b.ngroups, 3);
    ck_assert_int_eq(resdeliv__redis_batch_fast(&b, 0, 70000), 0);
    ck_assert_int_eq(resdeliv__redis_batch_fast(&b, 1, 70000), 0);
    ck_assert_int_eq(resdeliv__redis_batch_fast(&b, 2, 70000), 1);
    resdeliv__redis_batch_argv(&b, 1, "sha1", it, 70000);
    snprintf(want, sizeof(want),
             "EVALSHA sha1 2 t:{app:x} t:{app:x}:epoch 50 0 %s 1 d ev b",
             b.groups[1].new_epoch);
    ck_assert_str_eq(words(&b.groups[1].cmd, buf, sizeof(buf)), want);
    b.publish = 1;
    ck_assert_int_eq(resdeliv__redis_batch_fast(&b, 2, 70000), 0);
    resdeliv__redis_batch_clear(&b);
}
END_TEST

/* Data marked RESDELIV_ENTRY_OBJECT is stored under "o"; a change of the
 * mark starts a new group, as a change of retention does. */
START_TEST(object_field)
{
    struct resdeliv_append_item it[3] = {
        {"x", 1, "ev", 2, "{}", 2, {0, 0}, RESDELIV_ENTRY_OBJECT, 0},
        {"x", 1, "ev", 2, "[]", 2, {0, 0}, 0, 0},
        {"y", 1, "ev", 2, "{}", 2, {0, 0}, RESDELIV_ENTRY_OBJECT, 0}};
    struct resdeliv__redis_batch b;
    char buf[512];

    batch_of(&b, it, 3);
    ck_assert_uint_eq(b.ngroups, 3);
    resdeliv__redis_batch_argv(&b, 0, NULL, it, 70000);
    ck_assert_int_eq(b.groups[0].cmd.argc, 12);
    ck_assert_uint_eq(b.groups[0].cmd.len[9], 1);
    ck_assert_int_eq(b.groups[0].cmd.argv[9][0], 'o');
    resdeliv__redis_batch_argv(&b, 1, NULL, it, 70000);
    ck_assert_int_eq(b.groups[1].cmd.argv[9][0], 'd');
    resdeliv__redis_batch_pipe(&b, 2, it, 0, b.cmds);
    ck_assert_str_eq(words(&b.cmds[1], buf, sizeof(buf)),
                     "XADD t:{app:y} NOMKSTREAM * e ev o {}");
    resdeliv__redis_batch_clear(&b);
}
END_TEST

/* Many logs, retentions, marks and runs longer than a script call takes:
 * every group's commands fit the batch's slots and argv[] (ASan checks
 * the bounds), and groups list every item once, in order per log. */
START_TEST(many_groups)
{
    enum { N = 3000 };
    struct resdeliv_append_item *it = calloc(N, sizeof(*it));
    unsigned char *seen = calloc(N, 1);
    static const char *const ch[5] = {"a", "bb", "a", "ccc", "a"};
    struct resdeliv__redis_batch b;
    unsigned seed = 7;
    size_t total = 0;

    ck_assert_ptr_nonnull(it);
    ck_assert_ptr_nonnull(seen);
    for (size_t i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        /* Long runs of "a", then short mixed ones. */
        const char *c = i < 1200 ? "a" : ch[(seed >> 16) % 5];
        it[i] = (struct resdeliv_append_item){
            c, strlen(c), "ev", 2, "{}", 2,
            {i < 1200 ? 10u : (seed >> 20) % 3, (seed >> 8) % 2 ? 500u : 0u},
            (seed >> 12) % 2 ? RESDELIV_ENTRY_OBJECT : 0u, 0};
    }
    batch_of(&b, it, N);
    ck_assert_uint_gt(b.ngroups, 3);
    for (size_t g = 0; g < b.ngroups; g++) {
        const struct resdeliv__redis_group *grp = &b.groups[g];
        ck_assert_uint_le(grp->count, RESDELIV__REDIS_GROUP_MAX);
        if (resdeliv__redis_batch_fast(&b, g, 70000)) {
            size_t m = resdeliv__redis_batch_pipe(&b, g, it, 100000,
                                                  b.cmds + total);
            ck_assert_uint_le(m, RESDELIV__REDIS_PIPE_CMDS(grp->count));
            total += m;
        } else {
            resdeliv__redis_batch_argv(&b, g, NULL, it, 70000);
            b.cmds[total++] = grp->cmd;
        }
        for (size_t k = grp->first; k < grp->first + grp->count; k++) {
            size_t idx = b.order[k];
            ck_assert_int_eq(seen[idx], 0);
            seen[idx] = 1;
            if (k > grp->first) {
                ck_assert_uint_lt(b.order[k - 1], idx);
            }
        }
    }
    ck_assert_uint_le(total, b.nslots);
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(seen[i], 1);
    }
    resdeliv__redis_batch_clear(&b);
    free(it);
    free(seen);
}
END_TEST

/* ---- replies ---- */

struct pipe_case {
    struct resdeliv_append_item it[2];
    struct resdeliv__redis_batch b;
    redisReply get1, add1, add2, get2;
    const redisReply *r[4];
};

/* A pipeline of two items on one log, replies set to "stored". */
static void case_open(struct pipe_case *c)
{
    memset(c, 0, sizeof(*c));
    c->it[0] = (struct resdeliv_append_item){"x", 1, "ev", 2, "{}", 2,
                                             {100, 0}, 0, 0};
    c->it[1] = c->it[0];
    batch_of(&c->b, c->it, 2);
    c->get1 = reply_of(REDIS_REPLY_STRING, "0123456789abcdef");
    c->add1 = reply_of(REDIS_REPLY_STRING, "5-1");
    c->add2 = reply_of(REDIS_REPLY_STRING, "5-2");
    c->get2 = c->get1;
    c->r[0] = &c->get1;
    c->r[1] = &c->add1;
    c->r[2] = &c->add2;
    c->r[3] = &c->get2;
}

static int case_run(struct pipe_case *c)
{
    ck_assert_uint_eq(resdeliv__redis_batch_pipe(&c->b, 0, c->it, 0,
                                                 c->b.cmds),
                      4);
    c->b.results[0].status = c->b.results[1].status = 1;
    return feed(&c->b, 0, c->r, 4);
}

/* Both GETs agree and every XADD added: stored, with ids and epoch. */
START_TEST(reply_stored)
{
    struct pipe_case c;

    case_open(&c);
    ck_assert_int_eq(case_run(&c), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(c.b.results[i].status, 0);
        ck_assert_str_eq(c.b.results[i].epoch, "0123456789abcdef");
        ck_assert_uint_eq(c.b.results[i].id.ms, 5);
        ck_assert_uint_eq(c.b.results[i].id.seq, (uint64_t)i + 1);
    }
    resdeliv__redis_batch_clear(&c.b);
}
END_TEST

/* Nothing counts: no stream (with or without an epoch key), or a stream
 * without its epoch key on both sides. The script takes over. */
START_TEST(reply_fallback)
{
    redisReply nil = reply_of(REDIS_REPLY_NIL, NULL);
    struct pipe_case c;

    for (int k = 0; k < 3; k++) {
        case_open(&c);
        if (k < 2) {
            c.r[1] = c.r[2] = &nil;
        }
        if (k > 0) {
            c.r[0] = c.r[3] = &nil;
        }
        ck_assert_int_eq(case_run(&c), RESDELIV__REDIS_FALLBACK);
        resdeliv__redis_batch_clear(&c.b);
    }
}
END_TEST

/* The log was created, lost or replaced between the commands: the items
 * fail, none is reported with an id or epoch it may not have. */
START_TEST(reply_changed)
{
    redisReply nil = reply_of(REDIS_REPLY_NIL, NULL);
    redisReply other = reply_of(REDIS_REPLY_STRING, "fedcba9876543210");
    struct pipe_case c;

    for (int k = 0; k < 5; k++) {
        case_open(&c);
        switch (k) {
        case 0: /* replaced: another epoch at the end */
            c.r[3] = &other;
            break;
        case 1: /* lost in the middle */
            c.r[2] = &nil;
            break;
        case 2: /* created by another client meanwhile */
            c.r[0] = &nil;
            break;
        case 3: /* lost and recreated, nothing of ours in it */
            c.r[1] = c.r[2] = &nil;
            c.r[3] = &other;
            break;
        default: /* its epoch key deleted meanwhile */
            c.r[3] = &nil;
            break;
        }
        ck_assert_int_eq(case_run(&c), 0);
        ck_assert_int_eq(c.b.results[0].status, RESDELIV_ESTORE);
        ck_assert_int_eq(c.b.results[1].status, RESDELIV_ESTORE);
        ck_assert_ptr_nonnull(strstr(errbuf, "during the append"));
        resdeliv__redis_batch_clear(&c.b);
    }
}
END_TEST

/* Error replies, a lost connection and malformed replies fail the items
 * with the first cause; later replies change nothing. */
START_TEST(reply_errors)
{
    redisReply wrong = reply_of(REDIS_REPLY_ERROR, "WRONGTYPE Operation");
    redisReply badid = reply_of(REDIS_REPLY_STRING, "not-an-id");
    redisReply badep = reply_of(REDIS_REPLY_STRING, "not a token!");
    redisReply num = reply_of(REDIS_REPLY_INTEGER, NULL);
    static const char *const want[5] = {"WRONGTYPE", "no reply", "XADD",
                                        "epoch", "XADD"};
    struct pipe_case c;

    for (int k = 0; k < 5; k++) {
        case_open(&c);
        switch (k) {
        case 0:
            c.r[1] = &wrong;
            c.r[2] = &badid; /* ignored: the first failure stays */
            break;
        case 1:
            c.r[2] = NULL;
            c.r[3] = NULL;
            break;
        case 2:
            c.r[2] = &badid;
            break;
        case 3:
            c.r[0] = &badep;
            break;
        default:
            c.r[1] = &num;
            break;
        }
        ck_assert_int_eq(case_run(&c), 0);
        ck_assert_int_eq(c.b.results[0].status, RESDELIV_ESTORE);
        ck_assert_int_eq(c.b.results[1].status, RESDELIV_ESTORE);
        ck_assert_msg(strstr(errbuf, want[k]) != NULL, "case %d: %s", k,
                      errbuf);
        resdeliv__redis_batch_clear(&c.b);
    }
}
END_TEST

/* An error from the age's commands fails the items too. */
START_TEST(reply_age_error)
{
    struct resdeliv_append_item it = {"x", 1, "ev", 2, "{}", 2, {0, 1000},
                                      0, 0};
    struct resdeliv__redis_batch b;
    redisReply ep = reply_of(REDIS_REPLY_STRING, "0123456789abcdef");
    redisReply id = reply_of(REDIS_REPLY_STRING, "9000-0");
    redisReply one = reply_of(REDIS_REPLY_INTEGER, NULL);
    redisReply oom = reply_of(REDIS_REPLY_ERROR, "OOM command not allowed");
    const redisReply *r[6] = {&ep, &id, &ep, &one, &oom, &one};

    batch_of(&b, &it, 1);
    ck_assert_uint_eq(resdeliv__redis_batch_pipe(&b, 0, &it, 10000, b.cmds),
                      6);
    ck_assert_int_eq(feed(&b, 0, r, 6), 0);
    ck_assert_int_eq(b.results[0].status, RESDELIV_ESTORE);
    ck_assert_ptr_nonnull(strstr(errbuf, "OOM"));
    r[4] = &one;
    resdeliv__redis_batch_pipe(&b, 0, &it, 10000, b.cmds);
    ck_assert_int_eq(feed(&b, 0, r, 6), 0);
    ck_assert_int_eq(b.results[0].status, 0);
    ck_assert_uint_eq(b.results[0].id.ms, 9000);
    resdeliv__redis_batch_clear(&b);
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *s = suite_create("redis_batch");
    TCase *tc = tcase_create("commands");

    tcase_add_test(tc, pipe_commands);
    tcase_add_test(tc, script_when_needed);
    tcase_add_test(tc, object_field);
    tcase_add_test(tc, many_groups);
    suite_add_tcase(s, tc);
    tc = tcase_create("replies");
    tcase_add_test(tc, reply_stored);
    tcase_add_test(tc, reply_fallback);
    tcase_add_test(tc, reply_changed);
    tcase_add_test(tc, reply_errors);
    tcase_add_test(tc, reply_age_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(batch_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
