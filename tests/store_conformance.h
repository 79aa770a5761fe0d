/* SPDX-License-Identifier: MIT */
/*
 * Store conformance suite: the semantics every resdeliv_store must have,
 * run against each store (memory, redis, and any future one) so that they
 * can never drift apart.
 *
 * A suite calls conformance_tcase() with a factory that makes a fresh store
 * for each test; tests use a unique app id each, so a shared server is fine.
 */
#ifndef RESDELIV_STORE_CONFORMANCE_H
#define RESDELIV_STORE_CONFORMANCE_H

#include <check.h>
#include <resdeliv/resdeliv.h>

/* Make a new store; return 0 or a negative error. */
typedef int (*conformance_make_fn)(resdeliv_store **out, void *arg);

/* Which retention the store enforces exactly (memory) or approximately
 * (Redis MAXLEN ~). */
#define CONFORMANCE_EXACT_TRIM 1u
/* The store keeps entry flags (struct resdeliv_append_item.flags). */
#define CONFORMANCE_KEEPS_FLAGS 2u

/* A TCase named `name` holding every conformance test, each calling
 * `make(&store, arg)` for a fresh store and freeing it at the end. */
TCase *conformance_tcase(const char *name, conformance_make_fn make,
                         void *arg, unsigned flags);

#endif /* RESDELIV_STORE_CONFORMANCE_H */
