package boltdb

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"qrsync/storage"
)

// TestWaitersMapShrinks: entries exist only while someone waits, whether
// the waiters left by cancel or were woken by an append.
func TestWaitersMapShrinks(t *testing.T) {
	c, err := Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bg := context.Background()
	count := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.waiters)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		id := string(rune('A' + i))
		if err := c.CreateSession(bg, storage.Session{ID: id, UploadToken: "t" + id, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
				defer cancel()
				_ = readOne(c, ctx, id)
			})
		}
	}
	wg.Wait()
	if n := count(); n != 0 {
		t.Fatalf("%d waiter entries left after cancelled waits", n)
	}

	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	woken := make(chan error)
	for range 3 {
		go func() { woken <- readOne(c, ctx, "A") }()
	}
	refs := func(id string) int {
		c.mu.Lock()
		defer c.mu.Unlock()
		if e := c.waiters[id]; e != nil {
			return e.refs
		}
		return 0
	}
	for refs("A") < 3 {
		time.Sleep(time.Millisecond)
	}
	if _, _, err := c.AddImage(bg, "A", storage.Image{ID: "x", SHA256: "x"}, storage.Quota{}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-woken; err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d waiter entries left after the waiters were woken", n)
	}
	// A waiter for an unknown session leaves nothing either.
	if err := readOne(c, ctx, "nope"); err == nil {
		t.Fatal("Wait on an unknown session succeeded")
	}
	if n := count(); n != 0 {
		t.Fatalf("%d waiter entries left after an unknown session", n)
	}
}

// BenchmarkAddImageNoSync is BenchmarkAddImage without fsync: the CPU cost
// of the transaction alone, to tell it apart from the disk's fsync latency.
// The catalog itself always syncs.
func BenchmarkAddImageNoSync(b *testing.B) {
	ctx := context.Background()
	c, err := Open(filepath.Join(b.TempDir(), "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.db.NoSync = true
	var sessionID string
	i := 0
	for b.Loop() {
		if i%500 == 0 {
			sessionID = fmt.Sprint("s", i)
			if err := c.CreateSession(ctx, storage.Session{ID: sessionID, UploadToken: "t" + sessionID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
		i++
		id := fmt.Sprint(i)
		img := storage.Image{ID: id, Name: id + ".jpg", ContentType: "image/jpeg", Size: 100, SHA256: "sha-" + id, CreatedAt: time.Now()}
		if _, _, err := c.AddImage(ctx, sessionID, img, storage.Quota{MaxImages: 500}); err != nil {
			b.Fatal(err)
		}
	}
}

// readOne is a blocking Read of one event, returning only its error.
func readOne(c *Catalog, ctx context.Context, sessionID string) error {
	_, err := c.Read(ctx, sessionID, "", 1)
	return err
}

// A session made before the size index (no sizes bucket) is answered by
// reading its gallery, including photos added after the upgrade.
func TestSizeIndexOfOlderSessions(t *testing.T) {
	t.Parallel()
	c, err := Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.CreateSession(ctx, storage.Session{ID: "s", UploadToken: "t", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	add := func(id string, size int64) {
		t.Helper()
		if _, _, err := c.AddImage(ctx, "s", storage.Image{ID: id, Size: size, SHA256: id}, storage.Quota{}); err != nil {
			t.Fatal(err)
		}
	}
	add("a", 1000)
	if err := c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Bucket([]byte("s")).DeleteBucket(bucketSizes) // as an older version made it
	}); err != nil {
		t.Fatal(err)
	}
	add("b", 2000)
	for size, want := range map[int64]bool{1000: true, 2000: true, 3000: false} {
		if got, err := c.HasImageSized(ctx, "s", size, size); err != nil || got != want {
			t.Errorf("HasImageSized(%d) = %v, %v; want %v", size, got, err, want)
		}
	}
	if _, err := c.RemoveImage(ctx, "s", "a"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.HasImageSized(ctx, "s", 1000, 1000); err != nil || got {
		t.Errorf("HasImageSized(removed size) = %v, %v; want false", got, err)
	}
}
