/* SPDX-License-Identifier: MIT */
/*
 * Appends of the Redis stream store as pure functions (redis_cmd.c has
 * the keys, the append script and the other commands), shared by the
 * blocking and the event-loop client, and the info counts of a log.
 *
 * A batch becomes one group per log, retention and data field (items of
 * one log keep their order). A group is appended by one script call, or,
 * when it is its log's only group, the server has NOMKSTREAM (Redis >=
 * 6.2) and the batch does not publish, by a plain pipeline in the same
 * round trip:
 *
 *     GET epoch
 *     XADD stream NOMKSTREAM * e <event> d|o <data>      (one per item;
 *     ...                                                 the last one
 *     XADD stream NOMKSTREAM [MAXLEN ~ N] * e <event> d|o <data>   trims)
 *     GET epoch
 *     [XTRIM stream MINID ~ <now - age>  PEXPIRE stream age
 *      PEXPIRE epoch age]                        (when an age is set)
 *
 * The server's cost of a script call is mostly the call itself, but each
 * command a script runs also costs about a third more than the same
 * command sent plainly (it is converted to Lua and back), and a MULTI
 * costs the client a reply per queued command; the plain pipeline costs
 * what the XADDs cost (bench/README.md has the figures).
 *
 * Without MULTI other clients' commands may run between these, so the
 * outcome is judged from what the replies show. The epoch key changes
 * only together with its stream (the script deletes a stream whose epoch
 * key vanished, and SETs a new random token for every new log), and a
 * NOMKSTREAM XADD never creates a stream, so:
 * - both GETs read the same token and every XADD added an entry: all
 *   items are in that epoch's stream, in order, with the ids returned;
 * - no XADD added anything (there is no stream, with or without an
 *   epoch key) and both GETs agree, or every XADD added to a stream that
 *   has no epoch key on either side: nothing of it counts, and the script
 *   appends the items instead, in a second round trip. In the last case
 *   it deletes that stream, the entries just added included, and starts a
 *   new epoch; a log whose epoch key vanished is never silently
 *   continued;
 * - anything else means the log was created, lost or replaced by another
 *   client during the exchange: the items fail with RESDELIV_ESTORE. Some
 *   of them may have been logged, which at-least-once delivery allows;
 *   none is reported stored with an id or epoch it does not have.
 * The age trim uses the server's clock as the ids it assigned show it
 * (the script uses the new id's time).
 *
 * Data marked RESDELIV_ENTRY_OBJECT is stored under the field name "o"
 * instead of "d", so readers of the stream get the flag back.
 *
 * With `publish` (the store's option for the nodes' buses, bus.h) every
 * group goes through the script: the notification carries the entry's
 * id, which must be PUBLISHed in the same atomic step as the XADD. INFO
 * commandstats counts the script call and every command it runs:
 * EVALSHA, GET, XADD and PUBLISH for a lone append.
 */
#include "redis_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* argv[] slots of a script call and of a pipeline of n items. */
#define SCRIPT_ARGS(n) (10 + 2 * (n))
#define PIPE_ARGS(n) (18 + 8 * (n))

/* ---- grouping ---- */

struct item_ref {
    const struct resdeliv_append_item *it;
    size_t idx;
};

