/* SPDX-License-Identifier: MIT */
/*
 * Pusher protocol 7 frames. Client frames are parsed with cJSON after a
 * byte scan that cJSON itself does not do: valid UTF-8, no NUL byte (raw
 * or as \u0000, which would silently cut a C string short), no raw control
 * character, bounded nesting. Server frames are written with a JSON string
 * escaper, because a broadcast's data travels double encoded: the data
 * text becomes a JSON string inside the frame, and that must round-trip
 * byte for byte. Invalid UTF-8 in text handed to a builder is written as
 * U+FFFD so that the frame stays a valid WebSocket text frame. The scan,
 * the escaper and the output buffer are in json_text.c.
 */
#include "internal.h"

#include <cjson/cJSON.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHANNEL_MAX 200

#define EV_ESTABLISHED "pusher:connection_established"
#define EV_SUBSCRIBED "pusher_internal:subscription_succeeded"
#define EV_SUBSCRIBE "pusher:subscribe"

/* ------------------------------------------------------------- parsing */

/* Scan and parse `text` as one JSON object; `what` names it in errors. */
static int parse_object(const char *text, size_t len, const char *what,
                        cJSON **root, char *err, size_t errsize)
{
    *root = NULL;
    if (len == 0) {
        resdeliv__errf(err, errsize, "%s is empty", what);
        return RESDELIV_EBADFRAME;
    }
    int rc = resdeliv__json_scan(text, len, what, err, errsize);
    if (rc != 0) {
        return rc;
    }
    cJSON *obj = resdeliv__json_parse_whole(text, len);
    if (obj == NULL) {
        resdeliv__errf(err, errsize, "%s is not valid JSON", what);
    } else if (!cJSON_IsObject(obj)) {
        resdeliv__errf(err, errsize, "%s is not a JSON object", what);
        cJSON_Delete(obj);
    } else {
        *root = obj;
        return 0;
    }
    return RESDELIV_EBADFRAME;
}

/* The member `name` of `obj`; a duplicate is an error, since two readers
 * of one frame must not see two different values. JSON null counts as
 * absent. */
static int get_member(const cJSON *obj, const char *name, const cJSON **val,
                      char *err, size_t errsize)
{
    const cJSON *found = NULL;

    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        if (it->string == NULL || strcmp(it->string, name) != 0) {
            continue;
        }
        if (found != NULL) {
            resdeliv__errf(err, errsize, "member \"%s\" appears twice", name);
            return RESDELIV_EBADFRAME;
        }
        found = it;
    }
    *val = cJSON_IsNull(found) ? NULL : found;
    return 0;
}

static char *dup_mem(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Copy the string member `name` into `*dst` (NULL when absent). */
static int take_string(const cJSON *obj, const char *name, int required,
                       char **dst, char *err, size_t errsize)
{
    const cJSON *v = NULL;
    int rc = get_member(obj, name, &v, err, errsize);

    if (rc != 0) {
        return rc;
    }
    if (v == NULL) {
        if (required) {
            resdeliv__errf(err, errsize, "member \"%s\" is missing", name);
            return RESDELIV_EBADFRAME;
        }
        return 0;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        resdeliv__errf(err, errsize, "member \"%s\" is not a string", name);
        return RESDELIV_EBADFRAME;
    }
    *dst = dup_mem(v->valuestring, strlen(v->valuestring));
    return *dst ? 0 : RESDELIV_ENOMEM;
}

/* `data` as text: an object or array printed compactly, a string as its
 * content. */
static int take_data(const cJSON *root, struct resdeliv_pusher_frame *out,
                     char *err, size_t errsize)
{
    const cJSON *v = NULL;
    int rc = get_member(root, "data", &v, err, errsize);

    if (rc != 0 || v == NULL) {
        return rc;
    }
    if (cJSON_IsString(v) && v->valuestring != NULL) {
        out->data_len = strlen(v->valuestring);
        out->data = dup_mem(v->valuestring, out->data_len);
    } else if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        /* cJSON may use a host's hooks; hand out plain malloc memory. */
        char *printed = cJSON_PrintUnformatted(v);
        if (printed == NULL) {
            return RESDELIV_ENOMEM;
        }
        out->data_len = strlen(printed);
        out->data = dup_mem(printed, out->data_len);
        cJSON_free(printed);
    } else {
        resdeliv__errf(err, errsize,
                       "member \"data\" is not an object, array or string");
        return RESDELIV_EBADFRAME;
    }
    if (out->data == NULL) {
        out->data_len = 0;
        return RESDELIV_ENOMEM;
    }
    return 0;
}

