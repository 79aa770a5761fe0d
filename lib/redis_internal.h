/* SPDX-License-Identifier: MIT */
/*
 * Internals of the Redis Streams store, shared by its modules: the URL
 * parser (redis_url.c), command building and reply decoding as pure
 * functions over hiredis replies (redis_cmd.c), and the blocking client
 * (store_redis.c). The event-loop client reuses redis_cmd.c unchanged, so
 * nothing in redis_cmd.c does I/O.
 *
 * Key layout. A log of (prefix, app id, channel) lives in two keys that
 * share one Redis Cluster hash tag:
 *
 *     stream  E(prefix) ":{" A(app_id) ":" E(channel) "}"
 *     epoch   E(prefix) ":{" A(app_id) ":" E(channel) "}:epoch"
 *
 * where E() replaces '%', '{' and '}' by "%25", "%7B" and "%7D", and A() also
 * replaces ':' by "%3A". The first '{' is therefore always the tag opener
 * and the first '}' after it its closer, so the tag covers exactly the app
 * id and channel; the first ':' inside the tag splits them, so different
 * logs never share a key. Ordinary names ("orders", "private-chat.1") are
 * unchanged: `delivery:{app-id:orders}`.
 */
#ifndef RESDELIV_REDIS_INTERNAL_H
#define RESDELIV_REDIS_INTERNAL_H

#include "internal.h"

#include <resdeliv/redis.h>

/* Parsed store URL. Strings are NUL-terminated and percent-decoded. */
#define RESDELIV__REDIS_HOST_MAX 256
#define RESDELIV__REDIS_CRED_MAX 256
#define RESDELIV__REDIS_PATH_MAX 108 /* sun_path */
#define RESDELIV__REDIS_MAX_DB 1000000
#define RESDELIV__REDIS_DEFAULT_PORT 6379

struct resdeliv__redis_url {
    int is_unix;          /* 1: `path` is a Unix socket; else host/port */
    int port;
    int db;
    int has_user;
    int has_password;
    char host[RESDELIV__REDIS_HOST_MAX];
    char path[RESDELIV__REDIS_PATH_MAX];
    char user[RESDELIV__REDIS_CRED_MAX];
    char password[RESDELIV__REDIS_CRED_MAX];
};

/* Parse `url`; RESDELIV_EBADURL with a message naming the part otherwise. */
int resdeliv__redis_url_parse(const char *url,
                              struct resdeliv__redis_url *out, char *err,
                              size_t errsize);

#ifdef RESDELIV_HAVE_REDIS

#include <hiredis/hiredis.h>

/* Server versions as major * 10000 + minor * 100 + patch. */
#define RESDELIV__REDIS_V(a, b, c) ((a) * 10000u + (b) * 100u + (c))

/* Command argument vector; argv[] points into the caller's buffers or into
 * `num`, which holds the numbers this builder formatted. */
#define RESDELIV__REDIS_ARGV_MAX 12
struct resdeliv__redis_argv {
    int argc;
    const char *argv[RESDELIV__REDIS_ARGV_MAX];
    size_t len[RESDELIV__REDIS_ARGV_MAX];
    char num[4][RESDELIV_ID_BUFSIZE + 1];
};

/* The two keys of one log (see the layout above). */
struct resdeliv__redis_keys {
    char *stream;
    size_t stream_len;
    char *epoch;
    size_t epoch_len;
};

int resdeliv__redis_keys_build(const char *prefix, size_t prefix_len,
                               const char *app_id, size_t app_id_len,
                               const char *channel, size_t channel_len,
                               struct resdeliv__redis_keys *out);
void resdeliv__redis_keys_clear(struct resdeliv__redis_keys *keys);

/* The append script and its arguments. */
extern const char resdeliv__redis_append_lua[];
extern const size_t resdeliv__redis_append_lua_len;

/* EVALSHA (sha != NULL) or EVAL of the append script for one item. */
void resdeliv__redis_argv_append(struct resdeliv__redis_argv *a,
                                 const char *sha,
                                 const struct resdeliv__redis_keys *keys,
                                 const struct resdeliv_append_item *item,
                                 const char *new_epoch, unsigned version);
