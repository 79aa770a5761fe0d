/* SPDX-License-Identifier: MIT */
/*
 * Store conformance suite: what every resdeliv_store must do, whatever
 * keeps the entries. The memory store runs it with exact trimming; the
 * Redis store runs the same tests against a real server, where MAXLEN ~
 * trims approximately, so retention is then checked only within bounds.
 *
 * Each test makes its own store through the registered factory (inside the
 * test, because Check forks per test) and its own app id, so tests never
 * see each other's logs even on a shared server. The factory is found
 * through the loop index Check passes to every test, so one program may
 * register several stores.
 */
#include "store_conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TARGETS 8
#define MAX_RESULTS 128

struct target {
    conformance_make_fn make;
    void *arg;
    unsigned flags;
};

static struct target targets[MAX_TARGETS];
static int ntargets;
static unsigned app_counter;

struct ctx {
    resdeliv_store *store;
    unsigned flags;
    char app[160];
};

struct append_out {
    int called;
    int status;
    size_t n;
    struct resdeliv_append_result res[MAX_RESULTS];
};

struct read_entry {
    struct resdeliv_id id;
    char *event;
    size_t event_len;
    char *data;
    size_t data_len;
};

struct read_out {
    int called;
    int status;
    size_t n;
    struct read_entry *e;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
};

struct info_out {
    int called;
    int status;
    struct resdeliv_log_info info;
};

static void ctx_open(struct ctx *c, int idx, const char *test)
{
    int rc;

    ck_assert_msg(idx >= 0 && idx < ntargets, "no store registered at %d", idx);
    memset(c, 0, sizeof(*c));
    c->flags = targets[idx].flags;
    rc = targets[idx].make(&c->store, targets[idx].arg);
    ck_assert_msg(rc == 0 && c->store != NULL, "store factory failed: %s",
                  resdeliv_strerror(rc));
    snprintf(c->app, sizeof(c->app), "conf-%ld-%u-%s", (long)getpid(),
             ++app_counter, test);
}

static void ctx_close(struct ctx *c)
{
    resdeliv_store_free(c->store);
    c->store = NULL;
}

static struct resdeliv_log_key key_of(const char *app, const char *chan,
                                      size_t chan_len)
{
    struct resdeliv_log_key k = {app, strlen(app), chan, chan_len};
    return k;
}

static void on_append(void *arg, int status,
                      const struct resdeliv_append_result *res, size_t n)
{
    struct append_out *o = arg;

    o->called++;
    o->status = status;
    o->n = n;
    memcpy(o->res, res, (n < MAX_RESULTS ? n : MAX_RESULTS) * sizeof(*res));
}

static void append_items(struct ctx *c, const char *app,
                         const struct resdeliv_append_item *items, size_t n,
                         struct append_out *o)
{
    int rc;

    ck_assert_uint_le(n, MAX_RESULTS);
    memset(o, 0, sizeof(*o));
    rc = resdeliv_store_append(c->store, app, strlen(app), items, n, on_append,
                               o);
    ck_assert_msg(rc == 0, "append: %s (%s)", resdeliv_strerror(rc),
                  resdeliv_store_errmsg(c->store));
    ck_assert_msg(o->called == 1,
                  "append callback ran %d times; conformance needs a store "
                  "that completes before returning",
                  o->called);
    ck_assert_int_eq(o->status, 0);
    ck_assert_uint_eq(o->n, n);
}

/* Append one entry; returns its id, copies the epoch when asked. */
static struct resdeliv_id append_one(struct ctx *c, const char *app,
                                     const char *chan, size_t chan_len,
                                     const char *data, size_t data_len,
                                     uint64_t cap, char *epoch)
{
    struct resdeliv_append_item it = {chan, chan_len, "ev",    2,
                                      data, data_len, {cap, 0}, 0, 0};
    struct append_out o;

    append_items(c, app, &it, 1, &o);
    ck_assert_int_eq(o.res[0].status, 0);
    ck_assert_int_eq(
        resdeliv_epoch_check(o.res[0].epoch, strlen(o.res[0].epoch)), 0);
    if (epoch != NULL) {
        memcpy(epoch, o.res[0].epoch, RESDELIV_EPOCH_BUFSIZE);
    }
    return o.res[0].id;
}

