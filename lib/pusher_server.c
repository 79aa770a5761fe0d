/* SPDX-License-Identifier: MIT */
/*
 * The Pusher protocol 7 server for one app: the WebSocket side. It turns a
 * host's open/message/writable/close callbacks into Pusher frames and seam
 * calls. Authorization happens here, before the seam sees a subscription,
 * because the seam replays whatever the log holds: a private or presence
 * subscribe with a bad signature gets pusher:subscription_error and nothing
 * else. Client events go through the host's own broadcast and never reach
 * the log. The HTTP API is in pusher_http.c, presence members in
 * pusher_presence.c.
 *
 * Each connection has a socket id "N.R": N counts connections of this
 * server, so ids never repeat within it, and R is random, so that a socket
 * id seen on one server cannot be guessed for the next connection. The HTTP
 * API uses socket ids to exclude a publisher's own connection.
 */
#include "pusher_server_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ------------------------------------------------------------- options */

void resdeliv_pusher_server_options_init(
    struct resdeliv_pusher_server_options *opts)
{
    if (opts == NULL) {
        return;
    }
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = (uint32_t)sizeof(*opts);
    opts->abi_version = RESDELIV_ABI_VERSION;
    opts->activity_timeout = 120;
    opts->client_events = 1;
    opts->max_body = RESDELIV_PUSHER_DEFAULT_MAX_BODY;
    opts->max_frame = RESDELIV_PUSHER_MAX_FRAME;
    opts->max_presence_members = 100;
    opts->timestamp_window = 600;
    resdeliv_server_options_init(&opts->seam);
}

/* The caller's options over the defaults, as much as its struct holds. */
static int copy_options(const struct resdeliv_pusher_server_options *in,
                        struct resdeliv_pusher_server_options *o, char *err,
                        size_t errsize)
{
    resdeliv_pusher_server_options_init(o);
    if (RESDELIV_ABI_VERSION_MAJOR(in->abi_version) != RESDELIV_ABI_MAJOR) {
        resdeliv__errf(err, errsize, "options: ABI major %" PRIu32 " is not %u",
                       RESDELIV_ABI_VERSION_MAJOR(in->abi_version),
                       RESDELIV_ABI_MAJOR);
        return RESDELIV_EABI;
    }
    if (in->struct_size <
        offsetof(struct resdeliv_pusher_server_options, activity_timeout)) {
        resdeliv__errf(err, errsize,
                       "options: struct_size %" PRIu32 " is too small",
                       in->struct_size);
        return RESDELIV_EINVAL;
    }
    memcpy(o, in, in->struct_size < sizeof(*o) ? in->struct_size : sizeof(*o));
    o->struct_size = (uint32_t)sizeof(*o);
    return 0;
}

static int check_options(const struct resdeliv_pusher_server_options *o,
                         char *err, size_t errsize)
{
    const char *bad = NULL;

    if (o->app_id == NULL || o->app_id[0] == '\0' ||
        strlen(o->app_id) > RESDELIV_MAX_APP_ID_LEN) {
        bad = "app_id must be 1 to 256 bytes";
    } else if (o->app_key == NULL || o->app_key[0] == '\0' ||
               strpbrk(o->app_key, "/?&") != NULL) {
        bad = "app_key must be non-empty, without '/', '?' or '&'";
    } else if (o->app_secret == NULL || o->app_secret[0] == '\0') {
        bad = "app_secret must be non-empty";
    } else if (o->activity_timeout == 0) {
        bad = "activity_timeout must be at least 1";
    } else if (o->max_body == 0) {
        bad = "max_body must be at least 1";
    } else if (o->max_frame == 0 || o->max_frame > RESDELIV_PUSHER_MAX_FRAME) {
        bad = "max_frame must be 1 to 65536";
    } else if (o->max_presence_members == 0) {
        bad = "max_presence_members must be at least 1";
    }
    if (bad != NULL) {
        resdeliv__errf(err, errsize, "options: %s", bad);
        return RESDELIV_EINVAL;
    }
    return 0;
}

