/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for reading a configuration from JSON. A document that is
 * accepted must validate and deep-copy (the copy must hold the same
 * values); a refused one must say why in the error buffer and leave no
 * configuration behind. Both paths free everything, so LeakSanitizer checks
 * the error paths' cleanup.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: %s: %s\n", what, detail);
    abort();
}

static int str_same(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

static int rules_same(const struct resdeliv_config *a,
                      const struct resdeliv_config *b)
{
    if (a->per_channel_count != b->per_channel_count) {
        return 0;
    }
    for (size_t i = 0; i < a->per_channel_count; i++) {
        if (!str_same(a->per_channel[i].pattern, b->per_channel[i].pattern) ||
            a->per_channel[i].max_messages != b->per_channel[i].max_messages) {
            return 0;
        }
    }
    return 1;
}

static int config_same(const struct resdeliv_config *a,
                       const struct resdeliv_config *b)
{
    return str_same(a->connection, b->connection) &&
           str_same(a->key_prefix, b->key_prefix) &&
           str_same(a->replay_id_field, b->replay_id_field) &&
           str_same(a->replay_epoch_field, b->replay_epoch_field) &&
           a->default_max_messages == b->default_max_messages &&
           a->max_age_seconds == b->max_age_seconds &&
           a->on_log_failure == b->on_log_failure &&
           a->gap_notice == b->gap_notice &&
           a->replay_batch_size == b->replay_batch_size &&
           a->replay_max_messages == b->replay_max_messages && rules_same(a, b);
}

static void check_accepted(const struct resdeliv_config *cfg)
{
    static const char *const channels[] = {"news", "private-chat.1",
                                           "presence-room", ""};
    struct resdeliv_config *copy = NULL;
    char err[256] = "";

    if (resdeliv_config_validate(cfg, err, sizeof(err)) != 0) {
        fail("accepted configuration does not validate", err);
    }
    if (resdeliv__config_copy(cfg, &copy, err, sizeof(err)) != 0 ||
        copy == NULL) {
        fail("accepted configuration does not copy", err);
    }
    if (!config_same(cfg, copy)) {
        fail("copy differs from the original", "values");
    }
    for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++) {
        if (resdeliv_config_channel_cap(cfg, channels[i]) !=
            resdeliv_config_channel_cap(copy, channels[i])) {
            fail("copy gives another retention cap", channels[i]);
        }
    }
    resdeliv_config_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy without a NUL, so ASan sees any read past `size`. */
    char *json = malloc(size > 0 ? size : 1);
    struct resdeliv_config *cfg = NULL;
    char err[256] = "";
    int rc;

    if (json == NULL) {
        return 0;
    }
    memcpy(json, data, size);
    rc = resdeliv_config_from_json(json, size, &cfg, err, sizeof(err));
    if (rc == 0) {
        if (cfg == NULL) {
            fail("success without a configuration", "");
        }
        check_accepted(cfg);
    } else {
        if (rc != RESDELIV_EBADJSON && rc != RESDELIV_EBADCONFIG &&
            rc != RESDELIV_ENOMEM) {
            fail("unexpected error code", resdeliv_err_name(rc));
        }
        if (cfg != NULL) {
            fail("refused document left a configuration", err);
        }
        if (err[0] == '\0') {
            fail("refused document without a message", resdeliv_err_name(rc));
        }
    }
    resdeliv_config_free(cfg);
    free(json);
    return 0;
}
