/* SPDX-License-Identifier: MIT */
/*
 * The core benchmark's measuring harness and report (bench_core_harness.c),
 * used by bench_core.c, which holds the measured cases: a case is a loop
 * of iterations run through a function pointer, measured as the median of
 * interleaved repetitions, and reported as a figure against its baseline.
 */
#ifndef RESDELIV_BENCH_CORE_H
#define RESDELIV_BENCH_CORE_H

#include <stddef.h>
#include <stdint.h>

/* Keeps a value alive as far as the optimizer can tell, so the measured
 * work (including malloc/free pairs GCC would otherwise drop) is done. */
static inline void keep(const void *p)
{
    __asm__ __volatile__("" : : "g"(p) : "memory");
}

/* One measured loop: `run` does `iters` iterations of `ops` operations. */
struct bcase {
    const char *label;
    int (*run)(void *ctx, uint64_t iters);
    void *ctx;
    double ops;
    uint64_t iters;
    double median, lo, hi; /* ns per operation */
};

#define CASE(l, f, c, n)                                                       \
    ((struct bcase){.label = (l), .run = (f), .ctx = (c), .ops = (n)})

/* How to measure, and the shortest repetition seen (to show it was long
 * enough). */
struct runner {
    int reps;
    uint64_t min_ns;
    uint64_t shortest;
};

enum target_kind { TARGET_NONE, TARGET_MAX_NS, TARGET_MIN_RATIO };

struct figure {
    const char *name;  /* RESULT name */
    const char *label; /* table row */
    const char *unit;
    const struct bcase *subject;
    const struct bcase *base;
    int speedup; /* ratio = base / subject instead of subject/base */
    enum target_kind kind;
    double target;
};

/* Calibrates every case, then runs the repetitions interleaved (one of
 * each case per round) and keeps the median and range of ns/op.
 * @return 0, or the first error of a case's run. */
int bench_measure(struct bcase **cases, size_t n, struct runner *o);

/* Prints the table of figures, then one RESULT line each. */
void bench_print_table(const struct figure *figs, size_t n);

#endif /* RESDELIV_BENCH_CORE_H */
