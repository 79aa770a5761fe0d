/* SPDX-License-Identifier: MIT */
/*
 * Tests of the log handle: opening (app ids, configuration, stores),
 * publishing with tagging, untagged deliveries, refused client events,
 * batches in one store call, store failures in both on_log_failure modes,
 * counters and positions, reserved event names, and the marker entries
 * that announce messages sent untagged while the store failed. They run
 * on the real memory store; a counting wrapper, a failing vtable and a
 * wrapper that fails for a while stand in where the memory store cannot
 * show the behaviour (call counts, an unreachable store, one that comes
 * back).
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <resdeliv/resdeliv.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ----------------------------------------------------------- */

static struct resdeliv_message msg(const char *channel, const char *event,
                                   const char *data)
{
    struct resdeliv_message m;

    m.channel = channel;
    m.channel_len = channel != NULL ? strlen(channel) : 0;
    m.event = event;
    m.event_len = event != NULL ? strlen(event) : 0;
    m.data = data;
    m.data_len = data != NULL ? strlen(data) : 0;
    return m;
}

static resdeliv_store *memory_store(void)
{
    resdeliv_store *st = NULL;

    ck_assert_int_eq(resdeliv_store_memory_new(NULL, &st), 0);
    ck_assert_ptr_nonnull(st);
    return st;
}

static resdeliv_log *open_log(const struct resdeliv_config *cfg,
                              resdeliv_store *st, const char *app)
{
    resdeliv_log *log = NULL;
    char err[256] = "";
    int rc = resdeliv_log_open(cfg, st, app, &log, err, sizeof(err));

    ck_assert_msg(rc == 0, "open failed: %d %s", rc, err);
    ck_assert_ptr_nonnull(log);
    return log;
}

static struct resdeliv_counters counters_of(const resdeliv_log *log)
{
    struct resdeliv_counters c;

    ck_assert_int_eq(resdeliv_log_counters(log, &c, sizeof(c)), 0);
    return c;
}

/* A string member of a JSON object, or NULL. */
static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A store wrapper counting append calls, forwarding to a real store. */
struct counting {
    resdeliv_store *inner;
    int appends;
    size_t last_n;
};

static int cnt_append(void *self, const char *app, size_t app_len,
                      const struct resdeliv_append_item *items, size_t n,
                      resdeliv_append_cb cb, void *arg)
{
    struct counting *c = self;

    c->appends++;
    c->last_n = n;
    return resdeliv_store_append(c->inner, app, app_len, items, n, cb, arg);
}

static int cnt_read(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, size_t max,
                    resdeliv_read_cb cb, void *arg)
{
    struct counting *c = self;

    return resdeliv_store_read(c->inner, key, after, max, cb, arg);
}

static int cnt_info(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, uint64_t cap,
                    resdeliv_info_cb cb, void *arg)
{
    struct counting *c = self;

    return resdeliv_store_info(c->inner, key, after, cap, cb, arg);
}

static void cnt_destroy(void *self)
{
    free(self);
}

static resdeliv_store *counting_store(resdeliv_store *inner, uint32_t flags,
                                      struct counting **out)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops),
        .flags = flags,
        .name = "counting",
        .append = cnt_append,
        .read = cnt_read,
        .info = cnt_info,
        .destroy = cnt_destroy,
    };
    struct counting *c = calloc(1, sizeof(*c));
    resdeliv_store *st = NULL;

    ck_assert_ptr_nonnull(c);
    c->inner = inner;
    ck_assert_int_eq(resdeliv_store_new(&ops, c, &st), 0);
    *out = c;
    return st;
}

/* A store whose append always fails: the whole batch, or every item. */
struct failing {
    int per_item;
};

static int fail_append(void *self, const char *app, size_t app_len,
                       const struct resdeliv_append_item *items, size_t n,
                       resdeliv_append_cb cb, void *arg)
{
    struct failing *f = self;
    struct resdeliv_append_result res[8];

    if (!f->per_item || n > 8) {
        cb(arg, RESDELIV_ESTORE, NULL, 0);
        return 0;
    }
    memset(res, 0, sizeof(res));
    for (size_t i = 0; i < n; i++) {
        res[i].status = RESDELIV_ESTORE;
    }
    cb(arg, 0, res, n);
    return 0;
}

static int fail_read(void *self, const struct resdeliv_log_key *key,
                     const struct resdeliv_id *after, size_t max,
                     resdeliv_read_cb cb, void *arg)
{
    return RESDELIV_ESTORE;
}

static int fail_info(void *self, const struct resdeliv_log_key *key,
                     const struct resdeliv_id *after, uint64_t cap,
                     resdeliv_info_cb cb, void *arg)
{
    return RESDELIV_ESTORE;
}

static const char *fail_errmsg(void *self)
{
    return "connection refused by test double";
}

static resdeliv_store *failing_store(int per_item)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops),
        .flags = RESDELIV_STORE_SYNC,
        .name = "failing",
        .append = fail_append,
        .read = fail_read,
        .info = fail_info,
        .destroy = free,
        .errmsg = fail_errmsg,
    };
    struct failing *f = calloc(1, sizeof(*f));
    resdeliv_store *st = NULL;

    ck_assert_ptr_nonnull(f);
    f->per_item = per_item;
    ck_assert_int_eq(resdeliv_store_new(&ops, f, &st), 0);
    return st;
}

/* ---- open -------------------------------------------------------------- */

START_TEST(open_bad_app_ids)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = NULL;
    char err[256];
    char longid[RESDELIV_MAX_APP_ID_LEN + 2];

    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';

    err[0] = '\0';
    ck_assert_int_eq(resdeliv_log_open(NULL, st, NULL, &log, err,
                                       sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(log);
    ck_assert_ptr_nonnull(strstr(err, "app_id"));
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "", &log, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_open(NULL, st, longid, &log, err,
                                       sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "longer"));
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "app\nid", &log, err,
                                       sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "control"));
    ck_assert_int_eq(resdeliv_log_open(NULL, st, "app", NULL, err,
                                       sizeof(err)),
                     RESDELIV_EINVAL);
    /* The longest id accepted is exactly the limit; no err buffer is fine. */
    longid[RESDELIV_MAX_APP_ID_LEN] = '\0';
    ck_assert_int_eq(resdeliv_log_open(NULL, st, longid, &log, NULL, 0), 0);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(open_bad_config)
{
    resdeliv_store *st = memory_store();
    struct resdeliv_config cfg;
    resdeliv_log *log = NULL;
    char err[256];

    resdeliv_config_init(&cfg);
    cfg.replay_id_field = "bad\"field";
    err[0] = '\0';
    ck_assert_int_eq(resdeliv_log_open(&cfg, st, "app", &log, err,
                                       sizeof(err)),
                     RESDELIV_EBADCONFIG);
    ck_assert_ptr_null(log);
    ck_assert_ptr_nonnull(strstr(err, "replay_id_field"));

    resdeliv_config_init(&cfg);
    cfg.default_max_messages = RESDELIV_MAX_RETENTION + 1;
    err[0] = '\0';
    ck_assert_int_eq(resdeliv_log_open(&cfg, st, "app", &log, err,
                                       sizeof(err)),
                     RESDELIV_EBADCONFIG);
    ck_assert_ptr_nonnull(strstr(err, "default_max_messages"));
    resdeliv_store_free(st);
}
END_TEST

