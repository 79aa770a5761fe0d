/* SPDX-License-Identifier: MIT */
/*
 * The libwebsockets shim, WebSocket side: the transport vtable over lws
 * (queued frames written from the writable callback, shared broadcast
 * frames, close after flush) and the ESTABLISHED / RECEIVE /
 * SERVER_WRITEABLE / CLOSED helpers. The channel sets behind join, leave
 * and broadcast are in resdeliv_lws_channels.c, the HTTP API side in
 * resdeliv_lws_http.c.
 */
#include "resdeliv_lws_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_QUEUED (4u * 1024u * 1024u)
#define DEFAULT_WRITES 32u
#define DEFAULT_SEND_SIZE 4096u /* lws's default pt_serv_buf_size */
#define MAX_BATCH (64u * 1024u)
#define CLOSE_FLUSH_SECONDS 5
/* Pusher "over capacity": the client reconnects with backoff and resumes
 * from its last id, so a slow reader loses nothing. */
#define SLOW_CLOSE_CODE 4100u

void resdeliv_lws_options_init(struct resdeliv_lws_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = (uint32_t)sizeof(*opts);
    opts->abi_version = RESDELIV_ABI_VERSION;
    opts->max_queued = DEFAULT_MAX_QUEUED;
    opts->writes_per_callback = DEFAULT_WRITES;
}

/* ------------------------------------------------------------ frames */

_Static_assert(LWS_PRE >= 10, "LWS_PRE holds a WebSocket frame header");

/* The RFC 6455 header of a final, unmasked (server to client) text frame
 * of `len` payload bytes, written to end at `end`. @return its length. */
static size_t ws_header(unsigned char *end, size_t len)
{
    size_t h = len < 126 ? 2 : len <= 0xffffu ? 4 : 10;
    unsigned char *p = end - h;

    p[0] = 0x81;
    p[1] = (unsigned char)(h == 2 ? len : h == 4 ? 126 : 127);
    for (size_t i = 2; i < h; i++) {
        p[i] = (unsigned char)((uint64_t)len >> (8 * (h - 1 - i)));
    }
    return h;
}

/* A broadcast frame shared by many queues is framed once, here. */
static struct rlws_frame *frame_new(const char *data, size_t len)
{
    struct rlws_frame *f = malloc(sizeof(*f) + LWS_PRE + len + 1);

    if (f == NULL) {
        return NULL;
    }
    f->refs = 1;
    f->len = len;
    f->hlen = ws_header(f->buf + LWS_PRE, len);
    memcpy(f->buf + LWS_PRE, data, len);
    f->buf[LWS_PRE + len] = '\0';
    return f;
}

static unsigned char *frame_wire(struct rlws_frame *f)
{
    return f->buf + LWS_PRE - f->hlen;
}

static size_t frame_wire_len(const struct rlws_frame *f)
{
    return f->hlen + f->len;
}

static void frame_unref(struct rlws_frame *f)
{
    if (f != NULL && --f->refs == 0) {
        free(f);
    }
}

/* On libuv each lws_callback_on_writable() is an epoll_ctl() (from
 * uv_poll_start()): ask only while none is pending. lws answers an armed
 * POLLOUT with the writable callback unless it closes the connection. */
static void ask_writable(struct rlws_conn *c)
{
    if (!c->pollout) {
        c->pollout = lws_callback_on_writable(c->wsi) > 0;
    }
}

static int enqueue(resdeliv_lws *rl, struct rlws_conn *c, struct rlws_frame *f)
{
    struct rlws_qnode *n = malloc(sizeof(*n));

    if (n == NULL) {
        return RESDELIV_ENOMEM;
    }
    f->refs++;
    n->frame = f;
    n->next = NULL;
    if (c->qtail != NULL) {
        c->qtail->next = n;
    } else {
        c->qhead = n;
    }
    c->qtail = n;
    c->queued += f->len;
    rl->stats.queued_bytes += f->len;
    ask_writable(c);
    return 0;
}

static struct rlws_frame *dequeue(resdeliv_lws *rl, struct rlws_conn *c)
{
    struct rlws_qnode *n = c->qhead;
    struct rlws_frame *f;

