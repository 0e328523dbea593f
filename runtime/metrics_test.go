package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// logRecords is a JSON slog handler's output, read back record by record.
type logRecords struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logRecords) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// find returns the records whose attributes include every one of want.
func (l *logRecords) find(t *testing.T, want map[string]string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(l.buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		ok := true
		for k, v := range want {
			if rec[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out
}

// metricValue returns the value of the series of name with labels (a
// counter's, a gauge's, or a histogram's count), and whether it exists.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metric
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func wantMetric(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := metricValue(t, g, name, labels)
	if !ok || got != want {
		t.Errorf("%s%v = %v (present: %v), want %v", name, labels, got, ok, want)
	}
}

// metricsContract declares a chat room with a schema, a channel only the
// server publishes on, and a remote call.
func metricsContract() *Contract {
	type echo struct {
		Text string `json:"text"`
	}
	return &Contract{Templates: []Template{
		{Pattern: "/chat/{room}", Schema: `{"type":"object","properties":{"text":{"type":"string","maxLength":5},"tags":{"type":"array","items":{"type":"string"}}},"required":["text"]}`},
		{Pattern: "/admin/{topic}", Publish: Rule{ServerOnly()}},
		{Pattern: "/service/echo", Handler: OnCall(func(_ context.Context, _ *ServerSession, _ string, req *echo) (echo, error) {
			return *req, nil
		})},
	}}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var logs logRecords
	srv, url := newTestServer(t, Options{Metrics: reg, Logger: logs.logger(), MaxSessions: 3})
	if err := srv.SetContract(metricsContract()); err != nil {
		t.Fatal(err)
	}
	sub := newLP(t, url).start()
	sub.subscribe("/chat/lobby")
	pub := newLP(t, url).start()

	if r := pub.publish("/chat/lobby", msg{"text": "hi"}); r["successful"] != true {
		t.Fatalf("publish: %v", r)
	}
	if got := events(sub.connect(true)); len(got) != 1 {
		t.Fatalf("subscriber received %v", got)
	}
	for _, c := range []struct {
		channel string
		data    msg
	}{
		{"/chat/lobby", msg{"text": "far too long"}},
		{"/chat/other", msg{"text": "ok", "tags": []any{"a", 7}}},
		{"/admin/news", msg{"text": "hi"}},
		{"/nowhere/at/all", msg{"text": "hi"}},
	} {
		if r := pub.publish(c.channel, c.data); r["successful"] != false {
			t.Errorf("publish on %s: %v, want a refusal", c.channel, r)
		}
	}
	if r := pub.send(msg{"channel": "/service/echo", "data": msg{"text": "ping"}}); r[0]["successful"] != true {
		t.Fatalf("remote call: %v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(events(pub.connect(true))) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	third := newLP(t, url).start()
	// A fourth session is over MaxSessions.
	r := newLP(t, url).send(msg{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
	if r[0]["successful"] != false {
		t.Fatalf("handshake over MaxSessions: %v", r)
	}
	third.send(msg{"channel": "/meta/disconnect"})

	in := map[string]string{"channel": "/chat/{room}"}
	wantMetric(t, reg, "cometgen_messages_in_total", in, 3)
	wantMetric(t, reg, "cometgen_messages_out_total", in, 1)
	wantMetric(t, reg, "cometgen_messages_in_total", map[string]string{"channel": "/admin/{topic}"}, 1)
	wantMetric(t, reg, "cometgen_messages_in_total", map[string]string{"channel": LabelUndeclared}, 1)
	wantMetric(t, reg, "cometgen_refusals_total", map[string]string{"channel": "/chat/{room}", "operation": "publish", "reason": "schema", "field": "/text"}, 1)
	wantMetric(t, reg, "cometgen_refusals_total", map[string]string{"channel": "/chat/{room}", "reason": "schema", "field": "/tags/*"}, 1)
	wantMetric(t, reg, "cometgen_refusals_total", map[string]string{"channel": "/admin/{topic}", "reason": "rule", "field": ""}, 1)
	wantMetric(t, reg, "cometgen_refusals_total", map[string]string{"channel": LabelUndeclared, "reason": "undeclared"}, 1)
	wantMetric(t, reg, "cometgen_refusals_total", map[string]string{"channel": "/meta/handshake", "operation": "handshake", "reason": "limit"}, 1)
	wantMetric(t, reg, "cometgen_handshakes_total", map[string]string{"transport": "long-polling"}, 3)
	wantMetric(t, reg, "cometgen_disconnects_total", nil, 1)
	wantMetric(t, reg, "cometgen_sessions", map[string]string{"transport": "long-polling"}, 2)
	wantMetric(t, reg, "cometgen_sessions", map[string]string{"transport": "websocket"}, 0)
	wantMetric(t, reg, "cometgen_remote_call_duration_seconds", map[string]string{"channel": "/service/echo"}, 1)
	// Traffic reads the same counters; EachSession the sessions.
	traffic := map[string]ChannelTraffic{}
	for _, ct := range srv.Traffic() {
		traffic[ct.Channel] = ct
	}
	if got := traffic["/chat/{room}"]; got.In != 3 || got.Out != 1 {
		t.Errorf("Traffic of /chat/{room} = %+v, want 3 in, 1 out", got)
	}
	if got := traffic[LabelUndeclared]; got.In != 1 {
		t.Errorf("Traffic of the undeclared names = %+v, want 1 in", got)
	}
	var infos []SessionInfo
	srv.EachSession(func(si SessionInfo) { infos = append(infos, si) })
	subs := 0
	for _, si := range infos {
		if si.Transport != "long-polling" || si.ID == "" {
			t.Errorf("session %+v", si)
		}
		subs += si.Subscriptions
	}
	if len(infos) != 2 || subs != 1 {
		t.Errorf("EachSession: %+v, want 2 sessions and 1 subscription", infos)
	}
	if n, _ := metricValue(t, reg, "cometgen_connects_total", map[string]string{"transport": "long-polling"}); n < 4 {
		t.Errorf("connects: %v, want at least 4", n)
	}
	if n, _ := metricValue(t, reg, "cometgen_publish_to_write_seconds", nil); n < 2 {
		t.Errorf("publish-to-write observations: %v, want at least 2 (the broadcast, the call's reply)", n)
	}
	// Never a concrete name as a label.
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "channel" && strings.Contains(lp.GetValue(), "lobby") {
					t.Errorf("%s labelled by a concrete name: %v", mf.GetName(), lp.GetValue())
				}
			}
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	// The logs: the refusal by rule and the refused handshake, one record
	// each, with the session, the user, the template and the reason.
	if recs := logs.find(t, map[string]string{"msg": "bayeux refused", "reason": "rule", "channel": "/admin/{topic}", "session": pub.clientID, "name": "/admin/news"}); len(recs) != 1 {
		t.Errorf("rule refusal records: %v", recs)
	} else if _, ok := recs[0]["user"]; !ok {
		t.Errorf("rule refusal record without a user: %v", recs[0])
	}
	if recs := logs.find(t, map[string]string{"msg": "bayeux refused", "operation": "handshake", "reason": "limit", "level": "WARN"}); len(recs) != 1 {
		t.Errorf("handshake refusal records: %v", recs)
	}
	if recs := logs.find(t, map[string]string{"msg": "bayeux refused", "reason": "schema"}); len(recs) != 0 {
		t.Errorf("schema refusals are logged at Debug, got %v", recs)
	}

	// Server.Refusals explains each.
	var reasons []string
	for _, r := range srv.Refusals() {
		reasons = append(reasons, r.Operation+" "+r.Channel+" "+r.Reason+" "+r.Field)
	}
	want := []string{
		"publish /chat/{room} schema /text",
		"publish /chat/{room} schema /tags/*",
		"publish /admin/{topic} rule ",
		"publish undeclared undeclared ",
		"handshake /meta/handshake limit ",
	}
	if strings.Join(reasons, "\n") != strings.Join(want, "\n") {
		t.Errorf("refusals:\n%s\nwant:\n%s", strings.Join(reasons, "\n"), strings.Join(want, "\n"))
	}
}

func TestMetricsSlowConsumer(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var logs logRecords
	srv, url := newTestServer(t, Options{Metrics: reg, Logger: logs.logger(), MaxQueue: 2})
	if err := srv.SetContract(metricsContract()); err != nil {
		t.Fatal(err)
	}
	slow := newLP(t, url).start()
	slow.subscribe("/chat/lobby")
	for range 2 {
		srv.Publish("/chat/lobby", msg{"text": "hi"})
	}
	wantMetric(t, reg, "cometgen_queued_messages", nil, 2)
	wantMetric(t, reg, "cometgen_queue_longest_messages", nil, 2)
	srv.Publish("/chat/lobby", msg{"text": "hi"})
	wantMetric(t, reg, "cometgen_slow_consumer_disconnects_total", nil, 1)
	wantMetric(t, reg, "cometgen_queued_messages", nil, 0)
	recs := logs.find(t, map[string]string{"msg": "bayeux slow consumer disconnected", "session": slow.clientID, "channel": "/chat/{room}", "name": "/chat/lobby", "reason": "slow_consumer"})
	if len(recs) != 1 {
		t.Errorf("slow consumer records: %v", recs)
	}
}

// TestMetricsOff: without a registerer the server keeps no metrics, and
// still explains its refusals.
func TestMetricsOff(t *testing.T) {
	srv, url := newTestServer(t, Options{})
	if srv.metrics != nil {
		t.Fatal("metrics without Options.Metrics")
	}
	if err := srv.SetContract(metricsContract()); err != nil {
		t.Fatal(err)
	}
	c := newLP(t, url).start()
	c.publish("/chat/lobby", msg{"text": "far too long"})
	if rs := srv.Refusals(); len(rs) != 1 || rs[0].Field != "/text" || rs[0].Session != c.clientID {
		t.Errorf("refusals: %+v", rs)
	}
}

func TestRefusalFieldLabelsBounded(t *testing.T) {
	var tm templateMetrics
	for i := range maxRefusalFields + 10 {
		tm.fieldLabel("/free/" + strings.Repeat("x", i+1))
	}
	if got := tm.fieldLabel("/free/another"); got != LabelOtherField {
		t.Errorf("label past the bound: %q", got)
	}
	if got := tm.fieldLabel("/items/12/name"); got != LabelOtherField {
		t.Errorf("label past the bound: %q", got)
	}
	var fresh templateMetrics
	for path, want := range map[string]string{"": "(root)", "/items/12/name": "/items/*/name", "/a/0": "/a/*", "/x1": "/x1"} {
		if got := fresh.fieldLabel(path); got != want {
			t.Errorf("fieldLabel(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestDashboardUsesMetrics: every metric the Grafana dashboard of docs/
// queries is one the server exports.
func TestDashboardUsesMetrics(t *testing.T) {
	srv := New(Options{Metrics: prometheus.NewRegistry(), Logger: discardLogger()})
	defer srv.Shutdown(t.Context())
	descs := make(chan *prometheus.Desc, 100)
	go func() {
		for _, c := range srv.metrics.collectors() {
			c.Describe(descs)
		}
		close(descs)
	}()
	exported := map[string]bool{}
	nameRE := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		exported[nameRE.FindStringSubmatch(d.String())[1]] = true
	}
	used := 0
	for _, q := range dashboardQueries(t) {
		for _, name := range regexp.MustCompile(`cometgen_[a-z_]+`).FindAllString(q.expr, -1) {
			used++
			if !exported[metricFamily(name)] {
				t.Errorf("panel %q queries %s, which the server does not export", q.panel, name)
			}
		}
	}
	if used < 20 {
		t.Errorf("the dashboard queries %d metrics", used)
	}
}

// dashboardQuery is a query of a panel of the Grafana dashboard of docs/.
type dashboardQuery struct{ panel, expr string }

func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	b, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	var qs []dashboardQuery
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, dashboardQuery{p.Title, tg.Expr})
		}
	}
	return qs
}

// metricFamily returns the family of a series name: a histogram's without
// _bucket, _sum or _count.
func metricFamily(name string) string {
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
}

// TestDashboardCountsFirstIncrements: rate() and increase() count nothing
// of a series' first sample, so a counter the Grafana dashboard rates must
// have its series at 0 before anything is counted — for every template of
// the contract and the undeclared names, for every transport — or every
// query of it must count a series' first sample whole: the form that
// compares the series' samples with those of cometgen_node_healthy
// (docs/observability.md, "Dashboard"). cometgen_refusals_total is the one
// counter of the second kind: its series appear with their first refusal.
func TestDashboardCountsFirstIncrements(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := New(Options{Metrics: reg, Logger: discardLogger()})
	defer srv.Shutdown(t.Context())
	contract := metricsContract()
	if err := srv.SetContract(contract); err != nil {
		t.Fatal(err)
	}
	// The label values each series must exist for before any traffic.
	want := map[string][]string{
		"channel":   {LabelUndeclared},
		"transport": {bayeux.TransportWebSocket, bayeux.TransportLongPolling, bayeux.TransportCallbackPolling, transportLocal},
	}
	for _, tm := range contract.Templates {
		want["channel"] = append(want["channel"], tm.Pattern)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]map[string]bool{} // family → "label=value" of its series, "" for one without labels
	for _, mf := range mfs {
		present[mf.GetName()] = map[string]bool{}
		for _, m := range mf.GetMetric() {
			present[mf.GetName()][""] = true
			for _, lp := range m.GetLabel() {
				present[mf.GetName()][lp.GetName()+"="+lp.GetValue()] = true
			}
		}
	}

	rated := regexp.MustCompile(`(?:rate|increase)\((cometgen_[a-z_]+)`)
	var atZero, onFirst []string
	for _, q := range dashboardQueries(t) {
		for _, m := range rated.FindAllStringSubmatch(q.expr, -1) {
			family := metricFamily(m[1])
			if series := present[family]; len(series) > 0 {
				for label, values := range want {
					for _, v := range values {
						if labelled(series, label) && !series[label+"="+v] {
							t.Errorf("panel %q rates %s, which has no series of %s=%q before it counts one", q.panel, m[1], label, v)
						}
					}
				}
				atZero = append(atZero, family)
				continue
			}
			onFirst = append(onFirst, family)
			firstSample := regexp.MustCompile(`count_over_time\(` + m[1] + `\{[^}]*\}\[[^\]]+\]\)\s*<\s*ignoring\([^)]*\)\s*group_left\s*count_over_time\(cometgen_node_healthy\{`)
			if !firstSample.MatchString(q.expr) || !strings.Contains(q.expr, "unless resets("+m[1]) {
				t.Errorf("panel %q rates %s, whose series appear at their first increment, without counting a series' first sample:\n%s", q.panel, m[1], q.expr)
			}
		}
	}
	slices.Sort(atZero)
	slices.Sort(onFirst)
	atZero, onFirst = slices.Compact(atZero), slices.Compact(onFirst)
	if !slices.Equal(onFirst, []string{"cometgen_refusals_total"}) {
		t.Errorf("the dashboard rates %v, whose series appear at their first increment, want cometgen_refusals_total alone", onFirst)
	}
	t.Logf("the dashboard rates %d counters and histograms whose series are at 0 before anything is counted: %v; and these, whose series appear at their first increment: %v", len(atZero), atZero, onFirst)
}

// labelled reports whether one of series ("label=value" of a family's
// series) has label.
func labelled(series map[string]bool, label string) bool {
	for s := range series {
		if strings.HasPrefix(s, label+"=") {
			return true
		}
	}
	return false
}
