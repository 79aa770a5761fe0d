/* SPDX-License-Identifier: MIT */
/**
 * @file pusher.h
 * Pusher protocol (version 7) helpers: parse client frames and build the
 * frames a server sends, including replay tagging and the `resdeliv:gap`
 * notice.
 *
 * In a server frame `data` is a JSON *string* holding JSON text (double
 * encoding); builders take the inner JSON text and encode it. Client frames
 * may carry `data` as an object or as a string holding an object; parsers
 * accept both. Every builder returns a NUL-terminated frame to free with
 * resdeliv_free().
 */
#ifndef RESDELIV_PUSHER_H
#define RESDELIV_PUSHER_H

#include "common.h"
#include "id.h"
#include "replay.h"

RESDELIV_BEGIN_DECLS

/** Largest client frame the parsers accept. */
#define RESDELIV_PUSHER_MAX_FRAME (64u * 1024u)

/** A parsed client frame: `{"event":..., "channel":..., "data":...}`.
 * Strings are owned, NUL-terminated; absent members are NULL. `data` is
 * JSON text (a string's content when data was a JSON string). */
struct resdeliv_pusher_frame {
    char *event;
    char *channel;
    char *data;
    size_t data_len;
};

/**
 * Parse a client frame. @return 0, RESDELIV_EBADFRAME (not JSON, not an
 * object, no string "event", wrong member types, too large) with a message
 * in `err` (may be NULL).
 * Ownership: `out` owns its strings; release with
 * resdeliv_pusher_frame_clear(). Thread: safe.
 */
RESDELIV_API int resdeliv_pusher_parse_frame(const char *text, size_t len,
                                             struct resdeliv_pusher_frame *out,
                                             char *err, size_t errsize);

/** Free a parsed frame's strings and zero it. Accepts NULL. */
RESDELIV_API void resdeliv_pusher_frame_clear(struct resdeliv_pusher_frame *f);

/** A parsed `pusher:subscribe`. Owned strings; absent ones NULL. */
struct resdeliv_pusher_subscribe {
    char *channel;
    char *auth;
    char *channel_data;
    char *last_event_id;     /**< as sent; validated by the replay cursor */
    char *last_event_epoch;
};

/**
 * Parse a `pusher:subscribe` frame. The channel must be a non-empty string
 * of at most 200 bytes of `[A-Za-z0-9_\-=@,.;]`; auth, channel_data,
 * last_event_id and last_event_epoch must be strings when present.
 * @return 0, or RESDELIV_EBADFRAME with a message naming the member.
 */
RESDELIV_API int resdeliv_pusher_parse_subscribe(
    const char *text, size_t len, struct resdeliv_pusher_subscribe *out,
    char *err, size_t errsize);

/** Free a parsed subscribe's strings and zero it. Accepts NULL. */
RESDELIV_API void resdeliv_pusher_subscribe_clear(
    struct resdeliv_pusher_subscribe *s);

/** 1 when `channel` is a valid Pusher channel name. */
RESDELIV_API int resdeliv_pusher_channel_valid(const char *channel,
                                               size_t len);

/** `pusher:connection_established` with socket_id and activity_timeout. */
RESDELIV_API int resdeliv_pusher_build_established(const char *socket_id,
                                                   uint32_t activity_timeout,
                                                   char **out,
                                                   size_t *out_len);

/**
 * `pusher_internal:subscription_succeeded` for `channel`. `data` is the
 * inner JSON object text (NULL for `{}`; presence servers pass the
 * presence hash object). When `position` is not NULL its id and epoch are
 * added to the object as `"<id_field>"` and `"<epoch_field>"` (the
 * subscriber's place to resume from).
 */
RESDELIV_API int resdeliv_pusher_build_subscribed(
    const char *channel, const char *data, size_t data_len,
    const struct resdeliv_position *position, const char *id_field,
    const char *epoch_field, char **out, size_t *out_len);

/** `pusher:error` with `code` (0 for none: code null) and `message`. */
RESDELIV_API int resdeliv_pusher_build_error(int code, const char *message,
                                             char **out, size_t *out_len);

/**
 * A broadcast `{"event":...,"channel":...,"data":"<data as JSON string>"}`.
 * `data` is the (tagged) data text; `channel` may be NULL.
 */
RESDELIV_API int resdeliv_pusher_build_event(const char *event,
                                             size_t event_len,
                                             const char *channel,
                                             size_t channel_len,
                                             const char *data, size_t data_len,
                                             char **out, size_t *out_len);

/** Event name of the gap notice. */
#define RESDELIV_GAP_EVENT "resdeliv:gap"

/**
 * The `resdeliv:gap` notice on `channel`, data
 * `{"reason":"trimmed","oldest":"ID"|null,"lost":N|null,
 *   "position":"ID","epoch":"E"|null}`.
 */
RESDELIV_API int resdeliv_pusher_build_gap(
    const char *channel, const struct resdeliv_replay_status *status,
    char **out, size_t *out_len);

/** Pusher error codes used by servers (pusher.com protocol docs). */
#define RESDELIV_PUSHER_ERR_SSL_ONLY 4000
#define RESDELIV_PUSHER_ERR_APP_NOT_FOUND 4001
#define RESDELIV_PUSHER_ERR_APP_DISABLED 4003
#define RESDELIV_PUSHER_ERR_APP_OVER_QUOTA 4004
#define RESDELIV_PUSHER_ERR_PATH_NOT_FOUND 4005
#define RESDELIV_PUSHER_ERR_INVALID_VERSION 4006
#define RESDELIV_PUSHER_ERR_UNSUPPORTED_VERSION 4007
#define RESDELIV_PUSHER_ERR_NO_VERSION 4008
#define RESDELIV_PUSHER_ERR_UNAUTHORIZED 4009
#define RESDELIV_PUSHER_ERR_OVER_CAPACITY 4100
#define RESDELIV_PUSHER_ERR_GENERIC_RECONNECT 4200
#define RESDELIV_PUSHER_ERR_PONG_TIMEOUT 4201
#define RESDELIV_PUSHER_ERR_CLOSED_INACTIVITY 4202
#define RESDELIV_PUSHER_ERR_CLIENT_EVENT_REJECTED 4301
#define RESDELIV_PUSHER_ERR_CLIENT_RATE 4302

RESDELIV_END_DECLS

#endif /* RESDELIV_PUSHER_H */
