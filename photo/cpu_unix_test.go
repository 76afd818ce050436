//go:build unix

package photo

import (
	"syscall"
	"time"
)

// cpuTime is the CPU this process has used, user and system, for the
// benchmarks' cpu-ms/op (a decoder may use more than one core).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
