// Package storage holds what the server and its backends agree on: the
// records a catalog keeps (sessions, images, the events of a session's
// log), the blob store's interface, and the errors every backend returns.
// The catalog's interfaces are declared where they are used, each as small
// as its user needs (the server's sessions, gallery and event log; the
// conformance suite's Catalog, which is all of them). Backends live in
// sub-packages, one each, and all of them pass the suites in storagetest.
//
// The event log is the single source of truth for the stream: a subscriber
// reads the log after the last id it sent and then waits for it to grow. No
// event is ever queued in memory for a particular subscriber, so a slow
// viewer costs nothing but its own socket, and replay after a reconnect is
// the same code path as live delivery.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors every backend returns (wrapped or bare) so that callers can decide
// with errors.Is, without knowing the backend.
var (
	// ErrNotFound: no such session, token, image or blob.
	ErrNotFound = errors.New("not found")
	// ErrExpired: the session existed but has ended.
	ErrExpired = errors.New("session expired")
	// ErrQuota: the session is full (image count or bytes).
	ErrQuota = errors.New("session quota exceeded")
	// ErrDuplicate: the session already holds an image with these bytes.
	ErrDuplicate = errors.New("duplicate image")
	// ErrEventGone: an event id is unknown or too old to replay from; the
	// subscriber must start again from a snapshot.
	ErrEventGone = errors.New("event id unknown or too old")
	// ErrInsufficientStorage: the disk budget is spent, or the disk (or
	// the user's quota on it) is full. Nothing partial was stored, and the
	// same write may succeed once space is freed.
	ErrInsufficientStorage = errors.New("insufficient storage")
	// ErrUnavailable: a networked backend did not answer (refused, cut
	// off, timed out). Nothing was changed that the caller can see, and
	// the same call may succeed once the backend is back; the server
	// answers 503.
	ErrUnavailable = errors.New("backend unavailable")
	// ErrInvalidKey: a blob key outside the rule of CheckKey.
	ErrInvalidKey = errors.New("invalid blob key")
)

// CheckKey reports whether key is what BlobStore's keys are: segments of
// [A-Za-z0-9._-] joined by '/', none empty or starting with '.'. The
// server makes every key, so a store's check is defence in depth (no key
// can name a file outside a store's directory), and with the rule here
// every store takes the same keys. The error wraps ErrInvalidKey with the
// reason; a store adds its own limits on length.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		var reason string
		switch {
		case seg == "":
			reason = "empty segment (leading, trailing or double '/')"
		case seg[0] == '.':
			reason = "segment starts with '.'"
		default:
			if i := strings.IndexFunc(seg, func(r rune) bool { return !IsKeyChar(r) }); i >= 0 {
				reason = fmt.Sprintf("character %q not allowed", seg[i])
			}
		}
		if reason != "" {
			return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
		}
	}
	return nil
}

// IsKeyChar reports whether r may appear in a segment of a key.
func IsKeyChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		r == '.' || r == '_' || r == '-'
}

// Blob is a stored object opened for reading: a stream and its length,
// which is all the server needs to send it (it serves no ranges), and all
// an object store gives without another round trip.
type Blob interface {
	io.ReadCloser
	// Size is the length of the blob in bytes.
	Size() int64
}

// BlobWriter receives a blob's bytes as they arrive. Nothing is visible
// under the key until Commit returns nil; Abort (safe after Commit, and
// more than once) discards what was written.
type BlobWriter interface {
	io.Writer
	Commit() error
	Abort() error
}

// BlobInfo describes a committed blob, as List returns it.
type BlobInfo struct {
	// Key is the blob's key, as given to Create.
	Key string
	// Size is the blob's length in bytes.
	Size int64
	// ModTime is when the blob was written, by the backend's clock (a
	// file's modification time, an object's Last-Modified); never later
	// than its commit.
	ModTime time.Time
}

// BlobStore keeps originals and thumbnails under server-made keys (see
// CheckKey). A key never contains anything a client chose.
type BlobStore interface {
	// Create starts a blob at key. Writing streams, so memory does not grow
	// with the blob's size.
	Create(ctx context.Context, key string) (BlobWriter, error)
	// Open returns the blob at key, or ErrNotFound.
	Open(ctx context.Context, key string) (Blob, error)
	// Delete removes the blobs at keys; missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// List returns the committed blobs whose keys start with a plain
	// string prefix (as in S3), sorted by key; never a blob still being
	// written.
	List(ctx context.Context, prefix string) ([]BlobInfo, error)
}

// Session is the catalog's record of a session. UploadToken is the second
// secret, the one in the QR code, which can only add images. The catalog
// never reads a clock: the times are the server's, and the server judges
// them (one clock for every instance, whatever the backend's).
type Session struct {
	ID          string    `json:"id"`
	UploadToken string    `json:"uploadToken"`
	CreatedAt   time.Time `json:"createdAt"`
	// UploadExpiresAt is when UploadToken stops taking photos; the
	// session lives on until ExpiresAt.
	UploadExpiresAt time.Time `json:"uploadExpiresAt"`
	// ExpiresAt is when the session ends and its photos go. It moves
	// forward with activity (ExtendSession).
	ExpiresAt time.Time `json:"expiresAt"`
	// Images and Bytes count what the session holds, for quotas.
	Images int   `json:"images"`
	Bytes  int64 `json:"bytes"`
}

// Image is the catalog's record of a stored image: what the server needs
// to find, describe and deduplicate it. It is not the API's image: the
// server makes that (with its URLs) from this, so that no backend knows
// the wire format.
type Image struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"createdAt"`
	// Upload is the opaque id of the upload that brought the image.
	Upload string `json:"upload,omitempty"`
}

// The types of the events in a session's log.
const (
	// EventImage: an image was added (Event.Image).
	EventImage = "image"
	// EventRemoved: an image was removed (Event.ImageID).
	EventRemoved = "removed"
	// EventSession: the session's own fields changed (RenewUploadLink,
	// ExtendSession); Event.Session is the record after the change.
	EventSession = "session"
	// EventEnded: the session is over (EndSession, DeleteSession). Read
	// never returns it (it answers ErrExpired instead); it is in the log
	// to wake readers on every instance, not only in the process that
	// ended the session.
	EventEnded = "ended"
)

// Quota bounds a session. Zero means no limit.
type Quota struct {
	MaxImages int
	MaxBytes  int64
}

// Event is one entry of a session's event log. ID is opaque ASCII
// (letters, digits, '-', '_', '.'), increasing within the session and
// meaningful to every instance that shares the backend. Which of the other
// fields is set depends on Type.
type Event struct {
	ID   string
	Type string
	// Image is the image an EventImage added.
	Image Image
	// ImageID is the image an EventRemoved removed.
	ImageID string
	// Session is the record after an EventSession.
	Session Session
}
