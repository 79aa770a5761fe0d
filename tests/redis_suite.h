/* SPDX-License-Identifier: MIT */
/*
 * main() of a Check program that needs a private redis-server for all of
 * its tests: start it, run the suite, stop it. Kept apart from
 * redis_server.c, which benchmarks use without Check.
 */
#ifndef RESDELIV_TESTS_REDIS_SUITE_H
#define RESDELIV_TESTS_REDIS_SUITE_H

#include "redis_server.h"

#include <check.h>

/* Ignore SIGPIPE (tests write to sockets of servers they kill), start
 * `srv` with `extra` arguments (NULL: none), run `s` and stop `srv`.
 * @return the program's exit status: 0 when every test passed, 1 when one
 * failed, and redis_server_skip_status() when no server could start. */
int redis_suite_run(struct redis_server *srv, const char *const *extra,
                    Suite *s);

#endif /* RESDELIV_TESTS_REDIS_SUITE_H */
