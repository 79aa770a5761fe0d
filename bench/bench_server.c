/* SPDX-License-Identifier: MIT */
/*
 * End-to-end benchmark of resdeliv-server, run as a child process on
 * loopback and driven over real sockets by one client thread:
 *
 * - replay: a client reconnecting 1000 messages behind, from its
 *   subscribe to its last replayed message, on the memory store and on a
 *   private redis-server; baseline: the same 1000 messages delivered live
 *   to a subscribed client, published as fast as the server takes them;
 * - fan-out: one HTTP publish to 1000 subscribers of a channel, to the
 *   last delivery; baseline: the same publish to one subscriber;
 * - sustained HTTP publishes/s with 100 subscribers; baseline: the same
 *   publishes to a channel nobody subscribes to.
 *
 * The machine is shared and small, so every figure is a median of several
 * repetitions, interleaved with its baseline, and is also given as a
 * ratio to it. Output: a table, then `RESULT name=value unit ratio=x
 * target=y ok|MISS|info` lines (bench/README.md). Exit status: 0 even when
 * a target is missed, 1 when a run fails, 2 on a bad command line.
 */
#include "bench_server.h"

#include "e2e_client.h"
#include "redis_server.h"

#include <resdeliv/resdeliv.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_REPS 7
#define QUICK_REPS 3
#define MAX_REPS 99
#define BEHIND 1000
#define BATCH 10 /* the HTTP API's most events per batch_events */
#define PUB_CONNS 4
#define FANOUT_SUBS 1000
#define RATE_SUBS 100
#define RATE_MSGS 2000
#define QUICK_RATE_MSGS 300
#define RETENTION "2000"
#define MIN_CPU_WALL_NS 2e8 /* 20 ticks of 10 ms */

struct opts {
    const char *server;
    int reps;
    int rate_msgs;
    int redis;
    int replay; /* run the replay figures */
    int fanout; /* run the fan-out figures */
};

/* One figure: its samples and their median. */
struct fig {
    const char *name;
    const char *unit;
    double s[MAX_REPS];
    int n;
    double median, lo, hi;
    /* CPU over the counted repetitions, and what it was spent on */
    double srv_ns, cli_ns, ops, wall_ns;
};

/* CPU time used so far by the server (from /proc, in clock ticks) and by
 * this process, in ns. */
struct cpu {
    double srv;
    double cli;
    double wall;
};

static double ms_since(uint64_t t0, uint64_t t1)
{
    return (double)(t1 - t0) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void add(struct fig *f, double v)
{
    if (f->n < MAX_REPS) {
        f->s[f->n++] = v;
    }
}

static void settle(struct fig *f)
{
    double s[MAX_REPS];

    if (f->n == 0) {
        return;
    }
    memcpy(s, f->s, sizeof(double) * (size_t)f->n);
    qsort(s, (size_t)f->n, sizeof(double), cmp_double);
    f->lo = s[0];
    f->hi = s[f->n - 1];
    f->median = f->n % 2 ? s[f->n / 2] : (s[f->n / 2 - 1] + s[f->n / 2]) / 2;
}

static void cpu_now(const struct bench *b, struct cpu *c)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    struct timespec ts;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", b->server_pid);
    f = fopen(path, "r");
    c->srv = 0;
    if (f != NULL && fgets(buf, sizeof(buf), f) != NULL &&
        (p = strrchr(buf, ')')) != NULL &&
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) == 2) {
        c->srv = (double)(ut + st) * 1e9 / (double)sysconf(_SC_CLK_TCK);
    }
    if (f != NULL) {
        fclose(f);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    c->cli = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
    c->wall = (double)bnet_now_ns();
}

/* Charges the CPU since `c0` to `ops` operations of `f`. */
static void add_cpu(const struct bench *b, struct fig *f,
                    const struct cpu *c0, double ops)
{
    struct cpu c1;

    cpu_now(b, &c1);
    f->srv_ns += c1.srv - c0->srv;
    f->cli_ns += c1.cli - c0->cli;
    f->ops += ops;
    f->wall_ns += c1.wall - c0->wall;
}

static int start_server(struct bench *b, struct e2e_server *srv,
                        const char *bin, const char *store)
{
    const char *args[] = {"--store", store, "--retention", RETENTION, NULL};

    if (e2e_server_start(srv, bin, args) != 0) {
        fprintf(stderr, "bench-server: cannot start %s --store %s\n", bin,
                store);
        return -1;
    }
    b->port = srv->port;
    b->server_pid = (int)srv->pid;
    /* For attaching perf or strace -c while it runs. */
    fprintf(stderr, "bench-server: server pid %d port %d store %s\n",
            (int)srv->pid, srv->port, store);
    return 0;
}

