// The official CometD JavaScript client against two `cometgen serve --nats`
// nodes of one cluster (COMETGEN_URL and COMETGEN_URL2): clients on
// different nodes see each other's messages exactly once and in order,
// with and without the client's AckExtension.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {AckExtension} from "cometd";
import {Client, disconnectAll, transports, uid, WAIT_MS} from "../lib/harness.mjs";

const URL2 = (() => {
    const url = process.env.COMETGEN_URL2;
    if (!url) {
        throw new Error("COMETGEN_URL2 is not set: the second node of the cluster");
    }
    return url;
})();

const T = {timeout: 60000};
const N = 200;

for (const transport of transports()) {
    describe(`a two-node cluster over ${transport}`, () => {
        test("a publisher on one node reaches subscribers on both nodes, each message once, in order", T, async () => {
            const channel = `/cluster/${uid()}`;
            const here = new Client(transport); // the first node
            const there = new Client(transport, {url: URL2});
            there.cometd.registerExtension("ack", new AckExtension());
            const pub = new Client(transport, {url: URL2});
            const clients = [here, there, pub];
            try {
                for (const c of clients) {
                    await c.connect();
                }
                await here.subscribe(channel);
                await there.subscribe(channel);
                for (let n = 0; n < N; n++) {
                    await pub.publish(channel, {n});
                }
                for (const sub of [here, there]) {
                    await sub.waitIn((m) => m.channel === channel && m.data?.n === N - 1, `message ${N - 1}`, WAIT_MS);
                    const got = sub.deliveries((m) => m.channel === channel).map((m) => m.data.n);
                    assert.deepEqual(got, [...Array(N).keys()], `${sub.name} got ${got.length} messages`);
                }
            } finally {
                await disconnectAll(clients);
            }
        });

        test("clients on the two nodes talk both ways", T, async () => {
            const channel = `/cluster/${uid()}`;
            const a = new Client(transport);
            const b = new Client(transport, {url: URL2});
            try {
                await a.connect();
                await b.connect();
                await a.subscribe(channel);
                await b.subscribe(channel);
                await a.publish(channel, {from: "a"});
                // Order holds per publisher; across two publishers on two
                // nodes it does not, so b publishes once a's message is there.
                await b.waitIn((m) => m.channel === channel && m.data?.from === "a", "a's message on b's node");
                await b.publish(channel, {from: "b"});
                for (const c of [a, b]) {
                    await c.waitIn((m) => m.channel === channel && m.data?.from === "b", "b's message");
                    const got = c.deliveries((m) => m.channel === channel).map((m) => m.data.from);
                    assert.deepEqual(got, ["a", "b"], `${c.name}`);
                }
            } finally {
                await disconnectAll([a, b]);
            }
        });
    });
}
