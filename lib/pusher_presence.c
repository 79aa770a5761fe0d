/* SPDX-License-Identifier: MIT */
/*
 * Presence channel members of one Pusher server. A member is a user id,
 * not a connection: a user with three tabs open on a presence channel is
 * one member, announced with member_added when the first of its
 * connections joins and member_removed when the last one leaves, which is
 * what Pusher clients count. Members are bounded per channel (Pusher's own
 * limit is 100) because the whole member list travels in every
 * subscription_succeeded. Channels live in a hash table keyed by name and
 * are dropped with their last member.
 */
#include "pusher_server_internal.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest user id accepted (Pusher documents 128 characters). */
#define USER_ID_MAX 128

struct member {
    char *user_id;
    char *user_info; /* JSON text, or NULL when none was given */
    uint64_t conns;  /* connections of this user on the channel */
};

struct pchannel {
    struct pchannel *next;
    uint64_t hash;
    char *name;
    struct member *members;
    size_t n;
    size_t cap;
};

struct resdeliv__presence {
    struct pchannel **buckets;
    size_t nbuckets; /* a power of two */
    size_t nchannels;
};

/* FNV-1a: channel names are short and chosen by clients, and a table
 * that only ever holds this server's presence channels needs no more. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

int resdeliv__presence_new(resdeliv__presence **out)
{
    resdeliv__presence *pr;

    if (out == NULL) {
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    pr = calloc(1, sizeof(*pr));
    if (pr == NULL) {
        return RESDELIV_ENOMEM;
    }
    pr->nbuckets = 16;
    pr->buckets = calloc(pr->nbuckets, sizeof(*pr->buckets));
    if (pr->buckets == NULL) {
        free(pr);
        return RESDELIV_ENOMEM;
    }
    *out = pr;
    return 0;
}

static void channel_free(struct pchannel *ch)
{
    for (size_t i = 0; i < ch->n; i++) {
        free(ch->members[i].user_id);
        free(ch->members[i].user_info);
    }
    free(ch->members);
    free(ch->name);
    free(ch);
}

void resdeliv__presence_free(resdeliv__presence *pr)
{
    if (pr == NULL) {
        return;
    }
    for (size_t i = 0; i < pr->nbuckets; i++) {
        struct pchannel *ch = pr->buckets[i];
        while (ch != NULL) {
            struct pchannel *next = ch->next;
            channel_free(ch);
            ch = next;
        }
    }
    free(pr->buckets);
    free(pr);
}

static struct pchannel **channel_slot(resdeliv__presence *pr, const char *name,
                                      uint64_t h)
{
    struct pchannel **pp = &pr->buckets[h & (pr->nbuckets - 1)];

    while (*pp != NULL && ((*pp)->hash != h || strcmp((*pp)->name, name))) {
        pp = &(*pp)->next;
    }
    return pp;
}

/* Double the table when it averages more than one channel a bucket; a
 * failed allocation only leaves the chains longer. */
static void maybe_grow(resdeliv__presence *pr)
{
    size_t n = pr->nbuckets * 2;
    struct pchannel **b;

    if (pr->nchannels <= pr->nbuckets || n > SIZE_MAX / sizeof(*b)) {
        return;
    }
    b = calloc(n, sizeof(*b));
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < pr->nbuckets; i++) {
        struct pchannel *ch = pr->buckets[i];
        while (ch != NULL) {
            struct pchannel *next = ch->next;
            ch->next = b[ch->hash & (n - 1)];
            b[ch->hash & (n - 1)] = ch;
            ch = next;
        }
    }
    free(pr->buckets);
    pr->buckets = b;
    pr->nbuckets = n;
}

static struct pchannel *channel_find(resdeliv__presence *pr, const char *name)
{
    return *channel_slot(pr, name, name_hash(name));
}

static struct member *member_find(struct pchannel *ch, const char *user_id)
{
    for (size_t i = 0; i < ch->n; i++) {
        if (strcmp(ch->members[i].user_id, user_id) == 0) {
            return &ch->members[i];
        }
    }
    return NULL;
}

static struct pchannel *channel_add(resdeliv__presence *pr, const char *name)
{
    uint64_t h = name_hash(name);
    struct pchannel *ch = calloc(1, sizeof(*ch));

