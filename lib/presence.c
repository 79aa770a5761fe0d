/* SPDX-License-Identifier: MIT */
/*
 * Presence across nodes (presence.h) in a build without hiredis: no
 * registry can be made, so a Pusher server keeps its own members only. The
 * internal interface the server's channel side links against answers as a
 * registry that is never set would.
 */
#include "presence_redis_internal.h"

#ifndef RESDELIV_HAVE_REDIS

int resdeliv_presence_redis_new(const struct resdeliv_redis_options *opts,
                                const struct resdeliv_loop *loop,
                                const char *app_id, const char *node_id,
                                uint64_t ttl_ms, resdeliv_presence **out,
                                char *err, size_t errsize)
{
    (void)opts;
    (void)loop;
    (void)app_id;
    (void)node_id;
    (void)ttl_ms;
    if (out != NULL) {
        *out = NULL;
    }
    resdeliv__errf(err, errsize, "presence: built without Redis support");
    return RESDELIV_ENOTSUP;
}

void resdeliv_presence_free(resdeliv_presence *pr)
{
    (void)pr;
}

int resdeliv__cluster_attach(resdeliv_presence *pr,
                             const struct resdeliv__cluster_hooks *hooks)
{
    (void)pr;
    (void)hooks;
    return RESDELIV_ENOTSUP;
}

int resdeliv__cluster_ready(resdeliv_presence *pr, const char *channel)
{
    (void)pr;
    (void)channel;
    return 1;
}

int resdeliv__cluster_wait(resdeliv_presence *pr, const char *channel,
                           void *conn, uint64_t serial, const char *text,
                           size_t len)
{
    (void)pr;
    (void)channel;
    (void)conn;
    (void)serial;
    (void)text;
    (void)len;
    return RESDELIV_ENOTSUP;
}

void resdeliv__cluster_forget(resdeliv_presence *pr, void *conn)
{
    (void)pr;
    (void)conn;
}

int resdeliv__cluster_join(resdeliv_presence *pr, const char *channel,
                           const char *user_id, const char *user_info,
                           uint64_t max_members, int *first)
{
    (void)pr;
    (void)channel;
    (void)user_id;
    (void)user_info;
    (void)max_members;
    *first = 0;
    return RESDELIV_ENOTSUP;
}

void resdeliv__cluster_leave(resdeliv_presence *pr, const char *channel,
                             const char *user_id, int *last)
{
    (void)pr;
    (void)channel;
    (void)user_id;
    *last = 0;
}

int resdeliv__cluster_data(resdeliv_presence *pr, const char *channel,
                           char **out, size_t *out_len)
{
    (void)pr;
    (void)channel;
    (void)out_len;
    *out = NULL;
    return RESDELIV_ENOTSUP;
}

#endif /* RESDELIV_HAVE_REDIS */
