/* SPDX-License-Identifier: MIT */
/*
 * Dedup window: fresh, duplicate and stale ids, late ids inside the window,
 * wraparound, reset, argument checks, the memory bound and the drop count.
 * A slow reference model written straight from the header's wording checks
 * long random sequences.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct resdeliv_id mk(uint64_t ms, uint64_t seq)
{
    struct resdeliv_id id = {ms, seq};
    return id;
}

static int chk(resdeliv_dedup *d, uint64_t ms, uint64_t seq)
{
    struct resdeliv_id id = mk(ms, seq);
    return resdeliv_dedup_check(d, &id);
}

static resdeliv_dedup *make(size_t window)
{
    resdeliv_dedup *d = NULL;
    ck_assert_int_eq(resdeliv_dedup_new(window, &d), 0);
    ck_assert_ptr_nonnull(d);
    return d;
}

START_TEST(test_fresh_and_duplicate)
{
    resdeliv_dedup *d = make(8);
    struct resdeliv_id hi = resdeliv_dedup_highest(d);

    ck_assert(resdeliv_id_is_zero(&hi));
    ck_assert_uint_eq(resdeliv_dedup_drops(d), 0);
    ck_assert_int_eq(chk(d, 1, 0), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 1, 1), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 2, 0), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 2, 0), RESDELIV_DEDUP_DUPLICATE);
    ck_assert_int_eq(chk(d, 1, 1), RESDELIV_DEDUP_DUPLICATE);
    ck_assert_int_eq(chk(d, 1, 0), RESDELIV_DEDUP_DUPLICATE);
    hi = resdeliv_dedup_highest(d);
    ck_assert_uint_eq(hi.ms, 2);
    ck_assert_uint_eq(hi.seq, 0);
    ck_assert_uint_eq(resdeliv_dedup_drops(d), 3);
    resdeliv_dedup_free(d);
}
END_TEST

START_TEST(test_zero_id)
{
    resdeliv_dedup *d = make(4);

    /* {0,0} is "before everything": never fresh. */
    ck_assert_int_eq(chk(d, 0, 0), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 0, 1), RESDELIV_DEDUP_FRESH);
    ck_assert_uint_eq(resdeliv_dedup_drops(d), 1);
    resdeliv_dedup_free(d);
}
END_TEST

START_TEST(test_stale)
{
    resdeliv_dedup *d = make(3);

    for (uint64_t i = 10; i <= 15; i++) {
        ck_assert_int_eq(chk(d, i, 0), RESDELIV_DEDUP_FRESH);
    }
    /* Window holds 13, 14, 15. */
    ck_assert_int_eq(chk(d, 12, 0), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 10, 0), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 12, 99), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 0, 1), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 13, 0), RESDELIV_DEDUP_DUPLICATE);
    ck_assert_int_eq(chk(d, 15, 0), RESDELIV_DEDUP_DUPLICATE);
    ck_assert_uint_eq(resdeliv_dedup_drops(d), 6);
    resdeliv_dedup_free(d);
}
END_TEST

START_TEST(test_out_of_order)
{
    resdeliv_dedup *d = make(4);
    struct resdeliv_id hi;

    ck_assert_int_eq(chk(d, 10, 0), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 30, 0), RESDELIV_DEDUP_FRESH);
    /* Late but newer than the oldest remembered, and never seen. */
    ck_assert_int_eq(chk(d, 20, 0), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 20, 0), RESDELIV_DEDUP_DUPLICATE);
    ck_assert_int_eq(chk(d, 10, 1), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 10, 1), RESDELIV_DEDUP_DUPLICATE);
    hi = resdeliv_dedup_highest(d);
    ck_assert_uint_eq(hi.ms, 30);
    /* Window full {10, 30, 20, 10-1}; 40 pushes 10-0 out. */
    ck_assert_int_eq(chk(d, 40, 0), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 10, 0), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 10, 1), RESDELIV_DEDUP_DUPLICATE);
    ck_assert_int_eq(chk(d, 15, 0), RESDELIV_DEDUP_FRESH);
    /* Ring {20, 10-1, 40, 15}: 30 left the window but is newer than its
     * oldest member, so it counts as late, not stale. */
    ck_assert_int_eq(chk(d, 30, 0), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 20, 0), RESDELIV_DEDUP_FRESH);
    /* Ring {40, 15, 30, 20}: the oldest is now 15. */
    ck_assert_int_eq(chk(d, 10, 2), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 14, 9), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 15, 0), RESDELIV_DEDUP_DUPLICATE);
    ck_assert_int_eq(chk(d, 16, 0), RESDELIV_DEDUP_FRESH);
    resdeliv_dedup_free(d);
}
END_TEST

