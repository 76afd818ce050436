package boltdb

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"qrsync/storage"
	"qrsync/storage/internal/nospace"
)

// ErrCorrupt is returned (wrapped, with the file's name and what to do)
// when the catalog file is damaged: Open's consistency check failed, or
// bbolt panicked on a page it could not make sense of.
var ErrCorrupt = errors.New("boltdb: the catalog file is damaged")

// corrupt is the error for a damaged catalog file. It says what to do,
// because it is what an operator reads when qrsync will not start; detail
// never holds a key (see redacted), since keys are session secrets.
func corrupt(path, detail string) error {
	return fmt.Errorf("%w: %s (%s). Stop qrsync, move the file aside (rename it) and start again: "+
		"a new, empty catalog is made in its place. Open sessions are lost, but no photo is: "+
		"photos are not kept in this file but in the blob store", ErrCorrupt, path, detail)
}

// protect runs f and turns a panic into an ErrCorrupt error. bbolt panics
// on pages it cannot make sense of, and reading a page past the end of a
// truncated file faults on the memory map; either must stop the call with
// a message, not the server with a stack trace. bbolt's Update and View
// roll their transaction back as the panic passes, so the database stays
// usable for whatever still works.
func protect(path string, f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(path, fmt.Sprintf("bbolt failed: %v", r))
		}
	}()
	return f()
}

// openError explains an error of bolt.Open.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, ErrCorrupt):
		return err
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch):
		return corrupt(path, err.Error())
	}
	return fmt.Errorf("boltdb: open %s: %w", path, nospace.Wrap(err))
}

// view is db.View under protect.
func (c *Catalog) view(fn func(*bolt.Tx) error) error {
	return protect(c.path, func() error { return c.db.View(fn) })
}

// update is db.Update under protect. A full disk is
// storage.ErrInsufficientStorage; after each change the catalog keeps its
// space for removals topped up (see keepReserve).
func (c *Catalog) update(fn func(*bolt.Tx) error) error {
	var size int64
	err := protect(c.path, func() error {
		return c.db.Update(func(tx *bolt.Tx) error {
			size = tx.Size()
			return fn(tx)
		})
	})
	if err != nil {
		return nospace.Wrap(err)
	}
	c.keepReserve(size)
	return nil
}

// grow is update for a change that makes the catalog bigger (a session,
// an image). On a full disk it is refused while the space kept for
// removals is short, so that it cannot use up the room DeleteSession and
// RemoveImage need to free the disk.
func (c *Catalog) grow(fn func(*bolt.Tx) error) error {
	if c.reserveShort.Load() && !c.keepReserve(c.size.Load()) {
		return fmt.Errorf("boltdb: %w: the disk is full, and the catalog keeps its last space for removing sessions and images", storage.ErrInsufficientStorage)
	}
	return c.update(fn)
}

// reserveBytes is how much allocated file the catalog keeps beyond what
// bbolt uses. bbolt writes every change to fresh pages (copy on write)
// and extends its file sparsely, so on a full disk even a deletion can
// fail for want of a page; pages that are allocated already can always be
// written. A deletion needs a handful of 4 KiB pages: 1 MiB is room for
// many, at a cost nobody notices.
const reserveBytes = 1 << 20

// keepReserve makes sure the file has reserveBytes allocated beyond size,
// bbolt's high-water mark, allocating them (a single fallocate) once
// bbolt has used half. It reports whether the reserve is whole; on a full
// disk it is not, until space is freed. Where the file system or the
// platform cannot preallocate, it gives up for good and relies on the
// slack bbolt keeps in its file anyway.
func (c *Catalog) keepReserve(size int64) bool {
	c.size.Store(size)
	c.resMu.Lock()
	defer c.resMu.Unlock()
	if c.resFile == nil {
		return true
	}
	if c.allocated-size >= reserveBytes/2 {
		return true
	}
	want := size + reserveBytes
	if err := preallocate(c.resFile, want); err != nil {
		if nospace.Is(err) {
			c.reserveShort.Store(c.allocated-size < reserveBytes/4)
			return false
		}
		_ = c.resFile.Close() // unsupported here: stop trying
		c.resFile = nil
		c.reserveShort.Store(false)
		return true
	}
	c.allocated = want
	c.reserveShort.Store(false)
	return true
}

// openReserve opens the second handle keepReserve allocates through
// (allocation belongs to the file, not the handle, and bbolt keeps its
// own to itself), and allocates the reserve for the first time.
func (c *Catalog) openReserve(size int64) {
	if !canPreallocate {
		return
	}
	f, err := os.OpenFile(c.path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	c.resFile = f
	c.keepReserve(size)
}

// redacted prints no key or value in the messages of bbolt's consistency
// check: keys are session ids and upload tokens, which are secrets.
type redacted struct{}

func (redacted) KeyToString(k []byte) string   { return fmt.Sprintf("<%d-byte key>", len(k)) }
func (redacted) ValueToString(v []byte) string { return fmt.Sprintf("<%d-byte value>", len(v)) }
