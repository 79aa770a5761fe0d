/* SPDX-License-Identifier: MIT */
/**
 * @file tag.h
 * Tagging: put the log id (and epoch) into a message's data object by
 * splicing text, never by parsing and reprinting the payload.
 *
 * The data must be one JSON object (leading and trailing white space
 * allowed). A single structural pass checks that: strings (with escapes),
 * nesting and the closing brace; it does not validate numbers or literals.
 * The members `"<id_field>":"<id>"` and, when an epoch is given,
 * `"<epoch_field>":"<epoch>"` are added at the end of the object; a
 * top-level member of the same name already in the data has its value
 * replaced, so the result never has a duplicate key.
 */
#ifndef RESDELIV_TAG_H
#define RESDELIV_TAG_H

#include "common.h"
#include "id.h"

RESDELIV_BEGIN_DECLS

/** Nesting depth beyond which data is not tagged (delivered as is). */
#define RESDELIV_TAG_MAX_DEPTH 128

/**
 * 1 when `data` is one JSON object as far as the structural pass can tell,
 * else 0. Thread: safe.
 */
RESDELIV_API int resdeliv_tag_is_object(const char *data, size_t len);

/**
 * Tag `data` with `id` and `epoch` (epoch NULL or "" to leave it out).
 * `id_field` and `epoch_field` are plain member names (no quote, backslash
 * or control character; the config validation ensures this).
 * @return 0 with `*out` (NUL-terminated, free with resdeliv_free()) and
 * `*out_len`; RESDELIV_EBADJSON when data is not a JSON object (nothing
 * allocated); RESDELIV_EINVAL; RESDELIV_ENOMEM.
 * Thread: safe.
 */
RESDELIV_API int resdeliv_tag(const char *data, size_t len,
                              const char *id_field, const char *epoch_field,
                              const struct resdeliv_id *id, const char *epoch,
                              char **out, size_t *out_len);

/**
 * Like resdeliv_tag() into a caller buffer of `size` bytes.
 * @return the length written (a NUL follows), RESDELIV_ENOSPC when the
 * buffer is too small (nothing useful written; a buffer of
 * len + strlen(fields) + RESDELIV_ID_BUFSIZE + RESDELIV_EPOCH_BUFSIZE + 16
 * always suffices), or the errors of resdeliv_tag().
 */
RESDELIV_API long resdeliv_tag_into(const char *data, size_t len,
                                    const char *id_field,
                                    const char *epoch_field,
                                    const struct resdeliv_id *id,
                                    const char *epoch, char *buf,
                                    size_t size);

RESDELIV_END_DECLS

#endif /* RESDELIV_TAG_H */
