package loadtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"golang.org/x/sys/unix"
)

// wsLoop reads many wsSubs from one goroutine (a readLoop), each socket
// read once per round, its frames handled in place. A goroutine and a
// client per subscriber cost the bench several times the CPU per delivery
// (a wake-up, a second read that finds nothing, a decoder's allocations),
// CPU that the server it measures then lacks.
type wsLoop struct {
	r    *readLoop
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
	fds := make([]int, len(subs))
	for i, s := range subs {
		if err := s.detach(); err != nil {
			return nil, fmt.Errorf("event loop: %w", err)
		}
		fds[i] = s.fd
	}
	r, err := newReadLoop(fds)
	if err != nil {
		return nil, fmt.Errorf("event loop: %w", err)
	}
	for i, s := range subs {
		r.pending[i], s.pending = s.pending, nil // what setup read past its replies
	}
	l := &wsLoop{r: r, subs: subs, stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l, nil
}

func (l *wsLoop) run() {
	defer close(l.done)
	dec := bayeux.NewDecoder()
	err := l.r.run(l.stop, time.Time{},
		func(i int, in []byte, now int64) ([]byte, bool) {
			rest, err := l.subs[i].input(dec, in, now)
			return rest, err == nil
		},
		func(i int) {
			l.subs[i].lost = true
			l.lost.Add(1)
		})
	if err != nil {
		panic(fmt.Sprintf("loadtest: %v", err))
	}
}

// close stops the loop; the sessions are disconnected by closeSubs.
func (l *wsLoop) close() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		l.r.close()
	})
}

// readLoop reads many sockets with one epoll instance and one goroutine:
// each ready socket is read once per round, and what was read is handed,
// after what the socket left unhandled before, to the caller.
//
// While input keeps coming, the loop sleeps a moment between rounds
// (wsLoopNap) instead of waiting in epoll_wait, and then takes what
// arrived meanwhile in one round: a write to a socket whose reader waits
// in epoll_wait wakes that reader (an inter-processor interrupt in a
// virtual machine), a cost the writer pays once per message otherwise.
// Idle, it waits.
type readLoop struct {
	epfd    int
	fds     []int
	pending [][]byte // by socket, what it left unhandled
	open    int
}

// newReadLoop watches fds (non-blocking sockets).
func newReadLoop(fds []int) (*readLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	for i, fd := range fds {
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}); err != nil {
			unix.Close(epfd)
			return nil, err
		}
	}
	return &readLoop{epfd: epfd, fds: slices.Clone(fds), pending: make([][]byte, len(fds)), open: len(fds)}, nil
}

// run reads until stop is closed, every socket has ended, or deadline
// passed (zero: none). handle gets socket i's input (what it left
// unhandled, then what was just read, at now) and returns what it leaves
// for the next read; false ends the socket. ended is told of every socket
// that ended (an error, the peer's close, handle's false); it may be nil.
func (r *readLoop) run(stop <-chan struct{}, deadline time.Time, handle func(i int, in []byte, now int64) ([]byte, bool), ended func(i int)) error {
	events := make([]unix.EpollEvent, 512)
	buf := make([]byte, 64<<10)
	busy := false
	for r.open > 0 && (deadline.IsZero() || time.Now().Before(deadline)) {
		select {
		case <-stop:
			return nil
		default:
		}
		timeout := 100
		if busy {
			time.Sleep(wsLoopNap)
			timeout = 0
		}
		n, err := unix.EpollWait(r.epfd, events, timeout)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("epoll_wait: %w", err)
		}
		busy = n > 0
		now := time.Now().UnixNano() // one clock reading for what is read now
		for _, ev := range events[:n] {
			i := int(ev.Fd)
			if r.fds[i] < 0 {
				continue // ended in this round
			}
			in := append(buf[:0], r.pending[i]...)
			m, err := unix.Read(r.fds[i], in[len(in):cap(in)])
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			var rest []byte
			ok := err == nil && m > 0
			if ok {
				rest, ok = handle(i, in[:len(in)+m], now)
			}
			if !ok {
				r.end(i)
				if ended != nil {
					ended(i)
				}
				continue
			}
			r.pending[i] = append(r.pending[i][:0], rest...)
			if cap(r.pending[i]) > 64<<10 {
				r.pending[i] = append([]byte(nil), r.pending[i]...)
			}
		}
	}
	return nil
}

// end stops watching socket i (its descriptor stays its owner's to close).
func (r *readLoop) end(i int) {
	_ = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, r.fds[i], nil)
	r.fds[i] = -1
	r.open--
}

// close lets the epoll instance go.
func (r *readLoop) close() { unix.Close(r.epfd) }

// wsLoopNap is how long the loop sleeps between rounds while busy; the
// receipt times it records are late by at most about as much.
const wsLoopNap = 200 * time.Microsecond

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
