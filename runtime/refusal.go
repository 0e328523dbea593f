package runtime

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/validate"
)

// A Refusal is one operation the server refused, as Server.Refusals
// reports it and the logs and metrics count it.
type Refusal struct {
	Time time.Time
	// Operation is handshake, subscribe, publish or request (a whole
	// request or websocket message).
	Operation string
	// Channel is the pattern of the template that owns the channel,
	// LabelUndeclared when none does, /meta/handshake for a handshake, ""
	// for a request.
	Channel string
	// Name is the concrete channel name (or the subscription).
	Name string
	// Reason is why: schema, rule, filter, limit, undeclared, parameter,
	// policy, handler, extension, invalid, protocol or unavailable.
	Reason string
	// Field is the JSON pointer of the failing field of a schema refusal
	// ("/text", "/items/*/name", "(root)"), else "".
	Field string
	// Error is the Bayeux error the client was told.
	Error string
	// Session and User identify the client, when known.
	Session, User string
}

// recentRefusals is how many refusals Server.Refusals keeps.
const recentRefusals = 64

// refusalLog keeps the latest refusals, newest last.
type refusalLog struct {
	mu   sync.Mutex
	ring []Refusal
	next int
	full bool
}

func (l *refusalLog) add(r Refusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ring == nil {
		l.ring = make([]Refusal, recentRefusals)
	}
	l.ring[l.next] = r
	l.next = (l.next + 1) % len(l.ring)
	l.full = l.full || l.next == 0
}

// Refusals returns the latest refusals (at most 64), oldest first.
func (s *Server) Refusals() []Refusal {
	l := &s.refusals
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]Refusal(nil), l.ring[:l.next]...)
	}
	return append(append([]Refusal(nil), l.ring[l.next:]...), l.ring[:l.next]...)
}

// refusal describes one refusal before it is recorded.
type refusal struct {
	op     string
	t      *template // the channel's template, nil for none
	label  string    // the channel label when t is nil ("": LabelUndeclared)
	name   string
	reason string
	err    *bayeux.Error
	sess   *ServerSession
	// violations are the schema's, for a schema refusal.
	violations []validate.Violation
}

// refuse records a refusal: it counts it (cometgen_refusals_total), keeps
// it for Refusals, and logs it. Refused handshakes and refusals by rule
// are logged at Info (Warn for limits), the others at Debug.
func (s *Server) refuse(r refusal) {
	label := r.label
	if r.t != nil {
		label = r.t.pattern
	} else if label == "" {
		label = LabelUndeclared
	}
	field := ""
	if r.reason == reasonSchema && len(r.violations) > 0 {
		var tm *templateMetrics
		if s.metrics != nil {
			tm = s.metrics.of(r.t)
		} else {
			tm = &templateMetrics{} // unbounded labels are only a metrics concern
		}
		field = tm.fieldLabel(r.violations[0].Path)
	}
	if m := s.metrics; m != nil {
		m.refusals.WithLabelValues(label, r.op, r.reason, field).Inc()
	}
	rec := Refusal{
		Time: time.Now(), Operation: r.op, Channel: label, Name: r.name,
		Reason: r.reason, Field: field,
	}
	if r.err != nil {
		rec.Error = r.err.Error()
	}
	if r.sess != nil {
		rec.User = r.sess.UserID()
		if r.op != opHandshake { // a refused handshake makes no session
			rec.Session = r.sess.id
		}
	}
	s.refusals.add(rec)

	level := slog.LevelDebug
	switch {
	case r.op == opHandshake && r.reason == reasonLimit:
		level = slog.LevelWarn
	case r.op == opHandshake, r.reason == reasonRule:
		level = slog.LevelInfo
	}
	if !s.log.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("operation", rec.Operation),
		slog.String("session", rec.Session),
		slog.String("user", rec.User),
		slog.String("channel", rec.Channel),
		slog.String("name", rec.Name),
		slog.String("reason", rec.Reason),
		slog.String("error", rec.Error),
	}
	if field != "" {
		attrs = append(attrs, slog.String("field", field))
	}
	s.log.LogAttrs(context.Background(), level, "bayeux refused", attrs...)
}

// reasonOf classifies a contract's refusal of a channel.
func reasonOf(err *bayeux.Error) string {
	switch err {
	case errPublishUndeclared, errSubscribeUndeclared:
		return reasonUndeclared
	case errPublishRule, errSubscribeRule:
		return reasonRule
	}
	return reasonParameter
}

// templateNamed returns the template that owns name, or that a wildcard
// name stands for, or nil; route caches it (see templateOf).
func (s *Server) templateNamed(route []*Channel, name string) *template {
	if !bayeux.IsWild(name) {
		return s.templateFor(route, name)
	}
	if cc := s.contract.Load(); cc != nil {
		return cc.wildForms[name]
	}
	return nil
}
