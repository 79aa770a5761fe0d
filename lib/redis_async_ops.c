/* SPDX-License-Identifier: MIT */
/*
 * Operations of the event-loop Redis store: append, read, info and drop as
 * ops (see store_redis_async.c), their commands and the handling of their
 * replies. The commands are the blocking store's, from redis_cmd.c and
 * redis_cmd_batch.c: an append is, per log of the batch, a plain pipeline
 * of XADDs between two GETs of the epoch or one EVALSHA of the append
 * script, written in one go; the script follows when the pipeline found
 * no log (or no epoch key), and an EVAL when the server lost the script
 * (NOSCRIPT);
 * read and info run in MULTI ... EXEC so that the entries and the epoch
 * they are reported with come from the same instant.
 *
 * Replies of one connection arrive in the order the commands were sent,
 * so an op counts its replies to know which command each one answers.
 *
 * The checking and copying of the constructor's options and loop hooks
 * lives here too, at the end.
 */
#include "redis_async_internal.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct resdeliv__ra_store store;
typedef struct resdeliv__ra_op op_t;

/* Pages up to this many entries are decoded on the stack. */
#define STACK_ENTRIES 128

static size_t align_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

void resdeliv__ra_op_fail(op_t *op, int status)
{
    if (op->done) {
        return;
    }
    op->done = 1;
    switch (op->kind) {
    case RESDELIV__RA_APPEND:
        for (size_t k = op->ohead; k < op->otail; k++) {
            resdeliv__redis_batch_fail(&op->batch, op->batch.queue[k],
                                       status);
        }
        op->ohead = op->otail;
        op->cb.append(op->arg, status, op->batch.results, op->n);
        break;
    case RESDELIV__RA_READ:
        op->cb.read(op->arg, status, NULL, 0, "");
        break;
    case RESDELIV__RA_INFO:
        op->cb.info(op->arg, status, NULL);
        break;
    case RESDELIV__RA_DROP:
        op->cb.done(op->arg, status);
        break;
    default:
        break;
    }
}

/* ---- append ---- */

/* One block: the op, then the items and a copy of their event and data
 * bytes (kept for a NOSCRIPT retry and for ops that wait for the
 * handshake); the batch (redis_cmd.c) is a second block. */
static op_t *append_new(store *s, const char *app, size_t app_len,
                        const struct resdeliv_append_item *items, size_t n)
{
    size_t o_items = align_up(sizeof(op_t));
    size_t total = o_items + align_up(n * sizeof(*items));
    char *p;
    op_t *op;

    if (n > SIZE_MAX / 4096) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        total += items[i].event_len + items[i].data_len;
    }
    p = calloc(1, total);
    if (p == NULL) {
        return NULL;
    }
    op = (op_t *)(void *)p;
    op->kind = RESDELIV__RA_APPEND;
    op->n = n;
    op->items = (struct resdeliv_append_item *)(void *)(p + o_items);
    p += o_items + align_up(n * sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        struct resdeliv_append_item *it = &op->items[i];
        *it = items[i];
        it->event = items[i].event_len ? memcpy(p, items[i].event,
                                                items[i].event_len)
                                       : "";
        p += items[i].event_len;
        it->data = items[i].data_len ? memcpy(p, items[i].data,
                                              items[i].data_len)
                                     : "";
        p += items[i].data_len;
    }
    /* Channels are read here only: the batch copies them into its keys. */
    if (resdeliv__redis_batch_init(&op->batch, s->prefix, s->prefix_len, app,
                                   app_len, items, n, &s->epochs) != 0) {
        resdeliv__ra_op_free(op);
        return NULL;
    }
    op->batch.publish = s->publish;
    for (size_t i = 0; i < n; i++) {
        op->items[i].channel = NULL;
        op->items[i].channel_len = 0;
    }
    return op;
}

/* Send the script call of group g; its reply is awaited in queue order.
 * Nonzero when nothing was sent. */
static int append_one(store *s, op_t *op, size_t g, int eval)
{
    int rc;

    resdeliv__redis_batch_argv(&op->batch, g,
                               eval || s->sha[0] == '\0' ? NULL : s->sha,
                               op->items, s->version);
    rc = resdeliv__ra_sendv(s, op, &op->batch.groups[g].cmd);
    if (rc == 0) {
        op->batch.queue[op->otail++] = g;
    }
    return rc;
}

