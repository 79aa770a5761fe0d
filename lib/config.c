/* SPDX-License-Identifier: MIT */
/*
 * Configuration: defaults, validation and the text setter used by command
 * lines. The three front ends (the struct, the JSON reader in
 * config_json.c and the text setter) share one key table, so a key has the
 * same name, type and limits in the struct, in JSON and on a command line,
 * and every error message starts with the key's name.
 *
 * Owned configurations (resdeliv_config_new(), resdeliv_config_from_json(),
 * resdeliv__config_copy()) are a struct owned_config whose FIRST member is
 * the public struct: the pointer handed out is that member, so a cast gives
 * back the owner, which keeps every string and the rule array the public
 * members point at. The magic sits AFTER the public struct, never before
 * it, so the check never reads below the address the caller gave. Reading
 * it is still only defined for pointers that came from this file: that is
 * the rule resdeliv_config_set() and resdeliv_config_free() state. The
 * magic turns most stale or mistaken pointers into a refusal; it does not
 * make passing a caller's own struct safe, as the bytes after it may be
 * anything or nothing.
 */
#include "internal.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MAGIC UINT64_C(0x7265736465766366)
#define MAX_AGE_SECONDS UINT64_C(315360000) /* ten years */
#define MAX_PATTERN_LEN 200
#define HEAD_SIZE (2 * sizeof(uint32_t))
#define DEFAULT_MAX_MESSAGES 1000
#define KEY_BUF 256

/* Writes a message into the caller's buffer (locals `err`, `errsize`) and
 * yields the code: every error path here is "say what, then return". */
#define FAIL(code, ...) (resdeliv__errf(err, errsize, __VA_ARGS__), (code))
#define BAD(...) FAIL(RESDELIV_EBADCONFIG, __VA_ARGS__)

enum str_slot { SLOT_CONN, SLOT_PREFIX, SLOT_ID, SLOT_EPOCH, SLOT_COUNT };

struct owned_config {
    struct resdeliv_config pub; /* first: callers hold &pub */
    uint64_t magic;             /* after pub: see the file comment */
    char *str[SLOT_COUNT];
    /* One block: the rule array followed by its pattern bytes. */
    struct resdeliv_retention_rule *rules;
};

/* The kinds are shared with the JSON reader (internal.h). */
#define K_STRING RESDELIV__CONFIG_STRING
#define K_UINT RESDELIV__CONFIG_UINT
#define K_BOOL RESDELIV__CONFIG_BOOL
#define K_FAILMODE RESDELIV__CONFIG_FAILMODE
#define K_RULES RESDELIV__CONFIG_RULES

struct key_def;
typedef int (*check_fn)(const struct resdeliv_config *cfg,
                        const struct key_def *def, char *err, size_t errsize);

struct key_def {
    const char *name;
    enum resdeliv__config_kind kind;
    size_t offset; /* of the member in struct resdeliv_config */
    int slot;      /* enum str_slot for strings, else -1 */
    uint64_t min;  /* numbers: the range; strings: the length */
    uint64_t max;
    check_fn check;
};

#define MEMBER(m) offsetof(struct resdeliv_config, m)

static const void *cmember(const struct resdeliv_config *cfg,
                           const struct key_def *def)
{
    return (const char *)cfg + def->offset;
}

static void *wmember(struct resdeliv_config *cfg, const struct key_def *def)
{
    return (char *)cfg + def->offset;
}

static const char *get_str(const struct resdeliv_config *cfg,
                           const struct key_def *def)
{
    return *(const char *const *)cmember(cfg, def);
}

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* ---- validation --------------------------------------------------- */

static int check_connection(const struct resdeliv_config *cfg,
                            const struct key_def *def, char *err,
                            size_t errsize)
{
    const char *s = get_str(cfg, def);
    if (s == NULL || *s == '\0') {
        return BAD("%s: must not be %s", def->name, s ? "empty" : "NULL");
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (is_ctl((unsigned char)*p) || is_space((unsigned char)*p)) {
            return BAD("%s: must not contain whitespace or control "
                       "characters (byte %zu)",
                       def->name, (size_t)(p - s));
        }
    }
    if (strcmp(s, "memory") == 0 || strncmp(s, "redis://", 8) == 0 ||
        (strncmp(s, "unix://", 7) == 0 && s[7] != '\0')) {
        return 0;
    }
    if (strncmp(s, "rediss://", 9) == 0) {
        return BAD("%s: TLS URLs (rediss://) are not supported, got '%.80s'",
                   def->name, s);
    }
    return BAD("%s: expected \"memory\", a redis:// URL or a unix:// socket "
               "path, got '%.80s'",
               def->name, s);
}

