/* SPDX-License-Identifier: MIT */
/*
 * The Redis Streams store driven by the host's event loop: hiredis's async
 * context with its `ev` hooks wired to a struct resdeliv_loop, the store
 * vtable over it (without RESDELIV_STORE_SYNC), and reconnection on
 * timers. Commands and replies are built and decoded by redis_cmd.c, so
 * both Redis clients send exactly the same commands.
 *
 * Nothing here waits: connecting is hiredis's non-blocking connect, and the
 * handshake (AUTH, SELECT, INFO for the server version, SCRIPT LOAD) is
 * queued as the first commands of every connection. Operations issued
 * during the handshake wait in a queue, because their commands depend on
 * the server version; operations issued while disconnected fail at once.
 *
 * Completion. Every operation is an `op` that is the privdata of each of
 * its hiredis commands; hiredis calls each command's callback exactly once,
 * with a NULL reply when the connection is lost or freed, so an op knows
 * when its last command is answered. When Redis goes away the op completes
 * with RESDELIV_ESTORE; when the store is freed, with RESDELIV_ECLOSED. An
 * op whose store was freed while hiredis still owes it callbacks is
 * "orphaned" (op->s NULL): it completed already and only waits to be
 * freed.
 *
 * Reentrancy. A user callback may free the store. Every entry point (loop
 * callbacks, vtable calls, destroy) counts itself in `depth`; destroy
 * detaches everything at once but the memory of the store is released only
 * when the outermost entry point returns.
 *
 * Timers. One loop timer serves, by state: the reconnect backoff while
 * down, the connect deadline while connecting, and a command watchdog while
 * ready (no reply for command_timeout_ms with commands outstanding drops the
 * connection). hiredis 1.x's own timer hook is wired to a second timer.
 */
#include "redis_async_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ST_DOWN RESDELIV__RA_DOWN
#define ST_CONNECTING RESDELIV__RA_CONNECTING
#define ST_READY RESDELIV__RA_READY

#define HS_AUTH 0
#define HS_SELECT 1
#define HS_INFO 2
#define HS_SCRIPT 3

typedef struct resdeliv__ra_store store;
typedef struct resdeliv__ra_op op_t;

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void on_timer(void *arg);

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- lifetime of the store across reentrant calls ---- */

static void release(store *s)
{
    free(s->prefix);
    memset(&s->url, 0, sizeof(s->url));
    free(s);
}

void resdeliv__ra_enter(store *s)
{
    s->depth++;
}

/* Returns 1 when the store is gone (the caller must not touch it). */
int resdeliv__ra_leave(store *s)
{
    if (--s->depth == 0 && s->closing) {
        release(s);
        return 1;
    }
    return 0;
}

/* ---- ops ---- */

static void op_link(store *s, op_t *op)
{
    op->s = s;
    op->prev = s->ops_tail;
    if (s->ops_tail != NULL) {
        s->ops_tail->next = op;
    } else {
        s->ops_head = op;
    }
    s->ops_tail = op;
}

static void op_unlink(op_t *op)
{
    store *s = op->s;

    if (s == NULL) {
        return;
    }
    if (op->prev != NULL) {
        op->prev->next = op->next;
    } else {
        s->ops_head = op->next;
    }
    if (op->next != NULL) {
        op->next->prev = op->prev;
    } else {
        s->ops_tail = op->prev;
    }
    op->prev = op->next = NULL;
    op->s = NULL;
}

void resdeliv__ra_op_free(op_t *op)
{
    op_unlink(op);
    resdeliv__redis_keys_clear(&op->keys);
    resdeliv__redis_batch_clear(&op->batch);
    free(op);
}

/* Fail an op outside hiredis's callbacks. `busy` keeps a destroy run by
 * the user callback from freeing the op under us. */
static void fail_and_free(op_t *op, int status)
{
    op->busy = 1;
    resdeliv__ra_op_fail(op, status);
    op->busy = 0;
    if (op->inflight == 0) {
        resdeliv__ra_op_free(op);
    }
}

/* ---- the connection's hooks ---- */

static void io_enter(void *owner)
{
    resdeliv__ra_enter(owner);
}

static void io_leave(void *owner)
{
    resdeliv__ra_leave(owner);
}

static void conn_gone(store *s);

static void io_gone(void *owner)
{
    conn_gone(owner);
}

static const struct resdeliv__redis_loop_ops io_ops = {
    .enter = io_enter,
    .leave = io_leave,
    .gone = io_gone,
};

