// Package nospace recognises the operating system's "disk full" errors
// (ENOSPC, EDQUOT and their Windows counterparts) so that the embedded
// backends can return them as storage.ErrInsufficientStorage, which the
// server answers with 507 instead of 500.
package nospace

import (
	"errors"
	"fmt"
	"strings"

	"qrsync/storage"
)

// Is reports whether err says the disk, or the user's quota on it, is
// full. It also recognises the message of such an error flattened into
// text, as bbolt does with some of its errors (fmt "%s", not "%w").
func Is(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range errnos {
		if errors.Is(err, e) {
			return true
		}
	}
	msg := err.Error()
	for _, e := range errnos {
		if strings.Contains(msg, e.Error()) {
			return true
		}
	}
	return false
}

// Wrap returns err wrapped so that errors.Is finds both
// storage.ErrInsufficientStorage and the original error, if err is a
// disk-full error; otherwise (and if it already is wrapped) err itself.
func Wrap(err error) error {
	if !Is(err) || errors.Is(err, storage.ErrInsufficientStorage) {
		return err
	}
	return fmt.Errorf("%w: %w", storage.ErrInsufficientStorage, err)
}
