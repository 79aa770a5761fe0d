// SPDX-License-Identifier: MIT
/*
 * resdeliv-pusher: lets a pusher-js (8.x) client resume its channels on a
 * resdeliv server. It remembers, per channel, the log position of the last
 * message the application received (the `_replay_id` and `_replay_epoch`
 * members the server puts in every delivered message, and in the data of
 * pusher_internal:subscription_succeeded), and adds them to every
 * `pusher:subscribe` the client sends as `last_event_id` and
 * `last_event_epoch`. The server then replays what the client missed
 * before live delivery resumes, announcing a `resdeliv:gap` event on the
 * channel when part of that history is gone.
 *
 * No dependencies; works in Node (CommonJS) and as a plain browser script
 * (global `ResdelivPusher`).
 */
(function (root, factory) {
    'use strict';
    var api = factory();
    if (typeof module === 'object' && module !== null && module.exports) {
        module.exports = api;
    } else {
        root.ResdelivPusher = api;
    }
})(typeof self !== 'undefined' ? self : this, function () {
    'use strict';

    // Ids are the Redis stream form MS-SEQ, each part an unsigned 64-bit
    // integer; the server writes them without leading zeros, which lets
    // two ids be compared as (length, text) pairs without BigInt.
    var ID_RE = /^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})$/;

    function comparePart(a, b) {
        if (a.length !== b.length) {
            return a.length < b.length ? -1 : 1;
        }
        if (a === b) {
            return 0;
        }
        return a < b ? -1 : 1;
    }

    /** Compare two ids: negative, 0 or positive. */
    function compareIds(a, b) {
        var ma = ID_RE.exec(a);
        var mb = ID_RE.exec(b);
        if (!ma || !mb) {
            throw new TypeError('resdeliv: not an id: ' + (ma ? b : a));
        }
        return comparePart(ma[1], mb[1]) || comparePart(ma[2], mb[2]);
    }

    function isId(v) {
        return typeof v === 'string' && ID_RE.test(v);
    }

    function isObject(v) {
        return v !== null && typeof v === 'object' && !Array.isArray(v);
    }

    /**
     * Remembered positions, one per channel name.
     *
     * options.idField / options.epochField: the data members the server
     *   tags messages with (its replay_id_field / replay_epoch_field;
     *   default `_replay_id` / `_replay_epoch`).
     * options.initial: positions saved earlier with toJSON().
     * options.onChange(channel, position): called after a position moved,
     *   for an application that persists positions (localStorage, a file).
     */
    function ReplayPositions(options) {
        if (!(this instanceof ReplayPositions)) {
            return new ReplayPositions(options);
        }
        options = options || {};
        this.idField = options.idField || '_replay_id';
        this.epochField = options.epochField || '_replay_epoch';
        this.onChange =
            typeof options.onChange === 'function' ? options.onChange : null;
        this.positions = Object.create(null);
        if (isObject(options.initial)) {
            this.load(options.initial);
        }
    }

    /** The position of `channel`: {id, epoch} (epoch may be null), or
     * undefined when nothing was seen on it. */
    ReplayPositions.prototype.get = function (channel) {
        var p = this.positions[channel];
        return p ? { id: p.id, epoch: p.epoch } : undefined;
    };

    /** Set the position of `channel` outright. */
    ReplayPositions.prototype.set = function (channel, id, epoch) {
        if (typeof channel !== 'string' || channel === '') {
            throw new TypeError('resdeliv: channel must be a non-empty string');
        }
        if (!isId(id)) {
            throw new TypeError('resdeliv: not an id: ' + String(id));
        }
        if (epoch !== undefined && epoch !== null &&
            typeof epoch !== 'string') {
            throw new TypeError('resdeliv: epoch must be a string or null');
        }
        this.positions[channel] = { id: id, epoch: epoch || null };
        if (this.onChange) {
            this.onChange(channel, this.get(channel));
        }
    };

    /** Drop the position of `channel`: its next subscribe starts afresh
     * (live messages only, no replay). */
    ReplayPositions.prototype.forget = function (channel) {
        delete this.positions[channel];
    };

    /** Every position as a plain object, {channel: {id, epoch}}. */
    ReplayPositions.prototype.toJSON = function () {
        var out = {};
        for (var ch in this.positions) {
            out[ch] = this.get(ch);
        }
        return out;
    };

    /** Add positions saved with toJSON(); malformed entries are skipped. */
    ReplayPositions.prototype.load = function (saved) {
        for (var ch in saved) {
            var p = saved[ch];
            if (ch !== '' && isObject(p) && isId(p.id) &&
                (p.epoch == null || typeof p.epoch === 'string')) {
                this.positions[ch] = { id: p.id, epoch: p.epoch || null };
            }
        }
    };

    /**
     * Note the position carried by `data` received on `channel`.
     * `fromSubscribed` marks the data of subscription_succeeded: it holds
     * the log's newest position, ahead of the messages a resuming
     * subscription is about to get replayed, so it is only taken when the
     * channel has no position yet (a subscriber that never receives a
     * message can still resume from there). A message moves the position
     * forward; one from another epoch (the log was recreated) replaces it.
     * @return true when the position changed.
     */
    ReplayPositions.prototype.observe = function (channel, data,
                                                  fromSubscribed) {
        if (typeof channel !== 'string' || !isObject(data)) {
            return false;
        }
        var id = data[this.idField];
        var epoch = data[this.epochField];
        if (!isId(id)) {
            return false;
        }
        epoch = typeof epoch === 'string' && epoch !== '' ? epoch : null;
        var cur = this.positions[channel];
        if (cur) {
            if (fromSubscribed) {
                return false;
            }
            var sameLog = cur.epoch === null || epoch === null ||
                cur.epoch === epoch;
            if (sameLog && compareIds(id, cur.id) <= 0) {
                return false;
            }
        }
        this.set(channel, id, epoch);
        return true;
    };

    /** The members to add to a pusher:subscribe for `channel`. */
    ReplayPositions.prototype.subscribeFields = function (channel) {
        var p = this.positions[channel];
        if (!p) {
            return null;
        }
        var fields = { last_event_id: p.id };
        if (p.epoch !== null) {
            fields.last_event_epoch = p.epoch;
        }
        return fields;
    };

    function onMessage(positions, event) {
        if (!isObject(event) || typeof event.channel !== 'string' ||
            typeof event.event !== 'string') {
            return;
        }
        var name = event.event;
        if (name === 'pusher_internal:subscription_succeeded') {
            positions.observe(event.channel, event.data, true);
            return;
        }
        // Protocol events and the gap notice carry no message position;
        // client events come from other clients, are never logged, and
        // must not be able to move the position.
        if (name.indexOf('pusher') === 0 || name.indexOf('client-') === 0 ||
            name === 'resdeliv:gap') {
            return;
        }
        positions.observe(event.channel, event.data, false);
    }

    /**
     * Make the pusher-js client `pusher` resume from these positions.
     * Call it right after `new Pusher(...)`, in the same tick: pusher-js
     * connects asynchronously and subscribes only once connected, so every
     * subscribe (the first, and each one after a reconnect) goes through
     * the hook.
     *
     * Two hooks, both on this instance only:
     * - `pusher.send_event`, which every Channel calls to send
     *   `pusher:subscribe` once its authorization (if any) succeeded: the
     *   subscribe data gets last_event_id / last_event_epoch;
     * - the connection's `message` event, which carries every frame with
     *   its channel: positions move after the application's own handlers
     *   ran (pusher-js calls its channel handlers first), so a message whose
     *   handler threw is replayed on the next resume.
     * @return a function that removes both hooks.
     */
    ReplayPositions.prototype.attach = function (pusher) {
        var conn = pusher && pusher.connection;
        if (!pusher || typeof pusher.send_event !== 'function' || !conn ||
            typeof conn.bind !== 'function') {
            throw new TypeError('resdeliv: attach() needs a pusher-js client');
        }
        var self = this;
        var original = pusher.send_event;
        var hadOwn = Object.prototype.hasOwnProperty.call(pusher, 'send_event');
        var sendEvent = function (name, data, channel) {
            if (name === 'pusher:subscribe' && isObject(data) &&
                typeof data.channel === 'string' &&
                data.last_event_id === undefined) {
                var fields = self.subscribeFields(data.channel);
                if (fields) {
                    data = Object.assign({}, data, fields);
                }
            }
            return original.call(this, name, data, channel);
        };
        var listener = function (event) {
            onMessage(self, event);
        };
        pusher.send_event = sendEvent;
        pusher.connection.bind('message', listener);
        return function detach() {
            pusher.connection.unbind('message', listener);
            if (pusher.send_event === sendEvent) {
                if (hadOwn) {
                    pusher.send_event = original;
                } else {
                    delete pusher.send_event;
                }
            }
        };
    };

    return {
        ReplayPositions: ReplayPositions,
        compareIds: compareIds,
        GAP_EVENT: 'resdeliv:gap',
    };
});
