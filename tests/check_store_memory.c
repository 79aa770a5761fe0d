/* SPDX-License-Identifier: MIT */
/*
 * Tests of the embedded memory store: the shared conformance suite with
 * exact trimming, then what only the memory store promises (exact
 * retention at the edges, injected clocks, age retention and idle expiry,
 * the log limit, many threads at once) and its options. The store
 * wrapper's checks of vtables and arguments are in check_store.c.
 */
#include "internal.h"
#include "store_conformance.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_clock {
    uint64_t now;
};

static uint64_t fake_now(void *arg)
{
    return ((struct fake_clock *)arg)->now;
}

static int make_memory(resdeliv_store **out, void *arg)
{
    (void)arg;
    return resdeliv_store_memory_new(NULL, out);
}

static resdeliv_store *new_store(struct fake_clock *clk, uint64_t max_logs)
{
    struct resdeliv_memory_options o = {RESDELIV_STRUCT_HEAD(o)};
    resdeliv_store *st = NULL;

    if (clk != NULL) {
        o.clock.now_ms = fake_now;
        o.clock.arg = clk;
    }
    o.max_logs = max_logs;
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

/* Append one entry to ("app", chan); returns the item status. */
static int append_st(resdeliv_store *st, const char *chan, uint64_t cap,
                     uint64_t max_age, struct resdeliv_append_result *res)
{
    struct resdeliv_append_item it = {chan, strlen(chan),  "ev", 2, "{}",
                                      2,    {cap, max_age}, 0, 0};
    struct append_out o;

    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(resdeliv_store_append(st, "app", 3, &it, 1, on_append, &o),
                     0);
    ck_assert_int_eq(o.called, 1);
    ck_assert_int_eq(o.status, o.res[0].status);
    if (res != NULL) {
        *res = o.res[0];
    }
    return o.res[0].status;
}

static struct resdeliv_id append_id(resdeliv_store *st, const char *chan,
                                    uint64_t cap, uint64_t max_age)
{
    struct resdeliv_append_result r;

    ck_assert_int_eq(append_st(st, chan, cap, max_age, &r), 0);
    return r.id;
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

static void read_all(resdeliv_store *st, const char *chan, struct read_out *o)
{
    struct resdeliv_log_key k = key(chan);

    memset(o, 0, sizeof(*o));
    ck_assert_int_eq(resdeliv_store_read(st, &k, NULL, 256, on_read, o), 0);
    ck_assert_int_eq(o->called, 1);
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

static void id_is(struct resdeliv_id id, uint64_t ms, uint64_t seq)
{
    ck_assert_msg(id.ms == ms && id.seq == seq,
                  "id %llu-%llu, expected %llu-%llu", (unsigned long long)id.ms,
                  (unsigned long long)id.seq, (unsigned long long)ms,
                  (unsigned long long)seq);
}

/* ---- retention ---- */

static void check_exact(resdeliv_store *st, uint64_t cap, size_t n)
{
    char chan[64];
    struct resdeliv_id ids[1024];
    struct resdeliv_log_info in;
    struct read_out r;
    size_t keep = n < cap ? n : (size_t)cap;

    snprintf(chan, sizeof(chan), "cap-%llu-n-%zu", (unsigned long long)cap, n);
    for (size_t i = 0; i < n; i++) {
        ids[i] = append_id(st, chan, cap, 0);
    }
    in = info(st, chan);
    if (n == 0) {
        ck_assert_uint_eq(in.exists, 0);
        return;
    }
    ck_assert_uint_eq(in.length, keep);
    ck_assert_uint_eq(in.entries_added, n);
    ck_assert_int_eq(resdeliv_id_cmp(&in.first, &ids[n - keep]), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&in.last, &ids[n - 1]), 0);
    ck_assert_uint_eq(in.has_max_deleted, n > cap);
    if (n > cap) {
        ck_assert_int_eq(resdeliv_id_cmp(&in.max_deleted, &ids[n - keep - 1]),
                         0);
    }
    read_all(st, chan, &r);
    ck_assert_uint_eq(r.n, keep);
    for (size_t i = 0; i < keep; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&r.ids[i], &ids[n - keep + i]), 0);
    }
}

