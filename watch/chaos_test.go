package watch

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/internal/apptest"
	"qrsync/internal/chaosproxy"
)

// chaosPhotos is how many photos each chaos test uploads.
const chaosPhotos = 200

// chaosTimeout bounds the wait for the folder to catch up; a run takes a
// few seconds, the margin is for a loaded machine under -race.
const chaosTimeout = 90 * time.Second

// chaosConfig is the proxy of the chaos tests: default lifetimes, every
// cut hitting both sides, so the server's failed writes are exercised too.
func chaosConfig() chaosproxy.Config {
	return chaosproxy.Config{}
}

// TestChaos mirrors a session through a proxy that cuts every connection
// within half a second, and refuses or silently drops everything for a
// while twice, while 200 photos are uploaded straight to the server. The
// folder must end with exactly the 200 photos, each once, byte for byte,
// and the watcher must have seen the image events in upload order.
func TestChaos(t *testing.T) {
	start := time.Now()
	app := startServer(t)
	proxy := chaosproxy.Start(t, app.Addr, chaosConfig())
	s := app.NewSession()
	dir := t.TempDir()
	w := startWatcher(t, Config{SessionURL: sessionURL(proxy.URL(), s), Dir: dir, Fetcher: newFetcher(t)})
	// Every photo must come as an image event: start once the (empty)
	// snapshot is in, through however many cuts that takes.
	eventually(t, chaosTimeout, "the first snapshot", func() bool { return w.rec.count(ReportSynced) > 0 })

	var imgs []api.Image
	for i := range chaosPhotos {
		proxy.Outages(i)
		name, data := apptest.Photo(t, i)
		imgs = append(imgs, app.MustUpload(s, name, data))
		pace()
	}
	uploaded := time.Since(start)
	eventually(t, chaosTimeout, fmt.Sprintf("%d photos in the folder", chaosPhotos), func() bool {
		return w.rec.count(ReportSaved) >= chaosPhotos
	})
	caughtUp := time.Since(start)
	if err := w.stop(t); !isCanceled(err) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}

	checkFiles(t, dir, readState(t, dir).session(sessionKey(s.ID)), imgs)
	checkResumed(t, w.rec)
	checkOrder(t, "the watcher's image events", w.rec.of(ReportImage), imgs)
	checkOrder(t, "the files saved", w.rec.of(ReportSaved), imgs)
	checkServer(t, app, s, imgs)
	logRun(t, proxy, w.rec, uploaded, caughtUp)
}

