/* SPDX-License-Identifier: MIT */
/*
 * Tests for the configuration module: defaults, validation of every key,
 * the text setter, glob precedence of per-channel retention and deep
 * copies. The JSON reader has its own program, check_config_json.c. Error
 * paths run in loops so LeakSanitizer sees any leak on them.
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_SIZE 512

/* A caller-owned struct with readable bytes after it, so the owned-config
 * check on it reads defined memory. */
struct caller_config {
    struct resdeliv_config c;
    unsigned char tail[64];
};

static void assert_msg(const char *err, const char *want)
{
    ck_assert_msg(strstr(err, want) != NULL, "message '%s' lacks '%s'", err,
                  want);
}

static void assert_defaults(const struct resdeliv_config *c)
{
    ck_assert_uint_eq(c->struct_size, sizeof *c);
    ck_assert_uint_eq(c->abi_version, RESDELIV_ABI_VERSION);
    ck_assert_str_eq(c->connection, "memory");
    ck_assert_str_eq(c->key_prefix, "delivery");
    ck_assert_uint_eq(c->default_max_messages, 1000);
    ck_assert_ptr_null(c->per_channel);
    ck_assert_uint_eq(c->per_channel_count, 0);
    ck_assert_uint_eq(c->max_age_seconds, 0);
    ck_assert_str_eq(c->replay_id_field, "_replay_id");
    ck_assert_str_eq(c->replay_epoch_field, "_replay_epoch");
    ck_assert_uint_eq(c->on_log_failure, RESDELIV_ON_FAILURE_DELIVER_UNTAGGED);
    ck_assert_uint_eq(c->gap_notice, 1);
    ck_assert_uint_eq(c->replay_batch_size, 100);
    ck_assert_uint_eq(c->replay_max_messages, 0);
}

/* ---- defaults ------------------------------------------------------ */

START_TEST(test_init_defaults)
{
    struct resdeliv_config c;
    memset(&c, 0xa5, sizeof c);
    resdeliv_config_init(&c);
    assert_defaults(&c);
    ck_assert_int_eq(resdeliv_config_validate(&c, NULL, 0), 0);
    resdeliv_config_init(NULL);
}
END_TEST

START_TEST(test_new_defaults)
{
    struct resdeliv_config *c = NULL;
    ck_assert_int_eq(resdeliv_config_new(&c), 0);
    ck_assert_ptr_nonnull(c);
    assert_defaults(c);
    ck_assert_int_eq(resdeliv_config_validate(c, NULL, 0), 0);
    resdeliv_config_free(c);
    resdeliv_config_free(NULL);
    ck_assert_int_eq(resdeliv_config_new(NULL), RESDELIV_EINVAL);
}
END_TEST

START_TEST(test_partial_json_keeps_defaults)
{
    struct resdeliv_config *c = NULL;
    char err[ERR_SIZE] = "";
    const char *j = "{\"retention\":{\"max_age_seconds\":60}}";
    ck_assert_int_eq(
        resdeliv_config_from_json(j, strlen(j), &c, err, sizeof err), 0);
    ck_assert_uint_eq(c->max_age_seconds, 60);
    c->max_age_seconds = 0;
    assert_defaults(c);
    resdeliv_config_free(c);

    ck_assert_int_eq(resdeliv_config_from_json(" {}\n", 4, &c, err, sizeof err),
                     0);
    assert_defaults(c);
    resdeliv_config_free(c);
}
END_TEST

/* ---- validate ------------------------------------------------------ */

static char long_str[520];

static const char *repeat(char ch, size_t n)
{
    memset(long_str, ch, n);
    long_str[n] = '\0';
    return long_str;
}

/* One way to break one key, and what the message must contain. */
enum how { STR, LONG, U64, U32, RULE_PAT, RULE_LONG, RULE_CAP, NO_RULES };

