/* SPDX-License-Identifier: MIT */
/*
 * The channel side of the Pusher server: pusher:subscribe with private and
 * presence authorization, pusher:unsubscribe, client-* events, and the
 * presence announcements (member_added, member_removed).
 *
 * Order matters in a subscribe. Authorization comes first, because the
 * seam replays whatever the log holds once it sees the subscription: a bad
 * signature gets pusher:subscription_error and no seam call at all. A
 * presence member is counted before the seam sends subscription_succeeded,
 * so that the member list it carries includes the subscriber itself, as
 * Pusher clients expect (they look themselves up in it), and the other
 * members hear member_added only once the subscription stands.
 *
 * With a presence registry (presence.h) the member list and the
 * announcements follow the merged view of every node: the local table
 * still counts this server's connections per user, and a user's first and
 * last local connection become the registry's join and leave. The first
 * local subscribe to a presence channel waits for the registry to load
 * the channel's members, then runs again.
 *
 * Client events are relayed through the host's broadcast to the other
 * joined subscribers of the channel and never touch the log: they are
 * ephemeral by Pusher's design (typing indicators, cursors), and replaying
 * them to a reconnecting client would replay stale state.
 */
#include "presence_redis_internal.h"
#include "pusher_server_internal.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest client event name relayed (Pusher's limit for event names). */
#define EVENT_NAME_MAX 200

#define KIND_PUBLIC 0
#define KIND_PRIVATE 1
#define KIND_PRESENCE 2

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* private-encrypted- channels are private channels whose payloads the
 * server cannot read; they authorize the same way. */
static int channel_kind(const char *channel)
{
    if (has_prefix(channel, "presence-")) {
        return KIND_PRESENCE;
    }
    if (has_prefix(channel, "private-")) {
        return KIND_PRIVATE;
    }
    return KIND_PUBLIC;
}

static struct resdeliv__pusher_sub *sub_find(struct resdeliv__pusher_conn *pc,
                                             const char *channel)
{
    struct resdeliv__pusher_sub *s = pc->subs;

    while (s != NULL && strcmp(s->channel, channel) != 0) {
        s = s->next;
    }
    return s;
}

static void sub_free(struct resdeliv__pusher_sub *s)
{
    free(s->channel);
    free(s->user_id);
    free(s);
}

/* pusher:subscription_error on `channel`, in the shape pusher-js itself
 * emits when its auth endpoint fails: {"type","error","status"}. */
static int send_sub_error(resdeliv_pusher_server *ps,
                          struct resdeliv__pusher_conn *pc, const char *channel,
                          const char *type, const char *message, int status)
{
    struct resdeliv__json_buf b = {0};
    char num[16], *frame = NULL;
    size_t len = 0;
    int rc;

    snprintf(num, sizeof(num), "%d", status);
    resdeliv__json_buf_puts(&b, "{\"event\":\"pusher:subscription_error\"");
    resdeliv__json_buf_puts(&b, ",\"channel\":");
    resdeliv__json_buf_put_str(&b, channel, strlen(channel));
    resdeliv__json_buf_puts(&b, ",\"data\":{\"type\":");
    resdeliv__json_buf_put_str(&b, type, strlen(type));
    resdeliv__json_buf_puts(&b, ",\"error\":");
    resdeliv__json_buf_put_str(&b, message, strlen(message));
    resdeliv__json_buf_puts(&b, ",\"status\":");
    resdeliv__json_buf_puts(&b, num);
    resdeliv__json_buf_puts(&b, "}}");
    rc = resdeliv__json_buf_finish(&b, &frame, &len);
    if (rc == 0) {
        rc = resdeliv__pusher_send(ps, pc, frame, len);
    }
    free(frame);
    return rc;
}

/* Tell the channel's other subscribers that `user_id` came or went.
 * Through the seam rather than the host's broadcast: a subscriber still
 * replaying holds the announcement and gets it after its replay, so its
 * member list, taken when it subscribed, stays right. */
