package interop_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/cometgen/cometgen/interop/servetest"
)

// specFile is the spec that `cometgen serve --spec` enforces in the
// test-spec/ suite.
const specFile = "spec/cometgen.yaml"

// specNodeTimeout bounds one run of the serve --spec suite (one transport):
// its refused handshakes each watch 1 s for a retry.
const specNodeTimeout = 90 * time.Second

// TestCometDJSClientSpec runs the node:test suite in test-spec/ (the
// official CometD JavaScript client against `cometgen serve --spec
// spec/cometgen.yaml`: valid messages delivered, invalid ones refused with
// their field and rule, publish and subscribe rules, undeclared channels,
// JWT handshakes, the backend publish endpoint). The HS256 secret and the
// publish key are fresh for each run and given to both the server and node.
func TestCometDJSClientSpec(t *testing.T) {
	node := requireNode(t)
	bin := servetest.Build(t)
	secrets := []string{
		"COMETGEN_JWT_SECRET=" + rand.Text(),
		"COMETGEN_PUBLISH_KEY=" + rand.Text(),
	}
	srv := servetest.StartCommandEnv(t, secrets, bin, "serve", "--addr", "127.0.0.1:0", "--spec", specFile)
	t.Logf("cometgen serve --spec %s at %s", specFile, srv.URL)

	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			runNode(t, node, srv.URL, transport, "test-spec/", specNodeTimeout, secrets...)
		})
	}
}
