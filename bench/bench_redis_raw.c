/* SPDX-License-Identifier: MIT */
/*
 * The hiredis side of the Redis store benchmark: the replay baseline (a
 * plain XRANGE COUNT 100 loop), the replay split (the store's own
 * exchanges replayed without the library, and the proposed leaner ones),
 * and the append probes: plain XADD, scripts of growing weight, the store's
 * append script as the store sends it, and the MULTI/EXEC alternatives,
 * one message per round trip, 64 per round trip, and 64 in one command.
 * Each probe owns a log (stream and epoch key) created before it runs.
 */
#include "bench_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scripts timed by the analysis. LEAN is the proposed fast path: append to
 * an existing log whose epoch key exists, else answer nil and let the
 * client run the full creating script. */
static const char LUA_RETURN1[] = "return 1";
static const char LUA_XADD[] =
    "return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',"
    " 'e', ARGV[2], 'd', ARGV[3])";
static const char LUA_LEAN[] =
    "local ep = redis.call('GET', KEYS[2])\n"
    "if not ep then return false end\n"
    "local ids = {}\n"
    "for i = 2, #ARGV, 2 do\n"
    "  local id = redis.call('XADD', KEYS[1], 'NOMKSTREAM', 'MAXLEN', '~',\n"
    "                        ARGV[1], '*', 'e', ARGV[i], 'd', ARGV[i + 1])\n"
    "  if not id then return false end\n"
    "  ids[#ids + 1] = id\n"
    "end\n"
    "return {ep, ids}\n";

/* Replay shapes: the baseline (XRANGE pages of 100 until a short page, as
 * a plain client would), the store's exchanges as it sends them, and the
 * proposed ones (no entries fetched by the opening info call). */
enum shape { SHAPE_RAW, SHAPE_STORE, SHAPE_LEAN };

/* Sends `n` commands and keeps the last reply (EXEC's, or XRANGE's). */
static redisReply *pipeline(struct bench *b, const char **argv[],
                            const int *argc, int n)
{
    redisReply *last = NULL;

    for (int i = 0; i < n; i++) {
        redisAppendCommandArgv(b->raw, argc[i], argv[i], NULL);
    }
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(b->raw, &r) != REDIS_OK || r == NULL ||
            ((redisReply *)r)->type == REDIS_REPLY_ERROR) {
            freeReplyObject(r);
            freeReplyObject(last);
            return NULL;
        }
        freeReplyObject(last);
        last = r;
    }
    return last;
}

/* The store's opening info call: MULTI XINFO GET XREVRANGE + - COUNT 1001
 * EXEC (the whole log crosses the network to learn a count). */
static int store_open(struct bench *b)
{
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *xinfo[] = {"XINFO", "STREAM", b->replay_key};
    const char *get[] = {"GET", b->replay_epoch};
    const char *rev[] = {"XREVRANGE", b->replay_key, "+", "-", "COUNT", "1001"};
    const char **argv[5] = {multi, xinfo, get, rev, exec};
    int argc[5] = {1, 3, 2, 6, 1};
    redisReply *r = pipeline(b, argv, argc, 5);

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return bench_fail("replay info exchange failed", b->raw->errstr);
    }
    keep(r);
    freeReplyObject(r);
    return 0;
}

/* One page: raw XRANGE; MULTI XRANGE GET EXEC; or, for the lean shape's
 * first page, MULTI XINFO XRANGE GET EXEC (the info rides along). */
static redisReply *page(struct bench *b, enum shape sh, int first,
                        const char *start, const redisReply **range)
{
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *xinfo[] = {"XINFO", "STREAM", b->replay_key};
    const char *xr[] = {"XRANGE", b->replay_key, start, "+", "COUNT", "100"};
    const char *get[] = {"GET", b->replay_epoch};
    const char **txn[5] = {multi, xr, get, exec, NULL};
    int argc[5] = {1, 6, 2, 1, 0};
    int info = sh == SHAPE_LEAN && first;
    redisReply *r;

    if (sh == SHAPE_RAW) {
        r = pipeline(b, txn + 1, argc + 1, 1);
        *range = r;
        return r;
    }
    if (info) {
        const char **t[5] = {multi, xinfo, xr, get, exec};
        int c[5] = {1, 3, 6, 2, 1};
        memcpy(txn, t, sizeof(t));
        memcpy(argc, c, sizeof(c));
    }
    r = pipeline(b, txn, argc, info ? 5 : 4);
    *range =
        r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > (size_t)info
            ? r->element[info]
            : NULL;
    return r;
}

