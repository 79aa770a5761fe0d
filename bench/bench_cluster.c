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
#include "bench_server.h"

#include "e2e_client.h"
#include "redis_server.h"

#include <resdeliv/resdeliv.h>

#include <hiredis/hiredis.h>

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
#define MAX_REPS 99
#define DEFAULT_MSGS 1000
#define QUICK_MSGS 200
#define WARM_MSGS 100
#define LAT_MSGS 1000
#define LAT_GAP_US 2000 /* between latency publishes: ~300-400/s */
#define MAX_CMDS 96
#define NCONF 4
#define MON_MARK "bench-cluster-monitor-end"
#define PAT_T "\\\"t\\\":"

struct opts {
    const char *server;
    int reps;
    int msgs;
    int lat_msgs;
};

struct fig {
    double s[MAX_REPS];
    int n;
};

/* Redis calls per command, from INFO commandstats. */
struct cmdtab {
    int n;
    char name[MAX_CMDS][40];
    double calls[MAX_CMDS];
};

/* One configuration of the rate runs. */
struct conf {
    const char *name;
    const char *channel;
    int first;          /* publishers spread over nodes first.. */
    int nodes;          /* ..first + nodes - 1 */
    struct bsub **subs; /* its subscribers */
    size_t nsubs;
    struct fig rate;    /* publishes/s */
    struct fig cmds;    /* Redis calls per publish */
    struct fig cpu;     /* server CPU (nodes + redis), us per publish */
    struct cmdtab tot;  /* calls over the counted repetitions */
    double msgs;        /* publishes over the counted repetitions */
    struct cmdtab sent; /* MONITOR: commands the nodes sent ... */
    struct cmdtab lua;  /* ... and those their scripts ran */
    double mon_msgs;
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

/* --------------------------------------------------- INFO commandstats */

static int cmdstats(struct cluster *cl, struct cmdtab *t)
{
    redisReply *r = redisCommand(cl->rc, "INFO commandstats");
    const char *p;

    t->n = 0;
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "bench-cluster: INFO commandstats failed\n");
        if (r != NULL) {
            freeReplyObject(r);
        }
        return -1;
    }
    for (p = strstr(r->str, "cmdstat_"); p != NULL && t->n < MAX_CMDS;
         p = strstr(p, "cmdstat_")) {
        const char *colon, *calls;

        p += strlen("cmdstat_");
        colon = strchr(p, ':');
        calls = colon != NULL ? strstr(colon, "calls=") : NULL;
        if (calls == NULL || colon - p >= 40) {
            break;
        }
        memcpy(t->name[t->n], p, (size_t)(colon - p));
        t->name[t->n][colon - p] = '\0';
        t->calls[t->n++] = strtod(calls + strlen("calls="), NULL);
    }
    freeReplyObject(r);
    return 0;
}

static const double *cmd_get(const struct cmdtab *t, const char *name)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->name[i], name) == 0) {
            return &t->calls[i];
        }
    }
    return NULL;
}

static double *cmd_slot(struct cmdtab *t, const char *name)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->name[i], name) == 0) {
            return &t->calls[i];
        }
    }
    if (t->n == MAX_CMDS) {
        return NULL;
    }
    snprintf(t->name[t->n], sizeof(t->name[0]), "%s", name);
    t->calls[t->n] = 0;
    return &t->calls[t->n++];
}

/* Adds after - before to `tot` (INFO itself left out). @return the sum. */
static double cmd_diff(const struct cmdtab *before, struct cmdtab *after,
                       struct cmdtab *tot)
{
    double sum = 0;

    for (int i = 0; i < after->n; i++) {
        const double *b = cmd_get(before, after->name[i]);
        double d = after->calls[i] - (b != NULL ? *b : 0);
        double *t;

        if (strcmp(after->name[i], "info") == 0 || d <= 0) {
            continue;
        }
        sum += d;
        t = cmd_slot(tot, after->name[i]);
        if (t != NULL) {
            *t += d;
        }
    }
    return sum;
}

/* MONITOR shows each command once, the ones a script ran tagged `lua`:
 * it tells the commands the nodes sent from those their scripts ran,
 * which INFO commandstats counts alike. Untimed runs only. */
