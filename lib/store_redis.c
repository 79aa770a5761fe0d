/* SPDX-License-Identifier: MIT */
/*
 * The blocking Redis Streams store: the store vtable over one hiredis
 * connection. The connection, its handshake and reconnection after I/O
 * errors are in redis_conn.c; commands and replies are built and decoded
 * by redis_cmd.c; this file only moves them.
 *
 * Every operation is one round trip: an append sends, per log of the
 * batch, a plain pipeline of XADDs between two GETs of the epoch, or an
 * EVALSHA of the append script where the pipeline cannot do
 * (redis_cmd_batch.c groups the items and says when); only a log to
 * create or recreate takes a second round trip, the script's. Reads and
 * infos send MULTI ... EXEC so the entries and the epoch they are
 * reported with come from the same instant (an epoch read apart from its
 * entries could label a new log's ids with the old epoch). An info needs
 * a second round trip only for a log longer than the cap asked for, or
 * when more than a few entries follow `after` (the count script).
 */
#include "redis_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct redis_store {
    struct resdeliv__redis_conn conn;
    char *prefix;
    size_t prefix_len;
    int publish; /* the script PUBLISHes each entry (bus.h) */
    struct resdeliv__redis_epochs epochs;
};

/* Pages up to this many entries are decoded on the stack. */
#define STACK_ENTRIES 128

static int keys_for(const struct redis_store *s,
                    const struct resdeliv_log_key *key,
                    struct resdeliv__redis_keys *out)
{
    return resdeliv__redis_keys_build(s->prefix, s->prefix_len, key->app_id,
                                      key->app_id_len, key->channel,
                                      key->channel_len, out);
}

/* ---- append ---- */

static void send_groups(struct redis_store *s, struct resdeliv__redis_batch *b,
                        const struct resdeliv_append_item *items,
                        size_t *idx, size_t m, int eval,
                        struct resdeliv__redis_cmd *cmds)
{
    for (size_t i = 0; i < m; i++) {
        resdeliv__redis_batch_argv(b, idx[i],
                                   eval ? NULL : s->conn.sha, items,
                                   s->conn.version);
        cmds[i] = b->groups[idx[i]].cmd;
    }
}

/* One round trip for the groups listed in idx[0..m); replies land in
 * b->replies[group]. */
static int run_groups(struct redis_store *s, struct resdeliv__redis_batch *b,
                      const struct resdeliv_append_item *items, size_t *idx,
                      size_t m, int eval)
{
    struct resdeliv__redis_cmd one = {0, NULL, NULL};
    struct resdeliv__redis_cmd *cmds =
        m == 1 ? &one : calloc(m, sizeof(*cmds));
    redisReply **got = b->replies + b->n; /* the scratch half */
    int rc;

    if (cmds == NULL) {
        return RESDELIV_ENOMEM;
    }
    send_groups(s, b, items, idx, m, eval, cmds);
    rc = resdeliv__redis_conn_exchangev(&s->conn, cmds, m, got);
    for (size_t i = 0; rc == 0 && i < m; i++) {
        b->replies[idx[i]] = got[i];
    }
    if (cmds != &one) {
        free(cmds);
    }
    return rc;
}

/* Run the groups whose script the server lost again with EVAL, in
 * order: nothing of a NOSCRIPT call was executed. */
static int retry_noscript(struct redis_store *s,
                          struct resdeliv__redis_batch *b,
                          const struct resdeliv_append_item *items)
{
    size_t *idx = b->queue + b->ngroups; /* second half of queue */
    size_t m = 0;

    for (size_t g = 0; g < b->ngroups; g++) {
        if (resdeliv__redis_is_noscript(b->replies[g])) {
            b->replies[g] = NULL;
            idx[m++] = g;
        }
    }
    if (m == 0) {
        return 0;
    }
    return run_groups(s, b, items, idx, m, 1);
}

/* Sort the first round's replies out: a script call's into
 * b->replies[g]; a pipeline's decoded here, its group listed
 * in b->queue[0, *nfall) when the script must append the items. */
