//go:build !unix

package netguard

// defaultMaxConns is DefaultMaxConns where there is no RLIMIT_NOFILE.
func defaultMaxConns() int { return DefaultMaxConns }
