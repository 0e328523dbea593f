package breaking

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const docIntro = `# cometgen breaking: the rules

` + "`cometgen breaking --against REF [spec]`" + ` compares a spec with an older version of it
(a file, a directory, or a git revision: ` + "`HEAD~1`, `main`, `.git#branch=main`" + `) and reports every
change that breaks clients built against the older one: browser tabs still running last week's
generated client, other services, mobile apps.

## Direction

What clients **publish** is read by the server: the messages of a broadcast channel whose
` + "`publish`" + ` rule lets clients publish, and the requests of a service channel. A change that
makes the schema refuse something it accepted (a new required field, a narrower type, range,
length, pattern or enum, a rule that now denies) breaks the publishers.

What the server **delivers** is read by clients: the messages of every broadcast channel, and
the replies of a service channel. A change that lets it carry something it could not (a removed
field, a required field become optional, a wider type, a new enum value) breaks the subscribers.

A broadcast channel clients publish on flows both ways: both apply, so there its schema can
only gain optional fields. A channel whose ` + "`publish`" + ` rule is ` + "`[server]`" + ` only delivers;
a service channel no client may call is not compared. Changes that are not reported: a new
channel, a new optional field in what clients publish, descriptions, examples, the order of
channels and fields, a parameter renamed (` + "`/chat/{room}`" + ` to ` + "`/chat/{id}`" + `: the names on the wire
are the same), narrowing what the server delivers, widening what clients publish, a rule that
allows more.

## Output

Each change is printed as ` + "`file:line:col: RULE_ID: message`" + `, located in the new spec (or in
the schema file a ` + "`$ref`" + ` names), or in the old one for what was removed. ` + "`--format json`" + `
prints a JSON array of ` + "`{file, line, column, rule, level, channel, old, message}`" + `;
` + "`--format github`" + ` prints GitHub workflow annotations (` + "`::error file=…,line=…,col=…,title=RULE_ID::…`" + `).

The exit status is 1 when a change at the ` + "`--fail-on`" + ` level (` + "`error`" + `, the default, or
` + "`warning`" + `) or above is found, 2 when the comparison cannot be made (no such revision, a spec
that does not load on either side, a ` + "`$ref`" + ` to a file that moved: the error says where), 0
otherwise.

## Accepting a break

A deliberate break is accepted by rule ID, on the channel of the new spec, or at the top level of
the spec for every channel (and for removed channels):

` + "```yaml" + `
x-accept-breaking: [CHANNEL_REMOVED]       # the whole spec
channels:
  /chat/{room}:
    x-accept-breaking: [PUBLISH_FIELD_REQUIRED]
` + "```" + `

An ID that names no rule is an error (exit 2). Remove the key once the clients have moved on.

## In CI

` + "```yaml" + `
- uses: actions/checkout@v4
  with: {fetch-depth: 0}               # the base branch must be there
- run: go run github.com/cometgen/cometgen/cmd/cometgen@latest breaking --against .git#branch=main --format github
` + "```" + `

## Live version skew

Browser tabs stay open for days. The typed clients cometgen generates send, in every
handshake's ` + "`ext.contract`" + `, a print of the spec they were generated from: for each channel
a client may use, a 12-character hash of what it publishes there (the parameters, the publish
rule, the filters that can refuse, the published schema without its descriptions and examples)
and one of what it receives (the parameters, the subscribe rule, the delivered schema or the
service's reply), and a hash of the whole (` + "`{spec, hash, channels: {\"/chat/{room}\": \"pub.deliver\"}}`" + `,
about 40 bytes a channel). The server knows its own print: the generated ` + "`Contract`" + ` declares
it (` + "`ContractPrint()`" + `), ` + "`cometgen serve --spec`" + ` computes it. The handshake always succeeds; when a
channel the client knows is gone, or a side it uses has another print that the server does not
know to be compatible, the reply says so:

` + "```json" + `
{"channel": "/meta/handshake", "successful": true, "ext": {"contract":
  {"breaking": ["/chat/{room}"], "spec": "chat", "hash": "Kr74Zi6P0yF2"}}}
` + "```" + `

The TypeScript client then calls ` + "`onContractChanged({breaking, spec, hash})`" + `, whose default, in a
browser, reloads the page (the role of CometD's reload extension, driven by the contract);
elsewhere it hands a ` + "`ContractError`" + ` to ` + "`onError`" + `. A Go client sends the print with
` + "`client.WithContract(channels.ContractPrint().ContractExt(), onChanged)`" + ` and reads the verdict with
` + "`Client.ContractChanged`" + `. The server counts the handshakes it judged in
` + "`Stats.SkewCompatible`" + ` and ` + "`Stats.SkewBreaking`" + `; a compatible difference adds nothing to the reply.

A print is a hash: the server cannot tell from it alone whether the difference is one of the
rules above. So the rules run ahead of time. ` + "`cometgen generate --compat-with REF`" + ` (and
` + "`cometgen serve --spec … --compat-with REF`" + `; a file, a directory or a git revision, as ` + "`--against`" + `
takes; repeatable) compares an older version with the spec, and the prints of the older
version's channel sides that have no finding of level error join the contract as
` + "`Compatible`" + `: clients built against that version are left alone there. A finding accepted with
` + "`x-accept-breaking`" + ` is still breaking for the deployed clients; warnings are not. A server not
given the version a client was built from tells it of every channel whose print differs, the
CometD reload extension's behaviour: an unneeded reload rather than a client left broken.

The trade-offs, and why this design: the client could send its schemas instead of hashes and
let the server run the rules, but that is the whole contract in every handshake and the
rules (this package) in every server, which the runtime does not import; the server could keep
every older spec, but a generated server has no spec. Prints are small and compared with no
cometgen code but the runtime; the price is that compatibility is known only for the versions
named with ` + "`--compat-with`" + `. Name fixed revisions (release tags, ` + "`.git#tag=v1.2.0`" + `): the
generated code depends on them, and ` + "`generate --check`" + ` must be given the same flags. A change of
` + "`auth.handshake`" + ` to required is not judged: the old client's handshake is refused.

## Rules

| rule | level | breaks | finds |
|---|---|---|---|
`

