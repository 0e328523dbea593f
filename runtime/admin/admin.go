// Package admin serves a live admin page of a runtime.Server, for its
// operator, on a private address (cometgen serve --debug-addr, the
// scaffolded servers' --debug-addr): the sessions and their transports, the
// busiest channel templates with their rates, the latest refusals with
// their reasons, the slow consumers, and the cluster's nodes with their
// health.
//
//	a := admin.New(srv, admin.Options{})
//	defer a.Close()
//	debug.Handle(admin.Path, a) // http://host:port/admin/
//
// The page updates itself over Bayeux: the admin has a Bayeux server of its
// own, separate from the observed one (its sessions are not counted among
// the observed server's, and nothing of it is reachable on the observed
// server's address), which publishes a Snapshot every Options.Interval on
// /admin/stats to the pages subscribed to it. The page is self-contained:
// it loads the CometD JavaScript client (9.0.0, Apache-2.0, vendored in
// static/cometd) from the same handler, nothing from elsewhere.
//
// Endpoints under Path: the page (/admin/), its script (/admin/js/…), its
// Bayeux server (/admin/bayeux), and the latest snapshot as JSON
// (/admin/snapshot).
package admin

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// Path is where the handler expects to be mounted: its endpoints' paths
// begin with it.
const Path = "/admin/"

// StatsChannel is the channel the snapshots are published on.
const StatsChannel = "/admin/stats"

//go:embed static
var static embed.FS

// Options configures an Admin. The zero value is ready to use.
type Options struct {
	// Interval is how often a snapshot is published. Default 1s.
	Interval time.Duration
	// RateWindow is the span the rates of the templates are measured
	// over. Default 10s.
	RateWindow time.Duration
	// Rows bounds the sessions listed (the longest queues first). Default
	// 50.
	Rows int
	// Logger receives the admin's Bayeux server's logs. Default: none.
	Logger *slog.Logger
}

// An Admin serves the admin page of one server. Close it when done.
type Admin struct {
	srv    *runtime.Server
	bayeux *runtime.Server
	opts   Options
	mux    *http.ServeMux

	mu      sync.Mutex
	samples []sample // of the traffic, oldest first, within RateWindow
	slow    []SlowDisconnect
	last    *Snapshot

	stop chan struct{}
	done chan struct{}
}

// sample is the traffic of every template at one time.
type sample struct {
	at      time.Time
	traffic map[string]runtime.ChannelTraffic
}

// recentSlow is how many slow consumers' disconnections a snapshot lists.
const recentSlow = 20

// New returns the admin page of srv and starts publishing its snapshots.
func New(srv *runtime.Server, opts Options) *Admin {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = 10 * time.Second
	}
	if opts.Rows <= 0 {
		opts.Rows = 50
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Admin{
		srv:  srv,
		opts: opts,
		bayeux: runtime.New(runtime.Options{
			Logger:      opts.Logger,
			MaxSessions: 256,
		}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	a.bayeux.SetSecurityPolicy(pagePolicy{})
	srv.OnSessionRemoved(func(sess *runtime.ServerSession, reason runtime.RemoveReason) {
		if reason != runtime.RemovedSlowConsumer {
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.slow = append(a.slow, SlowDisconnect{Time: time.Now(), Session: sess.ID(), User: sess.UserID()})
		if len(a.slow) > recentSlow {
			a.slow = slices.Delete(a.slow, 0, len(a.slow)-recentSlow)
		}
	})

	a.mux = http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	a.mux.Handle("GET "+Path+"js/", http.StripPrefix(Path+"js/", http.FileServerFS(sub)))
	a.mux.HandleFunc("GET "+Path+"{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, static, "static/index.html")
	})
	a.mux.HandleFunc("GET "+Path+"snapshot", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(a.Snapshot())
	})
	a.mux.Handle(Path+"bayeux", a.bayeux)
	a.mux.Handle(Path+"bayeux/", a.bayeux)

	a.record(time.Now())
	go a.run()
	return a
}

// ServeHTTP serves the page and its endpoints, under Path.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Close stops the snapshots and the admin's Bayeux server (the pages are
// disconnected). It does not touch the observed server.
func (a *Admin) Close() error {
	select {
	case <-a.stop:
		return nil
	default:
	}
	close(a.stop)
	<-a.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return a.bayeux.Shutdown(ctx)
}

func (a *Admin) run() {
	defer close(a.done)
	t := time.NewTicker(a.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case now := <-t.C:
			a.record(now)
			if a.bayeux.Stats().Sessions == 0 {
				continue // no page is open
			}
			snap := a.Snapshot()
			if _, err := a.bayeux.Publish(StatsChannel, snap); err != nil {
				a.opts.Logger.Warn("admin: publish snapshot", "err", err)
			}
		}
	}
}

