/* SPDX-License-Identifier: MIT */
/*
 * What the Pusher server's channel side (pusher_channels.c) asks of a
 * presence registry (presence.h) when one is set: the merged member view
 * of a presence channel, loaded from Redis before the channel's first
 * local subscription stands, and the announcements of this node's users.
 * Without Redis these are defined in presence.c and never reached, as no
 * registry can be made.
 */
#ifndef RESDELIV_PRESENCE_REDIS_INTERNAL_H
#define RESDELIV_PRESENCE_REDIS_INTERNAL_H

#include "internal.h"

#include <resdeliv/presence.h>

/* What a registry calls back in its Pusher server. */
struct resdeliv__cluster_hooks {
    void *arg;
    /* A user of another node came (`added` 1) or left the merged view of
     * `channel`: announce it to the local subscribers. `user_id` is a
     * JSON string literal, `user_info` JSON text or NULL. */
    void (*member)(void *arg, const char *channel, const char *user_id,
                   const char *user_info, int added);
    /* The view of the channel a subscribe waited for is loaded (or could
     * not be): run the subscribe frame `text` of `conn` again. */
    void (*ready)(void *arg, void *conn, uint64_t serial, const char *text,
                  size_t len);
};

/* Serve one server (hooks copied) or, with NULL, none: waiting
 * subscribes are then dropped. RESDELIV_EINVAL when serving another. */
int resdeliv__cluster_attach(resdeliv_presence *pr,
                             const struct resdeliv__cluster_hooks *hooks);

/* 1 when the merged view of `channel` is loaded and usable now. */
int resdeliv__cluster_ready(resdeliv_presence *pr, const char *channel);

/* Keep the subscribe frame `text` of (`conn`, `serial`) until the view of
 * `channel` is loaded, then hand it to the ready hook (from the loop). */
int resdeliv__cluster_wait(resdeliv_presence *pr, const char *channel,
                           void *conn, uint64_t serial, const char *text,
                           size_t len);

/* `conn` closed: its waiting subscribes are dropped. */
void resdeliv__cluster_forget(resdeliv_presence *pr, void *conn);

/* This node got the first connection of `user_id` on `channel` (a loaded
 * view): write the field, announce it. `*first` is 1 when the user is new
 * to the merged view. RESDELIV_EOVERFLOW when new and the view already
 * holds `max_members`. */
int resdeliv__cluster_join(resdeliv_presence *pr, const char *channel,
                           const char *user_id, const char *user_info,
                           uint64_t max_members, int *first);

/* This node lost the last connection of `user_id` on `channel`. `*last`
 * is 1 when no node has the user any more. */
void resdeliv__cluster_leave(resdeliv_presence *pr, const char *channel,
                             const char *user_id, int *last);

/* `{"presence":{"ids":[...],"hash":{...},"count":N}}` of the merged view;
 * `user_info` of the user where the view has it. */
int resdeliv__cluster_data(resdeliv_presence *pr, const char *channel,
                           char **out, size_t *out_len);

#endif /* RESDELIV_PRESENCE_REDIS_INTERNAL_H */
