//go:build !unix

package server

import (
	"errors"
	"time"
)

// rawSockets says a stream may use its socket directly: not here, where
// streams use the connection's own methods (streamconn.go).
const rawSockets = false

func (c *streamConn) writeRaw([]byte, time.Duration) error { return errors.ErrUnsupported }

// rawWrite is the write in progress on a socket, where there is one.
type rawWrite struct{}
