package chat_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometgen/cometgen/examples/chat/chat"
	"github.com/cometgen/cometgen/examples/chat/chat/channels"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

func TestLoginRefused(t *testing.T) {
	e := newEnv(t, chat.Options{}, runtime.Options{})
	long := strings.Repeat("a", 33)
	tests := []struct {
		name   string
		ext    map[string]any
		reason string
	}{
		{"no ext", nil, "missing_credentials"},
		{"no auth", map[string]any{"other": 1}, "missing_credentials"},
		{"auth not an object", map[string]any{"auth": "alice"}, "missing_credentials"},
		{"user not a string", map[string]any{"auth": map[string]any{"token": 7}}, "missing_credentials"},
		{"empty user", map[string]any{"auth": map[string]any{"token": ""}}, "missing_credentials"},
		{"capitals", map[string]any{"auth": map[string]any{"token": "Alice"}}, "invalid_user_name"},
		{"space", map[string]any{"auth": map[string]any{"token": "al ice"}}, "invalid_user_name"},
		{"33 characters", map[string]any{"auth": map[string]any{"token": long}}, "invalid_user_name"},
		{"markup", map[string]any{"auth": map[string]any{"token": "<b>"}}, "invalid_user_name"},
		{"reserved", map[string]any{"auth": map[string]any{"token": chat.SystemUser}}, "reserved_user_name"},
	}
	for _, tr := range transports {
		for _, tt := range tests {
			t.Run(tr+"/"+tt.name, func(t *testing.T) {
				opts := []client.Option{client.WithTransport(tr)}
				if tt.ext != nil {
					opts = append(opts, client.WithHandshakeExt(tt.ext))
				}
				c := client.New(e.url, opts...)
				err := c.Handshake(ctxFor(t))
				if err == nil {
					c.Disconnect(context.Background())
					t.Fatal("handshake accepted")
				}
				be := bayeuxError(t, err)
				if be.Code != 403 || be.Message != "handshake_denied" || !slices.Equal(be.Args, []string{tt.reason}) {
					t.Errorf("error %q, want 403:%s:handshake_denied", be, tt.reason)
				}
			})
		}
	}
	t.Run("valid names", func(t *testing.T) {
		for _, user := range []string{"a", "alice", "bob_2", "x-y", strings.Repeat("z", 32)} {
			e.login(t, bayeux.TransportWebSocket, user)
		}
	})
}

func TestRoomChat(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := newEnv(t, chat.Options{}, runtime.Options{})
			alice, bob := e.login(t, tr, "alice"), e.login(t, tr, "bob")
			aliceIn := subscribe(t, alice, roomPrefix+"lobby")
			bobIn := subscribe(t, bob, roomPrefix+"lobby")
			ctx := ctxFor(t)

			// Bob claims to be alice; the server knows better.
			if err := bob.Publish(ctx, roomPrefix+"lobby", Message{User: "alice", Text: "  I am alice <b>really</b> & truly\n"}); err != nil {
				t.Fatal(err)
			}
			want := Message{User: "bob", Text: "I am alice &lt;b&gt;really&lt;/b&gt; &amp; truly"}
			for name, in := range map[string]*inbox{"alice": aliceIn, "bob": bobIn} {
				if got := decode[Message](t, in.next(t)); got != want {
					t.Errorf("%s got %+v, want %+v", name, got, want)
				}
			}

			// A message without user, with extra fields: only user and text go out.
			if err := alice.Publish(ctx, roomPrefix+"lobby", map[string]any{"text": "hi bob", "admin": true}); err != nil {
				t.Fatal(err)
			}
			for name, in := range map[string]*inbox{"alice": aliceIn, "bob": bobIn} {
				m := in.next(t)
				if got := decode[map[string]any](t, m); len(got) != 2 || got["user"] != "alice" || got["text"] != "hi bob" {
					t.Errorf("%s got %s, want alice's message with user and text only", name, m.Data)
				}
			}

			// Rooms are separate.
			carol := e.login(t, tr, "carol")
			if err := carol.Publish(ctx, roomPrefix+"kitchen", Message{Text: "anyone?"}); err != nil {
				t.Fatal(err)
			}
			aliceIn.none(t, 100*time.Millisecond)
		})
	}
}

