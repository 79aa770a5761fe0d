/* SPDX-License-Identifier: MIT */
/*
 * The WebSocket frames of resdeliv-server as bytes on the wire. The lws
 * shim frames each message itself and writes a run of queued frames with
 * one write, so a client gets many frames in one read, and a frame (its
 * header too) may end in a later read. The tests' own client
 * (../wsclient.c) parses them from the byte stream, reading all that is
 * there and in reads of a few bytes; every event of a replay and of live
 * batches, a 70 KB one (64-bit length) among them, must parse and arrive
 * once, in order, and no frame may carry RSV bits or a mask.
 *
 * Usage: check_e2e_frames /path/to/resdeliv-server
 */
#include "e2e_scenarios.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define HISTORY 400
#define PAD 200
#define BIG_AT 200     /* the event n=BIG_AT carries BIG_PAD bytes */
#define BIG_PAD 70000u /* a payload past 65535: 10-byte frame header */

static const char *server_bin;

static void start(struct e2e_server *s)
{
    ck_assert_msg(e2e_server_start(s, server_bin, NULL) == 0, "cannot start %s",
                  server_bin);
}

static void stop_clean(struct e2e_server *s)
{
    ck_assert_msg(e2e_server_stop(s) == 0,
                  "server did not shut down cleanly on SIGTERM");
}

/* Events n = first..first+n-1 on `channel`, in batch requests that end
 * at multiples of 10; the one numbered BIG_AT (a multiple of 10) is large
 * and goes alone. */
static void publish_history(int port, const char *channel, int first, int n)
{
    for (int i = first; i < first + n;) {
        int k = 10 - i % 10;
        if (i == BIG_AT) {
            k = 1;
        }
        if (i + k > first + n) {
            k = first + n - i;
        }
        ck_assert_int_eq(e2e_publish_batch(port, channel, "tick", i, k,
                                           i == BIG_AT ? BIG_PAD : PAD),
                         200);
        i += k;
    }
}

/* Subscribe to `channel`, see the event n=0 and leave: `mark` is where a
 * resuming client replays HISTORY events from. */
static void mark_start(int port, const char *channel, struct e2e_mark *mark)
{
    struct e2e_pusher p;

    memset(mark, 0, sizeof(*mark));
    ck_assert_int_eq(e2e_pusher_connect(&p, port), 0);
    e2e_subscribe_ok(&p, channel, NULL, NULL);
    e2e_publish_run(port, channel, "tick", 0, 1);
    e2e_expect_run(&p, "tick", 0, 1, mark, NULL);
    e2e_pusher_close(&p);
}

/* Resume from `mark` reading at most `read_max` bytes a recv() (0: all
 * there is): the HISTORY events come back once each, in order, no gap. */
static void replay_with_reads(int port, const char *channel,
                              const struct e2e_mark *mark, size_t read_max,
                              struct e2e_pusher *p)
{
    int others = 0;

    ck_assert_int_eq(e2e_pusher_connect(p, port), 0);
    p->ws.read_max = read_max;
    p->ws.reads = 0;
    p->ws.frames = 0;
    e2e_subscribe_ok(p, channel, mark, NULL);
    e2e_expect_run(p, "tick", 1, HISTORY, NULL, &others);
    ck_assert_int_eq(others, 0);
}

/* -------------------------------------------------------------- burst */

START_TEST(replay_many_frames_per_read)
{
    struct e2e_server s;
    struct e2e_mark mark;
    struct e2e_pusher p;

    start(&s);
    mark_start(s.port, "burst", &mark);
    publish_history(s.port, "burst", 1, HISTORY);
    replay_with_reads(s.port, "burst", &mark, 0, &p);
    /* What this test is about: reads that carried several frames. */
    ck_assert_msg(p.ws.reads * 2 <= p.ws.frames, "%zu frames came in %zu reads",
                  p.ws.frames, p.ws.reads);
    /* Live batches after the replay, on the same connection. */
    publish_history(s.port, "burst", HISTORY + 1, 100);
    e2e_expect_run(&p, "tick", HISTORY + 1, 100, NULL, NULL);
    e2e_expect_quiet(&p, "tick", 200);
    e2e_pusher_close(&p);
    stop_clean(&s);
}
END_TEST

/* -------------------------------------------------------------- split */

START_TEST(frames_spanning_reads)
{
    /* Reads shorter than an event's frame (> PAD bytes): 1 byte splits
     * every header; 7 and 199 end reads at offsets that move from frame
     * to frame. */
    static const size_t sizes[] = {1, 7, PAD - 1};
    struct e2e_server s;
    struct e2e_mark mark;

    start(&s);
    mark_start(s.port, "split", &mark);
    publish_history(s.port, "split", 1, HISTORY);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct e2e_pusher p;
        replay_with_reads(s.port, "split", &mark, sizes[i], &p);
        ck_assert_msg(p.ws.reads > p.ws.frames,
                      "reads of %zu bytes: %zu frames in %zu reads", sizes[i],
                      p.ws.frames, p.ws.reads);
        e2e_expect_quiet(&p, "tick", 100);
        e2e_pusher_close(&p);
    }
    stop_clean(&s);
}
END_TEST

static Suite *frames_suite(void)
{
    Suite *s = suite_create("e2e_frames");
    TCase *burst = tcase_create("burst");
    TCase *split = tcase_create("split");

    tcase_add_test(burst, replay_many_frames_per_read);
    tcase_add_test(split, frames_spanning_reads);
    tcase_set_timeout(burst, 120);
    tcase_set_timeout(split, 240);
    suite_add_tcase(s, burst);
    suite_add_tcase(s, split);
    return s;
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed;

    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/resdeliv-server\n", argv[0]);
        return 1;
    }
    server_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    sr = srunner_create(frames_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
