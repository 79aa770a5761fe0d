// SPDX-License-Identifier: MIT
/*
 * resdeliv-server against the real npm clients: pusher-js subscribes (with
 * examples/js/resdeliv-pusher.js adding last_event_id / last_event_epoch to
 * its subscribes) and the `pusher` server SDK publishes over the HTTP API.
 * A client that disconnects and comes back must get exactly the messages it
 * missed, in order, then live ones; one that missed more than the server
 * retains must be told with a resdeliv:gap event. run.sh starts the server
 * and passes its address in the environment; everything is on loopback.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const crypto = require('node:crypto');

const PusherClient = require('pusher-js');
const PusherServer = require('pusher');
const { ReplayPositions } = require(
    path.join(__dirname, '..', '..', 'examples', 'js', 'resdeliv-pusher.js'));

const env = process.env;
const PORT = Number(env.RESDELIV_PORT);
const APP_ID = env.RESDELIV_APP_ID || 'app-id';
const APP_KEY = env.RESDELIV_APP_KEY || 'app-key';
const APP_SECRET = env.RESDELIV_APP_SECRET || 'app-secret';
const RETENTION = Number(env.RESDELIV_RETENTION || '10');
const STEP_MS = 10000;

if (!Number.isInteger(PORT) || PORT <= 0) {
    throw new Error('RESDELIV_PORT is not set: run this through run.sh');
}

const sdk = new PusherServer({
    appId: APP_ID,
    key: APP_KEY,
    secret: APP_SECRET,
    host: '127.0.0.1',
    port: String(PORT),
    useTLS: false,
    timeout: STEP_MS,
});

// The SDK that signs HTTP requests also signs channel authorizations, with
// the same secret the server checks them against.
function authorizer(params, callback) {
    try {
        callback(null, sdk.authorizeChannel(params.socketId,
                                            params.channelName));
    } catch (e) {
        callback(e, null);
    }
}

const clients = [];

function newClient(positions, auth = authorizer) {
    const client = new PusherClient(APP_KEY, {
        cluster: 'dummy',
        wsHost: '127.0.0.1',
        wsPort: PORT,
        forceTLS: false,
        enabledTransports: ['ws'],
        disableStats: true,
        channelAuthorization: { customHandler: auth },
    });
    positions.attach(client);
    clients.push(client);
    // Below the helper's hook: what pusher-js really puts on the wire.
    const sent = [];
    const manager = client.connection;
    const send = manager.send_event.bind(manager);
    manager.send_event = (name, data, channel) => {
        sent.push({ name, data, channel });
        return send(name, data, channel);
    };
    return { client, sent };
}

// Resolves once `cond()` is true, checking every few milliseconds; fails
// after `ms`.
function until(cond, what, ms = STEP_MS) {
    return new Promise((resolve, reject) => {
        if (cond()) {
            resolve();
            return;
        }
        const started = Date.now();
        const timer = setInterval(() => {
            if (cond()) {
                clearInterval(timer);
                resolve();
            } else if (Date.now() - started > ms) {
                clearInterval(timer);
                reject(new Error('timed out waiting for ' + what));
            }
        }, 5);
    });
}

// Subscribe and record every application event (and the gap notice) the
// channel delivers, in arrival order.
function subscribe(client, name) {
    const ch = client.subscribe(name);
    const rec = { channel: ch, events: [], succeeded: null, error: null };
    ch.bind('pusher:subscription_succeeded', (data) => {
        rec.succeeded = data;
    });
    ch.bind('pusher:subscription_error', (err) => {
        rec.error = err;
    });
    ch.bind_global((event, data) => {
        if (event.indexOf('pusher:') !== 0) {
            rec.events.push({ event, data });
        }
    });
    return rec;
}

async function subscribed(rec) {
    await until(() => rec.succeeded !== null || rec.error !== null,
                'subscription to ' + rec.channel.name);
    assert.equal(rec.error, null,
                 'subscription to ' + rec.channel.name + ' failed: ' +
                 JSON.stringify(rec.error));
}

async function connected(client) {
    await until(() => client.connection.state === 'connected',
                'pusher-js to connect');
}

async function disconnect(client) {
    client.disconnect();
    await until(() => client.connection.state === 'disconnected',
                'pusher-js to disconnect');
}

function uniq(prefix) {
    return prefix + '-' + crypto.randomBytes(4).toString('hex');
}

function numbers(rec) {
    return rec.events.filter((e) => e.event !== 'resdeliv:gap')
        .map((e) => e.data.n);
}

function idParts(id) {
    const m = /^(\d+)-(\d+)$/.exec(id);
    assert.ok(m, 'not an id: ' + id);
    return [BigInt(m[1]), BigInt(m[2])];
}

function idLess(a, b) {
    const [am, as] = idParts(a);
    const [bm, bs] = idParts(b);
    return am < bm || (am === bm && as < bs);
}

// Every delivered message is tagged; ids rise strictly; one epoch.
function assertTagged(rec, after) {
    let prev = after ? after.id : null;
    for (const e of rec.events) {
        if (e.event === 'resdeliv:gap') {
            continue;
        }
        assert.equal(typeof e.data._replay_id, 'string',
                     'untagged message ' + JSON.stringify(e));
        assert.equal(typeof e.data._replay_epoch, 'string',
                     'no epoch in ' + JSON.stringify(e));
        if (prev !== null) {
            assert.ok(idLess(prev, e.data._replay_id),
                      `ids not rising: ${prev} then ${e.data._replay_id}`);
        }
        if (after && after.epoch) {
            assert.equal(e.data._replay_epoch, after.epoch);
        }
        prev = e.data._replay_id;
    }
}

function subscribeFrame(sent, channel) {
    return sent.find((s) => s.name === 'pusher:subscribe' &&
                            s.data.channel === channel);
}

async function triggerEach(channels, event, from, to) {
    for (let n = from; n <= to; n++) {
        const res = await sdk.trigger(channels, event, { n });
        assert.equal(res.status, 200);
    }
}

test.after(() => {
    for (const c of clients) {
        c.disconnect();
    }
});

test('public and private channels resume after disconnect', {
    timeout: 60000,
}, async () => {
    const positions = new ReplayPositions();
    const pub = uniq('news');
    const priv = uniq('private-orders');

    // First session: subscribe fresh, then three live messages on each.
    const first = newClient(positions);
    await connected(first.client);
    const a = subscribe(first.client, pub);
    const b = subscribe(first.client, priv);
    await subscribed(a);
    await subscribed(b);
    for (const ch of [pub, priv]) {
        const frame = subscribeFrame(first.sent, ch);
        assert.ok(frame, 'no subscribe sent for ' + ch);
        assert.equal(frame.data.last_event_id, undefined,
                     'a fresh subscribe must not carry last_event_id');
        assert.ok(frame.data.channel === ch);
    }
    assert.ok(typeof b.succeeded === 'object',
              'private subscription_succeeded data');
    // subscription_succeeded gave each channel a place to resume from.
    assert.ok(positions.get(pub), 'no position from subscription_succeeded');
    assert.ok(positions.get(priv), 'no position from subscription_succeeded');

    await triggerEach([pub, priv], 'live', 1, 3);
    await until(() => a.events.length === 3 && b.events.length === 3,
                'three live messages on each channel');
    assert.deepEqual(numbers(a), [1, 2, 3]);
    assert.deepEqual(numbers(b), [1, 2, 3]);
    assertTagged(a);
    assertTagged(b);
    const seenPub = { id: a.events[2].data._replay_id,
                      epoch: a.events[2].data._replay_epoch };
    const seenPriv = { id: b.events[2].data._replay_id,
                       epoch: b.events[2].data._replay_epoch };
    assert.deepEqual(positions.get(pub), seenPub);
    assert.deepEqual(positions.get(priv), seenPriv);

    // Away: two single events on both channels, then a batch.
    await disconnect(first.client);
    await triggerEach([pub, priv], 'missed', 4, 5);
    const batch = await sdk.triggerBatch([
        { channel: pub, name: 'batch', data: { n: 6 } },
        { channel: priv, name: 'batch', data: { n: 6 } },
        { channel: pub, name: 'batch', data: { n: 7 } },
        { channel: priv, name: 'batch', data: { n: 7 } },
    ]);
    assert.equal(batch.status, 200);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(numbers(a), [1, 2, 3],
                     'a disconnected client received messages');

    // Second session: a new client sharing the remembered positions.
    const second = newClient(positions);
    await connected(second.client);
    const c = subscribe(second.client, pub);
    const d = subscribe(second.client, priv);
    await subscribed(c);
    await subscribed(d);
    for (const [ch, seen] of [[pub, seenPub], [priv, seenPriv]]) {
        const frame = subscribeFrame(second.sent, ch);
        assert.ok(frame, 'no resubscribe sent for ' + ch);
        assert.equal(frame.data.last_event_id, seen.id);
        assert.equal(frame.data.last_event_epoch, seen.epoch);
    }
    await until(() => c.events.length >= 4 && d.events.length >= 4,
                'the four missed messages on each channel');
    // Then live ones; the last live message arriving means everything the
    // server sent before it has arrived too.
    await triggerEach([pub, priv], 'live', 8, 9);
    await until(() => numbers(c).includes(9) && numbers(d).includes(9),
                'live messages after the replay');
    for (const rec of [c, d]) {
        assert.deepEqual(rec.events.map((e) => e.event),
                         ['missed', 'missed', 'batch', 'batch', 'live',
                          'live']);
        assert.deepEqual(numbers(rec), [4, 5, 6, 7, 8, 9]);
    }
    assertTagged(c, seenPub);
    assertTagged(d, seenPriv);
    assert.equal(positions.get(pub).id, c.events[5].data._replay_id);
    assert.equal(positions.get(priv).id, d.events[5].data._replay_id);
    await disconnect(second.client);
});

test('the same pusher-js instance resumes after its socket drops', {
    timeout: 60000,
}, async () => {
    const positions = new ReplayPositions();
    const ch = uniq('private-drop');
    const { client, sent } = newClient(positions);
    await connected(client);
    const rec = subscribe(client, ch);
    await subscribed(rec);
    await triggerEach(ch, 'live', 1, 2);
    await until(() => rec.events.length === 2, 'two live messages');
    const seen = positions.get(ch);
    assert.equal(seen.id, rec.events[1].data._replay_id);

    // Close the WebSocket under pusher-js: it reconnects by itself (after
    // about a second) and subscribes again through the same hook.
    let retrying = false;
    client.connection.bind('connecting_in', () => {
        retrying = true;
    });
    rec.succeeded = null;
    client.connection.connection.close();
    await until(() => retrying, 'pusher-js to notice the dropped socket');
    await triggerEach(ch, 'missed', 3, 5);
    await until(() => rec.succeeded !== null, 'the automatic resubscribe');
    const frames = sent.filter((s) => s.name === 'pusher:subscribe');
    assert.equal(frames.length, 2);
    assert.equal(frames[1].data.last_event_id, seen.id);
    assert.equal(frames[1].data.last_event_epoch, seen.epoch);
    await triggerEach(ch, 'live', 6, 6);
    await until(() => numbers(rec).includes(6), 'live message 6');
    assert.deepEqual(numbers(rec), [1, 2, 3, 4, 5, 6]);
    assert.ok(!rec.events.some((e) => e.event === 'resdeliv:gap'));
    assertTagged(rec);
    await disconnect(client);
});

test('missing more than the retention gives resdeliv:gap', {
    timeout: 60000,
}, async () => {
    const positions = new ReplayPositions();
    const ch = uniq('gap');
    const missed = RETENTION + 5;

    const first = newClient(positions);
    await connected(first.client);
    const a = subscribe(first.client, ch);
    await subscribed(a);
    await triggerEach(ch, 'live', 1, 1);
    await until(() => a.events.length === 1, 'the first message');
    await disconnect(first.client);

    // Pusher's HTTP API takes at most 10 events per batch.
    for (let from = 2; from <= missed + 1; from += 10) {
        const batch = [];
        for (let n = from; n <= Math.min(from + 9, missed + 1); n++) {
            batch.push({ channel: ch, name: 'missed', data: { n } });
        }
        const res = await sdk.triggerBatch(batch);
        assert.equal(res.status, 200);
    }

    const second = newClient(positions);
    await connected(second.client);
    const b = subscribe(second.client, ch);
    await subscribed(b);
    assert.equal(subscribeFrame(second.sent, ch).data.last_event_id,
                 a.events[0].data._replay_id);
    const last = missed + 1;
    await until(() => numbers(b).includes(last), 'the retained messages');
    await triggerEach(ch, 'live', last + 1, last + 1);
    await until(() => numbers(b).includes(last + 1), 'a live message');

    assert.equal(b.events[0].event, 'resdeliv:gap',
                 'the gap notice comes before the replay: ' +
                 JSON.stringify(b.events[0]));
    const gap = b.events[0].data;
    assert.equal(gap.reason, 'trimmed');
    assert.equal(typeof gap.oldest, 'string');
    assert.equal(gap.oldest, b.events[1].data._replay_id,
                 'oldest retained id is the first replayed one');
    const retained = [];
    for (let n = last - RETENTION + 1; n <= last; n++) {
        retained.push(n);
    }
    assert.deepEqual(numbers(b), retained.concat([last + 1]));
    assert.equal(b.events.filter((e) => e.event === 'resdeliv:gap').length,
                 1);
    assertTagged(b);
    await disconnect(second.client);
});

test('a subscribe with bad auth gets no replay', {
    timeout: 60000,
}, async () => {
    const positions = new ReplayPositions();
    const priv = uniq('private-secret');
    const pub = uniq('after');

    const first = newClient(positions);
    await connected(first.client);
    const a = subscribe(first.client, priv);
    await subscribed(a);
    await triggerEach(priv, 'live', 1, 1);
    await until(() => a.events.length === 1, 'the first message');
    await disconnect(first.client);
    await triggerEach(priv, 'missed', 2, 3);

    // Same positions, but an authorizer signing with another secret.
    const forger = new PusherServer({
        appId: APP_ID, key: APP_KEY, secret: APP_SECRET + '-wrong',
        host: '127.0.0.1', port: String(PORT), useTLS: false,
    });
    const { client, sent } = newClient(positions, (params, cb) => cb(
        null, forger.authorizeChannel(params.socketId, params.channelName)));
    await connected(client);
    const b = subscribe(client, priv);
    await until(() => b.error !== null || b.succeeded !== null,
                'an answer to the forged subscribe');
    assert.equal(b.succeeded, null, 'a forged subscribe succeeded');
    assert.equal(subscribeFrame(sent, priv).data.last_event_id,
                 a.events[0].data._replay_id);
    // The server answers a connection in order: once a message on another
    // channel arrived, anything replayed on the private one would have too.
    const c = subscribe(client, pub);
    await subscribed(c);
    await triggerEach(pub, 'live', 1, 1);
    await until(() => c.events.length === 1, 'a message on ' + pub);
    assert.deepEqual(b.events, [], 'replayed without authorization');
    await disconnect(client);
});

test('helper keeps positions in order and per epoch', () => {
    const changes = [];
    const p = new ReplayPositions({
        onChange: (ch, pos) => changes.push([ch, pos.id]),
    });
    assert.equal(p.observe('c', { _replay_id: '5-0', _replay_epoch: 'e1' },
                           true), true);
    // subscription_succeeded never moves an existing position.
    assert.equal(p.observe('c', { _replay_id: '9-0', _replay_epoch: 'e1' },
                           true), false);
    assert.equal(p.observe('c', { _replay_id: '4-9', _replay_epoch: 'e1' }),
                 false);
    assert.equal(p.observe('c', { _replay_id: '10-0', _replay_epoch: 'e1' }),
                 true);
    // A new epoch is a new log: its smaller ids replace the old position.
    assert.equal(p.observe('c', { _replay_id: '1-0', _replay_epoch: 'e2' }),
                 true);
    assert.deepEqual(p.get('c'), { id: '1-0', epoch: 'e2' });
    for (const bad of ['', '1', '-1-0', '01-0', '1-0 ', 'a-b', 7, null]) {
        assert.equal(p.observe('c', { _replay_id: bad }), false,
                     'accepted ' + JSON.stringify(bad));
    }
    assert.equal(p.observe('c', 'not an object'), false);
    assert.deepEqual(p.subscribeFields('c'),
                     { last_event_id: '1-0', last_event_epoch: 'e2' });
    assert.equal(p.subscribeFields('other'), null);
    const saved = JSON.parse(JSON.stringify(p));
    const q = new ReplayPositions({ initial: saved });
    assert.deepEqual(q.get('c'), { id: '1-0', epoch: 'e2' });
    q.forget('c');
    assert.equal(q.get('c'), undefined);
    assert.deepEqual(changes, [['c', '5-0'], ['c', '10-0'], ['c', '1-0']]);
    assert.throws(() => p.set('c', '1-x'), TypeError);
    assert.throws(() => p.attach({}), TypeError);

    // attach() wraps send_event on the instance only; detach() undoes it.
    const bound = {};
    const wire = [];
    const fake = {
        connection: {
            bind: (ev, fn) => { bound[ev] = fn; },
            unbind: (ev, fn) => {
                if (bound[ev] === fn) {
                    delete bound[ev];
                }
            },
        },
    };
    Object.setPrototypeOf(fake, {
        send_event(name, data) {
            wire.push([name, data]);
        },
    });
    const detach = p.attach(fake);
    fake.send_event('pusher:subscribe', { channel: 'c' });
    fake.send_event('pusher:subscribe', { channel: 'd' });
    fake.send_event('client-x', { channel: 'c' }, 'c');
    bound.message({ event: 'client-x', channel: 'd',
                    data: { _replay_id: '99-0' } });
    bound.message({ event: 'ev', channel: 'd',
                    data: { _replay_id: '3-0', _replay_epoch: 'e' } });
    assert.deepEqual(wire, [
        ['pusher:subscribe', { channel: 'c', last_event_id: '1-0',
                               last_event_epoch: 'e2' }],
        ['pusher:subscribe', { channel: 'd' }],
        ['client-x', { channel: 'c' }],
    ]);
    assert.deepEqual(p.get('d'), { id: '3-0', epoch: 'e' });
    detach();
    assert.equal(Object.prototype.hasOwnProperty.call(fake, 'send_event'),
                 false);
    assert.equal(bound.message, undefined);
});
