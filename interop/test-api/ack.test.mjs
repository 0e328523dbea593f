// The ack extension built into the runtime, with the client's AckExtension:
// a subscriber whose connection is forcibly broken several times while
// 10,000 numbered messages stream to it must receive every one of them
// exactly once and in order, against interop/apiserver.
//
// Two kinds of breaks, alternately, while the messages flow:
//   - break: the subscriber's connection dies under it (websocket: its TCP
//     connection is destroyed, no close frame; long-polling and
//     callback-polling: its requests in flight are aborted, destroying their
//     TCP connections);
//   - loss: the next response that carries messages to the subscriber is
//     lost on arrival, as when the connection dies while the response is in
//     flight, and the connection is broken with it. The lost messages were
//     sent by the server and never processed by the client: only the ack
//     extension's redelivery brings them.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {AckExtension} from "cometd";
import {Client, transports, uid, WAIT_MS} from "../lib/harness.mjs";

function withTimeout(promise, ms, what, dump) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}\n${dump()}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const TOTAL = 10_000;
const BATCH = 100;
/** After how many published batches the subscriber's transport is broken. */
const BREAK_AT = [10, 25, 40, 55, 70, 85];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Publishes messages {n} for n = from..to-1 in one CometD batch; resolves
 * with their publish replies.
 */
function publishBatch(client, channel, from, to) {
    const p = new Promise((resolve) => {
        const replies = [];
        client.cometd.batch(() => {
            for (let n = from; n < to; n++) {
                client.cometd.publish(channel, {n}, (reply) => {
                    replies.push(reply);
                    if (replies.length === to - from) {
                        resolve(replies);
                    }
                });
            }
        });
    });
    return withTimeout(p, WAIT_MS, `the publish replies of ${from}..${to - 1} on ${client.name}`, () => client.dump());
}

for (const transport of transports()) {
    describe(`ack extension [${transport}]`, () => {
        test(`${TOTAL} messages, the subscriber's transport broken ${BREAK_AT.length} times: none lost, none duplicated, in order`, {timeout: 180000}, async (t) => {
            const channel = `/ack/${uid()}`;
            // Reconnect quickly after a break (the default backoff is 1 s, 2 s, …).
            const sub = new Client(transport, {backoffIncrement: 50, maxBackoff: 500});
            sub.cometd.registerExtension("ack", new AckExtension());
            const pub = new Client(transport);
            const received = [];
            let connectFailures = 0;
            // deliveriesLostInFlight counts the copies of messages in the lost
            // responses: a message resent after one loss may be lost again.
            const figures = {transport, published: 0, received: 0, lost: 0, duplicated: 0, outOfOrder: 0,
                breaks: 0, brokenConnections: 0, losses: 0, deliveriesLostInFlight: 0, connectFailures: 0, handshakes: 0};
            try {
                sub.cometd.addListener("/meta/connect", (m) => {
                    if (!m.successful) {
                        connectFailures++;
                    }
                });
                const hs = await sub.connect();
                const granted = hs.ext?.ack === true || hs.ext?.ack?.enabled === true;
                assert.ok(granted, `the server did not grant the ack extension: ${JSON.stringify(hs)}`);
                await pub.connect();
                await sub.subscribe(channel, (m) => received.push(m.data.n));

                let armed = null; // the loss armed and not happened yet
                const lossHappened = async () => {
                    if (armed) {
                        await withTimeout(armed, WAIT_MS, `the armed loss on ${sub.name}`, () => sub.dump());
                        armed = null;
                    }
                };
                const started = Date.now();
                for (let b = 0; b < TOTAL / BATCH; b++) {
                    const replies = await publishBatch(pub, channel, b * BATCH, (b + 1) * BATCH);
                    const failed = replies.filter((r) => !r.successful);
                    assert.deepEqual(failed, [], `publish failures (a failed publish would count as lost)\n${pub.dump()}`);
                    figures.published += replies.length;
                    const k = BREAK_AT.indexOf(b);
                    if (k < 0) {
                        continue;
                    }
                    // One loss at a time: the previous one has had the
                    // batches published since to happen on.
                    await lossHappened();
                    if (k % 2 === 0) {
                        // A break: wait for something in flight to break.
                        let n = 0;
                        for (const deadline = Date.now() + 2000; n === 0 && Date.now() < deadline;) {
                            n = sub.breakTransport();
                            if (n === 0) {
                                await sleep(5);
                            }
                        }
                        assert.ok(n > 0, `nothing of ${sub.name} in flight to break within 2 s\n${sub.dump()}`);
                        figures.breaks++;
                        figures.brokenConnections += n;
                    } else {
                        // A loss: the next response carrying messages of the
                        // stream is lost, together with its connection.
                        armed = sub.dropNextResponse((ms) => ms.some((m) => m.channel === channel && m.data !== undefined))
                            .then((ms) => {
                                figures.losses++;
                                figures.deliveriesLostInFlight += ms.filter((m) => m.channel === channel && m.data !== undefined).length;
                                sub.breakTransport();
                            });
                    }
                }
                await lossHappened();

                // Wait for the stream to drain: stop when everything is in,
                // or when nothing has come for a while.
                let last = -1;
                let idleSince = Date.now();
                while (received.length < TOTAL && Date.now() - idleSince < 15000) {
                    if (received.length !== last) {
                        last = received.length;
                        idleSince = Date.now();
                    }
                    await sleep(50);
                }
                // Duplicates would come right after.
                await sleep(500);
                const elapsed = Date.now() - started;

                const seen = new Map();
                for (const n of received) {
                    seen.set(n, (seen.get(n) ?? 0) + 1);
                }
                figures.received = received.length;
                figures.lost = TOTAL - [...seen.keys()].filter((n) => n >= 0 && n < TOTAL).length;
                figures.duplicated = [...seen.values()].reduce((s, c) => s + c - 1, 0);
                figures.outOfOrder = received.filter((n, i) => i > 0 && n <= received[i - 1]).length;
                figures.connectFailures = connectFailures;
                figures.handshakes = sub.wire.filter((e) => e.dir === "out" && e.message.channel === "/meta/handshake").length;
                figures.ms = elapsed;
                const line = `ack ${transport}: ${JSON.stringify(figures)}`;
                t.diagnostic(line);
                console.log(line);

                const missing = [];
                for (let n = 0; n < TOTAL && missing.length < 20; n++) {
                    if (!seen.has(n)) {
                        missing.push(n);
                    }
                }
                assert.equal(figures.lost, 0, `${figures.lost} messages lost, first: ${missing.join(", ")}\n${sub.dump(40)}`);
                assert.equal(figures.duplicated, 0, `${figures.duplicated} messages duplicated\n${sub.dump(40)}`);
                assert.equal(figures.outOfOrder, 0, `${figures.outOfOrder} messages out of order\n${sub.dump(40)}`);
                assert.deepEqual(received, Array.from({length: TOTAL}, (_, i) => i));
                // The breaks really happened, and were survived without a new session.
                assert.equal(figures.losses, Math.floor(BREAK_AT.length / 2), `not every armed loss happened\n${sub.dump()}`);
                assert.ok(figures.deliveriesLostInFlight > 0, "no message was lost in flight");
                // (connectFailures is a figure only: a break that finds no
                // /meta/connect in flight fails none.)
                assert.equal(figures.handshakes, 1, `the subscriber handshook again (a new session)\n${sub.dump()}`);
            } finally {
                await Promise.allSettled([sub.disconnect(), pub.disconnect()]);
            }
        });
    });
}
