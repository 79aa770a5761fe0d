/* SPDX-License-Identifier: MIT */
/*
 * Helpers the log handle's Check programs share (check_log*.c): messages
 * from C strings, a memory store and a log over it that must open, the
 * counters, a store wrapper counting append calls, and the check of a
 * tagged publish result.
 */
#ifndef RESDELIV_TEST_LOG_FIXTURE_H
#define RESDELIV_TEST_LOG_FIXTURE_H

#include <check.h>
#include <resdeliv/resdeliv.h>

/* A message of NUL-terminated strings; NULL gives a NULL, 0-length one. */
struct resdeliv_message msg(const char *channel, const char *event,
                            const char *data);
/* A new memory store; it must succeed. */
resdeliv_store *memory_store(void);
/* The log of `app` over `st` with `cfg` (NULL: defaults); it must open. */
resdeliv_log *open_log(const struct resdeliv_config *cfg, resdeliv_store *st,
                       const char *app);
struct resdeliv_counters counters_of(const resdeliv_log *log);

/* A store wrapper counting append calls, forwarding to a real store. */
struct counting {
    resdeliv_store *inner;
    int appends;
    size_t last_n;
};

/* A store with `flags` over `inner` that counts append calls; `*out` is
 * its state, freed with the store. */
resdeliv_store *counting_store(resdeliv_store *inner, uint32_t flags,
                               struct counting **out);

/* Assert `res` is a logged, tagged success whose payload is a JSON object
 * carrying the id and epoch under these names, and `member`. */
void check_tagged(const struct resdeliv_publish_result *res,
                  const char *id_field, const char *epoch_field,
                  const char *member);

#endif /* RESDELIV_TEST_LOG_FIXTURE_H */
