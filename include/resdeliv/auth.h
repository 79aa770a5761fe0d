/* SPDX-License-Identifier: MIT */
/**
 * @file auth.h
 * Pusher authentication: private/presence channel auth strings and the
 * HTTP API's request signature, as Pusher documents them (Channels
 * "Generating authentication and authorization strings" and the HTTP API
 * reference, "Generating authentication signatures").
 *
 * Channel auth is `<key>:<hex HMAC-SHA256(secret, string)>` where the
 * string is `<socket_id>:<channel_name>` for a private channel and
 * `<socket_id>:<channel_name>:<channel_data>` for a presence channel.
 *
 * An HTTP API request carries auth_key, auth_timestamp, auth_version
 * ("1.0"), body_md5 (hex MD5 of a non-empty body) and auth_signature in its
 * query string. The signature is the hex HMAC-SHA256, keyed by the secret,
 * of `METHOD\nPATH\nQUERY`, QUERY being every query parameter but
 * auth_signature, percent-decoded, keys lowercased, sorted by key and
 * joined as `key=value` with `&`. The timestamp must be within the window
 * (600 seconds by default) of the server's clock.
 *
 * Every function here is pure computation: no I/O, no global state, safe
 * from any thread.
 */
#ifndef RESDELIV_AUTH_H
#define RESDELIV_AUTH_H

#include "common.h"

RESDELIV_BEGIN_DECLS

/** Hex digits in a signature (HMAC-SHA256). */
#define RESDELIV_PUSHER_SIG_HEXLEN 64

/** Longest raw query string resdeliv_pusher_http_check() accepts. */
#define RESDELIV_PUSHER_MAX_QUERY 8192u
/** Most query parameters resdeliv_pusher_http_check() accepts. */
#define RESDELIV_PUSHER_MAX_PARAMS 64u
/** Longest request path resdeliv_pusher_http_check() accepts. */
#define RESDELIV_PUSHER_MAX_PATH 2048u
/** Default auth_timestamp window, seconds either side of the server clock. */
#define RESDELIV_PUSHER_TIMESTAMP_WINDOW 600u

/** Flag for resdeliv_pusher_http_request.flags: the HTTP library already
 * percent-decoded the query (libwebsockets does for URI arguments), so it
 * is only split on '&' and the first '='. A decoded value containing '&'
 * cannot be told apart from two parameters; prefer the raw query. */
#define RESDELIV_PUSHER_QUERY_DECODED 0x1u

/**
 * Buffer size for resdeliv_pusher_channel_auth() given the key's length:
 * key, ':', 64 hex digits and the NUL.
 */
#define RESDELIV_PUSHER_AUTH_BUFSIZE(keylen)                                   \
    ((keylen) + 1u + RESDELIV_PUSHER_SIG_HEXLEN + 1u)

/**
 * 1 when `socket_id` has the Pusher form `\d+\.\d+` (each part 1 to 20
 * digits and at most UINT64_MAX), else 0 (also for NULL).
 * Ownership: borrows `socket_id`. Thread: safe.
 */
RESDELIV_API int resdeliv_pusher_socket_id_valid(const char *socket_id);

/**
 * Write the auth string `key:signature` for `socket_id` on `channel` into
 * `out` (NUL-terminated). `channel_data` is the presence channel's
 * channel_data JSON text, byte for byte as the client will send it, or
 * NULL for a private channel (an empty string is signed as given, which
 * differs from NULL).
 * @return the length written (without the NUL); RESDELIV_ENOSPC when
 * `size` is below RESDELIV_PUSHER_AUTH_BUFSIZE(strlen(key));
 * RESDELIV_EINVAL for a NULL argument, an empty key or one containing ':',
 * an invalid socket id, or an empty channel or one containing ':' (a colon
 * would make the signed string ambiguous).
 * Ownership: borrows every argument. Thread: safe.
 */
RESDELIV_API int
resdeliv_pusher_channel_auth(const char *key, const char *secret,
                             const char *socket_id, const char *channel,
                             const char *channel_data, char *out, size_t size);

/**
 * Check the `auth` a client sent in a `pusher:subscribe` for `channel`
 * against the one the app's `key` and `secret` give. Pass the frame's
 * channel_data for a presence channel, NULL for a private one. The
 * comparison takes the same time wherever the strings differ.
 * @return 0 when it matches; RESDELIV_EAUTH when it does not (including a
 * malformed auth); RESDELIV_EINVAL for the argument errors of
 * resdeliv_pusher_channel_auth() or a NULL `auth`.
 * Ownership: borrows every argument. Thread: safe.
 */
