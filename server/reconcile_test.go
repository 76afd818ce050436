package server

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"qrsync/storage/fsblob"
)

// On startup, blobs that no catalog image owns (a crash between storing an
// upload and recording it, or between removing a session and its files)
// are removed; the blobs of recorded images, and files that are not blobs
// of ours, stay.
func TestReconcileRemovesOrphans(t *testing.T) {
	dir := t.TempDir()
	a := startAppAt(t, dir, Config{})
	s := a.newSession()
	resp, body := a.upload(s, "kept.png", smallPNG(t, 30, 20))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	kept := a.blobFiles()
	a.stop()

	// What a crash leaves: committed blobs with no catalog record.
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	orphans := []string{
		originalKey(s.ID, "crashedBeforeRecording"),        // original and thumbnail committed
		thumbKey(s.ID, "crashedBeforeRecording"),           //
		originalKey(s.ID, "crashedBeforeThumbnail"),        // only the original
		originalKey("sessionRemovedFromCatalog", "img"),    // a session deleted half-way
		thumbKey("sessionRemovedFromCatalog", "img"),       //
		originalKey("sessionRemovedFromCatalog", "other1"), //
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

	a = startAppAt(t, dir, Config{})
	got := a.blobFiles()
	want := slices.Clone(kept)
	for _, k := range foreign {
		want = append(want, filepath.Join(dir, "blobs", filepath.FromSlash(k)))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("after restart:\n got %v\nwant %v", got, want)
	}
	// The recorded image is whole.
	var sess struct{ Images []struct{ ThumbURL string } }
	getJSON(t, a.base+"/api/sessions/"+s.ID, &sess)
	if len(sess.Images) != 1 {
		t.Fatalf("images after restart: %+v", sess)
	}
	if resp, _ := a.do(http.MethodGet, sess.Images[0].ThumbURL, nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("thumbnail after restart: %d", resp.StatusCode)
	}
}

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
