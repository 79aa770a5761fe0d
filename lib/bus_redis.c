/* SPDX-License-Identifier: MIT */
/*
 * The Redis bus (bus.h): one hiredis async connection in pub/sub mode on
 * the host's loop hooks, subscribed to the bus channels of the logs that
 * have local subscribers, handing each entry over in log order.
 *
 * Channels. Each is reference counted by resdeliv_bus_subscribe(); the
 * first reference reads the log's position through the store (the
 * starting point) and queues a SUBSCRIBE; the last queues an UNSUBSCRIBE.
 * Queued changes go out from a zero-delay timer, many channels per
 * command. A channel is re-subscribed only once Redis has confirmed its
 * UNSUBSCRIBE.
 *
 * Continuity. A channel keeps the position of the last entry it handed
 * over. Until it is in sync, bus messages are queued (bounded); it gets in
 * sync once Redis confirmed the SUBSCRIBE and the store has been read
 * after that position. This read closes the window between the starting
 * point and the moment the SUBSCRIBE took effect, and after a lost
 * connection it recovers what was published meanwhile, after a check of
 * the log's epoch and retention that announces whatever cannot be
 * recovered as a gap. Queued messages then follow, duplicates dropped.
 *
 * Lifetimes. Store calls carry a ticket that outlives the bus and the
 * channel (either may go while a call is in flight). Callbacks may free
 * the bus or unsubscribe: entry points count themselves in `depth`, and
 * memory goes when the outermost one returns; a channel being worked on
 * is pinned.
 *
 * Files: this one has the connection, the pub/sub replies and the
 * (un)subscribe batches; bus_channels.c the channels and what they hand
 * over; bus_catchup.c the store calls that get a channel in sync; bus.c
 * the message parser.
 */
#include "bus_redis_internal.h"
#include "redis_async_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- the connection's hooks ---- */

static void io_enter(void *owner)
{
    resdeliv__bus_enter(owner);
}

static void io_leave(void *owner)
{
    resdeliv__bus_leave(owner);
}

static void conn_gone(resdeliv__bus_t *b);

static void io_gone(void *owner)
{
    conn_gone(owner);
}

static const struct resdeliv__redis_loop_ops io_ops = {
    .enter = io_enter,
    .leave = io_leave,
    .gone = io_gone,
};

static void on_message(resdeliv__bus_t *b, struct resdeliv__bus_chan *ch,
                       const redisReply *r)
{
    struct resdeliv__bus_msg m;

    /* Presence announcements share the channel; the presence registry
     * reads them on its own connection. */
    if (r->type == REDIS_REPLY_STRING && r->len >= 5 &&
        memcmp(r->str, "RDP1 ", 5) == 0) {
        return;
    }
    if (r->type != REDIS_REPLY_STRING ||
        resdeliv__bus_parse(r->str, (size_t)r->len, &m) != 0) {
        b->stats.bad_messages++;
        return;
    }
    if (ch == NULL || ch->refs == 0 || !ch->on_redis) {
        return;
    }
    if (!ch->synced) {
        resdeliv__bus_enqueue(ch, &m, r->str, (size_t)r->len);
        return;
    }
    ch->pins++;
    resdeliv__bus_hand(ch, &m);
    ch->pins--;
    resdeliv__bus_chan_release(ch);
}

static void established(resdeliv__bus_t *b)
{
    if (b->established) {
        return;
    }
    b->established = 1;
    b->failures = 0;
    b->errmsg[0] = '\0';
    b->loop.timer_stop(b->loop.loop, &b->timer);
    if (b->connected_once) {
        b->stats.reconnects++;
    }
    b->connected_once = 1;
}

void resdeliv__bus_pend(struct resdeliv__bus_chan *ch);

static void on_unsubscribed(struct resdeliv__bus_chan *ch)
{
    if (!ch->unsub_sent) {
        return;
    }
    ch->unsub_sent = 0;
    if (ch->refs > 0) {
        resdeliv__bus_pend(ch);
    } else {
        resdeliv__bus_chan_release(ch);
    }
}

static int is_word(const redisReply *r, const char *w)
{
    size_t n = strlen(w);
    return r->type == REDIS_REPLY_STRING && (size_t)r->len == n &&
           strncasecmp(r->str, w, n) == 0;
}

