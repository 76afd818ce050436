package watch

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/internal/apptest"
	"qrsync/server"
	"qrsync/watch/hertzfetch"
)

// testRetry is the server's reconnection time in these tests: short, so a
// test with many drops does not spend its time waiting.
const testRetry = 50 * time.Millisecond

// fastBackoff retries downloads quickly and keeps reconnects near the
// server's retry.
var fastBackoff = eventsource.Backoff{Initial: 20 * time.Millisecond, Max: 500 * time.Millisecond}

// startServer runs the real qrsync server on loopback.
func startServer(t *testing.T) *apptest.App {
	t.Helper()
	return apptest.Start(t, server.Config{Retry: testRetry})
}

// uploadPhotos uploads n distinct photos to s, as a phone would.
func uploadPhotos(t *testing.T, app *apptest.App, s api.Session, n int) []api.Image {
	t.Helper()
	imgs := make([]api.Image, 0, n)
	for i := range n {
		name, data := apptest.Photo(t, i)
		imgs = append(imgs, app.MustUpload(s, name, data))
	}
	return imgs
}

// newFetcher is the Fetcher `qrsync watch` uses.
func newFetcher(t *testing.T) *hertzfetch.Fetcher {
	t.Helper()
	f, err := hertzfetch.New(hertzfetch.Options{StallTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// recorder collects a watcher's reports for a test.
type recorder struct {
	t       testing.TB
	mu      sync.Mutex
	reports []Report
	log     bool
}

func (r *recorder) add(rep Report) {
	r.mu.Lock()
	r.reports = append(r.reports, rep)
	r.mu.Unlock()
	if r.log {
		if s := rep.String(); s != "" {
			r.t.Log(s)
		}
	}
}

// of returns the reports of one kind so far.
func (r *recorder) of(kind ReportKind) []Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Report
	for _, rep := range r.reports {
		if rep.Kind == kind {
			out = append(out, rep)
		}
	}
	return out
}

// count returns how many reports of a kind there are so far.
func (r *recorder) count(kind ReportKind) int { return len(r.of(kind)) }

// running is a watcher started by a test.
type running struct {
	rec    *recorder
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned err
	err    error
}

// stop cancels the watcher and returns what Run returned.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	return r.wait(t, 20*time.Second)
}

// wait returns what Run returned, failing the test if it does not return.
func (r *running) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(d):
		t.Fatalf("the watcher did not return within %v", d)
		return nil
	}
}

// startWatcher runs a watcher until the test ends (or stop).
func startWatcher(t *testing.T, cfg Config) *running {
	t.Helper()
	rec := &recorder{t: t}
	cfg.Report = rec.add
	if cfg.Backoff.Initial == 0 && cfg.Backoff.Max == 0 {
		cfg.Backoff = fastBackoff
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{rec: rec, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = w.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Error("the watcher did not stop within 20s of the test's end")
		}
	})
	return r
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sessionURL is the session's URL on the given origin.
func sessionURL(origin string, s api.Session) string {
	return origin + "/api/sessions/" + s.ID
}

// imageURL is an image's URL on the given origin (the upload answer leaves
// it out: it carries the session id).
func imageURL(origin string, s api.Session, img api.Image) string {
	return sessionURL(origin, s) + "/images/" + img.ID
}

// photos lists the visible files of dir (not the watcher's hidden ones).
func photos(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !e.Type().IsRegular() {
			t.Errorf("%s is not a regular file", e.Name())
		}
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

// hidden lists the hidden files of dir that are not the watcher's state and
// lock: leftovers that should not be there.
func hidden(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") && n != StateFile && n != lockFile {
			out = append(out, n)
		}
	}
	return out
}

// readState loads dir's state for checks.
func readState(t testing.TB, dir string) *state {
	t.Helper()
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// httpDelete sends a DELETE to the server.
func httpDelete(t testing.TB, url string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s: %d", url, resp.StatusCode)
	}
}

// checkFiles asserts that dir holds exactly one file per image, each with
// the image's bytes, as the state maps them, and nothing else.
func checkFiles(t testing.TB, dir string, st *sessionState, images []api.Image) {
	t.Helper()
	if got := photos(t, dir); len(got) != len(images) {
		t.Errorf("the folder has %d photos, want %d", len(got), len(images))
	}
	if left := hidden(t, dir); len(left) > 0 {
		t.Errorf("leftover hidden files: %v", left)
	}
	files := map[string]string{}
	for _, img := range images {
		e, ok := st.Images[img.ID]
		if !ok {
			t.Errorf("image %s (%s) has no file in the state", img.ID, img.Name)
			continue
		}
		if other, dup := files[e.File]; dup {
			t.Errorf("images %s and %s share the file %s", other, img.ID, e.File)
		}
		files[e.File] = img.ID
		sum, err := hashFile(filepath.Join(dir, e.File))
		if err != nil {
			t.Errorf("image %s: %v", img.ID, err)
			continue
		}
		if sum != img.SHA256 {
			t.Errorf("%s holds bytes with SHA-256 %s, the server stores %s", e.File, sum, img.SHA256)
		}
	}
	if len(st.Images) != len(images) {
		t.Errorf("the state maps %d images, want %d", len(st.Images), len(images))
	}
}

// isCanceled reports whether err is a cancellation, as Run returns when
// stopped.
func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }
