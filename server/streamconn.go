package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"qrsync/netguard"
)

// streamConn is the connection a detached stream owns, with the two things
// a stream does for every message made as cheap as the socket allows.
//
// Through the connection's own Write, each message would arm a write
// deadline and disarm it, a thousand viewers times every event. On a
// plain TCP socket (on unix, and not under TLS) the stream uses the
// socket itself: it writes without a deadline, and arms one only if the
// socket's buffer is full and the write has to wait; and its read skips
// the guard, which only times request heads, and a stream's connection
// carries no more of them. Anywhere else it uses the connection's own
// Read, Write and deadlines, which mean the same.
type streamConn struct {
	conn net.Conn        // the connection as accepted: closed through it
	tcp  *net.TCPConn    // the socket beneath, when raw is set
	raw  syscall.RawConn // nil: use conn's own methods

	w       rawWrite           // the write in progress, through raw
	writeFD func(uintptr) bool // writeSome, as raw.Write takes it
}

// newStreamConn wraps c, a connection as the guard hands it out.
func newStreamConn(c net.Conn) *streamConn {
	sc := &streamConn{conn: c}
	if g, ok := c.(*netguard.Conn); ok && rawSockets {
		if tcp, ok := g.NetConn().(*net.TCPConn); ok {
			if raw, err := tcp.SyscallConn(); err == nil {
				sc.tcp, sc.raw = tcp, raw
			}
		}
	}
	return sc
}

// waitGone returns when the viewer leaves, or sends a byte (it then
// speaks a request nothing here will answer), or the connection is
// closed. It runs on a goroutine of its own, beside the stream's writes.
func (c *streamConn) waitGone() {
	var b [1]byte
	if c.raw != nil {
		c.tcp.Read(b[:])
		return
	}
	c.conn.Read(b[:])
}

// write writes b whole. A write that makes no progress for timeout fails
// with errSlowViewer.
func (c *streamConn) write(b []byte, timeout time.Duration) error {
	var err error
	if c.raw != nil {
		err = c.writeRaw(b, timeout)
	} else if err = c.conn.SetWriteDeadline(time.Now().Add(timeout)); err == nil {
		_, err = c.conn.Write(b)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: no write progress in %v", errSlowViewer, timeout)
	}
	return err
}

// Close closes the connection, through the guard that counts it.
func (c *streamConn) Close() error { return c.conn.Close() }
