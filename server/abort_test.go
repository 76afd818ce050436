package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/storage"
	"qrsync/storage/boltdb"
	"qrsync/storage/fsblob"
)

// A phone that loses its connection half-way leaves nothing: no blob, no
// temporary file, no catalog entry, no event. Both ways an upload can be
// decoded are cut: beside the copy (a decoding slot was free) and after
// storing (every slot busy).
func TestAbortedUploadLeavesNothing(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("all decoders busy=%v", busy), func(t *testing.T) {
			a := startApp(t, Config{})
			s := a.newSession()
			sub := a.subscribe(s, "")
			sub.next() // snapshot
			if busy {
				for range cap(a.srv.decode) {
					a.srv.decode <- struct{}{}
				}
				defer func() {
					for range cap(a.srv.decode) {
						<-a.srv.decode
					}
				}()
			}
			before := dataState(t, a, []api.Session{s})

			photo := append(photoLikeJPEG(t, 1600, 1200), bytes.Repeat([]byte{0x5A}, 4<<20)...)
			body := rawMultipart(filePart("IMG_1.jpg", photo))
			conn, err := net.Dial("tcp", strings.TrimPrefix(a.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
				uploadPath(s), hostileType, len(body))
			conn.Write(body[:len(body)/2])
			// The server is storing it now: a temporary file is there.
			waitFor(t, "a temporary file of the upload", func() bool { return len(tempFiles(a)) > 0 })
			// Then the phone is gone, with a reset rather than a goodbye.
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()

			waitFor(t, "the upload's files to be removed", func() bool { return dataState(t, a, []api.Session{s}) == before })
			sub.none(500 * time.Millisecond)
			waitHealthy(t, a.base)
		})
	}
}

// When the server itself fails at any step (the disk fills while storing,
// the thumbnail cannot be committed, the catalog refuses the record) the
// phone gets a 500 and nothing is left behind.
func TestServerErrorLeavesNothing(t *testing.T) {
	errDisk := errors.New("no space left on device (injected)")
	cases := []struct {
		name  string
		blobs func(storage.BlobStore) storage.BlobStore
		cat   func(storage.Catalog) storage.Catalog
	}{
		{"disk full while storing the original", func(b storage.BlobStore) storage.BlobStore {
			return &faultyBlobs{BlobStore: b, failWriteAfter: 64 << 10, match: func(k string) bool { return !strings.HasSuffix(k, ".thumb.jpg") }, err: errDisk}
		}, nil},
		{"thumbnail commit fails", func(b storage.BlobStore) storage.BlobStore {
			return &faultyBlobs{BlobStore: b, failCommit: true, match: func(k string) bool { return strings.HasSuffix(k, ".thumb.jpg") }, err: errDisk}
		}, nil},
		{"original commit fails", func(b storage.BlobStore) storage.BlobStore {
			return &faultyBlobs{BlobStore: b, failCommit: true, match: func(k string) bool { return !strings.HasSuffix(k, ".thumb.jpg") }, err: errDisk}
		}, nil},
		{"catalog refuses the record", nil, func(c storage.Catalog) storage.Catalog {
			return &faultyCatalog{Catalog: c, err: errors.New("database is read-only (injected)")}
		}},
	}
	photo := readFile(t, testdata+"orientation/Landscape_3.jpg")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := startWrapped(t, Config{}, tc.blobs, tc.cat)
			s := a.newSession()
			sub := a.subscribe(s, "")
			sub.next()
			before := dataState(t, a, []api.Session{s})
			resp, body := a.upload(s, "IMG_3.jpg", photo)
			var e api.ErrorBody
			mustJSON(t, body, &e)
			if resp.StatusCode != http.StatusInternalServerError || e.Error.Code != api.CodeInternal {
				t.Fatalf("got %d %s, want 500 internal", resp.StatusCode, body)
			}
			if strings.Contains(string(body), "injected") {
				t.Errorf("the answer shows the server's internals: %s", body)
			}
			if after := dataState(t, a, []api.Session{s}); after != before {
				t.Fatalf("left behind:\nbefore %s\nafter  %s", before, after)
			}
			sub.none(300 * time.Millisecond)
		})
	}
}

// startWrapped is startApp with the backends wrapped, to inject failures.
func startWrapped(t *testing.T, cfg Config, wrapBlobs func(storage.BlobStore) storage.BlobStore, wrapCat func(storage.Catalog) storage.Catalog) *testApp {
	t.Helper()
	dir := t.TempDir()
	fb, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	bc, err := boltdb.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	var blobs storage.BlobStore = fb
	var cat storage.Catalog = bc
	if wrapBlobs != nil {
		blobs = wrapBlobs(fb)
	}
	if wrapCat != nil {
		cat = wrapCat(bc)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg.PublicURLs = []string{base}
	cfg.Logger = quietLogger()
	srv, err := New(cfg, blobs, cat)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	a := &testApp{t: t, base: base, dataDir: dir, srv: srv}
	a.stop = func() {
		cancel()
		<-done
		bc.Close()
		fb.Close()
	}
	t.Cleanup(a.stop)
	waitHealthy(t, base)
	return a
}

// faultyBlobs fails writes or commits of the keys match selects.
type faultyBlobs struct {
	storage.BlobStore
	match          func(key string) bool
	failWriteAfter int64
	failCommit     bool
	err            error
}

func (f *faultyBlobs) Create(ctx context.Context, key string) (storage.BlobWriter, error) {
	w, err := f.BlobStore.Create(ctx, key)
	if err != nil || !f.match(key) {
		return w, err
	}
	return &faultyWriter{BlobWriter: w, f: f}, nil
}

type faultyWriter struct {
	storage.BlobWriter
	f       *faultyBlobs
	written int64
}

func (w *faultyWriter) Write(p []byte) (int, error) {
	if w.f.failWriteAfter > 0 && w.written+int64(len(p)) > w.f.failWriteAfter {
		return 0, w.f.err
	}
	w.written += int64(len(p))
	return w.BlobWriter.Write(p)
}

func (w *faultyWriter) Commit() error {
	if w.f.failCommit {
		w.BlobWriter.Abort() // a failed Commit stores nothing (the contract)
		return w.f.err
	}
	return w.BlobWriter.Commit()
}

// faultyCatalog refuses every AddImage.
type faultyCatalog struct {
	storage.Catalog
	err error
}

func (c *faultyCatalog) AddImage(context.Context, string, api.Image, storage.Quota) (api.Image, storage.Event, error) {
	return api.Image{}, storage.Event{}, c.err
}

// tempFiles lists the blob store's temporary files.
func tempFiles(a *testApp) []string {
	var out []string
	filepath.Walk(filepath.Join(a.dataDir, "blobs"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasPrefix(info.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
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
