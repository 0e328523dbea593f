package runtime

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestShutdownFlushesAcknowledged publishes a burst and shuts the server
// down as soon as the last publish is acknowledged: every acknowledged
// message reaches every websocket subscriber, with and without the ack
// extension, before its connection closes.
func TestShutdownFlushesAcknowledged(t *testing.T) {
	for _, ack := range []bool{false, true} {
		t.Run(fmt.Sprintf("ack=%v", ack), func(t *testing.T) {
			srv, base := newTestServer(t, Options{Timeout: 30 * time.Second})
			const subscribers, n = 4, 300
			type tally struct {
				got map[float64]int
				err error
			}
			results := make(chan tally, subscribers)
			ready := make(chan struct{}, subscribers)
			for range subscribers {
				c := dialWS(t, base)
				hs := msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"websocket"}}
				if ack {
					hs["ext"] = msg{"ack": true}
				}
				c.write(hs)
				c.clientID = c.read(5 * time.Second)[0]["clientId"].(string)
				c.write(msg{"channel": "/meta/subscribe", "subscription": "/burst"})
				c.readUntil(5*time.Second, isReplyTo("2"))
				go func() {
					// A client's loop: a connect held at a time, sent again
					// (acknowledging the batch) as soon as one is answered.
					got := make(map[float64]int)
					connect := func(batch any) {
						m := msg{"channel": "/meta/connect", "connectionType": "websocket"}
						if ack {
							m["ext"] = msg{"ack": batch}
						}
						c.write(m)
					}
					connect(0)
					ready <- struct{}{}
					for {
						c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
						_, data, err := c.c.ReadMessage()
						if err != nil {
							var ce *websocket.CloseError
							if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
								results <- tally{got, fmt.Errorf("read: %v, want close 1001", err)}
								return
							}
							results <- tally{got, nil}
							return
						}
						for _, m := range decodeReplies(t, data) {
							switch {
							case m["channel"] == "/burst":
								got[m["data"].(float64)]++
							case m["channel"] == "/meta/connect":
								var batch any
								if ext, ok := m["ext"].(map[string]any); ok {
									batch = ext["ack"]
								}
								if err := c.c.WriteJSON([]msg{{"channel": "/meta/connect", "connectionType": "websocket", "clientId": c.clientID, "ext": msg{"ack": batch}}}); err != nil && !errors.Is(err, net.ErrClosed) {
									_ = err // the server may have closed already
								}
							}
						}
					}
				}()
			}
			for range subscribers {
				<-ready
			}

			pub := dialWS(t, base)
			pub.handshake()
			acked := 0
			for i := 0; i < n; i += 50 {
				var batch []msg
				for j := i; j < i+50; j++ {
					batch = append(batch, msg{"channel": "/burst", "data": j})
				}
				pub.write(batch...)
			}
			for acked < n {
				for _, m := range pub.read(5 * time.Second) {
					if m["channel"] == "/burst" && m["successful"] == true {
						acked++
					}
				}
			}
			go func() { // as a client does, answer the server's close
				for {
					if _, _, err := pub.c.ReadMessage(); err != nil {
						return
					}
				}
			}()
			if err := srv.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			for range subscribers {
				r := <-results
				if r.err != nil {
					t.Error(r.err)
				}
				missing := 0
				for i := range n {
					switch r.got[float64(i)] {
					case 0:
						missing++
					case 1:
					default:
						t.Errorf("message %d received %d times", i, r.got[float64(i)])
					}
				}
				if missing > 0 {
					t.Errorf("a subscriber missed %d of %d acknowledged messages", missing, n)
				}
			}
		})
	}
}
