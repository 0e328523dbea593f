// Package natsbroker links cometgen servers into one cluster through NATS:
// it implements runtime.Broker on github.com/nats-io/nats.go, so that
// broadcasts, deliveries to users and user presence span every node, and it
// offers replicated maps (Map) on NATS JetStream key-value buckets.
//
//	b, err := natsbroker.Connect(ctx, natsbroker.Options{URL: "nats://127.0.0.1:4222"})
//	if err != nil { … } // NATS did not answer: a clear error at start
//	srv := runtime.New(runtime.Options{Broker: b})
//
// # Subjects
//
// With Options.Cluster "c" (default "cometgen"), a broadcast on /chat/room
// travels on "c.b.chat.room" (segments escaped to NATS tokens), a delivery
// to user u on "c.u.<u escaped>", and presence on "c.p". Every node
// subscribes to "c.b.>", "c.u.>" and "c.p": one subscription per kind, so a
// node never misses a message because it subscribed to a channel late, and
// the messages of one publishing node reach every other node in the order
// it published them (NATS keeps the order of one connection's messages to
// one subscription). The payload is the Bayeux message exactly as
// subscribers receive it; the origin node id travels in a header, so
// nothing is re-encoded, and a node ignores its own messages (which the
// NoEcho connection option already keeps from it).
//
// # Failures
//
// A node that loses NATS reports itself unhealthy (runtime.Node.SetHealth):
// its sessions are removed so that their clients handshake again on another
// node instead of silently missing the other nodes' messages. The client
// library reconnects with exponential backoff (Options.ReconnectWait up to
// Options.MaxReconnectWait) for as long as the broker is open, and the node
// is healthy again once it is back. A silent partition is noticed within
// PingInterval × 3. Messages from other nodes that fail to decode are
// logged, counted (runtime.Stats.BrokerBad) and dropped.
//
// # History
//
// With Options.History the cluster's broadcasts travel through a JetStream
// stream, "<cluster>-history" on subjects "<cluster>.h.>", instead: every
// node, the publishing one included, delivers them in the stream's order,
// stamped with their stream sequence (ext.resume), and a client with the
// resume extension (client.WithResume) that lost its node resubscribes on
// another and is replayed what it missed. The broker is then a
// runtime.HistoryBroker. A publish waits until JetStream has stored it.
//
// # Presence
//
// Each node announces its users' first and last sessions, and every
// Options.Heartbeat the full list of its users. A node not heard from for
// Options.PresenceTTL is dead: its users go offline on the other nodes.
package natsbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/nats-io/nats.go"
)

// Options configures a Broker. Only URL is required.
type Options struct {
	// URL is the NATS server URL, or several separated by commas.
	URL string
	// Cluster names the cluster: the prefix of every subject and key-value
	// bucket, so that several clusters can share one NATS. Letters, digits,
	// "-" and "_". Default "cometgen".
	Cluster string
	// NodeID identifies this node. Default: 16 random hex digits.
	NodeID string
	// Heartbeat is how often the node announces that it is alive, with its
	// users. Default 1s.
	Heartbeat time.Duration
	// PresenceTTL is how long a node may stay silent before the others
	// consider it dead and its users offline. Default 5s; at least twice
	// Heartbeat.
	PresenceTTL time.Duration
	// ConnectTimeout bounds the first connection. Default 2s.
	ConnectTimeout time.Duration
	// ReconnectWait is the first pause before reconnecting; it doubles at
	// each failed attempt up to MaxReconnectWait. Default 100ms.
	ReconnectWait time.Duration
	// MaxReconnectWait caps the pause between reconnection attempts, which
	// go on for as long as the broker is open. Default 5s.
	MaxReconnectWait time.Duration
	// PingInterval is how often the connection is probed; a silent
	// partition is noticed after three unanswered probes. Default 2s.
	PingInterval time.Duration
	// History, when positive, keeps the cluster's broadcasts for that long
	// in a NATS JetStream stream, "<cluster>-history", through which every
	// node receives them, all in one order: the broker is then a
	// runtime.HistoryBroker, and a client whose node died resumes on
	// another where it stopped (the resume extension; see History in the
	// package documentation). Default 0: no history, broadcasts travel on
	// plain NATS subjects.
	History time.Duration
	// HistoryMaxMessages bounds the history's length; the oldest go first.
	// Default 1,000,000.
	HistoryMaxMessages int64
	// RequestTimeout bounds each request to NATS JetStream: a history
	// append (a publisher waits for it) or a replay. Default 2s.
	RequestTimeout time.Duration
	// Logger receives the broker's logs. Default slog.Default().
	Logger *slog.Logger
	// NATSOptions are appended to the broker's own nats.Options (TLS,
	// credentials…).
	NATSOptions []nats.Option
}

