package chat

import (
	"context"
	"errors"
	"regexp"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// validName is the syntax of user names (room names are checked by the
// generated channels, with the same pattern in the spec).
var validName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// ValidName reports whether name is a valid user name: 1 to 32 characters
// among a-z, 0-9, "_" and "-".
func ValidName(name string) bool { return validName.MatchString(name) }

// Reasons of refused handshakes. A client sees them as the argument of the
// Bayeux error, for example "403:invalid_user_name:handshake_denied".
var (
	errNoCredentials = errors.New("missing_credentials")
	errBadUser       = errors.New("invalid_user_name")
	errReservedUser  = errors.New("reserved_user_name")
)

// Authenticate accepts a handshake whose ext is {"auth":{"token":NAME}} with a
// valid NAME, and makes NAME the session's identity. The same user may hold
// several sessions at once (one per browser tab). The token is where the
// generated clients put credentials; this example trusts it as a login name,
// where a real application verifies a signed token (cometgen serve --spec
// does, with JWTs).
func (c *Chat) Authenticate(_ context.Context, s *runtime.ServerSession, m *bayeux.Message) error {
	auth, _ := m.Ext["auth"].(map[string]any)
	if auth == nil {
		return errNoCredentials
	}
	user, ok := auth["token"].(string)
	switch {
	case !ok || user == "":
		return errNoCredentials
	case !ValidName(user):
		return errBadUser
	case user == SystemUser:
		return errReservedUser
	}
	s.SetUser(user)
	return nil
}

// Reason of the guard's denials: "403:wildcard_not_allowed:subscribe_denied".
const (
	reasonWildcard = "wildcard_not_allowed"
)

// installGuard adds to the root wildcard channel /** an authorizer that
// refuses what the spec does not declare: wildcard subscriptions (a session
// listening to every room would not appear in their member lists) and
// channels of no declared shape. The declared channels are granted here and
// decided by their generated rules (a denial wins).
func installGuard(srv *runtime.Server) error {
	// channels.Register created /** already (its guard refuses undeclared
	// channels), so this adds to it rather than initializing it.
	ch, _, err := srv.CreateChannel("/**")
	if err != nil {
		return err
	}
	ch.AddAuthorizer(runtime.AuthorizerFunc(guard))
	return nil
}

func guard(_ context.Context, op runtime.Operation, channel string, _ *runtime.ServerSession, _ *bayeux.Message) runtime.Decision {
	switch {
	case op == runtime.OpCreate:
		// Creation is the generated rules' business (an invalid room is
		// create_denied); the guard refuses the subscription or publish.
		return runtime.Grant()
	case bayeux.IsWild(channel):
		return runtime.Deny(reasonWildcard)
	}
	// Channels the spec does not declare are refused by the guard that
	// channels.Register installs ("403:channel_not_declared:…").
	return runtime.Ignore()
}
