/* SPDX-License-Identifier: MIT */
/*
 * The bus's message format, parsed strictly (a message comes off the
 * network: a bad one is counted and ignored, never trusted), and the bus
 * API of a library built without hiredis, which answers RESDELIV_ENOTSUP
 * so that every build exports the same functions.
 */
#include "bus_redis_internal.h"

#include <string.h>

/* A decimal number ending at `stop` (within `end`): digits only, no
 * leading zero, at most `max`. @return the text after it, or NULL. */
static const char *parse_num(const char *p, const char *end, char stop,
                             uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = p;

    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10) {
            return NULL;
        }
        v = v * 10 + d;
        p++;
    }
    if (p == start || p == end || *p != stop ||
        (p - start > 1 && *start == '0')) {
        return NULL;
    }
    *out = v;
    return p + 1;
}

/* The word before the next space: [p, *word_end). */
static const char *word(const char *p, const char *end, size_t max,
                        const char **word_end)
{
    const char *sp = memchr(p, ' ', (size_t)(end - p));

    if (sp == NULL || sp == p || (size_t)(sp - p) > max) {
        return NULL;
    }
    *word_end = sp;
    return sp + 1;
}

int resdeliv__bus_parse(const char *msg, size_t len,
                        struct resdeliv__bus_msg *out)
{
    struct resdeliv__bus_msg m;
    const char *end = msg + len;
    const char *p, *we;
    uint64_t flags, elen;

    if (msg == NULL || out == NULL || len < 4 || memcmp(msg, "RD1 ", 4)) {
        return RESDELIV_EBADFRAME;
    }
    memset(&m, 0, sizeof(m));
    p = word(msg + 4, end, RESDELIV_EPOCH_MAX, &we);
    if (p == NULL || resdeliv_epoch_check(msg + 4, (size_t)(we - msg - 4))) {
        return RESDELIV_EBADFRAME;
    }
    memcpy(m.pos.epoch, msg + 4, (size_t)(we - msg - 4));
    {
        const char *id = p;
        p = word(id, end, RESDELIV_ID_BUFSIZE, &we);
        if (p == NULL ||
            resdeliv_id_parse(id, (size_t)(we - id), &m.pos.id) != 0 ||
            resdeliv_id_is_zero(&m.pos.id)) {
            return RESDELIV_EBADFRAME;
        }
    }
    p = parse_num(p, end, ' ', UINT32_MAX, &flags);
    if (p == NULL) {
        return RESDELIV_EBADFRAME;
    }
    p = parse_num(p, end, '\n', SIZE_MAX, &elen);
    if (p == NULL || elen > (uint64_t)(end - p)) {
        return RESDELIV_EBADFRAME;
    }
    m.flags = (uint32_t)flags;
    m.event = p;
    m.event_len = (size_t)elen;
    m.data = p + elen;
    m.data_len = (size_t)(end - m.data);
    *out = m;
    return 0;
}

#ifndef RESDELIV_HAVE_REDIS

int resdeliv_bus_redis_new(const struct resdeliv_redis_options *opts,
                           const struct resdeliv_loop *loop, const char *app_id,
                           resdeliv_store *store,
                           const struct resdeliv_bus_callbacks *cb,
                           resdeliv_bus **out, char *err, size_t errsize)
{
    (void)opts;
    (void)loop;
    (void)app_id;
    (void)store;
    (void)cb;
    if (out != NULL) {
        *out = NULL;
    }
    resdeliv__errf(err, errsize, "bus: this build has no Redis support");
    return RESDELIV_ENOTSUP;
}

void resdeliv_bus_free(resdeliv_bus *bus)
{
    (void)bus;
}

int resdeliv_bus_subscribe(resdeliv_bus *bus, const char *channel,
                           size_t channel_len)
{
    (void)bus;
    (void)channel;
    (void)channel_len;
    return RESDELIV_ENOTSUP;
}

int resdeliv_bus_unsubscribe(resdeliv_bus *bus, const char *channel,
                             size_t channel_len)
{
    (void)bus;
    (void)channel;
    (void)channel_len;
    return RESDELIV_ENOTSUP;
}

int resdeliv_bus_stats(const resdeliv_bus *bus, struct resdeliv_bus_stats *out,
                       size_t size)
{
    (void)bus;
    (void)out;
    (void)size;
    return RESDELIV_ENOTSUP;
}

#endif /* !RESDELIV_HAVE_REDIS */
