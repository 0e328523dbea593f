// /meta/** channels are protocol only: remote clients can neither subscribe
// to them nor publish to them.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {transports, uid, withClients} from "../lib/harness.mjs";

const T = {timeout: 20000};

/** The reply is the server's: on the wire, not a client-made transport failure. */
function assertServerRefusal(client, reply, what) {
    assert.equal(reply.failure, undefined,
        `${what}: the client reported a transport failure instead of a server reply: ${JSON.stringify(reply.failure?.reason ?? reply.failure?.exception ?? reply.failure)}\n${client.dump()}`);
    assert.equal(reply.successful, false, `${what} was accepted: ${JSON.stringify(reply)}\n${client.dump()}`);
    assert.equal(typeof reply.error, "string", `${what}: refusal without an error string: ${JSON.stringify(reply)}`);
}

/** After a refusal the session still works: a publish round-trips. */
async function assertStillWorks(client) {
    const channel = `/it${uid()}/after`;
    await client.subscribe(channel);
    await client.publish(channel, {ok: true});
    await client.waitIn((m) => m.channel === channel && m.data?.ok === true, "delivery after refusal");
}

for (const transport of transports()) {
    describe(`meta channels [${transport}]`, () => {
        for (const channel of ["/meta/connect", "/meta/foo"]) {
            test(`subscribing to ${channel} is refused`, T, async () => {
                await withClients(transport, 1, async (c) => {
                    let got = 0;
                    const {reply} = await c.subscribeReply(channel, () => got++);
                    assertServerRefusal(c, reply, `subscribe to ${channel}`);
                    const onWire = c.wire.find((e) => e.dir === "in" && e.message.channel === "/meta/subscribe" && e.message.id === reply.id);
                    assert.ok(onWire, `no /meta/subscribe reply on the wire\n${c.dump()}`);
                    assert.equal(onWire.message.subscription, channel, "the refusal echoes the subscription");
                    await assertStillWorks(c);
                });
            });
        }

        test("publishing to /meta/foo is refused", T, async () => {
            await withClients(transport, 1, async (c) => {
                // cometd.publish() refuses meta channels locally; send the
                // message through the transport as a non-conforming client would.
                const reply = await c.sendRaw({channel: "/meta/foo", data: {x: 1}});
                assertServerRefusal(c, reply, "publish to /meta/foo");
                assert.equal(reply.channel, "/meta/foo");
                await assertStillWorks(c);
            });
        });
    });
}
