package eventsource

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// step is one scripted answer of the fake server.
type step struct {
	status int
	ct     string // "" means text/event-stream when status is 200, "-" none
	body   string
	err    error // network failure instead of an answer
	block  bool  // body sends `body`, then stays open until closed
}

// fakeServer is an in-memory Connector: it answers with its steps in order
// and records the Last-Event-ID of every attempt and every body it handed
// out, to check they were all closed.
type fakeServer struct {
	t      *testing.T
	steps  []step
	ids    []string
	bodies []*fakeBody
}

type fakeBody struct {
	io.Reader
	pr     *io.PipeReader
	closed atomic.Int32
}

func (b *fakeBody) Close() error {
	b.closed.Add(1)
	if b.pr != nil {
		b.pr.Close()
	}
	return nil
}

func (s *fakeServer) connect(ctx context.Context, lastEventID string) (*Response, error) {
	s.ids = append(s.ids, lastEventID)
	if len(s.steps) == 0 {
		s.t.Errorf("unexpected connection #%d", len(s.ids))
		return &Response{Status: 404}, nil
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	if st.err != nil {
		return nil, st.err
	}
	b := &fakeBody{Reader: strings.NewReader(st.body)}
	if st.block {
		pr, pw := io.Pipe()
		go func() { pw.Write([]byte(st.body)) }() // then never closes: a quiet stream
		b.Reader, b.pr = pr, pr
	}
	s.bodies = append(s.bodies, b)
	ct := st.ct
	switch {
	case ct == "-":
		ct = ""
	case ct == "" && st.status == 200:
		ct = "text/event-stream"
	}
	return &Response{Status: st.status, ContentType: ct, Body: b}, nil
}

func (s *fakeServer) checkClosed() {
	s.t.Helper()
	for i, b := range s.bodies {
		if n := b.closed.Load(); n < 1 {
			s.t.Errorf("body %d not closed", i)
		}
	}
}

// recorder collects what a Client reports; all on Run's goroutine.
type recorder struct {
	events []Event
	states []string
	errs   []error
	sleeps []time.Duration
}

func (r *recorder) client(s *fakeServer) *Client {
	return &Client{
		Connect: s.connect,
		Backoff: Backoff{Jitter: -1},
		OnEvent: func(ev Event) error { r.events = append(r.events, ev); return nil },
		OnState: func(st State, err error) {
			r.states = append(r.states, st.String())
			r.errs = append(r.errs, err)
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			r.sleeps = append(r.sleeps, d)
			return ctx.Err()
		},
	}
}

func TestClientReconnectResendsLastID(t *testing.T) {
	s := &fakeServer{t: t, steps: []step{
		{status: 200, body: "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: unfinished"},
		{status: 200, body: "data: c\n\nid: 9\n\n"}, // id-only event: committed, nothing dispatched
		{status: 200, body: "id\ndata: d\n\n"},      // the stream resets the id
		{status: 404},
	}}
	r := &recorder{}
	c := r.client(s)
	err := c.Run(context.Background())
	var ended *EndedError
	if !errors.As(err, &ended) || ended.Status != 404 {
		t.Fatalf("Run = %v, want *EndedError 404", err)
	}
	if want := []string{"", "2", "9", ""}; !reflect.DeepEqual(s.ids, want) {
		t.Errorf("Last-Event-ID sent %q, want %q", s.ids, want)
	}
	wantEvents := []Event{
		{ID: "1", Type: "message", Data: "a"},
		{ID: "2", Type: "message", Data: "b"},
		{ID: "2", Type: "message", Data: "c"},
		{ID: "", Type: "message", Data: "d"},
	}
	if !reflect.DeepEqual(r.events, wantEvents) {
		t.Errorf("events %+v, want %+v", r.events, wantEvents)
	}
	wantStates := []string{"connecting", "live", "reconnecting", "live", "reconnecting", "live", "reconnecting", "ended"}
	if !reflect.DeepEqual(r.states, wantStates) {
		t.Errorf("states %q, want %q", r.states, wantStates)
	}
	if !errors.Is(r.errs[2], io.EOF) || r.errs[1] != nil {
		t.Errorf("reasons %v", r.errs)
	}
	if last := r.errs[len(r.errs)-1]; last != err {
		t.Errorf("ended with %v, Run returned %v", last, err)
	}
	// After a live connection drops, the wait is the plain base delay.
	if want := []time.Duration{time.Second, time.Second, time.Second}; !reflect.DeepEqual(r.sleeps, want) {
		t.Errorf("sleeps %v, want %v", r.sleeps, want)
	}
	if c.LastEventID != "" {
		t.Errorf("LastEventID = %q after reset", c.LastEventID)
	}
	s.checkClosed()
}

func TestClientResumesFromSavedID(t *testing.T) {
	s := &fakeServer{t: t, steps: []step{{status: 200, body: "data: x\n\n"}, {status: 410}}}
	r := &recorder{}
	c := r.client(s)
	c.LastEventID = "41"
	c.Run(context.Background())
	if s.ids[0] != "41" || len(r.events) != 1 || r.events[0].ID != "41" {
		t.Errorf("ids %q events %+v", s.ids, r.events)
	}
	s.checkClosed()
}

func TestClientUsesServerRetry(t *testing.T) {
	s := &fakeServer{t: t, steps: []step{
		{status: 200, body: "retry: 2500\ndata: x\n\n"},
		{err: errors.New("connection refused")},
		{status: 200, body: "data: y\n\n"}, // retry persists across connections
		{status: 410},
	}}
	r := &recorder{}
	if err := r.client(s).Run(context.Background()); err == nil {
		t.Fatal("Run returned nil")
	}
	want := []time.Duration{2500 * time.Millisecond, 5000 * time.Millisecond, 2500 * time.Millisecond}
	if !reflect.DeepEqual(r.sleeps, want) {
		t.Errorf("sleeps %v, want %v", r.sleeps, want)
	}
	s.checkClosed()
}

func TestClientBackoffGrowsAndCaps(t *testing.T) {
	refused := errors.New("connection refused")
	var steps []step
	for i := 0; i < 6; i++ {
		steps = append(steps, step{err: refused})
	}
	steps = append(steps, step{status: 503, body: "busy"}, step{status: 502}) // 5xx: retried, count as failures
	steps = append(steps, step{status: 200, body: "data: up\n\n"})            // live: the count restarts
	steps = append(steps, step{err: refused}, step{status: 404})
	s := &fakeServer{t: t, steps: steps}
	r := &recorder{}
	c := r.client(s)
	c.Backoff = Backoff{Initial: time.Second, Max: 10 * time.Second, Jitter: -1}
	err := c.Run(context.Background())
	var ended *EndedError
	if !errors.As(err, &ended) {
		t.Fatalf("Run = %v", err)
	}
	sec := time.Second
	want := []time.Duration{2 * sec, 4 * sec, 8 * sec, 10 * sec, 10 * sec, 10 * sec, 10 * sec, 10 * sec, sec, 2 * sec}
	if !reflect.DeepEqual(r.sleeps, want) {
		t.Errorf("sleeps %v\nwant   %v", r.sleeps, want)
	}
	// Every failed attempt is reported, with its reason.
	for i, st := range r.states[1:7] {
		if st != "reconnecting" || !errors.Is(r.errs[i+1], refused) {
			t.Errorf("state %d: %s %v", i+1, st, r.errs[i+1])
		}
	}
	if !strings.Contains(r.errs[7].Error(), "503") {
		t.Errorf("503 reported as %v", r.errs[7])
	}
	s.checkClosed()
}

// TestClientEnds covers the answers that end the stream for good (the spec's
// "fail the connection") and those that do not. Names starting with a WPT
// file mirror that test; the 503 case differs from the spec on purpose.
func TestClientEnds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		ct     string
		ends   bool
		says   string
	}{
		{"request-status-error/204", 204, "text/event-stream", true, "204"},
		{"request-status-error/205", 205, "text/event-stream", true, "205"},
		{"request-status-error/210", 210, "text/event-stream", true, "210"},
		{"request-status-error/299", 299, "text/event-stream", true, "299"},
		{"request-status-error/404", 404, "text/event-stream", true, "404"},
		{"request-status-error/410", 410, "text/event-stream", true, "410"},
		{"request-status-error/503 (retried: deliberate deviation)", 503, "text/event-stream", false, "503"},
		{"format-mime-bogus", 200, "x bogus", true, `"x bogus"`},
		{"format-mime-valid-bogus", 200, "text/x-bogus", true, "text/x-bogus"},
		{"format-mime-trailing-semicolon", 200, "text/event-stream;", false, ""},
		{"format-utf-8 (charset ignored)", 200, "text/event-stream;charset=windows-1252", false, ""},
		{"content-type-case-and-space", 200, " Text/Event-Stream ; charset=utf-8", false, ""},
		{"content-type-missing", 200, "-", true, "no content type"},
		{"forbidden", 403, "application/json", true, "403"},
		{"too-many", 429, "application/json", true, "429"},
		{"redirect-not-followed", 301, "", true, "301"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := []step{{status: tc.status, ct: tc.ct, body: "data: x\n\n"}}
			if !tc.ends {
				steps = append(steps, step{status: 410})
			}
			s := &fakeServer{t: t, steps: steps}
			r := &recorder{}
			err := r.client(s).Run(context.Background())
			var ended *EndedError
			if !errors.As(err, &ended) {
				t.Fatalf("Run = %v, want *EndedError", err)
			}
			if tc.ends {
				if ended.Status != tc.status || len(s.ids) != 1 || len(r.events) != 0 {
					t.Errorf("status %d, %d connections, %d events", ended.Status, len(s.ids), len(r.events))
				}
				if !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "not reconnecting") {
					t.Errorf("message %q does not say %q", err, tc.says)
				}
				wantStates := []string{"connecting", "ended"}
				if !reflect.DeepEqual(r.states, wantStates) || r.errs[1] != err {
					t.Errorf("states %q %v", r.states, r.errs)
				}
			} else if len(s.ids) != 2 {
				t.Errorf("%d connections, want a reconnect", len(s.ids))
			}
			s.checkClosed()
		})
	}
}

