package server_test

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
)

// A handler and its goroutines end when the viewer leaves: after 1,000
// connects and disconnects the goroutine count is back where it started.
func TestNoLeakAfterManyConnects(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	a.MustUpload(s, "a.png", smallPNG(t, 16, 16))
	tr := &http.Transport{DisableKeepAlives: true}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()

	connectOnce := func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.Base+s.EventsURL, nil)
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
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	sub := a.Subscribe(s, "")
	if ev := sub.Next(); ev.Type != api.EventSnapshot {
		t.Fatalf("got %s", fmtEvent(ev))
	}
	start := time.Now()
	a.Stop()
	sub.WaitEnd(10 * time.Second)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("shutdown took %v with a stream open", d)
	}
}
