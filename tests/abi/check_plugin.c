/* SPDX-License-Identifier: MIT */
/*
 * The plugin ABI from a host's side: load the built libresdeliv_plugin.so
 * with dlopen, check that it exports only its entry, make instances from
 * good and bad configurations, and drive a subscribe -> replay through the
 * hooks over an in-process transport that records every frame. The
 * version rules are checked both ways: a host of a newer ABI major gets no
 * descriptor, a descriptor of a newer major is refused, an older (smaller)
 * host struct still works, and hooks beyond the host's struct size are
 * never reached.
 *
 * Built a second time with CHECK_PLUGIN_STATIC, it runs the same hooks on
 * the plugin linked in with RESDELIV_PLUGIN_STATIC, without dlopen.
 *
 * usage: check_plugin PATH/libresdeliv_plugin.so (no argument when static)
 */
#include "plugin_test_host.h"

#include <resdeliv/resdeliv.h>

#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(CHECK_PLUGIN_STATIC)
#include "resdeliv_plugin.h"
#endif

static const char *plugin_path;
static void *plugin_so;
static resdeliv_plugin_entry_fn plugin_entry;
static struct resdeliv_plugin plugin_copy; /* the host's copy */

/* -------------------------------------------------------------- load */

#if !defined(CHECK_PLUGIN_STATIC)
START_TEST(test_only_entry_exported)
{
    void *so = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);

    ck_assert_msg(so != NULL, "%s", dlerror());
    ck_assert_ptr_nonnull(dlsym(so, RESDELIV_PLUGIN_ENTRY_SYMBOL));
    ck_assert_ptr_null(dlsym(so, "resdeliv__plugin_settings_parse"));
    ck_assert_ptr_null(dlsym(so, "resdeliv_plugin_resdeliv_entry"));
    ck_assert_ptr_null(dlsym(so, "p_create"));
    ck_assert_ptr_null(dlsym(so, "descriptor"));
    dlclose(so);
}
END_TEST
#endif

START_TEST(test_descriptor)
{
    ck_assert_int_eq(resdeliv_plugin_check(plugin), 0);
    ck_assert_str_eq(plugin->name, "resdeliv");
    ck_assert_ptr_nonnull(plugin->version);
    ck_assert_uint_eq(plugin->struct_size, sizeof(struct resdeliv_plugin));
    ck_assert_ptr_nonnull(plugin->subscribe);
    ck_assert_ptr_nonnull(plugin->subscription_succeeded);
    ck_assert_ptr_nonnull(plugin->broadcast);
    ck_assert_ptr_nonnull(plugin->writable);
    ck_assert_ptr_nonnull(plugin->http);
}
END_TEST

START_TEST(test_entry_refuses_newer_host)
{
    resdeliv_plugin_entry_fn entry = plugin_entry;
    uint32_t newer = (RESDELIV_ABI_MAJOR + 1u) << 16;

    ck_assert_ptr_null(entry(newer));
    ck_assert_ptr_null(entry(newer | RESDELIV_ABI_MINOR));
    /* A newer minor of the same major only appended members. */
    ck_assert_ptr_nonnull(entry(RESDELIV_ABI_VERSION + 5u));
}
END_TEST

/* ------------------------------------------------------ host helpers */

static int never_called(void *instance, void *conn)
{
    (void)instance;
    (void)conn;
    ck_abort_msg("a hook beyond the host's known size was called");
    return 0;
}

/* A descriptor from a "newer" plugin: one more hook after ours. */
struct newer_plugin {
    struct resdeliv_plugin base;
    int (*future)(void *instance, void *conn);
};

