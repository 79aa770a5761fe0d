/* SPDX-License-Identifier: MIT */
/*
 * The log handle and publishing: validate each broadcast, append a whole
 * batch with one store call (one round trip on a networked store), then tag
 * every appended payload with its id and epoch.
 *
 * Publishing runs for every broadcast a server sends, so the synchronous
 * path keeps to one heap allocation per message (the payload, sized once
 * from the tagging bound) and uses stack arrays for small batches. Each
 * payload is scanned once: planned before the append (which also tells the
 * store whether readers may take the fast tag path, RESDELIV_ENTRY_OBJECT)
 * and spliced after it, when the id is known. The synchronous calls are the
 * asynchronous ones run against a store that completes before returning,
 * with the operation state on the stack.
 *
 * A message delivered untagged because the store failed is in no log; the
 * handle counts such messages per channel (log_unlogged.c) and the
 * channel's next append carries a marker entry first, which replay turns
 * into a gap notice. Counters, position and drop are in log_info.c.
 */
#include "log_internal.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>

/* Batches up to this size need no heap besides the payloads; each message
 * may bring a marker item. */
#define SMALL_BATCH 16
#define SMALL_ITEMS (2 * SMALL_BATCH)

/* {"lost":N,"since":MS} with two 20-digit numbers fits. */
#define MARKER_DATA_SIZE 64

static const char whisper_prefix[] = "client-";
#define WHISPER_PREFIX_LEN (sizeof(whisper_prefix) - 1)
static const char reserved_prefix[] = RESDELIV_RESERVED_EVENT_PREFIX;
#define RESERVED_PREFIX_LEN (sizeof(reserved_prefix) - 1)

/* The tag plan of one message, made before the append, and the marker
 * item that goes right before it, if any. */
struct pub_plan {
    struct resdeliv__tag_plan plan;
    int ok;             /* the data is a taggable object */
    int marker;         /* a marker item precedes this message's item */
    uint64_t mark_upto; /* the channel's failure total the marker covers */
    char mark_data[MARKER_DATA_SIZE];
};

/* State of one publish call, alive until the store completes it. */
struct pub_op {
    resdeliv_log *log;
    const struct resdeliv_message *msgs;
    struct resdeliv_publish_result *results;
    struct pub_plan *plans;  /* one per message */
    size_t n;
    size_t nitems;           /* messages handed to the store */
    resdeliv_publish_cb cb;  /* NULL for a synchronous call */
    void *arg;
    void *block;             /* heap block holding this op, if any */
    int ran;                 /* the store completed */
};

void resdeliv__log_seterr(resdeliv_log *log, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(log->errmsg, sizeof(log->errmsg), fmt, ap);
    va_end(ap);
}

void resdeliv__log_store_err(resdeliv_log *log, const char *what,
                             int status)
{
    const char *detail = resdeliv_store_errmsg(log->store);

    if (detail == NULL || detail[0] == '\0') {
        detail = resdeliv_strerror(status);
    }
    resdeliv__log_seterr(log, "store %s: %s", what, detail);
}

int resdeliv__log_check_channel(resdeliv_log *log, const char *channel,
                                size_t len)
{
    if (channel == NULL || len == 0) {
        resdeliv__log_seterr(log, "channel is empty");
        return RESDELIV_EINVAL;
    }
    if (len > RESDELIV_MAX_CHANNEL_LEN) {
        resdeliv__log_seterr(log, "channel is longer than %d bytes",
                             RESDELIV_MAX_CHANNEL_LEN);
        return RESDELIV_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)channel[i];
        if (c < 0x20 || c == 0x7f) {
            resdeliv__log_seterr(log,
                                 "channel has a control character at "
                                 "byte %zu",
                                 i);
            return RESDELIV_EINVAL;
        }
    }
    return 0;
}

/* The data exactly as it came in; the tag bound always leaves room. */
static size_t copy_untagged(const char *data, size_t len, char *buf,
                            uint32_t *tagged)
{
    *tagged = 0;
    if (len > 0) {
        memcpy(buf, data, len);
    }
    buf[len] = '\0';
    return len;
}

