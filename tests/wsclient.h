/* SPDX-License-Identifier: MIT */
/*
 * The one WebSocket and HTTP/1.1 client of the tests, the soak and the
 * benchmarks, written over plain TCP sockets to 127.0.0.1 so that the
 * server is checked against bytes on the wire, never against its own code.
 *
 * It comes in layers, so that each I/O model takes what fits it:
 * - sockets: connect with a timeout (or start one without waiting), send
 *   everything, waiting on a full non-blocking socket;
 * - frames (RFC 6455): a masked client frame with any first byte and any
 *   announced length (the hostile tests lie on purpose), and a server
 *   frame's header read from a buffer;
 * - the upgrade: its request, and its answer checked (101 and the
 *   Sec-WebSocket-Accept for the client's key);
 * - a connection (struct wsc): a read buffer consumed by an offset, and
 *   messages taken from it one at a time, in place when not fragmented.
 *   A blocking test polls it with wsc_recv(); an event loop (the bench's
 *   epoll, the soak's and the hostile fleet's poll) calls wsc_read() when
 *   the socket is readable and wsc_next() until it says "more";
 * - HTTP: a request text, a response read from a buffer, and a one-shot
 *   exchange on a connection of its own.
 *
 * examples/client/ws.c is a client of its own on purpose: an example is
 * read alone and makes different choices (random masks, size limits).
 */
#ifndef RESDELIV_TESTS_WSCLIENT_H
#define RESDELIV_TESTS_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#define WSC_OP_CONT 0
#define WSC_OP_TEXT 1
#define WSC_OP_BINARY 2
#define WSC_OP_CLOSE 8
#define WSC_OP_PING 9
#define WSC_OP_PONG 10
#define WSC_FIN 0x80

/* A client frame's header: 2 bytes, 8 of extended length, 4 of mask. */
#define WSC_FRAME_HEAD_MAX 14
/* How long a send waits for room on a full non-blocking socket. */
#define WSC_SEND_WAIT_MS 5000

/* ------------------------------------------------------------ sockets */

/* A blocking TCP connection to 127.0.0.1:`port` (TCP_NODELAY), made
 * within `timeout_ms`. @return the fd or -1. */
int wsc_connect(int port, int timeout_ms);
/* A non-blocking socket whose connect to 127.0.0.1:`port` may still be
 * in progress: poll it for POLLOUT, then ask wsc_connect_done().
 * @return the fd or -1. */
int wsc_connect_start(int port);
/* @return 0 when the connect of `fd` succeeded, -1 when it failed. */
int wsc_connect_done(int fd);
/* All `len` bytes, or -1 (a non-blocking socket that stays full for
 * WSC_SEND_WAIT_MS is a failure too). */
int wsc_send_all(int fd, const void *data, size_t len);

/* ------------------------------------------------------------- frames */

/* A masked client frame into `out` (room for WSC_FRAME_HEAD_MAX + len):
 * first byte `head0` as given (FIN, RSV bits, opcode), `len` bytes of
 * `data`, a header announcing `announced` bytes (normally `len`).
 * @return the frame's length. */
size_t wsc_frame_encode(unsigned char *out, unsigned head0, uint64_t announced,
                        const void *data, size_t len);
/* wsc_frame_encode() straight onto `fd`, for bytes no polite client
 * sends. @return 0 or -1. */
int wsc_send_raw(int fd, unsigned head0, const void *data, size_t len,
                 uint64_t announced);
/* One whole frame with FIN set. @return 0 or -1. */
int wsc_send_frame(int fd, int opcode, const void *data, size_t len);

/* A server frame as it lies in a buffer. */
struct wsc_frame {
    int fin;
    int opcode;
    int rsv;    /* RSV1-3 bits, 0 without an extension */
    int masked; /* a server must not mask */
    size_t head;
    uint64_t len;
    const unsigned char *payload;
};

/* @return 1 when `n` bytes at `b` hold a whole frame (described in `f`),
 * 0 when more are needed. */
int wsc_frame_decode(const unsigned char *b, size_t n, struct wsc_frame *f);

/* ---------------------------------------------------------- handshake */

/* The upgrade request for `path` into `out`. @return its length, or -1
 * when it does not fit. */
int wsc_upgrade_request(char *out, size_t size, int port, const char *path);
/* The answer to wsc_upgrade_request() at the start of `b`. @return the
 * length of its head when it is a 101 with the right accept key, 0 when
 * the head is not all there, -1 when the upgrade was refused. */
