/* SPDX-License-Identifier: MIT */
/**
 * @file replay.h
 * Replay cursor: the entries of a channel's log strictly after a client's
 * last seen id, in pages, with a continuity report before the first entry.
 *
 * What is replayed for each outcome:
 * - continuous: every entry after the id (at most the cap);
 * - trimmed (history removed past the id): every retained entry;
 * - epoch_changed / ahead (the log was recreated, or the id is past the
 *   newest entry): every retained entry of the current log;
 * - cap (more entries after the id than replay_max_messages): the newest
 *   `cap` entries, `lost` says how many were skipped;
 * - missing (no log), invalid_id, store_unavailable: nothing.
 * A gap is always reported before the first entry; a replay is never
 * partial without saying so.
 *
 * History can also change under a replay, between two pages: entries not
 * yet handed out are trimmed, or the log is dropped (and recreated). The
 * next page then fails with RESDELIV_ESTALE and no entries, and the status
 * now reports the gap: continuous 0, reason trimmed (oldest = the oldest
 * retained id), epoch_changed (position.epoch = the new epoch) or missing
 * (the log is gone), lost -1; the log's gap counter grows by one. Send a
 * gap notice, then call again: the replay goes on from the oldest retained
 * entry (trimmed) or from the start of the new log (epoch_changed), never
 * handing out an entry twice. An entry trimmed right after it was handed
 * out can make the cursor report a gap where nothing was lost: the store
 * cannot tell, so the cursor errs on the side of saying so.
 *
 * Messages delivered untagged while the store failed are in no log; the
 * log handle appends a marker entry (RESDELIV_UNLOGGED_EVENT, see log.h)
 * where they would be. The cursor never yields a marker. A page stops
 * before one; the next fetch reaches it and fails with RESDELIV_ESTALE and
 * no entries, the status now saying continuous 0, reason unlogged, lost =
 * the marker's count of messages (the sum over markers in a row; -1 when
 * one cannot be read), position and oldest unchanged; the log's gap
 * counter grows by one. Send a gap notice and call again: the entries
 * after the marker follow. Markers are entries of the store, so `expected`
 * counts them until the cursor reaches them, and drops them then;
 * resdeliv_replay_count() and the replayed counter never include them.
 * Until the marker is written (the channel's next successful append), the
 * log handle that sent the messages still knows of them: a replay on that
 * handle which reaches the end of the log reports them there, once, the
 * same way (RESDELIV_ESTALE, reason unlogged, lost = their count), and is
 * not done before it has.
 */
#ifndef RESDELIV_REPLAY_H
#define RESDELIV_REPLAY_H

#include "common.h"
#include "id.h"
#include "log.h"

RESDELIV_BEGIN_DECLS

typedef struct resdeliv_replay resdeliv_replay;

/** @name Gap reasons (values are part of the ABI) */
/**@{*/
#define RESDELIV_GAP_NONE 0u
#define RESDELIV_GAP_TRIMMED 1u
#define RESDELIV_GAP_MISSING 2u
#define RESDELIV_GAP_EPOCH_CHANGED 3u
#define RESDELIV_GAP_AHEAD 4u
#define RESDELIV_GAP_STORE_UNAVAILABLE 5u
#define RESDELIV_GAP_INVALID_ID 6u
#define RESDELIV_GAP_CAP 7u
/** Messages of the channel went out untagged while the store failed, and
 * are in no log (a marker entry, RESDELIV_UNLOGGED_EVENT, stands where
 * they would be). */
#define RESDELIV_GAP_UNLOGGED 8u
/**@}*/

/** Wire name of a gap reason ("trimmed", ...); "none" for 0, "unknown"
 * for values this library does not know. Ownership: static. */
RESDELIV_API const char *resdeliv_gap_reason_name(uint32_t reason);

