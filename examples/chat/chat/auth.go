package chat

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// validName is the syntax of user and room names.
var validName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// ValidName reports whether name is a valid user or room name: 1 to 32
// characters among a-z, 0-9, "_" and "-".
func ValidName(name string) bool { return validName.MatchString(name) }

// Reasons of refused handshakes, subscriptions and publishes. A client sees
// them as the argument of the Bayeux error, for example
// "403:invalid_user_name:handshake_denied".
var (
	errNoCredentials = errors.New("missing_credentials")
	errBadUser       = errors.New("invalid_user_name")
	errReservedUser  = errors.New("reserved_user_name")
	errWildcard      = errors.New("wildcard_not_allowed")
	errNotChatChan   = errors.New("not_a_chat_channel")
	errReadOnly      = errors.New("read_only_channel")
)

// Reason of a refused room name, as an authorizer's denial:
// "403:invalid_room_name:subscribe_denied" (or publish_denied,
// create_denied).
const reasonBadRoom = "invalid_room_name"

// policy authenticates handshakes and says which channels clients may use.
// Room names are the room authorizer's job.
type policy struct{ runtime.AllowAll }

var _ runtime.SecurityPolicy = policy{}

// CanHandshake accepts a handshake whose ext is {"auth":{"user":NAME}} with a
// valid NAME, and makes NAME the session's identity. The same user may hold
// several sessions at once (one per browser tab).
func (policy) CanHandshake(_ context.Context, s *runtime.ServerSession, m *bayeux.Message) error {
	user, err := loginOf(m)
	if err != nil {
		return err
	}
	s.SetUser(user)
	return nil
}

// loginOf returns the user name in a handshake's ext.
func loginOf(m *bayeux.Message) (string, error) {
	auth, _ := m.Ext["auth"].(map[string]any)
	if auth == nil {
		return "", errNoCredentials
	}
	user, ok := auth["user"].(string)
	switch {
	case !ok || user == "":
		return "", errNoCredentials
	case !ValidName(user):
		return "", errBadUser
	case user == SystemUser:
		return "", errReservedUser
	}
	return user, nil
}

// CanSubscribe allows the rooms, their member lists, the notices and the
// private inbox, by exact name: a wildcard would let one session listen to
// every room without appearing in their member lists. Subscribing to a
// service channel does nothing, and is allowed, as in CometD.
func (policy) CanSubscribe(_ context.Context, _ *runtime.ServerSession, channel string, _ *bayeux.Message) error {
	switch {
	case bayeux.IsWild(channel):
		return errWildcard
	case isParam(RoomPrefix, channel), isParam(MembersPrefix, channel),
		channel == NoticeChannel, channel == PrivateInbox,
		bayeux.KindOf(channel) == bayeux.Service:
		return nil
	}
	return errNotChatChan
}

// CanPublish allows publishing in rooms and calling the chat's services;
// the other channels are written by the server alone.
func (policy) CanPublish(_ context.Context, _ *runtime.ServerSession, channel string, _ *bayeux.Message) error {
	switch {
	case isParam(RoomPrefix, channel), channel == MembersService, channel == PrivateService:
		return nil
	case isParam(MembersPrefix, channel), channel == NoticeChannel, channel == PrivateInbox:
		return errReadOnly
	}
	return errNotChatChan
}

// isParam reports whether channel is prefix followed by exactly one
// segment, such as /chat/lobby for the prefix /chat/.
func isParam(prefix, channel string) bool {
	rest, ok := strings.CutPrefix(channel, prefix)
	return ok && rest != "" && !strings.Contains(rest, "/")
}

// roomAuthorizer grants every operation on a /chat/{room} or
// /members/{room} channel whose room name is valid, and denies the others.
// It is added to the wildcard channels, so it sees every room.
func roomAuthorizer(prefix string) runtime.Authorizer {
	return runtime.AuthorizerFunc(func(_ context.Context, _ runtime.Operation, channel string, _ *runtime.ServerSession, _ *bayeux.Message) runtime.Decision {
		room, ok := strings.CutPrefix(channel, prefix)
		if !ok || !ValidName(room) {
			return runtime.Deny(reasonBadRoom)
		}
		return runtime.Grant()
	})
}
