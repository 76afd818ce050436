package eventsource

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Response is what a Connector got back from the server: only what the
// reconnect logic needs, so any HTTP stack (fetch in the browser, Hertz's
// client natively) can supply it.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// ContentType is the Content-Type header as sent.
	ContentType string
	// Body is the response body. Run always closes it, and may close it
	// while a Read is blocked (to stop promptly when its context is
	// cancelled), so Close must be safe to call concurrently with Read.
	Body io.ReadCloser
}

// A Connector opens one connection to the event stream. lastEventID is the
// value to send as the Last-Event-ID header (or ?lastEventId= where headers
// cannot be set); "" means send none. A non-nil error means the request
// failed on the network: Run will retry. The Connector should honour ctx.
type Connector func(ctx context.Context, lastEventID string) (*Response, error)

// State is the client's connection state, for showing the user whether the
// view is live.
type State int

// The states a Client goes through.
const (
	// StateConnecting is the first attempt, before anything has failed.
	StateConnecting State = iota
	// StateLive means the server accepted the stream and events flow.
	StateLive
	// StateReconnecting means the stream dropped or an attempt failed and
	// the client is waiting to try again, or trying.
	StateReconnecting
	// StateEnded is final: Run is returning.
	StateEnded
)

// String returns the state's name in lower case, as shown to users.
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateLive:
		return "live"
	case StateReconnecting:
		return "reconnecting"
	case StateEnded:
		return "ended"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// ErrStop is returned by an OnEvent callback to end Run cleanly: Run then
// returns nil.
var ErrStop = errors.New("eventsource: stopped")

// EndedError is returned by Run when the server answered in a way that means
// "do not come back" — the spec's "fail the connection": 204, 404, 410 or
// another 4xx, a 200 that is not text/event-stream, or another unexpected
// status. 5xx is not among them: it is retried (see Client).
type EndedError struct {
	// Status is the HTTP status code of the answer.
	Status int
	// ContentType is the answer's Content-Type, which explains a 200 that
	// was refused.
	ContentType string
}

// Error says in plain words why the stream ended.
func (e *EndedError) Error() string {
	const tail = "; not reconnecting"
	s := strconv.Itoa(e.Status)
	switch {
	case e.Status == 200:
		ct := e.ContentType
		if ct == "" {
			ct = "no content type"
		}
		return "eventsource: the server answered with " + quote(ct) + " instead of text/event-stream" + tail
	case e.Status == 204:
		return "eventsource: the server has no stream to send (204 No Content)" + tail
	case e.Status == 404:
		return "eventsource: the stream does not exist (404 Not Found)" + tail
	case e.Status == 410:
		return "eventsource: the stream has ended for good (410 Gone)" + tail
	case e.Status >= 400 && e.Status <= 499:
		return "eventsource: the server refused the stream (HTTP " + s + ")" + tail
	}
	return "eventsource: unexpected answer from the server (HTTP " + s + ")" + tail
}

