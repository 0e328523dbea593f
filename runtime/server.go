package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/gorilla/websocket"
)

// Server is a Bayeux 1.0 server. It is an http.Handler: mount it at one
// path (conventionally /cometd); it serves websocket upgrades at that path,
// long-polling POSTs at that path and any suffix of it (the CometD client
// appends /handshake, /connect and /disconnect), and callback-polling GETs.
//
// A Server is safe for concurrent use. Create it with New and stop it with
// Shutdown.
type Server struct {
	opts     Options
	log      *slog.Logger
	sessions *sessionTable
	channels channelRegistry
	hooks    serverHooks
	browsers countTable // held long polls per browser
	clients  countTable // sessions per client address
	upgrader websocket.Upgrader
	stats    counters

	nsessions      atomic.Int64
	hasAuthorizers atomic.Bool
	closing        chan struct{}
	closeOnce      sync.Once
	forced         chan struct{} // closed when Shutdown's context ends first
	forceOnce      sync.Once
	sweeper        sync.WaitGroup
	wsConns        sync.Map // *wsConn -> struct{}

	users  userIndex
	health atomic.Pointer[error] // nil: healthy
	hist   history               // with a HistoryBroker
	contractState

	metrics  *metrics // nil without Options.Metrics
	refusals refusalLog
}

// New returns a Server configured by opts and starts its session sweeper.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		sessions: newSessionTable(),
		browsers: countTable{held: make(map[string]int)},
		clients:  countTable{held: make(map[string]int)},
		closing:  make(chan struct{}),
		forced:   make(chan struct{}),
	}
	s.channels.srv = s
	if opts.Metrics != nil {
		s.metrics = newMetrics(s, opts.Metrics)
	}
	s.upgrader = websocket.Upgrader{
		// No read buffer: gorilla reads through the connection's own
		// small one (wsReadBufferSize, see hijacker); a message larger
		// than it is read into the message's own buffer.
		WriteBufferSize: wsWriteBufferSize,
		// A connection takes a write buffer for each frame and gives it
		// back when the frame is written: an idle one holds none.
		WriteBufferPool: &wsWriteBuffers,
		CheckOrigin:     s.checkWebSocketOrigin,
	}
	s.sweeper.Add(1)
	go s.sweep()
	if b := opts.Broker; b != nil {
		if hb, ok := b.(HistoryBroker); ok && hb.KeepsHistory() {
			s.hist.broker = hb
			s.hist.ring = newRing[ringEvent](opts.ReplayBuffer)
		}
		if err := b.Start(&Node{srv: s}); err != nil {
			err = fmt.Errorf("runtime: start broker: %w", err)
			s.log.Error("bayeux broker failed to start", "err", err)
			s.setHealth(err)
		}
	}
	return s
}

// Options returns the server's options with every default filled in.
func (s *Server) Options() Options { return s.opts }

// Shutdown stops the server: it refuses new handshakes, answers every held
// /meta/connect at once with advice to reconnect (so clients move to another
// server, or back to this one once it restarts), closes websockets with
// "going away", and stops the sweeper. Before a websocket closes, its
// session receives every message queued for it, so a message acknowledged
// to its publisher before Shutdown began reaches every websocket
// subscriber; a session with the ack extension, which receives messages
// only with connect replies, is given its client's next connect to receive
// them. It returns when all of that is done or ctx ends; then the
// websockets still open are closed. The http.Server serving s should be
// shut down afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		for _, f := range s.hooks.load().shutdown {
			f()
		}
		close(s.closing)
		s.signalWebSockets() // their writers answer held connects and drain
		if b := s.opts.Broker; b != nil {
			if err := b.Close(); err != nil {
				s.log.Warn("bayeux broker close", "err", err)
			}
		}
	})
	done := make(chan struct{})
	go func() {
		s.sweeper.Wait()
		for {
			n := 0
			s.wsConns.Range(func(any, any) bool { n++; return false })
			if n == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.forceOnce.Do(func() {
			close(s.forced)
			s.signalWebSockets() // their writers close them now
		})
		return ctx.Err()
	}
}

