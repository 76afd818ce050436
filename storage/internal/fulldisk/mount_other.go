//go:build !linux

package fulldisk

import "testing"

// Mount is Linux only; elsewhere it returns ErrUnsupported and the caller
// falls back to something weaker and says so.
func Mount(t testing.TB, size int64, inodes int) (string, error) { return "", ErrUnsupported }