static int check_string(const char *s, const struct key_def *def, char *err,
                        size_t errsize)
{
    if (s == NULL) {
        return BAD("%s: must not be NULL", def->name);
    }
    size_t len = strlen(s);
    if (len < def->min || len > def->max) {
        return BAD("%s: must be %" PRIu64 " to %" PRIu64 " bytes long, got %zu",
                   def->name, def->min, def->max, len);
    }
    return 0;
}

static int check_prefix(const struct resdeliv_config *cfg,
                        const struct key_def *def, char *err, size_t errsize)
{
    const char *s = get_str(cfg, def);
    int rc = check_string(s, def, err, errsize);
    /* Braces would turn the prefix into a Redis Cluster hash tag. */
    for (const char *p = s; rc == 0 && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (is_ctl(c) || is_space(c) || c == '{' || c == '}') {
            rc = BAD("%s: must not contain whitespace, control characters, "
                     "'{' or '}', got '%.80s' (byte %zu)",
                     def->name, s, (size_t)(p - s));
        }
    }
    return rc;
}

static int check_field(const struct resdeliv_config *cfg,
                       const struct key_def *def, char *err, size_t errsize)
{
    const char *s = get_str(cfg, def);
    int rc = check_string(s, def, err, errsize);
    /* The field name is spliced into JSON text without escaping. */
    for (const char *p = s; rc == 0 && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (is_ctl(c) || c == '"' || c == '\\') {
            rc = BAD("%s: must not contain '\"', '\\' or control characters "
                     "(byte %zu)",
                     def->name, (size_t)(p - s));
        }
    }
    bool id = def->slot == SLOT_ID;
    const char *other = id ? cfg->replay_epoch_field : cfg->replay_id_field;
    if (rc == 0 && other != NULL && strcmp(other, s) == 0) {
        rc = BAD("%s: must differ from %s, both are '%s'", def->name,
                 id ? "replay_epoch_field" : "replay_id_field", s);
    }
    return rc;
}

static int check_range(const char *name, uint64_t v, uint64_t min, uint64_t max,
                       char *err, size_t errsize)
{
    if (v < min || v > max) {
        return BAD("%s: must be between %" PRIu64 " and %" PRIu64
                   ", got %" PRIu64,
                   name, min, max, v);
    }
    return 0;
}

static int check_uint(const struct resdeliv_config *cfg,
                      const struct key_def *def, char *err, size_t errsize)
{
    uint64_t v = *(const uint64_t *)cmember(cfg, def);
    return check_range(def->name, v, def->min, def->max, err, errsize);
}

static int check_flag(const struct resdeliv_config *cfg,
                      const struct key_def *def, char *err, size_t errsize)
{
    uint32_t v = *(const uint32_t *)cmember(cfg, def);
    if (v <= 1) {
        return 0;
    }
    if (def->kind == K_FAILMODE) {
        return BAD("%s: must be RESDELIV_ON_FAILURE_DELIVER_UNTAGGED (0) or "
                   "RESDELIV_ON_FAILURE_FAIL (1), got %" PRIu32,
                   def->name, v);
    }
    return BAD("%s: must be 0 or 1, got %" PRIu32, def->name, v);
}

static int check_rule(const struct key_def *def, size_t i,
                      const struct resdeliv_retention_rule *r, char *err,
                      size_t errsize)
{
    char name[KEY_BUF];
    size_t len = r->pattern != NULL ? strlen(r->pattern) : 0;
    if (r->pattern == NULL) {
        return BAD("%s[%zu].pattern: must not be NULL", def->name, i);
    }
    if (len == 0 || len > MAX_PATTERN_LEN) {
        return BAD("%s[%zu].pattern: must be 1 to %d bytes long, got %zu",
                   def->name, i, MAX_PATTERN_LEN, len);
    }
    snprintf(name, sizeof name, "%s[%zu] ('%.80s'): max_messages", def->name, i,
             r->pattern);
    return check_range(name, r->max_messages, def->min, def->max, err, errsize);
}

