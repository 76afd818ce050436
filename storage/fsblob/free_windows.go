//go:build windows

package fsblob

import (
	"os"

	"golang.org/x/sys/windows"
)

// freeSpace returns how to measure the bytes the caller may still write on
// the volume that holds dir, quotas included.
func freeSpace(_ *os.File, dir string) func() (int64, error) {
	return func() (int64, error) {
		p, err := windows.UTF16PtrFromString(dir)
		if err != nil {
			return 0, err
		}
		var avail, total, free uint64
		if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
			return 0, err
		}
		return int64(avail), nil
	}
}