// signalWebSockets wakes the writer of every websocket.
func (s *Server) signalWebSockets() {
	s.wsConns.Range(func(k, _ any) bool {
		k.(*wsConn).signal()
		return true
	})
}

func (s *Server) isForced() bool { return isClosed(s.forced) }

func (s *Server) isClosing() bool { return isClosed(s.closing) }

// isClosed reports whether ch is closed (it is never sent on).
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Stats is a snapshot of the server's counters, for a metrics endpoint.
type Stats struct {
	Sessions        int   // sessions alive now
	Channels        int   // channels the server knows now
	Subscriptions   int64 // subscriptions alive now
	Handshakes      int64 // successful handshakes since start
	MessagesIn      int64 // messages received from clients
	BytesIn         int64 // bytes of request bodies and websocket messages received
	MessagesOut     int64 // messages queued for delivery to sessions
	BytesOut        int64 // bytes of the messages queued for delivery
	Published       int64 // broadcast messages accepted for fan-out
	Deliveries      int64 // copies of broadcast messages queued by fan-out
	QueueOverflows  int64 // sessions removed because their queue was full
	QueueDrops      int64 // messages dropped because a queue was full (QueueFullDrop)
	Denied          int64 // operations refused by security, listeners, filters or extensions
	Expired         int64 // sessions removed by the sweeper
	BadRequests     int64 // requests refused before any message was processed
	ChannelsCreated int64 // channels created since start
	BrokerOut       int64 // messages handed to the broker for the other nodes
	BrokerIn        int64 // messages from other nodes delivered here
	BrokerBad       int64 // messages from other nodes dropped as malformed
	Replayed        int64 // messages replayed from a HistoryBroker's history to resuming sessions
	ResumeGaps      int64 // batches of resuming subscribes whose replay was incomplete
	// SkewCompatible and SkewBreaking count the handshakes of clients built
	// against another version of the contract (Contract.Print): one the
	// server judged compatible, one it told of channels that break.
	SkewCompatible int64
	SkewBreaking   int64
}

type counters struct {
	handshakes, messagesIn, bytesIn, messagesOut, bytesOut atomic.Int64
	published, deliveries, subscriptions, channelsCreated  atomic.Int64
	queueOverflows, queueDrops, denied, expired            atomic.Int64
	badRequests                                            atomic.Int64
	brokerOut, brokerIn, brokerBad                         atomic.Int64
	replayed, resumeGaps                                   atomic.Int64
	skewCompatible, skewBreaking                           atomic.Int64
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Sessions:        int(s.nsessions.Load()),
		Channels:        s.channels.count(),
		Subscriptions:   s.stats.subscriptions.Load(),
		Handshakes:      s.stats.handshakes.Load(),
		MessagesIn:      s.stats.messagesIn.Load(),
		BytesIn:         s.stats.bytesIn.Load(),
		MessagesOut:     s.stats.messagesOut.Load(),
		BytesOut:        s.stats.bytesOut.Load(),
		Published:       s.stats.published.Load(),
		Deliveries:      s.stats.deliveries.Load(),
		QueueOverflows:  s.stats.queueOverflows.Load(),
		QueueDrops:      s.stats.queueDrops.Load(),
		Denied:          s.stats.denied.Load(),
		Expired:         s.stats.expired.Load(),
		BadRequests:     s.stats.badRequests.Load(),
		ChannelsCreated: s.stats.channelsCreated.Load(),
		BrokerOut:       s.stats.brokerOut.Load(),
		BrokerIn:        s.stats.brokerIn.Load(),
		BrokerBad:       s.stats.brokerBad.Load(),
		Replayed:        s.stats.replayed.Load(),
		ResumeGaps:      s.stats.resumeGaps.Load(),
		SkewCompatible:  s.stats.skewCompatible.Load(),
		SkewBreaking:    s.stats.skewBreaking.Load(),
	}
}

// Channel returns the channel named name, or nil if the server does not know
// it.
func (s *Server) Channel(name string) *Channel { return s.channels.get(bayeux.Normalize(name)) }

