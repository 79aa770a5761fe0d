/* SPDX-License-Identifier: MIT */
/*
 * The blocking Redis Streams store: one hiredis connection, the store
 * vtable over it, reconnection after I/O errors. Commands and replies are
 * built and decoded by redis_cmd.c; this file only moves them.
 *
 * Every operation is one round trip: appends pipeline one EVALSHA per item,
 * reads and infos send MULTI ... EXEC so the entries and the epoch they
 * are reported with come from the same instant (an epoch read apart from
 * its entries could label a new log's ids with the old epoch).
 *
 * SIGPIPE: a write to a connection the server has closed would raise
 * SIGPIPE, which kills a process that did not ignore it. The library may
 * not change process-wide signal handling, so each exchange blocks SIGPIPE
 * in the calling thread and consumes one it raised before unblocking.
 */
#include "redis_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* Longest wait between reconnection attempts (also capped by the connect
 * timeout) and the first one. */
#define BACKOFF_MAX_MS 1000u
#define BACKOFF_MIN_MS 10u

struct redis_store {
    redisContext *c;
    struct resdeliv__redis_url url;
    char *prefix;
    size_t prefix_len;
    uint64_t connect_ms;
    uint64_t command_ms;
    unsigned version;   /* of the connected server */
    char sha[48];       /* of the loaded append script, "" if none */
    uint32_t failures;  /* consecutive connection failures */
    uint64_t last_fail_ms;
    char errmsg[512];
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval to_tv(uint64_t ms)
{
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000u);
    tv.tv_usec = (suseconds_t)((ms % 1000u) * 1000u);
    return tv;
}

/* ---- SIGPIPE guard ---- */

struct pipe_guard {
    sigset_t old;
    int pending_before;
};

static void guard_enter(struct pipe_guard *g)
{
    sigset_t set;
    sigset_t pend;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    sigpending(&pend);
    g->pending_before = sigismember(&pend, SIGPIPE) == 1;
}

