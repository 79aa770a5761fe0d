/* SPDX-License-Identifier: MIT */
/*
 * The replay cursor's pages: checking what the store returned against what
 * the cursor expects, and tagging the entries to hand out.
 *
 * A read from the second page on starts at the predecessor of the last id
 * yielded, so the store's first answer must be that entry again; when it
 * is not the log was trimmed under the replay, and when the epoch differs
 * it was dropped or recreated. Either turns the fetch into RESDELIV_ESTALE
 * with the status saying so, and the next fetch goes on from what the log
 * still holds. Marker entries (RESDELIV_UNLOGGED_EVENT) end a page; the
 * fetch that reaches them reports reason unlogged, and the one after goes
 * on past them. Messages the handle delivered untagged and has not marked
 * yet are reported once at the end of the log.
 */
#include "log_internal.h"

#include <cjson/cJSON.h>

#include <stdlib.h>

#define UNLOGGED_EVENT_LEN (sizeof(RESDELIV_UNLOGGED_EVENT) - 1)

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

int resdeliv__replay_fill_page(resdeliv_replay *cur,
                               const struct resdeliv_stored_entry *in,
                               size_t n, const char *epoch)
{
    const resdeliv_log *log = cur->log;
    /* Per entry: the event's NUL and the tag bound of empty data. */
    size_t fixed = resdeliv__log_tag_bound(log, 0) + 1;
    size_t bytes = 0;
    struct resdeliv__tag_values tv;
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
    /* The epoch is the page's; ids in a row share their ms. */
    resdeliv__tag_values_init(&tv, &log->fields, fast ? epoch : NULL);
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
            resdeliv__tag_values_id(&tv, &e->id);
            w = resdeliv__tag_insert_values(in[i].data, in[i].data_len,
                                            &log->fields, &tv, p, bound);
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

void resdeliv__replay_arm_tail(resdeliv_replay *cur)
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

void resdeliv__replay_tail_gap(resdeliv_replay *cur)
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
        resdeliv__replay_arm_tail(cur);
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

int resdeliv__replay_check_page(resdeliv_replay *cur,
                                const struct resdeliv_stored_entry **in,
                                size_t *n, const char *epoch)
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