static int replay_once(struct bench *b, enum shape sh, uint64_t *got)
{
    char start[RESDELIV_ID_BUFSIZE + 2] = "-";
    uint64_t seen = 0;
    size_t n;

    if (sh == SHAPE_STORE && store_open(b) != 0) {
        return -1;
    }
    do {
        const redisReply *range = NULL;
        redisReply *r = page(b, sh, seen == 0, start, &range);
        if (range == NULL || range->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return bench_fail("XRANGE failed", b->raw->errstr);
        }
        n = range->elements;
        if (n > 0) {
            const redisReply *e = range->element[n - 1];
            keep(e->element[1]->element[3]->str);
            snprintf(start, sizeof(start), "(%s", e->element[0]->str);
        }
        seen += n;
        freeReplyObject(r);
        /* The store knows the count from its info call: no empty page. */
    } while (n == REPLAY_PAGE && (sh == SHAPE_RAW || seen < REPLAY_ENTRIES));
    *got += seen;
    return 0;
}

int bench_raw_replay(struct bench *b, const void *arg, struct sample *s)
{
    enum shape sh = arg != NULL ? *(const enum shape *)arg : SHAPE_RAW;
    uint64_t got = 0;
    uint64_t t0 = now_ns();
    uint64_t c0 = cpu_ns();

    for (uint64_t i = 0; i < b->o.replays; i++) {
        if (replay_once(b, sh, &got) != 0) {
            return -1;
        }
    }
    if (got != b->o.replays * REPLAY_ENTRIES) {
        return bench_fail("XRANGE loop read a wrong number of entries", NULL);
    }
    bench_set_rate(s, got, t0, c0);
    return 0;
}

/* ---- analysis probes -------------------------------------------------- */

struct cmd {
    int argc;
    const char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
};

/* `ncmds` commands carrying `msgs` messages; `depth` copies of them are
 * sent per round trip. */
struct probe {
    const char *name;
    char stream[32];
    char epoch[40];
    struct cmd *cmds;
    int ncmds;
    int msgs;
    int depth;
    struct series r;
};

static void arg(struct cmd *c, const char *s, size_t len)
{
    c->argv[c->argc] = s;
    c->len[c->argc++] = len;
}

static void args(struct cmd *c, const char *const *words)
{
    for (; *words != NULL; words++) {
        arg(c, *words, strlen(*words));
    }
}

static void arg_msg(struct bench *b, struct cmd *c)
{
    arg(c, "e", 1);
    arg(c, EVENT, sizeof(EVENT) - 1);
    arg(c, "d", 1);
    arg(c, b->payload, PAYLOAD_SIZE);
}

/* A reply that is not what a successful append answers. */
static int bad_reply(const redisReply *r)
{
    if (r == NULL || r->type == REDIS_REPLY_ERROR ||
        r->type == REDIS_REPLY_NIL) {
        return 1;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_ERROR ||
            r->element[i]->type == REDIS_REPLY_NIL) {
            return 1;
        }
    }
    return 0;
}

static int probe_run(struct bench *b, const void *a, struct sample *s)
{
    const struct probe *p = a;
    uint64_t total =
        p->depth > 1 || p->msgs > 1 ? b->o.n_probe64 : b->o.n_probe1;
    uint64_t rounds = total / (uint64_t)(p->msgs * p->depth);
    uint64_t t0 = now_ns();
    uint64_t c0 = cpu_ns();

    for (uint64_t i = 0; i < rounds; i++) {
        for (int d = 0; d < p->depth; d++) {
            for (int k = 0; k < p->ncmds; k++) {
                redisAppendCommandArgv(b->raw, p->cmds[k].argc, p->cmds[k].argv,
                                       p->cmds[k].len);
            }
        }
        for (int k = 0; k < p->depth * p->ncmds; k++) {
            void *r = NULL;
            int rc = redisGetReply(b->raw, &r);
            int bad = rc != REDIS_OK || bad_reply(r);
            if (bad) {
                fprintf(stderr, "bench-redis: probe %s: %s\n", p->name,
                        r && ((redisReply *)r)->str ? ((redisReply *)r)->str
                                                    : b->raw->errstr);
            }
            freeReplyObject(r);
            if (bad) {
                return -1;
            }
        }
    }
    bench_set_rate(s, rounds * (uint64_t)(p->msgs * p->depth), t0, c0);
    return 0;
}

