package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/schema"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newValidateCmd)
}

// defaultSpec is the spec a command reads when none is named.
const defaultSpec = "cometgen.yaml"

type validateFlags struct {
	format  string
	channel string
	data    string
}

func newValidateCmd() *cobra.Command {
	var f validateFlags
	cmd := &cobra.Command{
		Use:   "validate [spec]",
		Short: "Check a spec, or one message against a channel of a spec",
		Long: `Validate loads a spec (` + defaultSpec + ` in the current directory unless one is
named) and reports every problem it has, one "file:line:column: message" a
line on stderr, exiting 1; a good spec prints a summary and exits 0. With
--format json the problems are a JSON array of {file, line, column, message}
on stdout instead, for editors and tools (still exit 1).

With --channel and --data it checks one message the way the server would:
the concrete channel name must match a channel the spec declares, each
parameter value must satisfy its parameter's pattern, lengths and values,
and the message must satisfy the channel's schema (a /service channel's
request schema). Each violation is printed as "<json path>: <message>" and
the command exits 1. --data - reads the message from stdin. Data filters are
not run.`,
		Example: `  cometgen validate
  cometgen validate api/cometgen.yaml --format json
  cometgen validate --channel /chat/lobby --data message.json
  echo '{"user":"ann","text":"hi"}' | cometgen validate --channel /chat/lobby --data -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch f.format {
			case "text", "json":
			default:
				return fmt.Errorf("validate: --format %q: want text or json", f.format)
			}
			if (f.channel == "") != (f.data == "") {
				return errors.New("validate: --channel and --data go together")
			}
			path := defaultSpec
			if len(args) == 1 {
				path = args[0]
			}
			spec, err := schema.Load(path)
			if err != nil {
				return reportSpecErrors(cmd, f.format, path, err)
			}
			if f.channel != "" {
				return validateMessage(cmd, f, spec)
			}
			if f.format == "json" {
				fmt.Fprintln(cmd.OutOrStdout(), "[]")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s: %s, %s\n", path,
				plural(len(spec.Channels), "channel"), plural(len(spec.Schemas), "schema"))
			return nil
		},
	}
	cmd.Flags().StringVar(&f.format, "format", "text", "output `format`: text or json")
	cmd.Flags().StringVar(&f.channel, "channel", "", "check a message published on this concrete channel `name`")
	cmd.Flags().StringVar(&f.data, "data", "", "the message to check: a JSON `file`, or - for stdin")
	return cmd
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// specProblem is a spec error as --format json prints it.
type specProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// reportSpecErrors prints why a spec did not load and returns the error
// that ends the command. A spec that cannot be read at all has no position
// (line and column 0 in JSON).
func reportSpecErrors(cmd *cobra.Command, format, path string, err error) error {
	var list schema.ErrorList
	if !errors.As(err, &list) {
		list = schema.ErrorList{{Pos: schema.Pos{File: path}, Msg: err.Error()}}
	}
	if format == "json" {
		problems := make([]specProblem, len(list))
		for i, e := range list {
			problems[i] = specProblem{File: e.Pos.File, Line: e.Pos.Line, Column: e.Pos.Col, Message: e.Msg}
		}
		if err := writeJSON(cmd.OutOrStdout(), problems); err != nil {
			return err
		}
		return exitError{code: 1}
	}
	w := cmd.ErrOrStderr()
	for _, e := range list {
		if e.Pos.Line == 0 {
			fmt.Fprintf(w, "cometgen: %s\n", e.Msg)
		} else {
			fmt.Fprintln(w, e.Error())
		}
	}
	return exitError{code: 1}
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// messageReport is the result of --channel --data as --format json prints
// it.
type messageReport struct {
	Channel string `json:"channel"`
	// Pattern is the declared channel the name matches ("" for none).
	Pattern    string            `json:"pattern,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	Valid      bool              `json:"valid"`
	Violations []violation       `json:"violations"`
}

type violation struct {
	// Path is a JSON pointer into the message, or "channel" for a
	// parameter of the channel name.
	Path    string `json:"path"`
	Message string `json:"message"`
}

func validateMessage(cmd *cobra.Command, f validateFlags, spec *schema.Spec) error {
	name := f.channel
	if !bayeux.ValidChannel(name) || bayeux.IsWild(name) {
		return fmt.Errorf("validate: --channel %q: not a concrete channel name (like /chat/lobby)", name)
	}
	if bayeux.KindOf(name) == bayeux.Meta {
		return fmt.Errorf("validate: --channel %s: /meta channels carry the protocol, not application messages", name)
	}
	data, err := readData(cmd, f.data)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("validate: %s: not JSON: %v", dataName(f.data), err)
	}

	rep := messageReport{Channel: name, Violations: []violation{}}
	ch, params := findChannel(spec, name)
	if ch == nil {
		if f.format == "json" {
			rep.Violations = append(rep.Violations, violation{Path: "channel", Message: "no channel of the spec matches " + name})
			if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			return exitError{code: 1}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "cometgen: %s: the spec %s declares no channel matching it (declared: %s)\n",
			name, spec.File, declared(spec))
		return exitError{code: 1}
	}
	rep.Pattern = ch.Pattern
	if len(params) > 0 {
		rep.Params = map[string]string{}
	}
	for _, p := range ch.Params {
		val, ok := params[p.Name]
		if !ok {
			continue
		}
		rep.Params[p.Name] = val
		if msg := checkParam(p, val); msg != "" {
			rep.Violations = append(rep.Violations, violation{Path: "channel", Message: msg})
		}
	}
	s := ch.Message
	if ch.Kind == schema.Service || bayeux.KindOf(ch.Pattern) == bayeux.Service {
		s = ch.Request
	}
	for _, vl := range s.ValidateValue(v) {
		rep.Violations = append(rep.Violations, violation{Path: vl.Path, Message: vl.Message})
	}
	rep.Valid = len(rep.Violations) == 0

	if f.format == "json" {
		if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
			return err
		}
		if !rep.Valid {
			return exitError{code: 1}
		}
		return nil
	}
	match := fmt.Sprintf("%s matches %s", name, ch.Pattern)
	if len(ch.Params) > 0 {
		var kv []string
		for _, p := range ch.Params {
			if val, ok := params[p.Name]; ok {
				kv = append(kv, p.Name+"="+val)
			}
		}
		match += " (" + strings.Join(kv, ", ") + ")"
	}
	if !rep.Valid {
		w := cmd.ErrOrStderr()
		fmt.Fprintf(w, "%s; message invalid:\n", match)
		for _, vl := range rep.Violations {
			p := vl.Path
			if p == "" {
				p = "(root)"
			}
			fmt.Fprintf(w, "%s: %s\n", p, vl.Message)
		}
		return exitError{code: 1}
	}
	what := "message valid"
	if s == nil {
		what = "no message schema: any message accepted"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "ok: %s; %s\n", match, what)
	return nil
}

