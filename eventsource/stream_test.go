package eventsource

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"qrsync/eventsource/sse"
)

// sleepDone is the timer a Stream's owner supplies: d, or until done.
func sleepDone(done <-chan struct{}) func(sse.Duration) error {
	return func(d sse.Duration) error {
		select {
		case <-done:
			return sse.ErrStopped
		case <-time.After(time.Duration(d)):
			return nil
		}
	}
}

// stream is r.client(s) as an sse.Stream, so the core and its context
// wrapper run one script.
func (r *recorder) stream(s *fakeServer) *sse.Stream {
	c := r.client(s)
	return &sse.Stream{
		Connect: func(id string) (*Response, error) { return s.connect(context.Background(), id) },
		Backoff: sse.Backoff{Jitter: c.Backoff.Jitter},
		OnEvent: c.OnEvent,
		OnState: c.OnState,
		Sleep:   func(d sse.Duration) error { return c.Sleep(context.Background(), time.Duration(d)) },
	}
}

// TestStreamMatchesClient runs one script through both and wants the same
// attempts, events, states and delays.
func TestStreamMatchesClient(t *testing.T) {
	script := func() *fakeServer {
		return &fakeServer{t: t, steps: []step{
			{status: 200, body: "id: 1\ndata: a\n\nretry: 1500\nid: 2\ndata: b\n\n"},
			{err: errors.New("refused")},
			{status: 503},
			{status: 200, body: "id\ndata: c\n\n"},
			{status: 200, ct: "text/html"},
		}}
	}
	cs, ss := script(), script()
	cr, sr := &recorder{}, &recorder{}
	c, st := cr.client(cs), sr.stream(ss)
	c.LastEventID, st.LastEventID = "0", "0"
	cerr, serr := c.Run(context.Background()), st.Run()
	if cerr == nil || serr == nil || cerr.Error() != serr.Error() {
		t.Errorf("Run: Client %v, Stream %v", cerr, serr)
	}
	if !reflect.DeepEqual(cs.ids, ss.ids) || !reflect.DeepEqual(cr.events, sr.events) ||
		!reflect.DeepEqual(cr.states, sr.states) || !reflect.DeepEqual(cr.sleeps, sr.sleeps) {
		t.Errorf("Client: ids %q events %v states %v sleeps %v\nStream: ids %q events %v states %v sleeps %v",
			cs.ids, cr.events, cr.states, cr.sleeps, ss.ids, sr.events, sr.states, sr.sleeps)
	}
	if c.LastEventID != st.LastEventID {
		t.Errorf("LastEventID: Client %q, Stream %q", c.LastEventID, st.LastEventID)
	}
	cs.checkClosed()
	ss.checkClosed()
}

func TestStreamStop(t *testing.T) {
	t.Run("while reading a quiet stream", func(t *testing.T) {
		s := &fakeServer{t: t, steps: []step{{status: 200, body: "data: a\n\n", block: true}}}
		stop := make(chan struct{})
		var final error
		st := &sse.Stream{
			Connect: func(id string) (*Response, error) { return s.connect(context.Background(), id) },
			Done:    stop,
			Sleep:   sleepDone(stop),
			OnEvent: func(Event) error { close(stop); return nil },
			OnState: func(s State, err error) {
				if s == StateEnded {
					final = err
				}
			},
		}
		done := make(chan error)
		go func() { done <- st.Run() }()
		select {
		case err := <-done:
			if err != sse.ErrStopped || final != sse.ErrStopped {
				t.Errorf("Run = %v, ended with %v; want sse.ErrStopped", err, final)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after Done closed")
		}
		s.checkClosed()
	})
	t.Run("while waiting to reconnect", func(t *testing.T) {
		s := &fakeServer{t: t, steps: []step{{err: errors.New("refused")}}}
		stop := make(chan struct{})
		states := make(chan State, 10)
		st := &sse.Stream{
			Connect: func(id string) (*Response, error) { return s.connect(context.Background(), id) },
			Done:    stop,
			Sleep:   sleepDone(stop),
			Backoff: sse.Backoff{Initial: sse.Duration(time.Hour)},
			OnState: func(s State, _ error) { states <- s },
		}
		done := make(chan error)
		go func() { done <- st.Run() }()
		for s := range states {
			if s == StateReconnecting {
				break
			}
		}
		close(stop)
		select {
		case err := <-done:
			if err != sse.ErrStopped {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after Done closed")
		}
	})
	t.Run("needs a connector and a sleep", func(t *testing.T) {
		if err := (&sse.Stream{Sleep: sleepDone(nil)}).Run(); err == nil {
			t.Fatal("Run without Connect succeeded")
		}
		connect := func(string) (*Response, error) { return nil, errors.New("no") }
		if err := (&sse.Stream{Connect: connect}).Run(); err == nil {
			t.Fatal("Run without Sleep succeeded")
		}
	})
}
