//go:build windows

package nospace

import "golang.org/x/sys/windows"

// errnos are the errors a full disk or quota gives.
var errnos = []error{windows.ERROR_DISK_FULL, windows.ERROR_HANDLE_DISK_FULL, windows.ERROR_DISK_QUOTA_EXCEEDED}
