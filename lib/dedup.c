/* SPDX-License-Identifier: MIT */
/*
 * Dedup window for one (connection, channel).
 *
 * The last `window` accepted ids live in a FIFO ring. Membership is an
 * open-addressing hash set of ring positions (linear probing with
 * backward-shift deletion, so no tombstones build up), and the smallest id
 * in the ring is kept by a monotonic queue of ring positions, the classic
 * sliding-window minimum: a late id accepted out of order means the ring
 * is not sorted, yet "older than everything the window remembers" must be
 * answered in O(1). Everything is allocated once at creation:
 * 16 bytes per ring slot, 4 per queue slot and 4 per hash slot with fewer
 * than 3 hash slots per ring slot, which keeps the documented bound of
 * sizeof(struct) + 32 * window bytes.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY_SLOT UINT32_MAX

struct resdeliv_dedup {
    struct resdeliv_id *ring; /* accepted ids, FIFO by acceptance */
    uint32_t *minq;           /* ring positions, ids strictly increasing */
    uint32_t *slots;          /* hash set of ring positions */
    size_t block_size;        /* bytes of the one allocation above */
    uint32_t window;
    uint32_t head; /* ring position of the earliest accepted */
    uint32_t count;
    uint32_t minq_head;
    uint32_t minq_count;
    uint32_t mask; /* hash slots - 1 */
    struct resdeliv_id highest;
    uint64_t drops;
};

static uint32_t hash_id(const struct resdeliv_id *id)
{
    uint64_t h = id->ms * 0x9e3779b97f4a7c15ull;

    h ^= id->seq + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

static int id_eq(const struct resdeliv_id *a, const struct resdeliv_id *b)
{
    return a->ms == b->ms && a->seq == b->seq;
}

/* Slot holding `id`, or the empty slot where it would go. */
static uint32_t find_slot(const resdeliv_dedup *d, const struct resdeliv_id *id)
{
    uint32_t i = hash_id(id) & d->mask;

    while (d->slots[i] != EMPTY_SLOT && !id_eq(&d->ring[d->slots[i]], id)) {
        i = (i + 1) & d->mask;
    }
    return i;
}

static void set_remove(resdeliv_dedup *d, const struct resdeliv_id *id)
{
    uint32_t i = find_slot(d, id);
    uint32_t j = i;

    if (d->slots[i] == EMPTY_SLOT) {
        return;
    }
    /* Backward-shift: pull later members of the probe run into the hole
     * when their home slot does not lie cyclically in (hole, j]. */
    for (;;) {
        uint32_t home;
        d->slots[i] = EMPTY_SLOT;
        for (;;) {
            j = (j + 1) & d->mask;
            if (d->slots[j] == EMPTY_SLOT) {
                return;
            }
            home = hash_id(&d->ring[d->slots[j]]) & d->mask;
            if (((j - home) & d->mask) >= ((j - i) & d->mask)) {
                break;
            }
        }
        d->slots[i] = d->slots[j];
        i = j;
    }
}

static void evict_head(resdeliv_dedup *d)
{
    uint32_t pos = d->head;

    set_remove(d, &d->ring[pos]);
    if (d->minq_count > 0 && d->minq[d->minq_head] == pos) {
        d->minq_head = (d->minq_head + 1) % d->window;
        d->minq_count--;
    }
    d->head = (d->head + 1) % d->window;
    d->count--;
}

static void remember(resdeliv_dedup *d, const struct resdeliv_id *id)
{
    uint32_t pos;

    if (d->count == d->window) {
        evict_head(d);
    }
    pos = (d->head + d->count) % d->window;
    d->ring[pos] = *id;
    d->count++;
    d->slots[find_slot(d, id)] = pos;
    while (d->minq_count > 0) {
        uint32_t back = (d->minq_head + d->minq_count - 1) % d->window;
        if (resdeliv_id_cmp(&d->ring[d->minq[back]], id) < 0) {
            break;
        }
        d->minq_count--;
    }
    d->minq[(d->minq_head + d->minq_count) % d->window] = pos;
    d->minq_count++;
}

int resdeliv_dedup_new(size_t window, resdeliv_dedup **out)
{
    resdeliv_dedup *d;
    size_t nslots = 2;
    size_t ring_bytes;
    size_t minq_bytes;
    char *block;

    if (out == NULL || window == 0 || window > RESDELIV_DEDUP_MAX_WINDOW) {
        return RESDELIV_EINVAL;
    }
    /* Load factor at most 2/3, and fewer than 3 slots per id. */
    while (nslots < window + (window + 1) / 2) {
        nslots *= 2;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return RESDELIV_ENOMEM;
    }
    ring_bytes = window * sizeof(struct resdeliv_id);
    minq_bytes = window * sizeof(uint32_t);
    d->block_size = ring_bytes + minq_bytes + nslots * sizeof(uint32_t);
    block = malloc(d->block_size);
    if (block == NULL) {
        free(d);
        return RESDELIV_ENOMEM;
    }
    d->ring = (struct resdeliv_id *)(void *)block;
    d->minq = (uint32_t *)(void *)(block + ring_bytes);
    d->slots = (uint32_t *)(void *)(block + ring_bytes + minq_bytes);
    d->window = (uint32_t)window;
    d->mask = (uint32_t)(nslots - 1);
    memset(d->slots, 0xff, nslots * sizeof(uint32_t));
    *out = d;
    return 0;
}

void resdeliv_dedup_free(resdeliv_dedup *d)
{
    if (d == NULL) {
        return;
    }
    free(d->ring);
    free(d);
}

int resdeliv_dedup_check(resdeliv_dedup *d, const struct resdeliv_id *id)
{
    if (d == NULL || id == NULL) {
        return RESDELIV_EINVAL;
    }
    if (resdeliv_id_cmp(id, &d->highest) > 0) {
        remember(d, id);
        d->highest = *id;
        return RESDELIV_DEDUP_FRESH;
    }
    if (d->count == 0) {
        /* Nothing remembered: at or below the reset point. */
        d->drops++;
        return RESDELIV_DEDUP_STALE;
    }
    /* The highest id was delivered even when it has left the window. */
    if (resdeliv_id_cmp(id, &d->highest) == 0 ||
        d->slots[find_slot(d, id)] != EMPTY_SLOT) {
        d->drops++;
        return RESDELIV_DEDUP_DUPLICATE;
    }
    if (resdeliv_id_cmp(id, &d->ring[d->minq[d->minq_head]]) < 0) {
        d->drops++;
        return RESDELIV_DEDUP_STALE;
    }
    remember(d, id);
    return RESDELIV_DEDUP_FRESH;
}

void resdeliv_dedup_reset(resdeliv_dedup *d, const struct resdeliv_id *id)
{
    static const struct resdeliv_id zero = {0, 0};

    if (d == NULL) {
        return;
    }
    d->highest = id != NULL ? *id : zero;
    d->head = 0;
    d->count = 0;
    d->minq_head = 0;
    d->minq_count = 0;
    memset(d->slots, 0xff, ((size_t)d->mask + 1) * sizeof(uint32_t));
}

struct resdeliv_id resdeliv_dedup_highest(const resdeliv_dedup *d)
{
    static const struct resdeliv_id zero = {0, 0};

    return d != NULL ? d->highest : zero;
}

uint64_t resdeliv_dedup_drops(const resdeliv_dedup *d)
{
    return d != NULL ? d->drops : 0;
}

size_t resdeliv_dedup_memory(const resdeliv_dedup *d)
{
    return d != NULL ? sizeof(*d) + d->block_size : 0;
}
