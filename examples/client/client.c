/* SPDX-License-Identifier: MIT */
/*
 * resdeliv-client: a Pusher client (protocol 7) that resumes where it left
 * off. It subscribes to one channel of a Pusher-compatible server running
 * libresdeliv (resdeliv-server), remembers the `_replay_id` and
 * `_replay_epoch` every message carries, and when the connection drops it
 * reconnects and subscribes again with `last_event_id` and
 * `last_event_epoch`: the server replays what was missed, in order, then
 * goes live. A dedup window drops any message seen twice, and a
 * `resdeliv:gap` notice (history trimmed, log recreated) is reported
 * rather than passed over.
 *
 * Each line it prints starts with what happened: connected, subscribe,
 * subscribed, live, replayed, duplicate, gap, untagged, dropped,
 * reconnecting, lost, error, and finally the summary "done ...".
 * A message is "replayed" when the subscription asked for a replay and its
 * id is at or below the log position the server reported when the
 * subscription succeeded; later ones are "live".
 *
 * The WebSocket side is ws.c, a minimal client over a plain TCP socket;
 * json.c reads the few top-level JSON members a client needs. libresdeliv
 * parses and compares the ids and runs the dedup window.
 */
#include "json.h"
#include "ws.h"

#include <resdeliv/resdeliv.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_USAGE 2
#define CONNECT_TIMEOUT_MS 10000
#define DEDUP_WINDOW 1024
#define MAX_CONNECT_FAILURES 5

struct options {
    long port;
    const char *key;
    const char *channel;
    long drop_after;   /* drop the connection once, after this many; 0 off */
    long reconnect_ms; /* wait before reconnecting */
    long count;        /* exit after this many messages; 0 runs on */
    int quiet;
};

struct client {
    const struct options *opt;
    struct ws ws;
    long activity_timeout_s;
    resdeliv_dedup *seen;               /* ids delivered on this channel */
    char epoch[RESDELIV_EPOCH_BUFSIZE]; /* of the log the ids belong to */
    int resumed;                        /* this subscription asked a replay */
    struct resdeliv_id head;            /* log position when subscribed */
    char head_epoch[RESDELIV_EPOCH_BUFSIZE];
    int dropped;
    long events, replayed, duplicates, gaps, untagged;
};

/* A frame from the server: {"event":...,"channel":...,"data":"<JSON>"}. */
struct frame {
    char event[128];
    char channel[256]; /* "" when absent */
    char *data;        /* the data text (a string's content unescaped) */
    size_t data_len;
};

/* What ended a connection. */
enum session_end { END_DONE, END_DROP, END_LOST, END_NO_CONNECT, END_FATAL };

/* Per-message outcome inside a session. */
enum step { STEP_GO_ON, STEP_DONE, STEP_DROP, STEP_FATAL };

