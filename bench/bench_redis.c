/* SPDX-License-Identifier: MIT */
/*
 * Redis Streams store benchmark. It starts its own redis-server (loopback,
 * free port, temporary directory, no persistence) and compares, on that one
 * server, libresdeliv against the best a plain client does:
 *  - single publishes vs `redis-benchmark -c 1 -P 1` running the same XADD;
 *  - batches of 64 vs `redis-benchmark -c 1 -P 64`;
 *  - a replay of 1000 entries through the cursor vs a hiredis XRANGE loop.
 * The machines it runs on are shared and noisy: each figure is the median of
 * several repetitions, the library and its baseline alternate (A B A B) so a
 * drift hits both, and ratios come from the same run, never from stored
 * numbers. An analysis section then times the building blocks of an append
 * (plain XADD, scripts, MULTI/EXEC) with hiredis and reads the server's CPU
 * time per message (INFO cpu) and per command (INFO commandstats), so a
 * missed target can be traced to the client or to the server.
 * Output: tables, then `RESULT name=value unit ratio=x target=y ok|MISS`
 * lines, and `PROBE` lines for the analysis (bench/README.md). Exit status:
 * 0 even when a target is missed, 1 on an error, 2 on a bad command line,
 * 77 when there is no redis-server.
 */
#include "bench_redis.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median_of(const struct series *r, size_t off)
{
    double v[MAX_REPS];

    for (int i = 0; i < r->n; i++) {
        v[i] = *(const double *)((const char *)&r->s[i] + off);
    }
    qsort(v, (size_t)r->n, sizeof(v[0]), cmp_double);
    return r->n % 2 ? v[r->n / 2] : (v[r->n / 2 - 1] + v[r->n / 2]) / 2;
}

static void finish_series(struct series *r)
{
    r->med.rate = median_of(r, offsetof(struct sample, rate));
    r->med.srv_us = median_of(r, offsetof(struct sample, srv_us));
    r->med.cli_us = median_of(r, offsetof(struct sample, cli_us));
}