static int check_rules(const struct resdeliv_config *cfg,
                       const struct key_def *def, char *err, size_t errsize)
{
    if (cfg->per_channel_count > 0 && cfg->per_channel == NULL) {
        return BAD("%s: NULL rule array with per_channel_count %zu", def->name,
                   cfg->per_channel_count);
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cfg->per_channel_count; i++) {
        rc = check_rule(def, i, &cfg->per_channel[i], err, errsize);
    }
    return rc;
}

/* Validation reports the first bad key in this order. The JSON reader
 * keeps one bit per entry in a uint32_t, so there are at most 32. */
static const struct key_def keys[] = {
    {"connection", K_STRING, MEMBER(connection), SLOT_CONN, 0, 0,
     check_connection},
    {"key_prefix", K_STRING, MEMBER(key_prefix), SLOT_PREFIX, 1,
     RESDELIV_MAX_PREFIX_LEN, check_prefix},
    {"retention.default_max_messages", K_UINT, MEMBER(default_max_messages), -1,
     1, RESDELIV_MAX_RETENTION, check_uint},
    {"retention.per_channel", K_RULES, MEMBER(per_channel), -1, 1,
     RESDELIV_MAX_RETENTION, check_rules},
    {"retention.max_age_seconds", K_UINT, MEMBER(max_age_seconds), -1, 0,
     MAX_AGE_SECONDS, check_uint},
    {"replay_id_field", K_STRING, MEMBER(replay_id_field), SLOT_ID, 1,
     RESDELIV_MAX_FIELD_LEN, check_field},
    {"replay_epoch_field", K_STRING, MEMBER(replay_epoch_field), SLOT_EPOCH, 1,
     RESDELIV_MAX_FIELD_LEN, check_field},
    {"on_log_failure", K_FAILMODE, MEMBER(on_log_failure), -1, 0, 1,
     check_flag},
    {"replay_batch_size", K_UINT, MEMBER(replay_batch_size), -1, 1,
     RESDELIV_MAX_BATCH_SIZE, check_uint},
    {"replay_max_messages", K_UINT, MEMBER(replay_max_messages), -1, 0,
     RESDELIV_MAX_RETENTION, check_uint},
    {"gap_notice", K_BOOL, MEMBER(gap_notice), -1, 0, 1, check_flag},
};

#define KEY_COUNT (sizeof(keys) / sizeof(keys[0]))
_Static_assert(KEY_COUNT <= 32, "the JSON reader has one bit per key");

static const struct key_def *find_key(const char *name)
{
    for (size_t i = 0; i < KEY_COUNT; i++) {
        if (strcmp(keys[i].name, name) == 0) {
            return &keys[i];
        }
    }
    return NULL;
}

/* Bytes of a caller's struct that hold whole members this library knows:
 * an older caller's struct lacks the later members, which then keep their
 * defaults; a newer caller's extra members are not read. */
static size_t known_prefix(uint32_t struct_size)
{
#define END(m) (MEMBER(m) + sizeof(((struct resdeliv_config *)0)->m))
    static const size_t ends[] = {
        END(connection),           END(key_prefix),
        END(default_max_messages), END(per_channel),
        END(per_channel_count),    END(max_age_seconds),
        END(replay_id_field),      END(replay_epoch_field),
        END(on_log_failure),       END(gap_notice),
        END(replay_batch_size),    END(replay_max_messages),
    };
#undef END
    size_t n = HEAD_SIZE;
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        if (ends[i] <= struct_size) {
            n = ends[i];
        }
    }
    return n;
}

