package natsbroker

import "testing"

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://u:secret@host:4222", "nats://u:xxxxx@host:4222"},
		{"nats://s3cr3tT0ken@host:4222", "nats://xxxxx@host:4222"},
		{"tls://u:p@ss:w@rd@host:4222/x?y=@", "tls://u:xxxxx@host:4222/x?y=@"},
		{"u:secret@host:4222", "u:xxxxx@host:4222"},
		{"nats://a:one@h1:4222,nats://b:two@h2:4222,nats://h3", "nats://a:xxxxx@h1:4222,nats://b:xxxxx@h2:4222,nats://h3"},
		{"nats://:secret@host", "nats://:xxxxx@host"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
