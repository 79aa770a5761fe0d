/* SPDX-License-Identifier: MIT */
/*
 * The resdeliv plugin: libresdeliv's delivery (log, replay, subscription
 * seam, Pusher protocol server) behind the plugin ABI of plugin.h, so that
 * a host WebSocket server can dlopen it and drive it through hooks.
 *
 * Built as libresdeliv_plugin.so, which exports only resdeliv_plugin_entry
 * (hidden visibility plus a version script) and links libresdeliv.so. With
 * RESDELIV_PLUGIN_STATIC the same source links into a host instead: the
 * entry is then resdeliv_plugin_resdeliv_entry() (resdeliv_plugin.h), so
 * several static plugins can share one program.
 *
 * An instance owns a log (with its store) and a Pusher server for one app;
 * the subscription seam under that server serves hosts that speak Pusher
 * themselves. Everything here uses the library's public API only.
 */
#include "plugin_internal.h"
#include "resdeliv_plugin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_VERSION "0.1.0"

struct instance {
    struct resdeliv_plugin_host host; /* copy; app strings not kept */
    struct resdeliv_transport tp;     /* copy, for logging */
    resdeliv_store *store; /* the event-loop store we made, or NULL */
    resdeliv_log *log;
    resdeliv_pusher_server *ps;
    resdeliv_server *seam;
};

/* One broadcast whose completion may come before or after the hook
 * returns; whichever side is last frees it. */
struct bcast {
    struct instance *in;
    int waiting; /* the hook is still running */
    int done;
    int status;
};

