package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/internal/apptest"
	"qrsync/internal/browsertest"
)

// kill -9 during 20 concurrent uploads, then a restart on the same data
// directory and port. Afterwards every upload that got 201 is
// there with its thumbnail; every blob file belongs to an image in the
// catalog (no partial, temporary or orphaned file). The phone then sends
// again what was cut off, as its page does, while the PC side is still
// reconnecting; the PC side recovers without a reload: a stream client
// connected before the crash reconnects with Last-Event-ID and gets exactly
// the events it missed, once each, in order, and no new snapshot; the real
// PC page in Chromium goes live again showing every image.
// (QRSYNC_SKIP_BROWSER=1 leaves the Chromium part out.)
func TestKillDuringUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	const uploads = 20
	bin := buildQrsync(t)
	addr, data := freeAddr(t), t.TempDir()
	p := startQrsync(t, bin, addr, data)

	// The PC page, if a browser may run, makes the session as a person's
	// would; otherwise the test makes it.
	var pc context.Context
	var sessionID string
	if os.Getenv("QRSYNC_SKIP_BROWSER") != "1" {
		pc, _ = openPCPage(t, browsertest.Chromium(t), p.Base)
		// The address the code stands for (its bytes came inline).
		qrSrc, err := chromedp.Run(pc, chromedp.Poll[string](`document.querySelector('#qr')?.getAttribute('data-code-src')`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			t.Fatalf("PC page shows no QR code: %v", err)
		}
		m := regexp.MustCompile(`/api/sessions/([A-Za-z0-9_-]+)/qr\.png`).FindStringSubmatch(qrSrc)
		if m == nil {
			t.Fatalf("no session id in the QR's address %q", qrSrc)
		}
		sessionID = m[1]
		// Set a mark a reload would wipe.
		if _, err := chromedp.Run(pc, chromedp.Evaluate[bool](`window.__beforeCrash = true`)); err != nil {
			t.Fatal(err)
		}
	} else {
		sessionID = p.NewSession().ID
	}
	var sess api.Session
	p.GetJSON("/api/sessions/"+sessionID, &sess)

	// A PC-side stream client, connected before anything happens.
	rec := startRecorder(t, p.Base+sess.EventsURL)
	waitFor(t, "the stream's snapshot", func() bool { return rec.count() > 0 })

	// 20 uploads at once, each sent at its own pace (0.4 s to 8 s for
	// the whole file), so that the kill finds some done and some half-way.
	head := photoLikeJPEG(t, 1200, 900)
	type result struct {
		status int
		id     string
		err    error
	}
	results := make([]result, uploads)
	created := make(chan int, uploads)
	var wg sync.WaitGroup
	for i := range uploads {
		body, ctype := killUploadBody(t, head, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			pace := time.Duration(i+1) * 400 * time.Millisecond
			req, _ := http.NewRequest(http.MethodPost, p.Base+apptest.UploadPath(sess), &pacedReader{r: bytes.NewReader(body), total: len(body), over: pace, start: time.Now()})
			req.Header.Set("Content-Type", ctype)
			req.ContentLength = int64(len(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results[i] = result{err: err}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			results[i].status = resp.StatusCode
			var res api.UploadResult
			if resp.StatusCode == http.StatusCreated && json.Unmarshal(b, &res) == nil && len(res.Images) == 1 {
				results[i].id = res.Images[0].ID
				created <- i
			}
		}()
	}
	for range 6 {
		select {
		case <-created:
		case <-time.After(60 * time.Second):
			t.Fatal("uploads do not complete")
		}
	}
	lastBefore := rec.lastID() // at least this far; an event may still be on its way
	p.kill()
	killedAt := time.Now()
	wg.Wait()

	var done, cut int
	for i, r := range results {
		switch {
		case r.status == http.StatusCreated:
			done++
		case r.err != nil:
			cut++
		default:
			t.Errorf("upload %d: unexpected status %d", i, r.status)
		}
	}
	t.Logf("killed with %d uploads answered 201 and %d cut off; the stream client had seen event %s or later", done, cut, lastBefore)
	if cut == 0 {
		t.Fatal("the kill found no upload in flight: the test proved nothing")
	}

	// Leftovers of the crash, before the restart cleans up.
	leftovers := blobFiles(data)

	// Orphans are removed only once older than --orphan-grace (an hour),
	// in case another instance sharing the store is mid-upload. Nothing
	// shares this one, so the restart may remove them at once.
	p = startQrsync(t, bin, addr, data, "--orphan-grace", "1ms")
	t.Logf("restarted %v after the kill", time.Since(killedAt).Round(time.Millisecond))

	// The phone sends again what was cut off, as its page does on its own,
	// while the PC side is still waiting to reconnect: those events are
	// the ones the stream client missed.
	for i, r := range results {
		if r.status == http.StatusCreated {
			continue
		}
		body, ctype := killUploadBody(t, head, i)
		resp, err := http.Post(p.Base+apptest.UploadPath(sess), ctype, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("upload %d again: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var res api.UploadResult
		if (resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK) || json.Unmarshal(b, &res) != nil || len(res.Images) != 1 {
			t.Fatalf("upload %d again: %d %s", i, resp.StatusCode, b)
		}
		results[i] = result{status: http.StatusCreated, id: res.Images[0].ID}
	}

	var after api.Session
	p.GetJSON("/api/sessions/"+sessionID, &after)
	have := map[string]api.Image{}
	for _, img := range after.Images {
		have[img.ID] = img
	}
	for i, r := range results {
		if r.status == http.StatusCreated {
			if _, ok := have[r.id]; !ok {
				t.Errorf("upload %d got 201 (image %s) but is gone after the restart", i, r.id)
			}
		}
	}
	// Every image is whole: its original matches its hash, its thumbnail
	// decodes.
	for _, img := range after.Images {
		resp, orig := p.Do(http.MethodGet, img.URL, nil, "")
		sum := sha256.Sum256(orig)
		if resp.StatusCode != http.StatusOK || hex.EncodeToString(sum[:]) != img.SHA256 || int64(len(orig)) != img.Size {
			t.Errorf("image %s: original (%d) does not match its sha256/size", img.ID, resp.StatusCode)
		}
		resp, thumb := p.Do(http.MethodGet, img.ThumbURL, nil, "")
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumb))
		if resp.StatusCode != http.StatusOK || err != nil || cfg.Width != 400 {
			t.Errorf("image %s: thumbnail %d %+v %v", img.ID, resp.StatusCode, cfg, err)
		}
	}
	// Every file is a blob of an image in the catalog; nothing else (no
	// temporary file either).
	var want []string
	for _, img := range after.Images {
		want = append(want, "sessions/"+sessionID+"/"+img.ID, "sessions/"+sessionID+"/"+img.ID+".thumb.jpg")
	}
	got := blobFiles(data)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("blob files after the restart:\n got %v\nwant %v", got, want)
	}
	var orphans int
	for _, k := range leftovers {
		if !strings.HasPrefix(filepath.Base(k), ".") && !slices.Contains(got, k) {
			orphans++
		}
	}
	t.Logf("after the crash: %d files, %d of them temporary and %d committed but never recorded; after the restart and %d uploads sent again: %d images, %d blob files, nothing else",
		len(leftovers), len(tempFiles(leftovers)), orphans, cut, len(after.Images), len(got))
	if len(after.Images) != uploads {
		t.Errorf("%d images, want all %d", len(after.Images), uploads)
	}

	// The stream client resumed where it was and has exactly the image
	// events of the catalog, in order, once each, with no new snapshot.
	waitFor(t, "the stream client to reconnect and catch up", func() bool { return rec.lives() >= 2 && len(rec.images()) >= len(after.Images) })
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	var ids []string
	for _, img := range after.Images {
		ids = append(ids, img.ID)
	}
	if gotIDs := rec.images(); !slices.Equal(gotIDs, ids) {
		t.Errorf("image events seen by the stream client:\n got %v\nwant %v (the catalog's order)", gotIDs, ids)
	}
	if n := rec.snapshots(); n != 1 {
		t.Errorf("%d snapshots: a resumed stream must not start over", n)
	}
	if !rec.resumedRight() {
		t.Errorf("reconnects sent Last-Event-ID %q, having received up to %q", rec.sentIDs(), rec.hadIDs())
	}
	sent := rec.sentIDs()
	t.Logf("stream client: %d connection attempts with Last-Event-ID %q, %d events in all, the last %d after the restart",
		len(sent), sent, len(rec.allIDs()), rec.after(sent[len(sent)-1]))
	if !rec.increasing() {
		t.Errorf("event ids not increasing: %v", rec.allIDs())
	}

	if pc != nil {
		n, err := chromedp.Run(pc, chromedp.Poll[int](
			fmt.Sprintf(`document.querySelector('#status')?.dataset.state === 'live' && window.__beforeCrash === true &&
			  document.querySelectorAll('#gallery .tile').length === %d && document.querySelectorAll('#gallery .tile').length`, len(after.Images)),
			chromedp.WithPollingTimeout(60*time.Second)))
		if err != nil {
			state, _ := chromedp.Run(pc, chromedp.Evaluate[string](`document.querySelector('#status')?.dataset.state + ' tiles=' + document.querySelectorAll('#gallery .tile').length + ' mark=' + window.__beforeCrash`))
			t.Fatalf("the PC page did not recover without a reload (%s): %v", state, err)
		}
		t.Logf("the PC page is live again with %d tiles, same page (no reload)", n)
	}
}

// killUploadBody is upload i: a small photo made unique by trailing bytes
// (as phones append), about 3 MB, so that pacing it takes a while.
func killUploadBody(t testing.TB, head []byte, i int) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, err := mw.CreateFormFile("file", fmt.Sprintf("IMG_%04d.jpg", i))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(head)
	io.CopyN(w, newFiller(uint64(1000+i)), 3<<20)
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// pacedReader hands out its bytes evenly over the duration over.
type pacedReader struct {
	r     io.Reader
	total int
	sent  int
	over  time.Duration
	start time.Time
}

func (p *pacedReader) Read(b []byte) (int, error) {
	b = b[:min(len(b), 32<<10)]
	if due := p.start.Add(time.Duration(float64(p.over) * float64(p.sent) / float64(p.total))); time.Until(due) > 0 {
		time.Sleep(time.Until(due))
	}
	n, err := p.r.Read(b)
	p.sent += n
	return n, err
}

// recorder runs an eventsource.Client over net/http and keeps what it saw.
type recorder struct {
	mu     sync.Mutex
	events []eventsource.Event
	at     []time.Time // when each event arrived
	sent   []string    // the Last-Event-ID of every connection attempt
	had    []string    // the id of the last event received before each attempt
	live   int         // connections that went live
}

// startRecorder follows the stream at url. With more URLs (the same
// stream through other instances), each connection attempt takes the next
// one in turn, as a load balancer would send a reconnecting client
// elsewhere.
func startRecorder(t *testing.T, url string, more ...string) *recorder {
	rec := &recorder{}
	urls := append([]string{url}, more...)
	c := &eventsource.Client{
		Connect: func(ctx context.Context, last string) (*eventsource.Response, error) {
			rec.mu.Lock()
			url := urls[len(rec.sent)%len(urls)]
			rec.sent = append(rec.sent, last)
			had := ""
			if n := len(rec.events); n > 0 {
				had = rec.events[n-1].ID
			}
			rec.had = append(rec.had, had)
			rec.mu.Unlock()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return nil, err
			}
			if last != "" {
				req.Header.Set("Last-Event-ID", last)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, err
			}
			return &eventsource.Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: resp.Body}, nil
		},
		// Come back quickly: the server is restarted within a second or two.
		Backoff: eventsource.Backoff{Max: 2 * time.Second},
		OnEvent: func(ev eventsource.Event) error {
			if ev.Type == api.EventUpload {
				return nil // live news: no id, not part of the log
			}
			rec.mu.Lock()
			rec.events = append(rec.events, ev)
			rec.at = append(rec.at, time.Now())
			rec.mu.Unlock()
			return nil
		},
		OnState: func(st eventsource.State, _ error) {
			if st == eventsource.StateLive {
				rec.mu.Lock()
				rec.live++
				rec.mu.Unlock()
			}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return rec
}

func (r *recorder) lives() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

// after counts the events after the one with id.
func (r *recorder) after(id string) int {
	ids := r.allIDs()
	return len(ids) - 1 - slices.Index(ids, id)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *recorder) lastID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		return ""
	}
	return r.events[len(r.events)-1].ID
}

