/* SPDX-License-Identifier: MIT */
/*
 * resdeliv-cli against a private redis-server: publish (one and from
 * stdin), replay with --after, info, and the exit codes of bad arguments
 * and store errors. The CLI path is the first argument.
 */
#include "redis_suite.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define MAX_LINES 16

static struct redis_server srv;
static const char *cli;

struct run {
    int status;
    int nlines;
    cJSON *line[MAX_LINES];
};

/* Run the CLI with `args` (shell words, already quoted), optional stdin. */
static void run(struct run *r, const char *args, const char *input)
{
    char cmd[1024];
    char buf[4096];
    FILE *p;

    memset(r, 0, sizeof(*r));
    if (input != NULL) {
        snprintf(cmd, sizeof(cmd),
                 "printf '%s' | '%s' --store %s %s 2>/dev/null", input, cli,
                 srv.url, args);
    } else {
        snprintf(cmd, sizeof(cmd), "'%s' --store %s %s 2>/dev/null", cli,
                 srv.url, args);
    }
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (fgets(buf, sizeof(buf), p) != NULL && r->nlines < MAX_LINES) {
        r->line[r->nlines] = cJSON_Parse(buf);
        ck_assert_msg(r->line[r->nlines] != NULL, "not JSON: %s", buf);
        r->nlines++;
    }
    r->status = pclose(p);
    r->status = WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

static void run_free(struct run *r)
{
    for (int i = 0; i < r->nlines; i++) {
        cJSON_Delete(r->line[i]);
    }
}

static const char *str(const struct run *r, int i, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->line[i], name);
    ck_assert_msg(cJSON_IsString(v), "line %d has no string '%s'", i, name);
    return v->valuestring;
}

START_TEST(publish_replay_info)
{
    struct run r;
    char first[64];
    char epoch[64];
    char args[256];

    run(&r, "--app-id cli publish orders created '{\"n\":1}'", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(r.nlines, 1);
    snprintf(first, sizeof(first), "%s", str(&r, 0, "id"));
    snprintf(epoch, sizeof(epoch), "%s", str(&r, 0, "epoch"));
    run_free(&r);
    run(&r, "--app-id cli publish orders created -",
        "{\"n\":2}\\n{\"n\":3}\\n");
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(r.nlines, 2);
    ck_assert_str_eq(str(&r, 1, "epoch"), epoch);
    run_free(&r);
    snprintf(args, sizeof(args),
             "--app-id cli replay orders --after %s --epoch %s", first,
             epoch);
    run(&r, args, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(r.nlines, 3);
    ck_assert_str_eq(str(&r, 0, "status"), "continuous");
    ck_assert_str_eq(str(&r, 0, "epoch"), epoch);
    ck_assert_str_eq(str(&r, 1, "event"), "created");
    ck_assert_ptr_nonnull(strstr(str(&r, 1, "data"), "\"n\":2"));
    ck_assert_ptr_nonnull(strstr(str(&r, 2, "data"), str(&r, 2, "id")));
    run_free(&r);
    run(&r, "--app-id cli info orders", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(r.nlines, 1);
    ck_assert_int_eq(
        cJSON_GetObjectItemCaseSensitive(r.line[0], "length")->valueint, 3);
    ck_assert_str_eq(str(&r, 0, "first"), first);
    ck_assert_str_eq(str(&r, 0, "epoch"), epoch);
    run_free(&r);
}
END_TEST

START_TEST(epoch_changed)
{
    struct run r;

    run(&r, "--app-id cli2 replay orders --after 1-0 --epoch zzz", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_ge(r.nlines, 1);
    ck_assert_str_eq(str(&r, 0, "status"), "gap");
    run_free(&r);
}
END_TEST

START_TEST(exit_codes)
{
    struct run r;

    run(&r, "publish only-channel", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    run(&r, "frobnicate x", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    run(&r, "--retention -5 publish a b c", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    run(&r, "replay a --epoch e", NULL);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-resdeliv-cli\n", argv[0]);
        return 1;
    }
    cli = argv[1];
    s = suite_create("cli_redis");
    tc = tcase_create("cli");
    tcase_add_test(tc, publish_replay_info);
    tcase_add_test(tc, epoch_changed);
    tcase_add_test(tc, exit_codes);
    suite_add_tcase(s, tc);
    return redis_suite_run(&srv, NULL, s);
}
