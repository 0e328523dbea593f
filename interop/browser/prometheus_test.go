package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promWithin bounds how long Prometheus may take to show a refusal: it
// scrapes every second.
const promWithin = 20 * time.Second

// dashboardWithin is how soon after the server refused a publish the
// dashboard's refusal queries must show it: Prometheus scrapes every
// second, and the queries count a series' first sample.
const dashboardWithin = 5 * time.Second

// The refusal that admin.mjs makes: adminSpec's schema refuses an empty
// /text. refusalSeries is its series in the exposition format (labels
// sorted) and in PromQL.
var (
	refusal       = map[string]string{"channel": "/chat/{room}", "operation": "publish", "reason": "schema", "field": "/text"}
	refusalSeries = `cometgen_refusals_total{channel="/chat/{room}",field="/text",operation="publish",reason="schema"}`
)

// TestRefusalInPrometheusAndAdminPage is the "done when" of
// docs/observability.md: it starts cometgen serve --debug-addr and a real
// Prometheus (Debian's) scraping its /metrics every second; admin.mjs
// makes one refused publish and sees it on the admin page in Chromium;
// then, within promWithin, Prometheus' HTTP API has it in
// cometgen_refusals_total with its template, operation, reason and field;
// promtool check metrics accepts the scraped exposition; Prometheus
// accepts every query of docs/grafana-dashboard.json (Grafana's variables
// substituted as Grafana would), and the dashboard's refusal queries,
// evaluated dashboardWithin after the server refused the publish, are
// above 0 and name its template (and field): that one refusal, the first
// of its series, is on the dashboard. prometheus.mjs draws two of those
// queries on Prometheus' own graph page; with -update the screenshot is
// docs/prometheus-refusals.png.
func TestRefusalInPrometheusAndAdminPage(t *testing.T) {
	tl, ctx := setup(t)
	promBin, promtool := requirePrometheus(t)
	started := time.Now()
	srv, debug := startAdminServe(t)
	prom := startPrometheus(ctx, t, promBin, promtool, debug)
	eventually(t, promWithin, "Prometheus scrapes "+debug, func() error {
		up, err := prom.query(ctx, `up{job="cometgen"}`)
		if err != nil {
			return err
		}
		if len(up) != 1 || up[0].last() != 1 {
			return fmt.Errorf("up: %v", up)
		}
		return nil
	})

	// (c) The admin page shows the refusal admin.mjs makes, the only one.
	tl.runAdminPage(ctx, t, debug, srv.URL)

	// (a) Prometheus has it.
	took := eventually(t, promWithin, "Prometheus has the refusal", func() error {
		return prom.refusals(ctx, debug, 1)
	})
	refusedAt := firstRefusal(t, debug)
	stored, err := prom.firstSample(ctx, refusalSeries)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Prometheus stored the refusal %.1fs after the server refused it (the scrape's time); its API had it %.1fs after admin.mjs ended",
		stored.Sub(refusedAt).Seconds(), took.Seconds())
	if stored.Sub(refusedAt) > promWithin {
		t.Errorf("Prometheus stored the refusal %v after the server refused it, want within %v", stored.Sub(refusedAt), promWithin)
	}
	promtoolCheckMetrics(ctx, t, promtool, debug)

	// (b) The dashboard's queries.
	dash := loadDashboard(t)
	vars := dash.variables(ctx, t, prom, debug)
	queries := dash.queries(t, vars)
	refused := 0
	for _, q := range queries {
		if _, err := prom.evaluate(ctx, q, time.Now()); err != nil {
			t.Errorf("panel %q, query %s: %v", q.panel, q.refID, err)
			refused++
		}
	}
	t.Logf("Prometheus accepts %d of the %d queries of the dashboard's panels", len(queries)-refused, len(queries))
	// The refusal queries as Grafana would have run them dashboardWithin
	// after the refusal (Prometheus answers for that moment once it has
	// scraped past it).
	at := refusedAt.Add(dashboardWithin)
	var shown refusalQueries
	eventually(t, promWithin, fmt.Sprintf("the dashboard's refusal queries show the first refusal %v after it", dashboardWithin), func() (err error) {
		if time.Now().Before(at) {
			return fmt.Errorf("%v is not yet", at)
		}
		shown, err = prom.refusalQueries(ctx, queries, at)
		return err
	})
	t.Logf("the dashboard's %d refusal queries were above 0 with the template and the field %v after the one refusal; the graph's first point above 0 is %.1fs after it",
		shown.n, dashboardWithin, shown.firstAbove.Sub(refusedAt).Seconds())

	// (4) Prometheus' graph page draws the queries of two refusal panels.
	graph := prom.url + "/graph?" + url.Values{
		"g0.expr": {shown.byTemplate.expr}, "g0.tab": {"0"}, "g0.range_input": {"1m"},
		"g1.expr": {shown.byField.expr}, "g1.tab": {"1"},
	}.Encode()
	tl.runScript(ctx, t, "prometheus.mjs", graph, "ok: Prometheus' graph page shows the refusals")
	updateDoc(t, "prometheus-refusals.png")
	t.Logf("the whole run: %.1fs", time.Since(started).Seconds())
}

