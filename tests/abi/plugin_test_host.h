/* SPDX-License-Identifier: MIT */
/*
 * The in-process host of check_plugin: a transport that records every
 * frame a connection would receive, keeps the joined (connection, channel)
 * pairs and broadcasts over them as a WebSocket server would, and helpers
 * to drive a plugin instance through its hooks and read the frames back.
 */
#ifndef PLUGIN_TEST_HOST_H
#define PLUGIN_TEST_HOST_H

#include <resdeliv/resdeliv.h>

#define MAXFRAMES 64
#define MAXJOINS 16
#define KEY "plug-key"
#define APP_CONFIG                                                             \
    "{\"connection\":\"memory\",\"app_id\":\"plug\",\"app_key\":\"" KEY        \
    "\",\"app_secret\":\"s3cret\",\"replay_batch_size\":2,"                    \
    "\"retention\":{\"default_max_messages\":50},"                             \
    "\"server\":{\"max_held\":20,\"max_subscriptions\":4,"                     \
    "\"client_events\":false,\"max_frame\":4096}}"

struct conn {
    char *frames[MAXFRAMES];
    size_t n;
    int want;
    int closed;
};

struct host {
    struct conn conns[3];
    struct {
        struct conn *c;
        char channel[64];
    } joins[MAXJOINS];
    size_t njoins;
    size_t logs;
};

/* The descriptor under test, as the host copied it. */
extern const struct resdeliv_plugin *plugin;

void forget(struct host *h, const void *conn);
struct resdeliv_transport transport_of(struct host *h);
void host_clear(struct host *h);
void pump(struct host *h, void *inst);
void frame_event(const struct conn *c, size_t i, char *ev, size_t n);
int frame_n(const struct conn *c, size_t i, char *id, size_t idsize);
void expect_event(const struct conn *c, size_t i, const char *event);
void *make(struct host *h, struct resdeliv_transport *tp);
void publish(void *inst, int from, int to);
void expect_run(const struct conn *c, size_t first, int from, int to);

#endif /* PLUGIN_TEST_HOST_H */
