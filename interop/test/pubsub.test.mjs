// Publish/subscribe between two independent CometD JS clients: channel
// matching (exact, /x/*, /x/**), at-most-once delivery, unsubscribe, batches,
// ordering and publish replies.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {transports, uid, withClients, WAIT_MS} from "../lib/harness.mjs";

const T = {timeout: 30000};

/**
 * The channels published by matchingScenario, in order, under root /<r>.
 * The last one is the end marker: it matches every pattern tested.
 */
function scenario(root) {
    return [
        {channel: `${root}`, data: {n: 1}},
        {channel: `${root}/a`, data: {n: 2}},
        {channel: `${root}/a/b`, data: {n: 3}},
        {channel: `${root}/b`, data: {n: 4}},
        {channel: `${root}/a/b/c`, data: {n: 5}},
        {channel: `${root}x/a`, data: {n: 6}}, // a sibling root: /foox/a is not under /foo
        {channel: `${root}/a`, data: {n: 7, end: true}},
    ];
}

/**
 * Subscribes a fresh client to pattern, lets another client publish the
 * scenario, and returns {received, callback} once the end marker has been
 * delivered: received = the deliveries seen on the wire (channel+data),
 * callback = what the subscription callback was given.
 */
async function matching(transport, pattern, root) {
    return withClients(transport, 2, async (sub, pub) => {
        const callback = [];
        await sub.subscribe(pattern, (m) => callback.push({channel: m.channel, data: m.data}));
        for (const m of scenario(root)) {
            await pub.publish(m.channel, m.data);
        }
        await sub.waitIn((m) => m.data?.end === true, `end marker on ${root}/a`);
        const received = sub.deliveries((m) => m.channel.startsWith(root)).map((m) => ({channel: m.channel, data: m.data}));
        return {received, callback, dump: sub.dump(40)};
    });
}

function expected(root, ns) {
    return scenario(root).filter((m) => ns.includes(m.data.n));
}

