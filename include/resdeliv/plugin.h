/* SPDX-License-Identifier: MIT */
/**
 * @file plugin.h
 * The plugin ABI: how a host WebSocket server loads libresdeliv's delivery
 * (or any plugin written against this header) from a shared object and
 * drives it through a table of hooks, so that the host never calls the
 * library's log, replay or seam functions itself.
 *
 * A plugin `.so` exports one symbol, `resdeliv_plugin_entry`
 * (RESDELIV_PLUGIN_ENTRY_SYMBOL), of type resdeliv_plugin_entry_fn. The host
 * loads the object with `dlopen(path, RTLD_NOW | RTLD_LOCAL)`, calls the
 * entry with the RESDELIV_ABI_VERSION it was compiled with, and gets a
 * static descriptor (struct resdeliv_plugin), or NULL when the plugin does
 * not speak the host's ABI major. The host then checks the descriptor
 * (resdeliv_plugin_check()) and copies it into a struct of its own size
 * (resdeliv_plugin_copy()), so hooks a newer plugin appended are never
 * called and hooks an older plugin lacks read as NULL.
 *
 * The host makes instances with create(): it passes a host API struct
 * (struct resdeliv_plugin_host: its transport vtable, optionally its event
 * loop, the app credentials) and a JSON configuration text. Two ways to
 * drive an instance:
 *  - the plugin speaks the Pusher protocol: the host forwards connection
 *    open (with the request path), every client text frame (message),
 *    writable, close, and HTTP API requests (http);
 *  - the host speaks the Pusher protocol itself: it opens connections with
 *    a NULL path, calls subscribe / subscription_succeeded once a
 *    subscription passed auth (the plugin sends subscription_succeeded and
 *    replays what the client missed), broadcast for its publish path,
 *    writable and close.
 *
 * Every struct here starts with `struct_size` and `abi_version` and only
 * ever grows at the end. See ABI.md, "Plugin ABI".
 *
 * Thread: the entry function and descriptor are safe from any thread; an
 * instance and everything it calls back belong to one thread at a time
 * (the host's event loop thread).
 */
#ifndef RESDELIV_PLUGIN_H
#define RESDELIV_PLUGIN_H

#include "common.h"
#include "loop.h"
#include "pusher_server.h"
#include "transport.h"

RESDELIV_BEGIN_DECLS

/** The one symbol a plugin shared object exports. */
#define RESDELIV_PLUGIN_ENTRY_SYMBOL "resdeliv_plugin_entry"

/** Marks the entry function of a plugin built with hidden visibility. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define RESDELIV_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define RESDELIV_PLUGIN_EXPORT
#endif

/**
 * What the host gives a plugin instance. Fill with designated initializers
 * starting with RESDELIV_STRUCT_HEAD(host); members are only ever
 * appended. The plugin copies `min(struct_size, sizeof)` into a zeroed
 * copy, so members an older host does not have read as NULL. Only the head
 * and `transport` are mandatory (RESDELIV_PLUGIN_HOST_MIN_SIZE).
 */
struct resdeliv_plugin_host {
    uint32_t struct_size;
    uint32_t abi_version;
    /** Mandatory. The host's transport (transport.h), with join and
     * leave. Copied by create(); the `host` pointer inside must outlive
     * the instance. A pointer, not an embedded struct, so that the
     * transport can grow without moving the members below. */
    const struct resdeliv_transport *transport;
    /** Optional. The host's event loop (loop.h). With it a store URL
     * (`redis://`, `unix://`) gets the event-loop-driven Redis store;
     * without it the blocking one, which waits on the host's thread.
     * Copied; `loop->loop` must outlive the instance. */
    const struct resdeliv_loop *loop;
    /** Optional. The app's credentials; each may instead come from the
     * configuration JSON ("app_id", "app_key", "app_secret"). Set in both
     * places, they must agree. Copied. */
    const char *app_id;
    const char *app_key;
    const char *app_secret;
};

/** Smallest host struct a plugin accepts: the head and `transport`. */
#define RESDELIV_PLUGIN_HOST_MIN_SIZE (8u + sizeof(void *))

/**
 * The plugin descriptor, returned by the entry function. Static in the
 * plugin: never written or freed by the host. Members are only ever
 * appended; the host reads only `min(struct_size, its sizeof)` bytes of it
 * (resdeliv_plugin_copy()). `name`, `version`, create and destroy are
 * mandatory; a NULL hook means the plugin does not offer it (the host
 * answers RESDELIV_ENOTSUP itself).
 *
 * `instance` is the plugin's own object made by create(). `conn` is the
 * host's opaque connection pointer, the same one the transport gets.
 * Strings are NUL-terminated and borrowed for the call.
 */
struct resdeliv_plugin {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *name;    /**< short name, "resdeliv" */
    const char *version; /**< plugin release, "0.1.0" */

    /**
     * Make an instance from `host` (copied) and the JSON configuration
     * `config` (`config_len` bytes, not necessarily NUL-terminated; NULL
     * or empty means `{}`). On error `*instance` is NULL and `err` (may be
     * NULL) names what was wrong.
     * @return 0, RESDELIV_EINVAL, RESDELIV_EABI (host struct or transport
     * from another ABI major, or too small), RESDELIV_EBADJSON,
     * RESDELIV_EBADCONFIG, RESDELIV_EBADURL, RESDELIV_ENOTSUP,
     * RESDELIV_ENOMEM, or a store error.
     */
    int (*create)(const struct resdeliv_plugin_host *host, const char *config,
                  size_t config_len, void **instance, char *err,
                  size_t errsize);
    /** Free an instance and every connection's state. Accepts NULL. */
    void (*destroy)(void *instance);

