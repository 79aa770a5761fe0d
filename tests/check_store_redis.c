/* SPDX-License-Identifier: MIT */
/*
 * The Redis store against a private redis-server: the shared store
 * conformance suite, then what only Redis has: the epoch key, approximate
 * trimming, age retention and expiry, several clients on one server,
 * AUTH, SELECT, a server that dies and comes back, and appends without
 * the script (a plain pipeline) with their fall-backs to it. The
 * pipeline's commands and the meaning of each reply are in
 * check_redis_batch.c.
 *
 * The shared server starts in main() (Check's parent process) with small
 * stream nodes so approximate trimming shows on small logs; tests that
 * kill a server or need other settings start their own.
 */
#include "redis_internal.h"
#include "redis_suite.h"
#include "store_conformance.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NODE_ENTRIES 4

static struct redis_server srv;
static char errbuf[512];

static int make_store_url(const char *url, uint64_t cmd_ms,
                          resdeliv_store **out)
{
    struct resdeliv_redis_options o;

    resdeliv_redis_options_init(&o);
    o.url = url;
    o.key_prefix = "t";
    o.connect_timeout_ms = 1000;
    if (cmd_ms != 0) {
        o.command_timeout_ms = cmd_ms;
    }
    errbuf[0] = '\0';
    return resdeliv_store_redis_new(&o, out, errbuf, sizeof(errbuf));
}

static int make_store(resdeliv_store **out, void *arg)
{
    (void)arg;
    return make_store_url(srv.url, 0, out);
}

static resdeliv_store *store_or_fail(const char *url)
{
    resdeliv_store *st = NULL;
    int rc = make_store_url(url, 0, &st);
    ck_assert_msg(rc == 0, "store: %s (%s)", resdeliv_strerror(rc), errbuf);
    return st;
}

static redisContext *raw_connect(int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(c->err == 0, "raw connect: %s", c->errstr);
    return c;
}

