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
 * A cursor closed while a store call is in flight is only marked; the
 * completion reports RESDELIV_ECLOSED to the caller's callback and frees
 * it. The log handle must outlive its cursors.
 */
#include "log_internal.h"

#include <cjson/cJSON.h>

#include <stdlib.h>

#define UNLOGGED_EVENT_LEN (sizeof(RESDELIV_UNLOGGED_EVENT) - 1)

struct resdeliv_replay {
    resdeliv_log *log;
    struct resdeliv_log_key key;
    char channel[RESDELIV_MAX_CHANNEL_LEN + 1];
    struct resdeliv_replay_status status;
    struct resdeliv_id id;               /* the client's id */
    char epoch[RESDELIV_EPOCH_BUFSIZE];  /* the client's epoch, "" = none */
    int want;        /* a valid id was given: decide and replay */
    int invalid;     /* the id or the epoch was malformed */
    int second;      /* the info call with after = 0-0 is in flight */
    int busy;        /* a store call is in flight */
    int closed;      /* closed while busy: free on completion */
    int done;
    /* Reached the end of the log while this handle owed a marker for the
     * channel: `tail` messages to report on the next fetch, once. */
    uint64_t tail;
    int tail_seen;
    uint64_t cap;        /* replay cap, 0 = none */
    uint64_t remaining;  /* entries still to yield */
    struct resdeliv_id next_after;
    /* With `check`, the next read starts just before `expect`, which the
     * store must return first; `drop_first`: it was yielded already. */
    int check;
    int drop_first;
    struct resdeliv_id expect;
    size_t asked;        /* entries asked of the store for this page */
    uint64_t count;
    char *buf;           /* page buffer: events and payloads */
    size_t buf_size;
    struct resdeliv_replay_entry *entries;
    size_t entries_size;
    resdeliv_replay_open_cb open_cb;
    resdeliv_replay_page_cb page_cb;
    void *arg;
};

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

static void arm_tail(resdeliv_replay *cur);

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
            arm_tail(cur);
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

/* Room for `n` entries and `bytes` of events and payloads. */
static int reserve(resdeliv_replay *cur, size_t n, size_t bytes)
{
    if (bytes > cur->buf_size) {
        size_t size = cur->buf_size * 2 > bytes ? cur->buf_size * 2 : bytes;
        char *p = realloc(cur->buf, size);
        if (p == NULL) {
            return RESDELIV_ENOMEM;
        }
        cur->buf = p;
        cur->buf_size = size;
    }
    if (n > cur->entries_size) {
        struct resdeliv_replay_entry *e =
            realloc(cur->entries, n * sizeof(*cur->entries));
        if (e == NULL) {
            return RESDELIV_ENOMEM;
        }
        cur->entries = e;
        cur->entries_size = n;
    }
    return 0;
}

/* Tag one page into the cursor's buffer, reserved once for the page. */
static int fill_page(resdeliv_replay *cur,
                     const struct resdeliv_stored_entry *in, size_t n,
                     const char *epoch)
{
    const resdeliv_log *log = cur->log;
    /* Per entry: the event's NUL and the tag bound of empty data. */
    size_t fixed = resdeliv__log_tag_bound(log, 0) + 1;
    size_t bytes = 0;
    int fast = epoch[0] == '\0' ||
               resdeliv_epoch_check(epoch, strlen(epoch)) == 0;
    char *p;
    int rc;

    for (size_t i = 0; i < n; i++) {
        bytes += in[i].event_len + in[i].data_len + fixed;
    }
    rc = reserve(cur, n, bytes);
    if (rc < 0) {
        return rc;
    }
    p = cur->buf;
    for (size_t i = 0; i < n; i++) {
        struct resdeliv_replay_entry *e = &cur->entries[i];
        size_t bound = in[i].data_len + fixed - 1;
        long w = -1;

        if (in[i].event_len > 0) {
            memcpy(p, in[i].event, in[i].event_len);
        }
        p[in[i].event_len] = '\0';
        e->id = in[i].id;
        e->event = p;
        e->event_len = in[i].event_len;
        p += in[i].event_len + 1;
        if (fast && (in[i].flags & RESDELIV_ENTRY_OBJECT)) {
            w = resdeliv__tag_insert(in[i].data, in[i].data_len, &log->fields,
                                     &e->id, epoch, p, bound);
        }
        if (w >= 0) {
            e->payload_len = (size_t)w;
            e->tagged = 1;
        } else {
            e->payload_len = resdeliv__log_tag_into(
                log, in[i].data, in[i].data_len, NULL, &e->id, epoch, p,
                bound, &e->tagged);
        }
        e->payload = p;
        e->reserved = 0;
        p += e->payload_len + 1;
    }
    return 0;
}

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

