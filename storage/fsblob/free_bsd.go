//go:build darwin || freebsd || dragonfly

package fsblob

import (
	"os"

	"golang.org/x/sys/unix"
)

// freeSpace returns how to measure the bytes an unprivileged user may
// still write on the file system that holds f (fstatfs on the store's
// lock file, so a later chdir or mount changes nothing).
func freeSpace(f *os.File, _ string) func() (int64, error) {
	return func() (int64, error) {
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
			return 0, err
		}
		return int64(st.Bavail) * int64(st.Bsize), nil
	}
}