static const struct {
    enum how how;
    size_t off;    /* member offset for STR, LONG, U64, U32 */
    const char *s; /* the string; for LONG kinds the fill character */
    uint64_t u;    /* the number; for LONG kinds the length */
    const char *want1;
    const char *want2;
} bad_config[] = {
#define M(m) offsetof(struct resdeliv_config, m)
    {U32, M(struct_size), NULL, 4, "struct_size", "4"},
    {U32, M(abi_version), NULL, 1u << 16, "abi_version", "major 1"},
    {STR, M(connection), NULL, 0, "connection", "NULL"},
    {STR, M(connection), "", 0, "connection", "empty"},
    {STR, M(connection), "rediss://h:6380", 0, "connection", "not supported"},
    {STR, M(connection), "http://x", 0, "connection", "'http://x'"},
    {STR, M(connection), "unix://", 0, "connection", "unix://"},
    {STR, M(connection), "memory ", 0, "connection", "whitespace"},
    {STR, M(key_prefix), "", 0, "key_prefix", "got 0"},
    {LONG, M(key_prefix), "p", 129, "key_prefix", "got 129"},
    {STR, M(key_prefix), "a b", 0, "key_prefix", "'a b'"},
    {STR, M(key_prefix), "a{b}", 0, "key_prefix", "'a{b}'"},
    {STR, M(key_prefix), NULL, 0, "key_prefix", "NULL"},
    {U64, M(default_max_messages), NULL, 0,
     "retention.default_max_messages: must be between 1 and 100000000, "
     "got 0",
     ""},
    {U64, M(default_max_messages), NULL, RESDELIV_MAX_RETENTION + 1,
     "retention.default_max_messages", "got 100000001"},
    {NO_RULES, 0, NULL, 0, "retention.per_channel", "NULL rule array"},
    {RULE_PAT, 0, NULL, 0, "retention.per_channel[0].pattern", "NULL"},
    {RULE_PAT, 0, "", 0, "retention.per_channel[0].pattern", "got 0"},
    {RULE_LONG, 0, "*", 201, "retention.per_channel[0].pattern", "got 201"},
    {RULE_CAP, 0, NULL, 0, "retention.per_channel[0]", "got 0"},
    {RULE_CAP, 0, NULL, RESDELIV_MAX_RETENTION + 1, "retention.per_channel[0]",
     "got 100000001"},
    {U64, M(max_age_seconds), NULL, 315360001, "retention.max_age_seconds",
     "315360000, got 315360001"},
    {STR, M(replay_id_field), "", 0, "replay_id_field", "got 0"},
    {LONG, M(replay_id_field), "f", 65, "replay_id_field", "got 65"},
    {STR, M(replay_id_field), "a\"b", 0, "replay_id_field", "'\"'"},
    {STR, M(replay_id_field), "a\\b", 0, "replay_id_field", "byte 1"},
    {STR, M(replay_id_field), "a\nb", 0, "replay_id_field", "control"},
    {STR, M(replay_id_field), NULL, 0, "replay_id_field", "NULL"},
    {STR, M(replay_epoch_field), NULL, 0, "replay_epoch_field", "NULL"},
    {STR, M(replay_epoch_field), "_replay_id", 0, "replay_epoch_field",
     "must differ"},
    {U32, M(on_log_failure), NULL, 2, "on_log_failure", "got 2"},
    {U32, M(gap_notice), NULL, 2, "gap_notice", "must be 0 or 1, got 2"},
    {U64, M(replay_batch_size), NULL, 0, "replay_batch_size",
     "between 1 and 100000, got 0"},
    {U64, M(replay_batch_size), NULL, RESDELIV_MAX_BATCH_SIZE + 1,
     "replay_batch_size", "got 100001"},
    {U64, M(replay_max_messages), NULL, RESDELIV_MAX_RETENTION + 1,
     "replay_max_messages", "between 0 and 100000000, got 100000001"},
#undef M
};

#define BAD_CONFIG_CASES ((int)(sizeof bad_config / sizeof bad_config[0]))

