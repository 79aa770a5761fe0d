/* SPDX-License-Identifier: MIT */
/*
 * The soak's WebSocket clients: non-blocking sockets driven by the main
 * poll() loop, each a small state machine (connect, upgrade, welcome,
 * subscribe, live) that drops at random: a hard close, a half-open socket
 * that is neither read nor closed for a while, or a stretch of slow
 * reading. A client resumes with the last id and epoch it saw, kept the
 * way the project's JavaScript client keeps them, and hands every frame
 * that matters to the checker.
 */
#include "soak.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SLOW_READ_BYTES 512
#define SLOW_READ_EVERY 0.02
#define MAX_UNEXPECTED_SHOWN 20
#define FRAME_SHOWN 300

static const char *const state_names[] = {
    "down",        "connecting", "upgrading", "welcome",
    "subscribing", "live",       "half-open"};

/* A frame the client did not expect: counted, and the first few shown
 * with the client's state, so that a failing run says what they were. */
static void unexpected(struct soak *s, const struct soak_client *cl,
                       const char *why, const char *text)
{
    size_t len = strlen(text);

    if (s->c.protocol_errors++ >= MAX_UNEXPECTED_SHOWN) {
        return;
    }
    fprintf(stderr, "soak: client %d %s (%s): unexpected frame, %s: %.*s%s\n",
            cl->index, s->chans[cl->chan].name, state_names[cl->state], why,
            (int)(len > FRAME_SHOWN ? FRAME_SHOWN : len), text,
            len > FRAME_SHOWN ? "..." : "");
}

static double uniform(struct soak *s, double lo, double hi)
{
    return lo + (hi - lo) * soak_rand(s);
}

void soak_client_init(struct soak *s, struct soak_client *cl, int index)
{
    memset(cl, 0, sizeof(*cl));
    cl->index = index;
    cl->chan = index % s->o.channels;
    wsc_init(&cl->ws, -1);
    cl->state = CS_DOWN;
    cl->next_event = soak_now() + uniform(s, 0, 1);
}

void soak_client_close(struct soak_client *cl)
{
    wsc_drop(&cl->ws);
    cl->out_len = 0;
    cl->state = CS_DOWN;
    cl->mode = MODE_NORMAL;
}

/* The connection ended: reconnect after `delay` seconds. */
static void go_down(struct soak *s, struct soak_client *cl, double delay)
{
    soak_client_close(cl);
    cl->next_event = soak_now() + (s->draining ? 0.05 : delay);
}

/* The server (or a fault) ended the connection. */
static void lost(struct soak *s, struct soak_client *cl)
{
    s->c.server_closes++;
    go_down(s, cl, uniform(s, 0.05, 0.5));
}

static void schedule_drop(struct soak *s, struct soak_client *cl, double now)
{
    cl->next_event = now + uniform(s, 2.0, 10.0);
}

static int queue_out(struct soak_client *cl, const void *p, size_t n)
{
    if (cl->out_len + n > sizeof(cl->out)) {
        return -1;
    }
    memcpy(cl->out + cl->out_len, p, n);
    cl->out_len += n;
    return 0;
}

static int flush_out(struct soak_client *cl)
{
    while (cl->out_len > 0) {
        ssize_t w =
            send(cl->ws.fd, cl->out, cl->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 0;
        }
        if (w <= 0) {
            return -1;
        }
        memmove(cl->out, cl->out + w, cl->out_len - (size_t)w);
        cl->out_len -= (size_t)w;
    }
    return 0;
}

/* One masked client frame into the output queue. */
static int queue_frame(struct soak_client *cl, int opcode, const char *p,
                       size_t n)
{
    if (cl->out_len + WSC_FRAME_HEAD_MAX + n > sizeof(cl->out)) {
        return -1;
    }
    cl->out_len += wsc_frame_encode(cl->out + cl->out_len,
                                    WSC_FIN | (unsigned)opcode, n, p, n);
    return flush_out(cl);
}

static void connect_now(struct soak *s, struct soak_client *cl)
{
    cl->server = s->chans[cl->chan].home;
    wsc_init(&cl->ws, wsc_connect_start(s->servers[cl->server].port));
    if (cl->ws.fd < 0) {
        s->c.connect_failures++;
        go_down(s, cl, uniform(s, 0.1, 0.5));
        return;
    }
    cl->state = CS_CONNECTING;
    cl->next_event = soak_now() + 10.0; /* a connect that hangs */
}

static void connected(struct soak *s, struct soak_client *cl)
{
    char req[512];
    int n;

    if (wsc_connect_done(cl->ws.fd) != 0) {
        s->c.connect_failures++;
        go_down(s, cl, uniform(s, 0.1, 0.5));
        return;
    }
    n = wsc_upgrade_request(req, sizeof(req), s->servers[cl->server].port,
                            "/app/app-key?protocol=7&client=soak&version=1.0");
    if (n < 0 || queue_out(cl, req, (size_t)n) != 0 || flush_out(cl) != 0) {
        lost(s, cl);
        return;
    }
    s->c.connects++;
    cl->state = CS_UPGRADING;
}