static char *dup_bytes(const char *p, size_t len)
{
    char *d = malloc(len + 1);

    ck_assert_ptr_nonnull(d);
    if (len > 0) {
        memcpy(d, p, len);
    }
    d[len] = '\0';
    return d;
}

static void on_read(void *arg, int status,
                    const struct resdeliv_stored_entry *e, size_t n,
                    const char *epoch)
{
    struct read_out *o = arg;

    o->called++;
    o->status = status;
    o->n = n;
    snprintf(o->epoch, sizeof(o->epoch), "%s", epoch != NULL ? epoch : "");
    o->e = calloc(n + 1, sizeof(*o->e));
    for (size_t i = 0; i < n && o->e != NULL; i++) {
        o->e[i].id = e[i].id;
        o->e[i].event = dup_bytes(e[i].event, e[i].event_len);
        o->e[i].event_len = e[i].event_len;
        o->e[i].data = dup_bytes(e[i].data, e[i].data_len);
        o->e[i].data_len = e[i].data_len;
    }
}

static void read_log(struct ctx *c, const struct resdeliv_log_key *key,
                     struct resdeliv_id after, size_t max, struct read_out *o)
{
    int rc;

    memset(o, 0, sizeof(*o));
    rc = resdeliv_store_read(c->store, key, &after, max, on_read, o);
    ck_assert_msg(rc == 0, "read: %s (%s)", resdeliv_strerror(rc),
                  resdeliv_store_errmsg(c->store));
    ck_assert_int_eq(o->called, 1);
    ck_assert_int_eq(o->status, 0);
    ck_assert_ptr_nonnull(o->e);
}

static void read_free(struct read_out *o)
{
    for (size_t i = 0; i < o->n && o->e != NULL; i++) {
        free(o->e[i].event);
        free(o->e[i].data);
    }
    free(o->e);
    o->e = NULL;
}

static void on_info(void *arg, int status, const struct resdeliv_log_info *i)
{
    struct info_out *o = arg;

    o->called++;
    o->status = status;
    o->info = *i;
}

static struct resdeliv_log_info info_log(struct ctx *c,
                                         const struct resdeliv_log_key *key,
                                         const struct resdeliv_id *after,
                                         uint64_t cap)
{
    struct info_out o;
    int rc;

    memset(&o, 0, sizeof(o));
    rc = resdeliv_store_info(c->store, key, after, cap, on_info, &o);
    ck_assert_msg(rc == 0, "info: %s (%s)", resdeliv_strerror(rc),
                  resdeliv_store_errmsg(c->store));
    ck_assert_int_eq(o.called, 1);
    ck_assert_int_eq(o.status, 0);
    return o.info;
}

static void assert_id_eq(struct resdeliv_id a, struct resdeliv_id b)
{
    ck_assert_msg(resdeliv_id_cmp(&a, &b) == 0,
                  "id %llu-%llu, expected %llu-%llu", (unsigned long long)a.ms,
                  (unsigned long long)a.seq, (unsigned long long)b.ms,
                  (unsigned long long)b.seq);
}

static void assert_id_lt(struct resdeliv_id a, struct resdeliv_id b)
{
    ck_assert_msg(resdeliv_id_cmp(&a, &b) < 0,
                  "id %llu-%llu is not below %llu-%llu",
                  (unsigned long long)a.ms, (unsigned long long)a.seq,
                  (unsigned long long)b.ms, (unsigned long long)b.seq);
}

/* Append `n` entries with data "msg-<i>" and record their ids. */
static void fill(struct ctx *c, const char *chan, size_t n, uint64_t cap,
                 struct resdeliv_id *ids)
{
    char data[32];

    for (size_t i = 0; i < n; i++) {
        int len = snprintf(data, sizeof(data), "msg-%zu", i);
        ids[i] = append_one(c, c->app, chan, strlen(chan), data, (size_t)len,
                            cap, NULL);
    }
}

