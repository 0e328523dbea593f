package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

func TestCreateChannelIsAtomic(t *testing.T) {
	srv, _ := newTestServer(t, Options{})
	var inits atomic.Int32
	var wg sync.WaitGroup
	created := make(chan bool, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, ok, err := srv.CreateChannel("/atomic", func(c *Channel) {
				inits.Add(1)
				c.SetPersistent(true)
			})
			if err != nil || c == nil {
				t.Error(err)
			}
			created <- ok
		}()
	}
	wg.Wait()
	close(created)
	n := 0
	for ok := range created {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d calls report creating the channel, want 1", n)
	}
	if srv.Channel("/atomic") == nil {
		t.Fatal("channel not registered")
	}
	if _, _, err := srv.CreateChannel("bad name"); err == nil {
		t.Error("CreateChannel accepted an invalid name")
	}
}

func TestMessageListenersVetoAndModify(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	var order []string
	var mu sync.Mutex
	record := func(name string) MessageListener {
		return func(_ context.Context, _ *ServerSession, m *bayeux.Message) error {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			return nil
		}
	}
	for _, name := range []string{"/room/a", "/room/*", "/**"} {
		c, _, _ := srv.CreateChannel(name)
		c.AddListener(record(name))
	}
	exact := srv.Channel("/room/a")
	exact.AddListener(func(_ context.Context, _ *ServerSession, m *bayeux.Message) error {
		var d map[string]any
		json.Unmarshal(m.Data, &d)
		if d["bad"] == true {
			return errors.New("no bad messages")
		}
		if d["secret"] == true {
			return bayeux.NewError(403, "secret_refused")
		}
		d["stamped"] = true
		m.Data, _ = json.Marshal(d)
		return nil
	})
	sub := newLP(t, base).start()
	sub.subscribe("/room/a")
	pub := newLP(t, base).start()

	if r := pub.publish("/room/a", msg{"bad": true}); r["successful"] != false || r["error"] != "404::message_deleted" {
		t.Errorf("vetoed publish = %v", r)
	}
	if r := pub.publish("/room/a", msg{"secret": true}); r["error"] != "403::secret_refused" {
		t.Errorf("publish refused with a bayeux error = %v", r)
	}
	if r := pub.publish("/room/a", msg{"ok": true}); r["successful"] != true {
		t.Fatalf("publish = %v", r)
	}
	ev := events(sub.connect(false))
	if len(ev) != 1 || ev[0]["data"].(map[string]any)["stamped"] != true {
		t.Errorf("events = %v, want one modified message", ev)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "/**,/room/*,/room/a"
	if got := strings.Join(order[len(order)-3:], ","); got != want {
		t.Errorf("listener order %s, want wildcards first: %s", got, want)
	}
}

func TestDataFilterChain(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	upper := DataFilterFunc(func(_ context.Context, _ *ServerSession, _ string, data any) (any, error) {
		m := data.(map[string]any)
		m["text"] = strings.ToUpper(m["text"].(string))
		return m, nil
	})
	limit := DataFilterFunc(func(_ context.Context, _ *ServerSession, _ string, data any) (any, error) {
		if len(data.(map[string]any)["text"].(string)) > 5 {
			return nil, Reject("text: longer than 5 characters")
		}
		return data, nil
	})
	c, _, _ := srv.CreateChannel("/chat/*")
	c.AddFilter(upper, limit)
	sub := newLP(t, base).start()
	sub.subscribe("/chat/x")
	pub := newLP(t, base).start()
	r := pub.publish("/chat/x", msg{"text": "too long"})
	if r["successful"] != false || r["error"] != "400:text longer than 5 characters:data_rejected" {
		t.Errorf("rejected publish = %v", r)
	}
	pub.publish("/chat/x", msg{"text": "hi"})
	if ev := events(sub.connect(false)); len(ev) != 1 || ev[0]["data"].(map[string]any)["text"] != "HI" {
		t.Errorf("events = %v", ev)
	}
}

func TestAuthorizers(t *testing.T) {
	grant := AuthorizerFunc(func(context.Context, Operation, string, *ServerSession, *bayeux.Message) Decision { return Grant() })
	ignore := AuthorizerFunc(func(context.Context, Operation, string, *ServerSession, *bayeux.Message) Decision { return Ignore() })
	denyPublish := AuthorizerFunc(func(_ context.Context, op Operation, _ string, _ *ServerSession, _ *bayeux.Message) Decision {
		if op == OpPublish {
			return Deny("read_only")
		}
		return Ignore()
	})
	tests := []struct {
		name          string
		auth          []Authorizer
		wantSubscribe string // "" for success
		wantPublish   string
	}{
		{"none", nil, "", ""},
		{"grant", []Authorizer{grant}, "", ""},
		// Nobody grants creating /news/today, so neither works (CometD).
		{"only ignore", []Authorizer{ignore}, "403:denied_by_not_granting:create_denied", "403:denied_by_not_granting:create_denied"},
		{"grant and deny publish", []Authorizer{grant, denyPublish}, "", "403:read_only:publish_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, base := newTestServer(t, Options{})
			c, _, _ := srv.CreateChannel("/news/**")
			for _, a := range tt.auth {
				c.AddAuthorizer(a)
			}
			cl := newLP(t, base).start()
			r := cl.send(msg{"channel": "/meta/subscribe", "subscription": "/news/today"})[0]
			if got, _ := r["error"].(string); got != tt.wantSubscribe {
				t.Errorf("subscribe error %q, want %q", got, tt.wantSubscribe)
			}
			r = cl.publish("/news/today", "x")
			if got, _ := r["error"].(string); got != tt.wantPublish {
				t.Errorf("publish error %q, want %q", got, tt.wantPublish)
			}
		})
	}
}

