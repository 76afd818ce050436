package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
)

// "New code": the old link answers 410 on the phone's page and its upload,
// the new one works, the gallery keeps what it had, and the stream says so
// with a session event.
func TestNewUploadLink(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	first := a.MustUpload(s, "a.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
	sub := a.Subscribe(s, "")
	sub.Next() // snapshot

	resp, body := a.Do(http.MethodPost, api.UploadLinkPath(s.ID), nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload-link: %d %s", resp.StatusCode, body)
	}
	var renewed api.Session
	mustJSON(t, body, &renewed)
	if renewed.ID != s.ID || renewed.UploadURL == s.UploadURL || !strings.Contains(renewed.UploadURL, api.UploadPathMark) ||
		!renewed.UploadExpiresAt.After(time.Now()) {
		t.Fatalf("renewed session %+v, old link %s", renewed, s.UploadURL)
	}
	ev := sub.Next()
	var announced api.Session
	mustJSON(t, []byte(ev.Data), &announced)
	if ev.Type != api.EventSession || ev.ID == "" || announced.UploadURL != renewed.UploadURL || len(announced.Images) != 0 {
		t.Fatalf("want a session event with the new link, got %s", fmtEvent(ev))
	}

	// The old link is over, with words that say what to do.
	status, body, err := a.Upload(s, "b.jpg", readFile(t, testdata+"orientation/Landscape_3.jpg"))
	if err != nil || status != http.StatusGone || !strings.Contains(string(body), "replaced") {
		t.Fatalf("upload to the old link: %d %s %v; want 410 saying it was replaced", status, body, err)
	}
	resp, body = a.Do(http.MethodGet, pagePath(s), nil, "")
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), "ended") {
		t.Fatalf("old link's page: %d %s; want 410 saying it ended", resp.StatusCode, body)
	}
	// The new one takes photos into the same gallery.
	second := a.MustUpload(renewed, "b.jpg", readFile(t, testdata+"orientation/Landscape_3.jpg"))
	var got api.Session
	a.GetJSON(api.SessionPath(s.ID), &got)
	if len(got.Images) != 2 || got.Images[0].ID != first.ID || got.Images[1].ID != second.ID || got.UploadURL != renewed.UploadURL {
		t.Fatalf("after the new code: %+v", got)
	}
}

// pagePath is the path of the phone's page of a session's upload link.
func pagePath(s api.Session) string {
	return s.UploadURL[strings.LastIndex(s.UploadURL, api.UploadPathMark):]
}

// A deleted session is 410 everywhere, also after a restart; an id that
// never existed stays 404.
func TestEndedSessionIsGone(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	img := a.MustUpload(s, "a.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
	if resp, body := a.Do(http.MethodDelete, api.SessionPath(s.ID), nil, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if files := blobFiles(a.DataDir); len(files) != 0 {
		t.Errorf("blobs left after delete: %v", files)
	}
	check := func(c *apptest.App, when string) {
		t.Helper()
		for _, p := range []string{api.SessionPath(s.ID), s.EventsURL, s.QRURL, api.ImagePath(s.ID, img.ID), api.ImagePath(s.ID, img.ID) + "/thumb", api.ImagePath(s.ID, img.ID) + "/display", api.ArchivePath(s.ID), pagePath(s)} {
			if resp, body := c.Do(http.MethodGet, p, nil, ""); resp.StatusCode != http.StatusGone {
				t.Errorf("%s: GET %s: %d %.100s; want 410", when, p, resp.StatusCode, body)
			}
		}
		if resp, _ := c.Do(http.MethodDelete, api.SessionPath(s.ID), nil, ""); resp.StatusCode != http.StatusGone {
			t.Errorf("%s: DELETE again: %d, want 410", when, resp.StatusCode)
		}
		status, body, _ := c.Upload(s, "b.jpg", readFile(t, testdata+"orientation/Landscape_3.jpg"))
		if status != http.StatusGone || !strings.Contains(string(body), api.CodeExpired) {
			t.Errorf("%s: upload: %d %s; want 410", when, status, body)
		}
		never := api.Session{ID: "never-was-a-session-id", UploadURL: "http://x" + api.UploadPathMark + "never-was-a-token"}
		never.EventsURL = api.SessionPath(never.ID) + "/events"
		for _, p := range []string{api.SessionPath(never.ID), never.EventsURL, pagePath(never)} {
			if resp, _ := c.Do(http.MethodGet, p, nil, ""); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: GET %s (never existed): %d, want 404", when, p, resp.StatusCode)
			}
		}
	}
	check(a, "after delete")
	a.Stop()
	b := apptest.StartAt(t, "127.0.0.1:0", a.DataDir, server.Config{})
	check(b, "after a restart")
}

// With a short upload link and a short keep: the photos outlive the link,
// then go (410, files removed within seconds), also when the server was
// down at that moment.
func TestPhotosKeptThenRemoved(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for real expiry")
	}
	const uploadTTL, keep = 1 * time.Second, 4 * time.Second
	cfg := func() server.Config {
		return server.Config{UploadTTL: uploadTTL, Keep: keep, SweepEvery: 200 * time.Millisecond}
	}
	for _, downAcross := range []bool{false, true} {
		name := "running"
		if downAcross {
			name = "stopped across the end"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := apptest.Start(t, cfg())
			s := a.NewSession()
			img := a.MustUpload(s, "a.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
			var sess api.Session
			a.GetJSON(api.SessionPath(s.ID), &sess)
			// The link lapses first: the phone hears so, the PC still has
			// the photo.
			time.Sleep(time.Until(sess.UploadExpiresAt) + 50*time.Millisecond)
			status, body, _ := a.Upload(s, "b.jpg", readFile(t, testdata+"orientation/Landscape_3.jpg"))
			if status != http.StatusGone || !strings.Contains(string(body), "expired") {
				t.Fatalf("upload after the link lapsed: %d %s; want 410", status, body)
			}
			if time.Now().After(sess.ExpiresAt) {
				t.Fatalf("the machine is too slow for this test: the session ended before its link was checked")
			}
			if resp, _ := a.Do(http.MethodGet, api.ImagePath(s.ID, img.ID), nil, ""); resp.StatusCode != http.StatusOK {
				t.Fatalf("photo after the link lapsed: %d, want 200", resp.StatusCode)
			}
			if resp, _ := a.Do(http.MethodGet, api.ArchivePath(s.ID), nil, ""); resp.StatusCode != http.StatusOK {
				t.Fatalf("archive after the link lapsed: %d, want 200", resp.StatusCode)
			}
			c := a
			if downAcross {
				a.Stop()
				time.Sleep(time.Until(sess.ExpiresAt) + 500*time.Millisecond)
				c = apptest.StartAt(t, "127.0.0.1:0", a.DataDir, cfg())
			}
			// Within seconds of the end: 410, and the files are gone.
			waitFor(t, "the session to end", func() bool {
				resp, _ := c.Do(http.MethodGet, api.SessionPath(s.ID), nil, "")
				return resp.StatusCode == http.StatusGone
			})
			ended := time.Now()
			waitFor(t, "the files to go", func() bool { return len(blobFiles(a.DataDir)) == 0 })
			if late := time.Since(sess.ExpiresAt); late > 5*time.Second {
				t.Errorf("files removed %v after the end, want within seconds", late.Round(time.Millisecond))
			}
			if resp, _ := c.Do(http.MethodGet, api.ImagePath(s.ID, img.ID), nil, ""); resp.StatusCode != http.StatusGone {
				t.Errorf("photo after the end: %d, want 410", resp.StatusCode)
			}
			t.Logf("ended %v after its time; files gone %v after it", ended.Sub(sess.ExpiresAt).Round(time.Millisecond), time.Since(sess.ExpiresAt).Round(time.Millisecond))
		})
	}
}

