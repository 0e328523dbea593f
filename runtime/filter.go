package runtime

import (
	"context"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// A DataFilter transforms the data of a message published on a channel, or
// rejects the message. Filters run in a chain, in the order they were added
// (filters of wildcard channels first), after the security checks and before
// the message is frozen and delivered; each filter sees the data the
// previous one returned.
//
// data is the message's data decoded from JSON: nil, bool, float64, string,
// []any or map[string]any (json.Number is not used). A filter may modify data
// in place and return it, or return a new value. Returning an error rejects
// the message: the publisher's reply carries the error (see Reject), nobody
// receives the message.
//
// The chain runs on the goroutine that processes the publisher's request; a
// filter must not block for long.
type DataFilter interface {
	FilterData(ctx context.Context, from *ServerSession, channel string, data any) (any, error)
}

// DataFilterFunc adapts a function to the DataFilter interface.
type DataFilterFunc func(ctx context.Context, from *ServerSession, channel string, data any) (any, error)

// FilterData calls f.
func (f DataFilterFunc) FilterData(ctx context.Context, from *ServerSession, channel string, data any) (any, error) {
	return f(ctx, from, channel, data)
}

// Reject returns the error a DataFilter returns to refuse a message. The
// publisher receives "400:<reason>:data_rejected"; reason is meant for the
// application developer reading the reply, so it says what is wrong with the
// data, without secrets. Characters that would break the error format (':'
// and ',') are replaced by spaces and ';' (": " by one space).
func Reject(reason string) *bayeux.Error {
	return bayeux.NewError(400, "data_rejected", bayeux.ErrorArg(reason))
}
