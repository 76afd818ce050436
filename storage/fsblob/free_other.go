//go:build !linux && !darwin && !freebsd && !dragonfly && !windows

package fsblob

import "os"

// freeSpace is nil where the store cannot measure free space (the other
// BSDs, Solaris, AIX, js, wasip1, plan9): WithMinFree is not enforced
// there, and only the file system's own "no space" error stops a write.
func freeSpace(*os.File, string) func() (int64, error) { return nil }
