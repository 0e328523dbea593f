package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/prometheus/client_golang/prometheus"
)

// RemoteCallFunc serves a remote call: a client's request published on a
// service channel (the CometD client's remoteCall). It returns the result,
// which the caller receives with successful:true, or an error: a
// *CallError's Data, or else the error's text, reaches the caller as data
// with successful:false.
type RemoteCallFunc func(ctx context.Context, caller *ServerSession, data json.RawMessage) (any, error)

// CallError is a remote call failure whose Data the caller receives.
type CallError struct {
	Data any
}

// Error describes the failure.
func (e *CallError) Error() string { return fmt.Sprintf("remote call failed: %v", e.Data) }

// HandleRemoteCall serves remote calls on a service channel ("/service/…";
// a wildcard such as "/service/users/*" serves a family). Each call runs in a
// goroutine of its own with a context that ends after Options.HookTimeout
// or when the caller's session ends, so a slow call never holds up the
// caller's other messages; its reply is delivered to the caller alone, on
// the same channel, with the request's id.
func (s *Server) HandleRemoteCall(channel string, f RemoteCallFunc) error {
	channel = bayeux.Normalize(channel)
	if bayeux.KindOf(channel) != bayeux.Service || !bayeux.ValidChannel(channel) {
		return fmt.Errorf("runtime: remote calls are served on /service/ channels, not %q", channel)
	}
	c, _, err := s.CreateChannel(channel)
	if err != nil {
		return err
	}
	c.AddListener(func(_ context.Context, caller *ServerSession, m *bayeux.Message) error {
		return s.startCall(caller, m, f)
	})
	return nil
}

var errCallWithoutID = bayeux.NewError(400, "remote_call_without_id")

// startCall serves the remote call m of caller with f in a goroutine of
// its own.
func (s *Server) startCall(caller *ServerSession, m *bayeux.Message, f RemoteCallFunc) *bayeux.Error {
	if caller == nil || m.ID == "" {
		return errCallWithoutID
	}
	req := &bayeux.Message{Channel: m.Channel, ID: m.ID, Data: append(json.RawMessage(nil), m.Data...)}
	var calls prometheus.Observer
	if s.metrics != nil {
		calls = s.metrics.of(s.templateNamed(nil, m.Channel)).calls
	}
	go s.serveCall(caller, req, f, calls)
	return nil
}

type callChannelKey struct{}

// CallChannel returns the channel a remote call was made on, from the
// context a RemoteCallFunc receives: useful when one function serves a
// wildcard channel such as "/service/users/*".
func CallChannel(ctx context.Context) string {
	c, _ := ctx.Value(callChannelKey{}).(string)
	return c
}

// serveCall serves the remote call req of caller with f; calls, when not
// nil, observes its duration.
func (s *Server) serveCall(caller *ServerSession, req *bayeux.Message, f RemoteCallFunc, calls prometheus.Observer) {
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), callChannelKey{}, req.Channel), s.opts.HookTimeout)
	defer cancel()
	go func() {
		select {
		case <-caller.gone:
			cancel()
		case <-ctx.Done():
		}
	}()
	reply := &bayeux.Message{Channel: req.Channel, ID: req.ID, Successful: bayeux.Bool(true)}
	start := time.Now()
	result, err := callSafely(ctx, caller, req.Data, f)
	if calls != nil {
		calls.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		reply.Successful = bayeux.Bool(false)
		var ce *CallError
		if errors.As(err, &ce) {
			result = ce.Data
		} else {
			result = err.Error()
		}
	}
	raw, merr := json.Marshal(result)
	if merr != nil {
		reply.Successful = bayeux.Bool(false)
		raw, _ = json.Marshal("remote call result cannot be encoded: " + merr.Error())
	}
	reply.Data = raw
	if err := caller.deliver(ctx, reply, 0); err != nil && !errors.Is(err, ErrSessionGone) {
		s.log.Warn("bayeux: remote call reply not delivered", "channel", req.Channel, "err", err)
	}
}

// callSafely runs f, turning a panic into an error.
func callSafely(ctx context.Context, caller *ServerSession, data json.RawMessage, f RemoteCallFunc) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("remote call panicked: %v", r)
		}
	}()
	return f(ctx, caller, data)
}

// HandleCall is HandleRemoteCall with typed request and result: the request
// data is decoded into Req (a request that does not decode fails with the
// decoding error), and the result is encoded from Resp.
func HandleCall[Req, Resp any](s *Server, channel string, f func(ctx context.Context, caller *ServerSession, req Req) (Resp, error)) error {
	return s.HandleRemoteCall(channel, typedCall(f))
}

// typedCall adapts a typed remote call to a RemoteCallFunc.
func typedCall[Req, Resp any](f func(ctx context.Context, caller *ServerSession, req Req) (Resp, error)) RemoteCallFunc {
	return func(ctx context.Context, caller *ServerSession, data json.RawMessage) (any, error) {
		var req Req
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, &CallError{Data: "invalid request: " + err.Error()}
		}
		return f(ctx, caller, req)
	}
}
