package client_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/gorilla/websocket"
)

// pushServer is a minimal Bayeux server over websocket for benchmarks of
// the client's receive path: it answers handshake, subscribe and
// disconnect, holds every /meta/connect but the first, and pushes
// pre-encoded delivery frames straight onto the connection, so that the
// server's side of a delivery costs next to nothing.
type pushServer struct {
	hs         *httptest.Server
	dials      chan time.Time // the time of every websocket upgrade
	mu         sync.Mutex     // serialises writes to conn
	conn       *websocket.Conn
	subscribed chan struct{}
}

// newPushServer starts a pushServer that advises a connect timeout of
// timeout.
func newPushServer(tb testing.TB, timeout time.Duration) *pushServer {
	s := &pushServer{subscribed: make(chan struct{}, 1), dials: make(chan time.Time, 100)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		s.dials <- time.Now()
		s.mu.Lock()
		s.conn = conn
		s.mu.Unlock()
		for {
			_, frame, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var msgs []bayeux.Message
			if err := json.Unmarshal(frame, &msgs); err != nil {
				tb.Errorf("server: %v", err)
				return
			}
			var replies []bayeux.Message
			subscribed := false
			for _, m := range msgs {
				reply := bayeux.Message{Channel: m.Channel, ID: m.ID, Successful: bayeux.Bool(true)}
				switch m.Channel {
				case bayeux.MetaHandshake:
					reply.ClientID = "bench"
					reply.Version = bayeux.Version
					reply.SupportedConnectionTypes = []string{bayeux.TransportWebSocket}
					reply.Advice = &bayeux.Advice{Reconnect: bayeux.ReconnectRetry, Interval: bayeux.Int(0), Timeout: bayeux.Int(timeout.Milliseconds())}
				case bayeux.MetaConnect:
					if m.Advice == nil || m.Advice.Timeout == nil || *m.Advice.Timeout != 0 {
						continue // held until the connection closes
					}
				case bayeux.MetaSubscribe:
					reply.Subscription = m.Subscription
					subscribed = true
				}
				replies = append(replies, reply)
			}
			if len(replies) == 0 {
				continue
			}
			b, _ := json.Marshal(replies)
			s.mu.Lock()
			err = conn.WriteMessage(websocket.TextMessage, b)
			s.mu.Unlock()
			if err != nil {
				return
			}
			if subscribed {
				s.subscribed <- struct{}{}
			}
		}
	}))
	return s
}

// push writes frames, a run of encoded websocket frames, to the client.
func (s *pushServer) push(frames []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.conn.NetConn().Write(frames)
	return err
}

// appendTextFrame appends payload as one unmasked websocket text frame, as
// a server sends it.
func appendTextFrame(dst, payload []byte) []byte {
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x81, byte(n))
	case n < 1<<16:
		dst = append(dst, 0x81, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x81, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// deliveryFrames encodes n delivery frames shaped like the broadcasts of
// cometgen bench --broadcast (64 bytes of padding), one message each, and
// returns them with the offset at which each frame ends.
func deliveryFrames(channel string, first, n int) ([]byte, []int) {
	var out []byte
	ends := make([]int, n)
	pad := make([]byte, 64)
	for i := range pad {
		pad[i] = 'x'
	}
	for i := range n {
		seq := strconv.Itoa(first + i)
		payload := `[{"channel":"` + channel + `","data":{"seq":` + seq + `,"pub":0,"ts":1767225600000000000,"pad":"` +
			string(pad) + `"},"id":"` + seq + `"}]`
		out = appendTextFrame(out, []byte(payload))
		ends[i] = len(out)
	}
	return out, ends
}

// TestWebSocketReadDeadline checks that the websocket transport drops a
// connection on which nothing arrives for the read timeout (the advised
// timeout and interval plus the network delay), and not before.
func TestWebSocketReadDeadline(t *testing.T) {
	srv := newPushServer(t, 100*time.Millisecond)
	defer srv.hs.Close()
	const readTimeout = 100*time.Millisecond + 200*time.Millisecond
	c := client.New(srv.hs.URL+"/cometd", client.WithTransport(bayeux.TransportWebSocket),
		client.WithMaxNetworkDelay(200*time.Millisecond), client.WithBackoff(50*time.Millisecond, 100*time.Millisecond))
	if err := c.Handshake(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	first := <-srv.dials
	select {
	case second := <-srv.dials:
		if d := second.Sub(first); d < readTimeout {
			t.Errorf("the connection was dropped after %v, before the read timeout of %v", d, readTimeout)
		}
	case <-time.After(waitFor):
		t.Fatal("the connection was not dropped after the read timeout")
	}
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReceiveWebSocket measures what a subscriber spends on each
// message delivered over websocket with inline dispatch: the read of the
// frame, its decoding, routing and the call of the handler. One op is one
// delivered message, each in a frame of its own; cpu-ns/op is the
// process's CPU time per message, the server's bulk writes included.
func BenchmarkReceiveWebSocket(b *testing.B) {
	srv := newPushServer(b, 30*time.Second)
	defer srv.hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The dialer of cometgen bench's subscribers.
	dialer := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	c := client.New(srv.hs.URL+"/cometd", client.WithTransport(bayeux.TransportWebSocket),
		client.WithDialer(dialer), client.WithInlineDispatch())
	if err := c.Handshake(ctx); err != nil {
		b.Fatal(err)
	}
	defer c.Disconnect(context.Background())

	const channel = "/bench/broadcast"
	var got, want atomic.Int64
	var bytes atomic.Int64
	done := make(chan struct{}, 1)
	if _, err := c.Subscribe(ctx, channel, func(m *bayeux.Message) {
		bytes.Add(int64(len(m.Data)))
		if got.Add(1) == want.Load() {
			done <- struct{}{}
		}
	}); err != nil {
		b.Fatal(err)
	}
	<-srv.subscribed

	const chunk = 256
	frames, ends := deliveryFrames(channel, 1, chunk)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	want.Store(int64(b.N))
	for sent := 0; sent < b.N; sent += chunk {
		n := min(chunk, b.N-sent)
		if err := srv.push(frames[:ends[n-1]]); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("received %d of %d messages", got.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if bytes.Load() == 0 {
		b.Fatal("no data")
	}
}
