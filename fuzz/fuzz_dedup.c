/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the dedup window. The input is a program: the first byte
 * picks a small window (1..32), then each pair of bytes is one operation,
 * a check of an id or a reset to an id. Ids move mostly forward from a
 * cursor with jumps back, so repeats, late ids and evictions are common.
 *
 * Each answer is compared with a reference model that keeps the last
 * `window` accepted ids in acceptance order and scans them, the header's
 * wording taken literally. The two properties the window exists for are
 * also checked on their own: an id among the last `window` accepted is
 * never passed again, and an id not among them but newer than the oldest
 * of them is never dropped.
 */
#include <resdeliv/resdeliv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WINDOW 32

struct model {
    struct resdeliv_id ids[MAX_WINDOW]; /* oldest accepted first */
    size_t w;
    size_t n;
    struct resdeliv_id highest;
    uint64_t drops;
};

static void fail(const char *what, size_t op, const struct resdeliv_id *id)
{
    fprintf(stderr, "fuzz_dedup: %s at operation %zu, id %llu-%llu\n", what, op,
            (unsigned long long)id->ms, (unsigned long long)id->seq);
    abort();
}

static int in_window(const struct model *m, const struct resdeliv_id *id)
{
    for (size_t i = 0; i < m->n; i++) {
        if (resdeliv_id_cmp(&m->ids[i], id) == 0) {
            return 1;
        }
    }
    return 0;
}

static int newer_than_oldest(const struct model *m,
                             const struct resdeliv_id *id)
{
    for (size_t i = 0; i < m->n; i++) {
        if (resdeliv_id_cmp(&m->ids[i], id) < 0) {
            return 1;
        }
    }
    return 0;
}

static int model_check(struct model *m, const struct resdeliv_id *id)
{
    if (resdeliv_id_cmp(id, &m->highest) <= 0) {
        /* The highest was delivered, even once it left the window. */
        if (in_window(m, id) ||
            (m->n > 0 && resdeliv_id_cmp(id, &m->highest) == 0)) {
            m->drops++;
            return RESDELIV_DEDUP_DUPLICATE;
        }
        if (!newer_than_oldest(m, id)) {
            m->drops++;
            return RESDELIV_DEDUP_STALE;
        }
    } else {
        m->highest = *id;
    }
    if (m->n == m->w) {
        memmove(m->ids, m->ids + 1, (m->w - 1) * sizeof(m->ids[0]));
        m->n--;
    }
    m->ids[m->n++] = *id;
    return RESDELIV_DEDUP_FRESH;
}

/* The id an operation names: near the cursor, or at the top of the range
 * so the largest ids are exercised too. */
static struct resdeliv_id op_id(uint8_t op, uint8_t arg, uint64_t cursor)
{
    struct resdeliv_id id;
    uint64_t back = (uint64_t)(arg >> 2);

    if (op == 0xff) {
        id.ms = UINT64_MAX;
        id.seq = UINT64_MAX - (arg & 3u);
        return id;
    }
    id.ms = cursor > back ? cursor - back : 0;
    id.seq = arg & 3u;
    return id;
}

static void check_one(resdeliv_dedup *d, struct model *m, size_t op,
                      const struct resdeliv_id *id)
{
    int was_in = in_window(m, id);
    int newer = newer_than_oldest(m, id);
    int above = resdeliv_id_cmp(id, &m->highest) > 0;
    /* The highest id delivered is a repeat even after it left the window. */
    int repeat = was_in ||
                 (m->n > 0 && resdeliv_id_cmp(id, &m->highest) == 0);
    int want = model_check(m, id);
    int got = resdeliv_dedup_check(d, id);
    struct resdeliv_id hi = resdeliv_dedup_highest(d);

    if (got == RESDELIV_DEDUP_FRESH && repeat) {
        fail("passed a repeat", op, id);
    }
    if (got != RESDELIV_DEDUP_FRESH && !repeat && (above || newer)) {
        fail("dropped a fresh id newer than the oldest remembered", op, id);
    }
    if (got != want) {
        fail("answer differs from the reference model", op, id);
    }
    if (resdeliv_id_cmp(&hi, &m->highest) != 0) {
        fail("highest differs from the reference model", op, id);
    }
    if (resdeliv_dedup_drops(d) != m->drops) {
        fail("drop count differs from the reference model", op, id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model m;
    resdeliv_dedup *d = NULL;
    uint64_t cursor = 64;
    size_t mem;

    if (size < 1) {
        return 0;
    }
    memset(&m, 0, sizeof(m));
    m.w = 1 + data[0] % MAX_WINDOW;
    if (resdeliv_dedup_new(m.w, &d) != 0) {
        return 0;
    }
    mem = resdeliv_dedup_memory(d);
    for (size_t i = 1; i + 1 < size; i += 2) {
        uint8_t op = data[i];
        struct resdeliv_id id = op_id(op, data[i + 1], cursor);
        if (op != 0xff && (op & 0xe0) == 0xe0) {
            resdeliv_dedup_reset(d, &id);
            m.n = 0;
            m.highest = id;
            continue;
        }
        cursor += op & 7u;
        check_one(d, &m, i / 2, &id);
    }
    if (resdeliv_dedup_memory(d) != mem) {
        fail("memory changed after creation", 0, &m.highest);
    }
    resdeliv_dedup_free(d);
    return 0;
}
