//go:build unix

package server

import (
	"syscall"
	"time"
)

// rawSockets says a stream may use its socket directly (streamconn.go).
const rawSockets = true

// writeRaw writes b whole, with write(2) straight on the socket. Only a
// write that finds the socket's buffer full arms the deadline, and then
// disarms it: in the common case a message costs one system call and no
// timer.
func (c *streamConn) writeRaw(b []byte, timeout time.Duration) error {
	c.w = rawWrite{b: b, timeout: timeout}
	if c.writeFD == nil {
		c.writeFD = c.writeSome // made once: a closure per write would be garbage per message
	}
	err := c.raw.Write(c.writeFD)
	if c.w.armed {
		if derr := c.tcp.SetWriteDeadline(time.Time{}); c.w.err == nil {
			c.w.err = derr
		}
	}
	if err == nil {
		err = c.w.err
	}
	c.w = rawWrite{}
	return err
}

// rawWrite is the write in progress on a streamConn's socket.
type rawWrite struct {
	b       []byte // not yet written
	timeout time.Duration
	armed   bool  // the write deadline is set
	err     error // the write's own failure
}

// writeSome is the callback of writeRaw: it writes what it can of c.w.b
// and reports whether the write is over.
func (c *streamConn) writeSome(fd uintptr) bool {
	w := &c.w
	for len(w.b) > 0 {
		n, err := syscall.Write(int(fd), w.b)
		if n > 0 {
			w.b = w.b[n:]
		}
		switch err {
		case nil, syscall.EINTR:
		case syscall.EAGAIN:
			if !w.armed {
				w.armed = true
				if w.err = c.tcp.SetWriteDeadline(time.Now().Add(w.timeout)); w.err != nil {
					return true
				}
			}
			return false // wait until writable, or the deadline
		default:
			w.err = err
			return true
		}
	}
	return true
}
