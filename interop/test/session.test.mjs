// Session lifecycle: after a disconnect the old clientId is dead.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {Client, openWebSockets, rawPost, SERVER_HOST, transports, uid} from "../lib/harness.mjs";

const T = {timeout: 20000};

function connectMessage(clientId, id) {
    return [{id, channel: "/meta/connect", clientId, connectionType: "long-polling", advice: {timeout: 0}}];
}

function assertUnknownSession(res, what) {
    assert.equal(res.status, 200, `${what}: HTTP ${res.status}: ${res.text}`);
    assert.ok(Array.isArray(res.json) && res.json.length >= 1, `${what}: not a JSON array: ${res.text}`);
    const reply = res.json.find((m) => m.channel === "/meta/connect");
    assert.ok(reply, `${what}: no /meta/connect reply in ${res.text}`);
    assert.equal(reply.successful, false, `${what}: ${res.text}`);
    assert.match(String(reply.error), /^402::/, `${what}: error ${JSON.stringify(reply.error)}`);
}

for (const transport of transports()) {
    describe(`session [${transport}]`, () => {
        test("after disconnect() the old clientId is refused (402)", T, async () => {
            const c = new Client(transport);
            let disconnected = false;
            try {
                await c.connect();
                const clientId = c.clientId;
                const cookie = c.jar.header(SERVER_HOST);
                if (transport !== "websocket") {
                    // Control: the same raw request shape is accepted while the session lives.
                    const channel = `/it${uid()}/raw`;
                    const live = await rawPost([{id: "77", channel, clientId, data: {raw: true}}], {cookie});
                    const ack = live.json?.find((m) => m.id === "77");
                    assert.equal(ack?.successful, true, `raw publish with the live clientId: HTTP ${live.status} ${live.text}`);
                }
                const reply = await c.disconnect(8000);
                disconnected = true;
                assert.equal(reply?.successful, true, `disconnect reply ${JSON.stringify(reply)}\n${c.dump()}`);
                const res = await rawPost(connectMessage(clientId, "78"), {cookie});
                assertUnknownSession(res, "raw /meta/connect with the disconnected clientId");
            } finally {
                if (!disconnected) {
                    await c.disconnect();
                }
            }
        });

        test(transport === "websocket" ? "disconnect() closes the WebSocket promptly" : "disconnect() releases the held /meta/connect promptly", T, async () => {
            const before = openWebSockets();
            const c = new Client(transport);
            try {
                await c.connect();
                // Let the client send its next /meta/connect, which the server holds.
                await new Promise((r) => setTimeout(r, 300));
                const reply = await c.disconnect(8000);
                assert.equal(reply?.successful, true, `disconnect reply ${JSON.stringify(reply)}\n${c.dump()}`);
                const connects = c.wire.filter((e) => e.dir === "out" && e.message.channel === "/meta/connect");
                assert.ok(connects.length >= 2, `no held /meta/connect\n${c.dump()}`);
                const held = connects.at(-1).message;
                if (transport !== "websocket") {
                    // Otherwise the long poll occupies an HTTP connection
                    // (browsers allow 6 per host) for up to the server timeout.
                    await c.waitIn((m) => m.channel === "/meta/connect" && m.id === held.id,
                        `reply to the held /meta/connect id=${held.id} after the disconnect`, 3000);
                } else {
                    // The CometD client closes its WebSocket on the disconnect
                    // reply only if the held /meta/connect reply came first.
                    const deadline = Date.now() + 3000;
                    const mine = () => [...openWebSockets()].filter((ws) => !before.has(ws));
                    while (mine().length > 0 && Date.now() < deadline) {
                        await new Promise((r) => setTimeout(r, 50));
                    }
                    assert.equal(mine().length, 0,
                        `the WebSocket is still open 3 s after disconnect (the held /meta/connect reply must precede the /meta/disconnect reply, or the server must close the socket)\n${c.dump()}`);
                }
            } finally {
                await c.disconnect();
            }
        });
    });
}

describe("session [raw HTTP]", () => {
    test("handshake, connect, publish, disconnect, then connect is refused (402)", T, async () => {
        const hs = await rawPost([{
            id: "1", channel: "/meta/handshake", version: "1.0", minimumVersion: "1.0",
            supportedConnectionTypes: ["long-polling"],
        }], {path: "/handshake"});
        assert.equal(hs.status, 200, hs.text);
        const hsReply = hs.json?.[0];
        assert.equal(hsReply?.successful, true, hs.text);
        assert.equal(hsReply.id, "1");
        const clientId = hsReply.clientId;
        const cookie = (hs.headers.getSetCookie?.() ?? []).map((c) => c.split(";")[0]).join("; ");

        const connect = await rawPost(connectMessage(clientId, "2"), {cookie, path: "/connect"});
        const connectReply = connect.json?.find((m) => m.channel === "/meta/connect");
        assert.equal(connectReply?.successful, true, `first connect: HTTP ${connect.status} ${connect.text}`);
        assert.equal(connectReply.id, "2");

        const pub = await rawPost([{id: "3", channel: `/it${uid()}/raw`, clientId, data: {n: 1}}], {cookie});
        assert.equal(pub.json?.find((m) => m.id === "3")?.successful, true, `publish: HTTP ${pub.status} ${pub.text}`);

        const disc = await rawPost([{id: "4", channel: "/meta/disconnect", clientId}], {cookie, path: "/disconnect"});
        const discReply = disc.json?.find((m) => m.channel === "/meta/disconnect");
        assert.equal(discReply?.successful, true, `disconnect: HTTP ${disc.status} ${disc.text}`);
        assert.equal(discReply.id, "4");

        const again = await rawPost(connectMessage(clientId, "5"), {cookie, path: "/connect"});
        assertUnknownSession(again, "connect after disconnect");
    });
});