func TestClientErrStop(t *testing.T) {
	s := &fakeServer{t: t, steps: []step{{status: 200, body: "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n", block: true}}}
	r := &recorder{}
	c := r.client(s)
	c.OnEvent = func(ev Event) error {
		r.events = append(r.events, ev)
		if ev.Data == "b" {
			return ErrStop
		}
		return nil
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if len(r.events) != 2 || c.LastEventID != "2" {
		t.Errorf("events %+v, LastEventID %q", r.events, c.LastEventID)
	}
	if last := len(r.states) - 1; r.states[last] != "ended" || r.errs[last] != ErrStop {
		t.Errorf("ended with %s %v", r.states[last], r.errs[last])
	}
	s.checkClosed()
}

func TestClientOnEventError(t *testing.T) {
	boom := errors.New("disk full")
	s := &fakeServer{t: t, steps: []step{{status: 200, body: "id: 1\ndata: a\n\nid: 2\ndata: b\n\n"}}}
	r := &recorder{}
	c := r.client(s)
	c.OnEvent = func(ev Event) error {
		if ev.Data == "b" {
			return boom
		}
		return nil
	}
	if err := c.Run(context.Background()); err != boom {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	// The failed event is not behind the resume point: it will come again.
	if c.LastEventID != "1" {
		t.Errorf("LastEventID = %q, want 1", c.LastEventID)
	}
	s.checkClosed()
}

func TestClientTooLargeReconnects(t *testing.T) {
	s := &fakeServer{t: t, steps: []step{
		{status: 200, body: "id: 1\ndata: ok\n\nid: 2\ndata: " + strings.Repeat("x", 100) + "\n\n"},
		{status: 200, body: "data: " + strings.Repeat("x", 100) + "\n\n"},
		{status: 410},
	}}
	r := &recorder{}
	c := r.client(s)
	c.MaxEventSize = 64
	c.Run(context.Background())
	if want := []string{"", "1", "1"}; !reflect.DeepEqual(s.ids, want) {
		t.Errorf("ids %q, want %q", s.ids, want)
	}
	if !errors.Is(r.errs[2], ErrEventTooLarge) || r.states[2] != "reconnecting" {
		t.Errorf("state %s %v", r.states[2], r.errs[2])
	}
	// The server would resend the same event: back off as for a failure.
	if want := []time.Duration{2 * time.Second, 4 * time.Second}; !reflect.DeepEqual(r.sleeps, want) {
		t.Errorf("sleeps %v, want %v", r.sleeps, want)
	}
	s.checkClosed()
}

func TestClientCancel(t *testing.T) {
	t.Run("while reading a quiet stream", func(t *testing.T) {
		s := &fakeServer{t: t, steps: []step{{status: 200, body: "data: a\n\n", block: true}}}
		ctx, cancel := context.WithCancel(context.Background())
		c := &Client{Connect: s.connect, OnEvent: func(Event) error { cancel(); return nil }}
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		s.checkClosed()
	})
	t.Run("while waiting to reconnect", func(t *testing.T) {
		s := &fakeServer{t: t, steps: []step{{err: errors.New("refused")}}}
		ctx, cancel := context.WithCancel(context.Background())
		states := make(chan State, 10)
		c := &Client{
			Connect: s.connect,
			Backoff: Backoff{Initial: time.Hour},
			OnState: func(st State, _ error) { states <- st },
		}
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		for st := range states {
			if st == StateReconnecting {
				break
			}
		}
		start := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("Run = %v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		if st := <-states; st != StateEnded {
			t.Errorf("final state %v", st)
		}
	})
	t.Run("before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c := &Client{Connect: func(context.Context, string) (*Response, error) {
			t.Error("connected")
			return nil, errors.New("no")
		}}
		if err := c.Run(ctx); err != context.Canceled {
			t.Errorf("Run = %v", err)
		}
	})
}

