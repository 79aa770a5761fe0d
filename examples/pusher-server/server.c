/* SPDX-License-Identifier: MIT */
/*
 * resdeliv-server: a Pusher-compatible server (protocol 7) with replay, on
 * libwebsockets running on a libuv loop. Pusher clients (pusher-js,
 * Laravel Echo) connect to ws://HOST:PORT/app/{key}; Pusher server SDKs
 * publish with POST /apps/{id}/events and /apps/{id}/batch_events. Every
 * published event is logged per channel; a client that resubscribes with
 * last_event_id gets what it missed, then live messages.
 *
 * The store is the embedded memory store, or Redis (`--store redis://...`)
 * driven by the same libuv loop, so several server processes share the
 * history. With `--cluster` (Redis only) they also share live delivery:
 * every append is PUBLISHed with the entry (the store's `publish`), one
 * bus per node listens to the channels that have subscribers here and
 * hands each entry, in log order, to the seam, which delivers live
 * messages from the bus only (bus.h). A message published on any node
 * thus reaches the subscribers of every node, and a client may resume on
 * another node with its last id. SIGINT and SIGTERM stop it cleanly.
 */
#include "resdeliv_lws.h"

#include <resdeliv/adapters/libuv.h>
#include <resdeliv/bus.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2

struct cli {
    long port;
    const char *host;
    const char *app_id;
    const char *app_key;
    const char *app_secret;
    const char *store;
    const char *retention;
    const char *config;
    const char *node_id;
    int cluster;
    int verbose;
};

struct app {
    uv_loop_t loop;
    uv_signal_t sig[2];
    struct lws_context *ctx;
    struct resdeliv_config *cfg;
    resdeliv_store *store;
    resdeliv_log *log;
    resdeliv_lws *rl;
    resdeliv_bus *bus;
    resdeliv_presence *presence;
    const char *node_id;
    int cluster;
    int stopping;
};

static const char usage_text[] =
    "usage: resdeliv-server [options]\n"
    "  --port P           listen port (default 6001; 0 picks a free one)\n"
    "  --host ADDR        listen address (default 127.0.0.1)\n"
    "  --app-id ID        Pusher app id (default app-id)\n"
    "  --app-key KEY      Pusher app key (default app-key)\n"
    "  --app-secret S     Pusher app secret (default app-secret)\n"
    "  --store STORE      memory (default) or redis://[user:pass@]host"
    "[:port][/db]\n"
    "  --retention N      messages kept per channel (default 1000)\n"
    "  --config FILE      libresdeliv configuration (JSON)\n"
    "  --cluster          one node of several sharing the Redis store: live\n"
    "                     messages reach the subscribers of every node, in\n"
    "                     log order, through Redis pub/sub (needs redis://\n"
    "                     or unix:// as the store)\n"
    "  --node-id ID       this node's name in logs (1-64 of A-Z a-z 0-9 . _\n"
    "                     -; default node-<pid>)\n"
    "  --verbose          log connections and requests\n"
    "  --help             this text\n";

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "resdeliv-server: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'resdeliv-server --help'\n");
    return EXIT_USAGE;
}

static int parse_port(struct cli *c, const char *v)
{
    char *end = NULL;

    errno = 0;
    c->port = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || c->port < 0 ||
        c->port > 65535) {
        return usage_error("--port: '%s' is not a port (0-65535)", v);
    }
    return 0;
}

static int check_value(const char *flag, const char *v)
{
    if (v == NULL) {
        return usage_error("%s needs a value", flag);
    }
    if (*v == '\0') {
        return usage_error("%s: empty value", flag);
    }
    return 0;
}

static int parse_one(struct cli *c, const char *flag, const char *v)
{
    static const char *const names[] = {
        "--host",      "--app-id", "--app-key", "--app-secret",
        "--store",     "--retention", "--config", "--node-id"};
    const char **slots[] = {&c->host,       &c->app_id, &c->app_key,
                            &c->app_secret, &c->store,  &c->retention,
                            &c->config,     &c->node_id};

    int rc;

    if (strcmp(flag, "--port") == 0) {
        rc = check_value(flag, v);
        return rc == 0 ? parse_port(c, v) : rc;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(flag, names[i]) == 0) {
            rc = check_value(flag, v);
            if (rc == 0) {
                *slots[i] = v;
            }
            return rc;
        }
    }
    return usage_error("unknown option '%s'", flag);
}

/* The node id's form (the presence registry's: bus.h, presence.h) and
 * --cluster's need of Redis, as far as the command line tells (a store
 * from --config is checked once loaded). */
