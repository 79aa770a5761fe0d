/* SPDX-License-Identifier: MIT */
/*
 * The presence registry on Redis (presence.h). Per presence channel with
 * local subscribers a node keeps the merged view (presence_view.c), built
 * from three sources:
 *
 *  - the hash `<stream key>:presence`, field `<node_id>\n<user_id>` ->
 *    user_info, which holds every node's users (same hash tag as the log);
 *  - the announcements of the other nodes on the log's bus channel;
 *  - the node heartbeat keys `<prefix>:node:<node_id>`, which expire when
 *    a node stops refreshing them.
 *
 * A node writes a field and announces it in one script, so a field change
 * and its announcement are one step on Redis. Loading a view therefore
 * subscribes first and reads the hash (HGETALL) once the subscription is
 * confirmed, holding the announcements that arrive meanwhile and applying
 * them after the snapshot: whatever was announced before the snapshot is
 * in it, whatever came after is applied in order on top of it. The same
 * load merges the hash again after the pub/sub connection came back, with
 * member_added/removed for what changed while announcements were lost.
 *
 * Every period (a third of the heartbeat's time to live) the node
 * refreshes its own key, reconnects what is down, drops views left with no
 * local member since the previous period and asks whether each other node
 * seen in a view still has its key. A node without one is dead: its users
 * leave the views (member_removed where they had no other node) and its
 * fields are deleted and announced as removals, by every node that sees
 * it, which is harmless as removals are idempotent. A node's users are
 * thus removed at most TTL + one period after its last refresh.
 */
#include "presence_redis_internal.h"
#include "presence_view_internal.h"
#include "pusher_server_internal.h"
#include "redis_internal.h"

#include <hiredis/async.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V_SUBSCRIBING 0 /* SUBSCRIBE sent, not yet confirmed */
#define V_LOADING 1     /* HGETALL sent */
#define V_READY 2

/* One field change and its announcement, atomically. */
static const char script[] =
    "if ARGV[1] == '+' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) "
    "else redis.call('HDEL', KEYS[1], ARGV[2]) end "
    "redis.call('PUBLISH', KEYS[2], ARGV[4]) return 1";

struct waiter {
    struct waiter *next;
    void *conn;
    uint64_t serial;
    size_t len;
    char text[];
};

struct qmsg {
    struct qmsg *next;
    size_t len;
    char msg[];
};

struct view {
    struct view *next;
    char *channel;
    char *hkey; /* the presence hash */
    char *bkey; /* the log's bus channel */
    int state;
    int idle;      /* periods seen without a local member */
    uint64_t gen;  /* tells a load's reply from a later load's */
    size_t locals; /* users of this node */
    struct resdeliv__pv pv;
    struct waiter *waiters;
    struct qmsg *qhead, *qtail;
    size_t nq;
};

struct rconn {
    resdeliv_presence *pr;
    redisAsyncContext *ac;
    void *watch;
    uint32_t want;
    int sub; /* the pub/sub connection */
};

struct resdeliv_presence {
    struct resdeliv_loop loop;
    struct resdeliv__redis_url url;
    char *prefix;
    char *app_id;
    char *node_key;
    char node[RESDELIV__PV_NODE_MAX + 1];
    uint64_t ttl_ms;
    uint64_t period_ms;
    uint64_t gen;
    struct rconn cmd, sub;
    void *timer;
    struct view *views;
    struct resdeliv__cluster_hooks hooks;
    int attached;
    int closing;
};

/* A change of the merged view to hand to the server once the view is
 * consistent again (the hooks may re-enter the registry). */
struct change {
    struct change *next;
    char *channel;
    char *user_id;
    char *user_info;
    int added;
};

/* Commands whose reply needs to know what it answered. */
struct load_rec {
    resdeliv_presence *pr;
    uint64_t gen;
    char channel[];
};

struct check_rec {
    resdeliv_presence *pr;
    char node[RESDELIV__PV_NODE_MAX + 1];
};

/* ------------------------------------------------------------ changes */

