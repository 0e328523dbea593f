package bayeux

import (
	"slices"
	"strings"
	"testing"
)

func TestValidChannel(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"/a", true},
		{"/chat/room-1", true},
		{"/a/*", true},
		{"/a/**", true},
		{"/**", true},
		{"/*", true},
		{"/a b/c!#$()+-.@_{}~", true},
		{"", false},
		{"/", false},
		{"a/b", false},
		{"/a/", false},
		{"//a", false},
		{"/a//b", false},
		{"/a/*/b", false},
		{"/**/a", false},
		{"/a/b*", false},
		{"/a/***", false},
		{"/a/<script>", false},
		{"/a/\u00e9", false},
		{"/a/\x00", false},
	}
	for _, tt := range tests {
		if got := ValidChannel(tt.name); got != tt.want {
			t.Errorf("ValidChannel(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestWilds(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"/a/b/c", []string{"/a/b/*", "/a/b/**", "/a/**", "/**"}},
		{"/a", []string{"/*", "/**"}},
		{"/a/b", []string{"/a/*", "/a/**", "/**"}},
	}
	for _, tt := range tests {
		if got := Wilds(tt.name); !slices.Equal(got, tt.want) {
			t.Errorf("Wilds(%q) = %q, want %q", tt.name, got, tt.want)
		}
		for _, w := range tt.want {
			if !Match(w, tt.name) {
				t.Errorf("Match(%q, %q) = false, want true", w, tt.name)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"/foo/*", "/foo/bar", true},
		{"/foo/*", "/foo", false},
		{"/foo/*", "/foobar", false},
		{"/foo/*", "/foo/bar/baz", false},
		{"/foo/**", "/foo/bar", true},
		{"/foo/**", "/foo/bar/baz", true},
		{"/foo/**", "/foo", false},
		{"/foo/**", "/foobar/baz", false},
		{"/**", "/anything/at/all", true},
		{"/*", "/a", true},
		{"/*", "/a/b", false},
		{"/foo", "/foo", true},
		{"/foo", "/foo/bar", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	tests := map[string]ChannelKind{
		"/meta/connect": Meta, "/meta": Meta, "/metadata": Broadcast,
		"/service/echo": Service, "/services": Broadcast, "/chat": Broadcast,
	}
	for name, want := range tests {
		if got := KindOf(name); got != want {
			t.Errorf("KindOf(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[ID]bool{"": true, "12": true, "aZ9": true, "1-2": false, "a b": false, "<x>": false} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{" /a/b/ ": "/a/b", "/a": "/a", "/": "/"} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSegments: Segments splits as strings.Split does, without allocating.
func TestSegments(t *testing.T) {
	for _, name := range []string{"/chat/lobby", "/chat", "/", "", "chat/lobby", "/a/b/c", "/a//b", "/a/b/", "//", "/chat/*", "/a/b/c/d/e"} {
		want := strings.Split(strings.TrimPrefix(name, "/"), "/")
		for n := range 6 {
			segs := make([]string, n)
			ok := Segments(name, segs)
			if ok != (n == len(want)) {
				t.Errorf("Segments(%q, %d) = %v, want %v", name, n, ok, n == len(want))
			}
			if ok && !slices.Equal(segs, want) {
				t.Errorf("Segments(%q, %d): %q, want %q", name, n, segs, want)
			}
		}
	}
	var segs [2]string
	if n := testing.AllocsPerRun(100, func() { Segments("/chat/lobby", segs[:]) }); n != 0 {
		t.Errorf("Segments allocates %v times", n)
	}
}

func TestMatchTemplate(t *testing.T) {
	for _, c := range []struct {
		template, name string
		want           bool
	}{
		{"/chat/{room}", "/chat/demo", true},
		{"/chat/{room}", "/chat/*", true},
		{"/chat/{room}", "/chat", false},
		{"/chat/{room}", "/chat/", false},
		{"/chat/{room}", "/chat/a/b", false},
		{"/chat/{room}", "/chats/demo", false},
		{"/user/{id}/inbox", "/user/7/inbox", true},
		{"/user/{id}/inbox", "/user/7/outbox", false},
		{"/user/{id}/inbox", "/user//inbox", false},
		{"/a/b", "/a/b", true},
		{"/a/b", "/a/c", false},
		{"/{x}", "/anything", true},
		{"/{x}", "/", false},
		{"/{x}/{y}", "/a/b", true},
		{"/{x}/{y}", "/a", false},
	} {
		if got := MatchTemplate(c.template, c.name); got != c.want {
			t.Errorf("MatchTemplate(%q, %q) = %v, want %v", c.template, c.name, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { MatchTemplate("/user/{id}/inbox", "/user/7/inbox") }); n != 0 {
		t.Errorf("MatchTemplate allocates %v times", n)
	}
}
