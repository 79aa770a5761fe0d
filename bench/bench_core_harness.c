/* SPDX-License-Identifier: MIT */
/*
 * The core benchmark's harness: calibration of each case to repetitions
 * of at least the minimum time, interleaved repetitions with their median
 * and range, and the report (a table, then the RESULT lines that
 * bench/README.md explains).
 */
#include "bench_core.h"

#include <resdeliv/resdeliv.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Grows the iteration count tenfold until one run takes a tenth of the
 * repetition time, then scales it so a repetition lasts about 1.25x that
 * time, leaving room for a machine that speeds up between runs. */
static int calibrate(struct bcase *c, uint64_t min_ns)
{
    uint64_t iters = 1;

    for (;;) {
        uint64_t t0 = now_ns();
        int rc = c->run(c->ctx, iters);
        uint64_t t = now_ns() - t0;

        if (rc != 0) {
            return rc;
        }
        if (t >= min_ns / 10 || iters >= (1ull << 40)) {
            double scale = 1.25 * (double)min_ns / (double)(t ? t : 1);

            c->iters = (uint64_t)((double)iters * scale) + 1;
            return 0;
        }
        iters *= 10;
    }
}

/* One repetition of at least `min_ns`: a shorter run (the machine got
 * faster, or calibration was disturbed) is discarded and redone with more
 * iterations, so no counted repetition is short enough for timer overhead
 * to matter. */
static int timed_run(struct bcase *c, uint64_t min_ns, uint64_t *ns)
{
    for (;;) {
        uint64_t t0 = now_ns();
        int rc = c->run(c->ctx, c->iters);
        uint64_t t = now_ns() - t0;

        if (rc != 0 || t >= min_ns) {
            *ns = t;
            return rc;
        }
        c->iters = (uint64_t)((double)c->iters * 1.25 * (double)min_ns /
                              (double)(t ? t : 1)) +
                   1;
    }
}

int bench_measure(struct bcase **cases, size_t n, struct runner *o)
{
    double *samples = calloc(n * (size_t)o->reps, sizeof(*samples));
    int rc = 0;

    if (samples == NULL) {
        return RESDELIV_ENOMEM;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = calibrate(cases[i], o->min_ns);
    }
    for (int r = 0; r < o->reps && rc == 0; r++) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            struct bcase *c = cases[i];
            uint64_t t = 0;

            rc = timed_run(c, o->min_ns, &t);
            o->shortest = t < o->shortest ? t : o->shortest;
            samples[i * (size_t)o->reps + (size_t)r] =
                (double)t / ((double)c->iters * c->ops);
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        double *s = samples + i * (size_t)o->reps;

        qsort(s, (size_t)o->reps, sizeof(*s), cmp_double);
        cases[i]->lo = s[0];
        cases[i]->hi = s[o->reps - 1];
        cases[i]->median = s[o->reps / 2];
    }
    free(samples);
    return rc;
}


static double figure_ratio(const struct figure *f)
{
    return f->speedup ? f->base->median / f->subject->median
                      : f->subject->median / f->base->median;
}

/* Writes the target's text into `buf` and returns the verdict. */
static const char *judge(const struct figure *f, char *buf, size_t size)
{
    if (f->kind == TARGET_MAX_NS) {
        snprintf(buf, size, "<=%gns", f->target);
        return f->subject->median <= f->target ? "ok" : "MISS";
    }
    if (f->kind == TARGET_MIN_RATIO) {
        snprintf(buf, size, ">=%gx", f->target);
        return figure_ratio(f) >= f->target ? "ok" : "MISS";
    }
    snprintf(buf, size, "none");
    return "info";
}

void bench_print_table(const struct figure *figs, size_t n)
{
    printf("\n%-34s %10s %21s %10s %-22s %7s %-8s %s\n", "figure", "median",
           "[min .. max]", "baseline", "(baseline is)", "ratio", "target", "");
    for (size_t i = 0; i < n; i++) {
        const struct figure *f = &figs[i];
        char tgt[32];
        const char *verdict = judge(f, tgt, sizeof(tgt));

        printf("%-34s %10.1f [%8.1f .. %8.1f] %10.1f %-22s %6.2fx %-8s %s\n",
               f->label, f->subject->median, f->subject->lo, f->subject->hi,
               f->base->median, f->base->label, figure_ratio(f), tgt, verdict);
    }
    printf("(ns per operation; ratio = figure/baseline, or baseline/figure "
           "for the tag speedups)\n\n");
    for (size_t i = 0; i < n; i++) {
        char tgt[32];
        const char *verdict = judge(&figs[i], tgt, sizeof(tgt));

        printf("RESULT %s=%.1f %s ratio=%.3f target=%s %s\n", figs[i].name,
               figs[i].subject->median, figs[i].unit, figure_ratio(&figs[i]),
               tgt, verdict);
    }
}
