package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// A HistoryBroker is a Broker that puts every broadcast of the cluster in
// one numbered order and keeps the recent ones, so that a client whose node
// died can resume on another node where it stopped: the resume extension.
//
// With a HistoryBroker, a node does not deliver a broadcast to its own
// subscribers when it is published. Append sends it to every node, the
// publishing one included, and every node delivers the cluster's broadcasts
// in the history's order through Node.DeliverAt. Each delivered broadcast
// carries its position in ext.resume, and a plain subscribe's reply the
// position it joined at. A client that handshook with ext.resume true and
// lost its session handshakes again, on any node, and subscribes to its
// channels again in one batch, each /meta/subscribe with ext.resume set to
// the last position it received; the node replays what the client missed
// on them before anything newer, and the next /meta/connect reply says
// whether it could replay everything (docs/design.md, "Resuming on another
// node").
//
// The publisher's success reply comes after Append returned: a message the
// publisher was told about is in the history.
type HistoryBroker interface {
	Broker
	// KeepsHistory reports whether the broker, as configured, keeps a
	// history; when it does not, the node works as with a plain Broker.
	KeepsHistory() bool
	// Append adds a broadcast event on channel to the history and returns
	// its position (increasing, never 0) once the history holds it. exclude
	// is the id of a session that must not receive it (the publisher, when
	// the channel does not broadcast to its publisher), or "".
	Append(channel string, event []byte, exclude string) (pos uint64, err error)
	// Replay calls f, in the history's order, for the events after position
	// after, up to and including position upto, on channels that match one
	// of patterns (channel names, possibly with wildcards; events on other
	// channels may be passed too, and are skipped). It stops at the first
	// error f returns, and returns it. complete is false when the history
	// no longer holds everything after after (the oldest were discarded).
	Replay(ctx context.Context, patterns []string, after, upto uint64, f func(pos uint64, event []byte, exclude string) error) (complete bool, err error)
}

// extResume is the ext field of the resume extension.
const extResume = "resume"

// DeliverAt fans a broadcast event at position pos of a HistoryBroker's
// history out to this node's subscribers, stamped with its position in
// ext.resume. The broker calls it for every event of the history, this
// node's own included, in the history's order and from one goroutine at a
// time; an event at or before the last position delivered is a repeat and
// is skipped. exclude names a session that does not get the event (see
// HistoryBroker.Append). A malformed event is refused like in Deliver.
func (n *Node) DeliverAt(pos uint64, event []byte, exclude string) error {
	return n.DeliverStored(pos, time.Time{}, event, exclude)
}

// DeliverStored is DeliverAt of an event the history stored at stored
// (zero: unknown), which the node's metrics use for the history's
// delivery lag (cometgen_history_delivery_lag_seconds).
func (n *Node) DeliverStored(pos uint64, stored time.Time, event []byte, exclude string) error {
	s := n.srv
	m, err := s.remoteBroadcast(event)
	if err != nil {
		return fmt.Errorf("event %d: %w", pos, err)
	}
	s.hist.mu.Lock()
	defer s.hist.mu.Unlock()
	if pos <= s.hist.last.Load() {
		return nil
	}
	s.hist.last.Store(pos)
	if s.metrics != nil && !stored.IsZero() {
		s.metrics.historyLag.Observe(max(time.Since(stored).Seconds(), 0))
	}
	stampPosition(m, pos)
	s.hist.ring.push(ringEvent{pos: pos, exclude: exclude, m: m})
	var from *ServerSession
	if exclude != "" {
		from = s.sessions.get(exclude)
	}
	s.deliverRemote(m, nil, from)
	return nil
}

// Begin tells the node which history it delivers and that the events of
// it up to position pos came before it joined: its broker delivers only
// those after pos, and a resuming client gets those it missed before pos
// replayed. stream names the history: it changes when the history starts
// again from nothing (its positions with it), such as a JetStream stream
// deleted and created again, so that a client holding a position of
// another history is not taken for one that lags ("" when the broker
// cannot tell; positions are then trusted as they are). The handshake
// reply tells it to resuming clients (ext.resumeStream), who send it back
// with their position. A broker with a history calls Begin once, in
// Start, before the first DeliverAt.
func (n *Node) Begin(stream string, pos uint64) {
	s := n.srv
	s.hist.mu.Lock()
	defer s.hist.mu.Unlock()
	s.hist.stream.Store(&stream)
	if pos > s.hist.last.Load() {
		s.hist.last.Store(pos)
	}
}

// HistoryEvent is an event of a history: its position, the encoded
// broadcast and the session it excludes (see HistoryBroker.Append).
type HistoryEvent struct {
	Pos     uint64
	Event   []byte
	Exclude string
}

