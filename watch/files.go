package watch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"qrsync/photoname"
)

// maxCandidates bounds the search for a free name ("x (2).jpg", …).
const maxCandidates = 10000

// localError marks a failure of the local file system (a full disk, a
// folder that is not writable): retrying the download would not help, so
// the watcher stops with it.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

func local(err error) error {
	if err == nil {
		return nil
	}
	var le *localError
	if errors.As(err, &le) {
		return err
	}
	return &localError{err}
}

// localWriter tags the errors of a file's writes as local ones, so that a
// failed copy tells a full disk from a cut connection.
type localWriter struct{ w io.Writer }

func (w localWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	return n, local(err)
}

// writeFileAtomic writes data to dir/name through a synced temporary file
// renamed into place (replacing any old file).
func writeFileAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir makes the renames in dir durable. Windows cannot sync a folder
// (and needs no such step), so there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeLeftovers deletes the temporary files a crashed watcher left in dir.
func removeLeftovers(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, tempPattern))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// hashFile returns the hex SHA-256 of a regular file's bytes.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sameFile reports whether path is a regular file of the given size and
// SHA-256; the size is checked first, so most strangers cost one stat.
func sameFile(path string, size int64, sum string) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || sum == "" || (size > 0 && fi.Size() != size) {
		return false
	}
	got, err := hashFile(path)
	return err == nil && got == sum
}

// exists reports whether path names anything (a broken link counts).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// placeNoClobber moves the finished temporary file tmp to dir/name without
// ever replacing an existing file: a hard link fails if the name is taken
// (even if it was taken a moment after we looked), and only where links
// are not supported (FAT, some network shares) does it fall back to a
// rename after a check. It reports whether the name was free.
func placeNoClobber(tmp, dir, name string) (bool, error) {
	dst := filepath.Join(dir, name)
	err := os.Link(tmp, dst)
	if err == nil {
		return true, os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if exists(dst) {
		return false, nil
	}
	if err := os.Rename(tmp, dst); err != nil {
		return false, err
	}
	return true, nil
}

// setTimes gives a downloaded file the time the photo arrived on the
// server, so that sorting the folder by date follows the session.
func setTimes(path string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if err := os.Chtimes(path, t, t); err != nil {
		return fmt.Errorf("set times of %s: %w", filepath.Base(path), err)
	}
	return nil
}

// SaveFile writes the bytes of r into dir as a new file named after the
// photo's name, made safe (photoname.Safe) and unique ("x (2).jpg"), as
// the watcher names its downloads: through a hidden temporary file that is
// synced, given modTime, and then linked into place without ever
// replacing a file. It creates dir if needed and returns the name used.
// `qrsync --save-to` writes through it, so a photo saved on the server's
// machine is named as it would be in a watched folder.
func SaveFile(dir, name, contentType string, modTime time.Time, r io.Reader) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return "", err
	}
	tmp, placed := f.Name(), false
	defer func() {
		if !placed {
			os.Remove(tmp)
		}
	}()
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = setTimes(tmp, modTime)
	}
	if err != nil {
		return "", err
	}
	safe := photoname.Safe(name, contentType)
	for i := 1; i <= maxCandidates; i++ {
		cand := photoname.Numbered(safe, i)
		ok, err := placeNoClobber(tmp, dir, cand)
		if err != nil {
			return "", err
		}
		if ok {
			placed = true
			return cand, syncDir(dir)
		}
	}
	return "", fmt.Errorf("no free name like %s in %s", safe, dir)
}
