/* SPDX-License-Identifier: MIT */
/*
 * The tests' own WebSocket and HTTP client (wsclient.c), checked on its
 * own: the end-to-end, hostile, soak and benchmark programs read the
 * server through it, so a frame it misreads would pass or fail them for
 * the wrong reason. Frames go through a socketpair, not a server.
 */
#include "wsclient.h"

#include <check.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A server frame (never masked) of `len` bytes of `p`. */
static size_t server_frame(unsigned char *out, unsigned head0, const void *p,
                           size_t len)
{
    size_t h = 2;

    out[0] = (unsigned char)head0;
    if (len < 126) {
        out[1] = (unsigned char)len;
    } else if (len < 65536) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        h = 4;
    } else {
        out[1] = 127;
        memset(out + 2, 0, 8);
        for (int i = 0; i < 4; i++) {
            out[6 + i] = (unsigned char)(len >> (24 - 8 * i));
        }
        h = 10;
    }
    memcpy(out + h, p, len);
    return h + len;
}

/* A connection on one end of a socketpair; the other end in `*peer`. */
static void pair(struct wsc *ws, int *peer)
{
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    wsc_init(ws, sv[0]);
    *peer = sv[1];
}

static void put(int fd, const void *p, size_t n)
{
    ck_assert_int_eq(wsc_send_all(fd, p, n), 0);
}

/* -------------------------------------------------------------- frames */

START_TEST(encode_masks_and_announces)
{
    static const size_t sizes[] = {0, 125, 126, 65535, 65536};
    unsigned char *in = malloc(65536), *out = malloc(65536 + 14);

    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < 65536; i++) {
        in[i] = (unsigned char)(i * 7);
    }
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct wsc_frame f;
        size_t n = wsc_frame_encode(out, WSC_FIN | WSC_OP_BINARY, sizes[k], in,
                                    sizes[k]);
        ck_assert_int_eq(wsc_frame_decode(out, n, &f), 1);
        ck_assert(f.fin && f.masked && f.rsv == 0);
        ck_assert_int_eq(f.opcode, WSC_OP_BINARY);
        ck_assert_uint_eq(f.len, sizes[k]);
        ck_assert_uint_eq(f.head + f.len, n);
        /* The payload is masked with the 4 bytes before it. */
        for (size_t i = 0; i < sizes[k]; i++) {
            ck_assert_uint_eq(f.payload[i] ^ (f.payload - 4)[i & 3], in[i]);
        }
        /* One byte short is not a frame yet. */
        ck_assert_int_eq(wsc_frame_decode(out, n - 1, &f), 0);
    }
    free(in);
    free(out);
}
END_TEST

START_TEST(encode_lies_on_request)
{
    unsigned char out[64];
    struct wsc_frame f;
    size_t n =
        wsc_frame_encode(out, 0x40 | WSC_OP_TEXT, (uint64_t)1 << 62, "abc", 3);

    ck_assert_uint_eq(n, 2 + 8 + 4 + 3);
    ck_assert_uint_eq(out[0], 0x41);
    ck_assert_uint_eq(out[1], 0x80 | 127);
    ck_assert_uint_eq(out[2], 0x40);
    /* It announces far more than it carries: never a whole frame. */
    ck_assert_int_eq(wsc_frame_decode(out, n, &f), 0);
}
END_TEST

/* ----------------------------------------------------------- handshake */

