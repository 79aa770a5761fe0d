/* SPDX-License-Identifier: MIT */
/*
 * Error codes, names and messages, the library's free function, the
 * run-time version, and the helper that fills optional error buffers.
 *
 * Codes are small negative integers, so both tables are indexed by -err;
 * a code outside the table (a newer library's code seen by an older
 * caller, or garbage) gets a fixed fallback instead of a NULL.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

struct err_entry {
    const char *name;
    const char *msg;
};

static const struct err_entry err_table[] = {
    {"RESDELIV_OK", "success"},
    {"RESDELIV_EINVAL", "invalid argument"},
    {"RESDELIV_ENOMEM", "out of memory"},
    {"RESDELIV_EBADID", "malformed stream id"},
    {"RESDELIV_ERANGE", "number out of range"},
    {"RESDELIV_EBADJSON", "malformed JSON"},
    {"RESDELIV_EBADCONFIG", "invalid configuration"},
    {"RESDELIV_EWHISPER", "client events are never logged"},
    {"RESDELIV_ESTORE", "store failed or is unreachable"},
    {"RESDELIV_ENOTSUP", "operation not supported"},
    {"RESDELIV_EABI", "incompatible ABI version"},
    {"RESDELIV_ENOSPC", "buffer too small"},
    {"RESDELIV_EOVERFLOW", "bounded queue is full"},
    {"RESDELIV_EBADFRAME", "malformed protocol frame"},
    {"RESDELIV_ENOENT", "no such object"},
    {"RESDELIV_EAGAIN", "operation would block; retry later"},
    {"RESDELIV_ECLOSED", "handle or connection closed"},
    {"RESDELIV_ETIMEDOUT", "operation timed out"},
    {"RESDELIV_EAUTH", "authentication failed"},
    {"RESDELIV_EBADURL", "malformed store URL"},
    {"RESDELIV_ESTALE", "log changed epoch during the operation"},
};

/* Adding a code to common.h without a row here fails the build. */
_Static_assert(sizeof(err_table) / sizeof(err_table[0]) ==
                   (size_t)(-RESDELIV_ESTALE) + 1,
               "err_table must cover every RESDELIV_E* code");

static const struct err_entry *lookup(int err)
{
    if (err > 0 || err < RESDELIV_ESTALE) {
        return NULL;
    }
    return &err_table[-err];
}

const char *resdeliv_strerror(int err)
{
    const struct err_entry *e = lookup(err);
    return e ? e->msg : "unknown error";
}

const char *resdeliv_err_name(int err)
{
    const struct err_entry *e = lookup(err);
    return e ? e->name : "RESDELIV_E?";
}

void resdeliv_free(void *ptr)
{
    free(ptr);
}

const char *resdeliv_version(void)
{
    return RESDELIV_VERSION_STRING;
}

unsigned resdeliv_version_hex(void)
{
    return (unsigned)RESDELIV_VERSION_HEX;
}

void resdeliv__errf(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || size == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}
