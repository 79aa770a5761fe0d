/* SPDX-License-Identifier: MIT */
/*
 * The replay tests' shared fixture (replay_fixture.h): a memory store on a
 * test clock, publishing that keeps ids and payloads, and cursor helpers.
 */
#include "replay_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t test_now(void *arg)
{
    return *(uint64_t *)arg;
}

void fx_open(struct fixture *fx, const struct resdeliv_config *cfg)
{
    struct resdeliv_memory_options opts = {RESDELIV_STRUCT_HEAD(opts)};
    char err[256] = "";

    memset(fx, 0, sizeof(*fx));
    fx->now = 1000;
    opts.clock.now_ms = test_now;
    opts.clock.arg = &fx->now;
    ck_assert_int_eq(resdeliv_store_memory_new(&opts, &fx->store), 0);
    ck_assert_msg(resdeliv_log_open(cfg, fx->store, "app", &fx->log, err,
                                    sizeof(err)) == 0,
                  "open: %s", err);
}

void fx_forget(struct fixture *fx)
{
    for (int i = 0; i < fx->n; i++) {
        free(fx->payloads[i]);
        fx->payloads[i] = NULL;
    }
    fx->n = 0;
}

void fx_close(struct fixture *fx)
{
    fx_forget(fx);
    resdeliv_log_close(fx->log);
    resdeliv_store_free(fx->store);
}

/* Publish `count` entries on `channel`, keeping ids and payloads. */
void fx_publish(struct fixture *fx, const char *channel, int count)
{
    for (int i = 0; i < count; i++) {
        struct resdeliv_publish_result res;
        struct resdeliv_message m;
        char data[64];

        ck_assert_int_lt(fx->n, MAXE);
        fx->now += 10;
        snprintf(data, sizeof(data), "{\"seq\":%d,\"s\":\"x\\\"y\"}", fx->n);
        m.channel = channel;
        m.channel_len = strlen(channel);
        m.event = "tick";
        m.event_len = 4;
        m.data = data;
        m.data_len = strlen(data);
        ck_assert_int_eq(resdeliv_log_publish(fx->log, &m, &res), 0);
        fx->ids[fx->n] = res.position.id;
        fx->payloads[fx->n] = res.payload;
        strcpy(fx->epoch, res.position.epoch);
        fx->n++;
    }
}

const char *fmt_id(const struct resdeliv_id *id, char *buf)
{
    resdeliv_id_format(id, buf, RESDELIV_ID_BUFSIZE);
    return buf;
}

resdeliv_replay *open_at(struct fixture *fx, const char *channel,
                         const char *id, const char *epoch)
{
    resdeliv_replay *cur = NULL;

    ck_assert_int_eq(resdeliv_replay_open(fx->log, channel, id, epoch, &cur),
                     0);
    ck_assert_ptr_nonnull(cur);
    return cur;
}

/* Read every page; return how many entries, their ids in `ids`. */
int drain(resdeliv_replay *cur, struct resdeliv_id *ids, int max, int *pages)
{
    const struct resdeliv_replay_entry *e;
    size_t n;
    int total = 0;

    if (pages != NULL) {
        *pages = 0;
    }
    for (;;) {
        ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
        if (n == 0) {
            break;
        }
        if (pages != NULL) {
            (*pages)++;
        }
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_lt(total, max);
            if (total > 0) {
                ck_assert_int_gt(resdeliv_id_cmp(&e[i].id, &ids[total - 1]),
                                 0);
            }
            ids[total++] = e[i].id;
        }
    }
    ck_assert(resdeliv_replay_done(cur));
    ck_assert_uint_eq(resdeliv_replay_count(cur), (uint64_t)total);
    return total;
}

/* Assert the replay yields exactly fx->ids[from .. fx->n). */
void expect_entries(struct fixture *fx, resdeliv_replay *cur, int from)
{
    struct resdeliv_id got[MAXE];
    int n = drain(cur, got, MAXE, NULL);

    ck_assert_int_eq(n, fx->n - from);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&got[i], &fx->ids[from + i]), 0);
    }
}

uint64_t gaps_of(const resdeliv_log *log)
{
    struct resdeliv_counters c;

    ck_assert_int_eq(resdeliv_log_counters(log, &c, sizeof(c)), 0);
    return c.gaps;
}

/* Collect what a cursor yields until the end. */
int drain_ids(resdeliv_replay *cur, struct resdeliv_id *ids, int max)
{
    const struct resdeliv_replay_entry *e;
    size_t n;
    int total = 0;

    for (;;) {
        ck_assert_int_eq(resdeliv_replay_next_page(cur, &e, &n), 0);
        if (n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_lt(total, max);
            ids[total++] = e[i].id;
        }
    }
    return total;
}

void on_page(void *arg, int status, const struct resdeliv_replay_entry *entries,
             size_t n)
{
    struct page_seen *s = arg;

    s->calls++;
    s->status = status;
    s->n = n;
    if (n > 0) {
        s->first = entries[0].id;
    }
}
