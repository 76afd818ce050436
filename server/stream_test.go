package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cloudwego/hertz/pkg/protocol/sse"

	"qrsync/api"
)

// stuckWriter is a connection whose peer stopped reading: writes block
// until the connection is closed.
type stuckWriter struct {
	closed chan struct{}
	once   sync.Once
}

func (w *stuckWriter) Write(*sse.Event) error { <-w.closed; return io.ErrClosedPipe }
func (w *stuckWriter) WriteKeepAlive() error  { <-w.closed; return io.ErrClosedPipe }
func (w *stuckWriter) Close() error           { w.once.Do(func() { close(w.closed) }); return nil }

// A viewer that stops reading is cut off after the stream's write
// timeout instead of pinning its handler forever.
func TestStuckViewerIsCutOff(t *testing.T) {
	stuck := &stuckWriter{closed: make(chan struct{})}
	d := &deadlineWriter{w: stuck, conn: stuck, timeout: 50 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- d.Write(&sse.Event{Type: "image", Data: []byte("{}")}) }()
	select {
	case err := <-done:
		if !errors.Is(err, errSlowViewer) {
			t.Fatalf("err = %v, want errSlowViewer", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stuck write was never cut off")
	}
	// A writer that keeps up is left alone.
	ok := &deadlineWriter{w: okWriter{}, conn: stuck, timeout: time.Second}
	if err := ok.Write(&sse.Event{Type: "image", Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
}

type okWriter struct{}

func (okWriter) Write(*sse.Event) error { return nil }
func (okWriter) WriteKeepAlive() error  { return nil }

// A handler and its goroutines end when the viewer leaves: after 1,000
// connects and disconnects the goroutine count is back where it started.
func TestNoLeakAfterManyConnects(t *testing.T) {
	a := startApp(t, Config{})
	s := a.newSession()
	a.upload(s, "a.png", smallPNG(t, 16, 16))
	tr := &http.Transport{DisableKeepAlives: true}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()

	connectOnce := func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+s.EventsURL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256) // the snapshot has begun to arrive
		if _, err := resp.Body.Read(buf); err != nil {
			t.Fatal(err)
		}
		cancel()
		resp.Body.Close()
	}
	for range 20 { // warm up pools, timers and the runtime
		connectOnce()
	}
	settle := func() int {
		var n int
		for range 100 {
			runtime.GC()
			n = runtime.NumGoroutine()
			time.Sleep(20 * time.Millisecond)
			if m := runtime.NumGoroutine(); m == n {
				break
			}
		}
		return n
	}
	before := settle()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapInuse
	for range 1000 {
		connectOnce()
	}
	deadline := time.Now().Add(10 * time.Second)
	after := settle()
	for after > before+5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		after = settle()
	}
	runtime.ReadMemStats(&ms)
	t.Logf("goroutines before %d, after 1000 connect/disconnects %d; heap in use %d KiB → %d KiB",
		before, after, heapBefore>>10, ms.HeapInuse>>10)
	if after > before+5 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines grew from %d to %d:\n%s", before, after, buf[:n])
	}
}

// Shutting the server down ends open streams, so their viewers reconnect
// to whatever serves next instead of holding the old process up.
func TestShutdownEndsStreams(t *testing.T) {
	a := startApp(t, Config{})
	s := a.newSession()
	sub := a.subscribe(s, "")
	if ev := sub.next(); ev.Type != api.EventSnapshot {
		t.Fatalf("got %s", fmtEvent(ev))
	}
	start := time.Now()
	a.stop()
	select {
	case _, ok := <-sub.events:
		if ok {
			t.Fatal("unexpected event at shutdown")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open 10s after shutdown")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("shutdown took %v with a stream open", d)
	}
}