/* Checks the head and the keys of `cfg`; `view` gets a full-size copy. */
static int validate_view(const struct resdeliv_config *cfg,
                         struct resdeliv_config *view, char *err,
                         size_t errsize)
{
    if (cfg == NULL) {
        return BAD("config: NULL configuration");
    }
    if (cfg->struct_size < HEAD_SIZE) {
        return BAD("struct_size: %" PRIu32 " is smaller than the struct head "
                   "(%zu bytes); call resdeliv_config_init() first",
                   cfg->struct_size, HEAD_SIZE);
    }
    if (RESDELIV_ABI_VERSION_MAJOR(cfg->abi_version) != RESDELIV_ABI_MAJOR) {
        return BAD("abi_version: major %" PRIu32 " is not supported, this "
                   "library has major %u",
                   RESDELIV_ABI_VERSION_MAJOR(cfg->abi_version),
                   RESDELIV_ABI_MAJOR);
    }
    resdeliv_config_init(view);
    memcpy(view, cfg, known_prefix(cfg->struct_size));
    view->struct_size = (uint32_t)sizeof *view;
    view->abi_version = RESDELIV_ABI_VERSION;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < KEY_COUNT; i++) {
        rc = keys[i].check(view, &keys[i], err, errsize);
    }
    return rc;
}

void resdeliv_config_init(struct resdeliv_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = (uint32_t)sizeof *cfg;
    cfg->abi_version = RESDELIV_ABI_VERSION;
    cfg->connection = "memory";
    cfg->key_prefix = "delivery";
    cfg->default_max_messages = DEFAULT_MAX_MESSAGES;
    cfg->per_channel = NULL;
    cfg->per_channel_count = 0;
    cfg->max_age_seconds = 0;
    cfg->replay_id_field = "_replay_id";
    cfg->replay_epoch_field = "_replay_epoch";
    cfg->on_log_failure = RESDELIV_ON_FAILURE_DELIVER_UNTAGGED;
    cfg->gap_notice = 1;
    cfg->replay_batch_size = 100;
    cfg->replay_max_messages = 0;
}

int resdeliv_config_validate(const struct resdeliv_config *cfg, char *err,
                             size_t errsize)
{
    struct resdeliv_config view;
    return validate_view(cfg, &view, err, errsize);
}

uint64_t resdeliv_config_channel_cap(const struct resdeliv_config *cfg,
                                     const char *channel)
{
    if (cfg == NULL) {
        return DEFAULT_MAX_MESSAGES;
    }
    for (size_t i = 0; channel != NULL && cfg->per_channel != NULL &&
                       i < cfg->per_channel_count;
         i++) {
        const struct resdeliv_retention_rule *r = &cfg->per_channel[i];
        if (r->pattern != NULL && fnmatch(r->pattern, channel, 0) == 0) {
            return r->max_messages;
        }
    }
    return cfg->default_max_messages;
}

/* ---- owned configurations ----------------------------------------- */

static struct owned_config *owned_new(void)
{
    struct owned_config *o = calloc(1, sizeof *o);
    if (o != NULL) {
        resdeliv_config_init(&o->pub);
        o->magic = CONFIG_MAGIC;
    }
    return o;
}

/* Only for pointers this file handed out: see the file comment. */
static struct owned_config *owned_of(struct resdeliv_config *cfg)
{
    struct owned_config *o = (struct owned_config *)(void *)cfg;
    return o->magic == CONFIG_MAGIC ? o : NULL;
}

static void owned_free(struct owned_config *o)
{
    for (int i = 0; i < SLOT_COUNT; i++) {
        free(o->str[i]);
    }
    free(o->rules);
    o->magic = 0;
    free(o);
}

/* Copies `n` rules (patterns must be non-NULL) and an optional `extra` one
 * into one block, so whatever the caller did to pub, one free() ends it. */
static int rules_build(const struct resdeliv_retention_rule *src, size_t n,
                       const struct resdeliv_retention_rule *extra,
                       struct resdeliv_retention_rule **out)
{
    size_t total = n + (extra != NULL ? 1 : 0);
    *out = NULL;
    if (total == 0 || total > SIZE_MAX / 2 / sizeof **out) {
        return total == 0 ? 0 : RESDELIV_ENOMEM;
    }
    size_t bytes = total * sizeof **out;
    for (size_t i = 0; i < total; i++) {
        size_t len = strlen(i < n ? src[i].pattern : extra->pattern) + 1;
        if (len > SIZE_MAX - bytes) {
            return RESDELIV_ENOMEM;
        }
        bytes += len;
    }
    struct resdeliv_retention_rule *block = malloc(bytes);
    if (block == NULL) {
        return RESDELIV_ENOMEM;
    }
    char *p = (char *)(block + total);
    for (size_t i = 0; i < total; i++) {
        const struct resdeliv_retention_rule *r = i < n ? &src[i] : extra;
        size_t len = strlen(r->pattern) + 1;
        block[i].pattern = memcpy(p, r->pattern, len);
        block[i].max_messages = r->max_messages;
        p += len;
    }
    *out = block;
    return 0;
}

