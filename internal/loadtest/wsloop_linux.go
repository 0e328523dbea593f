package loadtest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"golang.org/x/sys/unix"
)

// wsLoop reads many wsSubs from one goroutine: one epoll instance tells
// which sockets have input, and each is read once, its frames handled in
// place. A goroutine and a client per subscriber cost the bench several
// times the CPU per delivery (a wake-up, a second read that finds nothing,
// a decoder's allocations), CPU that the server it measures then lacks.
type wsLoop struct {
	epfd int
	subs []*wsSub
	lost atomic.Int64 // sessions lost during the run
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// wsLoopSupported says whether this system has the event loop.
const wsLoopSupported = true

// startWSLoop watches subs' sockets and handles their input until close.
func startWSLoop(subs []*wsSub) (*wsLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("event loop: %w", err)
	}
	l := &wsLoop{epfd: epfd, subs: subs, stop: make(chan struct{}), done: make(chan struct{})}
	for i, s := range subs {
		if err := s.detach(); err != nil {
			unix.Close(epfd)
			return nil, fmt.Errorf("event loop: %w", err)
		}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, s.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}); err != nil {
			unix.Close(epfd)
			return nil, fmt.Errorf("event loop: %w", err)
		}
	}
	go l.run()
	return l, nil
}

func (l *wsLoop) run() {
	defer close(l.done)
	dec := bayeux.NewDecoder()
	events := make([]unix.EpollEvent, 512)
	buf := make([]byte, 64<<10)
	busy := false
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		// While input keeps coming, the loop sleeps a moment between
		// rounds instead of waiting in epoll_wait, and then takes what
		// arrived meanwhile in one round: a server's write to a socket
		// whose reader waits in epoll_wait wakes that reader (an
		// inter-processor interrupt in a virtual machine), a cost the
		// server pays once per delivery otherwise. Idle, it waits.
		timeout := 100
		if busy {
			time.Sleep(wsLoopNap)
			timeout = 0
		}
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic(fmt.Sprintf("loadtest: epoll_wait: %v", err))
		}
		busy = n > 0
		if n == 0 {
			continue
		}
		now := time.Now().UnixNano() // one clock reading for what is read now
		for _, ev := range events[:n] {
			s := l.subs[ev.Fd]
			if s.lost {
				continue
			}
			in := append(buf[:0], s.pending...)
			m, err := unix.Read(s.fd, in[len(in):cap(in)])
			switch {
			case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
				continue
			case err != nil || m == 0:
				l.drop(s)
				continue
			}
			if err := s.input(dec, in[:len(in)+m], now); err != nil {
				l.drop(s)
			}
			if cap(s.pending) > 64<<10 {
				s.pending = append([]byte(nil), s.pending...)
			}
		}
	}
}

// wsLoopNap is how long the loop sleeps between rounds while busy; the
// receipt times it records are late by at most about as much.
const wsLoopNap = 200 * time.Microsecond

// drop stops watching a lost session.
func (l *wsLoop) drop(s *wsSub) {
	s.lost = true
	l.lost.Add(1)
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
}

// close stops the loop and disconnects every session.
func (l *wsLoop) close() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		unix.Close(l.epfd)
	})
}

// detach takes the socket away from Go's network poller: the connection
// is closed, a duplicate of its descriptor kept (non-blocking, as the
// original was), so that input, which the loop reads, does not also wake a
// thread of the Go runtime waiting in its own epoll_wait for nothing.
func (s *wsSub) detach() error {
	fd, err := detachFD(s.nc)
	if err != nil {
		return err
	}
	s.fd, s.nc = fd, nil
	return nil
}

// writeFD writes b to the detached socket, waiting for room at most a
// second (the server reads what a subscriber sends at once).
func (s *wsSub) writeFD(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(s.fd, b)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLOUT}}
			if k, err := unix.Poll(fds, 1000); err != nil || k == 0 {
				return fmt.Errorf("write: socket full: %v", err)
			}
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

// closeFD closes the detached socket.
func (s *wsSub) closeFD() { unix.Close(s.fd) }
