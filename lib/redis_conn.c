/* SPDX-License-Identifier: MIT */
/*
 * The blocking Redis store's connection (store_redis.c holds the store
 * itself): connecting with the URL's timeouts, the handshake (AUTH,
 * SELECT, INFO for the server version, SCRIPT LOAD of the append script),
 * reconnection after I/O errors with a backoff that doubles per
 * consecutive failure, and the pipelined round trip every operation is.
 * Two helpers that keep system calls off the per-message path are shared
 * with the event-loop store: the SIGPIPE guard and the epoch token pool
 * (one getrandom(2) per RESDELIV__REDIS_EPOCH_POOL new-log tokens).
 *
 * SIGPIPE: a write to a connection the server has closed would raise
 * SIGPIPE, which kills a process that did not ignore it, and the library
 * may not change process-wide signal handling. hiredis writes with
 * write(2), so exchanges format their commands themselves and send them
 * with MSG_NOSIGNAL: no signal, no mask calls per message. They read and
 * build the replies themselves too (redis_resp.c), into an arena. The
 * handshake's few commands go through hiredis and the SIGPIPE guard
 * below, as do the event-loop store's writes: it
 * does nothing when the process ignores SIGPIPE (checked once per
 * connect); otherwise it blocks SIGPIPE in the calling thread and only a
 * failed write looks for a SIGPIPE to consume: a write raises one only
 * when it fails with EPIPE, and one can be pending before we start only
 * when the caller had blocked SIGPIPE already, and is then left pending.
 */
#include "redis_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

/* Longest wait between reconnection attempts (also capped by the connect
 * timeout) and the first one. */
#define BACKOFF_MAX_MS 1000u
#define BACKOFF_MIN_MS 10u

/* A write or read buffer larger than this is not kept between
 * exchanges. */
#define WBUF_KEEP (256u * 1024u)

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