static int monitor_start(struct cluster *cl)
{
    struct timeval tv = {10, 0};
    redisReply *r;

    cl->mon = redisConnect("127.0.0.1", cl->rs.port);
    if (cl->mon == NULL || cl->mon->err != 0 ||
        redisSetTimeout(cl->mon, tv) != REDIS_OK) {
        return -1;
    }
    r = redisCommand(cl->mon, "MONITOR");
    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/* Counts one MONITOR line: `TIME [DB ADDR] "cmd" "arg"...`. */
static void monitor_line(const char *line, struct conf *cf)
{
    const char *p = strstr(line, "] \""), *q;
    char name[40];
    double *slot;
    size_t n;

    if (p == NULL || (q = strchr(p + 3, '"')) == NULL) {
        return;
    }
    n = (size_t)(q - (p + 3));
    if (n == 0 || n >= sizeof(name)) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = p[3 + i];
        name[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
    name[n] = '\0';
    if (strcmp(name, "info") == 0 || strcmp(name, "echo") == 0) {
        return;
    }
    slot = cmd_slot(memmem(line, (size_t)(p - line), " lua", 4) != NULL
                        ? &cf->lua
                        : &cf->sent,
                    name);
    if (slot != NULL) {
        *slot += 1;
    }
}

/* Reads what MONITOR showed up to a marker, then stops monitoring. */
static int monitor_collect(struct cluster *cl, struct conf *cf)
{
    redisReply *r = redisCommand(cl->rc, "ECHO %s", MON_MARK);
    int rc = -1;

    if (r == NULL) {
        return -1;
    }
    freeReplyObject(r);
    while (redisGetReply(cl->mon, (void **)&r) == REDIS_OK && r != NULL) {
        int end = r->type == REDIS_REPLY_STATUS &&
                  strstr(r->str, MON_MARK) != NULL;
        if (r->type == REDIS_REPLY_STATUS && !end) {
            monitor_line(r->str, cf);
        }
        freeReplyObject(r);
        if (end) {
            rc = 0;
            break;
        }
    }
    redisFree(cl->mon);
    cl->mon = NULL;
    return rc;
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

    if (pubs_open(cl, cf->first, cf->nodes) != 0 ||
        bs_prepare(b, cf->channel, cl->next_n, (size_t)msgs, 1) != 0 ||
        (!count && monitor_start(cl) != 0)) {
        return -1;
    }
    cl->next_n += msgs;
    bs_goal(b, cf->subs, cf->nsubs, msgs, NULL);
    if (cmdstats(cl, &before) != 0) {
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
        return monitor_collect(cl, cf);
    }
    if (cmdstats(cl, &after) != 0) {
        return -1;
    }
    calls = cmd_diff(&before, &after, &cf->tot);
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

/* Whether an earlier configuration already printed the command. */
static int printed(const struct cluster *cl, int conf, const char *name)
{
    for (int j = 0; j < conf; j++) {
        if (cmd_get(&cl->conf[j].tot, name) != NULL) {
            return 1;
        }
    }
    return 0;
}

static void print_cmds(const struct cluster *cl)
{
    printf("\nRedis calls per publish, by command (INFO commandstats; "
           "commands inside\nMULTI/EXEC and scripts count on their own):\n");
    printf("%-16s", "command");
    for (int i = 0; i < NCONF; i++) {
        printf(" %14s", cl->conf[i].name);
    }
    printf("\n");
    for (int i = 0; i < NCONF; i++) {
        const struct cmdtab *t = &cl->conf[i].tot;
        for (int k = 0; k < t->n; k++) {
            if (printed(cl, i, t->name[k])) {
                continue;
            }
            printf("%-16s", t->name[k]);
            for (int j = 0; j < NCONF; j++) {
                const double *v = cmd_get(&cl->conf[j].tot, t->name[k]);
                printf(" %14.3f", v != NULL && cl->conf[j].msgs > 0
                                      ? *v / cl->conf[j].msgs
                                      : 0.0);
            }
            printf("\n");
        }
    }
}

static void print_sent(const struct cluster *cl)
{
    printf("\nCommands per publish seen by MONITOR in the untimed warm-up "
           "(%d publishes):\n", WARM_MSGS);
    printf("%-14s %10s %10s  %s\n", "configuration", "sent", "in script",
           "sent, by command");
    for (int i = 0; i < NCONF; i++) {
        const struct conf *cf = &cl->conf[i];
        double sent = 0, lua = 0, m = cf->mon_msgs > 0 ? cf->mon_msgs : 1;

        for (int k = 0; k < cf->sent.n; k++) {
            sent += cf->sent.calls[k];
        }
        for (int k = 0; k < cf->lua.n; k++) {
            lua += cf->lua.calls[k];
        }
        printf("%-14s %10.3f %10.3f ", cf->name, sent / m, lua / m);
        for (int k = 0; k < cf->sent.n; k++) {
            printf(" %s=%.3f", cf->sent.name[k], cf->sent.calls[k] / m);
        }
        printf("\n");
    }
}

static double sent_per_pub(const struct conf *cf)
{
    double sent = 0;

    for (int k = 0; k < cf->sent.n; k++) {
        sent += cf->sent.calls[k];
    }
    return cf->mon_msgs > 0 ? sent / cf->mon_msgs : 0;
}

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

static void print_results(struct cluster *cl)
{
    double r3 = median(&cl->conf[0].rate), r1 = median(&cl->conf[1].rate);
    double r13 = median(&cl->conf[2].rate), c3 = median(&cl->conf[0].cmds);
    double c1 = median(&cl->conf[1].cmds), c13 = median(&cl->conf[2].cmds);
    size_t n = (size_t)cl->o.lat_msgs;
    double sm = quantile(cl->lat_s, n, 0.5), s99 = quantile(cl->lat_s, n, .99);
    double xm = quantile(cl->lat_x, n, 0.5), x99 = quantile(cl->lat_x, n, .99);

    printf("\nLatency over %zu messages, publish on node 1 (HTTP):\n", n);
    printf("%-28s %10s %10s\n", "subscriber", "median ms", "p99 ms");
    printf("%-28s %10.3f %10.3f\n", "same node (1)", sm, s99);
    printf("%-28s %10.3f %10.3f\n", "other node (2)", xm, x99);
    printf("\n");
    printf("RESULT rate_3nodes_x100=%.1f pub/s ratio=%.3f target=none info\n",
           r3, r3 / r1);
    printf("RESULT rate_3nodes_vs_1node_x300=%.1f pub/s ratio=%.3f "
           "target=none info\n", r3, r3 / r13);
    printf("RESULT rate_1node_x100=%.1f pub/s ratio=1 target=none info\n", r1);
    printf("RESULT rate_1node_x300=%.1f pub/s ratio=%.3f target=none info\n",
           r13, r13 / r1);
    printf("RESULT redis_cmds_per_pub_3nodes=%.3f cmd/pub ratio=%.3f "
           "target=<=2 %s\n", c3, c3 / c1, c3 <= 2 ? "ok" : "MISS");
    printf("RESULT redis_cmds_per_pub_1node_x100=%.3f cmd/pub ratio=1 "
           "target=<=2 %s\n", c1, c1 <= 2 ? "ok" : "MISS");
    printf("RESULT redis_cmds_per_pub_1node_x300=%.3f cmd/pub ratio=%.3f "
           "target=<=2 %s\n", c13, c13 / c1, c13 <= 2 ? "ok" : "MISS");
    printf("RESULT latency_cross_node_median=%.3f ms ratio=%.3f target=none "
           "info\n", xm, xm / sm);
    printf("RESULT latency_cross_node_p99=%.3f ms ratio=%.3f target=none "
           "info\n", x99, x99 / s99);
    printf("RESULT latency_same_node_median=%.3f ms ratio=1 target=none "
           "info\n", sm);
    printf("RESULT latency_same_node_p99=%.3f ms ratio=1 target=none info\n",
           s99);
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
    printf("resdeliv-server --cluster: %d nodes, one redis-server, %d "
           "repetitions of %d publishes (200-byte data), %d publisher "
           "connections\n\n", NODES, cl->o.reps, cl->o.msgs,
           PUB_PER_NODE * NODES);
    print_rates(cl);
    print_cmds(cl);
    print_sent(cl);
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
