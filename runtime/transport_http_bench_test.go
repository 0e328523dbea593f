package runtime

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// nopExtension is an extension that does nothing, as the usual server-wide
// extensions do to a /meta/connect that carries none of their fields.
type nopExtension struct{}

func (nopExtension) Incoming(context.Context, *ServerSession, *bayeux.Message) error { return nil }
func (nopExtension) Outgoing(context.Context, *ServerSession, *bayeux.Message) error { return nil }

// BenchmarkLongPollRoundTrip measures one long-polling round trip through
// net/http and the handler on loopback: a message is queued for a session,
// its /meta/connect is sent over a kept-alive connection and the reply,
// carrying the message, is read. The client is minimal (pre-built request
// bytes, Content-Length framing), so nearly all the cost is the server's
// and the kernel's.
func BenchmarkLongPollRoundTrip(b *testing.B) {
	for _, ext := range []bool{false, true} {
		b.Run(fmt.Sprintf("extension=%v", ext), func(b *testing.B) {
			srv := New(Options{Logger: discardLogger()})
			defer srv.Shutdown(context.Background())
			if ext {
				srv.AddExtension(nopExtension{})
			}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			sess := benchSessions(b, srv, 1, "/bench/room")[0]
			ev := encodeEvent("/bench/room", []byte(`{"seq":1,"ts":1732500000000000000,"text":"hello, world"}`), nil)

			conn, err := net.Dial("tcp", hs.Listener.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 4096)
			var req []byte
			var id int
			roundTrip := func() []byte {
				id++
				body := `[{"channel":"/meta/connect","clientId":"` + sess.id + `","connectionType":"long-polling","id":"` + strconv.Itoa(id) + `"}]`
				req = append(req[:0], "POST /cometd HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: "...)
				req = strconv.AppendInt(req, int64(len(body)), 10)
				req = append(req, "\r\n\r\n"...)
				req = append(req, body...)
				if _, err := conn.Write(req); err != nil {
					b.Fatal(err)
				}
				return readResponse(b, br)
			}
			roundTrip() // the first connect of a session is answered at once
			b.ReportAllocs()
			for b.Loop() {
				sess.enqueue(ev, 0)
				if resp := roundTrip(); !bytes.Contains(resp, []byte(`"seq":1`)) {
					b.Fatalf("reply without the message: %s", resp)
				}
			}
		})
	}
}

// readResponse reads one HTTP/1.1 response framed by Content-Length and
// returns its body.
func readResponse(tb testing.TB, br *bufio.Reader) []byte {
	tb.Helper()
	n := -1
	status := ""
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			tb.Fatal(err)
		}
		if status == "" {
			status = string(line)
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		tb.Fatalf("response without Content-Length: %s", status)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		tb.Fatal(err)
	}
	if !bytes.HasPrefix([]byte(status), []byte("HTTP/1.1 200")) {
		tb.Fatalf("status %q: %s", status, body)
	}
	return body
}

var _ http.Handler = (*Server)(nil)
