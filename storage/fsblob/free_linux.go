//go:build linux

package fsblob

import (
	"os"

	"golang.org/x/sys/unix"
)

// freeSpace returns how to measure the bytes an unprivileged user may
// still write on the file system that holds f: fstatfs on the store's own
// lock file, so it measures the right file system whatever the working
// directory or mounts do later.
func freeSpace(f *os.File, _ string) func() (int64, error) {
	return func() (int64, error) {
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
			return 0, err
		}
		unit := int64(st.Frsize) // the unit of the block counts
		if unit == 0 {
			unit = int64(st.Bsize)
		}
		return int64(st.Bavail) * unit, nil
	}
}
