package soak_test

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// nodeAddrs holds the listening address of each node ("" while it is
// down), shared by the balancers.
type nodeAddrs struct {
	mu    sync.Mutex
	addrs []string
}

func (n *nodeAddrs) set(i int, addr string) {
	n.mu.Lock()
	n.addrs[i] = addr
	n.mu.Unlock()
}

// order returns the addresses to try for a client whose home is node
// home: its home first, then the others.
func (n *nodeAddrs) order(home int) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for i := range n.addrs {
		if a := n.addrs[(home+i)%len(n.addrs)]; a != "" {
			out = append(out, a)
		}
	}
	return out
}

// balancer is one client's load balancer: a TCP proxy on loopback that
// sends each new connection to the client's home node, or to the other
// when home is down, as a load balancer moves clients off a dead node. It
// can cut its connections abruptly (drop) or make them half-open (freeze:
// nothing reaches the client any more, and the server's side stays open
// after the client gives up on it).
type balancer struct {
	ln    net.Listener
	nodes *nodeAddrs
	home  int

	mu     sync.Mutex
	pairs  []*pair
	closed bool
}

type pair struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func newBalancer(t *testing.T, nodes *nodeAddrs, home int) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, nodes: nodes, home: home}
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *balancer) url() string { return "http://" + b.ln.Addr().String() + "/cometd" }

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.forward(c)
	}
}

func (b *balancer) forward(c net.Conn) {
	var up net.Conn
	for _, addr := range b.nodes.order(b.home) {
		var err error
		if up, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
	}
	if up == nil {
		c.Close()
		return
	}
	p := &pair{client: c, server: up}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	b.pairs = append(b.pairs, p)
	b.mu.Unlock()
	go func() {
		// Client to server: when the client goes, so does the server's
		// side, unless the pair is frozen (a half-open connection).
		io.Copy(up, c)
		if !p.frozen.Load() {
			up.Close()
		}
		c.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		if p.frozen.Load() {
			// Read nothing more: the server's writes back up in the socket
			// buffers, as with a client that stopped reading.
			break
		}
		n, err := up.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if !p.frozen.Load() {
		c.Close()
		up.Close()
		b.forget(p) // a frozen pair stays, for drop or close to end
	}
}

func (b *balancer) forget(p *pair) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, q := range b.pairs {
		if q == p {
			b.pairs = append(b.pairs[:i], b.pairs[i+1:]...)
			break
		}
	}
}

// drop closes every connection of the balancer abruptly (a reset on both
// sides) and returns how many it closed.
func (b *balancer) drop() int {
	b.mu.Lock()
	pairs := b.pairs
	b.pairs = nil
	b.mu.Unlock()
	for _, p := range pairs {
		for _, c := range []net.Conn{p.client, p.server} {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
		}
	}
	return len(pairs)
}

// freeze makes the balancer's current connections half-open: the client
// gets nothing more, the server's side stays open until the server gives
// up on it. It returns how many it froze.
func (b *balancer) freeze() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.pairs {
		p.frozen.Store(true)
	}
	return len(b.pairs)
}

func (b *balancer) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.ln.Close()
	b.drop()
}

// pick returns one of bs at random.
func pick[T any](r *rand.Rand, bs []T) T { return bs[r.IntN(len(bs))] }
