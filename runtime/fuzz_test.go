package runtime

import (
	"testing"
)

// FuzzProcess feeds arbitrary request bodies through parsing and message
// processing: nothing may panic, and whatever parses gets one reply per
// message (a handshake counts as one).
func FuzzProcess(f *testing.F) {
	seeds := []string{
		`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`,
		`{"channel":"/meta/connect","clientId":"x","connectionType":"long-polling","advice":{"timeout":0}}`,
		`[{"channel":"/meta/subscribe","clientId":"x","subscription":["/a/*","/b/**"]}]`,
		`[{"channel":"/a/b","data":{"k":[1,2,3]},"id":"9","ext":{"ack":true}}]`,
		`[{"channel":"/meta/handshake"},{"channel":"/a","data":1}]`,
		`[{"channel":""}]`, `[]`, `[{}]`, `[null]`, `{"id":1.5e300}`, `[{"subscription":{}}]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	srv := New(Options{Logger: discardLogger()})
	defer srv.Shutdown(f.Context())
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, invalid, err := decodeMessages(body, srv.opts.MaxMessagesPerRequest)
		if err != nil {
			return
		}
		res := srv.process(&origin{transport: "long-polling"}, msgs, invalid)
		n := len(res.replies)
		if res.handshake != nil {
			n++
		}
		if res.connect != nil {
			n++
		}
		if n < len(msgs) && !res.rejected {
			t.Errorf("%d messages got %d replies", len(msgs), n)
		}
		if res.connect != nil {
			srv.connectReply(res.connect)
		}
	})
}
