/* SPDX-License-Identifier: MIT */
/*
 * The store wrapper: a private copy of an implementation's vtable plus its
 * instance, the checked raw calls over it, and the factory that turns a
 * `connection` URL into a store.
 *
 * The vtable is copied rather than borrowed so that an implementation built
 * against an older, shorter struct reads as zeroes past its struct_size:
 * every optional member it lacks is then simply NULL and answers
 * RESDELIV_ENOTSUP. Arguments are checked here once, so implementations
 * (the memory store's included) may trust what they are handed.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct resdeliv_store {
    struct resdeliv_store_ops ops;
    void *self;
};

/* An implementation must at least reach the last mandatory member. */
#define OPS_MIN_SIZE                                                           \
    (offsetof(struct resdeliv_store_ops, info) +                               \
     sizeof(((struct resdeliv_store_ops *)0)->info))

_Static_assert(offsetof(struct resdeliv_store_ops, struct_size) == 0,
               "struct_size leads the store vtable");
_Static_assert(offsetof(struct resdeliv_store_ops, abi_version) == 4,
               "abi_version follows struct_size");

int resdeliv_store_new(const struct resdeliv_store_ops *ops, void *self,
                       resdeliv_store **out)
{
    struct resdeliv_store *st;
    size_t n;

    if (ops == NULL || out == NULL) {
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(ops->abi_version) != RESDELIV_ABI_MAJOR) {
        return RESDELIV_EABI;
    }
    if (ops->struct_size < OPS_MIN_SIZE) {
        return RESDELIV_EINVAL;
    }
    if (ops->append == NULL || ops->read == NULL || ops->info == NULL) {
        return RESDELIV_EINVAL;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return RESDELIV_ENOMEM;
    }
    n = ops->struct_size < sizeof(st->ops) ? ops->struct_size : sizeof(st->ops);
    memcpy(&st->ops, ops, n);
    st->ops.struct_size = (uint32_t)sizeof(st->ops);
    st->self = self;
    *out = st;
    return 0;
}

void resdeliv_store_free(resdeliv_store *store)
{
    if (store == NULL) {
        return;
    }
    if (store->ops.destroy != NULL) {
        store->ops.destroy(store->self);
    }
    free(store);
}

const char *resdeliv_store_name(const resdeliv_store *store)
{
    if (store == NULL || store->ops.name == NULL) {
        return "";
    }
    return store->ops.name;
}

uint32_t resdeliv_store_flags(const resdeliv_store *store)
{
    return store != NULL ? store->ops.flags : 0;
}

const char *resdeliv_store_errmsg(const resdeliv_store *store)
{
    const char *msg;

    if (store == NULL || store->ops.errmsg == NULL) {
        return "";
    }
    msg = store->ops.errmsg(store->self);
    return msg != NULL ? msg : "";
}

/* Bytes may be absent only when there are none. */
static int bytes_ok(const char *p, size_t len)
{
    return p != NULL || len == 0;
}

static int key_ok(const struct resdeliv_log_key *key)
{
    return key != NULL && key->app_id != NULL && key->app_id_len > 0 &&
           key->channel != NULL && key->channel_len > 0;
}

int resdeliv_store_append(resdeliv_store *store, const char *app_id,
                          size_t app_id_len,
                          const struct resdeliv_append_item *items, size_t n,
                          resdeliv_append_cb cb, void *arg)
{
    if (store == NULL || app_id == NULL || app_id_len == 0 || items == NULL ||
        n == 0 || cb == NULL) {
        return RESDELIV_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct resdeliv_append_item *it = &items[i];
        if (it->channel == NULL || it->channel_len == 0 ||
            !bytes_ok(it->event, it->event_len) ||
            !bytes_ok(it->data, it->data_len)) {
            return RESDELIV_EINVAL;
        }
    }
    return store->ops.append(store->self, app_id, app_id_len, items, n, cb,
                             arg);
}

int resdeliv_store_read(resdeliv_store *store,
                        const struct resdeliv_log_key *key,
                        const struct resdeliv_id *after, size_t max,
                        resdeliv_read_cb cb, void *arg)
{
    static const struct resdeliv_id start = {0, 0};

    if (store == NULL || !key_ok(key) || max == 0 || cb == NULL) {
        return RESDELIV_EINVAL;
    }
    /* No id means "from the beginning"; implementations never see NULL. */
    return store->ops.read(store->self, key, after != NULL ? after : &start,
                           max, cb, arg);
}

int resdeliv_store_info(resdeliv_store *store,
                        const struct resdeliv_log_key *key,
                        const struct resdeliv_id *after, uint64_t cap,
                        resdeliv_info_cb cb, void *arg)
{
    if (store == NULL || !key_ok(key) || cb == NULL) {
        return RESDELIV_EINVAL;
    }
    return store->ops.info(store->self, key, after, cap, cb, arg);
}

int resdeliv_store_drop(resdeliv_store *store,
                        const struct resdeliv_log_key *key, resdeliv_done_cb cb,
                        void *arg)
{
    if (store == NULL || !key_ok(key) || cb == NULL) {
        return RESDELIV_EINVAL;
    }
    if (store->ops.drop == NULL) {
        return RESDELIV_ENOTSUP;
    }
    return store->ops.drop(store->self, key, cb, arg);
}

void *resdeliv__store_self(const resdeliv_store *store)
{
    return store != NULL ? store->self : NULL;
}

const struct resdeliv_store_ops *
resdeliv__store_ops(const resdeliv_store *store)
{
    return store != NULL ? &store->ops : NULL;
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int redis_from_url(const char *url, const char *key_prefix,
                          resdeliv_store **out, char *err, size_t errsize)
{
#ifdef RESDELIV_HAVE_REDIS
    return resdeliv__store_redis_from_url(url, key_prefix, out, err, errsize);
#else
    (void)url;
    (void)key_prefix;
    (void)out;
    resdeliv__errf(err, errsize,
                   "this build has no Redis store (connection '%.*s://...'); "
                   "use \"memory\" or rebuild with -Dredis=enabled",
                   (int)strcspn(url, ":"), url);
    return RESDELIV_ENOTSUP;
#endif
}

int resdeliv__store_from_url(const char *url, const char *key_prefix,
                             resdeliv_store **out, char *err, size_t errsize)
{
    const char *sep;
    int rc;

    if (url == NULL || out == NULL) {
        resdeliv__errf(err, errsize, "store URL and output must not be NULL");
        return RESDELIV_EINVAL;
    }
    if (strcmp(url, "memory") == 0 || strcmp(url, "memory://") == 0) {
        rc = resdeliv_store_memory_new(NULL, out);
        if (rc != 0) {
            resdeliv__errf(err, errsize, "memory store: %s",
                           resdeliv_strerror(rc));
        }
        return rc;
    }
    if (has_prefix(url, "redis://") || has_prefix(url, "unix://")) {
        return redis_from_url(url, key_prefix, out, err, errsize);
    }
    /* Only the scheme is quoted: the rest of a URL may hold a password. */
    sep = strstr(url, "://");
    if (sep == NULL) {
        resdeliv__errf(err, errsize,
                       "store URL has no scheme; expected \"memory\", "
                       "redis://host:port/db or unix:///path");
    } else {
        resdeliv__errf(err, errsize,
                       "unknown store URL scheme '%.*s'; expected "
                       "\"memory\", redis:// or unix://",
                       (int)(sep - url > 32 ? 32 : sep - url), url);
    }
    return RESDELIV_EBADURL;
}
