// Package hertzfetch makes the GET requests of `qrsync watch` with Hertz's
// HTTP client, streaming every response body, so that the event stream is
// read as it arrives and a large original goes straight to disk instead of
// into memory.
//
// Its one subtle part is the body it hands out. eventsource.Client closes a
// body while a Read is blocked on it, to stop promptly, and Hertz's stream
// allows neither that nor a plain Close of an unfinished stream: its Close
// first reads the rest of the body so that the connection can be reused,
// which on an event stream that never ends means forever. So a body that
// was not read to its end is never closed gracefully here: its connection
// is shut first (which also wakes a blocked Read), and the response goes
// back to Hertz's pools only once no Read is running any more, by whichever
// of Close and Read finishes last. A body read to its end is released
// normally and its connection reused.
//
// A body also watches for silence: a Read that gets no byte for the stall
// timeout shuts the connection and fails. The server sends a comment at
// least every 20 s, so a longer silence means a dead path (a laptop that
// slept, a NAT that forgot the connection) that TCP alone may not notice
// for many minutes; failing lets the caller reconnect. The timer runs only
// while a Read waits, so a consumer that is busy elsewhere (downloading a
// photo between two events) is never mistaken for a silent server.
package hertzfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cloudwego/hertz/pkg/app/client"
	"github.com/cloudwego/hertz/pkg/protocol"

	"qrsync/eventsource"
)

// Defaults for the zero values of Options.
const (
	// DefaultStallTimeout is how long a Read may wait for a byte: over two
	// of the server's keep-alive intervals (at most 20 s, DESIGN §4).
	DefaultStallTimeout = 45 * time.Second
	// DefaultDialTimeout bounds opening a TCP connection.
	DefaultDialTimeout = 10 * time.Second
)

// userAgent names the client in the server's logs.
const userAgent = "qrsync-watch"

// ErrStalled is returned by a body's Read when nothing arrived for the
// stall timeout; the connection has been shut.
var ErrStalled = errors.New("hertzfetch: no data from the server for too long")

// errClosed is returned by Read after Close.
var errClosed = errors.New("hertzfetch: body closed")

// Options tunes a Fetcher; the zero value uses the defaults.
type Options struct {
	// StallTimeout is how long a Read may wait for a byte, and how long a
	// request may wait for its answer's headers; 0 means
	// DefaultStallTimeout, a negative value means no limit.
	StallTimeout time.Duration
	// DialTimeout bounds opening a connection; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
}

// Fetcher makes streaming GET requests with one Hertz client, whose
// connections it pools. It is safe for concurrent use.
type Fetcher struct {
	c     *client.Client
	stall time.Duration
}

// New returns a Fetcher.
func New(opts Options) (*Fetcher, error) {
	if opts.StallTimeout == 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.DialTimeout < 0 {
		return nil, errors.New("hertzfetch: DialTimeout must not be negative")
	}
	c, err := client.NewClient(
		// Every body is a stream: events must show as they arrive, and
		// originals (up to 50 MiB each) must not sit in memory.
		client.WithResponseBodyStream(true),
		client.WithDialTimeout(opts.DialTimeout),
		client.WithNoDefaultUserAgentHeader(true),
		// No read timeout: on some platforms Hertz applies it as one
		// deadline for the whole response, which would cut a long stream.
		// Silence is caught per Read by the body instead.
	)
	if err != nil {
		return nil, fmt.Errorf("hertzfetch: %w", err)
	}
	return &Fetcher{c: c, stall: max(opts.StallTimeout, 0)}, nil
}

// Close closes the pooled idle connections. Bodies still open stay usable.
func (f *Fetcher) Close() error {
	f.c.CloseIdleConnections()
	return nil
}

