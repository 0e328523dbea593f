// Test harness: the official CometD JavaScript client (npm "cometd") running
// in Node.js through its official adapter (npm "cometd-nodejs-client"),
// restricted to exactly one transport per client.
//
// Lives outside test/ so that `node --test test/` does not run it as a test
// file.
import vm from "node:vm";
import http from "node:http";
import https from "node:https";
import {randomBytes} from "node:crypto";
import {EventEmitter} from "node:events";
import {after} from "node:test";
import {adapt} from "cometd-nodejs-client";
import {
    CometD,
    CallbackPollingTransport,
    LongPollingTransport,
    WebSocketTransport,
} from "cometd";

// ---------------------------------------------------------------------------
// Configuration

/** The Bayeux server under test, e.g. http://127.0.0.1:8080/cometd. */
export const SERVER_URL = (() => {
    const url = process.env.COMETGEN_URL;
    if (!url) {
        throw new Error("COMETGEN_URL is not set: point it at a Bayeux server, e.g. http://127.0.0.1:8080/cometd");
    }
    return url;
})();

export const ALL_TRANSPORTS = ["websocket", "long-polling", "callback-polling"];

/**
 * The transports to run the suite with: all three, or the comma-separated
 * list in COMETGEN_TRANSPORTS.
 */
export function transports() {
    const env = process.env.COMETGEN_TRANSPORTS;
    if (!env) {
        return ALL_TRANSPORTS;
    }
    const list = env.split(",").map((s) => s.trim()).filter(Boolean);
    for (const t of list) {
        if (!ALL_TRANSPORTS.includes(t)) {
            throw new Error(`COMETGEN_TRANSPORTS: unknown transport ${t}; known: ${ALL_TRANSPORTS.join(", ")}`);
        }
    }
    return list;
}

/** Default bound for any single wait in the suite, in ms. */
export const WAIT_MS = 8000;

/** Returns a fresh alphanumeric token, for unique channel names. */
export function uid() {
    return randomBytes(6).toString("hex");
}

// ---------------------------------------------------------------------------
// Cookies.
//
// Each Client gets its own cookie jar, like a separate browser, so that
// clients in this process never share a BAYEUX_BROWSER cookie. The adapter
// only knows one global jar; its cookies hooks receive the transport's
// "context" on retrieval only, so the jar is remembered on the request URL
// object (the same object is passed to both hooks).

const JAR = Symbol("cookieJar");

export class CookieJar {
    #hosts = new Map();

    store(host, setCookie) {
        const parts = setCookie.split(";");
        const nameValue = parts[0].trim();
        const eq = nameValue.indexOf("=");
        if (eq <= 0) {
            return;
        }
        const name = nameValue.substring(0, eq);
        let jar = this.#hosts.get(host);
        if (!jar) {
            jar = new Map();
            this.#hosts.set(host, jar);
        }
        const expired = parts.slice(1).some((p) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(p));
        if (expired) {
            jar.delete(name);
        } else {
            jar.set(name, nameValue);
        }
    }

