/* SPDX-License-Identifier: MIT */
/*
 * Benchmark of resdeliv-server in cluster mode: three server processes
 * (`--cluster --node-id`) sharing one private redis-server, all on
 * loopback, driven by bench-server's one-thread client (bench_server_*.c):
 *
 * - sustained HTTP publishes/s to one channel with 100 subscribers on each
 *   of 3 nodes, the publishes spread over the 3 nodes; baselines in the
 *   same run: the same publishes on one node to 100 and to 300 subscribers;
 * - Redis commands per published message (INFO commandstats around each
 *   run, summed over every command but INFO, and per command), 1 vs 3 nodes;
 * - delivery latency of a publish on node A (HTTP) to a subscriber on node
 *   B, against a subscriber on node A of the same channel in the same run;
 *   the send time travels in the message's data.
 *
 * Every figure is a median over repetitions interleaved with its baseline.
 * Output: a table, then `RESULT name=value unit ratio=x target=y
 * ok|MISS|info` lines (bench/README.md). Exit status: 0 even when a target
 * is missed, 1 when a run fails, 2 on a bad command line, 77 without
 * redis-server.
 */
#include "bench_cluster.h"
#include "bench_server.h"

#include "e2e_client.h"
#include "redis_server.h"

#include <resdeliv/resdeliv.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NODES 3   /* cluster nodes; one more runs without --cluster */
#define SOLO NODES
#define SUBS 100         /* subscribers per node */
#define PUB_PER_NODE 2   /* keep-alive publisher connections per node */
#define DEFAULT_REPS 5
#define DEFAULT_MSGS 1000
#define QUICK_MSGS 200
#define WARM_MSGS 100
#define LAT_MSGS 1000
#define LAT_GAP_US 2000 /* between latency publishes: ~300-400/s */
#define PAT_T "\\\"t\\\":"

struct opts {
    const char *server;
    int reps;
    int msgs;
    int lat_msgs;
};

struct cluster {
    struct opts o;
    struct redis_server rs;
    struct e2e_server node[NODES + 1];
    redisContext *rc;
    redisContext *mon;
    struct bench b;
    struct bsub *all;
    size_t nall;
    struct conf conf[NCONF];
    int next_n;
    /* latency */
    int lat_on;
    struct bsub *lat_same, *lat_cross, *lat_solo;
    double *lat_s, *lat_x, *lat_o;
    size_t nlat_s, nlat_x, nlat_o;
};

/* ------------------------------------------------------------ figures */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Sorts `s` in place and returns the value at quantile `q`. */
static double quantile(double *s, size_t n, double q)
{
    size_t i;

    if (n == 0) {
        return 0;
    }
    qsort(s, n, sizeof(double), cmp_double);
    if (q == 0.5) {
        return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
    i = (size_t)ceil(q * (double)n);
    return s[i > 0 ? i - 1 : 0];
}

static double median(const struct fig *f)
{
    double s[MAX_REPS];

    memcpy(s, f->s, sizeof(double) * (size_t)f->n);
    return quantile(s, (size_t)f->n, 0.5);
}

static void add(struct fig *f, double v)
{
    if (f->n < MAX_REPS) {
        f->s[f->n++] = v;
    }
}

/* CPU time of a process so far, in us (clock ticks of /proc/PID/stat). */
static double cpu_us(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    double us = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fgets(buf, sizeof(buf), f) != NULL &&
        (p = strrchr(buf, ')')) != NULL &&
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) == 2) {
        us = (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
    }
    fclose(f);
    return us;
}

static double servers_cpu_us(const struct cluster *cl)
{
    double us = cpu_us((int)cl->rs.pid);

    for (int i = 0; i <= NODES; i++) {
        us += cpu_us((int)cl->node[i].pid);
    }
    return us;
}

/* ------------------------------------------------------------- client */

