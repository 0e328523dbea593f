package runtime

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// pollTarget is what watches a socket through the poller: it is told when
// the socket becomes readable (input, the peer's close, an error).
type pollTarget interface {
	readable()
}

// poller watches sockets for input with one epoll instance and one
// goroutine for the whole process, so that a connection waiting for its
// client needs no goroutine of its own reading it: an idle websocket (its
// reader starts when input arrives, see wsConn.read) and a parked
// long-polling connect (a close or more input ends it, see parkedConn).
//
// Each socket is registered one-shot: after it reports input it is not
// watched again until it is re-armed, so one input tells its target once.
// The poller adds its own registration beside the Go runtime's; the
// socket stays non-blocking and is read through net.Conn as usual.
// Registrations are changed under mu, and the poller looks its targets up
// under mu, so that what a target set before arming its socket is seen
// when it is told.
type poller struct {
	epfd int

	mu      sync.Mutex
	targets map[int32]pollTarget // by token (the event's data)
	next    int32
}

var (
	pollerOnce sync.Once
	thePoller  *poller
	pollerErr  error
)

// socketPoller returns the process's poller, starting it on first use.
func socketPoller() (*poller, error) {
	pollerOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			pollerErr = fmt.Errorf("runtime: poller: %w", err)
			return
		}
		thePoller = &poller{epfd: fd, targets: make(map[int32]pollTarget)}
		go thePoller.run()
	})
	return thePoller, pollerErr
}

func (p *poller) run() {
	events := make([]unix.EpollEvent, 256)
	ready := make([]pollTarget, 0, len(events))
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic(fmt.Sprintf("runtime: poller: epoll_wait: %v", err))
		}
		p.mu.Lock()
		for i := range n {
			if t := p.targets[events[i].Fd]; t != nil {
				ready = append(ready, t)
			}
		}
		p.mu.Unlock()
		for i, t := range ready {
			t.readable()
			ready[i] = nil
		}
		ready = ready[:0]
	}
}

// pollEvents are the events a watched socket reports: input, the peer's
// half-close, errors (always reported) and hang-ups; one at a time.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// add registers rc's socket for t, armed: its next input tells t. It
// sets *token to the registration's token (never 0) before t can be told.
func (p *poller) add(rc syscall.RawConn, t pollTarget, token *int32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		p.next++
		if p.next <= 0 {
			p.next = 1
		}
		if _, used := p.targets[p.next]; !used {
			break
		}
	}
	*token = p.next
	err := control(rc, func(fd int) error {
		return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: pollEvents, Fd: *token})
	})
	if err != nil {
		*token = 0
		return fmt.Errorf("runtime: poller: add: %w", err)
	}
	p.targets[*token] = t
	return nil
}

// arm watches the socket of registration token again after it reported.
func (p *poller) arm(rc syscall.RawConn, token int32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return control(rc, func(fd int) error {
		return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: pollEvents, Fd: token})
	})
}

// remove ends registration token; it is called before the socket is
// closed or handed on (closing it would also remove it, but the token
// must go too).
func (p *poller) remove(rc syscall.RawConn, token int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = control(rc, func(fd int) error {
		return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	})
	delete(p.targets, token)
}

// control runs f with rc's descriptor, which stays open while f runs; it
// fails once the socket is closed.
func control(rc syscall.RawConn, f func(fd int) error) error {
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// shutdownSocket ends both directions of wc's socket without closing it:
// a blocked read or write returns, and a watched socket reports input, so
// that its reader finds the end and cleans up.
func (wc *wsConn) shutdownSocket() error {
	return control(wc.raw, func(fd int) error { return unix.Shutdown(fd, unix.SHUT_RDWR) })
}

// writeNonblock writes b to rc's socket without waiting for it: it returns
// how much the socket took, which is less than len(b) when its buffer is
// full. It goes through Control, which only keeps the descriptor from
// being closed meanwhile: the connection's writer role (see flushers)
// already keeps other writes out, and Write's poller bookkeeping (and
// its deadline check) cost a tenth of a flusher's time at 10,000
// subscribers.
func writeNonblock(rc syscall.RawConn, b []byte) (int, error) {
	n := 0
	var werr error
	err := rc.Control(func(fd uintptr) {
		for n < len(b) {
			m, err := unix.Write(int(fd), b[n:])
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return
			case err != nil:
				werr = err
				return
			case m <= 0:
				return
			}
			n += m
		}
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
