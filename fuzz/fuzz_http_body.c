/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the body of the Pusher HTTP publish API. Each input is
 * posted as the body of `POST /apps/{id}/events` and then of
 * `/apps/{id}/batch_events` to a Pusher server over the memory store and
 * an in-process transport that only counts frames. Every request is signed
 * the way the server SDKs sign it (body_md5 included), so the body parser
 * is reached rather than the authentication check.
 *
 * Checked for each request: resdeliv_pusher_server_http() returns 0 and
 * calls done exactly once; the status is 200, 400 or 413 (413 exactly when
 * the body is over the limit); a 200 only for a body that cJSON reads as an
 * object with the members the API requires (name, data, a channel or
 * channels, an optional socket id; for a batch, a "batch" array of 1 to 10
 * such events), with nothing but white space after it. The other way
 * round, a body the reference accepts must get a 200 where cJSON and JSON
 * agree: nothing is compared for bytes cJSON reads and JSON refuses (raw
 * control bytes, in strings or not, `\u` without four hex digits or
 * `\u0000`, a byte order mark), for invalid UTF-8, which the server refuses
 * before cJSON sees it, or for nesting near the server's limit.
 */
#include <resdeliv/resdeliv.h>

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define APP_ID "app-id"
#define KEY "app-key"
#define SECRET "app-secret"
#define NOW 1700000000u
#define MAX_BODY 3072u /* small, so that 413 is reached too */
#define MAX_NAME 200
#define MAX_CHANNEL 200
#define MAX_CHANNELS 100
#define MAX_BATCH 10
#define DEPTH_MARGIN 120 /* the server refuses nesting past 128 */

struct host {
    unsigned long frames;
};

struct answer {
    int calls;
    int status;
};

static void fail(const char *what, const char *path, const uint8_t *body,
                 size_t len, int status)
{
    fprintf(stderr, "fuzz_http_body: %s\n  path: %s status: %d body: %.*s\n",
            what, path, status, (int)len, (const char *)body);
    abort();
}

/* ---- the transport: counts and discards ---- */

static int t_send(void *host, void *conn, const char *frame, size_t len)
{
    (void)conn;
    (void)frame;
    (void)len;
    ((struct host *)host)->frames++;
    return 0;
}

static int t_broadcast(void *host, const char *channel, size_t channel_len,
                       const char *frame, size_t len, void *except)
{
    (void)channel;
    (void)channel_len;
    (void)frame;
    (void)len;
    (void)except;
    ((struct host *)host)->frames++;
    return 0;
}

static int t_writable(void *host, void *conn)
{
    (void)host;
    (void)conn;
    return 0;
}

static int t_close(void *host, void *conn, uint32_t code, const char *reason)
{
    (void)host;
    (void)conn;
    (void)code;
    (void)reason;
    return 0;
}

static int t_join(void *host, void *conn, const char *channel, size_t len)
{
    (void)host;
    (void)conn;
    (void)channel;
    (void)len;
    return 0;
}

static void on_done(void *arg, struct resdeliv_http_response *resp)
{
    struct answer *a = arg;

    a->calls++;
    a->status = resp->status;
}

