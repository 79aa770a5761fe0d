/* SPDX-License-Identifier: MIT */
/*
 * Internal helpers shared by the library's modules. Nothing here is
 * exported from the shared object (hidden visibility, version script);
 * non-static internal symbols are named resdeliv__*.
 */
#ifndef RESDELIV_INTERNAL_H
#define RESDELIV_INTERNAL_H

#include <resdeliv/resdeliv.h>

#include <stdarg.h>

/* printf into an optional caller error buffer; a NULL buffer is fine. */
void resdeliv__errf(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Deep copy of a configuration, owning its strings; free with
 * resdeliv_config_free(). Validates first. */
int resdeliv__config_copy(const struct resdeliv_config *cfg,
                          struct resdeliv_config **out, char *err,
                          size_t errsize);

/* Make a store from a `connection` URL: "memory" gives a memory store;
 * "redis://..." and "unix://..." a Redis store when built with Redis
 * (RESDELIV_HAVE_REDIS), else RESDELIV_ENOTSUP. Defined in store.c. */
int resdeliv__store_from_url(const char *url, const char *key_prefix,
                             resdeliv_store **out, char *err, size_t errsize);

/* The Redis store behind a "redis://" or "unix://" URL, with keys under
 * `key_prefix`. Only in builds with RESDELIV_HAVE_REDIS; defined in
 * store_redis.c. */
int resdeliv__store_redis_from_url(const char *url, const char *key_prefix,
                                   resdeliv_store **out, char *err,
                                   size_t errsize);

/* The implementation instance behind a store (for type checks such as
 * resdeliv_store_memory_expire()). Defined in store.c. */
void *resdeliv__store_self(const resdeliv_store *store);
const struct resdeliv_store_ops *
resdeliv__store_ops(const resdeliv_store *store);

/* ---- tagging in two steps (tag.c) ---- */

/* Tag field names, checked once (a log handle keeps one). `epoch` NULL:
 * no epoch field. The names are borrowed. */
struct resdeliv__tag_fields {
    const char *id;
    size_t id_len;
    const char *epoch;
    size_t epoch_len;
};

#define RESDELIV__TAG_ID 0u
#define RESDELIV__TAG_EPOCH 1u

/* A top-level member already named like a tag field: its value's span. */
struct resdeliv__tag_member {
    size_t off;
    size_t len;
    uint32_t field; /* RESDELIV__TAG_ID or RESDELIV__TAG_EPOCH */
    uint32_t reserved;
};

/* What one scan of the data found; offsets into the data. */
struct resdeliv__tag_plan {
    const struct resdeliv__tag_fields *fields;
    size_t close;     /* the top-level closing brace */
    size_t insert;    /* where added members go */
    uint32_t members; /* the object has at least one member */
    uint32_t nrep;    /* entries of rep[], in text order */
    struct resdeliv__tag_member rep[2];
};

/* Check the field names: plain, non-empty, and distinct.
 * @return 0 or RESDELIV_EINVAL. */
int resdeliv__tag_fields_init(struct resdeliv__tag_fields *f,
                              const char *id_field, const char *epoch_field);

/* One structural scan. @return 0 when data is one JSON object with at most
 * one member named like each field, else RESDELIV_EBADJSON. `fields` must
 * outlive the plan. */
int resdeliv__tag_plan(const char *data, size_t len,
                       const struct resdeliv__tag_fields *fields,
                       struct resdeliv__tag_plan *plan);

/* Copy the planned data into buf with the id and epoch (NULL or "": none;
 * else already checked with resdeliv_epoch_check()) spliced in, no scan.
 * @return the length (a NUL follows) or RESDELIV_ENOSPC. */
long resdeliv__tag_apply(const char *data, size_t len,
                         const struct resdeliv__tag_plan *plan,
                         const struct resdeliv_id *id, const char *epoch,
                         char *buf, size_t size);

/* Tag data known to be an object with no member named like the fields
 * (RESDELIV_ENTRY_OBJECT): insert before its last '}', no scan.
 * @return the length, RESDELIV_ENOSPC, or RESDELIV_EBADJSON when the data
 * does not even end like an object (the caller then does the full tag). */
long resdeliv__tag_insert(const char *data, size_t len,
                          const struct resdeliv__tag_fields *fields,
                          const struct resdeliv_id *id, const char *epoch,
                          char *buf, size_t size);

/* ---- configuration keys (config.c), read by config_json.c ---- */

/* How a key's member is typed: STRING a const char *, UINT a uint64_t,
 * BOOL and FAILMODE a uint32_t; RULES is per_channel with its count. */
enum resdeliv__config_kind {
    RESDELIV__CONFIG_STRING,
    RESDELIV__CONFIG_UINT,
    RESDELIV__CONFIG_BOOL,
    RESDELIV__CONFIG_FAILMODE,
    RESDELIV__CONFIG_RULES
};

/* The index (0 to 31, fixed) of the key called `name`, such as
 * "retention.max_age_seconds", with its kind in `*kind`; -1 when there is
 * no such key. */
int resdeliv__config_key_find(const char *name,
                              enum resdeliv__config_kind *kind);

/* The member of `cfg` that key `key` names. */
void *resdeliv__config_key_member(struct resdeliv_config *cfg, int key);

/* On a configuration from resdeliv_config_new(): replace string key `key`
 * with a copy of `value`, or the per-channel rules with a copy of `n`
 * rules (patterns not NULL). RESDELIV_ENOMEM, or RESDELIV_EINVAL when
 * `cfg` is not such a configuration or `key` not a string key. */
int resdeliv__config_own_string(struct resdeliv_config *cfg, int key,
                                const char *value);
int resdeliv__config_own_rules(struct resdeliv_config *cfg,
                               const struct resdeliv_retention_rule *rules,
                               size_t n);

/* "deliver_untagged" or "fail" into a RESDELIV_ON_FAILURE_* value;
 * RESDELIV_EBADCONFIG for anything else. */
int resdeliv__config_parse_failmode(const char *s, uint32_t *out);

/* ---- JSON text (json_text.c), for the Pusher frames in pusher.c ---- */

/* Check client JSON text before cJSON parses it: valid UTF-8, no NUL byte
 * (raw or \u0000), no raw control character, nesting at most 128 deep.
 * RESDELIV_EBADFRAME with "<what>: <problem> at offset N" (and the member
 * name when one is known) in `err`. */
int resdeliv__json_scan(const char *text, size_t len, const char *what,
                        char *err, size_t errsize);

/* Bytes the escaped form of the `n` bytes at `s` takes, without quotes;
 * invalid UTF-8 counts as U+FFFD, which is what is written for it. */
size_t resdeliv__json_esc_len(const char *s, size_t n);

/* Growing output text; start from {0}. After a failed allocation `oom`
 * stays set and every append is a no-op, so builders check only at the
 * end, in resdeliv__json_buf_finish(). */
struct resdeliv__json_buf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
};

