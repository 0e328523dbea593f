package filter_test

import (
	"context"
	"fmt"

	"github.com/cometgen/cometgen/runtime/filter"
)

// Trim and NoMarkup chained on the text of a chat message, as a spec's
// filters: [{trim: [text]}, {no-markup: [text]}] would configure them.
func ExampleChain() {
	chat := filter.Chain(
		filter.Must(filter.Trim("text")),
		filter.Must(filter.NoMarkup("text")),
	)
	data := map[string]any{"user": "alice", "text": "  hello <b>world</b> & all  "}
	out, err := chat.FilterData(context.Background(), nil, "/chat/lobby", data)
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Printf("%q\n", out.(map[string]any)["text"])
	// Output:
	// "hello &lt;b&gt;world&lt;/b&gt; &amp; all"
}

// RegexAbort rejects a message whose addressed strings match: the error is
// the publisher's reply.
func ExampleRegexAbort() {
	noLinks, err := filter.RegexAbort(`(?i)\bhttps?://`, "links are not allowed", "text", "items[].text")
	if err != nil {
		panic(err)
	}
	for _, data := range []map[string]any{
		{"text": "see you at noon"},
		{"text": "ok", "items": []any{map[string]any{"text": "HTTP://spam.example"}}},
	} {
		if _, err := noLinks.FilterData(context.Background(), nil, "/chat/lobby", data); err != nil {
			fmt.Println("rejected:", err)
			continue
		}
		fmt.Println("accepted")
	}
	// Output:
	// accepted
	// rejected: 400:links are not allowed:data_rejected
}

// MaxLength counts code points and says where the offending string is.
func ExampleMaxLength() {
	short := filter.Must(filter.MaxLength(5, "items[].text"))
	data := map[string]any{"items": []any{
		map[string]any{"text": "😀😀😀😀😀"},
		map[string]any{"text": "e\u0301e\u0301e\u0301"},
	}}
	_, err := short.FilterData(context.Background(), nil, "/chat/lobby", data)
	fmt.Println(err)
	// Output:
	// 400:items[1].text is longer than 5 characters:data_rejected
}
