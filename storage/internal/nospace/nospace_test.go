//go:build unix

package nospace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"qrsync/storage"
)

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		full bool
	}{
		{"ENOSPC from write", &fs.PathError{Op: "write", Path: "f", Err: syscall.ENOSPC}, true},
		{"EDQUOT from fsync", &fs.PathError{Op: "sync", Path: "f", Err: syscall.EDQUOT}, true},
		{"ENOSPC from rename", &os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.ENOSPC}, true},
		{"wrapped again", fmt.Errorf("commit: %w", &fs.PathError{Op: "mkdir", Path: "d", Err: syscall.ENOSPC}), true},
		// bbolt formats some errors with %s, so only the text is left.
		{"flattened", fmt.Errorf("file resize error: %s", &fs.PathError{Op: "truncate", Path: "db", Err: syscall.ENOSPC}), true},
		{"other errno", &fs.PathError{Op: "write", Path: "f", Err: syscall.EIO}, false},
		{"plain", errors.New("boom"), false},
	} {
		got := Wrap(tc.err)
		if Is(tc.err) != tc.full || errors.Is(got, storage.ErrInsufficientStorage) != tc.full {
			t.Errorf("%s: Is = %v, Wrap = %v; want full %v", tc.name, Is(tc.err), got, tc.full)
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("%s: Wrap lost the original error", tc.name)
		}
		if Wrap(got) != got {
			t.Errorf("%s: wrapping twice changed the error", tc.name)
		}
	}
	if Wrap(nil) != nil || Is(nil) {
		t.Error("nil is not a full disk")
	}
}
