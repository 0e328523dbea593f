// SecurityPolicy (handshake authentication from ext credentials, SetUser)
// and authorizers (Grant/Deny), against interop/apiserver.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {Client, transports, uid, withClients, WAIT_MS} from "../lib/harness.mjs";

const T = {timeout: 20000};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const auth = (token) => ({ext: {auth: {token}}});

/** Runs fn with a client connected with the token (or anonymous). */
async function withUser(transport, token, fn) {
    const c = new Client(transport);
    try {
        await c.connect(WAIT_MS, token === undefined ? undefined : auth(token));
        return await fn(c);
    } finally {
        await c.disconnect();
    }
}

for (const transport of transports()) {
    describe(`handshake authentication [${transport}]`, () => {
        test("a token the policy accepts gives the session its user and roles", T, async () => {
            for (const [token, want] of [
                ["alice", {user: "alice", roles: ["member"]}],
                ["mod", {user: "mod", roles: ["moderator"]}],
                [undefined, {user: "", roles: []}],
            ]) {
                await withUser(transport, token, async (c) => {
                    const reply = await c.remoteCall("/whoami", {}, 5000);
                    assert.equal(reply.successful, true, `${token}: ${JSON.stringify(reply)}\n${c.dump()}`);
                    assert.deepEqual(reply.data, want, `identity of a session with token ${token}`);
                });
            }
        });

        test("bad credentials: 403:bad_credentials:handshake_denied, reconnect none, and no retry", T, async () => {
            const c = new Client(transport);
            try {
                const failures = [];
                c.cometd.addListener("/meta/unsuccessful", (m) => failures.push(m));
                const reply = await new Promise((resolve, reject) => {
                    const timer = setTimeout(() => reject(new Error(`no handshake reply\n${c.dump()}`)), WAIT_MS);
                    c.cometd.handshake(auth("mallory"), (m) => {
                        clearTimeout(timer);
                        resolve(m);
                    });
                });
                assert.equal(reply.successful, false, `${JSON.stringify(reply)}\n${c.dump()}`);
                assert.equal(reply.error, "403:bad_credentials:handshake_denied", JSON.stringify(reply));
                // What the server sent, before the client's own processing.
                const wire = c.wire.filter((e) => e.dir === "in" && e.message.channel === "/meta/handshake");
                assert.equal(wire.length, 1, c.dump());
                assert.equal(wire[0].message.advice?.reconnect, "none", `advice ${JSON.stringify(wire[0].message.advice)}`);
                assert.equal(wire[0].message.clientId, undefined, "a refused handshake gives no clientId");
                // The client obeys: no further handshake (nor anything else).
                await sleep(2000);
                const sent = c.wire.filter((e) => e.dir === "out").map((e) => e.message.channel);
                assert.deepEqual(sent, ["/meta/handshake"], `the client retried\n${c.dump()}`);
                assert.equal(c.cometd.isDisconnected(), true, `status ${c.cometd.getStatus()}`);
            } finally {
                await c.disconnect();
            }
        });

        test("an auth ext without a token is bad credentials too", T, async () => {
            const c = new Client(transport);
            try {
                const reply = await new Promise((resolve) => c.cometd.handshake({ext: {auth: {}}}, resolve));
                assert.equal(reply.successful, false, JSON.stringify(reply));
                assert.equal(reply.error, "403:bad_credentials:handshake_denied", JSON.stringify(reply));
            } finally {
                await c.disconnect();
            }
        });
    });

    describe(`authorizer on /members/** [${transport}]`, () => {
        test("a session without role member cannot subscribe: 403:members_only", T, async () => {
            for (const token of [undefined, "mod"]) {
                await withUser(transport, token, async (c) => {
                    // A channel nobody has created yet: its creation is refused.
                    const channel = `/members/${uid()}`;
                    const {reply} = await c.subscribeReply(channel);
                    assert.equal(reply.successful, false, `${token}: ${JSON.stringify(reply)}\n${c.dump()}`);
                    assert.equal(reply.error, "403:members_only:create_denied", `${token}: ${JSON.stringify(reply)}`);
                });
            }
            // A channel a member has created: the subscription is refused.
            const channel = `/members/${uid()}`;
            await withUser(transport, "alice", async (alice) => {
                await alice.subscribe(channel);
                for (const token of [undefined, "mod"]) {
                    await withUser(transport, token, async (c) => {
                        const {reply} = await c.subscribeReply(channel);
                        assert.equal(reply.successful, false, `${token}: ${JSON.stringify(reply)}\n${c.dump()}`);
                        assert.equal(reply.error, "403:members_only:subscribe_denied", `${token}: ${JSON.stringify(reply)}`);
                    });
                }
            });
        });

        test("a session without role member cannot publish: 403:members_only, and nobody receives it", T, async () => {
            const channel = `/members/${uid()}`;
            const member = new Client(transport);
            try {
                await member.connect(WAIT_MS, auth("alice"));
                await member.subscribe(channel);
                for (const token of [undefined, "mod"]) {
                    await withUser(transport, token, async (c) => {
                        const reply = await c.publishReply(channel, {from: token ?? "anonymous"});
                        assert.equal(reply.successful, false, `${token}: ${JSON.stringify(reply)}\n${c.dump()}`);
                        assert.equal(reply.error, "403:members_only:publish_denied", `${token}: ${JSON.stringify(reply)}`);
                    });
                }
                // The member's own publish comes after the refused ones.
                await member.publish(channel, {from: "alice"});
                await member.waitIn((m) => m.channel === channel && m.data?.from === "alice", "the member's message");
                assert.deepEqual(member.deliveries((m) => m.channel === channel).map((m) => m.data.from), ["alice"],
                    member.dump());
            } finally {
                await member.disconnect();
            }
        });

        test("a member subscribes, publishes and receives", T, async () => {
            const channel = `/members/${uid()}/room`;
            const alice = new Client(transport);
            const alice2 = new Client(transport);
            try {
                await alice.connect(WAIT_MS, auth("alice"));
                await alice2.connect(WAIT_MS, auth("alice"));
                await alice.subscribe(channel);
                await alice2.subscribe("/members/**");
                const reply = await alice.publish(channel, {hello: "members"});
                assert.equal(reply.successful, true);
                await alice.waitIn((m) => m.channel === channel && m.data?.hello === "members", "delivery to alice");
                await alice2.waitIn((m) => m.channel === channel && m.data?.hello === "members", "delivery to alice2 (/members/**)");
            } finally {
                await alice.disconnect();
                await alice2.disconnect();
            }
        });

        test("anonymous sessions still use other channels", T, async () => {
            await withClients(transport, 1, async (c) => {
                const channel = `/open/${uid()}`;
                await c.subscribe(channel);
                await c.publish(channel, {ok: 1});
                await c.waitIn((m) => m.channel === channel && m.data?.ok === 1, "delivery on an open channel");
            });
        });
    });
}
