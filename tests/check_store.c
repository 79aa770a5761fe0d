/* SPDX-License-Identifier: MIT */
/*
 * Tests of the store wrapper (store.c): how it takes an implementation's
 * vtable (ABI major, struct_size, mandatory members, an older and shorter
 * struct whose optional members then answer RESDELIV_ENOTSUP), the checks
 * of every argument before an implementation sees it, and the store
 * factory behind a `connection` URL. The memory store stands in where a
 * real implementation is needed.
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A memory store with default options. */
static resdeliv_store *new_store(void)
{
    struct resdeliv_memory_options o = {RESDELIV_STRUCT_HEAD(o)};
    resdeliv_store *st = NULL;

    ck_assert_int_eq(resdeliv_store_memory_new(&o, &st), 0);
    ck_assert_ptr_nonnull(st);
    return st;
}

/* ---- synchronous helpers ---- */

struct append_out {
    int called;
    int status;
    struct resdeliv_append_result res[4];
};

static void on_append(void *arg, int status,
                      const struct resdeliv_append_result *res, size_t n)
{
    struct append_out *o = arg;

    o->called++;
    o->status = status;
    memcpy(o->res, res, (n < 4 ? n : 4) * sizeof(*res));
}

static struct resdeliv_log_key key(const char *chan)
{
    struct resdeliv_log_key k = {"app", 3, chan, strlen(chan)};
    return k;
}

struct read_out {
    int called;
    size_t n;
    struct resdeliv_id ids[256];
    char epoch[RESDELIV_EPOCH_BUFSIZE];
};

static void on_read(void *arg, int status,
                    const struct resdeliv_stored_entry *e, size_t n,
                    const char *epoch)
{
    struct read_out *o = arg;

    o->called++;
    o->n = n;
    for (size_t i = 0; i < n && i < 256; i++) {
        o->ids[i] = e[i].id;
    }
    snprintf(o->epoch, sizeof(o->epoch), "%s", epoch);
    (void)status;
}

static void on_info(void *arg, int status, const struct resdeliv_log_info *i)
{
    *(struct resdeliv_log_info *)arg = *i;
    (void)status;
}

static struct resdeliv_log_info info(resdeliv_store *st, const char *chan)
{
    struct resdeliv_log_key k = key(chan);
    struct resdeliv_log_info in;

    memset(&in, 0xee, sizeof(in));
    ck_assert_int_eq(resdeliv_store_info(st, &k, NULL, 0, on_info, &in), 0);
    return in;
}

static void on_done(void *arg, int status)
{
    int *o = arg;

    o[0]++;
    o[1] = status;
}

/* ---- the wrapper and its ABI checks ---- */

struct fake_impl {
    int destroyed;
    int dropped;
    const char *msg;
};

static int fake_append(void *self, const char *app_id, size_t app_id_len,
                       const struct resdeliv_append_item *items, size_t n,
                       resdeliv_append_cb cb, void *arg)
{
    return RESDELIV_ESTORE;
}

static int fake_read(void *self, const struct resdeliv_log_key *key,
                     const struct resdeliv_id *after, size_t max,
                     resdeliv_read_cb cb, void *arg)
{
    return RESDELIV_ESTORE;
}

static int fake_info(void *self, const struct resdeliv_log_key *key,
                     const struct resdeliv_id *after, uint64_t cap,
                     resdeliv_info_cb cb, void *arg)
{
    return RESDELIV_ESTORE;
}

static int fake_drop(void *self, const struct resdeliv_log_key *key,
                     resdeliv_done_cb cb, void *arg)
{
    ((struct fake_impl *)self)->dropped++;
    cb(arg, 0);
    return 0;
}

static void fake_destroy(void *self)
{
    ((struct fake_impl *)self)->destroyed++;
}

static const char *fake_errmsg(void *self)
{
    return ((struct fake_impl *)self)->msg;
}

static struct resdeliv_store_ops fake_ops(void)
{
    struct resdeliv_store_ops ops = {
        RESDELIV_STRUCT_HEAD(ops),
        .flags = RESDELIV_STORE_SYNC,
        .name = "fake",
        .append = fake_append,
        .read = fake_read,
        .info = fake_info,
        .drop = fake_drop,
        .destroy = fake_destroy,
        .errmsg = fake_errmsg,
    };
    return ops;
}

