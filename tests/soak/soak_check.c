/* SPDX-License-Identifier: MIT */
/*
 * The soak's checker. Per client it keeps a cursor: the seq of the last
 * message delivered. A delivery at or below the cursor is a duplicate (or
 * out of order); one above cursor + 1 skips seqs, which is fine when a gap
 * notice arrived since the last delivery, and otherwise is recorded as a
 * hole. Holes are settled at the end, once every publish is answered: a
 * seq whose publish failed was never owed; any other is a loss without
 * notice, counted apart when the seq went out untagged (the store was
 * down, so no log holds it).
 *
 * A client's first subscription has no cursor yet, only the log position
 * in subscription_succeeded: it is owed the messages with ids above that
 * position. Seqs are mapped to ids through what the clients saw, so that
 * hole is settled at the end too.
 *
 * A message that went out live untagged while the store failed to answer,
 * though it had written the entry (Redis killed after the write, before
 * the reply), is in the log after all: a client that got it untagged (its
 * mark stays before it) gets it again by replay, tagged. The untagged copy
 * carries no id, so nothing can drop either copy; that is at-least-once,
 * which the design allows. A copy again where one of the two was untagged
 * is counted apart and passes; two tagged copies are a duplicate.
 */
#include "soak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORTED 20

/* The wire names of the gap reasons, RESDELIV_GAP_TRIMMED (1) onwards. */
static const char *const reasons[SOAK_GAP_REASONS + 1] = {
    "trimmed",    "missing", "epoch_changed", "ahead", "store_unavailable",
    "invalid_id", "cap",     "unlogged",      NULL};

int soak_check_init(struct soak *s)
{
    s->holes_cap = 256;
    s->holes = calloc(s->holes_cap, sizeof(*s->holes));
    return s->holes != NULL ? 0 : -1;
}

void soak_check_free(struct soak *s)
{
    for (int i = 0; s->clients != NULL && i < s->o.clients; i++) {
        free(s->clients[i].got);
        s->clients[i].got = NULL;
        s->clients[i].got_cap = 0;
    }
    free(s->holes);
    s->holes = NULL;
}

uint16_t soak_check_epoch(struct soak_channel *ch, const char *epoch)
{
    if (epoch == NULL || epoch[0] == '\0') {
        return 0;
    }
    for (int i = 0; i < ch->n_epochs; i++) {
        if (strcmp(ch->epochs[i], epoch) == 0) {
            return (uint16_t)(i + 1);
        }
    }
    if (ch->n_epochs == SOAK_MAX_EPOCHS) {
        return 0;
    }
    snprintf(ch->epochs[ch->n_epochs], SOAK_EPOCH_SIZE, "%s", epoch);
    return (uint16_t)(++ch->n_epochs);
}

static void add_hole(struct soak *s, const struct soak_hole *h)
{
    if (s->n_holes == s->holes_cap) {
        size_t cap = s->holes_cap * 2;
        struct soak_hole *p = realloc(s->holes, cap * sizeof(*p));
        if (p == NULL) {
            /* Cannot record it: count every seq as lost. */
            s->c.lost += h->to - h->from + 1;
            return;
        }
        s->holes = p;
        s->holes_cap = cap;
    }
    s->holes[s->n_holes++] = *h;
}

void soak_check_subscribed(struct soak *s, struct soak_client *cl,
                           const struct resdeliv_id *pos, const char *epoch)
{
    if (cl->cursor_known || cl->anchored || cl->has_mark) {
        return;
    }
    cl->anchored = 1;
    cl->anchor = *pos;
    cl->anchor_epoch = soak_check_epoch(&s->chans[cl->chan], epoch);
}

void soak_check_gap(struct soak *s, struct soak_client *cl, const char *reason)
{
    cl->gap_seen = 1;
    s->c.gaps++;
    for (int i = 0; reasons[i] != NULL; i++) {
        if (strcmp(reasons[i], reason) == 0) {
            s->c.gap_reasons[i]++;
            return;
        }
    }
    s->c.gap_reasons[SOAK_GAP_REASONS]++;
}

/* Seqs from..to were skipped before a delivery (or the end). */
static void skipped(struct soak *s, struct soak_client *cl, uint64_t from,
                    uint64_t to)
{
    struct soak_hole h = {cl->index, from, to, 0, {0, 0}, 0};

    if (from > to) {
        return;
    }
    if (cl->anchored) {
        h.anchored = 1;
        h.after = cl->anchor;
        h.epoch = cl->anchor_epoch;
    }
    if (cl->gap_seen) {
        s->c.gap_covered += h.anchored ? 0 : to - from + 1;
        return;
    }
    add_hole(s, &h);
}

