package jsontext

import "testing"

func TestString(t *testing.T) {
	for _, tc := range []struct {
		text, want string
		ok         bool
	}{
		{`"abc"`, "abc", true},
		{`""`, "", true},
		{`"日本"`, "日本", true},
		{`"a\"b"`, "", false},
		{`"a\nb"`, "", false},
		{"\"a\tb\"", "", false},
		{"\"a\xffb\"", "", false},
		{`"abc`, "", false},
		{`abc`, "", false},
	} {
		r := NewReader([]byte(tc.text))
		start, end, ok := r.String()
		if ok != tc.ok || ok && string(r.Bytes()[start:end]) != tc.want {
			t.Errorf("String of %q: %q %v, want %q %v", tc.text, r.Bytes()[start:end], ok, tc.want, tc.ok)
		}
		if ok && r.Pos() != len(tc.text) || !ok && r.Pos() != 0 {
			t.Errorf("String of %q: at %d after", tc.text, r.Pos())
		}
	}
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		text, want string
	}{
		{"0", "0"}, {"-0", "-0"}, {"12", "12"}, {"1.5e+3", "1.5e+3"}, {"-1E-2", "-1E-2"}, {"01", "0"}, {"1.5x", "1.5"},
		{"1.", ""}, {".5", ""}, {"-", ""}, {"1e", ""}, {"+1", ""}, {"x", ""}, {"", ""},
	} {
		r := NewReader([]byte(tc.text))
		got, ok := r.Number()
		if ok != (tc.want != "") || string(got) != tc.want {
			t.Errorf("Number of %q: %q %v, want %q", tc.text, got, ok, tc.want)
		}
	}
}

func TestPunctuation(t *testing.T) {
	r := NewReader([]byte(" { \"a\" :\ttrue ,\n null }  "))
	if !r.Next('{') || r.Next('}') {
		t.Fatal("Next")
	}
	r.Space()
	if _, _, ok := r.String(); !ok || !r.Next(':') {
		t.Fatal("String, Next")
	}
	r.Space()
	if r.Word("false") || !r.Word("true") || !r.Next(',') {
		t.Fatal("Word")
	}
	r.Space()
	if r.Peek() != 'n' || !r.Word("null") || !r.Next('}') || !r.AtEnd() {
		t.Fatal("Peek, AtEnd")
	}
}
