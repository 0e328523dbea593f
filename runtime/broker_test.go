package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// userPolicy takes the session's user from the handshake's ext.user.
type userPolicy struct{ AllowAll }

func (userPolicy) CanHandshake(_ context.Context, s *ServerSession, m *bayeux.Message) error {
	if u, ok := m.Ext["user"].(string); ok {
		s.SetUser(u)
	}
	return nil
}

// newCluster starts n servers linked by one MemoryCluster.
func newCluster(t *testing.T, n int) ([]*Server, []string) {
	t.Helper()
	c := NewMemoryCluster()
	srvs, urls := make([]*Server, n), make([]string, n)
	for i := range srvs {
		srvs[i], urls[i] = newTestServer(t, Options{Broker: c.Broker()})
		srvs[i].SetSecurityPolicy(userPolicy{})
	}
	return srvs, urls
}

// startAs handshakes as user and completes the first connect.
func (c *lpClient) startAs(user string) *lpClient {
	c.t.Helper()
	replies := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": msg{"user": user}})
	if len(replies) != 1 || replies[0]["successful"] != true {
		c.t.Fatalf("handshake: %v", replies)
	}
	c.clientID = replies[0]["clientId"].(string)
	c.connect(true)
	return c
}

// dataOf returns the data of the events of replies, as strings.
func dataOf(replies []msg) []string {
	var out []string
	for _, e := range events(replies) {
		out = append(out, fmt.Sprint(e["channel"], "=", e["data"]))
	}
	return out
}

