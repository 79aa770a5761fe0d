/* SPDX-License-Identifier: MIT */
/*
 * A small WebSocket client (RFC 6455, client side) over a plain TCP socket,
 * enough for a Pusher connection: one text message at a time, fragments
 * reassembled, pings answered, masked frames out. No TLS and no extensions;
 * a production client uses a WebSocket library instead, but this one shows
 * every byte the resume protocol needs and depends on nothing but libc.
 */
#ifndef RESDELIV_EXAMPLE_WS_H
#define RESDELIV_EXAMPLE_WS_H

#include <stddef.h>

/* Largest message the client accepts; a bigger one closes the connection. */
#define WS_MAX_MESSAGE (1024u * 1024u)

struct ws {
    int fd;             /* -1 when closed */
    unsigned char *buf; /* bytes read and not yet taken */
    size_t have;
    size_t cap;
    char *msg; /* message being reassembled from fragments */
    size_t msg_len;
    int close_code; /* from the server's close frame; 0 before one came */
};

/* Connect to 127.0.0.1:`port` and upgrade on `path` ("/app/key?..."),
 * waiting at most `timeout_ms` for the handshake. `err` gets a message on
 * failure. @return 0 or -1. */
int ws_open(struct ws *ws, int port, const char *path, int timeout_ms,
            char *err, size_t errsize);

/* Send one text message. @return 0 or -1. */
int ws_send_text(struct ws *ws, const char *text, size_t len);

/* The next text message, NUL-terminated, in `*out` (the caller frees it)
 * with its length in `*len`. @return 1 for a message, 0 when `timeout_ms`
 * passed without one, -1 when the connection is gone (close_code tells a
 * close frame from a dropped socket). */
int ws_recv(struct ws *ws, int timeout_ms, char **out, size_t *len);

/* Close politely: a close frame with code 1000, then the socket. */
void ws_close(struct ws *ws);

/* Drop the TCP connection with no close frame, as a lost network does.
 * Also releases the buffers; safe on a closed ws. */
void ws_drop(struct ws *ws);

#endif /* RESDELIV_EXAMPLE_WS_H */
