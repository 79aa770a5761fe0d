/* SPDX-License-Identifier: MIT */
/*
 * An lws protocol plugin serving the Pusher protocol with replay:
 * libprotocol_resdeliv.so, loadable with lws_plugins_init() (class
 * "lws_protocol_plugin"; the export is named `resdeliv` after the file) or
 * linked into a host built with LWS_PLUGIN_STATIC, which then lists
 * RESDELIV_LWS_PROTOCOL in its protocols.
 *
 * Each vhost using the protocol gets its own app from per-vhost options
 * (pvo): "app-id", "app-key", "app-secret" (defaults app-id, app-key,
 * app-secret), "config" (libresdeliv JSON configuration text) and
 * "retention" (messages kept per channel). The plugin keeps the log in the
 * embedded memory store: a store driven by an event loop needs that loop,
 * which an lws plugin cannot reach; resdeliv-server shows the Redis
 * store on the loop lws runs on.
 */
#include "resdeliv_lws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vhd {
    struct resdeliv_config *cfg;
    resdeliv_store *store;
    resdeliv_log *log;
    resdeliv_lws *rl;
};

static const char *pvo_str(const struct lws_protocol_vhost_options *pvo,
                           const char *name, const char *def)
{
    const struct lws_protocol_vhost_options *o = lws_pvo_search(pvo, name);

    return o != NULL && o->value != NULL ? o->value : def;
}

static void vhd_release(struct vhd *v)
{
    resdeliv_lws_free(v->rl);
    v->rl = NULL;
    resdeliv_log_close(v->log);
    v->log = NULL;
    resdeliv_store_free(v->store);
    v->store = NULL;
    resdeliv_config_free(v->cfg);
    v->cfg = NULL;
}

static int load_config(struct vhd *v,
                       const struct lws_protocol_vhost_options *pvo, char *err,
                       size_t errsize)
{
    const char *json = pvo_str(pvo, "config", NULL);
    const char *retention = pvo_str(pvo, "retention", NULL);
    int rc;

    rc = json != NULL ? resdeliv_config_from_json(json, strlen(json), &v->cfg,
                                                  err, errsize)
                      : resdeliv_config_new(&v->cfg);
    if (rc == 0 && retention != NULL) {
        rc = resdeliv_config_set(v->cfg, "retention.default_max_messages",
                                 retention, err, errsize);
    }
    if (rc == 0 && v->cfg->connection != NULL &&
        strcmp(v->cfg->connection, "memory") != 0) {
        snprintf(err, errsize,
                 "connection: the lws plugin keeps its log in "
                 "memory; use resdeliv-server for a store URL");
        rc = RESDELIV_EBADCONFIG;
    }
    return rc;
}

static int vhd_init(struct vhd *v, const struct lws_protocol_vhost_options *pvo)
{
    struct resdeliv_pusher_server_options po;
    const char *app_id = pvo_str(pvo, "app-id", "app-id");
    char err[256] = "";
    int rc;

    rc = load_config(v, pvo, err, sizeof(err));
    if (rc == 0) {
        rc = resdeliv_store_memory_new(NULL, &v->store);
    }
    if (rc == 0) {
        rc = resdeliv_log_open(v->cfg, v->store, app_id, &v->log, err,
                               sizeof(err));
    }
    if (rc == 0) {
        resdeliv_pusher_server_options_init(&po);
        po.app_id = app_id;
        po.app_key = pvo_str(pvo, "app-key", "app-key");
        po.app_secret = pvo_str(pvo, "app-secret", "app-secret");
        rc = resdeliv_lws_new(v->log, &po, NULL, &v->rl, err, sizeof(err));
    }
    if (rc != 0) {
        lwsl_err("resdeliv: %s%s%s\n", resdeliv_strerror(rc),
                 err[0] ? ": " : "", err);
        vhd_release(v);
    }
    return rc;
}

int resdeliv_lws_protocol_callback(struct lws *wsi,
                                   enum lws_callback_reasons reason, void *user,
                                   void *in, size_t len)
{
    struct lws_vhost *vh = lws_get_vhost(wsi);
    const struct lws_protocols *prot = lws_get_protocol(wsi);
    struct vhd *v = vh && prot ? lws_protocol_vh_priv_get(vh, prot) : NULL;

    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
        v = lws_protocol_vh_priv_zalloc(vh, prot, sizeof(*v));
        if (v == NULL || vhd_init(v, in) != 0) {
            return -1;
        }
        return 0;
    case LWS_CALLBACK_PROTOCOL_DESTROY:
        if (v != NULL) {
            vhd_release(v);
        }
        return 0;
    default:
        break;
    }
    return resdeliv_lws_callback(v != NULL ? v->rl : NULL, wsi, reason, user,
                                 in, len);
}

#if !defined(LWS_PLUGIN_STATIC)
/* count_protocols is what lws_plugins_init() reads; the terminator lets
 * a host also hand `protocols` straight to lws_create_context(), which
 * walks the list to a NULL name. */
static const struct lws_protocols protocols[] = {
    RESDELIV_LWS_PROTOCOL, {NULL, NULL, 0, 0, 0, NULL, 0}};

LWS_VISIBLE const lws_plugin_protocol_t resdeliv = {
    .hdr = {"resdeliv pusher", "lws_protocol_plugin", LWS_PLUGIN_API_MAGIC},
    .protocols = protocols,
    .extensions = NULL,
    .count_protocols = 1,
    .count_extensions = 0,
};
#endif