START_TEST(test_check_refuses)
{
    struct resdeliv_plugin d = *plugin;
    struct resdeliv_plugin out;

    ck_assert_int_eq(resdeliv_plugin_check(NULL), RESDELIV_EINVAL);
    d.abi_version = (RESDELIV_ABI_MAJOR + 1u) << 16;
    ck_assert_int_eq(resdeliv_plugin_check(&d), RESDELIV_EABI);
    ck_assert_int_eq(resdeliv_plugin_copy(&d, &out, sizeof(out)),
                     RESDELIV_EABI);
    d = *plugin;
    d.struct_size = RESDELIV_PLUGIN_MIN_SIZE - 1;
    ck_assert_int_eq(resdeliv_plugin_check(&d), RESDELIV_EABI);
    d = *plugin;
    d.create = NULL;
    ck_assert_int_eq(resdeliv_plugin_check(&d), RESDELIV_EINVAL);
    d = *plugin;
    d.name = NULL;
    ck_assert_int_eq(resdeliv_plugin_check(&d), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_plugin_copy(plugin, &out, 8), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_plugin_copy(plugin, NULL, sizeof(out)),
                     RESDELIV_EINVAL);
}
END_TEST

START_TEST(test_newer_plugin_hook_not_reached)
{
    struct newer_plugin np = {.base = *plugin, .future = never_called};
    struct {
        struct resdeliv_plugin p;
        void *after; /* what follows the host's struct */
    } host_side;
    void *canary = &host_side;

    np.base.struct_size = (uint32_t)sizeof(np);
    host_side.after = canary;
    ck_assert_int_eq(
        resdeliv_plugin_copy(&np.base, &host_side.p, sizeof(host_side.p)), 0);
    ck_assert_uint_eq(host_side.p.struct_size, sizeof(struct resdeliv_plugin));
    ck_assert_ptr_eq(host_side.after, canary);
    ck_assert_ptr_eq(host_side.p.writable, plugin->writable);
}
END_TEST

START_TEST(test_older_sizes)
{
    size_t old = offsetof(struct resdeliv_plugin, subscribe);
    struct resdeliv_plugin older = *plugin, out;
    union {
        struct resdeliv_plugin p;
        unsigned char bytes[sizeof(struct resdeliv_plugin)];
    } small;

    /* An older plugin without writable: the host sees NULL there. */
    older.struct_size = (uint32_t)offsetof(struct resdeliv_plugin, writable);
    older.writable = never_called;
    ck_assert_int_eq(resdeliv_plugin_copy(&older, &out, sizeof(out)), 0);
    ck_assert_ptr_null(out.writable);
    ck_assert_ptr_null(out.unsubscribe);
    ck_assert_ptr_eq(out.broadcast, plugin->broadcast);
    /* An older host knowing hooks up to message: nothing past is written. */
    memset(small.bytes, 0xAB, sizeof(small.bytes));
    ck_assert_int_eq(resdeliv_plugin_copy(plugin, &small.p, old), 0);
    ck_assert_uint_eq(small.p.struct_size, old);
    ck_assert_ptr_eq(small.p.message, plugin->message);
    for (size_t i = old; i < sizeof(small.bytes); i++) {
        ck_assert_uint_eq(small.bytes[i], 0xAB);
    }
}
END_TEST

/* ------------------------------------------------------------- config */

#define APPS "\"app_id\":\"a\",\"app_key\":\"k\",\"app_secret\":\"s\""

