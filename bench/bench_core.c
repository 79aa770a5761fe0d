/* SPDX-License-Identifier: MIT */
/*
 * Core benchmark of the paths a server runs for every broadcast and every
 * reconnect: publish on the memory store, replay of 1000 entries, tag
 * splicing at 200 B and 4 KiB, batch publish. The machines it runs on are
 * shared and noisy, so each figure is the median of several repetitions of
 * at least 20 ms, interleaved with a baseline measured in the same run, and
 * is reported as a ratio to it as well as in ns. Output: a table, then one
 * `RESULT name=value unit ratio=x target=y ok|MISS|info` line per figure
 * (bench/README.md explains each). Exit status: 0 even when a target is
 * missed, 1 on an API error, 2 on a bad command line. The measured cases
 * are here; the harness that times them and prints the report is in
 * bench_core_harness.c.
 */
#include "bench_core.h"

#include <resdeliv/resdeliv.h>

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_REPS 11
#define QUICK_REPS 3
#define MAX_REPS 999
#define MIN_REP_NS 20000000ull  /* 20 ms: timer overhead is noise */
#define QUICK_REP_NS 1000000ull /* 1 ms: smoke test only */
#define SMALL_SIZE 200
#define LARGE_SIZE 4096
#define REPLAY_ENTRIES 1000
#define RETENTION 1000
#define BATCH 64

static const char ID_FIELD[] = "_replay_id";
static const char EPOCH_FIELD[] = "_replay_epoch";
static const char EPOCH[] = "3f9a1c2b7d4e5f60";
static const char CHANNEL[] = "orders";
static const char EVENT[] = "order.updated";

/* Reports a failed call and passes its code on. */
static int fail(int rc, const char *what, const char *detail)
{
    fprintf(stderr, "bench-core: %s: %s%s%s\n", what, resdeliv_err_name(rc),
            detail && *detail ? ": " : "", detail ? detail : "");
    return rc;
}

/* ---- payloads -------------------------------------------------------- */

/* Fills `buf` from `n` up to exactly `size` bytes with a string body and
 * the closing `"}` (the caller left a string open). */
static size_t pad_close(char *buf, size_t n, size_t size)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789 ";

    while (n < size - 2) {
        buf[n] = alpha[n % (sizeof(alpha) - 1)];
        n++;
    }
    buf[n++] = '"';
    buf[n++] = '}';
    buf[n] = '\0';
    return n;
}

/* A typical small broadcast: nested object, array, escaped string, numbers;
 * `seq` makes each one different. `buf` holds SMALL_SIZE + 1 bytes. */
static size_t make_small(char *buf, unsigned seq)
{
    int n = snprintf(buf, SMALL_SIZE + 1,
                     "{\"type\":\"order.updated\",\"order\":{\"id\":%u,"
                     "\"status\":\"shipped\",\"items\":[3,1,4],"
                     "\"total\":129.95},\"customer\":\"Ana \\\"A.\\\" "
                     "Silva\",\"at\":1732771200123,\"note\":\"",
                     seq);

    return pad_close(buf, (size_t)n, SMALL_SIZE);
}

/* A large broadcast of LARGE_SIZE bytes: metadata with escapes, then rows
 * of nested objects and arrays, padded with a note. `buf` holds
 * LARGE_SIZE + 1 bytes. */
static size_t make_large(char *buf)
{
    size_t n = (size_t)snprintf(
        buf, LARGE_SIZE + 1,
        "{\"type\":\"dashboard.snapshot\",\"meta\":{\"source\":\"svc-\\u00e9\","
        "\"path\":\"C:\\\\data\\\\x\",\"msg\":\"line1\\nline2 \\\"q\\\"\\t\","
        "\"version\":3,\"tags\":[\"a\",\"b\\/c\",\"{not a brace}\"]},"
        "\"rows\":[");
    char row[256];

    for (unsigned i = 0;; i++) {
        int len =
            snprintf(row, sizeof(row),
                     "%s{\"id\":%u,\"name\":\"row \\\"%u\\\"\","
                     "\"value\":-%u.25e-3,\"ok\":%s,\"tags\":[\"x\","
                     "\"y]\"],\"child\":{\"k\":null,\"v\":[1,2.5,-3]}}",
                     i ? "," : "", i, i, i * 7u, (i & 1u) ? "true" : "false");

        if (n + (size_t)len + 24 > LARGE_SIZE) {
            break;
        }
        memcpy(buf + n, row, (size_t)len);
        n += (size_t)len;
    }
    memcpy(buf + n, "],\"note\":\"", 10);
    return pad_close(buf, n + 10, LARGE_SIZE);
}

