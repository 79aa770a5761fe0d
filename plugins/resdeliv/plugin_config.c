/* SPDX-License-Identifier: MIT */
/*
 * The plugin's configuration document: the library's configuration keys
 * (config.h) plus the app credentials ("app_id", "app_key", "app_secret")
 * and a "server" object of protocol and seam limits. The plugin's own keys
 * are taken out here and checked with messages that name them; what is
 * left goes to resdeliv_config_from_json(), which names its keys itself.
 */
#include "plugin_internal.h"

#include <cjson/cJSON.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers above this do not survive a double exactly. */
#define JSON_INT_MAX ((double)(1ull << 53))

enum limit_kind { LIMIT_U32, LIMIT_U64, LIMIT_BOOL };

struct limit {
    const char *name;
    enum limit_kind kind;
    size_t off;
    uint64_t max;
};

#define OPT(m) offsetof(struct resdeliv_pusher_server_options, m)

static const struct limit limits[] = {
    {"activity_timeout", LIMIT_U32, OPT(activity_timeout), UINT32_MAX},
    {"client_events", LIMIT_BOOL, OPT(client_events), 1},
    {"max_body", LIMIT_U64, OPT(max_body), 1ull << 53},
    {"max_frame", LIMIT_U64, OPT(max_frame), RESDELIV_PUSHER_MAX_FRAME},
    {"max_presence_members", LIMIT_U64, OPT(max_presence_members), 1ull << 53},
    {"timestamp_window", LIMIT_U64, OPT(timestamp_window), 1ull << 53},
    {"max_held", LIMIT_U64, OPT(seam.max_held), 1ull << 53},
    {"dedup_window", LIMIT_U64, OPT(seam.dedup_window),
     RESDELIV_DEDUP_MAX_WINDOW},
    {"max_subscriptions", LIMIT_U64, OPT(seam.max_subscriptions), 1ull << 53},
    {"max_replaying", LIMIT_U64, OPT(seam.max_replaying), 1ull << 53},
};

static void errf(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errsize > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
}

void resdeliv__plugin_settings_init(struct resdeliv__plugin_settings *s)
{
    memset(s, 0, sizeof(*s));
    resdeliv_pusher_server_options_init(&s->limits);
}

void resdeliv__plugin_settings_clear(struct resdeliv__plugin_settings *s)
{
    resdeliv_config_free(s->cfg);
    free(s->app[0]);
    free(s->app[1]);
    free(s->app[2]);
    memset(s, 0, sizeof(*s));
}

static int set_limit(const struct limit *l, const cJSON *v,
                     struct resdeliv_pusher_server_options *o, char *err,
                     size_t errsize)
{
    char *p = (char *)o + l->off;
    double d;

    if (l->kind == LIMIT_BOOL) {
        if (!cJSON_IsBool(v)) {
            errf(err, errsize, "server.%s: expected true or false", l->name);
            return RESDELIV_EBADCONFIG;
        }
        *(uint32_t *)(void *)p = cJSON_IsTrue(v) ? 1u : 0u;
        return 0;
    }
    d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
    if (d < 1.0 || d > (double)l->max || d != (double)(uint64_t)d) {
        errf(err, errsize, "server.%s: expected an integer from 1 to %llu",
             l->name, (unsigned long long)l->max);
        return RESDELIV_EBADCONFIG;
    }
    if (l->kind == LIMIT_U32) {
        *(uint32_t *)(void *)p = (uint32_t)d;
    } else {
        *(uint64_t *)(void *)p = (uint64_t)d;
    }
    return 0;
}

static int read_limits(const cJSON *server,
                       struct resdeliv_pusher_server_options *o, char *err,
                       size_t errsize)
{
    const cJSON *v;

    if (!cJSON_IsObject(server)) {
        errf(err, errsize, "server: expected an object of limits");
        return RESDELIV_EBADCONFIG;
    }
    cJSON_ArrayForEach(v, server)
    {
        const struct limit *l = NULL;
        int rc;

        for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
            if (strcmp(v->string, limits[i].name) == 0) {
                l = &limits[i];
            }
        }
        if (l == NULL) {
            errf(err, errsize, "server.%s: unknown key", v->string);
            return RESDELIV_EBADCONFIG;
        }
        rc = set_limit(l, v, o, err, errsize);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int app_index(const char *key)
{
    static const char *const names[3] = {"app_id", "app_key", "app_secret"};

    for (int i = 0; i < 3; i++) {
        if (strcmp(key, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static int take_app(struct resdeliv__plugin_settings *s, int i, const cJSON *v,
                    char *err, size_t errsize)
{
    if (s->app[i] != NULL) {
        errf(err, errsize, "%s: given twice", v->string);
        return RESDELIV_EBADCONFIG;
    }
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
        errf(err, errsize, "%s: expected a non-empty string", v->string);
        return RESDELIV_EBADCONFIG;
    }
    s->app[i] = strdup(v->valuestring);
    return s->app[i] != NULL ? 0 : RESDELIV_ENOMEM;
}

/* Takes the plugin's own keys out of `root`, leaving the library's. */
static int take_own_keys(struct resdeliv__plugin_settings *s, cJSON *root,
                         char *err, size_t errsize)
{
    cJSON *v = root->child;
    int seen_server = 0;

    while (v != NULL) {
        cJSON *next = v->next;
        int i = app_index(v->string);
        int rc = 0;

        if (i >= 0) {
            rc = take_app(s, i, v, err, errsize);
        } else if (strcmp(v->string, "server") == 0) {
            if (seen_server++) {
                errf(err, errsize, "server: given twice");
                rc = RESDELIV_EBADCONFIG;
            } else {
                rc = read_limits(v, &s->limits, err, errsize);
            }
        } else {
            v = next;
            continue;
        }
        if (rc != 0) {
            return rc;
        }
        cJSON_Delete(cJSON_DetachItemViaPointer(root, v));
        v = next;
    }
    return 0;
}

static int parse_root(const char *json, size_t len, cJSON **out, char *err,
                      size_t errsize)
{
    const char *end = NULL;
    cJSON *root;

    root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root == NULL) {
        errf(err, errsize, "configuration: not valid JSON (near byte %zu)",
             end != NULL && end >= json ? (size_t)(end - json) : 0);
        return RESDELIV_EBADJSON;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        errf(err, errsize, "configuration: expected a JSON object");
        return RESDELIV_EBADCONFIG;
    }
    *out = root;
    return 0;
}

int resdeliv__plugin_settings_parse(struct resdeliv__plugin_settings *s,
                                    const char *json, size_t len, char *err,
                                    size_t errsize)
{
    cJSON *root = NULL;
    char *rest;
    int rc;

    if (json == NULL || len == 0) {
        return resdeliv_config_new(&s->cfg);
    }
    rc = parse_root(json, len, &root, err, errsize);
    if (rc == 0) {
        rc = take_own_keys(s, root, err, errsize);
    }
    if (rc != 0) {
        cJSON_Delete(root);
        return rc;
    }
    /* The rest is the library's own document: reprinting it changes no
     * value, and the library then names any bad key itself. */
    rest = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (rest == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = resdeliv_config_from_json(rest, strlen(rest), &s->cfg, err, errsize);
    cJSON_free(rest);
    return rc;
}
