package runtime

import (
	"crypto/rand"
	"encoding/base32"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// RemoveReason tells why a session ended.
type RemoveReason int

// Reasons a session is removed.
const (
	// RemovedDisconnect: the client sent /meta/disconnect.
	RemovedDisconnect RemoveReason = iota + 1
	// RemovedTimeout: no /meta/connect arrived within interval+maxInterval.
	RemovedTimeout
	// RemovedSlowConsumer: the session's queue reached MaxQueue.
	RemovedSlowConsumer
	// RemovedServer: the server ended the session (shutdown or application).
	RemovedServer
	// RemovedUnhealthy: the node lost its broker; the client is told to
	// handshake again, on a healthy node.
	RemovedUnhealthy
)

// String returns a short name of the reason.
func (r RemoveReason) String() string {
	switch r {
	case RemovedDisconnect:
		return "disconnect"
	case RemovedTimeout:
		return "timeout"
	case RemovedSlowConsumer:
		return "slow_consumer"
	case RemovedServer:
		return "server"
	case RemovedUnhealthy:
		return "node_unhealthy"
	}
	return "unknown"
}

// ServerSession is the server side of one client session: a remote client
// that handshook over any transport, or a local session of the application.
// Its methods are safe for concurrent use.
type ServerSession struct {
	// The fields read or written for every message queued and every
	// flush come first, so that a fan-out to many sessions, and the
	// flushers after it, touch few cache lines of each.
	mu      sync.Mutex
	removed bool
	// urgent is set when the queue holds a message that must not wait: a
	// non-lazy one, or a lazy one whose timeout passed.
	urgent bool
	batch  int      // nesting depth of Batch; flushes wait until it is 0
	queue  [][]byte // encoded messages waiting for delivery
	// ws is the websocket this session is bound to, if any; written under
	// mu, read without it by notify.
	ws atomic.Pointer[wsConn]
	// ack is set when the client negotiated the ack extension, at its
	// handshake; its fields are guarded by mu.
	ack atomic.Pointer[ackState]
	// queuedAt stamps the publication of the oldest message queued
	// (metrics.now; 0: none, or no metrics).
	queuedAt int64
	srv      *Server
	// wake has capacity 1; a send means "something changed": a message was
	// queued, the held connect was displaced, or the session was removed.
	wake  chan struct{}
	local *LocalSession
	exts  atomic.Pointer[[]Extension]

	id        string
	browserID string
	// clientAddr is the client address the session counts against
	// MaxSessionsPerClient ("" for none).
	clientAddr string
	// gone is closed when the session is removed.
	gone chan struct{}

	spare     [][]byte // the other half of the double buffer for queue
	reason    RemoveReason
	connected bool // a /meta/connect has been answered
	// holds counts the /meta/connect currently held; while it is non-zero the
	// session does not expire.
	holds int
	// connectSeq increases with every /meta/connect; a held connect whose
	// number is no longer current has been displaced.
	connectSeq uint64
	expires    time.Time
	subs       map[*Channel]struct{}
	lazyTimer  *time.Timer

	userID    string
	roles     []string
	attrs     map[string]any
	queueFull func(*ServerSession) QueueFullAction
	resumed   *bool // the outcome of resumes not yet told in a connect reply

	// indexedUser is the user the session was indexed under at handshake
	// (Server.DeliverToUser, presence).
	indexedUser string
	// transport is the transport of the session's last handshake or
	// connect (the sessions gauge).
	transport string
}

// QueueFullAction says what happens to a message that finds its session's
// queue full.
type QueueFullAction int

const (
	// QueueFullDisconnect removes the session as a slow consumer (the
	// default): its client is told to handshake again, so it knows it
	// missed messages.
	QueueFullDisconnect QueueFullAction = iota
	// QueueFullDrop drops the message for this session and keeps the
	// session; the drop is counted in Stats.QueueDrops.
	QueueFullDrop
)

// ID returns the session's client id.
func (s *ServerSession) ID() string { return s.id }

func newSession(srv *Server, browserID string) *ServerSession {
	return &ServerSession{
		id:        newSessionID(),
		srv:       srv,
		browserID: browserID,
		wake:      make(chan struct{}, 1),
		gone:      make(chan struct{}),
		subs:      make(map[*Channel]struct{}),
	}
}

// newSessionID returns 160 random bits from crypto/rand as 32 lower-case
// letters and digits (alphanumeric, as CometD clients expect).
func newSessionID() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return idEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func (s *ServerSession) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// enqueue adds an encoded message to the session's queue. A lazy message
// (lazy > 0) does not wake the session's connection until its deadline. It
// reports false when the session is gone or the message was dropped.
func (s *ServerSession) enqueue(msg []byte, lazy time.Duration) bool {
	return s.enqueueFrom(msg, lazy, nil)
}

// queuedFrom says where a queued message comes from, for the metrics and
// the logs: its channel, and the stamp of its publication (metrics.now),
// read on the first delivery that needs it: one that finds its session's
// queue empty. A fan-out reads the clock at most once, and not at all when
// every queue holds older messages.
type queuedFrom struct {
	t       *template // the channel's template, nil for none
	channel string
	at      int64 // 0: not read yet
}

// enqueueFrom is enqueue of a message published as from says (nil:
// unknown).
func (s *ServerSession) enqueueFrom(msg []byte, lazy time.Duration, from *queuedFrom) bool {
	s.mu.Lock()
	if s.removed || len(s.queue) >= s.srv.opts.MaxQueue || lazy > 0 {
		return s.enqueueSlow(msg, lazy, from) // unlocks
	}
	if len(s.queue) == 0 && s.srv.metrics != nil {
		s.stamp(from)
	}
	s.queue = append(s.queue, msg)
	s.urgent = true
	wake := s.batch == 0
	s.mu.Unlock()
	if wake {
		s.notify()
	}
	return true
}

// stamp records, for the first message of an empty queue, when it was
// published; s.mu is held.
func (s *ServerSession) stamp(from *queuedFrom) {
	if from == nil {
		s.queuedAt = s.srv.metrics.now()
		return
	}
	if from.at == 0 {
		from.at = s.srv.metrics.now()
	}
	s.queuedAt = from.at
}

// enqueueSlow is enqueue for a gone session, a full queue or a lazy
// message; s.mu is held on entry and released on return.
func (s *ServerSession) enqueueSlow(msg []byte, lazy time.Duration, from *queuedFrom) bool {
	if s.removed {
		s.mu.Unlock()
		return false
	}
	if len(s.queue) >= s.srv.opts.MaxQueue {
		policy := s.queueFull
		s.mu.Unlock()
		if policy == nil {
			policy = s.srv.opts.OnQueueFull
		}
		if policy != nil && policy(s) == QueueFullDrop {
			s.srv.stats.queueDrops.Add(1)
			return false
		}
		s.srv.slowConsumer(s, from)
		return false
	}
	if len(s.queue) == 0 && s.srv.metrics != nil {
		s.stamp(from)
	}
	s.queue = append(s.queue, msg)
	if !s.urgent && s.lazyTimer == nil {
		s.lazyTimer = time.AfterFunc(lazy, s.lazyExpired)
	}
	s.mu.Unlock()
	return true
}

// lazyExpired runs when the oldest lazy message's timeout passes.
func (s *ServerSession) lazyExpired() {
	s.mu.Lock()
	s.lazyTimer = nil
	wake := len(s.queue) > 0 && s.batch == 0
	if len(s.queue) > 0 {
		s.urgent = true
	}
	s.mu.Unlock()
	if wake {
		s.notify()
	}
}

// hasUrgent reports whether the queue holds a message that must go now.
func (s *ServerSession) hasUrgent() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urgent
}

