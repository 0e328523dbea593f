package runtime

import (
	"strings"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/prometheus/client_golang/prometheus"
)

// Label values of the metrics (see Options.Metrics).
const (
	// LabelUndeclared is the channel label of every name no template of
	// the contract owns (all of them without a contract): a concrete
	// channel name is never a label value, so the number of series stays
	// bounded by the contract.
	LabelUndeclared = "undeclared"
	// LabelOtherField is the field label of a schema refusal once a
	// template has maxRefusalFields distinct fields counted already.
	LabelOtherField = "(other)"
)

// maxRefusalFields bounds the distinct field labels of one template's
// schema refusals: a schema that accepts any property name would let
// clients make up fields.
const maxRefusalFields = 32

// The reasons of a refusal (label reason of cometgen_refusals_total).
const (
	reasonSchema     = "schema"     // the data breaks the template's schema
	reasonRule       = "rule"       // the template's subscribe or publish rule
	reasonFilter     = "filter"     // a data filter refused the data
	reasonLimit      = "limit"      // a limit of Options (sessions, subscriptions, size…)
	reasonUndeclared = "undeclared" // no template owns the channel
	reasonParameter  = "parameter"  // a channel parameter failed its check
	reasonPolicy     = "policy"     // the SecurityPolicy or an Authorizer
	reasonHandler    = "handler"    // a listener or a typed handler vetoed it
	reasonExtension  = "extension"  // an extension vetoed it
	reasonInvalid    = "invalid"    // a malformed message or request
	reasonProtocol   = "protocol"   // a handshake the server cannot accept (version, transport)
	reasonUnhealthy  = "unavailable"
)

// The operations of a refusal (label operation).
const (
	opHandshake = "handshake"
	opSubscribe = "subscribe"
	opPublish   = "publish"
	opRequest   = "request" // a whole request or websocket message
)

// metrics are a server's Prometheus collectors; nil when Options.Metrics
// is nil, and every hook of the hot path checks that first.
type metrics struct {
	srv *Server

	messagesIn, messagesOut *prometheus.CounterVec
	refusals                *prometheus.CounterVec
	handshakes, connects    *prometheus.CounterVec
	disconnects             prometheus.Counter
	latency                 prometheus.Histogram
	calls                   *prometheus.HistogramVec
	brokerErrors            prometheus.Counter
	reconnections           prometheus.Counter
	historyLag              prometheus.Histogram

	// byTransport holds the handshake and connect counters of each
	// transport, resolved once.
	byTransport map[string]*transportMetrics
	undeclared  *templateMetrics
	epoch       time.Time // the origin of the monotonic stamps (now)
	scrape      *scrapeCollector
}

// transportMetrics are the counters of one transport.
type transportMetrics struct {
	handshakes, connects prometheus.Counter
}

// templateMetrics are the series of one channel template (or of the
// undeclared names), resolved once when the contract is installed, so
// that the publish path never looks a label up.
type templateMetrics struct {
	label   string
	in, out prometheus.Counter
	calls   prometheus.Observer

	mu     sync.Mutex
	fields map[string]bool // the field labels of schema refusals so far
}

// latencyBuckets are those of the publish-to-write latency and of the
// history's delivery lag, in seconds: from 100 µs to 30 s (a lazy
// message, a long poll that came back late).
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(s *Server, reg prometheus.Registerer) *metrics {
	m := &metrics{
		srv:   s,
		epoch: time.Now(),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cometgen_messages_in_total",
			Help: "Messages published on a channel, by the clients or the server, by channel template (refused ones included).",
		}, []string{"channel"}),
		messagesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cometgen_messages_out_total",
			Help: "Copies of broadcast messages queued for subscribers, by channel template.",
		}, []string{"channel"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cometgen_refusals_total",
			Help: "Operations refused, by channel template, operation (handshake, subscribe, publish, request), reason (schema, rule, filter, limit, undeclared, parameter, policy, handler, extension, invalid, protocol, unavailable) and, for schema refusals, the JSON path of the failing field.",
		}, []string{"channel", "operation", "reason", "field"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cometgen_handshakes_total",
			Help: "Successful handshakes, by transport.",
		}, []string{"transport"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cometgen_connects_total",
			Help: "/meta/connect messages of live sessions, by transport.",
		}, []string{"transport"}),
		disconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cometgen_disconnects_total",
			Help: "Sessions ended by their client's /meta/disconnect.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cometgen_publish_to_write_seconds",
			Help:    "Time from the publication of the oldest message of a write (a websocket frame, a long poll's reply, a local session's batch) to that write.",
			Buckets: latencyBuckets,
		}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cometgen_remote_call_duration_seconds",
			Help:    "Duration of remote calls served, by channel template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"channel"}),
		brokerErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cometgen_broker_publish_errors_total",
			Help: "Broadcasts the broker failed to take for the other nodes (the publisher was told 503::broker_publish_failed).",
		}),
		reconnections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cometgen_broker_reconnections_total",
			Help: "Times the node became healthy again after losing its broker.",
		}),
		historyLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cometgen_history_delivery_lag_seconds",
			Help:    "Time from the storing of a broadcast in the cluster's history to its delivery on this node.",
			Buckets: latencyBuckets,
		}),
		byTransport: map[string]*transportMetrics{},
	}
	m.scrape = &scrapeCollector{srv: s}
	for _, t := range []string{bayeux.TransportWebSocket, bayeux.TransportLongPolling, bayeux.TransportCallbackPolling, transportLocal} {
		m.byTransport[t] = &transportMetrics{
			handshakes: m.handshakes.WithLabelValues(t),
			connects:   m.connects.WithLabelValues(t),
		}
	}
	m.undeclared = m.template(LabelUndeclared)
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			s.log.Error("bayeux metrics: register", "err", err)
		}
	}
	return m
}