static long long raw_key_int(redisContext *c, const char *cmd,
                             const char *key, size_t key_len)
{
    const char *argv[2] = {cmd, key};
    size_t len[2] = {strlen(cmd), key_len};
    redisReply *r = redisCommandArgv(c, 2, argv, len);
    long long v;
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static struct resdeliv__redis_keys keys_of(const char *app, const char *chan,
                                           size_t chan_len)
{
    struct resdeliv__redis_keys k;
    ck_assert_int_eq(resdeliv__redis_keys_build("t", 1, app, strlen(app),
                                                chan, chan_len, &k),
                     0);
    return k;
}

/* ---- synchronous wrappers ---- */

struct one_result {
    int called;
    struct resdeliv_append_result res;
};

static void on_append(void *arg, int status,
                      const struct resdeliv_append_result *res, size_t n)
{
    struct one_result *o = arg;
    o->called++;
    ck_assert_int_eq(status, 0);
    ck_assert_uint_ge(n, 1);
    o->res = res[n - 1];
}

static int append_raw(resdeliv_store *st, const char *app, const char *chan,
                      size_t chan_len, const char *data, uint64_t cap,
                      uint64_t age_ms, struct resdeliv_append_result *out)
{
    struct resdeliv_append_item it = {.channel = chan,
                                      .channel_len = chan_len,
                                      .event = "ev",
                                      .event_len = 2,
                                      .data = data,
                                      .data_len = strlen(data),
                                      .retention = {cap, age_ms}};
    struct one_result o;
    int rc;

    memset(&o, 0, sizeof(o));
    rc = resdeliv_store_append(st, app, strlen(app), &it, 1, on_append, &o);
    if (rc == 0) {
        ck_assert_int_eq(o.called, 1);
        if (out != NULL) {
            *out = o.res;
        }
        return o.res.status;
    }
    ck_assert_int_eq(o.called, 0);
    return rc;
}

static struct resdeliv_append_result append_ok(resdeliv_store *st,
                                               const char *app,
                                               const char *chan,
                                               const char *data)
{
    struct resdeliv_append_result r;
    int rc = append_raw(st, app, chan, strlen(chan), data, 1000, 0, &r);
    ck_assert_msg(rc == 0, "append: %s (%s)", resdeliv_strerror(rc),
                  resdeliv_store_errmsg(st));
    return r;
}

struct read_result {
    int called;
    size_t n;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    char data[8][64];
    struct resdeliv_id ids[8];
    uint32_t flags[8];
};

static void on_read(void *arg, int status,
                    const struct resdeliv_stored_entry *e, size_t n,
                    const char *epoch)
{
    struct read_result *o = arg;
    o->called++;
    o->n = n;
    snprintf(o->epoch, sizeof(o->epoch), "%s", epoch);
    for (size_t i = 0; i < n && i < 8; i++) {
        snprintf(o->data[i], sizeof(o->data[i]), "%.*s", (int)e[i].data_len,
                 e[i].data);
        o->ids[i] = e[i].id;
        o->flags[i] = e[i].flags;
    }
}

static void read_all(resdeliv_store *st, const char *app, const char *chan,
                     size_t chan_len, struct read_result *o)
{
    struct resdeliv_log_key k = {app, strlen(app), chan, chan_len};
    int rc;
    memset(o, 0, sizeof(*o));
    rc = resdeliv_store_read(st, &k, NULL, 8, on_read, o);
    ck_assert_msg(rc == 0, "read: %s (%s)", resdeliv_strerror(rc),
                  resdeliv_store_errmsg(st));
    ck_assert_int_eq(o->called, 1);
}

static void on_info(void *arg, int status,
                    const struct resdeliv_log_info *info)
{
    *(struct resdeliv_log_info *)arg = *info;
}

static struct resdeliv_log_info info_of(resdeliv_store *st, const char *app,
                                        const char *chan)
{
    struct resdeliv_log_key k = {app, strlen(app), chan, strlen(chan)};
    struct resdeliv_log_info in;
    memset(&in, 0xff, sizeof(in));
    ck_assert_int_eq(resdeliv_store_info(st, &k, NULL, 0, on_info, &in), 0);
    return in;
}

/* ---- epoch ---- */

START_TEST(epoch_key_lost)
{
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_keys k = keys_of("ep", "ch", 2);
    redisContext *c = raw_connect(srv.port);
    struct resdeliv_append_result a;
    struct resdeliv_append_result b;
    struct read_result r;

    append_ok(st, "ep", "ch", "old-1");
    a = append_ok(st, "ep", "ch", "old-2");
    ck_assert_int_eq(raw_key_int(c, "DEL", k.epoch, k.epoch_len), 1);
    /* Without its epoch the log reads as missing... */
    read_all(st, "ep", "ch", 2, &r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_str_eq(r.epoch, "");
    ck_assert_uint_eq(info_of(st, "ep", "ch").exists, 0);
    /* ...and the next append starts a new epoch without the old entries. */
    b = append_ok(st, "ep", "ch", "new");
    ck_assert_str_ne(a.epoch, b.epoch);
    read_all(st, "ep", "ch", 2, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.data[0], "new");
    ck_assert_str_eq(r.epoch, b.epoch);
    ck_assert_uint_eq(raw_key_int(c, "XLEN", k.stream, k.stream_len), 1);
    /* A lost stream with a surviving epoch key is a new epoch too. */
    ck_assert_int_eq(raw_key_int(c, "DEL", k.stream, k.stream_len), 1);
    a = append_ok(st, "ep", "ch", "newer");
    ck_assert_str_ne(a.epoch, b.epoch);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(two_nodes)
{
    resdeliv_store *one = store_or_fail(srv.url);
    resdeliv_store *two = store_or_fail(srv.url);
    struct resdeliv_append_result a[3];
    struct read_result r;
    struct resdeliv_log_info in;

    a[0] = append_ok(one, "nodes", "room", "n1-a");
    a[1] = append_ok(two, "nodes", "room", "n2-b");
    a[2] = append_ok(one, "nodes", "room", "n1-c");
    ck_assert_str_eq(a[0].epoch, a[1].epoch);
    ck_assert_str_eq(a[1].epoch, a[2].epoch);
    read_all(two, "nodes", "room", 4, &r);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_str_eq(r.data[0], "n1-a");
    ck_assert_str_eq(r.data[1], "n2-b");
    ck_assert_str_eq(r.data[2], "n1-c");
    ck_assert_int_eq(resdeliv_id_cmp(&r.ids[2], &a[2].id), 0);
    in = info_of(one, "nodes", "room");
    ck_assert_uint_eq(in.length, 3);
    ck_assert_int_eq(resdeliv_id_cmp(&in.last, &a[2].id), 0);
    ck_assert_str_eq(in.epoch, a[0].epoch);
    resdeliv_store_free(one);
    resdeliv_store_free(two);
}
END_TEST

/* ---- retention ---- */

static void publish_n(resdeliv_log *log, const char *chan, int n)
{
    for (int i = 0; i < n; i++) {
        struct resdeliv_message m = {chan, strlen(chan), "ev", 2,
                                     "{\"i\":1}", 7};
        struct resdeliv_publish_result res;
        memset(&res, 0, sizeof(res));
        ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
        ck_assert_msg(res.logged == 1, "not logged: %s",
                      resdeliv_log_errmsg(log));
        resdeliv_publish_result_clear(&res);
    }
}

static void assert_xlen(redisContext *c, const char *app, const char *chan,
                        long long cap)
{
    struct resdeliv__redis_keys k;
    long long len;
    ck_assert_int_eq(resdeliv__redis_keys_build("glob", 4, app, strlen(app),
                                                chan, strlen(chan), &k),
                     0);
    len = raw_key_int(c, "XLEN", k.stream, k.stream_len);
    /* MAXLEN ~ never keeps fewer than the cap, and trims whole nodes. */
    ck_assert_msg(len >= cap && len < cap + 2 * NODE_ENTRIES,
                  "%s: XLEN %lld for cap %lld", chan, len, cap);
    resdeliv__redis_keys_clear(&k);
}

START_TEST(retention_globs)
{
    struct resdeliv_retention_rule rules[] = {{"small-*", 10},
                                              {"mid-*", 25}};
    struct resdeliv_config cfg;
    resdeliv_log *log = NULL;
    redisContext *c = raw_connect(srv.port);
    int rc;

    resdeliv_config_init(&cfg);
    cfg.connection = srv.url;
    cfg.key_prefix = "glob";
    cfg.default_max_messages = 40;
    cfg.per_channel = rules;
    cfg.per_channel_count = 2;
    rc = resdeliv_log_open(&cfg, NULL, "ret", &log, errbuf, sizeof(errbuf));
    ck_assert_msg(rc == 0, "log_open: %s", errbuf);
    ck_assert_str_eq(resdeliv_store_name(resdeliv_log_store(log)), "redis");
    publish_n(log, "small-x", 150);
    publish_n(log, "mid-y", 150);
    publish_n(log, "other", 150);
    assert_xlen(c, "ret", "small-x", 10);
    assert_xlen(c, "ret", "mid-y", 25);
    assert_xlen(c, "ret", "other", 40);
    redisFree(c);
    resdeliv_log_close(log);
}
END_TEST

START_TEST(age_retention)
{
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_keys k = keys_of("age", "ch", 2);
    redisContext *c = raw_connect(srv.port);
    struct timespec wait = {0, 300 * 1000000L};
    long long pttl;
    long long len;

    for (int i = 0; i < 3 * NODE_ENTRIES; i++) {
        ck_assert_int_eq(append_raw(st, "age", "ch", 2, "x", 0, 200, NULL),
                         0);
    }
    pttl = raw_key_int(c, "PTTL", k.stream, k.stream_len);
    ck_assert(pttl > 0 && pttl <= 200);
    pttl = raw_key_int(c, "PTTL", k.epoch, k.epoch_len);
    ck_assert(pttl > 0 && pttl <= 200);
    /* Let the first entries age out, then append with a longer age so
     * the keys outlive the check. */
    nanosleep(&wait, NULL);
    ck_assert_int_eq(append_raw(st, "age", "ch", 2, "y", 0, 250, NULL), 0);
    len = raw_key_int(c, "XLEN", k.stream, k.stream_len);
    ck_assert_msg(len < NODE_ENTRIES + 1, "MINID ~ left %lld entries", len);
    ck_assert_int_ge(len, 1);
    ck_assert_uint_eq(info_of(st, "age", "ch").exists, 1);
    /* Idle: both keys expire, the log is gone. */
    nanosleep(&wait, NULL);
    ck_assert_int_eq(raw_key_int(c, "EXISTS", k.stream, k.stream_len), 0);
    ck_assert_int_eq(raw_key_int(c, "EXISTS", k.epoch, k.epoch_len), 0);
    ck_assert_uint_eq(info_of(st, "age", "ch").exists, 0);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

/* ---- names ---- */

START_TEST(binary_names)
{
    static const char *const chans[] = {"a b", "a\nb", "a{b}", "{a}", "a}",
                                        "a", "a%7D", "%"};
    const size_t n = sizeof(chans) / sizeof(chans[0]);
    resdeliv_store *st = store_or_fail(srv.url);
    struct read_result r;

    for (size_t i = 0; i < n; i++) {
        append_ok(st, "bin:a{}", chans[i], chans[i]);
    }
    for (size_t i = 0; i < n; i++) {
        read_all(st, "bin:a{}", chans[i], strlen(chans[i]), &r);
        ck_assert_uint_eq(r.n, 1);
        ck_assert_str_eq(r.data[0], chans[i]);
    }
    /* Same channel, different app ids that differ only around ':'. */
    append_ok(st, "x:y", "z", "1");
    append_ok(st, "x", "y:z", "2");
    read_all(st, "x:y", "z", 1, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.data[0], "1");
    resdeliv_store_free(st);
}
END_TEST

/* ---- connection options ---- */

static void start_own(struct redis_server *own, const char *const *extra)
{
    int rc = redis_server_start(own, extra);
    ck_assert_msg(rc == REDIS_SERVER_OK, "cannot start a second server");
}

START_TEST(auth_password)
{
    static const char *const extra[] = {"--requirepass", "s3cret", NULL};
    struct redis_server own;
    char url[160];
    resdeliv_store *st = NULL;
    int rc;

    start_own(&own, extra);
    snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/0", own.port);
    st = store_or_fail(url);
    append_ok(st, "auth", "ch", "x");
    resdeliv_store_free(st);
    /* ACL form: the default user with its password. */
    snprintf(url, sizeof(url), "redis://default:s3cret@127.0.0.1:%d",
             own.port);
    st = store_or_fail(url);
    append_ok(st, "auth", "ch", "y");
    resdeliv_store_free(st);
    st = NULL;
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", own.port);
    rc = make_store_url(url, 0, &st);
    ck_assert_int_eq(rc, RESDELIV_EAUTH);
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(errbuf, "AUTH") != NULL, "message: %s", errbuf);
    ck_assert_msg(strstr(errbuf, "wrong") == NULL, "password in message");
    /* No password at all: the first command is refused, clearly. */
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", own.port);
    rc = make_store_url(url, 0, &st);
    ck_assert_int_eq(rc, RESDELIV_ESTORE);
    ck_assert_msg(strstr(errbuf, "NOAUTH") != NULL, "message: %s", errbuf);
    redis_server_stop(&own);
}
END_TEST

START_TEST(select_db)
{
    char url[160];
    resdeliv_store *st;
    struct resdeliv__redis_keys k = keys_of("sel", "ch", 2);
    redisContext *c = raw_connect(srv.port);
    const char *sel[2] = {"SELECT", "3"};
    redisReply *r;
    int rc;

    snprintf(url, sizeof(url), "%s/3", srv.url);
    st = store_or_fail(url);
    append_ok(st, "sel", "ch", "x");
    ck_assert_int_eq(raw_key_int(c, "EXISTS", k.stream, k.stream_len), 0);
    r = redisCommandArgv(c, 2, sel, NULL);
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    ck_assert_int_eq(raw_key_int(c, "EXISTS", k.stream, k.stream_len), 1);
    resdeliv_store_free(st);
    st = NULL;
    /* A db the server does not have is refused at once. */
    snprintf(url, sizeof(url), "%s/999", srv.url);
    rc = make_store_url(url, 0, &st);
    ck_assert_int_eq(rc, RESDELIV_ESTORE);
    ck_assert_msg(strstr(errbuf, "SELECT") != NULL, "message: %s", errbuf);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
}
END_TEST

START_TEST(from_url_factory)
{
    resdeliv_store *st = NULL;
    int rc = resdeliv__store_from_url(srv.url, "fac", &st, errbuf,
                                      sizeof(errbuf));
    ck_assert_msg(rc == 0, "%s", errbuf);
    ck_assert_str_eq(resdeliv_store_name(st), "redis");
    ck_assert_uint_eq(resdeliv_store_flags(st), RESDELIV_STORE_SYNC);
    append_ok(st, "fac", "ch", "x");
    resdeliv_store_free(st);
    st = NULL;
    rc = resdeliv__store_from_url("redis://h:0", "fac", &st, errbuf,
                                  sizeof(errbuf));
    ck_assert_int_eq(rc, RESDELIV_EBADURL);
    ck_assert_ptr_nonnull(strstr(errbuf, "port"));
}
END_TEST

/* ---- faults ---- */

START_TEST(server_killed)
{
    struct redis_server own;
    resdeliv_store *st;
    struct resdeliv_append_result a;
    struct resdeliv_append_result b;
    struct read_result r;
    struct resdeliv_log_key k = {"kill", 4, "ch", 2};
    int rc;

    start_own(&own, NULL);
    st = store_or_fail(own.url);
    a = append_ok(st, "kill", "ch", "before");
    redis_server_kill(&own);
    rc = append_raw(st, "kill", "ch", 2, "lost", 100, 0, NULL);
    ck_assert_int_eq(rc, RESDELIV_ESTORE);
    ck_assert_str_ne(resdeliv_store_errmsg(st), "");
    /* Down: every call fails fast, none hangs or crashes. */
    ck_assert_int_eq(resdeliv_store_read(st, &k, NULL, 8, on_read, &r),
                     RESDELIV_ESTORE);
    ck_assert_int_eq(append_raw(st, "kill", "ch", 2, "lost", 100, 0, NULL),
                     RESDELIV_ESTORE);
    ck_assert_int_eq(redis_server_restart(&own), REDIS_SERVER_OK);
    /* Back: the next call reconnects; nothing was persisted, so the log
     * is a new epoch. */
    b = append_ok(st, "kill", "ch", "after");
    ck_assert_str_ne(a.epoch, b.epoch);
    read_all(st, "kill", "ch", 2, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.data[0], "after");
    resdeliv_store_free(st);
    redis_server_stop(&own);
}
END_TEST

START_TEST(server_stalled)
{
    struct redis_server own;
    resdeliv_store *st = NULL;
    int rc;

    start_own(&own, NULL);
    ck_assert_int_eq(make_store_url(own.url, 200, &st), 0);
    append_ok(st, "stall", "ch", "x");
    kill(own.pid, SIGSTOP);
    /* The command timeout turns a stalled server into an error. */
    rc = append_raw(st, "stall", "ch", 2, "y", 100, 0, NULL);
    kill(own.pid, SIGCONT);
    ck_assert_int_eq(rc, RESDELIV_ESTORE);
    append_ok(st, "stall", "ch", "z");
    resdeliv_store_free(st);
    redis_server_stop(&own);
}
END_TEST

START_TEST(unreachable_at_start)
{
    struct redis_server own;
    resdeliv_store *st = NULL;

    start_own(&own, NULL);
    redis_server_kill(&own);
    /* A server that is down does not fail the store: it connects later. */
    ck_assert_int_eq(make_store_url(own.url, 0, &st), 0);
    ck_assert_int_eq(append_raw(st, "late", "ch", 2, "x", 100, 0, NULL),
                     RESDELIV_ESTORE);
    ck_assert_int_eq(redis_server_restart(&own), REDIS_SERVER_OK);
    append_ok(st, "late", "ch", "y");
    resdeliv_store_free(st);
    redis_server_stop(&own);
}
END_TEST

START_TEST(script_flushed)
{
    resdeliv_store *st = store_or_fail(srv.url);
    redisContext *c = raw_connect(srv.port);
    const char *flush[2] = {"SCRIPT", "FLUSH"};
    redisReply *r;
    struct read_result rr;

    append_ok(st, "flush", "ch", "a");
    r = redisCommandArgv(c, 2, flush, NULL);
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    /* NOSCRIPT falls back to EVAL. */
    append_ok(st, "flush", "ch", "b");
    read_all(st, "flush", "ch", 2, &rr);
    ck_assert_uint_eq(rr.n, 2);
    redisFree(c);
    resdeliv_store_free(st);
}
END_TEST

/* ---- batches: one script call per log ---- */

struct batch_out {
    int called;
    size_t n;
    struct resdeliv_append_result *res;
};

static void on_batch(void *arg, int status,
                     const struct resdeliv_append_result *res, size_t n)
{
    struct batch_out *o = arg;
    o->called++;
    ck_assert_int_eq(status, 0);
    o->n = n;
    o->res = malloc(n * sizeof(*res));
    ck_assert_ptr_nonnull(o->res);
    memcpy(o->res, res, n * sizeof(*res));
}

struct seq_check {
    int called;
    size_t n;
    const struct resdeliv_id *want; /* ids expected, in order */
    size_t nwant;
};

static void on_seq(void *arg, int status,
                   const struct resdeliv_stored_entry *e, size_t n,
                   const char *epoch)
{
    struct seq_check *o = arg;
    (void)epoch;
    o->called++;
    ck_assert_int_eq(status, 0);
    ck_assert_uint_eq(n, o->nwant);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&e[i].id, &o->want[i]), 0);
    }
    o->n = n;
}