// record samples the traffic at now and forgets the samples older than
// the rate window.
func (a *Admin) record(now time.Time) {
	traffic := map[string]runtime.ChannelTraffic{}
	for _, ct := range a.srv.Traffic() {
		traffic[ct.Channel] = ct
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.samples = append(a.samples, sample{at: now, traffic: traffic})
	i := 0
	for i < len(a.samples)-1 && now.Sub(a.samples[i].at) > a.opts.RateWindow {
		i++
	}
	a.samples = slices.Delete(a.samples, 0, i)
}

// Snapshot is what the page shows, as /admin/snapshot serves it and
// /admin/stats carries it.
type Snapshot struct {
	Time time.Time `json:"time"`
	// Healthy is Server.Healthy; Problem its error.
	Healthy bool   `json:"healthy"`
	Problem string `json:"problem,omitempty"`
	// Sessions counts the live sessions; Transports, by transport.
	Sessions   int            `json:"sessions"`
	Transports map[string]int `json:"transports"`
	// SessionRows lists sessions, the longest queues first, at most
	// Options.Rows of them.
	SessionRows []Session `json:"sessionRows"`
	// Templates are the channel templates, the busiest first (by the rate
	// of messages in and out over the rate window, then by total). Empty
	// without Options.Metrics on the observed server: MetricsOff.
	Templates  []Template `json:"templates"`
	MetricsOff bool       `json:"metricsOff,omitempty"`
	RateWindow float64    `json:"rateWindowSeconds"`
	// Refusals are the latest refusals, newest first.
	Refusals []Refusal    `json:"refusals"`
	Slow     SlowConsumer `json:"slow"`
	// Nodes are the cluster's nodes, this one first; none when the server
	// is not in a cluster.
	Nodes []Node        `json:"nodes"`
	Stats runtime.Stats `json:"stats"`
}

// Session is one row of the sessions.
type Session struct {
	ID            string `json:"id"`
	User          string `json:"user,omitempty"`
	Transport     string `json:"transport"`
	Queued        int    `json:"queued"`
	Subscriptions int    `json:"subscriptions"`
}

// Template is the traffic of one channel template.
type Template struct {
	Channel string `json:"channel"`
	In      uint64 `json:"in"`
	Out     uint64 `json:"out"`
	// InRate and OutRate are per second, over the rate window.
	InRate  float64 `json:"inRate"`
	OutRate float64 `json:"outRate"`
}

// Refusal is one refused operation (runtime.Refusal).
type Refusal struct {
	Time      time.Time `json:"time"`
	Operation string    `json:"operation"`
	Channel   string    `json:"channel"`
	Name      string    `json:"name,omitempty"`
	Reason    string    `json:"reason"`
	Field     string    `json:"field,omitempty"`
	Error     string    `json:"error,omitempty"`
	Session   string    `json:"session,omitempty"`
	User      string    `json:"user,omitempty"`
}

// SlowConsumer tells of the sessions whose queues fill up.
type SlowConsumer struct {
	// MaxQueue is the queue length at which a session is disconnected.
	MaxQueue int `json:"maxQueue"`
	// Disconnects counts the slow consumers disconnected since the start.
	Disconnects int64 `json:"disconnects"`
	// AtRisk are the sessions whose queue holds at least a tenth of
	// MaxQueue, the longest first (at most 10).
	AtRisk []Session `json:"atRisk"`
	// Recent are the latest disconnections, newest first.
	Recent []SlowDisconnect `json:"recent"`
}

// SlowDisconnect is one slow consumer's disconnection.
type SlowDisconnect struct {
	Time    time.Time `json:"time"`
	Session string    `json:"session"`
	User    string    `json:"user,omitempty"`
}

// Node is one node of the cluster (runtime.ClusterNode).
type Node struct {
	ID       string    `json:"id"`
	Self     bool      `json:"self"`
	Users    int       `json:"users"`
	LastSeen time.Time `json:"lastSeen"`
	Healthy  bool      `json:"healthy"`
	Problem  string    `json:"problem,omitempty"`
}

// Snapshot returns what the server shows now.
func (a *Admin) Snapshot() Snapshot {
	now := time.Now()
	st := a.srv.Stats()
	snap := Snapshot{
		Time:       now,
		Healthy:    true,
		Transports: map[string]int{},
		Stats:      st,
		RateWindow: a.opts.RateWindow.Seconds(),
	}
	if err := a.srv.Healthy(); err != nil {
		snap.Healthy, snap.Problem = false, err.Error()
	}

	var rows []Session
	a.srv.EachSession(func(si runtime.SessionInfo) {
		snap.Sessions++
		snap.Transports[si.Transport]++
		rows = append(rows, Session{ID: si.ID, User: si.User, Transport: si.Transport, Queued: si.Queued, Subscriptions: si.Subscriptions})
	})
	slices.SortFunc(rows, func(x, y Session) int {
		return cmp.Or(cmp.Compare(y.Queued, x.Queued), cmp.Compare(x.ID, y.ID))
	})
	maxQueue := a.srv.Options().MaxQueue
	snap.Slow = SlowConsumer{MaxQueue: maxQueue, Disconnects: st.QueueOverflows, AtRisk: []Session{}, Recent: []SlowDisconnect{}}
	for _, r := range rows {
		if len(snap.Slow.AtRisk) == 10 || r.Queued == 0 || r.Queued*10 < maxQueue {
			break
		}
		snap.Slow.AtRisk = append(snap.Slow.AtRisk, r)
	}
	snap.SessionRows = rows[:min(len(rows), a.opts.Rows)]
	if snap.SessionRows == nil {
		snap.SessionRows = []Session{}
	}

	traffic := a.srv.Traffic()
	snap.MetricsOff = traffic == nil
	a.mu.Lock()
	var base *sample
	if len(a.samples) > 0 {
		base = &a.samples[0]
	}
	for i := len(a.slow) - 1; i >= 0; i-- {
		snap.Slow.Recent = append(snap.Slow.Recent, a.slow[i])
	}
	snap.Templates = make([]Template, 0, len(traffic))
	for _, ct := range traffic {
		t := Template{Channel: ct.Channel, In: ct.In, Out: ct.Out}
		if base != nil {
			if dt := now.Sub(base.at).Seconds(); dt >= 0.5 {
				was := base.traffic[ct.Channel]
				t.InRate = float64(ct.In-min(ct.In, was.In)) / dt
				t.OutRate = float64(ct.Out-min(ct.Out, was.Out)) / dt
			}
		}
		snap.Templates = append(snap.Templates, t)
	}
	a.mu.Unlock()
	slices.SortFunc(snap.Templates, func(x, y Template) int {
		return cmp.Or(cmp.Compare(y.InRate+y.OutRate, x.InRate+x.OutRate), cmp.Compare(y.In+y.Out, x.In+x.Out), cmp.Compare(x.Channel, y.Channel))
	})

	refusals := a.srv.Refusals()
	snap.Refusals = make([]Refusal, 0, len(refusals))
	for i := len(refusals) - 1; i >= 0; i-- {
		r := refusals[i]
		snap.Refusals = append(snap.Refusals, Refusal{
			Time: r.Time, Operation: r.Operation, Channel: r.Channel, Name: r.Name, Reason: r.Reason,
			Field: r.Field, Error: r.Error, Session: r.Session, User: r.User,
		})
	}
	for _, n := range a.srv.ClusterNodes() {
		snap.Nodes = append(snap.Nodes, Node{ID: n.ID, Self: n.Self, Users: n.Users, LastSeen: n.LastSeen, Healthy: n.Healthy, Problem: n.Problem})
	}
	if snap.Nodes == nil {
		snap.Nodes = []Node{}
	}
	return snap
}

// pagePolicy lets the pages subscribe to the snapshots and do nothing
// else.
type pagePolicy struct{ runtime.AllowAll }

var errReadOnly = errors.New("the admin page is read-only")

func (pagePolicy) CanSubscribe(_ context.Context, _ *runtime.ServerSession, channel string, _ *bayeux.Message) error {
	if channel != StatsChannel {
		return errReadOnly
	}
	return nil
}

func (pagePolicy) CanPublish(context.Context, *runtime.ServerSession, string, *bayeux.Message) error {
	return errReadOnly
}

func (pagePolicy) CanCreate(_ context.Context, _ *runtime.ServerSession, channel string, _ *bayeux.Message) error {
	if channel != StatsChannel {
		return errReadOnly
	}
	return nil
}
