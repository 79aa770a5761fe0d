/* SPDX-License-Identifier: MIT */
/*
 * Redis commands of the stream store as pure functions: key encoding,
 * argument vectors (always argv-style, so channel names are binary safe),
 * the append script, server version parsing and reply decoding. Nothing
 * here does I/O, so the blocking client and an event-loop client share it.
 *
 * The append script appends a run of items to one log, atomically:
 * - a missing stream or a missing epoch key starts a new epoch (the token
 *   comes from the client as ARGV[3]); when the stream survived its epoch
 *   key, the stream is deleted first so its old ids are never read as the
 *   new epoch's history. This is decided once, before anything is
 *   appended; with an epoch key on Redis >= 6.2 the first XADD is
 *   NOMKSTREAM and doubles as the stream's existence check (it appends
 *   nothing when the stream is missing), which saves a call per script;
 * - one XADD per item (event and data from ARGV[6], ARGV[7], ...; the
 *   data under the field name ARGV[5], "d", or "o" for data marked
 *   RESDELIV_ENTRY_OBJECT, so that readers get the flag back); the
 *   last one with `MAXLEN ~ N` when N (ARGV[1]) > 0: trimming is by whole
 *   nodes, so once per call trims as much as once per item, for less;
 * - with an age (ARGV[2] ms): one XTRIM `MINID ~ (last id's ms - age)` on
 *   servers that have MINID and NOMKSTREAM (ARGV[4] = "1", Redis >= 6.2;
 *   XADD takes one strategy per call), and PEXPIRE of both keys so idle
 *   logs expire. The id's time is the server's clock, which keeps the
 *   script free of TIME;
 * - with publishing on (ARGV[4]'s second byte is 'p', the store's
 *   `publish` option): a PUBLISH of each entry on the log's bus channel,
 *   KEYS[1] .. ":bus", right after its XADD, in the bus.h message form
 *   with the entry's flags. Append and notification are
 *   then one atomic step, and the notifications' order is the ids' order;
 * - returns {epoch, {id1, id2, ...}}.
 * One call per log and batch, not per item: the server's cost of a script
 * call is mostly the call itself, not the commands inside it. Appends to
 * a log that exists need no script at all: redis_cmd_batch.c, which
 * groups batches into script calls, has that plain pipeline.
 */
