/* SPDX-License-Identifier: MIT */
/*
 * resdeliv-cli: an operator's tool over any store URL, printing one JSON
 * object per line so scripts can read it.
 *
 *   resdeliv-cli --store URL [--app-id ID] [--retention N] \
 *       publish CHANNEL EVENT DATA        (DATA "-": one per stdin line)
 *   resdeliv-cli --store URL [--app-id ID] \
 *       replay CHANNEL [--after ID [--epoch E]] [--limit N]
 *   resdeliv-cli --store URL [--app-id ID] info CHANNEL
 *
 * Options may come before or after the command. Bad arguments exit 2,
 * store errors exit 1 with the store's message. Publishing fails rather
 * than delivering untagged (on_log_failure = fail): a tool must say when
 * nothing was logged. The memory store lives only as long as the process.
 */
#include <resdeliv/resdeliv.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2
#define EXIT_STORE 1
#define STDIN_BATCH 64
#define MAX_POSITIONAL 4

struct cli {
    const char *store;
    const char *app_id;
    const char *after;
    const char *epoch;
    uint64_t retention;
    uint64_t limit;
    const char *pos[MAX_POSITIONAL];
    int npos;
};

static int usage(const char *msg)
{
    fprintf(stderr,
            "resdeliv-cli: %s\n"
            "usage: resdeliv-cli --store URL [--app-id ID] [--retention N] "
            "publish CHANNEL EVENT DATA|-\n"
            "       resdeliv-cli --store URL [--app-id ID] replay CHANNEL "
            "[--after ID [--epoch E]] [--limit N]\n"
            "       resdeliv-cli --store URL [--app-id ID] info CHANNEL\n",
            msg);
    return EXIT_USAGE;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0) {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* One "--name value" option; 1 when consumed, -1 on a bad value. */
static int take_option(struct cli *c, const char *name, const char *v)
{
    if (strcmp(name, "--store") == 0) {
        c->store = v;
    } else if (strcmp(name, "--app-id") == 0) {
        c->app_id = v;
    } else if (strcmp(name, "--after") == 0) {
        c->after = v;
    } else if (strcmp(name, "--epoch") == 0) {
        c->epoch = v;
    } else if (strcmp(name, "--retention") == 0) {
        return parse_u64(v, &c->retention) == 0 ? 1 : -1;
    } else if (strcmp(name, "--limit") == 0) {
        return parse_u64(v, &c->limit) == 0 ? 1 : -1;
    } else {
        return 0;
    }
    return 1;
}

static int parse_args(int argc, char **argv, struct cli *c)
{
    char msg[160];

    memset(c, 0, sizeof(*c));
    c->app_id = "app-id";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            int rc = i + 1 < argc ? take_option(c, a, argv[i + 1]) : 0;
            if (rc <= 0) {
                snprintf(msg, sizeof(msg), "%s option '%s'",
                         rc < 0 || i + 1 < argc ? "bad or unknown"
                                                : "missing value for",
                         a);
                return usage(msg);
            }
            i++;
        } else if (c->npos < MAX_POSITIONAL) {
            c->pos[c->npos++] = a;
        } else {
            return usage("too many arguments");
        }
    }
    if (c->store == NULL) {
        return usage("--store URL is required");
    }
    if (c->npos == 0) {
        return usage("missing command");
    }
    if (c->epoch != NULL && c->after == NULL) {
        return usage("--epoch needs --after");
    }
    return 0;
}

