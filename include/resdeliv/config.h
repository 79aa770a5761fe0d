/* SPDX-License-Identifier: MIT */
/**
 * @file config.h
 * Library configuration: the keys of the configuration table, the same
 * names in the C struct, in JSON documents and on command lines.
 *
 * | key                            | default                | meaning |
 * |--------------------------------|------------------------|---------|
 * | connection                     | "memory"               | store URL |
 * | key_prefix                     | "delivery"             | key namespace |
 * | retention.default_max_messages | 1000                   | per-channel cap |
 * | retention.per_channel          | none                   | glob => cap, first match wins |
 * | retention.max_age_seconds      | 0 (off)                | age bound; idle logs expire |
 * | replay_id_field                | "_replay_id"           | data key carrying the id |
 * | replay_epoch_field             | "_replay_epoch"        | data key carrying the epoch |
 * | on_log_failure                 | "deliver_untagged"     | or "fail" |
 * | replay_batch_size              | 100                    | page size of a replay |
 * | replay_max_messages            | 0 (= channel's cap)    | most one subscribe replays |
 * | gap_notice                     | true                   | send resdeliv:gap |
 */
#ifndef RESDELIV_CONFIG_H
#define RESDELIV_CONFIG_H

#include "common.h"

RESDELIV_BEGIN_DECLS

/** on_log_failure values. */
#define RESDELIV_ON_FAILURE_DELIVER_UNTAGGED 0u
#define RESDELIV_ON_FAILURE_FAIL 1u

/** Upper bounds enforced by validation. */
#define RESDELIV_MAX_RETENTION ((uint64_t)100000000)
#define RESDELIV_MAX_BATCH_SIZE ((uint64_t)100000)
#define RESDELIV_MAX_FIELD_LEN 64
#define RESDELIV_MAX_PREFIX_LEN 128

/** One per-channel retention override: channels matching `pattern`
 * (fnmatch(3) glob, no flags) keep at most `max_messages` entries. */
struct resdeliv_retention_rule {
    const char *pattern;
    uint64_t max_messages;
};

/**
 * Configuration values. Fill with resdeliv_config_init() and then change
 * members. Strings are borrowed: they must live as long as the struct is
 * used; resdeliv_log_open() copies everything it keeps.
 */
struct resdeliv_config {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *connection;          /**< "memory" or a store URL */
    const char *key_prefix;
    uint64_t default_max_messages;   /**< retention.default_max_messages */
    const struct resdeliv_retention_rule *per_channel; /**< first match wins */
    size_t per_channel_count;
    uint64_t max_age_seconds;        /**< retention.max_age_seconds, 0 = off */
    const char *replay_id_field;
    const char *replay_epoch_field;
    uint32_t on_log_failure;         /**< RESDELIV_ON_FAILURE_* */
    uint32_t gap_notice;             /**< 1 = send gap notices */
    uint64_t replay_batch_size;
    uint64_t replay_max_messages;    /**< 0 = the channel's retention cap */
};

/** Set every member to its default, including the struct head.
 * Thread: safe. */
RESDELIV_API void resdeliv_config_init(struct resdeliv_config *cfg);

/**
 * Check every value. On error writes a message naming the key into `err`
 * (may be NULL) and returns RESDELIV_EBADCONFIG.
 * Thread: safe.
 */
RESDELIV_API int resdeliv_config_validate(const struct resdeliv_config *cfg,
                                          char *err, size_t errsize);

/**
 * Read a JSON document into a new configuration that owns its strings.
 * Keys not present keep their defaults. Nested (`{"retention":{...}}`) and
 * dotted (`"retention.default_max_messages"`) forms are both accepted;
 * `retention.per_channel` is an object `{"glob": cap, ...}` (order kept) or
 * an array of `{"pattern": "...", "max_messages": N}`. An unknown key, a
 * wrong type or an out-of-range value fails with RESDELIV_EBADCONFIG (or
 * RESDELIV_EBADJSON for text that is not JSON) and a message in `err` that
 * names the key.
 * Ownership: `*out` is freed with resdeliv_config_free(). Thread: safe.
 */
RESDELIV_API int resdeliv_config_from_json(const char *json, size_t len,
                                           struct resdeliv_config **out,
                                           char *err, size_t errsize);

/**
 * Set one key from its text form, as a command line gives it
 * (`"retention.default_max_messages"`, `"500"`) on a configuration made by
 * resdeliv_config_from_json() or resdeliv_config_new(). Booleans take
 * true/false/on/off/1/0. `retention.per_channel` takes `glob=cap` and
 * appends a rule.
 * @return 0 or RESDELIV_EBADCONFIG with a message naming the key.
 * Thread: the configuration must not be used elsewhere meanwhile.
 */
RESDELIV_API int resdeliv_config_set(struct resdeliv_config *cfg,
                                     const char *key, const char *value,
                                     char *err, size_t errsize);

/** A new owned configuration holding the defaults; free with
 * resdeliv_config_free(). @return 0 or RESDELIV_ENOMEM. */
RESDELIV_API int resdeliv_config_new(struct resdeliv_config **out);

/** Free a configuration made by resdeliv_config_new() or
 * resdeliv_config_from_json(). Accepts NULL. Never pass a caller-owned
 * struct. */
RESDELIV_API void resdeliv_config_free(struct resdeliv_config *cfg);

/**
 * The retention cap of `channel`: the first per_channel rule whose glob
 * matches, else default_max_messages. Thread: safe.
 */
RESDELIV_API uint64_t resdeliv_config_channel_cap(
    const struct resdeliv_config *cfg, const char *channel);

RESDELIV_END_DECLS

#endif /* RESDELIV_CONFIG_H */
