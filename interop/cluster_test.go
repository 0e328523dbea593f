package interop_test

import (
	"testing"
	"time"

	"github.com/cometgen/cometgen/interop/servetest"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// TestCometDJSClientCluster runs the node:test suite in test-cluster/ (the
// official CometD JavaScript client) against two `cometgen serve --nats`
// processes sharing an embedded NATS server.
func TestCometDJSClientCluster(t *testing.T) {
	node := requireNode(t)
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS did not start")
	}
	t.Cleanup(ns.Shutdown)
	bin := servetest.Build(t)
	a := servetest.Start(t, bin, "--nats", ns.ClientURL(), "--node-id", "a")
	b := servetest.Start(t, bin, "--nats", ns.ClientURL(), "--node-id", "b")
	t.Logf("nodes at %s and %s", a.URL, b.URL)

	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			runNode(t, node, a.URL, transport, "test-cluster/", 120*time.Second, "COMETGEN_URL2="+b.URL)
		})
	}
}
