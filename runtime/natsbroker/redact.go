package natsbroker

import "strings"

// RedactURL returns the NATS URL (or comma-separated list of URLs) u fit
// for logs and messages: a password in the userinfo becomes "xxxxx", and
// userinfo without a password, which NATS reads as a token, becomes
// "xxxxx" altogether ("nats://alice:xxxxx@host:4222",
// "nats://xxxxx@host:4222"). Everything else is kept.
func RedactURL(u string) string {
	if !strings.Contains(u, "@") {
		return u
	}
	parts := strings.Split(u, ",")
	for i, p := range parts {
		parts[i] = redactOne(p)
	}
	return strings.Join(parts, ",")
}

func redactOne(u string) string {
	start := 0
	if i := strings.Index(u, "://"); i >= 0 {
		start = i + 3
	}
	end := len(u)
	if i := strings.IndexAny(u[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(u[start:end], '@')
	if at < 0 {
		return u
	}
	at += start
	user, _, hasPassword := strings.Cut(u[start:at], ":")
	redacted := "xxxxx"
	if hasPassword {
		redacted = user + ":xxxxx"
	}
	return u[:start] + redacted + u[at:]
}
