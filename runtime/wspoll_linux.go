package runtime

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// wsPoller watches the sockets of idle websockets for input with one
// epoll instance and one goroutine for the whole process, so that an idle
// connection needs no goroutine of its own: when input arrives, the
// connection's reader goroutine is started (wsConn.readable), reads what
// came, and hands the socket back to the poller when nothing more comes
// for a moment (wsConn.read).
//
// Each socket is registered one-shot: after it reports input it is not
// watched again until its reader re-arms it, so one input starts one
// reader. The poller adds its own registration beside the Go runtime's;
// the socket stays non-blocking and is read through net.Conn as usual.
type wsPoller struct {
	epfd int

	mu    sync.Mutex
	conns map[int32]*wsConn // by token (the event's data)
	next  int32
}

var (
	pollerOnce sync.Once
	poller     *wsPoller
	pollerErr  error
)

// idlePoller returns the process's poller, starting it on first use.
func idlePoller() (*wsPoller, error) {
	pollerOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			pollerErr = fmt.Errorf("runtime: websocket poller: %w", err)
			return
		}
		poller = &wsPoller{epfd: fd, conns: make(map[int32]*wsConn)}
		go poller.run()
	})
	return poller, pollerErr
}

// watchable reports whether c is a socket the poller can watch: a plain
// TCP or Unix socket. A TLS connection keeps decrypted input of its own
// that the socket's readiness does not tell about.
func watchable(c net.Conn) bool {
	switch c := c.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	case *limitConn: // LimitListener's: it reads nothing ahead
		return watchable(c.Conn)
	}
	return false
}

func (p *wsPoller) run() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic(fmt.Sprintf("runtime: websocket poller: epoll_wait: %v", err))
		}
		for i := range n {
			p.mu.Lock()
			wc := p.conns[events[i].Fd]
			p.mu.Unlock()
			if wc != nil {
				wc.readable()
			}
		}
	}
}

// pollEvents are the events a watched socket reports: input, the peer's
// half-close, errors (always reported) and hang-ups; one at a time.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// add registers wc's socket, armed: its next input starts its reader.
func (p *wsPoller) add(wc *wsConn) error {
	p.mu.Lock()
	for {
		p.next++
		if p.next <= 0 {
			p.next = 1
		}
		if _, used := p.conns[p.next]; !used {
			break
		}
	}
	token := p.next
	p.conns[token] = wc
	p.mu.Unlock()
	wc.token = token
	err := wc.control(func(fd int) error {
		return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: pollEvents, Fd: token})
	})
	if err != nil {
		p.mu.Lock()
		delete(p.conns, token)
		p.mu.Unlock()
		return fmt.Errorf("runtime: websocket poller: add: %w", err)
	}
	return nil
}

// arm watches wc's socket again after its reader stopped.
func (p *wsPoller) arm(wc *wsConn) error {
	return wc.control(func(fd int) error {
		return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: pollEvents, Fd: wc.token})
	})
}

// remove stops watching wc's socket; it is called before the socket is
// closed (closing it would also remove it, but the token must go too).
func (p *wsPoller) remove(wc *wsConn) {
	_ = wc.control(func(fd int) error {
		return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	})
	p.mu.Lock()
	delete(p.conns, wc.token)
	p.mu.Unlock()
}

// control runs f with wc's socket's descriptor, which stays open while f
// runs; it fails once the socket is closed.
func (wc *wsConn) control(f func(fd int) error) error {
	var ferr error
	err := wc.raw.Control(func(fd uintptr) { ferr = f(int(fd)) })
	if err != nil {
		return err
	}
	return ferr
}

// shutdownSocket ends both directions of wc's socket without closing it:
// a blocked read or write returns, and a watched socket reports input, so
// that its reader finds the end and cleans up.
func (wc *wsConn) shutdownSocket() error {
	return wc.control(func(fd int) error { return unix.Shutdown(fd, unix.SHUT_RDWR) })
}