// notify wakes whoever delivers the session's messages: its websocket's
// writer, its held connect, or its local session's dispatcher.
func (s *ServerSession) notify() {
	if s.local != nil {
		s.local.wakeUp()
		return
	}
	// A session moves from a websocket to long polls under s.mu, and a
	// long poll looks at the queue after that: whatever was queued before
	// is found by either.
	if ws := s.ws.Load(); ws != nil {
		ws.signal()
		return
	}
	s.signal()
}

// takeQueue removes and returns everything queued, when the connection by
// (nil for a long poll or a local session) delivers the session's messages:
// one websocket at most owns a session's queue, the one the client used
// last, so a session moved to a new websocket is not drained by its old one
// as well. owned is false when by does not own the queue; nothing is taken
// then. The caller gives the slice back with returnQueue when it has
// written it.
func (s *ServerSession) takeQueue(by *wsConn) (q [][]byte, owned bool) {
	s.mu.Lock()
	if s.ws.Load() != by {
		s.mu.Unlock()
		return nil, false
	}
	q = s.queue
	if len(q) == 0 {
		s.mu.Unlock()
		return nil, true
	}
	s.queue = s.spare[:0]
	s.spare = nil
	s.urgent = false
	at := s.queuedAt
	s.queuedAt = 0
	if s.lazyTimer != nil {
		s.lazyTimer.Stop()
		s.lazyTimer = nil
	}
	s.mu.Unlock()
	if at != 0 {
		// Taken to be written now: the oldest message's wait.
		s.srv.metrics.latency.Observe(s.srv.metrics.sinceStamp(at))
	}
	return q, true
}

