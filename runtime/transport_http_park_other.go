//go:build !linux

package runtime

import "syscall"

// parkable says whether connects can be parked here: not without a poller
// to watch their connections (see the Linux version).
const parkable = false

func pollReadable(*parkedConn) bool { return false }

func unwatchReadable(*parkedConn) {}

func peekConn(syscall.RawConn) (more, gone bool) { return false, false }