static void sighting(struct soak *s, struct soak_channel *ch, uint64_t seq,
                     const struct resdeliv_id *id, const char *epoch)
{
    struct soak_seq *q = &ch->seqs[seq];
    uint16_t e;

    if (id == NULL) {
        q->seen |= SEEN_UNTAGGED;
        return;
    }
    e = soak_check_epoch(ch, epoch);
    if (!(q->seen & SEEN_TAGGED)) {
        q->seen |= SEEN_TAGGED;
        q->id = *id;
        q->epoch = e;
    } else if (q->epoch != e || resdeliv_id_cmp(&q->id, id) != 0) {
        if (s->c.id_mismatch++ < MAX_REPORTED) {
            fprintf(stderr, "soak: %s seq %llu seen with two positions\n",
                    ch->name, (unsigned long long)seq);
        }
    }
}

/* Record that `cl` got a copy of `seq` (SEEN_* in `kind`). @return the
 * bits of the copies it had before, or -1 when they cannot be kept. */
static int got_copy(struct soak_client *cl, uint64_t seq, uint8_t kind)
{
    int before;

    if (seq >= cl->got_cap) {
        uint64_t cap = cl->got_cap ? cl->got_cap : 1024;
        uint8_t *p;
        while (cap <= seq) {
            cap *= 2;
        }
        p = realloc(cl->got, cap);
        if (p == NULL) {
            return -1;
        }
        memset(p + cl->got_cap, 0, cap - cl->got_cap);
        cl->got = p;
        cl->got_cap = cap;
    }
    before = cl->got[seq];
    cl->got[seq] |= kind;
    return before;
}

/* A delivery at or below the cursor. */
static void again(struct soak *s, struct soak_client *cl, uint64_t seq,
                  int before, uint8_t kind)
{
    const struct soak_channel *ch = &s->chans[cl->chan];

    /* One tagged and one untagged copy: at-least-once. A second copy of
     * the same kind is not: a tagged one the seam should have dropped, an
     * untagged one the server broadcast twice. */
    if (before > 0 && !(before & kind)) {
        s->c.untagged_again++;
        return;
    }
    if (s->c.duplicates++ < MAX_REPORTED) {
        fprintf(stderr, "soak: client %d %s: seq %llu (%s) after %llu (%s)\n",
                cl->index, ch->name, (unsigned long long)seq,
                kind == SEEN_TAGGED ? "tagged" : "untagged",
                (unsigned long long)cl->cursor,
                before > 0    ? "a second copy of that kind"
                : before == 0 ? "out of order"
                              : "duplicate or out of order");
    }
}

void soak_check_message(struct soak *s, struct soak_client *cl, uint64_t seq,
                        const struct resdeliv_id *id, const char *epoch)
{
    struct soak_channel *ch = &s->chans[cl->chan];
    uint8_t kind = id != NULL ? SEEN_TAGGED : SEEN_UNTAGGED;
    int before = got_copy(cl, seq, kind);

    s->c.checked++;
    s->c.untagged += id == NULL;
    sighting(s, ch, seq, id, epoch);
    if (cl->cursor_known && seq <= cl->cursor) {
        again(s, cl, seq, before, kind);
        return;
    }
    if (cl->cursor_known) {
        skipped(s, cl, cl->cursor + 1, seq - 1);
    } else if (cl->anchored) {
        skipped(s, cl, 1, seq - 1);
    }
    cl->anchored = 0;
    cl->cursor_known = 1;
    cl->cursor = seq;
    cl->gap_seen = 0;
}

int soak_check_caught_up(const struct soak *s, const struct soak_client *cl)
{
    uint64_t last = s->chans[cl->chan].last_acked;

    return last == 0 || (cl->cursor_known && cl->cursor >= last);
}

/* The first seq an anchored client is owed, or 0 when the seqs seen do
 * not tell. */
static uint64_t first_owed(const struct soak_channel *ch,
                           const struct soak_hole *h)
{
    uint64_t last_at_or_below = 0, first_in_epoch = 0;

    if (h->epoch == 0) {
        return 0;
    }
    for (uint64_t q = 1; q <= h->to; q++) {
        const struct soak_seq *sq = &ch->seqs[q];
        if (!(sq->seen & SEEN_TAGGED) || sq->epoch != h->epoch) {
            continue;
        }
        if (first_in_epoch == 0) {
            first_in_epoch = q;
        }
        if (resdeliv_id_cmp(&sq->id, &h->after) <= 0) {
            last_at_or_below = q;
        }
    }
    if (last_at_or_below != 0) {
        return last_at_or_below + 1;
    }
    return resdeliv_id_is_zero(&h->after) ? first_in_epoch : 0;
}

