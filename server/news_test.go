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

// A phone sending slowly (about 1 MB/s): the PC hears of the file from
// its first bytes, at most 4 times a second, with no event id, and then
// gets the image carrying the same upload id.
func TestUploadNews(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	events, raw := readAllEvents(t, a, s)
	lastID := nextOf(t, events, api.EventSnapshot).ID

	photo := readFile(t, testdata+"orientation/Landscape_1.jpg")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "slow.jpg")
	w.Write(photo)
	mw.Close()
	// Paced so the upload takes about 2 s, as over a poor link.
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, a.Base+apptest.UploadPath(s), &pacedReader{r: bytes.NewReader(body.Bytes()), total: body.Len(), over: 2 * time.Second, start: start})
		req.ContentLength = int64(body.Len())
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				err = &statusErr{resp.StatusCode}
			}
		}
		done <- err
	}()

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
	if first.Name != "slow.jpg" || first.Upload == "" || first.Total != int64(body.Len()) {
		t.Errorf("first news %+v, want slow.jpg of %d bytes", first, body.Len())
	}
	for i, p := range news {
		if p.Upload != first.Upload || p.Error != nil || (i > 0 && p.Received < news[i-1].Received) {
			t.Errorf("news %d: %+v", i, p)
		}
	}
	if img.Upload != first.Upload {
		t.Errorf("image carries upload %q, the news %q", img.Upload, first.Upload)
	}
	// At most 4 a second (the first, at the part's start, is free).
	if rate := float64(len(news)-1) / times[len(times)-1].Sub(times[0]).Seconds(); rate > 4.5 {
		t.Errorf("%d news in %v: %.1f a second, want at most 4", len(news), times[len(times)-1].Sub(times[0]), rate)
	}
	t.Logf("%d bytes in %v: %d upload events (received %d → %d of %d), then the image", body.Len(), took.Round(time.Millisecond),
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

	// The same photo again: no image event will follow, so the news says
	// which image it already is.
	if status, answer, err := a.Upload(s, "again.jpg", photo); err != nil || status != http.StatusOK {
		t.Fatalf("duplicate: %d %s %v", status, answer, err)
	}
	var dup api.UploadProgress
	for dup.Duplicate == "" {
		mustJSON(t, []byte(nextOf(t, events, api.EventUpload).Data), &dup)
	}
	if dup.Duplicate != img.ID || dup.Name != "again.jpg" {
		t.Errorf("duplicate news %+v, want image %s", dup, img.ID)
	}

	// News is never replayed: a viewer reconnecting after the image gets
	// the log's events only.
	resumed := a.Subscribe(s, "0")
	if ev := resumed.Next(); ev.Type != api.EventImage {
		t.Fatalf("replay: want the image, got %s", fmtEvent(ev))
	}
	resumed.None(300 * time.Millisecond)
	if n := len(resumed.News()); n != 0 {
		t.Errorf("%d upload events replayed", n)
	}
}

type statusErr struct{ status int }

func (e *statusErr) Error() string { return http.StatusText(e.status) }
