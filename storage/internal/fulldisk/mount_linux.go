//go:build linux

package fulldisk

import (
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Mount mounts a tmpfs of size bytes, with at most inodes files and
// directories if inodes > 0, on a new directory under t.TempDir(), and
// unmounts it when the test ends (after the cleanups registered later,
// which close what the test opened in it). It fails where mounting is not
// allowed (not root, a container without CAP_SYS_ADMIN); the caller then
// falls back to something weaker and says so.
func Mount(t testing.TB, size int64, inodes int) (string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := unix.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	opts := fmt.Sprintf("size=%d,mode=0700", size)
	if inodes > 0 {
		opts += fmt.Sprintf(",nr_inodes=%d", inodes)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return "", fmt.Errorf("fulldisk: mount tmpfs: %w", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			// Something is still open in it: detach, so the test's
			// temporary directory can go and the memory is freed once
			// the last file is closed.
			t.Logf("fulldisk: unmount %s: %v (detaching)", dir, err)
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir, nil
}