static const struct bad_config {
    const char *json;
    int rc;
    const char *names; /* what the message must name */
} bad_configs[] = {
    {"{", RESDELIV_EBADJSON, "not valid JSON"},
    {"[1]", RESDELIV_EBADCONFIG, "expected a JSON object"},
    {"{" APPS ",\"server\":{\"bogus\":1}}", RESDELIV_EBADCONFIG,
     "server.bogus"},
    {"{" APPS ",\"server\":{\"max_frame\":0}}", RESDELIV_EBADCONFIG,
     "server.max_frame"},
    {"{" APPS ",\"server\":{\"max_frame\":70000}}", RESDELIV_EBADCONFIG,
     "server.max_frame"},
    {"{" APPS ",\"server\":{\"max_held\":1.5}}", RESDELIV_EBADCONFIG,
     "server.max_held"},
    {"{" APPS ",\"server\":{\"client_events\":\"yes\"}}", RESDELIV_EBADCONFIG,
     "server.client_events"},
    {"{" APPS ",\"server\":5}", RESDELIV_EBADCONFIG, "server"},
    {"{\"app_id\":5,\"app_key\":\"k\",\"app_secret\":\"s\"}",
     RESDELIV_EBADCONFIG, "app_id"},
    {"{\"app_id\":\"a\",\"app_id\":\"b\",\"app_key\":\"k\","
     "\"app_secret\":\"s\"}",
     RESDELIV_EBADCONFIG, "app_id: given twice"},
    {"{\"app_id\":\"a\",\"app_key\":\"k\"}", RESDELIV_EBADCONFIG,
     "app_secret: missing"},
    {"{" APPS ",\"nope\":1}", RESDELIV_EBADCONFIG, "nope"},
    {"{" APPS ",\"retention\":{\"default_max_messages\":-1}}",
     RESDELIV_EBADCONFIG, "retention.default_max_messages"},
    {"{" APPS ",\"replay_batch_size\":\"many\"}", RESDELIV_EBADCONFIG,
     "replay_batch_size"},
};

START_TEST(test_bad_config)
{
    const struct bad_config *b = &bad_configs[_i];
    struct host h = {0};
    struct resdeliv_transport tp = transport_of(&h);
    struct resdeliv_plugin_host ph = {RESDELIV_STRUCT_HEAD(ph),
                                      .transport = &tp};
    char err[256] = "";
    void *inst = &h;
    int rc;

    rc = plugin->create(&ph, b->json, strlen(b->json), &inst, err, sizeof(err));
    ck_assert_msg(rc == b->rc, "%s: got %s (%s)", b->json,
                  resdeliv_err_name(rc), err);
    ck_assert_ptr_null(inst);
    ck_assert_msg(strstr(err, b->names) != NULL, "%s: message '%s' lacks '%s'",
                  b->json, err, b->names);
}
END_TEST

START_TEST(test_good_config)
{
    struct host h = {0};
    struct resdeliv_transport tp;
    void *inst = make(&h, &tp);
    const char *channels[] = {"c1", "c2", "c3", "c4", "c5"};

    ck_assert_int_eq(
        plugin->conn_open(inst, &h.conns[0], "/app/" KEY "?protocol=7"), 0);
    expect_event(&h.conns[0], 0, "pusher:connection_established");
    ck_assert_int_eq(plugin->conn_open(inst, &h.conns[1], "/app/nokey"),
                     RESDELIV_ENOENT);
    ck_assert_int_eq(h.conns[1].closed, 1);
    /* "server": {"max_subscriptions": 4} reached the seam. */
    ck_assert_int_eq(plugin->conn_open(inst, &h.conns[2], NULL), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(
            plugin->subscribe(inst, &h.conns[2], channels[i], NULL, NULL), 0);
    }
    ck_assert_int_eq(
        plugin->subscribe(inst, &h.conns[2], channels[4], NULL, NULL),
        RESDELIV_EOVERFLOW);
    ck_assert_uint_gt(h.logs, 0);
    plugin->destroy(inst);
    plugin->destroy(NULL);
    host_clear(&h);
}
END_TEST

START_TEST(test_app_from_host)
{
    struct host h = {0};
    struct resdeliv_transport tp = transport_of(&h);
    struct resdeliv_plugin_host ph = {RESDELIV_STRUCT_HEAD(ph),
                                      .transport = &tp, .app_id = "a",
                                      .app_key = "k", .app_secret = "s"};
    const char *same = "{\"app_id\":\"a\"}";
    const char *other = "{\"app_key\":\"other\"}";
    char err[256] = "";
    void *inst = NULL;

    ck_assert_int_eq(plugin->create(&ph, NULL, 0, &inst, err, sizeof(err)), 0);
    plugin->destroy(inst);
    ck_assert_int_eq(
        plugin->create(&ph, same, strlen(same), &inst, err, sizeof(err)), 0);
    plugin->destroy(inst);
    ck_assert_int_eq(
        plugin->create(&ph, other, strlen(other), &inst, err, sizeof(err)),
        RESDELIV_EBADCONFIG);
    ck_assert_ptr_null(inst);
    ck_assert_ptr_nonnull(strstr(err, "app_key"));
}
END_TEST

