/* SPDX-License-Identifier: MIT */
/*
 * The fixture the replay cursor's Check programs share (check_replay*.c):
 * a log on the real memory store with a test clock, publishing that keeps
 * each entry's id and live payload, and helpers that open a cursor and
 * read it to the end.
 *
 * The test clock makes ids predictable: every publish advances it by
 * 10 ms, so the n-th entry has id (10 * n)-0 and "15-0" lies between two
 * entries.
 */
#ifndef RESDELIV_TEST_REPLAY_FIXTURE_H
#define RESDELIV_TEST_REPLAY_FIXTURE_H

#include <check.h>
#include <resdeliv/resdeliv.h>

#define MAXE 64

struct fixture {
    uint64_t now;
    resdeliv_store *store;
    resdeliv_log *log;
    struct resdeliv_id ids[MAXE];
    char *payloads[MAXE];
    int n;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
};

/* A memory store with the test clock at 1000 and a log of app "app" over
 * it, opened with `cfg` (NULL: the defaults). */
void fx_open(struct fixture *fx, const struct resdeliv_config *cfg);
/* Free the kept payloads and forget the published entries. */
void fx_forget(struct fixture *fx);
void fx_close(struct fixture *fx);
/* Publish `count` entries on `channel`, keeping ids and payloads. */
void fx_publish(struct fixture *fx, const char *channel, int count);
/* `id` as text in `buf` (RESDELIV_ID_BUFSIZE bytes); returns `buf`. */
const char *fmt_id(const struct resdeliv_id *id, char *buf);
/* A cursor after `id` (and `epoch`, which may be NULL); it must open. */
resdeliv_replay *open_at(struct fixture *fx, const char *channel,
                         const char *id, const char *epoch);
/* Read every page, checking that ids rise; return how many entries, their
 * ids in `ids`, and the number of pages in `*pages` (may be NULL). */
int drain(resdeliv_replay *cur, struct resdeliv_id *ids, int max, int *pages);
/* Assert the replay yields exactly fx->ids[from .. fx->n). */
void expect_entries(struct fixture *fx, resdeliv_replay *cur, int from);
/* The log's gap counter. */
uint64_t gaps_of(const resdeliv_log *log);
/* Collect what a cursor yields until the end, with no other check. */
int drain_ids(resdeliv_replay *cur, struct resdeliv_id *ids, int max);

/* What resdeliv_replay_fetch_async() handed to on_page() last. */

struct page_seen {
    int calls;
    int status;
    size_t n;
    struct resdeliv_id first;
};

void on_page(void *arg, int status, const struct resdeliv_replay_entry *entries,
             size_t n);

#endif /* RESDELIV_TEST_REPLAY_FIXTURE_H */