func TestPublishRejected(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := newEnv(t, chat.Options{}, runtime.Options{})
			alice := e.login(t, tr, "alice")
			watcher := subscribe(t, e.login(t, tr, "bob"), roomPrefix+"lobby")
			tests := []struct {
				name    string
				channel string
				data    any
				want    string // the error, or "" when accepted
			}{
				{"600 characters", "/chat/lobby", Message{Text: strings.Repeat("x", 600)}, "400:/text maxLength got 600; want at most 500:invalid_message"},
				// The schema counts what the client sent, before trimming.
				{"501 characters", "/chat/lobby", Message{Text: " " + strings.Repeat("é", 501) + " "}, "400:/text maxLength got 503; want at most 500:invalid_message"},
				{"500 characters with spaces", "/chat/lobby", Message{Text: " " + strings.Repeat("é", 498) + " "}, ""},
				{"500 characters of markup", "/chat/lobby", Message{Text: strings.Repeat("<", 500)}, ""},
				{"user not a string", "/chat/lobby", map[string]any{"user": 5, "text": "hi"}, "400:/user type got number; want string:invalid_message"},
				{"blank text", "/chat/lobby", Message{Text: " \t\n "}, "400:text is empty:data_rejected"},
				{"no text", "/chat/lobby", map[string]any{"user": "alice"}, "400:(root) required missing properties 'text':invalid_message"},
				{"text not a string", "/chat/lobby", map[string]any{"text": 42}, "400:/text type got number; want string:invalid_message"},
				{"data not an object", "/chat/lobby", "hello", "400:(root) type got string; want object:invalid_message"},
				{"invalid room", "/chat/Lobby", Message{Text: "hi"}, `400:room "Lobby" does not match its pattern:invalid_channel`},
				{"room too deep", "/chat/lobby/corner", Message{Text: "hi"}, "403:channel_not_declared:publish_denied"},
				{"member list", "/members/lobby", MembersEvent{Room: "lobby", Members: []string{"mallory"}}, "403:denied_by_rule:publish_denied"},
				{"notices", channels.SystemNoticePattern, Notice{Text: "free pizza"}, "403:denied_by_rule:publish_denied"},
				{"private inbox", channels.PrivateInboxPattern, PrivateMessage{From: "bob", To: "alice", Text: "hi"}, "403:denied_by_rule:publish_denied"},
				{"other channel", "/elsewhere", "x", "403:channel_not_declared:publish_denied"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					err := alice.Publish(ctxFor(t), tt.channel, tt.data)
					if tt.want == "" {
						if err != nil {
							t.Fatalf("publish refused: %v", err)
						}
						watcher.next(t)
						return
					}
					if err == nil {
						t.Fatalf("publish accepted, want %s", tt.want)
					}
					if got := bayeuxError(t, err).Error(); got != tt.want {
						t.Errorf("error %s, want %s", got, tt.want)
					}
				})
			}
			watcher.none(t, 100*time.Millisecond) // nothing refused went out
		})
	}
}

func TestSubscribeRefused(t *testing.T) {
	e := newEnv(t, chat.Options{}, runtime.Options{})
	alice := e.login(t, bayeux.TransportWebSocket, "alice")
	tests := []struct {
		channel, want string
	}{
		{"/chat/*", "403:wildcard_not_allowed:subscribe_denied"},
		{"/chat/**", "403:channel_not_declared:subscribe_denied"},
		{"/**", "403:channel_not_declared:subscribe_denied"},
		{"/chat/no way", `400:room "no way" does not match its pattern:invalid_channel`},
		{"/members/" + strings.Repeat("r", 33), `400:room "` + strings.Repeat("r", 33) + `" does not match its pattern:invalid_channel`},
		{"/chat/lobby/corner", "403:channel_not_declared:subscribe_denied"},
		{"/private/other", "403:channel_not_declared:subscribe_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			_, err := alice.Subscribe(ctxFor(t), tt.channel, func(*bayeux.Message) {})
			if err == nil {
				t.Fatal("subscription accepted")
			}
			if got := bayeuxError(t, err).Error(); got != tt.want {
				t.Errorf("error %s, want %s", got, tt.want)
			}
		})
	}
}

