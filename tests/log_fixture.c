/* SPDX-License-Identifier: MIT */
/*
 * The log tests' shared helpers (log_fixture.h).
 */
#include "log_fixture.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

struct resdeliv_message msg(const char *channel, const char *event,
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

resdeliv_store *memory_store(void)
{
    resdeliv_store *st = NULL;

    ck_assert_int_eq(resdeliv_store_memory_new(NULL, &st), 0);
    ck_assert_ptr_nonnull(st);
    return st;
}

resdeliv_log *open_log(const struct resdeliv_config *cfg, resdeliv_store *st,
                       const char *app)
{
    resdeliv_log *log = NULL;
    char err[256] = "";
    int rc = resdeliv_log_open(cfg, st, app, &log, err, sizeof(err));

    ck_assert_msg(rc == 0, "open failed: %d %s", rc, err);
    ck_assert_ptr_nonnull(log);
    return log;
}

struct resdeliv_counters counters_of(const resdeliv_log *log)
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

resdeliv_store *counting_store(resdeliv_store *inner, uint32_t flags,
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

void check_tagged(const struct resdeliv_publish_result *res,
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