// Defaults of Options.
const (
	DefaultCluster          = "cometgen"
	DefaultHeartbeat        = time.Second
	DefaultPresenceTTL      = 5 * time.Second
	DefaultConnectTimeout   = 2 * time.Second
	DefaultReconnectWait    = 100 * time.Millisecond
	DefaultMaxReconnectWait = 5 * time.Second
	DefaultPingInterval     = 2 * time.Second
	DefaultHistoryMaxMsgs   = 1_000_000
	DefaultRequestTimeout   = 2 * time.Second
)

func (o Options) withDefaults() (Options, error) {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&o.Heartbeat, DefaultHeartbeat)
	set(&o.PresenceTTL, DefaultPresenceTTL)
	set(&o.ConnectTimeout, DefaultConnectTimeout)
	set(&o.ReconnectWait, DefaultReconnectWait)
	set(&o.MaxReconnectWait, DefaultMaxReconnectWait)
	set(&o.PingInterval, DefaultPingInterval)
	set(&o.RequestTimeout, DefaultRequestTimeout)
	if o.HistoryMaxMessages <= 0 {
		o.HistoryMaxMessages = DefaultHistoryMaxMsgs
	}
	if o.Cluster == "" {
		o.Cluster = DefaultCluster
	}
	if o.NodeID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.NodeID = hex.EncodeToString(b[:])
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.URL == "":
		return o, errors.New("natsbroker: no NATS URL")
	case !validName(o.Cluster):
		return o, fmt.Errorf("natsbroker: cluster name %q: want letters, digits, - and _", o.Cluster)
	case o.History < 0:
		return o, fmt.Errorf("natsbroker: negative history %v", o.History)
	case o.PresenceTTL < 2*o.Heartbeat:
		return o, fmt.Errorf("natsbroker: presence TTL %v is less than twice the heartbeat %v", o.PresenceTTL, o.Heartbeat)
	}
	return o, nil
}

