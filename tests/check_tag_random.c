/* SPDX-License-Identifier: MIT */
/*
 * Tagging against randomized input: generated objects and mutations of
 * them compared with cJSON (every member of the original survives with
 * the same value and the tag members appear), the allocating and
 * caller-buffer paths agreeing, input ending at block edges, and the
 * indexed member walk against the general one.
 */
#include "internal.h"
#include "tag_test.h"

#include <cjson/cJSON.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- randomized comparison with cJSON ------------------------------- */

struct gen {
    uint64_t state;
    char *buf;
    size_t len;
    size_t cap;
};

static unsigned rnd(struct gen *g, unsigned n)
{
    g->state = g->state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((g->state >> 33) % n);
}

static void emit(struct gen *g, const char *s, size_t n)
{
    if (g->len + n + 1 > g->cap) {
        g->cap = (g->len + n + 1) * 2;
        g->buf = realloc(g->buf, g->cap);
        ck_assert_ptr_nonnull(g->buf);
    }
    memcpy(g->buf + g->len, s, n);
    g->len += n;
    g->buf[g->len] = '\0';
}

static void emits(struct gen *g, const char *s)
{
    emit(g, s, strlen(s));
}

static void gen_ws(struct gen *g)
{
    static const char *ws[] = {"", "", "", " ", "\n", "\t ", "\r\n  "};
    emits(g, ws[rnd(g, 7)]);
}

static void gen_string(struct gen *g)
{
    static const char *parts[] = {
        "a",   "key", "}",    "{",    "[",          "]",
        ",",   ":",   "\\\"", "\\\\", "\\u0041",    "\\u007B",
        "\\n", "\\/", "é",    " ",    "_replay_id", "\\\\\\\""};
    unsigned n = rnd(g, 6);

    emits(g, "\"");
    for (unsigned i = 0; i < n; i++) {
        emits(g, parts[rnd(g, sizeof(parts) / sizeof(parts[0]))]);
    }
    emits(g, "\"");
}

static void gen_value(struct gen *g, int depth);

static void gen_object(struct gen *g, int depth, int top)
{
    static const char *top_keys[] = {"a", "b", "c",          "d",
                                     "e", "f", "_replay_id", "_replay_epoch"};
    unsigned n = rnd(g, depth > 4 ? 2 : 6);

    emits(g, "{");
    gen_ws(g);
    for (unsigned i = 0; i < n; i++) {
        if (i > 0) {
            emits(g, ",");
            gen_ws(g);
        }
        if (top) {
            /* Distinct top-level keys: "a0", "b1", ... plus the tag
             * fields at most once each. */
            const char *k = top_keys[rnd(g, 8)];
            char key[32];
            if (k[0] == '_' && strstr(g->buf, k) == NULL) {
                snprintf(key, sizeof(key), "\"%s\"", k);
            } else {
                snprintf(key, sizeof(key), "\"%s%u\"", k[0] == '_' ? "z" : k,
                         i);
            }
            emits(g, key);
        } else {
            gen_string(g);
        }
        gen_ws(g);
        emits(g, ":");
        gen_ws(g);
        gen_value(g, depth + 1);
        gen_ws(g);
    }
    emits(g, "}");
}

static void gen_value(struct gen *g, int depth)
{
    static const char *scalars[] = {"0",    "-1",    "3.25", "1e10",
                                    "true", "false", "null", "123456789012"};
    unsigned kind = rnd(g, depth > 5 ? 3 : 5);

    if (kind == 0) {
        emits(g, scalars[rnd(g, 8)]);
    } else if (kind == 1 || kind == 2) {
        gen_string(g);
    } else if (kind == 3) {
        gen_object(g, depth, 0);
    } else {
        unsigned n = rnd(g, 5);
        emits(g, "[");
        for (unsigned i = 0; i < n; i++) {
            gen_ws(g);
            if (i > 0) {
                emits(g, ",");
            }
            gen_value(g, depth + 1);
        }
        gen_ws(g);
        emits(g, "]");
    }
}

static int same_json(const cJSON *x, const cJSON *y)
{
    char *px = cJSON_PrintUnformatted(x);
    char *py = cJSON_PrintUnformatted(y);
    int same;

    ck_assert_ptr_nonnull(px);
    ck_assert_ptr_nonnull(py);
    same = strcmp(px, py) == 0;
    cJSON_free(px);
    cJSON_free(py);
    return same;
}