/* ---- connection ---- */

static void arm(store *s, uint64_t ms)
{
    if (s->loop.timer_start(s->loop.loop, ms, on_timer, s, &s->timer) == 0) {
        s->armed = 1;
    }
}

static uint64_t backoff_ms(store *s)
{
    return resdeliv__redis_loop_backoff(s->failures, &s->rng);
}

/* Drop the connection; hiredis answers its commands with NULL replies and
 * then runs its cleanup hook (later, when called from one of its
 * callbacks). */
static void abort_conn(store *s, const char *why)
{
    if (s->io.ac == NULL || s->freeing) {
        return;
    }
    if (why != NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "%s", why);
    }
    s->freeing = 1;
    s->lost = 1;
    redisAsyncFree(s->io.ac);
}

/* Drop the connection from the next timer callback: the caller may be
 * in the middle of an op that the NULL replies would complete. */
void resdeliv__ra_abort(store *s, const char *why)
{
    if (s->io.ac == NULL || s->doomed) {
        return;
    }
    snprintf(s->errmsg, sizeof(s->errmsg), "%s", why);
    s->lost = 1;
    s->doomed = 1;
    arm(s, 0);
}

/* hiredis freed the connection (cleanup hook). */
static void conn_gone(store *s)
{
    op_t *op;

    s->io.ac = NULL;
    s->freeing = s->lost = s->doomed = 0;
    s->cmds_out = 0;
    s->failures = s->state == ST_READY ? 1 : s->failures + 1;
    s->state = ST_DOWN;
    s->version = 0;
    s->sha[0] = '\0';
    if (s->errmsg[0] == '\0') {
        snprintf(s->errmsg, sizeof(s->errmsg), "Redis connection lost");
    }
    while (!s->closing && (op = s->wait_head) != NULL) {
        s->wait_head = op->wnext;
        if (s->wait_head == NULL) {
            s->wait_tail = NULL;
        }
        fail_and_free(op, RESDELIV_ESTORE);
    }
    if (!s->closing) {
        arm(s, backoff_ms(s));
    }
}

int resdeliv__ra_send(store *s, op_t *op,
                      const struct resdeliv__redis_argv *a)
{
    struct resdeliv__redis_cmd cmd;

    cmd.argc = a->argc;
    cmd.argv = (const char **)a->argv;
    cmd.len = a->len;
    return resdeliv__ra_sendv(s, op, &cmd);
}

int resdeliv__ra_sendv(store *s, op_t *op, const struct resdeliv__redis_cmd *a)
{
    if (s->io.ac == NULL || s->freeing || s->lost ||
        redisAsyncCommandArgv(s->io.ac, on_reply, op, a->argc, a->argv,
                              a->len) != REDIS_OK) {
        return RESDELIV_ESTORE;
    }
    op->inflight++;
    if (s->cmds_out++ == 0 && s->state == ST_READY) {
        s->last_progress = mono_ms();
        if (!s->armed) {
            arm(s, s->command_ms);
        }
    }
    return 0;
}

static void argv_words(struct resdeliv__redis_argv *a, int n,
                       const char *w0, const char *w1, const char *w2,
                       size_t len2)
{
    memset(a, 0, sizeof(*a));
    a->argc = n;
    a->argv[0] = w0;
    a->len[0] = strlen(w0);
    if (n > 1) {
        a->argv[1] = w1;
        a->len[1] = strlen(w1);
    }
    if (n > 2) {
        a->argv[2] = w2;
        a->len[2] = len2;
    }
}

static int handshake(store *s)
{
    op_t *op = calloc(1, sizeof(*op));
    struct resdeliv__redis_argv a;
    char db[16];
    int k = 0;
    int rc = 0;

    if (op == NULL) {
        return RESDELIV_ENOMEM;
    }
    op->kind = RESDELIV__RA_HANDSHAKE;
    op_link(s, op);
    if (s->url.has_password) {
        argv_words(&a, 2, "AUTH", s->url.password, NULL, 0);
        if (s->url.has_user) {
            argv_words(&a, 3, "AUTH", s->url.user, s->url.password,
                       strlen(s->url.password));
        }
        op->steps[k++] = HS_AUTH;
        rc = resdeliv__ra_send(s, op, &a);
    }
    if (rc == 0 && s->url.db != 0) {
        snprintf(db, sizeof(db), "%d", s->url.db);
        argv_words(&a, 2, "SELECT", db, NULL, 0);
        op->steps[k++] = HS_SELECT;
        rc = resdeliv__ra_send(s, op, &a);
    }
    if (rc == 0) {
        argv_words(&a, 2, "INFO", "server", NULL, 0);
        op->steps[k++] = HS_INFO;
        rc = resdeliv__ra_send(s, op, &a);
    }
    if (rc == 0) {
        argv_words(&a, 3, "SCRIPT", "LOAD", resdeliv__redis_append_lua,
                   resdeliv__redis_append_lua_len);
        op->steps[k++] = HS_SCRIPT;
        rc = resdeliv__ra_send(s, op, &a);
    }
    op->ncmds = (size_t)k;
    if (op->inflight == 0) {
        resdeliv__ra_op_free(op);
    }
    return rc;
}

