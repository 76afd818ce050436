package server_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
)

// Anyone on the network can open sessions, so a flood must be refused
// cheaply: per address past the rate (429), and in total past the cap
// (503), each with the JSON error.
func TestSessionFlood(t *testing.T) {
	t.Parallel()
	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		a := apptest.Start(t, server.Config{SessionsPerMinute: 5, Logger: quietLogger()})
		for i := range 5 {
			if resp, b := a.Do(http.MethodPost, "/api/sessions", nil, ""); resp.StatusCode != http.StatusCreated {
				t.Fatalf("session %d: %d %s", i, resp.StatusCode, b)
			}
		}
		resp, b := a.Do(http.MethodPost, "/api/sessions", nil, "")
		wantError(t, resp, b, http.StatusTooManyRequests, api.CodeTooMany)
		// Every refusal is counted, by reason, on /metrics.
		_, m := a.Do(http.MethodGet, "/metrics", nil, "")
		if !strings.Contains(string(m), `qrsync_refused_total{reason="session_rate"} 1`) ||
			!strings.Contains(string(m), `qrsync_sessions_active 5`) {
			t.Fatalf("/metrics does not show the refusal and the 5 sessions:\n%s", m)
		}
	})
	t.Run("in total", func(t *testing.T) {
		t.Parallel()
		a := apptest.Start(t, server.Config{MaxSessions: 3, Logger: quietLogger()})
		for range 3 {
			a.NewSession()
		}
		resp, b := a.Do(http.MethodPost, "/api/sessions", nil, "")
		wantError(t, resp, b, http.StatusServiceUnavailable, api.CodeUnavailable)
	})
}

// Guessing is limited by counting misses only: after an address has
// missed too often its misses get 429, while a phone behind the same NAT
// with a valid link still uploads.
func TestMissesDoNotLockOutValidLinks(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{MissesPerMinute: 4, Logger: quietLogger()})
	s := a.NewSession()
	_, photo := apptest.Photo(t, 1)
	bogus := api.Session{UploadURL: a.Base + "/u/AAAAAAAAAAAAAAAAAAAAAAAA"}
	for i := range 4 {
		status, body, err := a.Upload(bogus, "x.jpg", photo)
		if err != nil || status != http.StatusNotFound {
			t.Fatalf("miss %d: %d %s %v", i, status, body, err)
		}
	}
	if status, body, _ := a.Upload(bogus, "x.jpg", photo); status != http.StatusTooManyRequests {
		t.Fatalf("a miss past the limit: %d %s, want 429", status, body)
	}
	for _, path := range []string{"/api/sessions/AAAAAAAAAAAAAAAAAAAAAAAA", "/api/sessions/AAAAAAAAAAAAAAAAAAAAAAAA/events", "/u/AAAAAAAAAAAAAAAAAAAAAAAA"} {
		if resp, b := a.Do(http.MethodGet, path, nil, ""); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("GET %s past the limit: %d %s, want 429", path, resp.StatusCode, b)
		}
	}
	if status, body, err := a.Upload(s, "mine.jpg", photo); err != nil || status != http.StatusCreated {
		t.Fatalf("valid upload after the neighbour's misses: %d %s %v", status, body, err)
	}
	var got api.Session
	a.GetJSON("/api/sessions/"+s.ID, &got)
	if len(got.Images) != 1 {
		t.Fatalf("session holds %d images, want 1", len(got.Images))
	}
}

// One address may run only so many uploads at once.
func TestUploadsPerAddress(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{UploadsPerAddress: 2, Logger: quietLogger()})
	s := a.NewSession()
	_, photo := apptest.Photo(t, 2)
	sub := a.Subscribe(s, "")
	sub.Next() // snapshot
	var held []net.Conn
	for i := range 2 {
		big := photoLikeJPEG(t, 1600+i*16, 1200)
		conn := startTrickle(t, a, s, big, 20<<10) // never finished
		held = append(held, conn)
	}
	// Both are counted once the PC has heard of both files: a probe sent
	// before that could take a place and have a trickle refused.
	waitFor(t, "news of both uploads", func() bool {
		ids := map[string]bool{}
		for _, ev := range sub.News() {
			var p api.UploadProgress
			if json.Unmarshal([]byte(ev.Data), &p) == nil {
				ids[p.Upload] = true
			}
		}
		return len(ids) == 2
	})
	waitFor(t, "the server to count both uploads", func() bool {
		status, _, _ := a.Upload(s, "third.jpg", photo)
		return status == http.StatusTooManyRequests
	})
	for _, c := range held {
		c.Close()
	}
	waitFor(t, "the places to free", func() bool {
		status, _, _ := a.Upload(s, "later.jpg", photo)
		return status == http.StatusCreated
	})
}

// A slow phone delays only itself: two uploads trickling at one byte a
// second after a good start do not hold the decoding slots of a 2-slot
// server, so a normal upload beside them is answered at once.
func TestTricklingUploadsDoNotHoldDecoders(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{ThumbWorkers: 2, Logger: quietLogger()})
	s := a.NewSession()
	for i := range 2 {
		big := photoLikeJPEG(t, 1600+i*16, 1200) // ~500 KB, each its own
		conn := startTrickle(t, a, s, big, 20<<10)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 20 << 10; i < len(big); i++ {
				if _, err := conn.Write(big[i : i+1]); err != nil {
					return
				}
				time.Sleep(time.Second)
			}
		}()
		t.Cleanup(func() { conn.Close(); <-done })
	}
	time.Sleep(300 * time.Millisecond) // both decoders have their slots and wait
	_, small := apptest.Photo(t, 4)
	start := time.Now()
	status, body, err := a.Upload(s, "normal.jpg", small)
	took := time.Since(start)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("normal upload beside two trickles: %d %s %v", status, body, err)
	}
	t.Logf("normal upload beside two 1 B/s uploads took %v", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Fatalf("normal upload took %v beside two trickling ones, want well under 5s", took)
	}
}

// startTrickle opens an upload of data to s by hand and sends its first
// n bytes of body; the test sends the rest (or not) itself.
func startTrickle(t *testing.T, a *apptest.App, s api.Session, data []byte, n int) net.Conn {
	t.Helper()
	body := rawMultipart(filePart("slow.jpg", data))
	conn, err := net.Dial("tcp", a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", apptest.UploadPath(s), hostileType, len(body))
	prefix := len(body) - len(data) - len("\r\n--"+hostileBoundary+"--\r\n")
	if _, err := conn.Write(append([]byte(head), body[:prefix+n]...)); err != nil {
		t.Fatal(err)
	}
	return conn
}

func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e api.ErrorBody
	mustJSON(t, body, &e)
	if resp.StatusCode != status || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("got %d %s, want %d with code %q", resp.StatusCode, body, status, code)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("answer %d lacks the JSON type or security headers: %v", status, resp.Header)
	}
}
