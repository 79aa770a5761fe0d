/* SPDX-License-Identifier: MIT */
/*
 * resdeliv-demo: at-least-once delivery in one process, on the embedded
 * memory store. A publisher broadcasts on two channels; a simulated client
 * receives live messages, drops, misses some, reconnects with the last id it
 * saw and gets exactly what it missed, in order, then live again. A second
 * client stays away longer than its channel's retention and is told about
 * the gap instead of silently losing history.
 */
#include <resdeliv/resdeliv.h>

#include <stdio.h>
#include <string.h>

struct client {
    const char *name;
    const char *channel;
    int connected;
    char last_id[RESDELIV_ID_BUFSIZE];
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    resdeliv_dedup *seen;
    unsigned received;
};

/* A client takes a message when connected; it remembers the id and epoch
 * the payload carries, as a Pusher client reads _replay_id. */
static void deliver(struct client *c, const struct resdeliv_id *id,
                    const char *event, const char *payload, size_t len,
                    const char *how)
{
    char *frame = NULL;
    size_t flen = 0;

    if (resdeliv_dedup_check(c->seen, id) != RESDELIV_DEDUP_FRESH) {
        printf("  %-6s drops a duplicate\n", c->name);
        return;
    }
    if (resdeliv_pusher_build_event(event, strlen(event), c->channel,
                                    strlen(c->channel), payload, len, &frame,
                                    &flen) == 0) {
        printf("  %-6s <- %-7s %s\n", c->name, how, frame);
    }
    resdeliv_free(frame);
    resdeliv_id_format(id, c->last_id, sizeof c->last_id);
    c->received++;
}

static int publish(resdeliv_log *log, struct client *clients, size_t n,
                   const char *channel, const char *event, const char *data)
{
    struct resdeliv_message msg = {channel, strlen(channel), event,
                                   strlen(event), data, strlen(data)};
    struct resdeliv_publish_result res;
    char id[RESDELIV_ID_BUFSIZE];
    size_t i;
    int rc;

    memset(&res, 0, sizeof res);
    rc = resdeliv_log_publish(log, &msg, &res);
    if (rc != 0) {
        fprintf(stderr, "publish failed: %s\n", resdeliv_strerror(rc));
        return rc;
    }
    resdeliv_id_format(&res.position.id, id, sizeof id);
    printf("publish %-8s %-10s id %s\n", channel, event, id);
    for (i = 0; i < n; i++) {
        if (clients[i].connected && strcmp(clients[i].channel, channel) == 0) {
            snprintf(clients[i].epoch, sizeof clients[i].epoch, "%s",
                     res.position.epoch);
            deliver(&clients[i], &res.position.id, event, res.payload,
                    res.payload_len, "live");
        }
    }
    resdeliv_publish_result_clear(&res);
    return 0;
}

static void print_status(const struct client *c,
                         const struct resdeliv_replay_status *st)
{
    char oldest[RESDELIV_ID_BUFSIZE] = "-";
    char *gap = NULL;
    size_t len = 0;

    if (st->has_oldest) {
        resdeliv_id_format(&st->oldest, oldest, sizeof oldest);
    }
    printf("  %-6s resumes after %s: %s%s, oldest retained %s\n", c->name,
           c->last_id, st->continuous ? "continuous" : "GAP ",
           st->continuous ? "" : resdeliv_gap_reason_name(st->reason),
           oldest);
    if (!st->continuous &&
        resdeliv_pusher_build_gap(c->channel, st, &gap, &len) == 0) {
        printf("  %-6s <- notice  %s\n", c->name, gap);
        resdeliv_free(gap);
    }
}

