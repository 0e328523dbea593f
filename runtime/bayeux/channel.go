package bayeux

import "strings"

// ChannelKind classifies a channel by its prefix.
type ChannelKind int

// The three kinds of channel.
const (
	// Broadcast channels fan a message out to every subscriber.
	Broadcast ChannelKind = iota
	// Meta channels (/meta/...) carry the protocol itself.
	Meta
	// Service channels (/service/...) carry requests to the server and are
	// never broadcast to remote subscribers.
	Service
)

// String returns "broadcast", "meta" or "service".
func (k ChannelKind) String() string {
	switch k {
	case Meta:
		return "meta"
	case Service:
		return "service"
	}
	return "broadcast"
}

// KindOf returns the kind of the channel name.
func KindOf(name string) ChannelKind {
	switch {
	case name == "/meta" || strings.HasPrefix(name, "/meta/"):
		return Meta
	case name == "/service" || strings.HasPrefix(name, "/service/"):
		return Service
	}
	return Broadcast
}

// ValidChannel reports whether name is a valid channel name, as CometD's
// validator sees it: at least two characters, a leading '/', only letters,
// digits and the marks ` !#$()*+-./@_{~}`, no empty segment, and wildcards
// ("*" or "**") only as the whole last segment.
func ValidChannel(name string) bool {
	if len(name) < 2 || name[0] != '/' || name[len(name)-1] == '/' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !channelChar(name[i]) {
			return false
		}
	}
	segStart := 1
	for i := 1; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		seg := name[segStart:i]
		if seg == "" {
			return false
		}
		if strings.IndexByte(seg, '*') >= 0 {
			last := i == len(name)
			if !last || (seg != "*" && seg != "**") {
				return false
			}
		}
		segStart = i + 1
	}
	return true
}

func channelChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case ' ', '!', '#', '$', '(', ')', '*', '+', '-', '.', '/', '@', '_', '{', '}', '~':
		return true
	}
	return false
}

// ValidID reports whether id is a valid message id: empty, or letters and
// digits only (CometD refuses anything else with 405::message_id_invalid).
func ValidID(id ID) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// IsWild reports whether the channel name ends in a "*" or "**" segment.
func IsWild(name string) bool { return strings.HasSuffix(name, "/*") || IsDeepWild(name) }

// IsDeepWild reports whether the channel name ends in a "**" segment.
func IsDeepWild(name string) bool { return strings.HasSuffix(name, "/**") }

// Wilds returns the wildcard channels that match the concrete channel name,
// from the most specific to the root, as CometD's ChannelId.getWilds does:
// for "/a/b/c" that is "/a/b/*", "/a/b/**", "/a/**", "/**".
func Wilds(name string) []string {
	return AppendWilds(nil, name)
}

// AppendWilds appends the wildcard channels matching name to dst, in the
// order of Wilds, and returns the extended slice. It lets a hot path reuse a
// buffer.
func AppendWilds(dst []string, name string) []string {
	last := strings.LastIndexByte(name, '/')
	if last < 0 {
		return dst
	}
	dst = append(dst, name[:last]+"/*")
	for i := last; i >= 0; i = strings.LastIndexByte(name[:i], '/') {
		dst = append(dst, name[:i]+"/**")
		if i == 0 {
			break
		}
	}
	return dst
}

// Match reports whether the channel pattern (a concrete name or one ending in
// "*" or "**") matches the concrete channel name.
func Match(pattern, name string) bool {
	switch {
	case IsDeepWild(pattern):
		prefix := pattern[:len(pattern)-2]
		return len(name) > len(prefix) && strings.HasPrefix(name, prefix)
	case strings.HasSuffix(pattern, "/*"):
		prefix := pattern[:len(pattern)-1]
		return len(name) > len(prefix) && strings.HasPrefix(name, prefix) &&
			strings.IndexByte(name[len(prefix):], '/') < 0
	}
	return pattern == name
}

// Segments splits the channel name at its slashes into segs, as
// strings.Split(strings.TrimPrefix(name, "/"), "/") does, and reports
// whether name has exactly len(segs) segments ("/chat/lobby" has "chat"
// and "lobby"); segs is unspecified when it has not. Parsers of channel
// names use it to split one without allocating.
func Segments(name string, segs []string) bool {
	rest := strings.TrimPrefix(name, "/")
	for i := range segs {
		if i == len(segs)-1 {
			segs[i] = rest
			return strings.IndexByte(rest, '/') < 0
		}
		seg, after, found := strings.Cut(rest, "/")
		if !found {
			return false
		}
		segs[i], rest = seg, after
	}
	return false // no name has no segment
}

// Normalize trims white space and one trailing '/', as CometD's ChannelId
// does, so "/foo/ " and "/foo/" name the channel "/foo".
func Normalize(name string) string {
	name = strings.TrimSpace(name)
	if len(name) > 1 && strings.HasSuffix(name, "/") {
		name = name[:len(name)-1]
	}
	return name
}

// MatchTemplate reports whether name has the shape of template, a channel
// pattern of a spec such as "/chat/{room}": as many segments, the literal
// ones equal, and a parameter segment ("{room}") matching any one non-empty
// segment. It checks no parameter's own schema and does not allocate.
func MatchTemplate(template, name string) bool {
	t := strings.TrimPrefix(template, "/")
	n := strings.TrimPrefix(name, "/")
	for {
		tseg, trest, tmore := strings.Cut(t, "/")
		nseg, nrest, nmore := strings.Cut(n, "/")
		if tmore != nmore || nseg == "" {
			return false
		}
		if len(tseg) < 2 || tseg[0] != '{' || tseg[len(tseg)-1] != '}' {
			if tseg != nseg {
				return false
			}
		}
		if !tmore {
			return true
		}
		t, n = trest, nrest
	}
}
