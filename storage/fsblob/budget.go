package fsblob

import (
	"fmt"
	"sync"

	"qrsync/storage"
)

// freeChunk is how much free space a writer reserves at a time under
// WithMinFree: free space is measured (statfs) once per reservation, so
// once per 4 MiB a writer writes rather than on every Write, and since
// every reservation counts against the free space the others see,
// concurrent writers cannot overrun the floor between two measurements.
const freeChunk = 4 << 20

// Option changes how New sets up a Store.
type Option func(*options)

type options struct {
	maxBytes int64
	minFree  int64
}

// WithMaxBytes bounds the bytes the store's blobs may hold in total,
// committed and being written: past it Create and Write fail with
// storage.ErrInsufficientStorage, so photos cannot take more of the disk
// than the operator gave them. Zero or less means no bound.
func WithMaxBytes(n int64) Option { return func(o *options) { o.maxBytes = n } }

// WithMinFree keeps n bytes free on the file system that holds the store:
// Create and Write fail with storage.ErrInsufficientStorage rather than
// take free space below n, so that the catalog, the logs and the rest of
// the machine still have room when the photos have filled the disk. Zero
// or less means no floor. Where free space cannot be measured (see
// freeSpace) only the file system's own "no space" error stops a write.
func WithMinFree(n int64) Option { return func(o *options) { o.minFree = n } }

// budget keeps the store's accounts: what the blobs hold, what writers
// still open have written, and what they have reserved of the free space.
type budget struct {
	maxBytes int64
	minFree  int64
	free     func() (int64, error) // nil: no floor, or it cannot be measured

	mu      sync.Mutex
	used    int64 // bytes of committed blobs
	pending int64 // bytes written by writers not yet committed or aborted
	ahead   int64 // free space reserved by open writers and not yet written
}

// Usage reports the bytes of the store's blobs, committed and being
// written, and the most they may take now: the WithMaxBytes budget,
// lowered to what leaves the WithMinFree space free on the disk (measured
// on each call, one statfs). limit is 0 when neither bound is set. It is
// meant for a readiness check (used >= limit: no room for another photo)
// and a gauge.
func (s *Store) Usage() (used, limit int64) {
	b := &s.budget
	b.mu.Lock()
	used, ahead := b.used+b.pending, b.ahead
	b.mu.Unlock()
	limit = max(b.maxBytes, 0)
	if b.minFree > 0 && b.free != nil {
		if free, err := b.free(); err == nil {
			if l := used + max(free-b.minFree-ahead, 0); limit == 0 || l < limit {
				limit = l
			}
		}
	}
	return used, limit
}

// admitCreate fails if the budget is already spent, and otherwise reserves
// w its first chunk of free space, so that small blobs cost one statfs.
func (s *Store) admitCreate(w *writer) error {
	b := &s.budget
	if b.maxBytes > 0 {
		b.mu.Lock()
		spent := b.used+b.pending >= b.maxBytes
		b.mu.Unlock()
		if spent {
			return fmt.Errorf("%w: the blobs fill the store's budget of %d bytes", storage.ErrInsufficientStorage, b.maxBytes)
		}
	}
	if b.minFree > 0 && b.free != nil && !s.reserveFree(w, 1) {
		return fmt.Errorf("%w: no more than %d bytes are free on the disk, and the store keeps that much free", storage.ErrInsufficientStorage, b.minFree)
	}
	return nil
}

// admit accounts for n more bytes of w, or says why they do not fit.
func (s *Store) admit(w *writer, n int64) error {
	b := &s.budget
	if n == 0 {
		return nil
	}
	if b.minFree > 0 && b.free != nil && w.reserved < n && !s.reserveFree(w, n) {
		return fmt.Errorf("%w: writing on would leave less than %d bytes free on the disk", storage.ErrInsufficientStorage, b.minFree)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.maxBytes > 0 && b.used+b.pending+n > b.maxBytes {
		return fmt.Errorf("%w: the blob would take the store past its budget of %d bytes", storage.ErrInsufficientStorage, b.maxBytes)
	}
	b.pending += n
	w.written += n
	take := min(n, w.reserved)
	w.reserved -= take
	b.ahead -= take
	return nil
}

// reserveFree measures the free space and reserves w enough of it for n
// more bytes, and up to a chunk beyond; false if the floor leaves less
// than n. Free space that cannot be measured right now is granted: the
// file system's own "no space" still stops the write.
func (s *Store) reserveFree(w *writer, n int64) bool {
	b := &s.budget
	// The statfs is outside the lock (a syscall). Bytes another writer
	// moves from its reservation to the disk in between are then counted
	// as free once more: the floor may be passed by at most one write per
	// writer, a few KiB against a floor of a GiB.
	free, err := b.free()
	b.mu.Lock()
	defer b.mu.Unlock()
	need := n - w.reserved
	grant := max(need, freeChunk-w.reserved)
	if err == nil {
		// Bytes written are already gone from free; what others reserved
		// and have not written yet is not.
		room := free - b.minFree - b.ahead
		if room < need {
			return false
		}
		grant = min(grant, room)
	}
	w.reserved += grant
	b.ahead += grant
	return true
}

// release gives back what w has written and reserved, when it ends; if it
// was committed over a blob of replaced bytes, what it wrote becomes the
// store's instead.
func (s *Store) release(w *writer, committed bool, replaced int64) {
	b := &s.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending -= w.written
	b.ahead -= w.reserved
	if committed {
		b.used += w.written - replaced
	}
	w.written, w.reserved = 0, 0
}

// addUsed changes the bytes of committed blobs by delta.
func (s *Store) addUsed(delta int64) {
	s.budget.mu.Lock()
	s.budget.used += delta
	s.budget.mu.Unlock()
}
