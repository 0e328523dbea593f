// Package ext holds server extensions compatible with the extensions of the
// same name in the official CometD JavaScript client: TimeSync (the client's
// TimeSyncExtension and getServerTime) and Timestamp (a timestamp on every
// outgoing message). The ack extension is built into the runtime itself
// (see runtime.Options.DisableAck), because it decides what each
// /meta/connect reply carries.
//
// Install them server-wide with runtime.Server.AddExtension.
package ext

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// TimeSync answers the timesync data that the CometD client puts in the ext
// of every meta message ({tc, l, o}: its clock, its estimated lag and
// offset) with {tc, ts, p, a}: the client's tc, the server's clock when the
// message arrived, the time the server held it, and the accuracy of the
// client's estimate. The client derives the network lag and its clock's
// offset from the server's, so getServerTime() tracks the server's clock.
type TimeSync struct {
	// Now returns the server's clock; nil means time.Now. Tests set it.
	Now func() time.Time

	mu      sync.Mutex
	pending map[pendingKey]sample
}

type pendingKey struct {
	session string
	id      bayeux.ID
}

type sample struct {
	tc, l, o float64
	ts       int64
}

// maxPending bounds the samples kept for replies not yet sent (a held
// /meta/connect keeps its sample until it is answered).
const maxPending = 100_000

var _ runtime.Extension = (*TimeSync)(nil)

func (t *TimeSync) now() int64 {
	if t.Now != nil {
		return t.Now().UnixMilli()
	}
	return time.Now().UnixMilli()
}

// Incoming records when a meta message carrying timesync data arrived.
func (t *TimeSync) Incoming(_ context.Context, from *runtime.ServerSession, m *bayeux.Message) error {
	if from == nil || !strings.HasPrefix(m.Channel, "/meta/") {
		return nil
	}
	ts, ok := m.Ext["timesync"].(map[string]any)
	if !ok {
		return nil
	}
	tc, ok := ts["tc"].(float64)
	if !ok {
		return nil
	}
	l, _ := ts["l"].(float64)
	o, _ := ts["o"].(float64)
	t.mu.Lock()
	if t.pending == nil {
		t.pending = make(map[pendingKey]sample)
	}
	if len(t.pending) < maxPending {
		t.pending[pendingKey{from.ID(), m.ID}] = sample{tc: tc, l: l, o: o, ts: t.now()}
	}
	t.mu.Unlock()
	return nil
}

// Outgoing adds the timesync answer to the reply of a message Incoming
// recorded.
func (t *TimeSync) Outgoing(_ context.Context, to *runtime.ServerSession, m *bayeux.Message) error {
	if to == nil || m.ID == "" || !strings.HasPrefix(m.Channel, "/meta/") {
		return nil
	}
	key := pendingKey{to.ID(), m.ID}
	t.mu.Lock()
	s, ok := t.pending[key]
	delete(t.pending, key)
	t.mu.Unlock()
	if !ok {
		return nil
	}
	now := t.now()
	if m.Ext == nil {
		m.Ext = make(map[string]any, 1)
	}
	m.Ext["timesync"] = map[string]any{
		"tc": int64(s.tc),
		"ts": s.ts,
		"p":  now - s.ts,
		"a":  int64(s.tc+s.o+s.l) - s.ts,
	}
	return nil
}

// Forget drops the samples of a session; install it with
// Server.OnSessionRemoved so a session that ends with a connect held leaves
// nothing behind.
func (t *TimeSync) Forget(s *runtime.ServerSession, _ runtime.RemoveReason) {
	t.mu.Lock()
	for k := range t.pending {
		if k.session == s.ID() {
			delete(t.pending, k)
		}
	}
	t.mu.Unlock()
}

// Timestamp sets the top-level timestamp field of every message the server
// sends, in the form of JavaScript's Date.toUTCString (RFC 1123, GMT), as
// the CometD client's TimeStampExtension does for the messages it sends.
type Timestamp struct {
	// Now returns the server's clock; nil means time.Now.
	Now func() time.Time
}

var _ runtime.Extension = Timestamp{}

// Incoming does nothing.
func (Timestamp) Incoming(context.Context, *runtime.ServerSession, *bayeux.Message) error { return nil }

// Outgoing stamps m.
func (t Timestamp) Outgoing(_ context.Context, _ *runtime.ServerSession, m *bayeux.Message) error {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	m.Timestamp = now().UTC().Format(http.TimeFormat)
	return nil
}
