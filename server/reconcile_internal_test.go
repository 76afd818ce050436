package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"qrsync/storage"
	"qrsync/storage/boltdb"
	"qrsync/storage/fsblob"
)

func TestBlobOwner(t *testing.T) {
	for _, tc := range []struct {
		key, sid, iid string
		ok            bool
	}{
		{"sessions/S/I", "S", "I", true},
		{"sessions/S/I.thumb.jpg", "S", "I", true},
		{"sessions/S/.thumb.jpg", "", "", false},
		{"sessions/S/I.other", "", "", false},
		{"sessions/S", "", "", false},
		{"sessions//I", "", "", false},
		{"sessions/S/I/J", "", "", false},
		{"other/S/I", "", "", false},
	} {
		sid, iid, ok := blobOwner(tc.key)
		if sid != tc.sid || iid != tc.iid || ok != tc.ok {
			t.Errorf("blobOwner(%q) = %q %q %v, want %q %q %v", tc.key, sid, iid, ok, tc.sid, tc.iid, tc.ok)
		}
	}
}

// reconcileFixture is a server on a real blob store and catalog, with its
// log in a buffer, for driving reconcile directly.
type reconcileFixture struct {
	t       *testing.T
	srv     *Server
	blobDir string
	blobs   *fsblob.Store
	cat     *boltdb.Catalog
	log     bytes.Buffer
}

