/* SPDX-License-Identifier: MIT */
/*
 * The end-to-end tests' HTTP API client (requests signed with the
 * library's resdeliv_pusher_http_sign(), as Pusher's server SDKs sign
 * them) and Pusher protocol helpers over the WebSocket client.
 */
#include "e2e_client.h"

#include <resdeliv/resdeliv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- HTTP */

int e2e_http(int port, const char *method, const char *target, const char *body,
             char **resp)
{
    size_t len = 0;
    char *req = wsc_http_request(method, target, body,
                                 body != NULL ? strlen(body) : 0, 0, &len);
    int status;

    if (resp != NULL) {
        *resp = NULL;
    }
    if (req == NULL) {
        return -1;
    }
    status = wsc_http_exchange(port, req, len, 0, E2E_TIMEOUT_MS, resp);
    free(req);
    return status > 0 ? status : -1;
}

char *e2e_signed_post(const char *path, const char *body, size_t blen,
                      int keep_alive, size_t *len)
{
    char err[256], *query = NULL, *target, *req = NULL;

    if (resdeliv_pusher_http_sign("POST", path, NULL, 0, E2E_KEY, E2E_SECRET,
                                  (uint64_t)time(NULL), body, blen, &query, err,
                                  sizeof(err)) != 0) {
        return NULL;
    }
    target = malloc(strlen(path) + strlen(query) + 2);
    if (target != NULL) {
        sprintf(target, "%s?%s", path, query);
        req = wsc_http_request("POST", target, body, blen, keep_alive, len);
    }
    free(target);
    resdeliv_free(query);
    return req;
}

int e2e_post_signed(int port, const char *path, const char *body)
{
    size_t len = 0;
    char *req = e2e_signed_post(path, body, strlen(body), 0, &len);
    int status;

    if (req == NULL) {
        return -1;
    }
    status = wsc_http_exchange(port, req, len, 0, E2E_TIMEOUT_MS, NULL);
    free(req);
    return status > 0 ? status : -1;
}

/* POST `o` (deleted here) to `path`, signed. */
static int post_json(int port, const char *path, cJSON *o)
{
    char *body = cJSON_PrintUnformatted(o);
    int status;

    cJSON_Delete(o);
    if (body == NULL) {
        return -1;
    }
    status = e2e_post_signed(port, path, body);
    cJSON_free(body);
    return status;
}

int e2e_publish(int port, const char *channel, const char *event,
                const char *data)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "name", event);
    cJSON_AddStringToObject(o, "channel", channel);
    cJSON_AddStringToObject(o, "data", data);
    return post_json(port, "/apps/" E2E_APP_ID "/events", o);
}

int e2e_publish_batch(int port, const char *channel, const char *event,
                      int first, int n, size_t pad)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "batch");
    char *data = malloc(pad + 64);

    if (data == NULL) {
        cJSON_Delete(o);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        cJSON *ev = cJSON_CreateObject();
        int len = sprintf(data, "{\"n\":%d", first + i);
        if (pad > 0) {
            len += sprintf(data + len, ",\"pad\":\"");
            memset(data + len, 'x', pad);
            len += (int)pad;
            data[len++] = '"';
        }
        strcpy(data + len, "}");
        cJSON_AddStringToObject(ev, "name", event);
        cJSON_AddStringToObject(ev, "channel", channel);
        cJSON_AddStringToObject(ev, "data", data);
        cJSON_AddItemToArray(arr, ev);
    }
    free(data);
    return post_json(port, "/apps/" E2E_APP_ID "/batch_events", o);
}

/* -------------------------------------------------------------- Pusher */

const char *e2e_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *e2e_event(const cJSON *frame)
{
    const char *e = e2e_str(frame, "event");

    return e != NULL ? e : "";
}

cJSON *e2e_data(const cJSON *frame)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(frame, "data");

    if (cJSON_IsString(d)) {
        return cJSON_Parse(d->valuestring);
    }
    return d != NULL ? cJSON_Duplicate(d, 1) : NULL;
}

cJSON *e2e_pusher_next(struct e2e_pusher *p, int timeout_ms)
{
    for (;;) {
        char *text = NULL;
        cJSON *f;
        if (wsc_recv(&p->ws, timeout_ms, &text, NULL) != 1) {
            return NULL;
        }
        f = cJSON_Parse(text);
        free(text);
        if (f != NULL && strcmp(e2e_event(f), "pusher:ping") == 0) {
            wsc_send_text(&p->ws, "{\"event\":\"pusher:pong\",\"data\":{}}");
            cJSON_Delete(f);
            continue;
        }
        return f;
    }
}

cJSON *e2e_pusher_until(struct e2e_pusher *p, const char *event, int timeout_ms)
{
    cJSON *f;

    while ((f = e2e_pusher_next(p, timeout_ms)) != NULL) {
        if (strcmp(e2e_event(f), event) == 0) {
            return f;
        }
        cJSON_Delete(f);
    }
    return NULL;
}

int e2e_pusher_connect(struct e2e_pusher *p, int port)
{
    cJSON *f, *d;
    const char *sid;

    memset(p, 0, sizeof(*p));
    if (wsc_open(&p->ws, port,
                 "/app/" E2E_KEY "?protocol=7&client=c&version=1.0",
                 E2E_TIMEOUT_MS) != 0) {
        return -1;
    }
    f = e2e_pusher_next(p, E2E_TIMEOUT_MS);
    d = f != NULL ? e2e_data(f) : NULL;
    sid = e2e_str(d, "socket_id");
    if (f == NULL ||
        strcmp(e2e_event(f), "pusher:connection_established") != 0 ||
        sid == NULL) {
        cJSON_Delete(f);
        cJSON_Delete(d);
        wsc_drop(&p->ws);
        return -1;
    }
    snprintf(p->socket_id, sizeof(p->socket_id), "%s", sid);
    cJSON_Delete(f);
    cJSON_Delete(d);
    return 0;
}

int e2e_pusher_subscribe(struct e2e_pusher *p, const char *channel,
                         const char *last_id, const char *epoch,
                         const char *auth, const char *channel_data)
{
    cJSON *o = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(o, "data");
    char *text;
    int rc;

    cJSON_AddStringToObject(o, "event", "pusher:subscribe");
    cJSON_AddStringToObject(d, "channel", channel);
    if (auth != NULL) {
        cJSON_AddStringToObject(d, "auth", auth);
    }
    if (channel_data != NULL) {
        cJSON_AddStringToObject(d, "channel_data", channel_data);
    }
    if (last_id != NULL) {
        cJSON_AddStringToObject(d, "last_event_id", last_id);
    }
    if (epoch != NULL) {
        cJSON_AddStringToObject(d, "last_event_epoch", epoch);
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    rc = text != NULL ? wsc_send_text(&p->ws, text) : -1;
    cJSON_free(text);
    return rc;
}

void e2e_pusher_close(struct e2e_pusher *p)
{
    wsc_drop(&p->ws);
}
