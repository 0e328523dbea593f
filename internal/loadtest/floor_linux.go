package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RunFloor runs the writer (cfg.WriterCmd), accepts its connections and
// reads its bursts: see FloorConfig.
func RunFloor(ctx context.Context, cfg FloorConfig) (*FloorReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.WriterCmd) == 0 {
		return nil, errors.New("floor: no writer command")
	}
	if _, err := RaiseFileLimit(uint64(cfg.Sockets) + 256); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	args := append(slices.Clone(cfg.WriterCmd[1:]), ln.Addr().String())
	cmd := exec.CommandContext(ctx, cfg.WriterCmd[0], args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("floor: writer: %w", err)
	}
	fds := make([]int, 0, cfg.Sockets)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	accepted := make(chan error, 1)
	go func() {
		for len(fds) < cfg.Sockets {
			c, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			fd, err := detachFD(c)
			if err != nil {
				accepted <- err
				return
			}
			fds = append(fds, fd)
		}
		accepted <- nil
	}()
	if err := <-accepted; err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("floor: accept: %w", err)
	}
	n := int(math.Ceil(cfg.Rate * cfg.Duration.Seconds()))
	rep := &FloorReport{Config: cfg}
	last, count, sent := make([]int64, n+1), make([]int64, n+1), make([]int64, n+1)
	cpu0 := cpuTime()
	err = readFloor(fds, cfg.Size, cfg.Duration+10*time.Second, last, count, sent)
	rep.ReaderCPU = cpuTime() - cpu0
	if werr := cmd.Wait(); werr != nil {
		return nil, fmt.Errorf("floor: writer: %w: %s", werr, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "bursts" && f[2] == "cpu_ns" {
			rep.Bursts, _ = strconv.Atoi(f[1])
			ns, _ := strconv.ParseInt(f[3], 10, 64)
			rep.WriterCPU = time.Duration(ns)
		}
	}
	var lat []time.Duration
	for b := 1; b <= min(rep.Bursts, n); b++ {
		rep.Delivered += count[b]
		if count[b] == int64(cfg.Sockets) {
			rep.Complete++
			lat = append(lat, time.Duration(last[b]-sent[b]))
		}
	}
	rep.Expected = int64(rep.Bursts) * int64(cfg.Sockets)
	slices.Sort(lat)
	rep.LastTimes = lastTimesOf(lat)
	return rep, nil
}

// readFloor reads fixed-size messages (burst number, start time) from fds
// with a readLoop, until every socket has ended or wait has passed.
func readFloor(fds []int, size int, wait time.Duration, last, count, sent []int64) error {
	r, err := newReadLoop(fds)
	if err != nil {
		return err
	}
	defer r.close()
	return r.run(nil, time.Now().Add(wait), func(_ int, in []byte, now int64) ([]byte, bool) {
		for ; len(in) >= size; in = in[size:] {
			b := binary.BigEndian.Uint64(in)
			if b >= 1 && b < uint64(len(count)) {
				count[b]++
				sent[b] = int64(binary.BigEndian.Uint64(in[8:]))
				last[b] = max(last[b], now)
			}
		}
		return in, true
	}, nil)
}

// detachFD takes c's socket away from Go's network poller (see
// wsSub.detach) and returns its descriptor.
func detachFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(f uintptr) { fd, derr = unix.Dup(int(f)) }); err != nil {
		return 0, err
	}
	if derr != nil {
		return 0, derr
	}
	c.Close()
	return fd, unix.SetNonblock(fd, true)
}

// RunFloorWriter is the writer side of RunFloor: it opens cfg.Sockets
// connections to addr, writes cfg.Rate bursts a second for cfg.Duration
// (each message its burst's number and start time, padded to cfg.Size),
// and prints "bursts N cpu_ns T" to out.
func RunFloorWriter(ctx context.Context, cfg FloorConfig, addr string, out io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := RaiseFileLimit(uint64(cfg.Sockets) + 256); err != nil {
		return err
	}
	fds := make([]int, cfg.Sockets)
	for i := range fds {
		c, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("floor writer: %w", err)
		}
		if fds[i], err = detachFD(c); err != nil {
			return fmt.Errorf("floor writer: %w", err)
		}
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	writers := cfg.Writers
	if writers <= 0 {
		writers = goruntime.GOMAXPROCS(0)
	}
	time.Sleep(time.Second) // the reader has registered every socket
	n := int(math.Ceil(cfg.Rate * cfg.Duration.Seconds()))
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	msg := make([]byte, cfg.Size)
	cpu0 := cpuTime()
	first := time.Now()
	bursts := 0
	for b := 1; b <= n && ctx.Err() == nil; b++ {
		time.Sleep(time.Until(first.Add(time.Duration(b-1) * interval)))
		binary.BigEndian.PutUint64(msg, uint64(b))
		binary.BigEndian.PutUint64(msg[8:], uint64(time.Now().UnixNano()))
		var wg sync.WaitGroup
		var werr error
		var once sync.Once
		for w := range writers {
			wg.Go(func() {
				for i := w; i < len(fds); i += writers {
					if err := writeFull(fds[i], msg); err != nil {
						once.Do(func() { werr = err })
						return
					}
				}
			})
		}
		wg.Wait()
		if werr != nil {
			return fmt.Errorf("floor writer: %w", werr)
		}
		bursts = b
	}
	cpu := cpuTime() - cpu0
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "bursts %d cpu_ns %d\n", bursts, cpu.Nanoseconds())
	return w.Flush()
}

// writeFull writes b to the non-blocking socket fd, waiting for room when
// it is full.
func writeFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(fds, 1000); err != nil && !errors.Is(err, unix.EINTR) {
				return err
			}
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}
