package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"qrsync/eventsource"
	"qrsync/internal/apptest"
)

// The tests of this package run the real server through internal/apptest
// and reach inside it only through export_test.go.

// testdata is the shared photo set, read in place (never copied in).
const testdata = "../../shared/testdata/images/"

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

func fmtEvent(ev eventsource.Event) string {
	return fmt.Sprintf("%s id=%s %.80s", ev.Type, ev.ID, ev.Data)
}

// blobFiles lists the files of the blob store under a data directory as
// keys ("sessions/ID/IMAGE"), sorted, temporary files included; only the
// store's own .lock (its guard against a second process) is left out.
func blobFiles(dataDir string) []string {
	root := filepath.Join(dataDir, "blobs")
	var out []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Name() != ".lock" {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// tempFiles are the blob store's temporary files among keys.
func tempFiles(keys []string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(filepath.Base(k), ".tmp-") {
			out = append(out, k)
		}
	}
	return out
}

// waitFor polls cond for up to 15 s: long enough for a loaded machine.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// quietLogger drops the logs of failures a test causes on purpose.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// revalidate asks for path again with its validator, as a browser's cache
// does, and returns the status.
func revalidate(t testing.TB, a *apptest.App, path, etag string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.Base+path, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