#include "redis_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char resdeliv__redis_append_lua[] =
    "local ep = redis.call('GET', KEYS[2])\n"
    "local cap = ARGV[1]\n"
    "local v62 = string.byte(ARGV[4], 1) == 49\n"
    "local bus = string.byte(ARGV[4], 2) == 112 and KEYS[1] .. ':bus'\n"
    "local f = ARGV[5]\n"
    "local fl = f == 'o' and ' 1 ' or ' 0 '\n"
    "local last = #ARGV - 1\n"
    "local ids = {}\n"
    "local k = 0\n"
    "local first = 6\n"
    "local id\n"
    "local keep = false\n"
    "local function add(i, mk)\n"
    "  if i == last and cap ~= '0' then\n"
    "    if mk then\n"
    "      return redis.call('XADD', KEYS[1], 'NOMKSTREAM', 'MAXLEN', '~',\n"
    "                        cap, '*', 'e', ARGV[i], f, ARGV[i + 1])\n"
    "    end\n"
    "    return redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*',\n"
    "                      'e', ARGV[i], f, ARGV[i + 1])\n"
    "  end\n"
    "  if mk then\n"
    "    return redis.call('XADD', KEYS[1], 'NOMKSTREAM', '*', 'e', ARGV[i],\n"
    "                      f, ARGV[i + 1])\n"
    "  end\n"
    "  return redis.call('XADD', KEYS[1], '*', 'e', ARGV[i], f, ARGV[i + 1])\n"
    "end\n"
    "local function put(i, mk)\n"
    "  local got = add(i, mk)\n"
    "  if got and bus then\n"
    "    redis.call('PUBLISH', bus, 'RD1 ' .. ep .. ' ' .. got .. fl ..\n"
    "               #ARGV[i] .. '\\n' .. ARGV[i] .. ARGV[i + 1])\n"
    "  end\n"
    "  return got\n"
    "end\n"
    "if ep and v62 then\n"
    "  id = put(6, true)\n"
    "  if id then\n"
    "    keep = true\n"
    "    k = 1\n"
    "    ids[1] = id\n"
    "    first = 8\n"
    "  end\n"
    "elseif ep then\n"
    "  keep = redis.call('EXISTS', KEYS[1]) == 1\n"
    "else\n"
    "  redis.call('DEL', KEYS[1])\n"
    "end\n"
    "if not keep then\n"
    "  ep = ARGV[3]\n"
    "  redis.call('SET', KEYS[2], ep)\n"
    "end\n"
    "for i = first, last, 2 do\n"
    "  id = put(i, false)\n"
    "  k = k + 1\n"
    "  ids[k] = id\n"
    "end\n"
    "if ARGV[2] ~= '0' then\n"
    "  local age = tonumber(ARGV[2])\n"
    "  if v62 then\n"
    "    local ms = tonumber(string.match(id, '^(%d+)'))\n"
    "    if ms > age then\n"
    "      redis.call('XTRIM', KEYS[1], 'MINID', '~',\n"
    "                 string.format('%.0f', ms - age))\n"
    "    end\n"
    "  end\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  redis.call('PEXPIRE', KEYS[2], ARGV[2])\n"
    "end\n"
    "return {ep, ids}\n";
const size_t resdeliv__redis_append_lua_len =
    sizeof(resdeliv__redis_append_lua) - 1;

/* Bytes E() or A() (see redis_internal.h) adds to `s`. */
static size_t escaped_len(const char *s, size_t len, int colon)
{
    size_t n = len;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' || c == '{' || c == '}' || (colon && c == ':')) {
            n += 2;
        }
    }
    return n;
}

static char *escape_into(char *o, const char *s, size_t len, int colon)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' || c == '{' || c == '}' || (colon && c == ':')) {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    return o;
}

/* Length of the stream key of (prefix, app id, channel). */
size_t resdeliv__redis_key_len(const char *prefix, size_t prefix_len,
                               const char *app_id, size_t app_id_len,
                               const char *channel, size_t channel_len)
{
    return escaped_len(prefix, prefix_len, 0) + 2 +
           escaped_len(app_id, app_id_len, 1) + 1 +
           escaped_len(channel, channel_len, 0) + 1;
}

/* Write both keys: `stream` has room for n + 1 bytes, `epoch` for
 * n + sizeof(":epoch"), n from resdeliv__redis_key_len(). */
void resdeliv__redis_keys_write(char *stream, char *epoch, size_t n,
                                const char *prefix, size_t prefix_len,
                                const char *app_id, size_t app_id_len,
                                const char *channel, size_t channel_len,
                                struct resdeliv__redis_keys *out)
{
    static const char sfx[] = ":epoch";
    char *o = escape_into(stream, prefix, prefix_len, 0);

    *o++ = ':';
    *o++ = '{';
    o = escape_into(o, app_id, app_id_len, 1);
    *o++ = ':';
    o = escape_into(o, channel, channel_len, 0);
    *o++ = '}';
    *o = '\0';
    memcpy(epoch, stream, n);
    memcpy(epoch + n, sfx, sizeof(sfx));
    out->stream = stream;
    out->stream_len = n;
    out->epoch = epoch;
    out->epoch_len = n + sizeof(sfx) - 1;
}

int resdeliv__redis_keys_build(const char *prefix, size_t prefix_len,
                               const char *app_id, size_t app_id_len,
                               const char *channel, size_t channel_len,
                               struct resdeliv__redis_keys *out)
{
    size_t n = resdeliv__redis_key_len(prefix, prefix_len, app_id,
                                       app_id_len, channel, channel_len);
    char *stream = malloc(n + 1);
    char *epoch = malloc(n + sizeof(":epoch"));