static void assert_data(const struct read_entry *e, size_t i)
{
    char want[32];

    snprintf(want, sizeof(want), "msg-%zu", i);
    ck_assert_uint_eq(e->data_len, strlen(want));
    ck_assert_mem_eq(e->data, want, e->data_len);
}

START_TEST(append_increasing_ids)
{
    struct ctx c;
    struct resdeliv_id prev = {0, 0};
    char first[RESDELIV_EPOCH_BUFSIZE];
    char epoch[RESDELIV_EPOCH_BUFSIZE];

    ctx_open(&c, _i, "ids");
    for (int i = 0; i < 20; i++) {
        struct resdeliv_id id =
            append_one(&c, c.app, "ch", 2, "{}", 2, 1000, epoch);
        ck_assert(!resdeliv_id_is_zero(&id));
        assert_id_lt(prev, id);
        prev = id;
        if (i == 0) {
            memcpy(first, epoch, sizeof(first));
        }
        ck_assert_str_eq(epoch, first);
    }
    ctx_close(&c);
}
END_TEST

START_TEST(epoch_per_log)
{
    struct ctx c;
    char a[RESDELIV_EPOCH_BUFSIZE];
    char b[RESDELIV_EPOCH_BUFSIZE];
    char a2[RESDELIV_EPOCH_BUFSIZE];

    ctx_open(&c, _i, "epochs");
    append_one(&c, c.app, "one", 3, "1", 1, 1000, a);
    append_one(&c, c.app, "two", 3, "2", 1, 1000, b);
    append_one(&c, c.app, "one", 3, "3", 1, 1000, a2);
    ck_assert_str_eq(a, a2);
    ck_assert_str_ne(a, b);
    ctx_close(&c);
}
END_TEST

START_TEST(read_all_binary)
{
    static const char data[][8] = {"a\0b", "\0\0\0", "{\"x\":1}", "", "z"};
    static const size_t lens[] = {3, 3, 7, 0, 1};
    struct ctx c;
    struct resdeliv_id ids[5];
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_log_key k;
    struct read_out r;

    ctx_open(&c, _i, "binary");
    k = key_of(c.app, "bin", 3);
    for (size_t i = 0; i < 5; i++) {
        char ev[16];
        int evlen = snprintf(ev, sizeof(ev), "event-%zu", i);
        struct resdeliv_append_item it = {
            "bin", 3, ev, (size_t)evlen, data[i], lens[i], {100, 0}, 0, 0};
        struct append_out o;
        append_items(&c, c.app, &it, 1, &o);
        ids[i] = o.res[0].id;
        memcpy(epoch, o.res[0].epoch, sizeof(epoch));
    }
    read_log(&c, &k, (struct resdeliv_id){0, 0}, 100, &r);
    ck_assert_uint_eq(r.n, 5);
    ck_assert_str_eq(r.epoch, epoch);
    for (size_t i = 0; i < 5; i++) {
        char ev[16];
        snprintf(ev, sizeof(ev), "event-%zu", i);
        assert_id_eq(r.e[i].id, ids[i]);
        ck_assert_uint_eq(r.e[i].event_len, strlen(ev));
        ck_assert_mem_eq(r.e[i].event, ev, strlen(ev));
        ck_assert_uint_eq(r.e[i].data_len, lens[i]);
        ck_assert_mem_eq(r.e[i].data, data[i], lens[i]);
    }
    read_free(&r);
    ctx_close(&c);
}
END_TEST