/* Items of one log next to each other, in their order within the log. */
static int ref_cmp(const void *pa, const void *pb)
{
    const struct item_ref *a = pa;
    const struct item_ref *b = pb;
    int c;

    if (a->it->channel_len != b->it->channel_len) {
        return a->it->channel_len < b->it->channel_len ? -1 : 1;
    }
    if (a->it->channel_len > 0) {
        c = memcmp(a->it->channel, b->it->channel, a->it->channel_len);
        if (c != 0) {
            return c;
        }
    }
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int same_run(const struct resdeliv_append_item *a,
                    const struct resdeliv_append_item *b)
{
    return a->channel_len == b->channel_len &&
           (a->channel_len == 0 ||
            memcmp(a->channel, b->channel, a->channel_len) == 0) &&
           a->retention.max_messages == b->retention.max_messages &&
           a->retention.max_age_ms == b->retention.max_age_ms &&
           (a->flags & RESDELIV_ENTRY_OBJECT) ==
               (b->flags & RESDELIV_ENTRY_OBJECT);
}

static size_t align_up(size_t n)
{
    return (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
           sizeof(max_align_t);
}

/* One block: groups, results, order, queue, replies, cmds, argv, len,
 * refs, then the key bytes. `ngroups` bounds the groups. */
static int batch_alloc(struct resdeliv__redis_batch *b, size_t n,
                       size_t ngroups, size_t key_bytes, struct item_ref **refs,
                       char **keys)
{
    size_t slots = n + 5 * ngroups;
    size_t args = 8 * n + 18 * ngroups;
    size_t sz[9] = {ngroups * sizeof(*b->groups), n * sizeof(*b->results),
                    n * sizeof(size_t),           3 * n * sizeof(size_t),
                    (n + slots) * sizeof(void *), slots * sizeof(*b->cmds),
                    args * sizeof(char *),        args * sizeof(size_t),
                    n * sizeof(struct item_ref)};
    void **at[9] = {(void **)&b->groups,  (void **)&b->results,
                    (void **)&b->order,   (void **)&b->queue,
                    (void **)&b->replies, (void **)&b->cmds,
                    (void **)&b->argv,    (void **)&b->len,
                    (void **)refs};
    size_t total = key_bytes + 1;
    char *p;

    for (int i = 0; i < 9; i++) {
        total += align_up(sz[i]);
    }
    b->block = p = malloc(total);
    if (p == NULL) {
        return RESDELIV_ENOMEM;
    }
    for (int i = 0; i < 9; i++) {
        *at[i] = p;
        p += align_up(sz[i]);
    }
    /* The rest is written before it is read: only the groups, the
     * results and the groups' reply slots start zeroed. */
    memset(b->groups, 0, align_up(sz[0]) + align_up(sz[1]));
    memset(b->replies, 0, n * sizeof(*b->replies));
    *keys = p;
    b->nslots = slots;
    return 0;
}

/* Start group g at slot k: its keys, built once, and its epoch token. */
static int group_open(struct resdeliv__redis_batch *b, size_t k, char **keys,
                      const char *prefix, size_t prefix_len, const char *app,
                      size_t app_len, const struct resdeliv_append_item *it,
                      struct resdeliv__redis_epochs *pool)
{
    struct resdeliv__redis_group *grp = &b->groups[b->ngroups++];
    size_t kn = resdeliv__redis_key_len(prefix, prefix_len, app, app_len,
                                        it->channel, it->channel_len);

    grp->first = k;
    grp->field = (it->flags & RESDELIV_ENTRY_OBJECT) ? "o" : "d";
    resdeliv__redis_keys_write(*keys, *keys + kn + 1, kn, prefix, prefix_len,
                               app, app_len, it->channel, it->channel_len,
                               &grp->keys);
    *keys += 2 * kn + 1 + sizeof(":epoch");
    return resdeliv__redis_epoch_take(pool, grp->new_epoch);
}

/* Bytes of the keys of every group, bounded by one key per item (the
 * length is computed again only where the run changes), and the runs in
 * the items' order. */
static size_t keys_bytes(const char *prefix, size_t prefix_len,
                         const char *app, size_t app_len,
                         const struct resdeliv_append_item *items, size_t n,
                         size_t *runs)
{
    size_t one = 0;
    size_t total = 0;

    *runs = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || !same_run(&items[i - 1], &items[i])) {
            one = 2 * resdeliv__redis_key_len(prefix, prefix_len, app,
                                              app_len, items[i].channel,
                                              items[i].channel_len) +
                  1 + sizeof(":epoch");
            (*runs)++;
        }
        total += one;
    }
    return total;
}

static int same_log(const struct resdeliv__redis_group *a,
                    const struct resdeliv__redis_group *b)
{
    return a->keys.stream_len == b->keys.stream_len &&
           memcmp(a->keys.stream, b->keys.stream, a->keys.stream_len) == 0;
}

/* Mark the sole groups (no other group of that log: a fall-back in a
 * later round trip keeps the log's order) and give every group its
 * argv[] slots, for the pipeline when it may use one. */
