// /service/** channels: request/response, never broadcast.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {transports, uid, withClients} from "../lib/harness.mjs";

const T = {timeout: 20000};

for (const transport of transports()) {
    describe(`service channels [${transport}]`, () => {
        test("subscribing to /service/foo and /service/** succeeds (a no-op)", T, async () => {
            const service = `/service/foo${uid()}`;
            await withClients(transport, 1, async (c) => {
                for (const pattern of [service, "/service/**"]) {
                    const {reply} = await c.subscribeReply(pattern);
                    assert.equal(reply.failure, undefined, `transport failure: ${JSON.stringify(reply.failure?.reason)}`);
                    assert.equal(reply.successful, true, `subscribe to ${pattern}: ${JSON.stringify(reply)}`);
                    assert.equal(reply.subscription, pattern, "the reply echoes the subscription");
                }
            });
        });

        test("a publish to /service/foo succeeds but is not delivered to /service/foo, /service/** or /** subscribers", T, async () => {
            const u = uid();
            const service = `/service/foo${u}`;
            const marker = `/it${u}/marker`;
            await withClients(transport, 2, async (sub, pub) => {
                // Whether the two service subscriptions are accepted is the
                // previous test's business; /** must be.
                await sub.subscribeReply(service);
                await sub.subscribeReply("/service/**");
                await sub.subscribe("/**");
                await sub.subscribe(marker);
                await pub.subscribe("/**");
                const reply = await pub.publishReply(service, {hello: u});
                assert.equal(reply.successful, true, `publish to ${service}: ${JSON.stringify(reply)}\n${pub.dump()}`);
                // Published after the service message: once it has arrived, the
                // service message would have arrived too.
                await pub.publish(marker, {end: true});
                await sub.waitIn((m) => m.channel === marker, "marker");
                await pub.waitIn((m) => m.channel === marker && m.data !== undefined, "marker (publisher)");
                const leaked = sub.deliveries((m) => m.channel === service || m.data?.hello === u);
                assert.deepEqual(leaked, [], `service message broadcast to a subscriber\n${sub.dump()}`);
                const echoed = pub.deliveries((m) => m.channel === service || m.data?.hello === u);
                assert.deepEqual(echoed, [], `service message broadcast back to its publisher\n${pub.dump()}`);
            });
        });
    });
}
