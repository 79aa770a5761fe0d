/* SPDX-License-Identifier: MIT */
/*
 * Replay cursor: decides, from one store info call, whether the history
 * after a client's id is continuous and what to replay (see replay.h for
 * each outcome), then reads the log in pages and tags every entry exactly
 * as a live delivery would be tagged.
 *
 * Everything runs on the store's callback API; the synchronous calls wrap
 * the asynchronous ones with a completion on the stack, which a store with
 * RESDELIV_STORE_SYNC runs before returning. A page is tagged into one
 * buffer the cursor keeps and grows, sized once per page, so a warm cursor
 * allocates nothing per entry. Entries the publisher marked
 * RESDELIV_ENTRY_OBJECT are tagged by an insertion before their last '}',
 * without a scan; the others get the full tag.
 *
 * The log can change under a replay between two pages: trimmed past the
 * last entry handed out, or dropped and recreated. From the second page on
 * the cursor reads from the predecessor of the last id it yielded, so the
 * store's first answer must be that entry again; when it is not, or when
 * the epoch differs, the fetch reports RESDELIV_ESTALE with the status
 * updated, and the next fetch goes on from what the log still holds.
 *
 * Marker entries (RESDELIV_UNLOGGED_EVENT) stand for messages that went
 * out untagged while the store failed. They are never yielded: a page ends
 * before one, and the fetch that reaches it reports RESDELIV_ESTALE with
 * reason unlogged, then the next goes on after it, like after a trim.
 * Until the channel's next append writes the marker, the handle itself
 * knows of such messages; a replay that reaches the end of the log before
 * that reports them there, the place they would have in the log.
 *
 * Checking a page and tagging it are in replay_page.c.
 *
 * A cursor closed while a store call is in flight is only marked; the
 * completion reports RESDELIV_ECLOSED to the caller's callback and frees
 * it. The log handle must outlive its cursors.
 */
#include "log_internal.h"

#include <stdlib.h>

static const char *const gap_names[] = {
    "none",   "trimmed",           "missing",    "epoch_changed",
    "ahead",  "store_unavailable", "invalid_id", "cap",
    "unlogged",
};

const char *resdeliv_gap_reason_name(uint32_t reason)
{
    if (reason < sizeof(gap_names) / sizeof(gap_names[0])) {
        return gap_names[reason];
    }
    return "unknown";
}

static void cursor_free(resdeliv_replay *cur)
{
    free(cur->buf);
    free(cur->entries);
    free(cur);
}

/* ---- opening ---------------------------------------------------------- */

static void gap(resdeliv_replay *cur, uint32_t reason)
{
    if (cur->status.reason == RESDELIV_GAP_NONE) {
        cur->status.reason = reason;
        cur->status.lost = -1;
    }
}

/* Copy the arguments and decide what is known before asking the store. */
static int cursor_new(resdeliv_log *log, const char *channel,
                      const char *last_event_id, const char *epoch,
                      resdeliv_replay **out)
{
    size_t len;
    resdeliv_replay *cur;
    int rc;

    len = channel != NULL ? strnlen(channel, RESDELIV_MAX_CHANNEL_LEN + 1) : 0;
    rc = resdeliv__log_check_channel(log, channel, len);
    if (rc < 0) {
        return rc;
    }
    cur = calloc(1, sizeof(*cur));
    if (cur == NULL) {
        resdeliv__log_seterr(log, "out of memory for a replay cursor");
        return RESDELIV_ENOMEM;
    }
    cur->log = log;
    memcpy(cur->channel, channel, len);
    cur->key.app_id = log->app_id;
    cur->key.app_id_len = log->app_id_len;
    cur->key.channel = cur->channel;
    cur->key.channel_len = len;
    cur->cap = log->cfg->replay_max_messages != 0
                   ? log->cfg->replay_max_messages
                   : resdeliv_config_channel_cap(log->cfg, cur->channel);
    if (last_event_id != NULL && last_event_id[0] != '\0') {
        cur->want = resdeliv_id_parse(last_event_id, strlen(last_event_id),
                                      &cur->id) == 0;
        cur->invalid = !cur->want;
    }
    if (cur->want && epoch != NULL && epoch[0] != '\0') {
        len = strnlen(epoch, RESDELIV_EPOCH_MAX + 1);
        if (resdeliv_epoch_check(epoch, len) < 0) {
            cur->want = 0;
            cur->invalid = 1;
        } else {
            memcpy(cur->epoch, epoch, len);
        }
    }
    if (cur->invalid) {
        gap(cur, RESDELIV_GAP_INVALID_ID);
        resdeliv__log_seterr(log, "invalid last_event_id or epoch");
    }
    *out = cur;
    return 0;
}

