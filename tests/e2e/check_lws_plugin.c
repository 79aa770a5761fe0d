/* SPDX-License-Identifier: MIT */
/*
 * The lws protocol plugin libprotocol_resdeliv.so as a third-party lws
 * server uses it: found and loaded by lws_plugins_init(), its protocol
 * configured with per-vhost options and served by an lws context on lws's
 * own poll loop (a service thread here), then driven over real sockets:
 * a Pusher client resumes with last_event_id after a drop, and the
 * per-vhost retention option shows as a gap.
 *
 * Usage: check_lws_plugin /path/to/libprotocol_resdeliv.so
 *        [/path/to/libresdeliv.so.0]
 * The second argument is loaded first, as an installed system's loader
 * path would find it, since the plugin is linked from a private copy.
 */
#include "e2e_scenarios.h"

#include <libwebsockets.h>

#include <dlfcn.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char plugin_dir[1024];

struct host {
    /* lws keeps pointers to the options for the vhost's life */
    struct lws_protocol_vhost_options pvo_id;
    struct lws_protocol_vhost_options pvo_ret;
    struct lws_protocol_vhost_options pvo;
    struct lws_plugin *plugins;
    struct lws_context *ctx;
    pthread_t thread;
    volatile int stop;
    int port;
};

static void *service(void *arg)
{
    struct host *h = arg;

    while (!h->stop) {
        if (lws_service(h->ctx, 0) < 0) {
            break;
        }
    }
    return NULL;
}

static const lws_plugin_protocol_t *load_plugin(struct host *h)
{
    const char *dirs[] = {plugin_dir, NULL};

    ck_assert_int_eq(lws_plugins_init(&h->plugins, dirs, "lws_protocol_plugin",
                                      "resdeliv", NULL, NULL),
                     0);
    ck_assert_msg(h->plugins != NULL, "no plugin found in %s", plugin_dir);
    return (const lws_plugin_protocol_t *)h->plugins->hdr;
}

static void host_start(struct host *h, const char *retention)
{
    struct lws_context_creation_info info;
    const lws_plugin_protocol_t *pp;

    memset(h, 0, sizeof(*h));
    h->pvo_id.name = "app-id";
    h->pvo_id.value = E2E_APP_ID;
    h->pvo_ret.next = &h->pvo_id;
    h->pvo_ret.name = "retention";
    h->pvo_ret.value = retention;
    h->pvo.options = &h->pvo_ret;
    h->pvo.name = "resdeliv-pusher";
    h->pvo.value = "";
    pp = load_plugin(h);
    memset(&info, 0, sizeof(info));
    info.port = 0;
    info.iface = "127.0.0.1";
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.protocols = pp->protocols;
    info.pvo = &h->pvo;
    h->ctx = lws_create_context(&info);
    ck_assert_ptr_nonnull(h->ctx);
    h->port =
        lws_get_vhost_listen_port(lws_get_vhost_by_name(h->ctx, "default"));
    ck_assert_int_gt(h->port, 0);
    ck_assert_int_eq(pthread_create(&h->thread, NULL, service, h), 0);
}

static void host_stop(struct host *h)
{
    h->stop = 1;
    lws_cancel_service(h->ctx);
    pthread_join(h->thread, NULL);
    lws_context_destroy(h->ctx);
    ck_assert_int_eq(lws_plugins_destroy(&h->plugins, NULL, NULL), 0);
}

START_TEST(plugin_exports_protocol)
{
    struct host h;
    const lws_plugin_protocol_t *pp;

    memset(&h, 0, sizeof(h));
    pp = load_plugin(&h);
    ck_assert_str_eq(pp->hdr.name, "resdeliv pusher");
    ck_assert_str_eq(pp->hdr._class, "lws_protocol_plugin");
    ck_assert_uint_eq(pp->hdr.api_magic, LWS_PLUGIN_API_MAGIC);
    ck_assert_int_eq(pp->count_protocols, 1);
    ck_assert_str_eq(pp->protocols[0].name, "resdeliv-pusher");
    ck_assert_ptr_nonnull(pp->protocols[0].callback);
    ck_assert_uint_gt(pp->protocols[0].per_session_data_size, 0);
    ck_assert_int_eq(lws_plugins_destroy(&h.plugins, NULL, NULL), 0);
}
END_TEST