/* Print and free one JSON object as a line. */
static int emit(cJSON *obj)
{
    char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;

    cJSON_Delete(obj);
    if (text == NULL) {
        fprintf(stderr, "resdeliv-cli: out of memory\n");
        return EXIT_STORE;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

static void add_id(cJSON *obj, const char *name, const struct resdeliv_id *id)
{
    char buf[RESDELIV_ID_BUFSIZE];

    resdeliv_id_format(id, buf, sizeof(buf));
    cJSON_AddStringToObject(obj, name, buf);
}

static void add_bytes(cJSON *obj, const char *name, const char *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL) {
        cJSON_AddNullToObject(obj, name);
        return;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    cJSON_AddStringToObject(obj, name, s);
    free(s);
}

static int print_published(const struct resdeliv_publish_result *r)
{
    cJSON *o = cJSON_CreateObject();

    if (r->status != 0 || !r->logged) {
        cJSON_Delete(o);
        fprintf(stderr, "resdeliv-cli: publish failed: %s\n",
                resdeliv_strerror(r->status ? r->status : RESDELIV_ESTORE));
        return EXIT_STORE;
    }
    add_id(o, "id", &r->position.id);
    cJSON_AddStringToObject(o, "epoch", r->position.epoch);
    return emit(o);
}

static int store_error(resdeliv_log *log, int rc)
{
    const char *detail = resdeliv_store_errmsg(resdeliv_log_store(log));

    if (detail[0] == '\0') {
        detail = resdeliv_log_errmsg(log);
    }
    fprintf(stderr, "resdeliv-cli: %s%s%s\n", resdeliv_strerror(rc),
            detail[0] ? ": " : "", detail);
    return EXIT_STORE;
}

static int publish_batch(resdeliv_log *log, struct resdeliv_message *msgs,
                         size_t n)
{
    struct resdeliv_publish_result res[STDIN_BATCH];
    int rc;
    int out = 0;

    memset(res, 0, sizeof(res));
    rc = resdeliv_log_publish_batch(log, msgs, n, res);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && out == 0) {
            out = res[i].status != 0 || !res[i].logged
                      ? store_error(log, res[i].status ? res[i].status
                                                       : RESDELIV_ESTORE)
                      : print_published(&res[i]);
        }
        resdeliv_publish_result_clear(&res[i]);
    }
    return rc != 0 ? store_error(log, rc) : out;
}

/* DATA "-": one data object per stdin line, in batches. */
static int publish_stdin(resdeliv_log *log, const char *chan,
                         const char *event)
{
    struct resdeliv_message msgs[STDIN_BATCH];
    char *lines[STDIN_BATCH];
    size_t n = 0;
    size_t cap = 0;
    char *line = NULL;
    ssize_t len;
    int rc = 0;

    while (rc == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len == 0) {
            continue;
        }
        lines[n] = line;
        msgs[n] = (struct resdeliv_message){chan, strlen(chan), event,
                                            strlen(event), line,
                                            (size_t)len};
        line = NULL;
        cap = 0;
        if (++n == STDIN_BATCH) {
            rc = publish_batch(log, msgs, n);
            while (n > 0) {
                free(lines[--n]);
            }
        }
    }
    free(line);
    if (rc == 0 && n > 0) {
        rc = publish_batch(log, msgs, n);
    }
    while (n > 0) {
        free(lines[--n]);
    }
    return rc;
}

static int cmd_publish(resdeliv_log *log, const struct cli *c)
{
    struct resdeliv_message m;
    struct resdeliv_publish_result r;
    int rc;

    if (c->npos != 4) {
        return usage("publish takes CHANNEL EVENT DATA");
    }
    if (strcmp(c->pos[3], "-") == 0) {
        return publish_stdin(log, c->pos[1], c->pos[2]);
    }
    m = (struct resdeliv_message){c->pos[1], strlen(c->pos[1]), c->pos[2],
                                  strlen(c->pos[2]), c->pos[3],
                                  strlen(c->pos[3])};
    memset(&r, 0, sizeof(r));
    rc = resdeliv_log_publish(log, &m, &r);
    if (rc == RESDELIV_EWHISPER || rc == RESDELIV_EINVAL) {
        resdeliv_publish_result_clear(&r);
        return usage(resdeliv_strerror(rc));
    }
    rc = rc != 0 ? store_error(log, rc) : print_published(&r);
    resdeliv_publish_result_clear(&r);
    return rc;
}

static int print_status(const struct resdeliv_replay_status *st)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "status", st->continuous ? "continuous"
                                                        : "gap");
    if (st->continuous) {
        cJSON_AddNullToObject(o, "reason");
    } else {
        cJSON_AddStringToObject(o, "reason",
                                resdeliv_gap_reason_name(st->reason));
    }
    if (st->has_oldest) {
        add_id(o, "oldest", &st->oldest);
    } else {
        cJSON_AddNullToObject(o, "oldest");
    }
    if (st->lost >= 0) {
        cJSON_AddNumberToObject(o, "lost", (double)st->lost);
    } else {
        cJSON_AddNullToObject(o, "lost");
    }
    add_id(o, "position", &st->position.id);
    cJSON_AddStringToObject(o, "epoch", st->position.epoch);
    return emit(o);
}