START_TEST(test_window_one)
{
    resdeliv_dedup *d = make(1);

    ck_assert_int_eq(chk(d, 5, 0), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 5, 0), RESDELIV_DEDUP_DUPLICATE);
    ck_assert_int_eq(chk(d, 4, 0), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 6, 0), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 5, 0), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 6, 0), RESDELIV_DEDUP_DUPLICATE);
    resdeliv_dedup_free(d);
}
END_TEST

START_TEST(test_wraparound)
{
    const size_t w = 1000;
    resdeliv_dedup *d = make(w);
    uint64_t n = 30000;

    for (uint64_t i = 1; i <= n; i++) {
        ck_assert_int_eq(chk(d, i / 7, i % 7), RESDELIV_DEDUP_FRESH);
        if (i % 13 == 0) {
            ck_assert_int_eq(chk(d, i / 7, i % 7), RESDELIV_DEDUP_DUPLICATE);
        }
        if (i > w && i % 17 == 0) {
            uint64_t old = i - w;
            ck_assert_int_eq(chk(d, old / 7, old % 7), RESDELIV_DEDUP_STALE);
            old = i - w + 1;
            ck_assert_int_eq(chk(d, old / 7, old % 7),
                             RESDELIV_DEDUP_DUPLICATE);
        }
    }
    for (uint64_t i = n - w + 1; i <= n; i++) {
        ck_assert_int_eq(chk(d, i / 7, i % 7), RESDELIV_DEDUP_DUPLICATE);
    }
    resdeliv_dedup_free(d);
}
END_TEST

START_TEST(test_max_window)
{
    resdeliv_dedup *d = make(RESDELIV_DEDUP_MAX_WINDOW);
    uint64_t n = RESDELIV_DEDUP_MAX_WINDOW + 4099;

    for (uint64_t i = 1; i <= n; i++) {
        ck_assert_int_eq(chk(d, i, 0), RESDELIV_DEDUP_FRESH);
    }
    ck_assert_int_eq(chk(d, n - RESDELIV_DEDUP_MAX_WINDOW + 1, 0),
                     RESDELIV_DEDUP_DUPLICATE);
    ck_assert_int_eq(chk(d, n - RESDELIV_DEDUP_MAX_WINDOW, 0),
                     RESDELIV_DEDUP_STALE);
    resdeliv_dedup_free(d);
}
END_TEST

START_TEST(test_reset)
{
    resdeliv_dedup *d = make(4);
    struct resdeliv_id r = mk(100, 5);
    struct resdeliv_id hi;

    for (uint64_t i = 1; i <= 3; i++) {
        ck_assert_int_eq(chk(d, 200 + i, 0), RESDELIV_DEDUP_FRESH);
    }
    resdeliv_dedup_reset(d, &r);
    hi = resdeliv_dedup_highest(d);
    ck_assert_int_eq(resdeliv_id_cmp(&hi, &r), 0);
    ck_assert_int_eq(chk(d, 100, 5), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 100, 4), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 1, 0), RESDELIV_DEDUP_STALE);
    ck_assert_int_eq(chk(d, 100, 6), RESDELIV_DEDUP_FRESH);
    ck_assert_int_eq(chk(d, 100, 6), RESDELIV_DEDUP_DUPLICATE);
    ck_assert_int_eq(chk(d, 100, 5), RESDELIV_DEDUP_STALE);
    /* The window was forgotten: an id seen before the reset is new. */
    ck_assert_int_eq(chk(d, 202, 0), RESDELIV_DEDUP_FRESH);
    ck_assert_uint_eq(resdeliv_dedup_drops(d), 5);

    /* Reset to zero (or NULL) starts over. */
    resdeliv_dedup_reset(d, NULL);
    hi = resdeliv_dedup_highest(d);
    ck_assert(resdeliv_id_is_zero(&hi));
    ck_assert_int_eq(chk(d, 1, 0), RESDELIV_DEDUP_FRESH);
    resdeliv_dedup_reset(NULL, &r);
    resdeliv_dedup_free(d);
}
END_TEST

