// Package servetest builds the cometgen command and runs `cometgen serve` for
// tests that need a real server process on the loopback interface.
//
//	bin := servetest.Build(t)
//	srv := servetest.Start(t, bin)
//	// use srv.URL, e.g. http://127.0.0.1:41234/cometd
//
// The server is stopped when the test ends; its output goes to the test log.
// BuildPackage and StartCommand do the same for another server program, such
// as interop/apiserver; StartCommandEnv adds environment variables.
package servetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Package is the import path of the cometgen command.
const Package = "github.com/cometgen/cometgen/cmd/cometgen"

// ReadyTimeout bounds how long Start waits for the server's ready line.
const ReadyTimeout = 30 * time.Second

// StopTimeout bounds how long Stop waits after an interrupt before killing.
const StopTimeout = 10 * time.Second

var urlPattern = regexp.MustCompile(`http://\S+`)

// Build compiles the cometgen command into t.TempDir() and returns the path
// of the binary.
func Build(t testing.TB) string {
	t.Helper()
	return BuildPackage(t, Package)
}

// BuildPackage compiles the main package pkg (an import path, such as
// "github.com/cometgen/cometgen/interop/apiserver") into t.TempDir() and
// returns the path of the binary.
func BuildPackage(t testing.TB, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("servetest: go tool not found on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), path.Base(pkg))
	cmd := exec.Command(goTool, "build", "-o", bin, pkg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("servetest: go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Server is a running `cometgen serve` process.
type Server struct {
	// URL is the Bayeux endpoint, e.g. http://127.0.0.1:41234/cometd, as
	// printed by the server on its ready line.
	URL string

	t        testing.TB
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	waitErr  error
	stopOnce sync.Once
}

// Start runs `bin serve --addr 127.0.0.1:0 args...`, waits for the line
// that carries its URL, and stops the server when the test ends. Server
// output is logged line by line.
func Start(t testing.TB, bin string, args ...string) *Server {
	t.Helper()
	return StartCommand(t, bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
}

// StartCommand runs bin with exactly args (a server other than `cometgen
// serve`, such as one built with BuildPackage, which must print a line with
// its http:// URL when ready and exit with status 0 on an interrupt), and
// otherwise behaves as Start.
func StartCommand(t testing.TB, bin string, cmdArgs ...string) *Server {
	t.Helper()
	return StartCommandEnv(t, nil, bin, cmdArgs...)
}

// StartCommandEnv is StartCommand with env ("KEY=value" entries) added to
// the environment the server inherits from the test, e.g. the secrets of
// `cometgen serve --spec`.
func StartCommandEnv(t testing.TB, env []string, bin string, cmdArgs ...string) *Server {
	t.Helper()
	cmd := exec.Command(bin, cmdArgs...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	ready := make(chan string, 1)
	var (
		mu     sync.Mutex
		early  bytes.Buffer // output before ready, for the failure message
		isUp   bool
		logged = func(stream, line string) {
			t.Logf("server %s: %s", stream, line)
			mu.Lock()
			defer mu.Unlock()
			if !isUp {
				fmt.Fprintf(&early, "%s: %s\n", stream, line)
			}
		}
	)
	stdout := &lineWriter{fn: func(line string) {
		logged("stdout", line)
		mu.Lock()
		defer mu.Unlock()
		if !isUp {
			if u := urlPattern.FindString(line); u != "" {
				isUp = true
				ready <- u
			}
		}
	}}
	stderr := &lineWriter{fn: func(line string) { logged("stderr", line) }}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("servetest: start %s: %v", bin, err)
	}
	s := &Server{t: t, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		stdout.flush()
		stderr.flush()
		close(s.done)
	}()
	t.Cleanup(s.Stop)

	select {
	case u := <-ready:
		s.URL = strings.TrimRight(u, ".,;")
		return s
	case <-s.done:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("servetest: %s %s exited before it was ready: %v\n%s", bin, strings.Join(cmdArgs, " "), s.waitErr, early.String())
	case <-time.After(ReadyTimeout):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("servetest: %s %s printed no URL within %v\n%s", bin, strings.Join(cmdArgs, " "), ReadyTimeout, early.String())
	}
	return nil
}

// Stop interrupts the server, waits up to StopTimeout for it to exit, then
// kills it. It reports an error if the server exits with a failure status
// after the interrupt. Stop is called automatically when the test ends and
// is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			if s.URL != "" { // else Start has already failed the test
				s.t.Errorf("servetest: server exited before the test ended: %v", s.waitErr)
			}
			return
		default:
		}
		if err := s.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.t.Logf("servetest: interrupt: %v", err)
		}
		select {
		case <-s.done:
			if s.waitErr != nil {
				s.t.Errorf("servetest: server did not exit cleanly on interrupt: %v", s.waitErr)
			}
		case <-time.After(StopTimeout):
			s.t.Errorf("servetest: server still running %v after interrupt; killing it", StopTimeout)
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// lineWriter calls fn for each complete line written to it; flush passes on
// a last line that has no newline.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.buf[:i]), "\r")
		w.buf = w.buf[i+1:]
		w.fn(line)
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		line := strings.TrimRight(string(w.buf), "\r")
		w.buf = nil
		w.fn(line)
	}
}