/* Entries after the effective `after`: `count` (-1 unknown), and whether
 * more than the cap remain (then exactly the newest cap after skip_to). */
static void apply_counts(resdeliv_replay *cur, int64_t count, int capped,
                         const struct resdeliv_id *skip_to)
{
    struct resdeliv_replay_status *st = &cur->status;

    if (capped) {
        if (st->reason == RESDELIV_GAP_NONE) {
            st->reason = RESDELIV_GAP_CAP;
            st->lost = count >= 0 ? count - (int64_t)cur->cap : -1;
        }
        st->after = *skip_to;
        st->expected = cur->cap;
    } else if (count >= 0) {
        st->expected = (uint64_t)count;
    } else {
        st->expected = cur->cap != 0 ? cur->cap : UINT64_MAX;
    }
}

static int was_trimmed(const struct resdeliv_log_info *info,
                       const struct resdeliv_id *id)
{
    if (info->has_max_deleted) {
        return resdeliv_id_cmp(id, &info->max_deleted) < 0;
    }
    /* Without the store's word, an id older than the oldest entry of a log
     * that has lost entries may have missed some. */
    return info->length > 0 && resdeliv_id_cmp(id, &info->first) < 0 &&
           info->entries_added > info->length;
}

static void start_second(resdeliv_replay *cur);

/* First info answer for a valid id: the gap reason, then the cap.
 * @return 1 when a second info call took over the completion. */
static int decide(resdeliv_replay *cur, const struct resdeliv_log_info *info)
{
    struct resdeliv_replay_status *st = &cur->status;
    int reset = 0;

    if (!info->exists) {
        gap(cur, RESDELIV_GAP_MISSING);
        cur->done = 1;
        return 0;
    }
    st->after = cur->id;
    if (cur->epoch[0] != '\0' && strcmp(cur->epoch, info->epoch) != 0) {
        gap(cur, RESDELIV_GAP_EPOCH_CHANGED);
        reset = 1;
    } else if (resdeliv_id_cmp(&cur->id, &info->last) > 0) {
        gap(cur, RESDELIV_GAP_AHEAD);
        reset = 1;
    } else if (was_trimmed(info, &cur->id)) {
        gap(cur, RESDELIV_GAP_TRIMMED);
    }
    if (!reset) {
        apply_counts(cur, info->count_after,
                     cur->cap != 0 && info->capped, &info->skip_to);
        return 0;
    }
    /* Every retained entry of the current log: after 0-0. */
    memset(&st->after, 0, sizeof(st->after));
    if (cur->cap == 0 || info->length <= cur->cap) {
        apply_counts(cur, (int64_t)info->length, 0, NULL);
    } else if (info->capped) {
        /* skip_to does not depend on the requested `after`. */
        apply_counts(cur, (int64_t)info->length, 1, &info->skip_to);
    } else {
        start_second(cur);
        return 1;
    }
    return 0;
}

static void finish_open(resdeliv_replay *cur)
{
    struct resdeliv_replay_status *st = &cur->status;
    resdeliv_replay_open_cb cb = cur->open_cb;
    /* A replay is due and the log is there (missing and unreachable logs
     * were reported as such, which covers what followed). */
    int due = cur->want && !cur->done;

    st->continuous = st->reason == RESDELIV_GAP_NONE;
    if (!st->continuous) {
        cur->log->counters.gaps++;
    }
    if (!due) {
        cur->done = 1;
        st->expected = 0;
    }
    cur->remaining = st->expected;
    cur->next_after = st->after;
    if (cur->remaining == 0) {
        cur->done = 1;
        if (due) {
            resdeliv__replay_arm_tail(cur);
        }
    }
    cur->open_cb = NULL;
    cb(cur->arg, 0, cur);
}

static void store_down(resdeliv_replay *cur, int status)
{
    resdeliv__log_store_err(cur->log, "info", status);
    /* A client that sent no id asked for no replay, and a malformed id is
     * reported as such: only a replay that was due becomes a gap here. */
    if (cur->want || cur->second) {
        /* A decision taken on the first answer cannot be kept without the
         * second: replay nothing and say why. */
        cur->status.reason = RESDELIV_GAP_STORE_UNAVAILABLE;
        cur->status.lost = -1;
    }
    cur->done = 1;
}