static void lat_take(struct cluster *cl, struct bsub *s, const char *text,
                     size_t len)
{
    const char *p = memmem(text, len, PAT_T, strlen(PAT_T));
    double ms;

    if (p == NULL) {
        return;
    }
    ms = (double)(bnet_now_ns() - strtoull(p + strlen(PAT_T), NULL, 10)) /
         1e6;
    if (s == cl->lat_same && cl->nlat_s < (size_t)cl->o.lat_msgs) {
        cl->lat_s[cl->nlat_s++] = ms;
    } else if (s == cl->lat_cross && cl->nlat_x < (size_t)cl->o.lat_msgs) {
        cl->lat_x[cl->nlat_x++] = ms;
    } else if (s == cl->lat_solo && cl->nlat_o < (size_t)cl->o.lat_msgs) {
        cl->lat_o[cl->nlat_o++] = ms;
    }
}

static void on_msg(void *arg, struct bconn *c, int status, const char *text,
                   size_t len)
{
    struct cluster *cl = arg;

    bs_on_msg(&cl->b, c, status, text, len);
    if (cl->lat_on && status >= 0 && c->kind == BNET_WS) {
        lat_take(cl, c->user, text, len);
    }
}

/* Connects `n` subscribers to node `node` and subscribes them to `ch`. */
static int subscribe_group(struct cluster *cl, int node, const char *ch,
                           struct bsub **out, size_t n)
{
    cl->b.port = cl->node[node].port;
    for (size_t i = 0; i < n; i++) {
        struct bsub *s = &cl->all[cl->nall++];

        out[i] = s;
        if (bs_sub_connect(&cl->b, s) != 0 ||
            bs_sub_subscribe(s, ch, NULL, NULL) != 0) {
            fprintf(stderr, "bench-cluster: subscriber on node %d failed\n",
                    node + 1);
            return -1;
        }
    }
    return bs_run_subscribed(&cl->b, cl->b.subscribed + n);
}

/* PUB_PER_NODE * NODES connections in all, dealt over `nodes` nodes, so
 * every configuration offers the same load. */
static int pubs_open(struct cluster *cl, int first, int nodes)
{
    bs_pub_close(&cl->b);
    for (int k = 0; k < PUB_PER_NODE * NODES; k++) {
        cl->b.pub[k] = bnet_http_open(
            cl->b.net, cl->node[first + k % nodes].port, NULL);
        if (cl->b.pub[k] == NULL) {
            return -1;
        }
        cl->b.npub = k + 1;
    }
    return 0;
}

