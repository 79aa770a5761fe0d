/* SPDX-License-Identifier: MIT */
/*
 * Internals of the Redis Streams store, shared by its modules: the URL
 * parser (redis_url.c), command building and reply decoding as pure
 * functions over hiredis replies (redis_cmd.c; appends and info counts in
 * redis_cmd_batch.c), and the blocking client (store_redis.c). The
 * event-loop client reuses both unchanged, so neither does I/O.
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
#include <signal.h>

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
/* Length of the stream key of (prefix, app id, channel). */
size_t resdeliv__redis_key_len(const char *prefix, size_t prefix_len,
                               const char *app_id, size_t app_id_len,
                               const char *channel, size_t channel_len);
/* Both keys into caller memory: `stream` has room for n + 1 bytes,
 * `epoch` for n + sizeof(":epoch"), n from resdeliv__redis_key_len(). */
void resdeliv__redis_keys_write(char *stream, char *epoch, size_t n,
                                const char *prefix, size_t prefix_len,
                                const char *app_id, size_t app_id_len,
                                const char *channel, size_t channel_len,
                                struct resdeliv__redis_keys *out);

/* The append script: one call appends a run of items to one log. */
extern const char resdeliv__redis_append_lua[];
extern const size_t resdeliv__redis_append_lua_len;

/* EVALSHA (sha != NULL) or EVAL of the append script for one item. */
void resdeliv__redis_argv_append(struct resdeliv__redis_argv *a,
                                 const char *sha,
                                 const struct resdeliv__redis_keys *keys,
                                 const struct resdeliv_append_item *item,
                                 const char *new_epoch, unsigned version);

/* Epoch tokens for new logs, many per getrandom(2). Zeroed = empty. */
#define RESDELIV__REDIS_EPOCH_POOL 32
struct resdeliv__redis_epochs {
    unsigned char raw[8 * RESDELIV__REDIS_EPOCH_POOL];
    size_t left; /* tokens not handed out yet */
};
/* A fresh token into `out` (RESDELIV_EPOCH_BUFSIZE bytes). */
int resdeliv__redis_epoch_take(struct resdeliv__redis_epochs *pool,
                               char *out);

/* A command of any length over the caller's arrays. */
struct resdeliv__redis_cmd {
    int argc;
    const char **argv;
    const size_t *len;
};

/* Most items one script call appends (keeps Redis responsive). */
#define RESDELIV__REDIS_GROUP_MAX 512

/* One script call: a run of items of one log with one retention and one
 * data field. A group that is its log's only group (`sole`) may instead
 * be appended by a plain pipeline (see redis_cmd_batch.c); `pipe` says
 * which form the exchange in flight has, `ncmds` and `seen` count its
 * commands and replies, `status` is its first failure, `nils` its XADDs
 * that found no stream, `epoch` what its first GET read ("" for nil) and
 * `changed` that the second GET read something else. */
struct resdeliv__redis_group {
    size_t first; /* into order[] */
    size_t count;
    size_t arg0;  /* into argv[] / len[] */
    struct resdeliv__redis_keys keys; /* point into the batch's block */
    const char *field; /* "d", or "o" for RESDELIV_ENTRY_OBJECT data */
    char new_epoch[RESDELIV_EPOCH_BUFSIZE];
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    char num[3][24];
    struct resdeliv__redis_cmd cmd;
    int sole;
    int pipe;
    int status;
    int changed;
    size_t ncmds;
    size_t seen;
    size_t nils;
};

/* A batch append as script calls, one per log (more when a log's run
 * exceeds RESDELIV__REDIS_GROUP_MAX or its retention or data field
 * changes within the batch); calls of one log keep the items' order. One
 * block holds every array: `results` (per item), `replies` (n per group,
 * then `nslots` of scratch), `cmds` (`nslots`) and `queue` (3n) are for
 * the store's use; `nslots` bounds the commands of all groups' first
 * exchanges together. */