/* Reconnect: subscribe with last_event_id, replay what was missed. */
static int reconnect(resdeliv_log *log, struct client *c)
{
    resdeliv_replay *cur = NULL;
    const struct resdeliv_replay_entry *e;
    size_t n, i;
    int rc;

    printf("%s reconnects to %s with last_event_id %s\n", c->name,
           c->channel, c->last_id);
    rc = resdeliv_replay_open(log, c->channel, c->last_id, c->epoch, &cur);
    if (rc != 0) {
        fprintf(stderr, "replay failed: %s\n", resdeliv_strerror(rc));
        return rc;
    }
    print_status(c, resdeliv_replay_status(cur));
    while ((rc = resdeliv_replay_next_page(cur, &e, &n)) == 0 && n > 0) {
        for (i = 0; i < n; i++) {
            char event[64];
            snprintf(event, sizeof event, "%.*s", (int)e[i].event_len,
                     e[i].event);
            deliver(c, &e[i].id, event, e[i].payload, e[i].payload_len,
                    "replay");
        }
    }
    printf("  %-6s replayed %llu message(s)\n", c->name,
           (unsigned long long)resdeliv_replay_count(cur));
    resdeliv_replay_close(cur);
    c->connected = 1;
    return rc;
}

static int run(resdeliv_log *log, struct client *cl)
{
    static const char *const prices[] = {"101", "102", "103", "104", "105",
                                         "106"};
    char data[64];
    size_t i;
    int rc = 0;

    printf("== both clients live\n");
    rc |= publish(log, cl, 2, "orders", "created", "{\"order\":1}");
    rc |= publish(log, cl, 2, "ticker-acme", "price", "{\"price\":100}");
    printf("== both clients drop (network blip)\n");
    cl[0].connected = cl[1].connected = 0;
    rc |= publish(log, cl, 2, "orders", "created", "{\"order\":2}");
    rc |= publish(log, cl, 2, "orders", "paid", "{\"order\":1,\"note\":\"}{\"}");
    rc |= publish(log, cl, 2, "orders", "created", "{\"order\":3}");
    for (i = 0; i < sizeof prices / sizeof prices[0]; i++) {
        snprintf(data, sizeof data, "{\"price\":%s}", prices[i]);
        rc |= publish(log, cl, 2, "ticker-acme", "price", data);
    }
    printf("== reconnect\n");
    rc |= reconnect(log, &cl[0]);
    rc |= reconnect(log, &cl[1]);
    printf("== live again\n");
    rc |= publish(log, cl, 2, "orders", "shipped", "{\"order\":1}");
    return rc;
}

int main(void)
{
    static const struct resdeliv_retention_rule rules[] = {
        {"ticker-*", 3},
    };
    struct resdeliv_config cfg;
    struct client cl[2] = {{"alice", "orders", 1, "0-0", "", NULL, 0},
                           {"bob", "ticker-acme", 1, "0-0", "", NULL, 0}};
    struct resdeliv_counters k;
    resdeliv_log *log = NULL;
    char err[256];
    int rc;

    resdeliv_config_init(&cfg);
    cfg.per_channel = rules;
    cfg.per_channel_count = 1;
    rc = resdeliv_log_open(&cfg, NULL, "demo-app", &log, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "resdeliv_log_open: %s\n", err);
        return 1;
    }
    printf("libresdeliv %s, memory store; channel ticker-* keeps 3 "
           "messages\n\n", resdeliv_version());
    if (resdeliv_dedup_new(64, &cl[0].seen) != 0 ||
        resdeliv_dedup_new(64, &cl[1].seen) != 0) {
        rc = 1;
    } else {
        rc = run(log, cl);
    }
    resdeliv_log_counters(log, &k, sizeof k);
    printf("\ncounters: published %llu, tagged %llu, replayed %llu, "
           "gaps %llu\n",
           (unsigned long long)k.published, (unsigned long long)k.tagged,
           (unsigned long long)k.replayed, (unsigned long long)k.gaps);
    printf("alice received %u of 5 orders messages; bob was told of the gap "
           "and got the %u newest prices\n", cl[0].received,
           cl[1].received - 1);
    /* Every orders message reached alice once; bob got the live price and
     * the 3 retained ones. */
    if (cl[0].received != 5 || cl[1].received != 4 || k.gaps != 1) {
        fprintf(stderr, "demo: unexpected delivery counts\n");
        rc = 1;
    }
    resdeliv_dedup_free(cl[0].seen);
    resdeliv_dedup_free(cl[1].seen);
    resdeliv_log_close(log);
    return rc == 0 ? 0 : 1;
}