static void take_replies(struct redis_store *s, struct resdeliv__redis_batch *b,
                         redisReply **rep, size_t *nfall)
{
    size_t k = 0;

    *nfall = 0;
    for (size_t g = 0; g < b->ngroups; g++) {
        size_t ncmds = b->groups[g].ncmds;
        if (!b->groups[g].pipe) {
            b->replies[g] = rep[k++];
            continue;
        }
        for (size_t i = 0; i < ncmds; i++) {
            if (resdeliv__redis_batch_pipe_reply(b, g, rep[k], s->conn.errmsg,
                                                 sizeof(s->conn.errmsg)) ==
                RESDELIV__REDIS_FALLBACK) {
                b->queue[(*nfall)++] = g;
            }
            k++;
        }
    }
}

/* The first round trip: every group, as a pipeline or, when it must, as
 * a script call; the batch's slots hold every command and reply. */
static int first_round(struct redis_store *s, struct resdeliv__redis_batch *b,
                       const struct resdeliv_append_item *items, size_t *nfall)
{
    const char *sha = s->conn.sha[0] != '\0' ? s->conn.sha : NULL;
    uint64_t now = resdeliv__redis_server_ms(s->conn.skew_ms);
    redisReply **rep = b->replies + b->n;
    size_t m = 0;
    int rc;

    for (size_t g = 0; g < b->ngroups; g++) {
        if (resdeliv__redis_batch_fast(b, g, s->conn.version)) {
            m += resdeliv__redis_batch_pipe(b, g, items, now, b->cmds + m);
        } else {
            resdeliv__redis_batch_argv(b, g, sha, items, s->conn.version);
            b->cmds[m++] = b->groups[g].cmd;
        }
    }
    rc = resdeliv__redis_conn_exchangev(&s->conn, b->cmds, m, rep);
    if (rc == 0) {
        take_replies(s, b, rep, nfall);
    }
    return rc;
}

static int redis_append(void *self, const char *app_id, size_t app_id_len,
                        const struct resdeliv_append_item *items, size_t n,
                        resdeliv_append_cb cb, void *arg)
{
    struct redis_store *s = self;
    struct resdeliv__redis_batch b;
    size_t nfall = 0;
    int rc = resdeliv__redis_batch_init(&b, s->prefix, s->prefix_len, app_id,
                                        app_id_len, items, n, &s->epochs);

    resdeliv__redis_conn_begin(&s->conn);
    b.publish = s->publish;
    if (rc == 0) {
        rc = resdeliv__redis_conn_ensure(&s->conn);
    }
    if (rc == 0) {
        rc = first_round(s, &b, items, &nfall);
    }
    if (rc == 0 && nfall > 0) {
        /* Logs to create or recreate: the script, in order per log. */
        rc = run_groups(s, &b, items, b.queue, nfall, s->conn.sha[0] == '\0');
    }
    if (rc == 0) {
        rc = retry_noscript(s, &b, items);
    }
    if (rc == 0) {
        for (size_t g = 0; g < b.ngroups; g++) {
            if (!b.groups[g].pipe) {
                resdeliv__redis_batch_decode(&b, g, b.replies[g],
                                             s->conn.errmsg,
                                             sizeof(s->conn.errmsg));
            }
        }
        resdeliv__redis_batch_skew(&b, &s->conn.skew_ms);
        cb(arg, 0, b.results, n);
    }
    resdeliv__redis_batch_clear(&b);
    return rc;
}

/* ---- read, info, drop ---- */

static void multi_exec(struct resdeliv__redis_argv *first,
                       struct resdeliv__redis_argv *last)
{
    static const char *const multi[] = {"MULTI"};
    static const char *const exec[] = {"EXEC"};

    resdeliv__redis_argv_key(first, multi, 1, NULL, 0);
    first->argc = 1;
    resdeliv__redis_argv_key(last, exec, 1, NULL, 0);
    last->argc = 1;
}

