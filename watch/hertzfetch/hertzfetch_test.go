package hertzfetch

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"qrsync/internal/apptest"
	"qrsync/internal/chaosproxy"
	"qrsync/internal/tcptest"
	"qrsync/server"
)

func newFetcher(t *testing.T, opts Options) *Fetcher {
	t.Helper()
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// readUntil reads from r until the bytes read contain s.
func readUntil(t *testing.T, r io.Reader, s string) {
	t.Helper()
	var got strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), s) {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("read %q, then %v; waiting for %q", got.String(), err, s)
		}
	}
}

// TestCloseWhileReading is the property eventsource.Client relies on: a
// Close from another goroutine ends a Read blocked on a quiet stream at
// once, and the Fetcher keeps working afterwards.
func TestCloseWhileReading(t *testing.T) {
	app := apptest.Start(t, server.Config{KeepAlive: time.Hour})
	s := app.NewSession()
	f := newFetcher(t, Options{})
	for round := 0; round < 3; round++ {
		resp, err := f.Fetch(context.Background(), app.Base+s.EventsURL, map[string]string{"Accept": "text/event-stream"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || !strings.HasPrefix(resp.ContentType, "text/event-stream") {
			t.Fatalf("answer %d %q", resp.Status, resp.ContentType)
		}
		readUntil(t, resp.Body, "event: snapshot")

		errc := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, resp.Body) // blocks: the stream is quiet
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		if err := resp.Body.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if err == nil {
				t.Error("the blocked Read ended without an error")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not end the blocked Read")
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("the Read took %v to end after Close", d)
		}
		resp.Body.Close() // twice is fine
		if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
			t.Error("Read after Close succeeded")
		}
	}
}

// TestCompleteBodyReusesConnection: a body read to its end is released
// normally, and the next request works (on the same connection or not).
func TestCompleteBody(t *testing.T) {
	app := apptest.Start(t, server.Config{})
	f := newFetcher(t, Options{})
	for i := 0; i < 5; i++ {
		resp, err := f.Fetch(context.Background(), app.Base+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.Status != 200 || !strings.Contains(string(b), "ok") {
			t.Fatalf("healthz: %d %q %v", resp.Status, b, err)
		}
	}
	resp, err := f.Fetch(context.Background(), app.Base+"/api/sessions/nope", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // unread: the connection is dropped, not reused
	if resp.Status != 404 {
		t.Errorf("unknown session: %d", resp.Status)
	}
}

// silentServer accepts HTTP requests and answers each with headers, a
// first chunk, then silence until the test ends: a dead path.
func silentServer(t *testing.T, headers bool) string {
	return "http://" + tcptest.Serve(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		if headers {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n: hi\n\n\r\n")
		}
		io.Copy(io.Discard, r)
	})
}

func TestStall(t *testing.T) {
	f := newFetcher(t, Options{StallTimeout: 300 * time.Millisecond})
	t.Run("body", func(t *testing.T) {
		base := silentServer(t, true)
		resp, err := f.Fetch(context.Background(), base+"/events", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		readUntil(t, resp.Body, ": hi")
		start := time.Now()
		_, err = resp.Body.Read(make([]byte, 100))
		if !errors.Is(err, ErrStalled) {
			t.Errorf("Read on a silent stream: %v, want ErrStalled", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
			t.Errorf("stalled after %v, want about 300ms", d)
		}
	})
	t.Run("headers", func(t *testing.T) {
		base := silentServer(t, false)
		start := time.Now()
		_, err := f.Fetch(context.Background(), base+"/events", nil)
		if err == nil {
			t.Fatal("Fetch with no answer succeeded")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("gave up after %v, want about 300ms", d)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		base := silentServer(t, false)
		slow := newFetcher(t, Options{StallTimeout: -1})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		_, err := slow.Fetch(ctx, base+"/events", nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch after cancel: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("returned %v after the cancel", d)
		}
	})
}

func TestRefusedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	f := newFetcher(t, Options{})
	if _, err := f.Fetch(context.Background(), "http://"+addr+"/", nil); err == nil {
		t.Error("Fetch from a closed port succeeded")
	}
}

// TestConnectionReuse counts connections at a proxy: a body read to its
// end gives its connection back for the next request, and a body closed
// early (a stream) shuts its connection instead of reading on.
func TestConnectionReuse(t *testing.T) {
	app := apptest.Start(t, server.Config{})
	s := app.NewSession()
	proxy := chaosproxy.Start(t, app.Addr, chaosproxy.Config{MaxLife: -1})
	f := newFetcher(t, Options{})
	get := func(path string, readAll bool) {
		t.Helper()
		resp, err := f.Fetch(context.Background(), proxy.URL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if readAll {
			if _, err := io.ReadAll(resp.Body); err != nil {
				t.Fatal(err)
			}
		} else {
			readUntil(t, resp.Body, "snapshot")
		}
		resp.Body.Close()
	}
	for range 5 {
		get("/healthz", true)
	}
	if n := proxy.Stats().Accepted; n != 1 {
		t.Errorf("5 complete requests used %d connections, want 1", n)
	}
	get(s.EventsURL, false) // the pooled connection, then shut
	get("/healthz", true)   // a new one
	deadline := time.Now().Add(5 * time.Second)
	for proxy.Stats().Live != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := proxy.Stats(); st.Accepted != 2 || st.Live != 1 {
		t.Errorf("after a stream closed early: %v; want 2 connections, the stream's shut", st)
	}
}