START_TEST(open_own_store)
{
    struct resdeliv_config cfg;
    struct resdeliv_message m = msg("news", "update", "{\"a\":1}");
    struct resdeliv_publish_result res;
    resdeliv_log *log;

    resdeliv_config_init(&cfg);
    cfg.connection = "memory";
    log = open_log(&cfg, NULL, "app");
    ck_assert_ptr_nonnull(resdeliv_log_store(log));
    ck_assert_str_eq(resdeliv_store_name(resdeliv_log_store(log)), "memory");
    ck_assert_str_eq(resdeliv_log_config(log)->connection, "memory");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_uint_eq(res.logged, 1);
    resdeliv_publish_result_clear(&res);
    /* Closing frees the store it made (LeakSanitizer checks). */
    resdeliv_log_close(log);
    resdeliv_log_close(NULL);
}
END_TEST

START_TEST(open_store_urls)
{
    struct resdeliv_config cfg;
    resdeliv_log *log = NULL;
    char err[256];
    int rc;

    resdeliv_config_init(&cfg);
    cfg.connection = "redis://127.0.0.1:1/0";
    err[0] = '\0';
    rc = resdeliv_log_open(&cfg, NULL, "app", &log, err, sizeof(err));
    if (rc == 0) {
        /* A build with Redis may connect lazily. */
        ck_assert_ptr_nonnull(log);
        ck_assert_str_eq(resdeliv_store_name(resdeliv_log_store(log)),
                         "redis");
        resdeliv_log_close(log);
    } else {
        ck_assert_ptr_null(log);
        ck_assert_msg(err[0] != '\0', "no message for rc %d", rc);
        if (rc == RESDELIV_ENOTSUP) {
            ck_assert_ptr_nonnull(strstr(err, "Redis"));
        }
    }

    resdeliv_config_init(&cfg);
    cfg.connection = "bogus://somewhere";
    err[0] = '\0';
    rc = resdeliv_log_open(&cfg, NULL, "app", &log, err, sizeof(err));
    ck_assert_int_lt(rc, 0);
    ck_assert_ptr_null(log);
    ck_assert_msg(err[0] != '\0', "no message");
}
END_TEST

/* ---- publish ----------------------------------------------------------- */

static void check_tagged(const struct resdeliv_publish_result *res,
                         const char *id_field, const char *epoch_field,
                         const char *member)
{
    char idbuf[RESDELIV_ID_BUFSIZE];
    cJSON *obj;

    ck_assert_int_eq(res->status, 0);
    ck_assert_uint_eq(res->logged, 1);
    ck_assert_uint_eq(res->tagged, 1);
    ck_assert_uint_eq(strlen(res->payload), res->payload_len);
    ck_assert_int_eq(resdeliv_epoch_check(res->position.epoch,
                                          strlen(res->position.epoch)),
                     0);
    obj = cJSON_ParseWithLength(res->payload, res->payload_len);
    ck_assert_msg(cJSON_IsObject(obj), "not JSON: %s", res->payload);
    resdeliv_id_format(&res->position.id, idbuf, sizeof(idbuf));
    ck_assert_ptr_nonnull(json_str(obj, id_field));
    ck_assert_str_eq(json_str(obj, id_field), idbuf);
    ck_assert_ptr_nonnull(json_str(obj, epoch_field));
    ck_assert_str_eq(json_str(obj, epoch_field), res->position.epoch);
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(obj, member));
    cJSON_Delete(obj);
}

START_TEST(publish_tags)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_publish_result res[3];
    struct resdeliv_message m = msg("news", "update", "{\"text\":\"hi\"}");
    struct resdeliv_counters c;

    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(resdeliv_log_publish(log, &m, &res[i]), 0);
        check_tagged(&res[i], "_replay_id", "_replay_epoch", "text");
        ck_assert_str_eq(res[i].position.epoch, res[0].position.epoch);
        if (i > 0) {
            ck_assert_int_gt(resdeliv_id_cmp(&res[i].position.id,
                                             &res[i - 1].position.id),
                             0);
        }
    }
    c = counters_of(log);
    ck_assert_uint_eq(c.published, 3);
    ck_assert_uint_eq(c.tagged, 3);
    ck_assert_uint_eq(c.untagged, 0);
    for (int i = 0; i < 3; i++) {
        resdeliv_publish_result_clear(&res[i]);
        ck_assert_ptr_null(res[i].payload);
    }
    resdeliv_publish_result_clear(NULL);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(publish_custom_fields)
{
    resdeliv_store *st = memory_store();
    struct resdeliv_config cfg;
    resdeliv_log *log;
    struct resdeliv_publish_result res;
    struct resdeliv_message m =
        msg("news", "update", "{\"rid\":\"stale\",\"x\":[1,{\"y\":2}]}");
    cJSON *obj;

    resdeliv_config_init(&cfg);
    cfg.replay_id_field = "rid";
    cfg.replay_epoch_field = "rep";
    log = open_log(&cfg, st, "app");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    check_tagged(&res, "rid", "rep", "x");
    /* The old value of the id field is replaced, not duplicated. */
    ck_assert_ptr_null(strstr(res.payload, "stale"));
    obj = cJSON_Parse(res.payload);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(obj, "_replay_id"));
    ck_assert_int_eq(cJSON_GetArraySize(obj), 3);
    cJSON_Delete(obj);
    resdeliv_publish_result_clear(&res);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(publish_bad_input)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_publish_result res;
    char longch[RESDELIV_MAX_CHANNEL_LEN + 2];
    struct resdeliv_message m;

    memset(longch, 'c', sizeof(longch) - 1);
    longch[sizeof(longch) - 1] = '\0';
    m = msg("news", "update", "{}");
    ck_assert_int_eq(resdeliv_log_publish(NULL, &m, &res), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_publish(log, NULL, &res), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_publish(log, &m, NULL), RESDELIV_EINVAL);

    m = msg("", "update", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "channel"));
    ck_assert_ptr_null(res.payload);
    m = msg(longch, "update", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "longer"));
    m = msg("a\tb", "update", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    m = msg("news", "", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "event"));
    m = msg("news", "update", NULL);
    m.data_len = 3;
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EINVAL);
    ck_assert_uint_eq(counters_of(log).published, 0);
    ck_assert_str_eq(resdeliv_log_errmsg(NULL), "");
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* ---- untagged deliveries ----------------------------------------------- */

