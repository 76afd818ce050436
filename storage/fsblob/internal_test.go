package fsblob

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"qrsync/storage"
)

// fakeDisk stands in for statfs: a disk of capacity bytes on which only
// the store's bytes (committed and written) take room, counting the calls.
type fakeDisk struct {
	s        *Store
	capacity int64
	calls    atomic.Int64
}

func (d *fakeDisk) free() (int64, error) {
	d.calls.Add(1)
	d.s.budget.mu.Lock()
	defer d.s.budget.mu.Unlock()
	return d.capacity - d.s.used - d.s.pending, nil
}

func storeOnFakeDisk(t *testing.T, capacity, minFree int64) (*Store, *fakeDisk) {
	t.Helper()
	s, err := New(t.TempDir(), WithMinFree(minFree))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d := &fakeDisk{s: s, capacity: capacity}
	s.free = d.free
	return s, d
}

// TestMinFreeStatfsRate: free space is measured once per reserved chunk,
// not on every Write.
func TestMinFreeStatfsRate(t *testing.T) {
	const total = 32 << 20
	s, d := storeOnFakeDisk(t, 1<<40, 1<<30)
	w, err := s.Create(context.Background(), "sessions/s/big")
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 32<<10)
	for range total / len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, want := d.calls.Load(), int64(total/freeChunk+1); n > want {
		t.Fatalf("%d statfs calls for %d writes of 32 KiB, want at most %d", n, total/len(chunk), want)
	}
	if s.pending != 0 || s.ahead != 0 || s.used != total {
		t.Fatalf("after Commit: used %d, pending %d, ahead %d; want %d, 0, 0", s.used, s.pending, s.ahead, total)
	}
}

// TestMinFreeConcurrentWriters: writers racing for the last free space
// together never take the disk below the floor, and stop close to it.
func TestMinFreeConcurrentWriters(t *testing.T) {
	const (
		capacity = 64 << 20
		minFree  = 16 << 20
		writers  = 8
		chunk    = 32 << 10
	)
	s, _ := storeOnFakeDisk(t, capacity, minFree)
	var wg, full sync.WaitGroup
	var mu sync.Mutex
	var written int64
	full.Add(writers)
	for i := range writers {
		wg.Go(func() {
			w, err := s.Create(context.Background(), fmt.Sprintf("sessions/s/w%d", i))
			if err != nil {
				full.Done()
				if !errors.Is(err, storage.ErrInsufficientStorage) {
					t.Error(err)
				}
				return
			}
			buf := make([]byte, chunk)
			var n int64
			for {
				if _, err := w.Write(buf); err != nil {
					if !errors.Is(err, storage.ErrInsufficientStorage) {
						t.Error(err)
					}
					break
				}
				n += chunk
			}
			mu.Lock()
			written += n
			mu.Unlock()
			// Hold what was written until every writer is refused, as
			// uploads still running would.
			full.Done()
			full.Wait()
			_ = w.Abort()
		})
	}
	wg.Wait()
	// A writer's free-space look may miss another's last write that lands
	// just after it (see reserveFree): at most one chunk each.
	if limit := int64(capacity - minFree); written > limit+writers*chunk || written < limit-writers*chunk {
		t.Fatalf("writers wrote %d bytes together, want %d give or take %d", written, limit, writers*chunk)
	}
	if s.pending != 0 || s.ahead != 0 || s.used != 0 {
		t.Fatalf("after Abort: used %d, pending %d, ahead %d; want all 0", s.used, s.pending, s.ahead)
	}
}
