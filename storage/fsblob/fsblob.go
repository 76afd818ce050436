package fsblob

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"qrsync/storage"
	"qrsync/storage/internal/nospace"
)

const (
	// DirPerm is the mode of directories the store creates: blobs are
	// private photos, so other users get nothing.
	DirPerm = 0o750
	// FilePerm is the mode of blob files, private for the same reason.
	FilePerm = 0o640
	// MaxKeyLen bounds a whole key: far above what the server makes, well
	// inside PATH_MAX.
	MaxKeyLen = 1024
	// MaxSegmentLen bounds one segment of a key, inside the 255-byte name
	// limit of common file systems with room to spare.
	MaxSegmentLen = 200

	// tempPrefix starts the name of every temporary file. Keys cannot have a
	// segment starting with '.', so no blob is ever named like this.
	tempPrefix = ".tmp-"
	// lockName is the lock file; a dot name, so it is never a key either.
	lockName = ".lock"
	// writeBuffer batches small writes into few syscalls; large writes pass
	// straight through bufio without a copy.
	writeBuffer = 64 << 10
	// createRetries bounds how often Create retries when a concurrent Delete
	// removed the (empty) directory between making it and creating the
	// temporary file in it.
	createRetries = 5
)

// ErrInvalidKey is returned (wrapped, with the reason) for a key outside
// storage.CheckKey's rule or this store's limits on length; it is
// storage.ErrInvalidKey. A key must never name a file outside the
// directory.
var ErrInvalidKey = storage.ErrInvalidKey

// errLocked is what lockFile returns when another store holds the lock.
var errLocked = errors.New("locked")

// Store is a storage.BlobStore on a directory. It is
// safe for concurrent use.
type Store struct {
	root *os.Root
	lock *os.File // holds the directory lock until Close
	budget
	// sizeMu makes looking at a blob's size and renaming or removing it
	// one step, so that the bytes counted as used stay exact when a blob
	// is replaced or deleted while another call does the same.
	sizeMu sync.Mutex
	// synced remembers directories whose own entry (and their parents')
	// has been fsynced since the store opened or since a Delete may have
	// removed them, so that Commit syncs the ancestors of a new directory
	// once instead of on every blob.
	synced sync.Map // dir (slash path) → struct{}
}

// Store provides what the server needs.
var _ storage.BlobStore = (*Store)(nil)

// New opens (creating it if needed) the directory dir as a blob store and
// removes temporary files a crash left behind; they were never visible as
// blobs, so removing them loses nothing. The same walk counts the bytes
// the blobs hold, for the budget the options set.
func New(dir string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if dir == "" {
		return nil, errors.New("fsblob: empty directory name")
	}
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return nil, fmt.Errorf("fsblob: create directory: %w", nospace.Wrap(err))
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("fsblob: %s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: open directory: %w", err)
	}
	lock, err := root.OpenFile(lockName, os.O_RDWR|os.O_CREATE, FilePerm)
	if err == nil {
		err = lockFile(lock)
		if err != nil {
			_ = lock.Close()
		}
	}
	if err != nil {
		_ = root.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("fsblob: %s is in use by another blob store (another qrsync on the same data directory?)", dir)
		}
		return nil, fmt.Errorf("fsblob: lock %s: %w", dir, err)
	}
	s := &Store{root: root, lock: lock}
	s.maxBytes, s.minFree = o.maxBytes, o.minFree
	if s.minFree > 0 {
		s.free = freeSpace(lock, dir)
	}
	if err := s.scan(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the directory lock and handle. Writers and blobs already
// open keep working; the store itself must not be used afterwards.
func (s *Store) Close() error {
	err := s.lock.Close() // releases the lock
	if rerr := s.root.Close(); err == nil {
		err = rerr
	}
	return err
}

// scan deletes every temporary file under the root and counts the bytes
// of the blobs, the files List would list. Dot directories are nothing
// the store made, so it leaves them alone.
func (s *Store) scan() error {
	var emptied []string
	err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case p == ".":
		case d.IsDir() && strings.HasPrefix(d.Name(), "."):
			return fs.SkipDir
		case !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix):
			if err := s.root.Remove(filepath.FromSlash(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			emptied = append(emptied, path.Dir(p))
		case d.Type().IsRegular() && !strings.HasPrefix(d.Name(), "."):
			fi, err := d.Info()
			if err != nil {
				return err
			}
			s.used += fi.Size()
		}
		return nil
	})
	// A crash during a session's first upload leaves its directory empty
	// once the temporary file is gone.
	for _, dir := range emptied {
		s.pruneDirs(dir)
	}
	if err != nil {
		return fmt.Errorf("fsblob: remove leftover temporary files and count blobs: %w", err)
	}
	return nil
}

// checkKey is storage.CheckKey with this store's limits on length.
func checkKey(key string) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyLen)
	}
	if err := storage.CheckKey(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if len(seg) > MaxSegmentLen {
			return fmt.Errorf("%w %q: segment longer than %d bytes", ErrInvalidKey, key, MaxSegmentLen)
		}
	}
	return nil
}