START_TEST(plugin_serves_resume)
{
    struct host h;
    struct e2e_server s;

    host_start(&h, "1000");
    s.pid = -1;
    s.port = h.port;
    e2e_resume_scenario(&s, &s, "plugin-orders");
    host_stop(&h);
}
END_TEST

START_TEST(plugin_retention_option)
{
    struct host h;
    struct e2e_pusher p;
    struct e2e_mark mark;
    cJSON *gap;

    host_start(&h, "3");
    ck_assert_int_eq(e2e_pusher_connect(&p, h.port), 0);
    e2e_subscribe_ok(&p, "plugin-gap", NULL, NULL);
    e2e_publish_run(h.port, "plugin-gap", "tick", 1, 1);
    e2e_expect_run(&p, "tick", 1, 1, &mark, NULL);
    e2e_pusher_close(&p);
    ck_assert_int_eq(e2e_publish_batch(h.port, "plugin-gap", "tick", 2, 6, 0),
                     200);
    ck_assert_int_eq(e2e_pusher_connect(&p, h.port), 0);
    e2e_subscribe_ok(&p, "plugin-gap", &mark, NULL);
    gap = e2e_pusher_next(&p, E2E_TIMEOUT_MS);
    ck_assert_ptr_nonnull(gap);
    ck_assert_str_eq(e2e_event(gap), "resdeliv:gap");
    cJSON_Delete(gap);
    e2e_expect_run(&p, "tick", 5, 3, NULL, NULL);
    e2e_pusher_close(&p);
    host_stop(&h);
}
END_TEST

static Suite *plugin_suite(void)
{
    Suite *s = suite_create("lws_plugin");
    TCase *load = tcase_create("load");
    TCase *serve = tcase_create("serve");

    tcase_add_test(load, plugin_exports_protocol);
    tcase_add_test(serve, plugin_serves_resume);
    tcase_add_test(serve, plugin_retention_option);
    suite_add_tcase(s, load);
    suite_add_tcase(s, serve);
    return s;
}

/* lws_plugins_init() tries every entry of a directory whose name fits:
 * the plugin goes alone into a private directory, as an install has it
 * (a link, so that the build tree's run path still finds libresdeliv). */
static int stage_plugin(const char *src, char *dst, size_t size)
{
    char abs[1024];

    snprintf(plugin_dir, sizeof(plugin_dir), "/tmp/resdeliv-plugin-XXXXXX");
    if (realpath(src, abs) == NULL || mkdtemp(plugin_dir) == NULL) {
        return -1;
    }
    snprintf(dst, size, "%s/libprotocol_resdeliv.so", plugin_dir);
    return symlink(abs, dst);
}

int main(int argc, char **argv)
{
    char staged[1200];
    SRunner *sr;
    int failed;

    if (argc < 2) {
        fprintf(stderr,
                "usage: %s /path/to/libprotocol_resdeliv.so "
                "[/path/to/libresdeliv.so.0]\n",
                argv[0]);
        return 1;
    }
    if (argc > 2 && dlopen(argv[2], RTLD_NOW | RTLD_GLOBAL) == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", argv[2], dlerror());
        return 1;
    }
    if (stage_plugin(argv[1], staged, sizeof(staged)) != 0) {
        fprintf(stderr, "cannot link %s into a private directory\n", argv[1]);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    sr = srunner_create(plugin_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    unlink(staged);
    rmdir(plugin_dir);
    return failed ? 1 : 0;
}
