/* SPDX-License-Identifier: MIT */
/**
 * @file dedup.h
 * Dedup window: drops ids delivered twice or out of date on one
 * (connection, channel).
 *
 * It remembers the highest id accepted and the last `window` accepted ids.
 * An id above the highest is fresh. The highest itself is a duplicate. An
 * id below the highest is a duplicate when it is in the window, fresh
 * (late, out of order) when it is
 * newer than the oldest id in the window and not in it, and stale (dropped)
 * when it is older than everything the window remembers.
 * Memory: sizeof(struct) + 32 * window bytes, fixed at creation.
 */
#ifndef RESDELIV_DEDUP_H
#define RESDELIV_DEDUP_H

#include "common.h"
#include "id.h"

RESDELIV_BEGIN_DECLS

typedef struct resdeliv_dedup resdeliv_dedup;

/** Largest window accepted. */
#define RESDELIV_DEDUP_MAX_WINDOW 65536u

/** Outcomes of resdeliv_dedup_check(). */
#define RESDELIV_DEDUP_FRESH 1
#define RESDELIV_DEDUP_DUPLICATE 0
#define RESDELIV_DEDUP_STALE 2

/**
 * A window of `window` ids (1..RESDELIV_DEDUP_MAX_WINDOW).
 * @return 0, RESDELIV_EINVAL, RESDELIV_ENOMEM.
 * Ownership: free with resdeliv_dedup_free(). Thread: one at a time.
 */
RESDELIV_API int resdeliv_dedup_new(size_t window, resdeliv_dedup **out);

/** Accepts NULL. */
RESDELIV_API void resdeliv_dedup_free(resdeliv_dedup *d);

/** Check an id and, when fresh, remember it.
 * @return RESDELIV_DEDUP_FRESH (deliver it), RESDELIV_DEDUP_DUPLICATE or
 * RESDELIV_DEDUP_STALE (drop it), or RESDELIV_EINVAL. */
RESDELIV_API int resdeliv_dedup_check(resdeliv_dedup *d,
                                      const struct resdeliv_id *id);

/** Start from `id` as already delivered (a resumed subscription): ids at
 * or below it are stale. Forgets the window. */
RESDELIV_API void resdeliv_dedup_reset(resdeliv_dedup *d,
                                       const struct resdeliv_id *id);

/** Highest id accepted ({0,0} when none). */
RESDELIV_API struct resdeliv_id resdeliv_dedup_highest(
    const resdeliv_dedup *d);

/** Ids dropped so far (duplicates and stale). */
RESDELIV_API uint64_t resdeliv_dedup_drops(const resdeliv_dedup *d);

/** Bytes this window holds, fixed at creation. */
RESDELIV_API size_t resdeliv_dedup_memory(const resdeliv_dedup *d);

RESDELIV_END_DECLS

#endif /* RESDELIV_DEDUP_H */
