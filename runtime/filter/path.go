package filter

import (
	"errors"
	"strconv"
	"strings"
)

// A step is one step of a parsed field path: a map key, or every element of
// an array.
type step struct {
	key  string
	each bool
}

// A path is a parsed field path. No steps means every string in the data.
type path struct {
	text  string
	steps []step
}

// parsePath parses a field path (see the package documentation).
func parsePath(text string) (path, error) {
	p := path{text: text}
	if text == "" {
		return p, nil
	}
	s := text
	first := true
	for {
		// A key, which only the first segment may leave out before its [].
		end := strings.IndexAny(s, ".[]")
		if end < 0 {
			end = len(s)
		}
		key := s[:end]
		switch {
		case key == "" && !(first && strings.HasPrefix(s, "[")):
			if s == "" || s[0] == '.' {
				return path{}, errors.New("empty key")
			}
			return path{}, errors.New("expected a key before " + strconv.Quote(s[:1]))
		case key == "*" || key == "**":
			return path{}, errors.New("wildcard keys are not supported (use [] for the elements of an array, or the empty path for every string)")
		case key != "":
			p.steps = append(p.steps, step{key: key})
		}
		s = s[end:]
		first = false
		// Any number of [].
		for strings.HasPrefix(s, "[") {
			if !strings.HasPrefix(s, "[]") {
				return path{}, errors.New("only [] (every element of an array) may follow a key, not " + strconv.Quote(upTo(s, ']')))
			}
			p.steps = append(p.steps, step{each: true})
			s = s[2:]
		}
		switch {
		case s == "":
			return p, nil
		case s[0] == '.':
			s = s[1:]
			if s == "" {
				return path{}, errors.New("empty key at the end")
			}
		default:
			return path{}, errors.New("unexpected " + strconv.Quote(s[:1]) + " after " + strconv.Quote(text[:len(text)-len(s)]))
		}
	}
}

// upTo returns s up to and including the first c, or all of s.
func upTo(s string, c byte) string {
	if i := strings.IndexByte(s, c); i >= 0 {
		return s[:i+1]
	}
	return s
}

// parsePaths parses the paths given to a constructor. No paths, or an empty
// path among them, means every string; duplicates are dropped, so that a
// string is visited at most once per filter (distinct paths never address
// the same string: where two paths first differ, the value is either a map
// or an array, not both, and a path that is a prefix of another addresses a
// map or an array whenever the longer one exists).
func parsePaths(texts []string) ([]path, error) {
	var paths []path
	for _, t := range texts {
		p, err := parsePath(t)
		if err != nil {
			return nil, &pathError{path: t, err: err}
		}
		if len(p.steps) == 0 {
			return []path{{}}, checkRest(texts)
		}
		if !containsPath(paths, t) {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return []path{{}}, nil
	}
	return paths, nil
}

// checkRest reports the first malformed path in texts, so that an empty
// path does not hide a mistake in another.
func checkRest(texts []string) error {
	for _, t := range texts {
		if _, err := parsePath(t); err != nil {
			return &pathError{path: t, err: err}
		}
	}
	return nil
}

func containsPath(paths []path, text string) bool {
	for _, p := range paths {
		if p.text == text {
			return true
		}
	}
	return false
}

// A visitFunc looks at one addressed string. It returns the string's
// replacement and whether it differs, or refused when the message must be
// rejected.
type visitFunc func(s string) (out string, changed, refused bool)

// A location is where a refused string was found, built only when a string
// is refused: the walk appends steps as it unwinds, innermost first.
type location struct {
	rev []locStep
}

type locStep struct {
	key   string
	index int
	elem  bool // an array element: index, not key
}

// String renders the location like a path, with indexes: items[2].text, or
// "data" for the data itself.
func (l *location) String() string {
	if len(l.rev) == 0 {
		return "data"
	}
	var b strings.Builder
	for i := len(l.rev) - 1; i >= 0; i-- {
		st := l.rev[i]
		if st.elem {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(st.index))
			b.WriteByte(']')
			continue
		}
		if i != len(l.rev)-1 {
			b.WriteByte('.')
		}
		b.WriteString(st.key)
	}
	return b.String()
}

// walk applies visit to the strings p addresses in v. It returns v's
// replacement when v itself is an addressed string that changed (maps and
// arrays are modified in place), or the location of a refused string.
func (p *path) walk(v any, visit visitFunc) (any, bool, *location) {
	if len(p.steps) == 0 {
		return walkAll(v, visit)
	}
	return walkSteps(v, p.steps, visit)
}

func walkSteps(v any, steps []step, visit visitFunc) (any, bool, *location) {
	if len(steps) == 0 {
		s, ok := v.(string)
		if !ok {
			return v, false, nil
		}
		return visitString(v, s, visit)
	}
	st := steps[0]
	if st.each {
		arr, ok := v.([]any)
		if !ok {
			return v, false, nil
		}
		for i, e := range arr {
			ne, changed, loc := walkSteps(e, steps[1:], visit)
			if loc != nil {
				loc.rev = append(loc.rev, locStep{index: i, elem: true})
				return v, false, loc
			}
			if changed {
				arr[i] = ne
			}
		}
		return v, false, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return v, false, nil
	}
	e, ok := m[st.key]
	if !ok {
		return v, false, nil
	}
	ne, changed, loc := walkSteps(e, steps[1:], visit)
	if loc != nil {
		loc.rev = append(loc.rev, locStep{key: st.key})
		return v, false, loc
	}
	if changed {
		m[st.key] = ne
	}
	return v, false, nil
}

func walkAll(v any, visit visitFunc) (any, bool, *location) {
	switch x := v.(type) {
	case string:
		return visitString(v, x, visit)
	case []any:
		for i, e := range x {
			ne, changed, loc := walkAll(e, visit)
			if loc != nil {
				loc.rev = append(loc.rev, locStep{index: i, elem: true})
				return v, false, loc
			}
			if changed {
				x[i] = ne
			}
		}
	case map[string]any:
		for k, e := range x {
			ne, changed, loc := walkAll(e, visit)
			if loc != nil {
				loc.rev = append(loc.rev, locStep{key: k})
				return v, false, loc
			}
			if changed {
				x[k] = ne // replacing the value of an existing key while ranging is allowed
			}
		}
	}
	return v, false, nil
}

// visitString visits s, which is v unboxed; it returns v itself when s is
// unchanged, so that only a changed string is boxed again.
func visitString(v any, s string, visit visitFunc) (any, bool, *location) {
	out, changed, refused := visit(s)
	if refused {
		return v, false, &location{}
	}
	if !changed {
		return v, false, nil
	}
	return out, true, nil
}
