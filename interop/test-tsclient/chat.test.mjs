// The generated typed client (examples/chat/cometgen.yaml) end to end,
// against the examples/chat server generated from the same spec: typed
// publish and subscribe, remote calls, refusals as rejected promises,
// parameter checks, connection states; and a client generated from a later
// spec (interop/tsclient/chat-v2.yaml, validation on) against that older
// server: what does not match reaches onError, never a handler.
//
// COMETGEN_TS_CLIENT and COMETGEN_TS_CLIENT_V2 are the paths of the two
// clients as JavaScript modules (interop/tsclient_test.go compiles or
// generates them).
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {pathToFileURL} from "node:url";
import {Client, transports, uid, WAIT_MS} from "../lib/harness.mjs";

const chat = await import(pathToFileURL(process.env.COMETGEN_TS_CLIENT).href);
const v2 = await import(pathToFileURL(process.env.COMETGEN_TS_CLIENT_V2).href);

const T = {timeout: 30000};

/** within rejects when promise takes longer than ms. */
function within(promise, what, ms = WAIT_MS) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** eventually waits until cond() is true. */
async function eventually(cond, what, ms = WAIT_MS) {
    const end = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > end) {
            throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        }
        await new Promise((r) => setTimeout(r, 10));
    }
}

/** A typed client of module over a fresh CometD client, with its errors and states. */
function typed(module, transport) {
    const raw = new Client(transport);
    const errors = [];
    const states = [];
    const client = module.createClient(raw.cometd, {onError: (e) => errors.push(e), callTimeout: WAIT_MS});
    client.onConnectionState((s) => states.push(s));
    return {raw, client, errors, states};
}

/** session runs fn with n typed clients of module handshaken as users, then disconnects them. */
async function session(module, transport, users, fn) {
    const sessions = users.map(() => typed(module, transport));
    try {
        for (const [i, s] of sessions.entries()) {
            await within(s.client.handshake({token: users[i]}), `handshake of ${users[i]}`);
        }
        return await fn(...sessions);
    } finally {
        await Promise.allSettled(sessions.map((s) => within(s.client.disconnect(), "disconnect")));
    }
}

const room = () => `r${uid()}`;