static int subs_clean(const struct conf *cf)
{
    for (size_t i = 0; i < cf->nsubs; i++) {
        if (cf->subs[i]->bad != 0 || cf->subs[i]->gaps != 0) {
            fprintf(stderr, "bench-cluster: %s: a subscriber saw %d ids out "
                            "of order and %d gaps\n",
                    cf->name, cf->subs[i]->bad, cf->subs[i]->gaps);
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------- rate runs */

/* One run of `msgs` publishes; `count` 0: an untimed warm-up, watched
 * with MONITOR. */
static int rate_once(struct cluster *cl, struct conf *cf, int msgs, int count)
{
    struct cmdtab before, after;
    struct bench *b = &cl->b;
    double c0, c1, calls;
    uint64_t t0, t1;
    int rc;

    if (pubs_open(cl, cf->first, cf->nodes) != 0 ||
        bs_prepare(b, cf->channel, cl->next_n, (size_t)msgs, 1) != 0 ||
        (!count && (cl->mon = bc_monitor_start(cl->rs.port)) == NULL)) {
        return -1;
    }
    cl->next_n += msgs;
    bs_goal(b, cf->subs, cf->nsubs, msgs, NULL);
    if (bc_cmdstats(cl->rc, &before) != 0) {
        return -1;
    }
    c0 = servers_cpu_us(cl);
    t0 = bnet_now_ns();
    if (bs_run_publish(b) != 0 || subs_clean(cf) != 0) {
        fprintf(stderr, "bench-cluster: %s run failed\n", cf->name);
        return -1;
    }
    t1 = bnet_now_ns();
    c1 = servers_cpu_us(cl);
    usleep(20000); /* lets the nodes' trailing Redis calls land */
    if (!count) {
        cf->mon_msgs += msgs;
        rc = bc_monitor_collect(cl->rc, cl->mon, cf);
        cl->mon = NULL;
        return rc;
    }
    if (bc_cmdstats(cl->rc, &after) != 0) {
        return -1;
    }
    calls = bc_cmd_diff(&before, &after, &cf->tot);
    add(&cf->rate, msgs / ((double)(t1 - t0) / 1e9));
    add(&cf->cmds, calls / msgs);
    add(&cf->cpu, (c1 - c0) / msgs);
    cf->msgs += msgs;
    return 0;
}

/* 3 nodes x 100 subscribers; node 1 alone with 100 and with 300; the node
 * without --cluster with 100. Each has its own channel. */
static int setup_confs(struct cluster *cl)
{
    static const char *names[NCONF] = {"3 nodes x 100", "1 node x 100",
                                       "1 node x 300", "solo x 100"};
    static const char *chans[NCONF] = {"rate-3x100", "rate-1x100",
                                       "rate-1x300", "rate-solo"};
    static const size_t nsubs[NCONF] = {NODES * SUBS, SUBS, NODES * SUBS,
                                        SUBS};

    for (int i = 0; i < NCONF; i++) {
        struct conf *cf = &cl->conf[i];
        size_t per;

        cf->name = names[i];
        cf->channel = chans[i];
        cf->first = i == 3 ? SOLO : 0;
        cf->nodes = i == 0 ? NODES : 1;
        cf->nsubs = nsubs[i];
        per = cf->nsubs / (size_t)cf->nodes;
        cf->subs = calloc(cf->nsubs, sizeof(*cf->subs));
        if (cf->subs == NULL) {
            return -1;
        }
        for (int k = 0; k < cf->nodes; k++) {
            if (subscribe_group(cl, cf->first + k, cf->channel,
                                cf->subs + (size_t)k * per, per) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int run_rates(struct cluster *cl)
{
    for (int i = 0; i < NCONF; i++) {
        if (rate_once(cl, &cl->conf[i], WARM_MSGS, 0) != 0) {
            return -1;
        }
    }
    for (int r = 0; r < cl->o.reps; r++) {
        for (int i = 0; i < NCONF; i++) {
            if (rate_once(cl, &cl->conf[i], cl->o.msgs, 1) != 0) {
                return -1;
            }
        }
        fprintf(stderr, "bench-cluster: repetition %d/%d done\n", r + 1,
                cl->o.reps);
    }
    return 0;
}

/* ------------------------------------------------------------ latency */

/* One signed /events request to `ch` whose data carries the send time
 * (monotonic ns) first; signing is part of the measured time (a few us). */
static int lat_request(struct breq *r, const char *ch, int n)
{
    const char *path = "/apps/" BS_APP_ID "/events";
    char body[512], err[256], *query = NULL;
    size_t blen, cap;
    int rc = -1;

    blen = (size_t)snprintf(body, sizeof(body),
                            "{\"name\":\"" BS_EVENT "\",\"channel\":\"%s\","
                            "\"data\":\"{\\\"t\\\":%llu,\\\"n\\\":%d,"
                            "\\\"note\\\":\\\"%0160d\\\"}\"}",
                            ch, (unsigned long long)bnet_now_ns(), n, 0);
    if (resdeliv_pusher_http_sign("POST", path, NULL, 0, BS_KEY, BS_SECRET,
                                  (uint64_t)time(NULL), body, blen, &query,
                                  err, sizeof(err)) != 0) {
        fprintf(stderr, "bench-cluster: signing: %s\n", err);
        return -1;
    }
    cap = strlen(path) + strlen(query) + blen + 256;
    r->text = malloc(cap);
    if (r->text != NULL) {
        r->len = (size_t)snprintf(
            r->text, cap,
            "POST %s?%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
            "application/json\r\nContent-Length: %zu\r\n\r\n%s",
            path, query, blen, body);
        rc = 0;
    }
    resdeliv_free(query);
    return rc;
}

/* Publishes one message to `ch` on `pub` and waits for it at every
 * subscriber of `watch` and for the HTTP answer. */
static int lat_one(struct cluster *cl, struct bconn *pub, const char *ch,
                   struct bsub **watch, size_t nwatch, int n)
{
    struct bench *b = &cl->b;

    bs_requests_free(b);
    b->reqs = calloc(1, sizeof(*b->reqs));
    if (b->reqs == NULL) {
        return -1;
    }
    b->nreq = 1;
    b->pub[0] = pub;
    b->npub = 1;
    bs_goal(b, watch, nwatch, 1, NULL);
    if (lat_request(&b->reqs[0], ch, n) != 0 || bs_run_publish(b) != 0) {
        return -1;
    }
    for (size_t i = 0; i < nwatch; i++) {
        if (watch[i]->gaps != 0) {
            return -1;
        }
    }
    return 0;
}

/* Publish on node 1 to a subscriber on node 1 and one on node 2, then on
 * the node without --cluster to its own subscriber, alternately. */
static int lat_loop(struct cluster *cl, struct bconn *pa, struct bconn *ps,
                    struct bsub **watch, int n)
{
    for (int i = 0; i < n; i++) {
        if (lat_one(cl, pa, "lat", watch, 2, i) != 0 ||
            lat_one(cl, ps, "lat-solo", watch + 2, 1, i) != 0) {
            fprintf(stderr, "bench-cluster: latency message %d failed\n", i);
            return -1;
        }
        usleep(LAT_GAP_US);
    }
    return 0;
}

static int run_latency(struct cluster *cl)
{
    struct bsub *watch[3];
    struct bconn *pa, *ps;
    int n = cl->o.lat_msgs, rc;

    cl->lat_s = calloc((size_t)n, sizeof(double));
    cl->lat_x = calloc((size_t)n, sizeof(double));
    cl->lat_o = calloc((size_t)n, sizeof(double));
    if (cl->lat_s == NULL || cl->lat_x == NULL || cl->lat_o == NULL ||
        subscribe_group(cl, 0, "lat", &watch[0], 1) != 0 ||
        subscribe_group(cl, 1, "lat", &watch[1], 1) != 0 ||
        subscribe_group(cl, SOLO, "lat-solo", &watch[2], 1) != 0) {
        return -1;
    }
    bs_pub_close(&cl->b);
    pa = bnet_http_open(cl->b.net, cl->node[0].port, NULL);
    ps = bnet_http_open(cl->b.net, cl->node[SOLO].port, NULL);
    cl->lat_same = watch[0];
    cl->lat_cross = watch[1];
    cl->lat_solo = watch[2];
    rc = pa != NULL && ps != NULL ? lat_loop(cl, pa, ps, watch, 50) : -1;
    cl->lat_on = 1;
    if (rc == 0) {
        rc = lat_loop(cl, pa, ps, watch, n);
    }
    cl->lat_on = 0;
    cl->b.npub = 0;
    bnet_close(pa);
    bnet_close(ps);
    return rc == 0 && cl->nlat_s == (size_t)n && cl->nlat_x == (size_t)n &&
                   cl->nlat_o == (size_t)n
               ? 0
               : -1;
}

/* ------------------------------------------------------------- report */

static void print_rates(struct cluster *cl)
{
    printf("%-14s %5s %5s %10s %10s %12s %10s %10s\n", "configuration",
           "nodes", "subs", "pub/s", "(lo-hi)", "deliveries/s",
           "redis/pub", "srv us/pub");
    for (int i = 0; i < NCONF; i++) {
        struct conf *cf = &cl->conf[i];
        double s[MAX_REPS], rate = median(&cf->rate);

        memcpy(s, cf->rate.s, sizeof(double) * (size_t)cf->rate.n);
        qsort(s, (size_t)cf->rate.n, sizeof(double), cmp_double);
        printf("%-14s %5d %5zu %10.1f %4.0f-%-5.0f %12.0f %10.3f %10.1f\n",
               cf->name, cf->nodes, cf->nsubs, rate, s[0],
               s[cf->rate.n - 1], rate * (double)cf->nsubs,
               median(&cf->cmds), median(&cf->cpu));
    }
}

static void result(const char *name, double v, const char *unit,
                   double ratio, const char *target, const char *verdict)
{
    printf("RESULT %s=%.3f %s ratio=%.3f target=%s %s\n", name, v, unit,
           ratio, target, verdict);
}

static void print_latency(struct cluster *cl)
{
    size_t n = (size_t)cl->o.lat_msgs;
    double sm = quantile(cl->lat_s, n, 0.5), s99 = quantile(cl->lat_s, n, .99);
    double xm = quantile(cl->lat_x, n, 0.5), x99 = quantile(cl->lat_x, n, .99);
    double om = quantile(cl->lat_o, n, 0.5), o99 = quantile(cl->lat_o, n, .99);

    printf("\nLatency, HTTP publish to delivery, %zu messages each, "
           "~%d us apart:\n", n, LAT_GAP_US);
    printf("%-40s %10s %10s\n", "publish on -> subscriber on", "median ms",
           "p99 ms");
    printf("%-40s %10.3f %10.3f\n", "node 1 -> node 1 (same node)", sm, s99);
    printf("%-40s %10.3f %10.3f\n", "node 1 -> node 2 (cross node)", xm, x99);
    printf("%-40s %10.3f %10.3f\n", "solo -> solo (no --cluster)", om, o99);
    printf("\n");
    result("latency_cross_node_median", xm, "ms", xm / sm, "none", "info");
    result("latency_cross_node_p99", x99, "ms", x99 / s99, "none", "info");
    result("latency_same_node_median", sm, "ms", sm / om, "none", "info");
    result("latency_same_node_p99", s99, "ms", s99 / o99, "none", "info");
    result("latency_solo_median", om, "ms", 1, "none", "info");
    result("latency_solo_p99", o99, "ms", 1, "none", "info");
}

static void print_results(struct cluster *cl)
{
    const struct conf *cf = cl->conf;
    double r3 = median(&cf[0].rate), r1 = median(&cf[1].rate);
    double r13 = median(&cf[2].rate), ro = median(&cf[3].rate);
    double c3 = median(&cf[0].cmds), c1 = median(&cf[1].cmds);
    double s3 = bc_sent_per_pub(&cf[0]), s1 = bc_sent_per_pub(&cf[1]);

    print_latency(cl);
    result("rate_3nodes_x100", r3, "pub/s", r3 / r1, "none", "info");
    result("rate_3nodes_x100_vs_1node_x300", r3, "pub/s", r3 / r13, "none",
           "info");
    result("rate_1node_x100", r1, "pub/s", r1 / ro, "none", "info");
    result("rate_1node_x300", r13, "pub/s", r13 / r1, "none", "info");
    result("rate_solo_x100", ro, "pub/s", 1, "none", "info");
    result("redis_calls_per_pub_3nodes", c3, "cmd/pub", c3 / c1, "<=2",
           c3 <= 2 ? "ok" : "MISS");
    result("redis_calls_per_pub_1node", c1, "cmd/pub", 1, "<=2",
           c1 <= 2 ? "ok" : "MISS");
    result("redis_sent_per_pub_3nodes", s3, "cmd/pub", s1 > 0 ? s3 / s1 : 0,
           "<=2", s3 <= 2 ? "ok" : "MISS");
    result("redis_sent_per_pub_1node", s1, "cmd/pub", 1, "<=2",
           s1 <= 2 ? "ok" : "MISS");
}

/* ---------------------------------------------------------------- main */

static int parse_args(int argc, char **argv, struct opts *o)
{
    o->reps = DEFAULT_REPS;
    o->msgs = DEFAULT_MSGS;
    o->lat_msgs = LAT_MSGS;
    if (argc < 2 || argv[1][0] == '-') {
        return -1;
    }
    o->server = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            o->reps = 3;
            o->msgs = QUICK_MSGS;
            o->lat_msgs = 200;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            o->reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--msgs") == 0 && i + 1 < argc) {
            o->msgs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--lat-msgs") == 0 && i + 1 < argc) {
            o->lat_msgs = atoi(argv[++i]);
        } else {
            return -1;
        }
    }
    return o->reps >= 1 && o->reps <= MAX_REPS && o->msgs >= 1 &&
                   o->lat_msgs >= 1
               ? 0
               : -1;
}

static int start_node(struct cluster *cl, int i)
{
    static const char *ids[NODES + 1] = {"node-1", "node-2", "node-3",
                                         "solo"};
    const char *args[] = {"--store",     cl->rs.url, "--node-id", ids[i],
                          "--retention", "2000",     "--cluster", NULL};

    if (i == SOLO) {
        args[6] = NULL;
    }
    if (e2e_server_start(&cl->node[i], cl->o.server, args) != 0) {
        fprintf(stderr, "bench-cluster: cannot start %s as %s\n",
                cl->o.server, ids[i]);
        return -1;
    }
    fprintf(stderr, "bench-cluster: %s pid %d port %d\n", ids[i],
            (int)cl->node[i].pid, cl->node[i].port);
    return 0;
}

static int start_nodes(struct cluster *cl)
{
    for (int i = 0; i <= NODES; i++) {
        if (start_node(cl, i) != 0) {
            return -1;
        }
    }
    cl->rc = redisConnect("127.0.0.1", cl->rs.port);
    return cl->rc != NULL && cl->rc->err == 0 ? 0 : -1;
}

static int run(struct cluster *cl)
{
    size_t total = (2 * NODES + 2) * SUBS + 3;

    cl->b.net = bnet_new(on_msg, cl);
    cl->all = calloc(total, sizeof(*cl->all));
    if (cl->b.net == NULL || cl->all == NULL || start_nodes(cl) != 0 ||
        setup_confs(cl) != 0 || run_rates(cl) != 0 ||
        run_latency(cl) != 0) {
        return -1;
    }
    printf("resdeliv-server: %d --cluster nodes and one without (solo) on "
           "one redis-server;\nmedians of %d repetitions of %d publishes "
           "(200-byte data) over %d connections\n\n", NODES, cl->o.reps,
           cl->o.msgs, PUB_PER_NODE * NODES);
    print_rates(cl);
    bc_print_cmds(cl->conf, NCONF);
    bc_print_sent(cl->conf, NCONF, WARM_MSGS);
    print_results(cl);
    return 0;
}

static void cleanup(struct cluster *cl)
{
    bs_requests_free(&cl->b);
    bs_pub_close(&cl->b);
    for (size_t i = 0; i < cl->nall; i++) {
        if (cl->all[i].c != NULL) {
            bnet_close(cl->all[i].c);
        }
    }
    bnet_free(cl->b.net);
    for (int i = 0; i <= NODES; i++) {
        if (cl->node[i].pid > 0) {
            e2e_server_stop(&cl->node[i]);
        }
    }
    if (cl->rc != NULL) {
        redisFree(cl->rc);
    }
    if (cl->mon != NULL) {
        redisFree(cl->mon);
    }
    redis_server_stop(&cl->rs);
    for (int i = 0; i < NCONF; i++) {
        free(cl->conf[i].subs);
    }
    free(cl->all);
    free(cl->lat_s);
    free(cl->lat_x);
    free(cl->lat_o);
}

int main(int argc, char **argv)
{
    static struct cluster cl;
    int rc;

    if (parse_args(argc, argv, &cl.o) != 0) {
        fprintf(stderr, "usage: bench-cluster SERVER [--reps N] [--msgs N] "
                        "[--lat-msgs N] [--quick]\n");
        return 2;
    }
    for (int i = 0; i <= NODES; i++) {
        cl.node[i].pid = -1;
    }
    rc = redis_server_start(&cl.rs, NULL);
    if (rc != REDIS_SERVER_OK) {
        return redis_server_skip_status(rc);
    }
    rc = run(&cl) == 0 ? 0 : 1;
    cleanup(&cl);
    return rc;
}