enum kind {
    K_XADD,
    K_RET1,
    K_SXADD,
    K_STORE,
    K_LEAN,
    K_MULTI,
    K_LEAN_N,
    K_MULTI_N
};

static const struct spec {
    const char *name;
    enum kind kind;
    int depth;
} SPECS[] = {
    {"xadd_p1", K_XADD, 1},
    {"xadd_p64", K_XADD, BATCH},
    {"script_return1_p1", K_RET1, 1},
    {"script_return1_p64", K_RET1, BATCH},
    {"script_xadd_p1", K_SXADD, 1},
    {"store_script_p1", K_STORE, 1},
    {"store_script_p64", K_STORE, BATCH},
    {"lean_script_p1", K_LEAN, 1},
    {"lean_script_p64", K_LEAN, BATCH},
    {"multi_get_xadd_p1", K_MULTI, 1},
    {"multi_get_xadd_p64", K_MULTI, BATCH},
    {"lean_script_x64", K_LEAN_N, 1},
    {"multi_get_xadd_x64", K_MULTI_N, 1},
};
#define NPROBES (sizeof(SPECS) / sizeof(SPECS[0]))
/* Rows after the probes: the library itself, alternated with them. */
#define NROWS (NPROBES + 2)

static void cmd_xadd(struct bench *b, struct probe *p, struct cmd *c,
                     int nomkstream)
{
    static const char *const head[] = {"MAXLEN", "~", RETENTION, "*", NULL};

    arg(c, "XADD", 4);
    arg(c, p->stream, strlen(p->stream));
    if (nomkstream) {
        arg(c, "NOMKSTREAM", 10);
    }
    args(c, head);
    arg_msg(b, c);
}

static void cmd_lean(struct bench *b, struct probe *p, struct cmd *c, int n)
{
    const char *const head[] = {"EVALSHA", b->sha_lean, "2", p->stream,
                                p->epoch,  RETENTION,   NULL};

    args(c, head);
    for (int i = 0; i < n; i++) {
        arg(c, EVENT, sizeof(EVENT) - 1);
        arg(c, b->payload, PAYLOAD_SIZE);
    }
}

/* MULTI, GET epoch, `n` XADD NOMKSTREAM, EXEC. */
static void cmds_multi(struct bench *b, struct probe *p, int n)
{
    static const char *const multi[] = {"MULTI", NULL};
    static const char *const exec[] = {"EXEC", NULL};

    args(&p->cmds[0], multi);
    arg(&p->cmds[1], "GET", 3);
    arg(&p->cmds[1], p->epoch, strlen(p->epoch));
    for (int i = 0; i < n; i++) {
        cmd_xadd(b, p, &p->cmds[2 + i], 1);
    }
    args(&p->cmds[n + 2], exec);
}

static void build_probe(struct bench *b, struct probe *p, const struct spec *sp)
{
    struct cmd *c = p->cmds;

    p->name = sp->name;
    p->depth = sp->depth;
    p->msgs = sp->kind == K_LEAN_N || sp->kind == K_MULTI_N ? BATCH : 1;
    p->ncmds = sp->kind == K_MULTI ? 4 : sp->kind == K_MULTI_N ? BATCH + 3 : 1;
    if (sp->kind == K_XADD) {
        cmd_xadd(b, p, c, 0);
    } else if (sp->kind == K_RET1) {
        const char *const w[] = {"EVALSHA", b->sha_ret, "0", NULL};
        args(c, w);
    } else if (sp->kind == K_SXADD) {
        const char *const w[] = {"EVALSHA", b->sha_xadd, "1",        p->stream,
                                 RETENTION, EVENT,       b->payload, NULL};
        args(c, w);
    } else if (sp->kind == K_STORE) {
        for (int i = 0; i < b->store_argv.argc; i++) {
            arg(c, b->store_argv.argv[i], b->store_argv.len[i]);
        }
    } else if (sp->kind == K_LEAN || sp->kind == K_LEAN_N) {
        cmd_lean(b, p, c, p->msgs);
    } else {
        cmds_multi(b, p, p->msgs);
    }
}

