// Lazy channels (/lazy/**, Options.MaxLazyTimeout = 1 s), against
// interop/apiserver.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {transports, uid, withClients} from "../lib/harness.mjs";

const T = {timeout: 20000};

/** The apiserver's --lazy-timeout. */
const LAZY_MS = 1000;

for (const transport of transports()) {
    describe(`lazy channels [${transport}]`, () => {
        test("a lazy message arrives after about the lazy timeout", T, async (t) => {
            await withClients(transport, 2, async (sub, pub) => {
                const channel = `/lazy/${uid()}`;
                await sub.subscribe(channel);
                // Let the subscriber's next /meta/connect be held.
                await new Promise((r) => setTimeout(r, 200));
                const sent = Date.now();
                await pub.publish(channel, {lazy: 1});
                const isLazy = (m) => m.channel === channel && m.data?.lazy === 1;
                await sub.waitIn(isLazy, "the lazy message", 6000);
                const delay = sub.wire.find((e) => e.dir === "in" && isLazy(e.message)).at - sent;
                t.diagnostic(`lazy message delivered after ${delay} ms (lazy timeout ${LAZY_MS} ms)`);
                assert.ok(delay >= 0.8 * LAZY_MS, `the lazy message arrived after ${delay} ms, before the lazy timeout\n${sub.dump()}`);
                assert.ok(delay <= 3 * LAZY_MS, `the lazy message arrived after ${delay} ms\n${sub.dump()}`);
            });
        });

        test("a non-lazy message brings the waiting lazy one at once, ahead of it", T, async () => {
            await withClients(transport, 2, async (sub, pub) => {
                const u = uid();
                const lazy = `/lazy/${u}`;
                const eager = `/eager/${u}`;
                await sub.subscribe(lazy);
                await sub.subscribe(eager);
                await new Promise((r) => setTimeout(r, 200));
                const sent = Date.now();
                await pub.publish(lazy, {n: 1});
                await pub.publish(eager, {n: 2});
                await sub.waitIn((m) => m.channel === eager && m.data?.n === 2, "the non-lazy message", 6000);
                const got = sub.wire.filter((e) => e.dir === "in" && (e.message.channel === lazy || e.message.channel === eager) && e.message.data !== undefined);
                assert.deepEqual(got.map((e) => e.message.data.n), [1, 2], `order of arrival\n${sub.dump()}`);
                const delay = got[0].at - sent;
                assert.ok(delay < 0.5 * LAZY_MS, `the lazy message arrived after ${delay} ms, want at once with the non-lazy one\n${sub.dump()}`);
            });
        });
    });
}
