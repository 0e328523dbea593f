// Package chat is a multi-room chat service installed on a cometgen
// [runtime.Server]. It is written by hand against the runtime's application
// API, as an application developer would, and shows the pieces most Bayeux
// applications need:
//
//   - authentication at handshake (a SecurityPolicy reading the handshake's
//     ext), with several sessions (browser tabs) allowed per user;
//   - rooms as the parameterized channel /chat/{room}, whose names an
//     Authorizer checks, whose messages a MessageListener stamps with the
//     sender's identity and whose text DataFilters clean up;
//   - a member list per room, kept from subscription events and session
//     removal, broadcast on /members/{room} and served by a remote call;
//   - private messages delivered to every session of one user;
//   - lazy system notices published by a LocalSession;
//   - the TimeSync extension of the CometD JavaScript client.
//
// The wire contract is described in the example's README.md and by the
// channel constants and message types below.
//
// # Concurrency
//
// A Chat is safe for concurrent use. Its hooks run on the runtime's request
// goroutines; the member lists and the index of connected users are guarded
// by one mutex each, and member-list events are published while the member
// lock is held, so that subscribers see the lists of a room in the order of
// the changes.
package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/ext"
)

// Channels of the chat. The names with "{room}" are parameterized: a room
// name replaces the last segment.
const (
	// RoomChannels matches the channel of every room, /chat/{room}.
	RoomChannels = "/chat/*"
	// RoomPrefix is the prefix of a room's channel: RoomPrefix + room.
	RoomPrefix = "/chat/"
	// MembersChannels matches the member-list channel of every room,
	// /members/{room}.
	MembersChannels = "/members/*"
	// MembersPrefix is the prefix of a room's member-list channel.
	MembersPrefix = "/members/"
	// MembersService is the remote call returning the members of a room.
	MembersService = "/service/members"
	// PrivateService is the remote call sending a private message.
	PrivateService = "/service/private"
	// PrivateInbox is the channel private messages are delivered on, to
	// their recipient's sessions only.
	PrivateInbox = "/private/inbox"
	// NoticeChannel is the lazy channel of system notices.
	NoticeChannel = "/system/notice"
)

// SystemUser is the identity of the server's own session, which publishes
// notices. Clients may not log in under this name.
const SystemUser = "system"

// MaxTextLength is the longest text, in characters, of a chat or private
// message, counted after trimming and before markup is escaped.
const MaxTextLength = 500

// Message is the data of a chat message on /chat/{room}. Publishers send
// {"text": ...}; the server sets User to the sender's login, whatever the
// publisher put there.
type Message struct {
	User string `json:"user"`
	Text string `json:"text"`
}

// MembersEvent is the data published on /members/{room} whenever the set of
// users in the room changes.
type MembersEvent struct {
	Room    string   `json:"room"`
	Members []string `json:"members"`
}

// MembersRequest is the request of the /service/members remote call; its
// result is the room's members, sorted.
type MembersRequest struct {
	Room string `json:"room"`
}

// PrivateRequest is the request of the /service/private remote call.
type PrivateRequest struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// PrivateReply is the result of a successful /service/private call.
type PrivateReply struct {
	// Delivered is the number of the recipient's sessions (tabs) the message
	// was delivered to.
	Delivered int `json:"delivered"`
}

// PrivateMessage is the data delivered on /private/inbox.
type PrivateMessage struct {
	From string `json:"from"`
	To   string `json:"to"`
	Text string `json:"text"`
}

// Notice is the data published on /system/notice.
type Notice struct {
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// Options configures a Chat. The zero value is a complete configuration:
// no periodic notice, notices as lazy as the server allows.
type Options struct {
	// NoticeEvery is the period of the periodic notice; zero or negative
	// disables it.
	NoticeEvery time.Duration
	// NoticeText is the text of the periodic notice. Default
	// DefaultNoticeText.
	NoticeText string
	// ShutdownText is the text of the notice published by Shutdown.
	// Default DefaultShutdownText.
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

// Chat is the chat service installed on one runtime.Server.
type Chat struct {
	srv    *runtime.Server
	opts   Options
	log    *slog.Logger
	rooms  *rooms
	users  *users
	system *runtime.LocalSession

	stopOnce sync.Once
	stop     chan struct{} // closed to stop the notice ticker
	done     chan struct{} // closed when the notice ticker has stopped
}

// New installs the chat on srv: security policy, channels, listeners,
// filters, remote calls, session hooks and the TimeSync extension. Install
// it on a fresh server, once: New sets the server's security policy.
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

	srv.SetSecurityPolicy(policy{})
	ts := &ext.TimeSync{}
	srv.AddExtension(ts)
	srv.OnSessionRemoved(ts.Forget)

	if err := c.installRooms(); err != nil {
		return nil, err
	}
	if err := c.installMembers(); err != nil {
		return nil, err
	}
	if err := c.installPrivate(); err != nil {
		return nil, err
	}
	if err := c.installNotices(); err != nil {
		return nil, err
	}
	return c, nil
}

// Shutdown publishes the shutdown notice, stops the periodic notice and the
// system session, then shuts the runtime server down (see
// runtime.Server.Shutdown). The runtime has no hook telling the application
// that a shutdown started, so the chat's owner calls this instead of
// srv.Shutdown.
func (c *Chat) Shutdown(ctx context.Context) error {
	var noticeErr error
	c.stopOnce.Do(func() {
		close(c.stop)
		<-c.done
		noticeErr = c.Notice(ctx, c.opts.ShutdownText)
		c.system.Disconnect()
	})
	if err := c.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("chat: shutdown: %w", err)
	}
	return noticeErr
}

// Members returns the users in room, sorted.
func (c *Chat) Members(room string) []string { return c.rooms.list(room) }

// Connected reports whether user has at least one session.
func (c *Chat) Connected(user string) bool { return len(c.users.sessions(user)) > 0 }