    memset(out, 0, sizeof(*out));
    if (stream == NULL || epoch == NULL) {
        free(stream);
        free(epoch);
        return RESDELIV_ENOMEM;
    }
    resdeliv__redis_keys_write(stream, epoch, n, prefix, prefix_len, app_id,
                               app_id_len, channel, channel_len, out);
    return 0;
}

void resdeliv__redis_keys_clear(struct resdeliv__redis_keys *keys)
{
    if (keys == NULL) {
        return;
    }
    free(keys->stream);
    free(keys->epoch);
    memset(keys, 0, sizeof(*keys));
}

static void push(struct resdeliv__redis_argv *a, const char *s, size_t len)
{
    if (a->argc < RESDELIV__REDIS_ARGV_MAX) {
        a->argv[a->argc] = s;
        a->len[a->argc] = len;
        a->argc++;
    }
}

static void push_str(struct resdeliv__redis_argv *a, const char *s)
{
    push(a, s, strlen(s));
}

static void push_u64(struct resdeliv__redis_argv *a, int slot, uint64_t v)
{
    int n = snprintf(a->num[slot], sizeof(a->num[slot]), "%llu",
                     (unsigned long long)v);
    push(a, a->num[slot], (size_t)n);
}

void resdeliv__redis_argv_append(struct resdeliv__redis_argv *a,
                                 const char *sha,
                                 const struct resdeliv__redis_keys *keys,
                                 const struct resdeliv_append_item *item,
                                 const char *new_epoch, unsigned version)
{
    memset(a, 0, sizeof(*a));
    if (sha != NULL) {
        push_str(a, "EVALSHA");
        push_str(a, sha);
    } else {
        push_str(a, "EVAL");
        push(a, resdeliv__redis_append_lua,
             sizeof(resdeliv__redis_append_lua) - 1);
    }
    push_str(a, "2");
    push(a, keys->stream, keys->stream_len);
    push(a, keys->epoch, keys->epoch_len);
    push_u64(a, 0, item->retention.max_messages);
    push_u64(a, 1, item->retention.max_age_ms);
    push_str(a, new_epoch);
    push_str(a, version >= RESDELIV__REDIS_V(6, 2, 0) ? "1" : "0");
    push_str(a, (item->flags & RESDELIV_ENTRY_OBJECT) ? "o" : "d");
    push(a, item->event ? item->event : "", item->event_len);
    push(a, item->data ? item->data : "", item->data_len);
}

static void push_id(struct resdeliv__redis_argv *a, int slot,
                    const struct resdeliv_id *id, int exclusive)
{
    char *b = a->num[slot];
    size_t off = 0;
    if (exclusive) {
        b[off++] = '(';
    }
    int n = resdeliv_id_format(id, b + off, sizeof(a->num[slot]) - off);
    push(a, b, off + (size_t)(n > 0 ? n : 0));
}

int resdeliv__redis_argv_range(struct resdeliv__redis_argv *a, int reverse,
                               const struct resdeliv__redis_keys *keys,
                               const struct resdeliv_id *after,
                               uint64_t count, unsigned version)
{
    struct resdeliv_id start = *after;
    int exclusive = 0;

    memset(a, 0, sizeof(*a));
    if (!resdeliv_id_is_zero(after)) {
        if (version >= RESDELIV__REDIS_V(6, 2, 0)) {
            exclusive = 1;
        } else if (resdeliv_id_next(after, &start) != 0) {
            return RESDELIV_ERANGE;
        }
    }
    push_str(a, reverse ? "XREVRANGE" : "XRANGE");
    push(a, keys->stream, keys->stream_len);
    if (reverse) {
        push_str(a, "+");
    }
    if (resdeliv_id_is_zero(&start)) {
        push_str(a, "-");
    } else {
        push_id(a, 0, &start, exclusive);
    }
    if (!reverse) {
        push_str(a, "+");
    }
    if (count > 0) {
        push_str(a, "COUNT");
        push_u64(a, 1, count);
    }
    return 0;
}

