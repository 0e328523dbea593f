// A minimal Faye Bayeux server, used as a reference server when developing
// the interop suite and as the comparison target of the benchmarks.
//
// Usage: node faye/server.mjs [PORT]   (or PORT=... node faye/server.mjs)
// Port 0 (the default) picks a free port. It binds 127.0.0.1 only and prints
// exactly one line when ready:
//
//   faye: serving Bayeux at http://127.0.0.1:PORT/cometd
//
// SIGINT and SIGTERM close the server and exit with status 0.
import http from "node:http";
import faye from "faye";

const arg = process.argv[2] ?? process.env.PORT ?? "0";
const port = Number.parseInt(arg, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535 || String(port) !== arg.trim()) {
    console.error(`faye: invalid port ${JSON.stringify(arg)}`);
    process.exit(2);
}

const bayeux = new faye.NodeAdapter({mount: "/cometd", timeout: 20});
const server = http.createServer((req, res) => {
    res.writeHead(404, {"Content-Type": "text/plain"});
    res.end("not found\n");
});
bayeux.attach(server);

server.on("error", (err) => {
    console.error(`faye: ${err.message}`);
    process.exit(1);
});

server.listen(port, "127.0.0.1", () => {
    const {port: bound} = server.address();
    console.log(`faye: serving Bayeux at http://127.0.0.1:${bound}/cometd`);
});

let stopping = false;
function stop(signal) {
    if (stopping) {
        return;
    }
    stopping = true;
    console.error(`faye: ${signal}, shutting down`);
    // Long polls and WebSockets keep connections open: close() alone would
    // wait for them, so drop them after a short grace period.
    const force = setTimeout(() => process.exit(0), 1000);
    force.unref();
    server.closeAllConnections?.();
    server.close(() => process.exit(0));
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
