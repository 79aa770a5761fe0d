/* SPDX-License-Identifier: MIT */
/*
 * One log of the memory store: a ring of entries with exact count
 * retention and optional age retention, ids made the way Redis makes
 * stream ids. The map of logs, the locking and the store vtable are in
 * store_memory.c; every function here runs with the log's lock held.
 *
 * The ring stores `struct resdeliv_stored_entry` slots whose pointers go
 * into one allocation per entry (event, NUL, data, NUL), so a read that does
 * not wrap can hand the ring itself to its callback.
 *
 * A full ring drops its oldest entry on every append, so each log keeps the
 * last dropped entry's block as a spare, and the next append reuses it when
 * it is of the size that append needs: a steady stream of similar messages
 * then appends with no malloc or free. Blocks are sized in steps of
 * BLOCK_STEP bytes, so messages a few bytes apart share a size; a block
 * only ever holds entries of its own size, so a big block never ends up
 * holding a small entry, and a log keeps at most one block more than its
 * entries need.
 */
#include "store_memory_internal.h"

#include <stdlib.h>
#include <string.h>

#define RING_MIN_CAP 16
#define BLOCK_STEP 32

/* The bytes allocated for a block that must hold `need`: rounded up to
 * BLOCK_STEP, or 0 when that overflows. */
static size_t block_size(size_t need)
{
    size_t size = (need + BLOCK_STEP - 1) / BLOCK_STEP * BLOCK_STEP;

    return size >= need ? size : 0;
}

/* A block of `size` bytes no longer used becomes the spare; the previous
 * spare is freed. */
static void block_release(struct resdeliv__mem_log *lg, char *block,
                          size_t size)
{
    if (lg->spare != NULL) {
        free(lg->spare); /* not a call per append when there is none */
    }
    lg->spare = block;
    lg->spare_size = size;
}

/* A block for `need` bytes (need > 0): the spare when it has the size
 * that takes, else a new one; NULL when out of memory. `*size`: its
 * size. */
static char *block_take(struct resdeliv__mem_log *lg, size_t need, size_t *size)
{
    char *block;

    *size = block_size(need);
    if (*size == 0) {
        return NULL;
    }
    if (lg->spare != NULL && lg->spare_size == *size) {
        block = lg->spare;
        lg->spare = NULL;
        return block;
    }
    return malloc(*size);
}

/* An entry's block has the size of its event and data, rounded up. */
static void entry_release(struct resdeliv__mem_log *lg,
                          const struct resdeliv_stored_entry *e)
{
    block_release(lg, (char *)(uintptr_t)e->event,
                  block_size(e->event_len + e->data_len + 2));
}

static void pop_oldest(struct resdeliv__mem_log *lg)
{
    struct resdeliv_stored_entry *e = &lg->slots[lg->head];

    lg->max_deleted = e->id;
    lg->has_max_deleted = 1;
    entry_release(lg, e);
    lg->head = resdeliv__mem_log_phys(lg, 1);
    lg->len--;
}

/* Entries are aged by their id's time, as Redis's MINID trims. */
static void age_trim(struct resdeliv__mem_log *lg, uint64_t now)
{
    uint64_t min_ms;

    if (lg->max_age_ms == 0 || now < lg->max_age_ms) {
        return;
    }
    min_ms = now - lg->max_age_ms;
    while (lg->len > 0 && lg->slots[lg->head].id.ms < min_ms) {
        pop_oldest(lg);
    }
}

/* Trims aged entries; 1 when the log is empty and nobody appended to it
 * within its max age, so it should vanish with its epoch. */
int resdeliv__mem_log_expired(struct resdeliv__mem_log *lg, uint64_t now)
{
    age_trim(lg, now);
    return lg->len == 0 && lg->max_age_ms != 0 && now >= lg->max_age_ms &&
           lg->last_append_ms < now - lg->max_age_ms;
}

static void log_clear(struct resdeliv__mem_log *lg)
{
    while (lg->len > 0) {
        pop_oldest(lg);
    }
}

void resdeliv__mem_log_free(struct resdeliv__mem_log *lg)
{
    if (lg == NULL) {
        return;
    }
    log_clear(lg);
    free(lg->spare);
    free(lg->slots);
    pthread_mutex_destroy(&lg->lock);
    free(lg);
}

/* Forget everything of an expired log and start a new epoch in place. */
int resdeliv__mem_log_reset(struct resdeliv__mem_log *lg)
{
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    int rc = resdeliv_epoch_new(epoch, sizeof(epoch));

    if (rc != 0) {
        return rc;
    }
    log_clear(lg);
    memcpy(lg->epoch, epoch, sizeof(epoch));
    memset(&lg->last, 0, sizeof(lg->last));
    memset(&lg->max_deleted, 0, sizeof(lg->max_deleted));
    lg->has_max_deleted = 0;
    lg->entries_added = 0;
    return 0;
}