/* ---- the reference: what a 200 requires ---- */

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* 1 when cJSON may accept text that JSON refuses. */
static int cjson_lax(const uint8_t *t, size_t len)
{
    int in_string = 0;

    if (len >= 3 && memcmp(t, "\xef\xbb\xbf", 3) == 0) {
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        /* cJSON takes a raw control byte inside a string as it is, and any
         * outside one as white space. */
        if (t[i] < 0x20 &&
            (in_string || (t[i] != '\t' && t[i] != '\n' && t[i] != '\r'))) {
            return 1;
        }
        if (t[i] == '"') {
            in_string = !in_string;
        }
        if (t[i] == '\\' && in_string && i + 1 < len && t[i + 1] != 'u') {
            i++;
            continue;
        }
        if (t[i] == '\\' && i + 1 < len && t[i + 1] == 'u') {
            for (size_t k = i + 2; k < i + 6; k++) {
                if (k >= len || !is_hex((char)t[k])) {
                    return 1;
                }
            }
            if (memcmp(t + i + 2, "0000", 4) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* 1 for well-formed UTF-8 (no overlong forms, surrogates or > U+10FFFF). */
static int utf8_valid(const uint8_t *t, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = t[i];
        size_t n = c >= 0xc2 && c <= 0xdf   ? 1
                   : c >= 0xe0 && c <= 0xef ? 2
                   : c >= 0xf0 && c <= 0xf4 ? 3
                                            : 0;
        uint8_t lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        uint8_t hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (n == 0 || n >= len - i) {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            uint8_t b = t[i + k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) {
                return 0;
            }
        }
        i += n + 1;
    }
    return 1;
}

static int depth_of(const cJSON *item)
{
    int most = 0;

    for (const cJSON *c = item->child; c != NULL; c = c->next) {
        int d = depth_of(c);
        if (d > most) {
            most = d;
        }
    }
    return (cJSON_IsObject(item) || cJSON_IsArray(item)) ? most + 1 : most;
}

static int channel_ok(const cJSON *c)
{
    size_t n;

    if (!cJSON_IsString(c)) {
        return 0;
    }
    n = strlen(c->valuestring);
    if (n == 0 || n > MAX_CHANNEL) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = c->valuestring[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || strchr("_-=@,.;", ch) != NULL)) {
            return 0;
        }
    }
    return 1;
}

/* `\d+\.\d+`, each part 1 to 20 digits and at most UINT64_MAX. */
static int part_ok(const char *s, size_t n)
{
    static const char max[] = "18446744073709551615";

    if (n == 0 || n > 20) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return n < 20 || memcmp(s, max, 20) <= 0;
}

static int socket_id_ok(const cJSON *sid)
{
    const char *dot;

    if (sid == NULL) {
        return 1;
    }
    if (!cJSON_IsString(sid) || (dot = strchr(sid->valuestring, '.')) == NULL) {
        return 0;
    }
    return part_ok(sid->valuestring, (size_t)(dot - sid->valuestring)) &&
           part_ok(dot + 1, strlen(dot + 1));
}

static int name_ok(const cJSON *name)
{
    static const char *const reserved[] = {"client-", "pusher:",
                                           "pusher_internal:", "resdeliv:"};
    size_t n;

    if (!cJSON_IsString(name)) {
        return 0;
    }
    n = strlen(name->valuestring);
    if (n == 0 || n > MAX_NAME) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strncmp(name->valuestring, reserved[i], strlen(reserved[i])) == 0) {
            return 0;
        }
    }
    return 1;
}

static int event_ok(const cJSON *ev)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ev, "channels");
    int n;

    if (!cJSON_IsObject(ev) ||
        !name_ok(cJSON_GetObjectItemCaseSensitive(ev, "name")) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ev, "data")) ||
        !socket_id_ok(cJSON_GetObjectItemCaseSensitive(ev, "socket_id"))) {
        return 0;
    }
    if (arr == NULL) {
        return channel_ok(cJSON_GetObjectItemCaseSensitive(ev, "channel"));
    }
    n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n < 1 || n > MAX_CHANNELS) {
        return 0;
    }
    for (const cJSON *c = arr->child; c != NULL; c = c->next) {
        if (!channel_ok(c)) {
            return 0;
        }
    }
    return 1;
}

static int body_ok(const cJSON *root, int batch)
{
    const cJSON *arr;
    int n;

    if (!cJSON_IsObject(root)) {
        return 0;
    }
    if (!batch) {
        return event_ok(root);
    }
    arr = cJSON_GetObjectItemCaseSensitive(root, "batch");
    n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n < 1 || n > MAX_BATCH) {
        return 0;
    }
    for (const cJSON *ev = arr->child; ev != NULL; ev = ev->next) {
        if (!event_ok(ev)) {
            return 0;
        }
    }
    return 1;
}

