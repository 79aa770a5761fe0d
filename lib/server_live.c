/* SPDX-License-Identifier: MIT */
/*
 * The subscription seam, live side: publish and deliver. A live frame is
 * built once and handed to the host's broadcast(), which reaches the
 * joined connections, and a copy goes into the hold queue of every
 * subscription of that channel that is not live yet. A full queue closes
 * its connection with Pusher error 4100 rather than dropping a message.
 * Entries handed over by a bus are tagged here, with the log's field
 * names, and then take the same path.
 */
#include "log_internal.h"
#include "server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- live delivery ----------------------------------------------------- */

static void overflow(resdeliv_server *srv, struct resdeliv__sub *s)
{
    char msg[128];

    snprintf(msg, sizeof(msg),
             "resdeliv: replay hold queue full (%llu messages); reconnect "
             "with last_event_id",
             (unsigned long long)srv->opts.max_held);
    srv->stats.overflows++;
    resdeliv__server_conn_fail(srv, s->conn, RESDELIV_PUSHER_ERR_OVER_CAPACITY,
                               msg);
}

static int hold(resdeliv_server *srv, struct resdeliv__sub *s,
                const struct resdeliv_id *id, const char *frame, size_t len)
{
    struct resdeliv__held *h = malloc(sizeof(*h) + len + 1);

    if (h == NULL) {
        return RESDELIV_ENOMEM;
    }
    h->next = NULL;
    h->id = *id;
    h->fresh = 0;
    h->len = len;
    memcpy(h->frame, frame, len);
    h->frame[len] = '\0';
    if (s->held_tail != NULL) {
        s->held_tail->next = h;
    } else {
        s->held_head = h;
    }
    s->held_tail = h;
    s->nheld++;
    srv->stats.held++;
    return 0;
}

/* Broadcast one frame, then hold a copy for every subscription of the
 * channel that is not live yet. Those whose queue is full are closed
 * after the pass, which makes no transport call. */
static void deliver_frame(resdeliv_server *srv, const char *channel,
                          size_t channel_len, const struct resdeliv_id *id,
                          const char *frame, size_t len, void *except)
{
    struct resdeliv__sub *full = NULL;
    struct resdeliv__chan *ch;

    srv->tp.broadcast(srv->tp.host, channel, channel_len, frame, len, except);
    ch = srv->freeing ? NULL
                      : resdeliv__server_chan_find(srv, channel, channel_len);
    for (struct resdeliv__sub *s = ch != NULL ? ch->head : NULL; s != NULL;
         s = s->hnext) {
        if (except != NULL && s->conn->key == except) {
            continue;
        }
        if (s->nheld >= srv->opts.max_held || hold(srv, s, id, frame, len)) {
            resdeliv__sub_ref(s);
            s->ovf_next = full;
            full = s;
        }
    }
    while (full != NULL) {
        struct resdeliv__sub *s = full;
        full = s->ovf_next;
        s->ovf_next = NULL;
        if (!s->dead && !srv->freeing) {
            overflow(srv, s);
        }
        resdeliv__sub_unref(s);
    }
}

static void deliver_one(resdeliv_server *srv, const struct resdeliv_message *m,
                        const struct resdeliv_publish_result *r, void *except)
{
    static const struct resdeliv_id zero = {0, 0};
    char *frame = NULL;
    size_t len = 0;

    if (resdeliv_pusher_build_event(m->event, m->event_len, m->channel,
                                    m->channel_len, r->payload, r->payload_len,
                                    &frame, &len) < 0) {
        resdeliv__server_say(srv, RESDELIV_LOG_ERROR,
                             "resdeliv: out of memory building a frame for "
                             "'%.*s'",
                             (int)m->channel_len, m->channel);
        return;
    }
    deliver_frame(srv, m->channel, m->channel_len,
                  r->logged ? &r->position.id : &zero, frame, len, except);
    resdeliv_free(frame);
}

static void on_published(void *arg, int status,
                         struct resdeliv_publish_result *results, size_t n)
{
    struct resdeliv__pub *op = arg;
    resdeliv_server *srv = op->srv;

