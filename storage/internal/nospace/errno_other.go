//go:build !unix && !windows && !plan9

package nospace

import "syscall"

// errnos are the errors a full disk gives (js, wasip1: the server does not
// normally run there).
var errnos = []error{syscall.ENOSPC}
