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

#endif /* RESDELIV_INTERNAL_H */
