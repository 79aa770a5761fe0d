/* SPDX-License-Identifier: MIT */
/*
 * The Pusher HTTP API of one app: POST /apps/{id}/events and
 * /apps/{id}/batch_events, as Pusher's server SDKs send them. Checks run
 * cheapest first and each has its own status: an unknown path or app is
 * 404, a body over the limit 413 (before it is hashed or parsed), a bad
 * signature 401, and malformed JSON or members 400 with a message naming
 * the member. Accepted events go through the seam, which logs, tags and
 * fans them out; the answer waits for the store, so a 200 means the
 * events were logged (or delivered untagged where the configuration says
 * so).
 *
 * A request's events keep the parsed body alive until the store has
 * answered, since an event-loop-driven store completes later. Requests in
 * flight when the server is freed still complete, without it.
 */
#include "pusher_server_internal.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pusher's documented limits. */
#define MAX_CHANNELS 100
#define MAX_BATCH 10
#define MAX_NAME 200

struct resdeliv__pusher_http_op {
    struct resdeliv__pusher_http_op *next;
    resdeliv_pusher_server *ps; /* NULL once the server is gone */
    resdeliv_http_done_cb done;
    void *arg;
    cJSON *root;
    struct resdeliv_message *msgs;
    void **except; /* per message: the connection to leave out, or NULL */
    size_t n;
    size_t events; /* events in the request (a batch answers per event) */
    size_t pending;
    int failed; /* first error status seen, 0 for none */
    int info;   /* the request asked for channel info */
    int batch;
};

/* ------------------------------------------------------------ answers */

static void answer(resdeliv_http_done_cb done, void *arg, int status,
                   char *body)
{
    struct resdeliv_http_response resp;

    resp.status = status;
    resp.body = body;
    resp.body_len = body != NULL ? strlen(body) : 0;
    done(arg, &resp);
    free(resp.body);
}

/* Answer with `{"error": message}`; a failed allocation answers with no
 * body rather than not at all. */
static void answer_error(resdeliv_http_done_cb done, void *arg, int status,
                         const char *message)
{
    struct resdeliv__json_buf b = {0};
    char *body = NULL;

    resdeliv__json_buf_puts(&b, "{\"error\":");
    resdeliv__json_buf_put_str(&b, message, strlen(message));
    resdeliv__json_buf_puts(&b, "}");
    resdeliv__json_buf_finish(&b, &body, NULL);
    answer(done, arg, status, body);
}

static char *success_body(const struct resdeliv__pusher_http_op *op)
{
    struct resdeliv__json_buf b = {0};
    char *body = NULL;

    if (!op->info) {
        return strdup("{}");
    }
    if (!op->batch) {
        return strdup("{\"channels\":{}}");
    }
    resdeliv__json_buf_puts(&b, "{\"batch\":[");
    for (size_t i = 0; i < op->events; i++) {
        resdeliv__json_buf_puts(&b, i ? ",{}" : "{}");
    }
    resdeliv__json_buf_puts(&b, "]}");
    resdeliv__json_buf_finish(&b, &body, NULL);
    return body;
}

static void op_free(struct resdeliv__pusher_http_op *op)
{
    cJSON_Delete(op->root);
    free(op->msgs);
    free(op->except);
    free(op);
}

static void op_unlink(struct resdeliv__pusher_http_op *op)
{
    struct resdeliv__pusher_http_op **pp;

    if (op->ps == NULL) {
        return;
    }
    pp = &op->ps->http_ops;
    while (*pp != NULL && *pp != op) {
        pp = &(*pp)->next;
    }
    if (*pp == op) {
        *pp = op->next;
    }
    op->ps = NULL;
}

static void op_complete(struct resdeliv__pusher_http_op *op)
{
    char msg[160];

    op_unlink(op);
    if (op->failed == 0) {
        answer(op->done, op->arg, 200, success_body(op));
    } else {
        snprintf(msg, sizeof(msg), "events were not stored: %s",
                 resdeliv_strerror(op->failed));
        answer_error(op->done, op->arg,
                     op->failed == RESDELIV_ESTORE ? 503 : 500, msg);
    }
    op_free(op);
}

static void op_release(struct resdeliv__pusher_http_op *op)
{
    if (--op->pending == 0) {
        op_complete(op);
    }
}