struct resdeliv__redis_batch {
    size_t n;
    size_t ngroups;
    size_t nslots;
    int publish; /* 1: the script PUBLISHes each entry (set after init) */
    size_t *order; /* item index of each slot, grouped */
    struct resdeliv__redis_group *groups;
    const char **argv;
    size_t *len;
    struct resdeliv_append_result *results;
    redisReply **replies;
    struct resdeliv__redis_cmd *cmds;
    size_t *queue;
    void *block;
};

int resdeliv__redis_batch_init(struct resdeliv__redis_batch *b,
                               const char *prefix, size_t prefix_len,
                               const char *app_id, size_t app_id_len,
                               const struct resdeliv_append_item *items,
                               size_t n, struct resdeliv__redis_epochs *pool);
/* Fill groups[g].cmd: EVALSHA (sha != NULL) or EVAL. `items` are the
 * ones given to init (or copies at the same indices). */
void resdeliv__redis_batch_argv(struct resdeliv__redis_batch *b, size_t g,
                                const char *sha,
                                const struct resdeliv_append_item *items,
                                unsigned version);
/* Results of group `g`'s items from its reply (NULL: no reply); returns
 * the status given to them. */
int resdeliv__redis_batch_decode(struct resdeliv__redis_batch *b, size_t g,
                                 const redisReply *r, char *err,
                                 size_t errsize);
/* Status of every item of group `g`. */
void resdeliv__redis_batch_fail(struct resdeliv__redis_batch *b, size_t g,
                                int status);

/* Most commands of group g's pipeline: GET, an XADD per item, GET,
 * XTRIM, PEXPIRE x2. */
#define RESDELIV__REDIS_PIPE_CMDS(count) ((count) + 5)
/* 1 when group `g` is appended by the pipeline on a server of `version`;
 * never when the batch publishes (the notification needs the id in the
 * same atomic step). */
int resdeliv__redis_batch_fast(const struct resdeliv__redis_batch *b,
                               size_t g, unsigned version);
/* Fill cmds[] (RESDELIV__REDIS_PIPE_CMDS(count) slots) with group `g`'s
 * pipeline, start it (pipe = 1, counters and status 0) and return its
 * length. `now_ms` is the server's clock (resdeliv__redis_server_ms()),
 * for the age trim. */
size_t resdeliv__redis_batch_pipe(struct resdeliv__redis_batch *b, size_t g,
                                  const struct resdeliv_append_item *items,
                                  uint64_t now_ms,
                                  struct resdeliv__redis_cmd *cmds);
/* What one reply of a pipeline leaves to do. */
#define RESDELIV__REDIS_MORE 1     /* further replies of it are due */
#define RESDELIV__REDIS_FALLBACK 2 /* nothing was kept: use the script */
/* Take the next reply (NULL: none came) of group `g`'s pipeline, in
 * order. After the last one (`ncmds`) the items' results are set (0 or
 * an error, message in `err`) or RESDELIV__REDIS_FALLBACK says the log
 * or its epoch key is missing. */
int resdeliv__redis_batch_pipe_reply(struct resdeliv__redis_batch *b,
                                     size_t g, const redisReply *r,
                                     char *err, size_t errsize);

/* The server's clock in ms: the local clock plus `skew_ms`, learned from
 * the ids the server assigned (resdeliv__redis_batch_skew()). */
uint64_t resdeliv__redis_server_ms(int64_t skew_ms);
/* Learn `*skew_ms` from the newest id among the batch's results. */
void resdeliv__redis_batch_skew(const struct resdeliv__redis_batch *b,
                                int64_t *skew_ms);
void resdeliv__redis_batch_clear(struct resdeliv__redis_batch *b);

/* XRANGE / XREVRANGE strictly after `after` (count 0 = all). Returns
 * RESDELIV_ERANGE when nothing can follow `after`. */
int resdeliv__redis_argv_range(struct resdeliv__redis_argv *a, int reverse,
                               const struct resdeliv__redis_keys *keys,
                               const struct resdeliv_id *after,
                               uint64_t count, unsigned version);

