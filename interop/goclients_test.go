package interop

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cloudwego/hertz/pkg/app/client"
	"github.com/cloudwego/hertz/pkg/network/standard"
	"github.com/cloudwego/hertz/pkg/protocol"
	"github.com/cloudwego/hertz/pkg/protocol/sse"
	contrib "github.com/hertz-contrib/sse"
)

// openFunc opens the stream at url with one client, sending lastID as
// Last-Event-ID unless it is empty, and reads it until it ends, handing
// every event the client dispatches to col. It returns the HTTP status,
// the client's own last event ID at the end, and the client's error (nil
// when the stream ended cleanly).
type openFunc func(url, lastID string, col *collector) (status int, last string, err error)

// streamResult is what an openFunc returned.
type streamResult struct {
	status int
	last   string
	err    error
}

// runGoClient plays the scenario against a Go client: connect, listen,
// get cut, reconnect with the client's own last event ID, see the end,
// and try once more after it.
func runGoClient(t *testing.T, who string, open openFunc) {
	sc := newScenario(t)
	col := newCollector()
	start := time.Now()

	run := func(lastID string) chan streamResult {
		done := make(chan streamResult, 1)
		go func() {
			st, last, err := open(sc.eventsURL(), lastID, col)
			done <- streamResult{st, last, err}
		}()
		return done
	}
	wait := func(done chan streamResult, what string) streamResult {
		t.Helper()
		select {
		case r := <-done:
			return r
		case <-time.After(waitLong):
			t.Fatalf("%s: %s did not return", who, what)
			return streamResult{}
		}
	}

	done := run("")
	col.wait(t, 1, "the snapshot")
	sc.live()
	col.wait(t, 4, "two images and a removal")
	sc.tap.cut()
	first := wait(done, "the cut stream")
	t.Logf("%s: after the cut: status %d, last id %q, err %v", who, first.status, first.last, first.err)
	if first.status != http.StatusOK {
		t.Fatalf("%s: first stream answered %d", who, first.status)
	}

	sc.away()
	done = run(first.last)
	col.wait(t, 5, "the replayed image")
	sc.end()
	second := wait(done, "the stream after expired")
	if second.status != http.StatusOK || second.err != nil {
		t.Errorf("%s: the stream the server ended: status %d, err %v; want 200 and a clean end", who, second.status, second.err)
	}
	col.wait(t, 6, "expired")

	third := wait(run(second.last), "the attempt after the end")
	if third.err == nil {
		t.Errorf("%s: the attempt after the end (status %d) was not an error", who, third.status)
	}
	t.Logf("%s: after the end: status %d, err %v", who, third.status, third.err)

	v := sc.verify(who, col.list())
	col.mu.Lock()
	retries := col.retries
	col.mu.Unlock()
	if len(retries) != 2 || retries[0] != streamRetry || retries[1] != streamRetry {
		t.Errorf("%s: saw retry %v, want %v once per connection", who, retries, streamRetry)
	}
	t.Logf("%s: %d events over %d requests (%d bytes of stream), reconnected with Last-Event-ID %q, end answered %d; retry %v; %v",
		who, v.Events, v.Streams, v.WireBytes, v.ReconnectID, v.EndStatus, retries, time.Since(start).Round(time.Millisecond))
}

// newHertzClient is a Hertz client that streams response bodies, as SSE
// needs, over the standard-library network (so that no poller outlives the
// test).
func newHertzClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.NewClient(client.WithDialer(standard.NewDialer()), client.WithResponseBodyStream(true))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHertzReader reads the stream with Hertz's own client and
// pkg/protocol/sse's Reader, the SSE support built into the framework the
// server is written with.
func TestHertzReader(t *testing.T) {
	c := newHertzClient(t)
	runGoClient(t, "hertz sse.Reader", func(url, lastID string, col *collector) (int, string, error) {
		req, resp := protocol.AcquireRequest(), protocol.AcquireResponse()
		defer protocol.ReleaseRequest(req)
		defer protocol.ReleaseResponse(resp)
		req.SetRequestURI(url)
		req.SetMethod(http.MethodGet)
		sse.AddAcceptMIME(req)
		if lastID != "" {
			sse.SetLastEventID(req, lastID)
		}
		if err := c.Do(context.Background(), req, resp); err != nil {
			return 0, "", err
		}
		defer resp.CloseBodyStream()
		r, err := sse.NewReader(resp)
		if err != nil {
			return resp.StatusCode(), "", fmt.Errorf("status %d: %w", resp.StatusCode(), err)
		}
		err = r.ForEach(context.Background(), func(e *sse.Event) error {
			if e.IsSetRetry() {
				col.retry(e.Retry)
			}
			// sse.Reader hands over every block with a field, but an
			// EventSource dispatches only those with data; the type
			// defaults to "message", the id is the stream's last one.
			if e.IsSetData() {
				typ := e.Type
				if typ == "" {
					typ = "message"
				}
				col.add(wireEvent{Type: typ, ID: r.LastEventID(), Data: string(e.Data)})
			}
			return nil
		})
		return resp.StatusCode(), r.LastEventID(), err
	})
}

// TestContribClient reads the stream with hertz-contrib/sse v0.1.0's
// Client. That version neither reconnects nor resends Last-Event-ID by
// itself; its request can carry the header, which is what a program using
// it does to resume.
func TestContribClient(t *testing.T) {
	// One Client for every connection, as a program would keep it: it
	// remembers the last event ID across them.
	c, err := contrib.NewClientWithOptions(contrib.WithHertzClient(newHertzClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	var status int
	c.SetResponseCallback(func(_ context.Context, _ *protocol.Request, resp *protocol.Response) error {
		status = resp.StatusCode()
		if status != http.StatusOK {
			return fmt.Errorf("status %d", status)
		}
		return nil
	})
	runGoClient(t, "hertz-contrib/sse Client", func(url, lastID string, col *collector) (int, string, error) {
		status = 0
		req := protocol.AcquireRequest()
		defer protocol.ReleaseRequest(req)
		req.SetRequestURI(url)
		req.SetMethod(http.MethodGet)
		if lastID != "" {
			req.Header.Set(contrib.LastEventID, lastID)
		}
		last := lastID
		err := c.SubscribeWithContext(context.Background(), func(e *contrib.Event) {
			if e.Retry > 0 {
				col.retry(time.Duration(e.Retry) * time.Millisecond)
			}
			// The Client hands over every block with a field; only those
			// with data are events (every one of ours has data). It
			// fills an empty ID with the last one it saw.
			if len(e.Data) > 0 {
				typ := e.Event
				if typ == "" {
					typ = "message"
				}
				col.add(wireEvent{Type: typ, ID: e.ID, Data: string(e.Data)})
				last = e.ID
			}
		}, contrib.WithRequest(req))
		return status, last, err
	})
}
