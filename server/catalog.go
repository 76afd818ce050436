package server

import (
	"context"
	"time"

	"qrsync/storage"
)

// The server asks its catalog for three things, each through an interface
// as small as its users need; one backend (storage/boltdb, storage/redis)
// is all three. The contract every method keeps is written, and proven,
// in storage/storagetest.

// sessionStore keeps the sessions: their links, their lives, their ends
// and the tombstones they leave (sessions.go).
type sessionStore interface {
	CreateSession(ctx context.Context, s storage.Session) error
	Session(ctx context.Context, id string) (storage.Session, error)
	SessionByToken(ctx context.Context, token string) (storage.Session, error)
	RenewUploadLink(ctx context.Context, id, token string, expiresAt time.Time) (storage.Session, storage.Event, error)
	ExtendSession(ctx context.Context, id string, expiresAt time.Time) (storage.Session, storage.Event, error)
	EndSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string, tombstoneUntil time.Time) error
	ExpiredSessions(ctx context.Context, now time.Time) ([]string, error)
	PurgeTombstones(ctx context.Context, now time.Time) error
}

// imageStore keeps each session's gallery; adding and removing append the
// event in the same step (upload.go, images.go).
type imageStore interface {
	AddImage(ctx context.Context, sessionID string, img storage.Image, q storage.Quota) (storage.Image, storage.Event, error)
	RemoveImage(ctx context.Context, sessionID, imageID string) (storage.Event, error)
	Image(ctx context.Context, sessionID, imageID string) (storage.Image, error)
	ImageBySHA(ctx context.Context, sessionID, sum string) (storage.Image, bool, error)
	HasImageSized(ctx context.Context, sessionID string, lo, hi int64) (bool, error)
	Images(ctx context.Context, sessionID string) ([]storage.Image, string, error)
}

// eventReader is the event log as a stream reads it (stream.go): one
// blocking read for replay and live delivery alike.
type eventReader interface {
	Read(ctx context.Context, sessionID, afterID string, limit int) ([]storage.Event, error)
}

// Catalog is what New takes: a backend that is all three, and answers a
// ping for /readyz.
type Catalog interface {
	sessionStore
	imageStore
	eventReader
	Ping(ctx context.Context) error
}