/* 3 logs interleaved; one of them longer than a script call takes and
 * with a retention change in the middle: results stay in item order,
 * ids ascend per log, one epoch per log, and every item is stored. */
START_TEST(batch_many_logs)
{
    enum { N = 1300 };
    static const char *const chans[3] = {"a", "b", "long"};
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv_append_item *items = calloc(N, sizeof(*items));
    struct resdeliv_id *ids = calloc(N, sizeof(*ids));
    struct batch_out o;
    char data[16];

    ck_assert_ptr_nonnull(items);
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < N; i++) {
        const char *ch = i % 10 < 2 ? chans[i % 10] : chans[2];
        items[i].channel = ch;
        items[i].channel_len = strlen(ch);
        items[i].event = "ev";
        items[i].event_len = 2;
        items[i].data = data;
        items[i].data_len = (size_t)snprintf(data, sizeof(data), "%zu", i);
        items[i].retention.max_messages = i < N / 2 ? 5000 : 4000;
    }
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(resdeliv_store_append(st, "bm", 2, items, N, on_batch,
                                           &o),
                     0);
    ck_assert_int_eq(o.called, 1);
    ck_assert_uint_eq(o.n, N);
    for (size_t c = 0; c < 3; c++) {
        struct resdeliv_log_key k = {"bm", 2, chans[c], strlen(chans[c])};
        struct resdeliv_id zero = {0, 0};
        struct seq_check sc;
        const struct resdeliv_append_result *prev = NULL;
        size_t m = 0;

        for (size_t i = 0; i < N; i++) {
            if (items[i].channel != chans[c]) {
                continue;
            }
            ck_assert_int_eq(o.res[i].status, 0);
            if (prev != NULL) {
                ck_assert_int_lt(resdeliv_id_cmp(&prev->id, &o.res[i].id), 0);
                ck_assert_str_eq(prev->epoch, o.res[i].epoch);
            }
            prev = &o.res[i];
            ids[m++] = o.res[i].id;
        }
        memset(&sc, 0, sizeof(sc));
        sc.want = ids;
        sc.nwant = m;
        ck_assert_int_eq(resdeliv_store_read(st, &k, &zero, N, on_seq, &sc),
                         0);
        ck_assert_int_eq(sc.called, 1);
    }
    free(o.res);
    free(ids);
    free(items);
    resdeliv_store_free(st);
}
END_TEST

