package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/filter"
)

// textFilter cleans the "text" of chat and private messages: white space
// trimmed, empty texts refused, at most MaxTextLength characters, markup
// escaped. The length is checked before escaping, so that it counts what
// the user typed ("<" becomes the four characters "&lt;").
var textFilter = filter.Chain(
	filter.Must(filter.Trim("text")),
	filter.Must(filter.RegexAbort(`^$`, "text is empty", "text")),
	filter.Must(filter.MaxLength(MaxTextLength, "text")),
	filter.Must(filter.NoMarkup("text")),
)

// installRooms configures every /chat/{room} channel through the wildcard
// channel /chat/*.
func (c *Chat) installRooms() error {
	_, _, err := c.srv.CreateChannel(RoomChannels, func(ch *runtime.Channel) {
		ch.AddAuthorizer(roomAuthorizer(RoomPrefix))
		ch.AddListener(stampSender)
		ch.AddFilter(textFilter)
	})
	if err != nil {
		return fmt.Errorf("chat: rooms: %w", err)
	}
	return nil
}

// stampSender is the message listener of the rooms: it keeps only the
// text of a message and sets User to the sender's login, so that nobody
// can speak under another name. Messages the server publishes itself are
// signed SystemUser.
func stampSender(_ context.Context, from *runtime.ServerSession, m *bayeux.Message) error {
	var in struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(m.Data, &in); err != nil {
		return runtime.Reject("data must be an object with a string text")
	}
	msg := Message{User: SystemUser, Text: in.Text}
	if from != nil && from.UserID() != "" {
		msg.User = from.UserID()
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("chat: encode message: %w", err)
	}
	m.Data = data
	return nil
}

// installMembers keeps the member lists from subscription events, serves
// them on /service/members and guards the /members/{room} channels.
func (c *Chat) installMembers() error {
	_, _, err := c.srv.CreateChannel(MembersChannels, func(ch *runtime.Channel) {
		ch.AddAuthorizer(roomAuthorizer(MembersPrefix))
	})
	if err != nil {
		return fmt.Errorf("chat: members: %w", err)
	}
	c.srv.OnSubscription(func(s *runtime.ServerSession, ch *runtime.Channel, subscribed bool) {
		room, ok := strings.CutPrefix(ch.Name(), RoomPrefix)
		if !ok || ch.IsWild() || s.IsLocal() || s.UserID() == "" {
			return
		}
		if subscribed {
			c.rooms.join(s, room)
		} else {
			c.rooms.leave(s, room)
		}
	})
	// Ending a session unsubscribes it, which the listener above sees; this
	// is the safety net for a subscription event that raced with the end.
	c.srv.OnSessionRemoved(func(s *runtime.ServerSession, _ runtime.RemoveReason) {
		c.rooms.forget(s)
	})
	err = runtime.HandleCall(c.srv, MembersService, func(_ context.Context, _ *runtime.ServerSession, req MembersRequest) ([]string, error) {
		if !ValidName(req.Room) {
			return nil, &runtime.CallError{Data: reasonBadRoom}
		}
		return c.rooms.list(req.Room), nil
	})
	if err != nil {
		return fmt.Errorf("chat: members service: %w", err)
	}
	return nil
}

// publishMembers broadcasts a room's member list on /members/{room}.
func (c *Chat) publishMembers(room string, members []string) {
	ev := MembersEvent{Room: room, Members: members}
	if _, err := c.srv.Publish(MembersPrefix+room, ev); err != nil {
		c.log.Warn("chat: member list not published", "room", room, "err", err)
	}
}

// rooms holds the sessions subscribed to each room, with their users.
type rooms struct {
	mu      sync.Mutex
	byRoom  map[string]map[*runtime.ServerSession]string // room -> session -> user
	changed func(room string, members []string)          // called with mu held
}

func newRooms(changed func(room string, members []string)) *rooms {
	return &rooms{byRoom: make(map[string]map[*runtime.ServerSession]string), changed: changed}
}

// join records that s entered room. A session that has already ended is
// not recorded: its end may have been processed before this event.
func (r *rooms) join(s *runtime.ServerSession, room string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.Connected() {
		return
	}
	before := r.listLocked(room)
	sessions := r.byRoom[room]
	if sessions == nil {
		sessions = make(map[*runtime.ServerSession]string)
		r.byRoom[room] = sessions
	}
	sessions[s] = s.UserID()
	r.notifyLocked(room, before)
}

// leave records that s left room.
func (r *rooms) leave(s *runtime.ServerSession, room string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked(s, room)
}

// forget removes s from every room.
func (r *rooms) forget(s *runtime.ServerSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for room, sessions := range r.byRoom {
		if _, ok := sessions[s]; ok {
			r.removeLocked(s, room)
		}
	}
}

func (r *rooms) removeLocked(s *runtime.ServerSession, room string) {
	sessions := r.byRoom[room]
	if _, ok := sessions[s]; !ok {
		return
	}
	before := r.listLocked(room)
	delete(sessions, s)
	if len(sessions) == 0 {
		delete(r.byRoom, room)
	}
	r.notifyLocked(room, before)
}

// notifyLocked reports the room's list if it differs from before: a
// user's second tab entering a room changes nothing.
func (r *rooms) notifyLocked(room string, before []string) {
	if after := r.listLocked(room); !slices.Equal(before, after) {
		r.changed(room, after)
	}
}

// list returns the distinct users in room, sorted.
func (r *rooms) list(room string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listLocked(room)
}

func (r *rooms) listLocked(room string) []string {
	names := make([]string, 0, len(r.byRoom[room]))
	for _, user := range r.byRoom[room] {
		names = append(names, user)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