for (const transport of transports()) {
    describe(`pubsub [${transport}]`, () => {
        test("exact channel subscriber receives only that channel, from another client", T, async () => {
            const root = `/it${uid()}`;
            const {received, callback, dump} = await matching(transport, `${root}/a`, root);
            assert.deepEqual(received, expected(root, [2, 7]), `deliveries on the wire\n${dump}`);
            assert.deepEqual(callback, expected(root, [2, 7]), "subscription callback");
        });

        test("/x/* receives exactly one more segment (not /x, not /x/a/b)", T, async () => {
            const root = `/it${uid()}`;
            const {received, callback, dump} = await matching(transport, `${root}/*`, root);
            assert.deepEqual(received, expected(root, [2, 4, 7]), `deliveries on the wire\n${dump}`);
            assert.deepEqual(callback, expected(root, [2, 4, 7]), "subscription callback");
        });

        test("/x/** receives every descendant (not /x itself, not a sibling root)", T, async () => {
            const root = `/it${uid()}`;
            const {received, callback, dump} = await matching(transport, `${root}/**`, root);
            assert.deepEqual(received, expected(root, [2, 3, 4, 5, 7]), `deliveries on the wire\n${dump}`);
            assert.deepEqual(callback, expected(root, [2, 3, 4, 5, 7]), "subscription callback");
        });

        test("a subscriber matching by several patterns receives each message once", T, async () => {
            const root = `/it${uid()}`;
            await withClients(transport, 2, async (sub, pub) => {
                const counts = {exact: 0, one: 0, any: 0};
                await sub.subscribe(`${root}/a`, () => counts.exact++);
                await sub.subscribe(`${root}/*`, () => counts.one++);
                await sub.subscribe(`${root}/**`, () => counts.any++);
                await pub.publish(`${root}/a`, {n: 1});
                await pub.publish(`${root}/a`, {n: 2, end: true});
                await sub.waitIn((m) => m.data?.end === true, "second message");
                const onWire = sub.deliveries((m) => m.channel === `${root}/a`).map((m) => m.data.n);
                assert.deepEqual(onWire, [1, 2], `each message delivered once on the wire\n${sub.dump()}`);
                // The JS client dispatches one delivery to all three local subscriptions.
                assert.deepEqual(counts, {exact: 2, one: 2, any: 2});
            });
        });

        test("unsubscribe stops delivery", T, async () => {
            const root = `/it${uid()}`;
            await withClients(transport, 2, async (sub, pub) => {
                const handle = await sub.subscribe(`${root}/topic`);
                await sub.subscribe(`${root}/marker`);
                await pub.publish(`${root}/topic`, {n: 1});
                await sub.waitIn((m) => m.channel === `${root}/topic` && m.data?.n === 1, "delivery before unsubscribe");
                await sub.unsubscribe(handle);
                await pub.publish(`${root}/topic`, {n: 2});
                await pub.publish(`${root}/marker`, {end: true});
                await sub.waitIn((m) => m.channel === `${root}/marker`, "marker after unsubscribe");
                const topic = sub.deliveries((m) => m.channel === `${root}/topic`).map((m) => m.data.n);
                assert.deepEqual(topic, [1], `no delivery after unsubscribe\n${sub.dump()}`);
            });
        });

        test("a batch of publishes all arrive, in order, each with a successful reply", T, async () => {
            const channel = `/it${uid()}/batch`;
            await withClients(transport, 2, async (sub, pub) => {
                await sub.subscribe(channel);
                const replies = [];
                pub.cometd.batch(() => {
                    for (let i = 0; i < 5; i++) {
                        replies.push(new Promise((resolve) => pub.cometd.publish(channel, {i}, resolve)));
                    }
                });
                const got = await Promise.race([
                    Promise.all(replies),
                    new Promise((_, reject) => setTimeout(() => reject(new Error(`publish replies timed out\n${pub.dump()}`)), WAIT_MS)),
                ]);
                for (const r of got) {
                    assert.equal(r.successful, true, `publish reply ${JSON.stringify(r)}`);
                }
                await sub.waitIn((m) => m.channel === channel && m.data?.i === 4, "last batched message");
                const seq = sub.deliveries((m) => m.channel === channel).map((m) => m.data.i);
                assert.deepEqual(seq, [0, 1, 2, 3, 4], sub.dump());
            });
        });

        test("500 rapid publishes arrive in order", {timeout: 60000}, async () => {
            const channel = `/it${uid()}/order`;
            const N = 500;
            await withClients(transport, 2, async (sub, pub) => {
                await sub.subscribe(channel);
                const replies = [];
                for (let i = 0; i < N; i++) {
                    replies.push(new Promise((resolve) => pub.cometd.publish(channel, {i}, resolve)));
                }
                await sub.waitIn((m) => m.channel === channel && m.data?.i === N - 1, `message ${N - 1}`, 45000);
                const seq = sub.deliveries((m) => m.channel === channel).map((m) => m.data.i);
                const want = Array.from({length: N}, (_, i) => i);
                if (JSON.stringify(seq) !== JSON.stringify(want)) {
                    const firstBad = seq.findIndex((v, i) => v !== i);
                    assert.fail(`received ${seq.length} messages, first out of place at index ${firstBad}: ` +
                        `${JSON.stringify(seq.slice(Math.max(0, firstBad - 3), firstBad + 5))}`);
                }
                const got = await Promise.all(replies);
                assert.equal(got.filter((r) => r.successful === true).length, N, "every publish acknowledged");
            });
        });

        test("every publish gets a successful reply echoing its id", T, async () => {
            const channel = `/it${uid()}/ack`;
            await withClients(transport, 1, async (pub) => {
                const replies = [];
                for (let i = 0; i < 20; i++) {
                    replies.push(pub.publish(channel, {i}));
                }
                const got = await Promise.all(replies);
                assert.equal(got.length, 20);
                const sent = pub.wire.filter((e) => e.dir === "out" && e.message.channel === channel).map((e) => e.message.id);
                const acked = pub.wire
                    .filter((e) => e.dir === "in" && e.message.channel === channel && e.message.data === undefined)
                    .map((e) => e.message);
                assert.deepEqual(acked.map((m) => m.id).sort(), [...sent].sort(), "one reply per publish, same ids");
                for (const m of acked) {
                    assert.equal(m.successful, true, JSON.stringify(m));
                }
            });
        });

        test("deliveries do not carry the publisher's clientId or message id", T, async () => {
            const channel = `/it${uid()}/leak`;
            await withClients(transport, 2, async (sub, pub) => {
                await sub.subscribe(channel);
                const reply = await pub.publish(channel, {secret: false});
                const d = await sub.waitIn((m) => m.channel === channel && m.data !== undefined, "delivery");
                assert.notEqual(d.clientId, pub.clientId, `delivery leaks the publisher's clientId: ${JSON.stringify(d)}`);
                // On WebSocket the JS client keys timers by id: a delivery must not reuse the publish id.
                assert.ok(d.id === undefined || d.id !== reply.id, `delivery reuses the publish id: ${JSON.stringify(d)}`);
            });
        });
    });
}