static void break_config(int i, struct resdeliv_config *c,
                         struct resdeliv_retention_rule *rule)
{
    char *at = (char *)c + bad_config[i].off;
    const char *s = bad_config[i].s;
    uint64_t u = bad_config[i].u;
    uint32_t u32 = (uint32_t)u;
    enum how how = bad_config[i].how;
    if (how == LONG || how == RULE_LONG) {
        s = repeat(s[0], (size_t)u);
    }
    if (how >= RULE_PAT) {
        c->per_channel = how == NO_RULES ? NULL : rule;
        c->per_channel_count = 1;
    }
    if (how == STR || how == LONG) {
        memcpy(at, &s, sizeof s);
    } else if (how == U64) {
        memcpy(at, &u, sizeof u);
    } else if (how == U32) {
        memcpy(at, &u32, sizeof u32);
    } else if (how == RULE_PAT || how == RULE_LONG) {
        rule->pattern = s;
    } else if (how == RULE_CAP) {
        rule->max_messages = u;
    }
}

START_TEST(test_validate_bad)
{
    struct resdeliv_config c;
    struct resdeliv_retention_rule rule = {"private-*", 10};
    struct resdeliv_config *copy = (struct resdeliv_config *)&c;
    char err[ERR_SIZE] = "";
    const char *want1 = bad_config[_i].want1;
    const char *want2 = bad_config[_i].want2;
    resdeliv_config_init(&c);
    break_config(_i, &c, &rule);
    ck_assert_int_eq(resdeliv_config_validate(&c, err, sizeof err),
                     RESDELIV_EBADCONFIG);
    assert_msg(err, want1);
    assert_msg(err, want2);
    ck_assert_int_eq(resdeliv_config_validate(&c, NULL, 0),
                     RESDELIV_EBADCONFIG);
    /* A copy validates first, and fails the same way without leaking. */
    for (int k = 0; k < 20; k++) {
        ck_assert_int_eq(resdeliv__config_copy(&c, &copy, err, sizeof err),
                         RESDELIV_EBADCONFIG);
        ck_assert_ptr_null(copy);
    }
    assert_msg(err, want1);
}
END_TEST

START_TEST(test_validate_null)
{
    char err[ERR_SIZE] = "";
    ck_assert_int_eq(resdeliv_config_validate(NULL, err, sizeof err),
                     RESDELIV_EBADCONFIG);
    assert_msg(err, "NULL");
    /* A one-byte buffer still gets a terminated message. */
    ck_assert_int_eq(resdeliv_config_validate(NULL, err, 1),
                     RESDELIV_EBADCONFIG);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_validate_limits_accepted)
{
    struct resdeliv_config c;
    char prefix[RESDELIV_MAX_PREFIX_LEN + 1];
    char field[RESDELIV_MAX_FIELD_LEN + 1];
    char pattern[201];
    char err[ERR_SIZE] = "";
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    memset(field, 'f', sizeof field - 1);
    field[sizeof field - 1] = '\0';
    memset(pattern, '*', sizeof pattern - 1);
    pattern[sizeof pattern - 1] = '\0';
    struct resdeliv_retention_rule rules[] = {{pattern, RESDELIV_MAX_RETENTION},
                                              {"a", 1}};
    const char *urls[] = {"memory", "redis://127.0.0.1:6379/0",
                          "redis://:secret@localhost", "unix:///run/r.sock"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        resdeliv_config_init(&c);
        c.connection = urls[i];
        c.key_prefix = prefix;
        c.replay_id_field = field;
        c.replay_epoch_field = "e";
        c.per_channel = rules;
        c.per_channel_count = 2;
        c.default_max_messages = RESDELIV_MAX_RETENTION;
        c.max_age_seconds = 315360000;
        c.on_log_failure = RESDELIV_ON_FAILURE_FAIL;
        c.gap_notice = 0;
        c.replay_batch_size = RESDELIV_MAX_BATCH_SIZE;
        c.replay_max_messages = RESDELIV_MAX_RETENTION;
        ck_assert_msg(resdeliv_config_validate(&c, err, sizeof err) == 0,
                      "%s: %s", urls[i], err);
    }
}
END_TEST