/* The EXEC reply of `n` queued commands, or an error. */
static int exec_reply(struct redis_store *s, redisReply **replies,
                      size_t total, size_t n, redisReply **out)
{
    redisReply *ex = replies[total - 1];

    for (size_t i = 0; i + 1 < total; i++) {
        if (resdeliv__redis_reply_error(replies[i], s->conn.errmsg,
                                        sizeof(s->conn.errmsg)) != 0) {
            return RESDELIV_ESTORE;
        }
    }
    if (resdeliv__redis_reply_error(ex, s->conn.errmsg,
                                    sizeof(s->conn.errmsg)) != 0) {
        return RESDELIV_ESTORE;
    }
    if (ex->type != REDIS_REPLY_ARRAY || ex->elements != n) {
        snprintf(s->conn.errmsg, sizeof(s->conn.errmsg),
                 "unexpected Redis reply to EXEC");
        return RESDELIV_ESTORE;
    }
    *out = ex;
    return 0;
}

static int read_deliver(struct redis_store *s, const redisReply *ex,
                        size_t max, resdeliv_read_cb cb, void *arg)
{
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_stored_entry local[STACK_ENTRIES];
    struct resdeliv_stored_entry *entries = local;
    const redisReply *range = ex->element[0];
    size_t n = 0;
    int rc = resdeliv__redis_decode_epoch(ex->element[1], epoch, s->conn.errmsg,
                                          sizeof(s->conn.errmsg));

    if (rc == 0 && epoch[0] != '\0' && range->type == REDIS_REPLY_ARRAY &&
        range->elements > 0) {
        size_t cap = range->elements < max ? range->elements : max;
        if (cap > STACK_ENTRIES) {
            entries = malloc(cap * sizeof(*entries));
            if (entries == NULL) {
                return RESDELIV_ENOMEM;
            }
        }
        rc = resdeliv__redis_decode_entries(
            range, entries, cap, &n, s->conn.errmsg, sizeof(s->conn.errmsg));
    }
    if (rc == 0) {
        /* A stream without its epoch key is a lost log: nothing to read. */
        cb(arg, 0, entries, n, epoch);
    }
    if (entries != local) {
        free(entries);
    }
    return rc;
}

static int redis_read(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, size_t max,
                      resdeliv_read_cb cb, void *arg)
{
    static const char *const get[] = {"GET"};
    struct redis_store *s = self;
    struct resdeliv__redis_keys k;
    struct resdeliv__redis_argv cmds[4];
    redisReply *replies[4] = {NULL, NULL, NULL, NULL};
    redisReply *ex = NULL;
    int rc = keys_for(s, key, &k);

    resdeliv__redis_conn_begin(&s->conn);
    if (rc != 0) {
        return rc;
    }
    rc = resdeliv__redis_conn_ensure(&s->conn);
    if (rc == 0 && resdeliv__redis_argv_range(&cmds[1], 0, &k, after, max,
                                              s->conn.version) != 0) {
        /* Nothing can follow the largest id: only the epoch matters. */
        static const char *const noop[] = {"XRANGE"};
        resdeliv__redis_argv_key(&cmds[1], noop, 1, k.stream, k.stream_len);
        cmds[1].argv[2] = "+";
        cmds[1].argv[3] = "-";
        cmds[1].len[2] = cmds[1].len[3] = 1;
        cmds[1].argc = 4;
    }
    if (rc == 0) {
        resdeliv__redis_argv_key(&cmds[2], get, 1, k.epoch, k.epoch_len);
        multi_exec(&cmds[0], &cmds[3]);
        rc = resdeliv__redis_conn_exchange(&s->conn, cmds, 4, replies);
    }
    if (rc == 0) {
        rc = exec_reply(s, replies, 4, 2, &ex);
    }
    if (rc == 0) {
        rc = read_deliver(s, ex, max, cb, arg);
    }
    resdeliv__redis_keys_clear(&k);
    return rc;
}

