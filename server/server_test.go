package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image/jpeg"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
)

// The path of one photo (DESIGN §1): session, stream, upload, image event,
// then the original and thumbnail are there the moment the event is.
func TestUploadAppearsOnStream(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	sub := a.Subscribe(s, "")

	snap := sub.Next()
	if snap.Type != api.EventSnapshot || snap.ID == "" {
		t.Fatalf("first event: %s", fmtEvent(snap))
	}
	var sd api.Snapshot
	mustJSON(t, []byte(snap.Data), &sd)
	if len(sd.Images) != 0 || sd.ExpiresAt.IsZero() {
		t.Fatalf("snapshot of a new session: %+v", sd)
	}

	photo := readFile(t, testdata+"orientation/Landscape_6.jpg")
	status, body, err := a.Upload(s, "IMG_0006.jpg", photo)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("upload: %d %s %v", status, body, err)
	}
	var res api.UploadResult
	mustJSON(t, body, &res)
	if len(res.Images) != 1 || res.Images[0].URL != "" || strings.Contains(string(body), s.ID) {
		t.Fatalf("upload answer must not reveal the session id: %s", body)
	}

	ev := sub.Next()
	if ev.Type != api.EventImage || ev.ID == "" {
		t.Fatalf("want image event, got %s", fmtEvent(ev))
	}
	var img api.Image
	mustJSON(t, []byte(ev.Data), &img)
	if img.ID != res.Images[0].ID || img.Name != "IMG_0006.jpg" || img.ContentType != "image/jpeg" {
		t.Fatalf("image event: %+v", img)
	}
	if img.Width != 1800 || img.Height != 1200 {
		t.Errorf("displayed size %dx%d, want 1800x1200 (orientation 6 applied)", img.Width, img.Height)
	}

	// Both are there at once: nothing partial is ever announced.
	resp, orig := a.Do(http.MethodGet, img.URL, nil, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("original: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "IMG_0006.jpg") {
		t.Errorf("Content-Disposition %q lacks the file name", cd)
	}
	sum := sha256.Sum256(orig)
	if hex.EncodeToString(sum[:]) != img.SHA256 || int64(len(orig)) != img.Size {
		t.Errorf("original bytes do not match the image's sha256/size")
	}
	resp, thumb := a.Do(http.MethodGet, img.ThumbURL, nil, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("thumb: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumb))
	if err != nil || cfg.Width != 400 || cfg.Height != 267 {
		t.Fatalf("thumb config %+v, %v; want 400x267", cfg, err)
	}

	// GET session lists it too.
	var got api.Session
	a.GetJSON("/api/sessions/"+s.ID, &got)
	if len(got.Images) != 1 || got.Images[0].ID != img.ID {
		t.Fatalf("GET session: %+v", got)
	}
}

// A reconnect with Last-Event-ID gets exactly what came after it; without
// one, or with an unknown one, a snapshot that already holds everything.
func TestReplayAfterLastEventID(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	var ids []string
	for _, name := range []string{"Landscape_1.jpg", "Landscape_2.jpg", "Landscape_3.jpg"} {
		a.MustUpload(s, name, readFile(t, testdata+"orientation/"+name))
	}
	sub := a.Subscribe(s, "")
	snap := sub.Next()
	var sd api.Snapshot
	mustJSON(t, []byte(snap.Data), &sd)
	if len(sd.Images) != 3 {
		t.Fatalf("snapshot has %d images, want 3", len(sd.Images))
	}
	sub.None(200 * time.Millisecond) // the snapshot already holds them: no repeats
	sub.Close()

	// Learn the event ids from a replay from the start of the log.
	sub = a.Subscribe(s, "0")
	for range 3 {
		ev := sub.Next()
		if ev.Type != api.EventImage {
			t.Fatalf("replay from origin: %s", fmtEvent(ev))
		}
		ids = append(ids, ev.ID)
	}
	if ids[2] != snap.ID {
		t.Errorf("snapshot id %q should be the last event's id %q", snap.ID, ids[2])
	}
	sub.Close()

	sub = a.Subscribe(s, ids[0])
	for _, want := range ids[1:] {
		if ev := sub.Next(); ev.ID != want || ev.Type != api.EventImage {
			t.Fatalf("replay after %s: got %s, want id %s", ids[0], fmtEvent(ev), want)
		}
	}
	sub.None(200 * time.Millisecond)
	sub.Close()

	sub = a.Subscribe(s, "no-such-id")
	if ev := sub.Next(); ev.Type != api.EventSnapshot {
		t.Fatalf("unknown id: want snapshot, got %s", fmtEvent(ev))
	}
}

func TestDeleteSessionEndsStream(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	a.MustUpload(s, "a.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
	sub := a.Subscribe(s, "")
	sub.Next() // snapshot
	resp, _ := a.Do(http.MethodDelete, "/api/sessions/"+s.ID, nil, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if ev := sub.Next(); ev.Type != api.EventExpired {
		t.Fatalf("want expired, got %s", fmtEvent(ev))
	}
	if files := blobFiles(a.DataDir); len(files) != 0 {
		t.Errorf("blobs left after delete: %v", files)
	}
	// Ended, not unknown: 410 (the ended-session tests check the rest).
	resp, _ = a.Do(http.MethodGet, "/api/sessions/"+s.ID, nil, "")
	if resp.StatusCode != http.StatusGone {
		t.Errorf("GET deleted session: %d, want 410", resp.StatusCode)
	}
	resp, _ = a.Do(http.MethodGet, s.EventsURL, nil, "")
	if resp.StatusCode != http.StatusGone {
		t.Errorf("stream of deleted session: %d, want 410", resp.StatusCode)
	}
}

func TestDeleteImageSendsRemoved(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	id := a.MustUpload(s, "a.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg")).ID
	sub := a.Subscribe(s, "")
	sub.Next()
	resp, _ := a.Do(http.MethodDelete, "/api/sessions/"+s.ID+"/images/"+id, nil, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete image: %d", resp.StatusCode)
	}
	ev := sub.Next()
	var rm api.Removed
	mustJSON(t, []byte(ev.Data), &rm)
	if ev.Type != api.EventRemoved || rm.ID != id || ev.ID == "" {
		t.Fatalf("want removed %s, got %s", id, fmtEvent(ev))
	}
	if files := blobFiles(a.DataDir); len(files) != 0 {
		t.Errorf("blobs left after delete: %v", files)
	}
	resp, _ = a.Do(http.MethodGet, "/api/sessions/"+s.ID+"/images/"+id+"/thumb", nil, "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("thumb of removed image: %d, want 404", resp.StatusCode)
	}
}

// A session that runs out of time ends its stream with expired, and is
// 410 afterwards.
func TestSessionExpires(t *testing.T) {
	a := apptest.Start(t, server.Config{Keep: 700 * time.Millisecond})
	s := a.NewSession()
	sub := a.Subscribe(s, "")
	sub.Next()
	if ev := sub.Next(); ev.Type != api.EventExpired {
		t.Fatalf("want expired, got %s", fmtEvent(ev))
	}
	resp, body := a.Do(http.MethodGet, "/api/sessions/"+s.ID, nil, "")
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), api.CodeExpired) {
		t.Fatalf("ended session: %d %s, want 410 expired", resp.StatusCode, body)
	}
	resp, _ = a.Do(http.MethodGet, s.EventsURL, nil, "")
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("stream of ended session: %d, want 410", resp.StatusCode)
	}
}

