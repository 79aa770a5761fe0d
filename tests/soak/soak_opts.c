/* SPDX-License-Identifier: MIT */
/*
 * The soak's command line, and the removal of a private redis-server
 * directory that holds append-only files (--redis-persist), which the
 * shared test harness does not know about.
 */
#include "soak.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_USAGE 2

static const char usage[] =
    "usage: soak /path/to/resdeliv-server [options]\n"
    "  --store memory|redis|both  (default memory)\n"
    "  --duration S     seconds of publishing (default 30)\n"
    "  --clients N      (default 200)\n"
    "  --channels N     (default 20)\n"
    "  --rate R         messages per second, all channels (default 1000)\n"
    "  --faults         kill and restart redis-server and a server (redis)\n"
    "  --redis-persist  redis-server keeps its data across kills (AOF)\n"
    "  --retention N    messages kept per channel (default 1000)\n"
    "  --drain S        most seconds to wait for clients to catch up "
    "(default 20)\n"
    "  --seed N         random seed (default: the time)\n"
    "  --verbose        print pusher:error frames\n";

static int bad(const char *flag, const char *v)
{
    fprintf(stderr, "soak: %s: bad value '%s'\n%s", flag, v ? v : "", usage);
    return EXIT_USAGE;
}

static int number(const char *flag, const char *v, double lo, double hi,
                  double *out)
{
    char *end = NULL;

    if (v == NULL) {
        return bad(flag, v);
    }
    errno = 0;
    *out = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || *out < lo || *out > hi) {
        return bad(flag, v);
    }
    return 0;
}

static int one(struct soak_opts *o, const char **store, const char *f,
               const char *v)
{
    double d = 0;
    int rc;

    if (strcmp(f, "--store") == 0) {
        if (v == NULL || (strcmp(v, "memory") != 0 && strcmp(v, "redis") != 0 &&
                          strcmp(v, "both") != 0)) {
            return bad(f, v);
        }
        *store = v;
        return 0;
    }
    static const struct {
        const char *name;
        double lo, hi;
    } nums[] = {{"--duration", 1, 86400},   {"--clients", 1, 5000},
                {"--channels", 1, 1000},    {"--rate", 1, 100000},
                {"--retention", 1, 1e7},    {"--drain", 1, 3600},
                {"--seed", 0, 4294967295.0}};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (strcmp(f, nums[i].name) != 0) {
            continue;
        }
        rc = number(f, v, nums[i].lo, nums[i].hi, &d);
        if (rc != 0) {
            return rc;
        }
        switch (i) {
        case 0:
            o->duration = d;
            break;
        case 1:
            o->clients = (int)d;
            break;
        case 2:
            o->channels = (int)d;
            break;
        case 3:
            o->rate = d;
            break;
        case 4:
            o->retention = (long)d;
            break;
        case 5:
            o->drain = d;
            break;
        default:
            o->seed = (unsigned)d;
            break;
        }
        return 1;
    }
    fprintf(stderr, "soak: unknown option '%s'\n%s", f, usage);
    return EXIT_USAGE;
}

int soak_parse_args(struct soak_opts *o, const char **store, int argc,
                    char **argv)
{
    memset(o, 0, sizeof(*o));
    o->duration = 30;
    o->clients = 200;
    o->channels = 20;
    o->rate = 1000;
    o->retention = 1000;
    o->drain = 20;
    o->seed = (unsigned)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        int rc;
        if (strcmp(f, "--faults") == 0) {
            o->faults = 1;
        } else if (strcmp(f, "--redis-persist") == 0) {
            o->redis_persist = 1;
        } else if (strcmp(f, "--verbose") == 0) {
            o->verbose = 1;
        } else if (strcmp(f, "--help") == 0) {
            fputs(usage, stdout);
            return EXIT_USAGE;
        } else if (strncmp(f, "--", 2) != 0 && o->server_bin == NULL) {
            o->server_bin = f;
        } else if ((rc = one(o, store, f, i + 1 < argc ? argv[i + 1] : NULL)) >
                   1) {
            return rc;
        } else {
            i++;
        }
    }
    if (o->server_bin == NULL) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    printf("soak: seed %u\n", o->seed);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void soak_remove_tree(const char *dir)
{
    if (dir != NULL && dir[0] != '\0') {
        nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    }
}
