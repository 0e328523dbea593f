package runtime

import (
	"errors"
	"sync"
	"syscall"
)

// parkable says whether connects can be parked here: the poller below
// watches their connections.
const parkable = true

// readPoller is the epoll instance that watches every parked connection
// of the process for readability (the client closed it, or sent more), so
// that a parked connect needs no goroutine reading its connection. One
// goroutine waits on it for the whole process.
var readPoller struct {
	once  sync.Once
	epfd  int
	err   error
	mu    sync.Mutex
	conns map[int32]*parkedConn // by file descriptor
}

// pollReadable registers p's connection with the poller, which closes
// p.readable when it becomes readable. It reports false when it could not.
func pollReadable(p *parkedConn) bool {
	rp := &readPoller
	rp.once.Do(func() {
		rp.epfd, rp.err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if rp.err == nil {
			rp.conns = make(map[int32]*parkedConn)
			go pollLoop(rp.epfd)
		}
	})
	if rp.err != nil {
		return false
	}
	fd := -1
	if err := p.rc.Control(func(f uintptr) { fd = int(f) }); err != nil || fd < 0 {
		return false
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	// One-shot: the poller tells once, and the descriptor is disabled until
	// it is removed (unwatchReadable) or modified again.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
	op := syscall.EPOLL_CTL_ADD
	if p.fd == fd {
		op = syscall.EPOLL_CTL_MOD // watched before, fired, watched again
	}
	if err := syscall.EpollCtl(rp.epfd, op, fd, &ev); err != nil {
		return false
	}
	p.fd = fd
	rp.conns[int32(fd)] = p
	return true
}

// unwatchReadable removes p's connection from the poller, if it is there.
// It must be called before the connection is closed or handed back.
func unwatchReadable(p *parkedConn) {
	if p.fd < 0 {
		return
	}
	rp := &readPoller
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.conns[int32(p.fd)] == p {
		delete(rp.conns, int32(p.fd))
	}
	syscall.EpollCtl(rp.epfd, syscall.EPOLL_CTL_DEL, p.fd, nil)
	p.fd = -1
}

// pollLoop waits for readable connections and tells their holders.
func pollLoop(epfd int) {
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			panic("bayeux: epoll_wait: " + err.Error())
		}
		rp := &readPoller
		rp.mu.Lock()
		for _, ev := range events[:n] {
			if p := rp.conns[ev.Fd]; p != nil {
				delete(rp.conns, ev.Fd)
				close(p.readable)
			}
		}
		rp.mu.Unlock()
	}
}

// peekConn says, without reading, whether the socket holds data, or the
// peer closed it (or it failed).
func peekConn(rc syscall.RawConn) (more, gone bool) {
	var n int
	var err error
	cerr := rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	switch {
	case cerr != nil:
		return false, true
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return false, false
	case err != nil || n == 0:
		return false, true
	}
	return true, false
}