func TestMembers(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := newEnv(t, chat.Options{}, runtime.Options{})
			members := func(t *testing.T, c *client.Client, room string) []string {
				t.Helper()
				list, ok := call[[]string](t, e, c, channels.ServiceMembersPattern, MembersRequest{Room: room})
				if !ok {
					t.Fatalf("members of %s: call failed", room)
				}
				return list
			}
			expect := func(t *testing.T, in *inbox, want ...string) {
				t.Helper()
				ev := decode[MembersEvent](t, in.next(t))
				if ev.Room != "lobby" || !slices.Equal(ev.Members, want) {
					t.Fatalf("members event %+v, want lobby %v", ev, want)
				}
			}

			alice := e.login(t, tr, "alice")
			if got := members(t, alice, "lobby"); len(got) != 0 {
				t.Errorf("empty room has members %v", got)
			}
			events := subscribe(t, alice, membersPrefix+"lobby")
			subscribe(t, alice, roomPrefix+"lobby")
			expect(t, events, "alice")

			bob := e.login(t, tr, "bob")
			bobSub, err := bob.Subscribe(ctxFor(t), roomPrefix+"lobby", func(*bayeux.Message) {})
			if err != nil {
				t.Fatal(err)
			}
			expect(t, events, "alice", "bob")
			if got, want := members(t, bob, "lobby"), []string{"alice", "bob"}; !slices.Equal(got, want) {
				t.Errorf("members = %v, want %v", got, want)
			}

			// Bob opens a second tab in the room: the list does not change.
			bob2 := e.login(t, tr, "bob")
			subscribe(t, bob2, roomPrefix+"lobby")
			// Bob's first tab leaves: still no change, bob is there.
			if err := bob.Unsubscribe(ctxFor(t), bobSub); err != nil {
				t.Fatal(err)
			}
			events.none(t, 100*time.Millisecond)
			if got, want := members(t, alice, "lobby"), []string{"alice", "bob"}; !slices.Equal(got, want) {
				t.Errorf("members = %v, want %v", got, want)
			}

			// Bob's last tab disconnects: he is gone.
			if err := bob2.Disconnect(ctxFor(t)); err != nil {
				t.Fatal(err)
			}
			expect(t, events, "alice")
			if got, want := members(t, alice, "lobby"), []string{"alice"}; !slices.Equal(got, want) {
				t.Errorf("members = %v, want %v", got, want)
			}
			if got := e.chat.Members("lobby"); !slices.Equal(got, []string{"alice"}) {
				t.Errorf("Chat.Members = %v", got)
			}

			// Bob comes back and is ended by the server (say, kicked).
			bob3 := e.login(t, tr, "bob")
			subscribe(t, bob3, roomPrefix+"lobby")
			expect(t, events, "alice", "bob")
			for _, s := range e.srv.Channel(roomPrefix + "lobby").Subscribers() {
				if s.UserID() == "bob" {
					s.Disconnect()
				}
			}
			expect(t, events, "alice")
		})
	}
}

