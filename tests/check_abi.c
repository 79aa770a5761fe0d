/* SPDX-License-Identifier: MIT */
/*
 * ABI pins: the layout of every versioned struct's head, the offsets of
 * vtable members, and the values of error codes and gap reasons. Changing
 * any of these breaks binaries built against an older release, so each
 * change must fail here first and come with an ABI.md history entry.
 */
#include <resdeliv/resdeliv.h>

#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PIN_HEAD(type)                                                         \
    _Static_assert(offsetof(type, struct_size) == 0, #type " struct_size");    \
    _Static_assert(offsetof(type, abi_version) == 4, #type " abi_version")

PIN_HEAD(struct resdeliv_store_ops);
PIN_HEAD(struct resdeliv_transport);
PIN_HEAD(struct resdeliv_config);
PIN_HEAD(struct resdeliv_memory_options);
PIN_HEAD(struct resdeliv_loop);
PIN_HEAD(struct resdeliv_redis_options);

_Static_assert(sizeof(struct resdeliv_id) == 16, "resdeliv_id size");
_Static_assert(RESDELIV_EPOCH_BUFSIZE == 33, "epoch buffer size");
_Static_assert(offsetof(struct resdeliv_position, epoch) == 16,
               "position epoch offset");

START_TEST(test_store_ops_layout)
{
    ck_assert_uint_eq(offsetof(struct resdeliv_store_ops, flags), 8);
    ck_assert_uint_eq(offsetof(struct resdeliv_store_ops, name), 16);
    ck_assert_uint_eq(offsetof(struct resdeliv_store_ops, append), 24);
    ck_assert_uint_eq(offsetof(struct resdeliv_store_ops, read), 32);
    ck_assert_uint_eq(offsetof(struct resdeliv_store_ops, info), 40);
    ck_assert_uint_eq(offsetof(struct resdeliv_store_ops, drop), 48);
    ck_assert_uint_eq(offsetof(struct resdeliv_store_ops, destroy), 56);
    ck_assert_uint_eq(offsetof(struct resdeliv_store_ops, errmsg), 64);
}
END_TEST

START_TEST(test_transport_layout)
{
    ck_assert_uint_eq(offsetof(struct resdeliv_transport, host), 8);
    ck_assert_uint_eq(offsetof(struct resdeliv_transport, send), 16);
    ck_assert_uint_eq(offsetof(struct resdeliv_transport, broadcast), 24);
    ck_assert_uint_eq(offsetof(struct resdeliv_transport, request_writable),
                      32);
    ck_assert_uint_eq(offsetof(struct resdeliv_transport, close), 40);
    ck_assert_uint_eq(offsetof(struct resdeliv_transport, log), 48);
    ck_assert_uint_eq(offsetof(struct resdeliv_transport, join), 56);
    ck_assert_uint_eq(offsetof(struct resdeliv_transport, leave), 64);
}
END_TEST

START_TEST(test_loop_layout)
{
    ck_assert_uint_eq(offsetof(struct resdeliv_loop, loop), 8);
    ck_assert_uint_eq(offsetof(struct resdeliv_loop, watch), 16);
    ck_assert_uint_eq(offsetof(struct resdeliv_loop, unwatch), 24);
    ck_assert_uint_eq(offsetof(struct resdeliv_loop, timer_start), 32);
    ck_assert_uint_eq(offsetof(struct resdeliv_loop, timer_stop), 40);
}
END_TEST

START_TEST(test_config_layout)
{
    ck_assert_uint_eq(offsetof(struct resdeliv_config, connection), 8);
    ck_assert_uint_eq(offsetof(struct resdeliv_config, key_prefix), 16);
    ck_assert_uint_eq(
        offsetof(struct resdeliv_config, default_max_messages), 24);
    ck_assert_uint_eq(offsetof(struct resdeliv_config, replay_max_messages),
                      88);
}
END_TEST

START_TEST(test_error_values)
{
    static const int codes[] = {
        RESDELIV_EINVAL,    RESDELIV_ENOMEM,   RESDELIV_EBADID,
        RESDELIV_ERANGE,    RESDELIV_EBADJSON, RESDELIV_EBADCONFIG,
        RESDELIV_EWHISPER,  RESDELIV_ESTORE,   RESDELIV_ENOTSUP,
        RESDELIV_EABI,      RESDELIV_ENOSPC,   RESDELIV_EOVERFLOW,
        RESDELIV_EBADFRAME, RESDELIV_ENOENT,   RESDELIV_EAGAIN,
        RESDELIV_ECLOSED,   RESDELIV_ETIMEDOUT, RESDELIV_EAUTH,
        RESDELIV_EBADURL,   RESDELIV_ESTALE,
    };
    size_t i;

    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        ck_assert_int_eq(codes[i], -(int)(i + 1));
        ck_assert_str_ne(resdeliv_err_name(codes[i]), "RESDELIV_E?");
    }
    ck_assert_int_eq(RESDELIV_OK, 0);
}
END_TEST

START_TEST(test_gap_values)
{
    static const char *names[] = {
        "none",    "trimmed",           "missing",    "epoch_changed",
        "ahead",   "store_unavailable", "invalid_id", "cap",
        "unlogged",
    };
    uint32_t r;

    for (r = 0; r < 9; r++) {
        ck_assert_str_eq(resdeliv_gap_reason_name(r), names[r]);
    }
    ck_assert_str_eq(resdeliv_gap_reason_name(9), "unknown");
    ck_assert_str_eq(resdeliv_gap_reason_name(99), "unknown");
    ck_assert_uint_eq(RESDELIV_GAP_CAP, 7);
    ck_assert_uint_eq(RESDELIV_GAP_UNLOGGED, 8);
}
END_TEST

START_TEST(test_abi_version_macros)
{
    ck_assert_uint_eq(RESDELIV_ABI_VERSION_MAJOR(RESDELIV_ABI_VERSION),
                      RESDELIV_ABI_MAJOR);
    ck_assert_uint_eq(RESDELIV_ABI_VERSION & 0xffffu, RESDELIV_ABI_MINOR);
}
END_TEST

static Suite *abi_suite(void)
{
    Suite *s = suite_create("abi");
    TCase *layout = tcase_create("layout");
    TCase *values = tcase_create("values");

    tcase_add_test(layout, test_store_ops_layout);
    tcase_add_test(layout, test_transport_layout);
    tcase_add_test(layout, test_config_layout);
    tcase_add_test(layout, test_loop_layout);
    tcase_add_test(values, test_error_values);
    tcase_add_test(values, test_gap_values);
    tcase_add_test(values, test_abi_version_macros);
    suite_add_tcase(s, layout);
    suite_add_tcase(s, values);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(abi_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The plugin ABI (plugin.h): the descriptor a plugin returns and the host
 * struct a host passes. Compile-time pins, for LP64 targets. */
PIN_HEAD(struct resdeliv_plugin);
PIN_HEAD(struct resdeliv_plugin_host);

#if UINTPTR_MAX == 0xffffffffffffffffu
#define PIN_AT(type, member, off)                                              \
    _Static_assert(offsetof(type, member) == (off), #type " " #member)
PIN_AT(struct resdeliv_plugin_host, transport, 8);
PIN_AT(struct resdeliv_plugin_host, loop, 16);
PIN_AT(struct resdeliv_plugin_host, app_id, 24);
PIN_AT(struct resdeliv_plugin_host, app_key, 32);
PIN_AT(struct resdeliv_plugin_host, app_secret, 40);
_Static_assert(RESDELIV_PLUGIN_HOST_MIN_SIZE ==
                   offsetof(struct resdeliv_plugin_host, loop),
               "plugin host minimum: head and transport");
PIN_AT(struct resdeliv_plugin, name, 8);
PIN_AT(struct resdeliv_plugin, version, 16);
PIN_AT(struct resdeliv_plugin, create, 24);
PIN_AT(struct resdeliv_plugin, destroy, 32);
PIN_AT(struct resdeliv_plugin, conn_open, 40);
PIN_AT(struct resdeliv_plugin, conn_close, 48);
PIN_AT(struct resdeliv_plugin, message, 56);
PIN_AT(struct resdeliv_plugin, subscribe, 64);
PIN_AT(struct resdeliv_plugin, subscription_succeeded, 72);
PIN_AT(struct resdeliv_plugin, broadcast, 80);
PIN_AT(struct resdeliv_plugin, http, 88);
PIN_AT(struct resdeliv_plugin, writable, 96);
PIN_AT(struct resdeliv_plugin, unsubscribe, 104);
_Static_assert(RESDELIV_PLUGIN_MIN_SIZE ==
                   offsetof(struct resdeliv_plugin, conn_open),
               "plugin minimum: up to destroy");
#endif