// TestChaosRestart stops the watcher half-way through the uploads and
// starts a new one on the same folder: it must resume exactly after the
// last photo the first one saved, fetching nothing twice.
func TestChaosRestart(t *testing.T) {
	start := time.Now()
	app := startServer(t)
	proxy := chaosproxy.Start(t, app.Addr, chaosConfig())
	s := app.NewSession()
	dir := t.TempDir()
	cfg := Config{SessionURL: sessionURL(proxy.URL(), s), Dir: dir, Fetcher: newFetcher(t)}

	// Uploads run aside, in order, while the watchers come and go.
	type result struct {
		imgs []api.Image
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for i := range chaosPhotos {
			name, data := apptest.Photo(t, i)
			status, body, err := app.Upload(s, name, data)
			if err == nil && status != http.StatusCreated {
				err = fmt.Errorf("upload %s: %d %s", name, status, body)
			}
			var res api.UploadResult
			if err == nil {
				err = json.Unmarshal(body, &res)
			}
			if err == nil && len(res.Images) != 1 {
				err = fmt.Errorf("upload %s: %s", name, body)
			}
			if err != nil {
				r.err = err
				break
			}
			r.imgs = append(r.imgs, res.Images[0])
			pace()
		}
		done <- r
	}()

	first := startWatcher(t, cfg)
	eventually(t, chaosTimeout, "the first watcher to save half the photos", func() bool {
		return first.rec.count(ReportSaved) >= chaosPhotos/2
	})
	if err := first.stop(t); !isCanceled(err) {
		t.Errorf("first Run = %v, want context.Canceled", err)
	}
	saved1 := first.rec.of(ReportSaved)
	t.Logf("first watcher stopped after saving %d photos", len(saved1))

	second := startWatcher(t, cfg)
	var r result
	select {
	case r = <-done:
	case <-time.After(chaosTimeout):
		t.Fatal("the uploads did not finish")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	imgs := r.imgs
	eventually(t, chaosTimeout, "the second watcher to catch up", func() bool {
		return len(saved1)+second.rec.count(ReportSaved) >= chaosPhotos
	})
	caughtUp := time.Since(start)
	if err := second.stop(t); !isCanceled(err) {
		t.Errorf("second Run = %v, want context.Canceled", err)
	}

	checkFiles(t, dir, readState(t, dir).session(sessionKey(s.ID)), imgs)
	checkOrder(t, "the first watcher's saves", saved1, imgs[:len(saved1)])
	// The second resumed from the saved position: its first image event
	// is the one after the last photo the first watcher saved.
	checkOrder(t, "the second watcher's image events", second.rec.of(ReportImage), imgs[len(saved1):])
	checkOrder(t, "the second watcher's saves", second.rec.of(ReportSaved), imgs[len(saved1):])
	checkResumed(t, second.rec)
	if n := second.rec.count(ReportFound) + second.rec.count(ReportSynced); n != 0 {
		t.Errorf("the second watcher started from a snapshot or found files (%d): it did not resume", n)
	}
	logRun(t, proxy, second.rec, 0, caughtUp)
}

// pace spreads the uploads over a few seconds, at uneven intervals, so that
// events land at every point of a connection's short life and a run sees
// dozens of cuts rather than a handful.
func pace() { time.Sleep(rand.N(50 * time.Millisecond)) }

// checkResumed asserts that every reconnect after the first image event
// resumed with Last-Event-ID: no snapshot came after it.
func checkResumed(t *testing.T, rec *recorder) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seenImage := false
	for _, r := range rec.reports {
		switch r.Kind {
		case ReportImage:
			seenImage = true
		case ReportSynced:
			if seenImage {
				t.Error("a snapshot came after image events: a reconnect did not resume")
				return
			}
		}
	}
}

// checkOrder asserts that reports are about exactly imgs, in order.
func checkOrder(t *testing.T, what string, reports []Report, imgs []api.Image) {
	t.Helper()
	got := make([]string, len(reports))
	for i, r := range reports {
		got[i] = r.Image.ID
	}
	want := make([]string, len(imgs))
	for i, img := range imgs {
		want[i] = img.ID
	}
	if slices.Equal(got, want) {
		return
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: %d ids, want %d; first difference at %d: %s, want %s", what, len(got), len(want), i, got[i], want[i])
			return
		}
	}
	t.Errorf("%s: %d ids, want %d", what, len(got), len(want))
}

// checkServer asserts that the server lists the same images, so the sums
// compared above are the server's own.
func checkServer(t *testing.T, app *apptest.App, s api.Session, imgs []api.Image) {
	t.Helper()
	resp, err := http.Get(sessionURL(app.Base, s))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got api.Session
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Images) != len(imgs) {
		t.Fatalf("the server lists %d images, want %d", len(got.Images), len(imgs))
	}
	for i, img := range got.Images {
		if img.ID != imgs[i].ID || img.SHA256 != imgs[i].SHA256 {
			t.Errorf("server image %d: %s %s, uploaded %s %s", i, img.ID, img.SHA256, imgs[i].ID, imgs[i].SHA256)
		}
	}
}

// logRun records how rough the ride was.
func logRun(t *testing.T, proxy *chaosproxy.Proxy, rec *recorder, uploaded, caughtUp time.Duration) {
	t.Helper()
	drops := 0
	for _, r := range rec.of(ReportState) {
		if r.State == eventsource.StateReconnecting {
			drops++
		}
	}
	t.Logf("proxy: %v; last watcher: %d reconnects, %d download retries; uploads done at %v, folder complete at %v",
		proxy.Stats(), drops, rec.count(ReportRetry), uploaded.Round(time.Millisecond), caughtUp.Round(time.Millisecond))
}
