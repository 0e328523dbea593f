//go:build !linux

package loadtest

import (
	"errors"
	"sync/atomic"
)

// wsLoopSupported says whether this system has the event loop: here the
// broadcast mode's subscribers are clients, each with its goroutines.
const wsLoopSupported = false

type wsLoop struct{ lost atomic.Int64 }

func startWSLoop([]*wsSub) (*wsLoop, error) {
	return nil, errors.New("event loop: not supported on this system")
}

func (*wsLoop) close() {}

func (*wsSub) writeFD([]byte) error { return errors.New("event loop: not supported on this system") }
func (*wsSub) closeFD()             {}
