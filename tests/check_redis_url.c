/* SPDX-License-Identifier: MIT */
/*
 * Redis store URL parsing and key encoding: every accepted form, and every
 * malformed URL rejected with a message naming the part that is wrong. No
 * server needed.
 */
#include "redis_internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct resdeliv__redis_url u;
static char err[256];

static int parse(const char *url)
{
    err[0] = '\0';
    return resdeliv__redis_url_parse(url, &u, err, sizeof(err));
}

START_TEST(tcp_minimal)
{
    ck_assert_int_eq(parse("redis://localhost"), 0);
    ck_assert_int_eq(u.is_unix, 0);
    ck_assert_str_eq(u.host, "localhost");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_int_eq(u.db, 0);
    ck_assert_int_eq(u.has_user, 0);
    ck_assert_int_eq(u.has_password, 0);
}
END_TEST

START_TEST(tcp_full)
{
    ck_assert_int_eq(parse("redis://alice:s3cret@10.0.0.7:6380/5"), 0);
    ck_assert_str_eq(u.host, "10.0.0.7");
    ck_assert_int_eq(u.port, 6380);
    ck_assert_int_eq(u.db, 5);
    ck_assert_int_eq(u.has_user, 1);
    ck_assert_str_eq(u.user, "alice");
    ck_assert_int_eq(u.has_password, 1);
    ck_assert_str_eq(u.password, "s3cret");
}
END_TEST

START_TEST(tcp_password_only)
{
    ck_assert_int_eq(parse("redis://:pw@redis.example.com/0"), 0);
    ck_assert_int_eq(u.has_user, 0);
    ck_assert_str_eq(u.password, "pw");
    ck_assert_str_eq(u.host, "redis.example.com");
}
END_TEST

START_TEST(tcp_percent)
{
    ck_assert_int_eq(parse("redis://us%40er:p%3Aa%2Fss%25@h:1/"), 0);
    ck_assert_str_eq(u.user, "us@er");
    ck_assert_str_eq(u.password, "p:a/ss%");
    ck_assert_int_eq(u.port, 1);
    ck_assert_int_eq(u.db, 0);
}
END_TEST

START_TEST(tcp_raw_at_in_password)
{
    /* The last '@' ends the userinfo. */
    ck_assert_int_eq(parse("redis://:a@b@host"), 0);
    ck_assert_str_eq(u.password, "a@b");
    ck_assert_str_eq(u.host, "host");
}
END_TEST

START_TEST(tcp_ipv6)
{
    ck_assert_int_eq(parse("redis://[::1]:7000/2"), 0);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.port, 7000);
    ck_assert_int_eq(u.db, 2);
    ck_assert_int_eq(parse("redis://[fe80::1%25eth0]"), 0);
    ck_assert_int_eq(u.port, 6379);
}
END_TEST

START_TEST(tcp_limits)
{
    ck_assert_int_eq(parse("redis://h:65535/1000000"), 0);
    ck_assert_int_eq(u.port, 65535);
    ck_assert_int_eq(u.db, 1000000);
    ck_assert_int_eq(parse("REDIS://H"), 0);
}
END_TEST

START_TEST(unix_forms)
{
    ck_assert_int_eq(parse("unix:///var/run/redis.sock"), 0);
    ck_assert_int_eq(u.is_unix, 1);
    ck_assert_str_eq(u.path, "/var/run/redis.sock");
    ck_assert_int_eq(u.db, 0);
    ck_assert_int_eq(parse("unix:///tmp/r.sock?db=3"), 0);
    ck_assert_int_eq(u.db, 3);
    ck_assert_int_eq(parse("unix:///tmp/r.sock?db=1&user=bob&password=a%26b"),
                     0);
    ck_assert_int_eq(u.db, 1);
    ck_assert_str_eq(u.user, "bob");
    ck_assert_str_eq(u.password, "a&b");
}
END_TEST

/* Each malformed URL must be rejected and its message name `part`. */
struct bad_case {
    const char *url;
    const char *part;
};

