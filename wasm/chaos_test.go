//go:build !(js && wasm)

package main

// This file runs only on the host: it drives the page's view model with a
// net/http connector (the browser build uses fetch, which cannot run
// here), through a proxy that keeps cutting the connection, against the
// real server.

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/internal/apptest"
	"qrsync/internal/chaosproxy"
	"qrsync/server"
)

// chaosPhotos is how many photos the chaos test uploads.
const chaosPhotos = 200

// httpConnector opens the event stream with net/http, as browser.EventStream
// does with fetch: Last-Event-ID as a header, the body handed over as it
// streams. net/http allows closing a body while a Read is blocked.
func httpConnector(client *http.Client, eventsURL string) eventsource.Connector {
	return func(ctx context.Context, lastEventID string) (*eventsource.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, eventsURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/event-stream")
		if lastEventID != "" {
			req.Header.Set("Last-Event-ID", lastEventID)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		return &eventsource.Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: resp.Body}, nil
	}
}

// chaosView is the gallery under test plus what it was asked to do, shared
// between the stream's goroutine and the test's.
type chaosView struct {
	mu      sync.Mutex
	g       *Gallery
	added   []string        // every OpAdd, in order
	onPage  map[string]bool // tiles the ops put on the page
	twice   []string        // ids an OpAdd put on the page a second time
	applyEr []error
	states  []string
}

func (v *chaosView) apply(ops []Op) {
	for _, op := range ops {
		switch op.Kind {
		case OpAdd:
			v.added = append(v.added, op.Key.ID)
			if v.onPage[op.Key.ID] {
				v.twice = append(v.twice, op.Key.ID)
			}
			v.onPage[op.Key.ID] = true
		case OpRemove:
			delete(v.onPage, op.Key.ID)
		}
	}
}

func (v *chaosView) onEvent(ev eventsource.Event) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	ops, err := v.g.Apply(ev.Type, []byte(ev.Data))
	if err != nil {
		v.applyEr = append(v.applyEr, err)
	}
	v.apply(ops)
	if ev.Type == api.EventExpired {
		return eventsource.ErrStop
	}
	return nil
}

func (v *chaosView) onState(s eventsource.State, _ error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.states = append(v.states, s.String())
	v.apply(v.g.SetState(s.String()))
}

func (v *chaosView) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.g.Len()
}

// TestChaosGallery feeds the real Gallery from the real server's stream
// through a proxy that cuts every connection within half a second, while
// 200 photos are uploaded straight to the server. The gallery must end
// with exactly the 200, each once, in upload order, and no op may ever
// have added a tile that was already on the page.
func TestChaosGallery(t *testing.T) {
	start := time.Now()
	app := apptest.Start(t, server.Config{Retry: 50 * time.Millisecond})
	proxy := chaosproxy.Start(t, app.Addr, chaosproxy.Config{})
	s := app.NewSession()

	// A transport of its own, closed at the end, so no connection of this
	// test outlives it.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	v := &chaosView{g: NewGallery(), onPage: map[string]bool{}}
	c := &eventsource.Client{
		Connect: httpConnector(&http.Client{Transport: tr}, proxy.URL()+s.EventsURL),
		OnEvent: v.onEvent,
		OnState: v.onState,
		Backoff: eventsource.Backoff{Initial: 20 * time.Millisecond, Max: 500 * time.Millisecond},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = c.Run(ctx)
		close(done)
	}()
	stop := func() error {
		cancel()
		select {
		case <-done:
			return runErr
		case <-time.After(20 * time.Second):
			t.Fatal("the stream client did not stop")
			return nil
		}
	}
	defer stop()
	// Start once the client is live, so every photo arrives as an image
	// event rather than in the first snapshot.
	waitFor(t, 60*time.Second, "the stream to go live", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.g.State() == StateLive
	})

	var want []string
	for i := range chaosPhotos {
		proxy.Outages(i)
		name, data := apptest.Photo(t, i)
		want = append(want, app.MustUpload(s, name, data).ID)
		time.Sleep(rand.N(50 * time.Millisecond)) // uneven, over ~5 s: many cuts
	}
	waitFor(t, 90*time.Second, "the gallery to show every photo", func() bool { return v.len() >= chaosPhotos })
	if err := stop(); err != context.Canceled {
		t.Errorf("Run = %v, want context.Canceled", err)
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.applyEr) > 0 {
		t.Errorf("events the gallery could not apply: %v", v.applyEr)
	}
	if len(v.twice) > 0 {
		t.Errorf("ops added tiles already on the page: %v", v.twice)
	}
	if !slices.Equal(v.added, want) {
		t.Errorf("tiles added: %d, want the %d uploads in order", len(v.added), len(want))
	}
	if got := v.g.IDs(); !slices.Equal(got, want) {
		t.Errorf("the gallery shows %d images, want the %d uploads, oldest first", len(got), len(want))
	}
	reconnects := 0
	for _, st := range v.states {
		if st == StateReconnecting {
			reconnects++
		}
	}
	t.Logf("proxy: %v; %d reconnects; done in %v", proxy.Stats(), reconnects, time.Since(start).Round(time.Millisecond))
	if reconnects == 0 {
		t.Error("the stream was never cut: the test proved nothing")
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