/* Send the pipeline of group g, awaited in queue order like a script
 * call. Nonzero when nothing was sent; when only part of it was, the
 * connection is dropped and the group expects the replies of that part,
 * which fail it. */
static int append_pipe(store *s, op_t *op, size_t g)
{
    struct resdeliv__redis_cmd *cmds = op->batch.cmds;
    struct resdeliv__redis_group *grp = &op->batch.groups[g];
    size_t n = resdeliv__redis_batch_pipe(
        &op->batch, g, op->items, resdeliv__redis_server_ms(s->skew_ms), cmds);

    op->batch.queue[op->otail++] = g;
    for (size_t i = 0; i < n; i++) {
        if (resdeliv__ra_sendv(s, op, &cmds[i]) != 0) {
            if (i == 0) {
                op->otail--;
                return RESDELIV_ESTORE;
            }
            grp->ncmds = i;
            grp->status = RESDELIV_ESTORE;
            op->status = RESDELIV_ESTORE;
            resdeliv__ra_abort(s, "Redis: cannot queue a command");
            break;
        }
    }
    return 0;
}

static int append_send(store *s, op_t *op)
{
    for (size_t g = 0; g < op->batch.ngroups; g++) {
        int rc = resdeliv__redis_batch_fast(&op->batch, g, s->version)
                     ? append_pipe(s, op, g)
                     : append_one(s, op, g, 0);
        if (rc != 0) {
            if (op->inflight == 0) {
                return RESDELIV_ESTORE;
            }
            op->status = RESDELIV_ESTORE;
            resdeliv__ra_abort(s, "Redis: cannot queue a command");
            break;
        }
    }
    return 0;
}

/* One reply of group g's pipeline. */
static void pipe_reply(store *s, op_t *op, size_t g, const redisReply *r)
{
    struct resdeliv__redis_group *grp = &op->batch.groups[g];
    int st;

    if (r == NULL && grp->status == 0) {
        grp->status = op->status;
    }
    st = resdeliv__redis_batch_pipe_reply(&op->batch, g, r, s->errmsg,
                                          sizeof(s->errmsg));
    if (st == RESDELIV__REDIS_MORE) {
        return;
    }
    op->ohead++;
    /* No log, or no epoch key: the script makes a new epoch. */
    if (st == RESDELIV__REDIS_FALLBACK &&
        (s->closing || append_one(s, op, g, 0) != 0)) {
        resdeliv__redis_batch_fail(&op->batch, g, RESDELIV_ESTORE);
    }
}

/* The reply of group g's script call. */
static void script_reply(store *s, op_t *op, size_t g, const redisReply *r)
{
    op->ohead++;
    if (r == NULL) {
        resdeliv__redis_batch_fail(&op->batch, g, op->status);
    } else if (!resdeliv__redis_is_noscript(r) || s->closing ||
               op->otail >= 3 * op->batch.ngroups ||
               append_one(s, op, g, 1) != 0) {
        resdeliv__redis_batch_decode(&op->batch, g, r, s->errmsg,
                                     sizeof(s->errmsg));
    }
}

static void append_reply(store *s, op_t *op, const redisReply *r)
{
    size_t g = op->batch.queue[op->ohead];

    if (op->batch.groups[g].pipe) {
        pipe_reply(s, op, g, r);
    } else {
        script_reply(s, op, g, r);
    }
    /* A reply that sent a command (fall-back, NOSCRIPT) is not the last. */
    if (op->inflight == 0 && !op->done) {
        op->done = 1;
        resdeliv__redis_batch_skew(&op->batch, &s->skew_ms);
        op->cb.append(op->arg, op->status, op->batch.results, op->n);
    }
}

int resdeliv__ra_append(void *self, const char *app_id, size_t app_id_len,
                        const struct resdeliv_append_item *items, size_t n,
                        resdeliv_append_cb cb, void *arg)
{
    store *s = self;
    op_t *op = append_new(s, app_id, app_id_len, items, n);

    if (op == NULL) {
        return RESDELIV_ENOMEM;
    }
    op->cb.append = cb;
    op->arg = arg;
    return resdeliv__ra_submit(s, op);
}

/* ---- read, info, drop ---- */

static op_t *key_op_new(const store *s, int kind,
                        const struct resdeliv_log_key *key)
{
    op_t *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        return NULL;
    }
    op->kind = kind;
    if (resdeliv__redis_keys_build(s->prefix, s->prefix_len, key->app_id,
                                   key->app_id_len, key->channel,
                                   key->channel_len, &op->keys) != 0) {
        free(op);
        return NULL;
    }
    return op;
}