/* ---------------------------------------------------------- replay */

#define FIG(n, u) {.name = (n), .unit = (u)}

struct replay_figs {
    struct fig subscribe; /* subscribe with no id -> succeeded */
    struct fig live;      /* 1000 live messages, publish to last one */
    struct fig replay;    /* subscribe with id -> last replayed one */
};

/* The live client subscribes to a new channel and gets one message: the
 * position a reconnecting client resumes from. */
static int replay_seed(struct bench *b, struct bsub *live, const char *ch,
                       struct fig *subscribe, int count)
{
    struct bsub *w = live;
    uint64_t t0 = bnet_now_ns();

    if (bs_sub_subscribe(live, ch, NULL, NULL) != 0 ||
        bs_run_subscribed(b, b->subscribed + 1) != 0) {
        return -1;
    }
    if (count) {
        add(subscribe, ms_since(t0, bnet_now_ns()));
    }
    if (bs_prepare(b, ch, 0, 1, 1) != 0) {
        return -1;
    }
    bs_goal(b, &w, 1, 1, NULL);
    return bs_run_publish(b);
}

static int replay_live(struct bench *b, struct bsub *live, const char *ch,
                       struct fig *f, int count)
{
    struct bsub *w = live;
    struct cpu c0;
    uint64_t t0;

    if (bs_prepare(b, ch, 1, BEHIND / BATCH, BATCH) != 0) {
        return -1;
    }
    bs_goal(b, &w, 1, BEHIND, NULL);
    cpu_now(b, &c0);
    t0 = bnet_now_ns();
    if (bs_run_publish(b) != 0 || live->bad != 0) {
        fprintf(stderr, "bench-server: live run failed (%d out of order)\n",
                live->bad);
        return -1;
    }
    if (count) {
        add(f, ms_since(t0, b->t_reached));
        add_cpu(b, f, &c0, BEHIND);
    }
    return 0;
}

static int check_replay(const struct bsub *rs, const struct bsub *live)
{
    if (rs->bad != 0 || rs->gaps != 0 || rs->subscribed != 1 ||
        strcmp(rs->last_id, live->last_id) != 0) {
        fprintf(stderr,
                "bench-server: replay was not exact: %d out of order, %d "
                "gap notices, last id %s (live %s)\n",
                rs->bad, rs->gaps, rs->last_id, live->last_id);
        return -1;
    }
    return 0;
}

/* A reconnecting client subscribes with the seed's id and epoch. */
static int replay_resume(struct bench *b, struct bsub *live, const char *ch,
                         const char *mark, const char *epoch, struct fig *f,
                         int count)
{
    struct bsub rs, *w = &rs;
    struct cpu c0;
    uint64_t t0;
    int rc;

    memset(&rs, 0, sizeof(rs));
    rs.track_ids = 1;
    if (bs_sub_connect(b, &rs) != 0) {
        return -1;
    }
    bs_requests_free(b);
    bs_goal(b, &w, 1, BEHIND, mark);
    cpu_now(b, &c0);
    t0 = bnet_now_ns();
    rc = bs_sub_subscribe(&rs, ch, mark, epoch);
    rc = rc == 0 ? bs_run_goal(b) : rc;
    rc = rc == 0 ? check_replay(&rs, live) : rc;
    if (rc == 0 && count) {
        add(f, ms_since(t0, b->t_reached));
        add_cpu(b, f, &c0, BEHIND);
    }
    bnet_close(rs.c);
    return rc;
}

static int replay_rep(struct bench *b, struct bsub *live, int r,
                      struct replay_figs *f)
{
    char ch[64], mark[BS_ID_MAX], epoch[BS_ID_MAX];
    int count = r > 0; /* repetition 0 warms up */

    snprintf(ch, sizeof(ch), "replay-%d", r);
    if (bs_pub_open(b, PUB_CONNS) != 0 ||
        replay_seed(b, live, ch, &f->subscribe, count) != 0) {
        return -1;
    }
    snprintf(mark, sizeof(mark), "%s", live->last_id);
    snprintf(epoch, sizeof(epoch), "%s", live->epoch);
    if (mark[0] == '\0') {
        fprintf(stderr, "bench-server: the seed message carried no id\n");
        return -1;
    }
    if (replay_live(b, live, ch, &f->live, count) != 0 ||
        replay_resume(b, live, ch, mark, epoch, &f->replay, count) != 0) {
        return -1;
    }
    bs_pub_close(b);
    return 0;
}

