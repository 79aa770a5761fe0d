/* SPDX-License-Identifier: MIT */
/*
 * A small host for the plugin ABI (plugin.h), the shape a WebSocket server
 * takes when it loads delivery as a plugin: dlopen the .so named on the
 * command line with RTLD_NOW | RTLD_LOCAL, check the descriptor's ABI, make
 * an instance from a JSON configuration, and drive it through an
 * in-process transport that prints every frame it would write to a socket.
 *
 * The scripted session: client A connects and subscribes, three messages
 * are published, A drops, three more are published while it is away, the
 * client reconnects as B with the last id A saw, one more is published.
 * Every message must reach the client exactly once, in order; the program
 * exits 1 when one is missing or duplicated.
 *
 * usage: resdeliv-plugin-host PATH/libresdeliv_plugin.so
 */
#include <resdeliv/resdeliv.h>

#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMSG 7
#define CHANNEL "news"
#define CONFIG                                                                 \
    "{\"connection\":\"memory\",\"app_id\":\"demo\","                          \
    "\"app_key\":\"demo-key\",\"app_secret\":\"demo-secret\","                 \
    "\"replay_batch_size\":2,\"retention\":{\"default_max_messages\":100},"    \
    "\"server\":{\"max_held\":100}}"
#define WS_PATH "/app/demo-key?protocol=7&client=plugin-host&version=0.1"

struct conn {
    const char *name;
    int open;
    int want;        /* asked for a writable callback */
    int established; /* pusher:connection_established seen */
    int subscribed;  /* subscription_succeeded seen */
    int last_n;      /* last message number received */
    char last_id[64];
};

struct host {
    const struct resdeliv_plugin *p;
    void *inst;
    struct conn a, b;
    struct conn *joined[2];
    int seen[NMSG + 1]; /* deliveries per message number */
    int errors;
};

/* ------------------------------------------------------- frame reading */

static void on_message(struct host *h, struct conn *c, const cJSON *data)
{
    cJSON *obj = cJSON_IsString(data) ? cJSON_Parse(data->valuestring) : NULL;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, "n");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "_replay_id");

    if (!cJSON_IsNumber(n) || n->valueint < 1 || n->valueint > NMSG) {
        fprintf(stderr, "%s: a message without a valid n\n", c->name);
        h->errors++;
    } else {
        h->seen[n->valueint]++;
        if (n->valueint <= c->last_n) {
            fprintf(stderr, "%s: message %d after %d\n", c->name, n->valueint,
                    c->last_n);
            h->errors++;
        }
        c->last_n = n->valueint;
    }
    if (cJSON_IsString(id)) {
        snprintf(c->last_id, sizeof(c->last_id), "%s", id->valuestring);
    }
    cJSON_Delete(obj);
}

static void receive(struct host *h, struct conn *c, const char *frame,
                    size_t len)
{
    cJSON *f = cJSON_ParseWithLength(frame, len);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(f, "event");
    const char *name = cJSON_IsString(ev) ? ev->valuestring : "";

    printf("  %s <- %.*s\n", c->name, (int)len, frame);
    if (strcmp(name, "pusher:connection_established") == 0) {
        c->established = 1;
    } else if (strcmp(name, "pusher_internal:subscription_succeeded") == 0) {
        c->subscribed = 1;
    } else if (strcmp(name, "update") == 0) {
        if (!c->subscribed) {
            fprintf(stderr, "%s: a message before subscription_succeeded\n",
                    c->name);
            h->errors++;
        }
        on_message(h, c, cJSON_GetObjectItemCaseSensitive(f, "data"));
    } else if (strcmp(name, "resdeliv:gap") == 0 ||
               strcmp(name, "pusher:error") == 0) {
        h->errors++;
    }
    cJSON_Delete(f);
}

/* ------------------------------------------------------------ transport */

static int t_send(void *hp, void *conn, const char *frame, size_t len)
{
    struct conn *c = conn;

    if (!c->open) {
        return RESDELIV_ECLOSED;
    }
    receive(hp, c, frame, len);
    return 0;
}

static int t_broadcast(void *hp, const char *channel, size_t channel_len,
                       const char *frame, size_t len, void *except)
{
    struct host *h = hp;

    (void)channel;
    (void)channel_len; /* one channel in this session */
    for (int i = 0; i < 2; i++) {
        if (h->joined[i] != NULL && h->joined[i] != except &&
            h->joined[i]->open) {
            receive(h, h->joined[i], frame, len);
        }
    }
    return 0;
}

static int t_request_writable(void *hp, void *conn)
{
    (void)hp;
    ((struct conn *)conn)->want = 1;
    return 0;
}

static int t_close(void *hp, void *conn, uint32_t code, const char *reason)
{
    (void)hp;
    printf("  %s closed by the plugin: %u %s\n", ((struct conn *)conn)->name,
           (unsigned)code, reason != NULL ? reason : "");
    ((struct conn *)conn)->open = 0;
    return 0;
}

static void t_log(void *hp, uint32_t level, const char *msg)
{
    (void)hp;
    printf("  [log %u] %s\n", (unsigned)level, msg);
}

static int t_join(void *hp, void *conn, const char *channel, size_t len)
{
    struct host *h = hp;

    (void)channel;
    (void)len;
    h->joined[conn == &h->a ? 0 : 1] = conn;
    return 0;
}

static int t_leave(void *hp, void *conn, const char *channel, size_t len)
{
    struct host *h = hp;

    (void)channel;
    (void)len;
    h->joined[conn == &h->a ? 0 : 1] = NULL;
    return 0;
}

