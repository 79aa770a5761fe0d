/* SPDX-License-Identifier: MIT */
/*
 * The embedded memory store: one log per (app id, channel) in a hash map,
 * each log a ring of entries (store_memory_log.c) with exact count
 * retention and optional age retention, ids made the way Redis makes
 * stream ids.
 *
 * Locking: one mutex guards the map (lookup, insert, removal) and one mutex
 * per log guards its ring. A log is always locked while the map lock is
 * held (lock coupling), so whoever holds the map lock and has locked a log
 * knows that nobody else holds or waits for that log: it may unlink and
 * free it at once, with no reference counts. The map lock is released as
 * soon as the log is locked, so appends to different channels only contend
 * on the short lookup.
 *
 * A read that does not wrap hands the ring itself to the callback: no
 * copy. The read callback therefore runs with the log locked, and must not
 * call into the same store (store.h says so). Append and info callbacks
 * run with no lock held.
 */
#include "store_memory_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Slots copied on the stack when a read wraps around the ring. */
#define READ_STACK_SLOTS 64
/* Results kept on the stack for small append batches. */
#define APPEND_STACK_RESULTS 16
#define MAP_MIN_BUCKETS 64

struct mem_store {
    pthread_mutex_t lock;
    struct resdeliv__mem_log **buckets;
    size_t nbuckets; /* power of two */
    size_t nlogs;
    uint64_t max_logs;
    struct resdeliv_clock clock;
};

static int mem_append(void *self, const char *app_id, size_t app_id_len,
                      const struct resdeliv_append_item *items, size_t n,
                      resdeliv_append_cb cb, void *arg);

/* ---- time and keys ---- */