/* The payloads must be what they claim: valid JSON objects of the size. */
static int check_payload(const char *data, size_t len, size_t want)
{
    cJSON *root = cJSON_ParseWithLength(data, len);
    int ok = root != NULL && cJSON_IsObject(root) && len == want &&
             resdeliv_tag_is_object(data, len) == 1;

    cJSON_Delete(root);
    return ok ? 0
              : fail(RESDELIV_EBADJSON, "generated payload", "not an object");
}

/* ---- 1. publish ------------------------------------------------------ */

struct pub_ctx {
    resdeliv_log *log;
    struct resdeliv_message msg;
};

static int publish_one(resdeliv_log *log, const struct resdeliv_message *m,
                       struct resdeliv_publish_result *res)
{
    int rc = resdeliv_log_publish(log, m, res);

    if (rc == 0 && (res->status != 0 || !res->logged || !res->tagged)) {
        rc = res->status != 0 ? res->status : RESDELIV_ESTORE;
    }
    return rc != 0 ? fail(rc, "publish", resdeliv_log_errmsg(log)) : 0;
}

static int run_publish(void *p, uint64_t iters)
{
    struct pub_ctx *c = p;

    for (uint64_t i = 0; i < iters; i++) {
        struct resdeliv_publish_result res = {0};
        int rc = publish_one(c->log, &c->msg, &res);

        keep(res.payload);
        resdeliv_publish_result_clear(&res);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* What any publish must do: read the clock for the id, keep one copy of
 * the data in the log and make one tagged copy to deliver. */
static int run_publish_baseline(void *p, uint64_t iters)
{
    struct pub_ctx *c = p;

    for (uint64_t i = 0; i < iters; i++) {
        struct timespec ts;
        char *stored;
        char *tagged;

        clock_gettime(CLOCK_REALTIME, &ts);
        keep(&ts);
        stored = malloc(c->msg.data_len);
        tagged = malloc(c->msg.data_len);
        if (stored != NULL && tagged != NULL) {
            memcpy(stored, c->msg.data, c->msg.data_len);
            memcpy(tagged, c->msg.data, c->msg.data_len);
        }
        keep(stored);
        keep(tagged);
        free(stored);
        free(tagged);
        if (stored == NULL || tagged == NULL) {
            return RESDELIV_ENOMEM;
        }
    }
    return 0;
}

/* ---- 4. batch -------------------------------------------------------- */

struct batch_ctx {
    resdeliv_log *log;
    struct resdeliv_message msgs[BATCH];
    struct resdeliv_publish_result res[BATCH];
};

static int run_batch(void *p, uint64_t iters)
{
    struct batch_ctx *c = p;
    int rc = 0;

    for (uint64_t i = 0; i < iters && rc == 0; i++) {
        rc = resdeliv_log_publish_batch(c->log, c->msgs, BATCH, c->res);
        for (size_t k = 0; k < BATCH; k++) {
            if (rc == 0 && (c->res[k].status != 0 || !c->res[k].tagged)) {
                rc = c->res[k].status != 0 ? c->res[k].status : RESDELIV_ESTORE;
            }
            keep(c->res[k].payload);
            resdeliv_publish_result_clear(&c->res[k]);
        }
    }
    return rc != 0 ? fail(rc, "batch publish", resdeliv_log_errmsg(c->log)) : 0;
}

/* ---- 2. replay ------------------------------------------------------- */

struct replay_ctx {
    resdeliv_log *log;
    const char *channel;
    char *block; /* the payloads, SMALL_SIZE + 1 bytes apart */
    char *payloads[REPLAY_ENTRIES];
    size_t lens[REPLAY_ENTRIES];
    char *copy; /* baseline destination */
};

static int replay_once(struct replay_ctx *c)
{
    resdeliv_replay *cur = NULL;
    const struct resdeliv_replay_entry *e;
    size_t n;
    size_t bytes = 0;
    int rc = resdeliv_replay_open(c->log, c->channel, "0-0", NULL, &cur);

    while (rc == 0 && (rc = resdeliv_replay_next_page(cur, &e, &n)) == 0 &&
           n > 0) {
        for (size_t i = 0; i < n; i++) {
            bytes += e[i].payload_len;
            keep(e[i].payload);
        }
    }
    keep(&bytes);
    if (rc == 0 && resdeliv_replay_count(cur) != REPLAY_ENTRIES) {
        rc = fail(RESDELIV_ESTORE, "replay", "not 1000 entries");
    } else if (rc != 0) {
        fail(rc, "replay", resdeliv_log_errmsg(c->log));
    }
    resdeliv_replay_close(cur);
    return rc;
}

static int run_replay(void *p, uint64_t iters)
{
    for (uint64_t i = 0; i < iters; i++) {
        int rc = replay_once(p);

        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* The copy any replay makes: every payload into one output buffer. */
static int run_replay_baseline(void *p, uint64_t iters)
{
    struct replay_ctx *c = p;

    for (uint64_t i = 0; i < iters; i++) {
        size_t off = 0;

        for (size_t k = 0; k < REPLAY_ENTRIES; k++) {
            memcpy(c->copy + off, c->payloads[k], c->lens[k]);
            off += c->lens[k];
        }
        keep(c->copy);
    }
    return 0;
}

/* ---- 3. tag ---------------------------------------------------------- */

struct tag_ctx {
    const char *data;
    size_t len;
    struct resdeliv_id id;
    char *buf;
    size_t size;
    int alloc; /* time resdeliv_tag() instead of resdeliv_tag_into() */
};

/* Splices into the reused buffer, or (with `alloc`) into a new one. */
static int run_tag(void *p, uint64_t iters)
{
    struct tag_ctx *c = p;

    for (uint64_t i = 0; i < iters; i++) {
        char *out = NULL;
        size_t out_len = 0;
        long n = c->alloc
                     ? resdeliv_tag(c->data, c->len, ID_FIELD, EPOCH_FIELD,
                                    &c->id, EPOCH, &out, &out_len)
                     : resdeliv_tag_into(c->data, c->len, ID_FIELD, EPOCH_FIELD,
                                         &c->id, EPOCH, c->buf, c->size);

        if (n < 0) {
            return fail((int)n, c->alloc ? "resdeliv_tag" : "resdeliv_tag_into",
                        NULL);
        }
        keep(c->alloc ? out : c->buf);
        if (out != NULL) {
            resdeliv_free(out);
        }
    }
    return 0;
}

/* The same job done the obvious way: parse, add both members, reprint.
 * The id is formatted inside the loop because the splice does that too. */
static int run_cjson(void *p, uint64_t iters)
{
    struct tag_ctx *c = p;

    for (uint64_t i = 0; i < iters; i++) {
        char idbuf[RESDELIV_ID_BUFSIZE];
        cJSON *root = cJSON_ParseWithLength(c->data, c->len);
        char *text = NULL;

        resdeliv_id_format(&c->id, idbuf, sizeof(idbuf));
        if (root != NULL && cJSON_AddStringToObject(root, ID_FIELD, idbuf) &&
            cJSON_AddStringToObject(root, EPOCH_FIELD, EPOCH)) {
            text = cJSON_PrintUnformatted(root);
        }
        cJSON_Delete(root);
        if (text == NULL) {
            return fail(RESDELIV_ENOMEM, "cJSON parse/print", NULL);
        }
        keep(text);
        cJSON_free(text);
    }
    return 0;
}

/* A spliced payload must carry both members with the right values, or the
 * speed of the splice means nothing. */
static int check_tagged(const struct tag_ctx *c)
{
    char idbuf[RESDELIV_ID_BUFSIZE];
    long n = resdeliv_tag_into(c->data, c->len, ID_FIELD, EPOCH_FIELD, &c->id,
                               EPOCH, c->buf, c->size);
    cJSON *root = n < 0 ? NULL : cJSON_ParseWithLength(c->buf, (size_t)n);
    const char *id =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, ID_FIELD));
    const char *ep = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(root, EPOCH_FIELD));
    int ok;

    resdeliv_id_format(&c->id, idbuf, sizeof(idbuf));
    ok = id != NULL && ep != NULL && strcmp(id, idbuf) == 0 &&
         strcmp(ep, EPOCH) == 0;
    cJSON_Delete(root);
    if (!ok) {
        return fail(n < 0 ? (int)n : RESDELIV_EBADJSON, "tag check",
                    "spliced members missing or wrong");
    }
    return 0;
}

/* ---- setup ----------------------------------------------------------- */

struct env {
    struct runner run;
    resdeliv_store *store;
    resdeliv_log *log;
    char small[SMALL_SIZE + 1];
    char large[LARGE_SIZE + 1];
    size_t small_len;
    size_t large_len;
};

/* Every measured case, kept for the report after its context is gone. */
struct cases {
    struct bcase pub, pub_base, replay, replay_base;
    struct bcase into200, alloc200, cjson200, into4k, alloc4k, cjson4k;
    struct bcase batch, singles;
    uint32_t replay_reason;
};

static struct resdeliv_message message(const char *channel, const char *data,
                                       size_t len)
{
    struct resdeliv_message m = {
        channel, strlen(channel), EVENT, sizeof(EVENT) - 1, data, len};

    return m;
}

static int env_open(struct env *e)
{
    struct resdeliv_config cfg;
    char err[256] = "";
    int rc;

    e->small_len = make_small(e->small, 42);
    e->large_len = make_large(e->large);
    rc = check_payload(e->small, e->small_len, SMALL_SIZE);
    if (rc == 0) {
        rc = check_payload(e->large, e->large_len, LARGE_SIZE);
    }
    resdeliv_config_init(&cfg);
    cfg.connection = "memory";
    cfg.default_max_messages = RETENTION;
    cfg.replay_batch_size = 100;
    if (rc == 0 && (rc = resdeliv_store_memory_new(NULL, &e->store)) != 0) {
        return fail(rc, "memory store", NULL);
    }
    if (rc == 0 && (rc = resdeliv_log_open(&cfg, e->store, "bench", &e->log,
                                           err, sizeof(err))) != 0) {
        return fail(rc, "log open", err);
    }
    return rc;
}

/* Publishes REPLAY_ENTRIES distinct payloads on their own channel, then
 * notes whether a replay after 0-0 is reported continuous, as it should. */
static int replay_fill(struct replay_ctx *c, uint32_t *reason)
{
    resdeliv_replay *cur = NULL;
    int rc = 0;

    for (unsigned k = 0; k < REPLAY_ENTRIES && rc == 0; k++) {
        struct resdeliv_publish_result res = {0};
        struct resdeliv_message m;

        c->payloads[k] = c->block + (size_t)k * (SMALL_SIZE + 1);
        c->lens[k] = make_small(c->payloads[k], 1000000u + k);
        m = message(c->channel, c->payloads[k], c->lens[k]);
        rc = publish_one(c->log, &m, &res);
        resdeliv_publish_result_clear(&res);
    }
    if (rc == 0) {
        rc = resdeliv_replay_open(c->log, c->channel, "0-0", NULL, &cur);
    }
    if (cur != NULL) {
        *reason = resdeliv_replay_status(cur)->reason;
    } else if (rc != 0) {
        fail(rc, "replay open", resdeliv_log_errmsg(c->log));
    }
    resdeliv_replay_close(cur);
    return rc;
}

/* ---- the four groups ------------------------------------------------- */

static int bench_publish(struct env *e, struct cases *cs)
{
    struct pub_ctx c = {e->log, message(CHANNEL, e->small, e->small_len)};
    struct bcase *g[] = {&cs->pub_base, &cs->pub};
    int rc;

    cs->pub = CASE("publish", run_publish, &c, 1);
    cs->pub_base = CASE("2x malloc+copy+clock", run_publish_baseline, &c, 1);
    /* Fill the ring first: the steady state trims one entry per append. */
    rc = run_publish(&c, RETENTION + 10);
    return rc != 0 ? rc : bench_measure(g, 2, &e->run);
}

static int bench_replay(struct env *e, struct cases *cs)
{
    size_t bytes = (size_t)REPLAY_ENTRIES * (SMALL_SIZE + 1);
    struct replay_ctx c = {.log = e->log, .channel = "orders-replay"};
    struct bcase *g[] = {&cs->replay_base, &cs->replay};
    int rc = RESDELIV_ENOMEM;

    c.block = malloc(bytes);
    c.copy = malloc(bytes);
    cs->replay = CASE("replay", run_replay, &c, REPLAY_ENTRIES);
    cs->replay_base =
        CASE("memcpy of payloads", run_replay_baseline, &c, REPLAY_ENTRIES);
    if (c.block != NULL && c.copy != NULL) {
        rc = replay_fill(&c, &cs->replay_reason);
    }
    if (rc == 0) {
        rc = bench_measure(g, 2, &e->run);
    }
    free(c.block);
    free(c.copy);
    return rc;
}

static int bench_tag(struct env *e, const char *data, size_t len,
                     struct bcase *into, struct bcase *alloc, struct bcase *cj)
{
    size_t size = len + sizeof(ID_FIELD) + sizeof(EPOCH_FIELD) +
                  RESDELIV_ID_BUFSIZE + RESDELIV_EPOCH_BUFSIZE + 16;
    struct tag_ctx c = {.data = data,
                        .len = len,
                        .buf = malloc(size),
                        .size = size,
                        .id = {1732771200123ull, 7}};
    struct tag_ctx ca = c;
    struct bcase *g[] = {cj, into, alloc};
    int rc = c.buf == NULL ? RESDELIV_ENOMEM : check_tagged(&c);

    ca.alloc = 1;
    *into = CASE("tag_into", run_tag, &c, 1);
    *alloc = CASE("tag", run_tag, &ca, 1);
    *cj = CASE("cJSON parse+print", run_cjson, &c, 1);
    if (rc == 0) {
        rc = bench_measure(g, 3, &e->run);
    }
    free(c.buf);
    return rc;
}

static int bench_batch(struct env *e, struct cases *cs)
{
    struct batch_ctx c = {.log = e->log};
    struct pub_ctx one = {e->log,
                          message("orders-batch", e->small, e->small_len)};
    struct bcase *g[] = {&cs->singles, &cs->batch};
    int rc;

    for (size_t k = 0; k < BATCH; k++) {
        c.msgs[k] = one.msg;
    }
    cs->batch = CASE("batch", run_batch, &c, BATCH);
    cs->singles = CASE("single publishes", run_publish, &one, 1);
    rc = run_batch(&c, RETENTION / BATCH + 2);
    return rc != 0 ? rc : bench_measure(g, 2, &e->run);
}

static void report(const struct env *e, const struct cases *cs)
{
    const struct figure figs[] = {
        {"publish_memory", "publish, memory store, 200 B", "ns/op", &cs->pub,
         &cs->pub_base, 0, TARGET_MAX_NS, 300},
        {"replay_per_entry", "replay 1000 entries, per entry", "ns/entry",
         &cs->replay, &cs->replay_base, 0, TARGET_MAX_NS, 50},
        {"tag_into_200", "tag_into (reused buffer), 200 B", "ns/op",
         &cs->into200, &cs->cjson200, 1, TARGET_NONE, 0},
        {"tag_alloc_200", "tag (allocating), 200 B", "ns/op", &cs->alloc200,
         &cs->cjson200, 1, TARGET_NONE, 0},
        {"tag_into_4k", "tag_into (reused buffer), 4 KiB", "ns/op", &cs->into4k,
         &cs->cjson4k, 1, TARGET_MIN_RATIO, 5},
        {"tag_alloc_4k", "tag (allocating), 4 KiB", "ns/op", &cs->alloc4k,
         &cs->cjson4k, 1, TARGET_MIN_RATIO, 5},
        {"batch_publish_64", "batch of 64, per message", "ns/msg", &cs->batch,
         &cs->singles, 0, TARGET_NONE, 0},
    };

    bench_print_table(figs, sizeof(figs) / sizeof(figs[0]));
    printf("\nreplay after 0-0: gap reason %s; shortest repetition %.1f ms\n",
           resdeliv_gap_reason_name(cs->replay_reason),
           (double)e->run.shortest / 1e6);
}

static int bench_all(struct env *e)
{
    struct cases cs;
    int rc;

    memset(&cs, 0, sizeof(cs));
    rc = bench_publish(e, &cs);
    if (rc == 0) {
        rc = bench_replay(e, &cs);
    }
    if (rc == 0) {
        rc = bench_tag(e, e->small, e->small_len, &cs.into200, &cs.alloc200,
                       &cs.cjson200);
    }
    if (rc == 0) {
        rc = bench_tag(e, e->large, e->large_len, &cs.into4k, &cs.alloc4k,
                       &cs.cjson4k);
    }
    if (rc == 0) {
        rc = bench_batch(e, &cs);
    }
    if (rc == 0) {
        report(e, &cs);
    }
    return rc;
}

/* ---- main ------------------------------------------------------------ */

static const char USAGE[] =
    "usage: bench-core [--quick] [--reps N]\n"
    "  --quick   3 repetitions of about 1 ms each (a smoke test)\n"
    "  --reps N  repetitions per figure (default 11; keep it >= 9)\n";

/* @return 0 to run, 1 after --help, -1 on a bad command line. */
static int parse_args(int argc, char **argv, struct runner *r)
{
    long reps = 0;
    char *end = NULL;

    r->reps = DEFAULT_REPS;
    r->min_ns = MIN_REP_NS;
    r->shortest = UINT64_MAX;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            r->reps = QUICK_REPS;
            r->min_ns = QUICK_REP_NS;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            errno = 0;
            reps = strtol(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || reps < 1 || reps > MAX_REPS) {
                fprintf(stderr, "bench-core: --reps takes 1..%d, not \"%s\"\n",
                        MAX_REPS, argv[i]);
                return -1;
            }
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(USAGE, stdout);
            return 1;
        } else {
            fprintf(stderr, "bench-core: bad argument \"%s\"\n%s", argv[i],
                    USAGE);
            return -1;
        }
    }
    r->reps = reps > 0 ? (int)reps : r->reps;
    return 0;
}

int main(int argc, char **argv)
{
    struct env e;
    int rc;

    memset(&e, 0, sizeof(e));
    rc = parse_args(argc, argv, &e.run);
    if (rc != 0) {
        return rc < 0 ? 2 : 0;
    }
    printf("libresdeliv %s core benchmark: median of %d repetitions of "
           ">= %.0f ms each, figure and baseline interleaved\n",
           resdeliv_version(), e.run.reps, (double)e.run.min_ns / 1e6);
#if !defined(__OPTIMIZE__) || defined(__SANITIZE_ADDRESS__)
    printf("note: not an optimized plain build (-Dbuildtype=release); "
           "figures are not representative\n");
#endif
    fflush(stdout);
    rc = env_open(&e);
    if (rc == 0) {
        rc = bench_all(&e);
    }
    resdeliv_log_close(e.log);
    resdeliv_store_free(e.store);
    if (rc != 0) {
        fprintf(stderr, "bench-core: stopped on %s: %s\n",
                resdeliv_err_name(rc), resdeliv_strerror(rc));
        return 1;
    }
    return 0;
}
