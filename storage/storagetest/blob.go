package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"qrsync/storage"
)

// TestBlobStore runs the conformance suite for a storage.BlobStore. open
// returns a handle on the store under test; it is called once per subtest.
func TestBlobStore(t *testing.T, open func(t *testing.T) storage.BlobStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.BlobStore)
	}{
		{"ChunkedRoundTrip", testBlobChunkedRoundTrip},
		{"EmptyBlob", testBlobEmpty},
		{"InvisibleBeforeCommit", testBlobInvisibleBeforeCommit},
		{"Abort", testBlobAbort},
		{"WriterStates", testBlobWriterStates},
		{"CancelledContext", testBlobCancelledContext},
		{"Delete", testBlobDelete},
		{"OpenMissing", testBlobOpenMissing},
		{"Large", testBlobLarge},
		{"ConcurrentWriters", testBlobConcurrentWriters},
		{"List", testBlobList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// sessionKey is a key shaped like the server's: unique per call.
func sessionKey(session, name string) string { return "sessions/" + session + "/" + name }

// putBlob stores data at key in one write and commits it.
func putBlob(t *testing.T, s storage.BlobStore, key string, data []byte) {
	t.Helper()
	w, err := s.Create(testContext(t), key)
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Abort()
		t.Fatalf("Write(%q): %v", key, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%q): %v", key, err)
	}
}

// readBlob opens key and checks that its size and bytes are want.
func readBlob(t *testing.T, s storage.BlobStore, key string, want []byte) {
	t.Helper()
	b, err := s.Open(testContext(t), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer b.Close()
	if got := b.Size(); got != int64(len(want)) {
		t.Errorf("Open(%q).Size() = %d, want %d", key, got, len(want))
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%q holds %d bytes that differ from the %d written", key, len(got), len(want))
	}
}

// wantNotFound checks that key cannot be opened, with storage.ErrNotFound.
func wantNotFound(t *testing.T, s storage.BlobStore, key string) {
	t.Helper()
	b, err := s.Open(testContext(t), key)
	if err == nil {
		b.Close()
		t.Fatalf("Open(%q) succeeded, want ErrNotFound", key)
	}
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Open(%q) = %v, want ErrNotFound", key, err)
	}
}

// listed returns the keys under prefix.
func listed(t *testing.T, s storage.BlobStore, prefix string) []string {
	t.Helper()
	blobs, err := s.List(testContext(t), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	keys := make([]string, len(blobs))
	for i, b := range blobs {
		keys[i] = b.Key
	}
	return keys
}

func randomBytes(r *rand.ChaCha8, n int) []byte {
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

func testBlobChunkedRoundTrip(t *testing.T, s storage.BlobStore) {
	key := sessionKey(randomID(), randomID())
	r := rand.New(rand.NewPCG(1, 2))
	data := randomBytes(rand.NewChaCha8([32]byte{1}), 300_000)
	w, err := s.Create(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	// Chunks from 1 byte to a few KiB, the way a multipart reader hands
	// bytes over, including empty writes.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), r.IntN(4096))
		if m, err := w.Write(rest[:n]); err != nil || m != n {
			t.Fatalf("Write(%d bytes) = %d, %v", n, m, err)
		}
		rest = rest[n:]
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	readBlob(t, s, key, data)
}

func testBlobEmpty(t *testing.T, s storage.BlobStore) {
	key := sessionKey(randomID(), randomID())
	putBlob(t, s, key, nil)
	readBlob(t, s, key, nil)
	wantListedSize(t, s, key, 0)
}

// wantListedSize checks that List shows key, alone under its own name,
// with size bytes.
func wantListedSize(t *testing.T, s storage.BlobStore, key string, size int64) {
	t.Helper()
	blobs, err := s.List(testContext(t), key)
	if err != nil {
		t.Fatalf("List(%q): %v", key, err)
	}
	if len(blobs) != 1 || blobs[0].Key != key || blobs[0].Size != size {
		t.Errorf("List(%q) = %+v, want just it with size %d", key, blobs, size)
	}
}

func testBlobInvisibleBeforeCommit(t *testing.T, s storage.BlobStore) {
	session := randomID()
	key := sessionKey(session, randomID())
	w, err := s.Create(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("not yet")); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, key)
	if keys := listed(t, s, sessionKey(session, "")); len(keys) != 0 {
		t.Errorf("List before Commit = %q, want nothing", keys)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	readBlob(t, s, key, []byte("not yet"))
	if keys := listed(t, s, sessionKey(session, "")); !slices.Equal(keys, []string{key}) {
		t.Errorf("List after Commit = %q, want [%q]", keys, key)
	}
}

func testBlobAbort(t *testing.T, s storage.BlobStore) {
	session := randomID()
	key := sessionKey(session, randomID())
	w, err := s.Create(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("x"), 100_000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	wantNotFound(t, s, key)
	if keys := listed(t, s, sessionKey(session, "")); len(keys) != 0 {
		t.Errorf("List after Abort = %q, want nothing", keys)
	}
}

func testBlobWriterStates(t *testing.T, s storage.BlobStore) {
	key := sessionKey(randomID(), randomID())
	w, err := s.Create(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	// A writer is done once committed: nothing more is taken.
	if err := w.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Error("Write after Commit succeeded")
	}
	// The server defers Abort for every exit path; after Commit it must
	// neither fail nor remove the blob.
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	readBlob(t, s, key, []byte("kept"))

	// Aborted, likewise, and nothing is stored.
	aborted := sessionKey(randomID(), randomID())
	if w, err = s.Create(testContext(t), aborted); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("gone")); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Abort succeeded")
	}
	wantNotFound(t, s, aborted)

	// A blob written again under its key is the new bytes.
	putBlob(t, s, key, []byte("replacement"))
	readBlob(t, s, key, []byte("replacement"))
}

func testBlobDelete(t *testing.T, s storage.BlobStore) {
	session := randomID()
	orig, thumb, other := sessionKey(session, "img"), sessionKey(session, "img.thumb.jpg"), sessionKey(session, "other")
	putBlob(t, s, orig, []byte("original"))
	putBlob(t, s, thumb, []byte("thumbnail"))
	putBlob(t, s, other, []byte("other"))
	ctx := testContext(t)
	// Several keys at once, one of them missing.
	if err := s.Delete(ctx, orig, sessionKey(session, "never-stored"), thumb); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, orig)
	wantNotFound(t, s, thumb)
	readBlob(t, s, other, []byte("other"))
	// Deleting again, and deleting nothing, are fine.
	if err := s.Delete(ctx, orig); err != nil {
		t.Fatalf("Delete of a deleted key: %v", err)
	}
	if err := s.Delete(ctx); err != nil {
		t.Fatalf("Delete of no keys: %v", err)
	}
	if err := s.Delete(ctx, other); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, other)
	if keys := listed(t, s, sessionKey(session, "")); len(keys) != 0 {
		t.Errorf("List after deleting everything = %q, want nothing", keys)
	}
	// The key can be used again.
	putBlob(t, s, orig, []byte("again"))
	readBlob(t, s, orig, []byte("again"))
}

func testBlobOpenMissing(t *testing.T, s storage.BlobStore) {
	session := randomID()
	wantNotFound(t, s, sessionKey(session, "missing"))
	// A prefix of a stored key is not a blob either.
	putBlob(t, s, sessionKey(session, "img"), []byte("x"))
	wantNotFound(t, s, "sessions/"+session)
	wantNotFound(t, s, sessionKey(session, "im"))
}

// testBlobLarge streams 20 MiB from a generator, so neither side needs the
// whole blob in memory, and compares digests.
func testBlobLarge(t *testing.T, s storage.BlobStore) {
	const size = 20 << 20
	key := sessionKey(randomID(), randomID())
	w, err := s.Create(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	wantSum := sha256.New()
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{2}), size), wantSum)
	if n, err := io.CopyBuffer(w, src, make([]byte, 32<<10)); err != nil || n != size {
		_ = w.Abort()
		t.Fatalf("streaming %d bytes: wrote %d, %v", size, n, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != size {
		t.Errorf("Size() = %d, want %d", b.Size(), size)
	}
	gotSum := sha256.New()
	if n, err := io.Copy(gotSum, b); err != nil || n != size {
		t.Fatalf("reading back: %d bytes, %v", n, err)
	}
	if !bytes.Equal(gotSum.Sum(nil), wantSum.Sum(nil)) {
		t.Error("the blob read back differs from what was written")
	}
	wantListedSize(t, s, key, size)
}

// testBlobConcurrentWriters stores blobs of one session from several
// goroutines at once, as parallel uploads do.
func testBlobConcurrentWriters(t *testing.T, s storage.BlobStore) {
	const writers = 8
	session := randomID()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			w, err := s.Create(testContext(t), sessionKey(session, "img"+string(rune('a'+i))))
			if err == nil {
				_, err = w.Write(bytes.Repeat([]byte{byte(i)}, 10_000+i))
			}
			if err == nil {
				err = w.Commit()
			} else if w != nil {
				_ = w.Abort()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent write: %v", err)
		}
	}
	for i := range writers {
		readBlob(t, s, sessionKey(session, "img"+string(rune('a'+i))), bytes.Repeat([]byte{byte(i)}, 10_000+i))
	}
}

// clockSlack is how far a backend's clock (a file system's, an object
// store's) may be from the test's when the suite checks ModTime.
const clockSlack = 5 * time.Minute

func testBlobList(t *testing.T, s storage.BlobStore) {
	start := time.Now()
	session := randomID()
	a, aThumb, b := sessionKey(session, "a"), sessionKey(session, "a.thumb.jpg"), sessionKey(session, "b")
	// Same leading characters, another session: a string prefix with a
	// trailing '/' must not reach it.
	sibling := sessionKey(session+"x", "c")
	for _, key := range []string{b, aThumb, sibling, a} {
		putBlob(t, s, key, []byte(key))
	}
	pending, err := s.Create(testContext(t), sessionKey(session, "pending"))
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Abort()
	if _, err := pending.Write([]byte("uncommitted")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		prefix string
		want   []string
	}{
		{sessionKey(session, ""), []string{a, aThumb, b}},
		{sessionKey(session, "a"), []string{a, aThumb}},
		{sessionKey(session, "a."), []string{aThumb}},
		{sessionKey(session, "b"), []string{b}},
		{sessionKey(session, "z"), []string{}},
		{"sessions/" + session, []string{a, aThumb, b, sibling}},
		{sessionKey(randomID(), ""), []string{}},
	}
	for _, tt := range tests {
		keys := listed(t, s, tt.prefix)
		if !slices.Equal(keys, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, keys, tt.want)
		}
	}

	// Each blob comes with its size and a recent modification time.
	blobs, err := s.List(testContext(t), sessionKey(session, ""))
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	for _, b := range blobs {
		if b.Size != int64(len(b.Key)) { // putBlob stored the key itself
			t.Errorf("List: %q has size %d, want %d", b.Key, b.Size, len(b.Key))
		}
		if b.ModTime.Before(start.Add(-clockSlack)) || b.ModTime.After(end.Add(clockSlack)) {
			t.Errorf("List: %q has ModTime %v, want between %v and %v (give or take %v)", b.Key, b.ModTime, start, end, clockSlack)
		}
	}

	// Everything listed under "sessions/" is sorted, whatever else is there.
	all := listed(t, s, "sessions/")
	if !slices.IsSorted(all) {
		t.Errorf("List(%q) is not sorted", "sessions/")
	}
	for _, key := range []string{a, aThumb, b, sibling} {
		if !slices.Contains(all, key) {
			t.Errorf("List(%q) lacks %q", "sessions/", key)
		}
	}

	if err := s.Delete(testContext(t), aThumb); err != nil {
		t.Fatal(err)
	}
	if keys := listed(t, s, sessionKey(session, "")); !slices.Equal(keys, []string{a, b}) {
		t.Errorf("List after Delete = %q, want %q", keys, []string{a, b})
	}
}

// testBlobCancelledContext: every call refuses a context that has ended,
// with its error, rather than start work nobody waits for.
func testBlobCancelledContext(t *testing.T, s storage.BlobStore) {
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	key := sessionKey(randomID(), randomID())
	if _, err := s.Create(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Create = %v, want context.Canceled", err)
	}
	if _, err := s.Open(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Open = %v, want context.Canceled", err)
	}
	if err := s.Delete(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete = %v, want context.Canceled", err)
	}
	if _, err := s.List(ctx, "sessions/"); !errors.Is(err, context.Canceled) {
		t.Errorf("List = %v, want context.Canceled", err)
	}
}
