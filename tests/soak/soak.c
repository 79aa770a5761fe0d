/* SPDX-License-Identifier: MIT */
/*
 * The churn soak (docs/soak.md): resdeliv-server children on the memory
 * store or on a private redis-server, clients that drop and resume at
 * random, a publisher at a fixed rate for a fixed time, then a drain in
 * which every client reconnects and catches up, and the checker's verdict.
 * With --faults (Redis only) it SIGKILLs redis-server during publishing
 * and replay and restarts it, and SIGKILLs one of the two servers while
 * clients are attached; they move to the other.
 *
 * Usage: soak /path/to/resdeliv-server [--store memory|redis|both]
 *        [--duration S] [--clients N] [--channels N] [--rate R] [--faults]
 *        [--redis-persist] [--retention N] [--drain S] [--seed N]
 *        [--verbose]
 * Exit: 0 clean, 1 a broken promise or a crash, 2 usage, 77 Redis asked
 * for but no redis-server (unless RESDELIV_REQUIRE_REDIS=1).
 */
#include "../e2e/e2e_client.h"
#include "../redis_server.h"
#include "soak.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define POLL_MS 5

/* Set by SIGINT/SIGTERM: the run ends early and still stops its servers
 * and redis-server. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

double soak_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double soak_rand(struct soak *s)
{
    /* xorshift64*: reproducible from --seed. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 2685821657736338717ULL) >> 11) /
           9007199254740992.0;
}

static int start_server(struct soak *s, int i, const char *store)
{
    char retention[32];
    const char *args[] = {"--store", store, "--retention", retention, NULL};
    struct e2e_server e;

    snprintf(retention, sizeof(retention), "%ld", s->o.retention);
    if (e2e_server_start(&e, s->o.server_bin, args) != 0) {
        fprintf(stderr, "soak: cannot start %s --store %s\n", s->o.server_bin,
                store);
        return -1;
    }
    s->servers[i].pid = e.pid;
    s->servers[i].port = e.port;
    s->servers[i].killed = 0;
    return 0;
}

static long server_hwm(const struct soak_server *sv)
{
    struct e2e_server e = {sv->pid, sv->port};

    return e2e_server_hwm_kb(&e);
}

/* A server that exited without being told to is a crash. */
static void watch_servers(struct soak *s)
{
    for (int i = 0; i < s->n_servers; i++) {
        struct soak_server *sv = &s->servers[i];
        int status;
        if (sv->pid > 0 && waitpid(sv->pid, &status, WNOHANG) == sv->pid) {
            fprintf(stderr, "soak: server %d exited (status 0x%x)\n", i,
                    status);
            s->c.server_crashes++;
            sv->pid = -1;
            sv->killed = 1;
        } else if (sv->pid > 0) {
            long kb = server_hwm(sv);
            sv->hwm_kb = kb > sv->hwm_kb ? kb : sv->hwm_kb;
        }
    }
}

static void stop_servers(struct soak *s)
{
    for (int i = 0; i < s->n_servers; i++) {
        struct soak_server *sv = &s->servers[i];
        struct e2e_server e = {sv->pid, sv->port};
        if (sv->pid <= 0) {
            continue;
        }
        if (e2e_server_stop(&e) != 0) {
            fprintf(stderr, "soak: server %d did not stop cleanly\n", i);
            s->c.server_crashes++;
        }
        sv->pid = -1;
    }
}

/* Server `dead` is gone: its channels move to another live server. */
static void move_home(struct soak *s, int dead)
{
    int to = -1;

    for (int i = 0; i < s->n_servers; i++) {
        if (i != dead && s->servers[i].pid > 0) {
            to = i;
        }
    }
    for (int c = 0; to >= 0 && c < s->o.channels; c++) {
        if (s->chans[c].home == dead) {
            s->chans[c].home = to;
        }
    }
}