static int print_entries(const struct resdeliv_replay_entry *e, size_t n)
{
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++) {
        cJSON *o = cJSON_CreateObject();
        add_id(o, "id", &e[i].id);
        add_bytes(o, "event", e[i].event, e[i].event_len);
        add_bytes(o, "data", e[i].payload, e[i].payload_len);
        rc = emit(o);
    }
    return rc;
}

static int cmd_replay(resdeliv_log *log, const struct cli *c)
{
    resdeliv_replay *cur = NULL;
    const struct resdeliv_replay_entry *entries;
    size_t n = 1;
    int rc;

    if (c->npos != 2) {
        return usage("replay takes CHANNEL");
    }
    rc = resdeliv_replay_open(log, c->pos[1], c->after ? c->after : "0-0",
                              c->epoch, &cur);
    if (rc != 0) {
        return rc == RESDELIV_EINVAL ? usage(resdeliv_strerror(rc))
                                     : store_error(log, rc);
    }
    rc = print_status(resdeliv_replay_status(cur));
    while (rc == 0 && n > 0) {
        rc = resdeliv_replay_next_page(cur, &entries, &n);
        if (rc != 0) {
            rc = store_error(log, rc);
            break;
        }
        rc = print_entries(entries, n);
    }
    resdeliv_replay_close(cur);
    return rc;
}

static void on_info(void *arg, int status,
                    const struct resdeliv_log_info *info)
{
    (void)status;
    *(struct resdeliv_log_info *)arg = *info;
}

static int cmd_info(resdeliv_log *log, const struct cli *c)
{
    struct resdeliv_log_key key;
    struct resdeliv_log_info in;
    cJSON *o;
    int rc;

    if (c->npos != 2) {
        return usage("info takes CHANNEL");
    }
    key = (struct resdeliv_log_key){c->app_id, strlen(c->app_id), c->pos[1],
                                    strlen(c->pos[1])};
    memset(&in, 0, sizeof(in));
    rc = resdeliv_store_info(resdeliv_log_store(log), &key, NULL, 0, on_info,
                             &in);
    if (rc != 0) {
        return store_error(log, rc);
    }
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "exists", in.exists != 0);
    cJSON_AddNumberToObject(o, "length", (double)in.length);
    add_id(o, "first", &in.first);
    add_id(o, "last", &in.last);
    cJSON_AddStringToObject(o, "epoch", in.epoch);
    cJSON_AddNumberToObject(o, "entries_added", (double)in.entries_added);
    if (in.has_max_deleted) {
        add_id(o, "max_deleted", &in.max_deleted);
    }
    return emit(o);
}

int main(int argc, char **argv)
{
    struct resdeliv_config cfg;
    struct cli c;
    resdeliv_log *log = NULL;
    char err[512];
    int rc = parse_args(argc, argv, &c);

    if (rc != 0) {
        return rc;
    }
    if (strcmp(c.pos[0], "publish") != 0 && strcmp(c.pos[0], "replay") != 0 &&
        strcmp(c.pos[0], "info") != 0) {
        return usage("unknown command (publish, replay, info)");
    }
    resdeliv_config_init(&cfg);
    cfg.connection = c.store;
    cfg.on_log_failure = RESDELIV_ON_FAILURE_FAIL;
    if (c.retention != 0) {
        cfg.default_max_messages = c.retention;
    }
    if (c.limit != 0) {
        cfg.replay_max_messages = c.limit;
    }
    err[0] = '\0';
    rc = resdeliv_log_open(&cfg, NULL, c.app_id, &log, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "resdeliv-cli: %s\n", err[0] ? err
                                                     : resdeliv_strerror(rc));
        return rc == RESDELIV_EBADCONFIG || rc == RESDELIV_EBADURL ||
                       rc == RESDELIV_EINVAL
                   ? EXIT_USAGE
                   : EXIT_STORE;
    }
    if (strcmp(c.pos[0], "publish") == 0) {
        rc = cmd_publish(log, &c);
    } else if (strcmp(c.pos[0], "replay") == 0) {
        rc = cmd_replay(log, &c);
    } else {
        rc = cmd_info(log, &c);
    }
    resdeliv_log_close(log);
    return rc;
}
