package runtime

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the http.Server settings that cometgen serve and the
// scaffolded servers use with a Server. Held long polls rule out a whole
// request ReadTimeout (see Options.BodyReadTimeout).
const (
	// DefaultReadHeaderTimeout bounds the reading of a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 60 * time.Second
)

// LimitListener returns a listener that accepts at most max connections
// open at once from ln. A connection beyond it is accepted and closed at
// once, so a server at its limit degrades by refusing connections instead of
// running out of file descriptors, and serves the ones it has. refused, if
// not nil, is called for each connection refused. max <= 0 means no limit:
// ln is returned.
func LimitListener(ln net.Listener, max int, refused func(net.Addr)) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, max: int64(max), refused: refused}
}

type limitListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused func(net.Addr)
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			c.Close()
			if l.refused != nil {
				l.refused(c.RemoteAddr())
			}
			continue
		}
		return &limitConn{Conn: c, l: l}, nil
	}
}

// limitConn gives its place back when it is closed, once.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// DefaultMaxConnections is the connection cap cometgen serve and the
// scaffolded servers use by default: nine tenths of the process's limit on
// open files (which Go raises to the hard limit at start), leaving the rest
// for the files, NATS and listeners a server needs besides; 10,000 where the
// limit cannot be read.
func DefaultMaxConnections() int {
	n := openFileLimit()
	if n <= 0 {
		return 10_000
	}
	return max(n-n/10, 1)
}
