package runtime

import "syscall"

// parkable says whether connects can be parked here: the poller below
// watches their connections.
const parkable = true

// pollReadable asks the process's poller (see poller) to tell p when its
// connection becomes readable (the client closed it, or sent more), so
// that a parked connect needs no goroutine reading its connection. It
// reports false when it could not.
func pollReadable(p *parkedConn) bool {
	sp, err := socketPoller()
	if err != nil {
		return false
	}
	if p.token == 0 {
		return sp.add(p.rc, p, &p.token) == nil
	}
	return sp.arm(p.rc, p.token) == nil // watched before, told, watched again
}

// unwatchReadable removes p's connection from the poller, if it is there.
// It must be called before the connection is closed or handed back.
func unwatchReadable(p *parkedConn) {
	if p.token == 0 {
		return
	}
	thePoller.remove(p.rc, p.token)
	p.token = 0
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
