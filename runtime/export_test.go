package runtime

import (
	"bytes"
	"errors"
	"testing"
)

// BenchSubscribers subscribes n sessions to channel without a transport,
// for benchmarks in package runtime_test; drain empties their queues and
// returns how many messages they held.
func BenchSubscribers(b *testing.B, srv *Server, n int, channel string) (publisherID string, drain func() int) {
	sessions := benchSessions(b, srv, n, channel)
	return sessions[0].id, func() int {
		held := 0
		for _, s := range sessions {
			q, _ := s.takeQueue(nil)
			held += len(q)
			s.returnQueue(q)
		}
		return held
	}
}

// BenchPublish processes one encoded request body as a websocket batch; it
// fails when a reply is unsuccessful.
func BenchPublish(srv *Server, body []byte) error {
	msgs, _, err := decodeMessages(body, 0)
	if err != nil {
		return err
	}
	for _, r := range srv.process(&origin{transport: "websocket"}, msgs, nil).replies {
		if bytes.Contains(r, []byte(`"successful":false`)) {
			return errors.New("publish refused: " + string(r))
		}
	}
	return nil
}
