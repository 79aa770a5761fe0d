/* SPDX-License-Identifier: MIT */
/*
 * What the log handle answers besides publishing: its counters, a
 * channel's current position, and dropping a channel's log. Position and
 * drop are synchronous calls: they wait on the store's completion, which a
 * store with RESDELIV_STORE_SYNC runs before returning.
 */
#include "log_internal.h"

int resdeliv_log_counters(const resdeliv_log *log,
                          struct resdeliv_counters *out, size_t size)
{
    if (log == NULL || out == NULL || size == 0) {
        return RESDELIV_EINVAL;
    }
    memcpy(out, &log->counters,
           size < sizeof(log->counters) ? size : sizeof(log->counters));
    return 0;
}

void resdeliv_log_count_dedup_drops(resdeliv_log *log, uint64_t n)
{
    if (log != NULL) {
        log->counters.dedup_drops += n;
    }
}

struct info_wait {
    int ran;
    int status;
    struct resdeliv_log_info info;
};

static void on_info_wait(void *arg, int status,
                         const struct resdeliv_log_info *info)
{
    struct info_wait *w = arg;

    w->ran = 1;
    w->status = status;
    if (status >= 0 && info != NULL) {
        w->info = *info;
    }
}

/* Common checks of position and drop: a key for a NUL-terminated channel
 * on a synchronous store. */
static int sync_key(resdeliv_log *log, const char *channel,
                    struct resdeliv_log_key *key)
{
    size_t len;
    int rc;

    len = channel != NULL ? strnlen(channel, RESDELIV_MAX_CHANNEL_LEN + 1) : 0;
    rc = resdeliv__log_check_channel(log, channel, len);
    if (rc < 0) {
        return rc;
    }
    if (!(log->store_flags & RESDELIV_STORE_SYNC)) {
        resdeliv__log_seterr(log, "store '%s' is asynchronous",
                             resdeliv_store_name(log->store));
        return RESDELIV_ENOTSUP;
    }
    key->app_id = log->app_id;
    key->app_id_len = log->app_id_len;
    key->channel = channel;
    key->channel_len = len;
    return 0;
}

int resdeliv_log_position(resdeliv_log *log, const char *channel,
                          struct resdeliv_position *out)
{
    struct resdeliv_log_key key;
    struct info_wait w = {0};
    int rc;

    if (log == NULL || out == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = sync_key(log, channel, &key);
    if (rc < 0) {
        return rc;
    }
    rc = resdeliv_store_info(log->store, &key, NULL, 0, on_info_wait, &w);
    if (rc >= 0 && !w.ran) {
        rc = RESDELIV_ESTORE;
    } else if (rc >= 0) {
        rc = w.status;
    }
    if (rc < 0) {
        resdeliv__log_store_err(log, "info", rc);
        return rc;
    }
    memset(out, 0, sizeof(*out));
    if (w.info.exists) {
        out->id = w.info.last;
        memcpy(out->epoch, w.info.epoch, sizeof(out->epoch));
        out->epoch[sizeof(out->epoch) - 1] = '\0';
    }
    return 0;
}

static void on_done_wait(void *arg, int status)
{
    struct info_wait *w = arg;

    w->ran = 1;
    w->status = status;
}

int resdeliv_log_drop(resdeliv_log *log, const char *channel)
{
    struct resdeliv_log_key key;
    struct info_wait w = {0};
    int rc;

    if (log == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = sync_key(log, channel, &key);
    if (rc < 0) {
        return rc;
    }
    rc = resdeliv_store_drop(log->store, &key, on_done_wait, &w);
    if (rc >= 0 && !w.ran) {
        rc = RESDELIV_ESTORE;
    } else if (rc >= 0) {
        rc = w.status;
    }
    if (rc < 0) {
        resdeliv__log_store_err(log, "drop", rc);
    }
    return rc;
}