func TestClientConnectErrorClosesBody(t *testing.T) {
	b := &fakeBody{Reader: strings.NewReader("")}
	n := 0
	c := &Client{
		Connect: func(context.Context, string) (*Response, error) {
			n++
			if n == 1 {
				return &Response{Status: 200, Body: b}, errors.New("half-failed")
			}
			return &Response{Status: 404}, nil // nil body is fine
		},
		Sleep: func(context.Context, time.Duration) error { return nil },
	}
	var ended *EndedError
	if err := c.Run(context.Background()); !errors.As(err, &ended) {
		t.Fatalf("Run = %v", err)
	}
	if b.closed.Load() != 1 {
		t.Error("body not closed")
	}
}

func TestClientNeedsConnector(t *testing.T) {
	if err := (&Client{}).Run(context.Background()); err == nil {
		t.Fatal("Run without Connect succeeded")
	}
}

func TestBackoffDelay(t *testing.T) {
	half := func() float64 { return 0.5 }
	zero := func() float64 { return 0 }
	sec := time.Second
	for _, tc := range []struct {
		name     string
		b        Backoff
		retry    time.Duration
		failures int
		want     time.Duration
	}{
		{"defaults, no retry", Backoff{Rand: zero}, 0, 0, sec},
		{"defaults, default jitter", Backoff{Rand: half}, 0, 0, 1250 * time.Millisecond},
		{"server retry", Backoff{Rand: zero}, 3 * sec, 0, 3 * sec},
		{"server retry with jitter", Backoff{Rand: half, Jitter: 0.2}, 3 * sec, 0, 3300 * time.Millisecond},
		{"doubles per failure", Backoff{Rand: zero}, 3 * sec, 2, 12 * sec},
		{"capped at default max", Backoff{Rand: zero}, 3 * sec, 5, 30 * sec},
		{"jitter on top of the cap", Backoff{Rand: half}, 3 * sec, 5, 37500 * time.Millisecond},
		{"custom initial", Backoff{Initial: 200 * time.Millisecond, Rand: zero}, 0, 1, 400 * time.Millisecond},
		{"custom max", Backoff{Max: 5 * sec, Rand: zero}, 0, 10, 5 * sec},
		{"retry above max is capped", Backoff{Max: 5 * sec, Rand: zero}, 60 * sec, 0, 5 * sec},
		{"zero retry means none", Backoff{Rand: zero}, 0, 1, 2 * sec},
		{"no jitter", Backoff{Jitter: -1, Rand: half}, sec, 0, sec},
		{"full jitter", Backoff{Jitter: 1, Rand: half}, sec, 0, 1500 * time.Millisecond},
		{"jitter above 1 counts as 1", Backoff{Jitter: 7, Rand: half}, sec, 0, 1500 * time.Millisecond},
		{"bad rand clamped", Backoff{Rand: func() float64 { return -3 }}, sec, 0, sec},
		{"huge failure count", Backoff{Rand: zero}, sec, 1 << 30, 30 * sec},
		{"huge retry", Backoff{Max: time.Duration(1<<63 - 1), Rand: zero}, time.Duration(1 << 62), 3, time.Duration(1<<63 - 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.Delay(tc.retry, tc.failures); got != tc.want {
				t.Errorf("Delay(%v, %d) = %v, want %v", tc.retry, tc.failures, got, tc.want)
			}
		})
	}
	// The default Rand stays within [base, base*1.5).
	for i := 0; i < 100; i++ {
		if d := (Backoff{}).Delay(sec, 0); d < sec || d >= 1500*time.Millisecond {
			t.Fatalf("default jitter gave %v", d)
		}
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{
		StateConnecting: "connecting", StateLive: "live", StateReconnecting: "reconnecting",
		StateEnded: "ended", State(9): "State(9)",
	} {
		if got := s.String(); got != want {
			t.Errorf("%d: %q, want %q", int(s), got, want)
		}
	}
}

// TestClientNoEventsAfterCancel checks that events already buffered when the
// context is cancelled are not delivered.
func TestClientNoEventsAfterCancel(t *testing.T) {
	s := &fakeServer{t: t, steps: []step{{status: 200, body: "data: a\n\ndata: b\n\ndata: c\n\n"}}}
	ctx, cancel := context.WithCancel(context.Background())
	var got []string
	c := &Client{Connect: s.connect, OnEvent: func(ev Event) error {
		got = append(got, ev.Data)
		cancel()
		return nil
	}}
	if err := c.Run(ctx); err != context.Canceled {
		t.Fatalf("Run = %v", err)
	}
	if len(got) != 1 {
		t.Errorf("delivered %q after cancel", got)
	}
	s.checkClosed()
}