// collectors returns every collector of m.
func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.messagesIn, m.messagesOut, m.refusals, m.handshakes, m.connects,
		m.disconnects, m.latency, m.calls, m.brokerErrors, m.reconnections,
		m.historyLag, m.scrape,
	}
}

// transportLocal is the transport label of local sessions.
const transportLocal = "local"

// template returns the series of the channel template labelled label.
func (m *metrics) template(label string) *templateMetrics {
	return &templateMetrics{
		label: label,
		in:    m.messagesIn.WithLabelValues(label),
		out:   m.messagesOut.WithLabelValues(label),
		calls: m.calls.WithLabelValues(label),
	}
}

// of returns the series of t (nil: the undeclared names).
func (m *metrics) of(t *template) *templateMetrics {
	if t == nil || t.metrics == nil {
		return m.undeclared
	}
	return t.metrics
}

// transport returns the counters of transport t.
func (m *metrics) transport(t string) *transportMetrics {
	if tm := m.byTransport[t]; tm != nil {
		return tm
	}
	return m.byTransport[bayeux.TransportLongPolling]
}

// now returns a monotonic stamp, in nanoseconds since the metrics began
// (never 0, which means "none").
func (m *metrics) now() int64 { return int64(time.Since(m.epoch)) | 1 }

// sinceStamp returns the seconds since a stamp of now.
func (m *metrics) sinceStamp(at int64) float64 {
	return float64(int64(time.Since(m.epoch))-at) / 1e9
}

// attachMetrics resolves the series of each template of cc.
func (s *Server) attachMetrics(cc *contract) {
	if s.metrics == nil {
		return
	}
	for _, t := range cc.templates {
		t.metrics = s.metrics.template(t.pattern)
	}
}

// fieldLabel returns the label of a schema refusal's JSON pointer: array
// indexes become "*", the root is "(root)", and past maxRefusalFields
// distinct fields of one template, "(other)".
func (tm *templateMetrics) fieldLabel(path string) string {
	if path == "" {
		return "(root)"
	}
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if seg != "" && strings.Trim(seg, "0123456789") == "" {
			segs[i] = "*"
		}
	}
	label := strings.Join(segs, "/")
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if !tm.fields[label] {
		if len(tm.fields) >= maxRefusalFields {
			return LabelOtherField
		}
		if tm.fields == nil {
			tm.fields = map[string]bool{}
		}
		tm.fields[label] = true
	}
	return label
}

// scrapeCollector reports, when scraped, what the server holds now
// (sessions by transport, queues, channels) and the counters it keeps
// anyway (Stats), so that the hot path pays nothing for them.
type scrapeCollector struct{ srv *Server }