// Client reads an event stream and keeps it open: it reconnects after every
// drop, resending the last event ID, until the server says the stream is
// over, the callback stops it, or the context is cancelled. It behaves like
// a browser's EventSource, with two differences made on purpose: a 5xx is
// retried with backoff (a proxy or a restarting instance answers 502/503 for
// a moment; giving up would leave the page dead), and repeated failures back
// off exponentially instead of retrying at a fixed rate.
//
// Set the fields, then call Run once; a Client must not run twice at the
// same time.
type Client struct {
	// Connect opens a connection; required.
	Connect Connector
	// LastEventID is the resume point: set it before Run to continue from a
	// saved position; Run updates it as events arrive (and when the stream
	// resets it). It moves past an event only once OnEvent has accepted it,
	// so after a failed OnEvent a resume delivers that event again. Read it
	// after Run returns (e.g. to persist it) or from OnState; OnEvent gets
	// the new value as Event.ID. Run's goroutine is its only writer, so
	// other goroutines must not read it while Run runs.
	LastEventID string
	// Backoff is the reconnection policy; the zero value is fine.
	Backoff Backoff
	// MaxEventSize bounds a line and an event's data; 0 means
	// DefaultMaxEventSize. An event past it drops the connection, which is
	// reported through OnState and retried with backoff.
	MaxEventSize int
	// OnEvent is called for each event, in order, on Run's goroutine. An
	// error ends Run: ErrStop cleanly (Run returns nil), any other error is
	// returned by Run.
	OnEvent func(Event) error
	// OnState is called on Run's goroutine on every state change, and again
	// for each further failed attempt while reconnecting. The error says why
	// (nil when live): the drop or failure for StateReconnecting, and for
	// StateEnded what Run returns (ErrStop after a clean stop).
	OnState func(State, error)
	// Sleep waits between attempts and must return early with ctx's error
	// when ctx is done; nil means a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Run connects and reads the stream until it ends for good. It returns
// ctx.Err() when the context is cancelled, an *EndedError when the server
// ended the stream, nil after OnEvent returned ErrStop, or the error OnEvent
// returned.
func (c *Client) Run(ctx context.Context) error {
	if c.Connect == nil {
		return errors.New("eventsource: Client.Connect is nil")
	}
	sleep := c.Sleep
	if sleep == nil {
		sleep = sleepContext
	}
	l := loop{
		connect:      func(id string) (*Response, error) { return c.Connect(ctx, id) },
		done:         ctx.Done(),
		cause:        ctx.Err,
		sleep:        func(d time.Duration) error { return sleep(ctx, d) },
		lastEventID:  &c.LastEventID,
		backoff:      c.Backoff,
		maxEventSize: c.MaxEventSize,
		onEvent:      c.OnEvent,
		onState:      c.OnState,
	}
	return l.run()
}

// Stream is Client without context.Context, for the browser build: there
// the context package, and the time formatting its Deadline method drags
// in, cost more of the download than the whole stream client. Closing
// Done plays the part of cancelling the context; everything else behaves
// exactly as Client does (the two share one implementation).
type Stream struct {
	// Connect opens a connection; required. It should give up once Done
	// is closed.
	Connect func(lastEventID string) (*Response, error)
	// Done stops Run when closed; nil means never.
	Done <-chan struct{}
	// LastEventID, Backoff, MaxEventSize, OnEvent and OnState are as in
	// Client.
	LastEventID  string
	Backoff      Backoff
	MaxEventSize int
	OnEvent      func(Event) error
	OnState      func(State, error)
	// Sleep waits between attempts and must return early with an error
	// once Done is closed; nil means a timer.
	Sleep func(d time.Duration) error
}

// ErrStopped is what Stream.Run returns (and reports with StateEnded)
// once Done is closed: Client's ctx.Err().
var ErrStopped = errors.New("eventsource: stopped")

// Run is Client.Run with Done in place of the context: it returns
// ErrStopped once Done is closed.
func (s *Stream) Run() error {
	if s.Connect == nil {
		return errors.New("eventsource: Stream.Connect is nil")
	}
	done := s.Done
	sleep := s.Sleep
	if sleep == nil {
		sleep = func(d time.Duration) error { return sleepDone(done, d) }
	}
	l := loop{
		connect:      s.Connect,
		done:         done,
		cause:        func() error { return ErrStopped },
		sleep:        sleep,
		lastEventID:  &s.LastEventID,
		backoff:      s.Backoff,
		maxEventSize: s.MaxEventSize,
		onEvent:      s.OnEvent,
		onState:      s.OnState,
	}
	return l.run()
}

// loop is what Client and Stream share: one run of the reconnect loop,
// stopped when done is closed, with cause saying why.
type loop struct {
	connect      func(lastEventID string) (*Response, error)
	done         <-chan struct{}
	cause        func() error
	sleep        func(time.Duration) error
	lastEventID  *string // the Client's or Stream's, kept current
	backoff      Backoff
	maxEventSize int
	onEvent      func(Event) error
	onState      func(State, error)
}

// stopped returns the cause once done is closed, else nil.
func (c *loop) stopped() error {
	select {
	case <-c.done:
		return c.cause()
	default:
		return nil
	}
}

func (c *loop) run() error {
	dec := NewDecoder(nil) // one decoder, buffers reused across connections
	dec.SetMaxEventSize(c.maxEventSize)

	var retry time.Duration // the server's last retry, 0 if none yet
	failures := 0
	c.setState(StateConnecting, nil)
	for {
		if err := c.stopped(); err != nil {
			return c.end(err)
		}
		drop, failed, final := c.connectOnce(dec, &retry)
		if final != nil {
			return c.end(final)
		}
		if err := c.stopped(); err != nil {
			return c.end(err)
		}
		if failed {
			failures++
		} else {
			failures = 0
		}
		c.setState(StateReconnecting, drop)
		if err := c.sleep(c.backoff.Delay(retry, failures)); err != nil {
			if stop := c.stopped(); stop != nil {
				err = stop
			}
			return c.end(err)
		}
	}
}

// connectOnce makes one attempt and reads the stream until it drops. It
// returns why it dropped and whether that counts as a failed attempt (no
// usable connection, or an event too large, which the server would resend
// on every resume), or a final error that ends Run.
func (c *loop) connectOnce(dec *Decoder, retry *time.Duration) (drop error, failed bool, final error) {
	resp, err := c.connect(*c.lastEventID)
	if err == nil && resp == nil {
		err = errors.New("the connector returned no response")
	}
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return &wrapError{"eventsource: cannot connect", err}, true, nil
	}
	body := resp.Body
	if body == nil {
		body = io.NopCloser(strings.NewReader(""))
	}
	closeBody := sync.OnceValue(body.Close)
	defer closeBody()
	if err := c.stopped(); err != nil {
		return nil, false, err
	}
	switch {
	case resp.Status == 200 && isEventStream(resp.ContentType):
	case resp.Status >= 500 && resp.Status <= 599:
		return errors.New("eventsource: server error (HTTP " + strconv.Itoa(resp.Status) + ")"), true, nil
	default:
		return nil, false, &EndedError{Status: resp.Status, ContentType: resp.ContentType}
	}

	// A Read blocked on a quiet stream would not see the stop: close the
	// body to stop it at once.
	if c.done != nil {
		left := make(chan struct{})
		defer close(left)
		go func() {
			select {
			case <-c.done:
				closeBody()
			case <-left:
			}
		}()
	}

	c.setState(StateLive, nil)
	dec.Reset(body)
	dec.SetLastEventID(*c.lastEventID)
	for {
		ev, err := dec.Next()
		if r, ok := dec.Retry(); ok {
			*retry = r
		}
		if err != nil {
			*c.lastEventID = dec.LastEventID()
			if err == io.EOF {
				return &wrapError{"eventsource: the server closed the stream", io.EOF}, false, nil
			}
			return &wrapError{"eventsource: stream dropped", err}, errors.Is(err, ErrEventTooLarge), nil
		}
		if err := c.stopped(); err != nil {
			// Events still buffered after a stop are not delivered.
			return nil, false, err
		}
		if c.onEvent != nil {
			if err := c.onEvent(ev); err != nil {
				if errors.Is(err, ErrStop) {
					*c.lastEventID = dec.LastEventID()
				}
				return nil, false, err
			}
		}
		*c.lastEventID = dec.LastEventID()
	}
}