for (const transport of transports()) {
    describe(`typed client over ${transport}`, () => {
        test("publish and subscribe typed messages; connection states", T, async () => {
            await session(chat, transport, ["alice", "bob"], async (alice, bob) => {
                await eventually(() => alice.states.includes("connected"), "alice connected");
                const r = room();
                let received;
                const got = new Promise((resolve) => {
                    received = resolve;
                });
                const sub = await bob.client.channels.chatRoom(r).subscribe((data, message) => received({data, message}));
                assert.equal(sub.channel, `/chat/${r}`);
                const reply = await alice.client.channels.chatRoom(r).publish({text: "  hello <b>bob</b>  "});
                assert.equal(reply.successful, true);
                const {data, message} = await within(got, "bob's message");
                assert.equal(message.channel, `/chat/${r}`);
                // The server sets user and runs the spec's filters (trim, no-markup).
                assert.deepEqual(data, {user: "alice", text: "hello &lt;b&gt;bob&lt;/b&gt;"});
                await sub.unsubscribe();
                assert.deepEqual(bob.errors, []);
            });
        });

        test("remote calls resolve with their typed replies", T, async () => {
            await session(chat, transport, ["alice", "bob"], async (alice, bob) => {
                const r = room();
                await alice.client.channels.chatRoom(r).subscribe(() => {});
                const members = await alice.client.channels.serviceMembers.call({room: r});
                assert.deepEqual(members, ["alice"]);

                let inbox;
                const got = new Promise((resolve) => {
                    inbox = resolve;
                });
                await bob.client.channels.privateInbox.subscribe((m) => inbox(m));
                const sent = await alice.client.channels.servicePrivate.call({to: "bob", text: "psst"}, {timeout: 5000});
                assert.deepEqual(sent, {delivered: 1});
                assert.deepEqual(await within(got, "bob's private message"), {from: "alice", to: "bob", text: "psst"});
            });
        });

        test("refusals reject with a ReplyError", T, async () => {
            await session(chat, transport, ["alice"], async (alice) => {
                const r = room();
                const empty = alice.client.channels.chatRoom(r).publish({text: ""});
                await assert.rejects(empty, (e) => {
                    assert.ok(e instanceof chat.ReplyError, `${e} is a ReplyError`);
                    assert.equal(e.channel, `/chat/${r}`);
                    assert.equal(e.reply.successful, false);
                    assert.match(e.reply.error, /^400:/);
                    assert.match(e.message, /text/);
                    return true;
                });
                const call = alice.client.channels.serviceMembers.call({room: "Not A Room"});
                await assert.rejects(call, (e) => e instanceof chat.ReplyError && e.channel === "/service/members");
            });
            const stranger = typed(chat, transport);
            await assert.rejects(stranger.client.handshake({token: "Not A Name"}), (e) => {
                assert.ok(e instanceof chat.ReplyError);
                assert.equal(e.channel, "/meta/handshake");
                assert.match(e.reply.error, /^403:invalid_user_name:/);
                return true;
            });
            await eventually(() => stranger.states.includes("disconnected") || stranger.raw.cometd.isDisconnected(), "refused client stopped");
            stranger.raw.cometd.disconnect();
        });

        test("channel parameters are checked before use", T, async () => {
            const {client} = typed(chat, transport);
            assert.throws(() => client.channels.chatRoom("Not A Room!"), (e) => {
                assert.ok(e instanceof TypeError);
                assert.match(e.message, /\/chat\/\{room\}: parameter room "Not A Room!"/);
                return true;
            });
            assert.throws(() => client.channels.chatRoom("a/b"), /is not a channel segment/);
            assert.throws(() => client.channels.chatRoom(""), /is not a channel segment/);
            assert.equal(client.channels.chatRoom("ok-room").name, "/chat/ok-room");
        });

        test("a throwing handler reaches onError and the next message still arrives", T, async () => {
            await session(chat, transport, ["alice", "bob"], async (alice, bob) => {
                const r = room();
                const seen = [];
                await bob.client.channels.chatRoom(r).subscribe((m) => {
                    seen.push(m.text);
                    if (seen.length === 1) {
                        throw new Error("handler bug");
                    }
                });
                await alice.client.channels.chatRoom(r).publish({text: "one"});
                await alice.client.channels.chatRoom(r).publish({text: "two"});
                await eventually(() => seen.length === 2, "both messages");
                assert.deepEqual(seen, ["one", "two"]);
                assert.equal(bob.errors.length, 1);
                assert.ok(bob.errors[0] instanceof chat.HandlerError);
                assert.equal(bob.errors[0].channel, `/chat/${r}`);
                assert.equal(bob.errors[0].cause.message, "handler bug");
            });
        });

        test("disconnect reports the disconnected state", T, async () => {
            const s = typed(chat, transport);
            await s.client.handshake({token: "carol"});
            await eventually(() => s.states.includes("connected"), "connected");
            await s.client.disconnect();
            assert.equal(s.states.at(-1), "disconnected");
        });

        test("validation: an older server's messages and replies reach onError, not handlers", T, async () => {
            await session(v2, transport, ["alice"], async (alice) => {
                const r = room();
                const handled = [];
                await alice.client.channels.membersRoom(r).subscribe((m) => handled.push(m));
                // Entering the room makes the server publish its member list,
                // without the topic the later spec requires.
                await alice.client.channels.chatRoom(r).subscribe(() => {});
                // The server said at the handshake that its contract breaks
                // this client: without a page to reload, onError heard it.
                const [told] = alice.errors.splice(0, 1);
                assert.ok(told instanceof v2.ContractError, `${told} is a ContractError`);
                assert.deepEqual(told.change.breaking, ["/members/{room}", "/service/members"]);
                await eventually(() => alice.errors.length > 0, "the member list's validation error");
                const [err] = alice.errors;
                assert.ok(err instanceof v2.ValidationError, `${err} is a ValidationError`);
                assert.equal(err.channel, `/members/${r}`);
                assert.ok(err.violations.some((v) => v.includes("topic")), err.violations.join("; "));
                assert.deepEqual(handled, []);

                const call = alice.client.channels.serviceMembers.call({room: r});
                await assert.rejects(call, (e) => e instanceof v2.ValidationError && e.channel === "/service/members");
                assert.equal(alice.errors.length, 2);
                assert.match(alice.errors[1].violations.join(), /\/0/);
            });
        });

        test("validation: an invalid message is refused before it is sent", T, async () => {
            await session(v2, transport, ["alice"], async (alice) => {
                const r = room();
                const sent = () => alice.raw.wire.filter((e) => e.dir === "out" && e.message.channel === `/chat/${r}`).length;
                await assert.rejects(alice.client.channels.chatRoom(r).publish({text: ""}), (e) => {
                    assert.ok(e instanceof v2.ValidationError);
                    assert.match(e.violations.join(), /^\/text: /);
                    return true;
                });
                await assert.rejects(alice.client.channels.serviceMembers.call({}), v2.ValidationError);
                assert.equal(sent(), 0);
                await alice.client.channels.chatRoom(r).publish({text: "fine"});
                assert.equal(sent(), 1);
            });
        });
    });
}
