// Private inboxes under `cometgen serve --spec spec/cometgen.yaml`:
// /user/{id}/inbox is subscribable by the user whose token's sub is id
// ({self: id}) and written only by the server, here the backend through
// POST /publish.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {Client, transports, uid, WAIT_MS} from "../lib/harness.mjs";
import {backendPublish, signToken, withToken} from "../lib/spec.mjs";

const T = {timeout: 30000};

/** Runs fn(client) with a client of user sub (undefined: anonymous). */
async function asUser(transport, sub, fn) {
    const c = new Client(transport);
    try {
        await c.connect(WAIT_MS, sub === undefined ? undefined : withToken(signToken({sub, roles: ["member"]})));
        return await fn(c);
    } finally {
        await c.disconnect();
    }
}

for (const transport of transports()) {
    describe(`serve --spec: /user/{id}/inbox [${transport}]`, () => {
        test("a user subscribes to their own inbox, not to another's: 403:denied_by_rule:subscribe_denied", T, async () => {
            const alice = `alice-${uid()}`;
            await asUser(transport, alice, async (c) => {
                await c.subscribe(`/user/${alice}/inbox`);
                const {reply} = await c.subscribeReply(`/user/bob-${uid()}/inbox`);
                assert.equal(reply.successful, false, `${JSON.stringify(reply)}\n${c.dump()}`);
                assert.equal(reply.error, "403:denied_by_rule:subscribe_denied", JSON.stringify(reply));
            });
            await asUser(transport, undefined, async (c) => {
                const {reply} = await c.subscribeReply(`/user/${alice}/inbox`);
                assert.equal(reply.successful, false, `anonymous: ${JSON.stringify(reply)}\n${c.dump()}`);
                assert.equal(reply.error, "403:denied_by_rule:subscribe_denied", `anonymous: ${JSON.stringify(reply)}`);
            });
        });

        test("wildcard subscriptions reach no inbox; /chat/* reaches the rooms", T, async () => {
            const alice = `alice-${uid()}`;
            await asUser(transport, alice, async (c) => {
                for (const channel of ["/user/*", "/user/**", `/user/${alice}/*`, "/**"]) {
                    const {reply} = await c.subscribeReply(channel);
                    assert.equal(reply.successful, false, `${channel}: ${JSON.stringify(reply)}\n${c.dump()}`);
                    assert.equal(reply.error, "403:channel_not_declared:subscribe_denied", `${channel}: ${JSON.stringify(reply)}`);
                }
                await c.subscribe("/chat/*");
                const room = `/chat/${uid()}`;
                await c.publish(room, {user: alice, text: "hi"});
                await c.waitIn((m) => m.channel === room && m.data?.text === "hi", "delivery through /chat/*");
            });
        });

        test("clients cannot publish to an inbox, even their own: 403:denied_by_rule:publish_denied", T, async () => {
            const alice = `alice-${uid()}`;
            await asUser(transport, alice, async (c) => {
                const reply = await c.publishReply(`/user/${alice}/inbox`, {text: "note to self"});
                assert.equal(reply.successful, false, `${JSON.stringify(reply)}\n${c.dump()}`);
                assert.equal(reply.error, "403:denied_by_rule:publish_denied", JSON.stringify(reply));
            });
        });

        test("the backend's POST /publish delivers to the user's inbox alone", T, async () => {
            const alice = `alice-${uid()}`;
            const bob = `bob-${uid()}`;
            await asUser(transport, alice, async (a) => {
                await asUser(transport, bob, async (b) => {
                    await a.subscribe(`/user/${alice}/inbox`);
                    await b.subscribe(`/user/${bob}/inbox`);

                    const wrongKey = await backendPublish(`/user/${alice}/inbox`, {text: "forged"}, {key: "not-the-key"});
                    assert.equal(wrongKey.status, 401, wrongKey.text);
                    assert.equal(wrongKey.json?.successful, false, wrongKey.text);

                    const invalid = await backendPublish(`/user/${alice}/inbox`, {txt: "typo"});
                    assert.equal(invalid.status, 400, invalid.text);
                    assert.match(String(invalid.json?.error), /required.*:invalid_message$/, invalid.text);

                    const notice = {text: `welcome ${uid()}`};
                    const ok = await backendPublish(`/user/${alice}/inbox`, notice);
                    assert.equal(ok.status, 200, ok.text);
                    assert.deepEqual(ok.json, {successful: true, deliveries: 1}, ok.text);
                    const got = await a.waitIn((m) => m.channel === `/user/${alice}/inbox` && m.data?.text === notice.text,
                        "the backend's notice");
                    assert.deepEqual(got.data, notice);

                    // Bob's own notice, sent after Alice's, is all Bob gets;
                    // Alice got only hers (the refused ones were not delivered).
                    const mine = {text: `yours ${uid()}`};
                    assert.equal((await backendPublish(`/user/${bob}/inbox`, mine)).status, 200);
                    await b.waitIn((m) => m.data?.text === mine.text, "bob's notice");
                    assert.deepEqual(b.deliveries().map((m) => m.data), [mine], b.dump());
                    assert.deepEqual(a.deliveries().map((m) => m.data), [notice], a.dump());
                });
            });
        });
    });
}
