package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cometgen/cometgen/generator"
	"github.com/cometgen/cometgen/internal/gateway"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/schema"
)

// The versions of the spec a deployed page meets: v2 breaks v1's clients
// (the field text of /greetings is gone, body is required), v3 only adds
// an optional field to v2 (compatible).
var skewSpecs = map[string]string{
	"v1": `{from: {type: string}, text: {type: string}}, required: [from, text]`,
	"v2": `{from: {type: string}, body: {type: string}}, required: [from, body]`,
	"v3": `{from: {type: string}, body: {type: string}, mood: {type: string}}, required: [from, body]`,
}

// skewPage is the page of every version: its typed client (channels.js,
// generated from the version's spec) handshakes and subscribes, with the
// default onContractChanged (reload the page). It counts its loads.
const skewPage = `<!doctype html>
<meta charset="utf-8"><meta name="version" content="%s"><link rel="icon" href="data:,">
<script type="importmap">{"imports": {"cometd": "/js/cometd/cometd.js"}}</script>
<p id="status">loading</p>
<script type="module">
import { createClient } from "./channels.js";
import { CometD } from "cometd";
window.loads = Number(sessionStorage.getItem("loads") ?? 0) + 1;
sessionStorage.setItem("loads", String(window.loads));
const cometd = new CometD();
cometd.configure({ url: location.origin + "/cometd" });
const client = createClient(cometd);
client.onConnectionState((s) => { document.getElementById("status").textContent = s; });
await client.handshake();
await client.channels.greetings.subscribe(() => {});
</script>
`

// skewVersion is one version: its spec, its page's client, its server.
type skewVersion struct {
	spec   *schema.Spec
	client []byte
}

// TestContractChangedInBrowser: a page built against v1 runs in Chromium;
// the server restarts on v2, which breaks it: the page's client is told at
// its new handshake and, by default, reloads the page, which then runs
// v2's client. The server restarts on v3, compatible with v2 (and told of
// v2: --compat-with): the page is left alone. skew.mjs drives it; the
// server's counters are checked at /stats.
func TestContractChangedInBrowser(t *testing.T) {
	tools, ctx := setup(t)
	versions := map[string]*skewVersion{}
	dir := t.TempDir()
	for name, props := range skewSpecs {
		path := filepath.Join(dir, name+".yaml")
		src := fmt.Sprintf("cometgen: 1\nname: skew\nchannels:\n  /greetings:\n    message: {type: object, properties: %s}\n", props)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		spec, err := schema.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		files, err := generator.Generate(spec, generator.Options{TSOut: "channels.js"})
		if err != nil {
			t.Fatal(err)
		}
		versions[name] = &skewVersion{spec: spec, client: files["channels.js"]}
	}
	cometdJS, err := filepath.Abs(filepath.Join("..", "node_modules", "cometd"))
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var current string
	var srv *runtime.Server
	start := func(name string, compatWith ...string) error {
		s := runtime.New(runtime.Options{})
		var olds []*schema.Spec
		for _, o := range compatWith {
			olds = append(olds, versions[o].spec)
		}
		if _, err := gateway.Install(s, versions[name].spec, gateway.Options{CompatWith: olds}); err != nil {
			return err
		}
		mu.Lock()
		old := srv
		srv, current = s, name
		mu.Unlock()
		if old != nil {
			old.Shutdown(context.Background())
		}
		return nil
	}
	now := func() (*runtime.Server, string) {
		mu.Lock()
		defer mu.Unlock()
		return srv, current
	}
	if err := start("v1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s, _ := now()
		s.Shutdown(context.Background())
	})

	mux := http.NewServeMux()
	noStore := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			h.ServeHTTP(w, r)
		})
	}
	mux.Handle("/js/cometd/", noStore(http.StripPrefix("/js/cometd/", http.FileServer(http.Dir(cometdJS)))))
	mux.Handle("/cometd", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := now()
		s.ServeHTTP(w, r)
	}))
	mux.Handle("GET /channels.js", noStore(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, v := now()
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(versions[v].client)
	})))
	mux.Handle("GET /{$}", noStore(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, v := now()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, skewPage, v)
	})))
	// The test's controls: restart the server on a version, read its
	// counters.
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to")
		var compat []string
		if c := r.URL.Query().Get("compat"); c != "" {
			compat = strings.Split(c, ",")
		}
		if versions[to] == nil {
			http.Error(w, "no version "+to, http.StatusBadRequest)
			return
		}
		if err := start(to, compat...); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"version": to})
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		s, v := now()
		st := s.Stats()
		json.NewEncoder(w).Encode(map[string]any{"version": v, "handshakes": st.Handshakes,
			"skewCompatible": st.SkewCompatible, "skewBreaking": st.SkewBreaking})
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	tools.runScript(ctx, t, "skew.mjs", hs.URL, "ok: the page reloaded on a breaking change, not on a compatible one")
}
