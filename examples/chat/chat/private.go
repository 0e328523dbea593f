package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cometgen/cometgen/examples/chat/chat/channels"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/filter"
)

// textFilter gives a private message's text the rooms' treatment: white
// space trimmed, empty texts refused, at most MaxTextLength characters,
// markup escaped. (In rooms the spec does it: schema, filters and
// OnChatRoom; a remote call's request gets no filters, and its failures are
// the call's, not the publish's.)
var textFilter = filter.Chain(
	filter.Must(filter.Trim("text")),
	filter.Must(filter.RegexAbort(`^$`, "text is empty", "text")),
	filter.Must(filter.MaxLength(MaxTextLength, "text")),
	filter.Must(filter.NoMarkup("text")),
)

// installUsers keeps the index of connected users.
func (c *Chat) installUsers() {
	c.srv.OnSessionAdded(func(s *runtime.ServerSession, _ *bayeux.Message) {
		if !s.IsLocal() && s.UserID() != "" {
			c.users.add(s)
		}
	})
	c.srv.OnSessionRemoved(func(s *runtime.ServerSession, _ runtime.RemoveReason) {
		c.users.remove(s)
	})
}

// ServicePrivate serves /service/private: it cleans the text as in the
// rooms and delivers it on /private/inbox to every session of the
// recipient.
func (c *Chat) ServicePrivate(ctx context.Context, caller *runtime.ServerSession, req *channels.ServicePrivateRequest) (channels.ServicePrivateReply, error) {
	var zero channels.ServicePrivateReply
	if !ValidName(req.To) {
		return zero, &runtime.CallError{Data: errBadUser.Error()}
	}
	text, err := cleanText(ctx, caller, req.Text)
	if err != nil {
		return zero, &runtime.CallError{Data: err.Error()}
	}
	msg := channels.PrivateInboxMessage{From: caller.UserID(), To: req.To, Text: text}
	n := 0
	for _, s := range c.users.sessions(req.To) {
		switch err := channels.DeliverPrivateInbox(ctx, s, &msg); {
		case err == nil:
			n++
		case !errors.Is(err, runtime.ErrSessionGone):
			return zero, fmt.Errorf("chat: deliver to %s: %w", req.To, err)
		}
	}
	if n == 0 {
		return zero, &runtime.CallError{Data: req.To + " is not connected"}
	}
	return channels.ServicePrivateReply{Delivered: int64(n)}, nil
}

// cleanText runs textFilter on text alone. The error is the filters'
// *bayeux.Error ("400:text is empty:data_rejected"…).
func cleanText(ctx context.Context, from *runtime.ServerSession, text string) (string, error) {
	out, err := textFilter.FilterData(ctx, from, channels.ServicePrivatePattern, map[string]any{"text": text})
	if err != nil {
		return "", err
	}
	if m, ok := out.(map[string]any); ok {
		if s, ok := m["text"].(string); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("chat: text filters returned %T", out)
}

// users indexes the sessions of every connected user.
type users struct {
	mu     sync.Mutex
	byName map[string]map[*runtime.ServerSession]struct{}
}

func newUsers() *users {
	return &users{byName: make(map[string]map[*runtime.ServerSession]struct{})}
}

// add records s under its user. A session that has already ended is not
// recorded: its removal may have been processed before this event.
func (u *users) add(s *runtime.ServerSession) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !s.Connected() {
		return
	}
	name := s.UserID()
	if u.byName[name] == nil {
		u.byName[name] = make(map[*runtime.ServerSession]struct{})
	}
	u.byName[name][s] = struct{}{}
}

func (u *users) remove(s *runtime.ServerSession) {
	u.mu.Lock()
	defer u.mu.Unlock()
	name := s.UserID()
	delete(u.byName[name], s)
	if len(u.byName[name]) == 0 {
		delete(u.byName, name)
	}
}

// sessions returns the sessions of the user name.
func (u *users) sessions(name string) []*runtime.ServerSession {
	u.mu.Lock()
	defer u.mu.Unlock()
	list := make([]*runtime.ServerSession, 0, len(u.byName[name]))
	for s := range u.byName[name] {
		list = append(list, s)
	}
	return list
}
