package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dashboardPath is the Grafana dashboard of docs/observability.md.
const dashboardPath = "../docs/grafana-dashboard.json"

// dashboardTypes is the head of the TypeScript module that checks a
// dashboard: the types of Grafana's dashboard JSON model (the classic
// model, schemaVersion up to 41, that Dashboards → Import takes) and of
// the panels this dashboard uses, from npm @grafana/schema, the types
// Grafana generates from its own CUE schemas.
//
// JSON has no enums: JSONOf turns the schema's string enums
// (ThresholdsMode…) into the union of their values. A panel's options and
// custom field config are checked with PartialJSONOf: Grafana fills the
// ones a dashboard leaves out with the panel plugin's defaults, so only
// the names and values given are checked. Two things are not in
// @grafana/schema and are written here after Grafana's sources: the
// Prometheus query of a target (the PrometheusDataQuery kind), and the
// __inputs of an exported dashboard, which Grafana's import asks the user
// to map to a data source. A query variable's "definition", which Grafana
// writes in every dashboard it exports, is missing from the package's
// VariableModel and is allowed here.
const dashboardTypes = `import type { DataQuery, Dashboard, FieldConfig, FieldConfigSource, Panel, RowPanel, VariableModel } from "@grafana/schema";
import type * as Stat from "@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen";
import type * as Table from "@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen";
import type * as TimeSeries from "@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen";

type JSONOf<T> = T extends string ? ` + "`${T}`" + ` : T extends readonly (infer U)[] ? JSONOf<U>[] : T extends object ? { [K in keyof T]: JSONOf<T[K]> } : T;
type PartialJSONOf<T> = T extends string ? ` + "`${T}`" + ` : T extends readonly (infer U)[] ? PartialJSONOf<U>[] : T extends object ? { [K in keyof T]?: PartialJSONOf<T[K]> } : T;

interface PrometheusQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  format?: "time_series" | "table" | "heatmap";
  interval?: string;
  intervalFactor?: number;
  exemplar?: boolean;
  editorMode?: "code" | "builder";
}

type PanelOf<Options, Custom> = Omit<JSONOf<Panel>, "options" | "fieldConfig" | "targets"> & {
  options?: PartialJSONOf<Options>;
  fieldConfig?: Omit<JSONOf<FieldConfigSource>, "defaults"> & {
    defaults: Omit<JSONOf<FieldConfig>, "custom"> & { custom?: PartialJSONOf<Custom> };
  };
  targets?: PrometheusQuery[];
};

interface Input { name: string; label: string; description?: string; type: "datasource"; pluginId: string; pluginName: string }

type Importable = Omit<JSONOf<Dashboard>, "templating"> & {
  __inputs?: Input[];
  templating?: { list?: Array<JSONOf<VariableModel> & { definition?: string }> };
};
`

// panelChecks maps a panel type to the type its JSON must satisfy.
var panelChecks = map[string]string{
	"row":        "JSONOf<RowPanel>",
	"stat":       "PanelOf<Stat.Options, {}>",
	"table":      "PanelOf<Table.Options, Table.FieldConfig>",
	"timeseries": "PanelOf<TimeSeries.Options, TimeSeries.FieldConfig>",
}

// dashboardTS returns a TypeScript module in which the dashboard d and
// each of its panels (those of rows too) are object literals that must
// satisfy their types: tsc then reports a wrong type, a missing required
// field and an unknown field.
func dashboardTS(d map[string]any) (string, error) {
	var b strings.Builder
	b.WriteString(dashboardTypes)
	n := 0
	var panel func(p any) (string, error)
	panel = func(p any) (string, error) {
		m, ok := p.(map[string]any)
		if !ok {
			return "", fmt.Errorf("a panel is %T, not an object", p)
		}
		check, ok := panelChecks[fmt.Sprint(m["type"])]
		if !ok {
			return "", fmt.Errorf("panel %q: no check for panels of type %q: add its types from @grafana/schema to panelChecks", m["title"], m["type"])
		}
		nested, _ := m["panels"].([]any)
		for _, q := range nested { // a collapsed row's panels: inline in the row, checked alone too
			if _, err := panel(q); err != nil {
				return "", err
			}
		}
		lit, err := json.Marshal(m)
		if err != nil {
			return "", err
		}
		name := fmt.Sprintf("panel%d", n)
		n++
		fmt.Fprintf(&b, "export const %s = %s satisfies %s;\n", name, lit, check)
		return name, nil
	}
	panels, _ := d["panels"].([]any)
	var names []string
	for _, p := range panels {
		name, err := panel(p)
		if err != nil {
			return "", err
		}
		names = append(names, name)
	}
	// The dashboard's panels are the constants above, by name.
	const placeholder = "(panels)"
	top := map[string]any{}
	for k, v := range d {
		top[k] = v
	}
	if _, ok := d["panels"]; ok {
		top["panels"] = placeholder
	}
	lit, err := json.Marshal(top)
	if err != nil {
		return "", err
	}
	lit = []byte(strings.Replace(string(lit), `"`+placeholder+`"`, "["+strings.Join(names, ", ")+"]", 1))
	fmt.Fprintf(&b, "export const dashboard = %s satisfies Importable;\n", lit)
	return b.String(), nil
}

