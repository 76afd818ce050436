//go:build unix

package netguard

import "golang.org/x/sys/unix"

// defaultMaxConns derives MaxConns from the descriptor soft limit: past it
// accept(2) fails with EMFILE, and so does every open(2) the server needs
// for its database and photos. (Go raises the soft limit to the hard one
// at startup, so this is usually the hard limit.)
func defaultMaxConns() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return DefaultMaxConns
	}
	return maxConnsFor(uint64(rl.Cur)) //nolint:unconvert // int64 on some BSDs
}