    if (n == NULL) {
        return NULL;
    }
    c->qhead = n->next;
    if (c->qhead == NULL) {
        c->qtail = NULL;
    }
    f = n->frame;
    free(n);
    c->queued -= f->len;
    rl->stats.queued_bytes -= f->len;
    return f;
}

/* ---------------------------------------------------------- transport */

static struct rlws_conn *conn_of(void *wsi)
{
    struct resdeliv_lws_pss *pss;

    if (wsi == NULL) {
        return NULL;
    }
    pss = lws_wsi_user((struct lws *)wsi);
    return pss != NULL ? pss->conn : NULL;
}

static void request_close(resdeliv_lws *rl, struct rlws_conn *c, uint32_t code,
                          const char *reason)
{
    size_t len = reason != NULL ? strlen(reason) : 0;

    if (c->closing) {
        return;
    }
    c->closing = 1;
    c->code = code;
    c->reason_len = len < sizeof(c->reason) ? len : sizeof(c->reason);
    if (c->reason_len > 0) {
        memcpy(c->reason, reason, c->reason_len);
    }
    /* No broadcast reaches a closing connection. */
    resdeliv__lws_leave_all(rl, c);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_FLUSH_SECONDS);
    ask_writable(c);
}

static int tp_send(void *host, void *conn, const char *frame, size_t len)
{
    resdeliv_lws *rl = host;
    struct rlws_conn *c = conn_of(conn);
    struct rlws_frame *f;
    int rc;

    if (c == NULL || c->closing) {
        return RESDELIV_ECLOSED;
    }
    if (c->qhead != NULL && c->queued + len > rl->opts.max_queued) {
        return RESDELIV_EAGAIN;
    }
    f = frame_new(frame, len);
    if (f == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = enqueue(rl, c, f);
    frame_unref(f);
    return rc;
}

static int tp_broadcast(void *host, const char *channel, size_t channel_len,
                        const char *frame, size_t len, void *except)
{
    resdeliv_lws *rl = host;
    struct rlws_channel *ch =
        resdeliv__lws_channel_find(rl, channel, channel_len);
    struct rlws_member *m, *next;
    struct rlws_frame *f;

    if (ch == NULL) {
        return 0;
    }
    f = frame_new(frame, len);
    if (f == NULL) {
        return RESDELIV_ENOMEM;
    }
    /* A slow connection leaves the channel inside the loop: keep `next`
     * (and the channel alive through the frame's own members). */
    for (m = ch->head; m != NULL; m = next) {
        struct rlws_conn *c = m->conn;
        int last = m->next == NULL;
        next = m->next;
        if (c->wsi == except) {
            continue;
        }
        if (c->queued + len > rl->opts.max_queued) {
            rl->stats.slow_closes++;
            request_close(rl, c, SLOW_CLOSE_CODE, "over capacity: slow reader");
        } else {
            enqueue(rl, c, f);
        }
        if (last) {
            break;
        }
    }
    frame_unref(f);
    return 0;
}

static int tp_request_writable(void *host, void *conn)
{
    struct rlws_conn *c = conn_of(conn);

    (void)host;
    if (c == NULL || c->closing) {
        return RESDELIV_ECLOSED;
    }
    c->want_lib = 1;
    ask_writable(c);
    return 0;
}

static int tp_close(void *host, void *conn, uint32_t code, const char *reason)
{
    struct rlws_conn *c = conn_of(conn);

    if (c == NULL) {
        return RESDELIV_ECLOSED;
    }
    request_close(host, c, code, reason);
    return 0;
}

static void tp_log(void *host, uint32_t level, const char *msg)
{
    (void)host;
    if (level == RESDELIV_LOG_ERROR) {
        lwsl_err("resdeliv: %s\n", msg);
    } else if (level == RESDELIV_LOG_WARN) {
        lwsl_warn("resdeliv: %s\n", msg);
    } else if (level == RESDELIV_LOG_INFO) {
        lwsl_notice("resdeliv: %s\n", msg);
    } else {
        lwsl_info("resdeliv: %s\n", msg);
    }
}

static int tp_join(void *host, void *conn, const char *channel,
                   size_t channel_len)
{
    struct rlws_conn *c = conn_of(conn);

    if (c == NULL || c->closing) {
        return RESDELIV_ECLOSED;
    }
    return resdeliv__lws_join(host, c, channel, channel_len);
}

static int tp_leave(void *host, void *conn, const char *channel,
                    size_t channel_len)
{
    struct rlws_conn *c = conn_of(conn);

    if (c == NULL) {
        return RESDELIV_ECLOSED;
    }
    resdeliv__lws_leave(host, c, channel, channel_len);
    return 0;
}

/* ------------------------------------------------------------- shim */

int resdeliv_lws_new(resdeliv_log *log,
                     const struct resdeliv_pusher_server_options *popts,
                     const struct resdeliv_lws_options *opts,
                     resdeliv_lws **out, char *err, size_t errsize)
{
    resdeliv_lws *rl;
    struct resdeliv_transport tp = {
        RESDELIV_STRUCT_HEAD(tp),  .send = tp_send,
        .broadcast = tp_broadcast, .request_writable = tp_request_writable,
        .close = tp_close,         .log = tp_log,
        .join = tp_join,           .leave = tp_leave,
    };
    int rc;

    if (out == NULL || log == NULL || popts == NULL) {
        snprintf(err, errsize, "resdeliv_lws_new: NULL argument");
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    if (opts != NULL &&
        RESDELIV_ABI_VERSION_MAJOR(opts->abi_version) != RESDELIV_ABI_MAJOR) {
        snprintf(err, errsize, "lws options: another ABI major");
        return RESDELIV_EABI;
    }
    rl = calloc(1, sizeof(*rl));
    if (rl == NULL) {
        return RESDELIV_ENOMEM;
    }
    resdeliv_lws_options_init(&rl->opts);
    if (opts != NULL && opts->max_queued != 0) {
        rl->opts.max_queued = opts->max_queued;
    }
    if (opts != NULL && opts->writes_per_callback != 0) {
        rl->opts.writes_per_callback = opts->writes_per_callback;
    }
    rl->max_body =
        popts->max_body ? popts->max_body : RESDELIV_PUSHER_DEFAULT_MAX_BODY;
    rl->max_frame = popts->max_frame ? popts->max_frame : 64u * 1024u;
    rl->nbuckets = 64;
    rl->buckets = calloc(rl->nbuckets, sizeof(*rl->buckets));
    tp.host = rl;
    rc = rl->buckets == NULL ? RESDELIV_ENOMEM
                             : resdeliv_pusher_server_new(
                                   log, &tp, popts, &rl->ps, err, errsize);
    if (rc != 0) {
        free(rl->buckets);
        free(rl);
        return rc;
    }
    *out = rl;
    return 0;
}

resdeliv_pusher_server *resdeliv_lws_pusher(resdeliv_lws *rl)
{
    return rl != NULL ? rl->ps : NULL;
}

void resdeliv_lws_stats(const resdeliv_lws *rl, struct resdeliv_lws_stats *out)
{
    if (rl != NULL && out != NULL) {
        *out = rl->stats;
    }
}

/* ------------------------------------------------------- WebSocket side */

static void conn_free(resdeliv_lws *rl, struct rlws_conn *c)
{
    struct rlws_frame *f;

    resdeliv__lws_leave_all(rl, c);
    while ((f = dequeue(rl, c)) != NULL) {
        frame_unref(f);
    }
    free(c->rx);
    free(c);
}

int resdeliv_lws_established(resdeliv_lws *rl, struct lws *wsi,
                             struct resdeliv_lws_pss *pss)
{
    struct rlws_conn *c = calloc(1, sizeof(*c));
    char *path = NULL;
    int rc;

    if (c == NULL) {
        return -1;
    }
    c->wsi = wsi;
    pss->conn = c;
    rl->stats.connections++;
    rc = resdeliv__lws_request_target(wsi, WSI_TOKEN_GET_URI, &path, NULL);
    if (rc != 0) {
        request_close(rl, c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "bad uri");
        free(path);
        return 0;
    }
    /* A refused open has queued pusher:error and asked for the close. */
    (void)resdeliv_pusher_server_open(rl->ps, wsi, path);
    free(path);
    return 0;
}

static int rx_append(struct rlws_conn *c, const void *in, size_t len)
{
    if (c->rx_len + len + 1 > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 1024;
        char *p;
        while (cap < c->rx_len + len + 1) {
            cap *= 2;
        }
        p = realloc(c->rx, cap);
        if (p == NULL) {
            return RESDELIV_ENOMEM;
        }
        c->rx = p;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    c->rx[c->rx_len] = '\0';
    return 0;
}

int resdeliv_lws_receive(resdeliv_lws *rl, struct lws *wsi,
                         struct resdeliv_lws_pss *pss, const void *in,
                         size_t len)
{
    struct rlws_conn *c = pss->conn;

    if (c == NULL || c->closing) {
        return 0;
    }
    /* The Pusher protocol is JSON text; a binary message is refused
     * rather than read as text (RFC 6455 7.4.1: 1003). */
    if (lws_frame_is_binary(wsi)) {
        request_close(rl, c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                      "binary messages are not supported");
        c->rx_len = 0;
        return 0;
    }
    if (c->rx_len + len > rl->max_frame) {
        request_close(rl, c, RESDELIV_CLOSE_TOO_BIG, "message too big");
        c->rx_len = 0;
        return 0;
    }
    if (rx_append(c, in, len) != 0) {
        return -1;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) {
        return 0;
    }
    (void)resdeliv_pusher_server_message(rl->ps, wsi, c->rx, c->rx_len);
    c->rx_len = 0;
    /* A long message's buffer is not kept for the connection's life. */
    if (c->rx_cap > 4096) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    return 0;
}

/* One send() of lws carries at most the protocol's tx_packet_size, else
 * rx_buffer_size, else the context's pt_serv_buf_size (4096 unless set;
 * not readable): lws copies the rest aside and sends it a piece per later
 * POLLOUT. A run of frames that fits leaves in one send(), uncopied. */
static size_t send_size(struct lws *wsi)
{
    const struct lws_protocols *p = lws_get_protocol(wsi);
    size_t n = 0;

    if (p != NULL) {
        n = p->tx_packet_size != 0 ? p->tx_packet_size : p->rx_buffer_size;
    }
    return n == 0 ? DEFAULT_SEND_SIZE : n < MAX_BATCH ? n : MAX_BATCH;
}

/* The scratch buffer's old contents are never needed: no realloc. */
static int batch_reserve(resdeliv_lws *rl, size_t room)
{
    if (rl->batch_cap < room) {
        free(rl->batch);
        rl->batch = malloc(LWS_PRE + room);
        rl->batch_cap = rl->batch != NULL ? room : 0;
    }
    return rl->batch != NULL ? 0 : RESDELIV_ENOMEM;
}

/* One lws_write() of the head frames that fit in `room` bytes with their
 * headers (at least one; a lone frame from its own buffer). `room` 0: ws
 * over an h2 stream, which needs lws's framing, one LWS_WRITE_TEXT frame.
 * @return frames written, or -1 when the connection failed. */
static int write_run(resdeliv_lws *rl, struct lws *wsi, struct rlws_conn *c,
                     size_t room)
{
    struct rlws_qnode *n = c->qhead;
    unsigned char *out = frame_wire(n->frame);
    size_t len = frame_wire_len(n->frame);
    int count = 1;
    int w;

    if (room == 0) {
        out = n->frame->buf + LWS_PRE;
        len = n->frame->len;
    } else if (n->next != NULL &&
               len + frame_wire_len(n->next->frame) <= room &&
               batch_reserve(rl, room) == 0) {
        out = rl->batch + LWS_PRE;
        len = 0;
        count = 0;
        for (; n != NULL && len + frame_wire_len(n->frame) <= room;
             n = n->next) {
            memcpy(out + len, frame_wire(n->frame), frame_wire_len(n->frame));
            len += frame_wire_len(n->frame);
            count++;
        }
    }
    w = lws_write(wsi, out, len, room ? LWS_WRITE_RAW : LWS_WRITE_TEXT);
    for (int i = 0; i < count; i++) {
        frame_unref(dequeue(rl, c));
    }
    if (w < 0) {
        return -1;
    }
    rl->stats.frames_sent += (uint64_t)count;
    return count;
}

/* lws 4.1 sends LWS_WRITE_RAW (LWS_WRITE_HTTP) on a ws connection as it
 * is (rops_write_role_protocol_ws: lws_issue_raw() before any framing).
 * What the socket does not take lws keeps and sends before the next
 * writable callback, so a partial write ends the turn and no write needs
 * a lws_send_pipe_choked() poll() (h2 streams keep it). @return frames
 * written, or -1 when the connection failed. */
static int write_queued(resdeliv_lws *rl, struct lws *wsi, struct rlws_conn *c)
{
    int h2 = lws_get_network_wsi(wsi) != wsi;
    size_t room = h2 ? 0 : send_size(wsi);
    uint64_t writes = 0;
    int total = 0;

    while (c->qhead != NULL && writes < rl->opts.writes_per_callback) {
        int n;
        if (h2 && writes > 0 && lws_send_pipe_choked(wsi)) {
            break;
        }
        n = write_run(rl, wsi, c, room);
        if (n < 0) {
            return -1;
        }
        total += n;
        writes++;
        if (lws_partial_buffered(wsi)) {
            break;
        }
    }
    return total;
}

/* lws sends the close frame prepared by lws_close_reason() only when the
 * close starts outside a writable callback; from inside one the frame is
 * written here (LWS_WRITE_CLOSE, value 4 in lws's ABI), then the callback
 * returns nonzero to drop the connection. */
static void send_close(struct lws *wsi, const struct rlws_conn *c)
{
    unsigned char buf[LWS_PRE + 2 + sizeof(c->reason)];

    buf[LWS_PRE] = (unsigned char)(c->code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)c->code;
    memcpy(buf + LWS_PRE + 2, c->reason, c->reason_len);
    (void)lws_write(wsi, buf + LWS_PRE, 2 + c->reason_len,
                    (enum lws_write_protocol)4);
}

int resdeliv_lws_writable(resdeliv_lws *rl, struct lws *wsi,
                          struct resdeliv_lws_pss *pss)
{
    struct rlws_conn *c = pss->conn;
    int wrote;

    if (c == NULL) {
        return 0;
    }
    c->pollout = 0;
    wrote = write_queued(rl, wsi, c);
    if (wrote < 0) {
        return -1;
    }
    /* The close frame goes out from a callback that wrote nothing else:
     * lws sends it only when the connection can take it. */
    if (c->qhead != NULL || (c->closing && wrote > 0)) {
        ask_writable(c);
        return 0;
    }
    if (c->closing) {
        send_close(wsi, c);
        return -1;
    }
    if (c->want_lib) {
        /* Pacing: the library's next page waits for an empty queue. */
        c->want_lib = 0;
        (void)resdeliv_pusher_server_writable(rl->ps, wsi);
    }
    return 0;
}

void resdeliv_lws_closed(resdeliv_lws *rl, struct lws *wsi,
                         struct resdeliv_lws_pss *pss)
{
    struct rlws_conn *c = pss->conn;

    if (c == NULL) {
        return;
    }
    /* Out of the channel sets first, so the library's goodbyes (presence
     * member_removed) go only to the others; then no send reaches it. */
    resdeliv__lws_leave_all(rl, c);
    c->closing = 1;
    resdeliv_pusher_server_close(rl->ps, wsi);
    pss->conn = NULL;
    conn_free(rl, c);
    rl->stats.connections--;
}

void resdeliv_lws_free(resdeliv_lws *rl)
{
    if (rl == NULL) {
        return;
    }
    resdeliv_pusher_server_free(rl->ps);
    resdeliv__lws_channels_free(rl);
    free(rl->batch);
    free(rl);
}
