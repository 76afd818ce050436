package fsblob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"qrsync/storage"
	"qrsync/storage/fsblob"
	"qrsync/storage/storagetest"
)

func newStore(t testing.TB, dir string) *fsblob.Store {
	t.Helper()
	s, err := fsblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storagetest.TestBlobStore(t, func(t *testing.T) storage.BlobStore {
		return newStore(t, t.TempDir())
	})
}

// TestConformanceShared runs the suite with every subtest on one store, as
// the server uses it: concurrent writes, deletes and directory pruning in
// the same tree.
func TestConformanceShared(t *testing.T) {
	s := newStore(t, t.TempDir())
	storagetest.TestBlobStore(t, func(t *testing.T) storage.BlobStore { return s })
}

// TestLocked: a second store on the same directory fails clearly instead of
// deleting the first one's uploads in progress as crash leftovers.
func TestLocked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newStore(t, dir)
	w, err := s.Create(ctx, "sessions/x/img")
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := fsblob.New(dir); err == nil {
		s2.Close()
		t.Fatal("a second New on the same directory succeeded")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second New: %v, want a clear message", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("the first store's upload was disturbed: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newStore(t, dir) // free again after Close
}

func put(t *testing.T, s *fsblob.Store, key, data string) {
	t.Helper()
	w, err := s.Create(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// listKeys is List, keys only.
func listKeys(ctx context.Context, s *fsblob.Store, prefix string) ([]string, error) {
	blobs, err := s.List(ctx, prefix)
	keys := make([]string, len(blobs))
	for i, b := range blobs {
		keys[i] = b.Key
	}
	return keys, err
}

// files lists every file and directory under dir, relative, slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCrashLeftovers: a temporary file of an upload that never committed
// (the process died) is never listed, and New removes it.
func TestCrashLeftovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newStore(t, dir)
	put(t, s, "sessions/s1/a", "kept")
	w, err := s.Create(ctx, "sessions/s1/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "half an upload"); err != nil {
		t.Fatal(err)
	}
	// And the first upload of another session.
	w2, err := s.Create(ctx, "sessions/s2/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w2, "x"); err != nil {
		t.Fatal(err)
	}
	// The process "dies" here: no Commit, no Abort.
	var temps []string
	for _, f := range files(t, dir) {
		if strings.HasPrefix(filepath.Base(f), ".tmp-") {
			temps = append(temps, f)
		}
	}
	if len(temps) != 2 || filepath.Dir(temps[0]) != "sessions/s1" || filepath.Dir(temps[1]) != "sessions/s2" {
		t.Fatalf("temporary files %q, want one next to its final path", temps)
	}
	if keys, err := listKeys(ctx, s, ""); err != nil || !slices.Equal(keys, []string{"sessions/s1/a"}) {
		t.Fatalf("List = %q, %v; the temporary file must not show", keys, err)
	}
	if _, err := s.Open(ctx, "sessions/s1/b"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Open(uncommitted) = %v", err)
	}

	if err := s.Close(); err != nil { // the process is gone, and with it the lock
		t.Fatal(err)
	}
	s2 := newStore(t, dir)
	if got, want := files(t, dir), []string{".lock", "sessions", "sessions/s1", "sessions/s1/a"}; !slices.Equal(got, want) {
		t.Fatalf("after New: %q, want %q", got, want)
	}
	if keys, err := listKeys(ctx, s2, ""); err != nil || !slices.Equal(keys, []string{"sessions/s1/a"}) {
		t.Fatalf("List after New = %q, %v", keys, err)
	}
	// The writer of the dead process cannot bring the blob back.
	if err := w.Commit(); err == nil {
		if _, err := s2.Open(ctx, "sessions/s1/b"); err == nil {
			t.Fatal("a blob whose temporary file was cleaned up appeared")
		}
	}
}

func TestBadKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newStore(t, filepath.Join(dir, "blobs"))
	// A file next to the store that escaping keys would reach.
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []string{
		"", "/", "/etc/passwd", "../secret", "sessions/../../secret", "a/../b", "..", ".", "./a",
		"a//b", "a/", "/a", "sessions/x/.tmp-0123", ".hidden", "a/.b", "a\\b", "a b", "a\x00b",
		"sessions/ü", strings.Repeat("a", fsblob.MaxSegmentLen+1), strings.Repeat("a/", fsblob.MaxKeyLen/2+1) + "a",
	}
	for _, key := range bad {
		if _, err := s.Create(ctx, key); !errors.Is(err, fsblob.ErrInvalidKey) {
			t.Errorf("Create(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Open(ctx, key); !errors.Is(err, fsblob.ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, "sessions/ok", key); !errors.Is(err, fsblob.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"/", "../", "a//", "a b", "../../secret"} {
		if _, err := s.List(ctx, prefix); !errors.Is(err, fsblob.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
	good := []string{"a", "sessions/abc-DEF_123/img.thumb.jpg", "x..y", "a-b_c.d/e"}
	for _, key := range good {
		put(t, s, key, key)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "secret")); err != nil || string(got) != "x" {
		t.Fatalf("the file outside the store changed: %q, %v", got, err)
	}
}

// TestSymlinkEscape: even a symlink planted inside the directory does not
// let a key reach outside it.
func TestSymlinkEscape(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(dir, "blobs")
	s := newStore(t, blobs)
	if err := os.Symlink(outside, filepath.Join(blobs, "link")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if b, err := s.Open(ctx, "link/secret"); err == nil {
		b.Close()
		t.Fatal("Open through a symlink to outside succeeded")
	}
	if w, err := s.Create(ctx, "link/new"); err == nil {
		_ = w.Abort()
		t.Fatal("Create through a symlink to outside succeeded")
	}
	if err := s.Delete(ctx, "link/secret"); err == nil {
		if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
			t.Fatal("Delete through a symlink removed a file outside")
		}
	}
}

// TestWriterStates: the suite's WriterStates, plus what only files show:
// an aborted writer leaves no file behind, and replacing a blob is atomic.
func TestWriterStates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newStore(t, dir)
	put(t, s, "k1", "one")
	w, err := s.Create(ctx, "k2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "two"); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if got, want := files(t, dir), []string{".lock", "k1"}; !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}

	// Replacing a blob is atomic: a reader that opened the old one keeps
	// reading the old bytes.
	old, err := s.Open(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	put(t, s, "k1", "replacement")
	if got, _ := io.ReadAll(old); string(got) != "one" {
		t.Errorf("old reader got %q", got)
	}
	b, err := s.Open(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, _ := io.ReadAll(b); string(got) != "replacement" || b.Size() != int64(len("replacement")) {
		t.Errorf("new blob %q, size %d", got, b.Size())
	}
}

// TestDeletePrunesDirs: a session's directory goes with its last blob, up
// to but not including the root; directories with other blobs or with an
// upload in progress stay.
func TestDeletePrunesDirs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newStore(t, dir)
	put(t, s, "sessions/a/1", "x")
	put(t, s, "sessions/a/1.thumb.jpg", "x")
	put(t, s, "sessions/b/1", "x")
	w, err := s.Create(ctx, "sessions/c/1")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	put(t, s, "sessions/c/2", "x")

	if err := s.Delete(ctx, "sessions/a/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions/a")); err != nil {
		t.Fatalf("a directory with a blob left was removed: %v", err)
	}
	if err := s.Delete(ctx, "sessions/a/1.thumb.jpg", "sessions/c/2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions/a")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty session directory still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions/c")); err != nil {
		t.Fatalf("a directory with an upload in progress was removed: %v", err)
	}
	if _, err := io.WriteString(w, "late"); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit after a Delete in the same directory: %v", err)
	}
	if err := s.Delete(ctx, "sessions/b/1", "sessions/c/1"); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{".lock"}) {
		t.Fatalf("left behind: %q", got)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the root went too: %v", err)
	}
	// And everything works again on the emptied root.
	put(t, s, "sessions/a/1", "again")
	// Delete never removes a directory named as a key.
	if err := s.Delete(ctx, "sessions/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "sessions/a/1"); err != nil {
		t.Fatalf("Delete of a directory key removed its blobs: %v", err)
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, dir string }{
		{"empty", ""},
		{"a file", file},
		{"under a file", filepath.Join(file, "sub")},
	} {
		if s, err := fsblob.New(tt.dir); err == nil {
			s.Close()
			t.Errorf("New(%s) succeeded", tt.name)
		}
	}
	// A missing directory is created, parents included.
	s := newStore(t, filepath.Join(dir, "a", "b"))
	put(t, s, "k", "v")
}

func TestOpenIsAFile(t *testing.T) {
	s := newStore(t, t.TempDir())
	put(t, s, "sessions/x/img", "0123456789")
	b, err := s.Open(context.Background(), "sessions/x/img")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// *os.File underneath: io.Copy can use sendfile, ServeContent can ReadAt.
	if _, ok := b.(io.ReaderAt); !ok {
		t.Error("the blob is not an io.ReaderAt")
	}
	if _, ok := b.(io.WriterTo); !ok {
		t.Error("the blob is not an io.WriterTo")
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, b); err != nil || buf.String() != "0123456789" {
		t.Errorf("copy = %q, %v", buf.String(), err)
	}
}

func BenchmarkCreateCommit4MB(b *testing.B) {
	ctx := context.Background()
	s := newStore(b, b.TempDir())
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	chunk := 32 << 10 // what a multipart reader hands over
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		i++
		w, err := s.Create(ctx, "sessions/bench/img"+string(rune('a'+i%26)))
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(data); off += chunk {
			if _, err := w.Write(data[off:min(off+chunk, len(data))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
