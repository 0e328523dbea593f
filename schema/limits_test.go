package schema

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// parseErrors parses data as spec.yaml in a new directory and returns the
// errors, which it requires.
func parseErrors(t *testing.T, data string) string {
	t.Helper()
	dir := t.TempDir()
	spec, err := Parse(filepath.Join(dir, "spec.yaml"), []byte(data), dir)
	var list ErrorList
	if !errors.As(err, &list) || spec != nil {
		t.Fatalf("Parse: spec %v, error %v; want an ErrorList", spec != nil, err)
	}
	return strings.ReplaceAll(list.Error(), dir+string(filepath.Separator), "")
}

// within fails the test if f takes longer than d.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if took := time.Since(start); took > d {
		t.Errorf("took %v; want at most %v", took, d)
	}
}

func TestLoadIOError(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "load ") {
		t.Errorf("Load of a missing file: %v; want a wrapped fs.ErrNotExist", err)
	}
	var list ErrorList
	if errors.As(err, &list) {
		t.Errorf("an I/O error is not an ErrorList")
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.HasPrefix(err.Error(), "load ") {
		t.Errorf("Load of a directory: %v", err)
	}
}

// A 50 MB spec is refused from its size, without being read or parsed.
func TestLoadTooBig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	within(t, time.Second, func() {
		_, err = Load(path)
	})
	want := path + ":1:1: spec is 50 MiB; the limit is 10 MiB"
	if err == nil || err.Error() != want {
		t.Errorf("Load: %v\nwant %s", err, want)
	}
}

// The limit is a variable; Parse applies it too.
func TestMaxSpecSize(t *testing.T) {
	defer func(old int64) { MaxSpecSize = old }(MaxSpecSize)
	MaxSpecSize = 1 << 20
	data := "cometgen: 1\nname: x\ndescription: " + strings.Repeat("a", 1<<20) + "\n"
	got := parseErrors(t, data)
	if want := "spec.yaml:1:1: spec is 1.0 MiB; the limit is 1 MiB"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// And to the files $refs name.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big.json"), []byte(`{"description": "`+strings.Repeat("a", 2<<20)+`"}`), 0o644)
	_, err := Parse(filepath.Join(dir, "spec.yaml"), []byte("cometgen: 1\nname: x\nschemas:\n  Big: {$ref: big.json}\n"), dir)
	if err == nil || !strings.Contains(err.Error(), "spec.yaml:4:15: $ref big.json: "+filepath.Join(dir, "big.json")+" is 2.0 MiB; the limit is 1 MiB") {
		t.Errorf("Parse: %v", err)
	}
}

// billionLaughs returns a spec whose aliases expand to 10^levels nodes.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString("cometgen: 1\nname: lol\nx-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		b.WriteString("x-a")
		b.WriteString(itoa(i))
		b.WriteString(": &a")
		b.WriteString(itoa(i))
		b.WriteString(" [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a")
			b.WriteString(itoa(i - 1))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestAliasBomb(t *testing.T) {
	var got string
	within(t, time.Second, func() {
		got = parseErrors(t, billionLaughs(9))
	})
	want := "spec.yaml:1:1: the spec expands to more than 1000000 YAML nodes (are aliases nested to multiply, as in a billion laughs?)"
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// The same bomb in a schema, where aliases are expanded into JSON: the
	// document bound stops it first; a file $ref'd many times is bounded
	// by the values converted.
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(`{"$defs": {"d0": {"type": "string"}`)
	for i := 1; i <= 30; i++ {
		b.WriteString(`, "d` + itoa(i) + `": {"allOf": [{"$ref": "#/$defs/d` + itoa(i-1) + `"}, {"$ref": "#/$defs/d` + itoa(i-1) + `"}]}`)
	}
	b.WriteString(`}, "$ref": "#/$defs/d30"}`)
	os.WriteFile(filepath.Join(dir, "bomb.json"), []byte(b.String()), 0o644)
	var err error
	within(t, 5*time.Second, func() {
		_, err = Parse(filepath.Join(dir, "spec.yaml"), []byte("cometgen: 1\nname: x\nschemas:\n  Bomb: {$ref: bomb.json}\n"), dir)
	})
	if err == nil || !strings.Contains(err.Error(), "schemas expand to more than 1000000 values") {
		t.Errorf("Parse: %v", err)
	}
}

func TestDeepNesting(t *testing.T) {
	// Deeper than MaxDepth, within what the YAML parser takes.
	got := parseErrors(t, "cometgen: 1\nname: deep\nx-deep: "+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+"\n")
	if want := "spec.yaml:3:1008: nested deeper than 1000 levels"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// Deeper than the YAML parser takes.
	got = parseErrors(t, "x: "+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+"\n")
	if want := "spec.yaml:1:1: not valid YAML: exceeded max depth of 10000"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// Block nesting.
	var b strings.Builder
	b.WriteString("cometgen: 1\nname: deep\nschemas:\n  Deep:\n")
	for i := 0; i < 1200; i++ {
		b.WriteString(strings.Repeat(" ", 4+2*i) + "not:\n")
	}
	b.WriteString(strings.Repeat(" ", 4+2*1200) + "type: string\n")
	got = parseErrors(t, b.String())
	if !strings.Contains(got, "nested deeper than 1000 levels") {
		t.Errorf("got %s", got)
	}
}

