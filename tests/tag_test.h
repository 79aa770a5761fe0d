/* SPDX-License-Identifier: MIT */
/*
 * What the tagging tests (check_tag.c, check_tag_random.c) tag with: the
 * default field names and one id.
 */
#ifndef RESDELIV_TEST_TAG_TEST_H
#define RESDELIV_TEST_TAG_TEST_H

#include <resdeliv/resdeliv.h>

#define IDF "_replay_id"
#define EPF "_replay_epoch"

static const struct resdeliv_id test_id = {1700000000123ull, 7};

#endif /* RESDELIV_TEST_TAG_TEST_H */