// osPath turns a validated slash key into a name for the os.Root methods.
func osPath(key string) string { return filepath.FromSlash(key) }

// Create starts a blob at key. The bytes go to a temporary file next to the
// final path; nothing is visible under key until Commit returns nil. It
// fails with storage.ErrInsufficientStorage if the budget is spent or the
// disk is full.
func (s *Store) Create(ctx context.Context, key string) (storage.BlobWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	w := &writer{s: s, key: key}
	if err := s.admitCreate(w); err != nil {
		return nil, fmt.Errorf("fsblob: create %s: %w", key, err)
	}
	dir := path.Dir(key)
	for attempt := 0; ; attempt++ {
		if dir != "." {
			if err := s.root.MkdirAll(osPath(dir), DirPerm); err != nil {
				s.release(w, false, 0)
				s.pruneDirs(dir) // what MkdirAll made before it failed
				return nil, fmt.Errorf("fsblob: create %s: %w", key, nospace.Wrap(err))
			}
		}
		tmp := path.Join(dir, tempPrefix+randomHex())
		f, err := s.root.OpenFile(osPath(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, FilePerm)
		if err == nil {
			w.tmp, w.f, w.bw = tmp, f, bufio.NewWriterSize(f, writeBuffer)
			return w, nil
		}
		// ErrNotExist: a concurrent Delete pruned the empty directory between
		// MkdirAll and OpenFile. ErrExist: a 64-bit random name collided.
		// Both are worth another try; anything else is not.
		if attempt < createRetries && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist)) {
			continue
		}
		s.release(w, false, 0)
		s.pruneDirs(dir) // a failed Create leaves no empty directory either
		return nil, fmt.Errorf("fsblob: create %s: %w", key, nospace.Wrap(err))
	}
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// Open returns the committed blob at key, or an error wrapping
// storage.ErrNotFound.
func (s *Store) Open(ctx context.Context, key string) (storage.Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f, err := s.root.Open(osPath(key))
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("fsblob: %s: %w", key, storage.ErrNotFound)
		}
		return nil, fmt.Errorf("fsblob: open %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("fsblob: stat %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		// A key that names a directory (a prefix of other keys) is no blob.
		_ = f.Close()
		return nil, fmt.Errorf("fsblob: %s: %w", key, storage.ErrNotFound)
	}
	return &Blob{File: f, size: fi.Size()}, nil
}

// isNotExist also treats ENOTDIR (a path component is a file) as missing.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Delete removes the blobs at keys; missing keys are fine. Directories left
// empty are removed up to (not including) the store's root, so deleting a
// session's last blob leaves no empty session directory behind. An invalid
// key fails the call before anything is removed. It writes nothing, so it
// works on a full disk: that is how space is freed.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, key := range keys {
		if err := checkKey(key); err != nil {
			return err
		}
	}
	for _, key := range keys {
		removed, err := s.removeBlob(key)
		if err != nil {
			return fmt.Errorf("fsblob: delete %s: %w", key, err)
		}
		if removed {
			s.pruneDirs(path.Dir(key))
		}
	}
	return nil
}

// removeBlob removes the blob at key, if there is one, and takes its bytes
// off the used count.
func (s *Store) removeBlob(key string) (bool, error) {
	s.sizeMu.Lock()
	defer s.sizeMu.Unlock()
	fi, err := s.root.Lstat(osPath(key))
	if err != nil {
		if isNotExist(err) {
			return false, nil
		}
		return false, err
	}
	if fi.IsDir() {
		return false, nil // a prefix of other keys, not a blob
	}
	if err := s.root.Remove(osPath(key)); err != nil {
		if isNotExist(err) {
			return false, nil
		}
		return false, err
	}
	if fi.Mode().IsRegular() {
		s.addUsed(-fi.Size())
	}
	return true, nil
}

// blobSize is the size of the blob at key, 0 if there is none.
func (s *Store) blobSize(key string) int64 {
	if fi, err := s.root.Lstat(osPath(key)); err == nil && fi.Mode().IsRegular() {
		return fi.Size()
	}
	return 0
}

// pruneDirs removes dir and its parents while they are empty. Removing a
// directory that is not empty fails, which is the signal to stop; so a
// directory holding an unfinished upload's temporary file always stays.
func (s *Store) pruneDirs(dir string) {
	for dir != "." && dir != "/" {
		// Forget first: if a Create recreates the directory right after the
		// removal, its Commit must sync the new directory's parents.
		s.synced.Delete(dir)
		if err := s.root.Remove(osPath(dir)); err != nil {
			return
		}
		dir = path.Dir(dir)
	}
}

