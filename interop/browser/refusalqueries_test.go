package browser

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestDashboardRefusalQueries has promtool evaluate the dashboard's three
// refusal queries, as Grafana sends them ($__rate_interval 1m), on series
// written sample by sample as Prometheus stores them when it scrapes a
// node every second (promtool test rules). The first refusal of a series
// counts as soon as it is scraped: 1/60 per second for a minute in the two
// rate panels, 1 for an hour in the table, where rate() and increase()
// count nothing. And no refusal made before Prometheus watched counts: not
// those of a node it starts scraping, not the whole count of a series
// after a failed scrape; nor does a restart hide the refusals before it.
func TestDashboardRefusalQueries(t *testing.T) {
	_, promtool := requirePrometheus(t)
	d := loadDashboard(t)
	vars := maps.Clone(grafanaVariables)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			vars[v.Name] = v.AllValue
		}
	}
	byPanel := map[string]string{}
	for _, q := range d.queries(t, vars) {
		byPanel[q.panel] = q.expr
	}
	queries := [3]string{byPanel["Refusals /s"], byPanel["Refusals by template and reason"], byPanel["Schema refusals by field (last hour)"]}
	for i, q := range queries {
		if q == "" {
			t.Fatalf("the dashboard has no panel %d of the three the test knows", i)
		}
	}
	labels := [3]string{`{}`, `{channel="/chat/{room}", operation="publish", reason="schema"}`, `{channel="/chat/{room}", field="/text"}`}

	const (
		node    = `cometgen_node_healthy{job="cometgen",instance="a"}`
		refused = `cometgen_refusals_total{job="cometgen",instance="a",channel="/chat/{room}",operation="publish",reason="schema",field="/text"}`
		perSec  = 1.0 / 60 // one refusal in $__rate_interval
	)
	// A scenario is a node's series and the refusal's, in promtool's
	// notation (a value a second from 0s: "_" none, "stale" a failed
	// scrape, "1x9" ten ones), and the values of the three queries at some
	// seconds: none for no sample, skip for not checked; over, the table's
	// value is above it.
	const none, skip = -1, -2
	type want struct {
		at                 int
		rate, graph, table float64
		over               float64
	}
	scenarios := []struct {
		name, node, refused string
		wants               []want
	}{{
		"the first refusal of a series at 100s, a second at 200s",
		"1x3800", "_x100 1x99 2x3600",
		[]want{
			{at: 99, rate: none, graph: none, table: none},
			{at: 100, rate: perSec, graph: perSec, table: 1}, // the first scrape that has it
			{at: 159, rate: perSec, graph: perSec, table: 1},
			{at: 160, rate: 0, graph: 0, table: 1}, // a minute later
			{at: 200, rate: perSec, graph: perSec, table: 2},
			{at: 3700, rate: 0, graph: 0, table: 1}, // an hour later: the second
			{at: 3800, rate: 0, graph: 0, table: 0},
		},
	}, {
		"a node first scraped at 100s, 7 refusals counted already",
		"_x100 1x200", "_x100 7x200",
		[]want{{at: 130, rate: 0, graph: 0, table: 0}},
	}, {
		"a failed scrape at 150s (Prometheus marks the node's series stale)",
		"1x149 stale 1x150", "7x149 stale 7x150",
		[]want{{at: 210, rate: 0, graph: 0, table: 0}}, // the windows start at the failed scrape
	}, {
		"the node restarts (down 100s to 104s), its new process refuses at 120s",
		"1x99 stale _x4 1x200", "7x99 stale _x19 1x200",
		[]want{{at: 165, rate: perSec, graph: perSec, table: skip}}, // the windows start while it was down
	}, {
		"a series new at 10s, at 100 by 50s; the node restarts at 100s, its new process refuses at 120s",
		"1x99 stale _x4 1x200", "_x10 1x39 100x49 stale _x19 1x200",
		[]want{{at: 130, rate: skip, graph: skip, table: skip, over: 99}}, // not only the new process' 1
	}}

	type sample struct {
		Labels string  `json:"labels"`
		Value  float64 `json:"value"`
	}
	type exprTest struct {
		Expr       string   `json:"expr"`
		EvalTime   string   `json:"eval_time"`
		ExpSamples []sample `json:"exp_samples"`
	}
	type inputSeries struct {
		Series string `json:"series"`
		Values string `json:"values"`
	}
	type group struct {
		Name        string        `json:"name"`
		Interval    string        `json:"interval"`
		InputSeries []inputSeries `json:"input_series"`
		Tests       []exprTest    `json:"promql_expr_test"`
	}
	var groups []group
	for _, s := range scenarios {
		g := group{Name: s.name, Interval: "1s", InputSeries: []inputSeries{{node, s.node}, {refused, s.refused}}}
		for _, w := range s.wants {
			at := fmt.Sprintf("%ds", w.at)
			for i, v := range []float64{w.rate, w.graph, w.table} {
				switch v {
				case skip:
				case none:
					g.Tests = append(g.Tests, exprTest{queries[i], at, []sample{}})
				default:
					g.Tests = append(g.Tests, exprTest{queries[i], at, []sample{{labels[i], v}}})
				}
			}
			if w.over != 0 {
				g.Tests = append(g.Tests, exprTest{fmt.Sprintf("(%s\n) > bool %g", queries[2], w.over), at, []sample{{labels[2], 1}}})
			}
		}
		groups = append(groups, g)
	}
	// promtool reads YAML, of which JSON is a part.
	file, err := json.MarshalIndent(map[string]any{"evaluation_interval": "1s", "tests": groups}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "refusal-queries.yml")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), promtool, "test", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("promtool test rules: %d scenarios:\n%s", len(scenarios), out)
}