func validName(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// Headers of the messages between nodes.
const (
	headerOrigin  = "Cometgen-Origin"
	headerUser    = "Cometgen-User"
	headerExclude = "Cometgen-Exclude"
)

// Broker is a runtime.Broker over NATS. Create it with Connect, give it to
// one runtime.Server (Options.Broker); Server.Shutdown closes it.
type Broker struct {
	o     Options
	nc    *nats.Conn
	log   *slog.Logger
	subjB string                     // "<cluster>.b."
	subjU string                     // "<cluster>.u."
	subjP string                     // "<cluster>.p"
	subjH string                     // "<cluster>.h.", with a history
	hist  atomic.Pointer[histStream] // with Options.History, once started
	// histBroken is set when the history stream was deleted or reset
	// under the node: it stays unhealthy then.
	histBroken atomic.Pointer[error]
	hdr        nats.Header // the origin header, shared read-only by every broadcast
	node       atomic.Pointer[runtime.Node]
	pres       *presence
	subs       []*nats.Subscription
	stop       chan struct{}
	done       sync.WaitGroup
	closed     atomic.Bool
	dropped    atomic.Int64
	// dropLogged is when a drop was last logged (Unix ns), dropCountLogged
	// the drop count then.
	dropLogged, dropCountLogged atomic.Int64
	// annMu orders a heartbeat's snapshot of the users with the
	// announcements of single changes, so a heartbeat never overtakes a
	// change it did not see. beatSeq numbers the heartbeats.
	annMu   sync.Mutex
	beatSeq uint64
}

var _ runtime.Broker = (*Broker)(nil)

// Connect connects to NATS. It fails, naming the URL, when NATS does not
// answer within Options.ConnectTimeout; once connected, a lost connection is
// retried with backoff for as long as the broker is open.
func Connect(ctx context.Context, o Options) (*Broker, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Broker{
		o:     o,
		log:   o.Logger.With("node", o.NodeID),
		subjB: o.Cluster + ".b.",
		subjU: o.Cluster + ".u.",
		subjP: o.Cluster + ".p",
		subjH: o.Cluster + ".h.",
		hdr:   nats.Header{headerOrigin: {o.NodeID}},
		stop:  make(chan struct{}),
	}
	b.pres = newPresence(o.PresenceTTL)
	opts := []nats.Option{
		nats.Name("cometgen node " + o.NodeID),
		nats.NoEcho(),
		nats.Timeout(o.ConnectTimeout),
		nats.MaxReconnects(-1),
		// Nothing is held while disconnected to be sent on reconnection: a
		// publish then fails at once and its publisher is told (503),
		// rather than being answered with an error and delivered later,
		// after its newer messages.
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			return backoff(attempts, o.ReconnectWait, o.MaxReconnectWait)
		}),
		nats.PingInterval(o.PingInterval),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				err = errors.New("connection closed")
			}
			b.unhealthy(fmt.Errorf("natsbroker: disconnected from NATS: %w", err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("natsbroker: reconnected to NATS", "url", RedactURL(nc.ConnectedUrl()))
			b.heartbeat()
			n := b.node.Load()
			if n == nil {
				return
			}
			if b.histBroken.Load() != nil {
				return // for good: see checkHistory
			}
			if b.o.History > 0 && b.hist.Load() == nil {
				// The history did not start before: its requests wait for
				// replies, so not on this callback goroutine.
				go func() {
					if err := b.startHistory(n); err != nil {
						b.unhealthy(err)
						return
					}
					n.SetHealth(nil)
				}()
				return
			}
			n.SetHealth(nil)
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			if !b.closed.Load() {
				b.unhealthy(errors.New("natsbroker: NATS connection closed"))
			}
		}),
		nats.ErrorHandler(func(nc *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				// NATS dropped messages for this node: its sessions missed
				// them, so they must start over, knowingly.
				b.unhealthy(fmt.Errorf("natsbroker: messages lost: %w", err))
				if n := b.node.Load(); n != nil && nc.IsConnected() && b.histBroken.Load() == nil {
					n.SetHealth(nil)
				}
				return
			}
			b.log.Warn("natsbroker: NATS error", "err", err)
		}),
	}
	nc, err := nats.Connect(o.URL, append(opts, o.NATSOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: connect to %s: %w", RedactURL(o.URL), err)
	}
	if err := ctx.Err(); err != nil {
		nc.Close()
		return nil, err
	}
	b.nc = nc
	return b, nil
}