static void change_push(struct change **list, const char *channel,
                        const char *user_id, const char *user_info,
                        int added)
{
    struct change *c = calloc(1, sizeof(*c));

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
static void changes_fire(resdeliv_presence *pr, struct change *list)
{
    struct change *rev = NULL;

    while (list != NULL) {
        struct change *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev != NULL) {
        struct change *next = rev->next;
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

/* --------------------------------------------------------- connections */

static void on_io(void *arg, uint32_t events)
{
    struct rconn *rc = arg;

    if ((events & RESDELIV_LOOP_READ) && rc->ac != NULL) {
        redisAsyncHandleRead(rc->ac);
    }
    if ((events & RESDELIV_LOOP_WRITE) && rc->ac != NULL) {
        redisAsyncHandleWrite(rc->ac);
    }
}

static void set_want(struct rconn *rc, uint32_t want)
{
    resdeliv_presence *pr = rc->pr;

    if (rc->ac == NULL || (want == rc->want && rc->watch != NULL)) {
        return;
    }
    if (pr->loop.watch(pr->loop.loop, rc->ac->c.fd, want, on_io, rc,
                       &rc->watch) == 0) {
        rc->want = want;
    }
}

static void ev_add_read(void *p)
{
    struct rconn *rc = p;
    set_want(rc, rc->want | RESDELIV_LOOP_READ);
}

static void ev_del_read(void *p)
{
    struct rconn *rc = p;
    set_want(rc, rc->want & ~RESDELIV_LOOP_READ);
}

static void ev_add_write(void *p)
{
    struct rconn *rc = p;
    set_want(rc, rc->want | RESDELIV_LOOP_WRITE);
}

static void ev_del_write(void *p)
{
    struct rconn *rc = p;
    set_want(rc, rc->want & ~RESDELIV_LOOP_WRITE);
}

static void ev_cleanup(void *p)
{
    struct rconn *rc = p;

    rc->pr->loop.unwatch(rc->pr->loop.loop, &rc->watch);
    rc->want = 0;
}

static void conn_lost(struct rconn *rc)
{
    rc->ac = NULL;
    if (rc->sub && !rc->pr->closing) {
        /* Announcements were lost: every view loads again. */
        for (struct view *v = rc->pr->views; v != NULL; v = v->next) {
            v->state = V_SUBSCRIBING;
        }
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        conn_lost(ac->data);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    conn_lost(ac->data);
}

static void on_ignore(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    (void)reply;
    (void)privdata;
}

static int send_argv(struct rconn *rc, redisCallbackFn *fn, void *priv,
                     int argc, const char **argv, const size_t *lens)
{
    if (rc->ac == NULL ||
        redisAsyncCommandArgv(rc->ac, fn, priv, argc, argv, lens) !=
            REDIS_OK) {
        return RESDELIV_ESTORE;
    }
    return 0;
}

/* AUTH and SELECT go first: hiredis sends commands in order once the
 * connection is up. */
static void send_setup(struct rconn *rc)
{
    const struct resdeliv__redis_url *u = &rc->pr->url;
    const char *argv[3];
    size_t lens[3];
    char db[16];
    int n = 0;

    if (u->has_password) {
        argv[n++] = "AUTH";
        if (u->has_user) {
            argv[n++] = u->user;
        }
        argv[n++] = u->password;
        for (int i = 0; i < n; i++) {
            lens[i] = strlen(argv[i]);
        }
        send_argv(rc, on_ignore, NULL, n, argv, lens);
    }
    if (u->db != 0) {
        snprintf(db, sizeof(db), "%d", u->db);
        argv[0] = "SELECT";
        argv[1] = db;
        lens[0] = 6;
        lens[1] = strlen(db);
        send_argv(rc, on_ignore, NULL, 2, argv, lens);
    }
}

static void conn_start(struct rconn *rc)
{
    const struct resdeliv__redis_url *u = &rc->pr->url;
    redisAsyncContext *ac = u->is_unix ? redisAsyncConnectUnix(u->path)
                                       : redisAsyncConnect(u->host, u->port);

    if (ac == NULL) {
        return;
    }
    if (ac->err != 0) {
        redisAsyncFree(ac);
        return;
    }
    ac->data = rc;
    ac->ev.data = rc;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    rc->ac = ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* hiredis watched nothing yet: wait for the connect to complete. */
    ev_add_write(rc);
    send_setup(rc);
}

/* -------------------------------------------------------------- views */

static struct view *view_find(resdeliv_presence *pr, const char *channel)
{
    struct view *v = pr->views;

    while (v != NULL && strcmp(v->channel, channel) != 0) {
        v = v->next;
    }
    return v;
}

static struct view *view_by_bus(resdeliv_presence *pr, const char *bkey,
                                size_t len)
{
    struct view *v = pr->views;

    while (v != NULL &&
           (strlen(v->bkey) != len || memcmp(v->bkey, bkey, len) != 0)) {
        v = v->next;
    }
    return v;
}

static void queue_clear(struct view *v)
{
    while (v->qhead != NULL) {
        struct qmsg *q = v->qhead;
        v->qhead = q->next;
        free(q);
    }
    v->qtail = NULL;
    v->nq = 0;
}

static void view_free(struct view *v)
{
    while (v->waiters != NULL) {
        struct waiter *w = v->waiters;
        v->waiters = w->next;
        free(w);
    }
    queue_clear(v);
    resdeliv__pv_clear(&v->pv);
    free(v->channel);
    free(v->hkey);
    free(v->bkey);
    free(v);
}

static void on_pubsub(redisAsyncContext *ac, void *reply, void *privdata);

static void subscribe(resdeliv_presence *pr, struct view *v, int on)
{
    const char *argv[2] = {on ? "SUBSCRIBE" : "UNSUBSCRIBE", v->bkey};
    size_t lens[2] = {strlen(argv[0]), strlen(v->bkey)};

    send_argv(&pr->sub, on_pubsub, pr, 2, argv, lens);
}

static int view_new(resdeliv_presence *pr, const char *channel,
                    struct view **out)
{
    size_t pl = strlen(pr->prefix), al = strlen(pr->app_id);
    size_t cl = strlen(channel);
    size_t n = resdeliv__redis_key_len(pr->prefix, pl, pr->app_id, al,
                                       channel, cl);
    struct view *v = calloc(1, sizeof(*v));
    char *stream = malloc(n + 1), *epoch = malloc(n + sizeof(":epoch"));
    struct resdeliv__redis_keys k;

    if (v != NULL && stream != NULL && epoch != NULL) {
        resdeliv__redis_keys_write(stream, epoch, n, pr->prefix, pl,
                                   pr->app_id, al, channel, cl, &k);
        v->channel = strdup(channel);
        v->hkey = malloc(n + sizeof(":presence"));
        v->bkey = malloc(n + sizeof(":bus"));
    }
    if (v == NULL || v->channel == NULL || v->hkey == NULL ||
        v->bkey == NULL) {
        free(stream);
        free(epoch);
        if (v != NULL) {
            view_free(v);
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
    v->state = pr->sub.ac != NULL ? V_SUBSCRIBING : V_READY;
    subscribe(pr, v, 1);
    *out = v;
    return 0;
}

static void view_drop(resdeliv_presence *pr, struct view *v)
{
    struct view **pp = &pr->views;

    while (*pp != v) {
        pp = &(*pp)->next;
    }
    *pp = v->next;
    subscribe(pr, v, 0);
    view_free(v);
}

/* ------------------------------------------------------- field writes */

/* Write (`added`) or delete the field of (`node`, `user_id`) and announce
 * it, in one script. */
static void field_send(resdeliv_presence *pr, const struct view *v,
                       int added, const char *node, const char *user_id,
                       const char *user_info)
{
    char *msg = NULL, *field;
    size_t msg_len = 0, nl = strlen(node), il = strlen(user_id);
    const char *argv[9];
    size_t lens[9];

    field = malloc(nl + il + 2);
    if (field == NULL ||
        resdeliv__pv_format(added, node, user_id, user_info, &msg,
                            &msg_len) != 0) {
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
    send_argv(&pr->cmd, on_ignore, NULL, 9, argv, lens);
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
static void apply(resdeliv_presence *pr, struct view *v,
                  const struct resdeliv__pv_msg *m, struct change **chg)
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
            field_send(pr, v, 1, pr->node, id, u->user_info);
        }
    } else if (m->added) {
        if (resdeliv__pv_add(&v->pv, id, info, m->node, &edge) == 0 &&
            edge) {
            change_push(chg, v->channel, id, info, 1);
        }
    } else if (resdeliv__pv_remove(&v->pv, id, m->node, &edge) == 0 &&
               edge) {
        change_push(chg, v->channel, id, NULL, 0);
    }
    free(id);
    free(info);
}

static void queue_push(struct view *v, const char *msg, size_t len)
{
    struct qmsg *q = malloc(sizeof(*q) + len);

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

static void load_start(resdeliv_presence *pr, struct view *v);

static void on_message(resdeliv_presence *pr, const redisReply *ch,
                       const redisReply *msg)
{
    struct view *v = view_by_bus(pr, ch->str, ch->len);
    struct resdeliv__pv_msg m;
    struct change *chg = NULL;

    /* Entries of the log share the channel: only RDP1 is ours. */
    if (v == NULL || msg->type != REDIS_REPLY_STRING ||
        resdeliv__pv_parse(msg->str, msg->len, &m) != 0) {
        return;
    }
    if (v->state != V_READY) {
        queue_push(v, msg->str, msg->len);
        return;
    }
    apply(pr, v, &m, &chg);
    changes_fire(pr, chg);
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
    struct view *v;

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
    if (is_word(r->element[0], "subscribe") && v->state == V_SUBSCRIBING) {
        load_start(pr, v);
    } else if (is_word(r->element[0], "unsubscribe")) {
        /* hiredis forgot the channel: a view made again for it since
         * needs a new subscription. */
        v->state = V_SUBSCRIBING;
        subscribe(pr, v, 1);
    }
}

/* --------------------------------------------------------------- load */

/* Merge one field of the snapshot: `field` is `<node>\n<user_id>`. */
static void merge_field(resdeliv_presence *pr, struct view *v,
                        const redisReply *f, const redisReply *val,
                        struct change **chg)
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
    /* This node's own fields are its local members, known here. */
    if (strcmp(node, pr->node) == 0 || !resdeliv__pv_node_id_ok(node)) {
        return;
    }
    id = dup_n(nl + 1, f->len - n - 1);
    info = val->len ? dup_n(val->str, val->len) : NULL;
    if (id != NULL && (val->len == 0 || info != NULL)) {
        u = resdeliv__pv_find(&v->pv, id);
        for (size_t i = 0; u != NULL && i < u->n; i++) {
            u->nodes[i].seen |= strcmp(u->nodes[i].id, node) == 0;
        }
        if (resdeliv__pv_add(&v->pv, id, info, node, &first) == 0 && first) {
            change_push(chg, v->channel, id, info, 1);
        }
    }
    free(id);
    free(info);
}

/* Other nodes' users the snapshot does not hold have left. */
static void merge_unseen(resdeliv_presence *pr, struct view *v,
                         struct change **chg)
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
                    change_push(chg, v->channel, id, NULL, 0);
                }
                free(id);
            } else {
                j++;
            }
        }
        i += !last;
    }
}