static void announce(resdeliv_pusher_server *ps, void *except,
                     const char *channel, const char *user_id,
                     const char *user_info, int added)
{
    const char *event = added ? "pusher_internal:member_added"
                              : "pusher_internal:member_removed";
    char *data = NULL;
    size_t len = 0;
    int rc =
        resdeliv__presence_member_data(user_id, user_info, added, &data, &len);

    if (rc == 0) {
        rc = resdeliv_server_deliver(ps->seam, channel, NULL, event, data, len,
                                     except);
    }
    if (rc != 0) {
        resdeliv__pusher_log(ps, RESDELIV_LOG_ERROR,
                             "pusher: could not announce a member of %s: %s",
                             channel, resdeliv_strerror(rc));
    }
    free(data);
}

/* ----------------------------------------------------------- subscribe */

static int check_auth(resdeliv_pusher_server *ps,
                      struct resdeliv__pusher_conn *pc,
                      const struct resdeliv_pusher_subscribe *s, int kind)
{
    const char *cd = kind == KIND_PRESENCE ? s->channel_data : NULL;
    int rc;

    if (kind == KIND_PRESENCE && s->channel_data == NULL) {
        send_sub_error(ps, pc, s->channel, "AuthError",
                       "channel_data is required on a presence channel", 401);
        return RESDELIV_EAUTH;
    }
    if (s->auth == NULL || s->auth[0] == '\0') {
        send_sub_error(ps, pc, s->channel, "AuthError",
                       "auth is required on private and presence channels",
                       401);
        return RESDELIV_EAUTH;
    }
    rc = resdeliv_pusher_channel_auth_check(ps->opts.app_key,
                                            ps->opts.app_secret, pc->socket_id,
                                            s->channel, cd, s->auth);
    if (rc != 0) {
        send_sub_error(ps, pc, s->channel, "AuthError",
                       "invalid signature for this socket and channel", 401);
        return RESDELIV_EAUTH;
    }
    return 0;
}

/* A presence subscriber's member record, counted before the seam call. */
struct member {
    char *user_id;
    char *user_info;
    int first;
    char *data; /* subscription_succeeded's presence object */
    size_t data_len;
};

static void member_clear(struct member *m)
{
    free(m->user_id);
    free(m->user_info);
    free(m->data);
    memset(m, 0, sizeof(*m));
}

/* One connection of `user_id` left `channel`; `*last` when it was the
 * user's last anywhere (this server, or every node with a registry). */
static void member_leave(resdeliv_pusher_server *ps, const char *channel,
                         const char *user_id, int *last)
{
    *last = 0;
    if (resdeliv__presence_leave(ps->presence, channel, user_id, last) != 0 ||
        !*last || ps->cluster == NULL) {
        return;
    }
    resdeliv__cluster_leave(ps->cluster, channel, user_id, last);
}

static int member_join(resdeliv_pusher_server *ps, const char *channel,
                       struct member *m)
{
    int rc = resdeliv__presence_join(ps->presence, channel, m->user_id,
                                     m->user_info,
                                     ps->opts.max_presence_members, &m->first);

    if (rc != 0 || ps->cluster == NULL || !m->first) {
        return rc;
    }
    rc = resdeliv__cluster_join(ps->cluster, channel, m->user_id,
                                m->user_info, ps->opts.max_presence_members,
                                &m->first);
    if (rc != 0) {
        resdeliv__presence_leave(ps->presence, channel, m->user_id, NULL);
    }
    return rc;
}

static int presence_enter(resdeliv_pusher_server *ps,
                          struct resdeliv__pusher_conn *pc,
                          const struct resdeliv_pusher_subscribe *s,
                          struct member *m)
{
    char err[200];
    int last, rc = resdeliv__presence_parse(s->channel_data, &m->user_id,
                                            &m->user_info, err, sizeof(err));

