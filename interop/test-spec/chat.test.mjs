// Publishing under `cometgen serve --spec spec/cometgen.yaml`: /chat/{room}
// takes ChatMessage ({user, text}, both required, with length limits) from
// sessions with role member; anyone may subscribe.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {Client, disconnectAll, transports, uid, WAIT_MS} from "../lib/harness.mjs";
import {signToken, withToken} from "../lib/spec.mjs";

const T = {timeout: 30000};

/**
 * Connects one client per entry of tokens (undefined: anonymous) and runs
 * fn(...clients), always disconnecting them afterwards.
 */
async function withSessions(transport, tokens, fn) {
    const clients = [];
    try {
        for (const token of tokens) {
            const c = new Client(transport);
            clients.push(c);
            await c.connect(WAIT_MS, token === undefined ? undefined : withToken(token));
        }
        return await fn(...clients);
    } finally {
        await disconnectAll(clients);
    }
}

const member = (sub) => signToken({sub, roles: ["member"]});

/**
 * Has member publish a valid marker on channel and requires that each of
 * readers (subscribed to channel) then has received exactly the messages of
 * want (data) on channel, in order, ending with the marker: anything
 * refused before the marker was not delivered.
 */
async function expectOnly(member, readers, channel, want) {
    const marker = {user: "marker", text: `marker ${uid()}`};
    await member.publish(channel, marker);
    for (const reader of readers) {
        await reader.waitIn((m) => m.channel === channel && m.data?.text === marker.text, `the marker on ${channel}`);
        const got = reader.deliveries((m) => m.channel === channel).map((m) => m.data);
        assert.deepEqual(got, [...want, marker], `deliveries on ${channel}\n${reader.dump()}`);
    }
}

for (const transport of transports()) {
    describe(`serve --spec: /chat/{room} [${transport}]`, () => {
        test("a member's valid message is delivered to another client", T, async () => {
            await withSessions(transport, [member("alice"), undefined], async (alice, reader) => {
                const channel = `/chat/${uid()}`;
                const received = [];
                await reader.subscribe(channel, (m) => received.push(m.data));
                const message = {user: "alice", text: "hello, room"};
                const reply = await alice.publish(channel, message);
                assert.equal(reply.successful, true, JSON.stringify(reply));
                await reader.waitIn((m) => m.channel === channel && m.data?.text === message.text, "the valid message");
                assert.deepEqual(received, [message], reader.dump());
            });
        });

        test("an invalid message is refused with the field and the rule, and not delivered", T, async () => {
            await withSessions(transport, [member("alice"), undefined], async (alice, reader) => {
                const channel = `/chat/${uid()}`;
                await reader.subscribe(channel);
                const cases = [
                    {data: {user: "alice", text: "x".repeat(201)}, field: "/text", rule: "maxLength",
                        exact: "400:/text maxLength got 201; want at most 200:invalid_message"},
                    {data: {user: "a".repeat(33), text: "hi"}, field: "/user", rule: "maxLength"},
                    {data: {user: "alice", text: ""}, field: "/text", rule: "minLength"},
                    {data: {text: "who am I?"}, field: "user", rule: "required",
                        exact: "400:(root) required missing properties 'user':invalid_message"},
                    {data: {user: "alice", text: 42}, field: "/text", rule: "type"},
                    {data: "not an object", field: "", rule: "type"},
                ];
                for (const {data, field, rule, exact} of cases) {
                    const what = JSON.stringify(data).slice(0, 60);
                    const reply = await alice.publishReply(channel, data);
                    assert.equal(reply.successful, false, `${what}: ${JSON.stringify(reply)}\n${alice.dump()}`);
                    const error = String(reply.error);
                    assert.match(error, /^400:/, `${what}: ${error}`);
                    assert.ok(error.endsWith(":invalid_message"), `${what}: ${error}`);
                    assert.ok(error.includes(field), `${what}: ${error} does not name ${field}`);
                    assert.ok(error.includes(rule), `${what}: ${error} does not name ${rule}`);
                    if (exact) {
                        assert.equal(error, exact, what);
                    }
                }
                await expectOnly(alice, [reader], channel, []);
            });
        });

        test("a room name that breaks its pattern is refused: 400 invalid_channel", T, async () => {
            await withSessions(transport, [member("alice")], async (alice) => {
                const reply = await alice.publishReply("/chat/Not_A_Room", {user: "alice", text: "hi"});
                assert.equal(reply.successful, false, `${JSON.stringify(reply)}\n${alice.dump()}`);
                assert.match(String(reply.error), /^400:room "[^"]+" does not match its pattern:invalid_channel$/, JSON.stringify(reply));
            });
        });

        test("sessions without role member cannot publish: 403:denied_by_rule:publish_denied", T, async () => {
            const noRole = signToken({sub: "bob", roles: []});
            await withSessions(transport, [member("alice"), undefined, undefined, noRole], async (alice, reader, anon, bob) => {
                const channel = `/chat/${uid()}`;
                await reader.subscribe(channel);
                for (const [who, c] of [["anonymous", anon], ["bob (no roles)", bob]]) {
                    const reply = await c.publishReply(channel, {user: "eve", text: "let me in"});
                    assert.equal(reply.successful, false, `${who}: ${JSON.stringify(reply)}\n${c.dump()}`);
                    assert.equal(reply.error, "403:denied_by_rule:publish_denied", `${who}: ${JSON.stringify(reply)}`);
                }
                // Reading is open to anyone.
                await anon.subscribe(channel);
                await expectOnly(alice, [reader, anon], channel, []);
            });
        });

        test("undeclared channels are refused: 403:channel_not_declared", T, async () => {
            await withSessions(transport, [member("alice")], async (alice) => {
                for (const channel of [`/elsewhere/${uid()}`, `/chat/${uid()}/deeper`]) {
                    const {reply} = await alice.subscribeReply(channel);
                    assert.equal(reply.successful, false, `${channel}: ${JSON.stringify(reply)}\n${alice.dump()}`);
                    assert.equal(reply.error, "403:channel_not_declared:subscribe_denied", `${channel}: ${JSON.stringify(reply)}`);
                    const pub = await alice.publishReply(channel, {user: "alice", text: "hi"});
                    assert.equal(pub.successful, false, `${channel}: ${JSON.stringify(pub)}\n${alice.dump()}`);
                    assert.equal(pub.error, "403:channel_not_declared:publish_denied", `${channel}: ${JSON.stringify(pub)}`);
                }
            });
        });
    });
}