/* Room for `extra` more bytes: 0, or -1 (and oom set). */
int resdeliv__json_buf_reserve(struct resdeliv__json_buf *b, size_t extra);
void resdeliv__json_buf_put(struct resdeliv__json_buf *b, const char *s,
                            size_t n);
void resdeliv__json_buf_puts(struct resdeliv__json_buf *b, const char *s);
/* Append the `n` bytes at `s` as a quoted, escaped JSON string. */
void resdeliv__json_buf_put_str(struct resdeliv__json_buf *b, const char *s,
                                size_t n);
/* Hand the text over NUL-terminated in `*out` (malloc memory, length in
 * `*out_len` when not NULL), or free it and answer RESDELIV_ENOMEM. */
int resdeliv__json_buf_finish(struct resdeliv__json_buf *b, char **out,
                              size_t *out_len);

/* Digests for the Pusher auth signatures (hash.c). Incremental contexts
 * let a signature cover several pieces without joining them first. */
#define RESDELIV__SHA256_LEN 32
#define RESDELIV__MD5_LEN 16

struct resdeliv__sha256_ctx {
    uint32_t h[8];
    uint64_t total;
    uint8_t buf[64];
    size_t used;
};

struct resdeliv__hmac_sha256_ctx {
    struct resdeliv__sha256_ctx inner;
    struct resdeliv__sha256_ctx outer;
};

void resdeliv__sha256_init(struct resdeliv__sha256_ctx *ctx);
void resdeliv__sha256_update(struct resdeliv__sha256_ctx *ctx,
                             const void *data, size_t len);
void resdeliv__sha256_final(struct resdeliv__sha256_ctx *ctx,
                            uint8_t out[RESDELIV__SHA256_LEN]);
void resdeliv__sha256(const void *data, size_t len,
                      uint8_t out[RESDELIV__SHA256_LEN]);

void resdeliv__hmac_sha256_init(struct resdeliv__hmac_sha256_ctx *ctx,
                                const void *key, size_t keylen);
void resdeliv__hmac_sha256_update(struct resdeliv__hmac_sha256_ctx *ctx,
                                  const void *data, size_t len);
void resdeliv__hmac_sha256_final(struct resdeliv__hmac_sha256_ctx *ctx,
                                 uint8_t out[RESDELIV__SHA256_LEN]);