void resdeliv__pusher_http_detach_all(resdeliv_pusher_server *ps)
{
    while (ps->http_ops != NULL) {
        struct resdeliv__pusher_http_op *op = ps->http_ops;
        ps->http_ops = op->next;
        op->next = NULL;
        op->ps = NULL;
    }
}

/* ------------------------------------------------------------ routing */

#define ROUTE_EVENTS 1
#define ROUTE_BATCH 2

/* ROUTE_* for `path`, or 0 with a 404 or 405 status and message. */
static int route(const resdeliv_pusher_server *ps,
                 const struct resdeliv_http_request *req, int *status,
                 const char **why)
{
    static const char prefix[] = "/apps/";
    const char *id, *rest;
    size_t idlen;
    int r = 0;

    *status = 404;
    *why = "not found: the API has POST /apps/{id}/events and "
           "/apps/{id}/batch_events";
    if (strncmp(req->path, prefix, sizeof(prefix) - 1) != 0) {
        return 0;
    }
    id = req->path + sizeof(prefix) - 1;
    idlen = strcspn(id, "/");
    rest = id + idlen;
    if (strcmp(rest, "/events") == 0) {
        r = ROUTE_EVENTS;
    } else if (strcmp(rest, "/batch_events") == 0) {
        r = ROUTE_BATCH;
    } else {
        return 0;
    }
    if (idlen != strlen(ps->opts.app_id) ||
        memcmp(id, ps->opts.app_id, idlen) != 0) {
        *why = "unknown app id";
        return 0;
    }
    if (strcmp(req->method, "POST") != 0) {
        *status = 405;
        *why = "method not allowed: use POST";
        return 0;
    }
    return r;
}

static int authenticate(const resdeliv_pusher_server *ps,
                        const struct resdeliv_http_request *req, uint64_t now_s,
                        char *err, size_t errsize)
{
    struct resdeliv_pusher_http_request hr = {
        RESDELIV_STRUCT_HEAD(hr),
        .method = req->method,
        .path = req->path,
        .query = req->query,
        .query_len = req->query != NULL ? strlen(req->query) : 0,
        .body = req->body,
        .body_len = req->body_len,
        .flags = 0,
    };

    return resdeliv_pusher_http_check_window(
        &hr, ps->opts.app_key, ps->opts.app_secret, now_s,
        ps->opts.timestamp_window, err, errsize);
}

/* ------------------------------------------------------------ parsing */

/* Names the protocol or the library keeps for itself ("resdeliv:gap",
 * the log's "resdeliv:unlogged" markers). */
static int reserved_name(const char *name)
{
    return strncmp(name, "client-", 7) == 0 ||
           strncmp(name, "pusher:", 7) == 0 ||
           strncmp(name, "pusher_internal:", 16) == 0 ||
           strncmp(name, RESDELIV_RESERVED_EVENT_PREFIX,
                   sizeof(RESDELIV_RESERVED_EVENT_PREFIX) - 1) == 0;
}

/* The channels of one event: "channels" (array) or "channel" (string).
 * Validates each; `*arr` is the array or NULL for a single channel. */
static int event_channels(const cJSON *ev, const cJSON **arr, const cJSON **one,
                          size_t *count, char *err, size_t errsize)
{
    const cJSON *c;
    size_t n = 0;

    *arr = cJSON_GetObjectItemCaseSensitive(ev, "channels");
    *one = cJSON_GetObjectItemCaseSensitive(ev, "channel");
    if (*arr != NULL && !cJSON_IsArray(*arr)) {
        resdeliv__errf(err, errsize, "\"channels\" must be an array");
        return RESDELIV_EBADJSON;
    }
    if (*arr == NULL && !cJSON_IsString(*one)) {
        resdeliv__errf(err, errsize,
                       "\"channels\" (array) or \"channel\" "
                       "(string) is required");
        return RESDELIV_EBADJSON;
    }
    if (*arr == NULL) {
        *arr = NULL;
        c = *one;
        n = 1;
    } else {
        *one = NULL;
        c = (*arr)->child;
        n = (size_t)cJSON_GetArraySize(*arr);
    }
    if (n == 0 || n > MAX_CHANNELS) {
        resdeliv__errf(err, errsize,
                       "an event needs 1 to %d channels, "
                       "not %zu",
                       MAX_CHANNELS, n);
        return RESDELIV_EBADJSON;
    }
    for (; c != NULL; c = *one != NULL ? NULL : c->next) {
        if (!cJSON_IsString(c) || !resdeliv_pusher_channel_valid(
                                      c->valuestring, strlen(c->valuestring))) {
            resdeliv__errf(err, errsize,
                           "channel names are 1 to 200 of "
                           "[A-Za-z0-9_-=@,.;]");
            return RESDELIV_EBADJSON;
        }
    }
    *count = n;
    return 0;
}

