package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/storage/boltdb"
	"qrsync/storage/fsblob"
)

// testdata is the shared photo set, read in place (never copied in).
const testdata = "../../shared/testdata/images/"

// app is a real server on a loopback port with real embedded backends in
// a temporary data directory.
type testApp struct {
	t       testing.TB
	base    string
	dataDir string
	srv     *Server
	stop    func()
}

func startApp(t testing.TB, cfg Config) *testApp {
	t.Helper()
	return startAppAt(t, t.TempDir(), cfg)
}

func startAppAt(t testing.TB, dataDir string, cfg Config) *testApp {
	t.Helper()
	return startAppOn(t, "127.0.0.1:0", dataDir, cfg)
}

// startAppOn listens on addr, so a test can restart a server in place:
// same port, same data directory.
func startAppOn(t testing.TB, addr, dataDir string, cfg Config) *testApp {
	t.Helper()
	blobs, err := fsblob.New(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := boltdb.Open(filepath.Join(dataDir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ { // a port just released may linger briefly
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
	srv, err := New(cfg, blobs, cat)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	a := &testApp{t: t, base: base, dataDir: dataDir, srv: srv}
	var once bool
	a.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
		cat.Close()
		blobs.Close()
	}
	t.Cleanup(a.stop)
	waitHealthy(t, base)
	return a
}

func waitHealthy(t testing.TB, base string) {
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

func (a *testApp) do(method, path string, body io.Reader, contentType string) (*http.Response, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

func (a *testApp) newSession() api.Session {
	a.t.Helper()
	resp, body := a.do(http.MethodPost, "/api/sessions", nil, "")
	if resp.StatusCode != http.StatusCreated {
		a.t.Fatalf("create session: %d %s", resp.StatusCode, body)
	}
	var s api.Session
	mustJSON(a.t, body, &s)
	return s
}

// uploadPath is the API path behind a session's upload page URL.
func uploadPath(s api.Session) string {
	i := strings.LastIndex(s.UploadURL, "/u/")
	return "/api/upload/" + s.UploadURL[i+len("/u/"):]
}

// multipartBody builds a body with one part per file, named "file".
func multipartBody(t testing.TB, files map[string][]byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, data := range files {
		w, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func (a *testApp) upload(s api.Session, name string, data []byte) (*http.Response, []byte) {
	a.t.Helper()
	body, ctype := multipartBody(a.t, map[string][]byte{name: data})
	return a.do(http.MethodPost, uploadPath(s), body, ctype)
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// subscription reads a session's stream with our own decoder.
type subscription struct {
	t      testing.TB
	resp   *http.Response
	dec    *eventsource.Decoder
	events chan eventsource.Event
	errc   chan error
	cancel context.CancelFunc
}

func (a *testApp) subscribe(s api.Session, lastEventID string) *subscription {
	a.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+s.EventsURL, nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		a.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		a.t.Fatalf("subscribe: status %d", resp.StatusCode)
	}
	sub := &subscription{t: a.t, resp: resp, dec: eventsource.NewDecoder(resp.Body),
		events: make(chan eventsource.Event, 64), errc: make(chan error, 1), cancel: cancel}
	go func() {
		for {
			ev, err := sub.dec.Next()
			if err != nil {
				sub.errc <- err
				close(sub.events)
				return
			}
			sub.events <- ev
		}
	}()
	a.t.Cleanup(sub.close)
	return sub
}

func (s *subscription) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event, failing the test if none comes in time.
func (s *subscription) next() eventsource.Event {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatalf("stream ended: %v", <-s.errc)
		}
		return ev
	case <-time.After(15 * time.Second):
		s.t.Fatal("no event within 15s")
	}
	return eventsource.Event{}
}

// none asserts that no event arrives for d.
func (s *subscription) none(d time.Duration) {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if ok {
			s.t.Fatalf("unexpected event %+v", ev)
		}
	case <-time.After(d):
	}
}

// blobFiles lists every file under the data directory's blob store.
func (a *testApp) blobFiles() []string {
	var out []string
	filepath.Walk(filepath.Join(a.dataDir, "blobs"), func(p string, info os.FileInfo, err error) error {
		// .lock is the store's own guard against a second process.
		if err == nil && !info.IsDir() && info.Name() != ".lock" {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func fmtEvent(ev eventsource.Event) string {
	return fmt.Sprintf("%s id=%s %.80s", ev.Type, ev.ID, ev.Data)
}