START_TEST(read_strictly_after)
{
    struct ctx c;
    struct resdeliv_id ids[8];
    struct resdeliv_log_key k;
    struct read_out r;
    struct resdeliv_id past;

    ctx_open(&c, _i, "after");
    k = key_of(c.app, "ch", 2);
    fill(&c, "ch", 8, 100, ids);
    for (size_t at = 0; at < 8; at++) {
        read_log(&c, &k, ids[at], 100, &r);
        ck_assert_uint_eq(r.n, 7 - at);
        for (size_t j = 0; j < r.n; j++) {
            assert_id_eq(r.e[j].id, ids[at + 1 + j]);
            assert_data(&r.e[j], at + 1 + j);
        }
        read_free(&r);
    }
    past = ids[7];
    past.ms += 1000;
    read_log(&c, &k, past, 100, &r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_str_ne(r.epoch, "");
    read_free(&r);
    ctx_close(&c);
}
END_TEST

START_TEST(read_pages)
{
    struct ctx c;
    struct resdeliv_id ids[25];
    struct resdeliv_log_key k;
    struct resdeliv_id after = {0, 0};
    size_t seen = 0;
    size_t pages = 0;

    ctx_open(&c, _i, "pages");
    k = key_of(c.app, "ch", 2);
    fill(&c, "ch", 25, 100, ids);
    for (;;) {
        struct read_out r;
        read_log(&c, &k, after, 10, &r);
        ck_assert_uint_le(r.n, 10);
        if (r.n == 0) {
            read_free(&r);
            break;
        }
        for (size_t j = 0; j < r.n; j++) {
            assert_id_eq(r.e[j].id, ids[seen + j]);
        }
        seen += r.n;
        after = r.e[r.n - 1].id;
        pages++;
        read_free(&r);
        ck_assert_uint_le(pages, 3);
    }
    ck_assert_uint_eq(seen, 25);
    ck_assert_uint_eq(pages, 3);
    ctx_close(&c);
}
END_TEST

START_TEST(read_missing)
{
    struct ctx c;
    struct resdeliv_log_key k;
    struct read_out r;

    ctx_open(&c, _i, "missing");
    k = key_of(c.app, "nothing-here", 12);
    read_log(&c, &k, (struct resdeliv_id){0, 0}, 10, &r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_str_eq(r.epoch, "");
    read_free(&r);
    ctx_close(&c);
}
END_TEST

START_TEST(info_missing)
{
    struct ctx c;
    struct resdeliv_log_key k;
    struct resdeliv_log_info in;
    struct resdeliv_id after = {5, 0};

    ctx_open(&c, _i, "info-missing");
    k = key_of(c.app, "nothing-here", 12);
    in = info_log(&c, &k, &after, 10);
    ck_assert_uint_eq(in.exists, 0);
    ck_assert_uint_eq(in.length, 0);
    ck_assert_uint_eq(in.entries_added, 0);
    ck_assert_str_eq(in.epoch, "");
    ctx_close(&c);
}
END_TEST

START_TEST(info_fields)
{
    struct ctx c;
    struct resdeliv_id ids[7];
    struct resdeliv_log_key k;
    struct resdeliv_log_info in;
    char epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_id zero = {0, 0};

    ctx_open(&c, _i, "info");
    k = key_of(c.app, "ch", 2);
    fill(&c, "ch", 6, 100, ids);
    ids[6] = append_one(&c, c.app, "ch", 2, "x", 1, 100, epoch);
    in = info_log(&c, &k, NULL, 0);
    ck_assert_uint_eq(in.exists, 1);
    ck_assert_uint_eq(in.length, 7);
    assert_id_eq(in.first, ids[0]);
    assert_id_eq(in.last, ids[6]);
    ck_assert_uint_eq(in.entries_added, 7);
    ck_assert_str_eq(in.epoch, epoch);
    ck_assert_int_eq(in.count_after, 7);
    ck_assert_uint_eq(in.capped, 0);
    /* Nothing was trimmed: a store may report a zero max_deleted. */
    ck_assert(!in.has_max_deleted || resdeliv_id_is_zero(&in.max_deleted));
    in = info_log(&c, &k, &zero, 0);
    ck_assert(in.count_after == 7 || in.count_after == -1);
    in = info_log(&c, &k, &ids[2], 0);
    ck_assert(in.count_after == 4 || in.count_after == -1);
    in = info_log(&c, &k, &ids[6], 0);
    ck_assert(in.count_after == 0 || in.count_after == -1);
    ctx_close(&c);
}
END_TEST

START_TEST(info_cap)
{
    struct ctx c;
    struct resdeliv_id ids[7];
    struct resdeliv_log_key k;
    struct resdeliv_log_info in;

    ctx_open(&c, _i, "info-cap");
    k = key_of(c.app, "ch", 2);
    fill(&c, "ch", 7, 100, ids);
    in = info_log(&c, &k, &ids[2], 2);
    if (in.count_after == -1) {
        ctx_close(&c);
        return; /* a store that cannot count cannot cap either */
    }
    ck_assert_int_eq(in.count_after, 4);
    ck_assert_uint_eq(in.capped, 1);
    assert_id_eq(in.skip_to, ids[4]); /* ids[5], ids[6] remain */
    in = info_log(&c, &k, &ids[2], 4);
    ck_assert_uint_eq(in.capped, 0);
    in = info_log(&c, &k, &ids[2], 5);
    ck_assert_uint_eq(in.capped, 0);
    in = info_log(&c, &k, NULL, 3);
    ck_assert_uint_eq(in.capped, 1);
    assert_id_eq(in.skip_to, ids[3]);
    ctx_close(&c);
}
END_TEST

/* Retained entries must be the newest `n`, in order. */
static void assert_suffix(struct ctx *c, const struct resdeliv_log_key *k,
                          const struct resdeliv_id *ids, size_t total, size_t n)
{
    struct read_out r;

    read_log(c, k, (struct resdeliv_id){0, 0}, total + 10, &r);
    ck_assert_uint_eq(r.n, n);
    for (size_t j = 0; j < n; j++) {
        assert_id_eq(r.e[j].id, ids[total - n + j]);
        assert_data(&r.e[j], total - n + j);
    }
    read_free(&r);
}

START_TEST(retention)
{
    enum { CAP = 10, TOTAL = 35 };
    struct ctx c;
    struct resdeliv_id ids[TOTAL];
    struct resdeliv_log_key k;
    struct resdeliv_log_info in;

    ctx_open(&c, _i, "retention");
    k = key_of(c.app, "ch", 2);
    fill(&c, "ch", TOTAL, CAP, ids);
    in = info_log(&c, &k, NULL, 0);
    ck_assert_uint_eq(in.entries_added, TOTAL);
    assert_id_eq(in.last, ids[TOTAL - 1]);
    if (c.flags & CONFORMANCE_EXACT_TRIM) {
        ck_assert_uint_eq(in.length, CAP);
        ck_assert_uint_eq(in.has_max_deleted, 1);
        assert_id_eq(in.max_deleted, ids[TOTAL - CAP - 1]);
    } else {
        /* MAXLEN ~ keeps at least the cap and never more than appended. */
        ck_assert_uint_ge(in.length, CAP);
        ck_assert_uint_le(in.length, TOTAL);
        if (in.has_max_deleted && in.length < TOTAL) {
            assert_id_eq(in.max_deleted, ids[TOTAL - in.length - 1]);
        }
    }
    assert_id_eq(in.first, ids[TOTAL - in.length]);
    assert_suffix(&c, &k, ids, TOTAL, (size_t)in.length);
    ctx_close(&c);
}
END_TEST

static void on_done(void *arg, int status)
{
    int *o = arg;

    o[0]++;
    o[1] = status;
}

START_TEST(drop_new_epoch)
{
    struct ctx c;
    struct resdeliv_log_key k;
    char before[RESDELIV_EPOCH_BUFSIZE];
    char after[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_log_info in;
    struct read_out r;
    int done[2] = {0, -1};
    int rc;

    ctx_open(&c, _i, "drop");
    k = key_of(c.app, "ch", 2);
    append_one(&c, c.app, "ch", 2, "old", 3, 100, before);
    append_one(&c, c.app, "ch", 2, "old", 3, 100, NULL);
    rc = resdeliv_store_drop(c.store, &k, on_done, done);
    if (rc == RESDELIV_ENOTSUP) {
        ck_assert_int_eq(done[0], 0);
        ctx_close(&c);
        return;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(done[0], 1);
    ck_assert_int_eq(done[1], 0);
    in = info_log(&c, &k, NULL, 0);
    ck_assert_uint_eq(in.exists, 0);
    append_one(&c, c.app, "ch", 2, "new", 3, 100, after);
    ck_assert_str_ne(before, after);
    read_log(&c, &k, (struct resdeliv_id){0, 0}, 10, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_mem_eq(r.e[0].data, "new", 3);
    ck_assert_str_eq(r.epoch, after);
    read_free(&r);
    in = info_log(&c, &k, NULL, 0);
    ck_assert_uint_eq(in.entries_added, 1);
    ctx_close(&c);
}
END_TEST

START_TEST(apps_separate)
{
    struct ctx c;
    char other[200];
    char ea[RESDELIV_EPOCH_BUFSIZE];
    char eb[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_log_key ka;
    struct resdeliv_log_key kb;
    struct read_out r;

    ctx_open(&c, _i, "apps");
    snprintf(other, sizeof(other), "%s-other", c.app);
    ka = key_of(c.app, "news", 4);
    kb = key_of(other, "news", 4);
    for (int i = 0; i < 3; i++) {
        append_one(&c, c.app, "news", 4, "A", 1, 100, ea);
    }
    for (int i = 0; i < 2; i++) {
        append_one(&c, other, "news", 4, "B", 1, 100, eb);
    }
    ck_assert_str_ne(ea, eb);
    read_log(&c, &ka, (struct resdeliv_id){0, 0}, 10, &r);
    ck_assert_uint_eq(r.n, 3);
    for (size_t i = 0; i < r.n; i++) {
        ck_assert_mem_eq(r.e[i].data, "A", 1);
    }
    read_free(&r);
    read_log(&c, &kb, (struct resdeliv_id){0, 0}, 10, &r);
    ck_assert_uint_eq(r.n, 2);
    for (size_t i = 0; i < r.n; i++) {
        ck_assert_mem_eq(r.e[i].data, "B", 1);
    }
    read_free(&r);
    ctx_close(&c);
}
END_TEST

START_TEST(batch_channels)
{
    static const char *chans[3] = {"alpha", "beta", "gamma"};
    struct ctx c;
    struct resdeliv_append_item items[64];
    char data[64][16];
    struct append_out o;

    ctx_open(&c, _i, "batch");
    for (size_t i = 0; i < 64; i++) {
        const char *ch = chans[i % 3];
        int len = snprintf(data[i], sizeof(data[i]), "item-%zu", i);
        items[i] = (struct resdeliv_append_item){
            ch, strlen(ch), "ev", 2, data[i], (size_t)len, {1000, 0}, 0, 0};
    }
    append_items(&c, c.app, items, 64, &o);
    for (size_t ch = 0; ch < 3; ch++) {
        struct resdeliv_log_key k = key_of(c.app, chans[ch], strlen(chans[ch]));
        const struct resdeliv_append_result *prev = NULL;
        struct read_out r;
        size_t j = 0;
        read_log(&c, &k, (struct resdeliv_id){0, 0}, 100, &r);
        ck_assert_uint_eq(r.n, (64 - ch + 2) / 3);
        for (size_t i = ch; i < 64; i += 3, j++) {
            ck_assert_int_eq(o.res[i].status, 0);
            if (prev != NULL) {
                assert_id_lt(prev->id, o.res[i].id);
                ck_assert_str_eq(prev->epoch, o.res[i].epoch);
            }
            assert_id_eq(r.e[j].id, o.res[i].id);
            ck_assert_uint_eq(r.e[j].data_len, strlen(data[i]));
            ck_assert_mem_eq(r.e[j].data, data[i], strlen(data[i]));
            prev = &o.res[i];
        }
        ck_assert_str_eq(r.epoch, prev->epoch);
        read_free(&r);
    }
    ctx_close(&c);
}
END_TEST

START_TEST(odd_channel)
{
    static const char odd[] = "a:b{c} d\0e\xff";
    const size_t odd_len = sizeof(odd) - 1;
    struct ctx c;
    struct resdeliv_log_key k;
    struct resdeliv_log_key prefix;
    struct read_out r;

    ctx_open(&c, _i, "odd");
    k = key_of(c.app, odd, odd_len);
    prefix = key_of(c.app, odd, 8); /* "a:b{c} d" */
    append_one(&c, c.app, odd, odd_len, "full", 4, 100, NULL);
    append_one(&c, c.app, odd, 8, "prefix", 6, 100, NULL);
    append_one(&c, c.app, odd, odd_len, "full2", 5, 100, NULL);
    read_log(&c, &k, (struct resdeliv_id){0, 0}, 10, &r);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_mem_eq(r.e[0].data, "full", 4);
    ck_assert_mem_eq(r.e[1].data, "full2", 5);
    read_free(&r);
    read_log(&c, &prefix, (struct resdeliv_id){0, 0}, 10, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_mem_eq(r.e[0].data, "prefix", 6);
    read_free(&r);
    ctx_close(&c);
}
END_TEST

/* Entry flags: a store keeps them all or keeps none (reads 0), and
 * never hands out anything else; one that says it keeps them does. */
struct flags_out {
    int called;
    size_t n;
    uint32_t flags[4];
    uint32_t reserved[4];
};

static void on_read_flags(void *arg, int status,
                          const struct resdeliv_stored_entry *e, size_t n,
                          const char *epoch)
{
    struct flags_out *o = arg;

    o->called++;
    o->n = status == 0 ? n : 0;
    for (size_t i = 0; i < o->n && i < 4; i++) {
        o->flags[i] = e[i].flags;
        o->reserved[i] = e[i].reserved;
    }
}

START_TEST(flags_round_trip)
{
    static const uint32_t sent[3] = {RESDELIV_ENTRY_OBJECT, 0,
                                     RESDELIV_ENTRY_OBJECT};
    struct resdeliv_append_item items[3];
    struct resdeliv_log_key k;
    struct append_out o;
    struct flags_out f = {0};
    struct ctx c;
    int kept;

    ctx_open(&c, _i, "flags");
    for (size_t i = 0; i < 3; i++) {
        items[i] = (struct resdeliv_append_item){
            .channel = "fl", .channel_len = 2, .event = "ev",
            .event_len = 2, .data = "{}", .data_len = 2,
            .retention = {100, 0}, .flags = sent[i]};
    }
    append_items(&c, c.app, items, 3, &o);
    k = key_of(c.app, "fl", 2);
    ck_assert_int_eq(resdeliv_store_read(c.store, &k, &(struct resdeliv_id){0},
                                         10, on_read_flags, &f),
                     0);
    ck_assert_int_eq(f.called, 1);
    ck_assert_uint_eq(f.n, 3);
    kept = f.flags[0] != 0;
    if (c.flags & CONFORMANCE_KEEPS_FLAGS) {
        ck_assert_int_eq(kept, 1);
    }
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(f.flags[i], kept ? sent[i] : 0);
        ck_assert_uint_eq(f.reserved[i], 0);
    }
    ctx_close(&c);
}
END_TEST

TCase *conformance_tcase(const char *name, conformance_make_fn make, void *arg,
                         unsigned flags)
{
    TCase *tc;
    int idx;

    if (name == NULL || make == NULL || ntargets >= MAX_TARGETS) {
        return NULL;
    }
    idx = ntargets++;
    targets[idx] = (struct target){make, arg, flags};
    tc = tcase_create(name);
    tcase_add_loop_test(tc, append_increasing_ids, idx, idx + 1);
    tcase_add_loop_test(tc, epoch_per_log, idx, idx + 1);
    tcase_add_loop_test(tc, read_all_binary, idx, idx + 1);
    tcase_add_loop_test(tc, read_strictly_after, idx, idx + 1);
    tcase_add_loop_test(tc, read_pages, idx, idx + 1);
    tcase_add_loop_test(tc, read_missing, idx, idx + 1);
    tcase_add_loop_test(tc, info_missing, idx, idx + 1);
    tcase_add_loop_test(tc, info_fields, idx, idx + 1);
    tcase_add_loop_test(tc, info_cap, idx, idx + 1);
    tcase_add_loop_test(tc, retention, idx, idx + 1);
    tcase_add_loop_test(tc, drop_new_epoch, idx, idx + 1);
    tcase_add_loop_test(tc, apps_separate, idx, idx + 1);
    tcase_add_loop_test(tc, batch_channels, idx, idx + 1);
    tcase_add_loop_test(tc, odd_channel, idx, idx + 1);
    tcase_add_loop_test(tc, flags_round_trip, idx, idx + 1);
    return tc;
}
