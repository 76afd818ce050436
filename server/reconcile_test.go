package server_test

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"qrsync/internal/apptest"
	"qrsync/server"
	"qrsync/storage/fsblob"
)

// On startup, blobs that no catalog image owns (a crash between storing an
// upload and recording it, or between removing a session and its files)
// are removed once older than the grace period; the blobs of recorded
// images, and files that are not blobs of ours, stay however old.
func TestReconcileRemovesOrphans(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	dir := a.DataDir
	s := a.NewSession()
	a.MustUpload(s, "kept.png", smallPNG(t, 30, 20))
	kept := blobFiles(dir)
	a.Stop()

	// What a crash leaves: committed blobs with no catalog record.
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	orphans := []string{
		server.OriginalKey(s.ID, "crashedBeforeRecording"),        // original and thumbnail committed
		server.ThumbKey(s.ID, "crashedBeforeRecording"),           //
		server.OriginalKey(s.ID, "crashedBeforeThumbnail"),        // only the original
		server.OriginalKey("sessionRemovedFromCatalog", "img"),    // a session deleted half-way
		server.ThumbKey("sessionRemovedFromCatalog", "img"),       //
		server.OriginalKey("sessionRemovedFromCatalog", "other1"), //
	}
	foreign := []string{"notes/readme", "sessions/x/y/z", "sessions/a/b.c"} // not keys the server makes
	for _, k := range append(slices.Clone(orphans), foreign...) {
		w, err := blobs.Create(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("left over"))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	blobs.Close()
	backdate(t, filepath.Join(dir, "blobs"), 2*server.DefaultOrphanGrace)

	a = apptest.StartAt(t, "127.0.0.1:0", dir, server.Config{})
	got := blobFiles(dir)
	want := append(slices.Clone(kept), foreign...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("after restart:\n got %v\nwant %v", got, want)
	}
	// The recorded image is whole.
	var sess struct{ Images []struct{ ThumbURL string } }
	a.GetJSON("/api/sessions/"+s.ID, &sess)
	if len(sess.Images) != 1 {
		t.Fatalf("images after restart: %+v", sess)
	}
	if resp, _ := a.Do(http.MethodGet, sess.Images[0].ThumbURL, nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("thumbnail after restart: %d", resp.StatusCode)
	}
}

// backdate sets the modification time of every file under dir to age
// ago, as if the crash that left them had happened that long before.
func backdate(t *testing.T, dir string, age time.Duration) {
	t.Helper()
	when := time.Now().Add(-age)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}