// doc returns docs/breaking.md: the intro, a table of the rules, and a
// section per rule with the first case of the corpus that reports it.
func doc() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(docIntro)
	for _, r := range Rules {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", r.ID, strings.ToLower(r.ID), r.Level, side(r.Side), r.Summary)
	}
	dirs, err := filepath.Glob(filepath.Join(corpus, "*"))
	if err != nil {
		return nil, err
	}
	for _, r := range Rules {
		fmt.Fprintf(&b, "\n### %s\n\n%s: %s; %s.\n", r.ID, r.Level, r.Summary, r.Why)
		for _, dir := range dirs {
			want, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				return nil, err
			}
			var lines []string
			for _, l := range strings.SplitAfter(string(want), "\n") {
				if strings.Contains(l, ": "+r.ID+": ") && !strings.HasPrefix(l, "accepted: ") {
					lines = append(lines, l)
				}
			}
			if len(lines) == 0 {
				continue
			}
			old, _ := os.ReadFile(filepath.Join(dir, "old.yaml"))
			new, _ := os.ReadFile(filepath.Join(dir, "new.yaml"))
			fmt.Fprintf(&b, "\nFrom `testdata/breaking/%s`:\n\n```diff\n%s```\n\n```console\n%s```\n",
				filepath.Base(dir), lineDiff(string(old), string(new)), strings.Join(lines, ""))
			break
		}
	}
	return b.Bytes(), nil
}

func side(s string) string {
	switch s {
	case "publish":
		return "publishers"
	case "deliver":
		return "subscribers"
	}
	return "both"
}

// lineDiff returns the lines that differ between a and b, with one line of
// context, as a unified diff without headers.
func lineDiff(a, b string) string {
	x, y := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	// lcs[i][j]: the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var ls []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ls = append(ls, line{' ', x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ls = append(ls, line{'-', x[i]})
			i++
		default:
			ls = append(ls, line{'+', y[j]})
			j++
		}
	}
	var out strings.Builder
	near := func(k int) bool {
		for d := -1; d <= 1; d++ {
			if k+d >= 0 && k+d < len(ls) && ls[k+d].op != ' ' {
				return true
			}
		}
		return false
	}
	skipped := false
	for k, l := range ls {
		if l.text == "" {
			continue
		}
		if l.op == ' ' && !near(k) {
			if !skipped {
				out.WriteString(" ...\n")
			}
			skipped = true
			continue
		}
		skipped = false
		out.WriteByte(l.op)
		out.WriteString(l.text)
	}
	return out.String()
}