// ReplayBuffer returns how many events the node's replay buffer holds
// (Options.ReplayBuffer): how many a broker gives Remember at most.
func (n *Node) ReplayBuffer() int { return len(n.srv.hist.ring.items) }

// Remember fills the node's replay buffer with the events of the history
// that came just before it began, without delivering them, so that clients
// resuming from a position of the moments before the node started (a
// restart's reconnect storm) are served from memory instead of each asking
// the broker for a replay at once. A broker with a history calls it after
// Begin and before its first DeliverAt, with the events in order, without
// a gap and ending at Begin's position; anything else is refused with an
// error and the buffer is left as it was: a buffer with a hole would serve
// a replay that misses events.
func (n *Node) Remember(events []HistoryEvent) error {
	s := n.srv
	if len(events) == 0 {
		return nil
	}
	ms := make([]*bayeux.Message, len(events))
	for i, e := range events {
		if i > 0 && e.Pos != events[i-1].Pos+1 {
			return fmt.Errorf("runtime: remember: position %d after %d: not the next", e.Pos, events[i-1].Pos)
		}
		m, err := checkRemote(e.Event)
		if err != nil {
			return fmt.Errorf("runtime: remember: event %d: %w", e.Pos, err)
		}
		ms[i] = m
	}
	s.hist.mu.Lock()
	defer s.hist.mu.Unlock()
	if r := &s.hist.ring; r.len > 0 {
		return errors.New("runtime: remember: the node has delivered events already")
	}
	if last := s.hist.last.Load(); events[len(events)-1].Pos != last {
		return fmt.Errorf("runtime: remember: events end at %d, the node began at %d", events[len(events)-1].Pos, last)
	}
	for i, e := range events {
		stampPosition(ms[i], e.Pos)
		s.hist.ring.push(ringEvent{pos: e.Pos, exclude: e.Exclude, m: ms[i]})
	}
	return nil
}

// extResumeStream is the field of a handshake reply that names the
// history whose positions the session's broadcasts carry.
const extResumeStream = "resumeStream"

// streamName returns the name of the history the node delivers (Node.Begin),
// or "" before it began or when its broker does not name it.
func (h *history) streamName() string {
	if p := h.stream.Load(); p != nil {
		return *p
	}
	return ""
}

// Position returns the position, in a HistoryBroker's history, of the last
// broadcast this node delivered (0 before the first, or without one).
func (n *Node) Position() uint64 { return n.srv.hist.last.Load() }

func stampPosition(m *bayeux.Message, pos uint64) {
	ext := make(map[string]any, len(m.Ext)+1)
	maps.Copy(ext, m.Ext)
	ext[extResume] = pos
	m.Ext = ext
}

// historyBroker returns the server's broker if it keeps a history.
func (s *Server) historyBroker() HistoryBroker { return s.hist.broker }

// history is a node's progress through a HistoryBroker's order. mu is held
// while an event is delivered and while a resuming subscription joins, so
// that the subscription sees every event exactly once: replayed up to last,
// live after it.
type history struct {
	broker HistoryBroker // nil without a broker that keeps a history
	mu     sync.Mutex
	last   atomic.Uint64          // position of the last event delivered (written under mu)
	stream atomic.Pointer[string] // the history's name (Node.Begin)
	// ring holds the last Options.ReplayBuffer events delivered (guarded
	// by mu): a resume that needs nothing older is replayed from memory,
	// without asking the broker, so that many clients resuming at once
	// (their node died) do not hold the node's delivery back.
	ring ring[ringEvent]
}

// ringEvent is an event of the history as this node delivered it.
type ringEvent struct {
	pos     uint64
	exclude string
	m       *bayeux.Message // decoded and stamped; shared, never changed
}

// ring is a fixed-size buffer of the newest items, oldest first.
type ring[T any] struct {
	items      []T // len is the capacity
	start, len int
}

func newRing[T any](size int) ring[T] { return ring[T]{items: make([]T, size)} }

// push adds e, dropping the oldest item when the ring is full.
func (r *ring[T]) push(e T) {
	if len(r.items) == 0 {
		return
	}
	if r.len < len(r.items) {
		r.items[(r.start+r.len)%len(r.items)] = e
		r.len++
		return
	}
	r.items[r.start] = e
	r.start = (r.start + 1) % len(r.items)
}

// at returns the i-th oldest item.
func (r *ring[T]) at(i int) *T { return &r.items[(r.start+i)%len(r.items)] }

// recent returns the events of the node's ring after position after, up
// to upto (the node's last position), when the ring holds every event the
// node delivered after after; ok is false when it does not (the broker
// must replay).
func recent(r *ring[ringEvent], after, upto uint64) (evs []ringEvent, ok bool) {
	if after >= upto {
		return nil, true
	}
	if r.len == 0 || r.at(0).pos > after+1 {
		return nil, false
	}
	for i := range r.len {
		if e := r.at(i); e.pos > after && e.pos <= upto {
			evs = append(evs, *e)
		}
	}
	return evs, true
}