func TestNotText(t *testing.T) {
	for _, data := range []string{"\xff\xfe\x00\x01", "\x00\x01\x02", "cometgen: 1\nname: \xff\n"} {
		got := parseErrors(t, data)
		if !strings.HasPrefix(got, "spec.yaml:1:1: ") && !strings.HasPrefix(got, "spec.yaml:2:1: not valid YAML: ") {
			t.Errorf("%q: %s", data, got)
		}
	}
}

// A symbolic link cannot take a $ref out of the project directory.
func TestRefSymlinkEscape(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links")
	}
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.json"), []byte(`{"type": "string"}`), 0o644)
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "secret.json"), filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(filepath.Join(dir, "spec.yaml"), []byte("cometgen: 1\nname: x\nschemas:\n  A: {$ref: link.json}\n  B: {$ref: linkdir/secret.json}\n"), dir)
	want := filepath.Join(dir, "spec.yaml") + ":4:13: $ref link.json: " + filepath.Join(dir, "link.json") + " leaves the project directory " + dir + "\n" +
		filepath.Join(dir, "spec.yaml") + ":5:13: $ref linkdir/secret.json: " + filepath.Join(dir, "linkdir/secret.json") + " leaves the project directory " + dir
	if err == nil || err.Error() != want {
		t.Errorf("Parse: %v\nwant %s", err, want)
	}
}

// Load resolves $refs from the spec's directory, wherever the program
// runs; Parse with a wider root lets them reach up to it.
func TestRefRoot(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "api"), 0o755)
	os.WriteFile(filepath.Join(dir, "common.json"), []byte(`{"type": "string"}`), 0o644)
	spec := []byte("cometgen: 1\nname: x\nschemas:\n  A: {$ref: ../common.json}\n")
	os.WriteFile(filepath.Join(dir, "api", "spec.yaml"), spec, 0o644)
	if _, err := Load(filepath.Join(dir, "api", "spec.yaml")); err == nil || !strings.Contains(err.Error(), "leaves the project directory") {
		t.Errorf("Load: %v", err)
	}
	s, err := Parse(filepath.Join(dir, "api", "spec.yaml"), spec, dir)
	if err != nil {
		t.Fatalf("Parse with the parent as root: %v", err)
	}
	if got := string(s.Schemas["A"].JSON); got != `{"type":"string"}` {
		t.Errorf("A = %s", got)
	}
}

