/* SPDX-License-Identifier: MIT */
/*
 * resdeliv-server as a child process of the end-to-end tests (see
 * e2e_client.h): started on port 0 with the port it prints read back,
 * stopped with SIGTERM, and its peak memory read from /proc.
 */
#include "e2e_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int read_port(int fd)
{
    char line[512];
    size_t n = 0;

    while (n + 1 < sizeof(line)) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t r;
        if (poll(&pfd, 1, E2E_TIMEOUT_MS) <= 0) {
            return -1;
        }
        r = read(fd, line + n, 1);
        if (r <= 0) {
            return -1;
        }
        if (line[n] == '\n') {
            const char *p;
            line[n] = '\0';
            p = strstr(line, "127.0.0.1:");
            return p != NULL ? atoi(p + 10) : -1;
        }
        n++;
    }
    return -1;
}

int e2e_server_start(struct e2e_server *s, const char *bin,
                     const char *const *args)
{
    const char *argv[32] = {bin, "--port", "0"};
    size_t n = 3;
    int pipefd[2];
    pid_t parent;

    s->pid = -1;
    s->port = -1;
    for (; args != NULL && *args != NULL && n + 1 < 32; args++) {
        argv[n++] = *args;
    }
    argv[n] = NULL;
    if (pipe(pipefd) != 0) {
        return -1;
    }
    parent = getpid();
    s->pid = fork();
    if (s->pid == 0) {
        /* The server dies with the test that started it, even one that
         * fails before stopping it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
            _exit(127);
        }
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    if (s->pid > 0) {
        s->port = read_port(pipefd[0]);
    }
    close(pipefd[0]);
    if (s->port <= 0) {
        e2e_server_stop(s);
        return -1;
    }
    return 0;
}

int e2e_server_stop(struct e2e_server *s)
{
    int status = 0;

    if (s->pid <= 0) {
        return -1;
    }
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(10000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = -1;
    return -1;
}

long e2e_server_hwm_kb(const struct e2e_server *s)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return kb;
}

int e2e_run_status(const char *bin, const char *const *args)
{
    const char *argv[16] = {bin};
    size_t n = 1;
    int status = 0;
    pid_t pid;

    for (; args != NULL && *args != NULL && n + 1 < 16; args++) {
        argv[n++] = *args;
    }
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
