package schema_test

import (
	"strings"
	"testing"

	"github.com/cometgen/cometgen/runtime/filter"
	"github.com/cometgen/cometgen/schema"
)

// fieldPaths are well and badly formed field paths.
var fieldPaths = []string{
	"", "text", "user.name", "items[].text", "matrix[][]", "[].text", "[]", "[][]",
	".", ".a", "a..b", "a.", "a[].", "a.[]", "]", "a]", "a[]b", "a[0]", "a[", "a[x",
	"[0].a", "*", "a.**", "a.*.b", "é.ü", "a b", "a[]]", "[", "[]a", "a.b.c[].d[][]",
}

// The loader checks field paths as runtime/filter parses them: same
// verdict, same reason.
func TestFieldPathsAgreeWithRuntime(t *testing.T) {
	for _, p := range fieldPaths {
		got := schema.CheckFieldPath(p)
		_, err := filter.Trim(p)
		switch {
		case (got == nil) != (err == nil):
			t.Errorf("path %q: loader says %v, runtime/filter says %v", p, got, err)
		case err != nil && !strings.HasSuffix(err.Error(), ": "+got.Error()):
			t.Errorf("path %q: loader says %q, runtime/filter says %q", p, got, err)
		}
	}
}

func FuzzFieldPath(f *testing.F) {
	for _, p := range fieldPaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := schema.CheckFieldPath(p)
		_, err := filter.Trim(p)
		if (got == nil) != (err == nil) || (err != nil && !strings.HasSuffix(err.Error(), ": "+got.Error())) {
			t.Errorf("path %q: loader says %v, runtime/filter says %v", p, got, err)
		}
	})
}