/* Checks common to both parsers; zeroes `out` and parses the frame. */
static int parse_client_frame(const char *text, size_t len, void *out,
                              size_t outsize, cJSON **root, char *err,
                              size_t errsize)
{
    *root = NULL;
    if (out != NULL) {
        memset(out, 0, outsize);
    }
    if (out == NULL || (text == NULL && len > 0)) {
        resdeliv__errf(err, errsize, "NULL argument");
        return RESDELIV_EINVAL;
    }
    if (len > RESDELIV_PUSHER_MAX_FRAME) {
        resdeliv__errf(err, errsize, "frame of %zu bytes exceeds %u bytes", len,
                       RESDELIV_PUSHER_MAX_FRAME);
        return RESDELIV_EBADFRAME;
    }
    return parse_object(text, len, "frame", root, err, errsize);
}

int resdeliv_pusher_parse_frame(const char *text, size_t len,
                                struct resdeliv_pusher_frame *out, char *err,
                                size_t errsize)
{
    cJSON *root = NULL;
    int rc =
        parse_client_frame(text, len, out, sizeof(*out), &root, err, errsize);

    if (rc == RESDELIV_EINVAL) {
        return rc;
    }
    if (rc == 0) {
        rc = take_string(root, "event", 1, &out->event, err, errsize);
    }
    if (rc == 0) {
        rc = take_string(root, "channel", 0, &out->channel, err, errsize);
    }
    if (rc == 0) {
        rc = take_data(root, out, err, errsize);
    }
    cJSON_Delete(root);
    if (rc != 0) {
        resdeliv_pusher_frame_clear(out);
    }
    return rc;
}

void resdeliv_pusher_frame_clear(struct resdeliv_pusher_frame *f)
{
    if (f == NULL) {
        return;
    }
    free(f->event);
    free(f->channel);
    free(f->data);
    memset(f, 0, sizeof(*f));
}

static int channel_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9')) {
        return 1;
    }
    return c != '\0' && strchr("_-=@,.;", c) != NULL;
}

int resdeliv_pusher_channel_valid(const char *channel, size_t len)
{
    if (channel == NULL || len == 0 || len > CHANNEL_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!channel_char((unsigned char)channel[i])) {
            return 0;
        }
    }
    return 1;
}

static int fill_subscribe(const cJSON *data,
                          struct resdeliv_pusher_subscribe *out, char *err,
                          size_t errsize)
{
    int rc = take_string(data, "channel", 1, &out->channel, err, errsize);

    if (rc == 0 &&
        !resdeliv_pusher_channel_valid(out->channel, strlen(out->channel))) {
        resdeliv__errf(err, errsize,
                       "member \"channel\" is not a valid channel name "
                       "(1 to %d of [A-Za-z0-9_-=@,.;])",
                       CHANNEL_MAX);
        rc = RESDELIV_EBADFRAME;
    }
    char **dst[] = {&out->auth, &out->channel_data, &out->last_event_id,
                    &out->last_event_epoch};
    static const char *const name[] = {"auth", "channel_data", "last_event_id",
                                       "last_event_epoch"};
    for (size_t i = 0; rc == 0 && i < sizeof(dst) / sizeof(dst[0]); i++) {
        rc = take_string(data, name[i], 0, dst[i], err, errsize);
    }
    return rc;
}

/* The subscribe's data object: given as an object, or as a string that
 * holds one (parsed into `*owned`). */
static int subscribe_data(const cJSON *root, const cJSON **data, cJSON **owned,
                          char *err, size_t errsize)
{
    const cJSON *v = NULL;
    int rc = get_member(root, "data", &v, err, errsize);

    if (rc != 0) {
        return rc;
    }
    if (cJSON_IsObject(v)) {
        *data = v;
        return 0;
    }
    if (cJSON_IsString(v) && v->valuestring != NULL) {
        rc = parse_object(v->valuestring, strlen(v->valuestring),
                          "member \"data\"", owned, err, errsize);
        *data = *owned;
        return rc;
    }
    resdeliv__errf(err, errsize, "member \"data\" is %s",
                   v ? "not an object or a string holding one" : "missing");
    return RESDELIV_EBADFRAME;
}

int resdeliv_pusher_parse_subscribe(const char *text, size_t len,
                                    struct resdeliv_pusher_subscribe *out,
                                    char *err, size_t errsize)
{
    cJSON *root = NULL, *owned = NULL;
    const cJSON *data = NULL, *ev = NULL;
    int rc =
        parse_client_frame(text, len, out, sizeof(*out), &root, err, errsize);

    if (rc == RESDELIV_EINVAL) {
        return rc;
    }
    if (rc == 0) {
        rc = get_member(root, "event", &ev, err, errsize);
    }
    if (rc == 0 && (!cJSON_IsString(ev) || ev->valuestring == NULL ||
                    strcmp(ev->valuestring, EV_SUBSCRIBE) != 0)) {
        resdeliv__errf(err, errsize, "member \"event\" is not \"%s\"",
                       EV_SUBSCRIBE);
        rc = RESDELIV_EBADFRAME;
    }
    if (rc == 0) {
        rc = subscribe_data(root, &data, &owned, err, errsize);
    }
    if (rc == 0) {
        rc = fill_subscribe(data, out, err, errsize);
    }
    cJSON_Delete(owned);
    cJSON_Delete(root);
    if (rc != 0) {
        resdeliv_pusher_subscribe_clear(out);
    }
    return rc;
}

