package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var _ runtime.HistoryBroker = (*Broker)(nil)

// histStream is a broker's history: the cluster's JetStream stream of
// broadcasts and this node's consumer of it.
type histStream struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	cc     jetstream.ConsumeContext
	// created is when JetStream created the stream: a stream deleted and
	// created again, whose positions start again, has another.
	created time.Time
}

// streamID names a history stream for runtime.Node.Begin: its creation
// time, which tells a stream deleted and created again (its sequence
// numbers start again from 1) from the one before.
func streamID(created time.Time) string {
	return "j" + strconv.FormatInt(created.UnixNano(), 36)
}

func (h *histStream) stop() { h.cc.Stop() }

// KeepsHistory reports whether Options.History is set. Part of
// runtime.HistoryBroker.
func (b *Broker) KeepsHistory() bool { return b.o.History > 0 }

// historyStream is the name of the cluster's history stream.
func (b *Broker) historyStream() string { return b.o.Cluster + "-history" }

// startHistory creates (or updates) the history stream and starts the
// node's ordered consumer of it, from the first event after the stream's
// end: the node begins there (runtime.Node.Begin).
func (b *Broker) startHistory(n *runtime.Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.o.RequestTimeout)
	defer cancel()
	js, err := jetstream.New(b.nc)
	if err != nil {
		return fmt.Errorf("natsbroker: history: %w", err)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        b.historyStream(),
		Description: "cometgen broadcasts of cluster " + b.o.Cluster + ", in the order every node delivers them",
		Subjects:    []string{b.subjH + ">"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      b.o.History,
		MaxMsgs:     b.o.HistoryMaxMessages,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("natsbroker: history stream %s: %w", b.historyStream(), noJetStream(err))
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("natsbroker: history stream %s: %w", b.historyStream(), err)
	}
	// A node that starts (or starts its history late) begins after the
	// stream's end; events before it are replayed to resuming clients.
	fresh := n.Position() == 0 // a node that delivered nothing yet
	last := max(info.State.LastSeq, n.Position())
	n.Begin(streamID(info.Created), last)
	if fresh {
		b.remember(n, st, info.State.FirstSeq, last)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   last + 1,
	})
	if err != nil {
		return fmt.Errorf("natsbroker: history consumer: %w", err)
	}
	h := &histStream{js: js, stream: st, created: info.Created}
	h.cc, err = cons.Consume(func(m jetstream.Msg) { b.onHistory(n, m) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !b.closed.Load() {
				b.log.Debug("natsbroker: history consumer", "err", err)
			}
		}))
	if err != nil {
		return fmt.Errorf("natsbroker: history consumer: %w", err)
	}
	if !b.hist.CompareAndSwap(nil, h) {
		h.stop() // another start won
	}
	return nil
}

// onHistory delivers one event of the history on this node.
func (b *Broker) onHistory(n *runtime.Node, m jetstream.Msg) {
	md, err := m.Metadata()
	if err == nil {
		err = n.DeliverStored(md.Sequence.Stream, md.Timestamp, m.Data(), m.Headers().Get(headerExclude))
	}
	if err != nil {
		b.drop(&nats.Msg{Subject: m.Subject(), Header: m.Headers()}, err)
	}
}

// Append adds a broadcast event to the history and returns its position
// once the NATS server has stored it. Part of runtime.HistoryBroker.
func (b *Broker) Append(channel string, event []byte, exclude string) (uint64, error) {
	h := b.hist.Load()
	if h == nil {
		return 0, errors.New("natsbroker: append: no history (Options.History, or it has not started: see the node's health)")
	}
	// A header of its own: PublishMsg adds to it (WithExpectStream).
	hdr := nats.Header{headerOrigin: {b.o.NodeID}}
	if exclude != "" {
		hdr[headerExclude] = []string{exclude}
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.o.RequestTimeout)
	defer cancel()
	ack, err := h.js.PublishMsg(ctx, &nats.Msg{Subject: b.subjH + channelSubject(channel), Data: event, Header: hdr},
		jetstream.WithExpectStream(b.historyStream()))
	if err != nil {
		return 0, fmt.Errorf("natsbroker: append on %s: %w", channel, err)
	}
	return ack.Sequence, nil
}

// replayBatch is how many events a replay fetches at a time.
const replayBatch = 256

// Replay reads the history's events after position after, up to upto, on
// channels matching patterns, with a consumer of its own that it deletes
// when done. Part of runtime.HistoryBroker.
func (b *Broker) Replay(ctx context.Context, patterns []string, after, upto uint64, f func(uint64, []byte, string) error) (bool, error) {
	h := b.hist.Load()
	if h == nil {
		return false, errors.New("natsbroker: replay: no history")
	}
	ctx, cancel := context.WithTimeout(ctx, b.o.RequestTimeout)
	defer cancel()
	st := h.stream
	info, err := st.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("natsbroker: replay: %w", err)
	}
	// Complete when nothing after `after` was discarded.
	complete := after >= info.State.LastSeq || after+1 >= info.State.FirstSeq
	if after >= upto {
		return complete, nil
	}
	filter := b.subjH + ">"
	if len(patterns) == 1 {
		// Several patterns may overlap, which JetStream's filters may not:
		// then the runtime picks the events out.
		filter = b.subjH + patternSubject(patterns[0])
	}
	if err := b.read(ctx, st, filter, after, upto, f); err != nil {
		return complete, fmt.Errorf("natsbroker: replay: %w", err)
	}
	return complete, nil
}

