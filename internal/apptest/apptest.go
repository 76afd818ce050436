// Package apptest starts the real qrsync server for tests in other
// packages: Hertz on a loopback port, with the embedded backends (files and
// bbolt) in a data directory of the test's. Nothing in it is a fake; it
// only saves every test from wiring the same parts by hand. The server's
// own tests use it too, from package server_test: it imports server, so
// package server's internal tests cannot.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/server"
	"qrsync/storage"
	"qrsync/storage/boltdb"
	"qrsync/storage/fsblob"
)

// App is one running server.
type App struct {
	// Client talks to the server; its Base is the server's origin.
	*Client
	// Addr is the listen address, for restarting on the same port.
	Addr string
	// DataDir holds the blob store (blobs/) and the catalog (catalog.db).
	DataDir string
	// Server is the server itself, for tests of package server that look
	// inside it through what its export_test.go exposes.
	Server *server.Server

	stop func()
}

// Start runs a server on a fresh loopback port and a fresh data directory.
func Start(t testing.TB, cfg server.Config) *App {
	t.Helper()
	return start(t, "127.0.0.1:0", t.TempDir(), cfg, nil, nil)
}

// StartAt runs a server on addr with data under dataDir, so a test can
// restart it in place: StartAt(t, a.Addr, a.DataDir, cfg) after a.Stop().
// Stop (or the test's end) shuts it down.
func StartAt(t testing.TB, addr, dataDir string, cfg server.Config) *App {
	t.Helper()
	return start(t, addr, dataDir, cfg, nil, nil)
}

// StartWrapped is Start with the test's own layer around the blob store or
// the catalog, to inject faults; a nil wrapper leaves its backend as it is.
func StartWrapped(t testing.TB, cfg server.Config, wrapBlobs func(storage.BlobStore) storage.BlobStore, wrapCat func(server.Catalog) server.Catalog) *App {
	t.Helper()
	return start(t, "127.0.0.1:0", t.TempDir(), cfg, wrapBlobs, wrapCat)
}

func start(t testing.TB, addr, dataDir string, cfg server.Config, wrapBlobs func(storage.BlobStore) storage.BlobStore, wrapCat func(server.Catalog) server.Catalog) *App {
	t.Helper()
	fb, err := fsblob.New(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	bc, err := boltdb.Open(filepath.Join(dataDir, "catalog.db"))
	if err != nil {
		fb.Close()
		t.Fatal(err)
	}
	var blobs storage.BlobStore = fb
	var cat server.Catalog = bc
	if wrapBlobs != nil {
		blobs = wrapBlobs(fb)
	}
	if wrapCat != nil {
		cat = wrapCat(bc)
	}
	var ln net.Listener
	// A port just released by a stopped server may linger briefly.
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	if cfg.PublicURLs == nil {
		cfg.PublicURLs = []string{base}
	}
	srv, err := server.New(cfg, blobs, cat)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	a := &App{Client: NewClient(t, base), Addr: ln.Addr().String(), DataDir: dataDir, Server: srv}
	stopped := false
	a.stop = func() {
		if stopped {
			return
		}
		stopped = true
		// The test's idle keep-alive connections would hold the graceful
		// shutdown for its whole grace period, two seconds a server.
		http.DefaultClient.CloseIdleConnections()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
		bc.Close()
		fb.Close()
	}
	t.Cleanup(a.stop)
	WaitHealthy(t, base)
	return a
}

// Stop shuts the server down and releases its data directory. It is safe
// to call more than once.
func (a *App) Stop() { a.stop() }

// String names the app in test logs.
func (a *App) String() string { return fmt.Sprintf("qrsync at %s (data %s)", a.Base, a.DataDir) }

// WaitHealthy waits up to 10 s for the server at base to answer /healthz,
// and fails t if it never does: after a test's hostile input it shows the
// server still serves.
func WaitHealthy(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server at %s never became healthy", base)
}

// Client talks to a running server over HTTP, as its pages do. Its
// methods fail the test on an answer they do not expect, so that a test
// reads as the requests it makes; Upload and UploadFrom instead report
// it, so that they can run on any goroutine.
type Client struct {
	// Base is the server's origin, e.g. http://127.0.0.1:41234.
	Base string

	t testing.TB
}

// NewClient is a Client of the server at base, for a server the test runs
// some other way (the real binary in a child process, say).
func NewClient(t testing.TB, base string) *Client { return &Client{Base: base, t: t} }

// Do sends a request for path (under Base) and returns the answer with its
// body read. Only a failure to get an answer fails the test.
func (c *Client) Do(method, path string, body io.Reader, contentType string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.Base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

// GetJSON decodes the answer to GET path into v; anything but a 200 with
// JSON fails the test.
func (c *Client) GetJSON(path string, v any) {
	c.t.Helper()
	resp, body := c.Do(http.MethodGet, path, nil, "")
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.t.Fatalf("GET %s: %v in %q", path, err, body)
	}
}

// NewSession creates a session as the PC page does.
func (c *Client) NewSession() api.Session {
	c.t.Helper()
	resp, body := c.Do(http.MethodPost, "/api/sessions", nil, "")
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("create session: %d %s", resp.StatusCode, body)
	}
	var s api.Session
	if err := json.Unmarshal(body, &s); err != nil {
		c.t.Fatalf("create session: %v in %q", err, body)
	}
	return s
}

// UploadPath is the API path behind a session's upload page URL.
func UploadPath(s api.Session) string {
	i := strings.LastIndex(s.UploadURL, api.UploadPathMark)
	return api.UploadAPIPath + s.UploadURL[i+len(api.UploadPathMark):]
}