START_TEST(test_bad_host)
{
    struct host h = {0};
    struct resdeliv_transport tp = transport_of(&h);
    struct resdeliv_transport nojoin = tp;
    struct resdeliv_plugin_host ph = {RESDELIV_STRUCT_HEAD(ph),
                                      .transport = &tp};
    const char *cfg = "{" APPS "}";
    size_t len = strlen(cfg);
    char err[256] = "";
    void *inst = NULL;

    ck_assert_int_eq(plugin->create(NULL, cfg, len, &inst, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(plugin->create(&ph, cfg, len, NULL, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ph.abi_version = (RESDELIV_ABI_MAJOR + 1u) << 16;
    ck_assert_int_eq(plugin->create(&ph, cfg, len, &inst, err, sizeof(err)),
                     RESDELIV_EABI);
    ck_assert_ptr_nonnull(strstr(err, "ABI"));
    ph.abi_version = RESDELIV_ABI_VERSION;
    ph.struct_size = 8;
    ck_assert_int_eq(plugin->create(&ph, cfg, len, &inst, err, sizeof(err)),
                     RESDELIV_EABI);
    ph.struct_size = sizeof(ph);
    ph.transport = NULL;
    ck_assert_int_eq(plugin->create(&ph, cfg, len, &inst, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "transport"));
    tp.abi_version = (RESDELIV_ABI_MAJOR + 1u) << 16;
    ph.transport = &tp;
    ck_assert_int_eq(plugin->create(&ph, cfg, len, &inst, err, sizeof(err)),
                     RESDELIV_EABI);
    ck_assert_ptr_nonnull(strstr(err, "host.transport"));
    nojoin.join = NULL;
    ph.transport = &nojoin;
    ck_assert_int_lt(plugin->create(&ph, cfg, len, &inst, err, sizeof(err)), 0);
    ck_assert_ptr_null(inst);
}
END_TEST

/* With a loop, a store URL goes to the event-loop store, which checks the
 * hooks at once (or answers ENOTSUP in a build without Redis). */
START_TEST(test_loop_store_checked)
{
    struct host h = {0};
    struct resdeliv_transport tp = transport_of(&h);
    struct resdeliv_loop no_hooks = {RESDELIV_STRUCT_HEAD(no_hooks)};
    struct resdeliv_plugin_host ph = {RESDELIV_STRUCT_HEAD(ph),
                                      .transport = &tp, .loop = &no_hooks};
    const char *cfg = "{" APPS ",\"connection\":\"redis://127.0.0.1:1\"}";
    char err[256] = "";
    void *inst = &h;
    int rc;

    rc = plugin->create(&ph, cfg, strlen(cfg), &inst, err, sizeof(err));
    ck_assert_msg(rc == RESDELIV_EINVAL || rc == RESDELIV_ENOTSUP, "%s: %s",
                  resdeliv_err_name(rc), err);
    ck_assert_ptr_null(inst);
    ck_assert_str_ne(err, "");
}
END_TEST

/* A host built against a first header that ended after `transport`. */
struct older_host {
    uint32_t struct_size;
    uint32_t abi_version;
    const struct resdeliv_transport *transport;
};

START_TEST(test_older_host_struct)
{
    struct host h = {0};
    struct resdeliv_transport tp = transport_of(&h);
    struct older_host *oh = malloc(sizeof(*oh)); /* exact size for ASan */
    const char *cfg = "{" APPS "}";
    char err[256] = "";
    void *inst = NULL;
    int rc;

    ck_assert_ptr_nonnull(oh);
    *oh = (struct older_host){(uint32_t)sizeof(*oh), RESDELIV_ABI_VERSION, &tp};
    rc = plugin->create((const struct resdeliv_plugin_host *)(void *)oh, cfg,
                        strlen(cfg), &inst, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(plugin->conn_open(inst, &h.conns[0], NULL), 0);
    ck_assert_int_eq(plugin->subscribe(inst, &h.conns[0], "news", NULL, NULL),
                     0);
    publish(inst, 1, 2);
    expect_run(&h.conns[0], 1, 1, 2);
    plugin->destroy(inst);
    free(oh);
    host_clear(&h);
}
END_TEST

/* ------------------------------------------------------------- replay */

/* A host that speaks Pusher itself: subscribe, drop, resume. */
START_TEST(test_subscribe_replay)
{
    struct host h = {0};
    struct resdeliv_transport tp;
    void *inst = make(&h, &tp);
    struct conn *a = &h.conns[0], *b = &h.conns[1];
    char last[64];

    ck_assert_int_eq(plugin->conn_open(inst, a, NULL), 0);
    ck_assert_int_eq(plugin->subscribe(inst, a, "news", NULL, NULL), 0);
    pump(&h, inst);
    expect_event(a, 0, "pusher_internal:subscription_succeeded");
    publish(inst, 1, 3);
    expect_run(a, 1, 1, 3);
    frame_n(a, 3, last, sizeof(last));
    /* The client drops; the host forgets the socket. */
    plugin->conn_close(inst, a);
    a->closed = 1;
    forget(&h, a);
    publish(inst, 4, 6);
    ck_assert_uint_eq(a->n, 4);

    ck_assert_int_eq(plugin->conn_open(inst, b, NULL), 0);
    ck_assert_int_eq(plugin->subscribe(inst, b, "news", last, ""), 0);
    expect_event(b, 0, "pusher_internal:subscription_succeeded");
    /* Published while the replay runs: held, then sent once after it. */
    publish(inst, 7, 7);
    pump(&h, inst);
    expect_run(b, 1, 4, 7);
    publish(inst, 8, 8);
    expect_run(b, 1, 4, 8);
    ck_assert_int_eq(plugin->unsubscribe(inst, b, "news"), 0);
    ck_assert_int_eq(plugin->unsubscribe(inst, b, "news"), RESDELIV_ENOENT);
    publish(inst, 9, 9);
    ck_assert_uint_eq(b->n, 6);
    plugin->conn_close(inst, b);
    plugin->destroy(inst);
    host_clear(&h);
}
END_TEST

START_TEST(test_subscription_succeeded_hook)
{
    struct host h = {0};
    struct resdeliv_transport tp;
    void *inst = make(&h, &tp);
    struct conn *a = &h.conns[0], *c = &h.conns[1];
    const char *data = "{\"note\":\"from-host\"}";
    char first[64];

    ck_assert_int_eq(plugin->conn_open(inst, c, NULL), 0);
    ck_assert_int_eq(plugin->subscribe(inst, c, "news", NULL, NULL), 0);
    publish(inst, 1, 3);
    frame_n(c, 1, first, sizeof(first));

    ck_assert_int_eq(plugin->conn_open(inst, a, NULL), 0);
    ck_assert_int_eq(
        plugin->subscription_succeeded(inst, a, "other", NULL, NULL, NULL, 3),
        RESDELIV_EINVAL);
    ck_assert_int_eq(plugin->subscription_succeeded(inst, a, "news", first,
                                                    NULL, data, strlen(data)),
                     0);
    pump(&h, inst);
    expect_event(a, 0, "pusher_internal:subscription_succeeded");
    ck_assert_ptr_nonnull(strstr(a->frames[0], "from-host"));
    expect_run(a, 1, 2, 3);
    /* A second subscribe to the same channel sends nothing. */
    ck_assert_int_eq(plugin->subscribe(inst, a, "news", NULL, NULL),
                     RESDELIV_EINVAL);
    ck_assert_uint_eq(a->n, 3);
    ck_assert_int_eq(plugin->subscribe(inst, &h.conns[2], "news", NULL, NULL),
                     RESDELIV_ENOENT);
    plugin->destroy(inst);
    host_clear(&h);
}
END_TEST

START_TEST(test_broadcast_refused)
{
    struct host h = {0};
    struct resdeliv_transport tp;
    void *inst = make(&h, &tp);
    const char *d = "{}";

    ck_assert_int_eq(plugin->conn_open(inst, &h.conns[0], NULL), 0);
    ck_assert_int_eq(plugin->subscribe(inst, &h.conns[0], "news", NULL, NULL),
                     0);
    ck_assert_int_eq(
        plugin->broadcast(inst, "news", "client-typing", d, strlen(d), NULL),
        RESDELIV_EWHISPER);
    ck_assert_int_eq(plugin->broadcast(inst, NULL, "update", d, 2, NULL),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(plugin->broadcast(inst, "news", "update", NULL, 2, NULL),
                     RESDELIV_EINVAL);
    ck_assert_uint_eq(h.conns[0].n, 1);
    /* Data that is not an object is delivered untagged. */
    ck_assert_int_eq(
        plugin->broadcast(inst, "news", "update", "[1]", 3, &h.conns[1]), 0);
    ck_assert_uint_eq(h.conns[0].n, 2);
    ck_assert_ptr_null(strstr(h.conns[0].frames[1], "_replay_id"));
    plugin->destroy(inst);
    host_clear(&h);
}
END_TEST

static void send_text(void *inst, struct conn *c, const char *text)
{
    ck_assert_int_eq(plugin->message(inst, c, text, strlen(text)), 0);
}

/* The plugin speaks Pusher: the host only forwards frames. */
START_TEST(test_pusher_replay)
{
    struct host h = {0};
    struct resdeliv_transport tp;
    void *inst = make(&h, &tp);
    struct conn *a = &h.conns[0], *b = &h.conns[1];
    char last[64], text[256];

    ck_assert_int_eq(plugin->conn_open(inst, a, "/app/" KEY "?protocol=7"), 0);
    expect_event(a, 0, "pusher:connection_established");
    send_text(inst, a,
              "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
              "\"news\"}}");
    pump(&h, inst);
    expect_event(a, 1, "pusher_internal:subscription_succeeded");
    publish(inst, 1, 3);
    expect_run(a, 2, 1, 3);
    frame_n(a, 4, last, sizeof(last));
    plugin->conn_close(inst, a);
    a->closed = 1;
    forget(&h, a);
    publish(inst, 4, 5);

    ck_assert_int_eq(plugin->conn_open(inst, b, "/app/" KEY "?protocol=7"), 0);
    snprintf(text, sizeof(text),
             "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
             "\"news\",\"last_event_id\":\"%s\"}}",
             last);
    send_text(inst, b, text);
    pump(&h, inst);
    expect_event(b, 0, "pusher:connection_established");
    expect_event(b, 1, "pusher_internal:subscription_succeeded");
    expect_run(b, 2, 4, 5);
    plugin->destroy(inst);
    host_clear(&h);
}
END_TEST

/* --------------------------------------------------------------- http */

static void on_http(void *arg, struct resdeliv_http_response *resp)
{
    int *got = arg;

    got[0] = resp->status;
    got[1]++;
}

START_TEST(test_http_publish)
{
    struct host h = {0};
    struct resdeliv_transport tp;
    void *inst = make(&h, &tp);
    const char *body = "{\"name\":\"update\",\"channel\":\"news\","
                       "\"data\":\"{\\\"n\\\":1}\"}";
    const char *path = "/apps/plug/events";
    struct resdeliv_http_request req = {"POST", path, "", body, strlen(body)};
    char *query = NULL, err[128];
    int got[2] = {0, 0};

    ck_assert_int_eq(plugin->conn_open(inst, &h.conns[0], NULL), 0);
    ck_assert_int_eq(plugin->subscribe(inst, &h.conns[0], "news", NULL, NULL),
                     0);
    ck_assert_int_eq(plugin->http(inst, &req, 1700000000u, on_http, got), 0);
    ck_assert_int_eq(got[1], 1);
    ck_assert_int_eq(got[0], 401);
    ck_assert_uint_eq(h.conns[0].n, 1);
    ck_assert_int_eq(resdeliv_pusher_http_sign(
                         "POST", path, NULL, 0, KEY, "s3cret", 1700000000u,
                         body, strlen(body), &query, err, sizeof(err)),
                     0);
    req.query = query;
    ck_assert_int_eq(plugin->http(inst, &req, 1700000000u, on_http, got), 0);
    ck_assert_int_eq(got[1], 2);
    ck_assert_int_eq(got[0], 200);
    expect_run(&h.conns[0], 1, 1, 1);
    resdeliv_free(query);
    plugin->destroy(inst);
    host_clear(&h);
}
END_TEST

/* --------------------------------------------------------------- main */

static Suite *plugin_suite(void)
{
    Suite *s = suite_create("plugin");
    TCase *load = tcase_create("load");
    TCase *versions = tcase_create("versions");
    TCase *config = tcase_create("config");
    TCase *replay = tcase_create("replay");

#if !defined(CHECK_PLUGIN_STATIC)
    tcase_add_test(load, test_only_entry_exported);
#endif
    tcase_add_test(load, test_descriptor);
    suite_add_tcase(s, load);
    tcase_add_test(versions, test_entry_refuses_newer_host);
    tcase_add_test(versions, test_check_refuses);
    tcase_add_test(versions, test_newer_plugin_hook_not_reached);
    tcase_add_test(versions, test_older_sizes);
    tcase_add_test(versions, test_older_host_struct);
    suite_add_tcase(s, versions);
    tcase_add_loop_test(config, test_bad_config, 0,
                        (int)(sizeof(bad_configs) / sizeof(bad_configs[0])));
    tcase_add_test(config, test_good_config);
    tcase_add_test(config, test_app_from_host);
    tcase_add_test(config, test_bad_host);
    tcase_add_test(config, test_loop_store_checked);
    suite_add_tcase(s, config);
    tcase_add_test(replay, test_subscribe_replay);
    tcase_add_test(replay, test_subscription_succeeded_hook);
    tcase_add_test(replay, test_pusher_replay);
    tcase_add_test(replay, test_broadcast_refused);
    tcase_add_test(replay, test_http_publish);
    suite_add_tcase(s, replay);
    return s;
}

#if defined(CHECK_PLUGIN_STATIC)
static int load(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    plugin_path = "(linked in)";
    plugin_entry = resdeliv_plugin_resdeliv_entry;
    return 0;
}
#else
static int load(int argc, char **argv)
{
    static char path[4096];
    const char *root = getenv("RESDELIV_BUILD_ROOT");

    if (argc > 1) {
        plugin_path = argv[1];
    } else if (root != NULL) {
        snprintf(path, sizeof(path),
                 "%s/plugins/resdeliv/libresdeliv_plugin.so", root);
        plugin_path = path;
    } else {
        fprintf(stderr, "usage: %s PATH/libresdeliv_plugin.so\n", argv[0]);
        return 2;
    }
    plugin_so = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (plugin_so == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    /* POSIX's way of turning dlsym's object pointer into a function. */
    *(void **)&plugin_entry = dlsym(plugin_so, RESDELIV_PLUGIN_ENTRY_SYMBOL);
    return 0;
}
#endif

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed = load(argc, argv);

    if (failed != 0) {
        return failed;
    }
    if (plugin_entry == NULL ||
        resdeliv_plugin_copy(plugin_entry(RESDELIV_ABI_VERSION), &plugin_copy,
                             sizeof(plugin_copy)) != 0) {
        fprintf(stderr, "%s: no usable descriptor\n", plugin_path);
        failed = 1;
    } else {
        plugin = &plugin_copy;
        sr = srunner_create(plugin_suite());
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr) != 0;
        srunner_free(sr);
    }
    if (plugin_so != NULL) {
        dlclose(plugin_so);
    }
    return failed;
}