// read calls f for the events of st on subjects filter after position
// after, up to and including upto, with a consumer of its own that it
// deletes when done.
func (b *Broker) read(ctx context.Context, st jetstream.Stream, filter string, after, upto uint64, f func(uint64, []byte, string) error) error {
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       after + 1,
		FilterSubject:     filter,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: b.o.RequestTimeout,
		MemoryStorage:     true,
	})
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), b.o.RequestTimeout)
		defer cancel()
		_ = st.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	pending := cons.CachedInfo().NumPending
	for pending > 0 {
		batch, err := cons.Fetch(int(min(pending, replayBatch)), jetstream.FetchContext(ctx))
		if err != nil {
			return err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			seq := md.Sequence.Stream
			if seq > upto {
				return nil
			}
			if err := f(seq, m.Data(), m.Headers().Get(headerExclude)); err != nil {
				return err
			}
			if seq == upto {
				return nil
			}
			pending = md.NumPending
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if got == 0 {
			break // discarded meanwhile (MaxAge)
		}
	}
	return nil
}

// remember fills n's replay buffer with the stream's last events up to
// position last (runtime.Node.Remember), so that the resumes of a
// reconnect storm after this node started are answered from memory
// instead of each asking JetStream for a consumer at once. It is an
// optimisation: when it fails, the resumes ask JetStream as before.
func (b *Broker) remember(n *runtime.Node, st jetstream.Stream, first, last uint64) {
	size := uint64(n.ReplayBuffer())
	if last == 0 || size == 0 || last < first {
		return
	}
	from := max(first, last-min(last, size)+1)
	ctx, cancel := context.WithTimeout(context.Background(), b.o.RequestTimeout)
	defer cancel()
	events := make([]runtime.HistoryEvent, 0, last-from+1)
	err := b.read(ctx, st, b.subjH+">", from-1, last, func(pos uint64, event []byte, exclude string) error {
		events = append(events, runtime.HistoryEvent{Pos: pos, Event: event, Exclude: exclude})
		return nil
	})
	if err == nil {
		err = n.Remember(events)
	}
	if err != nil {
		b.log.Info("natsbroker: replay buffer not filled from the history; resumes read the history", "err", err)
	}
}

// patternSubject turns a channel pattern into a NATS subject filter: "*"
// and "**" segments become "*" and ">".
func patternSubject(pattern string) string {
	var sb strings.Builder
	for i, seg := range strings.Split(strings.TrimPrefix(pattern, "/"), "/") {
		if i > 0 {
			sb.WriteByte('.')
		}
		switch seg {
		case "*":
			sb.WriteByte('*')
		case "**":
			sb.WriteByte('>')
		default:
			sb.WriteString(escapeToken(seg))
		}
	}
	return sb.String()
}

// checkHistory notices, at each heartbeat, a history stream that was
// deleted or reset while the node ran: its positions would go backwards,
// and the node would skip every event as a repeat, silently. The node is
// then unhealthy for good (its clients go elsewhere) until it restarts.
func (b *Broker) checkHistory(n *runtime.Node) {
	h := b.hist.Load()
	if h == nil || b.histBroken.Load() != nil {
		return
	}
	pos := n.Position() // before the stream's end is read: it cannot be past it
	// Within a heartbeat, so as not to delay the next one (an unanswered
	// check is no verdict).
	ctx, cancel := context.WithTimeout(context.Background(), min(b.o.RequestTimeout, b.o.Heartbeat))
	defer cancel()
	info, err := h.stream.Info(ctx)
	if broken := historyBroken(b.historyStream(), h.created, pos, info, err); broken != nil {
		b.histBroken.Store(&broken)
		b.log.Error("natsbroker: history lost", "err", broken)
		b.unhealthy(broken)
	}
}

// historyBroken judges the stream's info (or the error reading it) against
// the node's position and the creation time of the stream the node began
// on: an error when the stream is gone, was created again (even if it
// has grown past the node's position since) or ends before what the node
// delivered; nil otherwise, including when NATS did not answer (the
// connection's handlers deal with that).
func historyBroken(stream string, created time.Time, pos uint64, info *jetstream.StreamInfo, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("natsbroker: history stream %s was deleted while this node ran: restart the nodes", stream)
	case err != nil:
		return nil
	case !info.Created.Equal(created):
		return fmt.Errorf("natsbroker: history stream %s was created again while this node ran (at %v, the node began on one of %v): restart the nodes", stream, info.Created, created)
	case info.State.LastSeq < pos:
		return fmt.Errorf("natsbroker: history stream %s was reset while this node ran (it ends at %d, this node delivered %d): restart the nodes", stream, info.State.LastSeq, pos)
	}
	return nil
}