static int is_tag_field(const char *key, const char *ep)
{
    return strcmp(key, IDF) == 0 || (ep != NULL && strcmp(key, EPF) == 0);
}

static void check_tag_value(const cJSON *m, const char *ep)
{
    ck_assert(cJSON_IsString(m));
    if (strcmp(m->string, IDF) == 0) {
        ck_assert_str_eq(m->valuestring, "1700000000123-7");
    } else {
        ck_assert_str_eq(m->valuestring, ep);
    }
}

/* The tagged output holds every original member, in order, with the same
 * value (tag fields get the new value in place), followed by the tag
 * members the data did not have. Members are walked pairwise so duplicate
 * keys elsewhere cannot hide a difference. */
static void verify_tagged(const char *orig, const char *out, const char *ep)
{
    cJSON *a = cJSON_ParseWithOpts(orig, NULL, 1);
    cJSON *b = cJSON_ParseWithOpts(out, NULL, 1);
    const cJSON *ma;
    const cJSON *mb;
    int have_id = 0;
    int have_ep = 0;

    ck_assert_ptr_nonnull(a);
    ck_assert_msg(b != NULL, "unparsable output: %s", out);
    ck_assert(cJSON_IsObject(b));
    mb = b->child;
    for (ma = a->child; ma != NULL; ma = ma->next, mb = mb->next) {
        ck_assert_msg(mb != NULL, "member %s lost: %s", ma->string, out);
        ck_assert_str_eq(ma->string, mb->string);
        if (is_tag_field(ma->string, ep)) {
            check_tag_value(mb, ep);
        } else {
            ck_assert_msg(same_json(ma, mb), "member %s in %s -> %s",
                          ma->string, orig, out);
        }
    }
    for (mb = b->child; mb != NULL; mb = mb->next) {
        have_id += strcmp(mb->string, IDF) == 0;
        have_ep += strcmp(mb->string, EPF) == 0;
    }
    ck_assert_int_eq(have_id, 1);
    ck_assert_int_eq(have_ep, ep != NULL ? 1 : have_ep);
    /* Whatever follows the original members is exactly the added tags. */
    for (mb = b->child, ma = a->child; ma != NULL; ma = ma->next) {
        mb = mb->next;
    }
    for (; mb != NULL; mb = mb->next) {
        ck_assert(is_tag_field(mb->string, ep));
        check_tag_value(mb, ep);
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* cJSON reads "\u" with bad hex digits; the structural pass does not. */
static int has_bad_u_escape(const char *s)
{
    for (const char *p = strstr(s, "\\u"); p != NULL;
         p = strstr(p + 1, "\\u")) {
        for (int k = 2; k < 6; k++) {
            if (strchr("0123456789abcdefABCDEF", p[k]) == NULL ||
                p[k] == '\0') {
                return 1;
            }
        }
    }
    return 0;
}

START_TEST(test_random_objects)
{
    struct gen g = {0x1234567ull + (uint64_t)_i, NULL, 0, 0};
    size_t fields_len = strlen(IDF) + strlen(EPF);

    for (int iter = 0; iter < 400; iter++) {
        const char *ep = rnd(&g, 3) == 0 ? NULL : "Ep0ch_x-9";
        char *out = NULL;
        size_t out_len = 0;
        char *buf;
        size_t bound;
        long n;

        g.len = 0;
        emits(&g, "");
        gen_ws(&g);
        gen_object(&g, 1, 1);
        gen_ws(&g);
        ck_assert(resdeliv_tag_is_object(g.buf, g.len));
        ck_assert_int_eq(
            resdeliv_tag(g.buf, g.len, IDF, EPF, &test_id, ep, &out, &out_len),
            0);
        verify_tagged(g.buf, out, ep);
        /* The documented caller-buffer size always suffices. */
        bound = g.len + fields_len + RESDELIV_ID_BUFSIZE +
                RESDELIV_EPOCH_BUFSIZE + 16;
        buf = malloc(bound);
        ck_assert_ptr_nonnull(buf);
        n = resdeliv_tag_into(g.buf, g.len, IDF, EPF, &test_id, ep, buf, bound);
        ck_assert_int_eq(n, (long)out_len);
        ck_assert_str_eq(buf, out);
        free(buf);
        resdeliv_free(out);
    }
    free(g.buf);
}
END_TEST

/* Corrupt valid objects at random: whenever cJSON still sees one object
 * (with at most one of each tag field), tagging must succeed and keep
 * every member; whenever tagging succeeds on data cJSON accepts, the
 * output must parse. */
START_TEST(test_random_mutations)
{
    static const char junk[] = "{}[]\",:\\ x1u";
    struct gen g = {0xfeedull + (uint64_t)_i, NULL, 0, 0};

    for (int iter = 0; iter < 3000; iter++) {
        cJSON *ref;
        char *out = NULL;
        size_t out_len = 0;
        int rc;

        g.len = 0;
        emits(&g, "");
        gen_object(&g, 1, 1);
        for (unsigned k = rnd(&g, 3) + 1; k > 0 && g.len > 0; k--) {
            size_t pos = rnd(&g, (unsigned)g.len);
            if (rnd(&g, 2)) {
                g.buf[pos] = junk[rnd(&g, sizeof(junk) - 1)];
            } else {
                memmove(g.buf + pos, g.buf + pos + 1, g.len - pos);
                g.len--;
            }
        }
        ref = cJSON_ParseWithOpts(g.buf, NULL, 1);
        rc =
            resdeliv_tag(g.buf, g.len, IDF, EPF, &test_id, "e", &out, &out_len);
        if (!resdeliv_tag_is_object(g.buf, g.len)) {
            ck_assert_int_eq(rc, RESDELIV_EBADJSON);
        }
        if (rc == 0) {
            ck_assert(resdeliv_tag_is_object(g.buf, g.len));
        }
        if (ref != NULL && cJSON_IsObject(ref) && !has_bad_u_escape(g.buf)) {
            ck_assert_msg(rc == 0 || strstr(g.buf, IDF) != NULL,
                          "rejected valid object: %s", g.buf);
        }
        if (rc == 0 && ref != NULL) {
            verify_tagged(g.buf, out, "e");
        }
        cJSON_Delete(ref);
        resdeliv_free(out);
    }
    free(g.buf);
}
END_TEST

/* Long data is scanned token by token, short data through a block index;
 * leading white space moves the same object from one to the other, and
 * both must give the same answer and the same bytes. */
START_TEST(test_paths_agree)
{
    static const char junk[] = "{}[]\",:\\ x1u";
    struct gen g = {0xabcdefull + (uint64_t)_i, NULL, 0, 0};
    const size_t pad = 5000;
    char *longer = NULL;

    for (int iter = 0; iter < 1500; iter++) {
        char *a = NULL;
        char *b = NULL;
        size_t alen = 0;
        size_t blen = 0;
        int ra;
        int rb;

        g.len = 0;
        emits(&g, "");
        gen_object(&g, 1, 1);
        for (unsigned k = rnd(&g, 3); k > 0 && g.len > 0; k--) {
            g.buf[rnd(&g, (unsigned)g.len)] = junk[rnd(&g, sizeof(junk) - 1)];
        }
        longer = realloc(longer, pad + g.len + 1);
        ck_assert_ptr_nonnull(longer);
        memset(longer, iter % 2 ? ' ' : '\n', pad);
        memcpy(longer + pad, g.buf, g.len + 1);
        ra = resdeliv_tag(g.buf, g.len, IDF, EPF, &test_id, "e", &a, &alen);
        rb = resdeliv_tag(longer, pad + g.len, IDF, EPF, &test_id, "e", &b,
                          &blen);
        ck_assert_msg(ra == rb, "%d vs %d: %s", ra, rb, g.buf);
        ck_assert_int_eq(resdeliv_tag_is_object(g.buf, g.len),
                         resdeliv_tag_is_object(longer, pad + g.len));
        if (ra == 0) {
            ck_assert_uint_eq(blen, alen + pad);
            ck_assert_str_eq(b + pad, a);
        }
        resdeliv_free(a);
        resdeliv_free(b);
    }
    free(longer);
    free(g.buf);
}
END_TEST

/* Backslashes outside strings and escapes at block edges (every 64
 * bytes) are where the two scans could part. */
START_TEST(test_block_edges)
{
    static const char tail[] = "\\\"\\\\\\u00e9\"}";
    const size_t tl = sizeof(tail) - 1;
    char buf[256];
    char big[6000];

    for (size_t off = 6; off < 140; off++) {
        size_t n = 0;
        buf[n++] = '{';
        buf[n++] = '"';
        buf[n++] = 'k';
        buf[n++] = '"';
        buf[n++] = ':';
        buf[n++] = '"';
        while (n < off) {
            buf[n++] = 'x';
        }
        memcpy(buf + n, tail, tl);
        n += tl;
        buf[n] = '\0';
        ck_assert_msg(resdeliv_tag_is_object(buf, n), "%s", buf);
        memset(big, ' ', 5000);
        memcpy(big + 5000, buf, n);
        ck_assert(resdeliv_tag_is_object(big, 5000 + n));
        /* Cut inside the escapes: never an object, by either scan. */
        for (size_t cut = n - tl; cut < n - 1; cut++) {
            char tmp[256];
            memcpy(tmp, buf, cut);
            tmp[cut] = '}';
            ck_assert(!resdeliv_tag_is_object(tmp, cut + 1));
            memcpy(big + 5000, tmp, cut + 1);
            ck_assert(!resdeliv_tag_is_object(big, 5000 + cut + 1));
        }
    }
    /* A backslash outside any string: plain to the token scan. */
    ck_assert(resdeliv_tag_is_object("{\"a\":\\}", 7));
    ck_assert(!resdeliv_tag_is_object("{\"a\":\\\"}", 8));
    ck_assert(resdeliv_tag_is_object("{\"a\":[\\\"]\"]}", 12));
}
END_TEST

/* --- the indexed member walk against the general one ------------------ */

/* Top-level keys that name a field under some of the field sets below,
 * spelled plainly and with escapes, and near misses. */
static void gen_top_object(struct gen *g)
{
    static const char *keys[] = {"\"_replay_id\"",
                                 "\"_replay_epoch\"",
                                 "\"_replay\\u005fid\"",
                                 "\"\\u005freplay_epoch\"",
                                 "\"_replay_i\"",
                                 "\"_replay_idx\"",
                                 "\"a\"",
                                 "\"ab\"",
                                 "\"\\u0061\"",
                                 "\"a\\\"\"",
                                 "\"\"",
                                 "\"ba\"",
                                 "\"\\n_replay_id\"",
                                 "\"_replay_id\\/\""};
    unsigned n = rnd(g, 7);

    gen_ws(g);
    emits(g, "{");
    gen_ws(g);
    for (unsigned i = 0; i < n; i++) {
        if (i > 0) {
            emits(g, ",");
            gen_ws(g);
        }
        emits(g, keys[rnd(g, sizeof(keys) / sizeof(keys[0]))]);
        gen_ws(g);
        emits(g, ":");
        gen_ws(g);
        gen_value(g, 2);
        gen_ws(g);
    }
    emits(g, "}");
    gen_ws(g);
}

/* Damage g->buf: overwrite, delete or insert bytes that matter to the
 * walk, or cut it short. */
static void mutate(struct gen *g)
{
    static const char junk[] = "{}[]\",:\\ \t\n\vx1u_=/";

    for (unsigned k = rnd(g, 4); k > 0 && g->len > 0; k--) {
        size_t pos = rnd(g, (unsigned)g->len);
        unsigned how = rnd(g, 4);
        if (how == 0) {
            /* Mostly a structural byte, where the walks decide. */
            size_t at = pos + strcspn(g->buf + pos, "{}[]\":,");
            g->buf[at < g->len && rnd(g, 4) != 0 ? at : pos] =
                junk[rnd(g, sizeof(junk) - 1)];
        } else if (how == 1) {
            memmove(g->buf + pos, g->buf + pos + 1, g->len - pos);
            g->len--;
        } else if (how == 2) {
            emit(g, " ", 1);
            memmove(g->buf + pos + 1, g->buf + pos, g->len - pos - 1);
            g->buf[pos] = junk[rnd(g, sizeof(junk) - 1)];
        } else {
            g->len = pos;
            g->buf[pos] = '\0';
        }
    }
}

/* Both walks on an exact-size copy of the data, so that a read past it
 * is caught by the address sanitizer. */
static void expect_same_plan(const char *text, size_t len,
                             const struct resdeliv__tag_fields *f)
{
    struct resdeliv__tag_plan a;
    struct resdeliv__tag_plan b;
    char *data = malloc(len > 0 ? len : 1);
    int ra;
    int rb;

    ck_assert_ptr_nonnull(data);
    memcpy(data, text, len);
    ra = resdeliv__tag_plan(data, len, f, &a);
    rb = resdeliv__tag_plan_ref(data, len, f, &b);
    free(data);

    ck_assert_msg(ra == rb, "%d vs %d: %.*s", ra, rb, (int)len, data);
    if (ra != 0) {
        return; /* a failed plan is not used */
    }
    ck_assert_ptr_eq(a.fields, b.fields);
    ck_assert_msg(a.close == b.close && a.insert == b.insert &&
                      a.members == b.members && a.nrep == b.nrep,
                  "plans differ: %.*s", (int)len, data);
    for (uint32_t i = 0; i < a.nrep && i < 2; i++) {
        ck_assert_uint_eq(a.rep[i].off, b.rep[i].off);
        ck_assert_uint_eq(a.rep[i].len, b.rep[i].len);
        ck_assert_uint_eq(a.rep[i].field, b.rep[i].field);
    }
}

START_TEST(test_walks_agree)
{
    static const char *names[][2] = {
        {IDF, EPF}, {IDF, NULL}, {"a", "ab"}, {"ab", "a"}, {"ba", NULL},
    };
    struct resdeliv__tag_fields sets[6];
    const size_t nsets = sizeof(names) / sizeof(names[0]);
    struct gen g = {0x5eedull + (uint64_t)_i, NULL, 0, 0};
    int fed[2] = {0, 0};

    for (size_t i = 0; i < nsets; i++) {
        ck_assert_int_eq(
            resdeliv__tag_fields_init(&sets[i], names[i][0], names[i][1]), 0);
    }
    memset(&sets[nsets], 0, sizeof(sets[nsets]));
    for (int iter = 0; iter < 6000; iter++) {
        struct resdeliv__tag_plan pl;
        g.len = 0;
        emits(&g, "");
        gen_top_object(&g);
        if (iter % 4 != 0) {
            mutate(&g);
        }
        for (size_t i = 0; i <= nsets; i++) {
            expect_same_plan(g.buf, g.len, &sets[i]);
        }
        fed[resdeliv__tag_plan(g.buf, g.len, &sets[0], &pl) == 0]++;
    }
    /* Both outcomes were well represented. */
    ck_assert_int_gt(fed[0], 1000);
    ck_assert_int_gt(fed[1], 1000);
    free(g.buf);
}
END_TEST

/* Members whose strings and brackets cross the 64-byte blocks of the
 * index at every offset. */
START_TEST(test_walks_block_edges)
{
    struct resdeliv__tag_fields f;
    char buf[400];

    ck_assert_int_eq(resdeliv__tag_fields_init(&f, IDF, EPF), 0);
    for (size_t pad = 0; pad < 140; pad++) {
        int n = snprintf(buf, sizeof(buf),
                         "{\"%*s\":[{\"x\":\"]\"}] , \"_replay_id\" :"
                         " {\"k\":[1]},\"n\":12 ,\"_replay\\u005fepoch\":"
                         "\"e\"}",
                         (int)pad, "");
        ck_assert_int_gt(n, 0);
        expect_same_plan(buf, (size_t)n, &f);
        for (int cut = n - 1; cut > n - 60; cut--) {
            expect_same_plan(buf, (size_t)cut, &f);
        }
    }
}
END_TEST

static Suite *tag_random_suite(void)
{
    Suite *s = suite_create("tag_random");
    TCase *tc;

    tc = tcase_create("random");
    tcase_add_loop_test(tc, test_random_objects, 0, 4);
    tcase_add_loop_test(tc, test_random_mutations, 0, 4);
    tcase_add_loop_test(tc, test_paths_agree, 0, 4);
    tcase_add_test(tc, test_block_edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("walks");
    tcase_add_loop_test(tc, test_walks_agree, 0, 4);
    tcase_add_test(tc, test_walks_block_edges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tag_random_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
