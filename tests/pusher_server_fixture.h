/* SPDX-License-Identifier: MIT */
/*
 * The fixture the Pusher server's WebSocket-side Check programs share
 * (check_pusher_server*.c): one in-process host (pusher_test_host.h) over
 * the memory store, set up afresh for each test of a TCase made with
 * tcase(), and helpers that read pusher:error frames and fill a log
 * through the HTTP API.
 */
#ifndef RESDELIV_TEST_PUSHER_SERVER_FIXTURE_H
#define RESDELIV_TEST_PUSHER_SERVER_FIXTURE_H

#include "pusher_test_host.h"

/* The host of the running test. */
extern struct thost H;

/* A TCase named `name` whose tests each get a fresh host in H. */
TCase *tcase(const char *name);

/* The pusher:error (or subscription_error) data of frame `i`. */
cJSON *error_data(const struct tconn *c, size_t i);
/* Its "code" member, or 0. */
int error_code(const struct tconn *c, size_t i);

/* Three messages in the log of `channel`; `id` gets "0-0", a
 * last_event_id from before all of them. */
void fill_log(const char *channel, char *id, size_t size);

#endif /* RESDELIV_TEST_PUSHER_SERVER_FIXTURE_H */