static void on_info(void *arg, int status,
                    const struct resdeliv_log_info *info)
{
    resdeliv_replay *cur = arg;
    struct resdeliv_replay_status *st = &cur->status;

    cur->busy = 0;
    if (status < 0 || info == NULL) {
        store_down(cur, status < 0 ? status : RESDELIV_ESTORE);
        finish_open(cur);
        return;
    }
    if (cur->second) {
        cur->second = 0;
        apply_counts(cur, info->count_after, info->capped, &info->skip_to);
        finish_open(cur);
        return;
    }
    if (info->exists) {
        st->position.id = info->last;
        memcpy(st->position.epoch, info->epoch, sizeof(st->position.epoch));
        st->position.epoch[sizeof(st->position.epoch) - 1] = '\0';
        st->has_oldest = info->length > 0;
        st->oldest = info->length > 0 ? info->first : st->oldest;
    }
    if (!cur->want) {
        st->after = st->position.id;
        finish_open(cur);
        return;
    }
    if (!decide(cur, info)) {
        finish_open(cur);
    }
}

/* Ask again with after = 0-0 to learn skip_to for a replay of every
 * retained entry that is over the cap. */
static void start_second(resdeliv_replay *cur)
{
    int rc;

    cur->second = 1;
    cur->busy = 1;
    rc = resdeliv_store_info(cur->log->store, &cur->key, &cur->status.after,
                             cur->cap, on_info, cur);
    if (rc < 0) {
        on_info(cur, rc, NULL);
    }
}

int resdeliv_replay_open_async(resdeliv_log *log, const char *channel,
                               const char *last_event_id, const char *epoch,
                               resdeliv_replay_open_cb cb, void *arg)
{
    resdeliv_replay *cur;
    int rc;

    if (log == NULL) {
        return RESDELIV_EINVAL;
    }
    if (cb == NULL) {
        resdeliv__log_seterr(log, "callback is NULL");
        return RESDELIV_EINVAL;
    }
    rc = cursor_new(log, channel, last_event_id, epoch, &cur);
    if (rc < 0) {
        return rc;
    }
    cur->open_cb = cb;
    cur->arg = arg;
    cur->busy = 1;
    /* The position is asked for even without a usable id: the caller
     * still tells the client where the log stands. */
    rc = resdeliv_store_info(log->store, &cur->key,
                             cur->want ? &cur->id : NULL,
                             cur->want ? cur->cap : 0, on_info, cur);
    if (rc < 0) {
        on_info(cur, rc, NULL);
    }
    return 0;
}

struct open_wait {
    int ran;
    int status;
    resdeliv_replay *cur;
};

static void on_open_wait(void *arg, int status, resdeliv_replay *cur)
{
    struct open_wait *w = arg;

    w->ran = 1;
    w->status = status;
    w->cur = cur;
}

