/* SPDX-License-Identifier: MIT */
/*
 * The libwebsockets shim's channel sets: a hash table of the channels that
 * have members, each with the list of its connections, and each
 * connection's list of its channels, so that join, leave and broadcast
 * (resdeliv_lws.c) and a connection's close are each one walk. A channel
 * exists while it has a member.
 */
#include "resdeliv_lws_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_name(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    }
    return h;
}

static struct rlws_channel **bucket_of(resdeliv_lws *rl, uint64_t h)
{
    return &rl->buckets[h & (rl->nbuckets - 1)];
}

struct rlws_channel *resdeliv__lws_channel_find(resdeliv_lws *rl,
                                                const char *name, size_t len)
{
    uint64_t h = hash_name(name, len);
    struct rlws_channel *ch = *bucket_of(rl, h);

    for (; ch != NULL; ch = ch->hnext) {
        if (ch->hash == h && ch->name_len == len &&
            memcmp(ch->name, name, len) == 0) {
            return ch;
        }
    }
    return NULL;
}

/* Double the table when it averages more than one channel a bucket; a
 * failed allocation only leaves the chains longer. */
static void maybe_grow(resdeliv_lws *rl)
{
    size_t n = rl->nbuckets * 2;
    struct rlws_channel **b;

    if (rl->stats.channels <= rl->nbuckets) {
        return;
    }
    b = calloc(n, sizeof(*b));
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < rl->nbuckets; i++) {
        struct rlws_channel *ch = rl->buckets[i];
        while (ch != NULL) {
            struct rlws_channel *next = ch->hnext;
            ch->hnext = b[ch->hash & (n - 1)];
            b[ch->hash & (n - 1)] = ch;
            ch = next;
        }
    }
    free(rl->buckets);
    rl->buckets = b;
    rl->nbuckets = n;
}

static struct rlws_channel *channel_get(resdeliv_lws *rl, const char *name,
                                        size_t len)
{
    struct rlws_channel *ch = resdeliv__lws_channel_find(rl, name, len);
    struct rlws_channel **b;

    if (ch != NULL) {
        return ch;
    }
    ch = calloc(1, sizeof(*ch) + len + 1);
    if (ch == NULL) {
        return NULL;
    }
    ch->hash = hash_name(name, len);
    ch->name_len = len;
    memcpy(ch->name, name, len);
    b = bucket_of(rl, ch->hash);
    ch->hnext = *b;
    *b = ch;
    rl->stats.channels++;
    maybe_grow(rl);
    return ch;
}

static void channel_drop(resdeliv_lws *rl, struct rlws_channel *ch)
{
    struct rlws_channel **p = bucket_of(rl, ch->hash);

    while (*p != ch) {
        p = &(*p)->hnext;
    }
    *p = ch->hnext;
    rl->stats.channels--;
    free(ch);
}

static void member_unlink(resdeliv_lws *rl, struct rlws_member *m)
{
    struct rlws_channel *ch = m->ch;

    if (m->prev != NULL) {
        m->prev->next = m->next;
    } else {
        ch->head = m->next;
    }
    if (m->next != NULL) {
        m->next->prev = m->prev;
    }
    if (ch->head == NULL) {
        channel_drop(rl, ch);
    }
    free(m);
}

void resdeliv__lws_leave_all(resdeliv_lws *rl, struct rlws_conn *c)
{
    while (c->members != NULL) {
        struct rlws_member *m = c->members;
        c->members = m->next_of_conn;
        member_unlink(rl, m);
    }
}

void resdeliv__lws_leave(resdeliv_lws *rl, struct rlws_conn *c,
                         const char *name, size_t len)
{
    struct rlws_member **p = &c->members;

    while (*p != NULL) {
        struct rlws_member *m = *p;
        if (m->ch->name_len == len && memcmp(m->ch->name, name, len) == 0) {
            *p = m->next_of_conn;
            member_unlink(rl, m);
            return;
        }
        p = &m->next_of_conn;
    }
}

int resdeliv__lws_join(resdeliv_lws *rl, struct rlws_conn *c, const char *name,
                       size_t len)
{
    struct rlws_channel *ch;
    struct rlws_member *m;

    for (m = c->members; m != NULL; m = m->next_of_conn) {
        if (m->ch->name_len == len && memcmp(m->ch->name, name, len) == 0) {
            return 0;
        }
    }
    m = calloc(1, sizeof(*m));
    ch = m != NULL ? channel_get(rl, name, len) : NULL;
    if (ch == NULL) {
        free(m);
        return RESDELIV_ENOMEM;
    }
    m->ch = ch;
    m->conn = c;
    m->next = ch->head;
    if (ch->head != NULL) {
        ch->head->prev = m;
    }
    ch->head = m;
    m->next_of_conn = c->members;
    c->members = m;
    return 0;
}

void resdeliv__lws_channels_free(resdeliv_lws *rl)
{
    for (size_t i = 0; i < rl->nbuckets; i++) {
        while (rl->buckets[i] != NULL) {
            struct rlws_channel *ch = rl->buckets[i];
            rl->buckets[i] = ch->hnext;
            while (ch->head != NULL) {
                struct rlws_member *m = ch->head;
                ch->head = m->next;
                free(m);
            }
            free(ch);
        }
    }
    free(rl->buckets);
    rl->buckets = NULL;
    rl->nbuckets = 0;
}