static void merge(resdeliv_presence *pr, struct view *v, const redisReply *r,
                  struct change **chg)
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
static void load_done(resdeliv_presence *pr, struct view *v,
                      const redisReply *r)
{
    struct change *chg = NULL;
    struct waiter *w;

    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        merge(pr, v, r, &chg);
    }
    v->state = V_READY;
    while (v->qhead != NULL) {
        struct qmsg *q = v->qhead;
        struct resdeliv__pv_msg m;
        v->qhead = q->next;
        if (resdeliv__pv_parse(q->msg, q->len, &m) == 0) {
            apply(pr, v, &m, &chg);
        }
        free(q);
    }
    queue_clear(v);
    w = v->waiters;
    v->waiters = NULL;
    /* A view made for subscribes that all went away has nothing to keep. */
    if (v->locals == 0 && w == NULL) {
        v->idle = 1;
    }
    changes_fire(pr, chg);
    while (w != NULL) {
        struct waiter *next = w->next;
        if (pr->attached && !pr->closing) {
            pr->hooks.ready(pr->hooks.arg, w->conn, w->serial, w->text,
                            w->len);
        }
        free(w);
        w = next;
    }
}

static void on_load(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct load_rec *rec = privdata;
    resdeliv_presence *pr = rec->pr;
    struct view *v;

    (void)ac;
    if (!pr->closing) {
        v = view_find(pr, rec->channel);
        if (v != NULL && v->gen == rec->gen && v->state == V_LOADING) {
            load_done(pr, v, reply);
        }
    }
    free(rec);
}

