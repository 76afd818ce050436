// Package apptest starts the real qrsync server for tests in other
// packages: Hertz on a loopback port, with the embedded backends (files and
// bbolt) in a data directory of the test's. Nothing in it is a fake; it
// only saves every test from wiring the same parts by hand.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/server"
	"qrsync/storage/boltdb"
	"qrsync/storage/fsblob"
)

// App is one running server.
type App struct {
	// Base is the server's origin, e.g. http://127.0.0.1:41234.
	Base string
	// Addr is the listen address, for restarting on the same port.
	Addr string
	// DataDir holds the blob store and the catalog.
	DataDir string

	t    testing.TB
	stop func()
}

// Start runs a server on a fresh loopback port and a fresh data directory.
func Start(t testing.TB, cfg server.Config) *App {
	t.Helper()
	return StartAt(t, "127.0.0.1:0", t.TempDir(), cfg)
}

// StartAt runs a server on addr with data under dataDir, so a test can
// restart it in place. Stop (or the test's end) shuts it down.
func StartAt(t testing.TB, addr, dataDir string, cfg server.Config) *App {
	t.Helper()
	blobs, err := fsblob.New(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := boltdb.Open(filepath.Join(dataDir, "catalog.db"))
	if err != nil {
		blobs.Close()
		t.Fatal(err)
	}
	var ln net.Listener
	// A port just released by a stopped server may linger briefly.
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	if cfg.PublicURLs == nil {
		cfg.PublicURLs = []string{base}
	}
	srv, err := server.New(cfg, blobs, cat)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	a := &App{Base: base, Addr: ln.Addr().String(), DataDir: dataDir, t: t}
	stopped := false
	a.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
		cat.Close()
		blobs.Close()
	}
	t.Cleanup(a.stop)
	a.waitHealthy()
	return a
}

// Stop shuts the server down and releases its data directory. It is safe
// to call more than once.
func (a *App) Stop() { a.stop() }

func (a *App) waitHealthy() {
	a.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(a.Base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.t.Fatalf("server at %s never became healthy", a.Base)
}

// NewSession creates a session as the PC page does.
func (a *App) NewSession() api.Session {
	a.t.Helper()
	resp, err := http.Post(a.Base+"/api/sessions", "", nil)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s api.Session
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		a.t.Fatalf("create session: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		a.t.Fatal(err)
	}
	return s
}

// UploadPath is the API path behind a session's upload page URL.
func UploadPath(s api.Session) string {
	i := strings.LastIndex(s.UploadURL, "/u/")
	return "/api/upload/" + s.UploadURL[i+len("/u/"):]
}

// Upload sends one file as the phone page does and returns the status and
// the answer. It is safe for concurrent use.
func (a *App) Upload(s api.Session, name string, data []byte) (int, []byte, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, err := mw.CreateFormFile("file", name)
		if err == nil {
			_, err = w.Write(data)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	resp, err := http.Post(a.Base+UploadPath(s), mw.FormDataContentType(), pr)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// MustUpload is Upload that fails the test unless the answer is 201.
func (a *App) MustUpload(s api.Session, name string, data []byte) api.Image {
	a.t.Helper()
	status, body, err := a.Upload(s, name, data)
	if err != nil || status != http.StatusCreated {
		a.t.Fatalf("upload %s: %d %s %v", name, status, body, err)
	}
	var res api.UploadResult
	if err := json.Unmarshal(body, &res); err != nil || len(res.Images) != 1 {
		a.t.Fatalf("upload %s: %s %v", name, body, err)
	}
	return res.Images[0]
}

// String names the app in test logs.
func (a *App) String() string { return fmt.Sprintf("qrsync at %s (data %s)", a.Base, a.DataDir) }

// Photo makes the i-th test photo: small, different from every other one
// (so none is folded into another as a duplicate), a PNG for even i and a
// JPEG for odd i, named photo-NNN with the matching extension.
func Photo(t testing.TB, i int) (name string, data []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for y := range 16 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{uint8(i), uint8(i >> 8), uint8(x*10 + y), 255})
		}
	}
	// One pixel per bit of i, so no two photos come out the same even
	// after JPEG's rounding.
	for b := range 12 {
		if i&(1<<b) != 0 {
			img.Set(b, 0, color.RGBA{255, 255, 255, 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if i%2 == 0 {
		name = fmt.Sprintf("photo-%03d.png", i)
		err = png.Encode(&buf, img)
	} else {
		name = fmt.Sprintf("photo-%03d.jpg", i)
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	return name, buf.Bytes()
}
