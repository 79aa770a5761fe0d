/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for stream id parsing. Every accepted id must format back to
 * text that parses to the same id, with the length the formatter reports,
 * and never wider than RESDELIV_ID_BUFSIZE; a buffer one byte short must be
 * refused. The input itself must format back unchanged unless it carried
 * leading zeros, which the parser accepts and the formatter never writes.
 */
#include <resdeliv/resdeliv.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_id: %s (input %zu bytes: %.*s)\n", what, size,
            (int)size, (const char *)data);
    abort();
}

/* 1 when a part of the text (digits between '-' or the ends) starts with
 * a '0' followed by another digit. */
static int has_leading_zero(const char *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        int at_start = i == 0 || text[i - 1] == '-';
        if (at_start && text[i] == '0' && text[i + 1] != '-') {
            return 1;
        }
    }
    return 0;
}

static void check_formats(const struct resdeliv_id *id, const uint8_t *data,
                          size_t size)
{
    char buf[RESDELIV_ID_BUFSIZE];
    char small[RESDELIV_ID_BUFSIZE];
    struct resdeliv_id again = {1, 1};
    int n = resdeliv_id_format(id, buf, sizeof(buf));

    if (n <= 0 || (size_t)n >= sizeof(buf) || strlen(buf) != (size_t)n) {
        fail("format length does not match its output", data, size);
    }
    if (resdeliv_id_parse(buf, (size_t)n, &again) != 0 ||
        resdeliv_id_cmp(&again, id) != 0) {
        fail("formatted id does not parse back to itself", data, size);
    }
    if (resdeliv_id_format(id, small, (size_t)n) != RESDELIV_ENOSPC) {
        fail("format into a buffer without room for the NUL succeeded", data,
             size);
    }
    if (!has_leading_zero((const char *)data, size) &&
        ((size_t)n != size || memcmp(buf, data, size) != 0)) {
        fail("canonical id does not format back to its text", data, size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy so ASan catches any read past `size`. */
    char *text = malloc(size > 0 ? size : 1);
    struct resdeliv_id id = {7, 7};
    struct resdeliv_id next;
    int rc;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    rc = resdeliv_id_parse(text, size, &id);
    if (rc == 0) {
        check_formats(&id, data, size);
        if (resdeliv_id_next(&id, &next) == 0 &&
            resdeliv_id_cmp(&next, &id) <= 0) {
            fail("next id is not greater", data, size);
        }
    } else if (rc != RESDELIV_EBADID && rc != RESDELIV_ERANGE) {
        fail("unexpected error code", data, size);
    } else if (id.ms != 7 || id.seq != 7) {
        fail("failed parse touched its output", data, size);
    }
    free(text);
    return 0;
}