static int check_node(const struct cli *c)
{
    size_t n = c->node_id != NULL ? strlen(c->node_id) : 0;

    if (n > 64) {
        return usage_error("--node-id: longer than 64 bytes");
    }
    for (size_t i = 0; i < n; i++) {
        char ch = c->node_id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-')) {
            return usage_error("--node-id: '%s' has a character other than "
                               "A-Z a-z 0-9 . _ -",
                               c->node_id);
        }
    }
    if (c->cluster && c->config == NULL && strcmp(c->store, "memory") == 0) {
        return usage_error("--cluster needs a Redis store (--store "
                           "redis://...)");
    }
    return 0;
}

/* @return 0 to run, 1 after --help, EXIT_USAGE on a bad command line. */
static int parse_cli(struct cli *c, int argc, char **argv)
{
    c->port = 6001;
    c->host = "127.0.0.1";
    c->app_id = "app-id";
    c->app_key = "app-key";
    c->app_secret = "app-secret";
    c->store = "memory";
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        int rc;
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            fputs(usage_text, stdout);
            return 1;
        }
        if (strcmp(flag, "--verbose") == 0) {
            c->verbose = 1;
            continue;
        }
        if (strcmp(flag, "--cluster") == 0) {
            c->cluster = 1;
            continue;
        }
        if (strncmp(flag, "--", 2) != 0) {
            return usage_error("unexpected argument '%s'", flag);
        }
        rc = parse_one(c, flag, i + 1 < argc ? argv[i + 1] : NULL);
        if (rc != 0) {
            return rc;
        }
        i++;
    }
    if (strcmp(c->store, "memory") != 0 &&
        strncmp(c->store, "redis://", 8) != 0 &&
        strncmp(c->store, "unix://", 7) != 0) {
        return usage_error("--store: '%s' is not memory, redis://... or "
                           "unix://...",
                           c->store);
    }
    return check_node(c);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)n, f);
        buf[*len] = '\0';
    }
    fclose(f);
    return buf;
}

/* The configuration: the file (if any), then the command line's store and
 * retention over it. @return 0 or EXIT_USAGE (message printed). */