START_TEST(upgrade_answer_checked)
{
    static const char ok[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "connection: Upgrade\r\nsec-websocket-accept: "
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nframes";
    static const char wrong[] =
        "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: "
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n\r\n";
    static const char none[] = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    static const char refused[] = "HTTP/1.1 403 Forbidden\r\n\r\n";
    char req[256];

    ck_assert_int_gt(wsc_upgrade_request(req, sizeof(req), 80, "/app/k"), 0);
    ck_assert_ptr_nonnull(strstr(req, "GET /app/k HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(req, "dGhlIHNhbXBsZSBub25jZQ=="));
    ck_assert_int_eq(wsc_upgrade_request(req, 16, 80, "/app/k"), -1);
    ck_assert_int_eq(wsc_upgrade_response(ok, sizeof(ok) - 1),
                     (long)(sizeof(ok) - 1 - strlen("frames")));
    ck_assert_int_eq(wsc_upgrade_response(ok, 40), 0);
    ck_assert_int_eq(wsc_upgrade_response(wrong, sizeof(wrong) - 1), -1);
    ck_assert_int_eq(wsc_upgrade_response(none, sizeof(none) - 1), -1);
    ck_assert_int_eq(wsc_upgrade_response(refused, sizeof(refused) - 1), -1);
}
END_TEST

/* ---------------------------------------------------------- connection */

START_TEST(messages_in_place_and_reassembled)
{
    unsigned char b[512];
    struct wsc ws;
    struct wsc_msg m;
    size_t n = 0;
    int peer;

    pair(&ws, &peer);
    n += server_frame(b + n, WSC_FIN | WSC_OP_TEXT, "one", 3);
    n += server_frame(b + n, WSC_OP_TEXT, "tw", 2);
    n += server_frame(b + n, WSC_FIN | WSC_OP_PING, "p", 1);
    n += server_frame(b + n, WSC_FIN | WSC_OP_PONG, "q", 1);
    n += server_frame(b + n, WSC_FIN | WSC_OP_CONT, "o", 1);
    n += server_frame(b + n, WSC_FIN | WSC_OP_CLOSE, "\x0f\xa0", 2);
    /* Byte by byte: every frame header is split across reads. */
    ws.read_max = 1;
    put(peer, b, n);
    while (ws.have < n) {
        ck_assert_int_eq(wsc_read(&ws, 0), 1);
    }
    ck_assert_uint_eq(ws.reads, n);
    ck_assert_int_eq(wsc_next(&ws, &m), WSC_MESSAGE);
    ck_assert_int_eq(m.opcode, WSC_OP_TEXT);
    ck_assert_uint_eq(m.len, 3);
    ck_assert_int_eq(memcmp(m.data, "one", 3), 0);
    ck_assert_int_eq(wsc_next(&ws, &m), WSC_PING);
    ck_assert_uint_eq(m.len, 1);
    ck_assert_int_eq(wsc_next(&ws, &m), WSC_MESSAGE);
    ck_assert_str_eq(m.data, "two");
    ck_assert_int_eq(wsc_next(&ws, &m), WSC_CLOSED);
    ck_assert_int_eq(ws.close_code, 4000);
    ck_assert_uint_eq(ws.frames, 6);
    ck_assert_int_eq(wsc_next(&ws, &m), WSC_MORE);
    wsc_drop(&ws);
    wsc_drop(&ws);
    close(peer);
}
END_TEST

START_TEST(recv_answers_pings_and_times_out)
{
    unsigned char b[128];
    struct wsc ws;
    struct wsc_frame f;
    char *text = NULL, got[64];
    size_t n = 0, len = 0;
    ssize_t r;
    int peer;

    pair(&ws, &peer);
    n += server_frame(b + n, WSC_FIN | WSC_OP_PING, "hi", 2);
    n += server_frame(b + n, WSC_FIN | WSC_OP_TEXT, "msg", 3);
    put(peer, b, n);
    ck_assert_int_eq(wsc_recv(&ws, 1000, &text, &len), 1);
    ck_assert_str_eq(text, "msg");
    ck_assert_uint_eq(len, 3);
    free(text);
    /* The pong went back, masked, with the ping's payload. */
    r = recv(peer, got, sizeof(got), 0);
    ck_assert_int_gt(r, 0);
    ck_assert_int_eq(wsc_frame_decode((unsigned char *)got, (size_t)r, &f), 1);
    ck_assert_int_eq(f.opcode, WSC_OP_PONG);
    ck_assert(f.masked);
    ck_assert_uint_eq(f.len, 2);
    ck_assert_int_eq(wsc_recv(&ws, 10, &text, NULL), 0);
    ck_assert_ptr_null(text);
    close(peer);
    ck_assert_int_eq(wsc_recv(&ws, 1000, &text, NULL), -1);
    ck_assert_int_eq(ws.close_code, 0);
    wsc_drop(&ws);
}
END_TEST

START_TEST(frames_a_server_must_not_send)
{
    unsigned char b[64];
    struct wsc ws;
    struct wsc_msg m;
    int peer;

    pair(&ws, &peer);
    put(peer, b, server_frame(b, WSC_FIN | 0x20 | WSC_OP_TEXT, "x", 1));
    ck_assert_int_eq(wsc_read(&ws, 0), 1);
    ck_assert_int_eq(wsc_next(&ws, &m), WSC_CLOSED);
    ck_assert_int_eq(ws.close_code, 1002);
    wsc_drop(&ws);
    close(peer);

    pair(&ws, &peer);
    put(peer, b, wsc_frame_encode(b, WSC_FIN | WSC_OP_TEXT, 1, "x", 1));
    ck_assert_int_eq(wsc_read(&ws, 0), 1);
    ck_assert_int_eq(wsc_next(&ws, &m), WSC_CLOSED);
    ck_assert_int_eq(ws.close_code, 1002);
    /* Nothing more to read on a non-blocking try. */
    ck_assert_int_eq(wsc_read(&ws, MSG_DONTWAIT), 0);
    wsc_drop(&ws);
    close(peer);
}
END_TEST

/* ---------------------------------------------------------------- http */

START_TEST(http_request_text)
{
    size_t len = 0;
    char *r = wsc_http_request("POST", "/x?a=1", "{}", 2, 0, &len);

    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(len, strlen(r));
    ck_assert_ptr_nonnull(strstr(r, "POST /x?a=1 HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(r, "Content-Length: 2\r\n"));
    ck_assert_ptr_nonnull(strstr(r, "Connection: close\r\n\r\n{}"));
    free(r);
    r = wsc_http_request("GET", "/", NULL, 0, 1, &len);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_null(strstr(r, "Connection"));
    ck_assert_str_eq(r + len - 4, "\r\n\r\n");
    free(r);
}
END_TEST

START_TEST(http_response_parsed)
{
    static const char two[] = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
                              "HTTP/1.1 404 Not Found\r\n\r\n";
    size_t head, body, first;
    int status;

    ck_assert_int_eq(wsc_http_response(two, 4, &status, &head, &body), 0);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(wsc_http_response(two, 20, &status, &head, &body), 0);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(wsc_http_response(two, 39, &status, &head, &body), 0);
    ck_assert_int_eq(
        wsc_http_response(two, sizeof(two) - 1, &status, &head, &body), 1);
    ck_assert_uint_eq(body, 2);
    first = head + body;
    ck_assert_int_eq(wsc_http_response(two + first, sizeof(two) - 1 - first,
                                       &status, &head, &body),
                     1);
    ck_assert_int_eq(status, 404);
    ck_assert_uint_eq(body, 0);
    ck_assert_int_eq(wsc_http_response("SSH-2.0", 7, &status, &head, &body),
                     -1);
    ck_assert_int_eq(
        wsc_http_response("HTTP/1.1 2x0 OK\r\n", 17, &status, &head, &body),
        -1);
}
END_TEST

START_TEST(http_exchange_refused)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    char *body = (char *)"untouched";

    /* A loopback port nobody listens on: bound, never listening, closed. */
    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    ck_assert_int_eq(wsc_connect(port, 1000), -1);
    ck_assert_int_eq(wsc_http_exchange(port, "GET", 3, 0, 1000, &body), -1);
    ck_assert_ptr_null(body);
}
END_TEST

static Suite *wsclient_suite(void)
{
    Suite *s = suite_create("wsclient");
    TCase *frames = tcase_create("frames");
    TCase *handshake = tcase_create("handshake");
    TCase *conn = tcase_create("connection");
    TCase *http = tcase_create("http");

    tcase_add_test(frames, encode_masks_and_announces);
    tcase_add_test(frames, encode_lies_on_request);
    tcase_add_test(handshake, upgrade_answer_checked);
    tcase_add_test(conn, messages_in_place_and_reassembled);
    tcase_add_test(conn, recv_answers_pings_and_times_out);
    tcase_add_test(conn, frames_a_server_must_not_send);
    tcase_add_test(http, http_request_text);
    tcase_add_test(http, http_response_parsed);
    tcase_add_test(http, http_exchange_refused);
    suite_add_tcase(s, frames);
    suite_add_tcase(s, handshake);
    suite_add_tcase(s, conn);
    suite_add_tcase(s, http);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wsclient_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