/* A batch on a log whose epoch key vanished starts a new epoch: the old
 * entries are gone before the batch's first one is stored. */
START_TEST(batch_epoch_lost)
{
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_keys k = keys_of("bl", "ch", 2);
    redisContext *c = raw_connect(srv.port);
    struct resdeliv_append_item items[3];
    struct resdeliv_append_result old = append_ok(st, "bl", "ch", "old");
    struct batch_out o;

    append_ok(st, "bl", "ch", "old-2");
    ck_assert_int_eq(raw_key_int(c, "DEL", k.epoch, k.epoch_len), 1);
    for (size_t i = 0; i < 3; i++) {
        items[i] = (struct resdeliv_append_item){
            "ch", 2, "ev", 2, "new", 3, {1000, 0}, 0, 0};
    }
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(resdeliv_store_append(st, "bl", 2, items, 3, on_batch,
                                           &o),
                     0);
    ck_assert_int_eq(o.called, 1);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(o.res[i].status, 0);
        ck_assert_str_ne(o.res[i].epoch, old.epoch);
        ck_assert_str_eq(o.res[i].epoch, o.res[0].epoch);
    }
    ck_assert_int_eq(raw_key_int(c, "XLEN", k.stream, k.stream_len), 3);
    free(o.res);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

/* ---- info: counts without shipping the log ---- */

static struct resdeliv_log_info info_after(resdeliv_store *st,
                                           const struct resdeliv_id *after,
                                           uint64_t cap)
{
    struct resdeliv_log_key k = {"ic", 2, "ch", 2};
    struct resdeliv_log_info in;
    memset(&in, 0xff, sizeof(in));
    ck_assert_int_eq(resdeliv_store_info(st, &k, after, cap, on_info, &in),
                     0);
    ck_assert_uint_eq(in.exists, 1);
    return in;
}

static void assert_counts(const struct resdeliv_log_info *in, int64_t count,
                          int capped, const struct resdeliv_id *skip_to)
{
    ck_assert_int_eq(in->count_after, count);
    ck_assert_uint_eq(in->capped, (unsigned)capped);
    if (capped) {
        ck_assert_int_eq(resdeliv_id_cmp(&in->skip_to, skip_to), 0);
    }
}

/* Every branch: before the first entry, past the last, a few after (the
 * probe), many after (the count script), over the cap (skip_to). */
START_TEST(info_counts)
{
    enum { N = 200 };
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv_id id[N];
    struct resdeliv_id zero = {0, 0};
    struct resdeliv_id big = {UINT64_MAX, UINT64_MAX};
    struct resdeliv_log_info in;

    for (size_t i = 0; i < N; i++) {
        struct resdeliv_append_result r;
        ck_assert_int_eq(append_raw(st, "ic", "ch", 2, "x", 0, 0, &r), 0);
        id[i] = r.id;
    }
    in = info_after(st, NULL, 0);
    assert_counts(&in, N, 0, NULL);
    in = info_after(st, NULL, 50);
    assert_counts(&in, N, 1, &id[N - 51]);
    in = info_after(st, &zero, 250);
    assert_counts(&in, N, 0, NULL);
    in = info_after(st, &id[N - 1], 10);
    assert_counts(&in, 0, 0, NULL);
    in = info_after(st, &big, 10);
    assert_counts(&in, 0, 0, NULL);
    in = info_after(st, &id[150], 100);
    assert_counts(&in, 49, 0, NULL);
    in = info_after(st, &id[120], 100);
    assert_counts(&in, 79, 0, NULL);
    in = info_after(st, &id[10], 0);
    assert_counts(&in, 189, 0, NULL);
    in = info_after(st, &id[10], 100);
    assert_counts(&in, 189, 1, &id[99]);
    in = info_after(st, &id[190], 3);
    assert_counts(&in, 9, 1, &id[196]);
    resdeliv_store_free(st);
}
END_TEST

