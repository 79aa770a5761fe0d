/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of resdeliv-server in cluster mode: three server
 * processes share one private redis-server (`--cluster`), publishers post
 * to every node's HTTP API and subscribers sit on every node. Every client
 * must end with every message exactly once and in log order, including
 * clients that move to another node mid-stream with their last id, and
 * the clients of a node killed with SIGKILL. After a Redis restart every
 * client gets each message or a gap notice before the ones it lacks.
 *
 * Messages are published one request at a time, so the log order is the
 * publishing order and every client expects {"n": 1, 2, ...}. Skips (77)
 * without redis-server unless RESDELIV_REQUIRE_REDIS=1.
 *
 * Usage: check_cluster /path/to/resdeliv-server
 */
#include "../redis_suite.h"
#include "e2e_scenarios.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NODES 3
#define PER_NODE 2
#define CLIENTS (NODES * PER_NODE)

static const char *server_bin;
static struct redis_server redis;

struct client {
    struct e2e_pusher p;
    struct e2e_mark mark;
    int node;
};

static void start_node(struct e2e_server *s, const char *url, int i)
{
    char id[16];
    const char *args[] = {"--store", url, "--cluster", "--node-id", id, NULL};

    snprintf(id, sizeof(id), "node-%d", i);
    ck_assert_msg(e2e_server_start(s, server_bin, args) == 0,
                  "cannot start %s --cluster on %s", server_bin, url);
}

static void start_nodes(struct e2e_server *s, const char *url)
{
    for (int i = 0; i < NODES; i++) {
        start_node(&s[i], url, i);
    }
}

/* Every node that still runs exits cleanly on SIGTERM. */
static void stop_nodes(struct e2e_server *s)
{
    for (int i = 0; i < NODES; i++) {
        if (s[i].pid > 0) {
            ck_assert_int_eq(e2e_server_stop(&s[i]), 0);
        }
    }
}

static void connect_on(struct client *c, const struct e2e_server *s,
                       int node, const char *channel, int resume)
{
    c->node = node;
    ck_assert_int_eq(e2e_pusher_connect(&c->p, s[node].port), 0);
    e2e_subscribe_ok(&c->p, channel, resume ? &c->mark : NULL, NULL);
}

/* PER_NODE clients on each node. */
static void connect_all(struct client *c, const struct e2e_server *s,
                        const char *channel)
{
    memset(c, 0, CLIENTS * sizeof(*c));
    for (int i = 0; i < CLIENTS; i++) {
        connect_on(&c[i], s, i % NODES, channel, 0);
    }
}

/* {"n": first .. first+n-1}, one request each, on the running nodes in
 * turn. */
static void publish_spread(const struct e2e_server *s, const char *channel,
                           int first, int n)
{
    int k = first;

    for (int i = 0; i < n; i++) {
        while (s[k % NODES].pid <= 0) {
            k++;
        }
        e2e_publish_run(s[k % NODES].port, channel, "tick", first + i, 1);
        k++;
    }
}

static void expect_all(struct client *c, int first, int n)
{
    for (int i = 0; i < CLIENTS; i++) {
        e2e_expect_run(&c[i].p, "tick", first, n, &c[i].mark, NULL);
    }
}

static void close_all(struct client *c)
{
    for (int i = 0; i < CLIENTS; i++) {
        e2e_pusher_close(&c[i].p);
    }
}

/* A publish on any node reaches the subscribers of every node, in order;
 * a later run shows nothing came twice. */
START_TEST(fanout_every_node)
{
    struct e2e_server s[NODES];
    struct client c[CLIENTS];

    start_nodes(s, redis.url);
    connect_all(c, s, "cl-fanout");
    publish_spread(s, "cl-fanout", 1, 30);
    expect_all(c, 1, 30);
    publish_spread(s, "cl-fanout", 31, 3);
    expect_all(c, 31, 3);
    close_all(c);
    stop_nodes(s);
}
END_TEST

/* Half the clients drop and, while messages keep coming, resubscribe on
 * the next node with their last id: replay, then live, each once. */
START_TEST(clients_move)
{
    struct e2e_server s[NODES];
    struct client c[CLIENTS];

    start_nodes(s, redis.url);
    connect_all(c, s, "cl-move");
    publish_spread(s, "cl-move", 1, 10);
    expect_all(c, 1, 10);
    for (int i = 0; i < CLIENTS; i += 2) {
        e2e_pusher_close(&c[i].p);
    }
    publish_spread(s, "cl-move", 11, 10);
    for (int i = 0; i < CLIENTS; i += 2) {
        connect_on(&c[i], s, (c[i].node + 1) % NODES, "cl-move", 1);
        publish_spread(s, "cl-move", 21 + i / 2, 1);
    }
    expect_all(c, 11, 13);
    publish_spread(s, "cl-move", 24, 3);
    expect_all(c, 24, 3);
    close_all(c);
    stop_nodes(s);
}
END_TEST

/* Frames until the connection goes: ticks in order from `next`, the
 * mark following them. @return the next n expected. */
static int read_until_closed(struct client *c, int next)
{
    cJSON *f;

    while ((f = e2e_pusher_next(&c->p, E2E_TIMEOUT_MS)) != NULL) {
        if (strcmp(e2e_event(f), "tick") == 0) {
            cJSON *d = e2e_data(f);
            const cJSON *num = cJSON_GetObjectItemCaseSensitive(d, "n");
            const char *id = e2e_str(d, "_replay_id");
            const char *epoch = e2e_str(d, "_replay_epoch");
            ck_assert(cJSON_IsNumber(num) && id != NULL && epoch != NULL);
            ck_assert_int_eq(num->valueint, next);
            snprintf(c->mark.id, sizeof(c->mark.id), "%s", id);
            snprintf(c->mark.epoch, sizeof(c->mark.epoch), "%s", epoch);
            next++;
            cJSON_Delete(d);
        }
        cJSON_Delete(f);
    }
    return next;
}