static void load_start(resdeliv_presence *pr, struct view *v)
{
    size_t cl = strlen(v->channel);
    struct load_rec *rec = malloc(sizeof(*rec) + cl + 1);
    const char *argv[2] = {"HGETALL", v->hkey};
    size_t lens[2] = {7, strlen(v->hkey)};

    v->state = V_LOADING;
    v->gen = ++pr->gen;
    if (rec == NULL) {
        load_done(pr, v, NULL);
        return;
    }
    rec->pr = pr;
    rec->gen = v->gen;
    memcpy(rec->channel, v->channel, cl + 1);
    if (send_argv(&pr->cmd, on_load, rec, 2, argv, lens) != 0) {
        free(rec);
        /* Without the command connection: local members only for now. */
        load_done(pr, v, NULL);
    }
}

/* --------------------------------------------------------- node death */

/* `node` has no heartbeat: its users leave every view, its fields go. */
static void node_dead(resdeliv_presence *pr, const char *node)
{
    struct change *chg = NULL;

    for (struct view *v = pr->views; v != NULL; v = v->next) {
        size_t i = 0;
        while (i < v->pv.n) {
            char *id = strdup(v->pv.users[i].user_id);
            int last = 0;
            if (id == NULL) {
                break;
            }
            if (resdeliv__pv_remove(&v->pv, id, node, &last) == 0) {
                field_send(pr, v, 0, node, id, NULL);
                if (last) {
                    change_push(&chg, v->channel, id, NULL, 0);
                }
            }
            i += !last;
            free(id);
        }
    }
    changes_fire(pr, chg);
}