static void guard_leave(struct pipe_guard *g)
{
    sigset_t set;
    sigset_t pend;
    struct timespec zero = {0, 0};

    sigpending(&pend);
    if (!g->pending_before && sigismember(&pend, SIGPIPE) == 1) {
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- connection ---- */

static void disconnect(struct redis_store *s)
{
    if (s->c != NULL) {
        redisFree(s->c);
        s->c = NULL;
    }
    s->sha[0] = '\0';
    s->version = 0;
}

static int io_error(struct redis_store *s, const char *what)
{
    snprintf(s->errmsg, sizeof(s->errmsg), "Redis %s: %s", what,
             s->c != NULL && s->c->err ? s->c->errstr : "connection lost");
    disconnect(s);
    s->failures++;
    s->last_fail_ms = mono_ms();
    return RESDELIV_ESTORE;
}

static redisContext *open_context(const struct redis_store *s)
{
    struct timeval ctv = to_tv(s->connect_ms);
#if HIREDIS_MAJOR >= 1
    struct timeval ttv = to_tv(s->command_ms);
    redisOptions o;
    memset(&o, 0, sizeof(o));
    if (s->url.is_unix) {
        REDIS_OPTIONS_SET_UNIX(&o, s->url.path);
    } else {
        REDIS_OPTIONS_SET_TCP(&o, s->url.host, s->url.port);
    }
    o.connect_timeout = &ctv;
    o.command_timeout = &ttv;
    return redisConnectWithOptions(&o);
#else
    redisContext *c = s->url.is_unix
                          ? redisConnectUnixWithTimeout(s->url.path, ctv)
                          : redisConnectWithTimeout(s->url.host, s->url.port,
                                                    ctv);
    if (c != NULL && c->err == 0 &&
        redisSetTimeout(c, to_tv(s->command_ms)) != REDIS_OK) {
        c->err = REDIS_ERR_IO;
        snprintf(c->errstr, sizeof(c->errstr), "cannot set timeout");
    }
    return c;
#endif
}

/* One command during the handshake; NULL reply is an I/O error. */
static redisReply *hs_cmd(struct redis_store *s, int argc, const char **argv,
                          const size_t *len)
{
    return redisCommandArgv(s->c, argc, argv, len);
}

static int hs_check(struct redis_store *s, redisReply *r, const char *what,
                    int code)
{
    if (r == NULL) {
        return io_error(s, what);
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(s->errmsg, sizeof(s->errmsg), "Redis %s: %.*s", what,
                 (int)r->len, r->str);
        freeReplyObject(r);
        disconnect(s);
        return code;
    }
    return 0;
}

static int hs_auth_select(struct redis_store *s)
{
    const char *argv[3];
    size_t len[3];
    char db[16];
    redisReply *r;
    int rc;

    if (s->url.has_password) {
        int n = 0;
        argv[n] = "AUTH";
        len[n++] = 4;
        if (s->url.has_user) {
            argv[n] = s->url.user;
            len[n++] = strlen(s->url.user);
        }
        argv[n] = s->url.password;
        len[n++] = strlen(s->url.password);
        r = hs_cmd(s, n, argv, len);
        if ((rc = hs_check(s, r, "AUTH", RESDELIV_EAUTH)) != 0) {
            return rc;
        }
        freeReplyObject(r);
    }
    if (s->url.db != 0) {
        argv[0] = "SELECT";
        len[0] = 6;
        argv[1] = db;
        len[1] = (size_t)snprintf(db, sizeof(db), "%d", s->url.db);
        r = hs_cmd(s, 2, argv, len);
        if ((rc = hs_check(s, r, "SELECT", RESDELIV_ESTORE)) != 0) {
            return rc;
        }
        freeReplyObject(r);
    }
    return 0;
}

static int hs_info_script(struct redis_store *s)
{
    const char *info[2] = {"INFO", "server"};
    size_t info_len[2] = {4, 6};
    const char *load[3] = {"SCRIPT", "LOAD", resdeliv__redis_append_lua};
    size_t load_len[3] = {6, 4, 0};
    redisReply *r;
    int rc;

    load_len[2] = resdeliv__redis_append_lua_len;
    r = hs_cmd(s, 2, info, info_len);
    rc = hs_check(s, r, "INFO", RESDELIV_ESTORE);
    if (rc != 0) {
        return rc;
    }
    s->version = r->type == REDIS_REPLY_STRING
                     ? resdeliv__redis_version_parse(r->str, r->len)
                     : 0;
    freeReplyObject(r);
    r = hs_cmd(s, 3, load, load_len);
    if ((rc = hs_check(s, r, "SCRIPT LOAD", RESDELIV_ESTORE)) != 0) {
        return rc;
    }
    if (r->type == REDIS_REPLY_STRING && r->len < sizeof(s->sha)) {
        memcpy(s->sha, r->str, r->len);
        s->sha[r->len] = '\0';
    }
    freeReplyObject(r);
    return 0;
}

static int connect_now(struct redis_store *s)
{
    int rc;

    s->c = open_context(s);
    if (s->c == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "Redis connect: out of memory");
        s->failures++;
        s->last_fail_ms = mono_ms();
        return RESDELIV_ESTORE;
    }
    if (s->c->err) {
        return io_error(s, "connect");
    }
    rc = hs_auth_select(s);
    if (rc == 0) {
        rc = hs_info_script(s);
    }
    if (rc != 0) {
        if (s->c != NULL) {
            disconnect(s);
        }
        s->failures++;
        s->last_fail_ms = mono_ms();
        return rc;
    }
    s->failures = 0;
    return 0;
}

/* Connect if needed, first waiting out the backoff of the last failure. */
static int ensure(struct redis_store *s)
{
    if (s->c != NULL) {
        return 0;
    }
    if (s->failures > 0) {
        uint32_t shift = s->failures - 1 > 10 ? 10 : s->failures - 1;
        uint64_t delay = (uint64_t)BACKOFF_MIN_MS << shift;
        uint64_t spent = mono_ms() - s->last_fail_ms;
        if (delay > BACKOFF_MAX_MS) {
            delay = BACKOFF_MAX_MS;
        }
        if (delay > s->connect_ms) {
            delay = s->connect_ms;
        }
        if (spent < delay) {
            struct timespec ts = {(time_t)((delay - spent) / 1000u),
                                  (long)((delay - spent) % 1000u) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return connect_now(s) == 0 ? 0 : RESDELIV_ESTORE;
}

/* Send `n` commands and read their `n` replies: one round trip. On an I/O
 * error every reply read so far is freed and the connection dropped. */
static int exchange(struct redis_store *s,
                    const struct resdeliv__redis_argv *cmds, size_t n,
                    redisReply **replies)
{
    struct pipe_guard g;
    int rc = ensure(s);

    if (rc != 0) {
        return rc;
    }
    guard_enter(&g);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (redisAppendCommandArgv(s->c, cmds[i].argc,
                                   (const char **)cmds[i].argv,
                                   cmds[i].len) != REDIS_OK) {
            rc = RESDELIV_ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (rc == 0 && redisGetReply(s->c, &r) != REDIS_OK) {
            rc = RESDELIV_ESTORE;
        }
        replies[i] = r;
    }
    guard_leave(&g);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
        return io_error(s, "I/O");
    }
    return 0;
}

static void free_replies(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i] != NULL) {
            freeReplyObject(replies[i]);
        }
    }
}

