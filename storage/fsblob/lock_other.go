//go:build !unix && !windows

package fsblob

import "os"

// lockFile does nothing where there is no file locking (js, wasip1, plan9):
// the server does not run there.
func lockFile(*os.File) error { return nil }
