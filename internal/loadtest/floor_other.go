//go:build !linux

package loadtest

import (
	"context"
	"errors"
	"io"
)

var errNoFloor = errors.New("floor: not supported on this system")

// RunFloor is not supported on this system.
func RunFloor(context.Context, FloorConfig) (*FloorReport, error) { return nil, errNoFloor }

// RunFloorWriter is not supported on this system.
func RunFloorWriter(context.Context, FloorConfig, string, io.Writer) error { return errNoFloor }