START_TEST(not_object_untagged)
{
    static const char *const data[] = {"[1,2,3]", "\"text\"", "42", "",
                                       "{\"open\":1"};
    const size_t n = sizeof(data) / sizeof(data[0]);
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_counters c;

    for (size_t i = 0; i < n; i++) {
        struct resdeliv_message m = msg("news", "update", data[i]);
        struct resdeliv_publish_result res;

        ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
        ck_assert_uint_eq(res.logged, 1);
        ck_assert_uint_eq(res.tagged, 0);
        ck_assert_uint_eq(res.payload_len, strlen(data[i]));
        ck_assert_str_eq(res.payload, data[i]);
        ck_assert(!resdeliv_id_is_zero(&res.position.id));
        resdeliv_publish_result_clear(&res);
    }
    c = counters_of(log);
    ck_assert_uint_eq(c.published, n);
    ck_assert_uint_eq(c.not_object, n);
    ck_assert_uint_eq(c.untagged, n);
    ck_assert_uint_eq(c.tagged, 0);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(whisper_refused)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m = msg("private-chat", "client-typing", "{}");
    struct resdeliv_publish_result res;
    struct resdeliv_position pos;
    struct resdeliv_counters c;

    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EWHISPER);
    ck_assert_int_eq(res.status, RESDELIV_EWHISPER);
    ck_assert_uint_eq(res.logged, 0);
    ck_assert_ptr_null(res.payload);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "client"));
    /* "client" alone is an ordinary event name. */
    m = msg("private-chat", "client", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    resdeliv_publish_result_clear(&res);
    c = counters_of(log);
    ck_assert_uint_eq(c.whispers_refused, 1);
    ck_assert_uint_eq(c.published, 1);
    /* Nothing of the whisper reached the log. */
    ck_assert_int_eq(resdeliv_log_position(log, "private-chat", &pos), 0);
    m = msg("private-other", "client-x", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_EWHISPER);
    ck_assert_int_eq(resdeliv_log_position(log, "private-other", &pos), 0);
    ck_assert(resdeliv_id_is_zero(&pos.id));
    ck_assert_str_eq(pos.epoch, "");
    ck_assert_uint_eq(counters_of(log).whispers_refused, 2);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* ---- batches ----------------------------------------------------------- */

START_TEST(batch_one_call)
{
    enum { N = 64, CHANNELS = 4 };
    static const char *const chans[CHANNELS] = {"a", "b", "c", "d"};
    resdeliv_store *mem = memory_store();
    struct counting *cnt;
    resdeliv_store *st = counting_store(mem, RESDELIV_STORE_SYNC, &cnt);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message msgs[N];
    struct resdeliv_publish_result res[N];
    char data[N][32];
    struct resdeliv_id last[CHANNELS];

    memset(last, 0, sizeof(last));
    for (int i = 0; i < N; i++) {
        snprintf(data[i], sizeof(data[i]), "{\"n\":%d}", i);
        msgs[i] = msg(chans[i % CHANNELS], "ev", data[i]);
    }
    msgs[10] = msg("a", "client-x", "{}");
    msgs[20] = msg("", "ev", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, msgs, N, res), 0);
    ck_assert_int_eq(cnt->appends, 1);
    ck_assert_uint_eq(cnt->last_n, N - 2);
    for (int i = 0; i < N; i++) {
        cJSON *obj;
        if (i == 10 || i == 20) {
            ck_assert_int_eq(res[i].status, i == 10 ? RESDELIV_EWHISPER
                                                    : RESDELIV_EINVAL);
            ck_assert_ptr_null(res[i].payload);
            continue;
        }
        check_tagged(&res[i], "_replay_id", "_replay_epoch", "n");
        obj = cJSON_Parse(res[i].payload);
        ck_assert_int_eq(
            cJSON_GetObjectItemCaseSensitive(obj, "n")->valueint, i);
        cJSON_Delete(obj);
        ck_assert_int_gt(resdeliv_id_cmp(&res[i].position.id,
                                         &last[i % CHANNELS]),
                         0);
        last[i % CHANNELS] = res[i].position.id;
    }
    for (int k = 0; k < CHANNELS; k++) {
        struct resdeliv_position pos;
        ck_assert_int_eq(resdeliv_log_position(log, chans[k], &pos), 0);
        ck_assert_int_eq(resdeliv_id_cmp(&pos.id, &last[k]), 0);
    }
    ck_assert_uint_eq(counters_of(log).published, N - 2);
    for (int i = 0; i < N; i++) {
        resdeliv_publish_result_clear(&res[i]);
    }
    /* An empty batch is processed without a store call. */
    ck_assert_int_eq(resdeliv_log_publish_batch(log, NULL, 0, NULL), 0);
    ck_assert_int_eq(cnt->appends, 1);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    resdeliv_store_free(mem);
}
END_TEST

struct async_seen {
    int calls;
    int status;
    size_t n;
    char *taken;
    int tagged;
};

static void on_published(void *arg, int status,
                         struct resdeliv_publish_result *results, size_t n)
{
    struct async_seen *s = arg;

    s->calls++;
    s->status = status;
    s->n = n;
    if (n > 0 && results[0].status == 0) {
        /* Take the first payload; the library frees the rest. */
        s->taken = results[0].payload;
        s->tagged = (int)results[0].tagged;
        results[0].payload = NULL;
    }
}

