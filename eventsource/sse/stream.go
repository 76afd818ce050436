package sse

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Response is what a connection attempt got back from the server: only what the
// reconnect logic needs, so any HTTP stack (fetch in the browser, Hertz's
// client natively) can supply it.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// ContentType is the Content-Type header as sent.
	ContentType string
	// Body is the response body. Run always closes it, and may close it
	// while a Read is blocked (to stop promptly when Done is closed), so
	// Close must be safe to call concurrently with Read.
	Body io.ReadCloser
}

// State is the client's connection state, for showing the user whether the
// view is live.
type State int

// The states a Stream goes through.
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
// status. 5xx is not among them: it is retried (see Stream).
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

// Stream reads an event stream and keeps it open: it reconnects after every
// drop, resending the last event ID, until the server says the stream is
// over, the callback stops it, or Done is closed. It behaves like a
// browser's EventSource, with two differences made on purpose: a 5xx is
// retried with backoff (a proxy or a restarting instance answers 502/503 for
// a moment; giving up would leave the page dead), and repeated failures back
// off exponentially instead of retrying at a fixed rate.
//
// Set the fields, then call Run once; a Stream must not run twice at the
// same time.
type Stream struct {
	// Connect opens one connection; required. lastEventID is the value to
	// send as the Last-Event-ID header (or ?lastEventId= where headers
	// cannot be set); "" means send none. A non-nil error means the
	// request failed on the network: Run will retry. It should give up
	// once Done is closed.
	Connect func(lastEventID string) (*Response, error)
	// Done stops Run when closed; nil means never.
	Done <-chan struct{}
	// Err, if set, says why Done was closed (a context's Err): Run returns
	// it, and reports it with StateEnded. nil means ErrStopped.
	Err func() error
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
	// Sleep waits between attempts; required, since this package has no
	// clock of its own. It must return early with an error once Done is
	// closed.
	Sleep func(d Duration) error
}

// ErrStopped is what Run returns (and reports with StateEnded) once Done
// is closed, unless Err says otherwise.
var ErrStopped = errors.New("eventsource: stopped")

// Run connects and reads the stream until it ends for good. It returns
// ErrStopped (or what Err says) once Done is closed, an *EndedError when
// the server ended the stream, nil after OnEvent returned ErrStop, or the
// error OnEvent returned.
func (s *Stream) Run() error {
	if s.Connect == nil {
		return errors.New("eventsource: Stream.Connect is nil")
	}
	if s.Sleep == nil {
		return errors.New("eventsource: Stream.Sleep is nil")
	}
	cause := s.Err
	if cause == nil {
		cause = func() error { return ErrStopped }
	}
	l := loop{Stream: s, cause: cause}
	return l.run()
}

// loop is one run of a Stream.
type loop struct {
	*Stream
	cause func() error
}

// stopped returns the cause once done is closed, else nil.
func (c *loop) stopped() error {
	select {
	case <-c.Done:
		return c.cause()
	default:
		return nil
	}
}

func (c *loop) run() error {
	dec := NewDecoder(nil) // one decoder, buffers reused across connections
	dec.SetMaxEventSize(c.MaxEventSize)

	var retry Duration // the server's last retry, 0 if none yet
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
		if err := c.Sleep(c.Backoff.Delay(retry, failures)); err != nil {
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
func (c *loop) connectOnce(dec *Decoder, retry *Duration) (drop error, failed bool, final error) {
	resp, err := c.Connect(c.LastEventID)
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
	if c.Done != nil {
		left := make(chan struct{})
		defer close(left)
		go func() {
			select {
			case <-c.Done:
				closeBody()
			case <-left:
			}
		}()
	}

	c.setState(StateLive, nil)
	dec.Reset(body)
	dec.SetLastEventID(c.LastEventID)
	for {
		ev, err := dec.Next()
		if r, ok := dec.Retry(); ok {
			*retry = r
		}
		if err != nil {
			c.LastEventID = dec.LastEventID()
			if err == io.EOF {
				return &wrapError{"eventsource: the server closed the stream", io.EOF}, false, nil
			}
			return &wrapError{"eventsource: stream dropped", err}, errors.Is(err, ErrEventTooLarge), nil
		}
		if err := c.stopped(); err != nil {
			// Events still buffered after a stop are not delivered.
			return nil, false, err
		}
		if c.OnEvent != nil {
			if err := c.OnEvent(ev); err != nil {
				if errors.Is(err, ErrStop) {
					c.LastEventID = dec.LastEventID()
				}
				return nil, false, err
			}
		}
		c.LastEventID = dec.LastEventID()
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
	if c.OnState != nil {
		c.OnState(s, err)
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
		j := 0
		for j < len(quoteEscaped) && quoteEscaped[j] != c {
			j++
		}
		switch {
		case j < len(quoteEscaped): // one append for the one-letter escapes, not one each
			b = append(b, '\\', quoteLetters[j])
		case c < ' ' || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
		i++
	}
	return string(append(b, '"'))
}

// The bytes strconv.Quote writes as a backslash and a letter, and the
// letters.
const (
	quoteEscaped = "\"\\\a\b\f\n\r\t\v"
	quoteLetters = `"\abfnrtv`
)

// wrapError adds a plain-words prefix to an error and keeps it reachable by
// errors.Is; it avoids pulling fmt into the wasm build for one %w.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *wrapError) Unwrap() error { return e.err }
