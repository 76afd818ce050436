package server_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/internal/apptest"
	"qrsync/server"
)

// readAllEvents reads s's stream from the start, every event including
// the upload news, in the order it comes, onto the returned channel.
func readAllEvents(t *testing.T, a *apptest.App, s api.Session) (<-chan eventsource.Event, *lockedBuffer) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.Base+s.EventsURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", resp, err)
	}
	out := make(chan eventsource.Event, 1024)
	raw := &lockedBuffer{}
	go func() {
		defer resp.Body.Close()
		defer close(out)
		dec := eventsource.NewDecoder(io.TeeReader(resp.Body, raw))
		for {
			ev, err := dec.Next()
			if err != nil {
				return
			}
			out <- ev
		}
	}()
	return out, raw
}

// nextOf returns the next event of one of the types, skipping others.
func nextOf(t *testing.T, events <-chan eventsource.Event, types ...string) eventsource.Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			for _, typ := range types {
				if ev.Type == typ {
					return ev
				}
			}
		case <-deadline:
			t.Fatalf("no %v event within 20 s", types)
		}
	}
}

// A phone sending slowly (about 1 MB/s): the PC hears of the file once
// it has been arriving for FirstNewsAfter, at most 4 times a second, with
// no event id, and then gets the image carrying the same upload id. A
// file that lands sooner is heard of only as its image.
func TestUploadNews(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	events, raw := readAllEvents(t, a, s)
	lastID := nextOf(t, events, api.EventSnapshot).ID

	photo := readFile(t, testdata+"orientation/Landscape_1.jpg")
	// Paced so the upload takes about 2 s, as over a poor link.
	start := time.Now()
	size, done := pacedUpload(t, a, s, "slow.jpg", photo, 2*time.Second)

	var news []api.UploadProgress
	var times []time.Time
	var img api.Image
	for {
		ev := nextOf(t, events, api.EventUpload, api.EventImage)
		if ev.Type == api.EventImage {
			mustJSON(t, []byte(ev.Data), &img)
			break
		}
		if ev.ID != lastID {
			t.Errorf("an upload event moved the last event id from %q to %q", lastID, ev.ID)
		}
		var p api.UploadProgress
		mustJSON(t, []byte(ev.Data), &p)
		news = append(news, p)
		times = append(times, time.Now())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if len(news) < 3 {
		t.Fatalf("%d upload events in %v, want several", len(news), took)
	}
	first, last := news[0], news[len(news)-1]
	if first.Name != "slow.jpg" || first.Upload == "" || first.Total != int64(size) {
		t.Errorf("first news %+v, want slow.jpg of %d bytes", first, size)
	}
	if early := times[0].Sub(start); early < server.FirstNewsAfter {
		t.Errorf("the first news came %v after the upload began, before %v", early, server.FirstNewsAfter)
	}
	for i, p := range news {
		if p.Upload != first.Upload || p.Error != nil || (i > 0 && p.Received < news[i-1].Received) {
			t.Errorf("news %d: %+v", i, p)
		}
	}
	if img.Upload != first.Upload {
		t.Errorf("image carries upload %q, the news %q", img.Upload, first.Upload)
	}
	// At most 4 a second (the first, from its timer, is free).
	if rate := float64(len(news)-1) / times[len(times)-1].Sub(times[0]).Seconds(); rate > 4.5 {
		t.Errorf("%d news in %v: %.1f a second, want at most 4", len(news), times[len(times)-1].Sub(times[0]), rate)
	}
	t.Logf("%d bytes in %v: %d upload events (received %d → %d of %d), then the image", size, took.Round(time.Millisecond),
		len(news), first.Received, last.Received, last.Total)

	// A refused file: the PC hears why, in the phone's words.
	status, answer, err := a.Upload(s, "report.pdf", []byte("%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n"))
	if err != nil || status != http.StatusUnsupportedMediaType {
		t.Fatalf("PDF: %d %s %v", status, answer, err)
	}
	var failed api.UploadProgress
	for failed.Error == nil {
		mustJSON(t, []byte(nextOf(t, events, api.EventUpload).Data), &failed)
	}
	for _, block := range strings.Split(raw.String(), "\n\n") {
		if strings.Contains(block, "event: upload\n") && (strings.HasPrefix(block, "id:") || strings.Contains(block, "\nid:")) {
			t.Errorf("an upload event with an id on the wire: %q", block)
		}
	}
	var phone api.ErrorBody
	mustJSON(t, answer, &phone)
	if failed.Name != "report.pdf" || failed.Error.Code != api.CodeUnsupported || failed.Error.Message != phone.Error.Message {
		t.Errorf("failure news %+v, the phone heard %+v", failed, phone.Error)
	}

	// A photo that lands at once makes no news: its image is the first
	// the PC hears of it.
	_, quick := apptest.Photo(t, 1)
	if status, answer, err := a.Upload(s, "quick.jpg", quick); err != nil || status != http.StatusCreated {
		t.Fatalf("quick: %d %s %v", status, answer, err)
	}
	if ev := nextOf(t, events, api.EventUpload, api.EventImage); ev.Type != api.EventImage {
		t.Errorf("a quick upload made news first: %s", fmtEvent(ev))
	}

	// The same photo again, slowly: no image event will follow, so the
	// news says which image it already is.
	_, done = pacedUpload(t, a, s, "again.jpg", photo, time.Second)
	var dup api.UploadProgress
	for dup.Duplicate == "" {
		mustJSON(t, []byte(nextOf(t, events, api.EventUpload).Data), &dup)
	}
	if err := <-done; err != nil {
		t.Fatalf("duplicate: %v", err)
	}
	if dup.Duplicate != img.ID || dup.Name != "again.jpg" {
		t.Errorf("duplicate news %+v, want image %s", dup, img.ID)
	}
	// And quickly: nothing to drop on the PC, so nothing is said.
	if status, answer, err := a.Upload(s, "again2.jpg", photo); err != nil || status != http.StatusOK {
		t.Fatalf("duplicate: %d %s %v", status, answer, err)
	}

	// News is never replayed: a viewer reconnecting after the images gets
	// the log's events only.
	resumed := a.Subscribe(s, "0")
	for range 2 { // slow.jpg and quick.jpg
		if ev := resumed.Next(); ev.Type != api.EventImage {
			t.Fatalf("replay: want an image, got %s", fmtEvent(ev))
		}
	}
	resumed.None(300 * time.Millisecond)
	if n := len(resumed.News()); n != 0 {
		t.Errorf("%d upload events replayed", n)
	}
	// By now the quick duplicate's news would have come (a viewer gets
	// news within milliseconds), and it must not have.
	if strings.Contains(raw.String(), "again2.jpg") {
		t.Errorf("a quick duplicate made news:\n%s", raw.String())
	}
}

// pacedUpload sends photo to s's upload link as name, its bytes spread
// over the given time. It returns the body's size and the upload's
// outcome, once it has one: nil for 201 or 200 (a duplicate).
func pacedUpload(t *testing.T, a *apptest.App, s api.Session, name string, photo []byte, over time.Duration) (int, <-chan error) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", name)
	w.Write(photo)
	mw.Close()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, a.Base+apptest.UploadPath(s), &pacedReader{r: bytes.NewReader(body.Bytes()), total: body.Len(), over: over, start: time.Now()})
		req.ContentLength = int64(body.Len())
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
				err = &statusErr{resp.StatusCode}
			}
		}
		done <- err
	}()
	return body.Len(), done
}

type statusErr struct{ status int }

func (e *statusErr) Error() string { return http.StatusText(e.status) }