int bench_fail(const char *what, const char *detail)
{
    fprintf(stderr, "bench-redis: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    return -1;
}

/* ---- server statistics ------------------------------------------------ */

static redisReply *admin_cmd(struct bench *b, const char *a0, const char *a1)
{
    const char *argv[2] = {a0, a1};
    redisReply *r = redisCommandArgv(b->admin, a1 ? 2 : 1, argv, NULL);

    if (r != NULL && r->type != REDIS_REPLY_ERROR) {
        return r;
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    return NULL;
}

static double info_field(const char *text, const char *name)
{
    const char *p = strstr(text, name);

    return p != NULL ? strtod(p + strlen(name), NULL) : 0.0;
}

/* CPU seconds the server has used (user + system). */
static double server_cpu(struct bench *b)
{
    redisReply *r = admin_cmd(b, "INFO", "cpu");
    double v = 0.0;

    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        v = info_field(r->str, "used_cpu_user:") +
            info_field(r->str, "used_cpu_sys:");
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    return v;
}

/* "xadd=2.1 evalsha=8.0": usec_per_call of every command called since the
 * last CONFIG RESETSTAT (scripts include the commands they call, which are
 * also listed on their own). */
static void read_cmdstats(struct bench *b, char *out, size_t size)
{
    redisReply *r = admin_cmd(b, "INFO", "commandstats");
    const char *p = r != NULL && r->type == REDIS_REPLY_STRING ? r->str : "";
    size_t used = 0;

    out[0] = '\0';
    while ((p = strstr(p, "cmdstat_")) != NULL) {
        const char *name = p + 8;
        const char *colon = strchr(name, ':');
        const char *upc = strstr(name, "usec_per_call=");
        if (colon == NULL || upc == NULL || used + 48 >= size) {
            break;
        }
        if (strncmp(name, "info", 4) != 0 && strncmp(name, "config", 6) != 0) {
            used += (size_t)snprintf(out + used, size - used, "%s%.*s=%.2f",
                                     used ? " " : "", (int)(colon - name), name,
                                     strtod(upc + 14, NULL));
        }
        p = colon;
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
}

/* ---- measuring -------------------------------------------------------- */

/* One repetition of `fn`, with the server's CPU time around it. */
static int timed(struct bench *b, run_fn fn, const void *arg, struct series *r,
                 uint64_t msgs)
{
    double c0 = server_cpu(b);
    struct sample s = {0, 0, 0};
    int rc = fn(b, arg, &s);

    if (rc != 0) {
        return rc;
    }
    s.srv_us = (server_cpu(b) - c0) * 1e6 / (double)msgs;
    r->s[r->n++] = s;
    return 0;
}

/* An untimed warm-up repetition that also collects the command stats. */
static int warm(struct bench *b, run_fn fn, const void *arg, struct series *r)
{
    struct sample s;
    redisReply *x = admin_cmd(b, "CONFIG", "RESETSTAT");
    int rc;

    if (x == NULL) {
        return bench_fail("CONFIG RESETSTAT failed", NULL);
    }
    freeReplyObject(x);
    rc = fn(b, arg, &s);
    if (rc == 0) {
        read_cmdstats(b, r->cmdstat, sizeof(r->cmdstat));
    }
    return rc;
}

void bench_set_rate(struct sample *s, uint64_t msgs, uint64_t t0, uint64_t c0)
{
    uint64_t wall = now_ns() - t0;

    s->rate = (double)msgs * 1e9 / (double)(wall ? wall : 1);
    s->cli_us = (double)(cpu_ns() - c0) / 1e3 / (double)msgs;
}

/* A warm-up of each job, then the repetitions round-robin (A B A B ...). */
int bench_run_jobs(struct bench *b, struct job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (warm(b, jobs[i].fn, jobs[i].arg, jobs[i].r) != 0) {
            return -1;
        }
    }
    for (int rep = 0; rep < b->o.reps; rep++) {
        for (size_t i = 0; i < n; i++) {
            if (timed(b, jobs[i].fn, jobs[i].arg, jobs[i].r, jobs[i].msgs) !=
                0) {
                return -1;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        finish_series(jobs[i].r);
    }
    return 0;
}

/* ---- libresdeliv runs ------------------------------------------------- */

static int check_results(struct bench *b, size_t n)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        if (b->res[i].status != 0 || !b->res[i].logged) {
            rc = bench_fail("publish not logged", resdeliv_log_errmsg(b->log));
        }
        resdeliv_publish_result_clear(&b->res[i]);
    }
    return rc;
}

int bench_lib_single(struct bench *b, const void *arg, struct sample *s)
{
    uint64_t n = b->o.n_single;
    uint64_t t0 = now_ns();
    uint64_t c0 = cpu_ns();

    (void)arg;
    for (uint64_t i = 0; i < n; i++) {
        int rc = resdeliv_log_publish(b->log, &b->msgs[0], &b->res[0]);
        if (rc != 0 || check_results(b, 1) != 0) {
            return bench_fail("resdeliv_log_publish",
                              resdeliv_log_errmsg(b->log));
        }
    }
    bench_set_rate(s, n, t0, c0);
    return 0;
}

int bench_lib_batch(struct bench *b, const void *arg, struct sample *s)
{
    uint64_t rounds = b->o.n_batch / BATCH;
    uint64_t t0 = now_ns();
    uint64_t c0 = cpu_ns();

    (void)arg;
    for (uint64_t i = 0; i < rounds; i++) {
        int rc = resdeliv_log_publish_batch(b->log, b->msgs, BATCH, b->res);
        if (rc != 0 || check_results(b, BATCH) != 0) {
            return bench_fail("resdeliv_log_publish_batch",
                              resdeliv_log_errmsg(b->log));
        }
    }
    bench_set_rate(s, rounds * BATCH, t0, c0);
    return 0;
}

/* One replay of the whole log after 0-0; `*got` counts its entries. */
static int lib_replay_once(struct bench *b, uint64_t *got)
{
    resdeliv_replay *cur = NULL;
    const struct resdeliv_replay_entry *e;
    size_t n = 0;
    int rc = resdeliv_replay_open(b->log, CH_REPLAY, "0-0", NULL, &cur);

    if (rc == 0 && !resdeliv_replay_status(cur)->continuous) {
        rc = RESDELIV_ESTORE;
    }
    while (rc == 0) {
        rc = resdeliv_replay_next_page(cur, &e, &n);
        if (rc != 0 || n == 0) {
            break;
        }
        keep(e[n - 1].payload);
        *got += n;
    }
    resdeliv_replay_close(cur);
    return rc == 0 ? 0 : bench_fail("replay", resdeliv_log_errmsg(b->log));
}

int bench_lib_replay(struct bench *b, const void *arg, struct sample *s)
{
    uint64_t got = 0;
    uint64_t t0 = now_ns();
    uint64_t c0 = cpu_ns();

    (void)arg;
    for (uint64_t i = 0; i < b->o.replays; i++) {
        if (lib_replay_once(b, &got) != 0) {
            return -1;
        }
    }
    if (got != b->o.replays * REPLAY_ENTRIES) {
        return bench_fail("replay yielded a wrong number of entries", NULL);
    }
    bench_set_rate(s, got, t0, c0);
    return 0;
}

/* ---- baselines -------------------------------------------------------- */

/* The figure before the last "requests per second" of redis-benchmark. */
static int parse_rps(const char *out, double *rps)
{
    const char *hit = NULL;
    const char *e;
    const char *p;

    for (p = strstr(out, "requests per second"); p != NULL;
         p = strstr(p + 1, "requests per second")) {
        hit = p;
    }
    if (hit == NULL) {
        return -1;
    }
    for (e = hit; e > out && e[-1] == ' '; e--) {
    }
    for (p = e; p > out && (isdigit((unsigned char)p[-1]) || p[-1] == '.');
         p--) {
    }
    if (p == e) {
        return -1;
    }
    *rps = strtod(p, NULL);
    return *rps > 0 ? 0 : -1;
}

static int spawn_rb(struct bench *b, int pipeline, uint64_t n, int out_fd,
                    pid_t *pid)
{
    char port[16], depth[16], count[32];
    const char *argv[] = {"redis-benchmark",
                          "-h",
                          "127.0.0.1",
                          "-p",
                          port,
                          "-c",
                          "1",
                          "-P",
                          depth,
                          "-n",
                          count,
                          "-q",
                          "XADD",
                          RB_KEY,
                          "MAXLEN",
                          "~",
                          RETENTION,
                          "*",
                          "e",
                          EVENT,
                          "d",
                          b->payload,
                          NULL};
    posix_spawn_file_actions_t fa;
    int rc;

    snprintf(port, sizeof(port), "%d", b->srv.port);
    snprintf(depth, sizeof(depth), "%d", pipeline);
    snprintf(count, sizeof(count), "%llu", (unsigned long long)n);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    rc = posix_spawnp(pid, "redis-benchmark", &fa, NULL, (char *const *)argv,
                      environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* redis-benchmark as a child: its own requests per second, and its CPU
 * time (user + system, from wait4) per request. */
static int rb_run(struct bench *b, const void *arg, struct sample *s)
{
    int pipeline = *(const int *)arg;
    uint64_t n = pipeline > 1 ? b->o.n_batch : b->o.n_single;
    char out[65536];
    size_t used = 0;
    struct rusage ru;
    int fds[2], status = 0;
    pid_t pid;
    ssize_t got;

    if (pipe(fds) != 0) {
        return bench_fail("pipe", strerror(errno));
    }
    if (spawn_rb(b, pipeline, n, fds[1], &pid) != 0) {
        close(fds[0]);
        close(fds[1]);
        return bench_fail("cannot run redis-benchmark", NULL);
    }
    close(fds[1]);
    while ((got = read(fds[0], out + used, sizeof(out) - 1 - used)) > 0 ||
           (got < 0 && errno == EINTR)) {
        used += got > 0 ? (size_t)got : 0;
        used = used >= sizeof(out) - 1 ? 0 : used; /* keep the tail */
    }
    out[used] = '\0';
    close(fds[0]);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        parse_rps(out, &s->rate) != 0) {
        return bench_fail("redis-benchmark gave no requests per second", out);
    }
    s->cli_us =
        ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) * 1e6 /
            (double)n +
        ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / (double)n;
    return 0;
}

struct figure {
    const char *name;
    const char *unit;
    double target;
    struct series lib;
    struct series base;
};

static void print_figures(struct figure *f, size_t n)
{
    printf("\n%-16s %11s %11s %7s %7s %-5s | %17s %17s\n", "figure",
           "library/s", "baseline/s", "ratio", "target", "", "lib srv/cli us",
           "base srv/cli us");
    for (size_t i = 0; i < n; i++) {
        double ratio = f[i].lib.med.rate / f[i].base.med.rate;
        printf("%-16s %11.0f %11.0f %7.3f %7.2f %-5s | %8.2f %8.2f %8.2f "
               "%8.2f\n",
               f[i].name, f[i].lib.med.rate, f[i].base.med.rate, ratio,
               f[i].target, ratio >= f[i].target ? "ok" : "MISS",
               f[i].lib.med.srv_us, f[i].lib.med.cli_us, f[i].base.med.srv_us,
               f[i].base.med.cli_us);
    }
    printf("(medians; us = CPU microseconds per message or entry: srv = "
           "redis-server, cli = the client process)\n");
    for (size_t i = 0; i < n; i++) {
        printf("cmdstats %-16s library: %s\n", f[i].name, f[i].lib.cmdstat);
        printf("cmdstats %-16s baseline: %s\n", f[i].name, f[i].base.cmdstat);
    }
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        double ratio = f[i].lib.med.rate / f[i].base.med.rate;
        printf("RESULT %s=%.0f %s ratio=%.3f target=%.2f %s\n", f[i].name,
               f[i].lib.med.rate, f[i].unit, ratio, f[i].target,
               ratio >= f[i].target ? "ok" : "MISS");
    }
}

static int bench_figures(struct bench *b)
{
    static const int p1 = 1, p64 = BATCH;
    struct figure f[3] = {
        {.name = "publish_single", .unit = "msg/s", .target = 0.85},
        {.name = "publish_batch64", .unit = "msg/s", .target = 0.85},
        {.name = "replay_1000", .unit = "entries/s", .target = 0.9},
    };
    uint64_t nb = b->o.n_batch / BATCH * BATCH;
    uint64_t ne = b->o.replays * REPLAY_ENTRIES;
    struct job j[6] = {
        {bench_lib_single, NULL, &f[0].lib, b->o.n_single},
        {rb_run, &p1, &f[0].base, b->o.n_single},
        {bench_lib_batch, NULL, &f[1].lib, nb},
        {rb_run, &p64, &f[1].base, b->o.n_batch},
        {bench_lib_replay, NULL, &f[2].lib, ne},
        {bench_raw_replay, NULL, &f[2].base, ne},
    };

    for (size_t i = 0; i < 3; i++) {
        printf("measuring %s ...\n", f[i].name);
        fflush(stdout);
        if (bench_run_jobs(b, &j[2 * i], 2) != 0) {
            return -1;
        }
    }
    print_figures(f, 3);
    return 0;
}

/* ---- setup ------------------------------------------------------------ */

/* A 200-byte JSON object, as a typical broadcast. */
static void make_payload(char *buf)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789 ";
    int n = snprintf(buf, PAYLOAD_SIZE + 1,
                     "{\"type\":\"order.updated\",\"order\":{\"id\":4711,"
                     "\"status\":\"shipped\",\"items\":[3,1,4]},\"note\":\"");

    while (n < PAYLOAD_SIZE - 2) {
        buf[n] = alpha[n % (sizeof(alpha) - 1)];
        n++;
    }
    buf[n++] = '"';
    buf[n++] = '}';
    buf[n] = '\0';
}

