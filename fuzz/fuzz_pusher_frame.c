/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the Pusher client frame parsers. Every input goes through
 * resdeliv_pusher_parse_frame() and resdeliv_pusher_parse_subscribe(), and
 * both results are always cleared, so LeakSanitizer checks every error
 * path. An accepted frame is rebuilt with resdeliv_pusher_build_event() and
 * parsed again: event, channel and data must survive the round trip. An
 * accepted subscribe must name a valid channel.
 */
#include <resdeliv/resdeliv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_pusher_frame: %s: %s\n", what, detail);
    abort();
}

static int str_same(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

static void check_refused(int rc, const char *err, const char *what)
{
    if (rc != RESDELIV_EBADFRAME && rc != RESDELIV_ENOMEM) {
        fail(what, resdeliv_err_name(rc));
    }
    if (err[0] == '\0') {
        fail(what, "refused without a message");
    }
}

/* Build a server frame from a parsed one and parse it back. */
static void round_trip(const struct resdeliv_pusher_frame *f)
{
    struct resdeliv_pusher_frame g = {0};
    char *built = NULL;
    size_t built_len = 0;
    char err[256] = "";
    int rc;

    rc = resdeliv_pusher_build_event(
        f->event, strlen(f->event), f->channel,
        f->channel != NULL ? strlen(f->channel) : 0, f->data,
        f->data != NULL ? f->data_len : 0, &built, &built_len);
    if (rc != 0) {
        return; /* the builder may refuse what a client may send */
    }
    if (built_len <= RESDELIV_PUSHER_MAX_FRAME) {
        rc =
            resdeliv_pusher_parse_frame(built, built_len, &g, err, sizeof(err));
        if (rc != 0) {
            fail("built frame does not parse", err);
        }
        if (!str_same(f->event, g.event) || !str_same(f->channel, g.channel)) {
            fail("event or channel changed in a round trip", built);
        }
        if (f->data != NULL && (g.data == NULL || g.data_len != f->data_len ||
                                memcmp(g.data, f->data, f->data_len) != 0)) {
            fail("data changed in a round trip", built);
        }
    }
    resdeliv_pusher_frame_clear(&g);
    resdeliv_free(built);
}

static void fuzz_frame(const char *text, size_t size)
{
    struct resdeliv_pusher_frame f = {0};
    char err[256] = "";
    int rc = resdeliv_pusher_parse_frame(text, size, &f, err, sizeof(err));

    if (rc == 0) {
        if (f.event == NULL) {
            fail("frame accepted without an event", err);
        }
        if (f.data != NULL && f.data[f.data_len] != '\0') {
            fail("frame data is not NUL-terminated at data_len", f.data);
        }
        round_trip(&f);
    } else {
        check_refused(rc, err, "parse_frame");
        if (f.event != NULL || f.channel != NULL || f.data != NULL) {
            fail("refused frame left members behind", err);
        }
    }
    resdeliv_pusher_frame_clear(&f);
}

static void fuzz_subscribe(const char *text, size_t size)
{
    struct resdeliv_pusher_subscribe s = {0};
    char err[256] = "";
    int rc = resdeliv_pusher_parse_subscribe(text, size, &s, err, sizeof(err));

    if (rc == 0) {
        if (s.channel == NULL ||
            !resdeliv_pusher_channel_valid(s.channel, strlen(s.channel))) {
            fail("subscribe accepted with an invalid channel",
                 s.channel != NULL ? s.channel : "(null)");
        }
    } else {
        check_refused(rc, err, "parse_subscribe");
    }
    resdeliv_pusher_subscribe_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy without a NUL, so ASan sees any read past `size`. */
    char *text = malloc(size > 0 ? size : 1);

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    fuzz_frame(text, size);
    fuzz_subscribe(text, size);
    free(text);
    return 0;
}