// tokenPolicy authenticates handshakes with ext.token and lets only
// moderators publish on /admin/**.
type tokenPolicy struct{ AllowAll }

func (tokenPolicy) CanHandshake(ctx context.Context, s *ServerSession, m *bayeux.Message) error {
	token, _ := m.Ext["token"].(string)
	if token == "" {
		if r := RequestFromContext(ctx); r != nil {
			token = r.Header.Get("X-Token")
		}
	}
	switch token {
	case "alice":
		s.SetUser("alice", "member")
	case "mod":
		s.SetUser("mod", "member", "moderator")
	default:
		return errors.New("bad_credentials")
	}
	return nil
}

func (tokenPolicy) CanPublish(_ context.Context, s *ServerSession, channel string, _ *bayeux.Message) error {
	if strings.HasPrefix(channel, "/admin/") && !s.HasRole("moderator") {
		return errors.New("moderators_only")
	}
	return nil
}

func TestSecurityPolicy(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	srv.SetSecurityPolicy(tokenPolicy{})
	added := make(chan string, 4)
	srv.OnSessionAdded(func(s *ServerSession, _ *bayeux.Message) { added <- s.UserID() })

	c := newLP(t, base)
	r := c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": msg{"token": "wrong"}})[0]
	adv, _ := r["advice"].(map[string]any)
	if r["successful"] != false || r["error"] != "403:bad_credentials:handshake_denied" || adv["reconnect"] != "none" {
		t.Errorf("handshake with wrong credentials = %v", r)
	}
	r = c.send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": msg{"token": "alice"}})[0]
	if r["successful"] != true || r["authSuccessful"] != true {
		t.Fatalf("handshake = %v", r)
	}
	c.clientID = r["clientId"].(string)
	if u := <-added; u != "alice" {
		t.Errorf("session added with user %q", u)
	}
	if r := c.publish("/admin/kick", "x"); r["error"] != "403:moderators_only:publish_denied" {
		t.Errorf("member publishing on /admin = %v", r)
	}
	if r := c.publish("/chat", "x"); r["successful"] != true {
		t.Errorf("member publishing on /chat = %v", r)
	}
	if s := srv.sessions.get(c.clientID); s == nil || !s.HasRole("member") || s.HasRole("moderator") {
		t.Error("roles not attached to the session")
	}
	// Credentials from an HTTP header.
	h := newLP(t, base)
	req := []byte(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`)
	hreq, _ := newPost(base, req)
	hreq.Header.Set("X-Token", "mod")
	resp, err := h.http.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	var replies []msg
	json.NewDecoder(resp.Body).Decode(&replies)
	resp.Body.Close()
	if replies[0]["successful"] != true {
		t.Errorf("handshake with a header token = %v", replies)
	}
}

func TestPrivateDeliveryAndBatch(t *testing.T) {
	srv, base := newTestServer(t, Options{Timeout: 2 * time.Second})
	c := newLP(t, base).start()
	sess := srv.sessions.get(c.clientID)
	sess.Batch(func() {
		for i := range 3 {
			if err := sess.Deliver(t.Context(), "/private/inbox", i); err != nil {
				t.Fatal(err)
			}
		}
		if sess.hasUrgent() && sess.queued() != 3 {
			t.Error("queue not filled inside the batch")
		}
	})
	ev := events(c.connect(false))
	if len(ev) != 3 || ev[2]["data"] != float64(2) {
		t.Errorf("private deliveries = %v", ev)
	}
	// Another session does not see them, subscribed or not.
	other := newLP(t, base).start()
	other.subscribe("/private/inbox")
	sess.Deliver(t.Context(), "/private/inbox", "only you")
	other.subscribe("/marker")
	srv.Publish("/marker", 1)
	if ev := events(other.connect(false)); len(ev) != 1 || ev[0]["channel"] != "/marker" {
		t.Errorf("another session got %v", ev)
	}
}

func TestServerDisconnect(t *testing.T) {
	srv, base := newTestServer(t, Options{Timeout: 10 * time.Second})
	removed := make(chan RemoveReason, 1)
	srv.OnSessionRemoved(func(_ *ServerSession, r RemoveReason) { removed <- r })
	c := newLP(t, base).start()
	done := make(chan []msg)
	go func() { done <- c.connect(false) }()
	time.Sleep(50 * time.Millisecond)
	srv.sessions.get(c.clientID).Disconnect()
	select {
	case r := <-done:
		if adv, _ := r[0]["advice"].(map[string]any); adv["reconnect"] != "none" {
			t.Errorf("held connect after server disconnect = %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server disconnect did not release the held connect")
	}
	if r := <-removed; r != RemovedServer {
		t.Errorf("removed with reason %v", r)
	}
}

func TestLocalSession(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	bot := srv.NewLocalSession("bot")
	if err := bot.Publish(t.Context(), "/x", 1); !errors.Is(err, ErrNotHandshaken) {
		t.Errorf("publish before handshake: %v", err)
	}
	if err := bot.Handshake(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer bot.Disconnect()
	if !strings.HasPrefix(bot.Session().ID(), "bot_") || !bot.Session().IsLocal() {
		t.Errorf("local session id %q", bot.Session().ID())
	}
	got := make(chan *bayeux.Message, 4)
	bot.Subscribe("/room/*", func(m *bayeux.Message) { got <- m })
	bot.Subscribe("/service/echo", func(m *bayeux.Message) { got <- m })

	c := newLP(t, base).start()
	c.subscribe("/room/lobby")
	c.publish("/room/lobby", "from remote")
	c.publish("/service/echo", "to the bot")
	for _, want := range []string{`"from remote"`, `"to the bot"`} {
		select {
		case m := <-got:
			if string(m.Data) != want {
				t.Errorf("local session got %s, want %s", m.Data, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("local session did not get %s", want)
		}
	}
	if err := bot.Publish(t.Context(), "/room/lobby", "from the bot"); err != nil {
		t.Fatal(err)
	}
	ev := events(c.connect(false))
	if len(ev) != 2 || ev[1]["data"] != "from the bot" {
		t.Errorf("remote got %v", ev)
	}
	// Local sessions are never swept.
	if srv.sessions.get(bot.Session().ID()) == nil {
		t.Error("local session not registered")
	}
}

func TestRemoteCall(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	type addReq struct{ A, B int }
	if err := HandleCall(srv, "/service/add", func(_ context.Context, caller *ServerSession, r addReq) (int, error) {
		if r.A < 0 {
			return 0, &CallError{Data: map[string]string{"reason": "negative"}}
		}
		return r.A + r.B, nil
	}); err != nil {
		t.Fatal(err)
	}
	srv.HandleRemoteCall("/service/boom", func(context.Context, *ServerSession, json.RawMessage) (any, error) { panic("boom") })
	if err := srv.HandleRemoteCall("/chat", nil); err == nil {
		t.Error("a remote call on a broadcast channel was accepted")
	}
	c := newLP(t, base).start()
	call := func(channel string, data any) msg {
		t.Helper()
		r := c.send(msg{"channel": channel, "data": data, "id": "77"})[0]
		if r["successful"] != true {
			t.Fatalf("publish reply = %v", r)
		}
		for range 5 {
			for _, e := range c.connect(false) {
				if e["id"] == "77" && e["data"] != nil {
					return e
				}
			}
		}
		t.Fatal("no remote call reply")
		return nil
	}
	if r := call("/service/add", msg{"A": 2, "B": 3}); r["successful"] != true || r["data"] != float64(5) || r["channel"] != "/service/add" {
		t.Errorf("add = %v", r)
	}
	if r := call("/service/add", msg{"A": -1}); r["successful"] != false || r["data"].(map[string]any)["reason"] != "negative" {
		t.Errorf("failing call = %v", r)
	}
	if r := call("/service/add", "not an object"); r["successful"] != false || !strings.Contains(r["data"].(string), "invalid request") {
		t.Errorf("undecodable call = %v", r)
	}
	if r := call("/service/boom", 1); r["successful"] != false || !strings.Contains(r["data"].(string), "panicked") {
		t.Errorf("panicking call = %v", r)
	}
}

func TestLazyMessages(t *testing.T) {
	srv, base := newTestServer(t, Options{Timeout: 5 * time.Second, MaxLazyTimeout: 300 * time.Millisecond})
	c, _, _ := srv.CreateChannel("/notices/*")
	c.SetLazy(true)
	cl := newLP(t, base).start()
	cl.subscribe("/notices/system", "/chat")

	// A lazy message does not wake the held connect; its timeout does.
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		cl.connect(false)
		done <- time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond)
	srv.Publish("/notices/system", "maintenance at noon")
	if d := <-done; d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("held connect returned after %v, want the 300ms lazy timeout", d)
	}

	// A non-lazy message flushes lazy ones at once.
	srv.Publish("/notices/system", "lazy")
	srv.Publish("/chat", "eager")
	start := time.Now()
	ev := events(cl.connect(false))
	if len(ev) != 2 || time.Since(start) > 200*time.Millisecond {
		t.Errorf("got %v after %v, want both at once", ev, time.Since(start))
	}
}

func TestHookPanicFailsOnlyThatMessage(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	c, _, _ := srv.CreateChannel("/fragile")
	c.AddListener(func(context.Context, *ServerSession, *bayeux.Message) error { panic("listener bug") })
	cl := newLP(t, base).start()
	replies := cl.send(msg{"channel": "/fragile", "data": 1}, msg{"channel": "/fine", "data": 2})
	if replies[0]["successful"] != false || replies[0]["error"] != "500::server_error" {
		t.Errorf("panicking listener's reply = %v", replies[0])
	}
	if replies[1]["successful"] != true {
		t.Errorf("the next message = %v", replies[1])
	}
}

type countingExt struct {
	in, out atomic.Int32
}

func (e *countingExt) Incoming(_ context.Context, _ *ServerSession, m *bayeux.Message) error {
	e.in.Add(1)
	if m.Channel == "/blocked" {
		return errors.New("blocked")
	}
	return nil
}

func (e *countingExt) Outgoing(_ context.Context, _ *ServerSession, m *bayeux.Message) error {
	e.out.Add(1)
	if m.Channel == "/tagged" {
		if m.Ext == nil {
			m.Ext = map[string]any{}
		}
		m.Ext["tag"] = "server"
	}
	return nil
}

func TestExtensions(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	ext := &countingExt{}
	srv.AddExtension(ext)
	cl := newLP(t, base).start()
	if ext.in.Load() < 2 || ext.out.Load() < 2 {
		t.Errorf("extension saw %d in, %d out after handshake and connect", ext.in.Load(), ext.out.Load())
	}
	if r := cl.publish("/blocked", 1); r["error"] != "404::message_deleted" {
		t.Errorf("publish deleted by an extension = %v", r)
	}
	cl.subscribe("/tagged")
	cl.publish("/tagged", 1)
	ev := events(cl.connect(false))
	if len(ev) != 1 || ev[0]["ext"].(map[string]any)["tag"] != "server" {
		t.Errorf("events = %v", ev)
	}

	// A session extension sees only its session's messages.
	sessExt := &countingExt{}
	srv.sessions.get(cl.clientID).AddExtension(sessExt)
	other := newLP(t, base).start()
	other.subscribe("/s")
	cl.subscribe("/s")
	other.publish("/s", 1)
	cl.connect(false)
	if sessExt.out.Load() == 0 {
		t.Error("session extension saw no outgoing message")
	}
}

func TestQueueFullDropPolicy(t *testing.T) {
	srv, base := newTestServer(t, Options{MaxQueue: 2, OnQueueFull: func(*ServerSession) QueueFullAction { return QueueFullDrop }})
	slow := newLP(t, base).start()
	slow.subscribe("/flood")
	p := newLP(t, base).start()
	for i := range 5 {
		p.publish("/flood", i)
	}
	st := srv.Stats()
	if st.QueueDrops != 3 || st.QueueOverflows != 0 {
		t.Errorf("stats = %+v, want 3 drops and no disconnect", st)
	}
	if ev := events(slow.connect(false)); len(ev) != 2 {
		t.Errorf("slow consumer got %v", ev)
	}
}

func TestListenersOfChannelsAndSubscriptions(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	srv.OnChannelAdded(func(c *Channel) { add("added " + c.Name()) })
	srv.OnChannelRemoved(func(c *Channel) { add("removed " + c.Name()) })
	srv.OnSubscription(func(_ *ServerSession, c *Channel, on bool) {
		if on {
			add("sub " + c.Name())
		} else {
			add("unsub " + c.Name())
		}
	})
	c := newLP(t, base).start()
	c.subscribe("/l")
	c.send(msg{"channel": "/meta/unsubscribe", "subscription": "/l"})
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(log, "; "); got != "added /l; sub /l; unsub /l; removed /l" {
		t.Errorf("events: %s", got)
	}
	if st := srv.Stats(); st.Subscriptions != 0 || st.ChannelsCreated != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestBlockingListenerStallsOnlyItsConnection(t *testing.T) {
	srv, base := newTestServer(t, Options{HookTimeout: 200 * time.Millisecond})
	c, _, _ := srv.CreateChannel("/slow")
	sawDeadline := make(chan bool, 1)
	c.AddListener(func(ctx context.Context, _ *ServerSession, _ *bayeux.Message) error {
		// A hook that honours its context is bounded by HookTimeout.
		<-ctx.Done()
		sawDeadline <- errors.Is(ctx.Err(), context.DeadlineExceeded)
		return ctx.Err()
	})
	slow := newLP(t, base).start()
	done := make(chan msg)
	go func() { done <- slow.publish("/slow", 1) }()

	// Meanwhile other sessions are served at once.
	fast := newLP(t, base).start()
	start := time.Now()
	for i := range 10 {
		if r := fast.publish("/fast", i); r["successful"] != true {
			t.Fatalf("publish = %v", r)
		}
	}
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("other sessions took %v while a listener blocked", d)
	}
	select {
	case r := <-done:
		if r["successful"] != false {
			t.Errorf("publish through a timed-out listener = %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the blocked listener was not bounded by HookTimeout")
	}
	if !<-sawDeadline {
		t.Error("the listener's context did not carry the HookTimeout deadline")
	}
}

func TestOnShutdownRunsBeforeConnectsAreReleased(t *testing.T) {
	srv, base := newTestServer(t, Options{Timeout: 30 * time.Second})
	srv.OnShutdown(func() { srv.Publish("/notice", "going away") })
	c := newLP(t, base).start()
	c.subscribe("/notice")
	done := make(chan []msg)
	go func() { done <- c.connect(false) }()
	time.Sleep(50 * time.Millisecond)
	go srv.Shutdown(t.Context())
	select {
	case r := <-done:
		if ev := events(r); len(ev) != 1 || ev[0]["data"] != "going away" {
			t.Errorf("held connect at shutdown = %v, want the notice", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not release the connect")
	}
}

func TestRemoteCallOnAWildcardChannel(t *testing.T) {
	srv, base := newTestServer(t, Options{})
	HandleCall(srv, "/service/users/*", func(ctx context.Context, _ *ServerSession, _ struct{}) (string, error) {
		return CallChannel(ctx), nil
	})
	c := newLP(t, base).start()
	c.send(msg{"channel": "/service/users/ann", "data": msg{}, "id": "5"})
	for range 5 {
		for _, e := range c.connect(false) {
			if e["id"] == "5" && e["data"] != nil {
				if e["data"] != "/service/users/ann" {
					t.Errorf("CallChannel = %v", e["data"])
				}
				return
			}
		}
	}
	t.Fatal("no reply")
}
