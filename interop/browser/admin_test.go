package browser

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

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
	srv, debug := startAdminServe(t)
	tl.runAdminPage(ctx, t, debug, srv.URL)
	updateDoc(t, "admin.png")
}

// startAdminServe starts cometgen serve with adminSpec and a debug
// address, and returns the server and that address.
func startAdminServe(t *testing.T) (*servetest.Server, string) {
	t.Helper()
	spec := filepath.Join(t.TempDir(), "cometgen.yaml")
	if err := os.WriteFile(spec, []byte(adminSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	debug := freeAddr(t)
	srv := servetest.StartCommandEnv(t, []string{"COMETGEN_PUBLISH_KEY=admin-test"}, servetest.Build(t),
		"serve", "--addr", "127.0.0.1:0", "--spec", spec, "--debug-addr", debug)
	return srv, debug
}

// runAdminPage runs admin.mjs on the admin page of the debug address
// debug, against the server at bayeux: it publishes one message
// adminSpec's schema refuses (/text is empty) and checks that the page
// shows it; its screenshot is admin.png in t.ArtifactDir().
func (tl tools) runAdminPage(ctx context.Context, t *testing.T, debug, bayeux string) {
	t.Helper()
	tl.runScript(ctx, t, "admin.mjs", "http://"+debug+"/admin/", "ok: the admin page showed the refusal", "BAYEUX="+bayeux)
}

// updateDoc copies the screenshot name from t.ArtifactDir() to docs/
// with -update.
func updateDoc(t *testing.T, name string) {
	t.Helper()
	if !*updateScreenshot {
		return
	}
	png, err := os.ReadFile(filepath.Join(t.ArtifactDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote docs/%s", name)
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