/*
 * The count script: entries after ARGV[1] and, past the cap ARGV[3], the
 * id after which exactly `cap` remain. A log is rarely more than a little
 * over its cap (MAXLEN ~), so when n > cap it looks only at the oldest
 * n - cap entries: fewer than that up to `after` means capped, and the
 * count is n minus those. Otherwise at most `cap` entries follow `after`.
 * ARGV[2] is the exclusive start (the form depends on the server).
 */
static const char count_lua[] =
    "local n = redis.call('XLEN', KEYS[1])\n"
    "local cap = tonumber(ARGV[3])\n"
    "if cap > 0 and n > cap then\n"
    "  local k = n - cap\n"
    "  local b = #redis.call('XRANGE', KEYS[1], '-', ARGV[1], 'COUNT', k)\n"
    "  if b < k then\n"
    "    local r = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', k)\n"
    "    return {n - b, r[k][1]}\n"
    "  end\n"
    "end\n"
    "return {#redis.call('XRANGE', KEYS[1], ARGV[2], '+'), false}\n";

int resdeliv__redis_argv_count(struct resdeliv__redis_argv *a,
                               const struct resdeliv__redis_keys *keys,
                               const struct resdeliv_id *after, uint64_t cap,
                               unsigned version)
{
    struct resdeliv__redis_argv range;
    int rc = resdeliv__redis_argv_range(&range, 0, keys, after, 0, version);

    if (rc != 0) {
        return rc;
    }
    memset(a, 0, sizeof(*a));
    push_str(a, "EVAL");
    push(a, count_lua, sizeof(count_lua) - 1);
    push_str(a, "1");
    push(a, keys->stream, keys->stream_len);
    push_id(a, 0, after, 0);
    memcpy(a->num[1], range.argv[2], range.len[2]);
    push(a, a->num[1], range.len[2]);
    push_u64(a, 2, cap);
    return 0;
}

void resdeliv__redis_argv_key(struct resdeliv__redis_argv *a,
                              const char *const *words, int nwords,
                              const char *key, size_t key_len)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < nwords; i++) {
        push_str(a, words[i]);
    }
    push(a, key, key_len);
}

unsigned resdeliv__redis_version_parse(const char *info, size_t len)
{
    static const char tag[] = "redis_version:";
    const char *p = info;
    const char *end = info + len;
    unsigned part[3] = {0, 0, 0};

    while (p != NULL && p < end) {
        if ((size_t)(end - p) > sizeof(tag) - 1 &&
            memcmp(p, tag, sizeof(tag) - 1) == 0) {
            p += sizeof(tag) - 1;
            for (int i = 0; i < 3 && p < end; i++) {
                while (p < end && *p >= '0' && *p <= '9') {
                    part[i] = part[i] * 10 + (unsigned)(*p++ - '0');
                    if (part[i] > 99) {
                        part[i] = 99;
                    }
                }
                if (p >= end || *p != '.') {
                    break;
                }
                p++;
            }
            return RESDELIV__REDIS_V(part[0], part[1], part[2]);
        }
        p = memchr(p, '\n', (size_t)(end - p));
        p = p ? p + 1 : NULL;
    }
    return 0;
}

int resdeliv__redis_reply_error(const redisReply *r, char *err,
                                size_t errsize)
{
    if (r == NULL) {
        resdeliv__errf(err, errsize, "no reply from Redis");
        return RESDELIV_ESTORE;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        resdeliv__errf(err, errsize, "Redis: %.*s", (int)r->len, r->str);
        return RESDELIV_ESTORE;
    }
    return 0;
}