// The loaded chat spec, field by field: what the generators will read.
func TestLoadChat(t *testing.T) {
	a, err := txtar.ParseFile("testdata/load/good/chat.txtar")
	if err != nil {
		t.Fatal(err)
	}
	s, err, dir := loadArchive(t, a)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "chat" || s.Go != (GoOutput{Package: "channels", Out: "internal/channels"}) || s.TS.Out != "web/src/channels.ts" {
		t.Errorf("spec: %+v", s)
	}
	if s.Auth.Handshake != HandshakeRequired || strings.Join(s.Auth.Roles, ",") != "member,moderator" {
		t.Errorf("auth: %+v", s.Auth)
	}
	if s.File != dir+"cometgen.yaml" {
		t.Errorf("File = %s", s.File)
	}
	var patterns []string
	for _, c := range s.Channels {
		patterns = append(patterns, c.Pattern)
	}
	if got := strings.Join(patterns, " "); got != "/chat/{room} /chat/{room}/typing /user/{id}/inbox /news/** /service/members" {
		t.Errorf("channels in order: %s", got)
	}
	chat := s.Channels[0]
	if chat.Message != s.Schemas["ChatMessage"] {
		t.Errorf("a named schema is not shared (compiled once)")
	}
	if len(chat.Params) != 1 || chat.Params[0].Pattern != "^[a-z0-9-]{1,32}$" || chat.Params[0].Pos.Line != 22 {
		t.Errorf("params: %+v", chat.Params)
	}
	if len(chat.Filters) != 6 || chat.Filters[3].Name != "regex-abort" || chat.Filters[3].Reason != "no links" ||
		!chat.Filters[5].Custom || chat.Filters[5].Name != "profanity" {
		t.Errorf("filters: %+v", chat.Filters)
	}
	if string(chat.Extensions["x-team"]) != `"chat-core"` {
		t.Errorf("extensions: %s", chat.Extensions)
	}
	typing := s.Channels[1]
	if !typing.Lazy || typing.LazyTimeout != "2s" || typing.Deprecated != "use presence instead" {
		t.Errorf("typing: %+v", typing)
	}
	inbox := s.Channels[2]
	if inbox.Subscribe.Allow[0] != (Allow{Kind: AllowSelf, Param: "id", Pos: Pos{dir + "cometgen.yaml", 44, 25}}) ||
		inbox.Publish.Allow[0].Kind != AllowServer {
		t.Errorf("inbox rules: %+v %+v", inbox.Subscribe, inbox.Publish)
	}
	// The $ref'd file is inlined, its own refs too.
	if js := string(inbox.Message.JSON); strings.Contains(js, "$ref") || !strings.Contains(js, `"pattern":"^[a-z]+$"`) {
		t.Errorf("inbox message: %s", js)
	}
	if vs := inbox.Message.Validate([]byte(`{"level": "info", "text": "hi", "tags": ["ok"]}`)); vs != nil {
		t.Errorf("valid notice: %v", vs)
	}
	if vs := inbox.Message.Validate([]byte(`{"level": "panic", "text": "hi", "tags": ["NO"]}`)); len(vs) != 2 ||
		vs[0].Path != "/level" || vs[1].Path != "/tags/0" {
		t.Errorf("invalid notice: %v", vs)
	}
	members := s.Channels[4]
	if members.Kind != Service || members.Request == nil || members.Reply == nil || members.Message != nil {
		t.Errorf("service: %+v", members)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	s, err := Parse(filepath.Join(dir, "spec.yaml"), []byte(`cometgen: 1
name: v
schemas:
  ChatMessage:
    type: object
    required: [user, text]
    additionalProperties: false
    properties:
      user: {type: string, maxLength: 32}
      text: {type: string, minLength: 1, maxLength: 500}
      items: {type: array, items: {type: object, properties: {name: {type: string, pattern: "^[a-z]+$"}}}}
  Any: {}
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	msg := s.Schemas["ChatMessage"]
	tests := []struct {
		data string
		want []string
	}{
		{`{"user": "alice", "text": "hi"}`, nil},
		{`{"user": "alice", "text": "` + strings.Repeat("x", 612) + `"}`, []string{"/text: maxLength: got 612, want at most 500"}},
		{`{"user": 5, "text": ""}`, []string{"/text: minLength: got 0, want at least 1", "/user: type: got number, want string"}},
		{`{"text": "hi", "extra": true}`, []string{"(root): additionalProperties: 'extra' not allowed", "(root): required: missing properties: 'user'"}},
		{`{"user": "a", "text": "b", "items": [{"name": "ok"}, {"name": "NO"}]}`, []string{`/items/1/name: pattern: does not match pattern '^[a-z]+$'`}},
		{`[1, 2]`, []string{"(root): type: got array, want object"}},
		{`{"user": `, []string{"(root): not JSON: unexpected end of JSON input"}},
		{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), []string{"(root): not JSON: "}},
	}
	for _, tt := range tests {
		vs := msg.Validate([]byte(tt.data))
		var got []string
		for _, v := range vs {
			got = append(got, v.String())
		}
		if len(got) != len(tt.want) {
			t.Errorf("%.40s: %q; want %q", tt.data, got, tt.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], tt.want[i]) {
				t.Errorf("%.40s: %q; want %q", tt.data, got, tt.want)
			}
		}
	}
	// 10,000 levels, decoded by hand: refused before the recursive
	// validation, for a schema that recurses or not.
	var deep any = "x"
	for i := 0; i < 10000; i++ {
		deep = []any{deep}
	}
	for _, name := range []string{"ChatMessage", "Any"} {
		vs := s.Schemas[name].ValidateValue(deep)
		if len(vs) != 1 || vs[0].String() != "(root): nested deeper than 1000 levels" {
			t.Errorf("%s: 10,000 levels: %v", name, vs)
		}
	}
	deepMap := map[string]any{}
	cur := deepMap
	for i := 0; i < 999; i++ {
		next := map[string]any{}
		cur["a"] = next
		cur = next
	}
	if vs := s.Schemas["Any"].ValidateValue(deepMap); vs != nil {
		t.Errorf("1,000 levels: %v", vs)
	}
	// A value of a type JSON has not.
	if vs := s.Schemas["Any"].ValidateValue(map[string]any{"a": []any{1.0, func() {}}}); len(vs) != 1 || vs[0].String() != "/a/1: not a JSON value (func())" {
		t.Errorf("a func: %v", vs)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"description", "deprecated", "params", "message", "filters", "go", "ts"}
	for word, want := range map[string]string{
		"mesage": "message", "filtres": "filters", "Message": "message", "PARAMS": "params",
		"descripton": "description", "deprecate": "deprecated", "gp": "go", "tz": "ts",
		"zz": "", "frobnicate": "", "": "", "m": "",
	} {
		if got := suggest(word, keys); got != want {
			t.Errorf("suggest(%q) = %q; want %q", word, got, want)
		}
	}
}
