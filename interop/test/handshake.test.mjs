// Handshake and transport negotiation with the official CometD JS client.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {Client, transports} from "../lib/harness.mjs";

const T = {timeout: 20000};
const JS_MIME = /^(text|application)\/(x-)?(javascript|ecmascript)\b/i;

for (const transport of transports()) {
    describe(`handshake [${transport}]`, () => {
        test(`handshake succeeds and negotiates ${transport}`, T, async () => {
            const c = new Client(transport);
            try {
                const reply = await c.connect();
                assert.equal(reply.successful, true);
                assert.equal(typeof reply.clientId, "string", `clientId in ${JSON.stringify(reply)}`);
                assert.ok(reply.clientId.length > 0, "non-empty clientId");
                assert.ok(Array.isArray(reply.supportedConnectionTypes) && reply.supportedConnectionTypes.includes(transport),
                    `handshake reply supportedConnectionTypes ${JSON.stringify(reply.supportedConnectionTypes)} lacks ${transport}`);
                assert.equal(c.cometd.getTransport().type, transport, "negotiated transport");
                assert.equal(c.cometd.getClientId(), reply.clientId);
                const connects = c.wire.filter((e) => e.dir === "out" && e.message.channel === "/meta/connect");
                assert.ok(connects.length >= 1, c.dump());
                assert.equal(connects[0].message.connectionType, transport);
                assert.equal(connects[0].message.clientId, reply.clientId);
                const hs = c.wire.find((e) => e.dir === "in" && e.message.channel === "/meta/handshake").message;
                const hsOut = c.wire.find((e) => e.dir === "out" && e.message.channel === "/meta/handshake").message;
                assert.equal(hs.id, hsOut.id, "handshake reply echoes the request id");
            } finally {
                await c.disconnect();
            }
        });

        test("two clients get distinct clientIds", T, async () => {
            const a = new Client(transport);
            const b = new Client(transport);
            try {
                const ra = await a.connect();
                const rb = await b.connect();
                assert.notEqual(ra.clientId, rb.clientId);
            } finally {
                await Promise.allSettled([a.disconnect(), b.disconnect()]);
            }
        });

        if (transport === "callback-polling") {
            test("JSONP responses are served as JavaScript", T, async () => {
                // Browsers (ORB, nosniff) refuse to run a <script> whose
                // response is typed as JSON or text.
                const c = new Client(transport);
                try {
                    await c.connect();
                    assert.match(c.transport.lastContentType ?? "", JS_MIME);
                } finally {
                    await c.disconnect();
                }
            });
        }
    });
}