static void place_groups(struct resdeliv__redis_batch *b)
{
    size_t arg = 0;

    for (size_t g = 0; g < b->ngroups; g++) {
        struct resdeliv__redis_group *grp = &b->groups[g];
        grp->sole = (g == 0 || !same_log(&b->groups[g - 1], grp)) &&
                    (g + 1 == b->ngroups || !same_log(&b->groups[g + 1], grp));
        grp->arg0 = arg;
        arg += grp->sole ? PIPE_ARGS(grp->count) : SCRIPT_ARGS(grp->count);
    }
}

int resdeliv__redis_batch_init(struct resdeliv__redis_batch *b,
                               const char *prefix, size_t prefix_len,
                               const char *app, size_t app_len,
                               const struct resdeliv_append_item *items,
                               size_t n, struct resdeliv__redis_epochs *pool)
{
    struct item_ref *refs;
    char *keys;
    size_t runs;
    size_t kb;
    int rc = 0;

    memset(b, 0, sizeof(*b));
    if (n > SIZE_MAX / 4096) {
        return RESDELIV_ENOMEM;
    }
    kb = keys_bytes(prefix, prefix_len, app, app_len, items, n, &runs);
    /* Sorting can only merge runs; each run of a log splits every
     * RESDELIV__REDIS_GROUP_MAX items. */
    if (batch_alloc(b, n, runs + n / RESDELIV__REDIS_GROUP_MAX, kb, &refs,
                    &keys) != 0) {
        return RESDELIV_ENOMEM;
    }
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        refs[i].it = &items[i];
        refs[i].idx = i;
    }
    if (runs > 1) {
        qsort(refs, n, sizeof(*refs), ref_cmp);
    }
    for (size_t k = 0; k < n && rc == 0; k++) {
        b->order[k] = refs[k].idx;
        if (k == 0 || !same_run(refs[k - 1].it, refs[k].it) ||
            b->groups[b->ngroups - 1].count == RESDELIV__REDIS_GROUP_MAX) {
            rc = group_open(b, k, &keys, prefix, prefix_len, app, app_len,
                            refs[k].it, pool);
        }
        b->groups[b->ngroups - 1].count++;
    }
    if (rc != 0) {
        resdeliv__redis_batch_clear(b);
        return rc;
    }
    place_groups(b);
    return 0;
}

/* ---- script calls ---- */

/* The script's ARGV[4]: NOMKSTREAM and MINID ("1") or not ("0"), then
 * 'p' to publish each entry on the bus. */
static const char *flags_arg(int publish, unsigned version)
{
    int v62 = version >= RESDELIV__REDIS_V(6, 2, 0);

    if (publish) {
        return v62 ? "1p" : "0p";
    }
    return v62 ? "1" : "0";
}

void resdeliv__redis_batch_argv(struct resdeliv__redis_batch *b, size_t g,
                                const char *sha,
                                const struct resdeliv_append_item *items,
                                unsigned version)
{
    struct resdeliv__redis_group *grp = &b->groups[g];
    const struct resdeliv_append_item *first = &items[b->order[grp->first]];
    const char **v = b->argv + grp->arg0;
    size_t *l = b->len + grp->arg0;
    int c = 0;

#define ARG(s, n) (v[c] = (s), l[c++] = (n))
    if (sha != NULL) {
        ARG("EVALSHA", 7);
        ARG(sha, strlen(sha));
    } else {
        ARG("EVAL", 4);
        ARG(resdeliv__redis_append_lua, resdeliv__redis_append_lua_len);
    }
    ARG("2", 1);
    ARG(grp->keys.stream, grp->keys.stream_len);
    ARG(grp->keys.epoch, grp->keys.epoch_len);
    ARG(grp->num[0], (size_t)snprintf(grp->num[0], sizeof(grp->num[0]),
                                      "%llu", (unsigned long long)
                                          first->retention.max_messages));
    ARG(grp->num[1], (size_t)snprintf(grp->num[1], sizeof(grp->num[1]),
                                      "%llu", (unsigned long long)
                                          first->retention.max_age_ms));
    ARG(grp->new_epoch, strlen(grp->new_epoch));
    ARG(flags_arg(b->publish, version), b->publish ? 2 : 1);
    ARG(grp->field, 1);
    for (size_t k = grp->first; k < grp->first + grp->count; k++) {
        const struct resdeliv_append_item *it = &items[b->order[k]];
        ARG(it->event ? it->event : "", it->event ? it->event_len : 0);
        ARG(it->data ? it->data : "", it->data ? it->data_len : 0);
    }
#undef ARG
    grp->pipe = 0;
    grp->cmd.argc = c;
    grp->cmd.argv = v;
    grp->cmd.len = l;
}

