package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
	"qrsync/storage"
)

// A phone that loses its connection half-way leaves nothing: no blob, no
// temporary file, no catalog entry, no event. Both ways an upload can be
// decoded are cut: beside the copy (a decoding slot was free) and after
// storing (every slot busy).
func TestAbortedUploadLeavesNothing(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("all decoders busy=%v", busy), func(t *testing.T) {
			a := apptest.Start(t, server.Config{})
			s := a.NewSession()
			sub := a.Subscribe(s, "")
			sub.Next() // snapshot
			if busy {
				release := a.Server.HoldDecoders()
				defer release()
			}
			before := dataState(t, a, []api.Session{s})

			photo := append(photoLikeJPEG(t, 1600, 1200), bytes.Repeat([]byte{0x5A}, 4<<20)...)
			body := rawMultipart(filePart("IMG_1.jpg", photo))
			conn, err := net.Dial("tcp", a.Addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
				apptest.UploadPath(s), hostileType, len(body))
			conn.Write(body[:len(body)/2])
			// The server is storing it now: a temporary file is there.
			waitFor(t, "a temporary file of the upload", func() bool { return len(tempFiles(blobFiles(a.DataDir))) > 0 })
			// Then the phone is gone, with a reset rather than a goodbye.
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()

			waitFor(t, "the upload's files to be removed", func() bool { return dataState(t, a, []api.Session{s}) == before })
			sub.None(500 * time.Millisecond)
			apptest.WaitHealthy(t, a.Base)
		})
	}
}

// A phone that sent its whole photo and then went away while its decode
// waited for a slot: the queued work is dropped (every slot stays busy for
// the whole test, so a decode that kept waiting would keep its files) and
// nothing is left behind.
func TestQueuedDecodeDroppedWhenPhoneGoes(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	s := a.NewSession()
	release := a.Server.HoldDecoders()
	defer release()
	before := dataState(t, a, []api.Session{s})

	body := rawMultipart(filePart("IMG_2.jpg", photoLikeJPEG(t, 800, 600)))
	conn, err := net.Dial("tcp", a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		apptest.UploadPath(s), hostileType, len(body))
	conn.Write(body)
	// Stored, waiting for a decoder: its original is committed.
	waitFor(t, "the stored original", func() bool {
		for _, f := range blobFiles(a.DataDir) {
			if !strings.HasPrefix(filepath.Base(f), ".") && !strings.HasSuffix(f, ".thumb.jpg") {
				return true
			}
		}
		return false
	})
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
	waitFor(t, "the queued upload's files to be removed", func() bool { return dataState(t, a, []api.Session{s}) == before })
}

// When the server itself fails at any step (the disk fills while storing,
// the thumbnail cannot be committed, the catalog refuses the record) the
// phone gets a 500 and nothing is left behind.
func TestServerErrorLeavesNothing(t *testing.T) {
	errDisk := errors.New("no space left on device (injected)")
	cases := []struct {
		name  string
		blobs func(storage.BlobStore) storage.BlobStore
		cat   func(server.Catalog) server.Catalog
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
		{"catalog refuses the record", nil, func(c server.Catalog) server.Catalog {
			return &faultyCatalog{Catalog: c, err: errors.New("database is read-only (injected)")}
		}},
	}
	photo := readFile(t, testdata+"orientation/Landscape_3.jpg")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := apptest.StartWrapped(t, server.Config{Logger: quietLogger()}, tc.blobs, tc.cat)
			s := a.NewSession()
			sub := a.Subscribe(s, "")
			sub.Next()
			before := dataState(t, a, []api.Session{s})
			status, body, err := a.Upload(s, "IMG_3.jpg", photo)
			if err != nil {
				t.Fatal(err)
			}
			var e api.ErrorBody
			mustJSON(t, body, &e)
			if status != http.StatusInternalServerError || e.Error.Code != api.CodeInternal {
				t.Fatalf("got %d %s, want 500 internal", status, body)
			}
			if strings.Contains(string(body), "injected") {
				t.Errorf("the answer shows the server's internals: %s", body)
			}
			if after := dataState(t, a, []api.Session{s}); after != before {
				t.Fatalf("left behind:\nbefore %s\nafter  %s", before, after)
			}
			sub.None(300 * time.Millisecond)
		})
	}
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
	server.Catalog
	err error
}

func (c *faultyCatalog) AddImage(context.Context, string, storage.Image, storage.Quota) (storage.Image, storage.Event, error) {
	return storage.Image{}, storage.Event{}, c.err
}