static void argv_word(struct resdeliv__redis_argv *a, const char *w)
{
    memset(a, 0, sizeof(*a));
    a->argc = 1;
    a->argv[0] = w;
    a->len[0] = strlen(w);
}

/* Send `n` commands of one round; a failure after the first drops the
 * connection, and the op then completes through its NULL replies. */
static int send_round(store *s, op_t *op, struct resdeliv__redis_argv *cmds,
                      size_t n)
{
    op->ncmds = n;
    op->replies = 0;
    for (size_t i = 0; i < n; i++) {
        if (resdeliv__ra_send(s, op, &cmds[i]) != 0) {
            if (i == 0) {
                return RESDELIV_ESTORE;
            }
            op->status = RESDELIV_ESTORE;
            resdeliv__ra_abort(s, "Redis: cannot queue a command");
            break;
        }
    }
    return 0;
}

static int read_send(store *s, op_t *op)
{
    static const char *const get[] = {"GET"};
    struct resdeliv__redis_argv cmds[4];

    argv_word(&cmds[0], "MULTI");
    if (resdeliv__redis_argv_range(&cmds[1], 0, &op->keys, &op->after,
                                   op->max, s->version) != 0) {
        /* Nothing can follow the largest id: only the epoch matters. */
        static const char *const noop[] = {"XRANGE"};
        resdeliv__redis_argv_key(&cmds[1], noop, 1, op->keys.stream,
                                 op->keys.stream_len);
        cmds[1].argv[2] = "+";
        cmds[1].argv[3] = "-";
        cmds[1].len[2] = cmds[1].len[3] = 1;
        cmds[1].argc = 4;
    }
    resdeliv__redis_argv_key(&cmds[2], get, 1, op->keys.epoch,
                             op->keys.epoch_len);
    argv_word(&cmds[3], "EXEC");
    return send_round(s, op, cmds, 4);
}

static int info_send(store *s, op_t *op)
{
    static const char *const xinfo[] = {"XINFO", "STREAM"};
    static const char *const get[] = {"GET"};
    struct resdeliv__redis_argv cmds[5];
    size_t n = 4;

    argv_word(&cmds[0], "MULTI");
    resdeliv__redis_argv_key(&cmds[1], xinfo, 2, op->keys.stream,
                             op->keys.stream_len);
    resdeliv__redis_argv_key(&cmds[2], get, 1, op->keys.epoch,
                             op->keys.epoch_len);
    op->probe = resdeliv__redis_probe_count(op->has_after ? &op->after : NULL,
                                            op->max);
    if (op->probe > 0 &&
        resdeliv__redis_argv_range(&cmds[3], 1, &op->keys, &op->after,
                                   op->probe, s->version) == 0) {
        n = 5;
    } else {
        op->probe = 0;
    }
    argv_word(&cmds[n - 1], "EXEC");
    return send_round(s, op, cmds, n);
}

static int drop_send(store *s, op_t *op)
{
    static const char *const del[] = {"DEL"};
    struct resdeliv__redis_argv cmd;

    resdeliv__redis_argv_key(&cmd, del, 1, op->keys.stream,
                             op->keys.stream_len);
    cmd.argv[cmd.argc] = op->keys.epoch;
    cmd.len[cmd.argc++] = op->keys.epoch_len;
    return send_round(s, op, &cmd, 1);
}

int resdeliv__ra_op_send(store *s, op_t *op)
{
    switch (op->kind) {
    case RESDELIV__RA_APPEND:
        return append_send(s, op);
    case RESDELIV__RA_READ:
        return read_send(s, op);
    case RESDELIV__RA_INFO:
        return info_send(s, op);
    case RESDELIV__RA_DROP:
        return drop_send(s, op);
    default:
        return RESDELIV_EINVAL;
    }
}

/* The EXEC reply of a round, or NULL with op->status set. Earlier
 * replies of the round only matter when they are errors. */
static const redisReply *round_reply(store *s, op_t *op, const redisReply *r)
{
    size_t idx = op->replies++;

    if (r != NULL && op->status == 0 &&
        resdeliv__redis_reply_error(r, s->errmsg, sizeof(s->errmsg)) != 0) {
        op->status = RESDELIV_ESTORE;
    }
    if (idx + 1 < op->ncmds || r == NULL || op->status != 0) {
        return NULL;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != op->ncmds - 2) {
        snprintf(s->errmsg, sizeof(s->errmsg),
                 "unexpected Redis reply to EXEC");
        op->status = RESDELIV_ESTORE;
        return NULL;
    }
    return r;
}

