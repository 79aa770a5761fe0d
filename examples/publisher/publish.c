/* SPDX-License-Identifier: MIT */
/*
 * resdeliv-publish: publish events to a Pusher-compatible server
 * (resdeliv-server, or any server speaking the Pusher HTTP API) the way
 * Pusher's server SDKs do: POST /apps/{app_id}/events with a JSON body
 * {"name":..., "channel":..., "data":"<text>"}, signed with the app secret
 * (auth_key, auth_timestamp, auth_version, body_md5, auth_signature in the
 * query string) by resdeliv_pusher_http_sign(). Plain HTTP/1.1 over TCP
 * to 127.0.0.1, one connection per request.
 *
 * The data may hold "{{n}}", replaced by the message's number (from
 * --first, one more each message), so a run of --count messages is easy
 * to follow on the receiving side.
 */
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

#define EXIT_USAGE 2
#define HTTP_TIMEOUT_MS 10000
#define MAX_RESPONSE 65536

struct options {
    long port;
    const char *app_id;
    const char *key;
    const char *secret;
    const char *channel;
    const char *event;
    const char *data;
    long count;
    long first;
    long interval_ms;
    int quiet;
};

/* A growing string. */
struct text {
    char *s;
    size_t len;
    size_t cap;
    int failed;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->failed) {
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap != 0 ? t->cap : 256;
        char *p;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        p = realloc(t->s, cap);
        if (p == NULL) {
            t->failed = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void puts_text(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

/* `s` as a JSON string, quotes included. */
static void put_json_string(struct text *t, const char *s)
{
    puts_text(t, "\"");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(t, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            puts_text(t, esc);
        } else {
            put(t, s, 1);
        }
    }
    puts_text(t, "\"");
}

/* The data of message `n`: every "{{n}}" replaced by the number. */
static void put_data(struct text *t, const char *data, long n)
{
    char num[24];
    const char *at;

    snprintf(num, sizeof(num), "%ld", n);
    while ((at = strstr(data, "{{n}}")) != NULL) {
        put(t, data, (size_t)(at - data));
        puts_text(t, num);
        data = at + 5;
    }
    puts_text(t, data);
}

/* The request body of message `n`; the caller frees it. */
static char *event_body(const struct options *o, long n, char **data_out)
{
    struct text data = {0}, body = {0};

    put_data(&data, o->data, n);
    puts_text(&body, "{\"name\":");
    put_json_string(&body, o->event);
    puts_text(&body, ",\"channel\":");
    put_json_string(&body, o->channel);
    puts_text(&body, ",\"data\":");
    put_json_string(&body, data.s != NULL ? data.s : "");
    puts_text(&body, "}");
    if (data.failed || body.failed) {
        free(data.s);
        free(body.s);
        return NULL;
    }
    *data_out = data.s;
    return body.s;
}

/* ------------------------------------------------------------- HTTP */

static int connect_port(long port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

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

static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The response, read until the server closes (the request says
 * Connection: close) or MAX_RESPONSE bytes. */
static int read_response(int fd, struct text *resp)
{
    char buf[4096];

    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t r;
        int n = poll(&pfd, 1, HTTP_TIMEOUT_MS);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        r = recv(fd, buf, sizeof(buf), 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -1;
        }
        if (r == 0 || resp->len + (size_t)r > MAX_RESPONSE) {
            return resp->failed ? -1 : 0;
        }
        put(resp, buf, (size_t)r);
    }
}

/* POST `target` with `body`. @return the HTTP status (the response body
 * in `*resp_body`, the caller frees it) or -1. */
static int http_post(long port, const char *target, const char *body,
                     char **resp_body)
{
    struct text req = {0}, resp = {0};
    char head[160];
    int fd, status = -1;
    const char *sep;

    *resp_body = NULL;
    snprintf(head, sizeof(head),
             "Host: 127.0.0.1:%ld\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             port, strlen(body));
    puts_text(&req, "POST ");
    puts_text(&req, target);
    puts_text(&req, " HTTP/1.1\r\n");
    puts_text(&req, head);
    puts_text(&req, body);
    fd = req.failed ? -1 : connect_port(port);
    if (fd >= 0 && send_all(fd, req.s, req.len) == 0 &&
        read_response(fd, &resp) == 0 && resp.s != NULL &&
        sscanf(resp.s, "HTTP/1.%*d %d", &status) == 1) {
        sep = strstr(resp.s, "\r\n\r\n");
        *resp_body = strdup(sep != NULL ? sep + 4 : "");
    }
    if (fd >= 0) {
        close(fd);
    }
    free(req.s);
    free(resp.s);
    return status;
}

/* ----------------------------------------------------------- publish */

/* Sign and send message `n`. @return 0 when the server took it. */
static int publish_one(const struct options *o, long n)
{
    char path[256], err[256] = "", *query = NULL, *data = NULL, *resp = NULL;
    struct text target = {0};
    char *body = event_body(o, n, &data);
    int rc = -1, status = -1;

    snprintf(path, sizeof(path), "/apps/%s/events", o->app_id);
    if (body != NULL &&
        resdeliv_pusher_http_sign("POST", path, NULL, 0, o->key, o->secret,
                                  (uint64_t)time(NULL), body, strlen(body),
                                  &query, err, sizeof(err)) == 0) {
        puts_text(&target, path);
        puts_text(&target, "?");
        puts_text(&target, query);
        status = target.failed ? -1 : http_post(o->port, target.s, body, &resp);
    }
    if (status >= 200 && status < 300) {
        rc = 0;
        if (!o->quiet) {
            printf("published %s %s %s\n", o->channel, o->event, data);
        }
    } else if (status > 0) {
        fprintf(stderr, "resdeliv-publish: HTTP %d: %s\n", status,
                resp != NULL ? resp : "");
    } else {
        fprintf(stderr, "resdeliv-publish: %s\n",
                err[0]         ? err
                : body == NULL ? "out of memory"
                               : "no answer from the server");
    }
    resdeliv_free(query);
    free(target.s);
    free(resp);
    free(body);
    free(data);
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------- command line */

static const char usage_text[] =
    "usage: resdeliv-publish [options]\n"
    "  --port P          server port (default 6001)\n"
    "  --app-id ID       app id (default app-id)\n"
    "  --key KEY         app key (default app-key)\n"
    "  --secret SECRET   app secret (default app-secret)\n"
    "  --channel NAME    channel (default demo)\n"
    "  --event NAME      event name (default message)\n"
    "  --data TEXT       event data, {{n}} replaced by the message number\n"
    "                    (default {\"n\":{{n}}})\n"
    "  --count N         messages to publish (default 1)\n"
    "  --first N         number of the first message (default 1)\n"
    "  --interval-ms M   pause between messages (default 0)\n"
    "  --quiet           print only errors\n"
    "  --help            this text\n";

static int usage_error(const char *what, const char *value)
{
    fprintf(stderr,
            "resdeliv-publish: %s '%s'\ntry 'resdeliv-publish "
            "--help'\n",
            what, value);
    return EXIT_USAGE;
}

static int parse_number(const char *flag, const char *v, long min, long max,
                        long *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || *out < min || *out > max) {
        return usage_error(flag, v);
    }
    return 0;
}

/* Ids go into the request path: URL-safe characters only. */
static int id_valid(const char *id)
{
    return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789-_.") == strlen(id);
}

static int parse_one(struct options *o, const char *flag, const char *v)
{
    static const char *const names[] = {"--key", "--secret", "--event",
                                        "--data"};
    const char **slots[] = {&o->key, &o->secret, &o->event, &o->data};

    if (v == NULL) {
        return usage_error("needs a value:", flag);
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(flag, names[i]) == 0) {
            *slots[i] = v;
            return 0;
        }
    }
    if (strcmp(flag, "--port") == 0) {
        return parse_number(flag, v, 1, 65535, &o->port);
    }
    if (strcmp(flag, "--count") == 0) {
        return parse_number(flag, v, 1, 1000000000L, &o->count);
    }
    if (strcmp(flag, "--first") == 0) {
        return parse_number(flag, v, -1000000000L, 1000000000L, &o->first);
    }
    if (strcmp(flag, "--interval-ms") == 0) {
        return parse_number(flag, v, 0, 3600000L, &o->interval_ms);
    }
    if (strcmp(flag, "--app-id") == 0) {
        o->app_id = v;
        return *v != '\0' && id_valid(v)
                   ? 0
                   : usage_error("--app-id: not an id:", v);
    }
    if (strcmp(flag, "--channel") == 0) {
        o->channel = v;
        return resdeliv_pusher_channel_valid(v, strlen(v))
                   ? 0
                   : usage_error("--channel: not a channel name:", v);
    }
    return usage_error("unknown option", flag);
}

/* @return 0 to run, 1 after --help, EXIT_USAGE on a bad command line. */
static int parse_cli(struct options *o, int argc, char **argv)
{
    *o = (struct options){.port = 6001,
                          .app_id = "app-id",
                          .key = "app-key",
                          .secret = "app-secret",
                          .channel = "demo",
                          .event = "message",
                          .data = "{\"n\":{{n}}}",
                          .count = 1,
                          .first = 1};
    for (int i = 1; i < argc; i++) {
        int rc;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 1;
        }
        if (strcmp(argv[i], "--quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        rc = parse_one(o, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
        if (rc != 0) {
            return rc;
        }
        i++;
    }
    if (*o->key == '\0' || *o->secret == '\0' || *o->event == '\0') {
        return usage_error("empty value for", "--key, --secret or --event");
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_cli(&o, argc, argv);

    if (rc != 0) {
        return rc == 1 ? 0 : rc;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (long i = 0; i < o.count; i++) {
        if (i > 0 && o.interval_ms > 0) {
            sleep_ms(o.interval_ms);
        }
        if (publish_one(&o, o.first + i) != 0) {
            return 1;
        }
    }
    return 0;
}