// requirePrometheus finds Prometheus and promtool (Debian's prometheus
// package; PROMETHEUS and PROMTOOL name others). Without them it skips the
// test, except in CI (CI=true), where it fails.
func requirePrometheus(t *testing.T) (prometheus, promtool string) {
	t.Helper()
	const install = "the test needs Prometheus and promtool: apt-get install prometheus (Debian's, 2.42)"
	find := func(name, env string) string {
		t.Helper()
		p := os.Getenv(env)
		if p == "" {
			p = name
		}
		path, err := exec.LookPath(p)
		if err != nil {
			missing(t, fmt.Sprintf("%s: %v: %s", name, err, install))
		}
		return path
	}
	return find("prometheus", "PROMETHEUS"), find("promtool", "PROMTOOL")
}

// prometheusConfig scrapes the debug address (%s) every second.
const prometheusConfig = `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: cometgen
    static_configs:
      - targets: ["%s"]
`

// prometheus is a Prometheus server the test started.
type prometheus struct {
	url string // http://127.0.0.1:port
}

// startPrometheus checks a configuration scraping target with promtool,
// starts Prometheus with it on a free local port and a temporary storage
// directory, and waits until it is ready. It is stopped when the test
// ends; its log is shown if the test failed.
func startPrometheus(ctx context.Context, t *testing.T, bin, promtool, target string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, fmt.Appendf(nil, prometheusConfig, target), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, promtool, "check", "config", config).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("prometheus still running 10s after an interrupt; killing it")
			cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("prometheus's log:\n%s", b)
		}
	})
	p := &prometheus{url: "http://" + addr}
	eventually(t, promWithin, "Prometheus is ready", func() error {
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("prometheus exited: %v\n%s", waitErr, b)
		default:
		}
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /-/ready: %s", resp.Status)
		}
		return nil
	})
	return p
}

// series is one series of a query's answer: an instant vector's sample
// (Value) or a range's samples (Values), each [time, "value"].
type series struct {
	Metric map[string]string
	Value  []any
	Values [][]any
}