/* ---- single appends without the script ---- */

static void raw_ok(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_ne(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* Calls of `cmd` since the last CONFIG RESETSTAT. */
static long long calls_of(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    char pat[64];
    const char *p;
    long long n = 0;

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", cmd);
    p = strstr(r->str, pat);
    if (p != NULL) {
        n = strtoll(p + strlen(pat), NULL, 10);
    }
    freeReplyObject(r);
    return n;
}

/* The second and later appends of a log take no script: GET, XADD, GET;
 * the first one falls back to the script, which creates the log. Entries
 * keep the store's layout (fields e and d, or e and o for data marked
 * RESDELIV_ENTRY_OBJECT, which reads back with that flag). */
START_TEST(fast_path_taken)
{
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_keys k = keys_of("fp", "ch", 2);
    redisContext *c = raw_connect(srv.port);
    struct resdeliv_append_item obj = {"ch", 2, "ev", 2, "{\"o\":1}", 7,
                                       {1000, 0}, RESDELIV_ENTRY_OBJECT, 0};
    struct resdeliv_append_result a[6];
    struct batch_out o;
    struct read_result r;
    redisReply *x;

    raw_ok(c, "CONFIG RESETSTAT");
    a[0] = append_ok(st, "fp", "ch", "d0");
    ck_assert_int_eq(calls_of(c, "evalsha"), 1);
    ck_assert_int_eq(calls_of(c, "multi"), 0);
    raw_ok(c, "CONFIG RESETSTAT");
    for (int i = 1; i < 6; i++) {
        char d[8];
        snprintf(d, sizeof(d), "d%d", i);
        a[i] = append_ok(st, "fp", "ch", d);
        ck_assert_str_eq(a[i].epoch, a[0].epoch);
        ck_assert_int_lt(resdeliv_id_cmp(&a[i - 1].id, &a[i].id), 0);
    }
    ck_assert_int_eq(calls_of(c, "evalsha"), 0);
    ck_assert_int_eq(calls_of(c, "eval"), 0);
    ck_assert_int_eq(calls_of(c, "multi"), 0);
    ck_assert_int_eq(calls_of(c, "xadd"), 5);
    ck_assert_int_eq(calls_of(c, "get"), 10);
    read_all(st, "fp", "ch", 2, &r);
    ck_assert_uint_eq(r.n, 6);
    ck_assert_str_eq(r.data[5], "d5");
    ck_assert_str_eq(r.epoch, a[0].epoch);
    ck_assert_int_eq(resdeliv_id_cmp(&r.ids[5], &a[5].id), 0);
    x = redisCommand(c, "XRANGE %b - + COUNT 1", k.stream, k.stream_len);
    ck_assert(x != NULL && x->type == REDIS_REPLY_ARRAY && x->elements == 1);
    ck_assert_uint_eq(x->element[0]->element[1]->elements, 4);
    ck_assert_str_eq(x->element[0]->element[1]->element[0]->str, "e");
    ck_assert_str_eq(x->element[0]->element[1]->element[2]->str, "d");
    freeReplyObject(x);
    ck_assert_uint_eq(r.flags[5], 0);
    /* Object data goes under "o" and reads back flagged. */
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(resdeliv_store_append(st, "fp", 2, &obj, 1, on_batch, &o),
                     0);
    ck_assert_int_eq(o.res[0].status, 0);
    ck_assert_str_eq(o.res[0].epoch, a[0].epoch);
    ck_assert_int_eq(calls_of(c, "evalsha"), 0);
    x = redisCommand(c, "XREVRANGE %b + - COUNT 1", k.stream, k.stream_len);
    ck_assert(x != NULL && x->type == REDIS_REPLY_ARRAY && x->elements == 1);
    ck_assert_str_eq(x->element[0]->element[1]->element[2]->str, "o");
    freeReplyObject(x);
    read_all(st, "fp", "ch", 2, &r);
    ck_assert_uint_eq(r.n, 7);
    ck_assert_str_eq(r.data[6], "{\"o\":1}");
    ck_assert_uint_eq(r.flags[6], RESDELIV_ENTRY_OBJECT);
    ck_assert_uint_eq(r.flags[5], 0);
    free(o.res);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

/* The epoch key vanishes between appends: the pipeline's XADD lands in a
 * stream without its epoch, and the script it falls back to starts a new
 * epoch with that item, once, without the old entries. */
START_TEST(fast_epoch_lost)
{
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_keys k = keys_of("fe", "ch", 2);
    redisContext *c = raw_connect(srv.port);
    struct resdeliv_append_result old;
    struct resdeliv_append_result b;
    struct read_result r;

    append_ok(st, "fe", "ch", "old-1");
    old = append_ok(st, "fe", "ch", "old-2");
    ck_assert_int_eq(raw_key_int(c, "DEL", k.epoch, k.epoch_len), 1);
    raw_ok(c, "CONFIG RESETSTAT");
    b = append_ok(st, "fe", "ch", "new");
    ck_assert_int_eq(calls_of(c, "get"), 3); /* the script reads it too */
    ck_assert_int_eq(calls_of(c, "evalsha"), 1);
    ck_assert_str_ne(b.epoch, old.epoch);
    ck_assert_int_eq(raw_key_int(c, "XLEN", k.stream, k.stream_len), 1);
    read_all(st, "fe", "ch", 2, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.data[0], "new");
    ck_assert_str_eq(r.epoch, b.epoch);
    ck_assert_int_eq(resdeliv_id_cmp(&r.ids[0], &b.id), 0);
    /* The new epoch goes on without the script. */
    old = append_ok(st, "fe", "ch", "next");
    ck_assert_str_eq(old.epoch, b.epoch);
    ck_assert_int_eq(calls_of(c, "evalsha"), 1);
    ck_assert_int_eq(raw_key_int(c, "XLEN", k.stream, k.stream_len), 2);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

/* The stream vanishes, its epoch key stays: XADD NOMKSTREAM appends
 * nothing and the script makes a new log, with a new epoch. */
START_TEST(fast_stream_lost)
{
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_keys k = keys_of("fs", "ch", 2);
    redisContext *c = raw_connect(srv.port);
    struct resdeliv_append_result old = append_ok(st, "fs", "ch", "old");
    struct resdeliv_append_result b;
    struct read_result r;

    append_ok(st, "fs", "ch", "old-2");
    ck_assert_int_eq(raw_key_int(c, "DEL", k.stream, k.stream_len), 1);
    raw_ok(c, "CONFIG RESETSTAT");
    b = append_ok(st, "fs", "ch", "new");
    ck_assert_int_eq(calls_of(c, "evalsha"), 1);
    ck_assert_str_ne(b.epoch, old.epoch);
    read_all(st, "fs", "ch", 2, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.data[0], "new");
    ck_assert_str_eq(r.epoch, b.epoch);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

/* MINID and expiry on the fast path: entries older than the age go (by
 * whole nodes), the newest stays, both keys get the age as their TTL,
 * and the log is never recreated on the way. */
START_TEST(fast_age_retention)
{
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_keys k = keys_of("fa", "ch", 2);
    redisContext *c = raw_connect(srv.port);
    struct timespec wait = {0, 300 * 1000000L};
    struct resdeliv_append_result first;
    struct resdeliv_append_result last;
    struct read_result r;
    long long pttl;

    ck_assert_int_eq(append_raw(st, "fa", "ch", 2, "a", 0, 60000, &first),
                     0);
    raw_ok(c, "CONFIG RESETSTAT");
    for (int i = 0; i < 3 * NODE_ENTRIES; i++) {
        ck_assert_int_eq(append_raw(st, "fa", "ch", 2, "b", 0, 60000, NULL),
                         0);
    }
    /* Nothing is that old yet: nothing trimmed. */
    ck_assert_int_eq(raw_key_int(c, "XLEN", k.stream, k.stream_len),
                     3 * NODE_ENTRIES + 1);
    nanosleep(&wait, NULL);
    ck_assert_int_eq(append_raw(st, "fa", "ch", 2, "c", 0, 250, &last), 0);
    ck_assert_str_eq(last.epoch, first.epoch);
    ck_assert_int_eq(calls_of(c, "evalsha"), 0);
    ck_assert_int_eq(calls_of(c, "xtrim"), 3 * NODE_ENTRIES + 1);
    ck_assert_int_eq(calls_of(c, "pexpire"), 2 * (3 * NODE_ENTRIES + 1));
    read_all(st, "fa", "ch", 2, &r);
    ck_assert_msg(r.n >= 1 && r.n <= NODE_ENTRIES, "MINID ~ left %zu", r.n);
    ck_assert_str_eq(r.data[r.n - 1], "c");
    pttl = raw_key_int(c, "PTTL", k.stream, k.stream_len);
    ck_assert(pttl > 0 && pttl <= 250);
    pttl = raw_key_int(c, "PTTL", k.epoch, k.epoch_len);
    ck_assert(pttl > 0 && pttl <= 250);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

/* A WRONGTYPE reply to the pipeline's XADD fails that item with Redis's
 * message; the other items of the batch are unaffected. */
START_TEST(fast_wrongtype)
{
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_keys k = keys_of("fw", "bad", 3);
    redisContext *c = raw_connect(srv.port);
    struct resdeliv_append_item items[2] = {
        {"bad", 3, "ev", 2, "x", 1, {100, 0}, 0, 0},
        {"good", 4, "ev", 2, "y", 1, {100, 0}, 0, 0}};
    struct batch_out o;
    redisReply *x;

    append_ok(st, "fw", "bad", "a");
    append_ok(st, "fw", "good", "a");
    ck_assert_int_eq(raw_key_int(c, "DEL", k.stream, k.stream_len), 1);
    x = redisCommand(c, "SET %b notastream", k.stream, k.stream_len);
    ck_assert_ptr_nonnull(x);
    freeReplyObject(x);
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(resdeliv_store_append(st, "fw", 2, items, 2, on_batch,
                                           &o),
                     0);
    ck_assert_int_eq(o.called, 1);
    ck_assert_int_eq(o.res[0].status, RESDELIV_ESTORE);
    ck_assert_int_eq(o.res[1].status, 0);
    ck_assert_ptr_nonnull(strstr(resdeliv_store_errmsg(st), "WRONGTYPE"));
    free(o.res);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

/* One batch: a lone item on a log that exists, one on a new log, one on
 * a log whose epoch key vanished, and a new log of three. Each is one
 * pipeline; three fall back to the script; results keep the items'
 * order. */
START_TEST(fast_batch_mixed)
{
    static const char *const chans[6] = {"have", "trio", "new", "trio",
                                         "lost", "trio"};
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_keys k = keys_of("fm", "lost", 4);
    redisContext *c = raw_connect(srv.port);
    struct resdeliv_append_result have = append_ok(st, "fm", "have", "0");
    struct resdeliv_append_result lost = append_ok(st, "fm", "lost", "0");
    struct resdeliv_append_item items[6];
    struct batch_out o;
    struct read_result r;

    ck_assert_int_eq(raw_key_int(c, "DEL", k.epoch, k.epoch_len), 1);
    for (size_t i = 0; i < 6; i++) {
        items[i] = (struct resdeliv_append_item){
            chans[i], strlen(chans[i]), "ev", 2, "v", 1, {100, 0}, 0, 0};
    }
    raw_ok(c, "CONFIG RESETSTAT");
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(resdeliv_store_append(st, "fm", 2, items, 6, on_batch,
                                           &o),
                     0);
    ck_assert_int_eq(calls_of(c, "multi"), 0);
    ck_assert_int_eq(calls_of(c, "evalsha"), 3);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(o.res[i].status, 0);
    }
    ck_assert_str_eq(o.res[0].epoch, have.epoch);
    ck_assert_str_ne(o.res[4].epoch, lost.epoch);
    ck_assert_str_eq(o.res[1].epoch, o.res[5].epoch);
    ck_assert_int_lt(resdeliv_id_cmp(&o.res[1].id, &o.res[3].id), 0);
    ck_assert_int_lt(resdeliv_id_cmp(&o.res[3].id, &o.res[5].id), 0);
    read_all(st, "fm", "have", 4, &r);
    ck_assert_uint_eq(r.n, 2);
    read_all(st, "fm", "new", 3, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.epoch, o.res[2].epoch);
    read_all(st, "fm", "lost", 4, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&r.ids[0], &o.res[4].id), 0);
    read_all(st, "fm", "trio", 4, &r);
    ck_assert_uint_eq(r.n, 3);
    free(o.res);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

/* ---- SIGPIPE when the host did not ignore it ---- */

static int sigpipe_pending(void)
{
    sigset_t pend;
    sigpending(&pend);
    return sigismember(&pend, SIGPIPE) == 1;
}

static void publish_into_dead_server(int blocked_before)
{
    enum { BIG = 8 << 20 };
    struct redis_server own;
    resdeliv_store *st;
    sigset_t set;
    char *big = malloc(BIG + 1);

    ck_assert_ptr_nonnull(big);
    memset(big, 'x', BIG);
    big[BIG] = '\0';
    start_own(&own, NULL);
    st = store_or_fail(own.url);
    append_ok(st, "sp", "ch", "a");
    redis_server_kill(&own);
    for (int i = 0; i < 3; i++) {
        /* A write larger than the socket buffers into a connection the
         * peer reset: EPIPE, and a SIGPIPE, which would kill this
         * process unless the store consumed it. */
        ck_assert_int_ne(append_raw(st, "sp", "ch", 2, big, 10, 0, NULL), 0);
    }
    free(big);
    ck_assert_int_eq(sigpipe_pending(), blocked_before);
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    ck_assert_int_eq(sigpipe_pending(), blocked_before);
    resdeliv_store_free(st);
    redis_server_stop(&own);
}

START_TEST(sigpipe_default)
{
    signal(SIGPIPE, SIG_DFL);
    publish_into_dead_server(0);
}
END_TEST

/* A SIGPIPE the caller left pending (blocked) stays pending. */
START_TEST(sigpipe_blocked_pending)
{
    sigset_t set;

    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    raise(SIGPIPE);
    publish_into_dead_server(1);
}
END_TEST

/* ---- publishing on the bus channel (bus.h) ---- */

struct bus_msg {
    char channel[64];
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_id id;
    unsigned flags;
    char event[32];
    char data[64];
};

struct bus_sub {
    redisContext *c;
    size_t n;
    struct bus_msg m[64];
};

/* A plain subscriber to the bus channels of `chans` (app "pb"). */
static void sub_open(struct bus_sub *s, const char *const *chans, int n)
{
    memset(s, 0, sizeof(*s));
    s->c = raw_connect(srv.port);
    for (int i = 0; i < n; i++) {
        struct resdeliv__redis_keys k = keys_of("pb", chans[i],
                                                strlen(chans[i]));
        redisReply *r = redisCommand(s->c, "SUBSCRIBE %b:bus", k.stream,
                                     k.stream_len);
        ck_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
        freeReplyObject(r);
        resdeliv__redis_keys_clear(&k);
    }
}

/* One message in the bus form, strictly: `RD1 <epoch> <id> <flags>
 * <event_len>\n` + event + data. */
static void parse_bus(const redisReply *ch, const redisReply *r,
                      struct bus_msg *m)
{
    char id[RESDELIV_ID_BUFSIZE];
    unsigned long elen;
    int used = 0;

    ck_assert_uint_lt(ch->len, sizeof(m->channel));
    memcpy(m->channel, ch->str, ch->len);
    ck_assert_int_eq(sscanf(r->str, "RD1 %32s %41s %u %lu%n", m->epoch, id,
                            &m->flags, &elen, &used),
                     4);
    ck_assert_int_eq(resdeliv_id_parse(id, strlen(id), &m->id), 0);
    ck_assert_int_eq(r->str[used], '\n');
    used++;
    ck_assert_uint_le(used + elen, r->len);
    ck_assert_uint_lt(elen, sizeof(m->event));
    memcpy(m->event, r->str + used, elen);
    ck_assert_uint_lt(r->len - used - elen, sizeof(m->data));
    memcpy(m->data, r->str + used + elen, r->len - used - elen);
}

/* Everything published so far: a PING's answer comes after every message
 * PUBLISHed before it, so no wait is needed to see that none is missing
 * and none is extra. */
static void sub_drain(struct bus_sub *s)
{
    redisReply *r = NULL;

    ck_assert_int_eq(redisAppendCommand(s->c, "PING"), REDIS_OK);
    for (;;) {
        ck_assert_int_eq(redisGetReply(s->c, (void **)&r), REDIS_OK);
        ck_assert(r->type == REDIS_REPLY_ARRAY && r->elements >= 2);
        if (strcmp(r->element[0]->str, "pong") == 0) {
            freeReplyObject(r);
            return;
        }
        ck_assert_str_eq(r->element[0]->str, "message");
        ck_assert_uint_lt(s->n, 64);
        parse_bus(r->element[1], r->element[2], &s->m[s->n++]);
        freeReplyObject(r);
    }
}

static resdeliv_store *publishing_store(void)
{
    struct resdeliv_redis_options o;
    resdeliv_store *st = NULL;
    int rc;

    resdeliv_redis_options_init(&o);
    ck_assert_uint_eq(o.publish, 0);
    o.url = srv.url;
    o.key_prefix = "t";
    o.publish = 1;
    rc = resdeliv_store_redis_new(&o, &st, errbuf, sizeof(errbuf));
    ck_assert_msg(rc == 0, "store: %s (%s)", resdeliv_strerror(rc), errbuf);
    return st;
}

/* Message `m` announces result `r` of (chan, event "ev", data). */
static void assert_msg(const struct bus_msg *m, const char *chan,
                       const struct resdeliv_append_result *r,
                       const char *data, uint32_t flags)
{
    char want[64];

    snprintf(want, sizeof(want), "t:{pb:%s}:bus", chan);
    ck_assert_str_eq(m->channel, want);
    ck_assert_str_eq(m->epoch, r->epoch);
    ck_assert_int_eq(resdeliv_id_cmp(&m->id, &r->id), 0);
    ck_assert_uint_eq(m->flags, flags);
    ck_assert_str_eq(m->event, "ev");
    ck_assert_str_eq(m->data, data);
}

/* Lone appends publish from the script (no MULTI): the first creates the
 * log, the later ones would otherwise take the MULTI path. One PUBLISH
 * per entry, one client command per append. */
START_TEST(publish_single)
{
    static const char *const chans[1] = {"s"};
    resdeliv_store *st = publishing_store();
    redisContext *c = raw_connect(srv.port);
    struct resdeliv_append_result a[4];
    struct bus_sub sub;
    char d[8];

    sub_open(&sub, chans, 1);
    raw_ok(c, "CONFIG RESETSTAT");
    for (int i = 0; i < 4; i++) {
        snprintf(d, sizeof(d), "d%d", i);
        ck_assert_int_eq(append_raw(st, "pb", "s", 1, d, 1000, 0, &a[i]), 0);
    }
    ck_assert_int_eq(calls_of(c, "multi"), 0);
    ck_assert_int_eq(calls_of(c, "evalsha") + calls_of(c, "eval"), 4);
    ck_assert_int_eq(calls_of(c, "publish"), 4);
    sub_drain(&sub);
    ck_assert_uint_eq(sub.n, 4);
    for (int i = 0; i < 4; i++) {
        snprintf(d, sizeof(d), "d%d", i);
        assert_msg(&sub.m[i], "s", &a[i], d, 0);
    }
    redisFree(sub.c);
    redisFree(c);
    resdeliv_store_free(st);
}
END_TEST

/* A batch over two logs, interleaved: each log's channel gets its own
 * entries only, one message each, in id order, with the entry flags;
 * binary-safe data. */
START_TEST(publish_batch)
{
    static const char *const chans[2] = {"x", "y"};
    struct resdeliv_append_item it[7];
    resdeliv_store *st = publishing_store();
    struct bus_sub sub;
    struct batch_out o;
    char data[7][8];
    size_t k[2] = {0, 0};

    sub_open(&sub, chans, 2);
    for (size_t i = 0; i < 7; i++) {
        snprintf(data[i], sizeof(data[i]), "b%zu\n ", i);
        it[i] = (struct resdeliv_append_item){
            chans[i % 3 == 0], 1, "ev", 2, data[i], strlen(data[i]),
            {1000, 60000}, i % 2 ? RESDELIV_ENTRY_OBJECT : 0u, 0};
    }
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(resdeliv_store_append(st, "pb", 2, it, 7, on_batch, &o),
                     0);
    ck_assert_uint_eq(o.n, 7);
    sub_drain(&sub);
    ck_assert_uint_eq(sub.n, 7);
    /* Messages of one log in item order; item i is the k-th of its log. */
    for (size_t i = 0; i < 7; i++) {
        size_t log = (size_t)(i % 3 == 0);
        size_t seen = 0;
        for (size_t j = 0; j < sub.n; j++) {
            if (sub.m[j].channel[4] == chans[log][0] && seen++ == k[log]) {
                assert_msg(&sub.m[j], chans[log], &o.res[i], data[i],
                           it[i].flags);
            }
        }
        k[log]++;
    }
    free(o.res);
    redisFree(sub.c);
    resdeliv_store_free(st);
}
END_TEST

/* The epoch key vanishes: a lone append and then a batch announce the new
 * epoch, and nothing of the old log is announced again. */
START_TEST(publish_epoch_lost)
{
    static const char *const chans[1] = {"e"};
    resdeliv_store *st = publishing_store();
    struct resdeliv__redis_keys k = keys_of("pb", "e", 1);
    redisContext *c = raw_connect(srv.port);
    struct resdeliv_append_result a[3];
    struct resdeliv_append_item it[2] = {
        {"e", 1, "ev", 2, "n1", 2, {1000, 0}, 0, 0},
        {"e", 1, "ev", 2, "n2", 2, {1000, 0}, 0, 0}};
    struct bus_sub sub;
    struct batch_out o;

    sub_open(&sub, chans, 1);
    ck_assert_int_eq(append_raw(st, "pb", "e", 1, "old", 1000, 0, &a[0]), 0);
    ck_assert_int_eq(raw_key_int(c, "DEL", k.epoch, k.epoch_len), 1);
    ck_assert_int_eq(append_raw(st, "pb", "e", 1, "new", 1000, 0, &a[1]), 0);
    ck_assert_str_ne(a[1].epoch, a[0].epoch);
    ck_assert_int_eq(raw_key_int(c, "DEL", k.epoch, k.epoch_len), 1);
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(resdeliv_store_append(st, "pb", 2, it, 2, on_batch, &o),
                     0);
    ck_assert_str_ne(o.res[0].epoch, a[1].epoch);
    sub_drain(&sub);
    ck_assert_uint_eq(sub.n, 4);
    assert_msg(&sub.m[0], "e", &a[0], "old", 0);
    assert_msg(&sub.m[1], "e", &a[1], "new", 0);
    assert_msg(&sub.m[2], "e", &o.res[0], "n1", 0);
    assert_msg(&sub.m[3], "e", &o.res[1], "n2", 0);
    ck_assert_int_eq(raw_key_int(c, "XLEN", k.stream, k.stream_len), 2);
    free(o.res);
    redisFree(sub.c);
    redisFree(c);
    resdeliv__redis_keys_clear(&k);
    resdeliv_store_free(st);
}
END_TEST

/* Without the option nothing is published, and appends keep the
 * pipeline; the script's flag argument says which. */
START_TEST(publish_off)
{
    static const char *const chans[1] = {"o"};
    struct resdeliv_append_item it = {"o", 1, "ev", 2, "{}", 2, {0, 0}, 0, 0};
    resdeliv_store *st = store_or_fail(srv.url);
    struct resdeliv__redis_epochs pool;
    struct resdeliv__redis_batch b;
    struct bus_sub sub;

    sub_open(&sub, chans, 1);
    append_ok(st, "pb", "o", "a");
    append_ok(st, "pb", "o", "b");
    sub_drain(&sub);
    ck_assert_uint_eq(sub.n, 0);
    memset(&pool, 0, sizeof(pool));
    ck_assert_int_eq(resdeliv__redis_batch_init(&b, "t", 1, "pb", 2, &it, 1,
                                                &pool),
                     0);
    ck_assert_int_eq(resdeliv__redis_batch_fast(&b, 0, 70000), 1);
    resdeliv__redis_batch_argv(&b, 0, "sha", &it, 70000);
    ck_assert_int_eq(memcmp(b.groups[0].cmd.argv[8], "1", 1), 0);
    ck_assert_uint_eq(b.groups[0].cmd.len[8], 1);
    b.publish = 1;
    ck_assert_int_eq(resdeliv__redis_batch_fast(&b, 0, 70000), 0);
    resdeliv__redis_batch_argv(&b, 0, "sha", &it, 60000);
    ck_assert_int_eq(memcmp(b.groups[0].cmd.argv[8], "0p", 2), 0);
    ck_assert_uint_eq(b.groups[0].cmd.len[8], 2);
    resdeliv__redis_batch_clear(&b);
    redisFree(sub.c);
    resdeliv_store_free(st);
}
END_TEST

static Suite *redis_suite(void)
{
    Suite *s = suite_create("redis");
    TCase *tc = conformance_tcase("conformance", make_store, NULL,
                                  CONFORMANCE_KEEPS_FLAGS);

    suite_add_tcase(s, tc);
    tc = tcase_create("epoch");
    tcase_add_test(tc, epoch_key_lost);
    tcase_add_test(tc, two_nodes);
    suite_add_tcase(s, tc);
    tc = tcase_create("retention");
    tcase_add_test(tc, retention_globs);
    tcase_add_test(tc, age_retention);
    suite_add_tcase(s, tc);
    tc = tcase_create("names");
    tcase_add_test(tc, binary_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("connection");
    tcase_add_test(tc, auth_password);
    tcase_add_test(tc, select_db);
    tcase_add_test(tc, from_url_factory);
    suite_add_tcase(s, tc);
    tc = tcase_create("faults");
    tcase_add_test(tc, server_killed);
    tcase_add_test(tc, server_stalled);
    tcase_add_test(tc, unreachable_at_start);
    tcase_add_test(tc, script_flushed);
    tcase_add_test(tc, sigpipe_default);
    tcase_add_test(tc, sigpipe_blocked_pending);
    suite_add_tcase(s, tc);
    tc = tcase_create("batch");
    tcase_add_test(tc, batch_many_logs);
    tcase_add_test(tc, batch_epoch_lost);
    suite_add_tcase(s, tc);
    tc = tcase_create("info");
    tcase_add_test(tc, info_counts);
    suite_add_tcase(s, tc);
    tc = tcase_create("fast_path");
    tcase_add_test(tc, fast_path_taken);
    tcase_add_test(tc, fast_epoch_lost);
    tcase_add_test(tc, fast_stream_lost);
    tcase_add_test(tc, fast_age_retention);
    tcase_add_test(tc, fast_wrongtype);
    tcase_add_test(tc, fast_batch_mixed);
    suite_add_tcase(s, tc);

    tc = tcase_create("publish");
    tcase_add_test(tc, publish_single);
    tcase_add_test(tc, publish_batch);
    tcase_add_test(tc, publish_epoch_lost);
    tcase_add_test(tc, publish_off);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    static const char *const extra[] = {"--stream-node-max-entries", "4",
                                        NULL};

    return redis_suite_run(&srv, extra, redis_suite());
}