    if (rc == RESDELIV_EBADFRAME) {
        send_sub_error(ps, pc, s->channel, "InvalidChannelData", err, 400);
        return rc;
    }
    if (rc == 0) {
        rc = member_join(ps, s->channel, m);
    }
    if (rc == RESDELIV_EOVERFLOW) {
        send_sub_error(ps, pc, s->channel, "LimitReached",
                       "the presence channel has reached its member limit",
                       RESDELIV_PUSHER_ERR_OVER_CAPACITY);
        return rc;
    }
    if (rc == 0) {
        rc = ps->cluster != NULL
                 ? resdeliv__cluster_data(ps->cluster, s->channel, &m->data,
                                          &m->data_len)
                 : resdeliv__presence_data(ps->presence, s->channel, &m->data,
                                           &m->data_len);
        if (rc != 0) {
            member_leave(ps, s->channel, m->user_id, &last);
        }
    }
    return rc;
}

static int sub_add(struct resdeliv__pusher_conn *pc, const char *channel,
                   char **user_id)
{
    struct resdeliv__pusher_sub *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->channel = strdup(channel)) == NULL) {
        free(s);
        return RESDELIV_ENOMEM;
    }
    s->user_id = *user_id;
    *user_id = NULL;
    s->next = pc->subs;
    pc->subs = s;
    return 0;
}

/* After the seam call: the host may have closed the connection from
 * inside a transport call, freeing its state. */
static struct resdeliv__pusher_conn *still_open(resdeliv_pusher_server *ps,
                                                void *conn, uint64_t serial)
{
    struct resdeliv__pusher_conn *pc = resdeliv__pusher_conn_find(ps, conn);

    return pc != NULL && pc->serial == serial ? pc : NULL;
}

static int subscribe_authorized(resdeliv_pusher_server *ps,
                                struct resdeliv__pusher_conn *pc,
                                const struct resdeliv_pusher_subscribe *s,
                                struct member *m)
{
    void *conn = pc->conn;
    uint64_t serial = pc->serial;
    char msg[300];
    int rc;

    rc = resdeliv_server_subscribe(ps->seam, conn, s->channel, s->last_event_id,
                                   s->last_event_epoch, m->data, m->data_len);
    pc = still_open(ps, conn, serial);
    if (rc == 0 && pc != NULL) {
        rc = sub_add(pc, s->channel, &m->user_id);
        if (rc != 0) {
            resdeliv_server_unsubscribe(ps->seam, conn, s->channel);
        }
    } else if (rc == 0) {
        rc = RESDELIV_ECLOSED;
    }
    if (rc == 0) {
        return 0;
    }
    if (m->user_id != NULL) {
        int last;
        member_leave(ps, s->channel, m->user_id, &last);
    }
    /* The seam answers a subscription over its limit itself. */
    if (pc != NULL && rc != RESDELIV_EOVERFLOW) {
        snprintf(msg, sizeof(msg), "could not subscribe to %s: %s", s->channel,
                 resdeliv_strerror(rc));
        resdeliv__pusher_send_error(ps, pc, 0, msg);
    }
    return rc;
}

/* The registry has not loaded the channel's members yet: the frame runs
 * again once it has (resdeliv__pusher_cluster_ready). */
static int subscribe_later(resdeliv_pusher_server *ps,
                           struct resdeliv__pusher_conn *pc,
                           const struct resdeliv_pusher_subscribe *s,
                           const char *text, size_t len)
{
    char msg[300];
    int rc = resdeliv__cluster_wait(ps->cluster, s->channel, pc->conn,
                                    pc->serial, text, len);

    if (rc != 0) {
        snprintf(msg, sizeof(msg), "could not subscribe to %s: %s",
                 s->channel, resdeliv_strerror(rc));
        resdeliv__pusher_send_error(ps, pc, 0, msg);
    }
    return rc;
}

