// Helpers of the serve --spec suite (test-spec/): handshake tokens signed
// like the application's backend would sign them, and the backend publish
// endpoint. Lives outside test-spec/ so that `node --test test-spec/` does
// not run it as a test file.
import {createHmac} from "node:crypto";
import {SERVER_URL, WAIT_MS} from "./harness.mjs";

function required(name, what) {
    const v = process.env[name];
    if (!v) {
        throw new Error(`${name} is not set: ${what} (the same value the server was started with)`);
    }
    return v;
}

/** The HS256 secret of handshake tokens (the server's COMETGEN_JWT_SECRET). */
export const JWT_SECRET = required("COMETGEN_JWT_SECRET", "the HS256 secret of handshake tokens");

/** The key of the backend publish endpoint (the server's COMETGEN_PUBLISH_KEY). */
export const PUBLISH_KEY = required("COMETGEN_PUBLISH_KEY", "the key of the backend publish endpoint");

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/**
 * Returns a JWT (HS256) with claims sub and roles that expires in ttl
 * seconds (negative: already expired), signed with secret.
 */
export function signToken({sub, roles = [], ttl = 600, secret = JWT_SECRET, header = {alg: "HS256", typ: "JWT"}}) {
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64url(header)}.${b64url({sub, roles, iat: now, exp: now + ttl})}`;
    const signature = createHmac("sha256", secret).update(input).digest("base64url");
    return `${input}.${signature}`;
}

/** Handshake properties carrying token in ext.auth.token. */
export const withToken = (token) => ({ext: {auth: {token}}});

/** The URL of the backend publish endpoint, /publish on the server's host. */
export const PUBLISH_URL = new URL("/publish", SERVER_URL).href;

/**
 * POSTs {channel, data} to the backend publish endpoint with the key and
 * returns {status, json, text}.
 */
export async function backendPublish(channel, data, {key = PUBLISH_KEY, ms = WAIT_MS} = {}) {
    const res = await fetch(PUBLISH_URL, {
        method: "POST",
        headers: {"Content-Type": "application/json", Authorization: `Bearer ${key}`},
        body: JSON.stringify({channel, data}),
        signal: AbortSignal.timeout(ms),
    });
    const text = await res.text();
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return {status: res.status, json, text};
}
