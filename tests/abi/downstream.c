/* SPDX-License-Identifier: MIT */
/*
 * A downstream program built with nothing but `pkg-config --cflags --libs
 * resdeliv` against an installed copy of the library: it publishes to the
 * memory store and replays what it published.
 */
#include <resdeliv/resdeliv.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    resdeliv_log *log = NULL;
    resdeliv_replay *cur = NULL;
    struct resdeliv_publish_result res;
    struct resdeliv_message msg = {"news", 4, "update", 6, "{\"n\":1}", 7};
    const struct resdeliv_replay_entry *entries;
    char err[256];
    size_t n = 0;
    int rc;

    memset(&res, 0, sizeof res);
    rc = resdeliv_log_open(NULL, NULL, "downstream", &log, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "open: %s: %s\n", resdeliv_strerror(rc), err);
        return 1;
    }
    rc = resdeliv_log_publish(log, &msg, &res);
    if (rc != 0 || !res.tagged || strstr(res.payload, "_replay_id") == NULL) {
        fprintf(stderr, "publish: %s\n", resdeliv_strerror(rc));
        return 1;
    }
    resdeliv_publish_result_clear(&res);
    rc = resdeliv_replay_open(log, "news", "0-0", NULL, &cur);
    if (rc == 0) {
        rc = resdeliv_replay_next_page(cur, &entries, &n);
    }
    if (rc != 0 || n != 1) {
        fprintf(stderr, "replay: rc %d, %zu entries\n", rc, n);
        return 1;
    }
    printf("downstream ok: %s %s\n", resdeliv_version(), entries[0].payload);
    resdeliv_replay_close(cur);
    resdeliv_log_close(log);
    return 0;
}
