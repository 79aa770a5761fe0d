/* SPDX-License-Identifier: MIT */
/*
 * Shared parts of the Redis store benchmark: bench_redis.c measures the
 * library against redis-benchmark and a plain XRANGE loop and owns the
 * measuring harness; bench_redis_raw.c holds the hiredis-only loops (the
 * replay baseline and the analysis probes that explain the figures).
 */
#ifndef RESDELIV_BENCH_REDIS_H
#define RESDELIV_BENCH_REDIS_H

#include "redis_internal.h"
#include "redis_server.h"

#include <hiredis/hiredis.h>

#include <stdint.h>
#include <time.h>

#define DEFAULT_REPS 7
#define QUICK_REPS 3
#define MAX_REPS 99
#define PAYLOAD_SIZE 200
#define RETENTION "1000"
#define BATCH 64
#define REPLAY_ENTRIES 1000
#define REPLAY_PAGE 100
#define MAX_ARGS (6 + 2 * BATCH)

static const char EVENT[] = "order.updated";
static const char APP_ID[] = "bench-app";
static const char CH_SINGLE[] = "bench-single";
static const char CH_BATCH[] = "bench-batch";
static const char CH_REPLAY[] = "bench-replay";
static const char CH_PROBE[] = "bench-probe";
static const char RB_KEY[] = "bench:{rb}";

struct opts {
    int quick;
    int reps;
    uint64_t n_single;  /* messages per repetition, unpipelined */
    uint64_t n_batch;   /* messages per repetition, batches of 64 */
    uint64_t replays;   /* replays of 1000 entries per repetition */
    uint64_t n_probe1;  /* analysis, unpipelined */
    uint64_t n_probe64; /* analysis, 64 per round trip */
};

/* One repetition: messages (or entries) per second, and the server's and
 * this client's CPU time per message in microseconds. */
struct sample {
    double rate;
    double srv_us;
    double cli_us;
};

/* The repetitions of one measured loop, their medians and the server's
 * command statistics seen in its warm-up. */
struct series {
    const char *label;
    struct sample s[MAX_REPS];
    int n;
    struct sample med;
    char cmdstat[256];
};

/* Everything a run uses; probes own the members after `replay_epoch`. */
struct bench {
    struct opts o;
    struct redis_server srv;
    resdeliv_store *store;
    resdeliv_log *log;
    redisContext *raw;   /* baselines and probes */
    redisContext *admin; /* INFO, CONFIG RESETSTAT */
    char payload[PAYLOAD_SIZE + 1];
    char replay_key[128];
    char replay_epoch[140];
    char sha_ret[48], sha_xadd[48], sha_lean[48], sha_store[48];
    struct resdeliv__redis_keys store_keys; /* of the store_script probe */
    struct resdeliv__redis_argv store_argv;
    struct resdeliv_append_item store_item;
    char new_epoch[RESDELIV_EPOCH_BUFSIZE];
    struct resdeliv_message msgs[BATCH];
    struct resdeliv_publish_result res[BATCH];
};

typedef int (*run_fn)(struct bench *b, const void *arg, struct sample *s);

struct job {
    run_fn fn;
    const void *arg;
    struct series *r;
    uint64_t msgs;
};

/* Keeps a value alive as far as the optimizer can tell. */
static inline void keep(const void *p)
{
    __asm__ __volatile__("" : : "g"(p) : "memory");
}

static inline uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static inline uint64_t cpu_ns(void)
{
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* Prints what failed and returns -1. */
int bench_fail(const char *what, const char *detail);
/* Fills rate and client CPU of a run of `msgs` started at `t0`/`c0`. */
void bench_set_rate(struct sample *s, uint64_t msgs, uint64_t t0, uint64_t c0);
/* A warm-up of each job, then the repetitions round-robin. */
int bench_run_jobs(struct bench *b, struct job *jobs, size_t n);
/* Single publishes and batches of 64 through the library. */
int bench_lib_single(struct bench *b, const void *arg, struct sample *s);
int bench_lib_batch(struct bench *b, const void *arg, struct sample *s);
/* Replays of the 1000-entry log: through the cursor, and with hiredis
 * (`arg` NULL: the plain XRANGE loop). */
int bench_lib_replay(struct bench *b, const void *arg, struct sample *s);
int bench_raw_replay(struct bench *b, const void *arg, struct sample *s);
/* The analysis sections. */
int bench_probes(struct bench *b);
int bench_replay_shapes(struct bench *b);

#endif /* RESDELIV_BENCH_REDIS_H */