static int nomem(char *err, size_t errsize)
{
    return FAIL(RESDELIV_ENOMEM, "config: out of memory");
}

/* Replaces a string member with an owned copy of `value`. */
static int own_string(struct owned_config *o, const struct key_def *def,
                      const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL) {
        return RESDELIV_ENOMEM;
    }
    free(o->str[def->slot]);
    o->str[def->slot] = copy;
    *(const char **)wmember(&o->pub, def) = copy;
    return 0;
}

int resdeliv_config_new(struct resdeliv_config **out)
{
    if (out == NULL) {
        return RESDELIV_EINVAL;
    }
    struct owned_config *o = owned_new();
    *out = o != NULL ? &o->pub : NULL;
    return o != NULL ? 0 : RESDELIV_ENOMEM;
}

void resdeliv_config_free(struct resdeliv_config *cfg)
{
    struct owned_config *o = cfg != NULL ? owned_of(cfg) : NULL;
    if (o != NULL) {
        owned_free(o);
    }
}

int resdeliv__config_copy(const struct resdeliv_config *cfg,
                          struct resdeliv_config **out, char *err,
                          size_t errsize)
{
    struct resdeliv_config view;
    if (out == NULL) {
        return FAIL(RESDELIV_EINVAL, "config: out must not be NULL");
    }
    *out = NULL;
    int rc = validate_view(cfg, &view, err, errsize);
    if (rc != 0) {
        return rc;
    }
    struct owned_config *o = owned_new();
    if (o == NULL) {
        return nomem(err, errsize);
    }
    o->pub = view;
    for (size_t i = 0; rc == 0 && i < KEY_COUNT; i++) {
        if (keys[i].kind == K_STRING) {
            rc = own_string(o, &keys[i], get_str(&view, &keys[i]));
        }
    }
    if (rc == 0) {
        rc = rules_build(view.per_channel, view.per_channel_count, NULL,
                         &o->rules);
    }
    if (rc != 0) {
        owned_free(o);
        return nomem(err, errsize);
    }
    o->pub.per_channel = o->rules;
    *out = &o->pub;
    return 0;
}

/* ---- keys for the JSON reader (config_json.c) ---------------------- */

int resdeliv__config_key_find(const char *name,
                              enum resdeliv__config_kind *kind)
{
    const struct key_def *def = find_key(name);
    if (def == NULL) {
        return -1;
    }
    *kind = def->kind;
    return (int)(def - keys);
}

void *resdeliv__config_key_member(struct resdeliv_config *cfg, int key)
{
    return wmember(cfg, &keys[key]);
}

int resdeliv__config_own_string(struct resdeliv_config *cfg, int key,
                                const char *value)
{
    struct owned_config *o = owned_of(cfg);
    if (o == NULL || keys[key].kind != K_STRING) {
        return RESDELIV_EINVAL;
    }
    return own_string(o, &keys[key], value);
}

int resdeliv__config_own_rules(struct resdeliv_config *cfg,
                               const struct resdeliv_retention_rule *rules,
                               size_t n)
{
    struct owned_config *o = owned_of(cfg);
    struct resdeliv_retention_rule *block = NULL;
    if (o == NULL) {
        return RESDELIV_EINVAL;
    }
    if (rules_build(rules, n, NULL, &block) != 0) {
        return RESDELIV_ENOMEM;
    }
    free(o->rules);
    o->rules = block;
    o->pub.per_channel = block;
    o->pub.per_channel_count = n;
    return 0;
}

int resdeliv__config_parse_failmode(const char *s, uint32_t *out)
{
    if (strcmp(s, "deliver_untagged") == 0 || strcmp(s, "fail") == 0) {
        *out = s[0] == 'f' ? RESDELIV_ON_FAILURE_FAIL
                           : RESDELIV_ON_FAILURE_DELIVER_UNTAGGED;
        return 0;
    }
    return RESDELIV_EBADCONFIG;
}