/* A log for every probe: an epoch key and a stream with one entry. */
static int make_probes(struct bench *b, struct probe *probes)
{
    for (size_t i = 0; i < NPROBES; i++) {
        struct probe *p = &probes[i];
        redisReply *r;

        snprintf(p->stream, sizeof(p->stream), "bench:{p%zu}", i);
        snprintf(p->epoch, sizeof(p->epoch), "bench:{p%zu}:epoch", i);
        p->cmds = calloc(BATCH + 3, sizeof(*p->cmds));
        if (p->cmds == NULL) {
            return bench_fail("out of memory", NULL);
        }
        build_probe(b, p, &SPECS[i]);
        p->r.label = p->name;
        r = redisCommand(b->raw, "SET %s 0123456789abcdef", p->epoch);
        if (r != NULL) {
            freeReplyObject(r);
        }
        r = redisCommand(b->raw, "XADD %s * e x d {}", p->stream);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            return bench_fail("probe setup failed", b->raw->errstr);
        }
        freeReplyObject(r);
    }
    return 0;
}

static int load_script(struct bench *b, const char *lua, size_t len, char *sha)
{
    const char *argv[3] = {"SCRIPT", "LOAD", lua};
    size_t lens[3] = {6, 4, len};
    redisReply *r = redisCommandArgv(b->raw, 3, argv, lens);

    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len >= 48) {
        if (r != NULL) {
            freeReplyObject(r);
        }
        return bench_fail("SCRIPT LOAD failed", NULL);
    }
    memcpy(sha, r->str, r->len + 1);
    freeReplyObject(r);
    return 0;
}

/* The store's own append command, as the store sends it. */
static int prepare_store_probe(struct bench *b)
{
    static const char prefix[] = "delivery";
    struct resdeliv_append_item *it = &b->store_item;

    if (resdeliv__redis_keys_build(prefix, sizeof(prefix) - 1, APP_ID,
                                   sizeof(APP_ID) - 1, CH_PROBE,
                                   sizeof(CH_PROBE) - 1, &b->store_keys) != 0 ||
        resdeliv_epoch_new(b->new_epoch, sizeof(b->new_epoch)) != 0 ||
        load_script(b, resdeliv__redis_append_lua,
                    resdeliv__redis_append_lua_len, b->sha_store) != 0) {
        return bench_fail("store probe setup failed", NULL);
    }
    it->channel = CH_PROBE;
    it->channel_len = sizeof(CH_PROBE) - 1;
    it->event = EVENT;
    it->event_len = sizeof(EVENT) - 1;
    it->data = b->payload;
    it->data_len = PAYLOAD_SIZE;
    it->retention.max_messages = 1000;
    resdeliv__redis_argv_append(&b->store_argv, b->sha_store, &b->store_keys,
                                it, b->new_epoch, RESDELIV__REDIS_V(7, 0, 0));
    return 0;
}

static void print_probes(struct probe *p, size_t n)
{
    printf("\nanalysis (hiredis from C and the library, same server; p1 = one "
           "round trip per "
           "command group, p64 = 64 groups per round trip, x64 = 64 messages "
           "in one group)\n%-20s %11s %8s %8s %8s\n",
           "probe", "msg/s", "vs xadd", "srv us", "cli us");
    for (size_t i = 0; i < n; i++) {
        const struct series *x =
            p[i].depth > 1 || p[i].msgs > 1 ? &p[1].r : &p[0].r;
        printf("%-20s %11.0f %8.3f %8.2f %8.2f\n", p[i].name, p[i].r.med.rate,
               p[i].r.med.rate / x->med.rate, p[i].r.med.srv_us,
               p[i].r.med.cli_us);
    }
    for (size_t i = 0; i < n; i++) {
        printf("cmdstats %-20s %s\n", p[i].name, p[i].r.cmdstat);
    }
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        printf("PROBE %s=%.0f msg/s srv_us=%.2f cli_us=%.2f\n", p[i].name,
               p[i].r.med.rate, p[i].r.med.srv_us, p[i].r.med.cli_us);
    }
}

