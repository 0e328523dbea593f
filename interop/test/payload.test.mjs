// Payload fidelity: large and unicode payloads arrive exactly as published.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {randomBytes} from "node:crypto";
import {Client, disconnectAll, transports, uid} from "../lib/harness.mjs";

const T = {timeout: 30000};

// The JS client refuses to send a message above maxSendBayeuxMessageSize
// (8 KiB by default): raise it for the large-payload test.
const BIG = {maxSendBayeuxMessageSize: 1 << 20};

/**
 * Publishes data from one client to another and returns what the receiver
 * got (on the wire and in the subscription callback).
 * pubTransport may differ from subTransport (see the 64 KiB test).
 */
async function roundTrip(subTransport, pubTransport, data, config) {
    const channel = `/it${uid()}/payload`;
    const sub = new Client(subTransport, config);
    const pub = new Client(pubTransport, config);
    try {
        await sub.connect();
        await pub.connect();
        let viaCallback;
        await sub.subscribe(channel, (m) => {
            viaCallback = m.data;
        });
        await pub.publish(channel, data, 15000);
        const m = await sub.waitIn((m) => m.channel === channel && m.data !== undefined, "payload delivery", 15000);
        return {wire: m.data, viaCallback};
    } finally {
        await disconnectAll([sub, pub]);
    }
}

function firstDifference(a, b) {
    const sa = JSON.stringify(a);
    const sb = JSON.stringify(b);
    let i = 0;
    while (i < sa.length && sa[i] === sb[i]) {
        i++;
    }
    return `first difference at JSON offset ${i}: got ${JSON.stringify(sa.slice(i, i + 40))}, want ${JSON.stringify(sb.slice(i, i + 40))} (lengths ${sa.length} vs ${sb.length})`;
}

const UNICODE = {
    emoji: "😀 👍🏽 🇺🇳 👩‍👩‍👧‍👦",
    cjk: "漢字 かな カナ 한국어 中文",
    rtl: "مرحبا بالعالم — שלום עולם",
    control: "\u0000\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f\u007f",
    separators: "\u2028\u2029\u0085\u00a0",
    quoting: "\"quoted\" 'single' back\\slash /slash/ </script><!-- -->",
    combining: "e\u0301 n\u0303 A\u030a",
    bom: "\ufeffafter-bom",
    astral: "𝄞 𐍈 🀄",
    ["ключ 🔑"]: "unicode key",
    nested: ["ünïcödé", {"日本": "語"}],
};

for (const transport of transports()) {
    describe(`payloads [${transport}]`, () => {
        // A JSONP request carries its messages in the URL: a 64 KiB message
        // cannot be sent over callback-polling, so for that transport the
        // publisher uses long-polling and callback-polling carries it to the
        // receiver.
        const pubTransport = transport === "callback-polling" ? "long-polling" : transport;
        test(`a 64 KiB payload round-trips intact (published over ${pubTransport})`, T, async () => {
            const blob = randomBytes(48 * 1024).toString("base64"); // 65536 characters
            assert.equal(blob.length, 65536);
            const data = {
                blob,
                numbers: [0, -1, 3.25, 9007199254740991, -9007199254740991, 1e-7, 6.02214076e23],
                flags: [true, false, null],
                nested: {a: {b: {c: [1, [2, [3]]]}}, empty: {}, none: []},
            };
            const {wire, viaCallback} = await roundTrip(transport, pubTransport, data, BIG);
            if (JSON.stringify(wire) !== JSON.stringify(data)) {
                assert.deepEqual(wire, data, firstDifference(wire, data));
            }
            assert.deepEqual(viaCallback, data);
        });

        test("unicode (emoji, CJK, RTL, escaped control characters) round-trips intact", T, async () => {
            const {wire, viaCallback} = await roundTrip(transport, transport, UNICODE);
            assert.deepEqual(wire, UNICODE, firstDifference(wire, UNICODE));
            assert.deepEqual(viaCallback, UNICODE);
        });
    });
}
