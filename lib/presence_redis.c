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
 * thus removed at most TTL + one period after its last refresh. The key
 * holds a token of the node's run: a node whose token changed since the
 * last check restarted with the same id and is handled as dead too (its
 * new run writes its members again when it hears their removal).
 */
#include "presence_registry_internal.h"

#include <hiredis/async.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A heartbeat GET's privdata: the node it asks about. */
struct check_rec {
    resdeliv_presence *pr;
    char node[RESDELIV__PV_NODE_MAX + 1];
};

/* --------------------------------------------------------- connections */

/* Without the pub/sub connection a view stands on what it knows until the
 * next period reconnects and loads it again; subscribes waiting for it go
 * ahead rather than wait for Redis. */
static void conn_lost(struct resdeliv__pconn *rc)
{
    resdeliv_presence *pr = rc->pr;
    struct resdeliv__pview *v = pr->views;

    rc->io.ac = NULL;
    while (rc->sub && !pr->closing && v != NULL) {
        struct resdeliv__pview *next = v->next;
        if (v->state != RESDELIV__PV_READY) {
            v->state = RESDELIV__PV_LOADING;
            resdeliv__prs_load_done(pr, v, NULL);
        }
        v = next;
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

void resdeliv__prs_ignore(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    (void)reply;
    (void)privdata;
}

int resdeliv__prs_send(struct resdeliv__pconn *rc, redisCallbackFn *fn,
                       void *priv, int argc, const char **argv,
                       const size_t *lens)
{
    if (rc->io.ac == NULL || redisAsyncCommandArgv(rc->io.ac, fn, priv, argc,
                                                   argv, lens) != REDIS_OK) {
        return RESDELIV_ESTORE;
    }
    return 0;
}

/* AUTH and SELECT go first: hiredis sends commands in order once the
 * connection is up. */
static void send_setup(struct resdeliv__pconn *rc)
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
        resdeliv__prs_send(rc, resdeliv__prs_ignore, NULL, n, argv, lens);
    }
    if (u->db != 0) {
        snprintf(db, sizeof(db), "%d", u->db);
        argv[0] = "SELECT";
        argv[1] = db;
        lens[0] = 6;
        lens[1] = strlen(db);
        resdeliv__prs_send(rc, resdeliv__prs_ignore, NULL, 2, argv, lens);
    }
}

static void conn_start(struct resdeliv__pconn *rc)
{
    redisAsyncContext *ac;

    if (resdeliv__redis_loop_connect(&rc->io, &rc->pr->url,
                                     "Redis presence connect") != 0) {
        return;
    }
    ac = rc->io.ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* hiredis watched nothing yet: wait for the connect to complete. */
    resdeliv__redis_loop_want(&rc->io, rc->io.want | RESDELIV_LOOP_WRITE);
    send_setup(rc);
}

/* --------------------------------------------------------- node death */

/* `node` has no heartbeat: its users leave every view, its fields go. */
static void node_dead(resdeliv_presence *pr, const char *node)
{
    struct resdeliv__pchange *chg = NULL;

    for (struct resdeliv__pview *v = pr->views; v != NULL; v = v->next) {
        size_t i = 0;
        while (i < v->pv.n) {
            char *id = strdup(v->pv.users[i].user_id);
            int last = 0;
            if (id == NULL) {
                break;
            }
            if (resdeliv__pv_remove(&v->pv, id, node, &last) == 0) {
                resdeliv__prs_field_send(pr, v, 0, node, id, NULL);
                if (last) {
                    resdeliv__prs_change_push(&chg, v->channel, id, NULL, 0);
                }
            }
            i += !last;
            free(id);
        }
    }
    resdeliv__prs_changes_fire(pr, chg);
}

/* 1 when `node`'s heartbeat holds another run's token than when last
 * seen: it restarted with the same id, its earlier run's fields are
 * stale. The first token seen after none (r NULL: the key is gone) is
 * remembered. */