static void library_rows(struct bench *b, struct probe *p, struct job *j)
{
    p[0].name = p[0].r.label = "library_single_p1";
    p[0].depth = p[0].msgs = 1;
    j[0] = (struct job){bench_lib_single, NULL, &p[0].r, b->o.n_single};
    p[1].name = p[1].r.label = "library_batch_p64";
    p[1].depth = BATCH;
    p[1].msgs = 1;
    j[1] = (struct job){bench_lib_batch, NULL, &p[1].r,
                        b->o.n_batch / BATCH * BATCH};
}

int bench_probes(struct bench *b)
{
    struct probe *p = calloc(NROWS, sizeof(*p));
    struct job j[NROWS];
    int rc = p == NULL ? bench_fail("out of memory", NULL) : 0;

    rc = rc == 0
             ? load_script(b, LUA_RETURN1, sizeof(LUA_RETURN1) - 1, b->sha_ret)
             : rc;
    rc = rc == 0 ? load_script(b, LUA_XADD, sizeof(LUA_XADD) - 1, b->sha_xadd)
                 : rc;
    rc = rc == 0 ? load_script(b, LUA_LEAN, sizeof(LUA_LEAN) - 1, b->sha_lean)
                 : rc;
    rc = rc == 0 ? prepare_store_probe(b) : rc;
    rc = rc == 0 ? make_probes(b, p) : rc;
    for (size_t i = 0; rc == 0 && i < NPROBES; i++) {
        int one = p[i].depth == 1 && p[i].msgs == 1;
        uint64_t total = one ? b->o.n_probe1 : b->o.n_probe64;
        uint64_t per = (uint64_t)(p[i].msgs * p[i].depth);
        j[i] = (struct job){probe_run, &p[i], &p[i].r, total / per * per};
    }
    if (rc == 0) {
        library_rows(b, p + NPROBES, j + NPROBES);
        printf("measuring the analysis probes ...\n");
        fflush(stdout);
        rc = bench_run_jobs(b, j, NROWS);
    }
    if (rc == 0) {
        print_probes(p, NROWS);
    }
    for (size_t i = 0; p != NULL && i < NROWS; i++) {
        free(p[i].cmds);
    }
    free(p);
    return rc;
}

/* The replay figure's gap split: the library against the same server
 * exchanges made with hiredis (store shape), and without the entries the
 * opening info call fetches (lean shape). */
int bench_replay_shapes(struct bench *b)
{
    static const enum shape raw = SHAPE_RAW, store = SHAPE_STORE,
                            lean = SHAPE_LEAN;
    static const char *const names[4] = {"replay_library", "replay_raw_xrange",
                                         "replay_store_wire",
                                         "replay_lean_wire"};
    struct series r[4];
    uint64_t ne = b->o.replays * REPLAY_ENTRIES;
    struct job j[4] = {
        {bench_lib_replay, NULL, &r[0], ne},
        {bench_raw_replay, &raw, &r[1], ne},
        {bench_raw_replay, &store, &r[2], ne},
        {bench_raw_replay, &lean, &r[3], ne},
    };

    memset(r, 0, sizeof(r));
    if (bench_run_jobs(b, j, 4) != 0) {
        return -1;
    }
    printf("\nreplay of 1000 entries, split (hiredis replays the store's "
           "exchanges without the library around them)\n%-20s %11s %8s "
           "%8s %8s\n",
           "shape", "entries/s", "vs raw", "srv us", "cli us");
    for (int i = 0; i < 4; i++) {
        printf("%-20s %11.0f %8.3f %8.2f %8.2f\n", names[i], r[i].med.rate,
               r[i].med.rate / r[1].med.rate, r[i].med.srv_us, r[i].med.cli_us);
    }
    for (int i = 0; i < 4; i++) {
        printf("cmdstats %-20s %s\n", names[i], r[i].cmdstat);
    }
    printf("\n");
    for (int i = 0; i < 4; i++) {
        printf("PROBE %s=%.0f entries/s ratio=%.3f srv_us=%.2f cli_us=%.2f\n",
               names[i], r[i].med.rate, r[i].med.rate / r[1].med.rate,
               r[i].med.srv_us, r[i].med.cli_us);
    }
    return 0;
}
