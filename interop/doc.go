// Package interop holds the interoperability suite of cometgen: the official
// CometD JavaScript client (npm "cometd", run in Node.js through
// "cometd-nodejs-client") against `cometgen serve`, once per transport
// (websocket, long-polling, callback-polling).
//
// The suite itself is in test/*.test.mjs (node:test); interop_test.go builds
// cometgen, starts a server and runs it, so `go test ./...` covers it once
// `npm ci --prefix interop` has installed the Node packages. To run it by
// hand against any Bayeux server:
//
//	COMETGEN_URL=http://127.0.0.1:PORT/cometd npm test --prefix interop
//
// faye/server.mjs is a minimal Faye server used as a reference server and by
// the benchmarks. Package servetest starts cometgen servers for Go tests.
package interop