func newReconcileFixture(t *testing.T, wrapCat func(Catalog) Catalog) *reconcileFixture {
	t.Helper()
	f := &reconcileFixture{t: t, blobDir: filepath.Join(t.TempDir(), "blobs")}
	var err error
	if f.blobs, err = fsblob.New(f.blobDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.blobs.Close() })
	if f.cat, err = boltdb.Open(filepath.Join(t.TempDir(), "catalog.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.cat.Close() })
	var cat Catalog = f.cat
	if wrapCat != nil {
		cat = wrapCat(cat)
	}
	logger := slog.New(slog.NewTextHandler(&f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if f.srv, err = New(Config{PublicURLs: []string{"http://127.0.0.1:1"}, Logger: logger}, f.blobs, cat); err != nil {
		t.Fatal(err)
	}
	return f
}

// put commits a blob at key whose file was last written age ago.
func (f *reconcileFixture) put(key string, age time.Duration) {
	f.t.Helper()
	w, err := f.blobs.Create(context.Background(), key)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := w.Write([]byte("photo")); err != nil {
		f.t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		f.t.Fatal(err)
	}
	when := time.Now().Add(-age)
	if err := os.Chtimes(filepath.Join(f.blobDir, filepath.FromSlash(key)), when, when); err != nil {
		f.t.Fatal(err)
	}
}

// keys lists every blob key, sorted.
func (f *reconcileFixture) keys() []string {
	f.t.Helper()
	blobs, err := f.blobs.List(context.Background(), "")
	if err != nil {
		f.t.Fatal(err)
	}
	var keys []string
	for _, b := range blobs {
		keys = append(keys, b.Key)
	}
	return keys
}

// session records a live session with one image and returns both ids.
func (f *reconcileFixture) session(expires time.Duration) (sid, iid string) {
	f.t.Helper()
	ctx := context.Background()
	sid, iid = newSecret(), newSecret()
	now := time.Now()
	if err := f.cat.CreateSession(ctx, storage.Session{ID: sid, UploadToken: newSecret(), CreatedAt: now, ExpiresAt: now.Add(expires)}); err != nil {
		f.t.Fatal(err)
	}
	if expires > 0 {
		if _, _, err := f.cat.AddImage(ctx, sid, storage.Image{ID: iid, SHA256: iid}, storage.Quota{}); err != nil {
			f.t.Fatal(err)
		}
	}
	return sid, iid
}

// logLines are the lines logged so far; noIDs checks none shows an id.
func (f *reconcileFixture) logLines() []string {
	return strings.FieldsFunc(f.log.String(), func(r rune) bool { return r == '\n' })
}

func (f *reconcileFixture) noIDs(ids ...string) {
	f.t.Helper()
	for _, id := range ids {
		if strings.Contains(f.log.String(), id) {
			f.t.Fatalf("the log shows an id (%s):\n%s", id, f.log.String())
		}
	}
}

const oldAge = 2 * DefaultOrphanGrace

// TestReconcileEmptyCatalog: an empty catalog next to a store full of
// photos is a wrong --catalog far more often than leftovers; nothing is
// deleted, and one warning says what was found and what to do.
func TestReconcileEmptyCatalog(t *testing.T) {
	f := newReconcileFixture(t, nil)
	s1, s2, img := newSecret(), newSecret(), newSecret()
	for _, k := range []string{originalKey(s1, img), thumbKey(s1, img), originalKey(s2, img)} {
		f.put(k, oldAge)
	}
	before := f.keys()
	f.srv.reconcile(context.Background())
	if got := f.keys(); !slices.Equal(got, before) {
		t.Fatalf("blobs after reconcile on an empty catalog: %q, want all of %q", got, before)
	}
	lines := f.logLines()
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") {
		t.Fatalf("log:\n%s\nwant one WARN line", f.log.String())
	}
	for _, want := range []string{"holds no sessions", "--catalog", "by hand", "blobs=3", "sessions=2"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the warning %q does not say %q", lines[0], want)
		}
	}
	f.noIDs(s1, s2, img)
	t.Log(lines[0])
}

// TestReconcileGrace: only orphans older than the grace period go; a
// younger one may be an upload between its commit and its record. Blobs
// of images in the catalog stay whatever their age, and so do those of an
// ended session, which the sweep removes whole.
func TestReconcileGrace(t *testing.T) {
	f := newReconcileFixture(t, nil)
	sid, iid := f.session(time.Hour)
	ended, endedImg := f.session(-time.Minute) // no image: it has ended
	young, oldImg, gone := newSecret(), newSecret(), newSecret()
	kept := []string{
		originalKey(sid, iid), thumbKey(sid, iid), // in the catalog
		originalKey(sid, young), thumbKey(sid, young), // orphans, but young
		originalKey(ended, endedImg),    // its session has ended
		"sessions/" + sid + "/not.ours", // not a key the server makes
	}
	removed := []string{
		originalKey(sid, oldImg), thumbKey(sid, oldImg), // an old orphan
		originalKey(gone, iid), // a session the catalog no longer has
	}
	for _, k := range kept {
		age := oldAge
		if strings.Contains(k, young) {
			age = DefaultOrphanGrace - time.Minute
		}
		f.put(k, age)
	}
	for _, k := range removed {
		f.put(k, oldAge)
	}

	f.srv.reconcile(context.Background())
	want := slices.Clone(kept)
	slices.Sort(want)
	if got := f.keys(); !slices.Equal(got, want) {
		t.Fatalf("after reconcile:\n got %q\nwant %q", got, want)
	}
	if lines := f.logLines(); len(lines) != 1 || !strings.Contains(lines[0], "level=INFO") || !strings.Contains(lines[0], "count=3") {
		t.Fatalf("log:\n%s\nwant one INFO line counting 3 blobs", f.log.String())
	}
	f.noIDs(sid, iid, ended, endedImg, young, oldImg, gone)

	// With no grace at all, the young orphans go too, the rest stays.
	f.srv.removeOrphans(context.Background(), 0)
	want = slices.DeleteFunc(want, func(k string) bool { return strings.Contains(k, young) })
	if got := f.keys(); !slices.Equal(got, want) {
		t.Fatalf("after reconcile without grace:\n got %q\nwant %q", got, want)
	}
}

// onlyCatalog hides every method but Catalog's, SessionCount
// among them.
type onlyCatalog struct{ Catalog }

// TestReconcileCannotCount: a catalog that cannot say how many sessions it
// holds cannot rule out being the wrong one, so nothing is deleted.
func TestReconcileCannotCount(t *testing.T) {
	f := newReconcileFixture(t, func(c Catalog) Catalog { return onlyCatalog{c} })
	sid, _ := f.session(time.Hour)
	orphan := originalKey(sid, newSecret())
	f.put(orphan, oldAge)
	f.srv.reconcile(context.Background())
	if got := f.keys(); !slices.Equal(got, []string{orphan}) {
		t.Fatalf("blobs after reconcile: %q, want the orphan kept", got)
	}
	f.noIDs(sid, orphan)
}

// TestReconcileLogsNoKeys: a failure is logged by its cause, without the
// key or path a backend's error names.
func TestReconcileLogsNoKeys(t *testing.T) {
	sid, iid := newSecret(), newSecret()
	key := originalKey(sid, iid)
	for _, err := range []error{
		fmt.Errorf("fsblob: delete %s: %w", key, &fs.PathError{Op: "remove", Path: "/data/blobs/" + key, Err: fs.ErrPermission}),
		fmt.Errorf("fsblob: list: %w", &os.LinkError{Op: "rename", Old: key, New: key + "x", Err: errors.New("cross-device link")}),
		fmt.Errorf("fsblob: write %s: %w", key, fmt.Errorf("%w: %w", storage.ErrInsufficientStorage, &fs.PathError{Op: "write", Path: key, Err: errors.New("no space left on device")})),
	} {
		if got := logSafe(err); strings.Contains(got, sid) || strings.Contains(got, iid) || got == "" {
			t.Errorf("logSafe(%v) = %q", err, got)
		}
	}
	if got := logSafe(fmt.Errorf("fsblob: write %s: %w", key, fmt.Errorf("%w: %w", storage.ErrInsufficientStorage, &fs.PathError{Op: "write", Path: key, Err: errors.New("no space left on device")}))); got != "insufficient storage: no space left on device" {
		t.Errorf("logSafe keeps %q of a disk-full error, want both causes", got)
	}
}