START_TEST(batch_async)
{
    resdeliv_store *mem = memory_store();
    struct counting *cnt;
    /* Flags 0: the wrapper completes at once, but the log may not rely on
     * that and must copy the messages. */
    resdeliv_store *st = counting_store(mem, 0, &cnt);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message msgs[3];
    struct resdeliv_publish_result res;
    struct async_seen seen = {0};
    char data[] = "{\"k\":\"v\"}";

    msgs[0] = msg("a", "ev", data);
    msgs[1] = msg("b", "ev", "[]");
    msgs[2] = msg("c", "client-no", "{}");
    memset(&res, 0x5A, sizeof(res));
    ck_assert_int_eq(resdeliv_log_publish(log, &msgs[0], &res),
                     RESDELIV_ENOTSUP);
    ck_assert_ptr_null(res.payload);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "async"));
    ck_assert_int_eq(resdeliv_log_publish_async(log, msgs, 3, NULL, NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_log_publish_async(log, msgs, 3, on_published, &seen), 0);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_int_eq(seen.status, 0);
    ck_assert_uint_eq(seen.n, 3);
    ck_assert_int_eq(cnt->appends, 1);
    ck_assert_ptr_nonnull(seen.taken);
    ck_assert_int_eq(seen.tagged, 1);
    ck_assert_ptr_nonnull(strstr(seen.taken, "\"_replay_id\""));
    resdeliv_free(seen.taken);
    ck_assert_uint_eq(counters_of(log).published, 2);
    ck_assert_uint_eq(counters_of(log).whispers_refused, 1);

    /* An empty batch still completes exactly once. */
    seen.calls = 0;
    seen.taken = NULL;
    ck_assert_int_eq(
        resdeliv_log_publish_async(log, NULL, 0, on_published, &seen), 0);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_uint_eq(seen.n, 0);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    resdeliv_store_free(mem);
}
END_TEST

/* ---- store failures ---------------------------------------------------- */

static void failure_mode(uint32_t mode, int per_item)
{
    resdeliv_store *st = failing_store(per_item);
    struct resdeliv_config cfg;
    resdeliv_log *log;
    struct resdeliv_message m = msg("news", "update", "{\"a\":1}");
    struct resdeliv_publish_result res;
    struct resdeliv_counters c;
    int rc;

    resdeliv_config_init(&cfg);
    cfg.on_log_failure = mode;
    log = open_log(&cfg, st, "app");
    rc = resdeliv_log_publish(log, &m, &res);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log),
                                 "connection refused by test double"));
    c = counters_of(log);
    ck_assert_uint_eq(c.log_failures, 1);
    ck_assert_uint_eq(res.logged, 0);
    ck_assert_uint_eq(res.tagged, 0);
    if (mode == RESDELIV_ON_FAILURE_FAIL) {
        ck_assert_int_eq(rc, RESDELIV_ESTORE);
        ck_assert_int_eq(res.status, RESDELIV_ESTORE);
        ck_assert_ptr_null(res.payload);
        ck_assert_uint_eq(c.published, 0);
        ck_assert_uint_eq(c.untagged, 0);
    } else {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(res.status, 0);
        ck_assert_str_eq(res.payload, "{\"a\":1}");
        ck_assert_uint_eq(res.payload_len, 7);
        ck_assert(resdeliv_id_is_zero(&res.position.id));
        ck_assert_uint_eq(c.published, 1);
        ck_assert_uint_eq(c.untagged, 1);
    }
    resdeliv_publish_result_clear(&res);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}

START_TEST(failure_deliver_untagged)
{
    failure_mode(RESDELIV_ON_FAILURE_DELIVER_UNTAGGED, 0);
    failure_mode(RESDELIV_ON_FAILURE_DELIVER_UNTAGGED, 1);
}
END_TEST

START_TEST(failure_fail)
{
    failure_mode(RESDELIV_ON_FAILURE_FAIL, 0);
    failure_mode(RESDELIV_ON_FAILURE_FAIL, 1);
}
END_TEST

START_TEST(failure_position)
{
    resdeliv_store *st = failing_store(0);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_position pos;

    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos),
                     RESDELIV_ESTORE);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "test double"));
    /* The failing store has no drop. */
    ck_assert_int_eq(resdeliv_log_drop(log, "news"), RESDELIV_ENOTSUP);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* ---- counters and position --------------------------------------------- */

START_TEST(counters_sizes)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m[2];
    struct resdeliv_publish_result res[2];
    struct resdeliv_counters c;

    m[0] = msg("a", "ev", "{}");
    m[1] = msg("a", "ev", "7");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 2, res), 0);
    resdeliv_publish_result_clear(&res[0]);
    resdeliv_publish_result_clear(&res[1]);
    resdeliv_log_count_dedup_drops(log, 5);
    resdeliv_log_count_dedup_drops(NULL, 5);

    /* An older caller knowing only the first two members. */
    memset(&c, 0xAB, sizeof(c));
    ck_assert_int_eq(resdeliv_log_counters(log, &c,
                                           offsetof(struct resdeliv_counters,
                                                    untagged)),
                     0);
    ck_assert_uint_eq(c.published, 2);
    ck_assert_uint_eq(c.tagged, 1);
    ck_assert_uint_eq(c.untagged, 0xABABABABABABABABull);
    ck_assert_uint_eq(c.dedup_drops, 0xABABABABABABABABull);

    /* A newer caller's larger struct gets what this library has. */
    {
        unsigned char big[sizeof(c) + 16];
        memset(big, 0xCD, sizeof(big));
        ck_assert_int_eq(resdeliv_log_counters(
                             log, (struct resdeliv_counters *)(void *)big,
                             sizeof(big)),
                         0);
        memcpy(&c, big, sizeof(c));
        ck_assert_uint_eq(c.untagged, 1);
        ck_assert_uint_eq(c.not_object, 1);
        ck_assert_uint_eq(c.dedup_drops, 5);
        ck_assert_uint_eq(big[sizeof(c)], 0xCD);
    }
    ck_assert_int_eq(resdeliv_log_counters(log, &c, 0), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_counters(log, NULL, sizeof(c)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_counters(NULL, &c, sizeof(c)),
                     RESDELIV_EINVAL);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(position_and_drop)
{
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    resdeliv_log *other = open_log(NULL, st, "other-app");
    struct resdeliv_message m = msg("news", "ev", "{}");
    struct resdeliv_publish_result res;
    struct resdeliv_position pos;
    char first_epoch[RESDELIV_EPOCH_BUFSIZE];

    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos), 0);
    ck_assert(resdeliv_id_is_zero(&pos.id));
    ck_assert_str_eq(pos.epoch, "");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&pos.id, &res.position.id), 0);
    ck_assert_str_eq(pos.epoch, res.position.epoch);
    strcpy(first_epoch, pos.epoch);
    resdeliv_publish_result_clear(&res);
    /* Logs are per app id. */
    ck_assert_int_eq(resdeliv_log_position(other, "news", &pos), 0);
    ck_assert(resdeliv_id_is_zero(&pos.id));

    ck_assert_int_eq(resdeliv_log_drop(log, "news"), 0);
    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos), 0);
    ck_assert(resdeliv_id_is_zero(&pos.id));
    ck_assert_str_eq(pos.epoch, "");
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_str_ne(res.position.epoch, first_epoch);
    resdeliv_publish_result_clear(&res);

    ck_assert_int_eq(resdeliv_log_position(log, "", &pos), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_position(log, NULL, &pos),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_position(log, "news", NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_drop(NULL, "news"), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_log_drop(log, ""), RESDELIV_EINVAL);
    resdeliv_log_close(other);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(retention_per_channel)
{
    resdeliv_store *st = memory_store();
    struct resdeliv_retention_rule rules[] = {{"short-*", 2}, {"*", 5}};
    struct resdeliv_config cfg;
    resdeliv_log *log;
    resdeliv_replay *cur;

    resdeliv_config_init(&cfg);
    cfg.per_channel = rules;
    cfg.per_channel_count = 2;
    log = open_log(&cfg, st, "app");
    for (int i = 0; i < 8; i++) {
        struct resdeliv_message m[2];
        struct resdeliv_publish_result res[2];
        m[0] = msg("short-a", "ev", "{}");
        m[1] = msg("long", "ev", "{}");
        ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 2, res), 0);
        resdeliv_publish_result_clear(&res[0]);
        resdeliv_publish_result_clear(&res[1]);
    }
    /* The retained length shows through a replay from the start. */
    ck_assert_int_eq(resdeliv_replay_open(log, "short-a", "0-0", NULL, &cur),
                     0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->expected, 2);
    resdeliv_replay_close(cur);
    ck_assert_int_eq(resdeliv_replay_open(log, "long", "0-0", NULL, &cur), 0);
    ck_assert_uint_eq(resdeliv_replay_status(cur)->expected, 5);
    resdeliv_replay_close(cur);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* ---- entry flags ------------------------------------------------------ */

