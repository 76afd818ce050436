package eventsource

import (
	"context"
	"errors"
	"io"
	"time"

	"qrsync/eventsource/sse"
)

// The types and values below are package sse's, which holds the decoder and
// the reconnect loop without package time or context (for the browser
// build); this package adds context.Context and time.Duration around them.

// Response is what a Connector got back from the server: only what the
// reconnect logic needs, so any HTTP stack (fetch in the browser, Hertz's
// client natively) can supply it. Run always closes Body, and may close it
// while a Read is blocked (to stop promptly when its context is cancelled),
// so Close must be safe to call concurrently with Read.
type Response = sse.Response

// Event is one dispatched event, as an EventSource would hand it to a
// listener (see sse.Event).
type Event = sse.Event

// State is the client's connection state, for showing the user whether the
// view is live.
type State = sse.State

// The states a Client goes through.
const (
	// StateConnecting is the first attempt, before anything has failed.
	StateConnecting = sse.StateConnecting
	// StateLive means the server accepted the stream and events flow.
	StateLive = sse.StateLive
	// StateReconnecting means the stream dropped or an attempt failed and
	// the client is waiting to try again, or trying.
	StateReconnecting = sse.StateReconnecting
	// StateEnded is final: Run is returning.
	StateEnded = sse.StateEnded
)

// EndedError is returned by Run when the server answered in a way that means
// "do not come back" (see sse.EndedError).
type EndedError = sse.EndedError

// ErrStop is returned by an OnEvent callback to end Run cleanly: Run then
// returns nil.
var ErrStop = sse.ErrStop

// ErrEventTooLarge is returned by Decoder.Next when a line, or the data of
// an event, grows past the maximum size (see sse.ErrEventTooLarge).
var ErrEventTooLarge = sse.ErrEventTooLarge

// DefaultMaxEventSize bounds one line and one event's data when no other
// size is set (see sse.DefaultMaxEventSize).
const DefaultMaxEventSize = sse.DefaultMaxEventSize

// A Connector opens one connection to the event stream. lastEventID is the
// value to send as the Last-Event-ID header (or ?lastEventId= where headers
// cannot be set); "" means send none. A non-nil error means the request
// failed on the network: Run will retry. The Connector should honour ctx.
type Connector func(ctx context.Context, lastEventID string) (*Response, error)

// Client reads an event stream and keeps it open: it reconnects after every
// drop, resending the last event ID, until the server says the stream is
// over, the callback stops it, or the context is cancelled. It is
// sse.Stream with a context in place of Done, and behaves exactly as it
// does (5xx retried with backoff, exponential backoff on failures).
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
	s := &sse.Stream{
		Connect:      func(id string) (*Response, error) { return c.Connect(ctx, id) },
		Done:         ctx.Done(),
		Err:          ctx.Err,
		LastEventID:  c.LastEventID,
		Backoff:      c.Backoff.sse(),
		MaxEventSize: c.MaxEventSize,
		Sleep:        func(d sse.Duration) error { return sleep(ctx, time.Duration(d)) },
	}
	// c.LastEventID follows the Stream's wherever it may be read: in the
	// callbacks and after Run.
	if c.OnEvent != nil {
		s.OnEvent = func(ev Event) error {
			c.LastEventID = s.LastEventID
			return c.OnEvent(ev)
		}
	}
	s.OnState = func(st State, err error) {
		c.LastEventID = s.LastEventID
		if c.OnState != nil {
			c.OnState(st, err)
		}
	}
	err := s.Run()
	c.LastEventID = s.LastEventID
	return err
}

// sleepContext waits for d or until ctx is done, and stops its timer
// either way. It is the Sleep a native Client gives its sse.Stream.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	done := make(chan struct{})
	t := time.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return nil
	}
}

// Decoder reads an event stream from an io.Reader and returns its events one
// by one: sse.Decoder, with the reconnection time as a time.Duration.
type Decoder struct {
	sse.Decoder
}

// NewDecoder returns a Decoder that reads from r with DefaultMaxEventSize.
// A nil r is allowed if Reset is called before Next.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{*sse.NewDecoder(r)}
}

// Retry returns the reconnection time from the last valid retry field (a
// value of ASCII digits only, in milliseconds), and false if there was none.
// A retry field takes effect as soon as its line ends, event or not.
func (d *Decoder) Retry() (time.Duration, bool) {
	r, ok := d.Decoder.Retry()
	return time.Duration(r), ok
}