// Fetch sends a GET for url with the given headers and returns the answer
// with its body still streaming. ctx bounds the wait for the answer; once
// Fetch has returned, cancel a read by closing the body, which is safe at
// any time, also while a Read is blocked, and more than once.
func (f *Fetcher) Fetch(ctx context.Context, url string, header map[string]string) (*eventsource.Response, error) {
	req := protocol.AcquireRequest()
	resp := protocol.AcquireResponse()
	req.SetRequestURI(url)
	req.SetMethod("GET")
	req.Header.Set("User-Agent", userAgent)
	for k, v := range header {
		req.Header.Set(k, v)
	}

	// Hertz's Do does not watch ctx once the request is on its way, so it
	// runs aside; if ctx ends or the answer is too slow, Fetch returns at
	// once and the request is cleaned up whenever Do gives up.
	done := make(chan error, 1)
	go func() { done <- f.c.Do(ctx, req, resp) }()
	var timeout <-chan time.Time
	if f.stall > 0 {
		t := time.NewTimer(f.stall)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = fmt.Errorf("hertzfetch: no answer within %v", f.stall)
	}
	if err != nil {
		go func() {
			if <-done == nil {
				newBody(resp, 0).Close()
			} else {
				protocol.ReleaseResponse(resp)
			}
			protocol.ReleaseRequest(req)
		}()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	protocol.ReleaseRequest(req)
	return &eventsource.Response{
		Status:      resp.StatusCode(),
		ContentType: string(resp.Header.ContentType()),
		Body:        newBody(resp, f.stall),
	}, nil
}

// forceCloser is the power of Hertz's client stream to shut its connection
// without reading the rest of the body (and without waiting for a Read).
type forceCloser interface {
	ForceClose() error
}

// body is a response body that may be closed at any time; see the package
// doc. Of Read and Close, whichever sees the other finish last releases the
// response, exactly once.
type body struct {
	resp   *protocol.Response
	stream io.Reader
	stall  time.Duration

	mu      sync.Mutex
	reading bool   // a Read is in the stream
	gen     uint64 // counts Reads, so a late stall timer hits only its own
	closed  bool   // Close was called
	shut    bool   // the connection was shut (Close, or a stall)
	stalled bool   // ... because of a stall
	eof     bool   // the stream was read to its end: its connection is reusable
}

func newBody(resp *protocol.Response, stall time.Duration) *body {
	return &body{resp: resp, stream: resp.BodyStream(), stall: stall}
}

// Read reads from the stream. After a stall or Close it fails.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return 0, errClosed
	case b.stalled:
		b.mu.Unlock()
		return 0, ErrStalled
	case b.eof:
		b.mu.Unlock()
		return 0, io.EOF
	}
	b.reading = true
	b.gen++
	gen := b.gen
	b.mu.Unlock()

	var timer *time.Timer
	if b.stall > 0 {
		timer = time.AfterFunc(b.stall, func() { b.onStall(gen) })
	}
	n, err := b.stream.Read(p)
	if timer != nil {
		timer.Stop()
	}

	b.mu.Lock()
	b.reading = false
	if err == io.EOF {
		b.eof = true
	}
	closed, stalled := b.closed, b.stalled
	b.mu.Unlock()
	switch {
	case closed:
		// Close ran while we read and left the release to us.
		b.release()
		if err == nil || err == io.EOF {
			err = errClosed
		}
	case stalled && err != nil && err != io.EOF:
		err = ErrStalled
	}
	return n, err
}

// onStall shuts the connection if Read number gen is still waiting.
func (b *body) onStall(gen uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reading && b.gen == gen && !b.shut {
		b.stalled = true
		b.shutLocked()
	}
}

// shutLocked closes the connection under the stream, which makes a blocked
// Read return. Callers hold b.mu.
func (b *body) shutLocked() {
	if b.shut {
		return
	}
	b.shut = true
	if fc, ok := b.stream.(forceCloser); ok {
		fc.ForceClose()
	}
}

// Close ends the body. It never blocks: if a Read is running, the
// connection is shut so that the Read returns, and that Read releases the
// response.
func (b *body) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	if !b.eof {
		// The rest was not read: the connection cannot carry another
		// request, and Hertz's own Close would read to the end first.
		b.shutLocked()
	}
	release := !b.reading
	b.mu.Unlock()
	if release {
		b.release()
	}
	return nil
}

// release hands the response (and, after a complete read, its connection)
// back to Hertz. It runs exactly once, with no Read in the stream.
func (b *body) release() {
	protocol.ReleaseResponse(b.resp)
}
