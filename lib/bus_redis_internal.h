/* SPDX-License-Identifier: MIT */
/*
 * Internals of the bus (bus.h): the message parser, which is pure and
 * built in every configuration (bus.c), and the limits the Redis bus
 * (bus_redis.c) works within, shared with its tests.
 */
#ifndef RESDELIV_BUS_REDIS_INTERNAL_H
#define RESDELIV_BUS_REDIS_INTERNAL_H

#include "internal.h"

#include <resdeliv/bus.h>

/* Suffix of a log's bus channel after its stream key. */
#define RESDELIV__BUS_SUFFIX ":bus"

/* Channels named in one SUBSCRIBE or UNSUBSCRIBE. */
#define RESDELIV__BUS_BATCH 256
/* Entries one catch-up read asks for. */
#define RESDELIV__BUS_PAGE 100
/* Entries one catch-up recovers at most; past it, a gap (cap). */
#define RESDELIV__BUS_CATCHUP_MAX 100000
/* Bus messages a channel keeps while it catches up, and their bytes. A
 * fuller queue is dropped and the log read again (it holds them all). */
#define RESDELIV__BUS_QUEUE_MAX 1024
#define RESDELIV__BUS_QUEUE_BYTES (4u * 1024u * 1024u)

/* A parsed bus message; event and data point into the message. */
struct resdeliv__bus_msg {
    struct resdeliv_position pos;
    uint32_t flags;
    uint32_t reserved;
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
};

/*
 * Parse `RD1 <epoch> <id> <flags> <event_len>\n<event><data>`: the epoch a
 * valid token, the id a valid non-zero id, flags a decimal uint32 and
 * event_len a decimal length within the message, every number without
 * sign or leading zero, single spaces.
 * @return 0 or RESDELIV_EBADFRAME (`out` then untouched).
 */
int resdeliv__bus_parse(const char *msg, size_t len,
                        struct resdeliv__bus_msg *out);

#endif /* RESDELIV_BUS_REDIS_INTERNAL_H */
