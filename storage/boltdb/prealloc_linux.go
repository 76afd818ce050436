//go:build linux

package boltdb

import (
	"os"

	"golang.org/x/sys/unix"
)

// canPreallocate says whether preallocate can work on this platform.
const canPreallocate = true

// preallocate allocates the blocks of f from its start to size, extending
// it if it is shorter; blocks already written keep their bytes.
func preallocate(f *os.File, size int64) error {
	return unix.Fallocate(int(f.Fd()), 0, 0, size)
}
