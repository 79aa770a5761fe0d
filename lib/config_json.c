/* SPDX-License-Identifier: MIT */
/*
 * The JSON reader of configurations, resdeliv_config_from_json(). Keys,
 * their kinds and their limits come from config.c's key table, so a key
 * has the same name in JSON as in the struct and on a command line, and
 * validation is config.c's own: this file only maps JSON values onto an
 * owned configuration and names the key in every message.
 *
 * A key may be given nested ({"retention": {"max_age_seconds": 60}}) or
 * dotted ("retention.max_age_seconds"); giving it both ways, or twice, is a
 * duplicate. Per-channel rules are an object of glob -> cap, or an array
 * of {"pattern", "max_messages"} objects; either keeps the written order,
 * which is the order globs are tried in.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From 2^53 on, a JSON number no longer stands for one integer. */
#define JSON_INT_LIMIT 9007199254740992.0
#define KEY_BUF 256

/* Writes a message into the caller's buffer (locals `err`, `errsize`) and
 * yields the code: every error path here is "say what, then return". */
#define FAIL(code, ...) (resdeliv__errf(err, errsize, __VA_ARGS__), (code))
#define BAD(...) FAIL(RESDELIV_EBADCONFIG, __VA_ARGS__)

static int nomem(char *err, size_t errsize)
{
    return FAIL(RESDELIV_ENOMEM, "config: out of memory");
}

struct json_ctx {
    struct resdeliv_config *cfg; /* owned: resdeliv_config_new() */
    uint32_t seen; /* one bit per key index: nested + dotted twice */
    char *err;
    size_t errsize;
};

static const char *json_type(const cJSON *item)
{
    static const struct {
        int type;
        const char *name;
    } types[] = {{cJSON_False, "boolean"}, {cJSON_True, "boolean"},
                 {cJSON_NULL, "null"},     {cJSON_Number, "number"},
                 {cJSON_String, "string"}, {cJSON_Array, "array"},
                 {cJSON_Object, "object"}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if ((item->type & 0xff) == types[i].type) {
            return types[i].name;
        }
    }
    return "unknown value";
}

static int json_uint(const char *name, const cJSON *item, uint64_t *out,
                     char *err, size_t errsize)
{
    if (!cJSON_IsNumber(item)) {
        return BAD("%s: expected a non-negative integer, got %s", name,
                   json_type(item));
    }
    double d = item->valuedouble;
    if (signbit(d) || !(d < JSON_INT_LIMIT) || d != (double)(uint64_t)d) {
        return BAD("%s: expected a non-negative integer, got %.15g", name, d);
    }
    *out = (uint64_t)d;
    return 0;
}

/* A sibling before `item` with the same name. Callers reject unknown
 * names first, so the scan stays short. */
static int json_dup(const cJSON *first, const cJSON *item, const char *name,
                    char *err, size_t errsize)
{
    for (const cJSON *p = first; p != NULL && p != item; p = p->next) {
        if (strcmp(p->string, item->string) == 0) {
            return BAD("duplicate key '%.200s'", name);
        }
    }
    return 0;
}

static int pattern_cmp(const void *a, const void *b)
{
    const struct resdeliv_retention_rule *x = a;
    const struct resdeliv_retention_rule *y = b;
    return strcmp(x->pattern, y->pattern);
}

/* Globs are arbitrary names, so duplicates are found by sorting a copy. */
static int globs_unique(const struct resdeliv_retention_rule *rules, size_t n,
                        char *err, size_t errsize)
{
    struct resdeliv_retention_rule *s = malloc((n + 1) * sizeof *s);
    if (s == NULL) {
        return nomem(err, errsize);
    }
    memcpy(s, rules, n * sizeof *s);
    qsort(s, n, sizeof *s, pattern_cmp);
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++) {
        if (strcmp(s[i - 1].pattern, s[i].pattern) == 0) {
            rc = BAD("retention.per_channel: duplicate key '%.200s'",
                     s[i].pattern);
        }
    }
    free(s);
    return rc;
}

static int rules_from_object(const cJSON *obj,
                             struct resdeliv_retention_rule *tmp, char *err,
                             size_t errsize)
{
    char name[KEY_BUF];
    size_t i = 0;
    for (const cJSON *c = obj->child; c != NULL; c = c->next, i++) {
        snprintf(name, sizeof name, "retention.per_channel['%.200s']",
                 c->string);
        int rc = json_uint(name, c, &tmp[i].max_messages, err, errsize);
        if (rc != 0) {
            return rc;
        }
        tmp[i].pattern = c->string;
    }
    return globs_unique(tmp, i, err, errsize);
}