static void settle_hole(struct soak *s, const struct soak_hole *h)
{
    const struct soak_client *cl = &s->clients[h->client];
    const struct soak_channel *ch = &s->chans[cl->chan];
    uint64_t from = h->from;

    if (h->anchored) {
        from = first_owed(ch, h);
        if (from == 0) {
            return;
        }
    }
    for (uint64_t q = from; q <= h->to; q++) {
        const struct soak_seq *sq = &ch->seqs[q];
        if (sq->ack != ACK_OK) {
            s->c.unacked_skipped++;
            continue;
        }
        if (sq->seen & SEEN_UNTAGGED) {
            s->c.lost_untagged++;
        } else {
            s->c.lost++;
        }
        if (s->c.lost + s->c.lost_untagged <= MAX_REPORTED) {
            fprintf(stderr,
                    "soak: client %d %s: seq %llu lost without a gap "
                    "notice (%s, cursor before it %llu%s)\n",
                    cl->index, ch->name, (unsigned long long)q,
                    sq->seen & SEEN_UNTAGGED ? "sent untagged" : "tagged",
                    (unsigned long long)(h->from - 1),
                    h->anchored ? ", from a subscription position" : "");
        }
    }
}

void soak_check_finish(struct soak *s)
{
    for (int i = 0; i < s->o.clients; i++) {
        struct soak_client *cl = &s->clients[i];
        uint64_t last = s->chans[cl->chan].next_seq - 1;
        if (!soak_check_caught_up(s, cl)) {
            s->c.not_caught_up++;
        }
        if (cl->cursor_known) {
            skipped(s, cl, cl->cursor + 1, last);
        } else if (cl->anchored) {
            skipped(s, cl, 1, last);
        }
    }
    for (size_t i = 0; i < s->n_holes; i++) {
        settle_hole(s, &s->holes[i]);
    }
}

void soak_check_report(const struct soak *s, const char *label)
{
    const struct soak_counts *c = &s->c;

    printf("soak %s: clients %d channels %d duration %.0f s rate %.0f/s\n",
           label, s->o.clients, s->o.channels, s->o.duration, s->o.rate);
    printf("  published %llu (requests %llu, failed publishes %llu)\n",
           (unsigned long long)c->published, (unsigned long long)c->requests,
           (unsigned long long)c->publish_failed);
    printf("  messages checked %llu (untagged %llu)\n",
           (unsigned long long)c->checked, (unsigned long long)c->untagged);
    printf("  connects %llu subscriptions %llu connect failures %llu\n",
           (unsigned long long)c->connects,
           (unsigned long long)c->subscriptions,
           (unsigned long long)c->connect_failures);
    printf("  drops: hard %llu half-open %llu slow reads %llu, closed by "
           "server %llu\n",
           (unsigned long long)c->drops_hard,
           (unsigned long long)c->drops_half_open,
           (unsigned long long)c->slow_periods,
           (unsigned long long)c->server_closes);
    printf("  gap notices %llu:", (unsigned long long)c->gaps);
    for (int i = 0; reasons[i] != NULL; i++) {
        if (c->gap_reasons[i] > 0) {
            printf(" %s %llu", reasons[i],
                   (unsigned long long)c->gap_reasons[i]);
        }
    }
    printf("%s\n",
           c->gap_reasons[SOAK_GAP_REASONS] ? " (other reasons too)" : "");
    printf("  seqs skipped under a gap notice %llu, skipped unacknowledged "
           "%llu\n",
           (unsigned long long)c->gap_covered,
           (unsigned long long)c->unacked_skipped);
    printf("  faults: redis kills %llu, server kills %llu\n",
           (unsigned long long)c->faults_redis,
           (unsigned long long)c->faults_server);
    printf("  pusher errors %llu, unexpected frames %llu, not caught up %llu, "
           "server crashes %llu\n",
           (unsigned long long)c->pusher_errors,
           (unsigned long long)c->protocol_errors,
           (unsigned long long)c->not_caught_up,
           (unsigned long long)c->server_crashes);
    printf("  duplicates %llu, id mismatches %llu, untagged re-deliveries "
           "%llu\n",
           (unsigned long long)c->duplicates,
           (unsigned long long)c->id_mismatch,
           (unsigned long long)c->untagged_again);
    printf("  losses unannounced %llu (tagged), %llu (sent untagged)\n",
           (unsigned long long)c->lost, (unsigned long long)c->lost_untagged);
    for (int i = 0; i < s->n_servers; i++) {
        printf("  server %d peak RSS (VmHWM) %ld KiB%s\n", i,
               s->servers[i].hwm_kb,
               s->servers[i].killed ? " (at its kill)" : "");
    }
}