static int keys_for(const struct redis_store *s,
                    const struct resdeliv_log_key *key,
                    struct resdeliv__redis_keys *out)
{
    return resdeliv__redis_keys_build(s->prefix, s->prefix_len, key->app_id,
                                      key->app_id_len, key->channel,
                                      key->channel_len, out);
}

/* ---- append ---- */

struct append_job {
    struct resdeliv__redis_keys *keys;
    struct resdeliv__redis_argv *cmds;
    redisReply **replies;
    struct resdeliv_append_result *results;
    char (*epochs)[RESDELIV_EPOCH_BUFSIZE];
};

static void job_free(struct append_job *j, size_t n)
{
    if (j->keys != NULL) {
        for (size_t i = 0; i < n; i++) {
            resdeliv__redis_keys_clear(&j->keys[i]);
        }
    }
    if (j->replies != NULL) {
        free_replies(j->replies, n);
    }
    free(j->keys);
    free(j->cmds);
    free(j->replies);
    free(j->results);
    free(j->epochs);
}

static int job_prepare(struct redis_store *s, struct append_job *j,
                       const char *app, size_t app_len,
                       const struct resdeliv_append_item *items, size_t n)
{
    j->keys = calloc(n, sizeof(*j->keys));
    j->cmds = calloc(n, sizeof(*j->cmds));
    j->replies = calloc(n, sizeof(*j->replies));
    j->results = calloc(n, sizeof(*j->results));
    j->epochs = calloc(n, sizeof(*j->epochs));
    if (!j->keys || !j->cmds || !j->replies || !j->results || !j->epochs) {
        return RESDELIV_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = resdeliv__redis_keys_build(
            s->prefix, s->prefix_len, app, app_len, items[i].channel,
            items[i].channel_len, &j->keys[i]);
        if (rc == 0) {
            rc = resdeliv_epoch_new(j->epochs[i], sizeof(j->epochs[i]));
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static void build_appends(struct redis_store *s, struct append_job *j,
                          const struct resdeliv_append_item *items, size_t n,
                          int eval)
{
    for (size_t i = 0; i < n; i++) {
        resdeliv__redis_argv_append(&j->cmds[i], eval ? NULL : s->sha,
                                    &j->keys[i], &items[i], j->epochs[i],
                                    s->version);
    }
}

/* Run the items whose script was missing again with EVAL, in order. */
static int retry_noscript(struct redis_store *s, struct append_job *j,
                          const struct resdeliv_append_item *items, size_t n)
{
    size_t m = 0;
    int rc;

    for (size_t i = 0; i < n; i++) {
        if (resdeliv__redis_is_noscript(j->replies[i])) {
            freeReplyObject(j->replies[i]);
            j->replies[i] = NULL;
            resdeliv__redis_argv_append(&j->cmds[m], NULL, &j->keys[i],
                                        &items[i], j->epochs[i], s->version);
            m++;
        }
    }
    if (m == 0) {
        return 0;
    }
    redisReply **again = calloc(m, sizeof(*again));
    if (again == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = exchange(s, j->cmds, m, again);
    for (size_t i = 0, k = 0; rc == 0 && i < n; i++) {
        if (j->replies[i] == NULL) {
            j->replies[i] = again[k++];
        }
    }
    free(again);
    return rc;
}

static int redis_append(void *self, const char *app_id, size_t app_id_len,
                        const struct resdeliv_append_item *items, size_t n,
                        resdeliv_append_cb cb, void *arg)
{
    struct redis_store *s = self;
    struct append_job j;
    int rc;

    memset(&j, 0, sizeof(j));
    rc = job_prepare(s, &j, app_id, app_id_len, items, n);
    if (rc == 0) {
        rc = ensure(s);
    }
    if (rc == 0) {
        build_appends(s, &j, items, n, s->sha[0] == '\0');
        rc = exchange(s, j.cmds, n, j.replies);
    }
    if (rc == 0) {
        rc = retry_noscript(s, &j, items, n);
    }
    if (rc != 0) {
        job_free(&j, n);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        j.results[i].status = resdeliv__redis_decode_append(
            j.replies[i], &j.results[i], s->errmsg, sizeof(s->errmsg));
    }
    cb(arg, 0, j.results, n);
    job_free(&j, n);
    return 0;
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
        if (resdeliv__redis_reply_error(replies[i], s->errmsg,
                                        sizeof(s->errmsg)) != 0) {
            return RESDELIV_ESTORE;
        }
    }
    if (resdeliv__redis_reply_error(ex, s->errmsg, sizeof(s->errmsg)) != 0) {
        return RESDELIV_ESTORE;
    }
    if (ex->type != REDIS_REPLY_ARRAY || ex->elements != n) {
        snprintf(s->errmsg, sizeof(s->errmsg),
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
    const redisReply *range = ex->element[0];
    struct resdeliv_stored_entry *entries = NULL;
    size_t n = 0;
    int rc = resdeliv__redis_decode_epoch(ex->element[1], epoch, s->errmsg,
                                          sizeof(s->errmsg));

    if (rc == 0 && epoch[0] != '\0' && range->type == REDIS_REPLY_ARRAY &&
        range->elements > 0) {
        size_t cap = range->elements < max ? range->elements : max;
        entries = calloc(cap, sizeof(*entries));
        if (entries == NULL) {
            return RESDELIV_ENOMEM;
        }
        rc = resdeliv__redis_decode_entries(range, entries, cap, &n,
                                            s->errmsg, sizeof(s->errmsg));
    }
    if (rc == 0) {
        /* A stream without its epoch key is a lost log: nothing to read. */
        cb(arg, 0, entries, n, epoch);
    }
    free(entries);
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

    if (rc != 0) {
        return rc;
    }
    rc = ensure(s);
    if (rc == 0 && resdeliv__redis_argv_range(&cmds[1], 0, &k, after, max,
                                              s->version) != 0) {
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
        rc = exchange(s, cmds, 4, replies);
    }
    if (rc == 0) {
        rc = exec_reply(s, replies, 4, 2, &ex);
    }
    if (rc == 0) {
        rc = read_deliver(s, ex, max, cb, arg);
    }
    free_replies(replies, 4);
    resdeliv__redis_keys_clear(&k);
    return rc;
}

static int info_decode(struct redis_store *s, const redisReply *ex,
                       const struct resdeliv_id *after, uint64_t cap,
                       struct resdeliv_log_info *info)
{
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
    if (ex->elements < 3) {
        info->count_after = (int64_t)info->length;
        return 0;
    }
    rc = resdeliv__redis_decode_after(ex->element[2], cap, info, s->errmsg,
                                      sizeof(s->errmsg));
    if (rc == 0 && info->capped &&
        (after == NULL || resdeliv_id_cmp(after, &info->first) < 0)) {
        info->count_after = (int64_t)info->length;
    }
    return rc;
}

/* Exact count_after of a capped info: counted on the server, so only the
 * number crosses the network. A failure leaves -1 (unknown). */
static void count_after(struct redis_store *s,
                        const struct resdeliv__redis_keys *k,
                        const struct resdeliv_id *after,
                        struct resdeliv_log_info *info)
{
    struct resdeliv__redis_argv cmd;
    redisReply *r = NULL;

    if (resdeliv__redis_argv_count(&cmd, k, after, s->version) != 0 ||
        exchange(s, &cmd, 1, &r) != 0) {
        return;
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
        info->count_after = r->integer;
    }
    freeReplyObject(r);
}

static int redis_info(void *self, const struct resdeliv_log_key *key,
                      const struct resdeliv_id *after, uint64_t cap,
                      resdeliv_info_cb cb, void *arg)
{
    static const char *const xinfo[] = {"XINFO", "STREAM"};
    static const char *const get[] = {"GET"};
    static const struct resdeliv_id zero = {0, 0};
    struct redis_store *s = self;
    struct resdeliv__redis_keys k;
    struct resdeliv__redis_argv cmds[5];
    redisReply *replies[5] = {NULL, NULL, NULL, NULL, NULL};
    struct resdeliv_log_info info;
    redisReply *ex = NULL;
    size_t total = 4;
    int rc = keys_for(s, key, &k);

    if (rc != 0) {
        return rc;
    }
    memset(&info, 0, sizeof(info));
    rc = ensure(s);
    if (rc == 0) {
        resdeliv__redis_argv_key(&cmds[1], xinfo, 2, k.stream, k.stream_len);
        resdeliv__redis_argv_key(&cmds[2], get, 1, k.epoch, k.epoch_len);
        if ((after != NULL || cap > 0) &&
            resdeliv__redis_argv_range(&cmds[3], 1, &k,
                                       after ? after : &zero,
                                       cap ? cap + 1 : 0, s->version) == 0) {
            total = 5;
        }
        multi_exec(&cmds[0], &cmds[total - 1]);
        rc = exchange(s, cmds, total, replies);
    }
    if (rc == 0) {
        rc = exec_reply(s, replies, total, total - 2, &ex);
    }
    if (rc == 0) {
        rc = info_decode(s, ex, after, cap, &info);
    }
    free_replies(replies, total);
    memset(replies, 0, sizeof(replies));
    if (rc == 0 && info.capped && info.count_after < 0 && after != NULL) {
        count_after(s, &k, after, &info);
    }
    if (rc == 0) {
        cb(arg, 0, &info);
    }
    free_replies(replies, total);
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

    if (rc != 0) {
        return rc;
    }
    resdeliv__redis_argv_key(&cmd, del, 1, k.stream, k.stream_len);
    cmd.argv[cmd.argc] = k.epoch;
    cmd.len[cmd.argc++] = k.epoch_len;
    rc = exchange(s, &cmd, 1, &r);
    if (rc == 0) {
        rc = resdeliv__redis_reply_error(r, s->errmsg, sizeof(s->errmsg));
    }
    if (rc == 0) {
        cb(arg, 0);
    }
    free_replies(&r, 1);
    resdeliv__redis_keys_clear(&k);
    return rc;
}

static void redis_destroy(void *self)
{
    struct redis_store *s = self;

    if (s == NULL) {
        return;
    }
    disconnect(s);
    free(s->prefix);
    memset(&s->url, 0, sizeof(s->url));
    free(s);
}

static const char *redis_errmsg(void *self)
{
    struct redis_store *s = self;
    return s->errmsg;
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

static int copy_options(const struct resdeliv_redis_options *opts,
                        struct resdeliv_redis_options *o, char *err,
                        size_t errsize)
{
    resdeliv_redis_options_init(o);
    if (opts == NULL || opts->url == NULL) {
        resdeliv__errf(err, errsize, "Redis store: options and url needed");
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(opts->abi_version) != RESDELIV_ABI_MAJOR) {
        resdeliv__errf(err, errsize, "Redis store: options of ABI major %u",
                       (unsigned)RESDELIV_ABI_VERSION_MAJOR(opts->abi_version));
        return RESDELIV_EABI;
    }
    size_t n = opts->struct_size < sizeof(*o) ? opts->struct_size
                                              : sizeof(*o);
    struct resdeliv_redis_options given;
    memset(&given, 0, sizeof(given));
    memcpy(&given, opts, n);
    o->url = given.url;
    if (given.key_prefix != NULL) {
        o->key_prefix = given.key_prefix;
    }
    if (given.connect_timeout_ms != 0) {
        o->connect_timeout_ms = given.connect_timeout_ms;
    }
    if (given.command_timeout_ms != 0) {
        o->command_timeout_ms = given.command_timeout_ms;
    }
    return 0;
}

static int store_init(struct redis_store *s,
                      const struct resdeliv_redis_options *o, char *err,
                      size_t errsize)
{
    int rc = resdeliv__redis_url_parse(o->url, &s->url, err, errsize);

    if (rc != 0) {
        return rc;
    }
    s->prefix_len = strlen(o->key_prefix);
    s->prefix = malloc(s->prefix_len + 1);
    if (s->prefix == NULL) {
        return RESDELIV_ENOMEM;
    }
    memcpy(s->prefix, o->key_prefix, s->prefix_len + 1);
    s->connect_ms = o->connect_timeout_ms;
    s->command_ms = o->command_timeout_ms;
    rc = connect_now(s);
    if (rc == RESDELIV_ESTORE && s->failures > 0 && s->version == 0 &&
        strncmp(s->errmsg, "Redis connect", 13) == 0) {
        /* Unreachable now: connect on first use (servers start before
         * their Redis does). */
        return 0;
    }
    if (rc != 0) {
        resdeliv__errf(err, errsize, "%s", s->errmsg);
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
    rc = copy_options(opts, &o, err, errsize);
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
