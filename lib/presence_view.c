/* SPDX-License-Identifier: MIT */
/*
 * The merged member view of one presence channel on one node: each user
 * with the set of nodes where they have at least one connection. A user is
 * a member while that set is not empty, so the same user on two nodes
 * counts once and is announced once. Users keep the order in which they
 * first appeared, as the single-node table does. Also the announcement
 * format the nodes exchange on the log's bus channel (bus.h):
 *
 *     RDP1 <+|-> <node_id> <user_id_len>\n<user_id><user_info>
 *
 * where user_id is the member's id as a JSON string literal and user_info
 * JSON text (empty for none, always empty with '-').
 */
#include "presence_view_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int node_index(const struct resdeliv__pv_user *u, const char *node)
{
    for (size_t i = 0; i < u->n; i++) {
        if (strcmp(u->nodes[i].id, node) == 0) {
            return (int)i;
        }
    }
    return -1;
}

struct resdeliv__pv_user *resdeliv__pv_find(struct resdeliv__pv *v,
                                            const char *user_id)
{
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->users[i].user_id, user_id) == 0) {
            return &v->users[i];
        }
    }
    return NULL;
}

int resdeliv__pv_has(struct resdeliv__pv *v, const char *user_id,
                     const char *node)
{
    struct resdeliv__pv_user *u = resdeliv__pv_find(v, user_id);

    return u != NULL && node_index(u, node) >= 0;
}

static int user_append(struct resdeliv__pv *v, const char *user_id,
                       const char *user_info)
{
    struct resdeliv__pv_user u = {0};

    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        struct resdeliv__pv_user *p = realloc(v->users, cap * sizeof(*p));
        if (p == NULL) {
            return RESDELIV_ENOMEM;
        }
        v->users = p;
        v->cap = cap;
    }
    u.user_id = strdup(user_id);
    u.user_info = user_info != NULL ? strdup(user_info) : NULL;
    if (u.user_id == NULL || (user_info != NULL && u.user_info == NULL)) {
        free(u.user_id);
        free(u.user_info);
        return RESDELIV_ENOMEM;
    }
    v->users[v->n++] = u;
    return 0;
}

static void user_drop(struct resdeliv__pv *v, struct resdeliv__pv_user *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->nodes[i].id);
    }
    free(u->nodes);
    free(u->user_id);
    free(u->user_info);
    memmove(u, u + 1, (size_t)(v->users + v->n - (u + 1)) * sizeof(*u));
    v->n--;
}

int resdeliv__pv_add(struct resdeliv__pv *v, const char *user_id,
                     const char *user_info, const char *node, int *first)
{
    struct resdeliv__pv_user *u = resdeliv__pv_find(v, user_id);
    struct resdeliv__pv_node *p;
    int rc;

    *first = 0;
    if (u != NULL && node_index(u, node) >= 0) {
        return 0;
    }
    if (u == NULL) {
        rc = user_append(v, user_id, user_info);
        if (rc != 0) {
            return rc;
        }
        u = &v->users[v->n - 1];
        *first = 1;
    }
    p = realloc(u->nodes, (u->n + 1) * sizeof(*p));
    if (p != NULL) {
        u->nodes = p;
        p[u->n].seen = 1;
        p[u->n].id = strdup(node);
    }
    if (p == NULL || p[u->n].id == NULL) {
        if (*first) {
            user_drop(v, u);
            *first = 0;
        }
        return RESDELIV_ENOMEM;
    }
    u->n++;
    return 0;
}

int resdeliv__pv_remove(struct resdeliv__pv *v, const char *user_id,
                        const char *node, int *last)
{
    struct resdeliv__pv_user *u = resdeliv__pv_find(v, user_id);
    int i = u != NULL ? node_index(u, node) : -1;

    *last = 0;
    if (i < 0) {
        return RESDELIV_ENOENT;
    }
    free(u->nodes[i].id);
    u->nodes[i] = u->nodes[--u->n];
    if (u->n == 0) {
        user_drop(v, u);
        *last = 1;
    }
    return 0;
}

void resdeliv__pv_clear(struct resdeliv__pv *v)
{
    while (v->n > 0) {
        user_drop(v, &v->users[v->n - 1]);
    }
    free(v->users);
    memset(v, 0, sizeof(*v));
}