var (
	descSessions = prometheus.NewDesc("cometgen_sessions",
		"Sessions alive, by the transport of their last request (local: the application's local sessions).", []string{"transport"}, nil)
	descQueued = prometheus.NewDesc("cometgen_queued_messages",
		"Messages waiting in the sessions' queues for delivery.", nil, nil)
	descLongestQueue = prometheus.NewDesc("cometgen_queue_longest_messages",
		"Messages waiting in the longest queue of a session (a session reaching Options.MaxQueue is a slow consumer).", nil, nil)
	descMaxQueue = prometheus.NewDesc("cometgen_queue_limit_messages",
		"Options.MaxQueue: the queue length at which a session is a slow consumer.", nil, nil)
	descChannels = prometheus.NewDesc("cometgen_channels",
		"Channels the server holds.", nil, nil)
	descSubscriptions = prometheus.NewDesc("cometgen_subscriptions",
		"Subscriptions alive.", nil, nil)
	descHealthy = prometheus.NewDesc("cometgen_node_healthy",
		"1 when the node can deliver everything its clients expect (a cluster node has its broker), else 0.", nil, nil)
	descSlow = prometheus.NewDesc("cometgen_slow_consumer_disconnects_total",
		"Sessions removed because their queue was full (slow consumers).", nil, nil)
	descExpiries = prometheus.NewDesc("cometgen_session_expiries_total",
		"Sessions removed because no /meta/connect came in time.", nil, nil)
	descQueueDrops = prometheus.NewDesc("cometgen_queue_dropped_messages_total",
		"Messages dropped because a session's queue was full (QueueFullDrop).", nil, nil)
	descDeliveries = prometheus.NewDesc("cometgen_deliveries_total",
		"Messages queued for delivery to sessions: broadcasts, private deliveries, remote-call replies.", nil, nil)
	descBytesIn = prometheus.NewDesc("cometgen_received_bytes_total",
		"Bytes of request bodies and websocket messages received.", nil, nil)
	descBytesOut = prometheus.NewDesc("cometgen_queued_bytes_total",
		"Bytes of the messages queued for delivery.", nil, nil)
	descBadRequests = prometheus.NewDesc("cometgen_bad_requests_total",
		"Requests refused before any of their messages was processed (malformed, too large, too many messages).", nil, nil)
	descBrokerOut = prometheus.NewDesc("cometgen_broker_messages_out_total",
		"Broadcasts handed to the broker for the other nodes.", nil, nil)
	descBrokerIn = prometheus.NewDesc("cometgen_broker_messages_in_total",
		"Messages from other nodes delivered here.", nil, nil)
	descBrokerBad = prometheus.NewDesc("cometgen_broker_messages_dropped_total",
		"Messages from other nodes dropped as malformed.", nil, nil)
	descReplayed = prometheus.NewDesc("cometgen_resume_replayed_messages_total",
		"Messages replayed from the cluster's history to resuming sessions.", nil, nil)
	descResumeGaps = prometheus.NewDesc("cometgen_resume_gaps_total",
		"Batches of resuming subscribes whose replay was incomplete.", nil, nil)
)

var scrapeDescs = []*prometheus.Desc{
	descSessions, descQueued, descLongestQueue, descMaxQueue, descChannels,
	descSubscriptions, descHealthy, descSlow, descExpiries, descQueueDrops,
	descDeliveries, descBytesIn, descBytesOut, descBadRequests, descBrokerOut,
	descBrokerIn, descBrokerBad, descReplayed, descResumeGaps,
}

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range scrapeDescs {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.srv
	sessions := map[string]int{
		bayeux.TransportWebSocket: 0, bayeux.TransportLongPolling: 0,
		bayeux.TransportCallbackPolling: 0, transportLocal: 0,
	}
	queued, longest := 0, 0
	s.sessions.each(func(sess *ServerSession) {
		sess.mu.Lock()
		n, t, removed := len(sess.queue), sess.transport, sess.removed
		sess.mu.Unlock()
		if removed {
			return
		}
		if sess.local != nil {
			t = transportLocal
		}
		sessions[t]++
		queued += n
		longest = max(longest, n)
	})
	for t, n := range sessions {
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(n), t)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	healthy := 1.0
	if s.Healthy() != nil {
		healthy = 0
	}
	st := &s.stats
	gauge(descQueued, float64(queued))
	gauge(descLongestQueue, float64(longest))
	gauge(descMaxQueue, float64(s.opts.MaxQueue))
	gauge(descChannels, float64(s.channels.count()))
	gauge(descSubscriptions, float64(st.subscriptions.Load()))
	gauge(descHealthy, healthy)
	counter(descSlow, st.queueOverflows.Load())
	counter(descExpiries, st.expired.Load())
	counter(descQueueDrops, st.queueDrops.Load())
	counter(descDeliveries, st.messagesOut.Load())
	counter(descBytesIn, st.bytesIn.Load())
	counter(descBytesOut, st.bytesOut.Load())
	counter(descBadRequests, st.badRequests.Load())
	counter(descBrokerOut, st.brokerOut.Load())
	counter(descBrokerIn, st.brokerIn.Load())
	counter(descBrokerBad, st.brokerBad.Load())
	counter(descReplayed, st.replayed.Load())
	counter(descResumeGaps, st.resumeGaps.Load())
}
