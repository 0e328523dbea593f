// Handshake authentication under `cometgen serve --spec spec/cometgen.yaml`
// (auth.handshake optional): a JWT in ext.auth.token, HS256 with the
// server's COMETGEN_JWT_SECRET, claims sub, roles and exp. Without a token
// the session is anonymous; a token that does not verify is refused.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {Client, transports, WAIT_MS} from "../lib/harness.mjs";
import {signToken, withToken} from "../lib/spec.mjs";

const T = {timeout: 30000};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Handshakes with props and resolves with the reply, whatever it is. */
function handshakeReply(c, props) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no handshake reply\n${c.dump()}`)), WAIT_MS);
        c.cometd.handshake(props, (m) => {
            clearTimeout(timer);
            resolve(m);
        });
    });
}

for (const transport of transports()) {
    describe(`serve --spec: handshake tokens [${transport}]`, () => {
        test("a valid token and no token both connect", T, async () => {
            for (const props of [withToken(signToken({sub: "alice", roles: ["member"]})), undefined]) {
                const c = new Client(transport);
                try {
                    const reply = await c.connect(WAIT_MS, props);
                    assert.equal(reply.successful, true, JSON.stringify(reply));
                } finally {
                    await c.disconnect();
                }
            }
        });

        const bad = {
            "a wrong signature": () => signToken({sub: "alice", roles: ["member"], secret: "not-the-secret"}),
            "an expired token": () => signToken({sub: "alice", roles: ["member"], ttl: -3600}),
            "alg none": () => {
                const [, payload] = signToken({sub: "alice", roles: ["member"]}).split(".");
                return `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${payload}.`;
            },
            "garbage": () => "not.a.jwt",
        };
        for (const [what, token] of Object.entries(bad)) {
            test(`${what} is refused: 403 handshake_denied, reconnect none, no retry`, T, async () => {
                const c = new Client(transport);
                try {
                    const reply = await handshakeReply(c, withToken(token()));
                    assert.equal(reply.successful, false, `${JSON.stringify(reply)}\n${c.dump()}`);
                    assert.match(String(reply.error), /^403:token_[a-z_]+:handshake_denied$/, JSON.stringify(reply));
                    const wire = c.wire.filter((e) => e.dir === "in" && e.message.channel === "/meta/handshake");
                    assert.equal(wire.length, 1, c.dump());
                    assert.equal(wire[0].message.advice?.reconnect, "none", `advice ${JSON.stringify(wire[0].message.advice)}`);
                    assert.equal(wire[0].message.clientId, undefined, "a refused handshake gives no clientId");
                    await sleep(1000);
                    const sent = c.wire.filter((e) => e.dir === "out").map((e) => e.message.channel);
                    assert.deepEqual(sent, ["/meta/handshake"], `the client retried\n${c.dump()}`);
                    assert.equal(c.cometd.isDisconnected(), true, `status ${c.cometd.getStatus()}`);
                } finally {
                    await c.disconnect();
                }
            });
        }
    });
}
