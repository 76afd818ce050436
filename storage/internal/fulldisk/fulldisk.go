// Package fulldisk gives the tests of the embedded backends a real full
// disk: a small tmpfs mounted for one test, and a way to fill what is left
// of it. Faking ENOSPC would only test the fake; the kernel's answer is
// what the backends must handle.
package fulldisk

import (
	"errors"
	"os"
	"testing"

	"qrsync/storage/internal/nospace"
)

// Fill writes the file at path until the file system refuses another
// byte, so that whatever the test does next runs on a full disk. It fails
// the test if the refusal is anything but "no space".
func Fill(t testing.TB, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatalf("fulldisk: %v", err)
	}
	defer f.Close()
	// Big chunks first for speed, then smaller ones for the last pages.
	for _, chunk := range []int{1 << 20, 64 << 10, 4 << 10, 512, 1} {
		buf := make([]byte, chunk)
		for {
			if _, err = f.Write(buf); err != nil {
				break
			}
		}
		if !nospace.Is(err) {
			t.Fatalf("fulldisk: filling %s: %v, want no space left", path, err)
		}
	}
}

// ErrUnsupported is returned by Mount where this platform cannot mount a
// tmpfs at all.
var ErrUnsupported = errors.New("fulldisk: no tmpfs on this platform")
