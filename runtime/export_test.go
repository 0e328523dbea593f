package runtime

import "testing"

// BenchSubscribers subscribes n sessions to channel without a transport,
// for benchmarks in package runtime_test; drain empties their queues.
func BenchSubscribers(b *testing.B, srv *Server, n int, channel string) (publisherID string, drain func()) {
	sessions := benchSessions(b, srv, n, channel)
	return sessions[0].id, func() {
		for _, s := range sessions {
			s.returnQueue(s.takeQueue())
		}
	}
}

// BenchPublish processes one encoded request body as a websocket batch.
func BenchPublish(srv *Server, body []byte) error {
	msgs, err := decodeMessages(body)
	if err != nil {
		return err
	}
	srv.process(&origin{transport: "websocket"}, msgs)
	return nil
}