static int node_restarted(resdeliv_presence *pr, const char *node,
                          const redisReply *r)
{
    struct resdeliv__prun *e = pr->runs;
    size_t n = r == NULL                   ? 0
               : r->len <= RESDELIV__PRUN_MAX ? r->len
                                              : RESDELIV__PRUN_MAX;
    int changed;

    while (e != NULL && strcmp(e->node, node) != 0) {
        e = e->next;
    }
    if (e == NULL && r == NULL) {
        return 0;
    }
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL) {
            return 0;
        }
        memcpy(e->node, node, strlen(node) + 1);
        memcpy(e->run, r->str, n);
        e->next = pr->runs;
        pr->runs = e;
        return 0;
    }
    changed = e->run[0] != '\0' &&
              (strlen(e->run) != n || memcmp(e->run, r->str, n) != 0);
    memcpy(e->run, r != NULL ? r->str : "", n);
    e->run[n] = '\0';
    return changed;
}

static void on_check(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct check_rec *rec = privdata;
    const redisReply *r = reply;

    (void)ac;
    if (r == NULL || rec->pr->closing) {
        free(rec);
        return;
    }
    if (r->type == REDIS_REPLY_NIL) {
        node_restarted(rec->pr, rec->node, NULL);
        node_dead(rec->pr, rec->node);
    } else if (r->type == REDIS_REPLY_STRING &&
               node_restarted(rec->pr, rec->node, r)) {
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
    const char *argv[2] = {"GET", k};
    size_t lens[2] = {3, 0};

    if (rec == NULL || k == NULL) {
        free(rec);
        return;
    }
    rec->pr = pr;
    memcpy(rec->node, node, nl + 1);
    lens[1] = (size_t)sprintf(k, "%s:node:%s", pr->prefix, node);
    if (resdeliv__prs_send(&pr->cmd, on_check, rec, 2, argv, lens) != 0) {
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

    for (struct resdeliv__pview *v = pr->views; v != NULL; v = v->next) {
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
    const char *argv[5] = {"SET", pr->node_key, pr->run, "PX", ttl};
    size_t lens[5];

    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)pr->ttl_ms);
    for (int i = 0; i < 5; i++) {
        lens[i] = strlen(argv[i]);
    }
    resdeliv__prs_send(&pr->cmd, resdeliv__prs_ignore, NULL, 5, argv, lens);
}

static void drop_idle(resdeliv_presence *pr)
{
    struct resdeliv__pview *v = pr->views;

    while (v != NULL) {
        struct resdeliv__pview *next = v->next;
        if (v->locals > 0 || v->waiters != NULL ||
            v->state != RESDELIV__PV_READY) {
            v->idle = 0;
        } else if (v->idle++ > 0) {
            resdeliv__prs_view_drop(pr, v);
        }
        v = next;
    }
}

static void on_timer(void *arg)
{
    resdeliv_presence *pr = arg;

    if (pr->cmd.io.ac == NULL) {
        conn_start(&pr->cmd);
    }
    if (pr->sub.io.ac == NULL) {
        conn_start(&pr->sub);
        for (struct resdeliv__pview *v = pr->views;
             pr->sub.io.ac != NULL && v != NULL; v = v->next) {
            v->state = RESDELIV__PV_SUBSCRIBING;
            resdeliv__prs_queue_clear(v);
            resdeliv__prs_subscribe(pr, v, 1);
        }
    }
    heartbeat(pr);
    drop_idle(pr);
    check_nodes(pr);
    pr->loop.timer_start(pr->loop.loop, pr->period_ms, on_timer, pr,
                         &pr->timer);
}

/* ---------------------------------------------------------------- API */

static int configure(resdeliv_presence *pr,
                     const struct resdeliv_redis_options *opts,
                     const struct resdeliv_loop *loop, const char *app_id,
                     const char *node_id, uint64_t ttl_ms, char *err,
                     size_t errsize)
{
    const char *prefix = opts->key_prefix ? opts->key_prefix : "delivery";
    int rc;

    if (loop->struct_size < sizeof(*loop) || loop->watch == NULL ||
        loop->unwatch == NULL || loop->timer_start == NULL ||
        loop->timer_stop == NULL) {
        resdeliv__errf(err, errsize, "loop: a mandatory hook is missing");
        return RESDELIV_EINVAL;
    }
    if (!resdeliv__pv_node_id_ok(node_id)) {
        resdeliv__errf(err, errsize,
                       "node_id: 1 to 64 letters, digits, '.', '_' or '-'");
        return RESDELIV_EINVAL;
    }
    if (ttl_ms != 0 && ttl_ms < 300) {
        resdeliv__errf(err, errsize, "ttl_ms: at least 300");
        return RESDELIV_EINVAL;
    }
    rc = resdeliv__redis_url_parse(opts->url, &pr->url, err, errsize);
    if (rc != 0) {
        return rc;
    }
    pr->loop = *loop;
    pr->ttl_ms = ttl_ms ? ttl_ms : RESDELIV_PRESENCE_DEFAULT_TTL_MS;
    pr->period_ms = pr->ttl_ms / 3;
    strcpy(pr->node, node_id);
    pr->prefix = strdup(prefix);
    pr->app_id = strdup(app_id);
    pr->node_key = malloc(strlen(prefix) + strlen(node_id) + 8);
    if (pr->prefix == NULL || pr->app_id == NULL || pr->node_key == NULL) {
        return RESDELIV_ENOMEM;
    }
    sprintf(pr->node_key, "%s:node:%s", prefix, node_id);
    return 0;
}

int resdeliv_presence_redis_new(const struct resdeliv_redis_options *opts,
                                const struct resdeliv_loop *loop,
                                const char *app_id, const char *node_id,
                                uint64_t ttl_ms, resdeliv_presence **out,
                                char *err, size_t errsize)
{
    resdeliv_presence *pr;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (opts == NULL || loop == NULL || app_id == NULL || app_id[0] == 0 ||
        out == NULL || opts->url == NULL) {
        resdeliv__errf(err, errsize,
                       "options, url, loop, app_id and out are required");
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(opts->abi_version) != RESDELIV_ABI_MAJOR ||
        RESDELIV_ABI_VERSION_MAJOR(loop->abi_version) != RESDELIV_ABI_MAJOR) {
        resdeliv__errf(err, errsize, "options or loop: another ABI major");
        return RESDELIV_EABI;
    }
    pr = calloc(1, sizeof(*pr));
    if (pr == NULL) {
        return RESDELIV_ENOMEM;
    }
    pr->cmd.pr = pr;
    pr->sub.pr = pr;
    resdeliv__redis_loop_init(&pr->cmd.io, &pr->loop, NULL, &pr->cmd);
    resdeliv__redis_loop_init(&pr->sub.io, &pr->loop, NULL, &pr->sub);
    pr->sub.sub = 1;
    rc = configure(pr, opts, loop, app_id, node_id, ttl_ms, err, errsize);
    if (rc == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(pr->run, sizeof(pr->run), "%llx.%lx.%lx",
                 (unsigned long long)ts.tv_sec, (unsigned long)ts.tv_nsec,
                 (unsigned long)getpid());
        conn_start(&pr->cmd);
        conn_start(&pr->sub);
        heartbeat(pr);
        rc = pr->loop.timer_start(pr->loop.loop, pr->period_ms, on_timer, pr,
                                  &pr->timer);
    }
    if (rc != 0) {
        resdeliv_presence_free(pr);
        return rc;
    }
    *out = pr;
    return 0;
}

void resdeliv_presence_free(resdeliv_presence *pr)
{
    if (pr == NULL) {
        return;
    }
    pr->closing = 1;
    if (pr->timer != NULL) {
        pr->loop.timer_stop(pr->loop.loop, &pr->timer);
    }
    if (pr->cmd.io.ac != NULL) {
        redisAsyncFree(pr->cmd.io.ac);
    }
    if (pr->sub.io.ac != NULL) {
        redisAsyncFree(pr->sub.io.ac);
    }
    while (pr->views != NULL) {
        struct resdeliv__pview *v = pr->views;
        pr->views = v->next;
        resdeliv__prs_view_free(v);
    }
    free(pr->prefix);
    free(pr->app_id);
    free(pr->node_key);
    while (pr->runs != NULL) {
        struct resdeliv__prun *e = pr->runs;
        pr->runs = e->next;
        free(e);
    }
    free(pr);
}

int resdeliv__cluster_attach(resdeliv_presence *pr,
                             const struct resdeliv__cluster_hooks *hooks)
{
    if (pr == NULL || (hooks != NULL && pr->attached)) {
        return RESDELIV_EINVAL;
    }
    for (struct resdeliv__pview *v = pr->views; hooks == NULL && v != NULL;
         v = v->next) {
        while (v->waiters != NULL) {
            struct resdeliv__pwaiter *w = v->waiters;
            v->waiters = w->next;
            free(w);
        }
    }
    pr->attached = hooks != NULL;
    if (hooks != NULL) {
        pr->hooks = *hooks;
    }
    return 0;
}

int resdeliv__cluster_ready(resdeliv_presence *pr, const char *channel)
{
    struct resdeliv__pview *v = resdeliv__prs_view_find(pr, channel);

    if (v == NULL && pr->sub.io.ac == NULL) {
        return 1;
    }
    return v != NULL && v->state == RESDELIV__PV_READY;
}

int resdeliv__cluster_wait(resdeliv_presence *pr, const char *channel,
                           void *conn, uint64_t serial, const char *text,
                           size_t len)
{
    struct resdeliv__pview *v = resdeliv__prs_view_find(pr, channel);
    struct resdeliv__pwaiter *w, **pp;
    int rc;

    if (v == NULL) {
        rc = resdeliv__prs_view_new(pr, channel, &v);
        if (rc != 0) {
            return rc;
        }
    }
    w = malloc(sizeof(*w) + len + 1);
    if (w == NULL) {
        return RESDELIV_ENOMEM;
    }
    w->next = NULL;
    w->conn = conn;
    w->serial = serial;
    w->len = len;
    memcpy(w->text, text, len);
    w->text[len] = '\0';
    /* In arrival order: the subscribes run again as they came. */
    pp = &v->waiters;
    while (*pp != NULL) {
        pp = &(*pp)->next;
    }
    *pp = w;
    return 0;
}

void resdeliv__cluster_forget(resdeliv_presence *pr, void *conn)
{
    for (struct resdeliv__pview *v = pr != NULL ? pr->views : NULL; v != NULL;
         v = v->next) {
        struct resdeliv__pwaiter **pp = &v->waiters;
        while (*pp != NULL) {
            struct resdeliv__pwaiter *w = *pp;
            if (w->conn == conn) {
                *pp = w->next;
                free(w);
            } else {
                pp = &w->next;
            }
        }
    }
}

int resdeliv__cluster_join(resdeliv_presence *pr, const char *channel,
                           const char *user_id, const char *user_info,
                           uint64_t max_members, int *first)
{
    struct resdeliv__pview *v = resdeliv__prs_view_find(pr, channel);
    int rc;

    *first = 0;
    if (v == NULL) {
        rc = resdeliv__prs_view_new(pr, channel, &v);
        if (rc != 0) {
            return rc;
        }
    }
    if (resdeliv__pv_find(&v->pv, user_id) == NULL && v->pv.n >= max_members) {
        return RESDELIV_EOVERFLOW;
    }
    rc = resdeliv__pv_add(&v->pv, user_id, user_info, pr->node, first);
    if (rc != 0) {
        return rc;
    }
    v->locals++;
    resdeliv__prs_field_send(pr, v, 1, pr->node, user_id, user_info);
    return 0;
}

void resdeliv__cluster_leave(resdeliv_presence *pr, const char *channel,
                             const char *user_id, int *last)
{
    struct resdeliv__pview *v = resdeliv__prs_view_find(pr, channel);

    *last = 0;
    if (v == NULL ||
        resdeliv__pv_remove(&v->pv, user_id, pr->node, last) != 0) {
        return;
    }
    v->locals--;
    resdeliv__prs_field_send(pr, v, 0, pr->node, user_id, NULL);
}

int resdeliv__cluster_data(resdeliv_presence *pr, const char *channel,
                           char **out, size_t *out_len)
{
    struct resdeliv__pview *v = resdeliv__prs_view_find(pr, channel);
    struct resdeliv__pv empty = {0};

    return resdeliv__pv_data(v != NULL ? &v->pv : &empty, out, out_len);
}
