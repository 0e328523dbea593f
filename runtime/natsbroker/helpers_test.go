package natsbroker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/cometgen/cometgen/runtime/natsbroker"
	"github.com/nats-io/nats-server/v2/server"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startNATS runs an embedded NATS server with JetStream on loopback (port
// 0: a free one) and stops it when the test ends.
func startNATS(t testing.TB, port int, storeDir string) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: storeDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS did not start")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// fast are broker timings that make failures show within a test's patience.
func fast(o natsbroker.Options) natsbroker.Options {
	o.Heartbeat = 50 * time.Millisecond
	o.PresenceTTL = 400 * time.Millisecond
	o.ReconnectWait = 10 * time.Millisecond
	o.MaxReconnectWait = 100 * time.Millisecond
	o.PingInterval = 100 * time.Millisecond
	o.Logger = quiet()
	return o
}

// node is one cometgen server of a test cluster.
type node struct {
	name string
	srv  *runtime.Server
	b    *natsbroker.Broker
	hs   *httptest.Server
	url  string

	mu       sync.Mutex
	presence []string
}

// userPolicy takes the session's user from the handshake's ext.user.
type userPolicy struct{ runtime.AllowAll }

func (userPolicy) CanHandshake(_ context.Context, s *runtime.ServerSession, m *bayeux.Message) error {
	if u, ok := m.Ext["user"].(string); ok {
		s.SetUser(u)
	}
	return nil
}

func startNode(t *testing.T, name, natsURL string, opts ...func(*natsbroker.Options)) *node {
	t.Helper()
	o := fast(natsbroker.Options{URL: natsURL, NodeID: name})
	for _, f := range opts {
		f(&o)
	}
	b, err := natsbroker.Connect(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, b: b}
	n.srv = runtime.New(runtime.Options{Broker: b, Logger: quiet(), MaxInterval: 2 * time.Second})
	n.srv.SetSecurityPolicy(userPolicy{})
	n.srv.OnUserPresence(func(user string, online bool) {
		n.mu.Lock()
		n.presence = append(n.presence, fmt.Sprint(user, "=", online))
		n.mu.Unlock()
	})
	mux := http.NewServeMux()
	mux.Handle("/cometd", n.srv)
	mux.Handle("/cometd/", n.srv)
	n.hs = httptest.NewServer(mux)
	n.url = n.hs.URL + "/cometd"
	t.Cleanup(n.stop)
	return n
}

// stop shuts the node down (its broker says goodbye).
func (n *node) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = n.srv.Shutdown(ctx)
	n.hs.CloseClientConnections()
	n.hs.Close()
}

func (n *node) presenceLog() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.presence...)
}

// balancer is a reverse proxy whose backend can be switched, as a load
// balancer moves clients off a node that died.
type balancer struct {
	hs     *httptest.Server
	target atomic.Pointer[url.URL]
}

func newBalancer(t *testing.T, to *node) *balancer {
	lb := &balancer{}
	lb.point(to)
	rp := &httputil.ReverseProxy{
		Rewrite:  func(r *httputil.ProxyRequest) { r.SetURL(lb.target.Load()) },
		ErrorLog: nil,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	lb.hs = httptest.NewServer(rp)
	t.Cleanup(func() { lb.hs.CloseClientConnections(); lb.hs.Close() })
	return lb
}

func (lb *balancer) point(to *node) {
	u, _ := url.Parse(to.hs.URL)
	lb.target.Store(u)
}

func (lb *balancer) url() string { return lb.hs.URL + "/cometd" }

// recorder collects the events a client receives.
type recorder struct {
	mu   sync.Mutex
	msgs []string // "channel data"
}

func (r *recorder) handle(m *bayeux.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m.Channel+" "+string(m.Data))
	r.mu.Unlock()
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// newClient handshakes a websocket client as user (none if ""), with more
// options.
func newClient(t *testing.T, url, user string, states func(client.State, error), more ...client.Option) *client.Client {
	t.Helper()
	opts := append([]client.Option{client.WithBackoff(20*time.Millisecond, 200*time.Millisecond), client.WithMaxNetworkDelay(2 * time.Second)}, more...)
	if user != "" {
		opts = append(opts, client.WithHandshakeExt(map[string]any{"user": user}))
	}
	if states != nil {
		opts = append(opts, client.WithStateHandler(states))
	}
	c := client.New(url, opts...)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Handshake(ctx); err != nil {
		t.Fatalf("handshake at %s: %v", url, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Disconnect(ctx)
	})
	return c
}

func subscribe(t *testing.T, c *client.Client, channel string) *recorder {
	t.Helper()
	r := &recorder{}
	if _, err := c.Subscribe(t.Context(), channel, r.handle); err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	return r
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tcpProxy forwards connections to a NATS server until cut, which closes
// them and refuses new ones until heal: a partition between one node and
// NATS.
type tcpProxy struct {
	ln     net.Listener
	to     string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
	closed bool
	frozen atomic.Bool
}

func newTCPProxy(t *testing.T, to string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, to: to}
	go p.serve()
	t.Cleanup(func() { p.mu.Lock(); p.closed = true; p.mu.Unlock(); ln.Close(); p.partition() })
	return p
}

func (p *tcpProxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.to)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { p.pipe(up, c); up.Close(); c.Close() }()
		go func() { p.pipe(c, up); up.Close(); c.Close() }()
	}
}

// pipe copies src to dst, dropping the bytes while the proxy is frozen.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze makes the proxy a black hole: connections stay open and carry
// nothing, as in a partition that no TCP reset reveals.
func (p *tcpProxy) freeze() { p.frozen.Store(true) }

func (p *tcpProxy) partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
	p.frozen.Store(false)
}

// seqOf extracts the "seq" field of a recorded "channel {...}" event.
func seqOf(t *testing.T, rec string) (string, int) {
	t.Helper()
	var ch string
	var data struct {
		From string `json:"from"`
		Seq  int    `json:"seq"`
	}
	for i := range rec {
		if rec[i] == ' ' {
			ch = rec[:i]
			if err := json.Unmarshal([]byte(rec[i+1:]), &data); err != nil {
				t.Fatalf("event %q: %v", rec, err)
			}
			break
		}
	}
	_ = ch
	return data.From, data.Seq
}