/* ---- text setter -------------------------------------------------- */

static bool parse_decimal(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_bool(const char *s, uint32_t *out)
{
    static const char *const words[] = {"false", "off", "0", "true", "on", "1"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcasecmp(s, words[i]) == 0) {
            *out = i >= 3 ? 1 : 0;
            return true;
        }
    }
    return false;
}

/* Numbers, booleans and on_log_failure, into a candidate copy. */
static int parse_text(const struct key_def *def, const char *value,
                      struct resdeliv_config *cand, char *err, size_t errsize)
{
    bool ok = false;
    const char *want = "a non-negative decimal integer";
    if (def->kind == K_UINT) {
        ok = parse_decimal(value, wmember(cand, def));
    } else if (def->kind == K_BOOL) {
        want = "true, false, on, off, 1 or 0";
        ok = parse_bool(value, wmember(cand, def));
    } else {
        want = "deliver_untagged or fail";
        ok = resdeliv__config_parse_failmode(value, wmember(cand, def)) == 0;
    }
    return ok ? 0 : BAD("%s: expected %s, got '%.80s'", def->name, want, value);
}

static int set_string(struct owned_config *o, const struct key_def *def,
                      const char *value, char *err, size_t errsize)
{
    struct resdeliv_config cand = o->pub;
    *(const char **)wmember(&cand, def) = value;
    int rc = def->check(&cand, def, err, errsize);
    if (rc == 0 && own_string(o, def, value) != 0) {
        rc = nomem(err, errsize);
    }
    return rc;
}

/* Appends `glob=cap`; the last '=' splits, as channel names may hold '='. */
static int set_rule(struct owned_config *o, const struct key_def *def,
                    const char *value, char *err, size_t errsize)
{
    const char *eq = strrchr(value, '=');
    struct resdeliv_retention_rule extra = {NULL, 0};
    struct resdeliv_retention_rule *block = NULL;
    if (eq == NULL || !parse_decimal(eq + 1, &extra.max_messages)) {
        return BAD("%s: expected 'glob=cap' with a decimal cap, got '%.80s'",
                   def->name, value);
    }
    /* The current rules are copied below, so they must be sound. */
    int rc = check_rules(&o->pub, def, err, errsize);
    char *glob = rc == 0 ? strndup(value, (size_t)(eq - value)) : NULL;
    if (rc == 0 && glob == NULL) {
        rc = nomem(err, errsize);
    }
    extra.pattern = glob;
    if (rc == 0) {
        rc = check_rule(def, o->pub.per_channel_count, &extra, err, errsize);
    }
    if (rc == 0 && rules_build(o->pub.per_channel, o->pub.per_channel_count,
                               &extra, &block) != 0) {
        rc = nomem(err, errsize);
    }
    free(glob);
    if (rc == 0) {
        free(o->rules);
        o->rules = block;
        o->pub.per_channel = block;
        o->pub.per_channel_count++;
    }
    return rc;
}

int resdeliv_config_set(struct resdeliv_config *cfg, const char *key,
                        const char *value, char *err, size_t errsize)
{
    if (cfg == NULL || key == NULL || value == NULL) {
        return FAIL(RESDELIV_EINVAL,
                    "config: cfg, key and value must not be NULL");
    }
    struct owned_config *o = owned_of(cfg);
    if (o == NULL) {
        return FAIL(RESDELIV_EINVAL,
                    "%.80s: only a configuration made by "
                    "resdeliv_config_new() or resdeliv_config_from_json() "
                    "can be set",
                    key);
    }
    const struct key_def *def = find_key(key);
    if (def == NULL) {
        return BAD("unknown key '%.200s'", key);
    }
    if (def->kind == K_RULES) {
        return set_rule(o, def, value, err, errsize);
    }
    if (def->kind == K_STRING) {
        return set_string(o, def, value, err, errsize);
    }
    struct resdeliv_config cand = o->pub;
    int rc = parse_text(def, value, &cand, err, errsize);
    if (rc == 0) {
        rc = def->check(&cand, def, err, errsize);
    }
    if (rc == 0) {
        o->pub = cand;
    }
    return rc;
}