void resdeliv_pusher_subscribe_clear(struct resdeliv_pusher_subscribe *s)
{
    if (s == NULL) {
        return;
    }
    free(s->channel);
    free(s->auth);
    free(s->channel_data);
    free(s->last_event_id);
    free(s->last_event_epoch);
    memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------ building */

int resdeliv_pusher_build_event(const char *event, size_t event_len,
                                const char *channel, size_t channel_len,
                                const char *data, size_t data_len, char **out,
                                size_t *out_len)
{
    struct resdeliv__json_buf b = {0};

    if (out == NULL || event == NULL || (data == NULL && data_len > 0)) {
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    if (data == NULL) {
        data = "";
    }
    /* One exact allocation: this is the broadcast hot path. */
    size_t el = resdeliv__json_esc_len(event, event_len);
    size_t dl = resdeliv__json_esc_len(data, data_len);
    size_t cl = channel ? resdeliv__json_esc_len(channel, channel_len) : 0;
    size_t need = sizeof("{\"event\":\"\",\"channel\":\"\",\"data\":\"\"}");
    if (el > SIZE_MAX / 4 || dl > SIZE_MAX / 4 || cl > SIZE_MAX / 4) {
        return RESDELIV_ENOMEM;
    }
    if (resdeliv__json_buf_reserve(&b, need + el + dl + cl) != 0) {
        return RESDELIV_ENOMEM;
    }
    resdeliv__json_buf_puts(&b, "{\"event\":");
    resdeliv__json_buf_put_str(&b, event, event_len);
    if (channel != NULL) {
        resdeliv__json_buf_puts(&b, ",\"channel\":");
        resdeliv__json_buf_put_str(&b, channel, channel_len);
    }
    resdeliv__json_buf_puts(&b, ",\"data\":");
    resdeliv__json_buf_put_str(&b, data, data_len);
    resdeliv__json_buf_puts(&b, "}");
    return resdeliv__json_buf_finish(&b, out, out_len);
}

/* A frame whose data is the text collected in `inner` (freed here). */
static int event_from_buf(const char *event, const char *channel,
                          struct resdeliv__json_buf *inner, char **out,
                          size_t *out_len)
{
    char *text = NULL;
    size_t len = 0;
    int rc = resdeliv__json_buf_finish(inner, &text, &len);

    if (rc == 0) {
        rc = resdeliv_pusher_build_event(event, strlen(event), channel,
                                         channel ? strlen(channel) : 0, text,
                                         len, out, out_len);
    }
    free(text);
    return rc;
}

int resdeliv_pusher_build_established(const char *socket_id,
                                      uint32_t activity_timeout, char **out,
                                      size_t *out_len)
{
    struct resdeliv__json_buf b = {0};
    char num[16];

    if (out == NULL || socket_id == NULL) {
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    snprintf(num, sizeof(num), "%" PRIu32, activity_timeout);
    resdeliv__json_buf_puts(&b, "{\"socket_id\":");
    resdeliv__json_buf_put_str(&b, socket_id, strlen(socket_id));
    resdeliv__json_buf_puts(&b, ",\"activity_timeout\":");
    resdeliv__json_buf_puts(&b, num);
    resdeliv__json_buf_puts(&b, "}");
    return event_from_buf(EV_ESTABLISHED, NULL, &b, out, out_len);
}

int resdeliv_pusher_build_error(int code, const char *message, char **out,
                                size_t *out_len)
{
    struct resdeliv__json_buf b = {0};
    char num[16];

    if (out == NULL) {
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    if (message == NULL) {
        message = "";
    }
    /* pusher:error is the one server event whose data is an object. */
    resdeliv__json_buf_puts(
        &b, "{\"event\":\"pusher:error\",\"data\":{\"message\":");
    resdeliv__json_buf_put_str(&b, message, strlen(message));
    resdeliv__json_buf_puts(&b, ",\"code\":");
    if (code == 0) {
        resdeliv__json_buf_puts(&b, "null");
    } else {
        snprintf(num, sizeof(num), "%d", code);
        resdeliv__json_buf_puts(&b, num);
    }
    resdeliv__json_buf_puts(&b, "}}");
    return resdeliv__json_buf_finish(&b, out, out_len);
}

/* The epoch of a position as a C string, or NULL when it is not
 * terminated inside its buffer. */
static const char *position_epoch(const struct resdeliv_position *pos)
{
    if (memchr(pos->epoch, '\0', sizeof(pos->epoch)) == NULL) {
        return NULL;
    }
    return pos->epoch;
}

/* The position goes in the way live deliveries are tagged (resdeliv_tag),
 * so a client reads it the same way in both. */
static int subscribed_tagged(const char *channel, const char *data,
                             size_t data_len,
                             const struct resdeliv_position *pos,
                             const char *id_field, const char *epoch_field,
                             char **out, size_t *out_len)
{
    const char *epoch = position_epoch(pos);
    char *tagged = NULL;
    size_t tagged_len = 0;

    if (epoch == NULL) {
        return RESDELIV_EINVAL;
    }
    int rc = resdeliv_tag(data, data_len, id_field ? id_field : "_replay_id",
                          epoch_field ? epoch_field : "_replay_epoch", &pos->id,
                          epoch, &tagged, &tagged_len);
    if (rc != 0) {
        /* Untaggable data (a tag field present twice, say) is the
         * caller's argument, not a malformed frame. */
        return rc == RESDELIV_ENOMEM ? rc : RESDELIV_EINVAL;
    }
    rc = resdeliv_pusher_build_event(EV_SUBSCRIBED, strlen(EV_SUBSCRIBED),
                                     channel, strlen(channel), tagged,
                                     tagged_len, out, out_len);
    free(tagged);
    return rc;
}

int resdeliv_pusher_build_subscribed(const char *channel, const char *data,
                                     size_t data_len,
                                     const struct resdeliv_position *position,
                                     const char *id_field,
                                     const char *epoch_field, char **out,
                                     size_t *out_len)
{
    if (out == NULL || channel == NULL || (data == NULL && data_len > 0)) {
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    if (data == NULL) {
        data = "{}";
        data_len = 2;
    }
    /* The tagger checks structure only; the client must get valid JSON. */
    cJSON *obj = resdeliv__json_parse_whole(data, data_len);
    int is_object = cJSON_IsObject(obj);
    cJSON_Delete(obj);
    if (!is_object) {
        return RESDELIV_EINVAL;
    }
    if (position != NULL) {
        return subscribed_tagged(channel, data, data_len, position, id_field,
                                 epoch_field, out, out_len);
    }
    return resdeliv_pusher_build_event(EV_SUBSCRIBED, strlen(EV_SUBSCRIBED),
                                       channel, strlen(channel), data, data_len,
                                       out, out_len);
}

/* Append `"ID"`, or null when `id` is NULL. */
static void put_id_or_null(struct resdeliv__json_buf *b,
                           const struct resdeliv_id *id)
{
    char text[RESDELIV_ID_BUFSIZE];

    if (id == NULL || resdeliv_id_format(id, text, sizeof(text)) < 0) {
        resdeliv__json_buf_puts(b, "null");
    } else {
        resdeliv__json_buf_put_str(b, text, strlen(text));
    }
}

int resdeliv_pusher_build_gap(const char *channel,
                              const struct resdeliv_replay_status *status,
                              char **out, size_t *out_len)
{
    struct resdeliv__json_buf b = {0};
    char num[24];

    if (out == NULL || channel == NULL || status == NULL) {
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    const char *epoch = position_epoch(&status->position);
    if (epoch == NULL) {
        return RESDELIV_EINVAL;
    }
    const char *reason = resdeliv_gap_reason_name(status->reason);
    resdeliv__json_buf_puts(&b, "{\"reason\":");
    resdeliv__json_buf_put_str(&b, reason, strlen(reason));
    resdeliv__json_buf_puts(&b, ",\"oldest\":");
    put_id_or_null(&b, status->has_oldest ? &status->oldest : NULL);
    resdeliv__json_buf_puts(&b, ",\"lost\":");
    if (status->lost < 0) {
        resdeliv__json_buf_puts(&b, "null");
    } else {
        snprintf(num, sizeof(num), "%" PRId64, status->lost);
        resdeliv__json_buf_puts(&b, num);
    }
    resdeliv__json_buf_puts(&b, ",\"position\":");
    put_id_or_null(&b, &status->position.id);
    resdeliv__json_buf_puts(&b, ",\"epoch\":");
    if (epoch[0] == '\0') {
        resdeliv__json_buf_puts(&b, "null");
    } else {
        resdeliv__json_buf_put_str(&b, epoch, strlen(epoch));
    }
    resdeliv__json_buf_puts(&b, "}");
    return event_from_buf(RESDELIV_GAP_EVENT, channel, &b, out, out_len);
}