func TestMembersCallErrors(t *testing.T) {
	e := newEnv(t, chat.Options{}, runtime.Options{})
	alice := e.login(t, bayeux.TransportWebSocket, "alice")
	tests := []struct {
		name string
		req  any
		want string
	}{
		{"invalid room", MembersRequest{Room: "No Such Room"}, "invalid_room_name"},
		{"empty room", MembersRequest{Room: ""}, "invalid_room_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := call[string](t, e, alice, channels.ServiceMembersPattern, tt.req)
			if ok || !strings.HasPrefix(got, tt.want) {
				t.Errorf("call = %q (successful %v), want failure %q", got, ok, tt.want)
			}
		})
	}
	// A request that does not match the spec's schema is refused at
	// publish, before the call runs.
	refused := []struct {
		name string
		req  any
		want string
	}{
		{"no room", map[string]any{}, "400:(root) required missing properties 'room':invalid_message"},
		{"not an object", "lobby", "400:(root) type got string; want object:invalid_message"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if got := callRefused(t, e, alice, channels.ServiceMembersPattern, tt.req); got != tt.want {
				t.Errorf("call refused with %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPrivate(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := newEnv(t, chat.Options{}, runtime.Options{})
			alice := e.login(t, tr, "alice")
			// Bob has two tabs, one per transport.
			bob1 := e.login(t, bayeux.TransportWebSocket, "bob")
			bob2 := e.login(t, bayeux.TransportLongPolling, "bob")
			carol := e.login(t, tr, "carol")
			inboxes := map[string]*inbox{}
			for name, c := range map[string]*client.Client{"alice": alice, "bob1": bob1, "bob2": bob2, "carol": carol} {
				inboxes[name] = subscribe(t, c, channels.PrivateInboxPattern)
			}

			reply, ok := call[PrivateReply](t, e, alice, channels.ServicePrivatePattern, PrivateRequest{To: "bob", Text: " psst <i>bob</i> "})
			if !ok || reply.Delivered != 2 {
				t.Fatalf("reply %+v (successful %v), want delivered to 2 sessions", reply, ok)
			}
			want := PrivateMessage{From: "alice", To: "bob", Text: "psst &lt;i&gt;bob&lt;/i&gt;"}
			for _, name := range []string{"bob1", "bob2"} {
				if got := decode[PrivateMessage](t, inboxes[name].next(t)); got != want {
					t.Errorf("%s got %+v, want %+v", name, got, want)
				}
			}
			inboxes["alice"].none(t, 100*time.Millisecond)
			inboxes["carol"].none(t, 0)

			// Bob answers from one tab; the sender cannot be forged.
			reply, ok = call[PrivateReply](t, e, bob2, channels.ServicePrivatePattern, map[string]any{"from": "carol", "to": "alice", "text": "hi"})
			if !ok || reply.Delivered != 1 {
				t.Fatalf("reply %+v (successful %v)", reply, ok)
			}
			if got := decode[PrivateMessage](t, inboxes["alice"].next(t)); got.From != "bob" || got.Text != "hi" {
				t.Errorf("alice got %+v, want bob's message", got)
			}

			failures := []struct {
				name string
				req  PrivateRequest
				want string
			}{
				{"offline user", PrivateRequest{To: "dave", Text: "hi"}, "dave is not connected"},
				{"invalid user", PrivateRequest{To: "Dave!", Text: "hi"}, "invalid_user_name"},
				{"the system", PrivateRequest{To: chat.SystemUser, Text: "hi"}, "system is not connected"},
				{"too long", PrivateRequest{To: "bob", Text: strings.Repeat("x", 501)}, "400:text is longer than 500 characters:data_rejected"},
				{"empty", PrivateRequest{To: "bob", Text: "  "}, "400:text is empty:data_rejected"},
			}
			for _, f := range failures {
				t.Run(f.name, func(t *testing.T) {
					got, ok := call[string](t, e, alice, channels.ServicePrivatePattern, f.req)
					if ok || got != f.want {
						t.Errorf("call = %q (successful %v), want failure %q", got, ok, f.want)
					}
				})
			}

			// Once all of bob's tabs are gone, he is offline.
			for _, c := range []*client.Client{bob1, bob2} {
				if err := c.Disconnect(ctxFor(t)); err != nil {
					t.Fatal(err)
				}
			}
			if got, ok := call[string](t, e, alice, channels.ServicePrivatePattern, PrivateRequest{To: "bob", Text: "still there?"}); ok || got != "bob is not connected" {
				t.Errorf("call = %q (successful %v), want bob offline", got, ok)
			}
			if e.chat.Connected("bob") {
				t.Error("Chat.Connected(bob) after his sessions ended")
			}
			for _, name := range []string{"bob1", "bob2", "carol"} {
				inboxes[name].none(t, 0)
			}
		})
	}
}

func TestLazyNotice(t *testing.T) {
	const lazy = 500 * time.Millisecond
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := newEnv(t, chat.Options{}, runtime.Options{MaxLazyTimeout: lazy})
			alice := e.login(t, tr, "alice")
			notices := subscribe(t, alice, channels.SystemNoticePattern)
			time.Sleep(50 * time.Millisecond) // let the client's connect be held

			start := time.Now()
			if err := e.chat.Notice("maintenance at noon"); err != nil {
				t.Fatal(err)
			}
			n := decode[Notice](t, notices.next(t))
			took := time.Since(start)
			if n.Text != "maintenance at noon" || n.Time.IsZero() {
				t.Errorf("notice %+v", n)
			}
			// Lazy: not at once, but within the lazy timeout (plus slack
			// for a loaded machine).
			if took < lazy/2 || took > lazy+time.Second {
				t.Errorf("notice arrived after %v, want about %v", took, lazy)
			}

			// A non-lazy message takes waiting notices along at once.
			subscribe(t, alice, roomPrefix+"lobby")
			if err := e.chat.Notice("second"); err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			if err := alice.Publish(ctxFor(t), roomPrefix+"lobby", Message{Text: "wake up"}); err != nil {
				t.Fatal(err)
			}
			if n := decode[Notice](t, notices.next(t)); n.Text != "second" {
				t.Errorf("notice %+v", n)
			}
			if took := time.Since(start); took > lazy/2 {
				t.Errorf("notice flushed by a chat message after %v", took)
			}
		})
	}
}