static void say(const struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(const struct client *c, const char *fmt, ...)
{
    va_list ap;

    if (c->opt->quiet) {
        return;
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* ------------------------------------------------------------- JSON */

/* One member, a string's escapes undone. @return as json_member(). */
static int take_member(const char *text, size_t len, const char *name,
                       char *out, size_t size, size_t *out_len)
{
    int rc = json_member(text, len, name, out, size);

    *out_len = rc > 0 ? strlen(out) : 0;
    if (rc == 2 && json_unescape(out, out_len) != 0) {
        return -1;
    }
    return rc;
}

/* Parse a frame; free f->data after. @return 0, or -1 when it is not a
 * Pusher frame (no "event" string, bad JSON) or memory ran out. */
static int frame_parse(const char *text, size_t len, struct frame *f)
{
    size_t n;

    memset(f, 0, sizeof(*f));
    f->data = malloc(len + 1);
    if (f->data == NULL) {
        return -1;
    }
    f->data[0] = '\0';
    if (take_member(text, len, "event", f->event, sizeof(f->event), &n) != 2 ||
        take_member(text, len, "channel", f->channel, sizeof(f->channel), &n) <
            0 ||
        take_member(text, len, "data", f->data, len + 1, &f->data_len) < 0) {
        free(f->data);
        f->data = NULL;
        return -1;
    }
    return 0;
}

/* The id and epoch a message's data carries. @return 0 when the id is
 * there and valid; the epoch is "" when absent or not a valid token. */
static int read_tag(const char *data, size_t len, struct resdeliv_id *id,
                    char *epoch)
{
    char text[RESDELIV_ID_BUFSIZE];

    if (json_member(data, len, "_replay_id", text, sizeof(text)) != 2 ||
        resdeliv_id_parse(text, strlen(text), id) != 0) {
        return -1;
    }
    if (json_member(data, len, "_replay_epoch", epoch,
                    RESDELIV_EPOCH_BUFSIZE) != 2 ||
        resdeliv_epoch_check(epoch, strlen(epoch)) != 0) {
        epoch[0] = '\0';
    }
    return 0;
}

/* ------------------------------------------------------------ Pusher */

static int send_text(struct client *c, const char *text)
{
    return ws_send_text(&c->ws, text, strlen(text));
}

/* pusher:subscribe, with the place to resume from once there is one. Ids
 * and epochs hold only digits, '-', letters and '_', and channel names
 * are checked at start-up, so none needs JSON escaping. */
static int subscribe(struct client *c)
{
    struct resdeliv_id last = resdeliv_dedup_highest(c->seen);
    char id[RESDELIV_ID_BUFSIZE], frame[512];

    c->resumed = !resdeliv_id_is_zero(&last);
    if (!c->resumed) {
        say(c, "subscribe %s (new)", c->opt->channel);
        snprintf(frame, sizeof(frame),
                 "{\"event\":\"pusher:subscribe\",\"data\":"
                 "{\"channel\":\"%s\"}}",
                 c->opt->channel);
        return send_text(c, frame);
    }
    resdeliv_id_format(&last, id, sizeof(id));
    say(c, "subscribe %s last_event_id %s last_event_epoch %s", c->opt->channel,
        id, c->epoch[0] ? c->epoch : "(none)");
    snprintf(frame, sizeof(frame),
             "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\","
             "\"last_event_id\":\"%s\"%s%s%s}}",
             c->opt->channel, id, c->epoch[0] ? ",\"last_event_epoch\":\"" : "",
             c->epoch, c->epoch[0] ? "\"" : "");
    return send_text(c, frame);
}

/* The subscription succeeded; its data carries the log's position. A
 * client that has nothing yet resumes from there if it drops before its
 * first message; a resuming one learns where the replay ends. */
static void on_subscribed(struct client *c, const char *data, size_t len)
{
    struct resdeliv_id pos;
    char epoch[RESDELIV_EPOCH_BUFSIZE], text[RESDELIV_ID_BUFSIZE];

    if (read_tag(data, len, &pos, epoch) != 0) {
        say(c, "subscribed %s", c->opt->channel);
        return;
    }
    resdeliv_id_format(&pos, text, sizeof(text));
    if (resdeliv_id_is_zero(&pos)) {
        say(c, "subscribed %s (no history yet)", c->opt->channel);
    } else {
        say(c, "subscribed %s position %s epoch %s", c->opt->channel, text,
            epoch[0] ? epoch : "(none)");
    }
    c->head = pos;
    snprintf(c->head_epoch, sizeof(c->head_epoch), "%s", epoch);
    if (!c->resumed && !resdeliv_id_is_zero(&pos) && epoch[0]) {
        resdeliv_dedup_reset(c->seen, &pos);
        snprintf(c->epoch, sizeof(c->epoch), "%s", epoch);
    }
}

static void on_gap(struct client *c, const char *data, size_t len)
{
    char reason[32] = "?", oldest[RESDELIV_ID_BUFSIZE] = "?", lost[32] = "?";

    json_member(data, len, "reason", reason, sizeof(reason));
    json_member(data, len, "oldest", oldest, sizeof(oldest));
    json_member(data, len, "lost", lost, sizeof(lost));
    c->gaps++;
    say(c, "gap %s reason %s oldest %s lost %s", c->opt->channel, reason,
        oldest, strcmp(lost, "null") == 0 ? "unknown" : lost);
}

static int is_replayed(const struct client *c, const struct resdeliv_id *id,
                       const char *epoch)
{
    return c->resumed && resdeliv_id_cmp(id, &c->head) <= 0 &&
           strcmp(epoch, c->head_epoch) == 0;
}

/* A message on the channel: deliver it unless it was seen already. */
static enum step on_message(struct client *c, const struct frame *f)
{
    char epoch[RESDELIV_EPOCH_BUFSIZE], text[RESDELIV_ID_BUFSIZE];
    const char *data = f->data;
    struct resdeliv_id id, zero = {0, 0};
    int replayed;

    if (read_tag(data, f->data_len, &id, epoch) != 0) {
        /* Not logged (data not an object, or the store was down). */
        c->untagged++;
        c->events++;
        say(c, "untagged %s %s", f->event, data);
    } else {
        resdeliv_id_format(&id, text, sizeof(text));
        if (epoch[0] && strcmp(epoch, c->epoch) != 0) {
            /* Another history: its ids do not follow the old ones. */
            resdeliv_dedup_reset(c->seen, &zero);
            snprintf(c->epoch, sizeof(c->epoch), "%s", epoch);
        }
        if (resdeliv_dedup_check(c->seen, &id) != RESDELIV_DEDUP_FRESH) {
            c->duplicates++;
            say(c, "duplicate %s dropped", text);
            return STEP_GO_ON;
        }
        replayed = is_replayed(c, &id, epoch);
        c->replayed += replayed;
        c->events++;
        say(c, "%-8s %s %s %s", replayed ? "replayed" : "live", text, f->event,
            data);
    }
    if (c->opt->count > 0 && c->events >= c->opt->count) {
        return STEP_DONE;
    }
    if (c->opt->drop_after > 0 && !c->dropped &&
        c->events >= c->opt->drop_after) {
        c->dropped = 1;
        return STEP_DROP;
    }
    return STEP_GO_ON;
}

static enum step on_frame(struct client *c, const char *text, size_t len)
{
    struct frame f;
    enum step st = STEP_GO_ON;

    if (frame_parse(text, len, &f) != 0) {
        printf("error unreadable frame: %.80s\n", text);
        return STEP_GO_ON;
    }
    if (strcmp(f.event, "pusher:ping") == 0) {
        send_text(c, "{\"event\":\"pusher:pong\",\"data\":{}}");
    } else if (strcmp(f.event, "pusher:error") == 0) {
        say(c, "error %s", f.data);
    } else if (strcmp(f.channel, c->opt->channel) != 0) {
        /* Other frames are not this client's business. */
    } else if (strcmp(f.event, "pusher:subscription_error") == 0) {
        printf("error subscription refused: %s\n", f.data);
        st = STEP_FATAL;
    } else if (strcmp(f.event, "pusher_internal:subscription_succeeded") == 0) {
        on_subscribed(c, f.data, f.data_len);
    } else if (strcmp(f.event, RESDELIV_GAP_EVENT) == 0) {
        on_gap(c, f.data, f.data_len);
    } else if (strncmp(f.event, "pusher", 6) != 0) {
        st = on_message(c, &f);
    }
    free(f.data);
    return st;
}

/* ----------------------------------------------------------- session */

/* Pusher's close codes 4000-4099 mean "do not reconnect": the app key is
 * unknown, the app disabled, the protocol version wrong. */
static int refused_for_good(long code)
{
    return code >= 4000 && code <= 4099;
}

/* The first frame: pusher:connection_established, or a pusher:error.
 * @return END_DONE when established, else why not. */
static enum session_end established(struct client *c, const struct frame *f)
{
    char sid[64] = "?", num[16] = "";
    const char *data = f->data_len > 0 ? f->data : "{}";

    if (strcmp(f->event, "pusher:connection_established") == 0) {
        json_member(data, strlen(data), "socket_id", sid, sizeof(sid));
        if (json_member(data, strlen(data), "activity_timeout", num,
                        sizeof(num)) > 0 &&
            atol(num) > 0 && atol(num) < 3600) {
            c->activity_timeout_s = atol(num);
        }
        say(c, "connected socket_id %s", sid);
        return END_DONE;
    }
    printf("error %s %s\n", f->event, data);
    if (strcmp(f->event, "pusher:error") == 0 &&
        json_member(data, strlen(data), "code", num, sizeof(num)) > 0 &&
        refused_for_good(atol(num))) {
        printf("error the server refused the connection: not reconnecting\n");
        return END_FATAL;
    }
    return END_NO_CONNECT;
}

/* Open the WebSocket and read pusher:connection_established.
 * @return END_DONE when connected, END_NO_CONNECT or END_FATAL. */
static enum session_end connect_app(struct client *c)
{
    char path[256], err[256];
    struct frame f;
    enum session_end end = END_NO_CONNECT;
    char *text = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path),
             "/app/%s?protocol=7&client=resdeliv-client&version=%s",
             c->opt->key, resdeliv_version());
    if (ws_open(&c->ws, (int)c->opt->port, path, CONNECT_TIMEOUT_MS, err,
                sizeof(err)) != 0) {
        printf("error %s\n", err);
        return END_NO_CONNECT;
    }
    if (ws_recv(&c->ws, CONNECT_TIMEOUT_MS, &text, &len) != 1) {
        printf("error no pusher:connection_established\n");
    } else if (frame_parse(text, len, &f) != 0) {
        printf("error unreadable first frame: %.80s\n", text);
    } else {
        end = established(c, &f);
        free(f.data);
    }
    free(text);
    if (end != END_DONE) {
        ws_drop(&c->ws);
    }
    return end;
}

/* Read until the connection ends or the client is done with it. Quiet
 * for the activity timeout: ask with pusher:ping; quiet again: lost. */
static enum session_end read_loop(struct client *c)
{
    int pinged = 0;

    for (;;) {
        char *text = NULL;
        size_t len = 0;
        int rc =
            ws_recv(&c->ws, (int)c->activity_timeout_s * 1000, &text, &len);
        enum step st;
        if (rc == 0 && !pinged) {
            pinged = 1;
            send_text(c, "{\"event\":\"pusher:ping\",\"data\":{}}");
            continue;
        }
        if (rc <= 0) {
            if (c->ws.close_code != 0) {
                say(c, "lost the connection (close code %d)", c->ws.close_code);
            } else {
                say(c, "lost the connection (no close frame)");
            }
            if (refused_for_good(c->ws.close_code)) {
                printf("error the server closed with %d: not reconnecting\n",
                       c->ws.close_code);
                return END_FATAL;
            }
            return END_LOST;
        }
        pinged = 0;
        st = on_frame(c, text, len);
        free(text);
        if (st == STEP_DONE) {
            return END_DONE;
        }
        if (st == STEP_DROP) {
            return END_DROP;
        }
        if (st == STEP_FATAL) {
            return END_FATAL;
        }
    }
}

static enum session_end session(struct client *c)
{
    enum session_end end;

    c->activity_timeout_s = 120;
    end = connect_app(c);
    if (end != END_DONE) {
        return end;
    }
    if (subscribe(c) != 0) {
        ws_drop(&c->ws);
        return END_LOST;
    }
    end = read_loop(c);
    if (end == END_DONE) {
        ws_close(&c->ws);
    } else {
        /* No close frame: the server learns of it as of a lost network. */
        ws_drop(&c->ws);
    }
    return end;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Sessions until done: reconnect after a drop or a lost connection, give
 * up after MAX_CONNECT_FAILURES connection attempts fail in a row.
 * @return the exit status. */
static int run(struct client *c)
{
    int failures = 0;

    for (;;) {
        enum session_end end = session(c);
        if (end == END_DONE) {
            return 0;
        }
        if (end == END_FATAL) {
            return 1;
        }
        if (end == END_DROP) {
            say(c, "dropped the connection after %ld message%s", c->events,
                c->events == 1 ? "" : "s");
        }
        failures = end == END_NO_CONNECT ? failures + 1 : 0;
        if (failures >= MAX_CONNECT_FAILURES) {
            printf("error gave up after %d failed connection attempts\n",
                   failures);
            return 1;
        }
        say(c, "reconnecting in %ld ms", c->opt->reconnect_ms);
        sleep_ms(c->opt->reconnect_ms);
    }
}

/* ------------------------------------------------------- command line */

static const char usage_text[] =
    "usage: resdeliv-client [options]\n"
    "  --port P                server port (default 6001)\n"
    "  --key KEY               app key (default app-key)\n"
    "  --channel NAME          channel to subscribe to (default demo)\n"
    "  --drop-after N          drop the connection once, with no close\n"
    "                          frame, after N messages\n"
    "  --reconnect-after-ms M  wait before reconnecting (default 1000)\n"
    "  --count N               exit after N messages (default: run on)\n"
    "  --quiet                 print only errors and the summary\n"
    "  --help                  this text\n";

static int usage_error(const char *what, const char *value)
{
    fprintf(stderr,
            "resdeliv-client: %s '%s'\ntry 'resdeliv-client "
            "--help'\n",
            what, value);
    return EXIT_USAGE;
}

static int parse_number(const char *flag, const char *v, long max, long *out)
{
    char *end = NULL;

    errno = 0;
    *out = v != NULL ? strtol(v, &end, 10) : -1;
    if (v == NULL || errno != 0 || end == v || *end != '\0' || *out < 0 ||
        *out > max) {
        return usage_error(flag, v != NULL ? v : "needs a value; got");
    }
    return 0;
}

/* A key goes into the request line: URL-safe characters only. */
static int key_valid(const char *key)
{
    return *key != '\0' &&
           strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                       "klmnopqrstuvwxyz0123456789-_.") == strlen(key);
}

static int parse_one(struct options *o, const char *flag, const char *v)
{
    if (strcmp(flag, "--port") == 0) {
        return parse_number(flag, v, 65535, &o->port);
    }
    if (strcmp(flag, "--drop-after") == 0) {
        return parse_number(flag, v, 1000000000L, &o->drop_after);
    }
    if (strcmp(flag, "--reconnect-after-ms") == 0) {
        return parse_number(flag, v, 3600000L, &o->reconnect_ms);
    }
    if (strcmp(flag, "--count") == 0) {
        return parse_number(flag, v, 1000000000L, &o->count);
    }
    if (v == NULL) {
        return usage_error("needs a value:", flag);
    }
    if (strcmp(flag, "--key") == 0) {
        o->key = v;
        return key_valid(v) ? 0 : usage_error("--key: not a key:", v);
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
    o->port = 6001;
    o->key = "app-key";
    o->channel = "demo";
    o->reconnect_ms = 1000;
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
    if (o->port == 0) {
        return usage_error("--port: not a port", "0");
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options opt;
    struct client c;
    int rc;

    memset(&opt, 0, sizeof(opt));
    memset(&c, 0, sizeof(c));
    rc = parse_cli(&opt, argc, argv);
    if (rc != 0) {
        return rc == 1 ? 0 : rc;
    }
    /* Line by line, so a script reading the output sees each as it comes. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    c.opt = &opt;
    c.ws.fd = -1;
    if (resdeliv_dedup_new(DEDUP_WINDOW, &c.seen) != 0) {
        fprintf(stderr, "resdeliv-client: out of memory\n");
        return 1;
    }
    rc = run(&c);
    printf("done messages=%ld replayed=%ld untagged=%ld duplicates=%ld "
           "gaps=%ld\n",
           c.events, c.replayed, c.untagged, c.duplicates, c.gaps);
    resdeliv_dedup_free(c.seen);
    return rc;
}