// end reports StateEnded and turns ErrStop into a clean nil.
func (c *loop) end(err error) error {
	c.setState(StateEnded, err)
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

func (c *loop) setState(s State, err error) {
	if c.onState != nil {
		c.onState(s, err)
	}
}

// isEventStream reports whether a Content-Type is text/event-stream,
// parameters (such as a charset, which is ignored: the stream is always
// UTF-8) allowed.
func isEventStream(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return equalFoldASCII(strings.TrimSpace(mt), "text/event-stream")
}

// equalFoldASCII is strings.EqualFold for a lower-case ASCII want, without
// the Unicode case tables in the wasm build: besides ASCII letters, only
// the long s (U+017F, which folds to s) and the Kelvin sign (U+212A, to k)
// can match a letter of want.
func equalFoldASCII(s, want string) bool {
	i := 0
	for _, r := range s {
		if i >= len(want) {
			return false
		}
		switch {
		case 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		case r == '\u017F':
			r = 's'
		case r == '\u212A':
			r = 'k'
		}
		if r != rune(want[i]) {
			return false
		}
		i++
	}
	return i == len(want)
}

// sleepContext waits for d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	if sleepDone(ctx.Done(), d) != nil {
		return ctx.Err()
	}
	return nil
}

// sleepDone waits for d or until done is closed, and then returns
// ErrStopped. It uses AfterFunc, not a Timer: a timer's channel drags
// time's formatting code into the wasm build.
func sleepDone(done <-chan struct{}, d time.Duration) error {
	if d <= 0 {
		select {
		case <-done:
			return ErrStopped
		default:
			return nil
		}
	}
	fired := make(chan struct{})
	t := time.AfterFunc(d, func() { close(fired) })
	defer t.Stop()
	select {
	case <-done:
		return ErrStopped
	case <-fired:
		return nil
	}
}

// quote is strconv.Quote for the text of an error message, without its
// Unicode tables: ASCII is quoted exactly as strconv.Quote does, other
// valid UTF-8 is kept as it is and invalid bytes become \x escapes.
func quote(s string) string {
	const hex = "0123456789abcdef"
	b := []byte{'"'}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\v':
			b = append(b, '\\', 'v')
		default:
			if c < ' ' || c == 0x7f {
				b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			} else {
				b = append(b, c)
			}
		}
		i++
	}
	return string(append(b, '"'))
}

// wrapError adds a plain-words prefix to an error and keeps it reachable by
// errors.Is; it avoids pulling fmt into the wasm build for one %w.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *wrapError) Unwrap() error { return e.err }