/** Continuity report of a replay. */
struct resdeliv_replay_status {
    uint32_t continuous;      /**< 1: nothing was lost since the id */
    uint32_t reason;          /**< RESDELIV_GAP_*, NONE when continuous */
    uint32_t has_oldest;      /**< oldest is valid */
    uint32_t reserved;
    struct resdeliv_id oldest;          /**< oldest retained id */
    int64_t lost;             /**< entries lost, -1 when unknown */
    struct resdeliv_position position;  /**< the log's newest id + epoch */
    struct resdeliv_id after; /**< replay yields entries after this id */
    uint64_t expected;        /**< entries the replay will yield, at most */
};

/** One replayed entry. The payload is the data tagged as a live delivery
 * would be (or untagged when the data is not a JSON object). */
struct resdeliv_replay_entry {
    struct resdeliv_id id;
    const char *event;
    size_t event_len;
    const char *payload;
    size_t payload_len;
    uint32_t tagged;
    uint32_t reserved;
};

/**
 * Open a cursor on `channel` after `last_event_id` (text as the client sent
 * it; NULL or "" for none: no entries, only the position) in `epoch` (NULL
 * or "": the client sent none, id-only checks). The status is available at
 * once. An invalid id is not an error of this call: the cursor reports the
 * gap reason invalid_id and yields nothing.
 * Needs a RESDELIV_STORE_SYNC store (else RESDELIV_ENOTSUP).
 * Ownership: inputs copied; `*out` is closed with resdeliv_replay_close().
 * Thread: like the log handle.
 */
RESDELIV_API int resdeliv_replay_open(resdeliv_log *log, const char *channel,
                                      const char *last_event_id,
                                      const char *epoch,
                                      resdeliv_replay **out);

/** The continuity report. Ownership: the cursor's. */
RESDELIV_API const struct resdeliv_replay_status *
resdeliv_replay_status(const resdeliv_replay *cur);

/**
 * Fetch the next page (at most replay_batch_size entries). `*n` is 0 at
 * the end. Entries live until the next call on the cursor.
 * @return 0; RESDELIV_ESTALE with `*n` 0 when history changed under the
 * replay: the status now reports the gap; send a gap notice; call again to
 * continue; or a store error (the cursor is then finished).
 */
RESDELIV_API int resdeliv_replay_next_page(
    resdeliv_replay *cur, const struct resdeliv_replay_entry **entries,
    size_t *n);

/** Entries handed out so far. */
RESDELIV_API uint64_t resdeliv_replay_count(const resdeliv_replay *cur);

/** 1 when the cursor has nothing more to yield. */
RESDELIV_API int resdeliv_replay_done(const resdeliv_replay *cur);

/** Close a cursor. Accepts NULL. An asynchronous open or fetch still in
 * flight completes with RESDELIV_ECLOSED (its callback still runs exactly
 * once, possibly after this returns, with no entries). */
RESDELIV_API void resdeliv_replay_close(resdeliv_replay *cur);

/** Completion of resdeliv_replay_open_async(): on success `cur` is the
 * caller's to close; on error it is NULL. */
typedef void (*resdeliv_replay_open_cb)(void *arg, int status,
                                        resdeliv_replay *cur);
/** Completion of resdeliv_replay_fetch_async(). Entries live until the
 * callback returns. `n` 0 means the end. */
typedef void (*resdeliv_replay_page_cb)(
    void *arg, int status, const struct resdeliv_replay_entry *entries,
    size_t n);

/** resdeliv_replay_open() for stores driven by an event loop. The status
 * of the new cursor is complete when the callback runs. */
RESDELIV_API int resdeliv_replay_open_async(resdeliv_log *log,
                                            const char *channel,
                                            const char *last_event_id,
                                            const char *epoch,
                                            resdeliv_replay_open_cb cb,
                                            void *arg);

/** Fetch the next page without waiting. One fetch at a time per cursor
 * (RESDELIV_EAGAIN otherwise). The callback's status is as the return of
 * resdeliv_replay_next_page(), RESDELIV_ESTALE included. */
RESDELIV_API int resdeliv_replay_fetch_async(resdeliv_replay *cur,
                                             resdeliv_replay_page_cb cb,
                                             void *arg);

RESDELIV_END_DECLS

#endif /* RESDELIV_REPLAY_H */