START_TEST(retention_edges)
{
    static const uint64_t caps[] = {1, 7, 16, 20};
    resdeliv_store *st = new_store(NULL, 0);

    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        size_t cap = (size_t)caps[c];
        check_exact(st, cap, cap - 1);
        check_exact(st, cap, cap);
        check_exact(st, cap, cap + 1);
        check_exact(st, cap, 10 * cap);
    }
    resdeliv_store_free(st);
}
END_TEST

START_TEST(retention_changes)
{
    resdeliv_store *st = new_store(NULL, 0);
    struct resdeliv_log_info in;
    struct resdeliv_id ids[150];
    struct read_out r;

    for (int i = 0; i < 20; i++) {
        append_id(st, "ch", 20, 0);
    }
    append_id(st, "ch", 5, 0); /* a smaller cap trims at once */
    in = info(st, "ch");
    ck_assert_uint_eq(in.length, 5);
    for (int i = 0; i < 10; i++) {
        append_id(st, "ch", 50, 0);
    }
    ck_assert_uint_eq(info(st, "ch").length, 15);
    for (int i = 0; i < 600; i++) {
        append_id(st, "unbounded", 0, 0);
    }
    in = info(st, "unbounded");
    ck_assert_uint_eq(in.length, 600);
    ck_assert_uint_eq(in.has_max_deleted, 0);
    for (int i = 0; i < 150; i++) {
        ids[i] = append_id(st, "wrap", 100, 0);
    }
    read_all(st, "wrap", &r); /* wraps the ring, past the stack copy */
    ck_assert_uint_eq(r.n, 100);
    for (size_t i = 0; i < 100; i++) {
        ck_assert_int_eq(resdeliv_id_cmp(&r.ids[i], &ids[50 + i]), 0);
    }
    resdeliv_store_free(st);
}
END_TEST

/* ---- clock ---- */