RESDELIV_API int
resdeliv_pusher_channel_auth_check(const char *key, const char *secret,
                                   const char *socket_id, const char *channel,
                                   const char *channel_data, const char *auth);

/**
 * An HTTP API request as received. Fill with a designated initializer
 * starting with RESDELIV_STRUCT_HEAD(req); members may only be appended.
 */
struct resdeliv_pusher_http_request {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *method; /**< "POST", NUL-terminated, signed as given */
    const char *path;   /**< "/apps/3/events", no query, NUL-terminated */
    const char *query;  /**< raw query after '?', URL-encoded as sent;
                             need not be NUL-terminated; NULL if none */
    size_t query_len;
    const char *body; /**< request body; NULL only when body_len is 0 */
    size_t body_len;
    uint32_t flags; /**< RESDELIV_PUSHER_QUERY_DECODED or 0 */
};

/**
 * Authenticate an HTTP API request for the app `key`/`secret` at server
 * time `now_s` (seconds since the epoch), with the default 600 s window.
 * Same as resdeliv_pusher_http_check_window() with
 * RESDELIV_PUSHER_TIMESTAMP_WINDOW.
 */
RESDELIV_API int
resdeliv_pusher_http_check(const struct resdeliv_pusher_http_request *req,
                           const char *key, const char *secret, uint64_t now_s,
                           char *err, size_t errsize);

/**
 * Authenticate an HTTP API request; an auth_timestamp `window_s` seconds
 * or more away from `now_s` (either way) is refused.
 *
 * The query is split on '&' (empty pieces, such as a trailing '&', are
 * skipped), each piece on its first '='; keys and values are
 * percent-decoded ('+' is a space) and keys lowercased. Checked in this
 * order, each failure with a message in `err` naming it: query too long,
 * too many parameters, a parameter without '=' or with an empty name, bad
 * percent-encoding or a NUL byte, a duplicate parameter; missing or
 * unknown auth_key; missing auth_signature; missing or unsupported
 * auth_version; missing, malformed, expired (too old) or future (too far
 * ahead) auth_timestamp; missing body_md5 for a non-empty body, or a
 * body_md5 that does not match the body (checked whenever present); a
 * signature that does not match (the message shows the string that was
 * signed, never the secret).
 * @return 0 when authentic; RESDELIV_EAUTH for every failure above;
 * RESDELIV_EINVAL for NULL arguments, a request without a usable struct
 * head, an empty method or a path that is empty or too long;
 * RESDELIV_EABI for a request struct of another ABI major;
 * RESDELIV_ENOMEM.
 * Ownership: borrows every argument. Thread: safe.
 */
RESDELIV_API int resdeliv_pusher_http_check_window(
    const struct resdeliv_pusher_http_request *req, const char *key,
    const char *secret, uint64_t now_s, uint64_t window_s, char *err,
    size_t errsize);

/** One query parameter for resdeliv_pusher_http_sign(): unencoded name and
 * value, NUL-terminated. This pair is never extended. */
struct resdeliv_pusher_param {
    const char *name;
    const char *value;
};

/**
 * Sign an HTTP API request the way Pusher's server SDKs do, for tests and
 * tools that publish to a Pusher-compatible server. Adds auth_key,
 * auth_timestamp (`timestamp`), auth_version=1.0, body_md5 when `body_len`
 * is not 0, and auth_signature, to `params` (`nparams` of them, may be 0).
 * The signature covers the unencoded values; the returned query string
 * (no leading '?') has names and values percent-encoded (everything but
 * `A-Za-z0-9-._~`), so a server that decodes them signs the same string.
 * @return 0 with `*out` set; RESDELIV_EINVAL (NULL or empty method, path,
 * key or secret, a NULL or empty parameter name, a NULL value, a reserved
 * parameter: auth_key, auth_timestamp, auth_version, auth_signature,
 * body_md5, or a name given twice, case-insensitively; message in `err`),
 * RESDELIV_ENOMEM.
 * Ownership: `*out` is the caller's, free with resdeliv_free(); arguments
 * are borrowed. Thread: safe.
 */
RESDELIV_API int
resdeliv_pusher_http_sign(const char *method, const char *path,
                          const struct resdeliv_pusher_param *params,
                          size_t nparams, const char *key, const char *secret,
                          uint64_t timestamp, const char *body, size_t body_len,
                          char **out, char *err, size_t errsize);

RESDELIV_END_DECLS

#endif /* RESDELIV_AUTH_H */
