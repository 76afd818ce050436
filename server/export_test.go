package server

import (
	"context"
	"io"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/storage"
)

// What the tests in package server_test need of the server's insides. They
// run it through internal/apptest, which imports this package, so they
// cannot be in it; this file is compiled into the package for tests only.

// Limits the tests push against.
const (
	MaxNameBytes = maxNameBytes // longest stored file name
	LingerTime   = lingerTime   // how long a refused body is still read
	LingerBytes  = lingerBytes  // and how much of it

	FirstNewsAfter = firstNewsAfter // a file's arrival before the PC hears of it
)

// OriginalKey and ThumbKey are the blob keys of an image's original and
// thumbnail, for planting the blobs a crash leaves behind.
var (
	OriginalKey = originalKey
	ThumbKey    = thumbKey
)

// StatusOf is the status, code and message an error is answered with.
var StatusOf = statusOf

// Catalog is the server's catalog, to check what a request left in it.
func (s *Server) Catalog() Catalog { return s.cat }

// HoldDecoders takes every decoding slot, as uploads being decoded would,
// until release is called.
func (s *Server) HoldDecoders() (release func()) {
	for range cap(s.decode) {
		s.decode <- struct{}{}
	}
	return func() {
		for range cap(s.decode) {
			<-s.decode
		}
	}
}

// IngestAll is the whole upload path short of HTTP, for the fuzz test.
func (s *Server) IngestAll(ctx context.Context, sess storage.Session, boundary string, body io.Reader) (api.UploadResult, int, error) {
	// As long as the server allows, so the decode runs beside the body
	// when a slot is free, the path with the most to get wrong.
	return s.ingestAll(ctx, sess, boundary, body, s.cfg.MaxFileSize, nil)
}

// SetUploadIdleTimeout shortens how long an upload may go silent (at the
// minimum rate, the credit it may run down), for the rest of t. Called
// before t starts its server, it is restored only once that server has
// stopped (cleanups run last first).
func SetUploadIdleTimeout(t testing.TB, d time.Duration) {
	old := uploadMaxSilence
	uploadMaxSilence = d
	t.Cleanup(func() { uploadMaxSilence = old })
}