struct flags_read {
    size_t n;
    uint32_t flags[8];
};

static void on_flags_read(void *arg, int status,
                          const struct resdeliv_stored_entry *e, size_t n,
                          const char *epoch)
{
    struct flags_read *o = arg;

    o->n = status == 0 ? n : 0;
    for (size_t i = 0; i < o->n && i < 8; i++) {
        o->flags[i] = e[i].flags;
    }
    (void)epoch;
}

/* One scan per publish: the store learns which payloads a reader may tag
 * by insertion, and the payload is what resdeliv_tag() makes. */
START_TEST(publish_entry_flags)
{
    static const struct {
        const char *data;
        uint32_t flags;
    } cases[] = {
        {"{\"a\":1}", RESDELIV_ENTRY_OBJECT},
        {" { \n} ", RESDELIV_ENTRY_OBJECT},
        {"{\"a\":\"}\" } ", RESDELIV_ENTRY_OBJECT},
        {"{\"_replay_id\":5,\"b\":2}", 0},
        {"{\"x\":1,\"_replay_epoch\":\"zz\"}", 0},
        {"[1]", 0},
        {"{\"a\":1", 0},
    };
    size_t ncases = sizeof(cases) / sizeof(cases[0]);
    resdeliv_store *st = memory_store();
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_log_key key = {"app", 3, "fl", 2};
    struct flags_read r = {0};

    for (size_t i = 0; i < ncases; i++) {
        struct resdeliv_message m = msg("fl", "ev", cases[i].data);
        struct resdeliv_publish_result res;
        char *want = NULL;
        size_t want_len = 0;
        int rc;

        ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
        rc = resdeliv_tag(m.data, m.data_len, "_replay_id", "_replay_epoch",
                          &res.position.id, res.position.epoch, &want,
                          &want_len);
        ck_assert_uint_eq(res.tagged, rc == 0);
        ck_assert_str_eq(res.payload, rc == 0 ? want : cases[i].data);
        resdeliv_free(want);
        resdeliv_publish_result_clear(&res);
    }
    ck_assert_int_eq(resdeliv_store_read(st, &key, NULL, 8, on_flags_read, &r),
                     0);
    ck_assert_uint_eq(r.n, ncases);
    for (size_t i = 0; i < ncases; i++) {
        ck_assert_msg(r.flags[i] == cases[i].flags, "'%s': flags %u",
                      cases[i].data, r.flags[i]);
    }
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* ---- reserved names ---------------------------------------------------- */

START_TEST(reserved_refused)
{
    resdeliv_store *mem = memory_store();
    struct counting *cnt;
    resdeliv_store *st = counting_store(mem, RESDELIV_STORE_SYNC, &cnt);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m[3];
    struct resdeliv_publish_result res[3];
    struct resdeliv_position pos;

    m[0] = msg("news", RESDELIV_UNLOGGED_EVENT, "{\"lost\":1,\"since\":1}");
    ck_assert_int_eq(resdeliv_log_publish(log, &m[0], &res[0]),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(res[0].payload);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "reserved"));
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "resdeliv:"));
    ck_assert_int_eq(cnt->appends, 0);
    /* In a batch only that message is refused; the store never sees it. */
    m[0] = msg("news", "a", "{}");
    m[1] = msg("news", "resdeliv:gap", "{}");
    m[2] = msg("news", "resdeliv-not-reserved", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 3, res), 0);
    ck_assert_int_eq(res[0].status, 0);
    ck_assert_int_eq(res[1].status, RESDELIV_EINVAL);
    ck_assert_ptr_null(res[1].payload);
    ck_assert_int_eq(res[2].status, 0);
    ck_assert_int_eq(cnt->appends, 1);
    ck_assert_uint_eq(cnt->last_n, 2);
    ck_assert_int_eq(resdeliv_log_position(log, "news", &pos), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&pos.id, &res[2].position.id), 0);
    resdeliv_publish_result_clear(&res[2]);
    /* "resdeliv" without the colon, and the prefix cut short, pass. */
    m[0] = msg("news", "resdeliv", "{}");
    m[1] = msg("news", "resdeliv;", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 2, res + 1), 0);
    ck_assert_int_eq(res[1].status, 0);
    ck_assert_int_eq(res[2].status, 0);
    ck_assert_uint_eq(counters_of(log).published, 4);
    ck_assert_uint_eq(counters_of(log).whispers_refused, 0);
    for (int i = 0; i < 3; i++) {
        resdeliv_publish_result_clear(&res[i]);
    }
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    resdeliv_store_free(mem);
}
END_TEST

/* ---- unlogged markers -------------------------------------------------- */

#define REC_MAX 8200

/* What one item of the last append call was, and what the store said. */
struct rec {
    char channel[48];
    char event[48];
    char data[96];
    int status;
    struct resdeliv_id id;
};