void resdeliv__redis_batch_fail(struct resdeliv__redis_batch *b, size_t g,
                                int status)
{
    const struct resdeliv__redis_group *grp = &b->groups[g];

    for (size_t k = grp->first; k < grp->first + grp->count; k++) {
        b->results[b->order[k]].status = status;
    }
}

int resdeliv__redis_batch_decode(struct resdeliv__redis_batch *b, size_t g,
                                 const redisReply *r, char *err,
                                 size_t errsize)
{
    const struct resdeliv__redis_group *grp = &b->groups[g];
    const redisReply *ids = NULL;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    int rc = resdeliv__redis_reply_error(r, err, errsize);

    if (rc == 0 &&
        (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
         resdeliv__redis_copy_epoch(r->element[0], epoch) != 0 ||
         (ids = r->element[1])->type != REDIS_REPLY_ARRAY ||
         ids->elements != grp->count)) {
        rc = resdeliv__redis_bad_reply("the append script", err, errsize);
    }
    for (size_t k = 0; rc == 0 && k < grp->count; k++) {
        struct resdeliv_append_result *res =
            &b->results[b->order[grp->first + k]];
        if (resdeliv__redis_parse_id(ids->element[k], &res->id) != 0) {
            rc = resdeliv__redis_bad_reply("the append script (id)", err,
                                           errsize);
        }
        memcpy(res->epoch, epoch, sizeof(epoch));
    }
    resdeliv__redis_batch_fail(b, g, rc);
    return rc;
}

void resdeliv__redis_batch_clear(struct resdeliv__redis_batch *b)
{
    if (b != NULL) {
        free(b->block);
        memset(b, 0, sizeof(*b));
    }
}

/* ---- the pipeline of a sole group ---- */

int resdeliv__redis_batch_fast(const struct resdeliv__redis_batch *b, size_t g,
                               unsigned version)
{
    return b->groups[g].sole && !b->publish &&
           version >= RESDELIV__REDIS_V(6, 2, 0);
}

/* Commands over one group's argv[] slots. */
struct cmd_builder {
    const char **v;
    size_t *l;
    int c;
    int start;
    struct resdeliv__redis_cmd *cmds;
    size_t n;
};

static void arg(struct cmd_builder *m, const char *s, size_t len)
{
    m->v[m->c] = s;
    m->l[m->c++] = len;
}

static void arg_u64(struct cmd_builder *m, char *buf, size_t size, uint64_t v)
{
    arg(m, buf, (size_t)snprintf(buf, size, "%llu", (unsigned long long)v));
}

static void end_cmd(struct cmd_builder *m)
{
    m->cmds[m->n].argc = m->c - m->start;
    m->cmds[m->n].argv = m->v + m->start;
    m->cmds[m->n].len = m->l + m->start;
    m->n++;
    m->start = m->c;
}

/* XTRIM and the two PEXPIREs of an age; the same as the script's. */
static void age_cmds(struct cmd_builder *m, struct resdeliv__redis_group *grp,
                     uint64_t age, uint64_t now_ms)
{
    size_t age_len = (size_t)snprintf(grp->num[1], sizeof(grp->num[1]), "%llu",
                                      (unsigned long long)age);

    if (now_ms > age) {
        arg(m, "XTRIM", 5);
        arg(m, grp->keys.stream, grp->keys.stream_len);
        arg(m, "MINID", 5);
        arg(m, "~", 1);
        arg_u64(m, grp->num[2], sizeof(grp->num[2]), now_ms - age);
        end_cmd(m);
    }
    arg(m, "PEXPIRE", 7);
    arg(m, grp->keys.stream, grp->keys.stream_len);
    arg(m, grp->num[1], age_len);
    end_cmd(m);
    arg(m, "PEXPIRE", 7);
    arg(m, grp->keys.epoch, grp->keys.epoch_len);
    arg(m, grp->num[1], age_len);
    end_cmd(m);
}

