package interop_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFayeServer checks faye/server.mjs, the reference server that the
// benchmarks drive: it prints its URL, answers a Bayeux handshake over
// long-polling, and exits with status 0 on SIGTERM.
func TestFayeServer(t *testing.T) {
	node := requireNode(t)
	cmd := exec.Command(node, "faye/server.mjs", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &logWriter{t: t}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1) // the first line only; later ones are logged
	go func() {
		sc := bufio.NewScanner(stdout)
		for n := 0; sc.Scan(); n++ {
			if n == 0 {
				lines <- sc.Text()
			} else {
				t.Log(sc.Text())
			}
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
		stderr.flush()
	})

	ready := regexp.MustCompile(`^faye: serving Bayeux at (http://127\.0\.0\.1:\d+/cometd)$`)
	var url string
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("faye server exited without printing its ready line")
		}
		m := ready.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("first line %q does not match %v", line, ready)
		}
		url = m[1]
	case <-time.After(15 * time.Second):
		t.Fatal("faye server printed no ready line within 15s")
	}

	body := `[{"id":"1","channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling","websocket"]}]`
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	var replies []struct {
		Channel    string   `json:"channel"`
		Successful bool     `json:"successful"`
		ClientID   string   `json:"clientId"`
		Types      []string `json:"supportedConnectionTypes"`
	}
	err = json.NewDecoder(res.Body).Decode(&replies)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("handshake: HTTP %d, decode: %v", res.StatusCode, err)
	}
	if len(replies) != 1 || !replies[0].Successful || replies[0].ClientID == "" {
		t.Fatalf("handshake reply: %+v", replies)
	}
	for _, want := range []string{"websocket", "long-polling"} {
		if !strings.Contains(strings.Join(replies[0].Types, ","), want) {
			t.Errorf("faye does not offer %s: %v", want, replies[0].Types)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("faye server exit after SIGTERM: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("faye server still running 5s after SIGTERM")
	}
}