    /** A WebSocket connection opened on `path` (with its query string):
     * the plugin speaks Pusher (connection_established, or pusher:error
     * and a close). With `path` NULL the host speaks Pusher itself and the
     * connection is only registered for subscribe/broadcast.
     * @return 0 when accepted, else an error (let the close proceed). */
    int (*conn_open)(void *instance, void *conn, const char *path);
    /** The connection closed: its subscriptions, replays and presence
     * memberships end now. Unknown connections are ignored. */
    void (*conn_close)(void *instance, void *conn);
    /** One complete client text frame, for connections opened with a
     * path: the plugin runs the Pusher protocol (pusher_server.h). */
    int (*message)(void *instance, void *conn, const char *text, size_t len);

    /**
     * A subscription that passed the host's auth (a host that speaks
     * Pusher itself). `last_event_id` / `last_event_epoch` as the client
     * sent them (NULL or "" for none). The plugin sends
     * pusher_internal:subscription_succeeded (with the log's position),
     * an optional resdeliv:gap, the missed messages in id order paced by
     * writable, then joins the connection to the channel.
     * @return 0, RESDELIV_EINVAL, RESDELIV_ENOENT (unknown conn),
     * RESDELIV_EOVERFLOW, RESDELIV_ENOMEM.
     */
    int (*subscribe)(void *instance, void *conn, const char *channel,
                     const char *last_event_id, const char *last_event_epoch);
    /**
     * The same as subscribe, named after the point in the protocol it
     * marks: the subscription has succeeded, and only from here on may
     * replay run. `data` is the inner object of subscription_succeeded
     * (NULL for `{}`; a presence host passes its presence hash).
     */
    int (*subscription_succeeded)(void *instance, void *conn,
                                  const char *channel,
                                  const char *last_event_id,
                                  const char *last_event_epoch,
                                  const char *data, size_t data_len);
    /**
     * The host's publish path: append (channel, event, data) to the log,
     * tag the data with its id and fan the frame out to every subscriber
     * except `except` (may be NULL), holding it for replaying ones.
     * @return 0 once accepted (on a synchronous store: once logged or
     * delivered untagged), RESDELIV_EWHISPER for client-* events,
     * RESDELIV_EINVAL, RESDELIV_ESTORE under on_log_failure "fail".
     * Failures that surface later are logged through the transport.
     */
    int (*broadcast)(void *instance, const char *channel, const char *event,
                     const char *data, size_t data_len, void *except);
    /** An HTTP API request (POST /apps/{id}/events, /batch_events); the
     * answer comes through `done` exactly once when this returns 0, never
     * when it fails (see resdeliv_pusher_server_http()). */
    int (*http)(void *instance, const struct resdeliv_http_request *req,
                uint64_t now_s, resdeliv_http_done_cb done, void *arg);
    /** The host's writable callback for `conn` (after the transport's
     * request_writable). */
    int (*writable)(void *instance, void *conn);
    /** The client left `channel` (a host that speaks Pusher itself).
     * @return 0 or RESDELIV_ENOENT. */
    int (*unsubscribe)(void *instance, void *conn, const char *channel);
};

/** Smallest descriptor a host accepts: up to and including destroy. */
#define RESDELIV_PLUGIN_MIN_SIZE (8u + 4u * sizeof(void *))

/** The entry symbol's type. `host_abi` is the RESDELIV_ABI_VERSION the
 * host was compiled with; a plugin returns NULL for another major. */
typedef const struct resdeliv_plugin *(*resdeliv_plugin_entry_fn)(
    uint32_t host_abi);

/**
 * Check a descriptor a host got from an entry function: present, the
 * host's ABI major, at least RESDELIV_PLUGIN_MIN_SIZE, with name,
 * version, create and destroy.
 * @return 0, RESDELIV_EINVAL (NULL or a mandatory member missing),
 * RESDELIV_EABI (another major or too small). Thread: safe.
 */
RESDELIV_API int resdeliv_plugin_check(const struct resdeliv_plugin *d);

/**
 * Check `d` and copy it into the host's `out` of `out_size` bytes (pass
 * sizeof(*out)): `min(d->struct_size, out_size)` bytes are copied into the
 * zeroed `out`, whose struct_size becomes that amount. Hooks the plugin
 * appended beyond the host's struct are left out; hooks the host knows and
 * an older plugin lacks are NULL.
 * @return 0, RESDELIV_EINVAL (also for `out_size` below
 * RESDELIV_PLUGIN_MIN_SIZE), RESDELIV_EABI. Thread: safe.
 */
RESDELIV_API int resdeliv_plugin_copy(const struct resdeliv_plugin *d,
                                      struct resdeliv_plugin *out,
                                      size_t out_size);

/**
 * The plugin side of the same rule: check a host struct (present, the
 * plugin's ABI major, at least RESDELIV_PLUGIN_HOST_MIN_SIZE, transport
 * set) and copy `min(in->struct_size, out_size)` bytes into the zeroed
 * `out` (pass sizeof(*out)).
 * @return 0, RESDELIV_EINVAL, RESDELIV_EABI. Thread: safe.
 */
RESDELIV_API int
resdeliv_plugin_host_copy(const struct resdeliv_plugin_host *in,
                          struct resdeliv_plugin_host *out, size_t out_size);

RESDELIV_END_DECLS

#endif /* RESDELIV_PLUGIN_H */