START_TEST(abi_rejects)
{
    struct fake_impl impl = {0, 0, NULL};
    struct resdeliv_store_ops ops = fake_ops();
    resdeliv_store *st = NULL;

    ck_assert_int_eq(resdeliv_store_new(NULL, &impl, &st), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_new(&ops, &impl, NULL), RESDELIV_EINVAL);
    ops.abi_version = (RESDELIV_ABI_MAJOR + 1) << 16;
    ck_assert_int_eq(resdeliv_store_new(&ops, &impl, &st), RESDELIV_EABI);
    ops = fake_ops();
    ops.struct_size = (uint32_t)offsetof(struct resdeliv_store_ops, info);
    ck_assert_int_eq(resdeliv_store_new(&ops, &impl, &st), RESDELIV_EINVAL);
    ops = fake_ops();
    ops.append = NULL;
    ck_assert_int_eq(resdeliv_store_new(&ops, &impl, &st), RESDELIV_EINVAL);
    ops = fake_ops();
    ops.read = NULL;
    ck_assert_int_eq(resdeliv_store_new(&ops, &impl, &st), RESDELIV_EINVAL);
    ops = fake_ops();
    ops.info = NULL;
    ck_assert_int_eq(resdeliv_store_new(&ops, &impl, &st), RESDELIV_EINVAL);
    ck_assert_ptr_null(st);
    ck_assert_int_eq(impl.destroyed, 0);
}
END_TEST

START_TEST(abi_old_struct)
{
    struct fake_impl impl = {0, 0, NULL};
    struct resdeliv_store_ops ops = fake_ops();
    struct resdeliv_log_key k = key("ch");
    resdeliv_store *st = NULL;
    int done[2] = {0, -1};

    /* An implementation built before drop/destroy/errmsg existed: the
     * bytes past its struct_size are not its own and must be ignored. */
    ops.struct_size = (uint32_t)offsetof(struct resdeliv_store_ops, drop);
    ops.abi_version = (RESDELIV_ABI_MAJOR << 16) | 0u;
    ck_assert_int_eq(resdeliv_store_new(&ops, &impl, &st), 0);
    ck_assert_int_eq(resdeliv_store_drop(st, &k, on_done, done),
                     RESDELIV_ENOTSUP);
    ck_assert_int_eq(done[0], 0);
    ck_assert_int_eq(impl.dropped, 0);
    ck_assert_str_eq(resdeliv_store_errmsg(st), "");
    ck_assert_str_eq(resdeliv_store_name(st), "fake");
    resdeliv_store_free(st);
    ck_assert_int_eq(impl.destroyed, 0);
}
END_TEST

START_TEST(abi_full_struct)
{
    struct fake_impl impl = {0, 0, NULL};
    struct resdeliv_store_ops ops = fake_ops();
    struct resdeliv_log_key k = key("ch");
    resdeliv_store *st = NULL;
    int done[2] = {0, -1};

    ops.abi_version = (RESDELIV_ABI_MAJOR << 16) | (RESDELIV_ABI_MINOR + 7);
    ck_assert_int_eq(resdeliv_store_new(&ops, &impl, &st), 0);
    ops.name = "changed"; /* the store keeps its own copy */
    ck_assert_str_eq(resdeliv_store_name(st), "fake");
    ck_assert_uint_eq(resdeliv_store_flags(st), RESDELIV_STORE_SYNC);
    ck_assert_str_eq(resdeliv_store_errmsg(st), "");
    impl.msg = "connection refused";
    ck_assert_str_eq(resdeliv_store_errmsg(st), "connection refused");
    ck_assert_ptr_eq(resdeliv__store_self(st), &impl);
    ck_assert_ptr_eq(resdeliv__store_ops(st)->append, fake_append);
    ck_assert_int_eq(resdeliv_store_drop(st, &k, on_done, done), 0);
    ck_assert_int_eq(done[0], 1);
    ck_assert_int_eq(impl.dropped, 1);
    /* Errors of the implementation pass through unchanged. */
    ck_assert_int_eq(resdeliv_store_read(st, &k, NULL, 5, on_read, NULL),
                     RESDELIV_ESTORE);
    ck_assert_int_eq(resdeliv_store_memory_expire(st), RESDELIV_EINVAL);
    resdeliv_store_free(st);
    ck_assert_int_eq(impl.destroyed, 1);
    resdeliv_store_free(NULL);
    ck_assert_str_eq(resdeliv_store_name(NULL), "");
    ck_assert_uint_eq(resdeliv_store_flags(NULL), 0);
    ck_assert_str_eq(resdeliv_store_errmsg(NULL), "");
}
END_TEST

/* ---- argument checks ---- */