// CreateChannel returns the channel named name, creating it if needed. The
// initializers configure a channel this call creates before anyone else can
// see it (create and configure are one atomic step); they do not run on a
// channel that already exists. It reports whether this call created the
// channel.
func (s *Server) CreateChannel(name string, init ...func(*Channel)) (*Channel, bool, error) {
	name = bayeux.Normalize(name)
	if !bayeux.ValidChannel(name) {
		return nil, false, errors.New("runtime: invalid channel name " + name)
	}
	c, created := s.channels.getOrCreate(name, init...)
	return c, created, nil
}

// removeSession ends a session: it leaves every channel, its queue is
// dropped, and anything waiting on it (a held connect, a websocket writer)
// is woken to tell the client. It reports whether this call ended it.
func (s *Server) removeSession(sess *ServerSession, reason RemoveReason) bool {
	sess.mu.Lock()
	if sess.removed {
		sess.mu.Unlock()
		return false
	}
	sess.removed = true
	sess.reason = reason
	subs := sess.subs
	sess.subs = nil
	sess.queue, sess.spare = nil, nil
	sess.queuedAt = 0
	user := sess.indexedUser
	sess.mu.Unlock()

	if s.sessions.delete(sess) {
		s.nsessions.Add(-1)
		s.clients.release(sess.clientAddr, s.opts.MaxSessionsPerClient)
	}
	for c := range subs {
		s.channels.drop(c, sess)
	}
	if user != "" {
		s.userOffline(user, sess)
	}
	close(sess.gone)
	sess.notify()
	for _, f := range s.hooks.load().sessionRemoved {
		f(sess, reason)
	}
	s.log.Debug("bayeux session removed", "client", sess.id, "reason", reason.String())
	return true
}

// slowConsumer removes sess, whose queue is full, counts it and logs it
// with the channel of the message that found the queue full (from; nil:
// unknown).
func (s *Server) slowConsumer(sess *ServerSession, from *queuedFrom) {
	user := sess.UserID()
	if !s.removeSession(sess, RemovedSlowConsumer) {
		return
	}
	s.stats.queueOverflows.Add(1)
	channel, name := LabelUndeclared, ""
	if from != nil {
		if from.t != nil {
			channel = from.t.pattern
		}
		name = from.channel
	}
	s.log.LogAttrs(context.Background(), slog.LevelWarn, "bayeux slow consumer disconnected",
		slog.String("session", sess.id), slog.String("user", user),
		slog.String("channel", channel), slog.String("name", name),
		slog.String("reason", RemovedSlowConsumer.String()), slog.Int("queue", s.opts.MaxQueue))
}

// sweep removes sessions whose expiry has passed, every SweepPeriod.
func (s *Server) sweep() {
	defer s.sweeper.Done()
	t := time.NewTicker(s.opts.SweepPeriod)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case now := <-t.C:
			s.channels.sweep()
			s.sessions.each(func(sess *ServerSession) {
				sess.mu.Lock()
				expired := !sess.removed && sess.local == nil && sess.holds == 0 && !sess.expires.IsZero() && now.After(sess.expires)
				sess.mu.Unlock()
				if expired {
					s.stats.expired.Add(1)
					s.removeSession(sess, RemovedTimeout)
				}
			})
		}
	}
}

// countTable counts what each key holds against a limit: the held long
// polls of each browser (the multiple-clients advice), the sessions of each
// client address (MaxSessionsPerClient).
type countTable struct {
	mu   sync.Mutex
	held map[string]int
}

func (b *countTable) acquire(id string, limit int) bool {
	if id == "" || limit < 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held[id] >= limit {
		return false
	}
	b.held[id]++
	return true
}

func (b *countTable) release(id string, limit int) {
	if id == "" || limit < 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held[id] <= 1 {
		delete(b.held, id)
	} else {
		b.held[id]--
	}
}

func (s *Server) transportAllowed(name string) bool {
	return slices.Contains(s.opts.Transports, name)
}
