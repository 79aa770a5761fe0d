/* SPDX-License-Identifier: MIT */
/*
 * The log handle's channels owed an unlogged marker: per channel, how many
 * messages went out untagged because the store failed, and how many of
 * them a marker already in the log announces (docs/design.md, "Messages
 * the store did not take"). Publishing notes failures and plans markers
 * here; a replay that reaches the end of the log asks what is still owed.
 *
 * An open-addressing map with linear probing, at most half full, removal
 * by backward shift. It is bounded (RESDELIV_MAX_UNLOGGED_CHANNELS) so that
 * a store down under traffic on many channels cannot grow it without end;
 * a channel it cannot hold gets no untagged delivery at all.
 */
#include "log_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t home_slot(const resdeliv_log *log, const char *channel,
                        size_t len)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */

    for (size_t k = 0; k < len; k++) {
        h = (h ^ (unsigned char)channel[k]) * 1099511628211u;
    }
    return (size_t)h & (log->unlogged_cap - 1);
}

/* The slot holding `channel`, or the free slot where it would go; at most
 * half of the slots are used, so there is always one. */
static size_t unlogged_slot(const resdeliv_log *log, const char *channel,
                            size_t len)
{
    size_t mask = log->unlogged_cap - 1;
    size_t i = home_slot(log, channel, len);

    for (; log->unlogged[i] != NULL; i = (i + 1) & mask) {
        const struct resdeliv__unlogged *u = log->unlogged[i];
        if (u->len == len && memcmp(u->channel, channel, len) == 0) {
            break;
        }
    }
    return i;
}

static struct resdeliv__unlogged *
unlogged_find(const resdeliv_log *log, const char *channel, size_t len)
{
    if (log->unlogged_n == 0) {
        return NULL;
    }
    return log->unlogged[unlogged_slot(log, channel, len)];
}

static int unlogged_grow(resdeliv_log *log)
{
    struct resdeliv__unlogged **old = log->unlogged;
    size_t old_cap = log->unlogged_cap;
    size_t cap = old_cap != 0 ? old_cap * 2 : 16;
    struct resdeliv__unlogged **t = calloc(cap, sizeof(*t));

    if (t == NULL) {
        return RESDELIV_ENOMEM;
    }
    log->unlogged = t;
    log->unlogged_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i] != NULL) {
            t[unlogged_slot(log, old[i]->channel, old[i]->len)] = old[i];
        }
    }
    free(old);
    return 0;
}

int resdeliv__log_unlogged_note(resdeliv_log *log, const char *channel,
                                size_t len)
{
    struct resdeliv__unlogged *u = unlogged_find(log, channel, len);

    if (u != NULL) {
        u->total++;
        return 0;
    }
    if (log->unlogged_n >= RESDELIV_MAX_UNLOGGED_CHANNELS ||
        ((log->unlogged_n + 1) * 2 > log->unlogged_cap &&
         unlogged_grow(log) < 0)) {
        return RESDELIV_ESTORE;
    }
    u = malloc(sizeof(*u) + len);
    if (u == NULL) {
        return RESDELIV_ESTORE;
    }
    u->total = 1;
    u->marked = 0;
    u->since = wall_ms();
    u->gen = 0;
    u->len = len;
    memcpy(u->channel, channel, len);
    log->unlogged[unlogged_slot(log, channel, len)] = u;
    log->unlogged_n++;
    return 0;
}

/* Empty slot `i` and move later entries of its probe run back into it,
 * so that lookups never stop at a hole (linear probing has no
 * tombstones). */
static void unlogged_remove(resdeliv_log *log, size_t i)
{
    size_t mask = log->unlogged_cap - 1;

    free(log->unlogged[i]);
    log->unlogged[i] = NULL;
    log->unlogged_n--;
    for (size_t j = (i + 1) & mask; log->unlogged[j] != NULL;
         j = (j + 1) & mask) {
        struct resdeliv__unlogged *u = log->unlogged[j];
        size_t home = home_slot(log, u->channel, u->len);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            log->unlogged[i] = u;
            log->unlogged[j] = NULL;
            i = j;
        }
    }
}

void resdeliv__log_unlogged_marked(resdeliv_log *log, const char *channel,
                                   size_t len, uint64_t upto)
{
    struct resdeliv__unlogged *u;
    size_t i;

    if (log->unlogged_n == 0) {
        return;
    }
    i = unlogged_slot(log, channel, len);
    u = log->unlogged[i];
    if (u == NULL) {
        return;
    }
    u->marked = upto > u->marked ? upto : u->marked;
    if (u->marked >= u->total) {
        unlogged_remove(log, i);
    }
}

int resdeliv__log_unlogged_plan(resdeliv_log *log, const char *channel,
                                size_t len, uint64_t *upto, char *data,
                                size_t size)
{
    struct resdeliv__unlogged *u = unlogged_find(log, channel, len);

    if (u == NULL || u->gen == log->unlogged_gen || u->total <= u->marked) {
        return 0;
    }
    u->gen = log->unlogged_gen;
    *upto = u->total;
    snprintf(data, size, "{\"lost\":%" PRIu64 ",\"since\":%" PRIu64 "}",
             u->total - u->marked, u->since);
    return 1;
}

uint64_t resdeliv__log_unlogged_owed(const resdeliv_log *log,
                                     const char *channel, size_t len)
{
    const struct resdeliv__unlogged *u = unlogged_find(log, channel, len);

    return u != NULL && u->total > u->marked ? u->total - u->marked : 0;
}

void resdeliv__log_unlogged_free(resdeliv_log *log)
{
    for (size_t i = 0; i < log->unlogged_cap; i++) {
        free(log->unlogged[i]);
    }
    free(log->unlogged);
    log->unlogged = NULL;
    log->unlogged_cap = 0;
    log->unlogged_n = 0;
}
