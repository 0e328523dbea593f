// Package filter provides the built-in data filters of a cometgen server:
// each constructor returns a [runtime.DataFilter] that transforms or checks
// the strings found at some field paths of a message's data, in the manner
// of CometD's JSONDataFilter, NoMarkupFilter, NoScriptsFilter and
// RegexFilter.
//
//	f := filter.Chain(
//		filter.Must(filter.Trim("text", "user.name")),
//		filter.Must(filter.NoMarkup("text")),
//		filter.Must(filter.MaxLength(500, "text")),
//	)
//	ch.AddFilter(f) // ch is the *runtime.Channel of "/chat/*"
//
// # Field paths
//
// A field path addresses values inside the data decoded from JSON (nil,
// bool, float64, string, []any and map[string]any):
//
//	text            the value of key "text" of the data (a map)
//	user.name       the value of key "name" of the map at key "user"
//	items[].text    key "text" of every element of the array at key "items"
//	matrix[][]      every element of every array in the array at "matrix"
//	[].text         key "text" of every element of the data (an array)
//	(empty)         every string anywhere in the data, including the data
//	                itself, at any depth
//
// Formally:
//
//	path    = "" | first { "." key { "[]" } }
//	first   = key { "[]" } | "[]" { "[]" }
//	key     = one or more characters other than ".", "[" and "]"
//
// A key is taken literally: there is no quoting, so keys containing ".",
// "[" or "]" cannot be addressed (except through the empty path), and the
// keys "*" and "**" are refused, reserved for wildcards. Array indexes
// ("items[0]") are not supported.
//
// Constructors parse their paths once and return an error for a malformed
// one. No paths, or an empty path among them, means every string. A string
// filter visits each addressed string once, whatever the paths given (a
// duplicate path is dropped; distinct paths never address the same string).
//
// A path that does not exist in a message is skipped: data is optional; a
// filter that must insist on a field is a job for a validator, not for
// these filters. A path that exists but holds something other than a string
// (a number, a map…) is left alone. Map keys are never changed, and values
// of types other than the JSON ones above (a struct, a map[string]string)
// are not looked into.
//
// # Behaviour
//
// Filters modify maps and arrays in place and return the data; a string
// that is the data itself is returned replaced. Only the addressed values
// are visited: there is no re-encoding to JSON, and a string that needs no
// change is not copied.
//
// A filter that rejects a message returns the error of [runtime.Reject];
// the filters that check several strings (MaxLength, RegexAbort) report the
// first offending string they find, in the order of the paths given; for
// the empty path, which of several offending strings is reported is
// unspecified (maps are walked in Go's map order).
//
// # Concurrency
//
// A filter holds no mutable state: one filter value serves all sessions
// and channels concurrently. The from session may be nil (server-side
// publishes); the built-in filters do not look at it, nor at the channel.
package filter