static int run_replay(const struct opts *o, const char *store,
                      struct replay_figs *f)
{
    struct bench b;
    struct e2e_server srv;
    struct bsub live;
    int rc = -1;

    memset(&b, 0, sizeof(b));
    memset(&live, 0, sizeof(live));
    live.track_ids = 1;
    b.net = bnet_new(bs_on_msg, &b);
    if (b.net != NULL && start_server(&b, &srv, o->server, store) == 0) {
        rc = bs_sub_connect(&b, &live);
        for (int r = 0; rc == 0 && r <= o->reps; r++) {
            rc = replay_rep(&b, &live, r, f);
        }
        bnet_close(live.c);
        bs_pub_close(&b);
        bs_requests_free(&b);
        e2e_server_stop(&srv);
    }
    bnet_free(b.net);
    return rc;
}

/* ---------------------------------------------------------- fan-out */

struct fanout_figs {
    struct fig one;       /* publish -> delivery, one subscriber */
    struct fig all;       /* publish -> last of FANOUT_SUBS deliveries */
    struct fig answer;    /* publish -> HTTP answer, FANOUT_SUBS */
    struct fig rate_none; /* publishes/s, no subscriber */
    struct fig rate_subs; /* publishes/s, RATE_SUBS subscribers */
    long hwm_kb;
};

struct fanout {
    struct bench b;
    struct bsub *subs; /* FANOUT_SUBS, then the single one */
    struct bsub **watch;
};

static int fanout_setup(struct fanout *fo)
{
    size_t want = FANOUT_SUBS + RATE_SUBS + 1;
    struct bsub *one = &fo->subs[FANOUT_SUBS];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i <= FANOUT_SUBS; i++) {
        fo->watch[i] = &fo->subs[i];
        rc = bs_sub_connect(&fo->b, &fo->subs[i]);
    }
    for (size_t i = 0; rc == 0 && i < FANOUT_SUBS; i++) {
        rc = bs_sub_subscribe(&fo->subs[i], "fanout", NULL, NULL);
        if (rc == 0 && i < RATE_SUBS) {
            rc = bs_sub_subscribe(&fo->subs[i], "rate", NULL, NULL);
        }
    }
    rc = rc == 0 ? bs_sub_subscribe(one, "fanout-one", NULL, NULL) : rc;
    return rc == 0 ? bs_run_subscribed(&fo->b, want) : rc;
}

/* One publish to `nwatch` subscribers; times to the last delivery (into
 * `last`) and to the HTTP answer (into `answer`, may be NULL); nothing is
 * recorded when `count` is 0. */
static int fanout_once(struct fanout *fo, const char *ch, struct bsub **watch,
                       size_t nwatch, struct fig *last, struct fig *answer,
                       int count)
{
    struct bench *b = &fo->b;
    struct cpu c0;
    uint64_t t0;

    if (bs_prepare(b, ch, 0, 1, 1) != 0) {
        return -1;
    }
    bs_goal(b, watch, nwatch, 1, NULL);
    cpu_now(b, &c0);
    t0 = bnet_now_ns();
    if (bs_run_publish(b) != 0) {
        return -1;
    }
    if (count) {
        add(last, ms_since(t0, b->t_reached));
        add_cpu(b, last, &c0, (double)nwatch);
        if (answer != NULL) {
            add(answer, ms_since(t0, b->t_answer));
        }
    }
    return 0;
}

/* `msgs` publishes, PUB_CONNS in flight; publishes/s to the last delivery
 * (or the last answer when nobody listens). */
static int rate_once(struct fanout *fo, const char *ch, size_t nwatch,
                     int msgs, struct fig *f, int count)
{
    struct bench *b = &fo->b;
    struct cpu c0;
    uint64_t t0, t1;

    if (bs_prepare(b, ch, 0, (size_t)msgs, 1) != 0) {
        return -1;
    }
    bs_goal(b, fo->watch, nwatch, msgs, NULL);
    cpu_now(b, &c0);
    t0 = bnet_now_ns();
    if (bs_run_publish(b) != 0) {
        return -1;
    }
    t1 = b->t_answer > b->t_reached ? b->t_answer : b->t_reached;
    if (count) {
        add(f, (double)msgs / ((double)(t1 - t0) / 1e9));
        add_cpu(b, f, &c0, (double)msgs);
    }
    return 0;
}

static int fanout_check(const struct fanout *fo, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fo->watch[i]->bad != 0) {
            fprintf(stderr, "bench-server: subscriber %zu got messages out "
                            "of order\n",
                    i);
            return -1;
        }
    }
    return 0;
}