static const struct bad_case bad_cases[] = {
    {"http://localhost", "scheme"},
    {"redis:/localhost", "scheme"},
    {"localhost:6379", "scheme"},
    {"", "scheme"},
    {"redis://", "host"},
    {"redis:///0", "host"},
    {"redis://:6379", "host"},
    {"redis://ho st", "host"},
    {"redis://[::1", "host"},
    {"redis://[::1]x", "host"},
    {"redis://[]:1", "host"},
    {"redis://h:0", "port"},
    {"redis://h:65536", "port"},
    {"redis://h:", "port"},
    {"redis://h:-1", "port"},
    {"redis://h:+80", "port"},
    {"redis://h:80x", "port"},
    {"redis://h:99999999999999999999", "port"},
    {"redis://h/x", "db"},
    {"redis://h/-1", "db"},
    {"redis://h/1000001", "db"},
    {"redis://h/1/2", "db"},
    {"redis://h/ 1", "db"},
    {"redis://h?db=1", "query"},
    {"redis://user@h", "password"},
    {"redis://:@h", "password"},
    {"redis://:p%zz@h", "password"},
    {"redis://:p%4@h", "password"},
    {"redis://:p%00@h", "password"},
    {"redis://u%g1:p@h", "user"},
    {"unix://", "path"},
    {"unix://relative/sock", "path"},
    {"unix:///tmp/s?db=x", "db"},
    {"unix:///tmp/s?db=", "db"},
    {"unix:///tmp/s?foo=1", "query"},
    {"unix:///tmp/s?password=", "query"},
};

START_TEST(bad_url)
{
    const struct bad_case *c = &bad_cases[_i];

    ck_assert_msg(parse(c->url) == RESDELIV_EBADURL, "accepted '%s'",
                  c->url);
    ck_assert_msg(strstr(err, c->part) != NULL,
                  "'%s': message '%s' does not name '%s'", c->url, err,
                  c->part);
}
END_TEST

START_TEST(bad_too_long)
{
    char url[700];
    memset(url, 'a', sizeof(url));
    memcpy(url, "redis://", 8);
    url[sizeof(url) - 1] = '\0';
    ck_assert_int_eq(parse(url), RESDELIV_EBADURL);
    ck_assert_ptr_nonnull(strstr(err, "host"));
    memcpy(url, "unix:///", 8);
    ck_assert_int_eq(parse(url), RESDELIV_EBADURL);
    ck_assert_ptr_nonnull(strstr(err, "path"));
}
END_TEST