START_TEST(test_validate_struct_versions)
{
    struct resdeliv_config c;
    char err[ERR_SIZE] = "";
    struct resdeliv_config *copy = NULL;
    resdeliv_config_init(&c);
    /* An older caller's struct ends before replay_batch_size: the bytes
     * after it are not read and the defaults apply. */
    c.replay_batch_size = 0;
    c.replay_max_messages = RESDELIV_MAX_RETENTION + 5;
    c.struct_size =
        (uint32_t)offsetof(struct resdeliv_config, replay_batch_size);
    ck_assert_int_eq(resdeliv_config_validate(&c, err, sizeof err), 0);
    ck_assert_int_eq(resdeliv__config_copy(&c, &copy, err, sizeof err), 0);
    ck_assert_uint_eq(copy->replay_batch_size, 100);
    ck_assert_uint_eq(copy->replay_max_messages, 0);
    ck_assert_uint_eq(copy->struct_size, sizeof *copy);
    resdeliv_config_free(copy);
    /* A newer minor (bigger struct, same major) is accepted. */
    c.struct_size = (uint32_t)sizeof c + 16;
    c.abi_version = RESDELIV_ABI_VERSION + 3;
    c.replay_batch_size = 7;
    c.replay_max_messages = 0;
    ck_assert_int_eq(resdeliv_config_validate(&c, err, sizeof err), 0);
    c.struct_size = 7;
    ck_assert_int_eq(resdeliv_config_validate(&c, err, sizeof err),
                     RESDELIV_EBADCONFIG);
    assert_msg(err, "struct_size: 7");
}
END_TEST

/* ---- configurations from JSON, for set, globs and copy ------------ */

static struct resdeliv_config *json_ok(const char *j)
{
    struct resdeliv_config *c = NULL;
    char err[ERR_SIZE] = "";
    int rc = resdeliv_config_from_json(j, strlen(j), &c, err, sizeof err);
    ck_assert_msg(rc == 0, "'%s' failed: %d %s", j, rc, err);
    ck_assert_ptr_nonnull(c);
    return c;
}

static void assert_all_set(const struct resdeliv_config *c)
{
    ck_assert_str_eq(c->connection, "redis://127.0.0.1:6379/2");
    ck_assert_str_eq(c->key_prefix, "app1");
    ck_assert_uint_eq(c->default_max_messages, 5000);
    ck_assert_uint_eq(c->per_channel_count, 2);
    ck_assert_str_eq(c->per_channel[0].pattern, "private-*");
    ck_assert_uint_eq(c->per_channel[0].max_messages, 10);
    ck_assert_str_eq(c->per_channel[1].pattern, "*");
    ck_assert_uint_eq(c->per_channel[1].max_messages, 20);
    ck_assert_uint_eq(c->max_age_seconds, 3600);
    ck_assert_str_eq(c->replay_id_field, "rid");
    ck_assert_str_eq(c->replay_epoch_field, "repoch");
    ck_assert_uint_eq(c->on_log_failure, RESDELIV_ON_FAILURE_FAIL);
    ck_assert_uint_eq(c->gap_notice, 0);
    ck_assert_uint_eq(c->replay_batch_size, 25);
    ck_assert_uint_eq(c->replay_max_messages, 300);
}

/* ---- set ----------------------------------------------------------- */

static void set_ok(struct resdeliv_config *c, const char *key,
                   const char *value)
{
    char err[ERR_SIZE] = "";
    int rc = resdeliv_config_set(c, key, value, err, sizeof err);
    ck_assert_msg(rc == 0, "%s=%s: %d %s", key, value, rc, err);
}

START_TEST(test_set_every_key)
{
    struct resdeliv_config *c = NULL;
    ck_assert_int_eq(resdeliv_config_new(&c), 0);
    set_ok(c, "connection", "redis://127.0.0.1:6379/2");
    set_ok(c, "key_prefix", "app1");
    set_ok(c, "retention.default_max_messages", "5000");
    set_ok(c, "retention.per_channel", "private-*=10");
    set_ok(c, "retention.per_channel", "*=20");
    set_ok(c, "retention.max_age_seconds", "3600");
    set_ok(c, "replay_id_field", "rid");
    set_ok(c, "replay_epoch_field", "repoch");
    set_ok(c, "on_log_failure", "fail");
    set_ok(c, "gap_notice", "off");
    set_ok(c, "replay_batch_size", "25");
    set_ok(c, "replay_max_messages", "300");
    assert_all_set(c);
    ck_assert_int_eq(resdeliv_config_validate(c, NULL, 0), 0);
    /* Setting a string again replaces the owned copy. */
    set_ok(c, "key_prefix", "app2");
    ck_assert_str_eq(c->key_prefix, "app2");
    set_ok(c, "on_log_failure", "deliver_untagged");
    ck_assert_uint_eq(c->on_log_failure, 0);
    resdeliv_config_free(c);
}
END_TEST

