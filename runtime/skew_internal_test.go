package runtime

import (
	"slices"
	"testing"
)

// TestJudgeSkew: the verdicts on the contract a client sends, side by
// side and channel by channel; what is not a contract is not judged.
func TestJudgeSkew(t *testing.T) {
	cp := compilePrint(&ContractPrint{
		Spec: "app", Hash: "H",
		Channels: []ChannelPrint{
			{Pattern: "/chat/{room}", Publish: "p1", Deliver: "d1"},
			{Pattern: "/feed", Deliver: "f1"},
		},
		Compatible: []string{"p0", "f0"},
	})
	for _, tc := range []struct {
		name   string
		ext    any
		want   skew
		broken []string
	}{
		{"the same hash", map[string]any{"hash": "H", "channels": map[string]any{"/gone": "x.y"}}, skewNone, nil},
		{"the same prints", map[string]any{"hash": "X", "channels": map[string]any{"/chat/{room}": "p1.d1", "/feed": ".f1"}}, skewCompatible, nil},
		{"a parameter renamed", map[string]any{"hash": "X", "channels": map[string]any{"/chat/{id}": "p1.d1"}}, skewCompatible, nil},
		{"compatible older prints", map[string]any{"hash": "X", "channels": map[string]any{"/chat/{room}": "p0.d1", "/feed": ".f0"}}, skewCompatible, nil},
		{"a side the client does not use", map[string]any{"hash": "X", "channels": map[string]any{"/chat/{room}": ".d1"}}, skewCompatible, nil},
		{"an unknown print", map[string]any{"hash": "X", "channels": map[string]any{"/chat/{room}": "p1.d9", "/feed": ".f1"}}, skewBreaking, []string{"/chat/{room}"}},
		{"a channel gone", map[string]any{"hash": "X", "channels": map[string]any{"/old": ".o", "/feed": "q.f1"}}, skewBreaking, []string{"/feed", "/old"}},
		{"no channels", map[string]any{"hash": "X"}, skewNone, nil},
		{"not an object", "contract", skewNone, nil},
		{"channels of another shape", map[string]any{"channels": []any{"x"}}, skewNone, nil},
	} {
		got, broken := cp.judge(tc.ext)
		if got != tc.want || !slices.Equal(broken, tc.broken) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, broken, tc.want, tc.broken)
		}
	}
}
