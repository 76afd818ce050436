package server_test

import (
	"net/http"
	"strconv"
	"testing"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
)

// Every GET route answers HEAD: the same status and headers, no body; the
// stream's HEAD answers at once instead of streaming.
func TestHeadOnEveryGetRoute(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	s := a.NewSession()
	name, data := apptest.Photo(t, 5)
	a.MustUpload(s, name, data)
	var got api.Session
	a.GetJSON("/api/sessions/"+s.ID, &got)
	img := got.Images[0]
	for _, tc := range []struct {
		path   string
		status int
		length int64 // -1: not checked
	}{
		{"/", http.StatusOK, -1},
		{"/static/theme.css", http.StatusOK, -1},
		{"/u/" + uploadToken(s), http.StatusOK, -1},
		{"/healthz", http.StatusOK, -1},
		{"/readyz", http.StatusOK, -1},
		{"/metrics", http.StatusOK, -1},
		{"/api/addresses", http.StatusOK, -1},
		{"/api/sessions/" + s.ID, http.StatusOK, -1},
		{s.QRURL, http.StatusOK, -1},
		{s.EventsURL, http.StatusOK, -1},
		{img.URL, http.StatusOK, img.Size},
		{img.ThumbURL, http.StatusOK, -1},
		{"/api/sessions/AAAAAAAAAAAAAAAAAAAAAAAA", http.StatusNotFound, -1},
	} {
		resp, body := a.Do(http.MethodHead, tc.path, nil, "")
		if resp.StatusCode != tc.status || len(body) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes of body, want %d and none", tc.path, resp.StatusCode, len(body), tc.status)
		}
		if tc.length >= 0 && resp.Header.Get("Content-Length") != strconv.FormatInt(tc.length, 10) {
			t.Errorf("HEAD %s: Content-Length %q, want %d", tc.path, resp.Header.Get("Content-Length"), tc.length)
		}
	}
}

// The page's assets carry a validator, so a reload costs a 304 and not the
// wasm client again.
func TestStaticAssetsRevalidate(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	for _, path := range []string{"/", "/static/theme.css", "/static/app.wasm"} {
		resp, _ := a.Do(http.MethodGet, path, nil, "")
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("GET %s: %d, ETag %q, Cache-Control %q", path, resp.StatusCode, etag, resp.Header.Get("Cache-Control"))
		}
		if status := revalidate(t, a, path, etag); status != http.StatusNotModified {
			t.Fatalf("%s revalidated: %d, want 304", path, status)
		}
	}
}