/* Every pub/sub reply: confirmations and messages. */
static void on_sub(redisAsyncContext *ac, void *reply, void *privdata)
{
    resdeliv__bus_t *b = privdata;
    const redisReply *r = reply;
    struct resdeliv__bus_chan *ch;

    (void)ac;
    if (r == NULL || b->closing) {
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        b->stats.bad_messages++;
        return;
    }
    resdeliv__bus_enter(b);
    ch = resdeliv__bus_chan_find(b, r->element[1]->str,
                                 (size_t)r->element[1]->len);
    if (is_word(r->element[0], "message")) {
        on_message(b, ch, r->element[2]);
    } else if (is_word(r->element[0], "subscribe")) {
        established(b);
        if (ch != NULL && ch->on_redis && !ch->confirmed) {
            ch->confirmed = 1;
            ch->pins++;
            resdeliv__bus_sync(ch);
            ch->pins--;
            resdeliv__bus_chan_release(ch);
        }
    } else if (is_word(r->element[0], "unsubscribe") && ch != NULL) {
        on_unsubscribed(ch);
    }
    resdeliv__bus_leave(b);
}

static int send_batch(resdeliv__bus_t *b, const char *cmd,
                      struct resdeliv__bus_chan **chs, size_t n)
{
    const char *argv[RESDELIV__BUS_BATCH + 1];
    size_t len[RESDELIV__BUS_BATCH + 1];

    argv[0] = cmd;
    len[0] = strlen(cmd);
    for (size_t i = 0; i < n; i++) {
        argv[i + 1] = chs[i]->key;
        len[i + 1] = chs[i]->key_len;
    }
    if (b->io.ac == NULL || b->freeing ||
        redisAsyncCommandArgv(b->io.ac, on_sub, b, (int)n + 1, argv,
                              len) != REDIS_OK) {
        return RESDELIV_ESTORE;
    }
    return 0;
}

/* Take up to a batch of each kind off the pending list. */
static void take_pending(resdeliv__bus_t *b, struct resdeliv__bus_chan **subs,
                         size_t *ns, struct resdeliv__bus_chan **unsubs,
                         size_t *nu)
{
    *ns = *nu = 0;
    while (b->pend_head != NULL && *ns < RESDELIV__BUS_BATCH &&
           *nu < RESDELIV__BUS_BATCH) {
        struct resdeliv__bus_chan *ch = b->pend_head;
        b->pend_head = ch->pnext;
        if (b->pend_head == NULL) {
            b->pend_tail = NULL;
        }
        ch->pending = 0;
        if (ch->refs > 0 && !ch->on_redis && !ch->unsub_sent) {
            subs[(*ns)++] = ch;
        } else if (ch->refs == 0 && ch->on_redis) {
            unsubs[(*nu)++] = ch;
        } else {
            resdeliv__bus_chan_release(ch);
        }
    }
}

static void abort_conn(resdeliv__bus_t *b, const char *why);

/* Put back what could not be sent; the next connection sends it. */
static void repend(struct resdeliv__bus_chan **chs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        resdeliv__bus_pend(chs[i]);
    }
}

/* Send what is pending, many channels per command. */
static void flush(resdeliv__bus_t *b)
{
    struct resdeliv__bus_chan *subs[RESDELIV__BUS_BATCH];
    struct resdeliv__bus_chan *unsubs[RESDELIV__BUS_BATCH];
    size_t ns, nu;
    int failed = 0;

    while (!failed && b->io.ac != NULL && !b->freeing &&
           b->pend_head != NULL) {
        take_pending(b, subs, &ns, unsubs, &nu);
        if (ns > 0 && send_batch(b, "SUBSCRIBE", subs, ns) != 0) {
            repend(subs, ns);
            failed = 1;
            ns = 0;
        }
        for (size_t i = 0; i < ns; i++) {
            subs[i]->on_redis = 1;
            subs[i]->confirmed = 0;
        }
        if (nu > 0 && (failed || send_batch(b, "UNSUBSCRIBE", unsubs, nu))) {
            repend(unsubs, nu);
            failed = 1;
            nu = 0;
        }
        for (size_t i = 0; i < nu; i++) {
            unsubs[i]->on_redis = 0;
            unsubs[i]->unsub_sent = 1;
        }
    }
    if (failed) {
        abort_conn(b, "Redis bus: could not queue a command");
    }
}

/* ---- the work timer ---- */

static void on_work(void *arg)
{
    resdeliv__bus_t *b = arg;

    resdeliv__bus_enter(b);
    if (!b->closing) {
        flush(b);
    }
    while (!b->closing && b->work_head != NULL) {
        struct resdeliv__bus_chan *ch = b->work_head;
        b->work_head = ch->wnext;
        if (b->work_head == NULL) {
            b->work_tail = NULL;
        }
        ch->in_work = 0;
        ch->pins++;
        if (!resdeliv__bus_gone(ch) && ch->confirmed && !ch->synced &&
            !ch->busy) {
            resdeliv__bus_read_now(ch);
        }
        ch->pins--;
        resdeliv__bus_chan_release(ch);
    }
    resdeliv__bus_leave(b);
}

void resdeliv__bus_arm_work(resdeliv__bus_t *b)
{
    if (b->closing) {
        return;
    }
    if (b->loop.timer_start(b->loop.loop, 0, on_work, b, &b->work) != 0) {
        snprintf(b->errmsg, sizeof(b->errmsg), "event loop refused a timer");
    }
}