static void read_reply(store *s, op_t *op, const redisReply *r)
{
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_stored_entry local[STACK_ENTRIES];
    struct resdeliv_stored_entry *entries = local;
    const redisReply *ex = round_reply(s, op, r);
    const redisReply *range;
    size_t n = 0;
    int rc;

    if (ex == NULL) {
        return;
    }
    range = ex->element[0];
    rc = resdeliv__redis_decode_epoch(ex->element[1], epoch, s->errmsg,
                                      sizeof(s->errmsg));
    /* A stream without its epoch key is a lost log: nothing to read. */
    if (rc == 0 && epoch[0] != '\0' && range->type == REDIS_REPLY_ARRAY &&
        range->elements > 0) {
        size_t cap = range->elements < op->max ? range->elements : op->max;
        entries = cap <= STACK_ENTRIES ? local
                                       : malloc(cap * sizeof(*entries));
        rc = entries == NULL ? RESDELIV_ENOMEM
                             : resdeliv__redis_decode_entries(
                                   range, entries, cap, &n, s->errmsg,
                                   sizeof(s->errmsg));
    }
    if (rc != 0) {
        op->status = rc;
    } else {
        op->done = 1;
        op->cb.read(op->arg, 0, entries, n, epoch);
    }
    if (entries != local) {
        free(entries);
    }
}

/* Decode the EXEC of an info; 1 when the count script must run. */
static int info_decode(store *s, op_t *op, const redisReply *ex)
{
    struct resdeliv_log_info *info = &op->info;
    int rc = resdeliv__redis_decode_epoch(ex->element[1], info->epoch,
                                          s->errmsg, sizeof(s->errmsg));

    if (rc == 0) {
        rc = resdeliv__redis_decode_xinfo(ex->element[0], info, s->errmsg,
                                          sizeof(s->errmsg));
    }
    if (rc != 0 || !info->exists || info->epoch[0] == '\0') {
        /* A stream without its epoch key is a lost log. */
        memset(info, 0, sizeof(*info));
        return rc;
    }
    return resdeliv__redis_info_counts(
        info, op->has_after ? &op->after : NULL, op->max,
        ex->elements > 2 ? ex->element[2] : NULL, op->probe, s->errmsg,
        sizeof(s->errmsg));
}

/* Start the count script (see redis_cmd.c); 1 when it was sent. */
static int info_count(store *s, op_t *op)
{
    struct resdeliv__redis_argv cmd;

    if (resdeliv__redis_argv_count(&cmd, &op->keys, &op->after, op->max,
                                   s->version) != 0) {
        /* Nothing can follow the largest id. */
        op->info.count_after = 0;
        return 0;
    }
    if (resdeliv__ra_send(s, op, &cmd) != 0) {
        op->status = RESDELIV_ESTORE;
        resdeliv__ra_abort(s, "Redis: cannot queue a command");
        return 1;
    }
    op->counting = 1;
    return 1;
}

static void info_reply(store *s, op_t *op, const redisReply *r)
{
    const redisReply *ex;

    if (op->counting) {
        if (r == NULL) {
            return;
        }
        op->status = resdeliv__redis_decode_count(r, &op->info, s->errmsg,
                                                  sizeof(s->errmsg));
        if (op->status != 0) {
            return;
        }
    } else {
        ex = round_reply(s, op, r);
        if (ex == NULL) {
            return;
        }
        op->status = info_decode(s, op, ex);
        if (op->status == 1) {
            op->status = 0;
            if (info_count(s, op)) {
                return;
            }
        }
        if (op->status != 0) {
            return;
        }
    }
    op->done = 1;
    op->cb.info(op->arg, 0, &op->info);
}

static void drop_reply(store *s, op_t *op, const redisReply *r)
{
    if (r == NULL) {
        return;
    }
    op->status = resdeliv__redis_reply_error(r, s->errmsg, sizeof(s->errmsg));
    if (op->status == 0) {
        op->done = 1;
        op->cb.done(op->arg, 0);
    }
}

