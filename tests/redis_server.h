/* SPDX-License-Identifier: MIT */
/*
 * A private redis-server for the redis test suite: loopback only, a free
 * port, a temporary directory, no persistence. Stopped by pid; can be
 * killed and restarted on the same port to test faults.
 *
 * Check forks each test by default: a server started in an unchecked
 * fixture (the parent) is shared by the tests, while a test that kills or
 * restarts a server starts its own inside the test.
 */
#ifndef RESDELIV_TESTS_REDIS_SERVER_H
#define RESDELIV_TESTS_REDIS_SERVER_H

#include <sys/types.h>

/* redis_server_start() results. */
#define REDIS_SERVER_OK 0
#define REDIS_SERVER_SKIP 1    /* no redis-server binary */
#define REDIS_SERVER_ERROR (-1)

#define REDIS_SERVER_MAX_ARGS 8

struct redis_server {
    pid_t pid;
    int port;
    char dir[256];
    char url[96];          /* redis://127.0.0.1:<port> */
    char binary[512];
    const char *extra[REDIS_SERVER_MAX_ARGS + 1]; /* borrowed */
};

/* Start on a free port with `extra` arguments (NULL-terminated, may be
 * NULL; strings must outlive the server). Waits until it answers PING. */
int redis_server_start(struct redis_server *srv, const char *const *extra);
/* SIGKILL now and reap (the directory stays for a restart). */
void redis_server_kill(struct redis_server *srv);
/* Start again on the same port after a kill. */
int redis_server_restart(struct redis_server *srv);
/* SIGTERM, SIGKILL after a short grace, reap, remove the directory.
 * Accepts a never-started server. */
void redis_server_stop(struct redis_server *srv);
/* Exit status for a program whose server could not start: 77 (skip) when
 * there is no redis-server and RESDELIV_REQUIRE_REDIS is not 1, else 1. */
int redis_server_skip_status(int start_result);

#endif /* RESDELIV_TESTS_REDIS_SERVER_H */
