/* SPDX-License-Identifier: MIT */
/*
 * The merged member view of a presence channel (presence_view.c) and the
 * nodes' announcement format, used by the presence registry
 * (presence_redis.c) and its tests. Pure: no Redis, no I/O.
 */
#ifndef RESDELIV_PRESENCE_VIEW_INTERNAL_H
#define RESDELIV_PRESENCE_VIEW_INTERNAL_H

#include "internal.h"

/* Longest node id. */
#define RESDELIV__PV_NODE_MAX 64

struct resdeliv__pv_node {
    char *id;
    int seen; /* marked while a snapshot from Redis is merged */
};

struct resdeliv__pv_user {
    char *user_id;   /* JSON string literal */
    char *user_info; /* JSON text or NULL */
    struct resdeliv__pv_node *nodes;
    size_t n;
};

struct resdeliv__pv {
    struct resdeliv__pv_user *users;
    size_t n;
    size_t cap;
};

/* A parsed announcement; user_id and user_info point into the message. */
struct resdeliv__pv_msg {
    int added;
    char node[RESDELIV__PV_NODE_MAX + 1];
    const char *user_id;
    size_t user_id_len;
    const char *user_info; /* empty: none */
    size_t user_info_len;
};

struct resdeliv__pv_user *resdeliv__pv_find(struct resdeliv__pv *v,
                                            const char *user_id);
/* 1 when `node` has `user_id`. */
int resdeliv__pv_has(struct resdeliv__pv *v, const char *user_id,
                     const char *node);
/* `node` has `user_id`; `*first` 1 when the user is new to the view. */
int resdeliv__pv_add(struct resdeliv__pv *v, const char *user_id,
                     const char *user_info, const char *node, int *first);
/* `node` no longer has `user_id`; `*last` 1 when no node has them. */
int resdeliv__pv_remove(struct resdeliv__pv *v, const char *user_id,
                        const char *node, int *last);
void resdeliv__pv_clear(struct resdeliv__pv *v);
/* subscription_succeeded's presence object of the view. */
int resdeliv__pv_data(const struct resdeliv__pv *v, char **out,
                      size_t *out_len);
/* An announcement (malloc'ed, NUL-terminated). */
int resdeliv__pv_format(int added, const char *node, const char *user_id,
                        const char *user_info, char **out, size_t *out_len);
/* RESDELIV_EBADFRAME unless `msg` is a well-formed announcement. */
int resdeliv__pv_parse(const char *msg, size_t len,
                       struct resdeliv__pv_msg *out);
/* 1 for 1 to 64 bytes of letters, digits, '.', '_', '-'. */
int resdeliv__pv_node_id_ok(const char *s);

#endif /* RESDELIV_PRESENCE_VIEW_INTERNAL_H */