int resdeliv__redis_is_noscript(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && r->len >= 8 &&
           memcmp(r->str, "NOSCRIPT", 8) == 0;
}

int resdeliv__redis_bad_reply(const char *what, char *err, size_t errsize)
{
    resdeliv__errf(err, errsize, "unexpected Redis reply to %s", what);
    return RESDELIV_ESTORE;
}

static int is_str(const redisReply *r)
{
    return r != NULL &&
           (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* The field name of a stream entry, one byte (the store writes "e" and
 * "d" or "o"); 0 for any other name. */
static char field1(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING && r->len == 1 ? r->str[0] : 0;
}

int resdeliv__redis_parse_id(const redisReply *r, struct resdeliv_id *id)
{
    if (!is_str(r)) {
        return RESDELIV_EBADID;
    }
    return resdeliv_id_parse(r->str, r->len, id);
}

int resdeliv__redis_copy_epoch(const redisReply *r, char *epoch)
{
    if (!is_str(r) || resdeliv_epoch_check(r->str, r->len) != 0) {
        return RESDELIV_ESTORE;
    }
    memcpy(epoch, r->str, r->len);
    epoch[r->len] = '\0';
    return 0;
}

int resdeliv__redis_decode_epoch(const redisReply *r, char *epoch,
                                 char *err, size_t errsize)
{
    int rc = resdeliv__redis_reply_error(r, err, errsize);

    if (rc != 0) {
        return rc;
    }
    epoch[0] = '\0';
    if (r->type == REDIS_REPLY_NIL) {
        return 0;
    }
    if (resdeliv__redis_copy_epoch(r, epoch) != 0) {
        return resdeliv__redis_bad_reply("GET of the epoch key", err, errsize);
    }
    return 0;
}

/* One stream entry [id, [field, value, ...]]. */
static int decode_entry(const redisReply *r, struct resdeliv_stored_entry *e)
{
    const redisReply *f;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        resdeliv__redis_parse_id(r->element[0], &e->id) != 0) {
        return -1;
    }
    f = r->element[1];
    if (f->type != REDIS_REPLY_ARRAY || f->elements % 2 != 0) {
        return -1;
    }
    e->event = e->data = "";
    e->event_len = e->data_len = 0;
    /* Data under "o" was marked RESDELIV_ENTRY_OBJECT by its publisher. */
    e->flags = 0;
    e->reserved = 0;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *v = f->element[i + 1];
        if (!is_str(v)) {
            return -1;
        }
        char name = field1(f->element[i]);
        if (name == 'e') {
            e->event = v->str;
            e->event_len = v->len;
        } else if (name == 'd' || name == 'o') {
            e->data = v->str;
            e->data_len = v->len;
            e->flags = name == 'o' ? RESDELIV_ENTRY_OBJECT : 0;
        }
    }
    return 0;
}

int resdeliv__redis_decode_entries(const redisReply *r,
                                   struct resdeliv_stored_entry *out,
                                   size_t max, size_t *n, char *err,
                                   size_t errsize)
{
    int rc = resdeliv__redis_reply_error(r, err, errsize);

    *n = 0;
    if (rc != 0) {
        return rc;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        return resdeliv__redis_bad_reply("XRANGE", err, errsize);
    }
    for (size_t i = 0; i < r->elements && i < max; i++) {
        if (decode_entry(r->element[i], &out[i]) != 0) {
            return resdeliv__redis_bad_reply("XRANGE (entry)", err, errsize);
        }
        *n = i + 1;
    }
    return 0;
}