// backoff is the pause before reconnection attempt n (1, 2, …): first,
// doubled at each attempt, capped at limit.
func backoff(n int, first, limit time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (b *Broker) unhealthy(err error) {
	if b.closed.Load() {
		return
	}
	b.log.Warn("natsbroker: node unhealthy", "err", err)
	if n := b.node.Load(); n != nil {
		n.SetHealth(err)
	}
}

// Conn returns the broker's NATS connection.
func (b *Broker) Conn() *nats.Conn { return b.nc }

// NodeID returns the node's id in the cluster.
func (b *Broker) NodeID() string { return b.o.NodeID }

// Dropped returns how many messages from other nodes were dropped because
// they did not decode.
func (b *Broker) Dropped() int64 { return b.dropped.Load() }

// Start subscribes the node to the cluster's subjects and starts its
// heartbeat. Part of runtime.Broker; runtime.New calls it.
func (b *Broker) Start(n *runtime.Node) error {
	if !b.node.CompareAndSwap(nil, n) {
		return errors.New("natsbroker: broker already started: give each Server its own Broker")
	}
	b.pres.emit = n.SetPresence
	b.done.Add(2)
	go b.beat()
	go func() { defer b.done.Done(); b.pres.run(b.stop) }()
	subs := map[string]nats.MsgHandler{
		b.subjU + ">": b.onUser,
		b.subjP:       b.onPresence,
	}
	if b.o.History == 0 {
		subs[b.subjB+">"] = b.onBroadcast
	} // else broadcasts come from the history stream (below)
	for subj, h := range subs {
		sub, err := b.nc.Subscribe(subj, h)
		if err != nil {
			return fmt.Errorf("natsbroker: subscribe %s: %w", subj, err)
		}
		// A node that cannot keep up is told (ErrSlowConsumer) rather than
		// blocking NATS; the limits are generous so that bursts fit.
		if err := sub.SetPendingLimits(1<<20, 256<<20); err != nil {
			return fmt.Errorf("natsbroker: limits of %s: %w", subj, err)
		}
		b.subs = append(b.subs, sub)
	}
	// While NATS is away the subscriptions wait in the client and are sent
	// on reconnection; the node is unhealthy until then.
	if !b.nc.IsConnected() {
		return errors.New("natsbroker: not connected to NATS (reconnecting)")
	}
	if err := b.nc.FlushTimeout(b.o.ConnectTimeout); err != nil {
		return fmt.Errorf("natsbroker: subscribe: %w", err)
	}
	if b.o.History > 0 {
		// Tried again at every reconnection until it starts; the node is
		// unhealthy until then.
		if err := b.startHistory(n); err != nil {
			return err
		}
	}
	b.heartbeat()
	return nil
}

// Publish sends a broadcast event to the other nodes. Part of
// runtime.Broker.
func (b *Broker) Publish(channel string, event []byte) error {
	if b.o.History > 0 {
		_, err := b.Append(channel, event, "")
		return err
	}
	m := &nats.Msg{Subject: b.subjB + channelSubject(channel), Data: event, Header: b.hdr}
	if err := b.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("natsbroker: publish on %s: %w", channel, err)
	}
	return nil
}

// PublishUser sends an event to user's sessions on the other nodes. Part of
// runtime.Broker.
func (b *Broker) PublishUser(user string, event []byte) error {
	m := &nats.Msg{Subject: b.subjU + escapeToken(user), Data: event, Header: nats.Header{headerOrigin: {b.o.NodeID}, headerUser: {user}}}
	if err := b.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("natsbroker: deliver to user %q: %w", user, err)
	}
	return nil
}

// SetUserOnline announces a change of this node's users. Part of
// runtime.Broker.
func (b *Broker) SetUserOnline(user string, online bool) {
	b.pres.local(user, online)
	b.annMu.Lock()
	defer b.annMu.Unlock()
	if b.closed.Load() {
		return // after the goodbye: the others have dropped this node
	}
	b.announce(presenceMsg{Node: b.o.NodeID, User: user, Online: online})
}

// Close says goodbye to the other nodes (whose presence drops this node's
// users at once), stops the heartbeat and closes the NATS connection. Part
// of runtime.Broker; Server.Shutdown calls it.
func (b *Broker) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	close(b.stop)
	if h := b.hist.Load(); h != nil {
		h.stop()
	}
	if b.node.Load() != nil {
		// Under annMu, after closed is set: no heartbeat or change goes
		// out after the goodbye, which would bring this node's users back
		// on the others until the presence TTL.
		b.annMu.Lock()
		b.announce(presenceMsg{Node: b.o.NodeID, Bye: true})
		b.annMu.Unlock()
	}
	err := b.nc.Drain()
	b.done.Wait()
	if err != nil {
		return fmt.Errorf("natsbroker: close: %w", err)
	}
	return nil
}

func (b *Broker) onBroadcast(m *nats.Msg) {
	if b.fromSelf(m) {
		return
	}
	if err := b.node.Load().Deliver(m.Data); err != nil {
		b.drop(m, err)
	}
}

