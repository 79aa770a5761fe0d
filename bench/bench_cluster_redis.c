/* SPDX-License-Identifier: MIT */
/*
 * bench-cluster's Redis side: the command counts of INFO commandstats
 * around a run, and a MONITOR connection that tells the commands the
 * nodes sent apart from those their scripts ran (INFO counts both alike),
 * with the tables that print them.
 */
#include "bench_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define MON_MARK "bench-cluster-monitor-end"

int bc_cmdstats(redisContext *rc, struct cmdtab *t)
{
    redisReply *r = redisCommand(rc, "INFO commandstats");
    const char *p;

    t->n = 0;
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "bench-cluster: INFO commandstats failed\n");
        if (r != NULL) {
            freeReplyObject(r);
        }
        return -1;
    }
    for (p = strstr(r->str, "cmdstat_"); p != NULL && t->n < MAX_CMDS;
         p = strstr(p, "cmdstat_")) {
        const char *colon, *calls;

        p += strlen("cmdstat_");
        colon = strchr(p, ':');
        calls = colon != NULL ? strstr(colon, "calls=") : NULL;
        if (calls == NULL || colon - p >= 40) {
            break;
        }
        memcpy(t->name[t->n], p, (size_t)(colon - p));
        t->name[t->n][colon - p] = '\0';
        t->calls[t->n++] = strtod(calls + strlen("calls="), NULL);
    }
    freeReplyObject(r);
    return 0;
}

const double *bc_cmd_get(const struct cmdtab *t, const char *name)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->name[i], name) == 0) {
            return &t->calls[i];
        }
    }
    return NULL;
}

static double *cmd_slot(struct cmdtab *t, const char *name)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->name[i], name) == 0) {
            return &t->calls[i];
        }
    }
    if (t->n == MAX_CMDS) {
        return NULL;
    }
    snprintf(t->name[t->n], sizeof(t->name[0]), "%s", name);
    t->calls[t->n] = 0;
    return &t->calls[t->n++];
}

/* Adds after - before to `tot` (INFO itself left out). @return the sum. */
double bc_cmd_diff(const struct cmdtab *before, const struct cmdtab *after,
                   struct cmdtab *tot)
{
    double sum = 0;

    for (int i = 0; i < after->n; i++) {
        const double *b = bc_cmd_get(before, after->name[i]);
        double d = after->calls[i] - (b != NULL ? *b : 0);
        double *t;

        if (strcmp(after->name[i], "info") == 0 || d <= 0) {
            continue;
        }
        sum += d;
        t = cmd_slot(tot, after->name[i]);
        if (t != NULL) {
            *t += d;
        }
    }
    return sum;
}

/* MONITOR shows each command once, the ones a script ran tagged `lua`:
 * it tells the commands the nodes sent from those their scripts ran,
 * which INFO commandstats counts alike. Untimed runs only. */
redisContext *bc_monitor_start(int port)
{
    struct timeval tv = {10, 0};
    redisContext *mon = redisConnect("127.0.0.1", port);
    redisReply *r = NULL;

    if (mon != NULL && mon->err == 0 &&
        redisSetTimeout(mon, tv) == REDIS_OK) {
        r = redisCommand(mon, "MONITOR");
    }
    if (r == NULL) {
        if (mon != NULL) {
            redisFree(mon);
        }
        return NULL;
    }
    freeReplyObject(r);
    return mon;
}

/* Counts one MONITOR line: `TIME [DB ADDR] "cmd" "arg"...`. */
static void monitor_line(const char *line, struct conf *cf)
{
    const char *p = strstr(line, "] \""), *q;
    char name[40];
    double *slot;
    size_t n;

    if (p == NULL || (q = strchr(p + 3, '"')) == NULL) {
        return;
    }
    n = (size_t)(q - (p + 3));
    if (n == 0 || n >= sizeof(name)) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = p[3 + i];
        name[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
    name[n] = '\0';
    if (strcmp(name, "info") == 0 || strcmp(name, "echo") == 0) {
        return;
    }
    slot = cmd_slot(memmem(line, (size_t)(p - line), " lua", 4) != NULL
                        ? &cf->lua
                        : &cf->sent,
                    name);
    if (slot != NULL) {
        *slot += 1;
    }
}

/* Reads what MONITOR showed up to a marker, then stops monitoring. */
int bc_monitor_collect(redisContext *rc, redisContext *mon, struct conf *cf)
{
    redisReply *r = redisCommand(rc, "ECHO %s", MON_MARK);
    int ret = -1;

    if (r == NULL) {
        redisFree(mon);
        return -1;
    }
    freeReplyObject(r);
    while (redisGetReply(mon, (void **)&r) == REDIS_OK && r != NULL) {
        int end = r->type == REDIS_REPLY_STATUS &&
                  strstr(r->str, MON_MARK) != NULL;
        if (r->type == REDIS_REPLY_STATUS && !end) {
            monitor_line(r->str, cf);
        }
        freeReplyObject(r);
        if (end) {
            ret = 0;
            break;
        }
    }
    redisFree(mon);
    return ret;
}

/* ------------------------------------------------------------- report */

/* Whether an earlier configuration already printed the command. */
static int printed(const struct conf *cf, int conf, const char *name)
{
    for (int j = 0; j < conf; j++) {
        if (bc_cmd_get(&cf[j].tot, name) != NULL) {
            return 1;
        }
    }
    return 0;
}

void bc_print_cmds(const struct conf *cf, int nconf)
{
    printf("\nRedis calls per publish, by command (INFO commandstats; "
           "commands inside\nMULTI/EXEC and scripts count on their own):\n");
    printf("%-16s", "command");
    for (int i = 0; i < nconf; i++) {
        printf(" %14s", cf[i].name);
    }
    printf("\n");
    for (int i = 0; i < nconf; i++) {
        const struct cmdtab *t = &cf[i].tot;
        for (int k = 0; k < t->n; k++) {
            if (printed(cf, i, t->name[k])) {
                continue;
            }
            printf("%-16s", t->name[k]);
            for (int j = 0; j < nconf; j++) {
                const double *v = bc_cmd_get(&cf[j].tot, t->name[k]);
                printf(" %14.3f", v != NULL && cf[j].msgs > 0
                                      ? *v / cf[j].msgs
                                      : 0.0);
            }
            printf("\n");
        }
    }
}

void bc_print_sent(const struct conf *confs, int nconf, int warm)
{
    printf("\nCommands per publish seen by MONITOR in the untimed warm-up "
           "(%d publishes):\n", warm);
    printf("%-14s %10s %10s  %s\n", "configuration", "sent", "in script",
           "sent, by command");
    for (int i = 0; i < nconf; i++) {
        const struct conf *cf = &confs[i];
        double sent = 0, lua = 0, m = cf->mon_msgs > 0 ? cf->mon_msgs : 1;

        for (int k = 0; k < cf->sent.n; k++) {
            sent += cf->sent.calls[k];
        }
        for (int k = 0; k < cf->lua.n; k++) {
            lua += cf->lua.calls[k];
        }
        printf("%-14s %10.3f %10.3f ", cf->name, sent / m, lua / m);
        for (int k = 0; k < cf->sent.n; k++) {
            printf(" %s=%.3f", cf->sent.name[k], cf->sent.calls[k] / m);
        }
        printf("\n");
    }
}

double bc_sent_per_pub(const struct conf *cf)
{
    double sent = 0;

    for (int k = 0; k < cf->sent.n; k++) {
        sent += cf->sent.calls[k];
    }
    return cf->mon_msgs > 0 ? sent / cf->mon_msgs : 0;
}