static void say(const struct instance *in, uint32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const struct instance *in, uint32_t level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (in->tp.log == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    in->tp.log(in->tp.host, level, line);
}

static void errf(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errsize > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
}

/* ------------------------------------------------------------- create */

static int copy_host(const struct resdeliv_plugin_host *host,
                     struct instance *in, char *err, size_t errsize)
{
    const struct resdeliv_transport *t;
    int rc = resdeliv_plugin_host_copy(host, &in->host, sizeof(in->host));

    if (rc == RESDELIV_EABI) {
        errf(err, errsize,
             "host: ABI %#x with struct_size %u; this plugin speaks ABI "
             "major %u and needs at least %u bytes",
             (unsigned)host->abi_version, (unsigned)host->struct_size,
             RESDELIV_ABI_MAJOR, (unsigned)RESDELIV_PLUGIN_HOST_MIN_SIZE);
        return rc;
    }
    if (rc != 0) {
        errf(err, errsize, "host: %s",
             host == NULL ? "the host struct is NULL" : "transport is NULL");
        return rc;
    }
    t = in->host.transport;
    if (RESDELIV_ABI_VERSION_MAJOR(t->abi_version) != RESDELIV_ABI_MAJOR ||
        t->struct_size < offsetof(struct resdeliv_transport, log)) {
        errf(err, errsize,
             "host.transport: ABI %#x with struct_size %u is "
             "not ABI major %u",
             (unsigned)t->abi_version, (unsigned)t->struct_size,
             RESDELIV_ABI_MAJOR);
        return RESDELIV_EABI;
    }
    memcpy(&in->tp, t,
           t->struct_size < sizeof(in->tp) ? t->struct_size : sizeof(in->tp));
    in->tp.struct_size = (uint32_t)sizeof(in->tp);
    return 0;
}

/* One app string from the host or the configuration; both must agree. */
static int pick_app(const char *name, const char *from_host,
                    const char *from_cfg, const char **out, char *err,
                    size_t errsize)
{
    if (from_host != NULL && from_host[0] == '\0') {
        from_host = NULL;
    }
    if (from_host != NULL && from_cfg != NULL &&
        strcmp(from_host, from_cfg) != 0) {
        errf(err, errsize,
             "%s: the host gives \"%.64s\" and the "
             "configuration \"%.64s\"",
             name, from_host, from_cfg);
        return RESDELIV_EBADCONFIG;
    }
    *out = from_host != NULL ? from_host : from_cfg;
    if (*out == NULL) {
        errf(err, errsize,
             "%s: missing (set it in the configuration or "
             "the host struct)",
             name);
        return RESDELIV_EBADCONFIG;
    }
    return 0;
}

static int pick_apps(const struct instance *in,
                     struct resdeliv__plugin_settings *s, char *err,
                     size_t errsize)
{
    struct resdeliv_pusher_server_options *o = &s->limits;
    int rc;

    rc = pick_app("app_id", in->host.app_id, s->app[0], &o->app_id, err,
                  errsize);
    if (rc == 0) {
        rc = pick_app("app_key", in->host.app_key, s->app[1], &o->app_key, err,
                      errsize);
    }
    if (rc == 0) {
        rc = pick_app("app_secret", in->host.app_secret, s->app[2],
                      &o->app_secret, err, errsize);
    }
    return rc;
}

/* The log over the configured store: a store URL with the host's loop
 * gets the event-loop store (made here, freed by destroy); anything else
 * is made by the log itself from `connection`. */
static int open_log(struct instance *in, const struct resdeliv_config *cfg,
                    const char *app_id, char *err, size_t errsize)
{
    struct resdeliv_redis_options ro;
    int rc;

    if (in->host.loop != NULL && cfg->connection != NULL &&
        strcmp(cfg->connection, "memory") != 0) {
        resdeliv_redis_options_init(&ro);
        ro.url = cfg->connection;
        ro.key_prefix = cfg->key_prefix;
        rc = resdeliv_store_redis_async_new(&ro, in->host.loop, &in->store, err,
                                            errsize);
        if (rc != 0) {
            return rc;
        }
    }
    return resdeliv_log_open(cfg, in->store, app_id, &in->log, err, errsize);
}

static void instance_free(struct instance *in)
{
    if (in == NULL) {
        return;
    }
    resdeliv_pusher_server_free(in->ps);
    /* The store before the log: operations still in flight complete now,
     * into a log and an instance that still exist. */
    resdeliv_store_free(in->store);
    resdeliv_log_close(in->log);
    free(in);
}

static int build(struct instance *in, const char *config, size_t config_len,
                 char *err, size_t errsize)
{
    struct resdeliv__plugin_settings s;
    int rc;

    resdeliv__plugin_settings_init(&s);
    rc = resdeliv__plugin_settings_parse(&s, config, config_len, err, errsize);
    if (rc == 0) {
        rc = pick_apps(in, &s, err, errsize);
    }
    if (rc == 0) {
        rc = open_log(in, s.cfg, s.limits.app_id, err, errsize);
    }
    if (rc == 0) {
        rc = resdeliv_pusher_server_new(in->log, in->host.transport, &s.limits,
                                        &in->ps, err, errsize);
    }
    if (rc == 0) {
        in->seam = resdeliv_pusher_server_seam(in->ps);
    }
    /* Every string the library keeps was copied by now. */
    resdeliv__plugin_settings_clear(&s);
    return rc;
}

static int p_create(const struct resdeliv_plugin_host *host, const char *config,
                    size_t config_len, void **instance, char *err,
                    size_t errsize)
{
    struct instance *in;
    int rc;

    if (instance == NULL) {
        errf(err, errsize, "instance: the out pointer is NULL");
        return RESDELIV_EINVAL;
    }
    *instance = NULL;
    if (config == NULL && config_len > 0) {
        errf(err, errsize, "configuration: NULL with a length");
        return RESDELIV_EINVAL;
    }
    in = calloc(1, sizeof(*in));
    if (in == NULL) {
        errf(err, errsize, "out of memory");
        return RESDELIV_ENOMEM;
    }
    rc = copy_host(host, in, err, errsize);
    if (rc == 0) {
        rc = build(in, config, config_len, err, errsize);
    }
    if (rc != 0) {
        instance_free(in);
        return rc;
    }
    say(in, RESDELIV_LOG_INFO,
        "resdeliv plugin " PLUGIN_VERSION ": app ready on the %s store",
        resdeliv_store_name(resdeliv_log_store(in->log)));
    *instance = in;
    return 0;
}

static void p_destroy(void *instance)
{
    instance_free(instance);
}

/* ---------------------------------------------------- connection hooks */

static int p_conn_open(void *instance, void *conn, const char *path)
{
    struct instance *in = instance;

    if (in == NULL || conn == NULL) {
        return RESDELIV_EINVAL;
    }
    if (path == NULL) {
        return resdeliv_server_conn_open(in->seam, conn);
    }
    return resdeliv_pusher_server_open(in->ps, conn, path);
}

static void p_conn_close(void *instance, void *conn)
{
    struct instance *in = instance;

    if (in == NULL || conn == NULL) {
        return;
    }
    /* A Pusher connection is closed in the seam by the first call; one
     * the host opened with a NULL path only by the second. */
    resdeliv_pusher_server_close(in->ps, conn);
    resdeliv_server_conn_close(in->seam, conn);
}

static int p_message(void *instance, void *conn, const char *text, size_t len)
{
    struct instance *in = instance;

    if (in == NULL) {
        return RESDELIV_EINVAL;
    }
    return resdeliv_pusher_server_message(in->ps, conn, text, len);
}

static int p_writable(void *instance, void *conn)
{
    struct instance *in = instance;
    int rc;

    if (in == NULL || conn == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = resdeliv_pusher_server_writable(in->ps, conn);
    if (rc == RESDELIV_ENOENT) {
        rc = resdeliv_server_writable(in->seam, conn);
    }
    return rc;
}

/* ------------------------------------------- hosts that speak Pusher */

static int p_subscription_succeeded(void *instance, void *conn,
                                    const char *channel,
                                    const char *last_event_id,
                                    const char *last_event_epoch,
                                    const char *data, size_t data_len)
{
    struct instance *in = instance;

    if (in == NULL || (data == NULL && data_len > 0)) {
        return RESDELIV_EINVAL;
    }
    return resdeliv_server_subscribe(in->seam, conn, channel, last_event_id,
                                     last_event_epoch, data, data_len);
}

static int p_subscribe(void *instance, void *conn, const char *channel,
                       const char *last_event_id, const char *last_event_epoch)
{
    return p_subscription_succeeded(instance, conn, channel, last_event_id,
                                    last_event_epoch, NULL, 0);
}

static int p_unsubscribe(void *instance, void *conn, const char *channel)
{
    struct instance *in = instance;

    if (in == NULL) {
        return RESDELIV_EINVAL;
    }
    return resdeliv_server_unsubscribe(in->seam, conn, channel);
}

static void on_broadcast(void *arg, int status,
                         struct resdeliv_publish_result *results, size_t n)
{
    struct bcast *b = arg;

    if (status == 0 && n > 0) {
        status = results[0].status;
    }
    if (b->waiting) {
        b->done = 1;
        b->status = status;
        return;
    }
    if (status != 0) {
        say(b->in, RESDELIV_LOG_WARN, "resdeliv plugin: broadcast failed: %s",
            resdeliv_strerror(status));
    }
    free(b);
}

static int p_broadcast(void *instance, const char *channel, const char *event,
                       const char *data, size_t data_len, void *except)
{
    struct instance *in = instance;
    struct resdeliv_message m;
    struct bcast *b;
    int rc;

    if (in == NULL || channel == NULL || event == NULL ||
        (data == NULL && data_len > 0)) {
        return RESDELIV_EINVAL;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return RESDELIV_ENOMEM;
    }
    b->in = in;
    b->waiting = 1;
    m = (struct resdeliv_message){
        channel,       strlen(channel),          event,
        strlen(event), data != NULL ? data : "", data_len};
    rc = resdeliv_server_publish(in->seam, &m, 1, except, on_broadcast, b);
    b->waiting = 0;
    if (rc != 0 || b->done) {
        rc = rc != 0 ? rc : b->status;
        free(b);
    }
    return rc;
}

static int p_http(void *instance, const struct resdeliv_http_request *req,
                  uint64_t now_s, resdeliv_http_done_cb done, void *arg)
{
    struct instance *in = instance;

    if (in == NULL) {
        return RESDELIV_EINVAL;
    }
    return resdeliv_pusher_server_http(in->ps, req, now_s, done, arg);
}

/* -------------------------------------------------------------- entry */

static const struct resdeliv_plugin descriptor = {
    RESDELIV_STRUCT_HEAD(descriptor),
    .name = "resdeliv",
    .version = PLUGIN_VERSION,
    .create = p_create,
    .destroy = p_destroy,
    .conn_open = p_conn_open,
    .conn_close = p_conn_close,
    .message = p_message,
    .subscribe = p_subscribe,
    .subscription_succeeded = p_subscription_succeeded,
    .broadcast = p_broadcast,
    .http = p_http,
    .writable = p_writable,
    .unsubscribe = p_unsubscribe,
};

#if defined(RESDELIV_PLUGIN_STATIC)
const struct resdeliv_plugin *resdeliv_plugin_resdeliv_entry(uint32_t host_abi)
#else
RESDELIV_PLUGIN_EXPORT const struct resdeliv_plugin *
resdeliv_plugin_entry(uint32_t host_abi);

RESDELIV_PLUGIN_EXPORT const struct resdeliv_plugin *
resdeliv_plugin_entry(uint32_t host_abi)
#endif
{
    if (RESDELIV_ABI_VERSION_MAJOR(host_abi) != RESDELIV_ABI_MAJOR) {
        return NULL;
    }
    return &descriptor;
}