/* SIGKILL one node mid-stream: its clients take what reached them, see
 * the connection go and resume on another node; nobody loses or repeats
 * a message. */
START_TEST(node_killed)
{
    struct e2e_server s[NODES];
    struct client c[CLIENTS];
    int status = 0;

    start_nodes(s, redis.url);
    connect_all(c, s, "cl-kill");
    publish_spread(s, "cl-kill", 1, 10);
    expect_all(c, 1, 5);
    ck_assert_int_eq(kill(s[0].pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(s[0].pid, &status, 0), s[0].pid);
    s[0].pid = -1;
    publish_spread(s, "cl-kill", 11, 5);
    for (int i = 0; i < CLIENTS; i++) {
        int next;
        if (c[i].node != 0) {
            e2e_expect_run(&c[i].p, "tick", 6, 10, &c[i].mark, NULL);
            continue;
        }
        next = read_until_closed(&c[i], 6);
        e2e_pusher_close(&c[i].p);
        connect_on(&c[i], s, 1 + i % 2, "cl-kill", 1);
        e2e_expect_run(&c[i].p, "tick", next, 16 - next, &c[i].mark, NULL);
    }
    publish_spread(s, "cl-kill", 16, 4);
    expect_all(c, 16, 4);
    close_all(c);
    stop_nodes(s);
}
END_TEST

/* ---- Redis restarted mid-stream ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What one client saw after the restart. */
struct seen {
    int last; /* highest n received */
    int gaps; /* gap notices received */
};

/* Take every frame that is there now: ticks in increasing order, none
 * twice; a tick skipped is allowed only after a gap notice. */
static void take_frames(struct client *c, struct seen *w)
{
    cJSON *f;

    while ((f = e2e_pusher_next(&c->p, 50)) != NULL) {
        const char *ev = e2e_event(f);
        if (strcmp(ev, "resdeliv:gap") == 0) {
            w->gaps++;
        } else if (strcmp(ev, "tick") == 0) {
            cJSON *d = e2e_data(f);
            const cJSON *num = cJSON_GetObjectItemCaseSensitive(d, "n");
            ck_assert(cJSON_IsNumber(num));
            ck_assert_msg(num->valueint > w->last,
                          "n=%d after n=%d: repeated or out of order",
                          num->valueint, w->last);
            ck_assert_msg(num->valueint == w->last + 1 || w->gaps > 0,
                          "n=%d after n=%d without a gap notice",
                          num->valueint, w->last);
            w->last = num->valueint;
            cJSON_Delete(d);
        }
        cJSON_Delete(f);
    }
}

/* One publish once Redis answers again (the nodes reconnect on their own
 * backoff); only a refused request is retried. */
static void publish_when_up(const struct e2e_server *s, int node, int n)
{
    char data[32];
    uint64_t end = now_ms() + 20000;
    int st;

    snprintf(data, sizeof(data), "{\"n\":%d}", n);
    while ((st = e2e_publish(s[node].port, "cl-restart", "tick", data)) !=
           200) {
        ck_assert_msg(now_ms() < end, "publish n=%d: HTTP %d", n, st);
        usleep(50000);
    }
}

START_TEST(redis_restarted)
{
    struct redis_server own;
    struct e2e_server s[NODES];
    struct client c[CLIENTS];
    struct seen w[CLIENTS];
    uint64_t end;
    int n = 6;
    int done = 0;

    ck_assert_int_eq(redis_server_start(&own, NULL), REDIS_SERVER_OK);
    start_nodes(s, own.url);
    connect_all(c, s, "cl-restart");
    publish_spread(s, "cl-restart", 1, 5);
    expect_all(c, 1, 5);
    redis_server_kill(&own);
    ck_assert_int_eq(redis_server_restart(&own), REDIS_SERVER_OK);
    memset(w, 0, sizeof(w));
    for (int i = 0; i < CLIENTS; i++) {
        w[i].last = 5;
    }
    /* Publish until every client has a message from after the restart:
     * by then each one either received every message or was told. */
    end = now_ms() + 30000;
    while (done < CLIENTS) {
        ck_assert_msg(now_ms() < end, "%d of %d clients heard n > 5", done,
                      CLIENTS);
        publish_when_up(s, n % NODES, n);
        n++;
        done = 0;
        for (int i = 0; i < CLIENTS; i++) {
            take_frames(&c[i], &w[i]);
            done += w[i].last > 5;
        }
    }
    close_all(c);
    stop_nodes(s);
    redis_server_stop(&own);
}
END_TEST

static Suite *cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *fan = tcase_create("fanout");
    TCase *move = tcase_create("move");
    TCase *faults = tcase_create("faults");

    tcase_add_test(fan, fanout_every_node);
    tcase_add_test(move, clients_move);
    tcase_add_test(faults, node_killed);
    tcase_add_test(faults, redis_restarted);
    tcase_set_timeout(faults, 120);
    suite_add_tcase(s, fan);
    suite_add_tcase(s, move);
    suite_add_tcase(s, faults);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/resdeliv-server\n", argv[0]);
        return 1;
    }
    server_bin = argv[1];
    return redis_suite_run(&redis, NULL, cluster_suite());
}
