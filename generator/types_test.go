package generator

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cometgen/cometgen/schema"
)

// TestGenerateErrors generates the specs under testdata/bad, which load
// but cannot be generated, and checks that the error names both spec
// elements.
func TestGenerateErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"fields-collide.yaml", []string{`"user-id"`, `"user_id"`, "UserID", "schema User"}},
		{"types-collide.yaml", []string{"schema Foo", "schema Bar", "Go name Bar"}},
		{"nested-collide.yaml", []string{"schema OrderItem", "property item of schema Order", "OrderItem"}},
		{"enum-collide.yaml", []string{`enum value "a-b"`, `enum value "a_b"`, "LevelAB"}},
		{"channel-collide.yaml", []string{"channel /chat/{room}", "schema ChatRoom", "ChatRoom"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			spec, err := schema.Load(filepath.Join("testdata", "bad", tc.file))
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			_, err = Generate(spec, Options{})
			if err == nil {
				t.Fatal("Generate succeeded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

// tempModule writes files into a new module that uses this repository and
// returns its directory.
func tempModule(t *testing.T, files map[string][]byte) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(self))
	mod := t.TempDir()
	gomod := "module example.com/gen\n\ngo 1.26\n\nrequire github.com/cometgen/cometgen v0.0.0\n\nreplace github.com/cometgen/cometgen => " + repo + "\n"
	files["go.mod"] = []byte(gomod)
	for p, b := range files {
		dst := filepath.Join(mod, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return mod
}

// goIn runs the go command in dir and fails the test on an error.
func goIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// roundTripTest is the test written beside the generated types: each
// sample unmarshals into its type and marshals back to equal JSON.
const roundTripTest = `package %s

import (
	"encoding/json"
	"reflect"
	"testing"
)

func roundTrip[T any](t *testing.T, sample string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(sample), &v); err != nil {
		t.Fatalf("unmarshal %%T: %%v", v, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %%T: %%v", v, err)
	}
	var a, b any
	json.Unmarshal([]byte(sample), &a)
	json.Unmarshal(out, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%%T round trip:\n in: %%s\nout: %%s", v, sample, out)
	}
	return v
}

%s
`

// TestTypesRoundTrip compiles the types of types-basic and types-union with
// a test that decodes sample messages into them and encodes them back.
func TestTypesRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generated code with the go command")
	}
	basic := generate(t, "testdata/types-basic/cometgen.yaml")
	basic["basic/roundtrip_test.go"] = []byte(fmt.Sprintf(roundTripTest, "basic", `
func TestRoundTrip(t *testing.T) {
	p := roundTrip[Profile](t, `+"`"+`{
		"id": "u1", "name": "Ann", "age": 42, "score": 1.5, "active": true,
		"created": "2024-01-02T03:04:05Z", "updated": "2024-02-03T04:05:06.5+01:00",
		"type": "admin", "2fa": false, "tags": [], "scores": [1, 2],
		"labels": {"a": "b"}, "address": {"city": "Oslo", "geo": {"lat": 59.9}},
		"contacts": [{"kind": "email", "value": "a@b.c"}], "favorite": "dark-blue",
		"counters": {"x": 3}, "meta": {"any": [1, {"x": null}]},
		"child": {"name": "c", "child": {"name": "d"}}
	}`+"`"+`)
	if p.Nickname != nil || p.Age != 42 || p.Address.Geo.Lon != nil || *p.Address.Geo.Lat != 59.9 {
		t.Errorf("decoded %+v", p)
	}
	if !p.Favorite.Valid() || *p.Favorite != ProfileFavoriteDarkBlue || ProfileFavorite("blue").Valid() {
		t.Error("enum")
	}
	if p.Child.Child.Name == nil || *p.Child.Child.Name != "d" {
		t.Error("recursive $ref")
	}
	roundTrip[Profile](t, `+"`"+`{"id": "", "name": "", "age": 0, "score": 0, "active": false,
		"created": "0001-01-01T00:00:00Z", "type": "", "2fa": true, "tags": ["x"], "address": {"city": ""}}`+"`"+`)
	roundTrip[Color](t, `+"`"+`"green"`+"`"+`)
	roundTrip[Tags](t, `+"`"+`["a", "b"]`+"`"+`)
	roundTrip[Stamp](t, `+"`"+`"2024-01-02T03:04:05Z"`+"`"+`)
	st := roundTrip[Settings](t, `+"`"+`{"theme": "dark", "size": 12, "zoom": 2}`+"`"+`)
	if st.Theme != "dark" || st.Font != nil || st.Extra["size"] != 12 || len(st.Extra) != 2 {
		t.Errorf("decoded %+v", st)
	}
	roundTrip[Settings](t, `+"`"+`{"theme": "light", "font": "mono"}`+"`"+`)
	if out, _ := json.Marshal(Settings{Extra: map[string]int64{"a": 1}}); string(out) != `+"`"+`{"theme":"","a":1}`+"`"+` {
		t.Errorf("Settings with Extra: %s", out)
	}
	var bad Settings
	if err := json.Unmarshal([]byte(`+"`"+`{"theme": "x", "size": "big"}`+"`"+`), &bad); err == nil {
		t.Error("an Extra value of the wrong type decoded")
	}
	pl := roundTrip[PlacesMessage](t, `+"`"+`{"name": "Oslo", "rating": "good"}`+"`"+`)
	p2 := roundTrip[Profile](t, `+"`"+`{"id": "", "name": "", "age": 0, "score": 0, "active": false, "created": "2024-01-02T03:04:05Z",
		"type": "", "2fa": true, "tags": [], "address": {"city": ""}, "home": {"name": "Oslo"}, "visited": [{"name": "Rome", "rating": "bad"}]}`+"`"+`)
	var shared Place = pl
	if shared.Name != p2.Home.Name || *p2.Visited[0].Rating != PlaceRatingBad {
		t.Error("inlined copies of Place")
	}
	roundTrip[ServiceLookupReply](t, `+"`"+`{"profile": {"name": "x"}}`+"`"+`)
}
`))
	union := generate(t, "testdata/types-union/cometgen.yaml")
	union["union/roundtrip_test.go"] = []byte(fmt.Sprintf(roundTripTest, "union", `
func TestRoundTrip(t *testing.T) {
	s := roundTrip[Shape](t, `+"`"+`{"kind": "square", "side": 2, "label": "sq"}`+"`"+`)
	if sq, ok := s.Value.(ShapeSquare); !ok || sq.Side != 2 {
		t.Errorf("decoded %#v", s.Value)
	}
	roundTrip[Shape](t, `+"`"+`{"kind": "circle", "radius": 1.5}`+"`"+`)
	roundTrip[Shape](t, `+"`"+`{"kind": "empty"}`+"`"+`)
	m := roundTrip[DrawMessage](t, `+"`"+`{"shape": {"kind": "link", "href": "h"},
		"layers": [{"type": "text", "text": "hi"}, {"type": "image", "url": "u"}]}`+"`"+`)
	if _, ok := m.Layers[1].Value.(DrawMessageLayersItemImage); !ok || m.Extra != nil {
		t.Errorf("decoded %#v", m)
	}
	var bad Shape
	if err := json.Unmarshal([]byte(`+"`"+`{"kind": "hexagon"}`+"`"+`), &bad); err == nil {
		t.Error("an unknown kind decoded")
	}
	if _, err := json.Marshal(Shape{}); err == nil {
		t.Error("a Shape without Value encoded")
	}
	out, _ := json.Marshal(Shape{Value: &ShapeCircle{Radius: 3}})
	if string(out) != `+"`"+`{"kind":"circle","radius":3}`+"`"+` {
		t.Errorf("pointer branch: %s", out)
	}
}
`))
	fallback := generate(t, "testdata/types-fallback/cometgen.yaml")
	fallback["fallback/roundtrip_test.go"] = []byte(fmt.Sprintf(roundTripTest, "fallback", `
func TestRoundTrip(t *testing.T) {
	l := roundTrip[Loose](t, `+"`"+`{"anything": {"a": [1, null]}, "either": 3, "untagged": "s",
		"combined": {"a": "x", "b": "y"}, "mixedEnum": "two", "tuple": ["a", 1], "patterned": {"x-a": "b"},
		"both": {"a": "x", "n": 1}, "branchExtra": {"kind": "a", "z": "q"}, "nothing": null,
		"untyped": "u", "list": [1, "2"], "levels": 2}`+"`"+`)
	if string(l.Either) != "3" || l.Both.Extra["n"] != 1 || *l.Levels != 2 {
		t.Errorf("decoded %+v", l)
	}
	roundTrip[Loose](t, `+"`"+`{}`+"`"+`)
}
`))
	files := map[string][]byte{}
	for p, b := range fallback {
		files[p] = b
	}
	for p, b := range basic {
		files[p] = b
	}
	for p, b := range union {
		files[p] = b
	}
	mod := tempModule(t, files)
	goIn(t, mod, "vet", "./...")
	goIn(t, mod, "test", "./...")
}

// randomSpec returns a spec with random object schemas: scalar, array,
// map, enum, date-time and nested object properties, random required sets.
func randomSpec(r *rand.Rand, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cometgen: 1\nname: rnd%d\ngo: {package: p%d, out: p%d}\nschemas:\n", i, i, i)
	var obj func(depth int, indent string)
	obj = func(depth int, indent string) {
		fmt.Fprintf(&b, "%stype: object\n%sproperties:\n", indent, indent)
		n := 1 + r.IntN(6)
		var req []string
		for j := range n {
			name := []string{"id", "type", "2fa", "user-name", "list", "func", "x", "map"}[r.IntN(8)] + fmt.Sprint(j)
			if r.IntN(2) == 0 {
				req = append(req, name)
			}
			fmt.Fprintf(&b, "%s  %s:\n", indent, name)
			in := indent + "    "
			switch k := r.IntN(12); {
			case k == 7 && depth < 3:
				obj(depth+1, in)
			case k == 8 && depth < 3:
				fmt.Fprintf(&b, "%stype: array\n%sitems:\n", in, in)
				obj(depth+1, in+"  ")
			default:
				fmt.Fprintf(&b, "%s%s\n", in, []string{
					"type: string", "type: integer", "type: number", "type: boolean",
					"{type: string, format: date-time}", "{type: array, items: {type: integer}}",
					"{enum: [a, b-c, \"1\"]}", "{type: object, additionalProperties: {type: boolean}}",
					"{type: [string, \"null\"]}",
					"{oneOf: [{type: object, required: [kind], properties: {kind: {const: a}, x: {type: string}}}, {type: object, properties: {kind: {const: b-b}, y: {type: array, items: {type: integer}}}}]}",
					"{type: object, properties: {p: {type: string}}, additionalProperties: {type: number}}",
					"{enum: [on, off, null]}",
				}[min(k, 11)])
			}
		}
		if len(req) > 0 {
			fmt.Fprintf(&b, "%srequired: [%s]\n", indent, strings.Join(req, ", "))
		}
	}
	for s := range 1 + r.IntN(3) {
		fmt.Fprintf(&b, "  S%d:\n", s)
		obj(0, "    ")
	}
	fmt.Fprintf(&b, "channels:\n  /c0:\n    message: S0\n  /c1:\n    message:\n")
	obj(0, "      ")
	return b.String()
}

// TestRandomSchemasCompile generates random valid specs and checks that
// the generated code vets.
func TestRandomSchemasCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generated code with the go command")
	}
	r := rand.New(rand.NewPCG(5, 1))
	files := map[string][]byte{}
	dir := t.TempDir()
	for i := range 20 {
		src := randomSpec(r, i)
		path := filepath.Join(dir, fmt.Sprintf("spec%d.yaml", i))
		os.WriteFile(path, []byte(src), 0o644)
		spec, err := schema.Load(path)
		if err != nil {
			t.Fatalf("spec %d does not load: %v\n%s", i, err, src)
		}
		out, err := Generate(spec, Options{})
		if err != nil {
			t.Fatalf("spec %d: %v\n%s", i, err, src)
		}
		for p, b := range out {
			files[p] = b
		}
	}
	goIn(t, tempModule(t, files), "vet", "./...")
}