START_TEST(test_set_booleans)
{
    static const struct {
        const char *text;
        uint32_t value;
    } cases[] = {{"true", 1}, {"false", 0}, {"on", 1},   {"off", 0},
                 {"1", 1},    {"0", 0},     {"TRUE", 1}, {"Off", 0}};
    struct resdeliv_config *c = NULL;
    ck_assert_int_eq(resdeliv_config_new(&c), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        c->gap_notice = !cases[i].value;
        set_ok(c, "gap_notice", cases[i].text);
        ck_assert_uint_eq(c->gap_notice, cases[i].value);
    }
    resdeliv_config_free(c);
}
END_TEST

static void assert_same(const struct resdeliv_config *a,
                        const struct resdeliv_config *b)
{
    ck_assert_ptr_eq(a->connection, b->connection);
    ck_assert_ptr_eq(a->key_prefix, b->key_prefix);
    ck_assert_uint_eq(a->default_max_messages, b->default_max_messages);
    ck_assert_ptr_eq(a->per_channel, b->per_channel);
    ck_assert_uint_eq(a->per_channel_count, b->per_channel_count);
    ck_assert_uint_eq(a->max_age_seconds, b->max_age_seconds);
    ck_assert_ptr_eq(a->replay_id_field, b->replay_id_field);
    ck_assert_ptr_eq(a->replay_epoch_field, b->replay_epoch_field);
    ck_assert_uint_eq(a->on_log_failure, b->on_log_failure);
    ck_assert_uint_eq(a->gap_notice, b->gap_notice);
    ck_assert_uint_eq(a->replay_batch_size, b->replay_batch_size);
    ck_assert_uint_eq(a->replay_max_messages, b->replay_max_messages);
}

static const struct {
    const char *key;
    const char *value;
    int rc;
    const char *want;
} bad_set[] = {
    {"replay_batch_size", "12x", RESDELIV_EBADCONFIG, "'12x'"},
    {"replay_batch_size", "-1", RESDELIV_EBADCONFIG, "decimal"},
    {"replay_batch_size", "+1", RESDELIV_EBADCONFIG, "decimal"},
    {"replay_batch_size", " 1", RESDELIV_EBADCONFIG, "decimal"},
    {"replay_batch_size", "", RESDELIV_EBADCONFIG, "decimal"},
    {"replay_batch_size", "0x10", RESDELIV_EBADCONFIG, "decimal"},
    {"replay_max_messages", "18446744073709551616", RESDELIV_EBADCONFIG,
     "decimal"},
    {"replay_max_messages", "18446744073709551615", RESDELIV_EBADCONFIG,
     "got 18446744073709551615"},
    {"retention.default_max_messages", "0", RESDELIV_EBADCONFIG,
     "must be between 1 and 100000000, got 0"},
    {"retention.max_age_seconds", "315360001", RESDELIV_EBADCONFIG,
     "315360001"},
    {"gap_notice", "maybe", RESDELIV_EBADCONFIG, "'maybe'"},
    {"gap_notice", "", RESDELIV_EBADCONFIG, "true"},
    {"on_log_failure", "drop", RESDELIV_EBADCONFIG, "'drop'"},
    {"connection", "rediss://h", RESDELIV_EBADCONFIG, "not supported"},
    {"connection", "", RESDELIV_EBADCONFIG, "empty"},
    {"key_prefix", "x}", RESDELIV_EBADCONFIG, "'}'"},
    {"replay_id_field", "_replay_epoch", RESDELIV_EBADCONFIG,
     "must differ from replay_epoch_field"},
    {"replay_epoch_field", "a\\b", RESDELIV_EBADCONFIG, "byte 1"},
    {"retention.per_channel", "noequals", RESDELIV_EBADCONFIG, "glob=cap"},
    {"retention.per_channel", "a=", RESDELIV_EBADCONFIG, "glob=cap"},
    {"retention.per_channel", "a=1x", RESDELIV_EBADCONFIG, "glob=cap"},
    {"retention.per_channel", "=5", RESDELIV_EBADCONFIG, "pattern"},
    {"retention.per_channel", "a=0", RESDELIV_EBADCONFIG, "got 0"},
    {"retention", "5", RESDELIV_EBADCONFIG, "unknown key 'retention'"},
    {"nope", "5", RESDELIV_EBADCONFIG, "unknown key 'nope'"},
    {"struct_size", "5", RESDELIV_EBADCONFIG, "unknown key"},
};