/* ---- connection ---- */

static void on_timer(void *arg);

static void arm(resdeliv__bus_t *b, uint64_t ms)
{
    b->loop.timer_start(b->loop.loop, ms, on_timer, b, &b->timer);
}

static uint64_t backoff_ms(resdeliv__bus_t *b)
{
    return resdeliv__redis_loop_backoff(b->failures, &b->rng);
}

/* Drop the connection; hiredis answers with NULL replies and runs the
 * cleanup hook (at once, or when its callback returns). */
static void abort_conn(resdeliv__bus_t *b, const char *why)
{
    if (b->io.ac == NULL || b->freeing) {
        return;
    }
    if (why != NULL) {
        snprintf(b->errmsg, sizeof(b->errmsg), "%s", why);
    }
    b->freeing = 1;
    redisAsyncFree(b->io.ac);
}

/* The connection is gone (cleanup hook): every channel is subscribed
 * again on the next one and checked for what it missed. */
static void conn_gone(resdeliv__bus_t *b)
{
    b->io.ac = NULL;
    b->freeing = 0;
    b->failures = b->established ? 1 : b->failures + 1;
    b->established = 0;
    if (b->errmsg[0] == '\0') {
        snprintf(b->errmsg, sizeof(b->errmsg), "Redis bus: connection lost");
    }
    if (b->closing) {
        return;
    }
    for (size_t i = 0; i < b->nbuckets; i++) {
        struct resdeliv__bus_chan *ch = b->buckets[i];
        while (ch != NULL) {
            struct resdeliv__bus_chan *next = ch->hnext;
            if (ch->on_redis || ch->confirmed) {
                ch->need_check = 1;
            }
            ch->on_redis = ch->confirmed = ch->unsub_sent = 0;
            ch->synced = ch->busy = ch->overflowed = 0;
            ch->gen++;
            resdeliv__bus_qdrop(ch);
            if (ch->refs > 0) {
                resdeliv__bus_pend(ch);
            } else {
                resdeliv__bus_chan_release(ch);
            }
            ch = next;
        }
    }
    arm(b, backoff_ms(b));
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    resdeliv__bus_t *b = ac->data;

    if (b == NULL || b->closing) {
        return;
    }
    if (status != REDIS_OK) {
        snprintf(b->errmsg, sizeof(b->errmsg), "Redis bus connect: %s",
                 ac->errstr);
        return;
    }
    if (!b->url.has_password) {
        established(b);
    }
}

static void on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
    resdeliv__bus_t *b = privdata;
    const redisReply *r = reply;

    (void)ac;
    if (r == NULL || b->closing) {
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Redis bus AUTH: %.*s", (int)r->len, r->str);
        abort_conn(b, msg);
        return;
    }
    established(b);
}

static int send_auth(resdeliv__bus_t *b)
{
    const char *argv[3];
    size_t len[3];
    int n = 0;

    argv[n] = "AUTH";
    len[n++] = 4;
    if (b->url.has_user) {
        argv[n] = b->url.user;
        len[n] = strlen(b->url.user);
        n++;
    }
    argv[n] = b->url.password;
    len[n] = strlen(b->url.password);
    n++;
    return redisAsyncCommandArgv(b->io.ac, on_auth, b, n, argv, len) ==
                   REDIS_OK
               ? 0
               : RESDELIV_ESTORE;
}

static void start_connect(resdeliv__bus_t *b)
{
    redisAsyncContext *ac;

    if (resdeliv__redis_loop_connect(&b->io, &b->url, "Redis bus connect") !=
        0) {
        b->failures++;
        arm(b, backoff_ms(b));
        return;
    }
    ac = b->io.ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    if (!b->url.is_unix) {
        /* An idle subscriber notices a vanished server only this way. */
        redisEnableKeepAlive(&ac->c);
    }
    arm(b, b->connect_ms);
    if (b->url.has_password && send_auth(b) != 0) {
        abort_conn(b, "Redis bus connect: cannot queue AUTH");
        return;
    }
    flush(b);
}

static void on_timer(void *arg)
{
    resdeliv__bus_t *b = arg;

    resdeliv__bus_enter(b);
    if (b->closing) {
        /* nothing: the bus is going */
    } else if (b->io.ac == NULL) {
        start_connect(b);
    } else if (!b->established) {
        char msg[96];
        snprintf(msg, sizeof(msg), "Redis bus connect: timed out after %llu ms",
                 (unsigned long long)b->connect_ms);
        abort_conn(b, msg);
    }
    resdeliv__bus_leave(b);
}

/* ---- the API ---- */

