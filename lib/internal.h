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

#endif /* RESDELIV_INTERNAL_H */
