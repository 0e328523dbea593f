package interop_test

import (
	"testing"
	"time"

	"github.com/cometgen/cometgen/interop/servetest"
)

// apiServerPackage is the Bayeux server of the application API suite.
const apiServerPackage = "github.com/cometgen/cometgen/interop/apiserver"

// apiNodeTimeout bounds one run of the application API suite (one
// transport): its slowest tests wait on purpose (a 3 s remote call, 2 s of
// watching for a handshake retry, lazy timeouts) and stream 10,000 messages.
const apiNodeTimeout = 240 * time.Second

// TestCometDJSClientAPI runs the node:test suite in test-api/ (the official
// CometD JavaScript client against the runtime's application API: remote
// calls, private delivery, security policy and authorizers, data filters,
// lazy channels, timesync, the ack extension across broken connections)
// against interop/apiserver, a server built on runtime.New.
func TestCometDJSClientAPI(t *testing.T) {
	node := requireNode(t)
	bin := servetest.BuildPackage(t, apiServerPackage)
	srv := servetest.StartCommand(t, bin, "--addr", "127.0.0.1:0")
	t.Logf("apiserver at %s", srv.URL)

	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			runNode(t, node, srv.URL, transport, "test-api/", apiNodeTimeout)
		})
	}
}