    if (ch == NULL || (ch->name = strdup(name)) == NULL) {
        free(ch);
        return NULL;
    }
    ch->hash = h;
    ch->next = pr->buckets[h & (pr->nbuckets - 1)];
    pr->buckets[h & (pr->nbuckets - 1)] = ch;
    pr->nchannels++;
    maybe_grow(pr);
    return ch;
}

static void channel_remove(resdeliv__presence *pr, struct pchannel *ch)
{
    struct pchannel **pp = channel_slot(pr, ch->name, ch->hash);

    *pp = ch->next;
    pr->nchannels--;
    channel_free(ch);
}

static int member_append(struct pchannel *ch, const char *user_id,
                         const char *user_info)
{
    struct member m = {0};

    if (ch->n == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 4;
        struct member *p = realloc(ch->members, cap * sizeof(*p));
        if (p == NULL) {
            return RESDELIV_ENOMEM;
        }
        ch->members = p;
        ch->cap = cap;
    }
    m.user_id = strdup(user_id);
    m.user_info = user_info != NULL ? strdup(user_info) : NULL;
    if (m.user_id == NULL || (user_info != NULL && m.user_info == NULL)) {
        free(m.user_id);
        free(m.user_info);
        return RESDELIV_ENOMEM;
    }
    m.conns = 1;
    ch->members[ch->n++] = m;
    return 0;
}

int resdeliv__presence_join(resdeliv__presence *pr, const char *channel,
                            const char *user_id, const char *user_info,
                            uint64_t max_members, int *first)
{
    struct pchannel *ch;
    struct member *m;
    int rc;

    if (pr == NULL || channel == NULL || user_id == NULL || first == NULL) {
        return RESDELIV_EINVAL;
    }
    *first = 0;
    ch = channel_find(pr, channel);
    m = ch != NULL ? member_find(ch, user_id) : NULL;
    if (m != NULL) {
        m->conns++;
        return 0;
    }
    if (ch != NULL && ch->n >= max_members) {
        return RESDELIV_EOVERFLOW;
    }
    if (max_members == 0) {
        return RESDELIV_EOVERFLOW;
    }
    if (ch == NULL && (ch = channel_add(pr, channel)) == NULL) {
        return RESDELIV_ENOMEM;
    }
    rc = member_append(ch, user_id, user_info);
    if (rc != 0) {
        if (ch->n == 0) {
            channel_remove(pr, ch);
        }
        return rc;
    }
    *first = 1;
    return 0;
}

int resdeliv__presence_leave(resdeliv__presence *pr, const char *channel,
                             const char *user_id, int *last)
{
    struct pchannel *ch;
    struct member *m;

    if (last != NULL) {
        *last = 0;
    }
    if (pr == NULL || channel == NULL || user_id == NULL) {
        return RESDELIV_EINVAL;
    }
    ch = channel_find(pr, channel);
    m = ch != NULL ? member_find(ch, user_id) : NULL;
    if (m == NULL) {
        return RESDELIV_ENOENT;
    }
    if (--m->conns > 0) {
        return 0;
    }
    free(m->user_id);
    free(m->user_info);
    /* Keep join order: the ids list reads as who came first. */
    memmove(m, m + 1, (size_t)(ch->members + ch->n - (m + 1)) * sizeof(*m));
    ch->n--;
    if (ch->n == 0) {
        channel_remove(pr, ch);
    }
    if (last != NULL) {
        *last = 1;
    }
    return 0;
}

uint64_t resdeliv__presence_count(resdeliv__presence *pr, const char *channel)
{
    struct pchannel *ch =
        pr != NULL && channel != NULL ? channel_find(pr, channel) : NULL;

    return ch != NULL ? ch->n : 0;
}