static void on_check(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct check_rec *rec = privdata;
    const redisReply *r = reply;

    (void)ac;
    if (r != NULL && !rec->pr->closing && r->type == REDIS_REPLY_INTEGER &&
        r->integer == 0) {
        node_dead(rec->pr, rec->node);
    }
    free(rec);
}

static void check_node(resdeliv_presence *pr, const char *node)
{
    struct check_rec *rec = calloc(1, sizeof(*rec));
    size_t pl = strlen(pr->prefix), nl = strlen(node);
    char key[RESDELIV__PV_NODE_MAX + 16];
    char *k = pl + nl + 8 <= sizeof(key) ? key : malloc(pl + nl + 8);
    const char *argv[2] = {"EXISTS", k};
    size_t lens[2] = {6, 0};

    if (rec == NULL || k == NULL) {
        free(rec);
        return;
    }
    rec->pr = pr;
    memcpy(rec->node, node, nl + 1);
    lens[1] = (size_t)sprintf(k, "%s:node:%s", pr->prefix, node);
    if (send_argv(&pr->cmd, on_check, rec, 2, argv, lens) != 0) {
        free(rec);
    }
    if (k != key) {
        free(k);
    }
}

/* Ask once per period about each other node seen in a view. */
static void check_nodes(resdeliv_presence *pr)
{
    const char **seen = NULL;
    size_t n = 0, cap = 0;

    for (struct view *v = pr->views; v != NULL; v = v->next) {
        for (size_t i = 0; i < v->pv.n; i++) {
            const struct resdeliv__pv_user *u = &v->pv.users[i];
            for (size_t j = 0; j < u->n; j++) {
                const char *id = u->nodes[j].id;
                size_t k = 0;
                while (k < n && strcmp(seen[k], id) != 0) {
                    k++;
                }
                if (k < n || strcmp(id, pr->node) == 0) {
                    continue;
                }
                if (n == cap) {
                    size_t c = cap ? cap * 2 : 8;
                    const char **p = realloc(seen, c * sizeof(*p));
                    if (p == NULL) {
                        goto out;
                    }
                    seen = p;
                    cap = c;
                }
                seen[n++] = id;
            }
        }
    }
out:
    for (size_t k = 0; k < n; k++) {
        check_node(pr, seen[k]);
    }
    free(seen);
}

/* -------------------------------------------------------------- timer */

static void heartbeat(resdeliv_presence *pr)
{
    char ttl[24];
    const char *argv[5] = {"SET", pr->node_key, "1", "PX", ttl};
    size_t lens[5];

    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)pr->ttl_ms);
    for (int i = 0; i < 5; i++) {
        lens[i] = strlen(argv[i]);
    }
    send_argv(&pr->cmd, on_ignore, NULL, 5, argv, lens);
}

static void drop_idle(resdeliv_presence *pr)
{
    struct view *v = pr->views;

    while (v != NULL) {
        struct view *next = v->next;
        if (v->locals > 0 || v->waiters != NULL || v->state != V_READY) {
            v->idle = 0;
        } else if (v->idle++ > 0) {
            view_drop(pr, v);
        }
        v = next;
    }
}

static void on_timer(void *arg)
{
    resdeliv_presence *pr = arg;

    if (pr->cmd.ac == NULL) {
        conn_start(&pr->cmd);
    }
    if (pr->sub.ac == NULL) {
        conn_start(&pr->sub);
        for (struct view *v = pr->views; v != NULL; v = v->next) {
            v->state = V_SUBSCRIBING;
            queue_clear(v);
            subscribe(pr, v, 1);
        }
    }
    heartbeat(pr);
    drop_idle(pr);
    check_nodes(pr);
    pr->loop.timer_start(pr->loop.loop, pr->period_ms, on_timer, pr,
                         &pr->timer);
}
