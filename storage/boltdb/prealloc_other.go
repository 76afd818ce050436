//go:build !linux

package boltdb

import (
	"errors"
	"os"
)

// canPreallocate says whether preallocate can work on this platform: only
// Linux has fallocate; elsewhere the catalog relies on the slack bbolt
// keeps in its file.
const canPreallocate = false

func preallocate(*os.File, int64) error { return errors.ErrUnsupported }