// Every session and image survives a restart on the same data directory.
func TestRestartKeepsSessions(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	img := a.MustUpload(s, "a.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
	a.Stop()

	b := apptest.StartAt(t, "127.0.0.1:0", a.DataDir, server.Config{})
	var got api.Session
	b.GetJSON("/api/sessions/"+s.ID, &got)
	if len(got.Images) != 1 || got.Images[0].ID != img.ID {
		t.Fatalf("after restart: %+v", got)
	}
	resp, _ := b.Do(http.MethodGet, got.Images[0].ThumbURL, nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("thumb after restart: %d", resp.StatusCode)
	}
}

func TestQRCode(t *testing.T) {
	a := apptest.Start(t, server.Config{PublicURLs: []string{"http://192.0.2.10:8080", "http://198.51.100.7:8080"}})
	s := a.NewSession()
	if !strings.HasPrefix(s.UploadURL, "http://192.0.2.10:8080/u/") {
		t.Fatalf("upload URL %q does not use the first public URL", s.UploadURL)
	}
	tests := []struct {
		query    string
		status   int
		wantSize int
	}{
		{"", 200, 320},
		{"?size=128", 200, 128},
		{"?size=1024", 200, 1024},
		{"?size=127", 400, 0},
		{"?size=1025", 400, 0},
		{"?size=abc", 400, 0},
		{"?base=http://198.51.100.7:8080", 200, 320},
		{"?base=http://evil.example", 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := a.Do(http.MethodGet, s.QRURL+tt.query, nil, "")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				return
			}
			img, err := png.Decode(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tt.wantSize || b.Dy() != tt.wantSize {
				t.Errorf("QR is %v, want %dpx", b, tt.wantSize)
			}
		})
	}
	resp, _ := a.Do(http.MethodGet, "/api/sessions/nope/qr.png", nil, "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("QR of unknown session: %d", resp.StatusCode)
	}
}

