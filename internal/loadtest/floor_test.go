package loadtest

import (
	"os"
	"testing"
	"time"
)

// TestFloorWriterProcess is the writer process of TestRunFloor (the test
// binary run again), not a test of its own.
func TestFloorWriterProcess(t *testing.T) {
	addr := os.Getenv("LOADTEST_FLOOR_WRITER")
	if addr == "" {
		return
	}
	cfg := FloorConfig{Sockets: 20, Rate: 50, Duration: 400 * time.Millisecond}
	if err := RunFloorWriter(t.Context(), cfg, addr, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

func TestRunFloor(t *testing.T) {
	if !wsLoopSupported {
		t.Skip("no event loop on this system")
	}
	// The writer command: this test binary, running the test above, with
	// the address RunFloor appends passed on through the environment.
	sh, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := []string{"/bin/sh", "-c", `LOADTEST_FLOOR_WRITER="$0" exec "` + sh + `" -test.run '^TestFloorWriterProcess$'`}
	rep, err := RunFloor(t.Context(), FloorConfig{Sockets: 20, Rate: 50, Duration: 400 * time.Millisecond, WriterCmd: cmd})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bursts != 20 || rep.Complete != 20 || rep.Delivered != 400 || rep.Expected != 400 {
		t.Errorf("bursts %d, complete %d, delivered %d of %d; want 20 whole bursts of 20", rep.Bursts, rep.Complete, rep.Delivered, rep.Expected)
	}
	if rep.LastP50 <= 0 || rep.LastP99 < rep.LastP50 || rep.LastMax < rep.LastP99 || rep.WriterCPU <= 0 || rep.ReaderCPU <= 0 {
		t.Errorf("figures: %+v", rep)
	}
}

func TestFloorValidate(t *testing.T) {
	for _, c := range []FloorConfig{
		{Sockets: 0},
		{Sockets: 1, Rate: -1},
		{Sockets: 1, Rate: 5000},
		{Sockets: 1, Size: 8},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	c := FloorConfig{Sockets: 3}
	if err := c.Validate(); err != nil || c.Rate != DefaultBroadcastRate || c.Size != DefaultFloorSize || c.Duration != DefaultDuration {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}
