package browser

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/interop/servetest"
)

// adminSpec declares a chat room with a schema.
const adminSpec = `cometgen: 1
name: admin
schemas:
  ChatMessage:
    type: object
    required: [user, text]
    properties:
      user: {type: string, maxLength: 32}
      text: {type: string, minLength: 1, maxLength: 200}
channels:
  /chat/{room}:
    params:
      room: {pattern: "^[a-z0-9-]{1,32}$"}
    message: ChatMessage
`

// TestAdminPageInBrowser starts cometgen serve --debug-addr with a spec,
// opens its admin page in headless Chromium and has admin.mjs make a
// refused publish against the server and see it on the page within
// seconds, with the session and the template's traffic. With -update it
// writes docs/admin.png.
func TestAdminPageInBrowser(t *testing.T) {
	tl, ctx := setup(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "cometgen.yaml")
	if err := os.WriteFile(spec, []byte(adminSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	debug := freeAddr(t)
	srv := servetest.StartCommandEnv(t, []string{"COMETGEN_PUBLISH_KEY=admin-test"}, servetest.Build(t),
		"serve", "--addr", "127.0.0.1:0", "--spec", spec, "--debug-addr", debug)
	out := t.ArtifactDir()
	run := exec.CommandContext(ctx, tl.node, "admin.mjs", "http://"+debug+"/admin/", out)
	run.Env = append(os.Environ(), "CHROMIUM="+tl.chromium, "NO_COLOR=1", "BAYEUX="+srv.URL)
	run.WaitDelay = 5 * time.Second
	b, err := run.CombinedOutput()
	t.Logf("admin.mjs:\n%s", b)
	keepScreenshots(t, out)
	if err != nil || !strings.Contains(string(b), "ok: the admin page showed the refusal") {
		t.Fatalf("admin.mjs failed: %v", err)
	}
	if *updateScreenshot {
		png, err := os.ReadFile(filepath.Join(out, "admin.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../../docs/admin.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// freeAddr returns a local address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