static uint64_t now_ms(const struct mem_store *st)
{
    struct timespec ts;

    if (st->clock.now_ms != NULL) {
        return st->clock.now_ms(st->clock.arg);
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* FNV-1a; the app id length is mixed in so ("ab","c") and ("a","bc")
 * differ even before the exact comparison. */
static uint64_t key_hash(const char *app, size_t app_len, const char *chan,
                         size_t chan_len)
{
    uint64_t h = 14695981039346656037ull;

    for (size_t i = 0; i < app_len; i++) {
        h = (h ^ (unsigned char)app[i]) * 1099511628211ull;
    }
    h = (h ^ (uint64_t)app_len) * 1099511628211ull;
    for (size_t i = 0; i < chan_len; i++) {
        h = (h ^ (unsigned char)chan[i]) * 1099511628211ull;
    }
    return h;
}

static int key_eq(const struct resdeliv__mem_log *lg, uint64_t hash,
                  const char *app, size_t app_len, const char *chan,
                  size_t chan_len)
{
    return lg->hash == hash && lg->app_len == app_len &&
           lg->chan_len == chan_len && memcmp(lg->key, app, app_len) == 0 &&
           memcmp(lg->key + app_len, chan, chan_len) == 0;
}

/* ---- the map ---- */

static int map_grow(struct mem_store *st)
{
    size_t nb = st->nbuckets * 2;
    struct resdeliv__mem_log **b;

    if (nb == 0 || nb > SIZE_MAX / sizeof(*b)) {
        return RESDELIV_ENOMEM;
    }
    b = calloc(nb, sizeof(*b));
    if (b == NULL) {
        return RESDELIV_ENOMEM;
    }
    for (size_t i = 0; i < st->nbuckets; i++) {
        struct resdeliv__mem_log *lg = st->buckets[i];
        while (lg != NULL) {
            struct resdeliv__mem_log *next = lg->next;
            size_t j = (size_t)lg->hash & (nb - 1);
            lg->next = b[j];
            b[j] = lg;
            lg = next;
        }
    }
    free(st->buckets);
    st->buckets = b;
    st->nbuckets = nb;
    return 0;
}

static struct resdeliv__mem_log **map_slot(struct mem_store *st, uint64_t hash,
                                           const char *app, size_t app_len,
                                           const char *chan, size_t chan_len)
{
    struct resdeliv__mem_log **pp =
        &st->buckets[(size_t)hash & (st->nbuckets - 1)];

    while (*pp != NULL && !key_eq(*pp, hash, app, app_len, chan, chan_len)) {
        pp = &(*pp)->next;
    }
    return pp;
}

static void map_unlink(struct mem_store *st, struct resdeliv__mem_log *lg)
{
    struct resdeliv__mem_log **pp =
        &st->buckets[(size_t)lg->hash & (st->nbuckets - 1)];

    while (*pp != lg) {
        pp = &(*pp)->next;
    }
    *pp = lg->next;
    st->nlogs--;
}

/* With the map locked: remove every expired log; returns how many. */
static int sweep_locked(struct mem_store *st, uint64_t now)
{
    int removed = 0;

    for (size_t i = 0; i < st->nbuckets; i++) {
        struct resdeliv__mem_log **pp = &st->buckets[i];
        while (*pp != NULL) {
            struct resdeliv__mem_log *lg = *pp;
            int dead;
            pthread_mutex_lock(&lg->lock);
            dead = resdeliv__mem_log_expired(lg, now);
            pthread_mutex_unlock(&lg->lock);
            if (!dead) {
                pp = &lg->next;
                continue;
            }
            *pp = lg->next;
            st->nlogs--;
            resdeliv__mem_log_free(lg);
            if (removed < INT32_MAX) {
                removed++;
            }
        }
    }
    return removed;
}

/* With the map locked: make and insert a new log, returned locked. */
static int create_locked(struct mem_store *st, uint64_t now, uint64_t hash,
                         const char *app, size_t app_len, const char *chan,
                         size_t chan_len, struct resdeliv__mem_log **out)
{
    struct resdeliv__mem_log **pp;
    struct resdeliv__mem_log *lg;
    int rc;

    if (st->max_logs != 0 && st->nlogs >= st->max_logs) {
        sweep_locked(st, now);
        if (st->nlogs >= st->max_logs) {
            return RESDELIV_EOVERFLOW;
        }
    }
    if (st->nlogs >= st->nbuckets) {
        map_grow(st); /* a failed grow only makes chains longer */
    }
    rc = resdeliv__mem_log_new(hash, app, app_len, chan, chan_len, &lg);
    if (rc != 0) {
        return rc;
    }
    pp = &st->buckets[(size_t)hash & (st->nbuckets - 1)];
    lg->next = *pp;
    *pp = lg;
    st->nlogs++;
    pthread_mutex_lock(&lg->lock);
    *out = lg;
    return 0;
}

/*
 * Find the log of (app, chan) and return it locked in `*out`, or NULL when
 * it does not exist (and `create` is 0). An expired log is reset with a new
 * epoch when creating, else removed and reported missing.
 */
static int log_acquire(struct mem_store *st, uint64_t now, const char *app,
                       size_t app_len, const char *chan, size_t chan_len,
                       int create, struct resdeliv__mem_log **out)
{
    uint64_t hash = key_hash(app, app_len, chan, chan_len);
    struct resdeliv__mem_log *lg;
    int rc = 0;

    *out = NULL;
    pthread_mutex_lock(&st->lock);
    lg = *map_slot(st, hash, app, app_len, chan, chan_len);
    if (lg != NULL) {
        pthread_mutex_lock(&lg->lock);
        if (resdeliv__mem_log_expired(lg, now)) {
            rc = create ? resdeliv__mem_log_reset(lg) : RESDELIV_ENOENT;
            if (rc != 0) {
                map_unlink(st, lg);
                pthread_mutex_unlock(&lg->lock);
                resdeliv__mem_log_free(lg);
                lg = NULL;
                rc = rc == RESDELIV_ENOENT ? 0 : rc;
            }
        }
    } else if (create) {
        rc = create_locked(st, now, hash, app, app_len, chan, chan_len, &lg);
    }
    pthread_mutex_unlock(&st->lock);
    *out = lg;
    return rc;
}

/* ---- vtable ---- */

/* Is `lg` the log of channel `chan` of the app whose id is `app_len`
 * bytes long (the app being the same)? */
static int same_channel(const struct resdeliv__mem_log *lg, size_t app_len,
                        const char *chan, size_t chan_len)
{
    return lg->app_len == app_len && lg->chan_len == chan_len &&
           memcmp(lg->key + app_len, chan, chan_len) == 0;
}

/* Items of one channel in a row are appended under one lookup and one
 * lock of their log: nothing else can change it in between, and with the
 * same clock reading it cannot have expired. */
static int append_batch(struct mem_store *st, const char *app_id,
                        size_t app_id_len,
                        const struct resdeliv_append_item *items, size_t n,
                        struct resdeliv_append_result *res)
{
    uint64_t now = now_ms(st);
    struct resdeliv__mem_log *lg = NULL; /* locked while not NULL */
    int first_err = 0;
    size_t ok = 0;

    for (size_t i = 0; i < n; i++) {
        const struct resdeliv_append_item *it = &items[i];
        int rc = 0;
        if (lg != NULL &&
            !same_channel(lg, app_id_len, it->channel, it->channel_len)) {
            pthread_mutex_unlock(&lg->lock);
            lg = NULL;
        }
        if (lg == NULL) {
            rc = log_acquire(st, now, app_id, app_id_len, it->channel,
                             it->channel_len, 1, &lg);
        }
        memset(&res[i], 0, sizeof(res[i]));
        if (rc == 0) {
            rc = resdeliv__mem_log_append(lg, it, now, &res[i].id);
            memcpy(res[i].epoch, lg->epoch, sizeof(res[i].epoch));
        }
        res[i].status = rc;
        if (rc == 0) {
            ok++;
        } else if (first_err == 0) {
            first_err = rc;
        }
    }
    if (lg != NULL) {
        pthread_mutex_unlock(&lg->lock);
    }
    /* The batch fails only when nothing of it was stored. */
    return ok > 0 ? 0 : first_err;
}

static int mem_append(void *self, const char *app_id, size_t app_id_len,
                      const struct resdeliv_append_item *items, size_t n,
                      resdeliv_append_cb cb, void *arg)
{
    struct resdeliv_append_result stack[APPEND_STACK_RESULTS];
    struct resdeliv_append_result *res = stack;
    int status;

    if (n > APPEND_STACK_RESULTS) {
        if (n > SIZE_MAX / sizeof(*res)) {
            return RESDELIV_ENOMEM;
        }
        res = malloc(n * sizeof(*res));
        if (res == NULL) {
            return RESDELIV_ENOMEM;
        }
    }
    status = append_batch(self, app_id, app_id_len, items, n, res);
    cb(arg, status, res, n);
    if (res != stack) {
        free(res);
    }
    return 0;
}

/* What an empty read hands out: callers may pass it to memcpy with n 0,
 * which NULL would make undefined. */
static const struct resdeliv_stored_entry no_entries[1];

/* Hand `cnt` entries from index `start` to the callback, from the ring
 * itself when they do not wrap. */
static int read_deliver(struct resdeliv__mem_log *lg, size_t start, size_t cnt,
                        resdeliv_read_cb cb, void *arg)
{
    struct resdeliv_stored_entry stack[READ_STACK_SLOTS];
    struct resdeliv_stored_entry *buf = stack;
    size_t p = resdeliv__mem_log_phys(lg, start);

    if (cnt == 0) {
        cb(arg, 0, no_entries, 0, lg->epoch);
        return 0;
    }
    if (p + cnt <= lg->cap) {
        cb(arg, 0, lg->slots + p, cnt, lg->epoch);
        return 0;
    }
    if (cnt > READ_STACK_SLOTS) {
        buf = malloc(cnt * sizeof(*buf));
        if (buf == NULL) {
            return RESDELIV_ENOMEM;
        }
    }
    for (size_t i = 0; i < cnt; i++) {
        buf[i] = lg->slots[resdeliv__mem_log_phys(lg, start + i)];
    }
    cb(arg, 0, buf, cnt, lg->epoch);
    if (buf != stack) {
        free(buf);
    }
    return 0;
}

static int mem_read(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, size_t max,
                    resdeliv_read_cb cb, void *arg)
{
    struct mem_store *st = self;
    struct resdeliv__mem_log *lg;
    size_t start;
    size_t cnt;
    int rc = log_acquire(st, now_ms(st), key->app_id, key->app_id_len,
                         key->channel, key->channel_len, 0, &lg);

    if (rc != 0) {
        return rc;
    }
    if (lg == NULL) {
        cb(arg, 0, no_entries, 0, "");
        return 0;
    }
    start = resdeliv__mem_log_seek(lg, after);
    cnt = lg->len - start;
    if (cnt > max) {
        cnt = max;
    }
    rc = read_deliver(lg, start, cnt, cb, arg);
    pthread_mutex_unlock(&lg->lock);
    return rc;
}

static void info_fill(const struct resdeliv__mem_log *lg,
                      const struct resdeliv_id *after, uint64_t cap,
                      struct resdeliv_log_info *info)
{
    size_t start = after != NULL ? resdeliv__mem_log_seek(lg, after) : 0;
    uint64_t count = (uint64_t)(lg->len - start);

    info->exists = 1;
    info->has_max_deleted = lg->has_max_deleted;
    info->length = lg->len;
    if (lg->len > 0) {
        info->first = lg->slots[lg->head].id;
    }
    info->last = lg->last;
    info->max_deleted = lg->max_deleted;
    info->entries_added = lg->entries_added;
    memcpy(info->epoch, lg->epoch, sizeof(info->epoch));
    info->count_after = (int64_t)count;
    if (cap > 0 && count > cap) {
        info->capped = 1;
        info->skip_to =
            lg->slots[resdeliv__mem_log_phys(lg, (size_t)(lg->len - cap - 1))]
                .id;
    }
}

static int mem_info(void *self, const struct resdeliv_log_key *key,
                    const struct resdeliv_id *after, uint64_t cap,
                    resdeliv_info_cb cb, void *arg)
{
    struct mem_store *st = self;
    struct resdeliv_log_info info;
    struct resdeliv__mem_log *lg;
    int rc = log_acquire(st, now_ms(st), key->app_id, key->app_id_len,
                         key->channel, key->channel_len, 0, &lg);

    if (rc != 0) {
        return rc;
    }
    memset(&info, 0, sizeof(info));
    if (lg != NULL) {
        info_fill(lg, after, cap, &info);
        pthread_mutex_unlock(&lg->lock);
    }
    cb(arg, 0, &info);
    return 0;
}

static int mem_drop(void *self, const struct resdeliv_log_key *key,
                    resdeliv_done_cb cb, void *arg)
{
    struct mem_store *st = self;
    uint64_t hash =
        key_hash(key->app_id, key->app_id_len, key->channel, key->channel_len);
    struct resdeliv__mem_log *lg;

    pthread_mutex_lock(&st->lock);
    lg = *map_slot(st, hash, key->app_id, key->app_id_len, key->channel,
                   key->channel_len);
    if (lg != NULL) {
        /* Wait out a reader still inside its callback. */
        pthread_mutex_lock(&lg->lock);
        map_unlink(st, lg);
        pthread_mutex_unlock(&lg->lock);
    }
    pthread_mutex_unlock(&st->lock);
    resdeliv__mem_log_free(lg);
    cb(arg, 0);
    return 0;
}

static void mem_destroy(void *self)
{
    struct mem_store *st = self;

    for (size_t i = 0; i < st->nbuckets; i++) {
        struct resdeliv__mem_log *lg = st->buckets[i];
        while (lg != NULL) {
            struct resdeliv__mem_log *next = lg->next;
            resdeliv__mem_log_free(lg);
            lg = next;
        }
    }
    free(st->buckets);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static const struct resdeliv_store_ops mem_ops = {
    RESDELIV_STRUCT_HEAD(mem_ops),
    .flags = RESDELIV_STORE_SYNC | RESDELIV_STORE_THREADSAFE,
    .name = "memory",
    .append = mem_append,
    .read = mem_read,
    .info = mem_info,
    .drop = mem_drop,
    .destroy = mem_destroy,
};

static int options_copy(const struct resdeliv_memory_options *opts,
                        struct resdeliv_memory_options *o)
{
    memset(o, 0, sizeof(*o));
    if (opts == NULL) {
        return 0;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(opts->abi_version) != RESDELIV_ABI_MAJOR) {
        return RESDELIV_EABI;
    }
    if (opts->struct_size < offsetof(struct resdeliv_memory_options, clock)) {
        return RESDELIV_EINVAL;
    }
    memcpy(o, opts,
           opts->struct_size < sizeof(*o) ? opts->struct_size : sizeof(*o));
    return 0;
}

int resdeliv_store_memory_new(const struct resdeliv_memory_options *opts,
                              resdeliv_store **out)
{
    struct resdeliv_memory_options o;
    struct mem_store *st;
    int rc;

    if (out == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = options_copy(opts, &o);
    if (rc != 0) {
        return rc;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return RESDELIV_ENOMEM;
    }
    st->buckets = calloc(MAP_MIN_BUCKETS, sizeof(*st->buckets));
    if (st->buckets == NULL || pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st->buckets);
        free(st);
        return RESDELIV_ENOMEM;
    }
    st->nbuckets = MAP_MIN_BUCKETS;
    st->max_logs = o.max_logs;
    st->clock = o.clock;
    rc = resdeliv_store_new(&mem_ops, st, out);
    if (rc != 0) {
        mem_destroy(st);
    }
    return rc;
}

int resdeliv_store_memory_expire(resdeliv_store *store)
{
    const struct resdeliv_store_ops *ops = resdeliv__store_ops(store);
    struct mem_store *st;
    uint64_t now;
    int removed;

    if (ops == NULL || ops->append != mem_append) {
        return RESDELIV_EINVAL;
    }
    st = resdeliv__store_self(store);
    now = now_ms(st);
    pthread_mutex_lock(&st->lock);
    removed = sweep_locked(st, now);
    pthread_mutex_unlock(&st->lock);
    return removed;
}