func (b *Broker) onUser(m *nats.Msg) {
	if b.fromSelf(m) {
		return
	}
	user := m.Header.Get(headerUser)
	if user == "" {
		b.drop(m, errors.New("no user header"))
		return
	}
	if err := b.node.Load().DeliverUser(user, m.Data); err != nil {
		b.drop(m, err)
	}
}

// fromSelf reports whether m is this node's own message (or has no origin,
// which is dropped).
func (b *Broker) fromSelf(m *nats.Msg) bool {
	switch o := m.Header.Get(headerOrigin); o {
	case b.o.NodeID:
		return true
	case "":
		b.drop(m, errors.New("no origin header"))
		return true
	}
	return false
}

// drop counts a message from another node that is not delivered, and logs
// it, at most once per second (with the number of drops since the last
// log), so that a flood of garbage cannot flood the logs.
func (b *Broker) drop(m *nats.Msg, err error) {
	n := b.dropped.Add(1)
	now := time.Now().UnixNano()
	last := b.dropLogged.Load()
	if now-last < int64(time.Second) || !b.dropLogged.CompareAndSwap(last, now) {
		return
	}
	b.log.Warn("natsbroker: message from another node dropped", "subject", m.Subject, "origin", m.Header.Get(headerOrigin), "err", err,
		"dropped_since_last_log", n-b.dropCountLogged.Swap(n))
}

// presenceMsg is a node's announcement on the presence subject: a change
// of one user, a heartbeat with all its users, or a goodbye.
//
// A heartbeat whose list of users would not fit in one NATS message (the
// server's max payload, 1 MB by default: some 26,000 user ids) is sent in
// parts: Seq numbers the heartbeat, Parts says how many messages carry it.
type presenceMsg struct {
	Node   string   `json:"node"`
	User   string   `json:"user,omitempty"`
	Online bool     `json:"online,omitempty"`
	Users  []string `json:"users,omitempty"`
	Beat   bool     `json:"beat,omitempty"`
	Seq    uint64   `json:"seq,omitempty"`
	Parts  int      `json:"parts,omitempty"`
	Bye    bool     `json:"bye,omitempty"`
}

func (b *Broker) announce(p presenceMsg) {
	data, err := json.Marshal(p)
	if err != nil {
		return // strings only: cannot fail
	}
	if err := b.nc.Publish(b.subjP, data); err != nil && !b.closed.Load() {
		// Refused (NATS is away, or a single user id longer than half the
		// max payload): the other nodes may take this node for dead. Say
		// so loudly.
		b.log.Warn("natsbroker: presence announcement not sent", "bytes", len(data), "err", err)
	}
}

func (b *Broker) heartbeat() {
	n := b.node.Load()
	if n == nil {
		return
	}
	b.annMu.Lock()
	defer b.annMu.Unlock()
	if b.closed.Load() {
		return
	}
	b.beatSeq++
	// Half the max payload for the ids leaves room for the rest.
	limit := int(b.nc.MaxPayload() / 2)
	if limit <= 0 {
		limit = nats.MAX_CONTROL_LINE_SIZE // not connected: the announcement fails anyway
	}
	parts := splitUsers(n.Users(), limit)
	for _, part := range parts {
		b.announce(presenceMsg{Node: b.o.NodeID, Users: part, Beat: true, Seq: b.beatSeq, Parts: len(parts)})
	}
}

// splitUsers cuts users into lists whose JSON encoding takes at most about
// limit bytes each (at least one list, which may be empty, and at least one
// user per list).
func splitUsers(users []string, limit int) [][]string {
	var parts [][]string
	const brackets = 1 // "[" and "]", less the comma the first user does not need
	start, size := 0, brackets
	for i, u := range users {
		n := jsonSizeBound(u) + 1
		if i > start && size+n > limit {
			parts = append(parts, users[start:i])
			start, size = i, brackets
		}
		size += n
	}
	return append(parts, users[start:])
}