/* cJSON reading all of `t`: cJSON_ParseWithLength() stops after the first
 * value and ignores what follows, which JSON refuses unless it is white
 * space. */
static cJSON *parse_whole(const uint8_t *t, size_t len)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)t, len, &end, 0);

    if (root == NULL) {
        return NULL;
    }
    for (size_t i = (size_t)((const uint8_t *)end - t); i < len; i++) {
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r') {
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

/* ---- one request ---- */

static resdeliv_pusher_server *server_new(struct host *h, resdeliv_store **st,
                                          resdeliv_log **log)
{
    struct resdeliv_pusher_server_options o;
    struct resdeliv_transport tp = {
        RESDELIV_STRUCT_HEAD(tp),
        .host = h,
        .send = t_send,
        .broadcast = t_broadcast,
        .request_writable = t_writable,
        .close = t_close,
        .log = NULL,
        .join = t_join,
        .leave = t_join,
    };
    resdeliv_pusher_server *ps = NULL;
    char err[256] = "";

    resdeliv_pusher_server_options_init(&o);
    o.app_id = APP_ID;
    o.app_key = KEY;
    o.app_secret = SECRET;
    o.max_body = MAX_BODY;
    if (resdeliv_store_memory_new(NULL, st) != 0 ||
        resdeliv_log_open(NULL, *st, APP_ID, log, err, sizeof(err)) != 0 ||
        resdeliv_pusher_server_new(*log, &tp, &o, &ps, err, sizeof(err)) !=
            0) {
        fprintf(stderr, "fuzz_http_body: setup failed: %s\n", err);
        abort();
    }
    return ps;
}

static void post(const char *path, const uint8_t *data, size_t size,
                 int batch)
{
    struct host h = {0};
    struct answer a = {0};
    struct resdeliv_http_request req;
    resdeliv_store *st = NULL;
    resdeliv_log *log = NULL;
    resdeliv_pusher_server *ps = server_new(&h, &st, &log);
    char *query = NULL, err[256] = "";
    cJSON *root;
    int rc = resdeliv_pusher_http_sign("POST", path, NULL, 0, KEY, SECRET, NOW,
                                       (const char *)data, size, &query, err,
                                       sizeof(err));

    if (rc != 0) {
        fail("signing failed", path, data, size, rc);
    }
    req.method = "POST";
    req.path = path;
    req.query = query;
    req.body = (const char *)data;
    req.body_len = size;
    rc = resdeliv_pusher_server_http(ps, &req, NOW, on_done, &a);
    resdeliv_free(query);
    resdeliv_pusher_server_free(ps);
    resdeliv_log_close(log);
    resdeliv_store_free(st);
    if (rc != 0 || a.calls != 1) {
        fail(rc != 0 ? "http refused the request" : "done not called once",
             path, data, size, a.calls);
    }
    if (a.status != 200 && a.status != 400 && a.status != 413) {
        fail("status not 200, 400 or 413", path, data, size, a.status);
    }
    if ((a.status == 413) != (size > MAX_BODY)) {
        fail("413 not exactly for an oversized body", path, data, size,
             a.status);
    }
    if (a.status == 413) {
        return;
    }
    root = parse_whole(data, size);
    if (a.status == 200 && !body_ok(root, batch)) {
        fail("200 for a body the reference refuses", path, data, size, 200);
    }
    if (a.status != 200 && root != NULL && body_ok(root, batch) &&
        !cjson_lax(data, size) && utf8_valid(data, size) &&
        depth_of(root) < DEPTH_MARGIN) {
        fail("refused a body the reference accepts", path, data, size,
             a.status);
    }
    cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    post("/apps/" APP_ID "/events", data, size, 0);
    post("/apps/" APP_ID "/batch_events", data, size, 1);
    return 0;
}