// ?qr=<size> puts the QR that qrUrl?size=<size> draws in the session's
// answer, as a data: URL, on creation and on a read; a size out of range
// is refused and creates no session.
func TestSessionAnswerCarriesItsQR(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	decode := func(resp *http.Response, body []byte, want int) api.Session {
		t.Helper()
		if resp.StatusCode != want {
			t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, body)
		}
		var s api.Session
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	sameQR := func(s api.Session, size int) {
		t.Helper()
		b64, ok := strings.CutPrefix(s.QRImage, "data:image/png;base64,")
		if !ok {
			t.Fatalf("qrImage %.40q is not a PNG data: URL", s.QRImage)
		}
		inline, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		resp, fetched := a.Do(http.MethodGet, s.QRURL+"?size="+strconv.Itoa(size), nil, "")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(inline, fetched) {
			t.Errorf("qrImage (%d B) is not what %s?size=%d draws (%d B, status %d)", len(inline), s.QRURL, size, len(fetched), resp.StatusCode)
		}
	}
	resp, b := a.Do(http.MethodPost, "/api/sessions?qr=280", nil, "")
	s := decode(resp, b, http.StatusCreated)
	sameQR(s, 280)
	resp, b = a.Do(http.MethodGet, "/api/sessions/"+s.ID+"?qr=560", nil, "")
	sameQR(decode(resp, b, http.StatusOK), 560)
	resp, b = a.Do(http.MethodGet, "/api/sessions/"+s.ID, nil, "")
	if decode(resp, b, http.StatusOK).QRImage != "" {
		t.Errorf("an answer not asked for its QR carries one")
	}
	for _, q := range []string{"127", "1025", "abc"} {
		resp, b = a.Do(http.MethodPost, "/api/sessions?qr="+q, nil, "")
		wantError(t, resp, b, http.StatusBadRequest, api.CodeBadRequest)
		resp, b = a.Do(http.MethodGet, "/api/sessions/"+s.ID+"?qr="+q, nil, "")
		wantError(t, resp, b, http.StatusBadRequest, api.CodeBadRequest)
	}
	if _, m := a.Do(http.MethodGet, "/metrics", nil, ""); !strings.Contains(string(m), "qrsync_sessions_active 1\n") {
		t.Errorf("a refused ?qr made a session: /metrics says\n%s", m)
	}
}

func TestSecurityHeaders(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	for _, p := range []string{"/", "/healthz", "/api/sessions/" + s.ID, s.UploadURL[len(a.Base):], "/api/sessions/nope"} {
		resp, _ := a.Do(http.MethodGet, p, nil, "")
		for h, want := range map[string]string{
			"Referrer-Policy":         "no-referrer",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "script-src 'self' 'wasm-unsafe-eval'",
		} {
			if got := resp.Header.Get(h); !strings.Contains(got, want) {
				t.Errorf("%s: %s = %q, want it to contain %q", p, h, got, want)
			}
		}
	}
}

// The stream's headers are the ones DESIGN §4 names, and its first
// message carries retry.
func TestStreamHeadersAndRetry(t *testing.T) {
	a := apptest.Start(t, server.Config{Retry: 1234 * time.Millisecond})
	s := a.NewSession()
	sub := a.Subscribe(s, "")
	for h, want := range map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	} {
		if got := sub.Header.Get(h); !strings.HasPrefix(got, want) {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	sub.Next()
	if d, ok := sub.Retry(); !ok || d != 1234*time.Millisecond {
		t.Errorf("retry = %v %v, want 1.234s", d, ok)
	}
}

func TestKeepAliveComment(t *testing.T) {
	a := apptest.Start(t, server.Config{KeepAlive: 100 * time.Millisecond})
	s := a.NewSession()
	resp, err := http.Get(a.Base + s.EventsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 0, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !bytes.Contains(buf, []byte("\n:")) {
		chunk := make([]byte, 512)
		n, err := resp.Body.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			break
		}
	}
	if !bytes.Contains(buf, []byte("\n:")) {
		t.Fatalf("no keep-alive comment in %q", buf)
	}
}

func TestUnknownIDs(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	for _, p := range []string{
		"/api/sessions/nope", "/api/sessions/nope/events", "/api/sessions/nope/qr.png",
		"/api/sessions/" + s.ID + "/images/nope", "/api/sessions/" + s.ID + "/images/nope/thumb",
	} {
		resp, body := a.Do(http.MethodGet, p, nil, "")
		var e api.ErrorBody
		mustJSON(t, body, &e)
		if resp.StatusCode != http.StatusNotFound || e.Error.Code != api.CodeNotFound || e.Error.Message == "" {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
}

// A new session's GET answers an empty list, not a missing one; POST
// answers no list at all (DESIGN §3).
func TestSessionImagesList(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	resp, body := a.Do(http.MethodPost, "/api/sessions", nil, "")
	if resp.StatusCode != http.StatusCreated || strings.Contains(string(body), `"images"`) {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	var s api.Session
	mustJSON(t, body, &s)
	resp, body = a.Do(http.MethodGet, "/api/sessions/"+s.ID, nil, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"images":[]`) {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
}
