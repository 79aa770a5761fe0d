/* SPDX-License-Identifier: MIT */
/*
 * Just enough JSON for a Pusher client: read a top-level member of an
 * object, and undo a string's escapes. A Pusher frame is an object whose
 * "data" is a string holding more JSON text, and the members a resuming
 * client needs (event, channel, data, _replay_id, _replay_epoch, the gap
 * notice's reason) are all at the top level of one or the other. An
 * application with a JSON library uses that instead.
 */
#ifndef RESDELIV_EXAMPLE_JSON_H
#define RESDELIV_EXAMPLE_JSON_H

#include <stddef.h>

/* Copy the top-level member `name` of the JSON object in `obj` (`len`
 * bytes) into `out` with a NUL: a string's content without the quotes,
 * escapes left as they are (see json_unescape()), any other value as its
 * text. `len` + 1 bytes of `out` always suffice.
 * @return 2 found a string, 1 found another value, 0 absent, -1 not an
 * object, malformed, or longer than `size`. */
int json_member(const char *obj, size_t len, const char *name, char *out,
                size_t size);

/* Undo the escapes of a string's content in place (\uXXXX becomes UTF-8,
 * a lone surrogate U+FFFD) and NUL-terminate it; `*len` is updated.
 * @return 0, or -1 for a bad escape. */
int json_unescape(char *s, size_t *len);

#endif /* RESDELIV_EXAMPLE_JSON_H */