func dataName(arg string) string {
	if arg == "-" {
		return "stdin"
	}
	return arg
}

// maxData bounds the message --data reads.
const maxData = 64 << 20

func readData(cmd *cobra.Command, arg string) ([]byte, error) {
	var r io.Reader
	if arg == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(arg)
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxData+1))
	if err != nil {
		return nil, fmt.Errorf("validate: %s: %w", dataName(arg), err)
	}
	if len(data) > maxData {
		return nil, fmt.Errorf("validate: %s: larger than %d MiB", dataName(arg), maxData>>20)
	}
	return data, nil
}

func declared(spec *schema.Spec) string {
	if len(spec.Channels) == 0 {
		return "none"
	}
	names := make([]string, len(spec.Channels))
	for i, ch := range spec.Channels {
		names[i] = ch.Pattern
	}
	return strings.Join(names, ", ")
}

// findChannel returns the declared channel that matches the concrete name,
// with the values of its parameters. When several match, the most specific
// wins: no wildcard before "*" before "**", then fewer parameters, then the
// first in the file.
func findChannel(spec *schema.Spec, name string) (*schema.Channel, map[string]string) {
	var best *schema.Channel
	var bestParams map[string]string
	bestRank := [2]int{}
	for _, ch := range spec.Channels {
		params, ok := matchChannel(ch.Pattern, name)
		if !ok {
			continue
		}
		rank := [2]int{0, len(params)}
		switch {
		case bayeux.IsDeepWild(ch.Pattern):
			rank[0] = 2
		case bayeux.IsWild(ch.Pattern):
			rank[0] = 1
		}
		if best == nil || rank[0] < bestRank[0] || rank[0] == bestRank[0] && rank[1] < bestRank[1] {
			best, bestParams, bestRank = ch, params, rank
		}
	}
	return best, bestParams
}

// matchChannel matches a declared channel pattern against a concrete
// channel name segment by segment: a literal segment matches itself, a
// {param} segment any one segment (its value), and a last "*" or "**"
// segment what bayeux.Match lets it match.
func matchChannel(pattern, name string) (map[string]string, bool) {
	if !strings.Contains(pattern, "{") {
		return nil, bayeux.Match(pattern, name)
	}
	ps := strings.Split(pattern[1:], "/")
	ns := strings.Split(name[1:], "/")
	params := map[string]string{}
	for i, p := range ps {
		last := i == len(ps)-1
		switch {
		case last && p == "**":
			return params, len(ns) > i
		case last && p == "*":
			return params, len(ns) == len(ps)
		case i >= len(ns):
			return nil, false
		case len(p) > 2 && p[0] == '{' && p[len(p)-1] == '}':
			params[p[1:len(p)-1]] = ns[i]
		case p != ns[i]:
			return nil, false
		}
	}
	return params, len(ns) == len(ps)
}

// checkParam returns why val is not a valid value of the parameter p, or
// "".
func checkParam(p schema.Param, val string) string {
	n := utf8.RuneCountInString(val)
	switch {
	case p.MinLength > 0 && n < p.MinLength:
		return fmt.Sprintf("%s %q is shorter than %d characters", p.Name, val, p.MinLength)
	case p.MaxLength > 0 && n > p.MaxLength:
		return fmt.Sprintf("%s %q is longer than %d characters", p.Name, val, p.MaxLength)
	case len(p.Enum) > 0 && !slices.Contains(p.Enum, val):
		return fmt.Sprintf("%s %q is not one of %s", p.Name, val, strings.Join(p.Enum, ", "))
	}
	if p.Pattern != "" {
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			return fmt.Sprintf("%s: pattern %s: %v", p.Name, p.Pattern, err)
		}
		if !re.MatchString(val) {
			return fmt.Sprintf("%s %q does not match %s", p.Name, val, p.Pattern)
		}
	}
	return ""
}