func TestMemoryClusterDelivery(t *testing.T) {
	srvs, urls := newCluster(t, 3)
	for _, s := range srvs {
		c, _, _ := s.CreateChannel("/local/**")
		c.SetNodeLocal(true)
	}
	var serviceSeen sync.Map
	for i, s := range srvs {
		c, _, _ := s.CreateChannel("/service/echo")
		c.AddListener(func(context.Context, *ServerSession, *bayeux.Message) error {
			serviceSeen.Store(i, true)
			return nil
		})
	}
	pub := newLP(t, urls[0]).start()
	pub.subscribe("/chat/room", "/local/x")
	subs := []*lpClient{newLP(t, urls[1]).start(), newLP(t, urls[2]).start()}
	subs[0].subscribe("/chat/room", "/local/x")
	subs[1].subscribe("/chat/room", "/chat/*", "/**") // three matches, one delivery

	for _, p := range []struct{ ch, data string }{{"/chat/room", "a"}, {"/local/x", "b"}, {"/service/echo", "c"}, {"/chat/room", "d"}} {
		if r := pub.publish(p.ch, p.data); r["successful"] != true {
			t.Fatalf("publish %s: %v", p.ch, r)
		}
	}
	// A private delivery on node 0 stays there too.
	ls := srvs[0].NewLocalSession("private")
	if err := ls.Handshake(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := ls.Session().Deliver(t.Context(), "/chat/room", "private"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    *lpClient
		want []string
	}{
		{"publisher's node", pub, []string{"/chat/room=a", "/local/x=b", "/chat/room=d"}},
		{"second node", subs[0], []string{"/chat/room=a", "/chat/room=d"}},
		{"third node, wildcards", subs[1], []string{"/chat/room=a", "/chat/room=d"}},
	}
	for _, tt := range tests {
		if got := dataOf(tt.c.connect(true)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	serviceSeen.Range(func(k, _ any) bool {
		if k.(int) != 0 {
			t.Errorf("service message reached node %d", k)
		}
		return true
	})
	if st := srvs[1].Stats(); st.BrokerIn != 2 {
		t.Errorf("node 1 BrokerIn = %d, want 2", st.BrokerIn)
	}
	if st := srvs[0].Stats(); st.BrokerOut != 2 {
		t.Errorf("node 0 BrokerOut = %d, want 2 (node-local, service and private deliveries stay home)", st.BrokerOut)
	}
}

func TestMemoryClusterUsers(t *testing.T) {
	srvs, urls := newCluster(t, 3)
	var mu sync.Mutex
	var events []string
	srvs[2].OnUserPresence(func(user string, online bool) {
		mu.Lock()
		events = append(events, fmt.Sprint(user, "=", online))
		mu.Unlock()
	})
	presence := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(events)
	}
	a1 := newLP(t, urls[0]).startAs("ann")
	a2 := newLP(t, urls[0]).startAs("ann")
	b1 := newLP(t, urls[1]).startAs("ann")
	other := newLP(t, urls[1]).startAs("bob")

	n, err := srvs[2].DeliverToUser(t.Context(), "ann", "/user/inbox", "hi")
	if err != nil || n != 0 {
		t.Fatalf("DeliverToUser from a node without ann's sessions = %d, %v; want 0, nil", n, err)
	}
	for i, c := range []*lpClient{a1, a2, b1} {
		if got := dataOf(c.connect(true)); !slices.Equal(got, []string{"/user/inbox=hi"}) {
			t.Errorf("ann's session %d got %v", i, got)
		}
	}
	if got := dataOf(other.connect(true)); len(got) != 0 {
		t.Errorf("bob got %v", got)
	}
	if got, want := presence(), []string{"ann=true", "bob=true"}; !slices.Equal(got, want) {
		t.Fatalf("presence = %v, want %v", got, want)
	}
	a1.send(msg{"channel": "/meta/disconnect"})
	a2.send(msg{"channel": "/meta/disconnect"})
	if got := presence(); len(got) != 2 {
		t.Fatalf("ann left node 0 but is still on node 1; presence = %v", got)
	}
	b1.send(msg{"channel": "/meta/disconnect"})
	if err := srvs[1].Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := presence(), []string{"ann=true", "bob=true", "ann=false", "bob=false"}; !slices.Equal(got, want) {
		t.Fatalf("presence = %v, want %v", got, want)
	}
}

// stubBroker captures its Node so a test can play the broker.
type stubBroker struct {
	node     *Node
	startErr error
}

func (b *stubBroker) Start(n *Node) error              { b.node = n; return b.startErr }
func (b *stubBroker) Publish(string, []byte) error     { return nil }
func (b *stubBroker) PublishUser(string, []byte) error { return nil }
func (b *stubBroker) SetUserOnline(string, bool)       {}
func (b *stubBroker) Close() error                     { return nil }

func TestNodeUnhealthy(t *testing.T) {
	b := &stubBroker{}
	srv, url := newTestServer(t, Options{Broker: b})
	c := newLP(t, url).start()
	c.subscribe("/chat/room")
	lost := errors.New("nats: connection lost")
	b.node.SetHealth(lost)
	if err := srv.Healthy(); !errors.Is(err, lost) {
		t.Fatalf("Healthy = %v, want %v", err, lost)
	}
	r := c.connect(true)
	if r[0]["successful"] != false || r[0]["advice"].(msg)["reconnect"] != "handshake" {
		t.Errorf("connect on an unhealthy node = %v, want handshake advice", r)
	}
	h := newLP(t, url).send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
	if h[0]["successful"] != false || !strings.HasPrefix(h[0]["error"].(string), "503") || h[0]["advice"].(msg)["reconnect"] != "retry" {
		t.Errorf("handshake on an unhealthy node = %v, want 503 with retry advice", h)
	}
	if _, err := srv.Publish("/chat/room", "x"); err == nil || !strings.Contains(err.Error(), "node_unhealthy") {
		t.Errorf("server publish on an unhealthy node = %v, want node_unhealthy", err)
	}
	b.node.SetHealth(nil)
	c.start()
	c.subscribe("/chat/room")
	if r := c.publish("/chat/room", "back"); r["successful"] != true {
		t.Errorf("publish once healthy again: %v", r)
	}
}

func TestNodeRefusesMalformedRemoteEvents(t *testing.T) {
	b := &stubBroker{}
	srv, url := newTestServer(t, Options{Broker: b})
	c := newLP(t, url).start()
	c.subscribe("/**")
	for _, ev := range []string{
		`{"channel":"/chat/room","data":{"x":`,                  // truncated
		`[{"channel":"/a","data":1},{"channel":"/b","data":2}]`, // two messages
		`{"channel":"/chat/room"}`,                              // no data
		`{"channel":"/service/x","data":1}`,                     // not broadcast
		`{"channel":"/chat/*","data":1}`,                        // wildcard
		`{"channel":"chat","data":1}`,                           // invalid name
	} {
		if err := b.node.Deliver([]byte(ev)); err == nil {
			t.Errorf("Deliver(%s) = nil, want an error", ev)
		}
	}
	if err := b.node.Deliver([]byte(`{"channel":"/chat/room","data":"ok"}`)); err != nil {
		t.Fatal(err)
	}
	if got := dataOf(c.connect(true)); !slices.Equal(got, []string{"/chat/room=ok"}) {
		t.Errorf("delivered %v, want only the well-formed event", got)
	}
	if st := srv.Stats(); st.BrokerBad != 6 || st.BrokerIn != 1 {
		t.Errorf("BrokerBad, BrokerIn = %d, %d; want 6, 1", st.BrokerBad, st.BrokerIn)
	}
}

// TestMemoryClusterPresenceOrder: a listener that ends a session while it
// is told of a presence change neither deadlocks nor sees the changes out
// of order.
func TestMemoryClusterPresenceOrder(t *testing.T) {
	srvs, urls := newCluster(t, 2)
	var mu sync.Mutex
	var seen []string
	srvs[0].OnUserPresence(func(user string, online bool) {
		mu.Lock()
		seen = append(seen, fmt.Sprint(user, "=", online))
		mu.Unlock()
		if online && user == "kick" {
			for _, sess := range srvs[1].UserSessions(user) {
				sess.Disconnect() // from inside the listener
			}
		}
	})
	newLP(t, urls[1]).startAs("kick")
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"kick=true", "kick=false"}; !slices.Equal(seen, want) {
		t.Errorf("presence = %v, want %v", seen, want)
	}
}

// TestPresenceOrderUnderConcurrency: sessions of two users come and go on
// many goroutines; each user's presence alternates online, offline, …, and
// ends offline.
func TestPresenceOrderUnderConcurrency(t *testing.T) {
	for _, clustered := range []bool{false, true} {
		t.Run(fmt.Sprint("broker=", clustered), func(t *testing.T) {
			var opts Options
			if clustered {
				opts.Broker = NewMemoryCluster().Broker()
			}
			srv, _ := newTestServer(t, opts)
			var mu sync.Mutex
			seen := map[string][]bool{}
			srv.OnUserPresence(func(user string, online bool) {
				mu.Lock()
				seen[user] = append(seen[user], online)
				mu.Unlock()
			})
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for range 200 {
						sess := newSession(srv, "")
						sess.userID = fmt.Sprint("u", g%2)
						srv.nsessions.Add(1)
						srv.sessions.put(sess)
						srv.indexUser(sess, sess.userID)
						srv.removeSession(sess, RemovedDisconnect)
					}
				})
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			for user, evs := range seen {
				for i, on := range evs {
					if on != (i%2 == 0) {
						t.Fatalf("%s: presence %v out of order at %d", user, evs, i)
					}
				}
				if len(evs)%2 != 0 {
					t.Errorf("%s: ends online after every session ended (%d events)", user, len(evs))
				}
			}
			if len(seen) != 2 {
				t.Errorf("presence of %d users, want 2", len(seen))
			}
		})
	}
}