#define BAD_SET_CASES ((int)(sizeof bad_set / sizeof bad_set[0]))

START_TEST(test_set_bad_leaves_config)
{
    struct resdeliv_config *c = NULL;
    struct resdeliv_config before;
    char err[ERR_SIZE];
    const char *j = "{\"key_prefix\":\"kp\",\"retention.per_channel\":"
                    "{\"private-*\":5}}";
    ck_assert_int_eq(resdeliv_config_from_json(j, strlen(j), &c, NULL, 0), 0);
    before = *c;
    for (int k = 0; k < 20; k++) {
        err[0] = '\0';
        int rc = resdeliv_config_set(c, bad_set[_i].key, bad_set[_i].value, err,
                                     sizeof err);
        ck_assert_msg(rc == bad_set[_i].rc, "%s=%s: %d", bad_set[_i].key,
                      bad_set[_i].value, rc);
        assert_msg(err, bad_set[_i].key);
        assert_msg(err, bad_set[_i].want);
        assert_same(c, &before);
    }
    ck_assert_str_eq(c->per_channel[0].pattern, "private-*");
    resdeliv_config_free(c);
}
END_TEST

START_TEST(test_set_needs_owned)
{
    struct caller_config mine;
    struct resdeliv_config *c = NULL;
    char err[ERR_SIZE] = "";
    memset(&mine, 0, sizeof mine);
    resdeliv_config_init(&mine.c);
    ck_assert_int_eq(
        resdeliv_config_set(&mine.c, "replay_batch_size", "5", err, sizeof err),
        RESDELIV_EINVAL);
    assert_msg(err, "replay_batch_size");
    ck_assert_uint_eq(mine.c.replay_batch_size, 100);
    /* free refuses a struct it did not make. */
    resdeliv_config_free(&mine.c);
    ck_assert_int_eq(resdeliv_config_new(&c), 0);
    ck_assert_int_eq(
        resdeliv_config_set(NULL, "gap_notice", "1", err, sizeof err),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_config_set(c, NULL, "1", err, sizeof err),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_config_set(c, "gap_notice", NULL, err, sizeof err),
        RESDELIV_EINVAL);
    resdeliv_config_free(c);
}
END_TEST

START_TEST(test_set_after_caller_edits)
{
    struct resdeliv_config *c = NULL;
    char prefix[] = "borrowed";
    struct resdeliv_retention_rule mine[] = {{"presence-*", 7}};
    ck_assert_int_eq(resdeliv_config_new(&c), 0);
    c->key_prefix = prefix;
    c->per_channel = mine;
    c->per_channel_count = 1;
    /* Appending copies the caller's rules too: the result owns them. */
    set_ok(c, "retention.per_channel", "a=b=3");
    mine[0].pattern = "changed";
    ck_assert_uint_eq(c->per_channel_count, 2);
    ck_assert_ptr_ne(c->per_channel, mine);
    ck_assert_str_eq(c->per_channel[0].pattern, "presence-*");
    ck_assert_str_eq(c->per_channel[1].pattern, "a=b");
    ck_assert_uint_eq(c->per_channel[1].max_messages, 3);
    set_ok(c, "key_prefix", "owned");
    prefix[0] = 'X';
    ck_assert_str_eq(c->key_prefix, "owned");
    /* A rule the caller broke is reported, not copied. */
    mine[0].pattern = NULL;
    c->per_channel = mine;
    c->per_channel_count = 1;
    char err[ERR_SIZE] = "";
    ck_assert_int_eq(
        resdeliv_config_set(c, "retention.per_channel", "x=1", err, sizeof err),
        RESDELIV_EBADCONFIG);
    assert_msg(err, "retention.per_channel[0].pattern");
    resdeliv_config_free(c);
}
END_TEST

