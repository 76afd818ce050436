package server

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"qrsync/netguard"
)

// An event stream outlives its request. Served the usual way, each idle
// stream would keep Hertz's whole request for its lifetime: the handler
// goroutine with its deep stack, the RequestContext and the connection's
// read and write buffers, about 30 KB in all, most of it for nothing. So
// once a stream has checked its request and set its headers it takes the
// connection from Hertz (a hijack) and serves it on its own: Hertz's
// goroutine, buffers and context go back to it, and the stream keeps only
// the socket, two small goroutines and its place in the log.
//
// Hertz closes every connection when its serve loop ends, hijacked or not,
// so the connection Hertz sees (answerConn) ignores that Close once a
// stream owns it; the stream closes it itself when it ends.

// Who has a connection: answerConn.owner.
const (
	connHertz  int32 = iota // Hertz serves requests on it
	connWanted              // a stream asked for it; Hertz is finishing the request
	connTaken               // a stream owns it, and closes it
)

type answerConnKey struct{}

// onAccept is Hertz's accept hook: the request's context carries the
// netguard connection (for its head deadline) and the answerConn (for a
// stream to take).
func onAccept(conn net.Conn) context.Context {
	ctx := netguard.OnAccept(conn)
	if a, ok := conn.(*answerConn); ok {
		ctx = context.WithValue(ctx, answerConnKey{}, a)
	}
	return ctx
}

// answerConnOf is the connection a request arrived on, or nil.
func answerConnOf(ctx context.Context) *answerConn {
	a, _ := ctx.Value(answerConnKey{}).(*answerConn)
	return a
}

// want marks the connection as wanted by a stream: the request it carries
// is its last under Hertz, so no next head is awaited on it.
func (c *answerConn) want() { c.owner.Store(connWanted) }

// wanted reports whether a stream asked for the connection.
func (c *answerConn) wanted() bool { return c != nil && c.owner.Load() != connHertz }

// take hands the connection to the stream. It reports false if Hertz
// already closed it (the request failed after the handler returned).
func (c *answerConn) take() bool { return c.owner.CompareAndSwap(connWanted, connTaken) }

// Close closes the connection, unless a stream owns it. A connection
// wanted by a stream that never took it is closed as usual, so a request
// that failed on its way out leaves no socket behind.
func (c *answerConn) Close() error {
	if c.owner.CompareAndSwap(connWanted, connHertz) || c.owner.Load() == connHertz {
		return c.Conn.Close()
	}
	return nil
}

// chunkWriter writes a detached stream's body to its connection as HTTP/1.1
// chunks, each write at once and whole: the response head (which Hertz
// never writes, since the stream hijacks it) goes out with the first. It
// is the ExtWriter beneath Hertz's sse.Writer, which frames the events.
//
// Each write must complete within timeout, or the viewer is cut off: no
// one ever waits for a viewer (events come from the durable log, at the
// viewer's own pace), so this is only about not pinning a goroutine and a
// socket to a peer that stopped reading; it reconnects and catches up from
// its last id. The deadline is the stream's own: a server-wide write
// timeout would also cut slow downloads of large originals.
type chunkWriter struct {
	conn    *streamConn
	timeout time.Duration
	head    []byte // the response head, until it is sent
}

// Write sends p as one chunk.
func (w *chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // a zero-length chunk would end the body
	}
	b := make([]byte, 0, len(w.head)+len(p)+16)
	b = strconv.AppendInt(append(b, w.head...), int64(len(p)), 16)
	b = append(append(append(b, "\r\n"...), p...), "\r\n"...)
	w.head = nil
	if err := w.send(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush does nothing: every Write is already on the wire.
func (w *chunkWriter) Flush() error { return nil }

// Finalize does nothing. Hertz calls it when the handler returns, which for
// a detached stream is when it begins; end finishes the body.
func (w *chunkWriter) Finalize() error { return nil }

// end sends the last chunk: the stream is over, not cut.
func (w *chunkWriter) end() error {
	return w.send([]byte("0\r\n\r\n"))
}

// send writes b, bytes already framed as chunks, after the head if it is
// still unsent.
func (w *chunkWriter) send(b []byte) error {
	if w.head != nil {
		b = append(w.head, b...)
		w.head = nil
	}
	return w.conn.write(b, w.timeout)
}

// errSlowViewer ends a stream whose viewer stopped reading.
var errSlowViewer = errors.New("viewer cut off")

// errViewerLeft ends a stream whose viewer closed its connection.
var errViewerLeft = errors.New("viewer left")

// waker ends a stream's wait (stream.wait) when there is something to do:
// the tail moved, news came, the stream's timer rang, the viewer left or
// the server is stopping. A wake is a token in a channel of one, so it
// never blocks (the tail and news call it for every stream) and one that
// comes while the stream is busy is not lost: the next wait returns at
// once and the stream looks again. A read of the log the stream makes
// itself is cancelled instead.
type waker struct {
	ch     chan struct{} // holds the pending wake
	left   atomic.Bool   // the viewer left: set before its wake
	mu     sync.Mutex
	woken  bool               // since begin
	cancel context.CancelFunc // the log read waiting now, if any
}

func newWaker() *waker { return &waker{ch: make(chan struct{}, 1)} }

// begin starts a wait: wakes from now on end it.
func (w *waker) begin() {
	w.mu.Lock()
	w.woken = false
	w.mu.Unlock()
}

// wake ends the wait, or the next one if none waits yet.
func (w *waker) wake() {
	w.mu.Lock()
	w.woken = true
	cancel := w.cancel
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	select {
	case w.ch <- struct{}{}:
	default: // a wake is pending already
	}
}

// viewerLeft wakes the stream for the last time: its viewer is gone.
func (w *waker) viewerLeft() {
	w.left.Store(true)
	w.wake()
}

// cancelOnWake has a wake call cancel, until cancelOnWake(nil). It
// reports false, leaving nothing set, if a wake came since begin.
func (w *waker) cancelOnWake(cancel context.CancelFunc) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cancel != nil && w.woken {
		return false
	}
	w.cancel = cancel
	return true
}