/* History changed under the replay: the status reports it from now on. */
static void history_gap(resdeliv_replay *cur, uint32_t reason,
                        const struct resdeliv_id *oldest)
{
    struct resdeliv_replay_status *st = &cur->status;

    st->continuous = 0;
    st->reason = reason;
    st->has_oldest = oldest != NULL;
    memset(&st->oldest, 0, sizeof(st->oldest));
    if (oldest != NULL) {
        st->oldest = *oldest;
    }
    st->lost = -1;
    cur->log->counters.gaps++;
}

/* The log was dropped (epoch "": not recreated) or recreated: go on from
 * the start of the log that is there now, up to the cap. */
static void epoch_gap(resdeliv_replay *cur, const char *epoch)
{
    struct resdeliv_replay_status *st = &cur->status;
    size_t len = strnlen(epoch, sizeof(st->position.epoch) - 1);

    history_gap(cur,
                len > 0 ? RESDELIV_GAP_EPOCH_CHANGED : RESDELIV_GAP_MISSING,
                NULL);
    memcpy(st->position.epoch, epoch, len);
    st->position.epoch[len] = '\0';
    memset(&st->position.id, 0, sizeof(st->position.id));
    memset(&st->after, 0, sizeof(st->after));
    memset(&cur->next_after, 0, sizeof(cur->next_after));
    cur->check = 0;
    cur->drop_first = 0;
    if (cur->cap == 0) {
        cur->remaining = UINT64_MAX;
    } else {
        cur->remaining = cur->cap > cur->count ? cur->cap - cur->count : 0;
    }
    st->expected = cur->remaining > UINT64_MAX - cur->count
                       ? UINT64_MAX
                       : cur->count + cur->remaining;
    cur->done = cur->remaining == 0;
    resdeliv__log_seterr(cur->log,
                         "log of channel '%s' changed epoch during replay",
                         cur->channel);
}

/* The entry the read had to start with is gone: trimmed. Go on from the
 * oldest retained entry (checked the same way), or after the last yielded
 * one when nothing is retained. */
static void trim_gap(resdeliv_replay *cur,
                     const struct resdeliv_stored_entry *in, size_t n)
{
    history_gap(cur, RESDELIV_GAP_TRIMMED, n > 0 ? &in[0].id : NULL);
    cur->check = n > 0;
    cur->drop_first = 0;
    if (n > 0) {
        cur->expect = in[0].id;
    }
    resdeliv__log_seterr(cur->log,
                         "log of channel '%s' was trimmed during replay",
                         cur->channel);
}

static int is_marker(const struct resdeliv_stored_entry *e)
{
    return e->event_len == UNLOGGED_EVENT_LEN && e->event != NULL &&
           memcmp(e->event, RESDELIV_UNLOGGED_EVENT, UNLOGGED_EVENT_LEN) == 0;
}

/* The "lost" count of a marker's data, or -1 when it cannot be read. */
static int64_t marker_lost(const struct resdeliv_stored_entry *e)
{
    cJSON *root;
    const cJSON *v;
    int64_t lost = -1;

    if (e->data == NULL || e->data_len == 0) {
        return -1;
    }
    root = cJSON_ParseWithLength(e->data, e->data_len);
    v = cJSON_GetObjectItemCaseSensitive(root, "lost");
    /* Integers up to 2^53 are exact in a double. */
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
        v->valuedouble <= 9007199254740992.0 &&
        (double)(int64_t)v->valuedouble == v->valuedouble) {
        lost = (int64_t)v->valuedouble;
    }
    cJSON_Delete(root);
    return lost;
}

