package interop_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/interop/servetest"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestTSClientResume runs test-tsresume/ (node:test): the typed client of
// examples/chat, in its JavaScript form, subscribed through a load
// balancer to node a of a two-node `cometgen serve --nats --nats-history`
// cluster, while a publisher on node b goes on. The test stops a, publishes
// while the subscriber has no node, then sends it to b: the client
// handshakes there, subscribes again on its own and is replayed what it
// missed (the resume extension), so it gets every message once, in order.
// Then the history starts again (its stream is deleted, and a new node
// creates it again): a client that resumes with a position of the old
// stream is told of a gap (ResumeError) and gets the new stream's
// messages, though their positions are at or below its old one.
func TestTSClientResume(t *testing.T) {
	node := requireTypeScript(t)
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS did not start")
	}
	t.Cleanup(ns.Shutdown)
	bin := servetest.Build(t)
	jsDir := writeClient(t, tsProject(t), "js", "../examples/chat/cometgen.yaml", generator.Options{TSOut: "client/channels.js"})

	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			// A cluster of its own per transport: a is stopped.
			cluster := "resume-" + strings.ReplaceAll(transport, "-", "_")
			args := []string{"--nats", ns.ClientURL(), "--nats-cluster", cluster, "--nats-history", "1m"}
			a := servetest.Start(t, bin, append(args, "--node-id", "a")...)
			b := servetest.Start(t, bin, append(args, "--node-id", "b")...)
			lb := newSwitchingProxy(t, a.URL)
			control := map[string]func(){
				"/control/stop-a": func() { lb.down.Store(true); a.Stop() },
				"/control/to-b":   func() { lb.point(b.URL); lb.down.Store(false) },
				// The history starts again: b stops, the stream is deleted,
				// and c, which creates it again, takes b's clients.
				"/control/reset": func() {
					lb.down.Store(true)
					b.Stop()
					deleteStream(t, ns.ClientURL(), cluster+"-history")
					c := servetest.Start(t, bin, append(args, "--node-id", "c")...)
					lb.point(c.URL)
					lb.down.Store(false)
				},
			}
			for path, f := range control {
				lb.mux.HandleFunc("POST "+path, func(w http.ResponseWriter, _ *http.Request) { f(); w.WriteHeader(http.StatusNoContent) })
			}
			runNode(t, node, lb.url+"/cometd", transport, "test-tsresume/", 2*time.Minute,
				"COMETGEN_URL2="+b.URL,
				"COMETGEN_CONTROL="+lb.url,
				"COMETGEN_TS_CLIENT="+filepath.Join(jsDir, "channels.js"))
		})
	}
}

// deleteStream deletes the JetStream stream name of the NATS server at url.
func deleteStream(t *testing.T, url, name string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("connect to NATS: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err == nil {
		err = js.DeleteStream(t.Context(), name)
	}
	if err != nil {
		t.Errorf("delete stream %s: %v", name, err)
	}
}

// switchingProxy is a load balancer in front of one node at a time, which
// can also answer 503 to everything (no node).
type switchingProxy struct {
	url    string
	mux    *http.ServeMux
	target atomic.Pointer[url.URL]
	down   atomic.Bool
}

func newSwitchingProxy(t *testing.T, to string) *switchingProxy {
	p := &switchingProxy{mux: http.NewServeMux()}
	p.point(to)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.target.Load())
			r.Out.URL.Path = r.In.URL.Path // the node's path is the balancer's
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	p.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			http.Error(w, "no node", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	})
	hs := httptest.NewServer(p.mux)
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close() })
	p.url = hs.URL
	return p
}

// point sends the proxy's traffic to the node whose Bayeux URL is to.
func (p *switchingProxy) point(to string) {
	u, err := url.Parse(to)
	if err != nil {
		panic(err)
	}
	u.Path = ""
	p.target.Store(u)
}
