package browser

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/cli"
	"github.com/cometgen/cometgen/schema"
)

var updateScreenshot = flag.Bool("update", false, "write the screenshots of docs/: contract.png, admin.png, prometheus-refusals.png")

// TestContractPageInBrowser writes the page of `cometgen docs` for the
// example chat and the interop specs, opens it in headless Chromium
// (docs.mjs) and checks that every channel is listed and every anchor
// resolves. With -update it writes docs/contract.png, the README's
// screenshot, from the example chat.
func TestContractPageInBrowser(t *testing.T) {
	tl, ctx := setup(t)
	for _, spec := range []string{"../../examples/chat/cometgen.yaml", "../spec/cometgen.yaml", "../tsclient/corners.yaml"} {
		s, err := schema.Load(spec)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ch := range s.Channels {
			names = append(names, ch.Pattern)
		}
		channels, _ := json.Marshal(names)
		page := filepath.Join(t.TempDir(), "contract.html")
		var stderr bytes.Buffer
		if code := cli.Main([]string{"docs", spec, "-o", page}, nil, &stderr, &stderr); code != 0 {
			t.Fatalf("cometgen docs %s: exit %d\n%s", spec, code, stderr.String())
		}
		out := t.ArtifactDir()
		run := exec.CommandContext(ctx, tl.node, "docs.mjs", "file://"+page, out)
		run.Env = append(os.Environ(), "CHROMIUM="+tl.chromium, "NO_COLOR=1", "CHANNELS="+string(channels))
		run.WaitDelay = 5 * time.Second
		b, err := run.CombinedOutput()
		t.Logf("docs.mjs %s:\n%s", spec, b)
		if err != nil || !strings.Contains(string(b), "ok: every channel listed") {
			t.Fatalf("docs.mjs %s failed: %v", spec, err)
		}
		if strings.Contains(spec, "examples/chat") {
			updateDoc(t, "contract.png")
		}
	}
}
