/* SPDX-License-Identifier: MIT */
/*
 * Private redis-server processes for tests (see redis_server.h). The port
 * comes from binding port 0 on 127.0.0.1 and releasing it just before the
 * server binds it; a start that loses that race is retried on a new port.
 * A server dies with the process that started it (PR_SET_PDEATHSIG), so a
 * test that fails before stopping its own server leaves none behind.
 */
#include "redis_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#define START_ATTEMPTS 3
#define READY_WAIT_MS 5000
#define STOP_GRACE_MS 2000

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int find_binary(char *out, size_t size)
{
    const char *env = getenv("RESDELIV_REDIS_SERVER");
    const char *path = getenv("PATH");
    char *copy;
    char *save = NULL;

    if (env != NULL && *env != '\0') {
        snprintf(out, size, "%s", env);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    copy = strdup(path != NULL ? path : "/usr/bin:/usr/local/bin");
    if (copy == NULL) {
        return -1;
    }
    for (char *d = strtok_r(copy, ":", &save); d != NULL;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(out, size, "%s/redis-server", d);
        if (access(out, X_OK) == 0) {
            free(copy);
            return 0;
        }
    }
    free(copy);
    return -1;
}

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    if (fd < 0) {
        return -1;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
}

/* 1 when something on the port answers PING with a RESP reply. */
static int answers_ping(int port)
{
    struct sockaddr_in a;
    char buf[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = 0;

    if (fd < 0) {
        return 0;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        ok = n > 0 && (buf[0] == '+' || buf[0] == '-');
    }
    close(fd);
    return ok;
}

static int spawn(struct redis_server *srv)
{
    char port[16];
    char logfile[300];
    const char *argv[24];
    int n = 0;
    pid_t parent;

    snprintf(port, sizeof(port), "%d", srv->port);
    snprintf(logfile, sizeof(logfile), "%s/redis.log", srv->dir);
    argv[n++] = srv->binary;
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--dir";
    argv[n++] = srv->dir;
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    argv[n++] = "--logfile";
    argv[n++] = logfile;
    for (int i = 0; srv->extra[i] != NULL; i++) {
        argv[n++] = srv->extra[i];
    }
    argv[n] = NULL;
    parent = getpid();
    srv->pid = fork();
    if (srv->pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        /* The starter may already be gone: then there is no one to wait
         * for this server. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent ||
            fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(127);
        }
        execv(srv->binary, (char *const *)argv);
        _exit(127);
    }
    return srv->pid > 0 ? 0 : -1;
}

/* Spawn and wait for PING; a server that exits early is reaped. */
static int launch(struct redis_server *srv)
{
    int status;

    if (spawn(srv) != 0) {
        srv->pid = 0;
        return -1;
    }
    for (int waited = 0; waited < READY_WAIT_MS; waited += 5) {
        if (answers_ping(srv->port)) {
            return 0;
        }
        if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
            srv->pid = 0;
            return -1;
        }
        sleep_ms(5);
    }
    redis_server_kill(srv);
    return -1;
}

int redis_server_start(struct redis_server *srv, const char *const *extra)
{
    const char *tmp = getenv("TMPDIR");
    int i = 0;

    memset(srv, 0, sizeof(*srv));
    if (find_binary(srv->binary, sizeof(srv->binary)) != 0) {
        return REDIS_SERVER_SKIP;
    }
    for (; extra != NULL && extra[i] != NULL && i < REDIS_SERVER_MAX_ARGS;
         i++) {
        srv->extra[i] = extra[i];
    }
    srv->extra[i] = NULL;
    snprintf(srv->dir, sizeof(srv->dir), "%s/resdeliv-redis-XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(srv->dir) == NULL) {
        srv->dir[0] = '\0';
        return REDIS_SERVER_ERROR;
    }
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        srv->port = free_port();
        if (srv->port > 0 && launch(srv) == 0) {
            snprintf(srv->url, sizeof(srv->url), "redis://127.0.0.1:%d",
                     srv->port);
            return REDIS_SERVER_OK;
        }
    }
    redis_server_stop(srv);
    return REDIS_SERVER_ERROR;
}

void redis_server_kill(struct redis_server *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGKILL);
        while (waitpid(srv->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        srv->pid = 0;
    }
}

int redis_server_restart(struct redis_server *srv)
{
    redis_server_kill(srv);
    /* The port was just released by the same server: try it for a while
     * (TIME_WAIT does not block a listener with SO_REUSEADDR). */
    for (int attempt = 0; attempt < 20; attempt++) {
        if (launch(srv) == 0) {
            return REDIS_SERVER_OK;
        }
        sleep_ms(50);
    }
    return REDIS_SERVER_ERROR;
}

static void remove_dir(const char *dir)
{
    char path[400];

    if (dir[0] == '\0') {
        return;
    }
    snprintf(path, sizeof(path), "%s/redis.log", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/dump.rdb", dir);
    unlink(path);
    rmdir(dir);
}

void redis_server_stop(struct redis_server *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGTERM);
        for (int waited = 0; waited < STOP_GRACE_MS; waited += 5) {
            if (waitpid(srv->pid, NULL, WNOHANG) == srv->pid) {
                srv->pid = 0;
                break;
            }
            sleep_ms(5);
        }
        redis_server_kill(srv);
    }
    remove_dir(srv->dir);
    srv->dir[0] = '\0';
}

int redis_server_skip_status(int start_result)
{
    const char *req = getenv("RESDELIV_REQUIRE_REDIS");
    int required = req != NULL && strcmp(req, "1") == 0;

    if (start_result == REDIS_SERVER_SKIP && !required) {
        fprintf(stderr, "redis-server not found: skipping\n");
        return 77;
    }
    fprintf(stderr, "cannot start redis-server%s\n",
            start_result == REDIS_SERVER_SKIP
                ? " (none found, and RESDELIV_REQUIRE_REDIS=1)"
                : "");
    return 1;
}
