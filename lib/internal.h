/* SPDX-License-Identifier: MIT */
/*
 * Internal helpers shared by the library's modules. Nothing here is
 * exported from the shared object (hidden visibility, version script);
 * non-static internal symbols are named resdeliv__*.
 */
#ifndef RESDELIV_INTERNAL_H
#define RESDELIV_INTERNAL_H

#include <resdeliv/resdeliv.h>

#include <stdarg.h>

/* printf into an optional caller error buffer; a NULL buffer is fine. */
void resdeliv__errf(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Deep copy of a configuration, owning its strings; free with
 * resdeliv_config_free(). Validates first. */
int resdeliv__config_copy(const struct resdeliv_config *cfg,
                          struct resdeliv_config **out, char *err,
                          size_t errsize);

/* Make a store from a `connection` URL: "memory" gives a memory store;
 * "redis://..." and "unix://..." a Redis store when built with Redis
 * (RESDELIV_HAVE_REDIS), else RESDELIV_ENOTSUP. Defined in store.c. */
int resdeliv__store_from_url(const char *url, const char *key_prefix,
                             resdeliv_store **out, char *err, size_t errsize);

/* The Redis store behind a "redis://" or "unix://" URL, with keys under
 * `key_prefix`. Only in builds with RESDELIV_HAVE_REDIS; defined in
 * store_redis.c. */
int resdeliv__store_redis_from_url(const char *url, const char *key_prefix,
                                   resdeliv_store **out, char *err,
                                   size_t errsize);

/* The implementation instance behind a store (for type checks such as
 * resdeliv_store_memory_expire()). Defined in store.c. */
void *resdeliv__store_self(const resdeliv_store *store);
const struct resdeliv_store_ops *
resdeliv__store_ops(const resdeliv_store *store);

/* ---- configuration keys (config.c), read by config_json.c ---- */

/* How a key's member is typed: STRING a const char *, UINT a uint64_t,
 * BOOL and FAILMODE a uint32_t; RULES is per_channel with its count. */
enum resdeliv__config_kind {
    RESDELIV__CONFIG_STRING,
    RESDELIV__CONFIG_UINT,
    RESDELIV__CONFIG_BOOL,
    RESDELIV__CONFIG_FAILMODE,
    RESDELIV__CONFIG_RULES
};

/* The index (0 to 31, fixed) of the key called `name`, such as
 * "retention.max_age_seconds", with its kind in `*kind`; -1 when there is
 * no such key. */
int resdeliv__config_key_find(const char *name,
                              enum resdeliv__config_kind *kind);

/* The member of `cfg` that key `key` names. */
void *resdeliv__config_key_member(struct resdeliv_config *cfg, int key);

/* On a configuration from resdeliv_config_new(): replace string key `key`
 * with a copy of `value`, or the per-channel rules with a copy of `n`
 * rules (patterns not NULL). RESDELIV_ENOMEM, or RESDELIV_EINVAL when
 * `cfg` is not such a configuration or `key` not a string key. */
int resdeliv__config_own_string(struct resdeliv_config *cfg, int key,
                                const char *value);
int resdeliv__config_own_rules(struct resdeliv_config *cfg,
                               const struct resdeliv_retention_rule *rules,
                               size_t n);

/* "deliver_untagged" or "fail" into a RESDELIV_ON_FAILURE_* value;
 * RESDELIV_EBADCONFIG for anything else. */
int resdeliv__config_parse_failmode(const char *s, uint32_t *out);

#endif /* RESDELIV_INTERNAL_H */
