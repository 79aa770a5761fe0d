/* SPDX-License-Identifier: MIT */
/**
 * @file id.h
 * Log entry ids and epochs.
 *
 * An id has the Redis stream form `MS-SEQ`: two unsigned 64-bit decimal
 * numbers joined by one '-'. Parsing is strict: digits only, no sign, no
 * spaces, no empty part, no overflow. Every channel log also has an epoch, a
 * short token made when the log is created; an id is meaningful only within
 * its epoch. A position is the pair (epoch, id).
 */
#ifndef RESDELIV_ID_H
#define RESDELIV_ID_H

#include "common.h"

RESDELIV_BEGIN_DECLS

/** A stream id. {0,0} is "before everything" and is never assigned. */
struct resdeliv_id {
    uint64_t ms;
    uint64_t seq;
};

/** Buffer size that fits any formatted id and its NUL: 20 + 1 + 20 + 1. */
#define RESDELIV_ID_BUFSIZE 42

/** Longest epoch token, in characters, without the NUL. Epoch tokens use
 * only `[0-9A-Za-z_-]`. */
#define RESDELIV_EPOCH_MAX 32
/** Buffer size for an epoch token and its NUL. */
#define RESDELIV_EPOCH_BUFSIZE (RESDELIV_EPOCH_MAX + 1)

/** A place in a channel log: the log's epoch and an id in it. An empty
 * epoch string means "unknown" (a client that sent no epoch). */
struct resdeliv_position {
    struct resdeliv_id id;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
};

/**
 * Parse `len` bytes of `text` as an id. `text` need not be NUL-terminated.
 * @return 0, RESDELIV_EBADID for a malformed id (empty, missing part, sign,
 * space, stray character, extra '-'), RESDELIV_ERANGE for a part past
 * UINT64_MAX, RESDELIV_EINVAL for NULL arguments. On error `*out` is
 * untouched.
 * Ownership: borrows `text`. Thread: safe.
 */
RESDELIV_API int resdeliv_id_parse(const char *text, size_t len,
                                   struct resdeliv_id *out);

/**
 * Format `id` as `MS-SEQ` into `buf` with a NUL.
 * @return the length written (without NUL), or RESDELIV_ENOSPC when `size`
 * is too small (RESDELIV_ID_BUFSIZE always suffices).
 * Thread: safe.
 */
RESDELIV_API int resdeliv_id_format(const struct resdeliv_id *id, char *buf,
                                    size_t size);

/** Compare two ids: <0, 0, >0 like strcmp. Thread: safe. */
RESDELIV_API int resdeliv_id_cmp(const struct resdeliv_id *a,
                                 const struct resdeliv_id *b);

/** 1 when `id` is {0,0}. Thread: safe. */
RESDELIV_API int resdeliv_id_is_zero(const struct resdeliv_id *id);

/**
 * The smallest id greater than `id` (seq+1, carrying into ms). This is the
 * inclusive start that equals exclusive start after `id`.
 * @return 0, or RESDELIV_ERANGE when `id` is the largest id.
 * Thread: safe.
 */
RESDELIV_API int resdeliv_id_next(const struct resdeliv_id *id,
                                  struct resdeliv_id *out);

/**
 * Check an epoch token: 1 to RESDELIV_EPOCH_MAX characters of
 * `[0-9A-Za-z_-]`. @return 0 or RESDELIV_EINVAL. Thread: safe.
 */
RESDELIV_API int resdeliv_epoch_check(const char *epoch, size_t len);

/**
 * Make a new random epoch token (16 lowercase hex characters from the
 * system's random source) into `buf` of at least RESDELIV_EPOCH_BUFSIZE.
 * @return 0, or RESDELIV_ENOSPC. Thread: safe.
 */
RESDELIV_API int resdeliv_epoch_new(char *buf, size_t size);

RESDELIV_END_DECLS

#endif /* RESDELIV_ID_H */