int resdeliv__pipe_ignored(void)
{
    struct sigaction sa;

    return sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

void resdeliv__pipe_enter(struct resdeliv__pipe_guard *g, int ignored)
{
    sigset_t set;
    sigset_t pend;

    g->active = !ignored;
    g->pending_before = 0;
    if (!g->active) {
        return;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    if (sigismember(&g->old, SIGPIPE) == 1 && sigpending(&pend) == 0) {
        g->pending_before = sigismember(&pend, SIGPIPE) == 1;
    }
}

void resdeliv__pipe_leave(struct resdeliv__pipe_guard *g, int failed)
{
    sigset_t set;
    sigset_t pend;
    struct timespec zero = {0, 0};

    if (!g->active) {
        return;
    }
    if (failed && !g->pending_before && sigpending(&pend) == 0 &&
        sigismember(&pend, SIGPIPE) == 1) {
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- epoch tokens ---- */

int resdeliv__redis_epoch_take(struct resdeliv__redis_epochs *pool,
                               char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char *raw;
    size_t got = 0;

    while (pool->left == 0 && got < sizeof(pool->raw)) {
        ssize_t r = getrandom(pool->raw + got, sizeof(pool->raw) - got, 0);
        if (r < 0 && errno != EINTR) {
            /* No syscall (or filtered): id.c knows the fallback. */
            return resdeliv_epoch_new(out, RESDELIV_EPOCH_BUFSIZE);
        }
        got += r > 0 ? (size_t)r : 0;
        if (got == sizeof(pool->raw)) {
            pool->left = RESDELIV__REDIS_EPOCH_POOL;
        }
    }
    raw = pool->raw + 8 * --pool->left;
    for (size_t i = 0; i < 8; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0x0f];
    }
    out[16] = '\0';
    /* A token handed out is not kept where it could be handed out again. */
    memset(raw, 0, 8);
    return 0;
}

/* ---- connection ---- */

void resdeliv__redis_conn_close(struct resdeliv__redis_conn *s)
{
    if (s->c != NULL) {
        redisFree(s->c);
        s->c = NULL;
    }
    free(s->wbuf);
    s->wbuf = NULL;
    s->wcap = 0;
    free(s->rbuf);
    s->rbuf = NULL;
    s->rcap = 0;
    s->sha[0] = '\0';
    s->version = 0;
}

void resdeliv__redis_conn_free(struct resdeliv__redis_conn *s)
{
    resdeliv__redis_conn_close(s);
    resdeliv__redis_arena_free(&s->arena);
}

void resdeliv__redis_conn_begin(struct resdeliv__redis_conn *s)
{
    resdeliv__redis_arena_reset(&s->arena);
}

/* Drop the connection after an I/O error whose text is in errmsg. */
static int conn_lost(struct resdeliv__redis_conn *s)
{
    resdeliv__redis_conn_close(s);
    s->failures++;
    s->last_fail_ms = mono_ms();
    return RESDELIV_ESTORE;
}

static int io_error(struct resdeliv__redis_conn *s, const char *what)
{
    snprintf(s->errmsg, sizeof(s->errmsg), "Redis %s: %s", what,
             s->c != NULL && s->c->err ? s->c->errstr : "connection lost");
    return conn_lost(s);
}

static redisContext *open_context(const struct resdeliv__redis_conn *s)
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
static redisReply *hs_cmd(struct resdeliv__redis_conn *s, int argc,
                          const char **argv, const size_t *len)
{
    struct resdeliv__pipe_guard g;
    redisReply *r;

    resdeliv__pipe_enter(&g, s->pipe_ignored);
    r = redisCommandArgv(s->c, argc, argv, len);
    resdeliv__pipe_leave(&g, r == NULL);
    return r;
}

static int hs_check(struct resdeliv__redis_conn *s, redisReply *r,
                    const char *what, int code)
{
    if (r == NULL) {
        return io_error(s, what);
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(s->errmsg, sizeof(s->errmsg), "Redis %s: %.*s", what,
                 (int)r->len, r->str);
        freeReplyObject(r);
        resdeliv__redis_conn_close(s);
        return code;
    }
    return 0;
}

static int hs_auth_select(struct resdeliv__redis_conn *s)
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

static int hs_info_script(struct resdeliv__redis_conn *s)
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

int resdeliv__redis_conn_open(struct resdeliv__redis_conn *s)
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
    s->pipe_ignored = resdeliv__pipe_ignored();
    rc = hs_auth_select(s);
    if (rc == 0) {
        rc = hs_info_script(s);
    }
    if (rc != 0) {
        if (s->c != NULL) {
            resdeliv__redis_conn_close(s);
        }
        s->failures++;
        s->last_fail_ms = mono_ms();
        return rc;
    }
    s->failures = 0;
    return 0;
}

int resdeliv__redis_conn_ensure(struct resdeliv__redis_conn *s)
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
    return resdeliv__redis_conn_open(s) == 0 ? 0 : RESDELIV_ESTORE;
}

static char *put_num(char *o, char lead, size_t v)
{
    char tmp[24];
    int n = 0;

    *o++ = lead;
    /* Argument counts and most lengths: one or two digits. */
    if (v < 10) {
        *o++ = (char)('0' + v);
    } else if (v < 100) {
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
    } else {
        do {
            tmp[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0) {
            *o++ = tmp[--n];
        }
    }
    *o++ = '\r';
    *o++ = '\n';
    return o;
}

static char *put_arg(char *o, const char *s, size_t len)
{
    o = put_num(o, '$', len);
    memcpy(o, s, len);
    o += len;
    *o++ = '\r';
    *o++ = '\n';
    return o;
}

/* RESP of `cmds` into the connection's write buffer; its length (0: out
 * of memory). */
static size_t format_cmds(struct resdeliv__redis_conn *s,
                          const struct resdeliv__redis_cmd *cmds, size_t n)
{
    size_t need = 0;
    char *o;

    for (size_t i = 0; i < n; i++) {
        need += 16;
        for (int k = 0; k < cmds[i].argc; k++) {
            need += cmds[i].len[k] + 26;
        }
    }
    if (need > s->wcap) {
        free(s->wbuf);
        s->wcap = 0;
        s->wbuf = malloc(need);
        if (s->wbuf == NULL) {
            return 0;
        }
        s->wcap = need;
    }
    o = s->wbuf;
    for (size_t i = 0; i < n; i++) {
        o = put_num(o, '*', (size_t)cmds[i].argc);
        for (int k = 0; k < cmds[i].argc; k++) {
            o = put_arg(o, cmds[i].argv[k], cmds[i].len[k]);
        }
    }
    return (size_t)(o - s->wbuf);
}

/* Send with MSG_NOSIGNAL: a peer that closed the connection gives EPIPE,
 * never a SIGPIPE, so the hot path needs no signal mask calls. The socket
 * is blocking with the command timeout as SO_SNDTIMEO. */
static int send_all(struct resdeliv__redis_conn *s, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t w = send(s->c->fd, s->wbuf + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            snprintf(s->errmsg, sizeof(s->errmsg), "Redis I/O: %s",
                     w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                         ? "timed out"
                         : strerror(w < 0 ? errno : EPIPE));
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* More reply bytes into rbuf[*have..]: 0, or -1 with errmsg set. The
 * socket is blocking with the command timeout as SO_RCVTIMEO. */
static int read_more(struct resdeliv__redis_conn *s, size_t *have)
{
    ssize_t r;

    if (*have == s->rcap) {
        size_t cap = s->rcap ? 2 * s->rcap : 16384u;
        char *nb = realloc(s->rbuf, cap);
        if (nb == NULL) {
            snprintf(s->errmsg, sizeof(s->errmsg), "out of memory");
            return -1;
        }
        s->rbuf = nb;
        s->rcap = cap;
    }
    do {
        r = recv(s->c->fd, s->rbuf + *have, s->rcap - *have, 0);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        snprintf(s->errmsg, sizeof(s->errmsg), "Redis I/O: %s",
                 r == 0 ? "connection closed by the server"
                 : errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
                                                          : strerror(errno));
        return -1;
    }
    *have += (size_t)r;
    return 0;
}

/* The `n` replies of an exchange, read until complete, then built in the
 * arena: 0, or -1 with errmsg set. The server sends nothing unasked on
 * this connection, so bytes past the n-th reply are a protocol error. */
static int read_replies(struct resdeliv__redis_conn *s, size_t n,
                        redisReply **replies)
{
    size_t have = 0;
    size_t off = 0;
    size_t done = 0;

    while (done < n) {
        long long m = off < have ? resdeliv__redis_resp_scan(
                                       s->rbuf + off, have - off)
                                 : 0;
        if (m < 0) {
            snprintf(s->errmsg, sizeof(s->errmsg),
                     "Redis I/O: protocol error in reply %zu", done + 1);
            return -1;
        }
        if (m > 0) {
            off += (size_t)m;
            done++;
        } else if (read_more(s, &have) != 0) {
            return -1;
        }
    }
    if (off != have) {
        snprintf(s->errmsg, sizeof(s->errmsg),
                 "Redis I/O: unexpected bytes after the replies");
        return -1;
    }
    off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t used = 0;
        replies[i] = resdeliv__redis_resp_build_next(
            &s->arena, s->rbuf + off, have - off, &used);
        if (replies[i] == NULL) {
            snprintf(s->errmsg, sizeof(s->errmsg), "out of memory");
            return -1;
        }
        off += used;
    }
    return 0;
}

int resdeliv__redis_conn_exchangev(struct resdeliv__redis_conn *s,
                                   const struct resdeliv__redis_cmd *cmds,
                                   size_t n, redisReply **replies)
{
    size_t len;
    int rc = resdeliv__redis_conn_ensure(s);

    if (rc != 0 || n == 0) {
        return rc;
    }
    /* hiredis only connects: its buffers stay empty. */
    len = format_cmds(s, cmds, n);
    if (len == 0) {
        return RESDELIV_ENOMEM;
    }
    if (send_all(s, len) != 0 || read_replies(s, n, replies) != 0) {
        rc = RESDELIV_ESTORE;
    }
    if (s->wcap > WBUF_KEEP) {
        free(s->wbuf);
        s->wbuf = NULL;
        s->wcap = 0;
    }
    if (s->rcap > WBUF_KEEP) {
        free(s->rbuf);
        s->rbuf = NULL;
        s->rcap = 0;
    }
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            replies[i] = NULL;
        }
        return conn_lost(s);
    }
    return 0;
}

int resdeliv__redis_conn_exchange(struct resdeliv__redis_conn *s,
                                  const struct resdeliv__redis_argv *cmds,
                                  size_t n, redisReply **replies)
{
    struct resdeliv__redis_cmd v[8];

    if (n > sizeof(v) / sizeof(v[0])) {
        return RESDELIV_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        v[i].argc = cmds[i].argc;
        v[i].argv = (const char **)cmds[i].argv;
        v[i].len = cmds[i].len;
    }
    return resdeliv__redis_conn_exchangev(s, v, n, replies);
}