/* Decode the EXEC of an info; 1 when the count script must run. */
static int info_decode(struct redis_store *s, const redisReply *ex,
                       const struct resdeliv_id *after, uint64_t cap,
                       uint64_t probe_count, struct resdeliv_log_info *info)
{
    int rc = resdeliv__redis_decode_epoch(
        ex->element[1], info->epoch, s->conn.errmsg, sizeof(s->conn.errmsg));

    if (rc == 0) {
        rc = resdeliv__redis_decode_xinfo(ex->element[0], info, s->conn.errmsg,
                                          sizeof(s->conn.errmsg));
    }
    if (rc != 0 || !info->exists || info->epoch[0] == '\0') {
        /* A stream without its epoch key is a lost log. */
        memset(info, 0, sizeof(*info));
        return rc;
    }
    return resdeliv__redis_info_counts(
        info, after, cap, ex->elements > 2 ? ex->element[2] : NULL,
        probe_count, s->conn.errmsg, sizeof(s->conn.errmsg));
}

/* count_after (and skip_to past the cap) counted on the server, so only
 * numbers cross the network. */
static int count_after(struct redis_store *s,
                       const struct resdeliv__redis_keys *k,
                       const struct resdeliv_id *after, uint64_t cap,
                       struct resdeliv_log_info *info)
{
    static const struct resdeliv_id zero = {0, 0};
    struct resdeliv__redis_argv cmd;
    redisReply *r = NULL;
    int rc = resdeliv__redis_argv_count(&cmd, k, after ? after : &zero, cap,
                                        s->conn.version);

    if (rc != 0) {
        /* Nothing can follow the largest id. */
        info->count_after = 0;
        return 0;
    }
    rc = resdeliv__redis_conn_exchange(&s->conn, &cmd, 1, &r);
    if (rc == 0) {
        rc = resdeliv__redis_decode_count(r, info, s->conn.errmsg,
                                          sizeof(s->conn.errmsg));
    }
    return rc;
}

static int redis_info(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, uint64_t cap,
                      resdeliv_info_cb cb, void *arg)
{
    static const char *const xinfo[] = {"XINFO", "STREAM"};
    static const char *const get[] = {"GET"};
    struct redis_store *s = self;
    struct resdeliv__redis_keys k;
    struct resdeliv__redis_argv cmds[5];
    redisReply *replies[5] = {NULL, NULL, NULL, NULL, NULL};
    struct resdeliv_log_info info;
    redisReply *ex = NULL;
    uint64_t probe = resdeliv__redis_probe_count(after, cap);
    size_t total = 4;
    int rc = keys_for(s, key, &k);

    resdeliv__redis_conn_begin(&s->conn);
    if (rc != 0) {
        return rc;
    }
    memset(&info, 0, sizeof(info));
    rc = resdeliv__redis_conn_ensure(&s->conn);
    if (rc == 0) {
        resdeliv__redis_argv_key(&cmds[1], xinfo, 2, k.stream, k.stream_len);
        resdeliv__redis_argv_key(&cmds[2], get, 1, k.epoch, k.epoch_len);
        if (probe > 0 && resdeliv__redis_argv_range(&cmds[3], 1, &k, after,
                                                    probe,
                                                    s->conn.version) == 0) {
            total = 5;
        }
        multi_exec(&cmds[0], &cmds[total - 1]);
        rc = resdeliv__redis_conn_exchange(&s->conn, cmds, total, replies);
    }
    if (rc == 0) {
        rc = exec_reply(s, replies, total, total - 2, &ex);
    }
    if (rc == 0) {
        rc = info_decode(s, ex, after, cap, total == 5 ? probe : 0, &info);
    }
    if (rc == 1) {
        rc = count_after(s, &k, after, cap, &info);
    }
    if (rc == 0) {
        cb(arg, 0, &info);
    }
    resdeliv__redis_keys_clear(&k);
    return rc;
}

