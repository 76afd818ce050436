package photo

import "fmt"

// detailError is what Sniff and Process return: one of the sentinels, a
// detail for the person reading it, and optionally the underlying cause
// (also reachable with errors.Is/As).
type detailError struct {
	kind   error
	detail string
	cause  error
}

func (e *detailError) Error() string {
	if e.detail == "" {
		return e.kind.Error()
	}
	return e.kind.Error() + " (" + e.detail + ")"
}

func (e *detailError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// errorf wraps a sentinel with a formatted detail.
func errorf(kind error, format string, args ...any) error {
	return &detailError{kind: kind, detail: fmt.Sprintf(format, args...)}
}

// wrapCause wraps a sentinel around a cause, whose text becomes the detail.
func wrapCause(kind, cause error) error {
	return &detailError{kind: kind, detail: cause.Error(), cause: cause}
}
