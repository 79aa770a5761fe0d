/* SPDX-License-Identifier: MIT */
/*
 * The libwebsockets shim: a Pusher protocol server (pusher_server.h) with
 * replay, hosted by an lws protocol callback.
 *
 * It fills the library's transport vtable over lws: every frame the
 * library sends is framed once (its WebSocket header in the LWS_PRE
 * headroom), queued on its connection and written only from
 * LWS_CALLBACK_SERVER_WRITEABLE, the queued frames of a connection
 * gathered into runs that each leave in one lws_write() (LWS_WRITE_RAW),
 * until the queue is empty or lws had to keep part of a write; broadcast
 * frames are shared by reference between the queues of a channel's
 * subscribers; the library's next replay page waits until the queue is
 * empty; close sends the pending frames first, then a close frame with
 * the code and reason. The host's channel sets (join, leave) live here
 * too.
 *
 * An lws protocol callback hands every reason to resdeliv_lws_callback(),
 * which serves the WebSocket side (/app/{key}) and the HTTP API
 * (POST /apps/{id}/events, /apps/{id}/batch_events) and returns what the
 * callback should return. The protocol's per_session_data_size must be
 * sizeof(struct resdeliv_lws_pss).
 *
 * Thread: one resdeliv_lws belongs to the thread that services its lws
 * context (lws serializes callbacks per service thread).
 */
#ifndef RESDELIV_LWS_H
#define RESDELIV_LWS_H

#include <libwebsockets.h>
#include <resdeliv/resdeliv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct resdeliv_lws resdeliv_lws;

/** Per-session data of the protocol; zeroed by lws, managed by the shim. */
struct resdeliv_lws_pss {
    void *conn; /**< WebSocket connection state */
    void *http; /**< HTTP API request state */
};

/** Shim limits; zero members take their defaults. */
struct resdeliv_lws_options {
    uint32_t struct_size;
    uint32_t abi_version;
    /** Bytes queued for one connection before a broadcast closes it with
     * Pusher 4100 and a library send gets RESDELIV_EAGAIN (4 MiB). */
    uint64_t max_queued;
    /** lws_write() calls per writable callback while the socket takes
     * them (32); each carries the queued frames that fit in one send() of
     * lws (the protocol's tx_packet_size, else rx_buffer_size, else 4096;
     * at most 64 KiB), or one larger frame. */
    uint64_t writes_per_callback;
};

/** Defaults, including the struct head. */
void resdeliv_lws_options_init(struct resdeliv_lws_options *opts);

/**
 * A Pusher server for one app over `log` (borrowed, outlives the shim),
 * with `popts` (copied; app id, key and secret mandatory) and `opts` (may
 * be NULL). @return 0, RESDELIV_EINVAL (message in `err`), RESDELIV_EABI,
 * RESDELIV_ENOMEM.
 */
int resdeliv_lws_new(resdeliv_log *log,
                     const struct resdeliv_pusher_server_options *popts,
                     const struct resdeliv_lws_options *opts,
                     resdeliv_lws **out, char *err, size_t errsize);

/** Free the shim and the Pusher server. Connections still open keep their
 * wsi but lose their state: free it when lws is done with them (after
 * lws_context_destroy() or from LWS_CALLBACK_PROTOCOL_DESTROY). Accepts
 * NULL. */
void resdeliv_lws_free(resdeliv_lws *rl);

/** The Pusher server (for stats and the seam). Ownership: the shim's. */
resdeliv_pusher_server *resdeliv_lws_pusher(resdeliv_lws *rl);

/**
 * Serve one lws callback. Reasons it does not handle go to
 * lws_callback_http_dummy(). @return what the protocol callback returns
 * (nonzero closes the connection).
 */
int resdeliv_lws_callback(resdeliv_lws *rl, struct lws *wsi,
                          enum lws_callback_reasons reason, void *user,
                          void *in, size_t len);

/** @name The pieces resdeliv_lws_callback() is made of, for hosts that
 * dispatch themselves. Each returns the callback's return value. */
/**@{*/
int resdeliv_lws_established(resdeliv_lws *rl, struct lws *wsi,
                             struct resdeliv_lws_pss *pss);
int resdeliv_lws_receive(resdeliv_lws *rl, struct lws *wsi,
                         struct resdeliv_lws_pss *pss, const void *in,
                         size_t len);
int resdeliv_lws_writable(resdeliv_lws *rl, struct lws *wsi,
                          struct resdeliv_lws_pss *pss);
void resdeliv_lws_closed(resdeliv_lws *rl, struct lws *wsi,
                         struct resdeliv_lws_pss *pss);
int resdeliv_lws_http(resdeliv_lws *rl, struct lws *wsi,
                      struct resdeliv_lws_pss *pss, const char *uri);
int resdeliv_lws_http_body(resdeliv_lws *rl, struct lws *wsi,
                           struct resdeliv_lws_pss *pss, const void *in,
                           size_t len);
int resdeliv_lws_http_body_done(resdeliv_lws *rl, struct lws *wsi,
                                struct resdeliv_lws_pss *pss);
int resdeliv_lws_http_writable(resdeliv_lws *rl, struct lws *wsi,
                               struct resdeliv_lws_pss *pss);
void resdeliv_lws_http_drop(resdeliv_lws *rl, struct resdeliv_lws_pss *pss);
/**@}*/

/** The protocol callback of the lws protocol plugin (protocol_resdeliv.c):
 * one app per vhost from per-vhost options. */
int resdeliv_lws_protocol_callback(struct lws *wsi,
                                   enum lws_callback_reasons reason, void *user,
                                   void *in, size_t len);

/** Protocol name of the plugin. */
#define RESDELIV_LWS_PROTOCOL_NAME "resdeliv-pusher"

/** The plugin's protocol, for a host that links it (LWS_PLUGIN_STATIC)
 * and lists it in its protocols, first so that it also serves HTTP. */
#define RESDELIV_LWS_PROTOCOL                                                  \
    {                                                                          \
        RESDELIV_LWS_PROTOCOL_NAME, resdeliv_lws_protocol_callback,            \
            sizeof(struct resdeliv_lws_pss), 0, 0, NULL, 0                     \
    }

/** Shim counters. */
struct resdeliv_lws_stats {
    uint64_t connections;   /**< WebSocket connections open now */
    uint64_t channels;      /**< channels with a local subscriber now */
    uint64_t queued_bytes;  /**< bytes queued on all connections now */
    uint64_t frames_sent;   /**< frames written, total */
    uint64_t slow_closes;   /**< connections closed for a full queue */
    uint64_t http_requests; /**< HTTP API requests answered */
};

/** Copy the counters. */
void resdeliv_lws_stats(const resdeliv_lws *rl, struct resdeliv_lws_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* RESDELIV_LWS_H */