/* ---------------------------------------------------------- the session */

/* Answers writable callbacks until the plugin asks for none. */
static void pump(struct host *h)
{
    struct conn *cs[2] = {&h->a, &h->b};

    for (int busy = 1, rounds = 0; busy && rounds < 1000; rounds++) {
        busy = 0;
        for (int i = 0; i < 2; i++) {
            if (cs[i]->want && cs[i]->open) {
                cs[i]->want = 0;
                busy = 1;
                h->p->writable(h->inst, cs[i]);
            }
        }
    }
}

static int publish(struct host *h, int from, int to)
{
    char data[64];

    for (int n = from; n <= to; n++) {
        int rc;
        snprintf(data, sizeof(data), "{\"n\":%d}", n);
        printf("publish %s\n", data);
        rc = h->p->broadcast(h->inst, CHANNEL, "update", data, strlen(data),
                             NULL);
        if (rc != 0) {
            fprintf(stderr, "broadcast: %s\n", resdeliv_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static int connect_and_subscribe(struct host *h, struct conn *c,
                                 const char *last_id)
{
    char text[256];
    int rc;

    printf("%s connects%s%s\n", c->name, last_id ? ", resuming after " : "",
           last_id ? last_id : "");
    c->open = 1;
    rc = h->p->conn_open(h->inst, c, WS_PATH);
    if (rc == 0) {
        snprintf(text, sizeof(text),
                 "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\""
                 "%s\"%s%s%s}}",
                 CHANNEL, last_id ? ",\"last_event_id\":\"" : "",
                 last_id ? last_id : "", last_id ? "\"" : "");
        rc = h->p->message(h->inst, c, text, strlen(text));
    }
    pump(h);
    return rc;
}

static int session(struct host *h)
{
    int rc = connect_and_subscribe(h, &h->a, NULL);

    if (rc == 0) {
        rc = publish(h, 1, 3);
    }
    if (rc == 0) {
        printf("A drops\n");
        h->p->conn_close(h->inst, &h->a);
        h->a.open = 0;
        h->joined[0] = NULL;
        rc = publish(h, 4, 6);
    }
    if (rc == 0) {
        rc = connect_and_subscribe(h, &h->b, h->a.last_id);
    }
    if (rc == 0) {
        rc = publish(h, 7, NMSG);
        pump(h);
    }
    return rc;
}

static int verdict(const struct host *h)
{
    int bad = h->errors;

    for (int n = 1; n <= NMSG; n++) {
        if (h->seen[n] != 1) {
            fprintf(stderr, "message %d delivered %d times\n", n, h->seen[n]);
            bad++;
        }
    }
    if (!h->a.established || !h->b.established || !h->b.subscribed) {
        fprintf(stderr, "a connection was not established or subscribed\n");
        bad++;
    }
    printf("%s: %d messages, A got up to %d, B resumed and got up to %d\n",
           bad ? "FAILED" : "ok", NMSG, h->a.last_n, h->b.last_n);
    return bad ? 1 : 0;
}

/* --------------------------------------------------------------- loading */

static int load(const char *path, void **so, struct resdeliv_plugin *p)
{
    resdeliv_plugin_entry_fn entry;
    int rc;

    *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*so == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    /* POSIX's way of turning dlsym's object pointer into a function. */
    *(void **)&entry = dlsym(*so, RESDELIV_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        fprintf(stderr, "%s: no %s symbol\n", path,
                RESDELIV_PLUGIN_ENTRY_SYMBOL);
        return 1;
    }
    rc = resdeliv_plugin_copy(entry(RESDELIV_ABI_VERSION), p, sizeof(*p));
    if (rc != 0) {
        fprintf(stderr, "%s: descriptor refused: %s\n", path,
                resdeliv_strerror(rc));
        return 1;
    }
    if (p->conn_open == NULL || p->message == NULL || p->writable == NULL ||
        p->broadcast == NULL || p->conn_close == NULL) {
        fprintf(stderr, "%s: lacks a hook this host needs\n", path);
        return 1;
    }
    printf("loaded plugin %s %s (ABI %#x)\n", p->name, p->version,
           (unsigned)p->abi_version);
    return 0;
}

int main(int argc, char **argv)
{
    struct host h = {.a = {.name = "A"}, .b = {.name = "B"}};
    struct resdeliv_transport tp = {
        RESDELIV_STRUCT_HEAD(tp),
        .host = &h,
        .send = t_send,
        .broadcast = t_broadcast,
        .request_writable = t_request_writable,
        .close = t_close,
        .log = t_log,
        .join = t_join,
        .leave = t_leave,
    };
    struct resdeliv_plugin_host ph = {RESDELIV_STRUCT_HEAD(ph),
                                      .transport = &tp};
    struct resdeliv_plugin p;
    char err[256] = "";
    void *so = NULL;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/libresdeliv_plugin.so\n", argv[0]);
        return 2;
    }
    if (load(argv[1], &so, &p) != 0) {
        if (so != NULL) {
            dlclose(so);
        }
        return 1;
    }
    h.p = &p;
    rc = p.create(&ph, CONFIG, strlen(CONFIG), &h.inst, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "create: %s: %s\n", resdeliv_strerror(rc), err);
        dlclose(so);
        return 1;
    }
    rc = session(&h);
    p.destroy(h.inst);
    dlclose(so);
    return rc != 0 ? 1 : verdict(&h);
}