    if (srv != NULL) {
        if (op->prev != NULL) {
            op->prev->next = op->next;
        } else {
            srv->pubs = op->next;
        }
        if (op->next != NULL) {
            op->next->prev = op->prev;
        }
        resdeliv__server_enter(srv);
        /* With a bus, every node delivers what the bus hands over, in log
         * order; delivering here too would send it twice. */
        for (size_t i = 0; status == 0 && i < n && i < op->n &&
                           !srv->opts.live_from_bus;
             i++) {
            if (srv->freeing) {
                break;
            }
            if (results[i].status == 0 && results[i].payload != NULL) {
                deliver_one(srv, &op->names[i], &results[i], op->except);
            }
        }
    }
    if (op->cb != NULL) {
        op->cb(op->arg, status, results, n);
    }
    if (srv != NULL) {
        resdeliv__server_leave(srv);
    }
    free(op);
}

/* One block: the op, the message names, then their bytes. */
static struct resdeliv__pub *pub_new(const struct resdeliv_message *msgs,
                                     size_t n)
{
    size_t head = sizeof(struct resdeliv__pub) + n * sizeof(msgs[0]);
    size_t total = head;
    struct resdeliv__pub *op;
    char *p;

    for (size_t i = 0; i < n; i++) {
        total += msgs[i].channel_len + msgs[i].event_len + 2;
    }
    op = calloc(1, total);
    if (op == NULL) {
        return NULL;
    }
    op->n = n;
    p = (char *)op + head;
    for (size_t i = 0; i < n; i++) {
        struct resdeliv_message *m = &op->names[i];
        memcpy(p, msgs[i].channel, msgs[i].channel_len);
        m->channel = p;
        m->channel_len = msgs[i].channel_len;
        p += m->channel_len + 1;
        memcpy(p, msgs[i].event, msgs[i].event_len);
        m->event = p;
        m->event_len = msgs[i].event_len;
        p += m->event_len + 1;
    }
    return op;
}

int resdeliv_server_publish(resdeliv_server *srv,
                            const struct resdeliv_message *msgs, size_t n,
                            void *except, resdeliv_publish_cb cb, void *arg)
{
    struct resdeliv__pub *op;
    int rc;

    if (srv == NULL || (n > 0 && msgs == NULL) ||
        n > SIZE_MAX / 4 / sizeof(*msgs)) {
        return RESDELIV_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].channel == NULL || msgs[i].event == NULL ||
            msgs[i].channel_len > RESDELIV_MAX_CHANNEL_LEN ||
            msgs[i].event_len > RESDELIV_PUSHER_MAX_FRAME) {
            return RESDELIV_EINVAL;
        }
    }
    if (srv->freeing) {
        return RESDELIV_ECLOSED;
    }
    op = pub_new(msgs, n);
    if (op == NULL) {
        return RESDELIV_ENOMEM;
    }
    op->srv = srv;
    op->cb = cb;
    op->arg = arg;
    op->except = except;
    op->next = srv->pubs;
    if (srv->pubs != NULL) {
        srv->pubs->prev = op;
    }
    srv->pubs = op;
    resdeliv__server_enter(srv);
    rc = resdeliv_log_publish_async(srv->log, msgs, n, on_published, op);
    if (rc < 0) {
        srv->pubs = op->next;
        if (op->next != NULL) {
            op->next->prev = NULL;
        }
        free(op);
    }
    resdeliv__server_leave(srv);
    return rc;
}

int resdeliv_server_deliver(resdeliv_server *srv, const char *channel,
                            const struct resdeliv_id *id, const char *event,
                            const char *payload, size_t payload_len,
                            void *except)
{
    static const struct resdeliv_id zero = {0, 0};
    char *frame = NULL;
    size_t len = 0;
    size_t clen = 0;
    int rc;

    if (srv == NULL || !resdeliv__server_channel_ok(channel, &clen) ||
        event == NULL || (payload == NULL && payload_len > 0)) {
        return RESDELIV_EINVAL;
    }
    if (srv->freeing) {
        return RESDELIV_ECLOSED;
    }
    rc = resdeliv_pusher_build_event(event, strlen(event), channel, clen,
                                     payload, payload_len, &frame, &len);
    if (rc < 0) {
        return rc;
    }
    resdeliv__server_enter(srv);
    deliver_frame(srv, channel, clen, id != NULL ? id : &zero, frame, len,
                  except);
    resdeliv__server_leave(srv);
    resdeliv_free(frame);
    return 0;
}