// last returns the latest value of the series (NaN if it has none).
func (s series) last() float64 {
	v := s.Value
	if len(s.Values) > 0 {
		v = s.Values[len(s.Values)-1]
	}
	if len(v) != 2 {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// firstAbove returns the time of the series' first point above 0 (zero
// if none is).
func (s series) firstAbove() time.Time {
	for _, v := range s.Values {
		if len(v) != 2 {
			continue
		}
		f, err := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
		if at, ok := v[0].(float64); ok && err == nil && f > 0 {
			return time.UnixMilli(int64(at * 1000))
		}
	}
	return time.Time{}
}

// api calls Prometheus' HTTP API and returns the data of a successful
// answer, or the error Prometheus gave.
func (p *prometheus) api(ctx context.Context, path string, params url.Values) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path+"?"+params.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status, ErrorType, Error string
		Warnings                 []string
		Data                     json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("GET %s: %s: %v", path, resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("Prometheus: %s: %s", r.ErrorType, r.Error)
	}
	if len(r.Warnings) > 0 {
		return nil, fmt.Errorf("Prometheus warns: %s", strings.Join(r.Warnings, "; "))
	}
	return r.Data, nil
}

// result decodes a query's data: a vector or a matrix.
func result(data json.RawMessage) ([]series, error) {
	var d struct {
		ResultType string
		Result     json.RawMessage
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	if d.ResultType != "vector" && d.ResultType != "matrix" {
		return nil, fmt.Errorf("a %s, want a vector or a matrix", d.ResultType)
	}
	var s []series
	return s, json.Unmarshal(d.Result, &s)
}

// query evaluates expr now.
func (p *prometheus) query(ctx context.Context, expr string) ([]series, error) {
	data, err := p.api(ctx, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return nil, err
	}
	return result(data)
}

// evaluate runs a dashboard query as Grafana does at the moment at: an
// instant one at at, a range one over the 2 minutes before it, a point a
// second.
func (p *prometheus) evaluate(ctx context.Context, q dashboardQuery, at time.Time) ([]series, error) {
	stamp := func(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }
	if q.instant {
		data, err := p.api(ctx, "/api/v1/query", url.Values{"query": {q.expr}, "time": {stamp(at)}})
		if err != nil {
			return nil, err
		}
		return result(data)
	}
	data, err := p.api(ctx, "/api/v1/query_range", url.Values{
		"query": {q.expr}, "step": {"1"},
		"start": {stamp(at.Add(-2 * time.Minute))}, "end": {stamp(at)},
	})
	if err != nil {
		return nil, err
	}
	return result(data)
}

// refusals checks that Prometheus has exactly n of the refusal, scraped
// from the cometgen job's instance debug.
func (p *prometheus) refusals(ctx context.Context, debug string, n float64) error {
	got, err := p.query(ctx, `cometgen_refusals_total{job="cometgen"}`)
	if err != nil {
		return err
	}
	for _, s := range got {
		if labelled(s, refusal) && s.Metric["instance"] == debug && s.last() == n {
			return nil
		}
	}
	return fmt.Errorf("cometgen_refusals_total: %v, want %v at %g on instance %s", got, refusal, n, debug)
}

// firstSample returns the time of the first sample Prometheus stored of
// the series sel, among the last 5 minutes'.
func (p *prometheus) firstSample(ctx context.Context, sel string) (time.Time, error) {
	got, err := p.query(ctx, sel+"[5m]")
	if err != nil {
		return time.Time{}, err
	}
	if len(got) != 1 || len(got[0].Values) == 0 {
		return time.Time{}, fmt.Errorf("%s[5m]: %v, want one series", sel, got)
	}
	at, ok := got[0].Values[0][0].(float64)
	if !ok {
		return time.Time{}, fmt.Errorf("%s[5m]: a sample's time is %v", sel, got[0].Values[0][0])
	}
	return time.UnixMilli(int64(at * 1000)), nil
}

// firstRefusal returns the time of the server's oldest refusal like
// refusal, from the admin page's snapshot (GET /admin/snapshot).
func firstRefusal(t *testing.T, debug string) time.Time {
	t.Helper()
	resp, err := http.Get("http://" + debug + "/admin/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap struct {
		Refusals []struct {
			Time                              time.Time
			Operation, Channel, Reason, Field string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatalf("GET /admin/snapshot: %v", err)
	}
	var first time.Time
	for _, r := range snap.Refusals {
		got := map[string]string{"channel": r.Channel, "operation": r.Operation, "reason": r.Reason, "field": r.Field}
		if maps.Equal(got, refusal) && (first.IsZero() || r.Time.Before(first)) {
			first = r.Time
		}
	}
	if first.IsZero() {
		t.Fatalf("/admin/snapshot has no refusal %v: %+v", refusal, snap.Refusals)
	}
	return first
}

// labelled reports whether s has every label of want.
func labelled(s series, want map[string]string) bool {
	for k, v := range want {
		if s.Metric[k] != v {
			return false
		}
	}
	return true
}

// promtoolCheckMetrics scrapes the debug address's /metrics as Prometheus
// does, checks that it has the refusal, and runs promtool check metrics
// (Prometheus' linter) on it.
func promtoolCheckMetrics(ctx context.Context, t *testing.T, promtool, debug string) {
	t.Helper()
	resp, err := http.Get("http://" + debug + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	line := refusalSeries + " 1"
	if !bytes.Contains(body, []byte(line+"\n")) {
		t.Errorf("/metrics lacks %s", line)
	}
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	} else {
		t.Logf("promtool check metrics accepts the %d lines of /metrics", bytes.Count(body, []byte("\n")))
	}
}

// dashboard is what the test reads of docs/grafana-dashboard.json.
type dashboard struct {
	Templating struct {
		List []struct {
			Name, Type, AllValue, Definition string
			Current                          struct{ Value any }
		}
	}
	Panels []dashboardPanel
}

type dashboardPanel struct {
	Title   string
	Targets []struct {
		RefID   string `json:"refId"`
		Expr    string
		Instant bool
	}
	Panels []dashboardPanel // a collapsed row's
}

// dashboardQuery is a panel's query with Grafana's variables substituted.
type dashboardQuery struct {
	panel, refID, expr string
	instant            bool
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	b, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	return &d
}

// grafanaVariables are the values Grafana gives its global variables on
// this dashboard (its time range is the last hour): $__interval is the
// range over the panel's width in points, about 15s; $__rate_interval is
// max($__interval + the scrape interval, 4 × the scrape interval), with
// the data source's default scrape interval (15s) 1m, and
// $__rate_interval_ms the same in milliseconds.
var grafanaVariables = map[string]string{"__interval": "15s", "__rate_interval": "1m", "__rate_interval_ms": "60000", "__range": "1h"}

// variables returns the values of the dashboard's variables as Grafana
// would set them after the import: a query variable's label_values(…)
// query is asked of Prometheus (it must list debug), and its default
// value, All, is its allValue. A data source variable has no value in a
// query.
func (d *dashboard) variables(ctx context.Context, t *testing.T, p *prometheus, debug string) map[string]string {
	t.Helper()
	vars := maps.Clone(grafanaVariables)
	labelValues := regexp.MustCompile(`^label_values\((\w+), *(\w+)\)$`)
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
		case "query":
			m := labelValues.FindStringSubmatch(v.Definition)
			if m == nil {
				t.Fatalf("variable %s: the test knows label_values(metric, label) queries, not %q", v.Name, v.Definition)
			}
			data, err := p.api(ctx, "/api/v1/label/"+m[2]+"/values", url.Values{"match[]": {m[1]}})
			if err != nil {
				t.Fatalf("variable %s: %s: %v", v.Name, v.Definition, err)
			}
			var values []string
			if err := json.Unmarshal(data, &values); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(values, debug) {
				t.Errorf("variable %s: %s = %v, want %s among them", v.Name, v.Definition, values, debug)
			}
			if v.Current.Value != "$__all" || v.AllValue == "" {
				t.Fatalf("variable %s: the test knows a default of All with an allValue, not %v", v.Name, v.Current.Value)
			}
			vars[v.Name] = v.AllValue
		default:
			t.Fatalf("variable %s: the test does not know variables of type %q", v.Name, v.Type)
		}
	}
	return vars
}

// grafanaVariable is a variable in a query: $name, ${name}, ${name:format}
// or [[name]].
var grafanaVariable = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// queries returns the queries of every panel, rows' too, with the
// variables substituted; a variable the test has no value for fails it.
func (d *dashboard) queries(t *testing.T, vars map[string]string) []dashboardQuery {
	t.Helper()
	var qs []dashboardQuery
	var walk func([]dashboardPanel)
	walk = func(panels []dashboardPanel) {
		for _, p := range panels {
			for _, tg := range p.Targets {
				expr := grafanaVariable.ReplaceAllStringFunc(tg.Expr, func(v string) string {
					m := grafanaVariable.FindStringSubmatch(v)
					name := m[1] + m[2] + m[3]
					value, ok := vars[name]
					if !ok {
						t.Errorf("panel %q: the test has no value for %s", p.Title, v)
					}
					return value
				})
				qs = append(qs, dashboardQuery{panel: p.Title, refID: tg.RefID, expr: expr, instant: tg.Instant})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if len(qs) < 20 {
		t.Fatalf("the dashboard has %d queries", len(qs))
	}
	return qs
}

// refusalQueries are two of the dashboard's queries of refusals, one over
// time by template and one instant by field; n is how many there are in
// all, and firstAbove the time of the first point of the one over time
// above 0.
type refusalQueries struct {
	byTemplate, byField dashboardQuery
	n                   int
	firstAbove          time.Time
}

// refusalQueries checks the dashboard's queries of cometgen_refusals_total
// evaluated at the moment at: each returns a series, where they group by
// template one of /chat/{room}, and by field one of /text, and the latest
// value of each of those is above 0.
func (p *prometheus) refusalQueries(ctx context.Context, queries []dashboardQuery, at time.Time) (refusalQueries, error) {
	var found refusalQueries
	for _, q := range queries {
		if !strings.Contains(q.expr, "cometgen_refusals_total") {
			continue
		}
		found.n++
		got, err := p.evaluate(ctx, q, at)
		if err != nil {
			return found, fmt.Errorf("panel %q: %v", q.panel, err)
		}
		if len(got) == 0 {
			return found, fmt.Errorf("panel %q: %s returns nothing", q.panel, q.expr)
		}
		s := got[0]
		if _, byTemplate := s.Metric["channel"]; byTemplate {
			i := slices.IndexFunc(got, func(s series) bool { return s.Metric["channel"] == refusal["channel"] })
			if i < 0 {
				return found, fmt.Errorf("panel %q: %s returns %v, no series of %s", q.panel, q.expr, got, refusal["channel"])
			}
			s = got[i]
			if _, byField := s.Metric["field"]; byField {
				if s.Metric["field"] != refusal["field"] {
					return found, fmt.Errorf("panel %q: %s returns %v, want field %s", q.panel, q.expr, got, refusal["field"])
				}
				if q.instant && found.byField.expr == "" {
					found.byField = q
				}
			} else if !q.instant && found.byTemplate.expr == "" {
				found.byTemplate = q
				found.firstAbove = s.firstAbove()
			}
		}
		if !(s.last() > 0) {
			return found, fmt.Errorf("panel %q: %s is %g at %s, want above 0", q.panel, q.expr, s.last(), at.Format(time.TimeOnly))
		}
	}
	if found.n < 3 || found.byTemplate.expr == "" || found.byField.expr == "" {
		return found, fmt.Errorf("the dashboard has %d queries of refusals, want one over time by template and one instant by field", found.n)
	}
	return found, nil
}

// eventually calls f every 200 ms until it returns nil, and returns how
// long that took; after within, it fails the test with f's last error.
func eventually(t *testing.T, within time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v: %v", what, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