/* ---- globs --------------------------------------------------------- */

START_TEST(test_globs_first_match_wins)
{
    struct resdeliv_config c;
    struct resdeliv_retention_rule rules[] = {
        {"private-*", 10}, {"presence-chat.[ab]", 30}, {"*", 50}};
    resdeliv_config_init(&c);
    c.per_channel = rules;
    c.per_channel_count = 3;
    ck_assert_uint_eq(resdeliv_config_channel_cap(&c, "private-x"), 10);
    ck_assert_uint_eq(resdeliv_config_channel_cap(&c, "presence-chat.b"), 30);
    ck_assert_uint_eq(resdeliv_config_channel_cap(&c, "presence-chat.c"), 50);
    ck_assert_uint_eq(resdeliv_config_channel_cap(&c, "news"), 50);
    /* The catch-all first shadows the specific rule. */
    struct resdeliv_retention_rule rev[] = {{"*", 50}, {"private-*", 10}};
    c.per_channel = rev;
    c.per_channel_count = 2;
    ck_assert_uint_eq(resdeliv_config_channel_cap(&c, "private-x"), 50);
}
END_TEST

START_TEST(test_globs_default_and_null)
{
    struct resdeliv_config c;
    struct resdeliv_retention_rule rules[] = {{"private-?", 3}};
    resdeliv_config_init(&c);
    c.default_max_messages = 77;
    ck_assert_uint_eq(resdeliv_config_channel_cap(&c, "anything"), 77);
    c.per_channel = rules;
    c.per_channel_count = 1;
    ck_assert_uint_eq(resdeliv_config_channel_cap(&c, "private-a"), 3);
    ck_assert_uint_eq(resdeliv_config_channel_cap(&c, "private-ab"), 77);
    ck_assert_uint_eq(resdeliv_config_channel_cap(&c, NULL), 77);
    ck_assert_uint_eq(resdeliv_config_channel_cap(NULL, "x"), 1000);
}
END_TEST

START_TEST(test_globs_json_order_kept)
{
    const char *docs[] = {
        "{\"retention.per_channel\":{\"private-*\":10,\"*\":50}}",
        "{\"retention.per_channel\":[{\"pattern\":\"private-*\","
        "\"max_messages\":10},{\"pattern\":\"*\",\"max_messages\":50}]}",
    };
    for (size_t i = 0; i < 2; i++) {
        struct resdeliv_config *c = json_ok(docs[i]);
        ck_assert_uint_eq(resdeliv_config_channel_cap(c, "private-1"), 10);
        ck_assert_uint_eq(resdeliv_config_channel_cap(c, "public"), 50);
        resdeliv_config_free(c);
    }
    struct resdeliv_config *c =
        json_ok("{\"retention.per_channel\":{\"*\":50,\"private-*\":10}}");
    ck_assert_uint_eq(resdeliv_config_channel_cap(c, "private-1"), 50);
    resdeliv_config_free(c);
}
END_TEST

/* ---- copy ---------------------------------------------------------- */

