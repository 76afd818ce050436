package interop

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pageCSP is as strict as the real server's: the page's own scripts and
// wasm, and connections to its own origin only. That is why the events URL
// is proxied rather than fetched from the qrsync server's origin.
const pageCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; object-src 'none'; base-uri 'none'"

// pageServer is the loopback test server the browsers open: it serves a
// test page and its script, takes the reports the page posts back, and
// proxies /api/ to the qrsync server (through the tap) so that the page's
// EventSource is same-origin.
type pageServer struct {
	t     testing.TB
	srv   *httptest.Server
	files map[string]string // URL path → file on disk
	// upstream is the origin /api/ is proxied to; empty for none.
	upstream string
	client   *http.Client

	mu      sync.Mutex
	posts   map[string][]json.RawMessage // by path
	proxied []proxied
	served  []string              // paths of the files served, in order
	gates   map[int]chan struct{} // proxied request number (1-based) → held until closed
	changed chan struct{}
	// handlers answer GET requests for paths under their prefix.
	handlers map[string]http.HandlerFunc
}

// proxied is one request the page made for the stream.
type proxied struct {
	At          time.Time
	LastEventID string
	Status      int
}

// newPageServer serves files (URL path → path on disk) and proxies /api/ to
// upstream when it is not empty.
func newPageServer(t testing.TB, files map[string]string, upstream string) *pageServer {
	t.Helper()
	ps := &pageServer{
		t:        t,
		files:    files,
		upstream: upstream,
		// No keep-alive upstream: each stream is a connection of its own
		// in the tap's record.
		client:   &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		posts:    map[string][]json.RawMessage{},
		gates:    map[int]chan struct{}{},
		changed:  make(chan struct{}, 1),
		handlers: map[string]http.HandlerFunc{},
	}
	ps.srv = httptest.NewServer(http.HandlerFunc(ps.serve))
	t.Cleanup(func() {
		ps.mu.Lock()
		for n, g := range ps.gates {
			close(g)
			delete(ps.gates, n)
		}
		ps.mu.Unlock()
		// A browser may still hold connections open: cut them rather
		// than wait for them.
		ps.srv.CloseClientConnections()
		ps.srv.Close()
	})
	return ps
}

// URL is the server's origin.
func (ps *pageServer) URL() string { return ps.srv.URL }

func (ps *pageServer) notify() {
	select {
	case ps.changed <- struct{}{}:
	default:
	}
}

func (ps *pageServer) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	switch {
	case r.Method == http.MethodPost:
		b, err := io.ReadAll(r.Body)
		if err != nil || !json.Valid(b) {
			http.Error(w, "bad report", http.StatusBadRequest)
			ps.t.Errorf("page posted an invalid report to %s: %q %v", r.URL.Path, b, err)
			return
		}
		ps.mu.Lock()
		ps.posts[r.URL.Path] = append(ps.posts[r.URL.Path], b)
		ps.mu.Unlock()
		ps.notify()
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(r.URL.Path, "/api/") && ps.upstream != "":
		ps.proxy(w, r)
	case r.URL.Path == "/favicon.ico":
		w.WriteHeader(http.StatusNoContent)
	case ps.handler(r.URL.Path) != nil:
		ps.handler(r.URL.Path)(w, r)
	default:
		file, ok := ps.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		ps.mu.Lock()
		ps.served = append(ps.served, r.URL.Path)
		ps.mu.Unlock()
		switch filepath.Ext(file) {
		case ".html":
			h.Set("Content-Type", "text/html; charset=utf-8")
		case ".js":
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		case ".json":
			h.Set("Content-Type", "application/json")
		case ".wasm":
			h.Set("Content-Type", "application/wasm")
		}
		f, err := os.Open(file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		io.Copy(w, f)
	}
}

// handle makes fn answer GET requests for paths under prefix. Call it
// before the browser starts.
func (ps *pageServer) handle(prefix string, fn http.HandlerFunc) {
	ps.mu.Lock()
	ps.handlers[prefix] = fn
	ps.mu.Unlock()
}

func (ps *pageServer) handler(path string) http.HandlerFunc {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for prefix, fn := range ps.handlers {
		if strings.HasPrefix(path, prefix) {
			return fn
		}
	}
	return nil
}

// gate holds the n-th stream request (1-based) until release(n).
func (ps *pageServer) gate(n int) {
	ps.mu.Lock()
	ps.gates[n] = make(chan struct{})
	ps.mu.Unlock()
}

func (ps *pageServer) release(n int) {
	ps.mu.Lock()
	if g, ok := ps.gates[n]; ok {
		close(g)
		delete(ps.gates, n)
	}
	ps.mu.Unlock()
}

// proxy forwards a stream request to the qrsync server and copies the
// answer back as it arrives. When the upstream connection drops, the answer
// simply ends, as if the server had ended the stream.
func (ps *pageServer) proxy(w http.ResponseWriter, r *http.Request) {
	ps.mu.Lock()
	ps.proxied = append(ps.proxied, proxied{At: time.Now(), LastEventID: r.Header.Get("Last-Event-ID")})
	n := len(ps.proxied)
	gate := ps.gates[n]
	ps.mu.Unlock()
	ps.notify()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, ps.upstream+r.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, k := range []string{"Accept", "Cache-Control", "Last-Event-ID"} {
		if v := r.Header.Values(k); len(v) > 0 {
			req.Header[k] = v
		}
	}
	resp, err := ps.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	ps.mu.Lock()
	ps.proxied[n-1].Status = resp.StatusCode
	ps.mu.Unlock()
	for _, k := range []string{"Content-Type", "Cache-Control", "X-Accel-Buffering"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	rc.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// requests returns the stream requests so far.
func (ps *pageServer) requests() []proxied {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]proxied(nil), ps.proxied...)
}

// postsTo returns what the page posted to path so far.
func (ps *pageServer) postsTo(path string) []json.RawMessage {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]json.RawMessage(nil), ps.posts[path]...)
}

// waitFor waits until cond holds, or fails t with what.
func (ps *pageServer) waitFor(what string, timeout time.Duration, cond func() bool) {
	ps.t.Helper()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-ps.changed:
		case <-deadline:
			ps.mu.Lock()
			served := append([]string(nil), ps.served...)
			ps.mu.Unlock()
			ps.t.Fatalf("waited %v for %s; files served %q; the page posted %d events, %d states: %s", timeout, what,
				served, len(ps.postsTo("/event")), len(ps.postsTo("/state")), ps.postsTo("/state"))
		}
	}
}

// waitReport waits for the page's final report and decodes it into v.
func (ps *pageServer) waitReport(timeout time.Duration, v any) {
	ps.t.Helper()
	ps.waitFor("the page's report", timeout, func() bool { return len(ps.postsTo("/report")) > 0 })
	if err := json.Unmarshal(ps.postsTo("/report")[0], v); err != nil {
		ps.t.Fatalf("report: %v", err)
	}
}
