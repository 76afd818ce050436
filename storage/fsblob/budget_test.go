package fsblob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"qrsync/storage"
	"qrsync/storage/fsblob"
	"qrsync/storage/internal/fulldisk"
)

func wantFull(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrInsufficientStorage) {
		t.Fatalf("%s = %v, want ErrInsufficientStorage", what, err)
	}
}

func wantUsage(t *testing.T, s *fsblob.Store, used, limit int64) {
	t.Helper()
	if u, l := s.Usage(); u != used || l != limit {
		t.Fatalf("Usage() = %d, %d; want %d, %d", u, l, used, limit)
	}
}

// noTemps checks that no writer left a temporary file under dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	for _, f := range files(t, dir) {
		if strings.HasPrefix(filepath.Base(f), ".tmp-") {
			t.Fatalf("a temporary file was left behind: %s (all: %q)", f, files(t, dir))
		}
	}
}

// TestMaxBytes: the budget counts committed blobs and writers in flight,
// byte for byte; Create fails once it is spent, Write once it would be
// exceeded; a refused writer leaves nothing, and Delete makes room.
func TestMaxBytes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := fsblob.New(dir, fsblob.WithMaxBytes(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	put(t, s, "sessions/s/a", strings.Repeat("a", 600))
	wantUsage(t, s, 600, 1000)

	w, err := s.Create(ctx, "sessions/s/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 300)); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, 900, 1000) // a writer in flight counts
	// Another writer may not take what the first one holds.
	w2, err := s.Create(ctx, "sessions/s/c")
	if err != nil {
		t.Fatal(err)
	}
	_, err = w2.Write(make([]byte, 101))
	wantFull(t, "Write past the budget", err)
	_, err = w2.Write(make([]byte, 1))
	wantFull(t, "Write after a refused Write", err)
	wantFull(t, "Commit after a refused Write", w2.Commit())
	if _, err := w.Write(make([]byte, 100)); err != nil {
		t.Fatalf("Write up to exactly the budget: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, 1000, 1000)
	_, err = s.Create(ctx, "sessions/s/d")
	wantFull(t, "Create on a spent budget", err)
	if got, want := files(t, dir), []string{".lock", "sessions", "sessions/s", "sessions/s/a", "sessions/s/b"}; !slices.Equal(got, want) {
		t.Fatalf("files %q, want %q", got, want)
	}

	// Delete makes room; an aborted writer gives back what it held.
	if err := s.Delete(ctx, "sessions/s/a"); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, 400, 1000)
	w, err = s.Create(ctx, "sessions/s/e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 500)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, 400, 1000)
	// Replacing a blob counts its new size only.
	put(t, s, "sessions/s/b", "short")
	wantUsage(t, s, 5, 1000)
	put(t, s, "sessions/t/f", strings.Repeat("f", 995))
	wantUsage(t, s, 1000, 1000)

	// New counts what is there (blobs only: not the lock, not a leftover
	// temporary file, not a dot directory).
	if err := os.WriteFile(filepath.Join(dir, "sessions/t/.tmp-0123456789abcdef"), make([]byte, 50), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".snapshot"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".snapshot/x"), make([]byte, 70), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = fsblob.New(dir, fsblob.WithMaxBytes(2000))
	if err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, 1000, 2000)
	noTemps(t, dir)
	if _, err := os.Stat(filepath.Join(dir, ".snapshot/x")); err != nil {
		t.Fatalf("New touched a dot directory: %v", err)
	}
	// Without a bound, Usage still counts, and says there is no limit.
	s.Close()
	s, err = fsblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantUsage(t, s, 1000, 0)
}

// fullStore returns a store on a small file system: a real tmpfs where
// this process may mount one (the kernel's ENOSPC is what is tested), else
// a temporary directory with a budget of the same size. real says which.
func fullStore(t *testing.T, size int64, opts ...fsblob.Option) (s *fsblob.Store, dir string, real bool) {
	t.Helper()
	dir, err := fulldisk.Mount(t, size, 0)
	if err == nil {
		t.Logf("on a real %d-byte tmpfs", size)
		real = true
	} else {
		t.Logf("no tmpfs here (%v): falling back to WithMaxBytes(%d) on a temporary directory", err, size)
		dir = t.TempDir()
		opts = append(opts, fsblob.WithMaxBytes(size))
	}
	s, err = fsblob.New(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir, real
}

// tryPut stores size bytes at key, in 32 KiB writes as an upload does; on
// failure it aborts, and returns the error of whichever step failed.
func tryPut(s *fsblob.Store, key string, size int) error {
	w, err := s.Create(context.Background(), key)
	if err != nil {
		return err
	}
	defer w.Abort()
	chunk := make([]byte, 32<<10)
	for rest := size; rest > 0; rest -= len(chunk) {
		if _, err := w.Write(chunk[:min(rest, len(chunk))]); err != nil {
			return err
		}
	}
	return w.Commit()
}

// TestFullDisk fills the disk with 1 MiB blobs: the one that does not fit
// fails with ErrInsufficientStorage (and, on a real disk, ENOSPC) at
// Create, Write or Commit, and leaves nothing behind; every blob committed
// before it is whole; Delete works on the full disk, and frees room for
// new blobs.
func TestFullDisk(t *testing.T) {
	const mib = 1 << 20
	s, dir, real := fullStore(t, 8*mib)
	ctx := context.Background()
	var stored []string
	var err error
	for i := range 100 {
		key := fmt.Sprintf("sessions/s/img%02d", i)
		if err = tryPut(s, key, mib); err != nil {
			break
		}
		stored = append(stored, key)
	}
	wantFull(t, "storing blobs until the disk is full", err)
	if real && !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("on a real full disk the error %v does not carry ENOSPC", err)
	}
	t.Logf("%d blobs of 1 MiB fitted; the next one failed: %v", len(stored), err)
	if len(stored) < 4 || len(stored) > 8 {
		t.Fatalf("%d blobs of 1 MiB fitted in 8 MiB", len(stored))
	}
	noTemps(t, dir)
	if keys, err := listKeys(ctx, s, ""); err != nil || !slices.Equal(keys, stored) {
		t.Fatalf("List = %q, %v; want just the %d committed blobs", keys, err, len(stored))
	}
	// Still full: any blob of size fails, at whichever step, and leaves
	// nothing.
	wantFull(t, "another blob on the full disk", tryPut(s, "sessions/t/more", mib))
	noTemps(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "sessions/t")); !os.IsNotExist(err) {
		t.Fatalf("a refused blob left its directory behind: %v", err)
	}
	for _, key := range stored {
		b, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, b)
		b.Close()
		if err != nil || n != mib {
			t.Fatalf("%s: %d bytes, %v; want the whole MiB", key, n, err)
		}
	}

	// Delete works on the full disk, and then writes work again.
	if err := s.Delete(ctx, stored[0], stored[1]); err != nil {
		t.Fatalf("Delete on a full disk: %v", err)
	}
	if err := tryPut(s, "sessions/s/after", mib); err != nil {
		t.Fatalf("a blob after Delete freed 2 MiB: %v", err)
	}
	readBack(t, s, "sessions/s/after", mib)
}

func readBack(t *testing.T, s *fsblob.Store, key string, size int) {
	t.Helper()
	b, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, make([]byte, size)) {
		t.Fatalf("%s read back as %d bytes, %v", key, len(got), err)
	}
}

// TestMinFree: with a floor of free space, the store stops short of
// filling the disk: Create and Write fail with ErrInsufficientStorage
// while the file system itself would still take more (no ENOSPC), and
// Usage says the store is full.
func TestMinFree(t *testing.T) {
	const mib = 1 << 20
	ctx := context.Background()
	dir, err := fulldisk.Mount(t, 16*mib, 0)
	if err != nil {
		// Without a file system of known size the floor can still be
		// shown: one above the free space refuses everything.
		t.Logf("no tmpfs here (%v): checking only a floor above the free space", err)
		s := newStoreOpts(t, t.TempDir(), fsblob.WithMinFree(1<<62))
		_, err := s.Create(ctx, "sessions/s/a")
		wantFull(t, "Create below the floor", err)
		if used, limit := s.Usage(); used != 0 || limit != 0 {
			t.Fatalf("Usage() = %d, %d; want 0, 0", used, limit)
		}
		return
	}
	t.Logf("on a real 16 MiB tmpfs")
	s := newStoreOpts(t, dir, fsblob.WithMinFree(8*mib))
	var stored int
	for i := range 100 {
		if err = tryPut(s, fmt.Sprintf("sessions/s/img%02d", i), mib); err != nil {
			break
		}
		stored++
	}
	wantFull(t, "storing blobs down to the floor", err)
	if errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("the disk itself filled up (%v): the floor did not hold", err)
	}
	if stored < 6 || stored > 8 {
		t.Fatalf("%d blobs of 1 MiB fitted above an 8 MiB floor on a 16 MiB disk", stored)
	}
	noTemps(t, dir)
	// The rest of the machine still has its 8 MiB.
	if err := os.WriteFile(filepath.Join(dir, "other"), make([]byte, 7*mib), 0o600); err != nil {
		t.Fatalf("another program could not use the space the floor kept: %v", err)
	}
	_, err = s.Create(ctx, "sessions/s/more")
	wantFull(t, "Create below the floor", err)
	if used, limit := s.Usage(); used != int64(stored)*mib || limit != used {
		t.Fatalf("Usage() = %d, %d; want %d and a limit equal to it (full)", used, limit, stored*mib)
	}
	if err := os.Remove(filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "sessions/s/img00"); err != nil {
		t.Fatal(err)
	}
	if err := tryPut(s, "sessions/s/after", mib); err != nil {
		t.Fatalf("a blob after room was freed: %v", err)
	}
}

func newStoreOpts(t *testing.T, dir string, opts ...fsblob.Option) *fsblob.Store {
	t.Helper()
	s, err := fsblob.New(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestNoInodes: a file system out of inodes fails mkdir and create with
// ENOSPC; Create says ErrInsufficientStorage and leaves no directory.
func TestNoInodes(t *testing.T) {
	dir, err := fulldisk.Mount(t, 8<<20, 16)
	if err != nil {
		t.Skipf("needs a tmpfs with few inodes, which cannot be mounted here (%v); a budget cannot stand in for inodes", err)
	}
	s := newStoreOpts(t, dir)
	var i int
	for i = range 100 {
		if err = tryPut(s, fmt.Sprintf("sessions/s%02d/img", i), 10); err != nil {
			break
		}
	}
	wantFull(t, "a blob in a new directory with no inodes left", err)
	t.Logf("%d blobs, each in its own directory, fitted in 16 inodes; then: %v", i, err)
	noTemps(t, dir)
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("sessions/s%02d", i))); !os.IsNotExist(err) {
		t.Fatalf("the refused blob's directory was left behind: %v", err)
	}
	// Freeing one directory's worth lets the next blob in.
	if err := s.Delete(context.Background(), "sessions/s00/img"); err != nil {
		t.Fatal(err)
	}
	if err := tryPut(s, "sessions/new/img", 10); err != nil {
		t.Fatalf("after Delete: %v", err)
	}
}
