/* SPDX-License-Identifier: MIT */
/*
 * The presence registry's views (presence_redis.c has the connections,
 * the heartbeat and the API): making and dropping a channel's view, the
 * field writes with their announcements, the announcements of the other
 * nodes, and loading a view from the presence hash. See presence_redis.c
 * for the design.
 */
#include "presence_registry_internal.h"

#include <hiredis/async.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One field change and its announcement, atomically. */
static const char script[] =
    "if ARGV[1] == '+' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) "
    "else redis.call('HDEL', KEYS[1], ARGV[2]) end "
    "redis.call('PUBLISH', KEYS[2], ARGV[4]) return 1";

/* An HGETALL's privdata: which load of which view it answers. */
struct load_rec {
    resdeliv_presence *pr;
    uint64_t gen;
    char channel[];
};

/* ------------------------------------------------------------ changes */

void resdeliv__prs_change_push(struct resdeliv__pchange **list,
                               const char *channel, const char *user_id,
                               const char *user_info, int added)
{
    struct resdeliv__pchange *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return;
    }
    c->channel = strdup(channel);
    c->user_id = strdup(user_id);
    c->user_info = user_info != NULL ? strdup(user_info) : NULL;
    c->added = added;
    if (c->channel == NULL || c->user_id == NULL) {
        free(c->channel);
        free(c->user_id);
        free(c->user_info);
        free(c);
        return;
    }
    c->next = *list;
    *list = c;
}

/* Hand the changes over, oldest first (the list is newest first). */
void resdeliv__prs_changes_fire(resdeliv_presence *pr,
                                struct resdeliv__pchange *list)
{
    struct resdeliv__pchange *rev = NULL;

    while (list != NULL) {
        struct resdeliv__pchange *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev != NULL) {
        struct resdeliv__pchange *next = rev->next;
        if (pr->attached && pr->hooks.member != NULL) {
            pr->hooks.member(pr->hooks.arg, rev->channel, rev->user_id,
                             rev->user_info, rev->added);
        }
        free(rev->channel);
        free(rev->user_id);
        free(rev->user_info);
        free(rev);
        rev = next;
    }
}

/* -------------------------------------------------------------- views */

struct resdeliv__pview *resdeliv__prs_view_find(resdeliv_presence *pr,
                                                const char *channel)
{
    struct resdeliv__pview *v = pr->views;

    while (v != NULL && strcmp(v->channel, channel) != 0) {
        v = v->next;
    }
    return v;
}

static struct resdeliv__pview *view_by_bus(resdeliv_presence *pr,
                                           const char *bkey, size_t len)
{
    struct resdeliv__pview *v = pr->views;

    while (v != NULL &&
           (strlen(v->bkey) != len || memcmp(v->bkey, bkey, len) != 0)) {
        v = v->next;
    }
    return v;
}

void resdeliv__prs_queue_clear(struct resdeliv__pview *v)
{
    while (v->qhead != NULL) {
        struct resdeliv__pqmsg *q = v->qhead;
        v->qhead = q->next;
        free(q);
    }
    v->qtail = NULL;
    v->nq = 0;
}

void resdeliv__prs_view_free(struct resdeliv__pview *v)
{
    while (v->waiters != NULL) {
        struct resdeliv__pwaiter *w = v->waiters;
        v->waiters = w->next;
        free(w);
    }
    resdeliv__prs_queue_clear(v);
    resdeliv__pv_clear(&v->pv);
    free(v->channel);
    free(v->hkey);
    free(v->bkey);
    free(v);
}

static void on_pubsub(redisAsyncContext *ac, void *reply, void *privdata);

void resdeliv__prs_subscribe(resdeliv_presence *pr, struct resdeliv__pview *v,
                             int on)
{
    const char *argv[2] = {on ? "SUBSCRIBE" : "UNSUBSCRIBE", v->bkey};
    size_t lens[2] = {strlen(argv[0]), strlen(v->bkey)};

    resdeliv__prs_send(&pr->sub, on_pubsub, pr, 2, argv, lens);
}

int resdeliv__prs_view_new(resdeliv_presence *pr, const char *channel,
                           struct resdeliv__pview **out)
{
    size_t pl = strlen(pr->prefix), al = strlen(pr->app_id);
    size_t cl = strlen(channel);
    size_t n =
        resdeliv__redis_key_len(pr->prefix, pl, pr->app_id, al, channel, cl);
    struct resdeliv__pview *v = calloc(1, sizeof(*v));
    char *stream = malloc(n + 1), *epoch = malloc(n + sizeof(":epoch"));
    struct resdeliv__redis_keys k;