static int fanout_rep(struct fanout *fo, const struct opts *o, int r,
                      struct fanout_figs *f)
{
    struct bsub *one = &fo->subs[FANOUT_SUBS];
    int rc, count = r > 0; /* repetition 0 warms up */

    rc = bs_pub_open(&fo->b, 1);
    rc = rc == 0 ? fanout_once(fo, "fanout-one", &one, 1, &f->one, NULL,
                               count)
                 : rc;
    rc = rc == 0 ? fanout_once(fo, "fanout", fo->watch, FANOUT_SUBS, &f->all,
                               &f->answer, count)
                 : rc;
    rc = rc == 0 ? fanout_check(fo, FANOUT_SUBS) : rc;
    rc = rc == 0 ? bs_pub_open(&fo->b, PUB_CONNS) : rc;
    rc = rc == 0 ? rate_once(fo, "rate-none", 0, o->rate_msgs, &f->rate_none,
                             count)
                 : rc;
    rc = rc == 0 ? rate_once(fo, "rate", RATE_SUBS, o->rate_msgs,
                             &f->rate_subs, count)
                 : rc;
    rc = rc == 0 ? fanout_check(fo, RATE_SUBS) : rc;
    bs_pub_close(&fo->b);
    return rc;
}

static int run_fanout(const struct opts *o, struct fanout_figs *f)
{
    struct fanout fo;
    struct e2e_server srv;
    int rc = -1;

    memset(&fo, 0, sizeof(fo));
    fo.subs = calloc(FANOUT_SUBS + 1, sizeof(*fo.subs));
    fo.watch = calloc(FANOUT_SUBS + 1, sizeof(*fo.watch));
    fo.b.net = bnet_new(bs_on_msg, &fo.b);
    if (fo.subs != NULL && fo.watch != NULL && fo.b.net != NULL &&
        start_server(&fo.b, &srv, o->server, "memory") == 0) {
        rc = fanout_setup(&fo);
        for (int r = 0; rc == 0 && r <= o->reps; r++) {
            rc = fanout_rep(&fo, o, r, f);
        }
        f->hwm_kb = e2e_server_hwm_kb(&srv);
        for (size_t i = 0; i <= FANOUT_SUBS; i++) {
            bnet_close(fo.subs[i].c);
        }
        bs_requests_free(&fo.b);
        e2e_server_stop(&srv);
    }
    bnet_free(fo.b.net);
    free(fo.subs);
    free(fo.watch);
    return rc;
}

/* ----------------------------------------------------------- report */

struct row {
    struct fig *fig;
    struct fig *base;
    double target; /* <= target in the figure's unit; 0: none */
};

/* CPU per operation (message, delivery or publish), server and client;
 * the server's comes in clock ticks, so it is shown only for figures that
 * ran long enough in total. */
static void print_cpu(const struct fig *f)
{
    if (f->ops > 0 && f->wall_ns >= MIN_CPU_WALL_NS) {
        printf("  srv %6.1f cli %6.1f us/op", f->srv_ns / f->ops / 1e3,
               f->cli_ns / f->ops / 1e3);
    }
    printf("\n");
}

static void print_row(const struct row *r)
{
    const struct fig *f = r->fig;
    const char *verdict =
        r->target <= 0 ? "" : (f->median <= r->target ? "ok" : "MISS");

    printf("%-18s %9.2f %-5s [%8.2f .. %8.2f]", f->name, f->median, f->unit,
           f->lo, f->hi);
    if (r->base != NULL) {
        printf(" %-16s %8.2f %7.3f %-4s", r->base->name, r->base->median,
               f->median / r->base->median, verdict);
    } else {
        printf(" %-16s %8s %7s %-4s", "", "", "", "");
    }
    print_cpu(f);
}

static void print_result(const struct row *r)
{
    const struct fig *f = r->fig;
    double ratio = f->median / r->base->median;
    char target[32] = "none";

    if (r->target > 0) {
        snprintf(target, sizeof(target), "<=%g%s", r->target, f->unit);
    }
    printf("RESULT %s=%.2f %s ratio=%.3f target=%s %s\n", f->name, f->median,
           f->unit, ratio, target,
           r->target <= 0 ? "info" : (f->median <= r->target ? "ok" : "MISS"));
}

