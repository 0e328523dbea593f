// Package bayeux holds the wire vocabulary of the Bayeux 1.0 protocol as the
// CometD project speaks it: the message envelope, advice, error strings in
// "code:args:message" form, and channel names with their wildcards.
//
// It is shared by the server in package runtime and the Go client in package
// runtime/client, so both sides agree on every byte. It does no I/O.
package bayeux
