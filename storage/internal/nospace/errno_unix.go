//go:build unix

package nospace

import "syscall"

// errnos are the errors a full disk or quota gives.
var errnos = []error{syscall.ENOSPC, syscall.EDQUOT}
