package chat

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/cometgen/cometgen/examples/chat/chat/channels"
	"github.com/cometgen/cometgen/runtime"
)

// reasonBadRoom is the failure of /service/members for an invalid room.
const reasonBadRoom = "invalid_room_name"

// OnChatRoom sees every message a client publishes in a room, after the
// spec's schema check and before its filters (trim, no-markup): it refuses
// a text of white space alone and sets the user to the sender's login,
// whatever the publisher put there. Re-encoding the typed message drops any
// other field.
func (c *Chat) OnChatRoom(_ context.Context, s *runtime.ServerSession, _ channels.ChatRoom, msg *channels.ChatMessage) error {
	if strings.TrimSpace(msg.Text) == "" {
		return runtime.Reject("text is empty")
	}
	user := s.UserID()
	msg.User = &user
	return nil
}

// ServiceMembers serves /service/members: the room's members, sorted.
func (c *Chat) ServiceMembers(_ context.Context, _ *runtime.ServerSession, req *channels.ServiceMembersRequest) (channels.ServiceMembersReply, error) {
	if _, err := channels.ParseChatRoom(channels.ChatRoom{Room: req.Room}.Name()); err != nil {
		return nil, &runtime.CallError{Data: reasonBadRoom}
	}
	return c.rooms.list(req.Room), nil
}

// installMembers keeps the member lists from subscription events.
func (c *Chat) installMembers() {
	c.srv.OnSubscription(func(s *runtime.ServerSession, ch *runtime.Channel, subscribed bool) {
		if ch.IsWild() || s.IsLocal() || s.UserID() == "" {
			return
		}
		room, err := channels.ParseChatRoom(ch.Name())
		if err != nil {
			return
		}
		if subscribed {
			c.rooms.join(s, room.Room)
		} else {
			c.rooms.leave(s, room.Room)
		}
	})
	// Ending a session unsubscribes it, which the listener above sees; this
	// is the safety net for a subscription event that raced with the end.
	c.srv.OnSessionRemoved(func(s *runtime.ServerSession, _ runtime.RemoveReason) {
		c.rooms.forget(s)
	})
}

// publishMembers broadcasts a room's member list on /members/{room}.
func (c *Chat) publishMembers(room string, members []string) {
	ev := channels.MembersRoomMessage{Room: room, Members: members}
	if _, err := channels.PublishMembersRoom(c.srv, channels.MembersRoom{Room: room}, &ev); err != nil {
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
