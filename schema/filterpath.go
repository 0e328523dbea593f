package schema

import (
	"errors"
	"strconv"
	"strings"
)

// checkFieldPath checks a filter's field path against the grammar of
// runtime/filter (see that package's documentation), returning the error
// its constructors would give. It is written again here, not imported, so
// that this package does not depend on the runtime (which may come to
// depend on it); a test keeps the two in agreement.
func checkFieldPath(text string) error {
	if text == "" {
		return nil
	}
	s := text
	first := true
	for {
		end := strings.IndexAny(s, ".[]")
		if end < 0 {
			end = len(s)
		}
		key := s[:end]
		switch {
		case key == "" && !(first && strings.HasPrefix(s, "[")):
			if s == "" || s[0] == '.' {
				return errors.New("empty key")
			}
			return errors.New("expected a key before " + strconv.Quote(s[:1]))
		case key == "*" || key == "**":
			return errors.New("wildcard keys are not supported (use [] for the elements of an array, or the empty path for every string)")
		}
		s = s[end:]
		first = false
		for strings.HasPrefix(s, "[") {
			if !strings.HasPrefix(s, "[]") {
				t := s
				if i := strings.IndexByte(s, ']'); i >= 0 {
					t = s[:i+1]
				}
				return errors.New("only [] (every element of an array) may follow a key, not " + strconv.Quote(t))
			}
			s = s[2:]
		}
		switch {
		case s == "":
			return nil
		case s[0] == '.':
			s = s[1:]
			if s == "" {
				return errors.New("empty key at the end")
			}
		default:
			return errors.New("unexpected " + strconv.Quote(s[:1]) + " after " + strconv.Quote(text[:len(text)-len(s)]))
		}
	}
}
