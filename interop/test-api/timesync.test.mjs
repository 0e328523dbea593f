// The TimeSync extension (runtime/ext.TimeSync) with the client's
// TimeSyncExtension, against interop/apiserver, whose clock runs
// --clock-skew (90 s) ahead of the host's: a client on the same host that
// merely read its own clock would be 90 s off.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {TimeSyncExtension} from "cometd";
import {Client, transports, uid} from "../lib/harness.mjs";

const T = {timeout: 30000};

for (const transport of transports()) {
    describe(`timesync [${transport}]`, () => {
        test("after a few round trips getServerTime() is within 10 ms of the server's clock", T, async (t) => {
            const c = new Client(transport);
            const timesync = new TimeSyncExtension();
            c.cometd.registerExtension("timesync", timesync);
            try {
                await c.connect();
                // Meta round trips carry the timesync samples.
                const channel = `/it${uid()}/ts`;
                for (let i = 0; i < 5; i++) {
                    const handle = await c.subscribe(channel);
                    await c.unsubscribe(handle);
                }
                // The server answered the samples: {tc, ts, p, a} on meta replies.
                const outgoing = new Map(c.wire.filter((e) => e.dir === "out" && e.message.ext?.timesync)
                    .map((e) => [e.message.id, e]));
                const answers = c.wire.filter((e) => e.dir === "in" && e.message.channel.startsWith("/meta/") && e.message.ext?.timesync);
                assert.ok(answers.length >= 10, `${answers.length} meta replies carry timesync\n${c.dump()}`);
                for (const e of answers) {
                    const ts = e.message.ext.timesync;
                    const sent = outgoing.get(e.message.id);
                    assert.ok(sent, `timesync on a reply to a message that did not ask: ${JSON.stringify(e.message)}`);
                    assert.equal(ts.tc, sent.message.ext.timesync.tc, `tc echoed: ${JSON.stringify(e.message)}`);
                    for (const k of ["tc", "ts", "p", "a"]) {
                        assert.equal(typeof ts[k], "number", `timesync.${k}: ${JSON.stringify(ts)}`);
                    }
                    assert.ok(ts.p >= 0 && ts.p <= e.at - sent.at + 1, `p=${ts.p} outside the round trip: ${JSON.stringify(ts)}`);
                }

                // The server's clock, read by a remote call.
                let best;
                for (let i = 0; i < 5; i++) {
                    const before = Date.now();
                    const reply = await c.remoteCall("/time", {}, 5000);
                    const after = Date.now();
                    assert.equal(reply.successful, true, JSON.stringify(reply));
                    assert.equal(typeof reply.data, "number", JSON.stringify(reply));
                    const rtt = after - before;
                    // getServerTime() at the middle of the round trip, which is
                    // when the server read its clock, give or take rtt/2.
                    const estimate = timesync.getServerTime() - (after - before) / 2;
                    const sample = {rtt, error: estimate - reply.data, server: reply.data};
                    if (!best || sample.rtt < best.rtt) {
                        best = sample;
                    }
                }
                t.diagnostic(`offset ${timesync.getTimeOffset()} ms, lag ${timesync.getNetworkLag()} ms; getServerTime() - server clock = ${best.error.toFixed(1)} ms (rtt ${best.rtt} ms)`);
                assert.ok(Math.abs(best.error) <= 10 + best.rtt / 2,
                    `getServerTime() is ${best.error.toFixed(1)} ms off the server's clock (rtt ${best.rtt} ms); offset ${timesync.getTimeOffset()} ms\n${c.dump()}`);
                assert.ok(Math.abs(best.server - Date.now()) > 1000,
                    "the server's clock is not skewed: this test cannot tell a synchronized client from one on the same clock");
            } finally {
                await c.disconnect();
            }
        });
    });
}