int resdeliv__presence_data(resdeliv__presence *pr, const char *channel,
                            char **out, size_t *out_len)
{
    struct resdeliv__json_buf b = {0};
    struct pchannel *ch;
    char num[24];

    if (pr == NULL || channel == NULL || out == NULL) {
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    ch = channel_find(pr, channel);
    resdeliv__json_buf_puts(&b, "{\"presence\":{\"ids\":[");
    for (size_t i = 0; ch != NULL && i < ch->n; i++) {
        resdeliv__json_buf_puts(&b, i ? "," : "");
        resdeliv__json_buf_puts(&b, ch->members[i].user_id);
    }
    resdeliv__json_buf_puts(&b, "],\"hash\":{");
    for (size_t i = 0; ch != NULL && i < ch->n; i++) {
        const struct member *m = &ch->members[i];
        resdeliv__json_buf_puts(&b, i ? "," : "");
        resdeliv__json_buf_puts(&b, m->user_id);
        resdeliv__json_buf_puts(&b, ":");
        resdeliv__json_buf_puts(&b, m->user_info ? m->user_info : "null");
    }
    snprintf(num, sizeof(num), "%zu", ch != NULL ? ch->n : 0);
    resdeliv__json_buf_puts(&b, "},\"count\":");
    resdeliv__json_buf_puts(&b, num);
    resdeliv__json_buf_puts(&b, "}}");
    return resdeliv__json_buf_finish(&b, out, out_len);
}

int resdeliv__presence_member_data(const char *user_id, const char *user_info,
                                   int added, char **out, size_t *out_len)
{
    struct resdeliv__json_buf b = {0};

    if (user_id == NULL || out == NULL) {
        return RESDELIV_EINVAL;
    }
    *out = NULL;
    resdeliv__json_buf_puts(&b, "{\"user_id\":");
    resdeliv__json_buf_puts(&b, user_id);
    if (added) {
        resdeliv__json_buf_puts(&b, ",\"user_info\":");
        resdeliv__json_buf_puts(&b, user_info ? user_info : "null");
    }
    resdeliv__json_buf_puts(&b, "}");
    return resdeliv__json_buf_finish(&b, out, out_len);
}

/* The user id as a JSON string literal: a number becomes its text, so
 * that the same user sent as 42 and as "42" is one member (Pusher clients
 * key members by the string form). */
static int user_id_literal(const cJSON *id, char **out, char *err,
                           size_t errsize)
{
    struct resdeliv__json_buf b = {0};
    char *text = NULL;
    const char *s;

    if (cJSON_IsNumber(id)) {
        text = cJSON_PrintUnformatted(id);
        if (text == NULL) {
            return RESDELIV_ENOMEM;
        }
        s = text;
    } else if (cJSON_IsString(id) && id->valuestring[0] != '\0') {
        s = id->valuestring;
    } else {
        resdeliv__errf(err, errsize,
                       "channel_data: user_id must be a "
                       "non-empty string or a number");
        return RESDELIV_EBADFRAME;
    }
    if (strlen(s) > USER_ID_MAX) {
        resdeliv__errf(err, errsize,
                       "channel_data: user_id is longer "
                       "than %d bytes",
                       USER_ID_MAX);
        free(text);
        return RESDELIV_EBADFRAME;
    }
    resdeliv__json_buf_put_str(&b, s, strlen(s));
    free(text);
    return resdeliv__json_buf_finish(&b, out, NULL);
}

int resdeliv__presence_parse(const char *channel_data, char **user_id,
                             char **user_info, char *err, size_t errsize)
{
    size_t len = channel_data != NULL ? strlen(channel_data) : 0;
    const cJSON *id, *info;
    cJSON *root;
    int rc;

    if (user_id == NULL || user_info == NULL) {
        return RESDELIV_EINVAL;
    }
    *user_id = NULL;
    *user_info = NULL;
    if (len == 0) {
        resdeliv__errf(err, errsize, "channel_data is missing");
        return RESDELIV_EBADFRAME;
    }
    rc = resdeliv__json_scan(channel_data, len, "channel_data", err, errsize);
    if (rc != 0) {
        return rc;
    }
    root = resdeliv__json_parse_whole(channel_data, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        resdeliv__errf(err, errsize, "channel_data is not a JSON object");
        return RESDELIV_EBADFRAME;
    }
    id = cJSON_GetObjectItemCaseSensitive(root, "user_id");
    info = cJSON_GetObjectItemCaseSensitive(root, "user_info");
    rc = user_id_literal(id, user_id, err, errsize);
    if (rc == 0 && info != NULL) {
        *user_info = cJSON_PrintUnformatted(info);
        if (*user_info == NULL) {
            rc = RESDELIV_ENOMEM;
        }
    }
    cJSON_Delete(root);
    if (rc != 0) {
        free(*user_id);
        *user_id = NULL;
    }
    return rc;
}