static void kill_server(struct soak *s, int i)
{
    struct soak_server *sv = &s->servers[i];

    if (sv->pid <= 0) {
        return;
    }
    sv->hwm_kb = server_hwm(sv) > sv->hwm_kb ? server_hwm(sv) : sv->hwm_kb;
    kill(sv->pid, SIGKILL);
    while (waitpid(sv->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    sv->pid = -1;
    sv->killed = 1;
    s->c.faults_server++;
    move_home(s, i);
    printf("soak: fault: server %d SIGKILLed at %.1f s\n", i,
           soak_now() - s->t0);
}

/* A quarter of the clients drop at once, so that replays run when the
 * next fault lands. */
static void storm(struct soak *s)
{
    for (int i = 0; i < s->o.clients; i += 4) {
        struct soak_client *cl = &s->clients[i];
        if (cl->state == CS_LIVE) {
            soak_client_close(cl);
            cl->next_event = soak_now() + 0.02;
            s->c.drops_hard++;
        }
    }
}

struct fault_plan {
    double at;
    int what;
    int done;
};

enum {
    F_STORM,
    F_KILL_REDIS,
    F_RESTART_REDIS,
    F_KILL_SERVER,
    F_RESTART_SERVER
};

/* Server 1 is back: its channels go home, and their clients move there
 * (as a rolling restart would tell them to). */
static void restart_server(struct soak *s, const char *store)
{
    int i = s->n_servers - 1;

    if (s->servers[i].pid > 0 || start_server(s, i, store) != 0) {
        return;
    }
    for (int c = 0; c < s->o.channels; c++) {
        if (c % s->n_servers == i) {
            s->chans[c].home = i;
        }
    }
    for (int k = 0; k < s->o.clients; k++) {
        struct soak_client *cl = &s->clients[k];
        if (s->chans[cl->chan].home == i && cl->ws.fd >= 0 && cl->server != i) {
            soak_client_close(cl);
            cl->next_event = soak_now() + 0.02;
            s->c.drops_hard++;
        }
    }
    printf("soak: fault: server %d back at %.1f s\n", i, soak_now() - s->t0);
}

static void run_fault(struct soak *s, struct redis_server *redis, int what,
                      double t)
{
    if (what == F_STORM) {
        storm(s);
    } else if (what == F_KILL_REDIS) {
        redis_server_kill(redis);
        s->c.faults_redis++;
        printf("soak: fault: redis-server SIGKILLed at %.1f s\n", t);
    } else if (what == F_RESTART_REDIS) {
        if (redis_server_restart(redis) != REDIS_SERVER_OK) {
            fprintf(stderr, "soak: redis-server did not restart\n");
            s->c.server_crashes++;
        }
        printf("soak: fault: redis-server back at %.1f s\n",
               soak_now() - s->t0);
    } else if (what == F_KILL_SERVER) {
        kill_server(s, s->n_servers - 1);
    } else {
        restart_server(s, redis->url);
    }
    fflush(stdout);
}

static void run_faults(struct soak *s, struct redis_server *redis,
                       struct fault_plan *plan, size_t n, double t)
{
    for (size_t i = 0; i < n; i++) {
        if (!plan[i].done && t >= plan[i].at) {
            plan[i].done = 1;
            run_fault(s, redis, plan[i].what, t);
        }
    }
}

/* One fault cycle per minute of publishing (at least one): Redis killed
 * right after a reconnect storm (replays running) and while publishing
 * only; a server killed with clients attached, later restarted. @return
 * the number of faults planned (at most `cap`). */
static size_t plan_faults(double duration, struct fault_plan *plan, size_t cap)
{
    static const struct {
        double frac, delta;
        int what;
    } cycle[] = {{0.20, 0.0, F_STORM},          {0.20, 0.2, F_KILL_REDIS},
                 {0.20, 1.2, F_RESTART_REDIS},  {0.45, 0.0, F_STORM},
                 {0.45, 0.1, F_KILL_REDIS},     {0.45, 0.5, F_RESTART_REDIS},
                 {0.60, 0.0, F_STORM},          {0.60, 0.1, F_KILL_SERVER},
                 {0.70, 0.0, F_RESTART_SERVER}, {0.85, 0.0, F_KILL_REDIS},
                 {0.85, 0.8, F_RESTART_REDIS}};
    size_t per = sizeof(cycle) / sizeof(cycle[0]), n = 0;
    int cycles = (int)(duration / 60.0 + 0.5);
    double len;

    cycles = cycles < 1 ? 1 : cycles;
    len = duration / cycles;
    for (int k = 0; k < cycles; k++) {
        for (size_t i = 0; i < per && n < cap; i++) {
            plan[n].at = k * len + cycle[i].frac * len + cycle[i].delta;
            plan[n].what = cycle[i].what;
            plan[n++].done = 0;
        }
    }
    return n;
}

/* One poll() round over every client and request. */
static int poll_round(struct soak *s, struct pollfd *pfd, void **who)
{
    double now = soak_now();
    size_t n = 0;
    int rc;

    for (int i = 0; i < s->o.clients; i++) {
        short ev = soak_client_events(&s->clients[i], now);
        if (ev != 0) {
            pfd[n] = (struct pollfd){s->clients[i].ws.fd, ev, 0};
            who[n++] = &s->clients[i];
        }
    }
    for (int i = 0; i < s->o.channels; i++) {
        short ev = soak_pub_events(&s->chans[i]);
        if (ev != 0) {
            pfd[n] = (struct pollfd){s->chans[i].req.fd, ev, 0};
            who[n++] = &s->chans[i];
        }
    }
    rc = poll(pfd, n, POLL_MS);
    if (rc < 0) {
        return errno == EINTR ? 0 : -1;
    }
    for (size_t i = 0; rc > 0 && i < n; i++) {
        if (pfd[i].revents == 0) {
            continue;
        }
        if ((char *)who[i] >= (char *)s->clients &&
            (char *)who[i] < (char *)(s->clients + s->o.clients)) {
            soak_client_io(s, who[i], pfd[i].revents);
        } else {
            soak_pub_io(s, who[i], pfd[i].revents);
        }
    }
    return 0;
}

static int all_caught_up(const struct soak *s)
{
    for (int i = 0; i < s->o.clients; i++) {
        if (s->clients[i].state != CS_LIVE ||
            !soak_check_caught_up(s, &s->clients[i])) {
            return 0;
        }
    }
    return 1;
}

/* The main loop: publish for the duration, then drain. */
static int drive(struct soak *s, struct redis_server *redis,
                 struct fault_plan *plan, size_t nplan)
{
    size_t cap = (size_t)(s->o.clients + s->o.channels);
    struct pollfd *pfd = calloc(cap, sizeof(*pfd));
    void **who = calloc(cap, sizeof(*who));
    double last = soak_now(), drain_start = 0, watched = 0;
    int rc = 0;

    s->publishing = 1;
    while (pfd != NULL && who != NULL) {
        double now = soak_now(), t = now - s->t0;
        if (s->publishing && t >= s->o.duration) {
            s->publishing = 0;
        }
        if (!s->publishing && !s->draining && soak_pub_idle(s)) {
            s->draining = 1;
            drain_start = now;
        }
        if (interrupted) {
            fprintf(stderr, "soak: interrupted\n");
            rc = -1;
            break;
        }
        if (s->draining &&
            (all_caught_up(s) || now - drain_start > s->o.drain)) {
            break;
        }
        run_faults(s, redis, plan, nplan, t);
        soak_pub_tick(s, now - last, now);
        last = now;
        for (int i = 0; i < s->o.clients; i++) {
            soak_client_tick(s, &s->clients[i], now);
        }
        if (now - watched > 0.2) {
            watch_servers(s);
            watched = now;
        }
        if (poll_round(s, pfd, who) != 0) {
            rc = -1;
            break;
        }
    }
    if (pfd == NULL || who == NULL) {
        rc = -1;
    }
    free(pfd);
    free(who);
    return rc;
}

static int setup(struct soak *s, const char *store, int n_servers)
{
    s->chans = calloc((size_t)s->o.channels, sizeof(*s->chans));
    s->clients = calloc((size_t)s->o.clients, sizeof(*s->clients));
    if (s->chans == NULL || s->clients == NULL || soak_check_init(s) != 0) {
        return -1;
    }
    s->n_servers = 0;
    for (int i = 0; i < n_servers; i++) {
        if (start_server(s, i, store) != 0) {
            return -1;
        }
        s->n_servers++;
    }
    for (int c = 0; c < s->o.channels; c++) {
        struct soak_channel *ch = &s->chans[c];
        snprintf(ch->name, sizeof(ch->name), "soak-%d", c);
        ch->next_seq = 1;
        ch->req.fd = -1;
        ch->home = c % n_servers;
    }
    s->t0 = soak_now();
    for (int i = 0; i < s->o.clients; i++) {
        soak_client_init(s, &s->clients[i], i);
    }
    return 0;
}

static void teardown(struct soak *s)
{
    for (int i = 0; s->clients != NULL && i < s->o.clients; i++) {
        soak_client_close(&s->clients[i]);
    }
    for (int c = 0; s->chans != NULL && c < s->o.channels; c++) {
        soak_pub_abort(s, &s->chans[c]);
        free(s->chans[c].seqs);
    }
    soak_check_free(s);
    free(s->clients);
    free(s->chans);
    s->clients = NULL;
    s->chans = NULL;
}

/* The verdict: every promise kept. */
static int verdict(const struct soak *s)
{
    const struct soak_counts *c = &s->c;

    return c->lost == 0 && c->duplicates == 0 && c->id_mismatch == 0 &&
           c->server_crashes == 0 && c->protocol_errors == 0 &&
           c->checked > 0 && c->published > 0 && c->lost_untagged == 0;
}

/* One run. @return 0 clean, 1 broken, 77 skipped. */
static int run(const struct soak_opts *o, const char *store_kind)
{
    struct soak s;
    struct redis_server redis;
    static const char *const persist[] = {"--appendonly", "yes",
                                          "--appendfsync", "always", NULL};
    struct fault_plan plan[256];
    size_t nplan = 0;
    int redis_run = strcmp(store_kind, "redis") == 0, rc;

    memset(&s, 0, sizeof(s));
    memset(&redis, 0, sizeof(redis));
    s.o = *o;
    s.rng = o->seed * 2654435761ULL + 1;
    if (redis_run) {
        rc = redis_server_start(&redis, o->redis_persist ? persist : NULL);
        if (rc != REDIS_SERVER_OK) {
            return redis_server_skip_status(rc);
        }
        if (o->faults) {
            nplan = plan_faults(o->duration, plan, 256);
        }
    }
    rc = setup(&s, redis_run ? redis.url : "memory", redis_run ? 2 : 1);
    if (rc == 0) {
        rc = drive(&s, &redis, plan, nplan);
    }
    watch_servers(&s);
    stop_servers(&s);
    if (redis_run) {
        char dir[sizeof(redis.dir)];
        memcpy(dir, redis.dir, sizeof(dir));
        redis_server_stop(&redis);
        soak_remove_tree(dir);
    }
    if (rc == 0) {
        soak_check_finish(&s);
        soak_check_report(&s, store_kind);
        rc = verdict(&s) ? 0 : 1;
        printf("soak %s: %s\n", store_kind, rc == 0 ? "PASS" : "FAIL");
    } else {
        fprintf(stderr, "soak %s: could not run\n", store_kind);
        rc = 1;
    }
    fflush(stdout);
    teardown(&s);
    return rc;
}

int main(int argc, char **argv)
{
    struct soak_opts o;
    const char *store = "memory";
    int rc = soak_parse_args(&o, &store, argc, argv), r2;

    if (rc != 0) {
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (strcmp(store, "both") != 0) {
        return run(&o, store);
    }
    rc = run(&o, "memory");
    r2 = interrupted ? 1 : run(&o, "redis");
    return rc != 0 ? rc : r2;
}