func TestPeriodicNotice(t *testing.T) {
	e := newEnv(t,
		chat.Options{NoticeEvery: 20 * time.Millisecond, NoticeText: "tick", NoticeLazyTimeout: 50 * time.Millisecond},
		runtime.Options{})
	alice := e.login(t, bayeux.TransportWebSocket, "alice")
	notices := subscribe(t, alice, channels.SystemNoticePattern)
	for range 3 {
		if n := decode[Notice](t, notices.next(t)); n.Text != "tick" {
			t.Fatalf("notice %+v", n)
		}
	}
}

func TestShutdownNotice(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := newEnv(t, chat.Options{ShutdownText: "bye"}, runtime.Options{})
			alice := e.login(t, tr, "alice")
			notices := subscribe(t, alice, channels.SystemNoticePattern)
			time.Sleep(50 * time.Millisecond) // let the client's connect be held
			start := time.Now()
			if err := e.srv.Shutdown(ctxFor(t)); err != nil {
				t.Fatal(err)
			}
			if n := decode[Notice](t, notices.next(t)); n.Text != "bye" {
				t.Errorf("notice %+v", n)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("shutdown notice arrived after %v, want at once", took)
			}
		})
	}
}

// TestConcurrentRooms churns members in several rooms at once and checks
// that the lists settle to the truth and that every member-list event a
// watcher sees is the room's list at some point (never a stale list last).
func TestConcurrentRooms(t *testing.T) {
	e := newEnv(t, chat.Options{}, runtime.Options{})
	rooms := []string{"r1", "r2", "r3"}
	watcher := e.login(t, bayeux.TransportWebSocket, "watcher")
	last := make(map[string][]string)
	var mu sync.Mutex
	for _, room := range rooms {
		if _, err := watcher.Subscribe(ctxFor(t), membersPrefix+room, func(m *bayeux.Message) {
			var ev MembersEvent
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Errorf("members event %s: %v", m.Data, err)
				return
			}
			mu.Lock()
			last[ev.Room] = ev.Members
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range 6 {
		tr := transports[i%2]
		c := e.login(t, tr, "u"+string(rune('a'+i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := ctxFor(t)
			for _, room := range rooms {
				sub, err := c.Subscribe(ctx, roomPrefix+room, func(*bayeux.Message) {})
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 1 {
					if err := c.Unsubscribe(ctx, sub); err != nil {
						t.Error(err)
					}
				}
			}
			if i%3 == 0 && i%2 == 1 {
				c.Disconnect(ctx)
			}
		}()
	}
	wg.Wait()
	want := []string{"ua", "uc", "ue"}
	deadline := time.Now().Add(wait)
	for _, room := range rooms {
		if got := e.chat.Members(room); !slices.Equal(got, want) {
			t.Errorf("members of %s = %v, want %v", room, got, want)
		}
		for {
			mu.Lock()
			got := last[room]
			mu.Unlock()
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("last event of %s: %v, want %v", room, got, want)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestTimeSync checks the TimeSync extension answers the CometD client's
// timesync ext at handshake, with a raw long-polling handshake.
func TestTimeSync(t *testing.T) {
	e := newEnv(t, chat.Options{}, runtime.Options{})
	body, _ := json.Marshal([]map[string]any{{
		"channel": "/meta/handshake", "version": "1.0", "id": "1",
		"supportedConnectionTypes": []string{"long-polling"},
		"ext": map[string]any{
			"auth":     map[string]any{"token": "alice"},
			"timesync": map[string]any{"tc": time.Now().UnixMilli(), "l": 0, "o": 0},
		},
	}})
	replies := postJSON(t, e.url+"/handshake", body)
	if len(replies) != 1 || !replies[0].IsSuccessful() {
		t.Fatalf("handshake replies %+v", replies)
	}
	ts, _ := replies[0].Ext["timesync"].(map[string]any)
	for _, k := range []string{"tc", "ts", "p", "a"} {
		if _, ok := ts[k].(float64); !ok {
			t.Errorf("timesync reply %v lacks %s", ts, k)
		}
	}
	if replies[0].AuthSuccessful == nil || !*replies[0].AuthSuccessful {
		t.Error("handshake reply lacks authSuccessful")
	}
}