/* Check one event object; `*nchan` gets its channel count. */
static int check_event(resdeliv_pusher_server *ps, const cJSON *ev,
                       size_t *nchan, void **except, char *err, size_t errsize)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(ev, "name");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(ev, "socket_id");
    const cJSON *arr, *one;

    if (!cJSON_IsObject(ev)) {
        resdeliv__errf(err, errsize, "an event must be a JSON object");
        return RESDELIV_EBADJSON;
    }
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
        strlen(name->valuestring) > MAX_NAME) {
        resdeliv__errf(err, errsize,
                       "\"name\" must be a string of 1 to "
                       "%d bytes",
                       MAX_NAME);
        return RESDELIV_EBADJSON;
    }
    if (reserved_name(name->valuestring)) {
        resdeliv__errf(err, errsize,
                       "\"name\" may not start with "
                       "client-, pusher:, pusher_internal: or "
                       "resdeliv:");
        return RESDELIV_EBADJSON;
    }
    if (!cJSON_IsString(data)) {
        resdeliv__errf(err, errsize, "\"data\" must be a string");
        return RESDELIV_EBADJSON;
    }
    if (sid != NULL && (!cJSON_IsString(sid) ||
                        !resdeliv_pusher_socket_id_valid(sid->valuestring))) {
        resdeliv__errf(err, errsize,
                       "\"socket_id\" must be a socket id "
                       "such as \"123.456\"");
        return RESDELIV_EBADJSON;
    }
    *except = sid != NULL
                  ? resdeliv__pusher_conn_by_socket_id(ps, sid->valuestring)
                  : NULL;
    return event_channels(ev, &arr, &one, nchan, err, errsize);
}

/* Append the messages of a checked event. */
static void add_messages(struct resdeliv__pusher_http_op *op, const cJSON *ev,
                         void *except)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(ev, "name");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ev, "channels");
    const cJSON *c = arr != NULL
                         ? arr->child
                         : cJSON_GetObjectItemCaseSensitive(ev, "channel");

    for (; c != NULL; c = arr != NULL ? c->next : NULL) {
        struct resdeliv_message *m = &op->msgs[op->n];
        m->channel = c->valuestring;
        m->channel_len = strlen(c->valuestring);
        m->event = name->valuestring;
        m->event_len = strlen(name->valuestring);
        m->data = data->valuestring;
        m->data_len = strlen(data->valuestring);
        op->except[op->n++] = except;
    }
    if (cJSON_GetObjectItemCaseSensitive(ev, "info") != NULL) {
        op->info = 1;
    }
}

/* The events of the body: the object itself, or the "batch" array's. */
static int body_events(const cJSON *root, int batch, const cJSON **first,
                       size_t *count, char *err, size_t errsize)
{
    const cJSON *arr;

    if (!cJSON_IsObject(root)) {
        resdeliv__errf(err, errsize, "the body must be a JSON object");
        return RESDELIV_EBADJSON;
    }
    if (!batch) {
        *first = root;
        *count = 1;
        return 0;
    }
    arr = cJSON_GetObjectItemCaseSensitive(root, "batch");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 ||
        cJSON_GetArraySize(arr) > MAX_BATCH) {
        resdeliv__errf(err, errsize,
                       "\"batch\" must be an array of 1 to "
                       "%d events",
                       MAX_BATCH);
        return RESDELIV_EBADJSON;
    }
    *first = arr->child;
    *count = (size_t)cJSON_GetArraySize(arr);
    return 0;
}

