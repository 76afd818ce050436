package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"qrsync/internal/apptest"
	"qrsync/server"
)

func TestParseWatch(t *testing.T) {
	const u = "http://127.0.0.1:8080/api/sessions/abc"
	for _, tc := range []struct {
		name           string
		args           []string
		url, dir       string
		del, quiet     bool
		wantErr, usage bool
	}{
		{name: "plain", args: []string{u, "out"}, url: u, dir: "out"},
		{name: "flags first", args: []string{"--delete", "-quiet", u, "out"}, url: u, dir: "out", del: true, quiet: true},
		{name: "flags last", args: []string{u, "out", "--delete"}, url: u, dir: "out", del: true},
		{name: "flags between", args: []string{u, "--quiet", "out"}, url: u, dir: "out", quiet: true},
		{name: "after --", args: []string{"--", u, "-odd-dir"}, url: u, dir: "-odd-dir"},
		{name: "missing dir", args: []string{u}, wantErr: true, usage: true},
		{name: "nothing", args: nil, wantErr: true, usage: true},
		{name: "too many", args: []string{u, "a", "b"}, wantErr: true, usage: true},
		{name: "unknown flag", args: []string{"--recursive", u, "out"}, wantErr: true, usage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, quiet, err := parseWatch(tc.args, &stderr)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted: %+v", cfg)
				}
				if tc.usage && !strings.Contains(stderr.String(), "Usage: qrsync watch") {
					t.Errorf("no usage shown: %q", stderr.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.SessionURL != tc.url || cfg.Dir != tc.dir || cfg.Delete != tc.del || quiet != tc.quiet {
				t.Errorf("got %q %q delete=%v quiet=%v", cfg.SessionURL, cfg.Dir, cfg.Delete, quiet)
			}
		})
	}
	var stderr bytes.Buffer
	if _, _, err := parseWatch([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "Exit status") {
		t.Errorf("-h: %v %q", err, stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWatchCommand runs `qrsync watch args…` as main would.
func startWatchCommand(t *testing.T, ctx context.Context, args ...string) (out *syncBuffer, done chan error) {
	t.Helper()
	out, done = &syncBuffer{}, make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"watch"}, args...), os.Getenv, out, io.Discard) }()
	return out, done
}

func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output:\n%s", want, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitDone(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("qrsync watch did not return")
		return nil
	}
}

func testPNG(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	img.Set(0, 0, color.Gray{Y: 255 - shade})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func deleteURL(t *testing.T, url string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s: %d", url, resp.StatusCode)
	}
}

// TestWatchCommand runs the command against the real server: it prints a
// line per file and per state, deletes with --delete, and exits 0 when the
// session ends.
func TestWatchCommand(t *testing.T) {
	app := apptest.Start(t, server.Config{})
	s := app.NewSession()
	first := app.MustUpload(s, "first.png", testPNG(t, 10))
	dir := filepath.Join(t.TempDir(), "photos")
	sessionURL := app.Base + "/api/sessions/" + s.ID

	out, done := startWatchCommand(t, context.Background(), app.Base+s.EventsURL, dir, "--delete")
	waitOutput(t, out, "saved first.png")
	waitOutput(t, out, " live\n")
	app.MustUpload(s, "second.png", testPNG(t, 20))
	waitOutput(t, out, "saved second.png")
	deleteURL(t, sessionURL+"/images/"+first.ID)
	waitOutput(t, out, "deleted first.png")
	if _, err := os.Stat(filepath.Join(dir, "first.png")); !os.IsNotExist(err) {
		t.Errorf("first.png still there with --delete: %v", err)
	}
	deleteURL(t, sessionURL)
	if err := waitDone(t, done); err != nil {
		t.Errorf("exit with an error after the session ended: %v", err)
	}
	waitOutput(t, out, "the session has ended")
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if _, err := time.Parse("15:04:05", strings.Fields(line)[0]); err != nil {
			t.Errorf("line without a time: %q", line)
		}
	}
}

func TestWatchCommandStop(t *testing.T) {
	app := apptest.Start(t, server.Config{})
	s := app.NewSession()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, done := startWatchCommand(t, ctx, "--quiet", app.Base+"/api/sessions/"+s.ID, t.TempDir())
	app.MustUpload(s, "a.png", testPNG(t, 30))
	time.Sleep(300 * time.Millisecond)
	cancel() // Ctrl+C
	if err := waitDone(t, done); err != nil {
		t.Errorf("exit with an error after Ctrl+C: %v", err)
	}
	if out.String() != "" {
		t.Errorf("--quiet printed %q", out.String())
	}
}

func TestWatchCommandErrors(t *testing.T) {
	app := apptest.Start(t, server.Config{})
	for name, args := range map[string][]string{
		"unknown session": {app.Base + "/api/sessions/nosuchsession", t.TempDir()},
		"not a session":   {app.Base + "/u/token", t.TempDir()},
	} {
		t.Run(name, func(t *testing.T) {
			_, done := startWatchCommand(t, context.Background(), args...)
			if err := waitDone(t, done); err == nil {
				t.Error("exit status 0")
			}
		})
	}
}