static int check_callbacks(const struct resdeliv_bus_callbacks *cb,
                           struct resdeliv_bus_callbacks *out, char *err,
                           size_t errsize)
{
    memset(out, 0, sizeof(*out));
    if (cb == NULL) {
        resdeliv__errf(err, errsize, "bus: callbacks are NULL");
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(cb->abi_version) != RESDELIV_ABI_MAJOR) {
        resdeliv__errf(err, errsize, "bus: callbacks of ABI major %u",
                       (unsigned)RESDELIV_ABI_VERSION_MAJOR(cb->abi_version));
        return RESDELIV_EABI;
    }
    if (cb->struct_size < sizeof(*out)) {
        resdeliv__errf(err, errsize, "bus: callbacks struct_size %u too small",
                       (unsigned)cb->struct_size);
        return RESDELIV_EINVAL;
    }
    memcpy(out, cb, sizeof(*out));
    if (out->entry == NULL || out->gap == NULL) {
        resdeliv__errf(err, errsize, "bus: callback %s is NULL",
                       out->entry == NULL ? "entry" : "gap");
        return RESDELIV_EINVAL;
    }
    return 0;
}

/* Options, loop hooks and URL are checked as the event-loop store checks
 * them, with its own code. */
static int configure(resdeliv__bus_t *b,
                     const struct resdeliv_redis_options *opts,
                     const struct resdeliv_loop *loop, char *err,
                     size_t errsize)
{
    struct resdeliv__ra_store *tmp = calloc(1, sizeof(*tmp));
    int rc;

    if (tmp == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = resdeliv__ra_configure(tmp, opts, loop, err, errsize);
    if (rc == 0) {
        b->loop = tmp->loop;
        b->url = tmp->url;
        b->prefix = tmp->prefix;
        b->prefix_len = tmp->prefix_len;
        b->connect_ms = tmp->connect_ms;
        b->rng = tmp->rng;
        tmp->prefix = NULL;
    }
    free(tmp->prefix);
    memset(&tmp->url, 0, sizeof(tmp->url));
    free(tmp);
    return rc;
}

int resdeliv_bus_redis_new(const struct resdeliv_redis_options *opts,
                           const struct resdeliv_loop *loop, const char *app_id,
                           resdeliv_store *store,
                           const struct resdeliv_bus_callbacks *cb,
                           resdeliv_bus **out, char *err, size_t errsize)
{
    resdeliv__bus_t *b;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (out == NULL || store == NULL || app_id == NULL || app_id[0] == '\0' ||
        strnlen(app_id, RESDELIV_MAX_APP_ID_LEN + 1) >
            RESDELIV_MAX_APP_ID_LEN) {
        resdeliv__errf(err, errsize, "bus: %s",
                       out == NULL     ? "out is NULL"
                       : store == NULL ? "store is NULL"
                                       : "app_id is empty or too long");
        return RESDELIV_EINVAL;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return RESDELIV_ENOMEM;
    }
    resdeliv__redis_loop_init(&b->io, &b->loop, &io_ops, b);
    b->io.closing = &b->closing;
    b->io.guard = 1;
    b->io.errmsg = b->errmsg;
    b->io.errsize = sizeof(b->errmsg);
    rc = check_callbacks(cb, &b->cb, err, errsize);
    if (rc == 0) {
        rc = configure(b, opts, loop, err, errsize);
    }
    if (rc == 0) {
        b->app_len = strlen(app_id);
        b->app = malloc(b->app_len + 1);
        rc = b->app != NULL ? 0 : RESDELIV_ENOMEM;
    }
    if (rc != 0) {
        resdeliv__bus_release(b);
        return rc;
    }
    memcpy(b->app, app_id, b->app_len + 1);
    b->store = store;
    start_connect(b);
    *out = b;
    return 0;
}

void resdeliv_bus_free(resdeliv_bus *b)
{
    redisAsyncContext *ac;

    if (b == NULL || b->closing) {
        return;
    }
    resdeliv__bus_enter(b);
    b->closing = 1;
    b->loop.timer_stop(b->loop.loop, &b->timer);
    b->loop.timer_stop(b->loop.loop, &b->work);
    b->loop.timer_stop(b->loop.loop, &b->retry);
    b->loop.unwatch(b->loop.loop, &b->io.watch);
    ac = b->io.ac;
    b->io.ac = NULL;
    if (ac != NULL) {
        resdeliv__redis_loop_detach(ac);
        if (!b->freeing) {
            /* Inside one of its callbacks hiredis frees it on return;
             * its NULL replies then find the bus closing, still there. */
            redisAsyncFree(ac);
        }
    }
    /* Store calls in flight complete later, on their own. */
    for (struct resdeliv__bus_ticket *t = b->calls; t != NULL; t = t->next) {
        t->bus = NULL;
        t->ch = NULL;
    }
    b->calls = NULL;
    resdeliv__bus_leave(b);
}