func (r *recorder) images() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, ev := range r.events {
		switch ev.Type {
		case api.EventSnapshot:
			var s api.Snapshot
			json.Unmarshal([]byte(ev.Data), &s)
			for _, img := range s.Images {
				ids = append(ids, img.ID)
			}
		case api.EventImage:
			var img api.Image
			json.Unmarshal([]byte(ev.Data), &img)
			ids = append(ids, img.ID)
		}
	}
	return ids
}

// imageArrivals is when each image event arrived, by image id.
func (r *recorder) imageArrivals() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]time.Time{}
	for i, ev := range r.events {
		if ev.Type == api.EventImage {
			var img api.Image
			json.Unmarshal([]byte(ev.Data), &img)
			out[img.ID] = r.at[i]
		}
	}
	return out
}

func (r *recorder) snapshots() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if ev.Type == api.EventSnapshot {
			n++
		}
	}
	return n
}

// resumedRight reports whether there was a reconnect and every reconnect
// sent the id of the last event received before it.
func (r *recorder) resumedRight() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent) > 1 && slices.Equal(r.sent[1:], r.had[1:])
}

func (r *recorder) hadIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.had)
}

func (r *recorder) sentIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent)
}

func (r *recorder) allIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, ev := range r.events {
		ids = append(ids, ev.ID)
	}
	return ids
}

// increasing reports whether the event ids (numbers in the embedded
// backend; opaque in general, so only checked when they parse) grow.
func (r *recorder) increasing() bool {
	prev := int64(-1)
	for _, id := range r.allIDs() {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return true
		}
		if n <= prev {
			return false
		}
		prev = n
	}
	return true
}
