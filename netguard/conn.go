package netguard

import (
	"container/list"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Errors a Conn's Read returns once the guard has closed it. Both match
// syscall.ECONNRESET under errors.Is: Hertz logs every connection error at
// Error level except a reset or a broken pipe, and one line per cut
// connection is exactly the log flood a connection flood must not cause.
// For Hertz the connection did go away under it, as with a reset.
var (
	// ErrHeadTimeout: the request head did not arrive within HeaderTimeout.
	// It is a timeout (net.Error) and matches os.ErrDeadlineExceeded.
	ErrHeadTimeout error = errHeadTimeout
	// ErrEvicted: the connection was idle, and closed to make room for a
	// new one or because the listener closed.
	ErrEvicted error = errEvicted
)

var (
	errHeadTimeout = &guardError{msg: "netguard: request head not received in time", timeout: true}
	errEvicted     = &guardError{msg: "netguard: idle connection closed"}
)

type guardError struct {
	msg     string
	timeout bool
}

func (e *guardError) Error() string   { return e.msg }
func (e *guardError) Timeout() bool   { return e.timeout }
func (e *guardError) Temporary() bool { return false }

func (e *guardError) Is(target error) bool {
	return target == syscall.ECONNRESET || (e.timeout && target == os.ErrDeadlineExceeded)
}

// Conn is a connection accepted by a Listener. The server marks where
// request heads begin and end, since only it parses them: HeadDone once a
// head has been read, AwaitHead once its handler has returned. Between
// AwaitHead and HeadDone, reads are bounded by the head deadline.
//
// Its methods are safe for concurrent use.
type Conn struct {
	net.Conn

	l      *Listener
	bucket *ipBucket // nil when the remote address is not IP

	// watch mirrors awaiting && !gotByte, so that a Read outside a head
	// (bodies, the bulk of the bytes) takes no lock.
	watch  atomic.Bool
	closed atomic.Bool
	cause  atomic.Pointer[guardError] // why the guard closed it, if it did

	mu        sync.Mutex
	awaiting  bool      // the next bytes are a request head
	gotByte   bool      // a byte of that head has arrived
	headStart time.Time // when the head's clock started; zero: not yet
	userRead  time.Time // the read deadline the server set

	// Guarded by l.mu.
	released bool          // counted out of the caps
	idleAll  *list.Element // in l.idle, when idle
	idleIP   *list.Element // in bucket.idle, when idle
}

// HeadDone tells c that a request head has been read: reads are no longer
// bounded by the head deadline (a body's pace is the server's business, and
// an event stream never reads), and c is not idle. Call it first thing in
// the first middleware. A nil c is a no-op.
func (c *Conn) HeadDone() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.awaiting {
		return
	}
	c.awaiting = false
	c.watch.Store(false)
	c.l.markBusy(c)
	_ = c.applyLocked()
}

// AwaitHead tells c that its request's handler has returned, so the next
// bytes are a new head. The head's clock starts at its first byte: the wait
// for that byte is the server's idle timeout. c becomes idle, and so may be
// closed to make room, only when the server next reads from it, not before:
// Hertz writes the response (a whole file, for a body stream) after the
// handler returns. Bytes read after AwaitHead count as the next head, so a
// request body the handler left unread, which Hertz drains after answering,
// must drain within HeaderTimeout. A nil c is a no-op.
func (c *Conn) AwaitHead() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.awaiting = true
	c.gotByte = false
	c.headStart = time.Time{}
	c.watch.Store(true)
	c.l.markBusy(c)
	_ = c.applyLocked()
}

// Read reads from the connection, bounded, while a head is awaited, by the
// earlier of the server's read deadline and the head deadline. At the head
// deadline c is closed and Read returns ErrHeadTimeout; once the guard has
// closed c it returns ErrHeadTimeout or ErrEvicted.
func (c *Conn) Read(b []byte) (int, error) {
	if c.watch.Load() && !c.startWait() {
		return 0, c.causeError()
	}
	n, err := c.Conn.Read(b)
	if n > 0 && c.watch.Load() {
		c.gotHeadByte()
	}
	if err != nil {
		err = c.readError(err)
	}
	return n, err
}

// ReadFrom passes an io.Copy to the connection's own ReadFrom, so that
// serving a file from disk still uses sendfile(2) through the guard.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// NetConn is the connection the guard wraps, for a server that takes over
// a connection on which no request head will come again (an event stream)
// and wants its socket: what it does there is not guarded.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// writerOnly hides a ReadFrom, so that io.Copy cannot come back to it.
type writerOnly struct{ io.Writer }

// SetReadDeadline sets the server's read deadline; the connection's
// effective one is the earlier of it and the head deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.userRead = t
	return c.applyLocked()
}

// SetDeadline sets the write deadline, and the read deadline as
// SetReadDeadline does.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// Close closes the connection. It counts c out of the caps once however
// often it is called, by the server and by the guard.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return c.Conn.Close() // the connection's own "already closed"
	}
	err := c.Conn.Close()
	c.l.release(c)
	return err
}

// applyLocked sets the effective read deadline. c.mu is held.
func (c *Conn) applyLocked() error {
	d := c.userRead
	if c.awaiting && !c.headStart.IsZero() {
		if h := c.headStart.Add(c.l.cfg.HeaderTimeout); d.IsZero() || h.Before(d) {
			d = h
		}
	}
	return c.Conn.SetReadDeadline(d)
}

// startWait runs when a read begins while a head is awaited and none of it
// has arrived: from now on c is idle. It reports false, having closed c, if
// the listener is closed: the next request would find a server shutting
// down.
func (c *Conn) startWait() bool {
	c.mu.Lock()
	ok := true
	if c.awaiting && !c.gotByte {
		ok = c.l.markIdle(c)
	}
	c.mu.Unlock()
	if !ok {
		c.closeWith(errEvicted)
	}
	return ok
}

// gotHeadByte runs when a read returns the first bytes of an awaited head:
// c is no longer idle, and the head's clock starts if it had not.
func (c *Conn) gotHeadByte() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.awaiting || c.gotByte {
		return
	}
	c.gotByte = true
	c.watch.Store(false)
	c.l.markBusy(c)
	if c.headStart.IsZero() {
		c.headStart = time.Now()
		_ = c.applyLocked()
	}
}

// readError is what Read returns for err: the guard's cause if it closed
// c, ErrHeadTimeout (closing c) if err is the head deadline passing.
func (c *Conn) readError(err error) error {
	if cause := c.causeError(); cause != nil {
		return cause
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	c.mu.Lock()
	// If the server's deadline was earlier and has passed, the head's has
	// not: that timeout is the server's own, and c stays open.
	expired := c.awaiting && !c.headStart.IsZero() &&
		!time.Now().Before(c.headStart.Add(c.l.cfg.HeaderTimeout))
	c.mu.Unlock()
	if !expired {
		return err
	}
	if c.closeWith(errHeadTimeout) {
		c.l.emit(Event{Kind: EventHeadTimeout})
	}
	return c.causeError()
}

// closeWith closes c for cause; it reports whether cause is the one that
// closed it (the first).
func (c *Conn) closeWith(cause *guardError) bool {
	if !c.cause.CompareAndSwap(nil, cause) {
		return false
	}
	c.Close()
	return true
}

// causeError is the guard's cause as an error, nil (untyped) if none.
func (c *Conn) causeError() error {
	if g := c.cause.Load(); g != nil {
		return g
	}
	return nil
}