static void get_epoch(struct cmd_builder *m,
                      const struct resdeliv__redis_group *grp)
{
    arg(m, "GET", 3);
    arg(m, grp->keys.epoch, grp->keys.epoch_len);
    end_cmd(m);
}

size_t resdeliv__redis_batch_pipe(struct resdeliv__redis_batch *b, size_t g,
                                  const struct resdeliv_append_item *items,
                                  uint64_t now_ms,
                                  struct resdeliv__redis_cmd *cmds)
{
    struct resdeliv__redis_group *grp = &b->groups[g];
    const struct resdeliv_retention *ret =
        &items[b->order[grp->first]].retention;
    struct cmd_builder m = {
        b->argv + grp->arg0, b->len + grp->arg0, 0, 0, cmds, 0};

    get_epoch(&m, grp);
    for (size_t k = 0; k < grp->count; k++) {
        const struct resdeliv_append_item *it =
            &items[b->order[grp->first + k]];
        arg(&m, "XADD", 4);
        arg(&m, grp->keys.stream, grp->keys.stream_len);
        arg(&m, "NOMKSTREAM", 10);
        /* Trimming is by whole nodes: once per exchange does. */
        if (k + 1 == grp->count && ret->max_messages > 0) {
            arg(&m, "MAXLEN", 6);
            arg(&m, "~", 1);
            arg_u64(&m, grp->num[0], sizeof(grp->num[0]), ret->max_messages);
        }
        arg(&m, "*", 1);
        arg(&m, "e", 1);
        arg(&m, it->event ? it->event : "", it->event ? it->event_len : 0);
        arg(&m, grp->field, 1);
        arg(&m, it->data ? it->data : "", it->data ? it->data_len : 0);
        end_cmd(&m);
    }
    get_epoch(&m, grp);
    if (ret->max_age_ms > 0) {
        age_cmds(&m, grp, ret->max_age_ms, now_ms);
    }
    grp->pipe = 1;
    grp->status = 0;
    grp->changed = 0;
    grp->seen = 0;
    grp->nils = 0;
    grp->epoch[0] = '\0';
    grp->ncmds = m.n;
    return m.n;
}