static void report(struct row *rows, size_t n, const struct fanout_figs *fo)
{
    printf("\n%-18s %15s [%8s .. %8s] %-16s %8s %7s %-4s  %s\n", "figure",
           "median", "fastest", "slowest", "baseline", "median", "ratio", "",
           "CPU per op (op: message, delivery, publish)");
    for (size_t i = 0; i < n; i++) {
        if (rows[i].fig->n > 0) {
            settle(rows[i].fig);
            if (rows[i].base != NULL) {
                settle(rows[i].base);
            }
            print_row(&rows[i]);
        }
    }
    printf("(ratio = figure / baseline; for publishes/s it is the share of "
           "the no-subscriber rate kept)\n");
    if (fo->rate_subs.n > 0) {
        printf("deliveries/s with %d subscribers: %.0f; server peak RSS "
               "%ld KiB\n\n",
               RATE_SUBS, fo->rate_subs.median * RATE_SUBS, fo->hwm_kb);
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i].fig->n > 0 && rows[i].base != NULL &&
            rows[i].target >= 0) {
            print_result(&rows[i]);
        }
    }
}

/* ------------------------------------------------------------- main */

static int parse_args(int argc, char **argv, struct opts *o)
{
    o->reps = DEFAULT_REPS;
    o->rate_msgs = RATE_MSGS;
    o->redis = o->replay = o->fanout = 1;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--quick") == 0) {
            o->reps = QUICK_REPS;
            o->rate_msgs = QUICK_RATE_MSGS;
        } else if (strcmp(argv[i], "--no-redis") == 0) {
            o->redis = 0;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            i++;
            o->replay = strcmp(argv[i], "replay") == 0;
            o->fanout = strcmp(argv[i], "fanout") == 0;
            if (!o->replay && !o->fanout) {
                fprintf(stderr, "bench-server: --only replay|fanout\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            o->reps = (int)strtol(argv[++i], &end, 10);
            if (*end != '\0' || o->reps < 1 || o->reps > MAX_REPS - 1) {
                fprintf(stderr, "bench-server: --reps takes 1..%d\n",
                        MAX_REPS - 1);
                return 2;
            }
        } else if (argv[i][0] != '-' && o->server == NULL) {
            o->server = argv[i];
        } else {
            fprintf(stderr, "bench-server: bad argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (o->server == NULL) {
        fprintf(stderr, "usage: bench-server RESDELIV-SERVER [--reps N] "
                        "[--quick] [--no-redis] [--only replay|fanout]\n");
        return 2;
    }
    return 0;
}

static int run_redis(const struct opts *o, struct replay_figs *f)
{
    struct redis_server rs;
    int rc;

    rc = redis_server_start(&rs, NULL);
    if (rc != REDIS_SERVER_OK) {
        printf("note: %s: no Redis figures\n",
               rc == REDIS_SERVER_SKIP ? "no redis-server"
                                       : "redis-server did not start");
        redis_server_stop(&rs);
        return 0;
    }
    rc = run_replay(o, rs.url, f);
    redis_server_stop(&rs);
    return rc;
}

int main(int argc, char **argv)
{
    static struct replay_figs mem = {FIG("subscribe_memory", "ms"),
                                     FIG("live_1000_memory", "ms"),
                                     FIG("replay_memory", "ms")};
    static struct replay_figs red = {FIG("subscribe_redis", "ms"),
                                     FIG("live_1000_redis", "ms"),
                                     FIG("replay_redis", "ms")};
    static struct fanout_figs fo = {FIG("fanout_1", "ms"),
                                    FIG("fanout_1000", "ms"),
                                    FIG("fanout_1000_answer", "ms"),
                                    FIG("publish_rate_0", "pub/s"),
                                    FIG("publish_rate_100", "pub/s"), -1};
    struct row rows[] = {
        {&mem.replay, &mem.live, 10}, {&mem.live, NULL, -1},
        {&mem.subscribe, NULL, -1},   {&red.replay, &red.live, 25},
        {&red.live, NULL, -1},        {&red.subscribe, NULL, -1},
        {&fo.all, &fo.one, 0},        {&fo.one, NULL, -1},
        {&fo.answer, &fo.one, -1},    {&fo.rate_subs, &fo.rate_none, 0},
        {&fo.rate_none, NULL, -1},
    };
    struct opts o;
    int rc;

    memset(&o, 0, sizeof(o));
    rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("libresdeliv %s server benchmark: %s, median of %d repetitions "
           "(after one warm-up), loopback\n",
           resdeliv_version(), o.server, o.reps);
    rc = o.replay ? run_replay(&o, "memory", &mem) : 0;
    rc = rc == 0 && o.replay && o.redis ? run_redis(&o, &red) : rc;
    rc = rc == 0 && o.fanout ? run_fanout(&o, &fo) : rc;
    report(rows, sizeof(rows) / sizeof(rows[0]), &fo);
    return rc == 0 ? 0 : 1;
}