struct held {
    resdeliv_append_cb cb;
    void *arg;
    int status;
    size_t n;
    struct resdeliv_append_result *res;
};

/* A store over the memory store that fails every append while `fail` is
 * set (as Redis does when it is down), records the items of the last
 * append call, and can hold completions back, as an event-loop store
 * does, until flaky_release(). */
struct flaky {
    resdeliv_store *inner;
    int fail;
    int hold;
    int calls;
    size_t n;
    struct rec *recs;
    struct held held[4];
    size_t nheld;
    struct held *cur;
};

static void flaky_inner_done(void *arg, int status,
                             const struct resdeliv_append_result *res,
                             size_t n)
{
    struct flaky *f = arg;
    struct held *h = f->cur;

    h->status = status;
    h->n = n;
    h->res = NULL;
    if (n > 0) {
        h->res = malloc(n * sizeof(*res));
        ck_assert_ptr_nonnull(h->res);
        memcpy(h->res, res, n * sizeof(*res));
    }
    for (size_t i = 0; i < n && i < REC_MAX; i++) {
        f->recs[i].status = res[i].status;
        f->recs[i].id = res[i].id;
    }
}

static int flaky_append(void *self, const char *app, size_t app_len,
                        const struct resdeliv_append_item *items, size_t n,
                        resdeliv_append_cb cb, void *arg)
{
    struct flaky *f = self;
    struct held h = {cb, arg, 0, 0, NULL};

    f->calls++;
    f->n = n;
    for (size_t i = 0; i < n && i < REC_MAX; i++) {
        struct rec *r = &f->recs[i];
        snprintf(r->channel, sizeof(r->channel), "%.*s",
                 (int)items[i].channel_len, items[i].channel);
        snprintf(r->event, sizeof(r->event), "%.*s", (int)items[i].event_len,
                 items[i].event);
        snprintf(r->data, sizeof(r->data), "%.*s", (int)items[i].data_len,
                 items[i].data);
        r->status = RESDELIV_ESTORE;
        memset(&r->id, 0, sizeof(r->id));
    }
    if (f->fail) {
        cb(arg, RESDELIV_ESTORE, NULL, 0);
        return 0;
    }
    f->cur = &h;
    ck_assert_int_eq(resdeliv_store_append(f->inner, app, app_len, items, n,
                                           flaky_inner_done, f),
                     0);
    if (f->hold) {
        ck_assert_uint_lt(f->nheld, 4);
        f->held[f->nheld++] = h;
        return 0;
    }
    cb(arg, h.status, h.res, h.n);
    free(h.res);
    return 0;
}

static void flaky_release(struct flaky *f)
{
    for (size_t i = 0; i < f->nheld; i++) {
        struct held *h = &f->held[i];
        h->cb(h->arg, h->status, h->res, h->n);
        free(h->res);
    }
    f->nheld = 0;
}

static int flaky_read(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, size_t max,
                      resdeliv_read_cb cb, void *arg)
{
    struct flaky *f = self;

    return resdeliv_store_read(f->inner, key, after, max, cb, arg);
}

static int flaky_info(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, uint64_t cap,
                      resdeliv_info_cb cb, void *arg)
{
    struct flaky *f = self;

    return resdeliv_store_info(f->inner, key, after, cap, cb, arg);
}

static void flaky_destroy(void *self)
{
    struct flaky *f = self;

    resdeliv_store_free(f->inner);
    free(f->recs);
    free(f);
}

static resdeliv_store *flaky_store(uint32_t flags, struct flaky **out)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops),
        .flags = flags,
        .name = "flaky",
        .append = flaky_append,
        .read = flaky_read,
        .info = flaky_info,
        .destroy = flaky_destroy,
    };
    struct flaky *f = calloc(1, sizeof(*f));
    resdeliv_store *st = NULL;

    ck_assert_ptr_nonnull(f);
    f->recs = calloc(REC_MAX, sizeof(*f->recs));
    ck_assert_ptr_nonnull(f->recs);
    f->inner = memory_store();
    ck_assert_int_eq(resdeliv_store_new(&ops, f, &st), 0);
    *out = f;
    return st;
}

static uint64_t wall_ms_now(void)
{
    return (uint64_t)time(NULL) * 1000u;
}

/* Item `i` of the last append is a marker on `channel` for `lost`
 * messages, the first of them in [t0, t1]. */
static void expect_marker(const struct flaky *f, size_t i,
                          const char *channel, int lost, uint64_t t0,
                          uint64_t t1)
{
    const struct rec *r = &f->recs[i];
    cJSON *data;
    const cJSON *v;

    ck_assert_uint_lt(i, f->n);
    ck_assert_str_eq(r->event, RESDELIV_UNLOGGED_EVENT);
    ck_assert_str_eq(r->channel, channel);
    data = cJSON_Parse(r->data);
    ck_assert_msg(data != NULL, "marker data '%s'", r->data);
    v = cJSON_GetObjectItemCaseSensitive(data, "lost");
    ck_assert(cJSON_IsNumber(v));
    ck_assert_int_eq(v->valueint, lost);
    v = cJSON_GetObjectItemCaseSensitive(data, "since");
    ck_assert(cJSON_IsNumber(v));
    ck_assert_msg(v->valuedouble >= (double)t0 && v->valuedouble <= (double)t1,
                  "since %.0f not in [%llu, %llu]", v->valuedouble,
                  (unsigned long long)t0, (unsigned long long)t1);
    cJSON_Delete(data);
}

static void expect_plain(const struct flaky *f, size_t i,
                         const char *channel, const char *event)
{
    ck_assert_uint_lt(i, f->n);
    ck_assert_str_eq(f->recs[i].channel, channel);
    ck_assert_str_eq(f->recs[i].event, event);
}

static void publish_one(resdeliv_log *log, const char *channel,
                        const char *event, int logged)
{
    struct resdeliv_message m = msg(channel, event, "{\"x\":1}");
    struct resdeliv_publish_result res;

    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_uint_eq(res.logged, (uint32_t)logged);
    ck_assert_uint_eq(res.tagged, (uint32_t)logged);
    ck_assert_str_ne(res.payload, "");
    resdeliv_publish_result_clear(&res);
}

/* Publishes while the store fails go out untagged; the next append of
 * the channel carries a marker first, in the same store call, and the
 * caller's result is the message's, not the marker's. */