static void start_connect(store *s)
{
    if (resdeliv__redis_loop_connect(&s->io, &s->url, "Redis connect") != 0) {
        s->failures++;
        arm(s, backoff_ms(s));
        return;
    }
    s->state = ST_CONNECTING;
    arm(s, s->connect_ms);
    if (handshake(s) != 0) {
        abort_conn(s, "Redis connect: cannot queue the handshake");
    }
}

static void ready(store *s)
{
    op_t *op;

    s->state = ST_READY;
    s->failures = 0;
    s->errmsg[0] = '\0';
    s->last_progress = mono_ms();
    arm(s, s->command_ms);
    while (!s->closing && s->state == ST_READY &&
           (op = s->wait_head) != NULL) {
        s->wait_head = op->wnext;
        if (s->wait_head == NULL) {
            s->wait_tail = NULL;
        }
        if (resdeliv__ra_op_send(s, op) != 0) {
            fail_and_free(op, RESDELIV_ESTORE);
        }
    }
}

static void on_handshake(store *s, op_t *op,
                         const redisReply *r)
{
    int step = op->steps[op->replies++];
    const char *what = step == HS_AUTH     ? "AUTH"
                       : step == HS_SELECT ? "SELECT"
                       : step == HS_INFO   ? "INFO"
                                           : "SCRIPT LOAD";

    if (r == NULL || op->status != 0) {
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && step != HS_SCRIPT) {
        op->status = RESDELIV_ESTORE;
        snprintf(s->errmsg, sizeof(s->errmsg), "Redis %s: %.*s", what,
                 (int)r->len, r->str);
        /* errmsg is kept: abort_conn gets no text of its own. */
        abort_conn(s, NULL);
        return;
    }
    if (step == HS_INFO && r->type == REDIS_REPLY_STRING) {
        s->version = resdeliv__redis_version_parse(r->str, r->len);
    } else if (step == HS_SCRIPT && r->type == REDIS_REPLY_STRING &&
               r->len < sizeof(s->sha)) {
        memcpy(s->sha, r->str, r->len);
        s->sha[r->len] = '\0';
    }
    if (op->replies == op->ncmds) {
        ready(s);
    }
}

static void on_timer(void *arg)
{
    store *s = arg;
    uint64_t idle;

    s->armed = 0;
    resdeliv__ra_enter(s);
    if (s->closing) {
        resdeliv__ra_leave(s);
        return;
    }
    if (s->doomed) {
        abort_conn(s, NULL);
    } else if (s->state == ST_DOWN) {
        start_connect(s);
    } else if (s->state == ST_CONNECTING) {
        char msg[96];
        snprintf(msg, sizeof(msg), "Redis connect: timed out after %llu ms",
                 (unsigned long long)s->connect_ms);
        abort_conn(s, msg);
    } else if (s->cmds_out > 0) {
        idle = mono_ms() - s->last_progress;
        if (idle >= s->command_ms) {
            abort_conn(s, "Redis command timed out");
        } else {
            arm(s, s->command_ms - idle);
        }
    }
    resdeliv__ra_leave(s);
}


/* ---- replies and submission ---- */

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    op_t *op = privdata;
    store *s = op->s;
    const redisReply *r = reply;

    op->inflight--;
    if (s == NULL) {
        /* Orphaned: completed when its store was freed. */
        if (op->inflight == 0) {
            resdeliv__ra_op_free(op);
        }
        return;
    }
    if (s->cmds_out > 0) {
        s->cmds_out--;
    }
    s->last_progress = mono_ms();
    if (r == NULL) {
        if (!s->lost && !s->closing) {
            snprintf(s->errmsg, sizeof(s->errmsg),
                     "Redis connection lost: %s",
                     ac->err ? ac->errstr : "closed");
        }
        s->lost = 1;
        if (op->status == 0) {
            op->status = s->closing ? RESDELIV_ECLOSED : RESDELIV_ESTORE;
        }
    }
    op->busy = 1;
    if (op->kind == RESDELIV__RA_HANDSHAKE) {
        on_handshake(s, op, r);
    } else {
        resdeliv__ra_op_reply(s, op, r);
    }
    /* The user callback may have freed the store: op->s is then NULL. */
    if (op->inflight == 0) {
        resdeliv__ra_op_fail(op, op->status ? op->status : RESDELIV_ESTORE);
    }
    op->busy = 0;
    if (op->inflight == 0) {
        resdeliv__ra_op_free(op);
    }
}

