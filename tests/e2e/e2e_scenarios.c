/* SPDX-License-Identifier: MIT */
/*
 * Scenarios shared by the end-to-end programs (see e2e_scenarios.h).
 */
#include "e2e_scenarios.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void e2e_subscribe_ok(struct e2e_pusher *p, const char *channel,
                      const struct e2e_mark *from, const char *auth)
{
    cJSON *f;

    ck_assert_int_eq(e2e_pusher_subscribe(p, channel, from ? from->id : NULL,
                                          from ? from->epoch : NULL, auth,
                                          NULL),
                     0);
    f = e2e_pusher_next(p, E2E_TIMEOUT_MS);
    ck_assert_msg(f != NULL, "no answer to the subscribe on %s", channel);
    ck_assert_msg(
        strcmp(e2e_event(f), "pusher_internal:subscription_succeeded") == 0,
        "subscribe on %s answered with %s", channel, e2e_event(f));
    ck_assert_str_eq(e2e_str(f, "channel"), channel);
    cJSON_Delete(f);
}

static void take_mark(const cJSON *data, struct e2e_mark *mark)
{
    const char *id = e2e_str(data, "_replay_id");
    const char *epoch = e2e_str(data, "_replay_epoch");

    ck_assert_msg(id != NULL, "event data carries no _replay_id");
    snprintf(mark->id, sizeof(mark->id), "%s", id);
    if (epoch != NULL) {
        snprintf(mark->epoch, sizeof(mark->epoch), "%s", epoch);
    }
}

void e2e_expect_run(struct e2e_pusher *p, const char *event, int first, int n,
                    struct e2e_mark *mark, int *others)
{
    int got = 0;

    while (got < n) {
        cJSON *f = e2e_pusher_next(p, E2E_TIMEOUT_MS), *d;
        const cJSON *num;
        ck_assert_msg(f != NULL,
                      "waiting for %s n=%d: connection closed "
                      "or timed out (close code %d)",
                      event, first + got, p->ws.close_code);
        if (strcmp(e2e_event(f), event) != 0) {
            if (others != NULL) {
                (*others)++;
            }
            cJSON_Delete(f);
            continue;
        }
        d = e2e_data(f);
        num = cJSON_GetObjectItemCaseSensitive(d, "n");
        ck_assert_msg(cJSON_IsNumber(num), "event without n");
        ck_assert_msg(num->valueint == first + got,
                      "expected n=%d, got n=%d (duplicate or gap)", first + got,
                      num->valueint);
        if (mark != NULL) {
            take_mark(d, mark);
        }
        cJSON_Delete(d);
        cJSON_Delete(f);
        got++;
    }
}

void e2e_expect_quiet(struct e2e_pusher *p, const char *event, int ms)
{
    cJSON *f;

    while ((f = e2e_pusher_next(p, ms)) != NULL) {
        ck_assert_msg(strcmp(e2e_event(f), event) != 0, "unexpected %s frame",
                      event);
        cJSON_Delete(f);
    }
}

void e2e_publish_run(int port, const char *channel, const char *event,
                     int first, int n)
{
    char data[64];

    for (int i = 0; i < n; i++) {
        snprintf(data, sizeof(data), "{\"n\":%d}", first + i);
        ck_assert_int_eq(e2e_publish(port, channel, event, data), 200);
    }
}

void e2e_resume_scenario(const struct e2e_server *a, const struct e2e_server *b,
                         const char *channel)
{
    struct e2e_pusher p;
    struct e2e_mark mark;
    int others = 0;

    memset(&mark, 0, sizeof(mark));
    ck_assert_int_eq(e2e_pusher_connect(&p, a->port), 0);
    e2e_subscribe_ok(&p, channel, NULL, NULL);
    e2e_publish_run(a->port, channel, "tick", 1, 5);
    e2e_expect_run(&p, "tick", 1, 5, &mark, NULL);
    e2e_pusher_close(&p);

    /* Missed while away, published through the other server. */
    e2e_publish_run(b->port, channel, "tick", 6, 5);
    ck_assert_int_eq(e2e_publish_batch(b->port, channel, "tick", 11, 5, 0),
                     200);

    ck_assert_int_eq(e2e_pusher_connect(&p, b->port), 0);
    e2e_subscribe_ok(&p, channel, &mark, NULL);
    e2e_expect_run(&p, "tick", 6, 10, &mark, &others);
    ck_assert_int_eq(others, 0); /* continuous history: no gap notice */

    /* Then live, once. */
    e2e_publish_run(b->port, channel, "tick", 16, 1);
    e2e_expect_run(&p, "tick", 16, 1, &mark, NULL);
    e2e_expect_quiet(&p, "tick", 300);
    e2e_pusher_close(&p);
}