START_TEST(test_invalid)
{
    resdeliv_dedup *d = (resdeliv_dedup *)&d;
    struct resdeliv_id id = mk(1, 1);
    struct resdeliv_id hi;

    ck_assert_int_eq(resdeliv_dedup_new(0, &d), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_dedup_new(RESDELIV_DEDUP_MAX_WINDOW + 1, &d),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_dedup_new((size_t)-1, &d), RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_dedup_new(4, NULL), RESDELIV_EINVAL);
    ck_assert_ptr_eq(d, (resdeliv_dedup *)&d);
    ck_assert_int_eq(resdeliv_dedup_check(NULL, &id), RESDELIV_EINVAL);
    d = make(2);
    ck_assert_int_eq(resdeliv_dedup_check(d, NULL), RESDELIV_EINVAL);
    ck_assert_uint_eq(resdeliv_dedup_drops(d), 0);
    resdeliv_dedup_free(d);
    resdeliv_dedup_free(NULL);
    hi = resdeliv_dedup_highest(NULL);
    ck_assert(resdeliv_id_is_zero(&hi));
    ck_assert_uint_eq(resdeliv_dedup_drops(NULL), 0);
    ck_assert_uint_eq(resdeliv_dedup_memory(NULL), 0);
}
END_TEST

START_TEST(test_memory)
{
    size_t sizes[] = {1,
                      2,
                      3,
                      5,
                      100,
                      1000,
                      1365,
                      1366,
                      4096,
                      4097,
                      43691,
                      65535,
                      RESDELIV_DEDUP_MAX_WINDOW};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        resdeliv_dedup *d = make(sizes[i]);
        size_t before = resdeliv_dedup_memory(d);
        ck_assert_uint_gt(before, 16 * sizes[i]);
        ck_assert_uint_le(before, resdeliv_dedup_memory(d));
        for (uint64_t k = 1; k <= sizes[i] + 5; k++) {
            chk(d, k, 0);
        }
        ck_assert_uint_eq(resdeliv_dedup_memory(d), before);
        resdeliv_dedup_free(d);
    }
}
END_TEST

/* The reference keeps the last `w` accepted ids in acceptance order and
 * answers by scanning them, exactly as the header words it. */
struct model {
    struct resdeliv_id *ids;
    size_t w;
    size_t n;
    struct resdeliv_id highest;
};

static int model_check(struct model *m, const struct resdeliv_id *id)
{
    int older_than_all = 1;

    if (resdeliv_id_cmp(id, &m->highest) <= 0) {
        /* The highest was delivered, even once it left the window. */
        if (m->n > 0 && resdeliv_id_cmp(id, &m->highest) == 0) {
            return RESDELIV_DEDUP_DUPLICATE;
        }
        for (size_t i = 0; i < m->n; i++) {
            if (resdeliv_id_cmp(&m->ids[i], id) == 0) {
                return RESDELIV_DEDUP_DUPLICATE;
            }
            if (resdeliv_id_cmp(&m->ids[i], id) < 0) {
                older_than_all = 0;
            }
        }
        if (older_than_all) {
            return RESDELIV_DEDUP_STALE;
        }
    } else {
        m->highest = *id;
    }
    if (m->n == m->w) {
        memmove(m->ids, m->ids + 1, (m->w - 1) * sizeof(*m->ids));
        m->n--;
    }
    m->ids[m->n++] = *id;
    return RESDELIV_DEDUP_FRESH;
}

