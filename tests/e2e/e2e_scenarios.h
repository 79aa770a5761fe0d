/* SPDX-License-Identifier: MIT */
/*
 * Scenarios shared by the end-to-end programs (memory store in check_e2e,
 * Redis store in check_e2e_redis): each runs against servers the caller
 * started and asserts with Check.
 */
#ifndef RESDELIV_E2E_SCENARIOS_H
#define RESDELIV_E2E_SCENARIOS_H

#include "e2e_client.h"

#include <check.h>

#define E2E_ID_SIZE 64

/* Where a client is in a channel's log. */
struct e2e_mark {
    char id[E2E_ID_SIZE];
    char epoch[E2E_ID_SIZE];
};

/* Subscribe and wait for pusher_internal:subscription_succeeded. */
void e2e_subscribe_ok(struct e2e_pusher *p, const char *channel,
                      const struct e2e_mark *from, const char *auth);

/* Read `n` events named `event` on `channel` (other frames skipped,
 * counted in *others when not NULL); their data must be {"n": first..}
 * in order. Updates `mark` to the last one's _replay_id/_replay_epoch. */
void e2e_expect_run(struct e2e_pusher *p, const char *event, int first, int n,
                    struct e2e_mark *mark, int *others);

/* Nothing named `event` arrives within `ms`. */
void e2e_expect_quiet(struct e2e_pusher *p, const char *event, int ms);

/* Publish events {"n": first..first+n-1} one request each; all 200. */
void e2e_publish_run(int port, const char *channel, const char *event,
                     int first, int n);

/* Subscribe on server `a`, receive, drop, publish more on server `b`,
 * resume on server `b` with last_event_id: every message once, in order,
 * then live. `a` and `b` may be the same server. */
void e2e_resume_scenario(const struct e2e_server *a, const struct e2e_server *b,
                         const char *channel);

#endif /* RESDELIV_E2E_SCENARIOS_H */