// Activity keeps the photos: an upload and a viewer connecting move the
// session's end to --keep from then, and a watching viewer hears of it in
// a session event carrying the API's Session (never the catalog's record).
func TestActivityKeepsPhotos(t *testing.T) {
	t.Parallel()
	const keep = 48 * time.Hour // extended in steps of an hour
	var offset atomic.Int64     // how far the server's clock is ahead
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	a := apptest.Start(t, server.Config{Keep: keep, Now: now})
	s := a.NewSession()
	if d := time.Until(s.ExpiresAt); d < keep-time.Minute || d > keep {
		t.Fatalf("a new session ends in %v, want %v", d, keep)
	}
	if d := time.Until(s.UploadExpiresAt); d < server.DefaultUploadTTL-time.Minute || d > server.DefaultUploadTTL {
		t.Fatalf("a new link lapses in %v, want %v", d, server.DefaultUploadTTL)
	}
	sub := a.Subscribe(s, "")
	sub.Next() // snapshot
	// Reads and uploads within the hour move nothing.
	a.MustUpload(s, "a.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
	if ev := sub.Next(); ev.Type != api.EventImage {
		t.Fatalf("want the image, got %s", fmtEvent(ev))
	}
	var got api.Session
	a.GetJSON(api.SessionPath(s.ID), &got)
	if !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("the end moved within the hour: %v → %v", s.ExpiresAt, got.ExpiresAt)
	}

	// Three hours later, a new code asked for on the PC is activity: the
	// end moves to keep from then.
	offset.Store(int64(3 * time.Hour))
	var renewed api.Session
	resp, body := a.Do(http.MethodPost, api.UploadLinkPath(s.ID), nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload-link: %d %s", resp.StatusCode, body)
	}
	mustJSON(t, body, &renewed)
	for {
		ev := sub.Next()
		if ev.Type != api.EventSession {
			t.Fatalf("want session events, got %s", fmtEvent(ev))
		}
		var raw map[string]json.RawMessage
		mustJSON(t, []byte(ev.Data), &raw)
		if _, leaked := raw["uploadToken"]; leaked || raw["uploadUrl"] == nil || raw["qrUrl"] == nil || raw["eventsUrl"] == nil {
			t.Fatalf("session event data %s, want the API's Session", ev.Data)
		}
		var announced api.Session
		mustJSON(t, []byte(ev.Data), &announced)
		if announced.ExpiresAt.Sub(s.ExpiresAt) >= 3*time.Hour-time.Minute {
			break // the end moved by the three hours
		}
	}
	a.GetJSON(api.SessionPath(s.ID), &got)
	if moved := got.ExpiresAt.Sub(s.ExpiresAt); moved < 3*time.Hour-time.Minute || moved > 3*time.Hour+time.Minute {
		t.Fatalf("the end moved by %v after three hours of activity, want 3h", moved)
	}

	// A viewer connecting is activity too.
	offset.Store(int64(6 * time.Hour))
	a.Subscribe(s, "").Next()
	a.GetJSON(api.SessionPath(s.ID), &got)
	if moved := got.ExpiresAt.Sub(s.ExpiresAt); moved < 6*time.Hour-time.Minute {
		t.Fatalf("the end moved by %v after a viewer connected 6 h on, want 6h", moved)
	}
}
