package server_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
)

// newLogBuffer is a logger like the command's (redacting, text) writing
// into a buffer the test reads.
func newLogBuffer(t *testing.T) (*lockedBuffer, *slog.Logger) {
	t.Helper()
	buf := &lockedBuffer{}
	log, err := server.NewLogger(buf, "text", slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	return buf, log
}

// uploadToken is the token in a session's upload URL.
func uploadToken(s api.Session) string { return s.UploadURL[strings.LastIndex(s.UploadURL, "/")+1:] }

// The logs of a whole run (a session, uploads, a stream, a download, a
// deletion, a miss) hold a line per request and never the session id or
// the upload token, which are the viewer's and the phone's secrets.
func TestLogsKeepSecrets(t *testing.T) {
	t.Parallel()
	buf, log := newLogBuffer(t)
	a := apptest.Start(t, server.Config{Logger: log})
	s := a.NewSession()
	requests := 1
	img := a.MustUpload(s, "a.jpg", mustPhoto(t, 1))
	requests++
	st := a.Subscribe(s, "")
	st.Next()
	for _, path := range []string{"/api/sessions/" + s.ID, s.QRURL, "/api/sessions/" + s.ID + "/images/" + img.ID,
		"/api/sessions/" + s.ID + "/images/" + img.ID + "/thumb", "/u/" + uploadToken(s), "/api/sessions/not-a-session"} {
		a.Do(http.MethodGet, path, nil, "")
		requests++
	}
	a.Do(http.MethodDelete, "/api/sessions/"+s.ID+"/images/"+img.ID, nil, "")
	a.Do(http.MethodDelete, "/api/sessions/"+s.ID, nil, "")
	requests += 2
	for _, want := range []string{api.EventRemoved, api.EventExpired} {
		if ev := st.Next(); ev.Type != want {
			t.Fatalf("event %q, want %q", ev.Type, want)
		}
	}
	st.WaitEnd(10 * time.Second)
	requests++ // the stream's own line, once it ended
	a.Stop()

	out := buf.String()
	for _, secret := range []string{s.ID, uploadToken(s), img.ID} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs contain a secret (%s…):\n%s", secret[:4], out)
		}
	}
	if n := strings.Count(out, "msg=request "); n < requests {
		t.Errorf("%d request lines for %d requests:\n%s", n, requests, out)
	}
	if !strings.Contains(out, "request_id=") || !strings.Contains(out, "route=/api/sessions/:id/events") {
		t.Errorf("request lines lack a request id or the route pattern:\n%s", out)
	}
}

func mustPhoto(t *testing.T, i int) []byte {
	t.Helper()
	_, b := apptest.Photo(t, i)
	return b
}

// smallDisk is a directory on a tmpfs of size bytes, unmounted when the
// test ends. It needs root (this project's tests and CI run as root); a
// machine where mounting fails fails the test with what to do.
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount a %d-byte tmpfs (run the tests as root): %v %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// A full disk: uploads are answered 507 with a plain message and one log
// line however many are refused, /readyz says so, deleting still works,
// and uploads (and readiness) come back once deleting freed space.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, 6<<20)
	buf, log := newLogBuffer(t)
	a := apptest.StartAt(t, "127.0.0.1:0", disk, server.Config{Logger: log})
	s := a.NewSession()
	var stored []api.Image
	full := false
	for i := range 200 {
		status, body, err := a.Upload(s, fmt.Sprintf("p%d.jpg", i), photoLikeJPEG(t, 600+i, 400))
		if err != nil {
			t.Fatal(err)
		}
		if status == http.StatusInsufficientStorage {
			var e api.ErrorBody
			mustJSON(t, body, &e)
			if e.Error.Code != api.CodeNoSpace || !strings.Contains(e.Error.Message, "full") {
				t.Fatalf("507 body %s", body)
			}
			full = true
			break
		}
		if status != http.StatusCreated {
			t.Fatalf("upload %d: %d %s", i, status, body)
		}
		var res api.UploadResult
		mustJSON(t, body, &res)
		stored = append(stored, res.Images...)
	}
	if !full {
		t.Fatal("the disk never filled")
	}
	t.Logf("the %d MiB disk held %d photos before 507", 6, len(stored))
	for range 5 { // more refusals: still one log line
		if status, body, _ := a.Upload(s, "more.jpg", photoLikeJPEG(t, 900, 600)); status != http.StatusInsufficientStorage {
			t.Fatalf("upload on a full disk: %d %s, want 507", status, body)
		}
	}
	if n := strings.Count(buf.String(), "storage is full"); n != 1 {
		t.Errorf("%d log lines about the full disk, want 1:\n%s", n, buf.String())
	}
	for _, secret := range []string{s.ID, uploadToken(s)} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the logs of the refusals contain a secret (%s…)", secret[:4])
		}
	}
	if resp, b := a.Do(http.MethodGet, "/readyz", nil, ""); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "full") {
		t.Fatalf("/readyz on a full disk: %d %s, want 503 saying so", resp.StatusCode, b)
	}
	if leftover := tempFiles(blobFiles(disk)); len(leftover) != 0 {
		t.Fatalf("refused uploads left %v", leftover)
	}
	for _, img := range stored[:len(stored)/2] {
		if resp, b := a.Do(http.MethodDelete, "/api/sessions/"+s.ID+"/images/"+img.ID, nil, ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete on a full disk: %d %s", resp.StatusCode, b)
		}
	}
	if status, body, err := a.Upload(s, "after.jpg", photoLikeJPEG(t, 640, 480)); err != nil || status != http.StatusCreated {
		t.Fatalf("upload after space freed: %d %s %v", status, body, err)
	}
	if resp, b := a.Do(http.MethodGet, "/readyz", nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz once space freed: %d %s", resp.StatusCode, b)
	}
	if _, err := os.Stat(filepath.Join(disk, "catalog.db")); err != nil {
		t.Fatal(err)
	}
}