/* Parse and check the body into `op` (msgs, except, events). */
static int parse_body(resdeliv_pusher_server *ps,
                      struct resdeliv__pusher_http_op *op,
                      const struct resdeliv_http_request *req, char *err,
                      size_t errsize)
{
    void *except[MAX_BATCH];
    const cJSON *first = NULL, *ev;
    size_t total = 0, i = 0, nchan = 0;
    int rc =
        resdeliv__json_scan(req->body, req->body_len, "body", err, errsize);

    if (rc != 0) {
        return RESDELIV_EBADJSON;
    }
    op->root = resdeliv__json_parse_whole(req->body, req->body_len);
    if (op->root == NULL) {
        resdeliv__errf(err, errsize, "the body is not valid JSON");
        return RESDELIV_EBADJSON;
    }
    rc = body_events(op->root, op->batch, &first, &op->events, err, errsize);
    for (ev = first; rc == 0 && ev != NULL && i < op->events; i++) {
        rc = check_event(ps, ev, &nchan, &except[i], err, errsize);
        total += nchan;
        ev = op->batch ? ev->next : NULL;
    }
    if (rc != 0) {
        return rc;
    }
    op->msgs = calloc(total, sizeof(*op->msgs));
    op->except = calloc(total, sizeof(*op->except));
    if (op->msgs == NULL || op->except == NULL) {
        return RESDELIV_ENOMEM;
    }
    for (ev = first, i = 0; ev != NULL && i < op->events; i++) {
        add_messages(op, ev, except[i]);
        ev = op->batch ? ev->next : NULL;
    }
    return 0;
}

/* ---------------------------------------------------------- publishing */

static void publish_done(void *arg, int status,
                         struct resdeliv_publish_result *results, size_t n)
{
    struct resdeliv__pusher_http_op *op = arg;

    for (size_t i = 0; status == 0 && i < n; i++) {
        status = results[i].status;
    }
    if (status != 0 && op->failed == 0) {
        op->failed = status;
    }
    op_release(op);
}

/* One seam publish per run of messages that leave out the same
 * connection; the answer goes when the last run is stored. */
static void publish(struct resdeliv__pusher_http_op *op)
{
    resdeliv_server *seam = op->ps->seam;
    size_t start = 0;

    op->pending = 1;
    while (start < op->n && op->failed == 0) {
        size_t end = start + 1;
        int rc;
        while (end < op->n && op->except[end] == op->except[start]) {
            end++;
        }
        op->pending++;
        rc = resdeliv_server_publish(seam, op->msgs + start, end - start,
                                     op->except[start], publish_done, op);
        if (rc != 0) {
            op->pending--;
            op->failed = rc;
        }
        start = end;
    }
    op_release(op);
}

int resdeliv_pusher_server_http(resdeliv_pusher_server *ps,
                                const struct resdeliv_http_request *req,
                                uint64_t now_s, resdeliv_http_done_cb done,
                                void *arg)
{
    struct resdeliv__pusher_http_op *op;
    const char *why = NULL;
    char err[512];
    int r, status = 0, rc;

    if (ps == NULL || req == NULL || done == NULL || req->method == NULL ||
        req->path == NULL || (req->body == NULL && req->body_len > 0)) {
        return RESDELIV_EINVAL;
    }
    r = route(ps, req, &status, &why);
    if (r == 0) {
        answer_error(done, arg, status, why);
        return 0;
    }
    if (req->body_len > ps->opts.max_body) {
        snprintf(err, sizeof(err),
                 "body of %zu bytes is larger than the "
                 "%llu byte limit",
                 req->body_len, (unsigned long long)ps->opts.max_body);
        answer_error(done, arg, 413, err);
        return 0;
    }
    rc = authenticate(ps, req, now_s, err, sizeof(err));
    if (rc == RESDELIV_ENOMEM) {
        return rc;
    }
    if (rc != 0) {
        answer_error(done, arg, rc == RESDELIV_EAUTH ? 401 : 400, err);
        return 0;
    }
    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        return RESDELIV_ENOMEM;
    }
    op->batch = r == ROUTE_BATCH;
    rc = parse_body(ps, op, req, err, sizeof(err));
    if (rc == RESDELIV_ENOMEM) {
        op_free(op);
        return rc;
    }
    if (rc != 0) {
        op_free(op);
        answer_error(done, arg, 400, err);
        return 0;
    }
    op->ps = ps;
    op->done = done;
    op->arg = arg;
    op->next = ps->http_ops;
    ps->http_ops = op;
    publish(op);
    return 0;
}