START_TEST(test_copy_independent)
{
    struct resdeliv_config src;
    struct resdeliv_config *copy = NULL;
    char conn[] = "unix:///tmp/r.sock";
    char prefix[] = "pfx";
    char idf[] = "rid";
    char epf[] = "rep";
    char pat[] = "private-*";
    struct resdeliv_retention_rule rules[] = {{pat, 9}, {"*", 90}};
    char err[ERR_SIZE] = "";
    resdeliv_config_init(&src);
    src.connection = conn;
    src.key_prefix = prefix;
    src.replay_id_field = idf;
    src.replay_epoch_field = epf;
    src.per_channel = rules;
    src.per_channel_count = 2;
    ck_assert_int_eq(resdeliv__config_copy(&src, &copy, err, sizeof err), 0);
    conn[0] = prefix[0] = idf[0] = epf[0] = pat[0] = 'Z';
    rules[0].max_messages = 1;
    src.per_channel_count = 0;
    ck_assert_str_eq(copy->connection, "unix:///tmp/r.sock");
    ck_assert_str_eq(copy->key_prefix, "pfx");
    ck_assert_str_eq(copy->replay_id_field, "rid");
    ck_assert_str_eq(copy->replay_epoch_field, "rep");
    ck_assert_uint_eq(copy->per_channel_count, 2);
    ck_assert_ptr_ne(copy->per_channel, rules);
    ck_assert_str_eq(copy->per_channel[0].pattern, "private-*");
    ck_assert_uint_eq(copy->per_channel[0].max_messages, 9);
    ck_assert_uint_eq(resdeliv_config_channel_cap(copy, "private-q"), 9);
    ck_assert_int_eq(resdeliv_config_validate(copy, NULL, 0), 0);
    /* A copy is owned, so the setter works on it. */
    set_ok(copy, "retention.per_channel", "news=4");
    ck_assert_uint_eq(copy->per_channel_count, 3);
    resdeliv_config_free(copy);
}
END_TEST

START_TEST(test_copy_of_owned)
{
    struct resdeliv_config *a = json_ok(
        "{\"key_prefix\":\"kp\",\"retention.per_channel\":{\"x-*\":3}}");
    struct resdeliv_config *b = NULL;
    struct resdeliv_config *c = NULL;
    ck_assert_int_eq(resdeliv__config_copy(a, &b, NULL, 0), 0);
    ck_assert_ptr_ne(b->key_prefix, a->key_prefix);
    resdeliv_config_free(a);
    ck_assert_str_eq(b->key_prefix, "kp");
    ck_assert_str_eq(b->per_channel[0].pattern, "x-*");
    ck_assert_int_eq(resdeliv__config_copy(b, &c, NULL, 0), 0);
    set_ok(c, "key_prefix", "other");
    ck_assert_str_eq(b->key_prefix, "kp");
    resdeliv_config_free(b);
    resdeliv_config_free(c);
}
END_TEST

START_TEST(test_copy_bad_args)
{
    struct resdeliv_config src;
    struct resdeliv_config *copy = (struct resdeliv_config *)&src;
    char err[ERR_SIZE] = "";
    resdeliv_config_init(&src);
    ck_assert_int_eq(resdeliv__config_copy(&src, NULL, err, sizeof err),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv__config_copy(NULL, &copy, err, sizeof err),
                     RESDELIV_EBADCONFIG);
    ck_assert_ptr_null(copy);
    assert_msg(err, "NULL");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("defaults");
    tcase_add_test(tc, test_init_defaults);
    tcase_add_test(tc, test_new_defaults);
    tcase_add_test(tc, test_partial_json_keeps_defaults);
    suite_add_tcase(s, tc);

    tc = tcase_create("validate");
    tcase_add_loop_test(tc, test_validate_bad, 0, BAD_CONFIG_CASES);
    tcase_add_test(tc, test_validate_null);
    tcase_add_test(tc, test_validate_limits_accepted);
    tcase_add_test(tc, test_validate_struct_versions);
    suite_add_tcase(s, tc);

    tc = tcase_create("set");
    tcase_add_test(tc, test_set_every_key);
    tcase_add_test(tc, test_set_booleans);
    tcase_add_loop_test(tc, test_set_bad_leaves_config, 0, BAD_SET_CASES);
    tcase_add_test(tc, test_set_needs_owned);
    tcase_add_test(tc, test_set_after_caller_edits);
    suite_add_tcase(s, tc);

    tc = tcase_create("globs");
    tcase_add_test(tc, test_globs_first_match_wins);
    tcase_add_test(tc, test_globs_default_and_null);
    tcase_add_test(tc, test_globs_json_order_kept);
    suite_add_tcase(s, tc);

    tc = tcase_create("copy");
    tcase_add_test(tc, test_copy_independent);
    tcase_add_test(tc, test_copy_of_owned);
    tcase_add_test(tc, test_copy_bad_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