int resdeliv__mem_log_new(uint64_t hash, const char *app, size_t app_len,
                          const char *chan, size_t chan_len,
                          struct resdeliv__mem_log **out)
{
    struct resdeliv__mem_log *lg;
    int rc;

    if (app_len > SIZE_MAX / 2 - sizeof(*lg) || chan_len > SIZE_MAX / 2) {
        return RESDELIV_ENOMEM;
    }
    lg = calloc(1, sizeof(*lg) + app_len + chan_len);
    if (lg == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = resdeliv_epoch_new(lg->epoch, sizeof(lg->epoch));
    if (rc != 0 || pthread_mutex_init(&lg->lock, NULL) != 0) {
        free(lg);
        return rc != 0 ? rc : RESDELIV_ENOMEM;
    }
    lg->hash = hash;
    lg->app_len = app_len;
    lg->chan_len = chan_len;
    memcpy(lg->key, app, app_len);
    memcpy(lg->key + app_len, chan, chan_len);
    *out = lg;
    return 0;
}

/* Redis's rule: ms = max(now, last.ms); same ms -> seq + 1, else seq 0. */
static int next_id(const struct resdeliv__mem_log *lg, uint64_t now,
                   struct resdeliv_id *id)
{
    if (now > lg->last.ms) {
        id->ms = now;
        id->seq = 0;
        return 0;
    }
    return resdeliv_id_next(&lg->last, id);
}

/* Make room for one more entry: capacity doubles up to `max`. */
static int ring_reserve(struct resdeliv__mem_log *lg, uint64_t max)
{
    struct resdeliv_stored_entry *ns;
    size_t ncap;

    if (lg->len < lg->cap) {
        return 0;
    }
    if (lg->cap > SIZE_MAX / 2 / sizeof(*ns)) {
        return RESDELIV_ENOMEM;
    }
    ncap = lg->cap != 0 ? lg->cap * 2 : RING_MIN_CAP;
    if (max != 0 && ncap > max) {
        ncap = (size_t)max; /* max > len here, so this still grows */
    }
    ns = malloc(ncap * sizeof(*ns));
    if (ns == NULL) {
        return RESDELIV_ENOMEM;
    }
    for (size_t i = 0; i < lg->len; i++) {
        ns[i] = lg->slots[resdeliv__mem_log_phys(lg, i)];
    }
    free(lg->slots);
    lg->slots = ns;
    lg->cap = ncap;
    lg->head = 0;
    return 0;
}

int resdeliv__mem_log_append(struct resdeliv__mem_log *lg,
                             const struct resdeliv_append_item *it,
                             uint64_t now, struct resdeliv_id *id)
{
    uint64_t max = it->retention.max_messages;
    struct resdeliv_stored_entry *e;
    size_t size;
    char *block;
    int rc;

    if (next_id(lg, now, id) != 0) {
        return RESDELIV_ERANGE; /* the log has used up every id */
    }
    if (it->event_len > SIZE_MAX / 2 || it->data_len > SIZE_MAX / 2 - 2) {
        return RESDELIV_ENOMEM;
    }
    block = block_take(lg, it->event_len + it->data_len + 2, &size);
    if (block == NULL) {
        return RESDELIV_ENOMEM;
    }
    lg->max_age_ms = it->retention.max_age_ms;
    age_trim(lg, now);
    while (max != 0 && lg->len >= max) {
        pop_oldest(lg);
    }
    rc = ring_reserve(lg, max);
    if (rc != 0) {
        block_release(lg, block, size);
        return rc;
    }
    if (it->event_len > 0) {
        memcpy(block, it->event, it->event_len);
    }
    block[it->event_len] = '\0';
    if (it->data_len > 0) {
        memcpy(block + it->event_len + 1, it->data, it->data_len);
    }
    block[it->event_len + 1 + it->data_len] = '\0';
    e = &lg->slots[resdeliv__mem_log_phys(lg, lg->len)];
    e->id = *id;
    e->event = block;
    e->event_len = it->event_len;
    e->data = block + it->event_len + 1;
    e->data_len = it->data_len;
    e->flags = it->flags;
    e->reserved = 0;
    lg->len++;
    lg->last = *id;
    lg->entries_added++;
    lg->last_append_ms = now;
    return 0;
}

/* Index of the first retained entry with an id greater than `after`. */
size_t resdeliv__mem_log_seek(const struct resdeliv__mem_log *lg,
                              const struct resdeliv_id *after)
{
    size_t lo = 0;
    size_t hi = lg->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct resdeliv_id *id =
            &lg->slots[resdeliv__mem_log_phys(lg, mid)].id;
        if (id->ms < after->ms ||
            (id->ms == after->ms && id->seq <= after->seq)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}
