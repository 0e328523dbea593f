//go:build !linux

package runtime

import (
	"errors"
	"syscall"
)

// pollTarget is what watches a socket through the poller (Linux only).
type pollTarget interface {
	readable()
}

// poller is not available on this system: every websocket has a reader
// goroutine of its own for as long as it lives, and no connect is parked.
type poller struct{}

var errNoPoller = errors.New("runtime: poller: not supported on this system")

func socketPoller() (*poller, error) { return nil, errNoPoller }

func (*poller) add(syscall.RawConn, pollTarget, *int32) error { return errNoPoller }
func (*poller) arm(syscall.RawConn, int32) error              { return errNoPoller }
func (*poller) remove(syscall.RawConn, int32)                 {}

func (wc *wsConn) shutdownSocket() error { return wc.nc.Close() }

// writeNonblock is not used on this system: without the poller, a
// websocket's writes go through its writer goroutine (wsConn.raw is nil).
func writeNonblock(syscall.RawConn, []byte) (int, error) { return 0, errNoPoller }
