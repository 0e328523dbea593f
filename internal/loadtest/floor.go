package loadtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Defaults of FloorConfig.
const (
	DefaultFloorSize = 200
)

// FloorConfig describes a run that measures what the machine itself allows
// a broadcast, without any Bayeux server: a writer process writes one
// message to each of Sockets loopback TCP connections, Rate times a
// second, with a non-blocking write system call per connection from one
// goroutine per CPU (as cometgen's flushers do), and this process reads
// them all with the event loop of the broadcast mode's subscribers. The
// time from a burst's start until its last message is read is the floor
// of what a server on this machine can give --broadcast with Sockets
// subscribers: the kernel's work per message, on both sides, is there and
// nothing else is.
type FloorConfig struct {
	// Sockets is the number of connections.
	Sockets int `json:"sockets"`
	// Rate is bursts per second (default 10).
	Rate float64 `json:"rate"`
	// Duration is how long to write (default 10s).
	Duration time.Duration `json:"duration_ns"`
	// Size is the bytes of each message (default 200, about a broadcast
	// frame of the broadcast mode's payload).
	Size int `json:"size"`
	// Writers is the writer's goroutines (0: one per CPU).
	Writers int `json:"writers"`
	// WriterCmd runs the writer: the command line of `cometgen bench
	// --floor-writer`, to which the address to dial is appended.
	WriterCmd []string `json:"-"`
}

// Validate fills in defaults and checks the configuration.
func (c *FloorConfig) Validate() error {
	if c.Rate == 0 {
		c.Rate = DefaultBroadcastRate
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Size == 0 {
		c.Size = DefaultFloorSize
	}
	switch {
	case c.Sockets <= 0:
		return &ValidationError{"sockets", c.Sockets, errors.New("out of range")}
	case c.Rate < 0 || c.Rate > 1000:
		return &ValidationError{"rate", c.Rate, errors.New("want 0 < rate <= 1000")}
	case c.Size < 16 || c.Size > 1<<16:
		return &ValidationError{"size", c.Size, errors.New("want 16 to 65536 bytes")}
	case c.Duration < 0:
		return &ValidationError{"duration", c.Duration, errors.New("out of range")}
	}
	return nil
}

// FloorReport is the outcome of RunFloor.
type FloorReport struct {
	Config FloorConfig `json:"config"`
	// Bursts counts the bursts written; Complete the ones whose every
	// message was read.
	Bursts   int `json:"bursts"`
	Complete int `json:"complete"`
	// Expected is Bursts × Sockets; Delivered the messages read.
	Expected  int64 `json:"expected"`
	Delivered int64 `json:"delivered"`
	// LastTimes are over the complete bursts, of the time from a burst's
	// start to the reading of its last message.
	LastTimes
	// WriterCPU and ReaderCPU are each process's CPU time (user +
	// system) while writing and reading.
	WriterCPU time.Duration `json:"writer_cpu_ns"`
	ReaderCPU time.Duration `json:"reader_cpu_ns"`
}

// perMessage is d over the messages delivered.
func (r *FloorReport) perMessage(d time.Duration) time.Duration {
	if r.Delivered == 0 {
		return 0
	}
	return d / time.Duration(r.Delivered)
}

// WriteText writes the report for people.
func (r *FloorReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	c := r.Config
	lines := []string{
		fmt.Sprintf("floor\t%d loopback TCP connections, %d-byte messages, %g bursts/s for %s, no Bayeux server", c.Sockets, c.Size, c.Rate, c.Duration),
		fmt.Sprintf("bursts\t%d written, %d read whole", r.Bursts, r.Complete),
		fmt.Sprintf("messages\t%d of %d read", r.Delivered, r.Expected),
		"last reader\t" + r.LastTimes.String(),
		fmt.Sprintf("CPU\twriter %s (%.2f µs a message), reader %s (%.2f µs a message)",
			round(r.WriterCPU), float64(r.perMessage(r.WriterCPU))/1e3, round(r.ReaderCPU), float64(r.perMessage(r.ReaderCPU))/1e3),
	}
	return writeLines(tw, lines)
}

// WriteJSON writes the report as JSON, durations in nanoseconds.
func (r *FloorReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
