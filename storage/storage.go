// Package storage defines what the server needs from its backends: a blob
// store for originals and thumbnails, and a catalog that keeps sessions,
// their images and a per-session event log. Backends live in sub-packages,
// one each, and all of them pass the conformance suite in storagetest.
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
	"io"
	"time"

	"qrsync/api"
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
)

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

// BlobStore keeps originals and thumbnails under server-made keys: segments
// of [A-Za-z0-9._-] joined by '/', none empty or starting with '.'. A key
// never contains anything a client chose.
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
// secret, the one in the QR code, which can only add images. It is also the
// data of a "session" event, as JSON.
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

// EventSession is the type of the event a catalog appends when a session's
// own fields change (RenewUploadLink, ExtendSession); its data is the
// Session after the change, as JSON.
const EventSession = "session"

// EventEnded is the type of the event EndSession appends: the log's own
// word that the session is over. Read never returns it (it answers
// ErrExpired instead); it is there to wake readers elsewhere.
const EventEnded = "ended"

// Quota bounds a session. Zero means no limit.
type Quota struct {
	MaxImages int
	MaxBytes  int64
}

// Event is one entry of a session's event log. ID is opaque ASCII
// (letters, digits, '-', '_', '.'), increasing within the session and
// meaningful to every instance that shares the backend. Data is the JSON
// sent as the event's data.
type Event struct {
	ID   string
	Type string
	Data []byte
}

// Catalog records sessions and their images, and keeps each session's
// event log. Adding or removing an image and appending its event happen in
// one atomic step, so the log and the gallery never disagree.
type Catalog interface {
	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with id: ErrNotFound if unknown,
	// ErrExpired (with the record) if its ExpiresAt is at or before now,
	// and ErrExpired (with only ID and ExpiresAt, the time it ended) for
	// a removed session whose tombstone still stands (DeleteSession).
	Session(ctx context.Context, id string) (Session, error)
	// SessionByToken looks a session up by an upload token, with the same
	// errors as Session. A token replaced by RenewUploadLink still finds
	// its session, whose UploadToken then differs from it: the caller
	// tells a replaced link from the current one.
	SessionByToken(ctx context.Context, token string) (Session, error)
	// RenewUploadLink gives a live session a new upload token valid until
	// expiresAt, and appends a "session" event, atomically. The old
	// tokens keep finding the session (see SessionByToken).
	RenewUploadLink(ctx context.Context, id, token string, expiresAt time.Time) (Session, Event, error)
	// ExtendSession moves a live session's ExpiresAt to expiresAt if that
	// is later, and then appends a "session" event, atomically. It returns
	// the record and the event (zero when nothing moved).
	ExtendSession(ctx context.Context, id string, expiresAt time.Time) (Session, Event, error)
	// EndSession ends a live session now: from then on it is ErrExpired,
	// an EventEnded in its log wakes its readers, and ExpiredSessions
	// lists it until DeleteSession.
	EndSession(ctx context.Context, id string) error
	// DeleteSession removes an ended or live session's images, event log
	// and record, and wakes its readers. What stays is a tombstone: until
	// tombstoneUntil, the id and every upload token it had answer
	// ErrExpired rather than ErrNotFound. Deleting a tombstone is nil;
	// unknown is ErrNotFound.
	DeleteSession(ctx context.Context, id string, tombstoneUntil time.Time) error
	// ExpiredSessions lists ids of sessions whose ExpiresAt is at or
	// before now and whose data is not yet deleted, so the server can
	// remove them and their blobs (also after a restart).
	ExpiredSessions(ctx context.Context, now time.Time) ([]string, error)

	// AddImage records img in the session and appends an "image" event
	// whose data is the image's JSON, atomically. It fails with ErrQuota if
	// q would be exceeded, and with ErrDuplicate, returning the image
	// already stored, if the session has an image with img.SHA256.
	AddImage(ctx context.Context, sessionID string, img api.Image, q Quota) (api.Image, Event, error)
	// RemoveImage deletes an image and appends a "removed" event.
	RemoveImage(ctx context.Context, sessionID, imageID string) (Event, error)
	// Image returns one image of a session; ErrNotFound or ErrExpired as
	// for Session.
	Image(ctx context.Context, sessionID, imageID string) (api.Image, error)
	// Images returns the session's images, oldest first, and the id of the
	// last event they reflect ("" if the log is empty), read atomically.
	Images(ctx context.Context, sessionID string) ([]api.Image, string, error)

	// Read returns up to limit events (limit <= 0: all) after afterID,
	// oldest first; afterID "" is the start of the log. When there are
	// none yet it blocks until one is appended or ctx ends (then
	// ctx.Err()), as XREAD BLOCK does, so live delivery and replay are one
	// call and one round trip. An id the log does not hold (unknown, or
	// trimmed) is ErrEventGone. A session unknown or over is ErrNotFound
	// or ErrExpired, at once, and a reader already blocked when the
	// session ends wakes with ErrExpired: EndSession appends an
	// EventEnded to the log, so that readers on every instance hear of
	// it, not only those in the process that ended it.
	Read(ctx context.Context, sessionID, afterID string, limit int) ([]Event, error)

	// Ping reports whether the backend answers, for /healthz.
	Ping(ctx context.Context) error
	// Close releases the backend.
	Close() error
}