/* XRANGE / XREVRANGE strictly after `after` (count 0 = all). Returns
 * RESDELIV_ERANGE when nothing can follow `after`. */
int resdeliv__redis_argv_range(struct resdeliv__redis_argv *a, int reverse,
                               const struct resdeliv__redis_keys *keys,
                               const struct resdeliv_id *after,
                               uint64_t count, unsigned version);
/* EVAL counting the entries strictly after `after` on the server. */
int resdeliv__redis_argv_count(struct resdeliv__redis_argv *a,
                               const struct resdeliv__redis_keys *keys,
                               const struct resdeliv_id *after,
                               unsigned version);
/* A command of fixed words followed by one key. */
void resdeliv__redis_argv_key(struct resdeliv__redis_argv *a,
                              const char *const *words, int nwords,
                              const char *key, size_t key_len);

/* Server version from an INFO reply text; 0 when absent. */
unsigned resdeliv__redis_version_parse(const char *info, size_t len);

/* Decoders: 0 or RESDELIV_ESTORE with a message in `err`. */
int resdeliv__redis_reply_error(const redisReply *r, char *err,
                                size_t errsize);
int resdeliv__redis_decode_append(const redisReply *r,
                                  struct resdeliv_append_result *res,
                                  char *err, size_t errsize);
/* GET of the epoch key: "" for nil. */
int resdeliv__redis_decode_epoch(const redisReply *r, char *epoch,
                                 char *err, size_t errsize);
/* XRANGE entries into `out` (borrowing the reply's strings). */
int resdeliv__redis_decode_entries(const redisReply *r,
                                   struct resdeliv_stored_entry *out,
                                   size_t max, size_t *n, char *err,
                                   size_t errsize);
/* XINFO STREAM; a "no such key" error gives exists = 0. */
int resdeliv__redis_decode_xinfo(const redisReply *r,
                                 struct resdeliv_log_info *info, char *err,
                                 size_t errsize);
/* XREVRANGE after `after` with COUNT cap + 1 (cap 0: no COUNT). */
int resdeliv__redis_decode_after(const redisReply *r, uint64_t cap,
                                 struct resdeliv_log_info *info, char *err,
                                 size_t errsize);
/* 1 when an error reply is NOSCRIPT. */
int resdeliv__redis_is_noscript(const redisReply *r);

#endif /* RESDELIV_HAVE_REDIS */

#ifdef RESDELIV_HAVE_REDIS

/* The blocking store's connection (redis_conn.c). `c` is NULL while
 * disconnected; an operation reconnects first, after a backoff that grows
 * with `failures`. Messages of the last failure are in `errmsg`. */
struct resdeliv__redis_conn {
    redisContext *c;
    struct resdeliv__redis_url url;
    uint64_t connect_ms;
    uint64_t command_ms;
    unsigned version;  /* of the connected server */
    char sha[48];      /* of the loaded append script, "" if none */
    uint32_t failures; /* consecutive connection failures */
    uint64_t last_fail_ms;
    char errmsg[512];
};

/* Connect and run the handshake now: 0, RESDELIV_EAUTH when AUTH is
 * refused, else RESDELIV_ESTORE; a failure counts towards the backoff. */
int resdeliv__redis_conn_open(struct resdeliv__redis_conn *conn);
/* Connect unless connected, first waiting out the backoff of the last
 * failure: 0 or RESDELIV_ESTORE. */
int resdeliv__redis_conn_ensure(struct resdeliv__redis_conn *conn);
/* Send `n` commands and read their `n` replies in one round trip,
 * connecting first if needed: 0 or RESDELIV_ESTORE. On an I/O error the
 * replies read so far are freed (their slots set to NULL) and the
 * connection is dropped; a failed connect leaves `replies` untouched. */
int resdeliv__redis_conn_exchange(struct resdeliv__redis_conn *conn,
                                  const struct resdeliv__redis_argv *cmds,
                                  size_t n, redisReply **replies);
/* Drop the connection (no-op when there is none); the URL stays. */
void resdeliv__redis_conn_close(struct resdeliv__redis_conn *conn);

#endif /* RESDELIV_HAVE_REDIS */

#endif /* RESDELIV_REDIS_INTERNAL_H */