/* Info of a log in one MULTI: XINFO STREAM, GET epoch and, when `after`
 * is set and not 0-0, a probe: XREVRANGE + (after COUNT k (k small). */
#define RESDELIV__REDIS_PROBE_MAX 64
/* COUNT of the probe for `cap`; 0: send none. */
uint64_t resdeliv__redis_probe_count(const struct resdeliv_id *after,
                                     uint64_t cap);
/* count_after / capped / skip_to of an existing log's info from its
 * XINFO fields and the probe's reply (NULL when none was sent). Returns
 * 1 when only the count script can tell, else 0 or RESDELIV_ESTORE. */
int resdeliv__redis_info_counts(struct resdeliv_log_info *info,
                                const struct resdeliv_id *after,
                                uint64_t cap, const redisReply *probe,
                                uint64_t probe_count, char *err,
                                size_t errsize);
/* EVAL of the count script: {count after `after`, skip_to or nil}, in
 * at most a few bounded scans on the server. */
int resdeliv__redis_argv_count(struct resdeliv__redis_argv *a,
                               const struct resdeliv__redis_keys *keys,
                               const struct resdeliv_id *after, uint64_t cap,
                               unsigned version);
int resdeliv__redis_decode_count(const redisReply *r,
                                 struct resdeliv_log_info *info, char *err,
                                 size_t errsize);
/* A command of fixed words followed by one key. */
void resdeliv__redis_argv_key(struct resdeliv__redis_argv *a,
                              const char *const *words, int nwords,
                              const char *key, size_t key_len);

/* Server version from an INFO reply text; 0 when absent. */
unsigned resdeliv__redis_version_parse(const char *info, size_t len);

/* Decoders: 0 or RESDELIV_ESTORE with a message in `err`. */
int resdeliv__redis_reply_error(const redisReply *r, char *err,
                                size_t errsize);
/* "unexpected Redis reply to `what`": RESDELIV_ESTORE. */
int resdeliv__redis_bad_reply(const char *what, char *err, size_t errsize);
/* A stream id from a string reply: 0 or RESDELIV_EBADID. */
int resdeliv__redis_parse_id(const redisReply *r, struct resdeliv_id *id);
/* A valid epoch token from a string reply into `epoch`
 * (RESDELIV_EPOCH_BUFSIZE): 0 or RESDELIV_ESTORE. */
int resdeliv__redis_copy_epoch(const redisReply *r, char *epoch);
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
/* 1 when an error reply is NOSCRIPT. */
int resdeliv__redis_is_noscript(const redisReply *r);

/* Replies read without hiredis's reader (redis_resp.c): built into an
 * arena of chunks, valid until its next reset. */
struct resdeliv__redis_chunk;
struct resdeliv__redis_arena {
    struct resdeliv__redis_chunk *head; /* newest first */
};
/* Deepest nesting of arrays accepted (the store's replies use 4). */
#define RESDELIV__RESP_DEPTH 8
/* Forget every reply; keeps one chunk for the next operation. */
void resdeliv__redis_arena_reset(struct resdeliv__redis_arena *a);
void resdeliv__redis_arena_free(struct resdeliv__redis_arena *a);
/* Bytes of the complete reply at the start of buf[0..len): > 0; 0 when
 * more bytes are needed; RESDELIV_ESTORE when it is not valid RESP2. */
long long resdeliv__redis_resp_scan(const char *buf, size_t len);
/* Build the reply that resdeliv__redis_resp_scan() found complete at
 * `buf`: NULL only when out of memory. */
redisReply *resdeliv__redis_resp_build(struct resdeliv__redis_arena *a,
                                       const char *buf, size_t len);
/* The same for the first of replies scanned complete in buf[0..len),
 * with its length in `*used`: the next one starts there. */
redisReply *resdeliv__redis_resp_build_next(struct resdeliv__redis_arena *a,
                                            const char *buf, size_t len,
                                            size_t *used);

/* Check `opts` and copy them over the defaults into `o` (borrowing its
 * strings): 0, RESDELIV_EINVAL or RESDELIV_EABI with a message. */