// resumePoint is where a subscribe's ext.resume says the client resumes:
// after position after of history stream ("" when the client did not say;
// the position is then taken as one of the node's history), leaving out
// the messages of its previous session, when named, on channels that do
// not broadcast to their publisher.
type resumePoint struct {
	after    uint64
	previous string
	stream   string
}

// resumeAfter reads a subscribe's ext.resume: the position the client
// resumes after (the last one it received), as a number, or as
// {"position": n, "session": "<the client's previous clientId>",
// "stream": "<the history of the position>"}, session and stream optional.
// asked is false without ext.resume.
func resumeAfter(m *bayeux.Message) (at resumePoint, asked bool, err *bayeux.Error) {
	v, present := m.Ext[extResume]
	if !present {
		return resumePoint{}, false, nil
	}
	if obj, ok := v.(map[string]any); ok {
		v = obj["position"]
		var okSession, okStream bool
		at.previous, okSession = optionalString(obj, "session")
		at.stream, okStream = optionalString(obj, "stream")
		if !okSession || !okStream {
			return resumePoint{}, false, errResumeInvalid
		}
	}
	f, isNum := v.(float64)
	if !isNum || f < 0 || f != float64(uint64(f)) || f > 1<<53 {
		return resumePoint{}, false, errResumeInvalid
	}
	at.after = uint64(f)
	return at, true, nil
}

// optionalString returns obj's field name, which must be a string when
// present ("" when absent); ok is false when it is not a string.
func optionalString(obj map[string]any, name string) (v string, ok bool) {
	f, present := obj[name]
	if !present {
		return "", true
	}
	v, ok = f.(string)
	return v, ok
}

// pendingResume is the resuming subscribes of one session in one batch:
// the position they resume after and their channels, joined once the
// batch is processed, after one replay.
type pendingResume struct {
	sess     *ServerSession
	after    uint64
	previous string // the client's previous session id, or ""
	// foreign: the client's position was of another history (a stream
	// that was reset since): the client has seen none of this one, which
	// is replayed from its start, and the resume is incomplete.
	foreign  bool
	channels []string
}

// resumeGroup returns the batch's resuming subscribes of sess from at,
// adding an empty group if there is none. A position of a history other
// than the node's is one before all of the node's.
func (r *result) resumeGroup(sess *ServerSession, at resumePoint, stream string) *pendingResume {
	pr := pendingResume{sess: sess, after: at.after, previous: at.previous}
	if at.stream != "" && stream != "" && at.stream != stream {
		pr.after, pr.foreign = 0, true
	}
	for i := range r.resumes {
		if g := &r.resumes[i]; g.sess == sess && g.after == pr.after && g.previous == pr.previous && g.foreign == pr.foreign {
			return g
		}
	}
	r.resumes = append(r.resumes, pr)
	return &r.resumes[len(r.resumes)-1]
}

// unresume drops channel from the batch's resuming subscribes of sess (an
// unsubscribe after its subscribe in one batch), and reports whether it was
// there.
func (r *result) unresume(sess *ServerSession, channel string) bool {
	found := false
	for i := range r.resumes {
		if pr := &r.resumes[i]; pr.sess == sess {
			if k := slices.Index(pr.channels, channel); k >= 0 {
				pr.channels = slices.Delete(pr.channels, k, k+1)
				found = true
			}
		}
	}
	return found
}

// finishResume joins the channels of a batch's resuming subscribes after
// the replay, and keeps whether it was complete for the session's next
// connect reply.
func (s *Server) finishResume(hc *hookContext, pr pendingResume) {
	if len(pr.channels) == 0 {
		return
	}
	complete := s.resume(hc, pr) && !pr.foreign
	if !complete {
		s.stats.resumeGaps.Add(1)
	}
	pr.sess.mu.Lock()
	if pr.sess.resumed != nil {
		complete = complete && *pr.sess.resumed
	}
	pr.sess.resumed = &complete
	pr.sess.mu.Unlock()
}

// takeResumed returns, once, whether the session's resumes since its last
// connect reply were complete; ok is false when there were none.
func (s *ServerSession) takeResumed() (complete, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resumed == nil {
		return false, false
	}
	complete = *s.resumed
	s.resumed = nil
	return complete, true
}

// joinAtPosition subscribes sess to channel on a node with a history and
// returns the node's position then: the events after it on channel reach
// the session live, and a client that has received nothing yet resumes
// from it. ok is false when the session has been removed.
func (s *Server) joinAtPosition(sess *ServerSession, channel string) (pos uint64, ok bool) {
	s.hist.mu.Lock()
	defer s.hist.mu.Unlock()
	return s.hist.last.Load(), s.channels.subscribe(sess, channel)
}

