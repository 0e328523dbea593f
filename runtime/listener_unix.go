//go:build unix

package runtime

import (
	"math"
	"syscall"
)

// openFileLimit returns the soft limit on open files, or 0 when it cannot
// be read or is unlimited (or larger than any server needs).
func openFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > math.MaxInt32 {
		return 0
	}
	return int(r.Cur)
}