/* @return -1 when the connection must end. */
static int subscribe(struct soak *s, struct soak_client *cl)
{
    char frame[512], id[RESDELIV_ID_BUFSIZE];
    int n;

    if (cl->has_mark) {
        resdeliv_id_format(&cl->mark, id, sizeof(id));
        n = snprintf(frame, sizeof(frame),
                     "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                     "\"%s\",\"last_event_id\":\"%s\"%s%s%s}}",
                     s->chans[cl->chan].name, id,
                     cl->mark_epoch[0] ? ",\"last_event_epoch\":\"" : "",
                     cl->mark_epoch, cl->mark_epoch[0] ? "\"" : "");
    } else {
        n = snprintf(frame, sizeof(frame),
                     "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
                     "\"%s\"}}",
                     s->chans[cl->chan].name);
    }
    cl->state = CS_SUBSCRIBING;
    return queue_frame(cl, 1, frame, (size_t)n);
}

/* Read `_replay_id` / `_replay_epoch` of a data object. @return 1 when
 * the id is there and valid. */
static int data_position(const cJSON *d, struct resdeliv_id *id,
                         const char **epoch)
{
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(d, "_replay_id");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "_replay_epoch");

    *epoch = cJSON_IsString(e) ? e->valuestring : "";
    return cJSON_IsString(i) &&
           resdeliv_id_parse(i->valuestring, strlen(i->valuestring), id) == 0;
}

/* Move the mark like the JavaScript client: a subscription position only
 * when there is none; a message forward in its epoch, or to a new epoch. */
static void observe(struct soak_client *cl, const struct resdeliv_id *id,
                    const char *epoch, int from_subscribed)
{
    if (cl->has_mark) {
        int same = cl->mark_epoch[0] == '\0' || epoch[0] == '\0' ||
                   strcmp(cl->mark_epoch, epoch) == 0;
        if (from_subscribed || (same && resdeliv_id_cmp(id, &cl->mark) <= 0)) {
            return;
        }
    }
    cl->has_mark = 1;
    cl->mark = *id;
    snprintf(cl->mark_epoch, sizeof(cl->mark_epoch), "%s", epoch);
}

static void on_subscribed(struct soak *s, struct soak_client *cl,
                          const cJSON *d, const char *text)
{
    struct resdeliv_id pos;
    const char *epoch;

    if (cl->state != CS_SUBSCRIBING) {
        unexpected(s, cl, "subscription_succeeded when not subscribing", text);
    }
    s->c.subscriptions++;
    cl->state = CS_LIVE;
    cl->subscribed_at = soak_now();
    if (s->draining) {
        cl->next_event = cl->subscribed_at + 3600.0;
    } else {
        schedule_drop(s, cl, cl->subscribed_at);
    }
    if (data_position(d, &pos, &epoch)) {
        soak_check_subscribed(s, cl, &pos, epoch);
        observe(cl, &pos, epoch, 1);
    }
}

static void on_tick(struct soak *s, struct soak_client *cl, const cJSON *d,
                    const char *text)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(d, "seq");
    struct resdeliv_id id;
    const char *epoch;

    if (cl->state != CS_LIVE) {
        unexpected(s, cl, "a message before subscription_succeeded", text);
        return;
    }
    if (!cJSON_IsNumber(seq) || seq->valuedouble < 1 ||
        seq->valuedouble >= (double)s->chans[cl->chan].next_seq) {
        unexpected(s, cl, "no seq, or one never published", text);
        return;
    }
    if (data_position(d, &id, &epoch)) {
        soak_check_message(s, cl, (uint64_t)seq->valuedouble, &id, epoch);
        observe(cl, &id, epoch, 0);
    } else {
        soak_check_message(s, cl, (uint64_t)seq->valuedouble, NULL, "");
    }
}

/* @return -1 when the connection must end. */
static int on_text(struct soak *s, struct soak_client *cl, const char *text)
{
    cJSON *f = cJSON_Parse(text);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(f, "event");
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(f, "data");
    const char *e = cJSON_IsString(ev) ? ev->valuestring : "";
    cJSON *d = cJSON_IsString(dv) ? cJSON_Parse(dv->valuestring) : NULL;
    int rc = 0;

    if (strcmp(e, "pusher:connection_established") == 0 &&
        cl->state == CS_WELCOME) {
        rc = subscribe(s, cl);
    } else if (strcmp(e, "pusher_internal:subscription_succeeded") == 0) {
        on_subscribed(s, cl, d, text);
    } else if (strcmp(e, "resdeliv:gap") == 0) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "reason");
        soak_check_gap(s, cl, cJSON_IsString(r) ? r->valuestring : "");
    } else if (strcmp(e, "tick") == 0) {
        on_tick(s, cl, d, text);
    } else if (strcmp(e, "pusher:ping") == 0) {
        static const char pong[] = "{\"event\":\"pusher:pong\",\"data\":{}}";
        rc = queue_frame(cl, 1, pong, sizeof(pong) - 1);
    } else if (strcmp(e, "pusher:error") == 0) {
        s->c.pusher_errors++;
        if (s->o.verbose) {
            fprintf(stderr, "soak: client %d: %s\n", cl->index, text);
        }
    } else {
        unexpected(s, cl, "unknown event or out of place", text);
    }
    cJSON_Delete(d);
    cJSON_Delete(f);
    return rc;
}