// Upload sends one file as the phone page does and returns the status and
// the answer. It is safe for concurrent use.
func (c *Client) Upload(s api.Session, name string, data []byte) (int, []byte, error) {
	// Built whole, so the request states its length, as a browser's form
	// upload does (the server decodes while the bytes arrive only then).
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, err := mw.CreateFormFile("file", name)
	if err != nil {
		return 0, nil, err
	}
	w.Write(data)
	mw.Close()
	resp, err := http.Post(c.Base+UploadPath(s), mw.FormDataContentType(), &body)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// UploadFrom is Upload of a file read from r as it is sent, so that a test
// can send more than it could hold. The request is chunked: its length is
// not known beforehand.
func (c *Client) UploadFrom(s api.Session, name string, r io.Reader) (int, []byte, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, err := mw.CreateFormFile("file", name)
		if err == nil {
			_, err = io.Copy(w, r)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	resp, err := http.Post(c.Base+UploadPath(s), mw.FormDataContentType(), pr)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// MustUpload is Upload that fails the test unless the answer is 201.
func (c *Client) MustUpload(s api.Session, name string, data []byte) api.Image {
	c.t.Helper()
	status, body, err := c.Upload(s, name, data)
	if err != nil || status != http.StatusCreated {
		c.t.Fatalf("upload %s: %d %s %v", name, status, body, err)
	}
	var res api.UploadResult
	if err := json.Unmarshal(body, &res); err != nil || len(res.Images) != 1 {
		c.t.Fatalf("upload %s: %s %v", name, body, err)
	}
	return res.Images[0]
}

// Stream is a session's event stream as a viewer reads it, decoded by
// package eventsource. It is closed when the test ends.
type Stream struct {
	// Header is the header of the stream's answer.
	Header http.Header

	t      testing.TB
	events chan eventsource.Event // closed at the stream's end, after err is set
	err    error                  // why the stream ended
	close  func()

	mu       sync.Mutex
	retry    time.Duration
	hasRetry bool
	news     []eventsource.Event // upload events, kept apart (see News)
}

// News returns the upload events read so far. They are live news with no
// id, interleaved with the log's events by timing alone, so Next skips
// them and tests that want them read them here.
func (s *Stream) News() []eventsource.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]eventsource.Event(nil), s.news...)
}

// Subscribe opens s's event stream; a lastEventID other than "" asks to
// resume after that event, as a reconnecting EventSource does. Anything
// but a 200 fails the test.
func (c *Client) Subscribe(s api.Session, lastEventID string) *Stream {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+s.EventsURL, nil)
	if err != nil {
		cancel()
		c.t.Fatal(err)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		c.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		c.t.Fatalf("subscribe: status %d", resp.StatusCode)
	}
	st := &Stream{Header: resp.Header, t: c.t, events: make(chan eventsource.Event, 64),
		close: func() { cancel(); resp.Body.Close() }}
	go func() {
		dec := eventsource.NewDecoder(resp.Body)
		for {
			ev, err := dec.Next()
			if err != nil {
				st.err = err
				close(st.events)
				return
			}
			st.mu.Lock()
			st.retry, st.hasRetry = dec.Retry()
			if ev.Type == api.EventUpload {
				st.news = append(st.news, ev)
				st.mu.Unlock()
				continue
			}
			st.mu.Unlock()
			st.events <- ev
		}
	}()
	c.t.Cleanup(st.Close)
	return st
}

// Close hangs up, as a viewer that leaves.
func (s *Stream) Close() { s.close() }

// Next returns the next event; the stream's end, or no event within 15 s,
// fails the test.
func (s *Stream) Next() eventsource.Event {
	s.t.Helper()
	ev, got, ended := s.await(15 * time.Second)
	switch {
	case ended:
		s.t.Fatalf("stream ended: %v", s.err)
	case !got:
		s.t.Fatal("no event within 15s")
	}
	return ev
}

// None fails the test if an event arrives within d.
func (s *Stream) None(d time.Duration) {
	s.t.Helper()
	if ev, got, _ := s.await(d); got {
		s.t.Fatalf("unexpected event %+v", ev)
	}
}

// WaitEnd fails the test unless the server ends the stream within d, with
// no event before.
func (s *Stream) WaitEnd(d time.Duration) {
	s.t.Helper()
	ev, got, ended := s.await(d)
	switch {
	case got:
		s.t.Fatalf("unexpected event %+v before the stream's end", ev)
	case !ended:
		s.t.Fatalf("stream still open after %v", d)
	}
}

// await waits up to d for what comes next: an event (got) or the
// stream's end (ended); neither means d passed.
func (s *Stream) await(d time.Duration) (ev eventsource.Event, got, ended bool) {
	select {
	case ev, ok := <-s.events:
		return ev, ok, !ok
	case <-time.After(d):
		return ev, false, false
	}
}

// Retry is the reconnection delay the server has sent, if any, in the
// events read so far.
func (s *Stream) Retry() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retry, s.hasRetry
}

// Photo makes the i-th test photo: small, different from every other one
// (so none is folded into another as a duplicate), a PNG for even i and a
// JPEG for odd i, named photo-NNN with the matching extension.
func Photo(t testing.TB, i int) (name string, data []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for y := range 16 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{uint8(i), uint8(i >> 8), uint8(x*10 + y), 255})
		}
	}
	// One pixel per bit of i, so no two photos come out the same even
	// after JPEG's rounding.
	for b := range 12 {
		if i&(1<<b) != 0 {
			img.Set(b, 0, color.RGBA{255, 255, 255, 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if i%2 == 0 {
		name = fmt.Sprintf("photo-%03d.png", i)
		err = png.Encode(&buf, img)
	} else {
		name = fmt.Sprintf("photo-%03d.jpg", i)
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	return name, buf.Bytes()
}
