// Data filters on /filtered/** (filter.Trim, filter.NoMarkup and
// filter.MaxLength(20) on the path "text"), against interop/apiserver.
import {describe, test} from "node:test";
import assert from "node:assert/strict";
import {transports, uid, withClients} from "../lib/harness.mjs";

const T = {timeout: 20000};

for (const transport of transports()) {
    describe(`data filters [${transport}]`, () => {
        test("text is trimmed and its markup escaped before delivery", T, async () => {
            await withClients(transport, 2, async (sub, pub) => {
                const channel = `/filtered/${uid()}`;
                await sub.subscribe(channel);
                const reply = await pub.publishReply(channel, {text: "  <b>hi</b> ", other: "  <i>untouched</i> "});
                assert.equal(reply.successful, true, `${JSON.stringify(reply)}\n${pub.dump()}`);
                const m = await sub.waitIn((x) => x.channel === channel && x.data !== undefined, "the filtered message");
                assert.equal(m.data.text, "&lt;b&gt;hi&lt;/b&gt;", `${JSON.stringify(m)}`);
                assert.equal(m.data.other, "  <i>untouched</i> ", "a path the filters do not name is left alone");
            });
        });

        test("a text longer than 20 characters is refused: data_rejected with the reason; nobody receives it", T, async () => {
            await withClients(transport, 2, async (sub, pub) => {
                const channel = `/filtered/${uid()}`;
                await sub.subscribe(channel);
                const long = "x".repeat(30);
                const reply = await pub.publishReply(channel, {text: long, seq: 1});
                assert.equal(reply.successful, false, `${JSON.stringify(reply)}\n${pub.dump()}`);
                assert.match(String(reply.error), /data_rejected/, JSON.stringify(reply));
                assert.match(String(reply.error), /text is longer than 20 characters/, JSON.stringify(reply));
                assert.match(String(reply.error), /^400:/, JSON.stringify(reply));
                // Exactly 20 characters after trimming passes; it follows the refused one.
                const ok = await pub.publishReply(channel, {text: `  ${"y".repeat(20)}  `, seq: 2});
                assert.equal(ok.successful, true, JSON.stringify(ok));
                await sub.waitIn((m) => m.channel === channel && m.data?.seq === 2, "the accepted message");
                assert.deepEqual(sub.deliveries((m) => m.channel === channel).map((m) => m.data),
                    [{text: "y".repeat(20), seq: 2}], sub.dump());
            });
        });
    });
}
