/* SPDX-License-Identifier: MIT */
/*
 * The end-to-end tests' HTTP API client (requests signed with the
 * library's resdeliv_pusher_http_sign(), as Pusher's server SDKs sign
 * them) and Pusher protocol helpers over the WebSocket client.
 */
#include "e2e_client.h"

#include <resdeliv/resdeliv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- HTTP */

static int connect_port(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Everything the server sends until it closes or the timeout. */
static char *read_all(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);

    while (b != NULL) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t r;
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                break;
            }
            b = nb;
            cap *= 2;
        }
        if (poll(&pfd, 1, E2E_TIMEOUT_MS) <= 0) {
            break;
        }
        r = recv(fd, b + n, cap - n - 1, 0);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    if (b != NULL) {
        b[n] = '\0';
    }
    *len = n;
    return b;
}

int e2e_http(int port, const char *method, const char *target, const char *body,
             char **resp)
{
    size_t blen = body != NULL ? strlen(body) : 0, rlen = 0;
    size_t hcap = strlen(target) + 256;
    char *head = malloc(hcap), *all, *sep;
    int fd, status = -1;

    if (resp != NULL) {
        *resp = NULL;
    }
    fd = head != NULL ? connect_port(port) : -1;
    if (fd < 0) {
        free(head);
        return -1;
    }
    snprintf(head, hcap,
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
             "application/json\r\nContent-Length: %zu\r\nConnection: "
             "close\r\n\r\n",
             method, target, blen);
    if (send(fd, head, strlen(head), MSG_NOSIGNAL) >= 0 &&
        (blen == 0 || send(fd, body, blen, MSG_NOSIGNAL) >= 0)) {
        all = read_all(fd, &rlen);
        if (all != NULL && sscanf(all, "HTTP/1.%*d %d", &status) != 1) {
            status = -1;
        }
        sep = all != NULL ? strstr(all, "\r\n\r\n") : NULL;
        if (resp != NULL && sep != NULL) {
            *resp = strdup(sep + 4);
        }
        free(all);
    }
    close(fd);
    free(head);
    return status;
}

int e2e_post_signed(int port, const char *path, const char *body)
{
    char err[256], *query = NULL, *target;
    int status = -1;

    if (resdeliv_pusher_http_sign("POST", path, NULL, 0, E2E_KEY, E2E_SECRET,
                                  (uint64_t)time(NULL), body, strlen(body),
                                  &query, err, sizeof(err)) != 0) {
        return -1;
    }
    target = malloc(strlen(path) + strlen(query) + 2);
    if (target != NULL) {
        sprintf(target, "%s?%s", path, query);
        status = e2e_http(port, "POST", target, body, NULL);
    }
    free(target);
    resdeliv_free(query);
    return status;
}

int e2e_publish(int port, const char *channel, const char *event,
                const char *data)
{
    cJSON *o = cJSON_CreateObject();
    char *body;
    int status;

    cJSON_AddStringToObject(o, "name", event);
    cJSON_AddStringToObject(o, "channel", channel);
    cJSON_AddStringToObject(o, "data", data);
    body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (body == NULL) {
        return -1;
    }
    status = e2e_post_signed(port, "/apps/" E2E_APP_ID "/events", body);
    cJSON_free(body);
    return status;
}

int e2e_publish_batch(int port, const char *channel, const char *event,
                      int first, int n, size_t pad)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "batch");
    char *data = malloc(pad + 64), *body;
    int status;

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
    body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (body == NULL) {
        return -1;
    }
    status = e2e_post_signed(port, "/apps/" E2E_APP_ID "/batch_events", body);
    cJSON_free(body);
    return status;
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
        if (e2e_ws_recv(&p->ws, timeout_ms, &text) != 1) {
            return NULL;
        }
        f = cJSON_Parse(text);
        free(text);
        if (f != NULL && strcmp(e2e_event(f), "pusher:ping") == 0) {
            e2e_ws_send(&p->ws, "{\"event\":\"pusher:pong\",\"data\":{}}");
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
    if (e2e_ws_open(&p->ws, port,
                    "/app/" E2E_KEY "?protocol=7&client=c&version=1.0") != 0) {
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
        e2e_ws_close(&p->ws);
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
    rc = text != NULL ? e2e_ws_send(&p->ws, text) : -1;
    cJSON_free(text);
    return rc;
}

void e2e_pusher_close(struct e2e_pusher *p)
{
    e2e_ws_close(&p->ws);
}