/* Reply i of group g's pipeline: 0 or the error it makes. */
static int pipe_take(struct resdeliv__redis_batch *b,
                     struct resdeliv__redis_group *grp, size_t i,
                     const redisReply *r, char *err, size_t errsize)
{
    char now[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_append_result *res;
    int rc = resdeliv__redis_reply_error(r, err, errsize);

    if (rc != 0 || i > grp->count + 1) {
        return rc; /* XTRIM, PEXPIRE: errors only */
    }
    if (i == 0 || i == grp->count + 1) {
        rc = resdeliv__redis_decode_epoch(r, i == 0 ? grp->epoch : now, err,
                                          errsize);
        if (rc == 0 && i > 0 && strcmp(now, grp->epoch) != 0) {
            grp->changed = 1;
        }
        return rc;
    }
    if (r->type == REDIS_REPLY_NIL) {
        grp->nils++;
        return 0;
    }
    res = &b->results[b->order[grp->first + i - 1]];
    if (resdeliv__redis_parse_id(r, &res->id) != 0) {
        return resdeliv__redis_bad_reply("XADD", err, errsize);
    }
    return 0;
}

/* The outcome of a whole pipeline (see the top of this file). */
static int pipe_end(struct resdeliv__redis_batch *b, size_t g, char *err,
                    size_t errsize)
{
    struct resdeliv__redis_group *grp = &b->groups[g];
    int rc = grp->status;

    if (rc == 0 && !grp->changed &&
        (grp->nils == grp->count ||
         (grp->nils == 0 && grp->epoch[0] == '\0'))) {
        return RESDELIV__REDIS_FALLBACK;
    }
    if (rc == 0 && (grp->changed || grp->nils > 0)) {
        resdeliv__errf(err, errsize,
                       "Redis: the log was created, lost or replaced by "
                       "another client during the append; its items may be "
                       "logged");
        rc = RESDELIV_ESTORE;
    }
    for (size_t k = 0; rc == 0 && k < grp->count; k++) {
        memcpy(b->results[b->order[grp->first + k]].epoch, grp->epoch,
               sizeof(grp->epoch));
    }
    resdeliv__redis_batch_fail(b, g, rc);
    return 0;
}

int resdeliv__redis_batch_pipe_reply(struct resdeliv__redis_batch *b, size_t g,
                                     const redisReply *r, char *err,
                                     size_t errsize)
{
    struct resdeliv__redis_group *grp = &b->groups[g];
    size_t i = grp->seen++;

    if (grp->status == 0) {
        /* Keep the first failure, which names the cause. */
        grp->status = pipe_take(b, grp, i, r, err, errsize);
    }
    if (grp->seen < grp->ncmds) {
        return RESDELIV__REDIS_MORE;
    }
    return pipe_end(b, g, err, errsize);
}

/* ---- the server's clock ---- */

static int64_t realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t resdeliv__redis_server_ms(int64_t skew_ms)
{
    int64_t now = realtime_ms() + skew_ms;

    return now > 0 ? (uint64_t)now : 0;
}

void resdeliv__redis_batch_skew(const struct resdeliv__redis_batch *b,
                                int64_t *skew_ms)
{
    uint64_t oldest = UINT64_MAX;

    /* Ids never run behind the server's clock (they may run ahead of it
     * after it stepped back), so the smallest is the closest to it. */
    for (size_t i = 0; i < b->n; i++) {
        if (b->results[i].status == 0 && b->results[i].id.ms < oldest) {
            oldest = b->results[i].id.ms;
        }
    }
    if (oldest < (uint64_t)INT64_MAX) {
        *skew_ms = (int64_t)oldest - realtime_ms();
    }
}

/* ---- info counts ---- */

uint64_t resdeliv__redis_probe_count(const struct resdeliv_id *after,
                                     uint64_t cap)
{
    if (after == NULL || resdeliv_id_is_zero(after)) {
        return 0;
    }
    return cap > 0 && cap < RESDELIV__REDIS_PROBE_MAX
               ? cap + 1
               : RESDELIV__REDIS_PROBE_MAX;
}

int resdeliv__redis_info_counts(struct resdeliv_log_info *info,
                                const struct resdeliv_id *after,
                                uint64_t cap, const redisReply *probe,
                                uint64_t probe_count, char *err,
                                size_t errsize)
{
    info->capped = 0;
    memset(&info->skip_to, 0, sizeof(info->skip_to));
    if (after == NULL || resdeliv_id_is_zero(after) ||
        (info->length > 0 && resdeliv_id_cmp(after, &info->first) < 0)) {
        /* Every retained entry follows `after`. */
        info->count_after = (int64_t)info->length;
        return cap > 0 && info->length > cap;
    }
    if (info->length == 0 || resdeliv_id_cmp(after, &info->last) >= 0) {
        info->count_after = 0;
        return 0;
    }
    if (probe == NULL) {
        return 1;
    }
    if (resdeliv__redis_reply_error(probe, err, errsize) != 0) {
        return RESDELIV_ESTORE;
    }
    if (probe->type != REDIS_REPLY_ARRAY) {
        return resdeliv__redis_bad_reply("XREVRANGE", err, errsize);
    }
    if (probe->elements >= probe_count) {
        return 1;
    }
    /* Fewer than probe_count <= cap + 1: all of them, and not capped. */
    info->count_after = (int64_t)probe->elements;
    return 0;
}

int resdeliv__redis_decode_count(const redisReply *r,
                                 struct resdeliv_log_info *info, char *err,
                                 size_t errsize)
{
    int rc = resdeliv__redis_reply_error(r, err, errsize);

    if (rc != 0) {
        return rc;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer < 0 ||
        (r->element[1]->type != REDIS_REPLY_NIL &&
         resdeliv__redis_parse_id(r->element[1], &info->skip_to) != 0)) {
        return resdeliv__redis_bad_reply("the count script", err, errsize);
    }
    info->count_after = r->element[0]->integer;
    info->capped = r->element[1]->type != REDIS_REPLY_NIL;
    return 0;
}