START_TEST(clock_ids)
{
    struct fake_clock clk = {1000};
    resdeliv_store *st = new_store(&clk, 0);

    id_is(append_id(st, "ch", 100, 0), 1000, 0);
    id_is(append_id(st, "ch", 100, 0), 1000, 1);
    clk.now = 1005;
    id_is(append_id(st, "ch", 100, 0), 1005, 0);
    clk.now = 990; /* stepped back: ms stays, seq grows */
    id_is(append_id(st, "ch", 100, 0), 1005, 1);
    id_is(append_id(st, "ch", 100, 0), 1005, 2);
    clk.now = 1006;
    id_is(append_id(st, "ch", 100, 0), 1006, 0);
    id_is(append_id(st, "other", 100, 0), 1006, 0);
    id_is(info(st, "ch").last, 1006, 0);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(clock_zero)
{
    struct fake_clock clk = {0};
    resdeliv_store *st = new_store(&clk, 0);

    /* 0-0 means "before everything" and is never assigned. */
    id_is(append_id(st, "ch", 100, 0), 0, 1);
    id_is(append_id(st, "ch", 100, 0), 0, 2);
    resdeliv_store_free(st);
}
END_TEST

/* ---- age retention ---- */

START_TEST(age_trim)
{
    struct fake_clock clk = {1000};
    resdeliv_store *st = new_store(&clk, 0);
    struct resdeliv_id b;
    struct resdeliv_id c;
    struct resdeliv_log_info in;
    struct read_out r;

    append_id(st, "ch", 100, 100);
    clk.now = 1050;
    b = append_id(st, "ch", 100, 100);
    clk.now = 1100;
    c = append_id(st, "ch", 100, 100);
    clk.now = 1160; /* older than 1060 goes */
    read_all(st, "ch", &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&r.ids[0], &c), 0);
    in = info(st, "ch");
    ck_assert_uint_eq(in.length, 1);
    ck_assert_uint_eq(in.has_max_deleted, 1);
    ck_assert_int_eq(resdeliv_id_cmp(&in.max_deleted, &b), 0);
    ck_assert_int_eq(resdeliv_id_cmp(&in.first, &c), 0);
    ck_assert_uint_eq(in.entries_added, 3);
    clk.now = 1180;
    append_id(st, "ch", 100, 100);
    clk.now = 1250; /* an append trims too: c (1100) goes, 1180 stays */
    append_id(st, "ch", 100, 100);
    in = info(st, "ch");
    ck_assert_uint_eq(in.length, 2);
    ck_assert_int_eq(resdeliv_id_cmp(&in.max_deleted, &c), 0);
    ck_assert_uint_eq(in.entries_added, 5);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(age_idle_expire)
{
    struct fake_clock clk = {1000};
    resdeliv_store *st = new_store(&clk, 0);
    struct resdeliv_append_result first;
    struct resdeliv_append_result again;
    struct read_out r;

    ck_assert_int_eq(append_st(st, "idle", 100, 100, &first), 0);
    append_id(st, "forever", 100, 0);
    clk.now = 1080;
    ck_assert_int_eq(resdeliv_store_memory_expire(st), 0);
    clk.now = 1300;
    ck_assert_int_eq(resdeliv_store_memory_expire(st), 1);
    ck_assert_int_eq(resdeliv_store_memory_expire(st), 0);
    ck_assert_uint_eq(info(st, "idle").exists, 0);
    ck_assert_uint_eq(info(st, "forever").length, 1);
    ck_assert_int_eq(append_st(st, "idle", 100, 100, &again), 0);
    ck_assert_str_ne(first.epoch, again.epoch);
    ck_assert_uint_eq(info(st, "idle").entries_added, 1);

    /* A read finds the idle log gone without an expire call. */
    clk.now = 2000;
    read_all(st, "idle", &r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_str_eq(r.epoch, "");
    ck_assert_int_eq(resdeliv_store_memory_expire(st), 0);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(age_append_renews_epoch)
{
    struct fake_clock clk = {1000};
    resdeliv_store *st = new_store(&clk, 0);
    struct resdeliv_append_result a;
    struct resdeliv_append_result b;

    ck_assert_int_eq(append_st(st, "ch", 100, 50, &a), 0);
    clk.now = 2000; /* expired, but nobody swept it */
    ck_assert_int_eq(append_st(st, "ch", 100, 50, &b), 0);
    ck_assert_str_ne(a.epoch, b.epoch);
    ck_assert_uint_eq(info(st, "ch").entries_added, 1);
    ck_assert_uint_eq(info(st, "ch").has_max_deleted, 0);
    resdeliv_store_free(st);
}
END_TEST

/* ---- log limit ---- */

START_TEST(max_logs_overflow)
{
    resdeliv_store *st = new_store(NULL, 2);
    struct resdeliv_log_key ka = key("a");
    struct resdeliv_append_item two[2] = {
        {"b", 1, "ev", 2, "1", 1, {10, 0}, 0, 0},
        {"d", 1, "ev", 2, "2", 1, {10, 0}, 0, 0},
    };
    struct append_out o;
    int done[2] = {0, -1};

    ck_assert_int_eq(append_st(st, "a", 10, 0, NULL), 0);
    ck_assert_int_eq(append_st(st, "b", 10, 0, NULL), 0);
    ck_assert_int_eq(append_st(st, "c", 10, 0, NULL), RESDELIV_EOVERFLOW);
    ck_assert_int_eq(append_st(st, "a", 10, 0, NULL), 0);
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(resdeliv_store_append(st, "app", 3, two, 2, on_append, &o),
                     0);
    ck_assert_int_eq(o.status, 0); /* part of the batch was stored */
    ck_assert_int_eq(o.res[0].status, 0);
    ck_assert_int_eq(o.res[1].status, RESDELIV_EOVERFLOW);
    ck_assert_int_eq(resdeliv_store_drop(st, &ka, on_done, done), 0);
    ck_assert_int_eq(done[0], 1);
    ck_assert_int_eq(append_st(st, "c", 10, 0, NULL), 0);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(max_logs_sweeps_expired)
{
    struct fake_clock clk = {1000};
    resdeliv_store *st = new_store(&clk, 1);

    ck_assert_int_eq(append_st(st, "old", 10, 10, NULL), 0);
    ck_assert_int_eq(append_st(st, "new", 10, 10, NULL), RESDELIV_EOVERFLOW);
    clk.now = 2000;
    ck_assert_int_eq(append_st(st, "new", 10, 10, NULL), 0);
    ck_assert_uint_eq(info(st, "old").exists, 0);
    resdeliv_store_free(st);
}
END_TEST

START_TEST(many_logs)
{
    resdeliv_store *st = new_store(NULL, 0);
    struct resdeliv_log_key k;
    char chan[32];
    int done[2] = {0, -1};

    /* Enough logs to grow the map several times over. */
    for (int i = 0; i < 1000; i++) {
        snprintf(chan, sizeof(chan), "ch-%d", i);
        struct resdeliv_id a = append_id(st, chan, 10, 0);
        struct resdeliv_id b = append_id(st, chan, 10, 0);
        ck_assert_int_lt(resdeliv_id_cmp(&a, &b), 0);
    }
    for (int i = 0; i < 1000; i += 2) {
        snprintf(chan, sizeof(chan), "ch-%d", i);
        k = key(chan);
        ck_assert_int_eq(resdeliv_store_drop(st, &k, on_done, done), 0);
    }
    ck_assert_int_eq(done[0], 500);
    for (int i = 0; i < 1000; i++) {
        snprintf(chan, sizeof(chan), "ch-%d", i);
        ck_assert_uint_eq(info(st, chan).length, i % 2 ? 2 : 0);
    }
    resdeliv_store_free(st);
}
END_TEST

/* ---- threads ---- */

enum { WRITERS = 4, PER_WRITER = 20000, CHANNELS = 8, READERS = 2 };

struct stress {
    resdeliv_store *st;
    atomic_int writers_left;
    atomic_int errors;
};

struct writer_arg {
    struct stress *s;
    int tid;
};

static void *writer(void *p)
{
    struct writer_arg *w = p;
    struct resdeliv_id last[CHANNELS];
    char chan[16];

    memset(last, 0, sizeof(last));
    for (int i = 0; i < PER_WRITER; i++) {
        int c = (w->tid * 3 + i) % CHANNELS;
        int len = snprintf(chan, sizeof(chan), "ch-%d", c);
        struct resdeliv_append_item it = {chan, (size_t)len, "ev", 2, "payload",
                                          7,    {1000000, 0}, 0, 0};
        struct append_out o;
        memset(&o, 0, sizeof(o));
        if (resdeliv_store_append(w->s->st, "app", 3, &it, 1, on_append, &o) !=
                0 ||
            o.status != 0 || resdeliv_id_cmp(&last[c], &o.res[0].id) >= 0) {
            atomic_fetch_add(&w->s->errors, 1);
        }
        last[c] = o.res[0].id;
    }
    atomic_fetch_sub(&w->s->writers_left, 1);
    return NULL;
}

static void on_read_ordered(void *arg, int status,
                            const struct resdeliv_stored_entry *e, size_t n,
                            const char *epoch)
{
    struct stress *s = arg;

    for (size_t i = 1; i < n; i++) {
        if (resdeliv_id_cmp(&e[i - 1].id, &e[i].id) >= 0) {
            atomic_fetch_add(&s->errors, 1);
        }
    }
    (void)status;
    (void)epoch;
}

static void *reader(void *p)
{
    struct stress *s = p;
    unsigned round = 0;

    while (atomic_load(&s->writers_left) > 0) {
        char chan[16];
        int len = snprintf(chan, sizeof(chan), "ch-%u", round++ % CHANNELS);
        struct resdeliv_log_key k = {"app", 3, chan, (size_t)len};
        struct resdeliv_id after = {0, 0};
        if (resdeliv_store_read(s->st, &k, &after, 64, on_read_ordered, s) !=
            0) {
            atomic_fetch_add(&s->errors, 1);
        }
    }
    return NULL;
}

struct count_out {
    size_t n;
    struct resdeliv_id last;
    int disorder;
};

static void on_count(void *arg, int status,
                     const struct resdeliv_stored_entry *e, size_t n,
                     const char *epoch)
{
    struct count_out *o = arg;

    for (size_t i = 0; i < n; i++) {
        if (resdeliv_id_cmp(&o->last, &e[i].id) >= 0) {
            o->disorder++;
        }
        o->last = e[i].id;
    }
    o->n = n;
    (void)status;
    (void)epoch;
}

/* Read a whole channel page by page; returns its entry count. */
static uint64_t count_channel(resdeliv_store *st, int c)
{
    char chan[16];
    int len = snprintf(chan, sizeof(chan), "ch-%d", c);
    struct resdeliv_log_key k = {"app", 3, chan, (size_t)len};
    struct count_out o = {0, {0, 0}, 0};
    uint64_t total = 0;

    do {
        struct resdeliv_id after = o.last;
        o.n = 0;
        ck_assert_int_eq(
            resdeliv_store_read(st, &k, &after, 1000, on_count, &o), 0);
        total += o.n;
    } while (o.n > 0);
    ck_assert_int_eq(o.disorder, 0);
    return total;
}

START_TEST(threads_stress)
{
    struct stress s;
    pthread_t wt[WRITERS];
    pthread_t rt[READERS];
    struct writer_arg wa[WRITERS];
    uint64_t total = 0;
    uint64_t added = 0;

    s.st = new_store(NULL, 0);
    atomic_init(&s.writers_left, WRITERS);
    atomic_init(&s.errors, 0);
    for (int i = 0; i < READERS; i++) {
        ck_assert_int_eq(pthread_create(&rt[i], NULL, reader, &s), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        wa[i] = (struct writer_arg){&s, i};
        ck_assert_int_eq(pthread_create(&wt[i], NULL, writer, &wa[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(wt[i], NULL);
    }
    for (int i = 0; i < READERS; i++) {
        pthread_join(rt[i], NULL);
    }
    ck_assert_int_eq(atomic_load(&s.errors), 0);
    for (int c = 0; c < CHANNELS; c++) {
        char chan[16];
        snprintf(chan, sizeof(chan), "ch-%d", c);
        total += count_channel(s.st, c);
        added += info(s.st, chan).entries_added;
    }
    ck_assert_uint_eq(total, (uint64_t)WRITERS * PER_WRITER);
    ck_assert_uint_eq(added, (uint64_t)WRITERS * PER_WRITER);
    resdeliv_store_free(s.st);
}
END_TEST

/* ---- entry flags ---- */

struct flag_seen {
    size_t n;
    uint32_t flags[3];
};

static void on_read_flags(void *arg, int status,
                          const struct resdeliv_stored_entry *e, size_t n,
                          const char *epoch)
{
    struct flag_seen *o = arg;

    o->n = n;
    for (size_t i = 0; i < n && i < 3; i++) {
        o->flags[i] = e[i].flags;
    }
    (void)status;
    (void)epoch;
}

/* The memory store keeps entry flags as given, across a ring that
 * wraps. */
START_TEST(entry_flags_kept)
{
    resdeliv_store *st = new_store(NULL, 0);
    struct resdeliv_log_key k = key("fl");
    struct flag_seen seen = {0};
    struct append_out o;

    for (uint32_t i = 0; i < 20; i++) {
        struct resdeliv_append_item it = {
            .channel = "fl", .channel_len = 2, .event = "ev",
            .event_len = 2, .data = "{}", .data_len = 2,
            .retention = {3, 0},
            .flags = (i % 2) ? RESDELIV_ENTRY_OBJECT : 0};
        memset(&o, 0, sizeof(o));
        ck_assert_int_eq(resdeliv_store_append(st, "app", 3, &it, 1,
                                               on_append, &o),
                         0);
    }
    ck_assert_int_eq(resdeliv_store_read(st, &k, NULL, 3, on_read_flags,
                                         &seen),
                     0);
    ck_assert_uint_eq(seen.n, 3);
    /* Entries 17, 18 and 19 remain. */
    ck_assert_uint_eq(seen.flags[0], RESDELIV_ENTRY_OBJECT);
    ck_assert_uint_eq(seen.flags[1], 0);
    ck_assert_uint_eq(seen.flags[2], RESDELIV_ENTRY_OBJECT);
    resdeliv_store_free(st);
}
END_TEST

/* ---- options ---- */

START_TEST(memory_options)
{
    struct resdeliv_memory_options o = {RESDELIV_STRUCT_HEAD(o)};
    resdeliv_store *st = NULL;

    ck_assert_int_eq(resdeliv_store_memory_new(NULL, NULL), RESDELIV_EINVAL);
    o.abi_version = (RESDELIV_ABI_MAJOR + 1) << 16;
    ck_assert_int_eq(resdeliv_store_memory_new(&o, &st), RESDELIV_EABI);
    o.abi_version = RESDELIV_ABI_VERSION;
    o.struct_size = 4;
    ck_assert_int_eq(resdeliv_store_memory_new(&o, &st), RESDELIV_EINVAL);
    ck_assert_ptr_null(st);
    ck_assert_int_eq(resdeliv_store_memory_new(NULL, &st), 0);
    ck_assert_str_eq(resdeliv_store_name(st), "memory");
    ck_assert_uint_eq(resdeliv_store_flags(st),
                      RESDELIV_STORE_SYNC | RESDELIV_STORE_THREADSAFE);
    ck_assert_str_eq(resdeliv_store_errmsg(st), "");
    ck_assert_int_eq(resdeliv_store_memory_expire(NULL), RESDELIV_EINVAL);
    resdeliv_store_free(st);
}
END_TEST

static Suite *store_memory_suite(void)
{
    Suite *s = suite_create("store_memory");
    TCase *tc;

    suite_add_tcase(s, conformance_tcase("conformance", make_memory, NULL,
                                         CONFORMANCE_EXACT_TRIM |
                                             CONFORMANCE_KEEPS_FLAGS));
    tc = tcase_create("retention");
    tcase_add_test(tc, retention_edges);
    tcase_add_test(tc, retention_changes);
    suite_add_tcase(s, tc);
    tc = tcase_create("clock");
    tcase_add_test(tc, clock_ids);
    tcase_add_test(tc, clock_zero);
    suite_add_tcase(s, tc);
    tc = tcase_create("age");
    tcase_add_test(tc, age_trim);
    tcase_add_test(tc, age_idle_expire);
    tcase_add_test(tc, age_append_renews_epoch);
    suite_add_tcase(s, tc);
    tc = tcase_create("max_logs");
    tcase_add_test(tc, max_logs_overflow);
    tcase_add_test(tc, max_logs_sweeps_expired);
    tcase_add_test(tc, many_logs);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_test(tc, threads_stress);
    suite_add_tcase(s, tc);
    tc = tcase_create("options");
    tcase_add_test(tc, memory_options);
    suite_add_tcase(s, tc);
    tc = tcase_create("flags");
    tcase_add_test(tc, entry_flags_kept);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_memory_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