START_TEST(marker_after_recovery)
{
    struct flaky *f;
    resdeliv_store *st = flaky_store(RESDELIV_STORE_SYNC, &f);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m = msg("news", "update", "{\"a\":1}");
    struct resdeliv_publish_result res;
    struct resdeliv_counters c;
    uint64_t t0 = wall_ms_now(), t1;

    f->fail = 1;
    publish_one(log, "news", "update", 0);
    ck_assert_uint_eq(f->n, 1);
    publish_one(log, "news", "update", 0);
    publish_one(log, "news", "update", 0);
    /* Still failing: a marker was tried with the message and is still
     * owed, covering every failure so far. */
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "news", 2, t0, wall_ms_now() + 1000);
    publish_one(log, "other", "update", 0);
    ck_assert_uint_eq(f->n, 1);
    t1 = wall_ms_now() + 1000;
    f->fail = 0;
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), 0);
    ck_assert_int_eq(f->calls, 5);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "news", 3, t0, t1);
    expect_plain(f, 1, "news", "update");
    ck_assert_int_eq(f->recs[0].status, 0);
    ck_assert_int_lt(resdeliv_id_cmp(&f->recs[0].id, &f->recs[1].id), 0);
    ck_assert_uint_eq(res.logged, 1);
    ck_assert_uint_eq(res.tagged, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&res.position.id, &f->recs[1].id), 0);
    ck_assert_ptr_null(strstr(res.payload, "lost"));
    resdeliv_publish_result_clear(&res);
    /* Announced once: the channel owes nothing more. */
    publish_one(log, "news", "update", 1);
    ck_assert_uint_eq(f->n, 1);
    expect_plain(f, 0, "news", "update");
    publish_one(log, "other", "update", 1);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "other", 1, t0, t1);
    publish_one(log, "other", "update", 1);
    ck_assert_uint_eq(f->n, 1);
    c = counters_of(log);
    ck_assert_uint_eq(c.published, 8);
    ck_assert_uint_eq(c.untagged, 4);
    ck_assert_uint_eq(c.tagged, 4);
    ck_assert_uint_eq(c.log_failures, 4);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* A batch gets one marker per owing channel, each right before the
 * channel's first item; results keep the caller's count and order. */
START_TEST(marker_in_batch)
{
    struct flaky *f;
    resdeliv_store *st = flaky_store(RESDELIV_STORE_SYNC, &f);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message m[5];
    struct resdeliv_publish_result res[5];
    static const char *const want[] = {"b", "b", "a", "a", "x", "a"};
    uint64_t t0 = wall_ms_now();

    f->fail = 1;
    m[0] = msg("a", "e0", "{}");
    m[1] = msg("b", "e1", "{}");
    m[2] = msg("a", "e2", "{}");
    m[3] = msg("c", "e3", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 4, res), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(res[i].status, 0);
        ck_assert_uint_eq(res[i].logged, 0);
        resdeliv_publish_result_clear(&res[i]);
    }
    f->fail = 0;
    m[0] = msg("b", "e0", "{}");
    m[1] = msg("a", "e1", "{}");
    m[2] = msg("x", "e2", "{}");
    m[3] = msg("a", "client-refused", "{}");
    m[4] = msg("a", "e4", "{}");
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, 5, res), 0);
    ck_assert_uint_eq(f->n, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_str_eq(f->recs[i].channel, want[i]);
    }
    expect_marker(f, 0, "b", 1, t0, wall_ms_now() + 1000);
    expect_plain(f, 1, "b", "e0");
    expect_marker(f, 2, "a", 2, t0, wall_ms_now() + 1000);
    expect_plain(f, 3, "a", "e1");
    expect_plain(f, 4, "x", "e2");
    expect_plain(f, 5, "a", "e4");
    ck_assert_int_eq(res[3].status, RESDELIV_EWHISPER);
    ck_assert_int_eq(resdeliv_id_cmp(&res[0].position.id, &f->recs[1].id), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&res[1].position.id, &f->recs[3].id), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&res[2].position.id, &f->recs[4].id), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&res[4].position.id, &f->recs[5].id), 0);
    for (int i = 0; i < 5; i++) {
        resdeliv_publish_result_clear(&res[i]);
    }
    /* "c" still owes its marker. */
    publish_one(log, "c", "e", 1);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "c", 1, t0, wall_ms_now() + 1000);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

struct async_keep {
    int calls;
    size_t n;
    int status[4];
    uint32_t logged[4];
    struct resdeliv_id id[4];
};

static void on_async_keep(void *arg, int status,
                          struct resdeliv_publish_result *results, size_t n)
{
    struct async_keep *k = arg;

    ck_assert_int_eq(status, 0);
    k->calls++;
    k->n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        k->status[i] = results[i].status;
        k->logged[i] = results[i].logged;
        k->id[i] = results[i].position.id;
    }
}

static void publish_async_one(resdeliv_log *log, const char *channel,
                              struct async_keep *k)
{
    struct resdeliv_message m = msg(channel, "ev", "{}");

    memset(k, 0, sizeof(*k));
    ck_assert_int_eq(resdeliv_log_publish_async(log, &m, 1, on_async_keep, k),
                     0);
}

/* An event-loop store: the marker goes with the asynchronous append too,
 * and a marker still in flight covers only the failures it counted. */
START_TEST(marker_async_in_flight)
{
    struct flaky *f;
    resdeliv_store *st = flaky_store(0, &f);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct async_keep k1, k2, k3;
    uint64_t t0 = wall_ms_now();

    f->fail = 1;
    publish_async_one(log, "ch", &k1);
    publish_async_one(log, "ch", &k2);
    ck_assert_int_eq(k2.calls, 1);
    ck_assert_int_eq(k2.status[0], 0);
    ck_assert_uint_eq(k2.logged[0], 0);
    /* The store is back but slow: a marker for 2 is in flight. */
    f->fail = 0;
    f->hold = 1;
    publish_async_one(log, "ch", &k1);
    ck_assert_int_eq(k1.calls, 0);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "ch", 2, t0, wall_ms_now() + 1000);
    /* Down again before it completes: one more untagged; this call tried
     * a marker for the same two. */
    f->fail = 1;
    f->hold = 0;
    publish_async_one(log, "ch", &k2);
    ck_assert_uint_eq(k2.logged[0], 0);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "ch", 2, t0, wall_ms_now() + 1000);
    /* The first marker lands: it covered two of the three. */
    f->fail = 0;
    flaky_release(f);
    ck_assert_int_eq(k1.calls, 1);
    ck_assert_uint_eq(k1.n, 1);
    ck_assert_int_eq(k1.status[0], 0);
    ck_assert_uint_eq(k1.logged[0], 1);
    publish_async_one(log, "ch", &k3);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, "ch", 1, t0, wall_ms_now() + 1000);
    ck_assert_uint_eq(k3.logged[0], 1);
    ck_assert_int_eq(resdeliv_id_cmp(&k3.id[0], &f->recs[1].id), 0);
    publish_async_one(log, "ch", &k3);
    ck_assert_uint_eq(f->n, 1);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* on_log_failure fail delivers nothing untagged: nothing to announce. */