START_TEST(null_args)
{
    ck_assert_int_eq(resdeliv__redis_url_parse(NULL, &u, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv__redis_url_parse("redis://h", NULL, NULL, 0),
                     RESDELIV_EINVAL);
    /* A NULL error buffer is fine. */
    ck_assert_int_eq(resdeliv__redis_url_parse("redis://h:0", &u, NULL, 0),
                     RESDELIV_EBADURL);
}
END_TEST

START_TEST(options_defaults)
{
    struct resdeliv_redis_options o;
    resdeliv_redis_options_init(&o);
    ck_assert_uint_eq(o.struct_size, sizeof(o));
    ck_assert_uint_eq(o.abi_version, RESDELIV_ABI_VERSION);
    ck_assert_ptr_null(o.url);
    ck_assert_str_eq(o.key_prefix, "delivery");
    ck_assert_uint_eq(o.connect_timeout_ms, RESDELIV_REDIS_CONNECT_TIMEOUT_MS);
    ck_assert_uint_eq(o.command_timeout_ms, RESDELIV_REDIS_COMMAND_TIMEOUT_MS);
    resdeliv_redis_options_init(NULL);
}
END_TEST

START_TEST(new_rejects_bad_url)
{
    struct resdeliv_redis_options o;
    resdeliv_store *st = (resdeliv_store *)&o;
    int rc;

    resdeliv_redis_options_init(&o);
    o.url = "redis://h:70000";
    rc = resdeliv_store_redis_new(&o, &st, err, sizeof(err));
#ifdef RESDELIV_HAVE_REDIS
    ck_assert_int_eq(rc, RESDELIV_EBADURL);
    ck_assert_ptr_nonnull(strstr(err, "port"));
    o.url = NULL;
    ck_assert_int_eq(resdeliv_store_redis_new(&o, &st, err, sizeof(err)),
                     RESDELIV_EINVAL);
    o.url = "redis://h";
    o.abi_version = (RESDELIV_ABI_MAJOR + 1u) << 16;
    ck_assert_int_eq(resdeliv_store_redis_new(&o, &st, err, sizeof(err)),
                     RESDELIV_EABI);
#else
    ck_assert_int_eq(rc, RESDELIV_ENOTSUP);
#endif
    ck_assert_ptr_null(st);
}
END_TEST

#ifdef RESDELIV_HAVE_REDIS
static void keys(const char *app, const char *chan,
                 struct resdeliv__redis_keys *k)
{
    ck_assert_int_eq(resdeliv__redis_keys_build("delivery", 8, app,
                                                strlen(app), chan,
                                                strlen(chan), k),
                     0);
}

START_TEST(keys_plain)
{
    struct resdeliv__redis_keys k;
    keys("app-id", "orders", &k);
    ck_assert_str_eq(k.stream, "delivery:{app-id:orders}");
    ck_assert_uint_eq(k.stream_len, strlen(k.stream));
    ck_assert_str_eq(k.epoch, "delivery:{app-id:orders}:epoch");
    ck_assert_uint_eq(k.epoch_len, strlen(k.epoch));
    resdeliv__redis_keys_clear(&k);
}
END_TEST

START_TEST(keys_escaped)
{
    struct resdeliv__redis_keys a;
    struct resdeliv__redis_keys b;

    keys("a:b", "c", &a);
    keys("a", "b:c", &b);
    ck_assert_str_eq(a.stream, "delivery:{a%3Ab:c}");
    ck_assert_str_eq(b.stream, "delivery:{a:b:c}");
    resdeliv__redis_keys_clear(&a);
    resdeliv__redis_keys_clear(&b);
    keys("x}", "{y}%", &a);
    ck_assert_str_eq(a.stream, "delivery:{x%7D:%7By%7D%25}");
    /* Exactly one '}' in the stream key: the tag closer at its end. */
    ck_assert_ptr_eq(strchr(a.stream, '}'), a.stream + a.stream_len - 1);
    resdeliv__redis_keys_clear(&a);
    resdeliv__redis_keys_clear(&b);
}
END_TEST

START_TEST(version_parse)
{
    static const char info[] = "# Server\r\nredis_git_sha1:0\r\n"
                               "redis_version:7.0.15\r\nredis_mode:x\r\n";
    ck_assert_uint_eq(resdeliv__redis_version_parse(info, strlen(info)),
                      RESDELIV__REDIS_V(7, 0, 15));
    ck_assert_uint_eq(resdeliv__redis_version_parse("redis_version:6.2", 17),
                      RESDELIV__REDIS_V(6, 2, 0));
    ck_assert_uint_eq(resdeliv__redis_version_parse("nothing", 7), 0);
    ck_assert_uint_eq(resdeliv__redis_version_parse("", 0), 0);
}
END_TEST

START_TEST(range_argv)
{
    struct resdeliv__redis_keys k;
    struct resdeliv__redis_argv a;
    struct resdeliv_id after = {5, 7};
    struct resdeliv_id max = {UINT64_MAX, UINT64_MAX};

    keys("a", "c", &k);
    ck_assert_int_eq(resdeliv__redis_argv_range(&a, 0, &k, &after, 10,
                                                RESDELIV__REDIS_V(7, 0, 0)),
                     0);
    ck_assert_int_eq(a.argc, 6);
    ck_assert_str_eq(a.argv[2], "(5-7");
    ck_assert_str_eq(a.argv[3], "+");
    ck_assert_str_eq(a.argv[5], "10");
    ck_assert_int_eq(resdeliv__redis_argv_range(&a, 1, &k, &after, 0,
                                                RESDELIV__REDIS_V(5, 0, 7)),
                     0);
    ck_assert_int_eq(a.argc, 4);
    ck_assert_str_eq(a.argv[0], "XREVRANGE");
    ck_assert_str_eq(a.argv[2], "+");
    ck_assert_str_eq(a.argv[3], "5-8");
    ck_assert_int_eq(resdeliv__redis_argv_range(&a, 0, &k, &max, 1,
                                                RESDELIV__REDIS_V(5, 0, 0)),
                     RESDELIV_ERANGE);
    resdeliv__redis_keys_clear(&k);
}
END_TEST
#endif

static Suite *url_suite(void)
{
    Suite *s = suite_create("redis_url");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, tcp_minimal);
    tcase_add_test(tc, tcp_full);
    tcase_add_test(tc, tcp_password_only);
    tcase_add_test(tc, tcp_percent);
    tcase_add_test(tc, tcp_raw_at_in_password);
    tcase_add_test(tc, tcp_ipv6);
    tcase_add_test(tc, tcp_limits);
    tcase_add_test(tc, unix_forms);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, bad_url, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, bad_too_long);
    tcase_add_test(tc, null_args);
    suite_add_tcase(s, tc);
    tc = tcase_create("options");
    tcase_add_test(tc, options_defaults);
    tcase_add_test(tc, new_rejects_bad_url);
    suite_add_tcase(s, tc);
#ifdef RESDELIV_HAVE_REDIS
    tc = tcase_create("commands");
    tcase_add_test(tc, keys_plain);
    tcase_add_test(tc, keys_escaped);
    tcase_add_test(tc, version_parse);
    tcase_add_test(tc, range_argv);
    suite_add_tcase(s, tc);
#endif
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(url_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