long wsc_upgrade_response(const void *b, size_t n);

/* --------------------------------------------------------- connection */

struct wsc {
    int fd; /* -1 when closed */
    unsigned char *buf;
    size_t off; /* first byte not yet taken */
    size_t have;
    size_t cap;
    char *msg; /* a fragmented message being reassembled, NUL-ended */
    size_t msg_len;
    int msg_opcode;  /* of the message in msg while fragments come, or 0 */
    int msg_done;    /* msg was handed out: start afresh next time */
    int close_code;  /* from a close frame; 1002 for a protocol error */
    size_t read_max; /* bytes asked of one recv(), 0 for all that fit */
    size_t reads;    /* recv() calls that returned data */
    size_t frames;   /* frames taken from the stream */
};

/* One message taken by wsc_next(). `data` is not NUL-terminated and
 * lives until the next call on the connection. */
struct wsc_msg {
    int opcode; /* WSC_OP_TEXT, WSC_OP_BINARY or WSC_OP_PING */
    const char *data;
    size_t len;
};

#define WSC_MORE 0    /* no whole message buffered */
#define WSC_MESSAGE 1 /* a text or binary message */
#define WSC_PING 2    /* a ping: the caller answers with its payload */
#define WSC_CLOSED (-1)

/* A connection on `fd` (-1 for none yet), nothing buffered. */
void wsc_init(struct wsc *ws, int fd);
/* Connect within `timeout_ms` and upgrade on `path`. @return 0 or -1. */
int wsc_open(struct wsc *ws, int port, const char *path, int timeout_ms);
/* Take the upgrade's answer off the buffer (an event loop's handshake).
 * @return 1 done, 0 not all there, -1 refused. */
int wsc_take_upgrade(struct wsc *ws);
/* One recv() into the buffer (`flags` as for recv()). @return 1 bytes
 * came, 0 none were there, -1 the peer closed or the read failed. */
int wsc_read(struct wsc *ws, int flags);
/* The next message in the buffer. @return WSC_MORE, WSC_MESSAGE,
 * WSC_PING, or WSC_CLOSED after a close frame or a frame a server must
 * not send (close_code 1002). Pongs and unknown opcodes are skipped. */
int wsc_next(struct wsc *ws, struct wsc_msg *m);

/* Blocking helpers: one frame of `opcode`, a text frame, a close frame
 * with `code`. @return 0 or -1. */
int wsc_send(struct wsc *ws, int opcode, const void *data, size_t len);
int wsc_send_text(struct wsc *ws, const char *text);
int wsc_send_close(struct wsc *ws, int code);
/* The next text or binary message, pings answered on the way, as a
 * NUL-terminated copy in `*out` (caller frees) with its length in `*len`
 * (may be NULL). @return 1, 0 when `timeout_ms` passed, -1 when the
 * connection is over (close_code set when a close frame came). */
int wsc_recv(struct wsc *ws, int timeout_ms, char **out, size_t *len);
/* Drop the TCP connection without a close handshake and free the
 * buffers. Safe on a closed connection. */
void wsc_drop(struct wsc *ws);

/* --------------------------------------------------------------- HTTP */

/* An HTTP/1.1 request for 127.0.0.1 with a JSON body of `blen` bytes
 * (`body` may be NULL when 0) and Content-Length; "Connection: close"
 * unless `keep_alive`. @return the text (caller frees) with its length in
 * `*len`, or NULL. */
char *wsc_http_request(const char *method, const char *target, const char *body,
                       size_t blen, int keep_alive, size_t *len);
/* A response at the start of `b`: `*status` once the status line is in
 * (0 before), `*head` and `*body` its lengths once whole. A response
 * without Content-Length is whole when its head is. @return 1 whole, 0
 * more needed, -1 not an HTTP response. */
int wsc_http_response(const char *b, size_t n, int *status, size_t *head,
                      size_t *body);
/* Send `len` bytes of `req` on a new connection (a send the server cuts
 * short is fine), half-close when asked, and read until the server closes
 * or `timeout_ms` passes. `*body` (may be NULL) gets what followed the
 * head (caller frees). @return the status, 0 when the server closed
 * without one, -1 on a local error or when it neither answered nor closed
 * in time. */
int wsc_http_exchange(int port, const void *req, size_t len, int half_close,
                      int timeout_ms, char **body);

#endif /* RESDELIV_TESTS_WSCLIENT_H */