// blockedHandshake holds CanHandshake until release is closed, telling
// entered when it starts.
type blockedHandshake struct {
	AllowAll
	entered, release chan struct{}
}

func (p blockedHandshake) CanHandshake(context.Context, *ServerSession, *bayeux.Message) error {
	close(p.entered)
	<-p.release
	return nil
}

// TestHandshakeRacingUnhealthy: a handshake still running when the node
// becomes unhealthy is refused, and leaves no session that would miss the
// other nodes' messages.
func TestHandshakeRacingUnhealthy(t *testing.T) {
	b := &stubBroker{}
	srv, url := newTestServer(t, Options{Broker: b})
	p := blockedHandshake{entered: make(chan struct{}), release: make(chan struct{})}
	srv.SetSecurityPolicy(p)
	replies := make(chan []msg, 1)
	go func() {
		replies <- newLP(t, url).send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
	}()
	<-p.entered
	b.node.SetHealth(errors.New("nats: connection lost"))
	close(p.release)
	h := <-replies
	if h[0]["successful"] != false || !strings.HasPrefix(h[0]["error"].(string), "503") {
		t.Errorf("handshake = %v, want 503", h)
	}
	if n := srv.Stats().Sessions; n != 0 {
		t.Errorf("%d sessions on the unhealthy node, want 0", n)
	}
}