// jsonSizeBound bounds the size of s encoded as a JSON string by
// encoding/json: printable ASCII takes a byte (two for a backslash or a
// quote), anything else at most six ("\u00XX", "\ufffd", or a multi-byte
// character's bytes).
func jsonSizeBound(s string) int {
	n := 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			n += 2
		case c < 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '&':
			n += 6
		default:
			n++
		}
	}
	return n
}

func (b *Broker) beat() {
	defer b.done.Done()
	t := time.NewTicker(b.o.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.heartbeat()
			if n := b.node.Load(); n != nil && b.o.History > 0 {
				b.checkHistory(n)
			}
		}
	}
}

func (b *Broker) onPresence(m *nats.Msg) {
	var p presenceMsg
	if err := json.Unmarshal(m.Data, &p); err != nil || p.Node == "" {
		if err == nil {
			err = errors.New("no node")
		}
		b.drop(m, err)
		return
	}
	if p.Node == b.o.NodeID {
		return
	}
	switch {
	case p.Bye:
		b.pres.forget(p.Node)
	case p.Beat:
		b.pres.beat(p.Node, p.Seq, p.Parts, p.Users)
	default:
		b.pres.remote(p.Node, p.User, p.Online)
	}
}

// channelSubject turns a channel name into NATS subject tokens: one token
// per segment, with the bytes NATS reserves escaped.
func channelSubject(channel string) string {
	var sb strings.Builder
	for i, seg := range strings.Split(strings.TrimPrefix(channel, "/"), "/") {
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(escapeToken(seg))
	}
	return sb.String()
}

// escapeToken escapes s into one NATS subject token: bytes other than
// letters, digits, "-" and "_" become "%XX"; an empty s becomes "%".
func escapeToken(s string) string { return escape(s, '%', false) }

// escape writes the bytes of s outside [-_A-Za-z0-9] (and '/' with slash)
// as esc and two hex digits; "" is esc alone. A string with nothing to
// escape is returned as it is.
func escape(s string, esc byte, slash bool) string {
	if s == "" {
		return string(esc)
	}
	plain := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || slash && c == '/'
	}
	i := 0
	for i < len(s) && plain(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	const hexd = "0123456789ABCDEF"
	var sb strings.Builder
	sb.WriteString(s[:i])
	for ; i < len(s); i++ {
		if c := s[i]; plain(c) {
			sb.WriteByte(c)
		} else {
			sb.WriteByte(esc)
			sb.WriteByte(hexd[c>>4])
			sb.WriteByte(hexd[c&15])
		}
	}
	return sb.String()
}

// Online reports whether user has a session on some node of the cluster,
// as this node sees it (changes reach it within a heartbeat; a dead node's
// users stay online for at most Options.PresenceTTL).
func (b *Broker) Online(user string) bool { return b.pres.online(user) }

// Nodes returns the nodes of the cluster as this node sees them: itself,
// and every other node heard from within Options.PresenceTTL (a node that
// left said goodbye and is gone at once), with its number of users. Another
// node is healthy while it is heard from at least every two heartbeats; a
// node that lost NATS falls silent. It makes the broker a
// runtime.NodeLister (Server.ClusterNodes, the admin page).
func (b *Broker) Nodes() []runtime.ClusterNode {
	now := time.Now()
	mine, others := b.pres.view()
	nodes := []runtime.ClusterNode{{ID: b.o.NodeID, Self: true, Users: mine, LastSeen: now, Healthy: !b.closed.Load()}}
	for _, o := range others {
		n := runtime.ClusterNode{ID: o.id, Users: o.users, LastSeen: o.seen, Healthy: true}
		if silent := now.Sub(o.seen); silent > 2*b.o.Heartbeat {
			n.Healthy = false
			n.Problem = fmt.Sprintf("not heard from for %v (heartbeat %v; forgotten after %v)", silent.Round(100*time.Millisecond), b.o.Heartbeat, b.o.PresenceTTL)
		}
		nodes = append(nodes, n)
	}
	return nodes
}