// List returns the committed blobs whose keys start with prefix (a plain
// string prefix, as in S3), sorted by key, with each file's size and
// modification time. Temporary files are never listed.
func (s *Store) List(ctx context.Context, prefix string) ([]storage.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
		if err := checkKey(start); err != nil {
			return nil, fmt.Errorf("fsblob: list: prefix: %w", err)
		}
	}
	if strings.ContainsFunc(prefix, func(r rune) bool { return r != '/' && !storage.IsKeyChar(r) }) {
		return nil, fmt.Errorf("fsblob: list: %w: prefix %q has a character outside [A-Za-z0-9._-/]", ErrInvalidKey, prefix)
	}
	blobs := []storage.BlobInfo{}
	err := fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && isNotExist(err) {
				return fs.SkipAll // nothing under this prefix
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == start {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			// Temporary files; a dot directory is nothing the store made.
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasPrefix(p, prefix) {
			fi, err := d.Info()
			if err != nil {
				if isNotExist(err) {
					return nil // deleted since the directory was read
				}
				return err
			}
			blobs = append(blobs, storage.BlobInfo{Key: p, Size: fi.Size(), ModTime: fi.ModTime()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fsblob: list: %w", err)
	}
	// WalkDir orders by name within a directory, which is not the order of
	// whole keys ("a/b" comes before "a.c" there, after it here).
	slices.SortFunc(blobs, func(a, b storage.BlobInfo) int { return strings.Compare(a.Key, b.Key) })
	return blobs, nil
}

// Blob is an open blob: the file itself, so io.Copy can use sendfile and
// http.ServeContent can seek, plus its size taken when it was opened.
type Blob struct {
	*os.File
	size int64
}

// Size is the length of the blob in bytes.
func (b *Blob) Size() int64 { return b.size }

// writer is a storage.BlobWriter on a temporary file.
type writer struct {
	s   *Store
	key string
	tmp string

	mu    sync.Mutex // Abort may come from a cleanup goroutine
	f     *os.File
	bw    *bufio.Writer
	state writerState
	err   error // the first Write error: the blob has a gap, so it can never be committed

	written  int64 // bytes admitted into the budget (see Store.admit)
	reserved int64 // free space reserved and not yet written
}

type writerState int

const (
	open writerState = iota
	committed
	aborted
)

var (
	errCommitted = errors.New("fsblob: blob already committed")
	errAborted   = errors.New("fsblob: blob aborted")
)

func (w *writer) stateErr() error {
	switch w.state {
	case committed:
		return errCommitted
	case aborted:
		return errAborted
	}
	return nil
}

// Write appends p to the temporary file. It fails with
// storage.ErrInsufficientStorage if p would take the store past its budget
// or the disk below its free floor, or the disk is full. After a failed
// Write the writer only aborts: Commit fails too.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.stateErr(); err != nil {
		return 0, err
	}
	if w.err != nil {
		return 0, w.err
	}
	if err := w.s.admit(w, int64(len(p))); err != nil {
		w.err = fmt.Errorf("fsblob: write %s: %w", w.key, err)
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = fmt.Errorf("fsblob: write %s: %w", w.key, nospace.Wrap(err))
		return n, w.err
	}
	return n, nil
}

// Commit makes the blob durable and visible: flush, fsync the file, rename
// it over the key, fsync the directory. Committing twice, or after Abort,
// is an error. If Commit fails the blob is not stored.
func (w *writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.stateErr(); err != nil {
		return err
	}
	if w.err != nil {
		w.discard()
		return w.err
	}
	if err := w.commit(); err != nil {
		w.discard()
		return fmt.Errorf("fsblob: commit %s: %w", w.key, nospace.Wrap(err))
	}
	w.state = committed
	return nil
}

func (w *writer) commit() error {
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return err
	}
	s := w.s
	s.sizeMu.Lock()
	replaced := s.blobSize(w.key)
	err = s.root.Rename(osPath(w.tmp), osPath(w.key))
	if err == nil {
		s.release(w, true, replaced) // what w wrote is the store's now
	}
	s.sizeMu.Unlock()
	if err != nil {
		return err
	}
	if err := s.syncDirs(path.Dir(w.key)); err != nil {
		// The rename may not survive a crash, and Commit is about to report
		// failure: take the blob back so nothing is visible that the caller
		// believes was not stored.
		if removed, _ := s.removeBlob(w.key); removed {
			s.pruneDirs(path.Dir(w.key))
		}
		return err
	}
	return nil
}

// discard closes and removes the temporary file, and the directories
// Create made for it if nothing else is in them, and gives back what the
// writer held of the budget; it is idempotent.
func (w *writer) discard() {
	if w.state == aborted {
		return
	}
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
	if err := w.s.root.Remove(osPath(w.tmp)); err == nil {
		w.s.pruneDirs(path.Dir(w.tmp))
	}
	w.s.release(w, false, 0)
	w.state = aborted
}

// Abort discards what was written. It is a no-op after Commit or Abort.
func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != open {
		return nil
	}
	w.discard()
	return nil
}

// syncDirs fsyncs dir so a rename into it is durable, and, the first time
// dir is seen, every parent up to the root too, because dir itself may have
// just been created and its own entry lives in its parent.
func (s *Store) syncDirs(dir string) error {
	if err := s.syncDir(dir); err != nil {
		return err
	}
	if _, ok := s.synced.Load(dir); ok {
		return nil
	}
	for d := dir; d != "." && d != "/"; {
		d = path.Dir(d)
		if err := s.syncDir(d); err != nil {
			return err
		}
	}
	s.synced.Store(dir, struct{}{})
	return nil
}

func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(osPath(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
