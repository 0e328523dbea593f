// The typed client (examples/chat/cometgen.yaml, JavaScript form) across
// the death of its node, in a `cometgen serve --nats-history` cluster:
// COMETGEN_URL is a load balancer in front of node a, COMETGEN_URL2 is node
// b, and COMETGEN_CONTROL drives the balancer (stop-a: a stops and the
// balancer answers 503; to-b: the balancer sends everything to b). See
// interop/tsresume_test.go.
import {test} from "node:test";
import assert from "node:assert/strict";
import {pathToFileURL} from "node:url";
import {Client, transports, uid, WAIT_MS} from "../lib/harness.mjs";

const chat = await import(pathToFileURL(process.env.COMETGEN_TS_CLIENT).href);
const URL2 = process.env.COMETGEN_URL2;
const CONTROL = process.env.COMETGEN_CONTROL;
if (!URL2 || !CONTROL) {
    throw new Error("COMETGEN_URL2 and COMETGEN_CONTROL must be set (interop/tsresume_test.go)");
}

/** eventually waits until cond() is true. */
async function eventually(cond, what, ms = 4 * WAIT_MS) {
    const end = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > end) {
            throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        }
        await new Promise((r) => setTimeout(r, 10));
    }
}

async function control(action) {
    const res = await fetch(`${CONTROL}/control/${action}`, {method: "POST"});
    assert.equal(res.status, 204, `control ${action}`);
}

const [transport] = transports();

test(`over ${transport}: the subscriber moves to another node and misses nothing`, {timeout: 90000}, async () => {
    // Short backoffs, so that the client finds node b soon after it is there.
    const sub = new Client(transport, {backoffIncrement: 50, maxBackoff: 300});
    // A second subscriber, on a room that stays quiet until its node is
    // gone: it has received nothing, and resumes from where it subscribed.
    const quiet = new Client(transport, {backoffIncrement: 50, maxBackoff: 300});
    const pub = new Client(transport, {url: URL2});
    const errors = [];
    const states = [];
    const subscriber = chat.createClient(sub.cometd, {onError: (e) => errors.push(e)});
    subscriber.onConnectionState((s) => states.push(s));
    const quietClient = chat.createClient(quiet.cometd, {onError: (e) => errors.push(e)});
    const publisher = chat.createClient(pub.cometd, {onError: (e) => errors.push(e)});
    try {
        await subscriber.handshake({token: "sub"});
        await quietClient.handshake({token: "quiet"});
        await publisher.handshake({token: "pub"});
        const room = `r${uid()}`;
        const quietRoom = `q${uid()}`;
        const got = [];
        const gotQuiet = [];
        await subscriber.channels.chatRoom(room).subscribe((data) => got.push(Number(data.text)));
        await quietClient.channels.chatRoom(quietRoom).subscribe((data) => gotQuiet.push(data.text));
        const publish = async (from, to) => {
            for (let n = from; n <= to; n++) {
                await publisher.channels.chatRoom(room).publish({text: String(n)});
            }
        };

        await publish(1, 20);
        await eventually(() => got.length === 20, "messages 1..20 on node a");
        await control("stop-a");
        // Published while the subscriber has no node at all: it can only
        // get these by replay.
        await publish(21, 40);
        await publisher.channels.chatRoom(quietRoom).publish({text: "while moving"});
        await control("to-b");
        await eventually(() => got.includes(40), "messages 21..40 replayed on node b");
        await eventually(() => gotQuiet.length === 1, "the quiet room's message replayed on node b");
        assert.deepEqual(gotQuiet, ["while moving"]);
        await publish(41, 60);
        await eventually(() => got.includes(60), "messages 41..60 live on node b");

        assert.deepEqual(got, Array.from({length: 60}, (_, i) => i + 1), "every message once, in order");
        assert.deepEqual(errors, [], "no errors");
        assert.ok(states.includes("reconnecting"), `the client reconnected (states: ${states})`);
        assert.equal(states.at(-1), "connected");
    } finally {
        await Promise.allSettled([subscriber.disconnect(), quietClient.disconnect(), publisher.disconnect()]);
    }
});

// Runs after the test above, which leaves the balancer on node b.
test(`over ${transport}: the history starts again and the client is told of a gap`, {timeout: 90000}, async () => {
    const sub = new Client(transport, {backoffIncrement: 50, maxBackoff: 300});
    const pub = new Client(transport, {backoffIncrement: 50, maxBackoff: 300});
    const errors = [];
    const pubStates = [];
    const subscriber = chat.createClient(sub.cometd, {onError: (e) => errors.push(e)});
    const publisher = chat.createClient(pub.cometd, {onError: (e) => errors.push(e)});
    publisher.onConnectionState((s) => pubStates.push(s));
    try {
        await subscriber.handshake({token: "sub"});
        await publisher.handshake({token: "pub"});
        const room = `r${uid()}`;
        const got = [];
        await subscriber.channels.chatRoom(room).subscribe((data) => got.push(Number(data.text)));
        const publish = async (from, to) => {
            for (let n = from; n <= to; n++) {
                await publisher.channels.chatRoom(room).publish({text: String(n)});
            }
        };
        await publish(1, 10);
        await eventually(() => got.length === 10, "messages 1..10 on node b");
        // b stops, the stream is deleted, node c creates it again: its
        // positions start again from 1, below the subscriber's.
        await control("reset");
        await eventually(() => pubStates.at(-1) === "connected" && pubStates.includes("reconnecting"), "the publisher on node c");
        await publish(11, 20);
        await eventually(() => got.includes(20), "messages 11..20 on node c");
        assert.deepEqual(got, Array.from({length: 20}, (_, i) => i + 1), "every message once, in order");
        await eventually(() => errors.length > 0, "the gap told");
        assert.equal(errors.length, 1, `one error: ${errors}`);
        assert.equal(errors[0].name, "ResumeError");
    } finally {
        await Promise.allSettled([subscriber.disconnect(), publisher.disconnect()]);
    }
});