void resdeliv__hmac_sha256(const void *key, size_t keylen, const void *msg,
                           size_t len, uint8_t out[RESDELIV__SHA256_LEN]);

void resdeliv__md5(const void *data, size_t len,
                   uint8_t out[RESDELIV__MD5_LEN]);

/* Lowercase hex of `len` bytes into `out` (2 * len + 1 bytes, NUL added). */
void resdeliv__hex(const uint8_t *in, size_t len, char *out);

/* 1 when the `len` bytes at `a` and `b` are equal; the time taken does not
 * depend on where they differ. */
int resdeliv__ct_equal(const void *a, const void *b, size_t len);

/* ---- small copies (tag.c, id.c) ---- */

#include <string.h>

/* memcpy for the short texts spliced into every tagged payload (names,
 * ids, epochs: mostly 8 to 16 bytes), where a call to memcpy costs more
 * than the copy: two overlapping word copies cover that range.
 * @return dst + n. */
static inline char *resdeliv__copy(char *dst, const char *src, size_t n)
{
    uint64_t head;
    uint64_t tail;

    if (n >= 8 && n <= 16) {
        memcpy(&head, src, 8);
        memcpy(&tail, src + n - 8, 8);
        memcpy(dst, &head, 8);
        memcpy(dst + n - 8, &tail, 8);
    } else {
        memcpy(dst, src, n);
    }
    return dst + n;
}

/* ---- tag values kept across entries (tag.c, id.c) ---- */

/* resdeliv_id_format() into `buf` of RESDELIV_ID_BUFSIZE bytes. When
 * `*ms_len` is not 0, buf already starts with the `*ms_len` digits of
 * id->ms and only "-seq" is written after them; else the whole id is, and
 * `*ms_len` is set. @return the length (a NUL follows). */
int resdeliv__id_format_seq(const struct resdeliv_id *id, char *buf,
                            size_t *ms_len);

/* The texts a tag splices in. A replay tags runs of entries with one
 * epoch, and ids of one burst share their ms: resdeliv__tag_values_init()
 * once takes the epoch's length, resdeliv__tag_values_id() per entry
 * formats only the seq when the ms is the previous entry's. */
struct resdeliv__tag_values {
    char id[RESDELIV_ID_BUFSIZE];
    size_t id_len;
    size_t ms_len; /* digits of `ms` at the start of id[]; 0: none */
    uint64_t ms;
    const char *epoch; /* borrowed; NULL or "": none */
    size_t epoch_len;
};

/* `epoch` is borrowed and must have passed resdeliv_epoch_check(), or be
 * NULL or "". */
void resdeliv__tag_values_init(struct resdeliv__tag_values *v,
                               const struct resdeliv__tag_fields *f,
                               const char *epoch);
/* Set the id. @return 0 (an error code only for a bad argument). */
int resdeliv__tag_values_id(struct resdeliv__tag_values *v,
                            const struct resdeliv_id *id);

/* resdeliv__tag_apply() with the values already set. */
long resdeliv__tag_apply_values(const char *data, size_t len,
                                const struct resdeliv__tag_plan *plan,
                                const struct resdeliv__tag_values *v,
                                char *buf, size_t size);
/* resdeliv__tag_insert() with the values already set. */
long resdeliv__tag_insert_values(const char *data, size_t len,
                                 const struct resdeliv__tag_fields *fields,
                                 const struct resdeliv__tag_values *v,
                                 char *buf, size_t size);

/* resdeliv__tag_plan() walking the members by the general token walk even
 * where the block index allows the shorter one: the reference that the
 * tests hold the shorter walk to (tag_scan.c). */
int resdeliv__tag_plan_ref(const char *data, size_t len,
                           const struct resdeliv__tag_fields *fields,
                           struct resdeliv__tag_plan *plan);

/* Does the raw text of a key (between its quotes, escapes already checked,
 * at least one backslash) name `name` once decoded? "_replay\u005fid"
 * names the same member as "_replay_id". (tag.c) */
int resdeliv__tag_escaped_name_is(const char *key, size_t key_len,
                                  const char *name, size_t name_len);

/* The value of the hex digit `c` (either case), -1 when it is none; `c`
 * is a char or an unsigned char widened to int. */
static inline int resdeliv__hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parse `len` bytes as exactly one JSON value: white space may follow it,
 * anything else makes it NULL (cJSON alone stops after the first value).
 * Defined in json_text.c; free with cJSON_Delete(). */
struct cJSON;
struct cJSON *resdeliv__json_parse_whole(const char *text, size_t len);

#endif /* RESDELIV_INTERNAL_H */
