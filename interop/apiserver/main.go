// Command apiserver is the Bayeux server of the interop suite's application
// API tests (interop/test-api): a server built on runtime.New with the
// runtime's application API configured the way an application would, so
// that the official CometD JavaScript client can exercise it.
//
//	go run ./interop/apiserver --addr 127.0.0.1:0
//
// It prints "cometgen: serving Bayeux at http://HOST:PORT/cometd" when ready
// and stops cleanly on SIGINT or SIGTERM. What it configures:
//
//   - a SecurityPolicy: a handshake with ext {"auth":{"token":"alice"}} is
//     user "alice" with role "member", token "mod" is user "mod" with role
//     "moderator", no token is anonymous, and any other token is refused
//     with reason "bad_credentials" (403:bad_credentials:handshake_denied,
//     advice reconnect "none");
//   - an authorizer on /members/** that grants sessions with role "member"
//     only (Deny("members_only") otherwise);
//   - data filters on /filtered/**: Trim, MaxLength(20) and NoMarkup on the
//     path "text", in that order;
//   - lazy channels /lazy/** (Options.MaxLazyTimeout, --lazy-timeout);
//   - remote calls: /service/echo (returns the request's data),
//     /service/fail (a *runtime.CallError with data {"reason":"nope"}),
//     /service/slow (answers "late" after --slow), /service/whisper
//     (delivers the request's data to the caller alone on /private/inbox,
//     then returns "ok"), /service/whoami ({"user":…,"roles":[…]}) and
//     /service/time (the server's clock, in ms since the epoch);
//   - the TimeSync extension, on the same clock as /service/time. That
//     clock runs --clock-skew ahead of the host's, so that a client on the
//     same host can tell whether it synchronized with the server or merely
//     shares its clock;
//   - every other broadcast channel (/ack/**, /private/inbox…) is open, and
//     the ack extension is on (the runtime's default).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/ext"
	"github.com/cometgen/cometgen/runtime/filter"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "apiserver:", err)
		os.Exit(1)
	}
}

type config struct {
	addr        string
	lazyTimeout time.Duration
	slow        time.Duration
	skew        time.Duration
	logLevel    string
}

func run() error {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:0", "address to listen on (port 0 picks a free one)")
	flag.DurationVar(&c.lazyTimeout, "lazy-timeout", time.Second, "Options.MaxLazyTimeout: how long a lazy message may wait")
	flag.DurationVar(&c.slow, "slow", 3*time.Second, "how long /service/slow takes to answer")
	flag.DurationVar(&c.skew, "clock-skew", 90*time.Second, "how far the server's clock (TimeSync, /service/time) runs ahead of the host's")
	flag.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	srv, err := newServer(c, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/cometd", srv)
	mux.Handle("/cometd/", srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("cometgen: serving Bayeux at http://%s/cometd\n", ln.Addr())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Held connects are answered by now; give requests in flight a short
	// grace, then close idle connections rather than wait for them.
	gctx, gcancel := context.WithTimeout(sctx, time.Second)
	defer gcancel()
	if err := hs.Shutdown(gctx); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: %w", err)
		}
		hs.Close()
	}
	return nil
}

// newServer returns the Bayeux server with the whole configuration.
func newServer(c config, logger *slog.Logger) (*runtime.Server, error) {
	srv := runtime.New(runtime.Options{
		MaxLazyTimeout: c.lazyTimeout,
		// The slow call must outlive its caller's timeout, not be cut by the
		// hooks' deadline.
		HookTimeout: c.slow + 5*time.Second,
		Logger:      logger,
	})
	now := func() time.Time { return time.Now().Add(c.skew) }

	srv.SetSecurityPolicy(policy{})

	members, _, err := srv.CreateChannel("/members/**")
	if err != nil {
		return nil, err
	}
	members.AddAuthorizer(runtime.AuthorizerFunc(func(_ context.Context, _ runtime.Operation, _ string, s *runtime.ServerSession, _ *bayeux.Message) runtime.Decision {
		if s != nil && s.HasRole("member") {
			return runtime.Grant()
		}
		return runtime.Deny("members_only")
	}))

	filtered, _, err := srv.CreateChannel("/filtered/**")
	if err != nil {
		return nil, err
	}
	// MaxLength before NoMarkup: the limit is on what the user wrote, not on
	// its escaped form ("<b>hi</b>" is 9 characters, escaped 21).
	filtered.AddFilter(
		filter.Must(filter.Trim("text")),
		filter.Must(filter.MaxLength(20, "text")),
		filter.Must(filter.NoMarkup("text")),
	)

	lazy, _, err := srv.CreateChannel("/lazy/**")
	if err != nil {
		return nil, err
	}
	lazy.SetLazy(true)

	calls := []struct {
		channel string
		f       runtime.RemoteCallFunc
	}{
		{"/service/echo", func(_ context.Context, _ *runtime.ServerSession, data json.RawMessage) (any, error) {
			return data, nil
		}},
		{"/service/fail", func(context.Context, *runtime.ServerSession, json.RawMessage) (any, error) {
			return nil, &runtime.CallError{Data: map[string]string{"reason": "nope"}}
		}},
		{"/service/slow", func(ctx context.Context, _ *runtime.ServerSession, _ json.RawMessage) (any, error) {
			select {
			case <-time.After(c.slow):
				return "late", nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}},
		{"/service/whisper", func(ctx context.Context, caller *runtime.ServerSession, data json.RawMessage) (any, error) {
			if err := caller.Deliver(ctx, "/private/inbox", data); err != nil {
				return nil, err
			}
			return "ok", nil
		}},
		{"/service/whoami", func(_ context.Context, caller *runtime.ServerSession, _ json.RawMessage) (any, error) {
			roles := caller.Roles()
			if roles == nil {
				roles = []string{}
			}
			return map[string]any{"user": caller.UserID(), "roles": roles}, nil
		}},
		{"/service/time", func(context.Context, *runtime.ServerSession, json.RawMessage) (any, error) {
			return now().UnixMilli(), nil
		}},
	}
	for _, call := range calls {
		if err := srv.HandleRemoteCall(call.channel, call.f); err != nil {
			return nil, err
		}
	}

	ts := &ext.TimeSync{Now: now}
	srv.AddExtension(ts)
	srv.OnSessionRemoved(ts.Forget)
	return srv, nil
}

// policy authenticates handshakes from ext.auth.token and allows the rest.
type policy struct{ runtime.AllowAll }

// users maps the accepted tokens to their roles.
var users = map[string][]string{
	"alice": {"member"},
	"mod":   {"moderator"},
}

func (policy) CanHandshake(_ context.Context, s *runtime.ServerSession, m *bayeux.Message) error {
	auth, present := m.Ext["auth"]
	if !present {
		return nil // anonymous
	}
	token := ""
	if a, ok := auth.(map[string]any); ok {
		token, _ = a["token"].(string)
	}
	roles, ok := users[token]
	if !ok {
		return errors.New("bad_credentials")
	}
	s.SetUser(token, roles...)
	return nil
}