    list(host) {
        return [...(this.#hosts.get(host)?.values() ?? [])];
    }

    header(host) {
        return this.list(host).join("; ");
    }
}

const fallbackJar = new CookieJar();

adapt({
    cookies: {
        retrieveCookies(context, uri, callback) {
            const jar = context?.cookieStore ?? fallbackJar;
            uri[JAR] = jar;
            callback(null, jar.list(uri.hostname));
        },
        storeCookie(uri, header, callback) {
            (uri[JAR] ?? fallbackJar).store(uri.hostname, header);
            callback();
        },
    },
});

// Track the WebSockets that the clients open, so that tests can check that a
// disconnect closes them, and so that a socket a server left open cannot keep
// this process alive after its tests (see the after() hook below).
//
// Each socket also knows the transport that opened it (the transport creates
// it synchronously inside send(), see OwnedWebSocketTransport), so that a test
// can break one client's connection (Client.breakTransport) or lose a frame
// (Client.dropNextResponse).
const liveSockets = new Set();
let wsOpener = null; // the OwnedWebSocketTransport inside send(), if any
{
    const Base = globalThis.window.WebSocket;
    globalThis.window.WebSocket = class TrackedWebSocket extends Base {
        #owner;
        #lost = false; // a frame was dropped: drop the rest, the socket is dead

        constructor(...args) {
            super(...args);
            liveSockets.add(this);
            this.#owner = wsOpener;
            this.#owner?.sockets.add(this);
            this.on("close", () => {
                liveSockets.delete(this);
                this.#owner?.sockets.delete(this);
            });
        }

        emit(event, ...args) {
            if (event === "message") {
                if (this.#lost) {
                    return false;
                }
                if (this.#owner && intercepted(this.#owner, () => JSON.parse(String(args[0])))) {
                    this.#lost = true;
                    this.terminate();
                    return false;
                }
            }
            return super.emit(event, ...args);
        }
    };
}

/**
 * Asks the transport's interceptor (Client.dropNextResponse) whether the
 * payload just received, parse() of it being its messages, must be lost.
 */
function intercepted(transport, parse) {
    const intercept = transport.context?.intercept;
    if (!intercept) {
        return false;
    }
    let messages;
    try {
        messages = [parse()].flat();
    } catch {
        return false;
    }
    return intercept(messages);
}

class OwnedWebSocketTransport extends WebSocketTransport {
    /** The WebSockets this transport opened and that are not closed yet. */
    sockets = new Set();

    send(envelope, metaConnect) {
        const previous = wsOpener;
        wsOpener = this;
        try {
            super.send(envelope, metaConnect);
        } finally {
            wsOpener = previous;
        }
    }

    /** Destroys the TCP connection of every open socket (no close frame). */
    breakConnections() {
        const n = this.sockets.size;
        for (const ws of this.sockets) {
            ws.terminate();
        }
        return n;
    }
}

/**
 * long-polling with a handle on its requests in flight: breakConnections()
 * aborts them (which destroys their TCP connections), and a response can be
 * lost on arrival (Client.dropNextResponse).
 */
class BreakableLongPollingTransport extends LongPollingTransport {
    inflight = new Set();

    xhrSend(packet) {
        const {onSuccess, onError} = packet;
        let xhr;
        packet.onSuccess = (text) => {
            this.inflight.delete(xhr);
            if (intercepted(this, () => JSON.parse(text))) {
                onError("response lost (dropped by the test)");
                return;
            }
            onSuccess(text);
        };
        packet.onError = (...args) => {
            this.inflight.delete(xhr);
            onError(...args);
        };
        xhr = super.xhrSend(packet);
        this.inflight.add(xhr);
        return xhr;
    }

    breakConnections() {
        const list = [...this.inflight];
        this.inflight.clear();
        for (const xhr of list) {
            xhr.abort();
        }
        return list.length;
    }
}

/** The WebSockets opened by clients of this process and not closed yet. */
export function openWebSockets() {
    return new Set(liveSockets);
}

after(() => {
    for (const ws of liveSockets) {
        ws.terminate();
    }
});

// ---------------------------------------------------------------------------
// callback-polling (JSONP) for Node.js.
//
// The stock CallbackPollingTransport appends a <script> element to the page.
// This subclass keeps everything else of the stock transport (URL building,
// batch splitting under maxURILength, response handling) and replaces only
// jsonpSend: it does what a browser does with that <script> element, a GET of
// <url>?jsonp=<callback>&message=<urlencoded JSON>, with the cookies of its
// jar, then evaluates the JavaScript response in a sandbox in which
// <callback> is defined.

const JS_MIME = /^(text|application)\/(x-)?(javascript|ecmascript)\b/i;

export class NodeCallbackPollingTransport extends CallbackPollingTransport {
    #jsonp = 0;
    /** The requests in flight, for breakConnections. */
    inflight = new Set();

    /** Destroys the requests in flight (and their TCP connections). */
    breakConnections() {
        const list = [...this.inflight];
        this.inflight.clear();
        for (const req of list) {
            req.destroy(new Error("connection broken by the test"));
        }
        return list.length;
    }

    jsonpSend(packet) {
        const callbackName = "_cometd_jsonp_" + this.#jsonp++;
        let url = packet.url;
        url += url.indexOf("?") < 0 ? "?" : "&";
        url += "jsonp=" + callbackName;
        url += "&message=" + encodeURIComponent(packet.body);

        const target = new URL(url);
        const jar = this.context?.cookieStore ?? fallbackJar;
        const headers = {Accept: "*/*"};
        for (const [name, value] of Object.entries(packet.headers ?? {})) {
            headers[name] = value;
        }
        const cookie = jar.header(target.hostname);
        if (cookie) {
            headers.Cookie = cookie;
        }
        const lib = target.protocol === "https:" ? https : http;
        let done = false;
        const fail = (reason) => {
            this.inflight.delete(req);
            if (!done) {
                done = true;
                packet.onError(reason);
            }
        };
        const req = lib.request(target, {method: "GET", headers}, (res) => {
            for (const sc of [res.headers["set-cookie"] ?? []].flat()) {
                jar.store(target.hostname, sc);
            }
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("error", (e) => fail("jsonp " + e.message));
            res.on("end", () => {
                if (done) {
                    return;
                }
                const text = Buffer.concat(chunks).toString("utf8");
                // A browser fires the script's onerror for a failed HTTP
                // status, and (with nosniff) for a non-JavaScript MIME type.
                if (res.statusCode !== 200) {
                    fail(`jsonp HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
                    return;
                }
                const type = res.headers["content-type"] ?? "";
                if (/nosniff/i.test(res.headers["x-content-type-options"] ?? "") && !JS_MIME.test(type)) {
                    fail(`jsonp refused: Content-Type ${JSON.stringify(type)} with nosniff`);
                    return;
                }
                this.lastContentType = type;
                let called = false;
                let argument;
                const sandbox = {
                    [callbackName]: (value) => {
                        called = true;
                        argument = value;
                    },
                };
                try {
                    vm.runInNewContext(text, sandbox, {timeout: 1000, filename: url.slice(0, 120)});
                } catch (x) {
                    fail(`jsonp script error: ${x.message}; body: ${text.slice(0, 200)}`);
                    return;
                }
                if (!called) {
                    fail(`jsonp callback ${callbackName} not invoked; body: ${text.slice(0, 200)}`);
                    return;
                }
                done = true;
                this.inflight.delete(req);
                // Bring the value from the sandbox realm into this realm.
                const value = typeof argument === "string" ? argument : structuredClone(argument);
                if (intercepted(this, () => typeof value === "string" ? JSON.parse(value) : value)) {
                    packet.onError("jsonp response lost (dropped by the test)");
                    return;
                }
                packet.onSuccess(value);
            });
        });
        this.inflight.add(req);
        req.on("error", (e) => fail("jsonp " + e.message));
        req.setTimeout(120000, () => req.destroy(new Error("request timeout")));
        req.end();
    }
}

// ---------------------------------------------------------------------------
// Client: one CometD instance with exactly one transport, a wire recorder and
// promise-returning helpers.

function newTransport(type, jar) {
    let t;
    switch (type) {
        case "websocket":
            t = new OwnedWebSocketTransport();
            break;
        case "long-polling":
            t = new BreakableLongPollingTransport();
            break;
        case "callback-polling":
            t = new NodeCallbackPollingTransport();
            break;
        default:
            throw new Error("unknown transport " + type);
    }
    t.context = {cookieStore: jar};
    return t;
}

function withTimeout(promise, ms, what, onTimeout) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => {
            reject(new Error(`timed out after ${ms} ms waiting for ${what}${onTimeout ? "\n" + onTimeout() : ""}`));
        }, ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let clientCounter = 0;

export class Client {
    /**
     * @param transport one of ALL_TRANSPORTS; the only transport registered.
     * @param config extra CometD configuration.
     */
    constructor(transport, config = {}) {
        this.transportType = transport;
        this.name = `${transport}#${++clientCounter}`;
        this.jar = new CookieJar();
        this.cometd = new CometD(this.name);
        this.cometd.unregisterTransports();
        this.transport = newTransport(transport, this.jar);
        if (!this.cometd.registerTransport(transport, this.transport)) {
            throw new Error("could not register transport " + transport);
        }
        this.cometd.configure({
            url: SERVER_URL,
            logLevel: "warn",
            maxNetworkDelay: 10000,
            ...config,
        });
        /** Every message sent and received, in order: {dir: "in"|"out", at, message}. */
        this.wire = [];
        this.events = new EventEmitter();
        this.events.setMaxListeners(0);
        this.cometd.registerExtension("wire-recorder", {
            incoming: (message) => {
                this.#record("in", message);
                return message;
            },
            outgoing: (message) => {
                this.#record("out", message);
                return message;
            },
        });
    }

    #record(dir, message) {
        const entry = {dir, at: Date.now(), message: structuredClone(message)};
        this.wire.push(entry);
        this.events.emit(dir, entry.message);
    }

    /** Received messages that carry data: the deliveries (events). */
    deliveries(filter = () => true) {
        return this.wire
            .filter((e) => e.dir === "in" && e.message.data !== undefined && filter(e.message))
            .map((e) => e.message);
    }

    /** The last n wire entries, formatted for an assertion message. */
    dump(n = 25) {
        const tail = this.wire.slice(-n);
        const lines = tail.map((e) => `  ${e.dir === "in" ? "<-" : "->"} ${truncate(JSON.stringify(e.message), 400)}`);
        const skipped = this.wire.length - tail.length;
        return `wire of ${this.name} (${this.wire.length} messages${skipped ? `, last ${tail.length} shown` : ""}):\n${lines.join("\n")}`;
    }

    /**
     * Resolves with the first received message (already seen or future) for
     * which pred is true; rejects after ms.
     */
    waitIn(pred, what, ms = WAIT_MS) {
        const seen = this.wire.find((e) => e.dir === "in" && pred(e.message));
        if (seen) {
            return Promise.resolve(seen.message);
        }
        let listener;
        const p = new Promise((resolve) => {
            listener = (m) => {
                if (pred(m)) {
                    resolve(m);
                }
            };
            this.events.on("in", listener);
        });
        return withTimeout(p, ms, `${what} on ${this.name}`, () => this.dump()).finally(() => {
            this.events.off("in", listener);
        });
    }

    /**
     * Handshakes and resolves with the handshake reply once the first
     * /meta/connect has succeeded too (the client is then connected).
     */
    async connect(ms = WAIT_MS, handshakeProps = undefined) {
        const connected = new Promise((resolve, reject) => {
            const sub = this.cometd.addListener("/meta/connect", (m) => {
                if (m.successful) {
                    this.cometd.removeListener(sub);
                    resolve(m);
                }
            });
            this.cometd.addListener("/meta/handshake", (m) => {
                if (!m.successful) {
                    reject(new Error(`handshake failed: ${JSON.stringify(m)}\n${this.dump()}`));
                }
            });
        });
        const handshake = new Promise((resolve, reject) => {
            this.cometd.handshake(handshakeProps, (reply) => {
                if (reply.successful) {
                    resolve(reply);
                } else {
                    reject(new Error(`handshake failed: ${truncate(JSON.stringify(reply), 600)}\n${this.dump()}`));
                }
            });
        });
        // Do not let an early rejection of `connected` go unhandled.
        connected.catch(() => {});
        const reply = await withTimeout(handshake, ms, `handshake of ${this.name}`, () => this.dump());
        await withTimeout(connected, ms, `first successful /meta/connect of ${this.name}`, () => this.dump());
        return reply;
    }

    /** Subscribes; resolves with the subscribe reply, whatever its outcome. */
    subscribeReply(channel, onMessage = () => {}, ms = WAIT_MS) {
        let handle;
        const p = new Promise((resolve) => {
            handle = this.cometd.subscribe(channel, onMessage, resolve);
        });
        return withTimeout(p, ms, `subscribe reply for ${channel} on ${this.name}`, () => this.dump())
            .then((reply) => ({reply, handle}));
    }

    /** Subscribes and requires success; resolves with the handle. */
    async subscribe(channel, onMessage = () => {}, ms = WAIT_MS) {
        const {reply, handle} = await this.subscribeReply(channel, onMessage, ms);
        if (!reply.successful) {
            throw new Error(`subscribe to ${channel} failed: ${JSON.stringify(reply)}\n${this.dump()}`);
        }
        return handle;
    }

    /** Unsubscribes and requires success. */
    async unsubscribe(handle, ms = WAIT_MS) {
        const p = new Promise((resolve) => this.cometd.unsubscribe(handle, resolve));
        const reply = await withTimeout(p, ms, `unsubscribe reply for ${handle.channel} on ${this.name}`, () => this.dump());
        if (!reply.successful) {
            throw new Error(`unsubscribe from ${handle.channel} failed: ${JSON.stringify(reply)}\n${this.dump()}`);
        }
        return reply;
    }

    /** Publishes; resolves with the publish reply, whatever its outcome. */
    publishReply(channel, data, ms = WAIT_MS) {
        const p = new Promise((resolve) => this.cometd.publish(channel, data, resolve));
        return withTimeout(p, ms, `publish reply for ${channel} on ${this.name}`, () => this.dump());
    }

    /** Publishes and requires a successful reply. */
    async publish(channel, data, ms = WAIT_MS) {
        const reply = await this.publishReply(channel, data, ms);
        if (!reply.successful) {
            throw new Error(`publish to ${channel} failed: ${truncate(JSON.stringify(reply), 600)}\n${this.dump()}`);
        }
        return reply;
    }

    /**
     * Sends a raw message through this client's transport (the client adds
     * clientId) and resolves with the server's reply to it: the received
     * message with the same id.
     */
    sendRaw(message, ms = WAIT_MS) {
        const id = message.id ?? String(900000 + Math.floor(Math.random() * 99999));
        const msg = {...message, id};
        const p = this.waitIn((m) => m.id === id && m.data === undefined, `reply to raw ${msg.channel} id=${id}`, ms);
        this.cometd.send(msg);
        return p;
    }

    /**
     * Makes a remote call (cometd.remoteCall: a publish on /service<target>)
     * and resolves with the message its callback receives: the server's
     * reply, or the client's own failure (406::timeout after timeout ms).
     * Rejects if the callback is not called within timeout + ms.
     */
    remoteCall(target, data, timeout = WAIT_MS, ms = WAIT_MS) {
        const p = new Promise((resolve) => this.cometd.remoteCall(target, data, timeout, resolve));
        return withTimeout(p, timeout + ms, `remote call ${target} on ${this.name}`, () => this.dump());
    }

    /**
     * Forcibly breaks this client's connections to the server, as a network
     * failure would: websocket destroys the TCP connection of its socket (no
     * close frame); long-polling and callback-polling abort their requests
     * in flight, destroying their TCP connections. Returns how many
     * connections or requests were broken. The client notices and recovers
     * on its own.
     */
    breakTransport() {
        return this.transport.breakConnections();
    }

    /**
     * Arms a one-shot loss: the next payload (websocket frame, HTTP
     * response, JSONP answer) that this client receives and whose messages
     * satisfy pred is lost, as if the connection had died while it was in
     * flight: the websocket is destroyed with everything behind it; the HTTP
     * request fails. Resolves with the lost messages. One loss at a time.
     */
    dropNextResponse(pred) {
        if (this.transport.context.intercept) {
            throw new Error(`${this.name}: a loss is already armed`);
        }
        return new Promise((resolve) => {
            this.transport.context.intercept = (messages) => {
                if (!pred(messages)) {
                    return false;
                }
                delete this.transport.context.intercept;
                resolve(messages);
                return true;
            };
        });
    }

    /** Disconnects; resolves with the disconnect reply (or undefined on timeout). */
    async disconnect(ms = 3000) {
        if (this.cometd.isDisconnected()) {
            return undefined;
        }
        const p = new Promise((resolve) => this.cometd.disconnect(resolve));
        try {
            return await withTimeout(p, ms, `disconnect of ${this.name}`);
        } catch {
            return undefined;
        }
    }

    get clientId() {
        return this.cometd.getClientId();
    }
}

/** Disconnects every client, ignoring failures: for after()/finally. */
export async function disconnectAll(clients) {
    await Promise.allSettled(clients.map((c) => c.disconnect()));
}

/**
 * Creates n connected clients for one transport and runs fn(...clients),
 * always disconnecting them afterwards.
 */
export async function withClients(transport, n, fn, config) {
    const clients = [];
    try {
        for (let i = 0; i < n; i++) {
            const c = new Client(transport, config);
            clients.push(c);
            await c.connect();
        }
        return await fn(...clients);
    } finally {
        await disconnectAll(clients);
    }
}

// ---------------------------------------------------------------------------
// Raw HTTP.

/**
 * POSTs a JSON body to the server (long-polling framing) and returns
 * {status, headers, text, json}.
 */
export async function rawPost(body, {cookie, path = "", ms = WAIT_MS} = {}) {
    const headers = {"Content-Type": "application/json;charset=UTF-8"};
    if (cookie) {
        headers.Cookie = cookie;
    }
    const res = await fetch(SERVER_URL + path, {
        method: "POST",
        headers,
        body: typeof body === "string" ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(ms),
    });
    const text = await res.text();
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return {status: res.status, headers: res.headers, text, json};
}

export function truncate(s, n) {
    return s.length > n ? s.slice(0, n) + `…(${s.length} chars)` : s;
}

/** Host name of the server, for cookie jar look-ups. */
export const SERVER_HOST = new URL(SERVER_URL).hostname;
