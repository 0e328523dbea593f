package generator

import (
	"fmt"
	"strings"
	"unicode"
)

// initialisms are written in capitals in Go names, as golint asks.
var initialisms = map[string]bool{
	"API": true, "ASCII": true, "CPU": true, "CSS": true, "DNS": true, "EOF": true, "HTML": true,
	"HTTP": true, "HTTPS": true, "ID": true, "IP": true, "JSON": true, "JWT": true, "QPS": true,
	"RAM": true, "SQL": true, "SSH": true, "TCP": true, "TLS": true, "TTL": true, "UDP": true,
	"UI": true, "UID": true, "URI": true, "URL": true, "UTF8": true, "UUID": true, "XML": true,
}

// goName turns a spec name ("chat-message", "user_id", "2fa") into an
// exported Go identifier ("ChatMessage", "UserID", "N2fa"): words split at
// every character that is not a letter or digit and at lower-to-upper case
// changes, each capitalised, initialisms in capitals. A name starting with
// a digit gets the prefix "N". The result is deterministic.
func goName(s string) string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(rs[i-1]):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	var b strings.Builder
	for _, w := range words {
		if up := strings.ToUpper(w); initialisms[up] {
			b.WriteString(up)
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	name := b.String()
	if name == "" {
		return "X"
	}
	if r := []rune(name)[0]; unicode.IsDigit(r) {
		name = "N" + name
	}
	return name
}

// namer hands out the package-level Go names of one generation and reports
// two spec names that would become the same Go name.
type namer struct {
	owner map[string]string // name -> what claimed it
	lang  string            // "Go" or "TypeScript", for the error
}

func newNamer() *namer { return &namer{owner: make(map[string]string), lang: "Go"} }

// claim reserves name for what (a description such as `channel /a-b`). It
// fails when another spec element has it.
func (n *namer) claim(name, what string) error {
	if prev, ok := n.owner[name]; ok && prev != what {
		return fmt.Errorf("%s and %s both become the %s name %s; rename one or give it an x-go-name", prev, what, n.lang, name)
	}
	n.owner[name] = what
	return nil
}
