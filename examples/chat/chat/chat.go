// Package chat is the multi-room chat service of examples/chat, installed on
// a cometgen [runtime.Server]. Its wire contract is the spec
// examples/chat/cometgen.yaml, from which cometgen generates package
// [channels]: the channel names and their checks, the message types, the
// subscribe and publish rules, the text filters and the typed dispatch.
// This package implements [channels.Handlers]:
//
//   - Authenticate: login at handshake (the handshake's ext), with several
//     sessions (browser tabs) allowed per user;
//   - OnChatRoom: the user field of a room message forced to the sender's
//     login;
//   - ServiceMembers and ServicePrivate: the remote calls.
//
// The rest is hand-written code that is not a handler: the member list of
// every room, kept from subscription events and session removal and
// published with [channels.PublishMembersRoom]; the index of connected
// users for private messages ([channels.DeliverPrivateInbox]); the lazy
// system notices ([channels.PublishSystemNotice]), periodic and at
// shutdown; the refusal of wildcard subscriptions and undeclared channels;
// and the TimeSync extension of the CometD JavaScript client.
//
// # Concurrency
//
// A Chat is safe for concurrent use. Its hooks run on the runtime's request
// goroutines; the member lists and the index of connected users are guarded
// by one mutex each, and member-list events are published while the member
// lock is held, so that subscribers see the lists of a room in the order of
// the changes.
package chat

//go:generate go run ../../../cmd/cometgen generate ../cometgen.yaml

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cometgen/cometgen/examples/chat/chat/channels"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/ext"
)

// SystemUser is the name the server keeps for itself: clients may not log
// in under it.
const SystemUser = "system"

// MaxTextLength is the longest text, in characters, of a chat or private
// message, counted before markup is escaped. For rooms the spec's schema
// enforces it (maxLength of ChatMessage.text).
const MaxTextLength = 500

// Options configures a Chat. The zero value is a complete configuration:
// no periodic notice, notices as lazy as the server allows.
type Options struct {
	// NoticeEvery is the period of the periodic notice; zero or negative
	// disables it.
	NoticeEvery time.Duration
	// NoticeText is the text of the periodic notice. Default
	// DefaultNoticeText.
	NoticeText string
	// ShutdownText is the text of the notice published when the server
	// shuts down. Default DefaultShutdownText.
	ShutdownText string
	// NoticeLazyTimeout bounds how long a notice waits for a non-lazy
	// message before it is delivered anyway. Zero means the server's
	// runtime.Options.MaxLazyTimeout, which also caps it.
	NoticeLazyTimeout time.Duration
	// Logger receives the chat's logs. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultNoticeText   = "Be nice: messages are limited to 500 characters and markup is shown as text."
	DefaultShutdownText = "The server is shutting down; you will be reconnected."
)

// Chat is the chat service installed on one runtime.Server. It implements
// channels.Handlers.
type Chat struct {
	srv   *runtime.Server
	opts  Options
	log   *slog.Logger
	rooms *rooms
	users *users

	stopOnce sync.Once
	stop     chan struct{} // closed to stop the notice ticker
	done     chan struct{} // closed when the notice ticker has stopped
}

var _ channels.Handlers = (*Chat)(nil)

// New installs the chat on srv: the generated channels (channels.Register
// with the chat as handlers), the guard of undeclared channels, the member
// lists, the index of users, the notices and the TimeSync extension.
// Install it on a fresh server, once: it sets the server's security policy.
// Shut the server down with srv.Shutdown: the chat publishes its shutdown
// notice first.
func New(srv *runtime.Server, opts Options) (*Chat, error) {
	if srv == nil {
		return nil, errors.New("chat: nil server")
	}
	if opts.NoticeText == "" {
		opts.NoticeText = DefaultNoticeText
	}
	if opts.ShutdownText == "" {
		opts.ShutdownText = DefaultShutdownText
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Chat{
		srv:   srv,
		opts:  opts,
		log:   opts.Logger,
		users: newUsers(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	c.rooms = newRooms(c.publishMembers)
	if err := channels.Register(srv, c); err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	if err := installGuard(srv); err != nil {
		return nil, err
	}

	ts := &ext.TimeSync{}
	srv.AddExtension(ts)
	srv.OnSessionRemoved(ts.Forget)

	c.installMembers()
	c.installUsers()
	c.installNotices()
	return c, nil
}

// Members returns the users in room, sorted.
func (c *Chat) Members(room string) []string { return c.rooms.list(room) }

// Connected reports whether user has at least one session.
func (c *Chat) Connected(user string) bool { return len(c.users.sessions(user)) > 0 }