size_t resdeliv__log_tag_into(const resdeliv_log *log, const char *data,
                              size_t len,
                              const struct resdeliv__tag_plan *plan,
                              const struct resdeliv_id *id,
                              const char *epoch, char *buf, size_t size,
                              uint32_t *tagged)
{
    struct resdeliv__tag_plan own;
    long w;

    /* The epoch comes from the store: one that could break the JSON is
     * not spliced in. */
    if (data == NULL || (epoch != NULL && epoch[0] != '\0' &&
                         resdeliv_epoch_check(epoch, strlen(epoch)) != 0)) {
        return copy_untagged(data, len, buf, tagged);
    }
    if (plan == NULL) {
        if (resdeliv__tag_plan(data, len, &log->fields, &own) != 0) {
            return copy_untagged(data, len, buf, tagged);
        }
        plan = &own;
    }
    w = resdeliv__tag_apply(data, len, plan, id, epoch, buf, size);
    if (w < 0) {
        return copy_untagged(data, len, buf, tagged);
    }
    *tagged = 1;
    return (size_t)w;
}

/* ---- open / close ---------------------------------------------------- */

static int check_app_id(const char *app_id, char *err, size_t errsize)
{
    size_t len;

    if (app_id == NULL || app_id[0] == '\0') {
        resdeliv__errf(err, errsize, "app_id is empty");
        return RESDELIV_EINVAL;
    }
    len = strnlen(app_id, RESDELIV_MAX_APP_ID_LEN + 1);
    if (len > RESDELIV_MAX_APP_ID_LEN) {
        resdeliv__errf(err, errsize, "app_id is longer than %d bytes",
                       RESDELIV_MAX_APP_ID_LEN);
        return RESDELIV_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)app_id[i];
        if (c < 0x20 || c == 0x7f) {
            resdeliv__errf(err, errsize,
                           "app_id has a control character at byte %zu", i);
            return RESDELIV_EINVAL;
        }
    }
    return 0;
}

/* The tag field names are checked here once, so that no publish or replay
 * checks them again. */
static int open_fields(resdeliv_log *log, char *err, size_t errsize)
{
    int rc = resdeliv__tag_fields_init(&log->fields, log->cfg->replay_id_field,
                                       log->cfg->replay_epoch_field);

    if (rc < 0) {
        resdeliv__errf(err, errsize,
                       "replay_id_field and replay_epoch_field must be "
                       "distinct member names without quotes, backslashes "
                       "or control characters");
        return rc;
    }
    /* No epoch yet: the first publish sets the values' epoch. */
    resdeliv__tag_values_init(&log->tv, &log->fields, log->epoch_ok);
    return 0;
}