static redisContext *connect_raw(struct bench *b)
{
    redisContext *c = redisConnect("127.0.0.1", b->srv.port);

    if (c != NULL && c->err) {
        bench_fail("cannot connect", c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

static int open_log(struct bench *b)
{
    struct resdeliv_redis_options ro;
    struct resdeliv_config cfg;
    char err[256] = "";
    int rc;

    resdeliv_redis_options_init(&ro);
    ro.url = b->srv.url;
    rc = resdeliv_store_redis_new(&ro, &b->store, err, sizeof(err));
    if (rc != 0) {
        return bench_fail("resdeliv_store_redis_new", err);
    }
    resdeliv_config_init(&cfg);
    cfg.default_max_messages = 1000;
    cfg.replay_batch_size = REPLAY_PAGE;
    rc = resdeliv_log_open(&cfg, b->store, APP_ID, &b->log, err, sizeof(err));
    return rc == 0 ? 0 : bench_fail("resdeliv_log_open", err);
}

/* A fresh log of exactly 1000 entries for the replay figure. */
static int fill_replay(struct bench *b)
{
    static const char prefix[] = "delivery";
    struct resdeliv__redis_keys k;
    redisReply *r;
    long long len = -1;

    if (resdeliv_log_drop(b->log, CH_REPLAY) != 0) {
        return bench_fail("resdeliv_log_drop", resdeliv_log_errmsg(b->log));
    }
    for (int i = 0; i < BATCH; i++) {
        b->msgs[i].channel = CH_REPLAY;
        b->msgs[i].channel_len = sizeof(CH_REPLAY) - 1;
    }
    for (size_t done = 0; done < REPLAY_ENTRIES;) {
        size_t n =
            REPLAY_ENTRIES - done < BATCH ? REPLAY_ENTRIES - done : BATCH;
        if (resdeliv_log_publish_batch(b->log, b->msgs, n, b->res) != 0 ||
            check_results(b, n) != 0) {
            return bench_fail("filling the replay log",
                              resdeliv_log_errmsg(b->log));
        }
        done += n;
    }
    if (resdeliv__redis_keys_build(prefix, sizeof(prefix) - 1, APP_ID,
                                   sizeof(APP_ID) - 1, CH_REPLAY,
                                   sizeof(CH_REPLAY) - 1, &k) != 0) {
        return bench_fail("out of memory", NULL);
    }
    snprintf(b->replay_key, sizeof(b->replay_key), "%s", k.stream);
    snprintf(b->replay_epoch, sizeof(b->replay_epoch), "%s", k.epoch);
    resdeliv__redis_keys_clear(&k);
    r = redisCommand(b->raw, "XLEN %s", b->replay_key);
    if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
        len = r->integer;
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    return len == REPLAY_ENTRIES
               ? 0
               : bench_fail("replay log is not 1000 long", b->replay_key);
}

static int setup(struct bench *b)
{
    make_payload(b->payload);
    for (int i = 0; i < BATCH; i++) {
        b->msgs[i].event = EVENT;
        b->msgs[i].event_len = sizeof(EVENT) - 1;
        b->msgs[i].data = b->payload;
        b->msgs[i].data_len = PAYLOAD_SIZE;
    }
    b->raw = connect_raw(b);
    b->admin = connect_raw(b);
    if (b->raw == NULL || b->admin == NULL || open_log(b) != 0 ||
        fill_replay(b) != 0) {
        return -1;
    }
    for (int i = 0; i < BATCH; i++) {
        b->msgs[i].channel = CH_BATCH;
        b->msgs[i].channel_len = sizeof(CH_BATCH) - 1;
    }
    /* Single publishes use msgs[0] on their own channel. */
    b->msgs[0].channel = CH_SINGLE;
    b->msgs[0].channel_len = sizeof(CH_SINGLE) - 1;
    return 0;
}

static void teardown(struct bench *b)
{
    resdeliv_log_close(b->log);
    resdeliv_store_free(b->store);
    resdeliv__redis_keys_clear(&b->store_keys);
    if (b->raw != NULL) {
        redisFree(b->raw);
    }
    if (b->admin != NULL) {
        redisFree(b->admin);
    }
    redis_server_stop(&b->srv);
}

/* ---- command line ----------------------------------------------------- */

static const char USAGE[] =
    "usage: bench-redis [--quick] [--reps N] [--no-analysis]\n"
    "  --quick        small runs and 3 repetitions (a smoke test, not a "
    "measurement)\n"
    "  --reps N       repetitions per figure (default 7; medians)\n"
    "  --no-analysis  skip the probes that explain the figures\n";

static int parse_args(int argc, char **argv, struct opts *o, int *analysis)
{
    long reps = 0;
    char *end;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(argv[i], "--no-analysis") == 0) {
            *analysis = 0;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            errno = 0;
            reps = strtol(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || reps < 1 || reps > MAX_REPS) {
                fprintf(stderr,
                        "bench-redis: --reps takes 1..%d, not "
                        "\"%s\"\n",
                        MAX_REPS, argv[i]);
                return -1;
            }
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(USAGE, stdout);
            return 1;
        } else {
            fprintf(stderr, "bench-redis: bad argument \"%s\"\n%s", argv[i],
                    USAGE);
            return -1;
        }
    }
    o->reps = reps > 0 ? (int)reps : o->quick ? QUICK_REPS : DEFAULT_REPS;
    o->n_single = o->quick ? 1000 : 20000;
    o->n_batch = o->quick ? 6400 : 128000;
    o->replays = o->quick ? 5 : 100;
    o->n_probe1 = o->quick ? 500 : 6000;
    o->n_probe64 = o->quick ? 6400 : 64000;
    return 0;
}

int main(int argc, char **argv)
{
    static struct bench b;
    int analysis = 1;
    int rc = parse_args(argc, argv, &b.o, &analysis);

    if (rc != 0) {
        return rc < 0 ? 2 : 0;
    }
    rc = redis_server_start(&b.srv, NULL);
    if (rc != REDIS_SERVER_OK) {
        return redis_server_skip_status(rc);
    }
    printf("libresdeliv %s Redis store benchmark: redis-server pid %d on "
           "127.0.0.1:%d, median of %d repetitions, library and baseline "
           "alternated%s\n",
           resdeliv_version(), (int)b.srv.pid, b.srv.port, b.o.reps,
           b.o.quick ? " (--quick: smoke test, not a measurement)" : "");
#if !defined(__OPTIMIZE__) || defined(__SANITIZE_ADDRESS__)
    printf("note: not an optimized build; figures are not representative\n");
#endif
    fflush(stdout);
    rc = setup(&b);
    if (rc == 0) {
        rc = bench_figures(&b);
    }
    if (rc == 0 && analysis) {
        rc = bench_probes(&b);
    }
    if (rc == 0 && analysis) {
        rc = bench_replay_shapes(&b);
    }
    teardown(&b);
    return rc == 0 ? 0 : 1;
}