int resdeliv_replay_open(resdeliv_log *log, const char *channel,
                         const char *last_event_id, const char *epoch,
                         resdeliv_replay **out)
{
    struct open_wait w = {0};
    int rc;

    if (log == NULL || out == NULL) {
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    if (!(log->store_flags & RESDELIV_STORE_SYNC)) {
        resdeliv__log_seterr(log,
                             "store '%s' is asynchronous: use "
                             "resdeliv_replay_open_async()",
                             resdeliv_store_name(log->store));
        return RESDELIV_ENOTSUP;
    }
    rc = resdeliv_replay_open_async(log, channel, last_event_id, epoch,
                                    on_open_wait, &w);
    if (rc < 0) {
        return rc;
    }
    if (!w.ran) {
        resdeliv__log_seterr(log, "store '%s' did not complete the info call",
                             resdeliv_store_name(log->store));
        return RESDELIV_ESTORE;
    }
    *out = w.cur;
    return w.status;
}

/* ---- reading ---------------------------------------------------------- */

/* The id just before `id` (not 0-0) in stream order. */
static struct resdeliv_id id_pred(const struct resdeliv_id *id)
{
    struct resdeliv_id p;

    if (id->seq > 0) {
        p.ms = id->ms;
        p.seq = id->seq - 1;
    } else {
        p.ms = id->ms - 1;
        p.seq = UINT64_MAX;
    }
    return p;
}

/* Completion of a page read: check, tag, account, hand over. */
static void on_read(void *arg, int status,
                    const struct resdeliv_stored_entry *in, size_t n,
                    const char *epoch)
{
    resdeliv_replay *cur = arg;
    resdeliv_replay_page_cb cb = cur->page_cb;
    void *cb_arg = cur->arg;
    int rc = status;

    cur->busy = 0;
    if (cur->closed) {
        cursor_free(cur);
        cb(cb_arg, RESDELIV_ECLOSED, NULL, 0);
        return;
    }
    epoch = epoch != NULL ? epoch : "";
    if (rc < 0) {
        resdeliv__log_store_err(cur->log, "read", rc);
        cur->done = 1;
    } else {
        rc = resdeliv__replay_check_page(cur, &in, &n, epoch);
    }
    if (rc == 0 && n > 0) {
        rc = resdeliv__replay_fill_page(cur, in, n, epoch);
        if (rc < 0) {
            cur->done = 1;
        }
    }
    if (rc < 0) {
        cb(cb_arg, rc, NULL, 0);
        return;
    }
    cur->count += n;
    cur->remaining -= n;
    cur->log->counters.replayed += n;
    if (n > 0) {
        cur->next_after = in[n - 1].id;
        cur->expect = cur->next_after;
        cur->check = 1;
        cur->drop_first = 1;
    }
    if (n == 0 || cur->remaining == 0) {
        cur->done = 1;
        resdeliv__replay_arm_tail(cur);
    }
    if (n == 0 && cur->tail > 0) {
        resdeliv__replay_tail_gap(cur);
        cb(cb_arg, RESDELIV_ESTALE, NULL, 0);
        return;
    }
    cb(cb_arg, 0, cur->entries, n);
}

int resdeliv_replay_fetch_async(resdeliv_replay *cur,
                                resdeliv_replay_page_cb cb, void *arg)
{
    struct resdeliv_id from;
    uint64_t max;
    int rc;

    if (cur == NULL || cb == NULL) {
        return RESDELIV_EINVAL;
    }
    if (cur->closed) {
        return RESDELIV_ECLOSED;
    }
    if (cur->busy) {
        return RESDELIV_EAGAIN;
    }
    if (cur->tail > 0) {
        resdeliv__replay_tail_gap(cur);
        cb(arg, RESDELIV_ESTALE, NULL, 0);
        return 0;
    }
    if (cur->done) {
        cb(arg, 0, NULL, 0);
        return 0;
    }
    max = cur->log->cfg->replay_batch_size;
    max = max == 0 || max > cur->remaining ? cur->remaining : max;
    if (max > SIZE_MAX / sizeof(struct resdeliv_replay_entry) - 1) {
        max = SIZE_MAX / sizeof(struct resdeliv_replay_entry) - 1;
    }
    from = cur->next_after;
    cur->asked = (size_t)max;
    if (cur->check && !resdeliv_id_is_zero(&cur->expect)) {
        from = id_pred(&cur->expect);
        cur->asked += (size_t)cur->drop_first;
    } else {
        cur->check = 0;
    }
    cur->page_cb = cb;
    cur->arg = arg;
    cur->busy = 1;
    rc = resdeliv_store_read(cur->log->store, &cur->key, &from, cur->asked,
                             on_read, cur);
    if (rc < 0) {
        on_read(cur, rc, NULL, 0, NULL);
    }
    return 0;
}

struct page_wait {
    int ran;
    int status;
    const struct resdeliv_replay_entry *entries;
    size_t n;
};

static void on_page_wait(void *arg, int status,
                         const struct resdeliv_replay_entry *entries,
                         size_t n)
{
    struct page_wait *w = arg;

    w->ran = 1;
    w->status = status;
    w->entries = entries;
    w->n = n;
}

int resdeliv_replay_next_page(resdeliv_replay *cur,
                              const struct resdeliv_replay_entry **entries,
                              size_t *n)
{
    struct page_wait w = {0};
    int rc;

    if (cur == NULL || entries == NULL || n == NULL) {
        return RESDELIV_EINVAL;
    }
    *entries = NULL;
    *n = 0;
    if (!(cur->log->store_flags & RESDELIV_STORE_SYNC)) {
        resdeliv__log_seterr(cur->log,
                             "store '%s' is asynchronous: use "
                             "resdeliv_replay_fetch_async()",
                             resdeliv_store_name(cur->log->store));
        return RESDELIV_ENOTSUP;
    }
    rc = resdeliv_replay_fetch_async(cur, on_page_wait, &w);
    if (rc < 0) {
        return rc;
    }
    if (!w.ran) {
        return RESDELIV_ESTORE;
    }
    *entries = w.entries;
    *n = w.n;
    return w.status;
}

/* ---- accessors -------------------------------------------------------- */

const struct resdeliv_replay_status *
resdeliv_replay_status(const resdeliv_replay *cur)
{
    return cur != NULL ? &cur->status : NULL;
}

uint64_t resdeliv_replay_count(const resdeliv_replay *cur)
{
    return cur != NULL ? cur->count : 0;
}

int resdeliv_replay_done(const resdeliv_replay *cur)
{
    return cur == NULL || cur->done;
}

void resdeliv_replay_close(resdeliv_replay *cur)
{
    if (cur == NULL) {
        return;
    }
    if (cur->busy) {
        cur->closed = 1;
        return;
    }
    cursor_free(cur);
}
