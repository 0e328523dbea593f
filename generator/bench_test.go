package generator

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cometgen/cometgen/schema"
)

// bigSpec returns a spec with n channels and n named schemas.
func bigSpec(n int) string {
	var b strings.Builder
	b.WriteString("cometgen: 1\nname: big\ngo: {package: big, out: big}\nschemas:\n")
	for i := range n {
		fmt.Fprintf(&b, "  Message%d:\n    type: object\n    required: [id, text]\n    properties:\n"+
			"      id: {type: integer}\n      text: {type: string, maxLength: 500}\n"+
			"      tags: {type: array, items: {type: string}}\n      sent: {type: string, format: date-time}\n", i)
	}
	b.WriteString("channels:\n")
	for i := range n {
		fmt.Fprintf(&b, "  /room%d/{name}:\n    params:\n      name: {pattern: \"^[a-z]{1,16}$\"}\n    message: Message%d\n", i, i)
	}
	return b.String()
}

// BenchmarkGenerate generates a spec of 200 channels and 200 schemas (the
// load and check of the spec are measured separately).
func BenchmarkGenerate(b *testing.B) {
	spec, err := schema.Parse("big.yaml", []byte(bigSpec(200)), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Generate(spec, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAndGenerate is what `cometgen generate` does for such a spec.
func BenchmarkLoadAndGenerate(b *testing.B) {
	src := []byte(bigSpec(200))
	dir := b.TempDir()
	for b.Loop() {
		spec, err := schema.Parse("big.yaml", src, dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Generate(spec, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
