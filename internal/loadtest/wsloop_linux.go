package loadtest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
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
		sc, ok := s.nc.(syscall.Conn)
		if !ok {
			unix.Close(epfd)
			return nil, errors.New("event loop: not a socket")
		}
		rc, err := sc.SyscallConn()
		if err == nil {
			var cerr error
			err = rc.Control(func(fd uintptr) {
				s.fd = int(fd)
				cerr = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, s.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)})
			})
			if err == nil {
				err = cerr
			}
		}
		if err != nil {
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
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		n, err := unix.EpollWait(l.epfd, events, 100)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic(fmt.Sprintf("loadtest: epoll_wait: %v", err))
		}
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