/* Tag a stored entry as the log would: a known object gets the fields
 * spliced before its last '}', anything else goes through a scan. */
static size_t tag_entry(const resdeliv_log *log,
                        const struct resdeliv_position *pos, uint32_t flags,
                        const char *data, size_t data_len, char *buf,
                        size_t size)
{
    uint32_t tagged = 0;
    long w = -1;

    if ((flags & RESDELIV_ENTRY_OBJECT) && data_len > 0 &&
        (pos->epoch[0] == '\0' ||
         resdeliv_epoch_check(pos->epoch, strlen(pos->epoch)) == 0)) {
        w = resdeliv__tag_insert(data, data_len, &log->fields, &pos->id,
                                 pos->epoch, buf, size);
    }
    if (w >= 0) {
        return (size_t)w;
    }
    return resdeliv__log_tag_into(log, data, data_len, NULL, &pos->id,
                                  pos->epoch, buf, size, &tagged);
}

int resdeliv_server_deliver_entry(resdeliv_server *srv, const char *channel,
                                  size_t channel_len,
                                  const struct resdeliv_position *pos,
                                  uint32_t flags, const char *event,
                                  size_t event_len, const char *data,
                                  size_t data_len)
{
    char *payload;
    char *frame = NULL;
    size_t size, plen, len = 0;
    int rc;

    if (srv == NULL || channel == NULL || channel_len == 0 ||
        channel_len > RESDELIV_MAX_CHANNEL_LEN ||
        memchr(channel, '\0', channel_len) != NULL || pos == NULL ||
        memchr(pos->epoch, '\0', sizeof(pos->epoch)) == NULL ||
        (event == NULL && event_len > 0) || (data == NULL && data_len > 0) ||
        event_len > RESDELIV_PUSHER_MAX_FRAME ||
        data_len > RESDELIV_PUSHER_MAX_FRAME) {
        return RESDELIV_EINVAL;
    }
    if (srv->freeing) {
        return RESDELIV_ECLOSED;
    }
    size = resdeliv__log_tag_bound(srv->log, data_len);
    payload = malloc(size);
    if (payload == NULL) {
        return RESDELIV_ENOMEM;
    }
    plen = tag_entry(srv->log, pos, flags, data_len ? data : "", data_len,
                     payload, size);
    rc = resdeliv_pusher_build_event(event_len ? event : "", event_len,
                                     channel, channel_len, payload, plen,
                                     &frame, &len);
    free(payload);
    if (rc < 0) {
        return rc;
    }
    resdeliv__server_enter(srv);
    deliver_frame(srv, channel, channel_len, &pos->id, frame, len, NULL);
    resdeliv__server_leave(srv);
    resdeliv_free(frame);
    return 0;
}

int resdeliv_server_announce_gap(resdeliv_server *srv, const char *channel,
                                 const struct resdeliv_replay_status *status)
{
    static const struct resdeliv_id zero = {0, 0};
    char *frame = NULL;
    size_t clen = 0, len = 0;
    int rc;

    if (srv == NULL || status == NULL ||
        !resdeliv__server_channel_ok(channel, &clen)) {
        return RESDELIV_EINVAL;
    }
    if (srv->freeing) {
        return RESDELIV_ECLOSED;
    }
    if (!resdeliv_log_config(srv->log)->gap_notice) {
        return 0;
    }
    rc = resdeliv_pusher_build_gap(channel, status, &frame, &len);
    if (rc < 0) {
        return rc;
    }
    /* Live subscribers get it now; replaying ones hold it in line with
     * the live messages around it (an id of zero is never a duplicate). */
    srv->stats.gap_notices++;
    resdeliv__server_enter(srv);
    deliver_frame(srv, channel, clen, &zero, frame, len, NULL);
    resdeliv__server_leave(srv);
    resdeliv_free(frame);
    return 0;
}