static int subscribe_parsed(resdeliv_pusher_server *ps,
                            struct resdeliv__pusher_conn *pc,
                            const struct resdeliv_pusher_subscribe *s,
                            const char *text, size_t len)
{
    int kind = channel_kind(s->channel);
    struct member m = {0};
    void *conn = pc->conn;
    char msg[300];
    int rc;

    if (sub_find(pc, s->channel) != NULL) {
        snprintf(msg, sizeof(msg), "already subscribed to %s", s->channel);
        resdeliv__pusher_send_error(ps, pc, 0, msg);
        return RESDELIV_EINVAL;
    }
    if (kind != KIND_PUBLIC) {
        rc = check_auth(ps, pc, s, kind);
        if (rc != 0) {
            return rc;
        }
    }
    if (kind == KIND_PRESENCE && ps->cluster != NULL &&
        !resdeliv__cluster_ready(ps->cluster, s->channel)) {
        return subscribe_later(ps, pc, s, text, len);
    }
    if (kind == KIND_PRESENCE) {
        rc = presence_enter(ps, pc, s, &m);
        if (rc != 0) {
            member_clear(&m);
            return rc;
        }
    }
    rc = subscribe_authorized(ps, pc, s, &m);
    if (rc == 0 && m.first) {
        /* m.user_id moved into the subscription; read it back there. */
        pc = resdeliv__pusher_conn_find(ps, conn);
        announce(ps, conn, s->channel, sub_find(pc, s->channel)->user_id,
                 m.user_info, 1);
    }
    member_clear(&m);
    return rc;
}

int resdeliv__pusher_subscribe(resdeliv_pusher_server *ps,
                               struct resdeliv__pusher_conn *pc,
                               const char *text, size_t len)
{
    struct resdeliv_pusher_subscribe s;
    char err[256];
    int rc = resdeliv_pusher_parse_subscribe(text, len, &s, err, sizeof(err));

    if (rc != 0) {
        resdeliv__pusher_send_error(ps, pc, 0, err);
        return rc;
    }
    rc = subscribe_parsed(ps, pc, &s, text, len);
    resdeliv_pusher_subscribe_clear(&s);
    return rc;
}

/* --------------------------------------------------------- unsubscribe */

/* Leave one channel: the seam drops its replay, presence may announce. */
static void sub_leave(resdeliv_pusher_server *ps, void *conn,
                      struct resdeliv__pusher_sub *s)
{
    int last = 0;

    if (s->user_id == NULL) {
        return;
    }
    member_leave(ps, s->channel, s->user_id, &last);
    if (last) {
        announce(ps, conn, s->channel, s->user_id, NULL, 0);
    }
}

int resdeliv__pusher_unsubscribe(resdeliv_pusher_server *ps,
                                 struct resdeliv__pusher_conn *pc,
                                 const struct resdeliv_pusher_frame *f)
{
    struct resdeliv__pusher_sub **pp, *s;
    const cJSON *ch;
    cJSON *data;
    void *conn = pc->conn;

    data = f->data != NULL ? cJSON_ParseWithLength(f->data, f->data_len) : NULL;
    ch = cJSON_GetObjectItemCaseSensitive(data, "channel");
    if (!cJSON_IsString(ch)) {
        cJSON_Delete(data);
        resdeliv__pusher_send_error(ps, pc, 0,
                                    "pusher:unsubscribe needs "
                                    "data.channel, a string");
        return RESDELIV_EBADFRAME;
    }
    pp = &pc->subs;
    while (*pp != NULL && strcmp((*pp)->channel, ch->valuestring) != 0) {
        pp = &(*pp)->next;
    }
    cJSON_Delete(data);
    /* Clients unsubscribe from channels whose subscribe failed: quiet. */
    if (*pp == NULL) {
        return RESDELIV_ENOENT;
    }
    s = *pp;
    *pp = s->next;
    resdeliv_server_unsubscribe(ps->seam, conn, s->channel);
    sub_leave(ps, conn, s);
    sub_free(s);
    return 0;
}

void resdeliv__pusher_leave_all(resdeliv_pusher_server *ps,
                                struct resdeliv__pusher_conn *pc)
{
    if (ps->cluster != NULL) {
        resdeliv__cluster_forget(ps->cluster, pc->conn);
    }
    while (pc->subs != NULL) {
        struct resdeliv__pusher_sub *s = pc->subs;
        pc->subs = s->next;
        sub_leave(ps, pc->conn, s);
        sub_free(s);
    }
}

/* ------------------------------------------------------- client events */

/* `{"event":..,"channel":..,"data":"..."[,"user_id":..]}`: a presence
 * channel's client events say who sent them, as Pusher does. */