// dashboardMutations each break the dashboard in a way Grafana's schema
// forbids; the check must catch every one.
var dashboardMutations = map[string]func(d map[string]any){
	"schemaVersion-string":    func(d map[string]any) { d["schemaVersion"] = "39" },
	"unknown-dashboard-field": func(d map[string]any) { d["titel"] = "cometgen" },
	"row-without-collapsed":   func(d map[string]any) { delete(firstPanel(d, "row"), "collapsed") },
	"gridPos-width-string":    func(d map[string]any) { firstPanel(d, "stat")["gridPos"].(map[string]any)["w"] = "4" },
	"legend-placement": func(d map[string]any) {
		firstPanel(d, "timeseries")["options"].(map[string]any)["legend"].(map[string]any)["placement"] = "middle"
	},
	"stacking-mode": func(d map[string]any) {
		custom := firstPanel(d, "timeseries")["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["custom"].(map[string]any)
		custom["stacking"] = map[string]any{"mode": "stacked"}
	},
	"unknown-field-config": func(d map[string]any) {
		firstPanel(d, "stat")["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unitt"] = "short"
	},
	"target-without-expr": func(d map[string]any) {
		delete(firstPanel(d, "stat")["targets"].([]any)[0].(map[string]any), "expr")
	},
	"variable-type": func(d map[string]any) {
		d["templating"].(map[string]any)["list"].([]any)[1].(map[string]any)["type"] = "querry"
	},
}

// firstPanel returns the dashboard's first panel of type typ.
func firstPanel(d map[string]any, typ string) map[string]any {
	for _, p := range d["panels"].([]any) {
		if m := p.(map[string]any); m["type"] == typ {
			return m
		}
	}
	panic("the dashboard has no panel of type " + typ)
}

// TestGrafanaDashboardSchema checks docs/grafana-dashboard.json against
// the types of npm @grafana/schema (Grafana's dashboard JSON model, and
// the options of its stat, table and timeseries panels) with tsc --strict,
// Grafana's server being out of reach (docs/observability.md); and that
// the same check rejects each of dashboardMutations.
func TestGrafanaDashboardSchema(t *testing.T) {
	node := requireTypeScript(t)
	if _, err := os.Stat(filepath.Join("node_modules", "@grafana", "schema", "package.json")); err != nil {
		const missing = "interop/node_modules/@grafana/schema is missing: run `npm ci --prefix interop`"
		if os.Getenv("CI") == "true" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	load := func() map[string]any {
		var d map[string]any
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", dashboardPath, err)
		}
		return d
	}
	project := tsProject(t)
	write := func(name string, d map[string]any) {
		src, err := dashboardTS(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(project, name+".ts"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dashboard", load())
	for name, mutate := range dashboardMutations {
		d := load()
		mutate(d)
		write("broken-"+name, d)
	}
	start := time.Now()
	out, err := tscOutput(t, node, project, true)
	t.Logf("tsc --strict --noEmit (%.1fs):\n%s", time.Since(start).Seconds(), out)
	if err == nil {
		t.Fatal("tsc accepted every file, the broken dashboards too")
	}
	errors := map[string]int{}
	for line := range strings.Lines(out) {
		if file, _, ok := strings.Cut(line, ".ts("); ok && strings.Contains(line, "error TS") {
			errors[filepath.Base(file)]++
		}
	}
	if errors["dashboard"] > 0 {
		t.Errorf("%s does not satisfy @grafana/schema's types (%d errors, above)", dashboardPath, errors["dashboard"])
	}
	for name := range dashboardMutations {
		if errors["broken-"+name] == 0 {
			t.Errorf("the check accepted the dashboard broken by %s", name)
		}
	}
	for file := range errors {
		if _, ok := dashboardMutations[strings.TrimPrefix(file, "broken-")]; file != "dashboard" && !ok {
			t.Errorf("tsc reports errors in %s", file)
		}
	}
}

// tscOutput runs the TypeScript compiler on the project in dir (writing
// tsconfig.json there: every .ts file under dir; noEmit only checks) and
// returns its output and error.
func tscOutput(t *testing.T, node, dir string, noEmit bool) (string, error) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "tsconfig.json"), []byte(tsconfig), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join("node_modules", "typescript", "bin", "tsc"), "-p", dir, "--pretty", "false"}
	if noEmit {
		args = append(args, "--noEmit")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, args...).CombinedOutput()
	return string(out), err
}
