/* SPDX-License-Identifier: MIT */
/*
 * The end-to-end tests' side of the wire: resdeliv-server as a child
 * process, a WebSocket client over a plain TCP socket, an HTTP/1.1 client
 * that signs Pusher API requests, and Pusher helpers (see e2e_client.h).
 */
#include "e2e_client.h"

#include <resdeliv/resdeliv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- server */

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

    s->pid = -1;
    s->port = -1;
    for (; args != NULL && *args != NULL && n + 1 < 32; args++) {
        argv[n++] = *args;
    }
    argv[n] = NULL;
    if (pipe(pipefd) != 0) {
        return -1;
    }
    s->pid = fork();
    if (s->pid == 0) {
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

/* ------------------------------------------------------------ sockets */

static int tcp_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Read more into ws->buf. @return 1, 0 on timeout, -1 on EOF/error. */
static int fill(struct e2e_ws *ws, int timeout_ms)
{
    struct pollfd pfd = {ws->fd, POLLIN, 0};
    size_t room;
    ssize_t r;

    if (ws->have + 65536 > ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 131072;
        unsigned char *b = realloc(ws->buf, cap);
        if (b == NULL) {
            return -1;
        }
        ws->buf = b;
        ws->cap = cap;
    }
    if (poll(&pfd, 1, timeout_ms) <= 0) {
        return 0;
    }
    room = ws->cap - ws->have;
    if (ws->read_max != 0 && ws->read_max < room) {
        room = ws->read_max;
    }
    r = recv(ws->fd, ws->buf + ws->have, room, 0);
    if (r <= 0) {
        return -1;
    }
    ws->have += (size_t)r;
    ws->reads++;
    return 1;
}

static void consume(struct e2e_ws *ws, size_t n)
{
    memmove(ws->buf, ws->buf + n, ws->have - n);
    ws->have -= n;
}

/* ---------------------------------------------------------- WebSocket */

int e2e_ws_open(struct e2e_ws *ws, int port, const char *path)
{
    char req[1024];
    unsigned char *end;

    memset(ws, 0, sizeof(*ws));
    ws->fd = tcp_connect(port);
    if (ws->fd < 0) {
        return -1;
    }
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: "
             "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             path, port);
    if (write_all(ws->fd, req, strlen(req)) != 0) {
        e2e_ws_close(ws);
        return -1;
    }
    for (;;) {
        if (fill(ws, E2E_TIMEOUT_MS) <= 0) {
            e2e_ws_close(ws);
            return -1;
        }
        end = memmem(ws->buf, ws->have, "\r\n\r\n", 4);
        if (end != NULL) {
            break;
        }
    }
    if (ws->have < 12 || memcmp(ws->buf, "HTTP/1.1 101", 12) != 0) {
        e2e_ws_close(ws);
        return -1;
    }
    consume(ws, (size_t)(end + 4 - ws->buf));
    return 0;
}

static int send_frame(struct e2e_ws *ws, int opcode, const void *data,
                      size_t len)
{
    unsigned char *f = malloc(len + 14);
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    size_t h = 2;
    int rc;

    if (f == NULL) {
        return -1;
    }
    f[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        f[1] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(len >> 8);
        f[3] = (unsigned char)len;
        h = 4;
    } else {
        f[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) {
            f[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        }
        h = 10;
    }
    memcpy(f + h, mask, 4);
    for (size_t i = 0; i < len; i++) {
        f[h + 4 + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
    }
    rc = write_all(ws->fd, f, h + 4 + len);
    free(f);
    return rc;
}

int e2e_ws_send(struct e2e_ws *ws, const char *text)
{
    return send_frame(ws, 1, text, strlen(text));
}

/* One complete frame from the buffer: header length in *hlen, payload
 * length in *plen. @return 1 when complete. */
static int frame_ready(const struct e2e_ws *ws, size_t *hlen, size_t *plen)
{
    const unsigned char *b = ws->buf;
    size_t h = 2, len;

    if (ws->have < 2) {
        return 0;
    }
    len = b[1] & 0x7f;
    if (len == 126) {
        h = 4;
        len = ws->have >= 4 ? ((size_t)b[2] << 8) | b[3] : 0;
    } else if (len == 127) {
        h = 10;
        len = 0;
        for (int i = 0; ws->have >= 10 && i < 8; i++) {
            len = (len << 8) | b[2 + i];
        }
    }
    *hlen = h;
    *plen = len;
    return ws->have >= h && ws->have - h >= len;
}

static int append_msg(struct e2e_ws *ws, const unsigned char *p, size_t n)
{
    char *m = realloc(ws->msg, ws->msg_len + n + 1);

    if (m == NULL) {
        return -1;
    }
    memcpy(m + ws->msg_len, p, n);
    ws->msg = m;
    ws->msg_len += n;
    ws->msg[ws->msg_len] = '\0';
    return 0;
}

/* Handle one buffered frame. @return 1 message done, 0 more, -1 closed. */
static int take_frame(struct e2e_ws *ws, size_t h, size_t len)
{
    int fin = ws->buf[0] & 0x80, op = ws->buf[0] & 0x0f;
    const unsigned char *p = ws->buf + h;
    int rc = 0;

    ws->frames++;
    if ((ws->buf[0] & 0x70) != 0 || (ws->buf[1] & 0x80) != 0) {
        /* RSV bits with no extension agreed, or a masked frame from the
         * server (RFC 6455 5.1, 5.2): read as a failed connection. */
        ws->close_code = 1002;
        rc = -1;
    } else if (op == 8) {
        ws->close_code = len >= 2 ? (p[0] << 8) | p[1] : 1005;
        rc = -1;
    } else if (op == 9) {
        rc = send_frame(ws, 10, p, len) == 0 ? 0 : -1;
    } else if (op == 0 || op == 1 || op == 2) {
        rc = append_msg(ws, p, len) != 0 ? -1 : (fin ? 1 : 0);
    }
    consume(ws, h + len);
    return rc;
}

int e2e_ws_recv(struct e2e_ws *ws, int timeout_ms, char **out)
{
    size_t h, len;

    *out = NULL;
    if (ws->fd < 0) {
        return -1;
    }
    for (;;) {
        int rc;
        while (frame_ready(ws, &h, &len)) {
            rc = take_frame(ws, h, len);
            if (rc == 1) {
                *out = ws->msg != NULL ? ws->msg : strdup("");
                ws->msg = NULL;
                ws->msg_len = 0;
                return 1;
            }
            if (rc < 0) {
                return -1;
            }
        }
        rc = fill(ws, timeout_ms);
        if (rc <= 0) {
            return rc;
        }
    }
}

void e2e_ws_close(struct e2e_ws *ws)
{
    if (ws->fd >= 0) {
        close(ws->fd);
    }
    ws->fd = -1;
    free(ws->buf);
    free(ws->msg);
    ws->buf = NULL;
    ws->msg = NULL;
    ws->have = ws->cap = ws->msg_len = 0;
}