int resdeliv__redis_options_copy(const struct resdeliv_redis_options *opts,
                                 struct resdeliv_redis_options *o, char *err,
                                 size_t errsize);
/* Copy the key prefix: 0 or RESDELIV_ENOMEM. */
int resdeliv__redis_prefix_dup(const char *key_prefix, char **prefix,
                               size_t *prefix_len);

#endif /* RESDELIV_HAVE_REDIS */

#ifdef RESDELIV_HAVE_REDIS

/* SIGPIPE guard around writes to a socket the server may have closed
 * (redis_conn.c): a no-op when the process ignores SIGPIPE; otherwise it
 * blocks SIGPIPE in the calling thread and, after a failed write,
 * consumes the SIGPIPE the write raised. */
struct resdeliv__pipe_guard {
    int active;
    int pending_before;
    sigset_t old;
};
/* 1 when SIGPIPE is ignored process-wide (checked once per connect). */
int resdeliv__pipe_ignored(void);
void resdeliv__pipe_enter(struct resdeliv__pipe_guard *g, int ignored);
void resdeliv__pipe_leave(struct resdeliv__pipe_guard *g, int failed);

/* The blocking store's connection (redis_conn.c). `c` is NULL while
 * disconnected; an operation reconnects first, after a backoff that grows
 * with `failures`. Messages of the last failure are in `errmsg`. */
struct resdeliv__redis_conn {
    redisContext *c;
    struct resdeliv__redis_url url;
    uint64_t connect_ms;
    uint64_t command_ms;
    unsigned version;  /* of the connected server */
    int64_t skew_ms;   /* server clock - local clock, from assigned ids */
    char sha[48];      /* of the loaded append script, "" if none */
    uint32_t failures; /* consecutive connection failures */
    uint64_t last_fail_ms;
    int pipe_ignored;  /* SIGPIPE was ignored when we connected */
    char *wbuf;        /* commands of the exchange, as sent */
    size_t wcap;
    char *rbuf;        /* replies of the exchange, as read */
    size_t rcap;
    struct resdeliv__redis_arena arena; /* the operation's replies */
    char errmsg[512];
};

/* Connect and run the handshake now: 0, RESDELIV_EAUTH when AUTH is
 * refused, else RESDELIV_ESTORE; a failure counts towards the backoff. */
int resdeliv__redis_conn_open(struct resdeliv__redis_conn *conn);
/* Connect unless connected, first waiting out the backoff of the last
 * failure: 0 or RESDELIV_ESTORE. */
int resdeliv__redis_conn_ensure(struct resdeliv__redis_conn *conn);
/* Start an operation: the replies of the last one are forgotten. */
void resdeliv__redis_conn_begin(struct resdeliv__redis_conn *conn);
/* Send `n` commands and read their `n` replies in one round trip,
 * connecting first if needed: 0 or RESDELIV_ESTORE. The replies live in
 * the connection's arena until the next resdeliv__redis_conn_begin()
 * (never pass them to freeReplyObject()). On an I/O or protocol error
 * every slot is NULL and the connection is dropped; a failed connect
 * leaves `replies` untouched. */
int resdeliv__redis_conn_exchange(struct resdeliv__redis_conn *conn,
                                  const struct resdeliv__redis_argv *cmds,
                                  size_t n, redisReply **replies);
/* The same for commands of any length. */
int resdeliv__redis_conn_exchangev(struct resdeliv__redis_conn *conn,
                                   const struct resdeliv__redis_cmd *cmds,
                                   size_t n, redisReply **replies);
/* Drop the connection (no-op when there is none); the URL stays. */
void resdeliv__redis_conn_close(struct resdeliv__redis_conn *conn);
/* Close and free the buffers and the arena: the end of the store. */
void resdeliv__redis_conn_free(struct resdeliv__redis_conn *conn);

#endif /* RESDELIV_HAVE_REDIS */

#endif /* RESDELIV_REDIS_INTERNAL_H */