static int client_frame(const struct resdeliv_pusher_frame *f,
                        const char *user_id, char **out, size_t *out_len)
{
    struct resdeliv__json_buf b = {0};

    resdeliv__json_buf_puts(&b, "{\"event\":");
    resdeliv__json_buf_put_str(&b, f->event, strlen(f->event));
    resdeliv__json_buf_puts(&b, ",\"channel\":");
    resdeliv__json_buf_put_str(&b, f->channel, strlen(f->channel));
    resdeliv__json_buf_puts(&b, ",\"data\":");
    resdeliv__json_buf_put_str(&b, f->data ? f->data : "", f->data_len);
    if (user_id != NULL) {
        resdeliv__json_buf_puts(&b, ",\"user_id\":");
        resdeliv__json_buf_puts(&b, user_id);
    }
    resdeliv__json_buf_puts(&b, "}");
    return resdeliv__json_buf_finish(&b, out, out_len);
}

static const char *client_event_refusal(resdeliv_pusher_server *ps,
                                        struct resdeliv__pusher_conn *pc,
                                        const struct resdeliv_pusher_frame *f)
{
    if (!ps->opts.client_events) {
        return "client events are not enabled for this app";
    }
    if (strlen(f->event) > EVENT_NAME_MAX) {
        return "client event name is longer than 200 bytes";
    }
    if (f->channel == NULL || channel_kind(f->channel) == KIND_PUBLIC ||
        has_prefix(f->channel, "private-encrypted-")) {
        return "client events are only accepted on private- and "
               "presence- channels";
    }
    if (sub_find(pc, f->channel) == NULL) {
        return "client event on a channel this connection has not "
               "subscribed to";
    }
    return NULL;
}

int resdeliv__pusher_client_event(resdeliv_pusher_server *ps,
                                  struct resdeliv__pusher_conn *pc,
                                  const struct resdeliv_pusher_frame *f)
{
    const char *why = client_event_refusal(ps, pc, f);
    char *frame = NULL;
    size_t len = 0;
    int rc;

    if (why != NULL) {
        resdeliv__pusher_send_error(
            ps, pc, RESDELIV_PUSHER_ERR_CLIENT_EVENT_REJECTED, why);
        return RESDELIV_EWHISPER;
    }
    rc = client_frame(f, sub_find(pc, f->channel)->user_id, &frame, &len);
    if (rc != 0) {
        return rc;
    }
    rc = ps->tp.broadcast(ps->tp.host, f->channel, strlen(f->channel), frame,
                          len, pc->conn);
    free(frame);
    return rc;
}

/* ------------------------------------------------- presence across nodes */

/* A member of another node came or went: the local subscribers hear it
 * through the seam, like the local members' announcements. */
static void cluster_member(void *arg, const char *channel, const char *user_id,
                           const char *user_info, int added)
{
    announce(arg, NULL, channel, user_id, user_info, added);
}

static void cluster_ready(void *arg, void *conn, uint64_t serial,
                          const char *text, size_t len)
{
    resdeliv_pusher_server *ps = arg;
    struct resdeliv__pusher_conn *pc = still_open(ps, conn, serial);

    if (pc != NULL) {
        resdeliv__pusher_subscribe(ps, pc, text, len);
    }
}

int resdeliv_pusher_server_set_presence(resdeliv_pusher_server *ps,
                                        resdeliv_presence *pr)
{
    struct resdeliv__cluster_hooks hooks = {ps, cluster_member, cluster_ready};
    int rc;

    /* Members already counted locally would be missing from Redis. */
    if (ps == NULL || (pr != NULL && ps->nconns > 0)) {
        return RESDELIV_EINVAL;
    }
    if (pr == ps->cluster) {
        return 0;
    }
    if (pr != NULL) {
        rc = resdeliv__cluster_attach(pr, &hooks);
        if (rc != 0) {
            return rc;
        }
    }
    if (ps->cluster != NULL) {
        resdeliv__cluster_attach(ps->cluster, NULL);
    }
    ps->cluster = pr;
    return 0;
}
