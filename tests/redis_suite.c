/* SPDX-License-Identifier: MIT */
/*
 * The shared main() body of the Check programs that run against a private
 * redis-server (see redis_suite.h).
 */
#include "redis_suite.h"

#include <signal.h>

int redis_suite_run(struct redis_server *srv, const char *const *extra,
                    Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    rc = redis_server_start(srv, extra);
    if (rc != REDIS_SERVER_OK) {
        srunner_free(sr);
        return redis_server_skip_status(rc);
    }
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    redis_server_stop(srv);
    return failed ? 1 : 0;
}
