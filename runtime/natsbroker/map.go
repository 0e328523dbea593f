package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MapOptions configures a Map.
type MapOptions struct {
	// MaxValueSize bounds one value, in bytes. Default 64 KiB.
	MaxValueSize int32
	// TTL removes entries not written for this long. Default 0: never.
	TTL time.Duration
	// Replicas is how many NATS servers hold the map. Default 1.
	Replicas int
}

// DefaultMaxValueSize is the default of MapOptions.MaxValueSize.
const DefaultMaxValueSize = 64 << 10

// Map is a map of small values replicated to every node of the cluster
// (what OortMap gives CometD applications), for one group of channels,
// such as the members of the chat rooms. It is a NATS JetStream key-value
// bucket named "<cluster>_<group>": writes are ordered by the NATS server,
// each node reads the current value, and Watch tells a node of every
// change, whichever node made it. Keys are any strings; they are escaped to
// the bucket's key alphabet.
type Map struct {
	kv jetstream.KeyValue
}

// ErrNoJetStream is returned by Map when the NATS server does not run
// JetStream.
var ErrNoJetStream = errors.New("natsbroker: the NATS server does not have JetStream enabled")

// noJetStream returns ErrNoJetStream for the errors that mean the NATS
// server does not run JetStream (a server without it does not answer its
// API at all), and err otherwise.
func noJetStream(err error) error {
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) || errors.Is(err, nats.ErrNoResponders) {
		return ErrNoJetStream
	}
	return err
}

// Map opens the replicated map of group, creating it if needed. group is
// made of letters, digits, "-" and "_".
func (b *Broker) Map(ctx context.Context, group string, o MapOptions) (*Map, error) {
	if !validName(group) {
		return nil, fmt.Errorf("natsbroker: map group %q: want letters, digits, - and _", group)
	}
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = DefaultMaxValueSize
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: map %s: %w", group, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       b.o.Cluster + "_" + group,
		Description:  "cometgen replicated map " + group,
		MaxValueSize: o.MaxValueSize,
		History:      1,
		TTL:          o.TTL,
		Replicas:     o.Replicas,
		Storage:      jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: map %s: %w", group, noJetStream(err))
	}
	return &Map{kv: kv}, nil
}

// Put sets key to value.
func (m *Map) Put(ctx context.Context, key string, value []byte) error {
	if _, err := m.kv.Put(ctx, escapeKey(key), value); err != nil {
		return fmt.Errorf("natsbroker: put %q: %w", key, err)
	}
	return nil
}

// Get returns the value of key and whether it is set.
func (m *Map) Get(ctx context.Context, key string) ([]byte, bool, error) {
	e, err := m.kv.Get(ctx, escapeKey(key))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("natsbroker: get %q: %w", key, err)
	}
	return e.Value(), true, nil
}

// Delete removes key; removing a missing key is not an error.
func (m *Map) Delete(ctx context.Context, key string) error {
	if err := m.kv.Delete(ctx, escapeKey(key)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("natsbroker: delete %q: %w", key, err)
	}
	return nil
}

// All returns a copy of the whole map.
func (m *Map) All(ctx context.Context) (map[string][]byte, error) {
	w, err := m.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("natsbroker: read map: %w", err)
	}
	defer w.Stop()
	out := make(map[string][]byte)
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natsbroker: read map: %w", ctx.Err())
		case e := <-w.Updates():
			if e == nil { // the initial values are all in
				return out, nil
			}
			out[unescapeKey(e.Key())] = e.Value()
		}
	}
}

// Watch calls f with the current entries and then with every change (value
// nil and deleted true for a removal), on one goroutine, until ctx ends.
func (m *Map) Watch(ctx context.Context, f func(key string, value []byte, deleted bool)) error {
	w, err := m.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("natsbroker: watch map: %w", err)
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				del := e.Operation() != jetstream.KeyValuePut
				var v []byte
				if !del {
					v = e.Value()
				}
				f(unescapeKey(e.Key()), v, del)
			}
		}
	}()
	return nil
}

// escapeKey maps any string to the key alphabet of a bucket
// ([-/_=.A-Za-z0-9], no leading or trailing "."): other bytes, "=" and "."
// become "=XX".
func escapeKey(s string) string { return escape(s, '=', true) }

// unescapeKey undoes escapeKey; a malformed escape is kept as it is.
func unescapeKey(s string) string {
	if s == "=" {
		return ""
	}
	if !strings.Contains(s, "=") {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '=' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				sb.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}