static int own_strings(struct resdeliv_pusher_server_options *o)
{
    const char *src[3] = {o->app_id, o->app_key, o->app_secret};
    char *dup[3];

    for (int i = 0; i < 3; i++) {
        dup[i] = strdup(src[i]);
        if (dup[i] == NULL) {
            for (int j = 0; j < i; j++) {
                free(dup[j]);
            }
            o->app_id = o->app_key = o->app_secret = NULL;
            return RESDELIV_ENOMEM;
        }
    }
    o->app_id = dup[0];
    o->app_key = dup[1];
    o->app_secret = dup[2];
    return 0;
}

static int copy_transport(const struct resdeliv_transport *in,
                          struct resdeliv_transport *tp, char *err,
                          size_t errsize)
{
    memset(tp, 0, sizeof(*tp));
    if (RESDELIV_ABI_VERSION_MAJOR(in->abi_version) != RESDELIV_ABI_MAJOR) {
        resdeliv__errf(err, errsize, "transport: incompatible ABI major");
        return RESDELIV_EABI;
    }
    memcpy(tp, in,
           in->struct_size < sizeof(*tp) ? in->struct_size : sizeof(*tp));
    if (tp->send == NULL || tp->broadcast == NULL ||
        tp->request_writable == NULL || tp->close == NULL) {
        resdeliv__errf(err, errsize,
                       "transport: send, broadcast, "
                       "request_writable and close are needed");
        return RESDELIV_EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------- server object */

static uint64_t seed_fallback(const void *addr)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
           (uint64_t)(uintptr_t)addr;
}

static int server_alloc(resdeliv_pusher_server **out)
{
    resdeliv_pusher_server *ps = calloc(1, sizeof(*ps));

    *out = NULL;
    if (ps == NULL) {
        return RESDELIV_ENOMEM;
    }
    ps->nbuckets = 64;
    ps->by_ptr = calloc(ps->nbuckets, sizeof(*ps->by_ptr));
    ps->by_sid = calloc(ps->nbuckets, sizeof(*ps->by_sid));
    if (ps->by_ptr == NULL || ps->by_sid == NULL ||
        resdeliv__presence_new(&ps->presence) != 0) {
        free(ps->by_ptr);
        free(ps->by_sid);
        free(ps);
        return RESDELIV_ENOMEM;
    }
    ps->rng = seed_fallback(ps);
    ps->next_serial = 1;
    *out = ps;
    return 0;
}

int resdeliv_pusher_server_new(
    resdeliv_log *log, const struct resdeliv_transport *transport,
    const struct resdeliv_pusher_server_options *opts,
    resdeliv_pusher_server **out, char *err, size_t errsize)
{
    struct resdeliv_pusher_server_options o;
    struct resdeliv_transport tp;
    resdeliv_pusher_server *ps;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (log == NULL || transport == NULL || opts == NULL || out == NULL) {
        resdeliv__errf(err, errsize, "log, transport, options or out is NULL");
        return RESDELIV_EINVAL;
    }
    rc = copy_options(opts, &o, err, errsize);
    if (rc == 0) {
        rc = check_options(&o, err, errsize);
    }
    if (rc == 0) {
        rc = copy_transport(transport, &tp, err, errsize);
    }
    if (rc != 0) {
        return rc;
    }
    if (server_alloc(&ps) != 0) {
        return RESDELIV_ENOMEM;
    }
    ps->opts = o;
    ps->tp = tp;
    ps->log = log;
    if (own_strings(&ps->opts) != 0) {
        resdeliv_pusher_server_free(ps);
        return RESDELIV_ENOMEM;
    }
    rc = resdeliv_server_new(log, transport, &ps->opts.seam, &ps->seam);
    if (rc != 0) {
        resdeliv__errf(err, errsize, "subscription seam: %s",
                       resdeliv_strerror(rc));
        resdeliv_pusher_server_free(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

static void conn_free(struct resdeliv__pusher_conn *pc)
{
    while (pc->subs != NULL) {
        struct resdeliv__pusher_sub *s = pc->subs;
        pc->subs = s->next;
        free(s->channel);
        free(s->user_id);
        free(s);
    }
    while (pc->out_head != NULL) {
        struct resdeliv__pusher_out *o = pc->out_head;
        pc->out_head = o->next;
        free(o);
    }
    free(pc);
}

void resdeliv_pusher_server_free(resdeliv_pusher_server *ps)
{
    if (ps == NULL) {
        return;
    }
    /* A presence registry must never call into a freed server. */
    if (ps->cluster != NULL) {
        resdeliv_pusher_server_set_presence(ps, NULL);
    }
    resdeliv__pusher_http_detach_all(ps);
    resdeliv_server_free(ps->seam);
    for (size_t i = 0; ps->by_ptr != NULL && i < ps->nbuckets; i++) {
        struct resdeliv__pusher_conn *pc = ps->by_ptr[i];
        while (pc != NULL) {
            struct resdeliv__pusher_conn *next = pc->next_ptr;
            conn_free(pc);
            pc = next;
        }
    }
    free(ps->by_ptr);
    free(ps->by_sid);
    resdeliv__presence_free(ps->presence);
    free((char *)ps->opts.app_id);
    free((char *)ps->opts.app_key);
    free((char *)ps->opts.app_secret);
    free(ps);
}

resdeliv_server *resdeliv_pusher_server_seam(resdeliv_pusher_server *ps)
{
    return ps != NULL ? ps->seam : NULL;
}

void resdeliv__pusher_log(resdeliv_pusher_server *ps, uint32_t level,
                          const char *fmt, ...)
{
    char line[256];
    va_list ap;

    if (ps->tp.log == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ps->tp.log(ps->tp.host, level, line);
}

/* ------------------------------------------------------ connection maps */

static size_t ptr_bucket(const resdeliv_pusher_server *ps, const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;

    return (size_t)(h >> 32) & (ps->nbuckets - 1);
}

static size_t sid_bucket(const resdeliv_pusher_server *ps, uint64_t serial)
{
    return (size_t)(serial * 0x9e3779b97f4a7c15ull >> 32) & (ps->nbuckets - 1);
}

struct resdeliv__pusher_conn *
resdeliv__pusher_conn_find(resdeliv_pusher_server *ps, const void *conn)
{
    struct resdeliv__pusher_conn *pc = ps->by_ptr[ptr_bucket(ps, conn)];

    while (pc != NULL && pc->conn != conn) {
        pc = pc->next_ptr;
    }
    return pc;
}

static void conn_link(resdeliv_pusher_server *ps,
                      struct resdeliv__pusher_conn *pc)
{
    size_t b = ptr_bucket(ps, pc->conn);
    size_t s = sid_bucket(ps, pc->serial);

    pc->next_ptr = ps->by_ptr[b];
    ps->by_ptr[b] = pc;
    pc->next_sid = ps->by_sid[s];
    ps->by_sid[s] = pc;
}

/* Double both tables when they average more than two connections a
 * bucket; a failed allocation only leaves the chains longer. */
static void maybe_grow(resdeliv_pusher_server *ps)
{
    size_t old = ps->nbuckets, n = old * 2;
    struct resdeliv__pusher_conn **bp, **bs, **oldp = ps->by_ptr;

    if (ps->nconns <= old * 2 || n > SIZE_MAX / sizeof(*bp)) {
        return;
    }
    bp = calloc(n, sizeof(*bp));
    bs = calloc(n, sizeof(*bs));
    if (bp == NULL || bs == NULL) {
        free(bp);
        free(bs);
        return;
    }
    free(ps->by_sid);
    ps->by_ptr = bp;
    ps->by_sid = bs;
    ps->nbuckets = n;
    for (size_t i = 0; i < old; i++) {
        struct resdeliv__pusher_conn *pc = oldp[i];
        while (pc != NULL) {
            struct resdeliv__pusher_conn *next = pc->next_ptr;
            conn_link(ps, pc);
            pc = next;
        }
    }
    free(oldp);
}

static void conn_unlink(resdeliv_pusher_server *ps,
                        struct resdeliv__pusher_conn *pc)
{
    struct resdeliv__pusher_conn **pp = &ps->by_ptr[ptr_bucket(ps, pc->conn)];

    while (*pp != pc) {
        pp = &(*pp)->next_ptr;
    }
    *pp = pc->next_ptr;
    pp = &ps->by_sid[sid_bucket(ps, pc->serial)];
    while (*pp != pc) {
        pp = &(*pp)->next_sid;
    }
    *pp = pc->next_sid;
    ps->nconns--;
}

void *resdeliv__pusher_conn_by_socket_id(resdeliv_pusher_server *ps,
                                         const char *socket_id)
{
    char *end = NULL;
    uint64_t serial;
    struct resdeliv__pusher_conn *pc;

    if (ps == NULL || socket_id == NULL || socket_id[0] < '0' ||
        socket_id[0] > '9') {
        return NULL;
    }
    serial = strtoull(socket_id, &end, 10);
    if (end == NULL || *end != '.') {
        return NULL;
    }
    pc = ps->by_sid[sid_bucket(ps, serial)];
    while (pc != NULL &&
           (pc->serial != serial || strcmp(pc->socket_id, socket_id) != 0)) {
        pc = pc->next_sid;
    }
    return pc != NULL ? pc->conn : NULL;
}

static uint64_t random_u64(resdeliv_pusher_server *ps)
{
    uint64_t v;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v)) {
        return v;
    }
    /* splitmix64 over the per-server state. */
    v = (ps->rng += 0x9e3779b97f4a7c15ull);
    v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ull;
    v = (v ^ (v >> 27)) * 0x94d049bb133111ebull;
    return v ^ (v >> 31);
}

/* ---------------------------------------------------------- sending */

static int queue_frame(resdeliv_pusher_server *ps,
                       struct resdeliv__pusher_conn *pc, const char *frame,
                       size_t len)
{
    struct resdeliv__pusher_out *o;

    if (pc->out_n >= RESDELIV__PUSHER_OUTBOX_MAX) {
        ps->tp.close(ps->tp.host, pc->conn, RESDELIV_PUSHER_ERR_OVER_CAPACITY,
                     "too many frames waiting for the connection");
        return RESDELIV_EOVERFLOW;
    }
    o = malloc(sizeof(*o) + len + 1);
    if (o == NULL) {
        return RESDELIV_ENOMEM;
    }
    o->next = NULL;
    o->len = len;
    memcpy(o->text, frame, len);
    o->text[len] = '\0';
    if (pc->out_tail != NULL) {
        pc->out_tail->next = o;
    } else {
        pc->out_head = o;
    }
    pc->out_tail = o;
    pc->out_n++;
    ps->tp.request_writable(ps->tp.host, pc->conn);
    return 0;
}

int resdeliv__pusher_send(resdeliv_pusher_server *ps,
                          struct resdeliv__pusher_conn *pc, const char *frame,
                          size_t len)
{
    if (pc->out_head == NULL) {
        int rc = ps->tp.send(ps->tp.host, pc->conn, frame, len);
        if (rc != RESDELIV_EAGAIN) {
            return rc;
        }
    }
    return queue_frame(ps, pc, frame, len);
}

static int flush_outbox(resdeliv_pusher_server *ps,
                        struct resdeliv__pusher_conn *pc)
{
    while (pc->out_head != NULL) {
        struct resdeliv__pusher_out *o = pc->out_head;
        int rc = ps->tp.send(ps->tp.host, pc->conn, o->text, o->len);
        if (rc == RESDELIV_EAGAIN) {
            ps->tp.request_writable(ps->tp.host, pc->conn);
            return rc;
        }
        pc->out_head = o->next;
        if (pc->out_head == NULL) {
            pc->out_tail = NULL;
        }
        pc->out_n--;
        free(o);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int resdeliv__pusher_send_error(resdeliv_pusher_server *ps,
                                struct resdeliv__pusher_conn *pc, int code,
                                const char *message)
{
    char *frame = NULL;
    size_t len = 0;
    int rc = resdeliv_pusher_build_error(code, message, &frame, &len);

    if (rc == 0) {
        rc = resdeliv__pusher_send(ps, pc, frame, len);
    }
    free(frame);
    return rc;
}

/* ---------------------------------------------------------------- open */

/* The value of query parameter `name` in `query` (up to '#' or the end),
 * as a pointer and length; NULL when absent. */
static const char *query_param(const char *query, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    const char *p = query;

    while (p != NULL && *p != '\0' && *p != '#') {
        size_t seg = strcspn(p, "&#");
        if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            *len = seg - nl - 1;
            return p + nl + 1;
        }
        p += seg;
        p += *p == '&';
    }
    return NULL;
}

/* 0 when the query asks for a protocol this server speaks, else the
 * Pusher error code. Versions 5 to 7 share the frames used here. */
static int check_protocol(const char *query, const char **why)
{
    size_t len = 0;
    const char *v = query_param(query, "protocol", &len);
    unsigned n = 0;

    if (v == NULL) {
        *why = "no protocol version given (protocol=7)";
        return RESDELIV_PUSHER_ERR_NO_VERSION;
    }
    if (len == 0 || len > 3 || strspn(v, "0123456789") < len) {
        *why = "invalid protocol version";
        return RESDELIV_PUSHER_ERR_INVALID_VERSION;
    }
    for (size_t i = 0; i < len; i++) {
        n = n * 10 + (unsigned)(v[i] - '0');
    }
    if (n < 5 || n > 7) {
        *why = "unsupported protocol version (5 to 7 are supported)";
        return RESDELIV_PUSHER_ERR_UNSUPPORTED_VERSION;
    }
    return 0;
}

/* 0 when `path` is /app/{our key}[?query], else the Pusher error code. */
static int check_path(const resdeliv_pusher_server *ps, const char *path,
                      const char **why)
{
    static const char prefix[] = "/app/";
    const char *key, *q;
    size_t klen;

    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) {
        *why = "path not found: connect to /app/{key}";
        return RESDELIV_PUSHER_ERR_PATH_NOT_FOUND;
    }
    key = path + sizeof(prefix) - 1;
    klen = strcspn(key, "?#");
    if (klen == 0 || memchr(key, '/', klen) != NULL) {
        *why = "path not found: connect to /app/{key}";
        return RESDELIV_PUSHER_ERR_PATH_NOT_FOUND;
    }
    if (klen != strlen(ps->opts.app_key) ||
        memcmp(key, ps->opts.app_key, klen) != 0) {
        *why = "app key does not exist";
        return RESDELIV_PUSHER_ERR_APP_NOT_FOUND;
    }
    q = key + klen;
    return check_protocol(*q == '?' ? q + 1 : "", why);
}

/* Refuse a connection we keep no state for: error frame, then close. */
static int refuse(resdeliv_pusher_server *ps, void *conn, int code,
                  const char *why)
{
    char *frame = NULL;
    size_t len = 0;

    if (resdeliv_pusher_build_error(code, why, &frame, &len) == 0) {
        ps->tp.send(ps->tp.host, conn, frame, len);
    }
    free(frame);
    ps->tp.close(ps->tp.host, conn, (uint32_t)code, why);
    resdeliv__pusher_log(ps, RESDELIV_LOG_INFO,
                         "pusher: refused a "
                         "connection: %d %s",
                         code, why);
    return code == RESDELIV_PUSHER_ERR_APP_NOT_FOUND ||
                   code == RESDELIV_PUSHER_ERR_PATH_NOT_FOUND
               ? RESDELIV_ENOENT
               : RESDELIV_ENOTSUP;
}

static struct resdeliv__pusher_conn *conn_new(resdeliv_pusher_server *ps,
                                              void *conn)
{
    struct resdeliv__pusher_conn *pc = calloc(1, sizeof(*pc));

    if (pc == NULL) {
        return NULL;
    }
    pc->conn = conn;
    pc->serial = ps->next_serial++;
    snprintf(pc->socket_id, sizeof(pc->socket_id), "%" PRIu64 ".%" PRIu64,
             pc->serial, (uint64_t)(random_u64(ps) % 10000000000ull));
    return pc;
}

int resdeliv_pusher_server_open(resdeliv_pusher_server *ps, void *conn,
                                const char *path)
{
    const char *why = NULL;
    struct resdeliv__pusher_conn *pc;
    char *frame = NULL;
    size_t len = 0;
    int code, rc;

    if (ps == NULL || conn == NULL || path == NULL ||
        resdeliv__pusher_conn_find(ps, conn) != NULL) {
        return RESDELIV_EINVAL;
    }
    code = check_path(ps, path, &why);
    if (code != 0) {
        return refuse(ps, conn, code, why);
    }
    pc = conn_new(ps, conn);
    if (pc == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = resdeliv_server_conn_open(ps->seam, conn);
    if (rc == 0) {
        rc = resdeliv_pusher_build_established(
            pc->socket_id, ps->opts.activity_timeout, &frame, &len);
    }
    if (rc != 0) {
        resdeliv_server_conn_close(ps->seam, conn);
        free(pc);
        return rc;
    }
    conn_link(ps, pc);
    ps->nconns++;
    maybe_grow(ps);
    rc = resdeliv__pusher_send(ps, pc, frame, len);
    free(frame);
    return rc;
}

/* ------------------------------------------------------------- frames */

static int send_pong(resdeliv_pusher_server *ps,
                     struct resdeliv__pusher_conn *pc)
{
    static const char pong[] = "{\"event\":\"pusher:pong\",\"data\":\"{}\"}";

    return resdeliv__pusher_send(ps, pc, pong, sizeof(pong) - 1);
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int dispatch(resdeliv_pusher_server *ps,
                    struct resdeliv__pusher_conn *pc, const char *text,
                    size_t len, const struct resdeliv_pusher_frame *f)
{
    char msg[160];

    if (strcmp(f->event, "pusher:ping") == 0) {
        return send_pong(ps, pc);
    }
    if (strcmp(f->event, "pusher:pong") == 0) {
        return 0;
    }
    if (strcmp(f->event, "pusher:subscribe") == 0) {
        return resdeliv__pusher_subscribe(ps, pc, text, len);
    }
    if (strcmp(f->event, "pusher:unsubscribe") == 0) {
        return resdeliv__pusher_unsubscribe(ps, pc, f);
    }
    if (has_prefix(f->event, "client-")) {
        return resdeliv__pusher_client_event(ps, pc, f);
    }
    snprintf(msg, sizeof(msg), "unsupported event \"%.100s\"", f->event);
    resdeliv__pusher_send_error(ps, pc, 0, msg);
    return RESDELIV_ENOTSUP;
}

int resdeliv_pusher_server_message(resdeliv_pusher_server *ps, void *conn,
                                   const char *text, size_t len)
{
    struct resdeliv_pusher_frame f;
    struct resdeliv__pusher_conn *pc;
    char err[200];
    int rc;

    if (ps == NULL || conn == NULL || (text == NULL && len > 0)) {
        return RESDELIV_EINVAL;
    }
    pc = resdeliv__pusher_conn_find(ps, conn);
    if (pc == NULL) {
        return RESDELIV_ENOENT;
    }
    if (len > ps->opts.max_frame) {
        snprintf(err, sizeof(err),
                 "frame of %zu bytes is larger than the "
                 "%" PRIu64 " byte limit",
                 len, ps->opts.max_frame);
        resdeliv__pusher_send_error(ps, pc, 0, err);
        return RESDELIV_EBADFRAME;
    }
    rc = resdeliv_pusher_parse_frame(text, len, &f, err, sizeof(err));
    if (rc != 0) {
        resdeliv__pusher_send_error(ps, pc, 0, err);
        return rc;
    }
    rc = dispatch(ps, pc, text, len, &f);
    resdeliv_pusher_frame_clear(&f);
    return rc;
}

/* ------------------------------------------------------ writable, close */

int resdeliv_pusher_server_writable(resdeliv_pusher_server *ps, void *conn)
{
    struct resdeliv__pusher_conn *pc;
    int rc;

    if (ps == NULL || conn == NULL) {
        return RESDELIV_EINVAL;
    }
    pc = resdeliv__pusher_conn_find(ps, conn);
    if (pc == NULL) {
        return RESDELIV_ENOENT;
    }
    /* Ours first: they were due before anything the seam sends now. */
    rc = flush_outbox(ps, pc);
    if (rc == RESDELIV_EAGAIN) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    return resdeliv_server_writable(ps->seam, conn);
}

void resdeliv_pusher_server_close(resdeliv_pusher_server *ps, void *conn)
{
    struct resdeliv__pusher_conn *pc;

    if (ps == NULL || conn == NULL) {
        return;
    }
    pc = resdeliv__pusher_conn_find(ps, conn);
    if (pc == NULL) {
        return;
    }
    /* Unlinked first: nothing that runs below can reach it again. */
    conn_unlink(ps, pc);
    resdeliv_server_conn_close(ps->seam, conn);
    resdeliv__pusher_leave_all(ps, pc);
    conn_free(pc);
}