static int xinfo_field(const char *name, const redisReply *v,
                       struct resdeliv_log_info *info)
{
    if (strcmp(name, "length") == 0 && v->type == REDIS_REPLY_INTEGER) {
        info->length = v->integer > 0 ? (uint64_t)v->integer : 0;
    } else if (strcmp(name, "last-generated-id") == 0) {
        return resdeliv__redis_parse_id(v, &info->last);
    } else if (strcmp(name, "max-deleted-entry-id") == 0) {
        info->has_max_deleted = 1;
        return resdeliv__redis_parse_id(v, &info->max_deleted);
    } else if (strcmp(name, "entries-added") == 0 &&
               v->type == REDIS_REPLY_INTEGER) {
        info->entries_added = v->integer > 0 ? (uint64_t)v->integer : 0;
    } else if (strcmp(name, "first-entry") == 0 &&
               v->type == REDIS_REPLY_ARRAY && v->elements == 2) {
        return resdeliv__redis_parse_id(v->element[0], &info->first);
    }
    return 0;
}

int resdeliv__redis_decode_xinfo(const redisReply *r,
                                 struct resdeliv_log_info *info, char *err,
                                 size_t errsize)
{
    char name[32];

    if (r != NULL && r->type == REDIS_REPLY_ERROR && r->len >= 6 &&
        memmem(r->str, r->len, "no such key", 11) != NULL) {
        info->exists = 0;
        return 0;
    }
    if (resdeliv__redis_reply_error(r, err, errsize) != 0) {
        return RESDELIV_ESTORE;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        return resdeliv__redis_bad_reply("XINFO STREAM", err, errsize);
    }
    info->exists = 1;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];
        if (!is_str(k) || k->len >= sizeof(name)) {
            continue;
        }
        memcpy(name, k->str, k->len);
        name[k->len] = '\0';
        if (xinfo_field(name, r->element[i + 1], info) != 0) {
            return resdeliv__redis_bad_reply("XINFO STREAM (field)", err,
                                             errsize);
        }
    }
    /* Redis records max-deleted-entry-id for XDEL only, not for trimming,
     * so it is exact only while nothing was ever removed. Otherwise the
     * newest removed id is unknown (somewhere before first-entry) and the
     * caller must fall back on first, length and entries_added. */
    if (info->has_max_deleted && info->entries_added != info->length) {
        info->has_max_deleted = 0;
        memset(&info->max_deleted, 0, sizeof(info->max_deleted));
    }
    return 0;
}

/* Both clients take their options the same way: the caller's struct may
 * be older (shorter) than ours, and zero means the default. */
int resdeliv__redis_options_copy(const struct resdeliv_redis_options *opts,
                                 struct resdeliv_redis_options *o, char *err,
                                 size_t errsize)
{
    struct resdeliv_redis_options given;

    resdeliv_redis_options_init(o);
    if (opts == NULL || opts->url == NULL) {
        resdeliv__errf(err, errsize, "Redis store: options and url needed");
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(opts->abi_version) != RESDELIV_ABI_MAJOR) {
        resdeliv__errf(err, errsize, "Redis store: options of ABI major %u",
                       (unsigned)RESDELIV_ABI_VERSION_MAJOR(opts->abi_version));
        return RESDELIV_EABI;
    }
    memset(&given, 0, sizeof(given));
    memcpy(&given, opts, opts->struct_size < sizeof(given)
                             ? opts->struct_size
                             : sizeof(given));
    o->url = given.url;
    o->key_prefix = given.key_prefix ? given.key_prefix : o->key_prefix;
    if (given.connect_timeout_ms != 0) {
        o->connect_timeout_ms = given.connect_timeout_ms;
    }
    if (given.command_timeout_ms != 0) {
        o->command_timeout_ms = given.command_timeout_ms;
    }
    o->publish = given.publish != 0;
    return 0;
}

int resdeliv__redis_prefix_dup(const char *key_prefix, char **prefix,
                               size_t *prefix_len)
{
    *prefix_len = strlen(key_prefix);
    *prefix = malloc(*prefix_len + 1);
    if (*prefix == NULL) {
        return RESDELIV_ENOMEM;
    }
    memcpy(*prefix, key_prefix, *prefix_len + 1);
    return 0;
}