var (
	errResumeInvalid = bayeux.NewError(400, "resume_invalid")
	errReplayLimit   = errors.New("replay limit reached")
)

// resume subscribes the session of pr to its channels after replaying,
// from the history, the events on them after its position that this node
// delivered (but the client's own, on channels that do not broadcast to
// their publisher): the client's next events are then exactly the ones it
// missed, in order, followed by the live ones. It reports whether the
// replay was complete: false when the history had discarded some, when
// more were due than MaxReplay or the room left in the session's queue
// (less a tenth of MaxQueue, for live messages), or when the history could
// not be read (logged).
func (s *Server) resume(hc *hookContext, pr pendingResume) (complete bool) {
	sess, channels, after := pr.sess, pr.channels, pr.after
	hb := s.historyBroker()
	limit := min(s.opts.MaxReplay, s.opts.MaxQueue-s.opts.MaxQueue/10-sess.queued())
	replayed := 0
	// enqueue queues one event (m stamped with its position) for the
	// session, unless it is not for it.
	enqueue := func(e ringEvent) error {
		m := e.m
		if e.exclude != "" && (e.exclude == sess.id || e.exclude == pr.previous) || !matchesAny(channels, m.Channel) {
			return nil
		}
		var buf [8]*Channel
		route := s.channels.route(buf[:0], m.Channel)
		t := s.templateFor(route, m.Channel)
		lazy, local := s.routeConf(route, t)
		if local {
			return nil
		}
		if replayed >= limit {
			return errReplayLimit
		}
		replayed++
		f := fanOut{srv: s, hc: hc, m: m, toPublisher: true, lazy: lazy}
		var gate *template
		if !slices.Contains(channels, m.Channel) && t.restricted() {
			gate = t // asked through a wildcard subscription
		}
		f.deliver([]*ServerSession{sess}, gate)
		return nil
	}
	fromBroker := func(pos uint64, event []byte, exclude string) error {
		m, err := checkRemote(event)
		if err != nil {
			return nil // counted and dropped when it was delivered live
		}
		stampPosition(m, pos)
		return enqueue(ringEvent{pos: pos, exclude: exclude, m: m})
	}
	complete = true
	stopped := false // the replay cannot go on: an error or the limit
	// replay replays (from, upto]: from evs when the ring held them (ok),
	// else from the broker.
	replay := func(from, upto uint64, evs []ringEvent, inRing bool) {
		if stopped || from >= upto {
			return
		}
		whole, err := true, error(nil)
		if inRing {
			for _, e := range evs {
				if err = enqueue(e); err != nil {
					break
				}
			}
		} else {
			whole, err = hb.Replay(hc.get(), channels, from, upto, fromBroker)
		}
		switch {
		case errors.Is(err, errReplayLimit):
			s.log.Warn("bayeux resume: more to replay than the session may take", "session", sess.id, "limit", limit)
			complete, stopped = false, true
		case err != nil:
			s.log.Warn("bayeux resume: history unreadable", "session", sess.id, "err", err)
			complete, stopped = false, true
		case !whole:
			complete = false // the oldest are gone; what is left is replayed
		}
	}
	// Most of the replay runs while the node goes on delivering; the rest,
	// delivered meanwhile, under the lock that holds the delivery back
	// until the session is subscribed.
	s.hist.mu.Lock()
	upto := s.hist.last.Load()
	evs, ok := recent(&s.hist.ring, after, upto)
	s.hist.mu.Unlock()
	replay(after, upto, evs, ok)
	s.hist.mu.Lock()
	defer s.hist.mu.Unlock()
	from, last := max(after, upto), s.hist.last.Load()
	evs, ok = recent(&s.hist.ring, from, last)
	replay(from, last, evs, ok)
	for _, name := range channels {
		if !s.channels.subscribe(sess, name) {
			break // removed meanwhile
		}
	}
	if replayed > 0 {
		s.stats.replayed.Add(int64(replayed))
	}
	return complete
}

// checkRemote decodes a broadcast event from the broker: one well-formed
// message on a concrete broadcast channel, or an error.
func checkRemote(event []byte) (*bayeux.Message, error) {
	m, err := decodeRemote(event)
	if err == nil && (bayeux.KindOf(m.Channel) != bayeux.Broadcast || bayeux.IsWild(m.Channel)) {
		err = fmt.Errorf("runtime: remote event on %q: not a concrete broadcast channel", m.Channel)
	}
	return m, err
}

func matchesAny(patterns []string, channel string) bool {
	for _, p := range patterns {
		if bayeux.Match(p, channel) {
			return true
		}
	}
	return false
}