    if (v != NULL && stream != NULL && epoch != NULL) {
        resdeliv__redis_keys_write(stream, epoch, n, pr->prefix, pl, pr->app_id,
                                   al, channel, cl, &k);
        v->channel = strdup(channel);
        v->hkey = malloc(n + sizeof(":presence"));
        v->bkey = malloc(n + sizeof(":bus"));
    }
    if (v == NULL || v->channel == NULL || v->hkey == NULL || v->bkey == NULL) {
        free(stream);
        free(epoch);
        if (v != NULL) {
            resdeliv__prs_view_free(v);
        }
        return RESDELIV_ENOMEM;
    }
    snprintf(v->hkey, n + sizeof(":presence"), "%s:presence", stream);
    snprintf(v->bkey, n + sizeof(":bus"), "%s:bus", stream);
    free(stream);
    free(epoch);
    v->gen = ++pr->gen;
    v->next = pr->views;
    pr->views = v;
    /* Without the pub/sub connection the view stands on local members
     * alone until it comes back and the view loads. */
    v->state = pr->sub.io.ac != NULL ? RESDELIV__PV_SUBSCRIBING
                                     : RESDELIV__PV_READY;
    resdeliv__prs_subscribe(pr, v, 1);
    *out = v;
    return 0;
}

void resdeliv__prs_view_drop(resdeliv_presence *pr, struct resdeliv__pview *v)
{
    struct resdeliv__pview **pp = &pr->views;

    while (*pp != v) {
        pp = &(*pp)->next;
    }
    *pp = v->next;
    resdeliv__prs_subscribe(pr, v, 0);
    resdeliv__prs_view_free(v);
}

/* ------------------------------------------------------- field writes */

/* Write (`added`) or delete the field of (`node`, `user_id`) and announce
 * it, in one script. */
void resdeliv__prs_field_send(resdeliv_presence *pr,
                              const struct resdeliv__pview *v, int added,
                              const char *node, const char *user_id,
                              const char *user_info)
{
    char *msg = NULL, *field;
    size_t msg_len = 0, nl = strlen(node), il = strlen(user_id);
    const char *argv[9];
    size_t lens[9];

    field = malloc(nl + il + 2);
    if (field == NULL || resdeliv__pv_format(added, node, user_id, user_info,
                                             &msg, &msg_len) != 0) {
        free(field);
        return;
    }
    memcpy(field, node, nl);
    field[nl] = '\n';
    memcpy(field + nl + 1, user_id, il + 1);
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = "2";
    argv[3] = v->hkey;
    argv[4] = v->bkey;
    argv[5] = added ? "+" : "-";
    argv[6] = field;
    argv[7] = added && user_info != NULL ? user_info : "";
    argv[8] = msg;
    for (int i = 0; i < 8; i++) {
        lens[i] = strlen(argv[i]);
    }
    lens[8] = msg_len;
    resdeliv__prs_send(&pr->cmd, resdeliv__prs_ignore, NULL, 9, argv, lens);
    free(field);
    free(msg);
}

/* ------------------------------------------------------ announcements */

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Apply one announcement of another node to a loaded view. */
static void apply(resdeliv_presence *pr, struct resdeliv__pview *v,
                  const struct resdeliv__pv_msg *m,
                  struct resdeliv__pchange **chg)
{
    char *id = dup_n(m->user_id, m->user_id_len);
    char *info =
        m->user_info_len ? dup_n(m->user_info, m->user_info_len) : NULL;
    int edge = 0;

    if (id == NULL || (m->user_info_len && info == NULL)) {
        free(id);
        free(info);
        return;
    }
    if (strcmp(m->node, pr->node) == 0) {
        /* Another node took this one for dead: say again what it has. */
        if (!m->added && resdeliv__pv_has(&v->pv, id, pr->node)) {
            struct resdeliv__pv_user *u = resdeliv__pv_find(&v->pv, id);
            resdeliv__prs_field_send(pr, v, 1, pr->node, id, u->user_info);
        }
    } else if (m->added) {
        if (resdeliv__pv_add(&v->pv, id, info, m->node, &edge) == 0 && edge) {
            resdeliv__prs_change_push(chg, v->channel, id, info, 1);
        }
    } else if (resdeliv__pv_remove(&v->pv, id, m->node, &edge) == 0 && edge) {
        resdeliv__prs_change_push(chg, v->channel, id, NULL, 0);
    }
    free(id);
    free(info);
}