int resdeliv__pv_data(const struct resdeliv__pv *v, char **out, size_t *out_len)
{
    struct resdeliv__json_buf b = {0};
    char num[24];

    resdeliv__json_buf_puts(&b, "{\"presence\":{\"ids\":[");
    for (size_t i = 0; i < v->n; i++) {
        resdeliv__json_buf_puts(&b, i ? "," : "");
        resdeliv__json_buf_puts(&b, v->users[i].user_id);
    }
    resdeliv__json_buf_puts(&b, "],\"hash\":{");
    for (size_t i = 0; i < v->n; i++) {
        const struct resdeliv__pv_user *u = &v->users[i];
        resdeliv__json_buf_puts(&b, i ? "," : "");
        resdeliv__json_buf_puts(&b, u->user_id);
        resdeliv__json_buf_puts(&b, ":");
        resdeliv__json_buf_puts(&b, u->user_info ? u->user_info : "null");
    }
    snprintf(num, sizeof(num), "%zu", v->n);
    resdeliv__json_buf_puts(&b, "},\"count\":");
    resdeliv__json_buf_puts(&b, num);
    resdeliv__json_buf_puts(&b, "}}");
    return resdeliv__json_buf_finish(&b, out, out_len);
}

int resdeliv__pv_format(int added, const char *node, const char *user_id,
                        const char *user_info, char **out, size_t *out_len)
{
    size_t id_len = strlen(user_id);
    size_t info_len = added && user_info != NULL ? strlen(user_info) : 0;
    size_t head = strlen(node) + 32;
    char *p = malloc(head + id_len + info_len + 1);
    int n;

    if (p == NULL) {
        return RESDELIV_ENOMEM;
    }
    n = snprintf(p, head, "RDP1 %c %s %zu\n", added ? '+' : '-', node, id_len);
    memcpy(p + n, user_id, id_len);
    memcpy(p + n + id_len, info_len ? user_info : "", info_len);
    p[(size_t)n + id_len + info_len] = '\0';
    *out = p;
    *out_len = (size_t)n + id_len + info_len;
    return 0;
}

int resdeliv__pv_node_id_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > RESDELIV__PV_NODE_MAX) {
        return 0;
    }
    for (; *s != '\0'; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* A decimal length without sign or leading zero, then '\n'. */
static int parse_len(const char *p, const char *end, size_t *out,
                     const char **next)
{
    size_t v = 0;
    const char *s = p;

    while (p < end && *p >= '0' && *p <= '9' && p - s < 8) {
        v = v * 10 + (size_t)(*p - '0');
        p++;
    }
    if (p == s || p == end || *p != '\n' || (*s == '0' && p - s > 1)) {
        return RESDELIV_EBADFRAME;
    }
    *out = v;
    *next = p + 1;
    return 0;
}

int resdeliv__pv_parse(const char *msg, size_t len,
                       struct resdeliv__pv_msg *out)
{
    const char *end = msg + len, *p = msg + 7, *sp;
    size_t nlen, idlen;

    if (len < 8 || memcmp(msg, "RDP1 ", 5) != 0 ||
        (msg[5] != '+' && msg[5] != '-') || msg[6] != ' ') {
        return RESDELIV_EBADFRAME;
    }
    sp = memchr(p, ' ', (size_t)(end - p));
    nlen = sp != NULL ? (size_t)(sp - p) : 0;
    if (nlen == 0 || nlen > RESDELIV__PV_NODE_MAX) {
        return RESDELIV_EBADFRAME;
    }
    memcpy(out->node, p, nlen);
    out->node[nlen] = '\0';
    if (!resdeliv__pv_node_id_ok(out->node) ||
        parse_len(sp + 1, end, &idlen, &p) != 0 || idlen == 0 ||
        idlen > (size_t)(end - p)) {
        return RESDELIV_EBADFRAME;
    }
    out->added = msg[5] == '+';
    out->user_id = p;
    out->user_id_len = idlen;
    out->user_info = p + idlen;
    out->user_info_len = (size_t)(end - p) - idlen;
    return 0;
}