/* One {"pattern": "...", "max_messages": N} of the array form. */
static int rule_from_element(const cJSON *el, size_t i,
                             struct resdeliv_retention_rule *rule, char *err,
                             size_t errsize)
{
    char name[KEY_BUF];
    bool have_cap = false;
    if (!cJSON_IsObject(el)) {
        return BAD("retention.per_channel[%zu]: expected an object, got %s", i,
                   json_type(el));
    }
    for (const cJSON *c = el->child; c != NULL; c = c->next) {
        snprintf(name, sizeof name, "retention.per_channel[%zu].%.200s", i,
                 c->string);
        bool is_pattern = strcmp(c->string, "pattern") == 0;
        int rc = is_pattern || strcmp(c->string, "max_messages") == 0
                     ? json_dup(el->child, c, name, err, errsize)
                     : BAD("unknown key '%s'", name);
        if (rc == 0 && is_pattern && !cJSON_IsString(c)) {
            rc = BAD("%s: expected a string, got %s", name, json_type(c));
        } else if (rc == 0 && is_pattern) {
            rule->pattern = c->valuestring;
        } else if (rc == 0) {
            rc = json_uint(name, c, &rule->max_messages, err, errsize);
            have_cap = true;
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (rule->pattern == NULL || !have_cap) {
        return BAD("retention.per_channel[%zu]: missing '%s'", i,
                   rule->pattern == NULL ? "pattern" : "max_messages");
    }
    return 0;
}

static int json_rules(struct json_ctx *ctx, const cJSON *item)
{
    char *err = ctx->err;
    size_t errsize = ctx->errsize;
    bool is_obj = cJSON_IsObject(item);
    if (!is_obj && !cJSON_IsArray(item)) {
        return BAD("retention.per_channel: expected an object or an array, "
                   "got %s",
                   json_type(item));
    }
    size_t n = (size_t)cJSON_GetArraySize(item);
    struct resdeliv_retention_rule *tmp = calloc(n + 1, sizeof *tmp);
    if (tmp == NULL) {
        return nomem(err, errsize);
    }
    int rc = is_obj ? rules_from_object(item, tmp, err, errsize) : 0;
    size_t i = 0;
    for (const cJSON *el = is_obj ? NULL : item->child; el != NULL && rc == 0;
         el = el->next, i++) {
        rc = rule_from_element(el, i, &tmp[i], err, errsize);
    }
    if (rc == 0 && resdeliv__config_own_rules(ctx->cfg, tmp, n) != 0) {
        rc = nomem(err, errsize);
    }
    free(tmp);
    return rc;
}

/* The value of key `key` (called `name`, of kind `kind`). */
static int json_value(struct json_ctx *ctx, int key,
                      enum resdeliv__config_kind kind, const char *name,
                      const cJSON *item)
{
    char *err = ctx->err;
    size_t errsize = ctx->errsize;
    void *member = resdeliv__config_key_member(ctx->cfg, key);
    bool is_str = cJSON_IsString(item);
    uint32_t bit = UINT32_C(1) << key;
    if ((ctx->seen & bit) != 0) {
        return BAD("duplicate key '%s'", name);
    }
    ctx->seen |= bit;
    switch (kind) {
    case RESDELIV__CONFIG_UINT:
        return json_uint(name, item, member, err, errsize);
    case RESDELIV__CONFIG_BOOL:
        if (!cJSON_IsBool(item)) {
            return BAD("%s: expected a boolean, got %s", name, json_type(item));
        }
        *(uint32_t *)member = cJSON_IsTrue(item) ? 1 : 0;
        return 0;
    case RESDELIV__CONFIG_FAILMODE:
        if (is_str &&
            resdeliv__config_parse_failmode(item->valuestring, member) == 0) {
            return 0;
        }
        return BAD("%s: expected \"deliver_untagged\" or \"fail\", got "
                   "%s%.80s%s",
                   name, is_str ? "'" : "",
                   is_str ? item->valuestring : json_type(item),
                   is_str ? "'" : "");
    case RESDELIV__CONFIG_STRING:
        if (!is_str) {
            return BAD("%s: expected a string, got %s", name, json_type(item));
        }
        if (resdeliv__config_own_string(ctx->cfg, key, item->valuestring) !=
            0) {
            return nomem(err, errsize);
        }
        return 0;
    case RESDELIV__CONFIG_RULES:
        return json_rules(ctx, item);
    }
    return RESDELIV_EBADCONFIG;
}

/* Walks the top level (prefix NULL) or the "retention" object. */
static int json_object(struct json_ctx *ctx, const cJSON *obj,
                       const char *prefix)
{
    char *err = ctx->err;
    size_t errsize = ctx->errsize;
    char name[KEY_BUF];
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        int n = snprintf(name, sizeof name, "%s%s%s", prefix ? prefix : "",
                         prefix ? "." : "", c->string);
        enum resdeliv__config_kind kind = RESDELIV__CONFIG_STRING;
        int key = n > 0 && (size_t)n < sizeof name
                      ? resdeliv__config_key_find(name, &kind)
                      : -1;
        bool nested = prefix == NULL && strcmp(c->string, "retention") == 0;
        int rc = key >= 0 || nested
                     ? json_dup(obj->child, c, name, err, errsize)
                     : BAD("unknown key '%.200s'", name);
        if (rc == 0 && nested && !cJSON_IsObject(c)) {
            rc = BAD("retention: expected an object, got %s", json_type(c));
        } else if (rc == 0 && nested) {
            rc = json_object(ctx, c, "retention");
        } else if (rc == 0) {
            rc = json_value(ctx, key, kind, name, c);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Parses the text; NULL with a message when it is not one JSON value. */
static cJSON *json_parse(const char *json, size_t len, char *err,
                         size_t errsize)
{
    const char *nul = memchr(json, '\0', len);
    const char *end = NULL;
    cJSON *root = NULL;
    if (nul == NULL && len > 0) {
        root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    }
    /* Only JSON whitespace may follow the value. */
    while (root != NULL && end < json + len &&
           (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) {
        end++;
    }
    if (root != NULL && end == json + len) {
        return root;
    }
    cJSON_Delete(root);
    size_t at = nul != NULL   ? (size_t)(nul - json)
                : end != NULL ? (size_t)(end - json)
                              : 0;
    resdeliv__errf(err, errsize, "config: not valid JSON near byte %zu", at);
    return NULL;
}

/* cJSON turns \u0000 into a C string that silently ends there, so a key or
 * a value would be cut short; no configuration text needs a NUL. */
static const char *escaped_nul(const char *json, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++) {
        size_t k = i;
        if (memcmp(json + i, "\\u0000", 6) != 0) {
            continue;
        }
        while (k > 0 && json[k - 1] == '\\') {
            k--;
        }
        if ((i - k) % 2 == 0) {
            return json + i;
        }
    }
    return NULL;
}

int resdeliv_config_from_json(const char *json, size_t len,
                              struct resdeliv_config **out, char *err,
                              size_t errsize)
{
    if (out == NULL || json == NULL) {
        return FAIL(RESDELIV_EINVAL, "config: %s must not be NULL",
                    out == NULL ? "out" : "json");
    }
    *out = NULL;
    cJSON *root = json_parse(json, len, err, errsize);
    if (root == NULL) {
        return RESDELIV_EBADJSON;
    }
    struct json_ctx ctx = {NULL, 0, err, errsize};
    const char *nul = escaped_nul(json, len);
    int rc = 0;
    if (nul != NULL) {
        rc = BAD("config: \\u0000 is not allowed in keys or strings (byte "
                 "%zu)",
                 (size_t)(nul - json));
    } else if (!cJSON_IsObject(root)) {
        rc = BAD("config: expected a JSON object at the top level, got %s",
                 json_type(root));
    } else if (resdeliv_config_new(&ctx.cfg) != 0) {
        rc = nomem(err, errsize);
    } else {
        rc = json_object(&ctx, root, NULL);
    }
    cJSON_Delete(root);
    if (rc == 0) {
        rc = resdeliv_config_validate(ctx.cfg, err, errsize);
    }
    if (rc != 0) {
        resdeliv_config_free(ctx.cfg);
    }
    *out = rc == 0 ? ctx.cfg : NULL;
    return rc;
}