void resdeliv__ra_op_reply(store *s, op_t *op, const redisReply *r)
{
    if (op->done) {
        return;
    }
    switch (op->kind) {
    case RESDELIV__RA_APPEND:
        append_reply(s, op, r);
        break;
    case RESDELIV__RA_READ:
        read_reply(s, op, r);
        break;
    case RESDELIV__RA_INFO:
        info_reply(s, op, r);
        break;
    case RESDELIV__RA_DROP:
        drop_reply(s, op, r);
        break;
    default:
        break;
    }
}

int resdeliv__ra_read(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, size_t max,
                      resdeliv_read_cb cb, void *arg)
{
    store *s = self;
    op_t *op = key_op_new(s, RESDELIV__RA_READ, key);

    if (op == NULL) {
        return RESDELIV_ENOMEM;
    }
    op->after = *after;
    op->max = max;
    op->cb.read = cb;
    op->arg = arg;
    return resdeliv__ra_submit(s, op);
}

int resdeliv__ra_info(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, uint64_t cap,
                      resdeliv_info_cb cb, void *arg)
{
    store *s = self;
    op_t *op = key_op_new(s, RESDELIV__RA_INFO, key);

    if (op == NULL) {
        return RESDELIV_ENOMEM;
    }
    if (after != NULL) {
        op->after = *after;
        op->has_after = 1;
    }
    op->max = cap;
    op->cb.info = cb;
    op->arg = arg;
    return resdeliv__ra_submit(s, op);
}

int resdeliv__ra_drop(void *self, const struct resdeliv_log_key *key,
                      resdeliv_done_cb cb, void *arg)
{
    store *s = self;
    op_t *op = key_op_new(s, RESDELIV__RA_DROP, key);

    if (op == NULL) {
        return RESDELIV_ENOMEM;
    }
    op->cb.done = cb;
    op->arg = arg;
    return resdeliv__ra_submit(s, op);
}

/* ---- configuration ---- */

#define LOOP_MIN_SIZE                                                          \
    (offsetof(struct resdeliv_loop, timer_stop) +                              \
     sizeof(((struct resdeliv_loop *)0)->timer_stop))

static int copy_loop(const struct resdeliv_loop *loop, struct resdeliv_loop *l,
                     char *err, size_t errsize)
{
    memset(l, 0, sizeof(*l));
    if (loop == NULL) {
        resdeliv__errf(err, errsize, "Redis async store: loop is NULL");
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(loop->abi_version) != RESDELIV_ABI_MAJOR) {
        resdeliv__errf(err, errsize, "Redis async store: loop of ABI major %u",
                       (unsigned)RESDELIV_ABI_VERSION_MAJOR(loop->abi_version));
        return RESDELIV_EABI;
    }
    if (loop->struct_size < LOOP_MIN_SIZE) {
        resdeliv__errf(err, errsize,
                       "Redis async store: loop struct_size %u too small",
                       (unsigned)loop->struct_size);
        return RESDELIV_EINVAL;
    }
    memcpy(l, loop, loop->struct_size < sizeof(*l) ? loop->struct_size
                                                   : sizeof(*l));
    if (l->watch == NULL || l->unwatch == NULL || l->timer_start == NULL ||
        l->timer_stop == NULL) {
        resdeliv__errf(err, errsize,
                       "Redis async store: loop hook %s is NULL",
                       l->watch == NULL     ? "watch"
                       : l->unwatch == NULL ? "unwatch"
                       : l->timer_start == NULL ? "timer_start"
                                                : "timer_stop");
        return RESDELIV_EINVAL;
    }
    return 0;
}

int resdeliv__ra_configure(store *s, const struct resdeliv_redis_options *opts,
                           const struct resdeliv_loop *loop, char *err,
                           size_t errsize)
{
    struct resdeliv_redis_options given;
    struct resdeliv_redis_options *o = &given;
    struct timespec ts;
    int rc = resdeliv__redis_options_copy(opts, o, err, errsize);

    if (rc == 0) {
        rc = copy_loop(loop, &s->loop, err, errsize);
    }
    if (rc == 0) {
        rc = resdeliv__redis_url_parse(o->url, &s->url, err, errsize);
    }
    if (rc == 0) {
        rc = resdeliv__redis_prefix_dup(o->key_prefix, &s->prefix,
                                        &s->prefix_len);
    }
    if (rc != 0) {
        return rc;
    }
    s->connect_ms = o->connect_timeout_ms;
    s->command_ms = o->command_timeout_ms;
    s->publish = (int)o->publish;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
             (uint64_t)(uintptr_t)s;
    s->rng = s->rng != 0 ? s->rng : 0x9e3779b97f4a7c15u;
    return 0;
}
