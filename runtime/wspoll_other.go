//go:build !linux

package runtime

import (
	"errors"
	"net"
)

// wsPoller is not available on this system: every websocket has a reader
// goroutine of its own for as long as it lives.
type wsPoller struct{}

func idlePoller() (*wsPoller, error) {
	return nil, errors.New("runtime: websocket poller: not supported on this system")
}

func watchable(net.Conn) bool { return false }

func (*wsPoller) add(*wsConn) error { return errors.New("runtime: websocket poller: not supported") }
func (*wsPoller) arm(*wsConn) error { return errors.New("runtime: websocket poller: not supported") }
func (*wsPoller) remove(*wsConn)    {}

func (wc *wsConn) shutdownSocket() error { return wc.nc.Close() }