int resdeliv__ra_submit(store *s, op_t *op)
{
    int rc = 0;

    if (s->closing) {
        resdeliv__ra_op_free(op);
        return RESDELIV_ECLOSED;
    }
    if (s->state == ST_DOWN || s->lost || s->freeing) {
        if (s->errmsg[0] == '\0') {
            snprintf(s->errmsg, sizeof(s->errmsg), "Redis: not connected");
        }
        resdeliv__ra_op_free(op);
        return RESDELIV_ESTORE;
    }
    resdeliv__ra_enter(s);
    op_link(s, op);
    if (s->state == ST_CONNECTING) {
        if (s->wait_tail != NULL) {
            s->wait_tail->wnext = op;
        } else {
            s->wait_head = op;
        }
        s->wait_tail = op;
    } else {
        rc = resdeliv__ra_op_send(s, op);
        if (rc != 0) {
            resdeliv__ra_op_free(op);
        }
    }
    resdeliv__ra_leave(s);
    return rc;
}

/* ---- the store ---- */

static void ra_destroy(void *self)
{
    store *s = self;
    redisAsyncContext *ac = s->io.ac;
    op_t *op;

    if (s->closing) {
        return;
    }
    resdeliv__ra_enter(s);
    s->closing = 1;
    s->loop.timer_stop(s->loop.loop, &s->timer);
    s->loop.timer_stop(s->loop.loop, &s->io.hr_timer);
    s->loop.unwatch(s->loop.loop, &s->io.watch);
    s->io.ac = NULL;
    s->wait_head = s->wait_tail = NULL;
    if (ac != NULL) {
        resdeliv__redis_loop_detach(ac);
        if (!s->freeing) {
            /* Outside a hiredis callback this answers every command now
             * (ECLOSED); inside one, hiredis does it when it returns and
             * the ops below are orphaned first. */
            redisAsyncFree(ac);
        }
    }
    while ((op = s->ops_head) != NULL) {
        op_unlink(op);
        resdeliv__ra_op_fail(op, RESDELIV_ECLOSED);
        if (op->inflight == 0 && !op->busy) {
            resdeliv__ra_op_free(op);
        }
    }
    resdeliv__ra_leave(s);
}

static const char *ra_errmsg(void *self)
{
    store *s = self;
    return s->errmsg;
}

static const struct resdeliv_store_ops ra_ops = {
    RESDELIV_STRUCT_HEAD(ra_ops),
    .flags = 0,
    .name = "redis",
    .append = resdeliv__ra_append,
    .read = resdeliv__ra_read,
    .info = resdeliv__ra_info,
    .drop = resdeliv__ra_drop,
    .destroy = ra_destroy,
    .errmsg = ra_errmsg,
};

/* ---- construction ---- */

int resdeliv_store_redis_async_new(const struct resdeliv_redis_options *opts,
                                   const struct resdeliv_loop *loop,
                                   resdeliv_store **out, char *err,
                                   size_t errsize)
{
    store *s;
    int rc;

    if (out == NULL) {
        resdeliv__errf(err, errsize, "Redis store: out must not be NULL");
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return RESDELIV_ENOMEM;
    }
    resdeliv__redis_loop_init(&s->io, &s->loop, &io_ops, s);
    s->io.closing = &s->closing;
    s->io.lost = &s->lost;
    s->io.guard = 1;
    s->io.errmsg = s->errmsg;
    s->io.errsize = sizeof(s->errmsg);
    rc = resdeliv__ra_configure(s, opts, loop, err, errsize);
    if (rc == 0) {
        rc = resdeliv_store_new(&ra_ops, s, out);
    }
    if (rc != 0) {
        free(s->prefix);
        free(s);
        return rc;
    }
    /* Unreachable now is not an error: the store keeps reconnecting. */
    start_connect(s);
    return 0;
}