START_TEST(args_append)
{
    resdeliv_store *st = new_store();
    struct resdeliv_append_item ok = {"ch", 2, "ev", 2, "d", 1, {10, 0}, 0, 0};
    struct resdeliv_append_item bad[4];
    struct append_out o;

    memset(&o, 0, sizeof(o));
    for (int i = 0; i < 4; i++) {
        bad[i] = ok;
    }
    bad[0].channel = NULL;
    bad[1].channel_len = 0;
    bad[2].event = NULL;
    bad[3].data = NULL;
    ck_assert_int_eq(
        resdeliv_store_append(NULL, "app", 3, &ok, 1, on_append, &o),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_append(st, NULL, 3, &ok, 1, on_append, &o),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_append(st, "app", 0, &ok, 1, on_append, &o),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_store_append(st, "app", 3, NULL, 1, on_append, &o),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_append(st, "app", 3, &ok, 0, on_append, &o),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_append(st, "app", 3, &ok, 1, NULL, &o),
                     RESDELIV_EINVAL);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(
            resdeliv_store_append(st, "app", 3, &bad[i], 1, on_append, &o),
            RESDELIV_EINVAL);
    }
    ck_assert_int_eq(o.called, 0);
    /* Absent bytes are fine when there are none. */
    ok.event = NULL;
    ok.event_len = 0;
    ok.data = NULL;
    ok.data_len = 0;
    ck_assert_int_eq(resdeliv_store_append(st, "app", 3, &ok, 1, on_append, &o),
                     0);
    ck_assert_int_eq(o.called, 1);
    ck_assert_int_eq(o.res[0].status, 0);
    ck_assert_uint_eq(info(st, "ch").length, 1);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(args_read_info_drop)
{
    resdeliv_store *st = new_store();
    struct resdeliv_log_key k = key("ch");
    struct resdeliv_log_key bad[4] = {k, k, k, k};
    struct resdeliv_log_info in;
    struct read_out r;
    int done[2] = {0, -1};

    memset(&r, 0, sizeof(r));
    bad[0].app_id = NULL;
    bad[1].app_id_len = 0;
    bad[2].channel = NULL;
    bad[3].channel_len = 0;
    ck_assert_int_eq(resdeliv_store_read(NULL, &k, NULL, 5, on_read, &r),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_read(st, NULL, NULL, 5, on_read, &r),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_read(st, &k, NULL, 0, on_read, &r),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_read(st, &k, NULL, 5, NULL, &r),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_info(NULL, &k, NULL, 0, on_info, &in),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_info(st, &k, NULL, 0, NULL, &in),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_drop(NULL, &k, on_done, done),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_store_drop(st, &k, NULL, done), RESDELIV_EINVAL);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(resdeliv_store_read(st, &bad[i], NULL, 5, on_read, &r),
                         RESDELIV_EINVAL);
        ck_assert_int_eq(
            resdeliv_store_info(st, &bad[i], NULL, 0, on_info, &in),
            RESDELIV_EINVAL);
        ck_assert_int_eq(resdeliv_store_drop(st, &bad[i], on_done, done),
                         RESDELIV_EINVAL);
    }
    ck_assert_int_eq(r.called, 0);
    ck_assert_int_eq(done[0], 0);
    /* Dropping a log that does not exist is not an error. */
    ck_assert_int_eq(resdeliv_store_drop(st, &k, on_done, done), 0);
    ck_assert_int_eq(done[0], 1);
    ck_assert_int_eq(done[1], 0);
    resdeliv_store_free(st);
}
END_TEST

/* ---- store URLs ---- */

START_TEST(url_kinds)
{
    resdeliv_store *st = NULL;
    char err[256] = "";
    int rc;

    ck_assert_int_eq(
        resdeliv__store_from_url("memory", "p", &st, err, sizeof(err)), 0);
    ck_assert_str_eq(resdeliv_store_name(st), "memory");
    resdeliv_store_free(st);
    st = NULL;
    ck_assert_int_eq(
        resdeliv__store_from_url("ftp://host/x", "p", &st, err, sizeof(err)),
        RESDELIV_EBADURL);
    ck_assert_ptr_nonnull(strstr(err, "'ftp'"));
    ck_assert_int_eq(
        resdeliv__store_from_url("localhost:6379", "p", &st, err, sizeof(err)),
        RESDELIV_EBADURL);
    ck_assert_ptr_nonnull(strstr(err, "no scheme"));
    ck_assert_int_eq(resdeliv__store_from_url("", "p", &st, NULL, 0),
                     RESDELIV_EBADURL);
    ck_assert_int_eq(resdeliv__store_from_url(NULL, "p", &st, err, sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_ptr_null(st);
    /* Port 1 has no server: a Redis build fails to connect or connects
     * lazily; a build without Redis says it has none. */
    err[0] = '\0';
    rc = resdeliv__store_from_url("redis://127.0.0.1:1/0", "p", &st, err,
                                  sizeof(err));
    ck_assert_int_ne(rc, RESDELIV_EBADURL);
    if (rc == RESDELIV_ENOTSUP) {
        ck_assert_ptr_nonnull(strstr(err, "no Redis store"));
    }
    resdeliv_store_free(st);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc;

    tc = tcase_create("abi");
    tcase_add_test(tc, abi_rejects);
    tcase_add_test(tc, abi_old_struct);
    tcase_add_test(tc, abi_full_struct);
    suite_add_tcase(s, tc);
    tc = tcase_create("args");
    tcase_add_test(tc, args_append);
    tcase_add_test(tc, args_read_info_drop);
    suite_add_tcase(s, tc);
    tc = tcase_create("url");
    tcase_add_test(tc, url_kinds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