/* Handle the buffered frames. @return -1 when the connection must end. */
static int parse_frames(struct soak *s, struct soak_client *cl)
{
    struct wsc_msg m;
    int rc = 0;

    if (cl->state == CS_UPGRADING) {
        rc = wsc_take_upgrade(&cl->ws);
        if (rc <= 0) {
            return rc;
        }
        cl->state = CS_WELCOME;
    }
    while (rc >= 0 && (rc = wsc_next(&cl->ws, &m)) != WSC_MORE) {
        if (rc == WSC_PING) {
            rc = queue_frame(cl, WSC_OP_PONG, m.data, m.len);
        } else if (rc == WSC_MESSAGE && m.opcode == WSC_OP_TEXT) {
            char *text = strndup(m.data, m.len);
            rc = text != NULL ? on_text(s, cl, text) : -1;
            free(text);
        }
    }
    return rc < 0 ? -1 : 0;
}

static void read_some(struct soak *s, struct soak_client *cl)
{
    int r;

    cl->ws.read_max = cl->mode == MODE_SLOW ? SLOW_READ_BYTES : 0;
    r = wsc_read(&cl->ws, MSG_DONTWAIT);
    if (r == 0) {
        return;
    }
    if (r < 0) {
        lost(s, cl);
        return;
    }
    if (cl->mode == MODE_SLOW) {
        cl->slow_next = soak_now() + SLOW_READ_EVERY;
    }
    if (parse_frames(s, cl) != 0) {
        lost(s, cl);
    }
}

short soak_client_events(const struct soak_client *cl, double now)
{
    short ev = 0;

    if (cl->ws.fd < 0 || cl->state == CS_HALF_OPEN) {
        return 0;
    }
    if (cl->state == CS_CONNECTING) {
        return POLLOUT;
    }
    if (cl->mode != MODE_SLOW || now >= cl->slow_next) {
        ev |= POLLIN;
    }
    if (cl->out_len > 0) {
        ev |= POLLOUT;
    }
    return ev;
}

void soak_client_io(struct soak *s, struct soak_client *cl, short revents)
{
    if (cl->state == CS_CONNECTING) {
        if (revents & (POLLOUT | POLLERR | POLLHUP)) {
            connected(s, cl);
        }
        return;
    }
    if ((revents & POLLOUT) && flush_out(cl) != 0) {
        lost(s, cl);
        return;
    }
    if (revents & (POLLIN | POLLERR | POLLHUP)) {
        read_some(s, cl);
    }
}

/* A drop at random: hard close, half-open, or slow reading. */
static void drop(struct soak *s, struct soak_client *cl, double now)
{
    double r = soak_rand(s);

    if (r < 0.4) {
        s->c.drops_hard++;
        go_down(s, cl, uniform(s, 0.1, 3.0));
    } else if (r < 0.7) {
        s->c.drops_half_open++;
        cl->state = CS_HALF_OPEN;
        cl->next_event = now + uniform(s, 0.5, 4.0);
    } else {
        s->c.slow_periods++;
        cl->mode = MODE_SLOW;
        cl->mode_until = now + uniform(s, 1.0, 4.0);
        cl->slow_next = now;
        schedule_drop(s, cl, cl->mode_until);
    }
}

void soak_client_tick(struct soak *s, struct soak_client *cl, double now)
{
    if (cl->mode == MODE_SLOW && (now >= cl->mode_until || s->draining)) {
        cl->mode = MODE_NORMAL;
    }
    if (cl->state == CS_HALF_OPEN && (now >= cl->next_event || s->draining)) {
        /* Unread data makes close() send a reset: a hard end. */
        go_down(s, cl, uniform(s, 0.0, 0.5));
        return;
    }
    if (now < cl->next_event) {
        return;
    }
    if (cl->state == CS_DOWN) {
        connect_now(s, cl);
    } else if (cl->state != CS_LIVE) {
        /* Stuck in connect, upgrade or subscribe. */
        s->c.connect_failures++;
        go_down(s, cl, 0.2);
    } else if (s->draining) {
        cl->next_event = now + 3600.0;
    } else {
        drop(s, cl, now);
    }
}