static int redis_drop(void *self, const struct resdeliv_log_key *key,
                      resdeliv_done_cb cb, void *arg)
{
    static const char *const del[] = {"DEL"};
    struct redis_store *s = self;
    struct resdeliv__redis_keys k;
    struct resdeliv__redis_argv cmd;
    redisReply *r = NULL;
    int rc = keys_for(s, key, &k);

    resdeliv__redis_conn_begin(&s->conn);
    if (rc != 0) {
        return rc;
    }
    resdeliv__redis_argv_key(&cmd, del, 1, k.stream, k.stream_len);
    cmd.argv[cmd.argc] = k.epoch;
    cmd.len[cmd.argc++] = k.epoch_len;
    rc = resdeliv__redis_conn_exchange(&s->conn, &cmd, 1, &r);
    if (rc == 0) {
        rc = resdeliv__redis_reply_error(r, s->conn.errmsg,
                                         sizeof(s->conn.errmsg));
    }
    if (rc == 0) {
        cb(arg, 0);
    }
    resdeliv__redis_keys_clear(&k);
    return rc;
}

static void redis_destroy(void *self)
{
    struct redis_store *s = self;

    if (s == NULL) {
        return;
    }
    resdeliv__redis_conn_free(&s->conn);
    free(s->prefix);
    memset(&s->conn.url, 0, sizeof(s->conn.url));
    free(s);
}

static const char *redis_errmsg(void *self)
{
    struct redis_store *s = self;
    return s->conn.errmsg;
}

static const struct resdeliv_store_ops redis_ops = {
    RESDELIV_STRUCT_HEAD(redis_ops),
    .flags = RESDELIV_STORE_SYNC,
    .name = "redis",
    .append = redis_append,
    .read = redis_read,
    .info = redis_info,
    .drop = redis_drop,
    .destroy = redis_destroy,
    .errmsg = redis_errmsg,
};

/* ---- construction ---- */

static int store_init(struct redis_store *s,
                      const struct resdeliv_redis_options *o, char *err,
                      size_t errsize)
{
    int rc = resdeliv__redis_url_parse(o->url, &s->conn.url, err, errsize);

    if (rc != 0) {
        return rc;
    }
    rc = resdeliv__redis_prefix_dup(o->key_prefix, &s->prefix,
                                    &s->prefix_len);
    if (rc != 0) {
        return rc;
    }
    s->conn.connect_ms = o->connect_timeout_ms;
    s->conn.command_ms = o->command_timeout_ms;
    s->publish = (int)o->publish;
    rc = resdeliv__redis_conn_open(&s->conn);
    if (rc == RESDELIV_ESTORE && s->conn.failures > 0 && s->conn.version == 0 &&
        strncmp(s->conn.errmsg, "Redis connect", 13) == 0) {
        /* Unreachable now: connect on first use (servers start before
         * their Redis does). */
        return 0;
    }
    if (rc != 0) {
        resdeliv__errf(err, errsize, "%s", s->conn.errmsg);
    }
    return rc;
}

int resdeliv_store_redis_new(const struct resdeliv_redis_options *opts,
                             resdeliv_store **out, char *err, size_t errsize)
{
    struct resdeliv_redis_options o;
    struct redis_store *s;
    int rc;

    if (out == NULL) {
        resdeliv__errf(err, errsize, "Redis store: out must not be NULL");
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    rc = resdeliv__redis_options_copy(opts, &o, err, errsize);
    if (rc != 0) {
        return rc;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = store_init(s, &o, err, errsize);
    if (rc == 0) {
        rc = resdeliv_store_new(&redis_ops, s, out);
    }
    if (rc != 0) {
        redis_destroy(s);
    }
    return rc;
}

int resdeliv__store_redis_from_url(const char *url, const char *key_prefix,
                                   resdeliv_store **out, char *err,
                                   size_t errsize)
{
    struct resdeliv_redis_options o;

    resdeliv_redis_options_init(&o);
    o.url = url;
    if (key_prefix != NULL) {
        o.key_prefix = key_prefix;
    }
    return resdeliv_store_redis_new(&o, out, err, errsize);
}