// requeue puts back, ahead of anything queued since, the messages a
// connection took with takeQueue but could not write, and wakes whoever
// delivers the session's messages now.
func (s *ServerSession) requeue(q [][]byte) {
	if len(q) == 0 {
		return
	}
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		return
	}
	all := make([][]byte, 0, len(q)+len(s.queue))
	s.queue = append(append(all, q...), s.queue...)
	s.urgent = true
	s.mu.Unlock()
	s.notify()
}

// detachWebSocket makes long polls deliver the session's messages: the
// websocket that delivered them, if any, stops.
func (s *ServerSession) detachWebSocket() {
	s.mu.Lock()
	old := s.ws.Load()
	s.ws.Store(nil)
	s.mu.Unlock()
	if old != nil {
		old.unbind(s)
	}
}

// returnQueue recycles a slice taken by takeQueue.
func (s *ServerSession) returnQueue(q [][]byte) {
	if cap(q) > 4*s.srv.opts.MaxQueue/3+64 {
		return // do not keep a burst's worth of memory around
	}
	clear(q)
	s.mu.Lock()
	if s.spare == nil {
		s.spare = q[:0]
	}
	s.mu.Unlock()
}

func (s *ServerSession) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// isRemoved reports whether the session has ended.
func (s *ServerSession) isRemoved() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removed
}

// scheduleExpiry starts the session's expiry clock after a connect reply.
func (s *ServerSession) scheduleExpiry(now time.Time) {
	o := &s.srv.opts
	s.mu.Lock()
	s.expires = now.Add(o.Interval + o.MaxInterval)
	s.mu.Unlock()
}

// sessionTable maps client ids to sessions in shards, so that looking a
// session up on every message does not contend on one lock.
type sessionTable struct {
	seed   maphash.Seed
	shards [64]sessionShard
}

type sessionShard struct {
	mu sync.RWMutex
	m  map[string]*ServerSession
}

func newSessionTable() *sessionTable {
	t := &sessionTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*ServerSession)
	}
	return t
}

func (t *sessionTable) shard(id string) *sessionShard {
	return &t.shards[maphash.String(t.seed, id)%uint64(len(t.shards))]
}

func (t *sessionTable) get(id string) *ServerSession {
	sh := t.shard(id)
	sh.mu.RLock()
	s := sh.m[id]
	sh.mu.RUnlock()
	return s
}

func (t *sessionTable) put(s *ServerSession) {
	sh := t.shard(s.id)
	sh.mu.Lock()
	sh.m[s.id] = s
	sh.mu.Unlock()
}

func (t *sessionTable) delete(s *ServerSession) bool {
	sh := t.shard(s.id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[s.id] != s {
		return false
	}
	delete(sh.m, s.id)
	return true
}

// each calls f for every session, one shard at a time, without holding a
// shard lock while f runs.
func (t *sessionTable) each(f func(*ServerSession)) {
	var buf []*ServerSession
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		buf = buf[:0]
		for _, s := range sh.m {
			buf = append(buf, s)
		}
		sh.mu.RUnlock()
		for _, s := range buf {
			f(s)
		}
	}
}