static int load_config(const struct cli *c, struct resdeliv_config **out)
{
    char err[256] = "";
    size_t len = 0;
    char *text;
    int rc;

    if (c->config == NULL) {
        rc = resdeliv_config_new(out);
    } else if ((text = read_file(c->config, &len)) == NULL) {
        fprintf(stderr, "resdeliv-server: --config: cannot read '%s': %s\n",
                c->config, strerror(errno));
        return EXIT_USAGE;
    } else {
        rc = resdeliv_config_from_json(text, len, out, err, sizeof(err));
        free(text);
    }
    if (rc == 0 && (c->config == NULL || strcmp(c->store, "memory") != 0)) {
        rc =
            resdeliv_config_set(*out, "connection", c->store, err, sizeof(err));
    }
    if (rc == 0 && c->retention != NULL) {
        rc = resdeliv_config_set(*out, "retention.default_max_messages",
                                 c->retention, err, sizeof(err));
    }
    if (rc == 0) {
        rc = resdeliv_config_validate(*out, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "resdeliv-server: configuration: %s\n",
                err[0] ? err : resdeliv_strerror(rc));
        resdeliv_config_free(*out);
        *out = NULL;
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- cluster mode: the bus feeds the seam ---- */

static resdeliv_server *app_seam(struct app *app)
{
    return app->rl != NULL
               ? resdeliv_pusher_server_seam(resdeliv_lws_pusher(app->rl))
               : NULL;
}

static void on_bus_entry(void *arg, const char *channel, size_t channel_len,
                         const struct resdeliv_position *pos, uint32_t flags,
                         const char *event, size_t event_len,
                         const char *data, size_t data_len)
{
    resdeliv_server *seam = app_seam(arg);

    if (seam != NULL) {
        resdeliv_server_deliver_entry(seam, channel, channel_len, pos, flags,
                                      event, event_len, data, data_len);
    }
}

static void on_bus_gap(void *arg, const char *channel, size_t channel_len,
                       const struct resdeliv_replay_status *status)
{
    struct app *app = arg;
    resdeliv_server *seam = app_seam(app);
    char *name;

    if (seam == NULL) {
        return;
    }
    /* The seam takes a NUL-terminated name; the bus's is counted. */
    name = malloc(channel_len + 1);
    if (name == NULL) {
        fprintf(stderr, "resdeliv-server: %s: no memory for a gap notice on "
                        "'%.*s'\n",
                app->node_id, (int)channel_len, channel);
        return;
    }
    memcpy(name, channel, channel_len);
    name[channel_len] = '\0';
    resdeliv_server_announce_gap(seam, name, status);
    free(name);
}

/* The seam's first subscriber of a channel here, or its last one gone. */
static void on_channel(void *arg, const char *channel, size_t channel_len,
                       uint32_t active)
{
    struct app *app = arg;
    int rc;

    if (app->bus == NULL) {
        return;
    }
    rc = active ? resdeliv_bus_subscribe(app->bus, channel, channel_len)
                : resdeliv_bus_unsubscribe(app->bus, channel, channel_len);
    if (rc != 0) {
        fprintf(stderr, "resdeliv-server: %s: bus %s '%.*s': %s\n",
                app->node_id, active ? "subscribe" : "unsubscribe",
                (int)channel_len, channel, resdeliv_strerror(rc));
    }
}

static int open_bus(struct app *app, const struct resdeliv_redis_options *ro,
                    const char *app_id, char *err, size_t errsize)
{
    struct resdeliv_bus_callbacks cb;
    struct resdeliv_loop hooks;

    memset(&cb, 0, sizeof(cb));
    cb.struct_size = (uint32_t)sizeof(cb);
    cb.abi_version = RESDELIV_ABI_VERSION;
    cb.arg = app;
    cb.entry = on_bus_entry;
    cb.gap = on_bus_gap;
    resdeliv_loop_uv_init(&hooks, &app->loop);
    return resdeliv_bus_redis_new(ro, &hooks, app_id, app->store, &cb,
                                  &app->bus, err, errsize);
}

/* The store and, in cluster mode, the store publishing every append and
 * the node's bus on the same URL and key prefix. */
static int open_store(struct app *app, const char *app_id, char *err,
                      size_t errsize)
{
    const char *conn = app->cfg->connection;
    struct resdeliv_redis_options ro;
    struct resdeliv_loop hooks;
    int rc;

    if (conn == NULL || strcmp(conn, "memory") == 0) {
        if (app->cluster) {
            snprintf(err, errsize, "--cluster needs a Redis store");
            return RESDELIV_EINVAL;
        }
        return resdeliv_store_memory_new(NULL, &app->store);
    }
    resdeliv_redis_options_init(&ro);
    ro.url = conn;
    ro.key_prefix = app->cfg->key_prefix;
    ro.publish = app->cluster ? 1 : 0;
    resdeliv_loop_uv_init(&hooks, &app->loop);
    rc = resdeliv_store_redis_async_new(&ro, &hooks, &app->store, err,
                                        errsize);
    if (rc == 0 && app->cluster) {
        rc = open_bus(app, &ro, app_id, err, errsize);
    }
    if (rc == 0 && app->cluster) {
        /* Presence members of every node, merged (presence.h). */
        rc = resdeliv_presence_redis_new(&ro, &hooks, app_id, app->node_id, 0,
                                         &app->presence, err, errsize);
    }
    return rc;
}

/* Frees the library side; lws calls it from PROTOCOL_DESTROY once every
 * connection is closed, main() again in case the context never started. */
static void app_release(struct app *app)
{
    /* The server detaches the presence registry as it goes. */
    resdeliv_lws_free(app->rl);
    app->rl = NULL;
    resdeliv_presence_free(app->presence);
    app->presence = NULL;
    /* After the seam (whose last unsubscriptions it may still take),
     * before the store it borrows. */
    resdeliv_bus_free(app->bus);
    app->bus = NULL;
    resdeliv_log_close(app->log);
    app->log = NULL;
    resdeliv_store_free(app->store);
    app->store = NULL;
    resdeliv_config_free(app->cfg);
    app->cfg = NULL;
}

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len)
{
    struct app *app = lws_context_user(lws_get_context(wsi));

    if (reason == LWS_CALLBACK_PROTOCOL_DESTROY) {
        app_release(app);
        return 0;
    }
    return resdeliv_lws_callback(app->rl, wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"resdeliv-pusher", on_lws, sizeof(struct resdeliv_lws_pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(uv_signal_t *h, int signum)
{
    struct app *app = h->data;

    (void)signum;
    if (app->stopping) {
        return;
    }
    app->stopping = 1;
    fprintf(stderr, "resdeliv-server: %s: stopping\n", app->node_id);
    for (int i = 0; i < 2; i++) {
        uv_signal_stop(&app->sig[i]);
        uv_close((uv_handle_t *)&app->sig[i], NULL);
    }
    /* lws closes every connection (CLOSED callbacks) before this returns;
     * the rest of its teardown finishes on the loop. The library side goes
     * now, so that the Redis store's handles no longer keep the loop. */
    lws_context_destroy(app->ctx);
    app_release(app);
}

static int start_library(struct app *app, const struct cli *c)
{
    struct resdeliv_pusher_server_options po;
    char err[256] = "";
    int rc;

    rc = open_store(app, c->app_id, err, sizeof(err));
    if (rc == 0) {
        rc = resdeliv_log_open(app->cfg, app->store, c->app_id, &app->log, err,
                               sizeof(err));
    }
    if (rc == 0) {
        resdeliv_pusher_server_options_init(&po);
        po.app_id = c->app_id;
        po.app_key = c->app_key;
        po.app_secret = c->app_secret;
        if (app->cluster) {
            po.seam.live_from_bus = 1;
            po.seam.on_channel = on_channel;
            po.seam.on_channel_arg = app;
        }
        rc = resdeliv_lws_new(app->log, &po, NULL, &app->rl, err, sizeof(err));
    }
    if (rc == 0 && app->presence != NULL) {
        rc = resdeliv_pusher_server_set_presence(resdeliv_lws_pusher(app->rl),
                                                 app->presence);
    }
    if (rc != 0) {
        fprintf(stderr, "resdeliv-server: %s%s%s\n", resdeliv_strerror(rc),
                err[0] ? ": " : "", err);
    }
    return rc;
}

static int start_lws(struct app *app, const struct cli *c)
{
    struct lws_context_creation_info info;
    void *loops[1] = {&app->loop};
    struct lws_vhost *vh;

    memset(&info, 0, sizeof(info));
    info.port = (int)c->port;
    info.iface = c->host;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV;
    if (strchr(c->host, ':') == NULL) {
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }
    info.foreign_loops = loops;
    info.user = app;
    info.pcontext = &app->ctx;
    app->ctx = lws_create_context(&info);
    if (app->ctx == NULL) {
        fprintf(stderr, "resdeliv-server: cannot listen on %s:%ld\n", c->host,
                c->port);
        return -1;
    }
    vh = lws_get_vhost_by_name(app->ctx, "default");
    printf("resdeliv-server listening on http://%s:%d app %s key %s store "
           "%s node %s%s\n",
           c->host, vh != NULL ? lws_get_vhost_listen_port(vh) : (int)c->port,
           c->app_id, c->app_key, c->store, app->node_id,
           app->cluster ? " cluster" : "");
    fflush(stdout);
    return 0;
}

static int start_signals(struct app *app)
{
    static const int signums[2] = {SIGINT, SIGTERM};

    for (int i = 0; i < 2; i++) {
        app->sig[i].data = app;
        if (uv_signal_init(&app->loop, &app->sig[i]) != 0 ||
            uv_signal_start(&app->sig[i], on_signal, signums[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct app app;
    struct cli c;
    char node[32];
    int rc;

    memset(&app, 0, sizeof(app));
    memset(&c, 0, sizeof(c));
    rc = parse_cli(&c, argc, argv);
    if (rc != 0) {
        return rc == 1 ? 0 : rc;
    }
    rc = load_config(&c, &app.cfg);
    if (rc != 0) {
        return rc;
    }
    snprintf(node, sizeof(node), "node-%ld", (long)getpid());
    app.node_id = c.node_id != NULL ? c.node_id : node;
    app.cluster = c.cluster;
    lws_set_log_level(
        c.verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR | LLL_WARN, NULL);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&app.loop);
    rc = start_library(&app, &c);
    if (rc == 0 && (start_signals(&app) != 0 || start_lws(&app, &c) != 0)) {
        rc = -1;
        for (int i = 0; i < 2; i++) {
            if (app.sig[i].type == UV_SIGNAL) {
                uv_close((uv_handle_t *)&app.sig[i], NULL);
            }
        }
    }
    if (rc == 0) {
        uv_run(&app.loop, UV_RUN_DEFAULT);
    }
    /* With a foreign loop the first destroy only starts closing lws's
     * handles; this one completes it (pcontext is NULL once done). */
    if (app.ctx != NULL) {
        lws_context_destroy(app.ctx);
    }
    app_release(&app);
    uv_run(&app.loop, UV_RUN_DEFAULT);
    uv_loop_close(&app.loop);
    return rc == 0 ? 0 : 1;
}