START_TEST(no_marker_when_failing)
{
    struct flaky *f;
    resdeliv_store *st = flaky_store(RESDELIV_STORE_SYNC, &f);
    struct resdeliv_config cfg;
    resdeliv_log *log;
    struct resdeliv_message m = msg("news", "update", "{}");
    struct resdeliv_publish_result res;

    resdeliv_config_init(&cfg);
    cfg.on_log_failure = RESDELIV_ON_FAILURE_FAIL;
    log = open_log(&cfg, st, "app");
    f->fail = 1;
    ck_assert_int_eq(resdeliv_log_publish(log, &m, &res), RESDELIV_ESTORE);
    f->fail = 0;
    publish_one(log, "news", "update", 1);
    ck_assert_uint_eq(f->n, 1);
    expect_plain(f, 0, "news", "update");
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

/* The handle remembers at most RESDELIV_MAX_UNLOGGED_CHANNELS channels;
 * a failure on one more is refused, never delivered unannounced. */
START_TEST(marker_map_bound)
{
    enum { MAXCH = RESDELIV_MAX_UNLOGGED_CHANNELS };
    struct flaky *f;
    resdeliv_store *st = flaky_store(RESDELIV_STORE_SYNC, &f);
    resdeliv_log *log = open_log(NULL, st, "app");
    struct resdeliv_message *m = calloc(MAXCH, sizeof(*m));
    struct resdeliv_publish_result *res = calloc(MAXCH, sizeof(*res));
    char (*names)[16] = calloc(MAXCH + 1, sizeof(*names));
    struct resdeliv_counters c;
    struct resdeliv_message one;
    struct resdeliv_publish_result r1;

    ck_assert(m != NULL && res != NULL && names != NULL);
    for (int i = 0; i <= MAXCH; i++) {
        snprintf(names[i], sizeof(names[i]), "ch-%d", i);
    }
    f->fail = 1;
    for (int i = 0; i < MAXCH; i++) {
        publish_one(log, names[i], "e", 0);
    }
    one = msg(names[MAXCH], "e", "{}");
    ck_assert_int_eq(resdeliv_log_publish(log, &one, &r1), RESDELIV_ESTORE);
    ck_assert_ptr_null(r1.payload);
    ck_assert_uint_eq(r1.logged, 0);
    ck_assert_ptr_nonnull(strstr(resdeliv_log_errmsg(log), "marker"));
    /* A channel already remembered still goes out untagged. */
    publish_one(log, names[7], "e", 0);
    c = counters_of(log);
    ck_assert_uint_eq(c.log_failures, MAXCH + 2);
    ck_assert_uint_eq(c.untagged, MAXCH + 1);
    ck_assert_uint_eq(c.published, MAXCH + 1);
    /* One channel announced frees a place. */
    f->fail = 0;
    publish_one(log, names[7], "e", 1);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, names[7], 2, 0, UINT64_MAX / 2);
    f->fail = 1;
    publish_one(log, names[MAXCH], "e", 0);
    ck_assert_int_eq(resdeliv_log_publish(log, &one, &r1), 0);
    resdeliv_publish_result_clear(&r1);
    /* Every remembered channel gets its own marker, in one call. */
    f->fail = 0;
    for (int i = 0; i < MAXCH; i++) {
        m[i] = msg(names[i + 1], "e", "{}");
    }
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, MAXCH, res), 0);
    ck_assert_uint_eq(f->n, 2 * MAXCH - 1);
    for (size_t i = 0, k = 0; i < MAXCH; i++) {
        ck_assert_int_eq(res[i].status, 0);
        if (i + 1 != 7) {
            expect_marker(f, k++, names[i + 1], i + 1 == MAXCH ? 2 : 1, 0,
                          UINT64_MAX / 2);
        }
        ck_assert_int_eq(resdeliv_id_cmp(&res[i].position.id, &f->recs[k].id),
                         0);
        k++;
        resdeliv_publish_result_clear(&res[i]);
    }
    /* Only ch-0 is owed now. */
    ck_assert_int_eq(resdeliv_log_publish_batch(log, m, MAXCH, res), 0);
    ck_assert_uint_eq(f->n, MAXCH);
    for (int i = 0; i < MAXCH; i++) {
        resdeliv_publish_result_clear(&res[i]);
    }
    publish_one(log, names[0], "e", 1);
    ck_assert_uint_eq(f->n, 2);
    expect_marker(f, 0, names[0], 1, 0, UINT64_MAX / 2);
    free(m);
    free(res);
    free(names);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc;

    tc = tcase_create("open");
    tcase_add_test(tc, open_bad_app_ids);
    tcase_add_test(tc, open_bad_config);
    tcase_add_test(tc, open_own_store);
    tcase_add_test(tc, open_store_urls);
    suite_add_tcase(s, tc);

    tc = tcase_create("publish");
    tcase_add_test(tc, publish_tags);
    tcase_add_test(tc, publish_custom_fields);
    tcase_add_test(tc, publish_bad_input);
    tcase_add_test(tc, retention_per_channel);
    tcase_add_test(tc, publish_entry_flags);
    suite_add_tcase(s, tc);

    tc = tcase_create("not_object");
    tcase_add_test(tc, not_object_untagged);
    suite_add_tcase(s, tc);

    tc = tcase_create("whisper");
    tcase_add_test(tc, whisper_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("reserved");
    tcase_add_test(tc, reserved_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("unlogged");
    tcase_add_test(tc, marker_after_recovery);
    tcase_add_test(tc, marker_in_batch);
    tcase_add_test(tc, marker_async_in_flight);
    tcase_add_test(tc, no_marker_when_failing);
    tcase_add_test(tc, marker_map_bound);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_add_test(tc, batch_one_call);
    tcase_add_test(tc, batch_async);
    suite_add_tcase(s, tc);

    tc = tcase_create("on_log_failure");
    tcase_add_test(tc, failure_deliver_untagged);
    tcase_add_test(tc, failure_fail);
    tcase_add_test(tc, failure_position);
    suite_add_tcase(s, tc);

    tc = tcase_create("counters");
    tcase_add_test(tc, counters_sizes);
    suite_add_tcase(s, tc);

    tc = tcase_create("position");
    tcase_add_test(tc, position_and_drop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