static void unlogged_status(resdeliv_replay *cur, int64_t lost)
{
    struct resdeliv_replay_status *st = &cur->status;

    st->continuous = 0;
    st->reason = RESDELIV_GAP_UNLOGGED;
    st->lost = lost;
    cur->log->counters.gaps++;
    resdeliv__log_seterr(cur->log,
                         "messages of channel '%s' went out while the store "
                         "failed and are in no log",
                         cur->channel);
}

/* The end of the log is reached: messages this handle delivered untagged
 * and has not marked in the log yet came after every entry read. Keep the
 * cursor open to report them on the next fetch (once per cursor). */
static void arm_tail(resdeliv_replay *cur)
{
    uint64_t owed;

    if (cur->tail_seen) {
        return;
    }
    owed = resdeliv__log_unlogged_owed(cur->log, cur->key.channel,
                                       cur->key.channel_len);
    if (owed > 0) {
        cur->tail = owed;
        cur->done = 0;
    }
}

static void tail_gap(resdeliv_replay *cur)
{
    unlogged_status(cur, cur->tail > INT64_MAX ? -1 : (int64_t)cur->tail);
    cur->tail = 0;
    cur->tail_seen = 1;
    cur->done = 1;
}

/* The page starts with markers: report them as one gap and step over them
 * (the next read starts at the last of them, which must still be there). */
static void unlogged_gap(resdeliv_replay *cur,
                         const struct resdeliv_stored_entry *in, size_t n)
{
    struct resdeliv_replay_status *st = &cur->status;
    uint64_t owed = st->expected - (st->expected > cur->count ? cur->count
                                                               : st->expected);
    int64_t lost = 0;
    size_t j = 0;

    for (; j < n && is_marker(&in[j]); j++) {
        int64_t l = marker_lost(&in[j]);
        lost = lost < 0 || l < 0 || l > INT64_MAX - lost ? -1 : lost + l;
    }
    unlogged_status(cur, lost);
    /* Markers were counted as entries of the log: not as entries to
     * yield. UINT64_MAX stands for "unknown" and stays. */
    if (st->expected != UINT64_MAX) {
        st->expected -= j < owed ? j : owed;
    }
    if (cur->remaining != UINT64_MAX) {
        cur->remaining -= j < cur->remaining ? j : cur->remaining;
    }
    cur->next_after = in[j - 1].id;
    cur->expect = cur->next_after;
    cur->check = 1;
    cur->drop_first = 1;
    cur->done = cur->remaining == 0;
    if (cur->done) {
        arm_tail(cur);
    }
}

/* A page hands out entries up to the first marker; one that starts with
 * a marker reports it. */
static int split_at_marker(resdeliv_replay *cur,
                           const struct resdeliv_stored_entry *in, size_t *n)
{
    if (*n > 0 && is_marker(&in[0])) {
        unlogged_gap(cur, in, *n);
        return RESDELIV_ESTALE;
    }
    for (size_t i = 1; i < *n; i++) {
        if (is_marker(&in[i])) {
            *n = i;
            break;
        }
    }
    return 0;
}

/* Check a page against the cursor's state. @return 0 with `*in`/`*n`
 * the entries to hand out, or a negative code. */
static int check_page(resdeliv_replay *cur,
                      const struct resdeliv_stored_entry **in, size_t *n,
                      const char *epoch)
{
    if (*n > cur->asked || (*n > 0 && *in == NULL)) {
        resdeliv__log_seterr(cur->log, "store read returned too many entries");
        cur->done = 1;
        return RESDELIV_ESTORE;
    }
    if (strcmp(epoch, cur->status.position.epoch) != 0) {
        epoch_gap(cur, epoch);
        return RESDELIV_ESTALE;
    }
    if (cur->check) {
        if (*n == 0 || resdeliv_id_cmp(&(*in)[0].id, &cur->expect) != 0) {
            trim_gap(cur, *in, *n);
            return RESDELIV_ESTALE;
        }
        if (cur->drop_first) {
            (*in)++;
            (*n)--;
        }
    }
    return split_at_marker(cur, *in, n);
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
        rc = check_page(cur, &in, &n, epoch);
    }
    if (rc == 0 && n > 0) {
        rc = fill_page(cur, in, n, epoch);
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
        arm_tail(cur);
    }
    if (n == 0 && cur->tail > 0) {
        tail_gap(cur);
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
        tail_gap(cur);
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
