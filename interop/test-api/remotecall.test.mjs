// Remote calls (Server.HandleRemoteCall, the client's cometd.remoteCall) and
// private delivery (ServerSession.Deliver), against interop/apiserver.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {transports, uid, withClients} from "../lib/harness.mjs";

const T = {timeout: 20000};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const transport of transports()) {
    describe(`remote calls [${transport}]`, () => {
        test("/service/echo answers the caller with the request's data", T, async () => {
            await withClients(transport, 1, async (c) => {
                const data = {n: 42, text: "héllo <&>", list: [1, "two", null], nested: {ok: true}, id: uid()};
                const reply = await c.remoteCall("/echo", data, 5000);
                assert.equal(reply.successful, true, `${JSON.stringify(reply)}\n${c.dump()}`);
                assert.equal(reply.channel, "/service/echo");
                assert.deepEqual(reply.data, data, `${c.dump()}`);
            });
        });

        test("several calls in flight each get their own answer", T, async () => {
            await withClients(transport, 1, async (c) => {
                const replies = await Promise.all([0, 1, 2, 3, 4].map((i) => c.remoteCall("/echo", {i}, 5000)));
                assert.deepEqual(replies.map((r) => [r.successful, r.data]), [0, 1, 2, 3, 4].map((i) => [true, {i}]),
                    c.dump());
            });
        });

        test("/service/fail: the callback gets successful:false and the CallError's data", T, async () => {
            await withClients(transport, 1, async (c) => {
                const reply = await c.remoteCall("/fail", {please: true}, 5000);
                assert.equal(reply.successful, false, `${JSON.stringify(reply)}\n${c.dump()}`);
                assert.deepEqual(reply.data, {reason: "nope"}, `${JSON.stringify(reply)}\n${c.dump()}`);
                // A server failure, not the client's own timeout.
                assert.notEqual(reply.error, "406::timeout", JSON.stringify(reply));
            });
        });

        test("/service/slow: the client's timeout fires (406::timeout), and the late answer is ignored", T, async () => {
            await withClients(transport, 1, async (c) => {
                let calls = 0;
                const started = Date.now();
                const reply = await new Promise((resolve) => {
                    c.cometd.remoteCall("/slow", {}, 1000, (m) => {
                        calls++;
                        resolve(m);
                    });
                });
                const elapsed = Date.now() - started;
                assert.equal(reply.successful, false, JSON.stringify(reply));
                assert.equal(reply.error, "406::timeout", JSON.stringify(reply));
                assert.ok(elapsed >= 900 && elapsed < 2500, `timed out after ${elapsed} ms, want ~1000`);
                const id = c.wire.find((e) => e.dir === "out" && e.message.channel === "/service/slow").message.id;
                // The server answers after 3 s; the client must not call back again.
                const late = await c.waitIn((m) => m.channel === "/service/slow" && m.id === id && m.data !== undefined,
                    "the late answer of /service/slow", 6000);
                assert.equal(late.data, "late", JSON.stringify(late));
                await sleep(100);
                assert.equal(calls, 1, "the callback was called again for the late answer");
                // The session is still usable.
                const echo = await c.remoteCall("/echo", {after: "slow"}, 5000);
                assert.deepEqual(echo.data, {after: "slow"}, c.dump());
            });
        });
    });

    describe(`private delivery [${transport}]`, () => {
        test("/service/whisper delivers to the caller alone, not to /private/inbox subscribers", T, async () => {
            await withClients(transport, 2, async (caller, other) => {
                const u = uid();
                const marker = `/it${u}/marker`;
                // The caller does not subscribe: a private delivery ignores
                // subscriptions. It only listens.
                const got = [];
                caller.cometd.addListener("/private/inbox", (m) => got.push(m.data));
                const leaked = [];
                await other.subscribe("/private/inbox", (m) => leaked.push(m.data));
                await other.subscribe(marker);

                const secret = {secret: u};
                const reply = await caller.remoteCall("/whisper", secret, 5000);
                assert.equal(reply.successful, true, `${JSON.stringify(reply)}\n${caller.dump()}`);
                assert.equal(reply.data, "ok");
                const delivered = await caller.waitIn((m) => m.channel === "/private/inbox" && m.data?.secret === u,
                    "the private delivery on /private/inbox");
                assert.deepEqual(delivered.data, secret);
                assert.deepEqual(got, [secret], "the caller's listener saw the private message once");

                // Queued for the other client after the whisper, had it been
                // broadcast: once the marker is in, the whisper would be too.
                await caller.publish(marker, {end: u});
                await other.waitIn((m) => m.channel === marker && m.data?.end === u, "marker");
                assert.deepEqual(leaked, [], `the private message reached another client\n${other.dump()}`);
                assert.deepEqual(other.deliveries((m) => m.data?.secret === u), [], other.dump());
            });
        });
    });
}