static void queue_push(struct resdeliv__pview *v, const char *msg, size_t len)
{
    struct resdeliv__pqmsg *q = malloc(sizeof(*q) + len);

    if (q == NULL) {
        return;
    }
    q->next = NULL;
    q->len = len;
    memcpy(q->msg, msg, len);
    if (v->qtail != NULL) {
        v->qtail->next = q;
    } else {
        v->qhead = q;
    }
    v->qtail = q;
    v->nq++;
}

static void load_start(resdeliv_presence *pr, struct resdeliv__pview *v);

static void on_message(resdeliv_presence *pr, const redisReply *ch,
                       const redisReply *msg)
{
    struct resdeliv__pview *v = view_by_bus(pr, ch->str, ch->len);
    struct resdeliv__pv_msg m;
    struct resdeliv__pchange *chg = NULL;

    /* Entries of the log share the channel: only RDP1 is ours. */
    if (v == NULL || msg->type != REDIS_REPLY_STRING ||
        resdeliv__pv_parse(msg->str, msg->len, &m) != 0) {
        return;
    }
    if (v->state != RESDELIV__PV_READY) {
        queue_push(v, msg->str, msg->len);
        return;
    }
    apply(pr, v, &m, &chg);
    resdeliv__prs_changes_fire(pr, chg);
}

static int is_word(const redisReply *r, const char *w)
{
    return r->type == REDIS_REPLY_STRING && strlen(w) == r->len &&
           strncasecmp(r->str, w, r->len) == 0;
}

static void on_pubsub(redisAsyncContext *ac, void *reply, void *privdata)
{
    resdeliv_presence *pr = privdata;
    const redisReply *r = reply;
    struct resdeliv__pview *v;

    (void)ac;
    if (r == NULL || pr->closing || r->type != REDIS_REPLY_ARRAY ||
        r->elements != 3 || r->element[1]->type != REDIS_REPLY_STRING) {
        return;
    }
    if (is_word(r->element[0], "message")) {
        on_message(pr, r->element[1], r->element[2]);
        return;
    }
    v = view_by_bus(pr, r->element[1]->str, r->element[1]->len);
    if (v == NULL) {
        return;
    }
    if (is_word(r->element[0], "subscribe") &&
        v->state == RESDELIV__PV_SUBSCRIBING) {
        load_start(pr, v);
    } else if (is_word(r->element[0], "unsubscribe")) {
        /* hiredis forgot the channel: a view made again for it since
         * needs a new subscription. */
        v->state = RESDELIV__PV_SUBSCRIBING;
        resdeliv__prs_subscribe(pr, v, 1);
    }
}

/* --------------------------------------------------------------- load */

/* Merge one field of the snapshot: `field` is `<node>\n<user_id>`. */
static void merge_field(resdeliv_presence *pr, struct resdeliv__pview *v,
                        const redisReply *f, const redisReply *val,
                        struct resdeliv__pchange **chg)
{
    const char *nl = memchr(f->str, '\n', f->len);
    char node[RESDELIV__PV_NODE_MAX + 1], *id, *info;
    struct resdeliv__pv_user *u;
    size_t n = nl != NULL ? (size_t)(nl - f->str) : 0;
    int first = 0;

    if (n == 0 || n > RESDELIV__PV_NODE_MAX || n + 1 >= f->len ||
        val->type != REDIS_REPLY_STRING) {
        return;
    }
    memcpy(node, f->str, n);
    node[n] = '\0';
    if (!resdeliv__pv_node_id_ok(node)) {
        return;
    }
    id = dup_n(nl + 1, f->len - n - 1);
    /* This node's own fields are its local members, known here; one it
     * does not have was left by an earlier run with the same node id. */
    if (strcmp(node, pr->node) == 0) {
        if (id != NULL && !resdeliv__pv_has(&v->pv, id, pr->node)) {
            resdeliv__prs_field_send(pr, v, 0, pr->node, id, NULL);
        }
        free(id);
        return;
    }
    info = val->len ? dup_n(val->str, val->len) : NULL;
    if (id != NULL && (val->len == 0 || info != NULL)) {
        u = resdeliv__pv_find(&v->pv, id);
        for (size_t i = 0; u != NULL && i < u->n; i++) {
            u->nodes[i].seen |= strcmp(u->nodes[i].id, node) == 0;
        }
        if (resdeliv__pv_add(&v->pv, id, info, node, &first) == 0 && first) {
            resdeliv__prs_change_push(chg, v->channel, id, info, 1);
        }
    }
    free(id);
    free(info);
}