static void run_model(size_t w, uint64_t seed, int steps, uint64_t spread)
{
    struct model m = {calloc(w, sizeof(struct resdeliv_id)), w, 0, {0, 0}};
    resdeliv_dedup *d = make(w);
    uint64_t base = 1;
    uint64_t drops = 0;

    ck_assert_ptr_nonnull(m.ids);
    srand((unsigned)seed);
    for (int s = 0; s < steps; s++) {
        struct resdeliv_id id;
        struct resdeliv_id hi;
        int want;
        int r = rand() % 100;
        if (r < 1) {
            id = mk(base, 0);
            resdeliv_dedup_reset(d, &id);
            m.n = 0;
            m.highest = id;
            continue;
        }
        /* Mostly forward, sometimes back into or past the window. */
        if (r < 60) {
            base += (uint64_t)(rand() % 3);
        }
        id = mk(base > spread ? base - (uint64_t)rand() % spread : base,
                (uint64_t)(rand() % 2));
        want = model_check(&m, &id);
        if (want != RESDELIV_DEDUP_FRESH) {
            drops++;
        }
        ck_assert_int_eq(resdeliv_dedup_check(d, &id), want);
        hi = resdeliv_dedup_highest(d);
        ck_assert_int_eq(resdeliv_id_cmp(&m.highest, &hi), 0);
    }
    ck_assert_uint_eq(resdeliv_dedup_drops(d), drops);
    resdeliv_dedup_free(d);
    free(m.ids);
}

/* With a window of 2, ids 1, 10, 5, 7 push 10 out of the window; 10 is
 * still the highest delivered and must not pass again. */
START_TEST(test_highest_left_window)
{
    resdeliv_dedup *d = NULL;
    static const uint64_t seq[] = {1, 10, 5, 7};
    struct resdeliv_id id = {0, 0};

    ck_assert_int_eq(resdeliv_dedup_new(2, &d), 0);
    for (size_t i = 0; i < 4; i++) {
        id.ms = seq[i];
        ck_assert_int_eq(resdeliv_dedup_check(d, &id), RESDELIV_DEDUP_FRESH);
    }
    id.ms = 10;
    ck_assert_int_eq(resdeliv_dedup_check(d, &id), RESDELIV_DEDUP_DUPLICATE);
    id.ms = 11;
    ck_assert_int_eq(resdeliv_dedup_check(d, &id), RESDELIV_DEDUP_FRESH);
    resdeliv_dedup_free(d);
}
END_TEST

START_TEST(test_model_small)
{
    run_model(1, 1, 8000, 4);
    run_model(2, 2, 8000, 6);
    run_model(3, 3, 8000, 8);
    run_model(7, 4, 8000, 20);
}
END_TEST

START_TEST(test_model_large)
{
    run_model(64, 5, 8000, 100);
    run_model(100, 6, 8000, 300);
    run_model(513, 7, 8000, 900);
}
END_TEST

static Suite *dedup_suite(void)
{
    Suite *s = suite_create("dedup");
    TCase *tc = tcase_create("basic");

    tcase_add_test(tc, test_fresh_and_duplicate);
    tcase_add_test(tc, test_zero_id);
    tcase_add_test(tc, test_stale);
    tcase_add_test(tc, test_out_of_order);
    tcase_add_test(tc, test_window_one);
    suite_add_tcase(s, tc);

    tc = tcase_create("window");
    tcase_add_test(tc, test_wraparound);
    tcase_add_test(tc, test_max_window);
    tcase_add_test(tc, test_reset);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_invalid);
    tcase_add_test(tc, test_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_model_small);
    tcase_add_test(tc, test_highest_left_window);
    tcase_add_test(tc, test_model_large);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dedup_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