int resdeliv_log_open(const struct resdeliv_config *cfg,
                      resdeliv_store *store, const char *app_id,
                      resdeliv_log **out, char *err, size_t errsize)
{
    struct resdeliv_config defaults;
    resdeliv_log *log;
    int rc;

    if (out == NULL) {
        resdeliv__errf(err, errsize, "out is NULL");
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    rc = check_app_id(app_id, err, errsize);
    if (rc < 0) {
        return rc;
    }
    if (cfg == NULL) {
        resdeliv_config_init(&defaults);
        cfg = &defaults;
    }
    log = calloc(1, sizeof(*log));
    if (log == NULL) {
        resdeliv__errf(err, errsize, "out of memory");
        return RESDELIV_ENOMEM;
    }
    rc = resdeliv__config_copy(cfg, &log->cfg, err, errsize);
    if (rc < 0) {
        free(log);
        return rc;
    }
    rc = open_fields(log, err, errsize);
    if (rc < 0) {
        resdeliv_log_close(log);
        return rc;
    }
    log->app_id_len = strlen(app_id);
    log->app_id = malloc(log->app_id_len + 1);
    if (log->app_id == NULL) {
        resdeliv__errf(err, errsize, "out of memory");
        resdeliv_log_close(log);
        return RESDELIV_ENOMEM;
    }
    memcpy(log->app_id, app_id, log->app_id_len + 1);
    if (store == NULL) {
        rc = resdeliv__store_from_url(log->cfg->connection,
                                      log->cfg->key_prefix, &store, err,
                                      errsize);
        if (rc < 0) {
            resdeliv_log_close(log);
            return rc;
        }
        log->own_store = 1;
    }
    log->store = store;
    log->store_flags = resdeliv_store_flags(store);
    log->id_field_len = strlen(log->cfg->replay_id_field);
    log->epoch_field_len = strlen(log->cfg->replay_epoch_field);
    *out = log;
    return 0;
}

void resdeliv_log_close(resdeliv_log *log)
{
    if (log == NULL) {
        return;
    }
    if (log->own_store) {
        resdeliv_store_free(log->store);
    }
    resdeliv__log_unlogged_free(log);
    resdeliv_config_free(log->cfg);
    free(log->app_id);
    free(log);
}

resdeliv_store *resdeliv_log_store(const resdeliv_log *log)
{
    return log != NULL ? log->store : NULL;
}

const struct resdeliv_config *resdeliv_log_config(const resdeliv_log *log)
{
    return log != NULL ? log->cfg : NULL;
}

const char *resdeliv_log_errmsg(const resdeliv_log *log)
{
    return log != NULL ? log->errmsg : "";
}

/* ---- publishing ------------------------------------------------------ */

void resdeliv_publish_result_clear(struct resdeliv_publish_result *res)
{
    if (res == NULL) {
        return;
    }
    free(res->payload);
    memset(res, 0, sizeof(*res));
}

static int check_message(resdeliv_log *log, const struct resdeliv_message *m)
{
    if (m->event == NULL || m->event_len == 0) {
        resdeliv__log_seterr(log, "event is empty");
        return RESDELIV_EINVAL;
    }
    if (m->event_len >= WHISPER_PREFIX_LEN &&
        memcmp(m->event, whisper_prefix, WHISPER_PREFIX_LEN) == 0) {
        resdeliv__log_seterr(log, "event '%.*s' is a client event",
                             (int)(m->event_len > 64 ? 64 : m->event_len),
                             m->event);
        return RESDELIV_EWHISPER;
    }
    if (m->event_len >= RESERVED_PREFIX_LEN &&
        memcmp(m->event, reserved_prefix, RESERVED_PREFIX_LEN) == 0) {
        resdeliv__log_seterr(log,
                             "event '%.*s' uses the reserved prefix "
                             "'" RESDELIV_RESERVED_EVENT_PREFIX "'",
                             (int)(m->event_len > 64 ? 64 : m->event_len),
                             m->event);
        return RESDELIV_EINVAL;
    }
    if (m->data == NULL && m->data_len > 0) {
        resdeliv__log_seterr(log, "data is NULL");
        return RESDELIV_EINVAL;
    }
    return resdeliv__log_check_channel(log, m->channel, m->channel_len);
}

static struct resdeliv_retention retention_of(const resdeliv_log *log,
                                              const char *channel,
                                              size_t len)
{
    struct resdeliv_retention r;
    char name[RESDELIV_MAX_CHANNEL_LEN + 1];
    const struct resdeliv_config *cfg = log->cfg;

    if (cfg->per_channel_count == 0) {
        r.max_messages = cfg->default_max_messages;
    } else {
        /* The glob match needs a NUL-terminated name; the length was
         * checked and control characters (NUL among them) refused. */
        memcpy(name, channel, len);
        name[len] = '\0';
        r.max_messages = resdeliv_config_channel_cap(cfg, name);
    }
    r.max_age_ms = cfg->max_age_seconds > UINT64_MAX / 1000
                       ? UINT64_MAX
                       : cfg->max_age_seconds * 1000;
    return r;
}

/* Plan the marker owed by message `m`'s channel, if any, before the
 * channel's first item of this call. @return 1 when planned. */
static int plan_marker(resdeliv_log *log, const struct resdeliv_message *m,
                       struct pub_plan *pp)
{
    pp->marker = resdeliv__log_unlogged_plan(
        log, m->channel, m->channel_len, &pp->mark_upto, pp->mark_data,
        sizeof(pp->mark_data));
    return pp->marker;
}

/* Items a call of `n` messages may need: a marker per message at most. */
static size_t items_needed(const resdeliv_log *log, size_t n)
{
    if (n > SIZE_MAX / 2) {
        return SIZE_MAX; /* items_for() refuses it */
    }
    return n + (log->unlogged_n < n ? log->unlogged_n : n);
}

/* The store appended message `i`: splice the id into its payload as
 * planned. */
/* Set the handle's tag values to `epoch` and `id`: 0, or -1 when the
 * epoch may not be spliced into JSON ("" is no epoch). */
static int tag_values(resdeliv_log *log, const char *epoch,
                      const struct resdeliv_id *id)
{
    if (strcmp(epoch, log->epoch_ok) != 0) {
        size_t len = strlen(epoch);
        if (len > 0 && resdeliv_epoch_check(epoch, len) != 0) {
            return -1;
        }
        memcpy(log->epoch_ok, epoch, len + 1);
        resdeliv__tag_values_init(&log->tv, &log->fields, log->epoch_ok);
    }
    return resdeliv__tag_values_id(&log->tv, id) == 0 ? 0 : -1;
}

static void result_logged(struct pub_op *op, size_t i,
                          const struct resdeliv_append_result *ar)
{
    resdeliv_log *log = op->log;
    const struct resdeliv_message *m = &op->msgs[i];
    struct resdeliv_publish_result *r = &op->results[i];
    const struct pub_plan *pp = &op->plans[i];
    size_t size = resdeliv__log_tag_bound(log, m->data_len);
    long w;

    r->logged = 1;
    r->position.id = ar->id;
    memcpy(r->position.epoch, ar->epoch, sizeof(r->position.epoch));
    r->position.epoch[sizeof(r->position.epoch) - 1] = '\0';
    r->payload = malloc(size);
    if (r->payload == NULL) {
        r->status = RESDELIV_ENOMEM;
        resdeliv__log_seterr(log, "out of memory tagging a payload");
        return;
    }
    if (pp->ok && tag_values(log, r->position.epoch, &r->position.id) == 0 &&
        (w = resdeliv__tag_apply_values(m->data, m->data_len, &pp->plan,
                                        &log->tv, r->payload, size)) >= 0) {
        r->payload_len = (size_t)w;
        r->tagged = 1;
    } else {
        r->payload_len =
            copy_untagged(m->data, m->data_len, r->payload, &r->tagged);
    }
    log->counters.published++;
    if (r->tagged) {
        log->counters.tagged++;
    } else {
        log->counters.untagged++;
        log->counters.not_object++;
    }
}

/* The store failed message `i`: deliver untagged or fail, as configured.
 * @return 1 when it had to fail because no marker could be owed for it. */
static int result_failed(struct pub_op *op, size_t i)
{
    resdeliv_log *log = op->log;
    const struct resdeliv_message *m = &op->msgs[i];
    struct resdeliv_publish_result *r = &op->results[i];

    log->counters.log_failures++;
    if (log->cfg->on_log_failure == RESDELIV_ON_FAILURE_FAIL) {
        r->status = RESDELIV_ESTORE;
        return 0;
    }
    r->payload = malloc(m->data_len + 1);
    if (r->payload == NULL) {
        r->status = RESDELIV_ENOMEM;
        return 0;
    }
    if (resdeliv__log_unlogged_note(log, m->channel, m->channel_len) < 0) {
        free(r->payload);
        r->payload = NULL;
        r->status = RESDELIV_ESTORE;
        return 1;
    }
    if (m->data_len > 0) {
        memcpy(r->payload, m->data, m->data_len);
    }
    r->payload[m->data_len] = '\0';
    r->payload_len = m->data_len;
    log->counters.published++;
    log->counters.untagged++;
    return 0;
}

static void finish_async(struct pub_op *op)
{
    op->cb(op->arg, 0, op->results, op->n);
    for (size_t i = 0; i < op->n; i++) {
        free(op->results[i].payload);
    }
    free(op->block);
}

static void append_err(resdeliv_log *log, int failure, size_t refused)
{
    size_t len;

    resdeliv__log_store_err(log, "append", failure);
    if (refused > 0) {
        len = strlen(log->errmsg);
        snprintf(log->errmsg + len, sizeof(log->errmsg) - len,
                 "; %zu message(s) not delivered: no room to remember "
                 "their channel for an unlogged marker (at most %d)",
                 refused, RESDELIV_MAX_UNLOGGED_CHANNELS);
    }
}

/*
 * Store completion. Messages refused before the append already carry a
 * non-zero status; the others match the store's results in order, each
 * after its marker's result when a marker went before it.
 */
static void on_append(void *arg, int status,
                      const struct resdeliv_append_result *res, size_t n)
{
    struct pub_op *op = arg;
    size_t k = 0;
    size_t refused = 0;
    int failure = 0;

    if (status >= 0 && (n != op->nitems || (n > 0 && res == NULL))) {
        status = RESDELIV_ESTORE;
    }
    for (size_t i = 0; i < op->n; i++) {
        const struct resdeliv_message *m = &op->msgs[i];
        if (op->results[i].status != 0) {
            continue;
        }
        if (op->plans[i].marker) {
            if (status >= 0 && res[k].status >= 0) {
                resdeliv__log_unlogged_marked(op->log, m->channel,
                                              m->channel_len,
                                              op->plans[i].mark_upto);
            }
            k++;
        }
        if (status < 0 || res[k].status < 0) {
            failure = failure ? failure : (status < 0 ? status : res[k].status);
            refused += (size_t)result_failed(op, i);
        } else {
            result_logged(op, i, &res[k]);
        }
        k++;
    }
    if (failure) {
        append_err(op->log, failure, refused);
    }
    op->ran = 1;
    if (op->cb != NULL) {
        finish_async(op);
    }
}

static void set_item(struct resdeliv_append_item *it,
                     const struct resdeliv_message *m, const char *event,
                     size_t event_len, const char *data, size_t data_len,
                     struct resdeliv_retention retention)
{
    it->channel = m->channel;
    it->channel_len = m->channel_len;
    it->event = event;
    it->event_len = event_len;
    it->data = data;
    it->data_len = data_len;
    it->retention = retention;
    it->flags = 0;
    it->reserved = 0;
}

/* Validate every message, then hand the valid ones to the store, each
 * after the marker its channel owes, if any. The operation completes
 * through on_append() in every case. */
static void pub_start(struct pub_op *op, struct resdeliv_append_item *items)
{
    resdeliv_log *log = op->log;
    size_t k = 0;
    int rc;

    log->unlogged_gen++;
    for (size_t i = 0; i < op->n; i++) {
        const struct resdeliv_message *m = &op->msgs[i];
        struct pub_plan *pp = &op->plans[i];
        struct resdeliv_retention r;
        rc = check_message(log, m);
        if (rc < 0) {
            op->results[i].status = rc;
            if (rc == RESDELIV_EWHISPER) {
                log->counters.whispers_refused++;
            }
            continue;
        }
        r = retention_of(log, m->channel, m->channel_len);
        if (plan_marker(log, m, pp)) {
            set_item(&items[k++], m, RESDELIV_UNLOGGED_EVENT,
                     sizeof(RESDELIV_UNLOGGED_EVENT) - 1, pp->mark_data,
                     strlen(pp->mark_data), r);
        }
        set_item(&items[k], m, m->event, m->event_len,
                 m->data != NULL ? m->data : "", m->data_len, r);
        pp->ok = resdeliv__tag_plan(items[k].data, m->data_len, &log->fields,
                                    &pp->plan) == 0;
        items[k].flags =
            pp->ok && pp->plan.nrep == 0 ? RESDELIV_ENTRY_OBJECT : 0;
        k++;
    }
    op->nitems = k;
    if (k == 0) {
        on_append(op, 0, NULL, 0);
        return;
    }
    rc = resdeliv_store_append(log->store, log->app_id, log->app_id_len,
                               items, k, on_append, op);
    if (rc < 0) {
        on_append(op, rc, NULL, 0);
    }
}

static struct resdeliv_append_item *
items_for(size_t n, struct resdeliv_append_item *small)
{
    if (n <= SMALL_ITEMS) {
        return small;
    }
    if (n > SIZE_MAX / sizeof(struct resdeliv_append_item)) {
        return NULL;
    }
    return malloc(n * sizeof(struct resdeliv_append_item));
}

static struct pub_plan *plans_for(size_t n, struct pub_plan *small)
{
    if (n <= SMALL_BATCH) {
        return small;
    }
    if (n > SIZE_MAX / sizeof(struct pub_plan)) {
        return NULL;
    }
    return malloc(n * sizeof(struct pub_plan));
}

int resdeliv_log_publish_batch(resdeliv_log *log,
                               const struct resdeliv_message *msgs, size_t n,
                               struct resdeliv_publish_result *results)
{
    struct resdeliv_append_item small[SMALL_ITEMS];
    struct pub_plan small_plans[SMALL_BATCH];
    struct resdeliv_append_item *items;
    struct pub_op op = {0};

    if (log == NULL) {
        return RESDELIV_EINVAL;
    }
    if (n > 0 && (msgs == NULL || results == NULL)) {
        resdeliv__log_seterr(log, "messages or results is NULL");
        return RESDELIV_EINVAL;
    }
    /* Results are defined (and safe to clear) whatever happens next. */
    if (n > 0) {
        memset(results, 0, n * sizeof(*results));
    }
    if (!(log->store_flags & RESDELIV_STORE_SYNC)) {
        resdeliv__log_seterr(log,
                             "store '%s' is asynchronous: use "
                             "resdeliv_log_publish_async()",
                             resdeliv_store_name(log->store));
        return RESDELIV_ENOTSUP;
    }
    items = items_for(items_needed(log, n), small);
    op.plans = items != NULL ? plans_for(n, small_plans) : NULL;
    if (op.plans == NULL) {
        if (items != small) {
            free(items);
        }
        resdeliv__log_seterr(log, "out of memory for a batch of %zu", n);
        return RESDELIV_ENOMEM;
    }
    op.log = log;
    op.msgs = msgs;
    op.results = results;
    op.n = n;
    pub_start(&op, items);
    if (items != small) {
        free(items);
    }
    if (op.plans != small_plans) {
        free(op.plans);
    }
    if (!op.ran) {
        resdeliv__log_seterr(log, "store '%s' did not complete the append",
                             resdeliv_store_name(log->store));
        return RESDELIV_ESTORE;
    }
    return 0;
}

int resdeliv_log_publish(resdeliv_log *log, const struct resdeliv_message *msg,
                         struct resdeliv_publish_result *res)
{
    int rc;

    if (log == NULL || msg == NULL || res == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = resdeliv_log_publish_batch(log, msg, 1, res);
    return rc < 0 ? rc : res->status;
}

static size_t align_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

/*
 * One heap block for an asynchronous publish: the op, the results, the
 * tag plans and, for a store that may complete later, a copy of the
 * messages (the caller's are borrowed only for the duration of the call).
 */
static struct pub_op *async_op_new(const struct resdeliv_message *msgs,
                                   size_t n, int copy)
{
    size_t off_res = align_up(sizeof(struct pub_op));
    size_t off_plan =
        off_res + align_up(n * sizeof(struct resdeliv_publish_result));
    size_t off_msg = off_plan + align_up(n * sizeof(struct pub_plan));
    size_t off_bytes = off_msg + (copy ? align_up(n * sizeof(*msgs)) : 0);
    size_t total = off_bytes;
    struct resdeliv_message *copies;
    struct pub_op *op;
    char *p;

    for (size_t i = 0; copy && i < n; i++) {
        total += msgs[i].channel_len + msgs[i].event_len + msgs[i].data_len;
    }
    p = calloc(1, total);
    if (p == NULL) {
        return NULL;
    }
    op = (struct pub_op *)(void *)p;
    op->block = p;
    op->results = (struct resdeliv_publish_result *)(void *)(p + off_res);
    op->plans = (struct pub_plan *)(void *)(p + off_plan);
    op->n = n;
    op->msgs = msgs;
    if (!copy) {
        return op;
    }
    copies = (struct resdeliv_message *)(void *)(p + off_msg);
    p += off_bytes;
    for (size_t i = 0; i < n; i++) {
        const struct resdeliv_message *m = &msgs[i];
        struct resdeliv_message *c = &copies[i];
        *c = *m;
        if (m->channel != NULL && m->channel_len > 0) {
            c->channel = memcpy(p, m->channel, m->channel_len);
            p += m->channel_len;
        }
        if (m->event != NULL && m->event_len > 0) {
            c->event = memcpy(p, m->event, m->event_len);
            p += m->event_len;
        }
        if (m->data != NULL && m->data_len > 0) {
            c->data = memcpy(p, m->data, m->data_len);
            p += m->data_len;
        }
    }
    op->msgs = copies;
    return op;
}

int resdeliv_log_publish_async(resdeliv_log *log,
                               const struct resdeliv_message *msgs, size_t n,
                               resdeliv_publish_cb cb, void *arg)
{
    struct resdeliv_append_item small[SMALL_ITEMS];
    struct resdeliv_append_item *items;
    struct pub_op *op;
    int copy;

    if (log == NULL) {
        return RESDELIV_EINVAL;
    }
    if (cb == NULL || (n > 0 && msgs == NULL)) {
        resdeliv__log_seterr(log, "callback or messages is NULL");
        return RESDELIV_EINVAL;
    }
    if (n > SIZE_MAX / 4 / (sizeof(struct resdeliv_publish_result) +
                            sizeof(struct pub_plan))) {
        resdeliv__log_seterr(log, "batch of %zu is too large", n);
        return RESDELIV_ENOMEM;
    }
    items = items_for(items_needed(log, n), small);
    copy = !(log->store_flags & RESDELIV_STORE_SYNC);
    op = items != NULL ? async_op_new(msgs, n, copy) : NULL;
    if (op == NULL) {
        if (items != small) {
            free(items);
        }
        resdeliv__log_seterr(log, "out of memory for a batch of %zu", n);
        return RESDELIV_ENOMEM;
    }
    op->log = log;
    op->cb = cb;
    op->arg = arg;
    pub_start(op, items);
    if (items != small) {
        free(items);
    }
    return 0;
}