/* Other nodes' users the snapshot does not hold have left. */
static void merge_unseen(resdeliv_presence *pr, struct resdeliv__pview *v,
                         struct resdeliv__pchange **chg)
{
    size_t i = 0;

    while (i < v->pv.n) {
        struct resdeliv__pv_user *u = &v->pv.users[i];
        size_t j = 0;
        int last = 0;
        while (!last && j < u->n) {
            if (!u->nodes[j].seen && strcmp(u->nodes[j].id, pr->node)) {
                char *id = strdup(u->user_id);
                if (id == NULL) {
                    return;
                }
                resdeliv__pv_remove(&v->pv, id, u->nodes[j].id, &last);
                if (last) {
                    resdeliv__prs_change_push(chg, v->channel, id, NULL, 0);
                }
                free(id);
            } else {
                j++;
            }
        }
        i += !last;
    }
}

static void merge(resdeliv_presence *pr, struct resdeliv__pview *v,
                  const redisReply *r, struct resdeliv__pchange **chg)
{
    for (size_t i = 0; i < v->pv.n; i++) {
        for (size_t j = 0; j < v->pv.users[i].n; j++) {
            v->pv.users[i].nodes[j].seen = 0;
        }
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type == REDIS_REPLY_STRING) {
            merge_field(pr, v, r->element[i], r->element[i + 1], chg);
        }
    }
    merge_unseen(pr, v, chg);
}

/* The view is usable: held announcements apply, then waiting subscribes
 * run again (the hooks may drop the view: it is not touched after). */
void resdeliv__prs_load_done(resdeliv_presence *pr, struct resdeliv__pview *v,
                             const redisReply *r)
{
    struct resdeliv__pchange *chg = NULL;
    struct resdeliv__pwaiter *w;

    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        merge(pr, v, r, &chg);
    }
    v->state = RESDELIV__PV_READY;
    while (v->qhead != NULL) {
        struct resdeliv__pqmsg *q = v->qhead;
        struct resdeliv__pv_msg m;
        v->qhead = q->next;
        if (resdeliv__pv_parse(q->msg, q->len, &m) == 0) {
            apply(pr, v, &m, &chg);
        }
        free(q);
    }
    resdeliv__prs_queue_clear(v);
    w = v->waiters;
    v->waiters = NULL;
    /* A view made for subscribes that all went away has nothing to keep. */
    if (v->locals == 0 && w == NULL) {
        v->idle = 1;
    }
    resdeliv__prs_changes_fire(pr, chg);
    while (w != NULL) {
        struct resdeliv__pwaiter *next = w->next;
        if (pr->attached && !pr->closing) {
            pr->hooks.ready(pr->hooks.arg, w->conn, w->serial, w->text, w->len);
        }
        free(w);
        w = next;
    }
}

static void on_load(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct load_rec *rec = privdata;
    resdeliv_presence *pr = rec->pr;
    struct resdeliv__pview *v;

    (void)ac;
    if (!pr->closing) {
        v = resdeliv__prs_view_find(pr, rec->channel);
        if (v != NULL && v->gen == rec->gen &&
            v->state == RESDELIV__PV_LOADING) {
            resdeliv__prs_load_done(pr, v, reply);
        }
    }
    free(rec);
}

static void load_start(resdeliv_presence *pr, struct resdeliv__pview *v)
{
    size_t cl = strlen(v->channel);
    struct load_rec *rec = malloc(sizeof(*rec) + cl + 1);
    const char *argv[2] = {"HGETALL", v->hkey};
    size_t lens[2] = {7, strlen(v->hkey)};

    v->state = RESDELIV__PV_LOADING;
    v->gen = ++pr->gen;
    if (rec == NULL) {
        resdeliv__prs_load_done(pr, v, NULL);
        return;
    }
    rec->pr = pr;
    rec->gen = v->gen;
    memcpy(rec->channel, v->channel, cl + 1);
    if (resdeliv__prs_send(&pr->cmd, on_load, rec, 2, argv, lens) != 0) {
        free(rec);
        /* Without the command connection the view starts from the local
         * members and the announcements it hears. */
        resdeliv__prs_load_done(pr, v, NULL);
    }
}
