package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/minio/minio-go/v7"
)

// partPool holds part buffers, each of capacity PartSize, so that the
// uploads of a busy server reuse a few buffers instead of each making its
// own 5 MiB of garbage. Pointers, so that Put does not allocate.
var partPool = sync.Pool{New: func() any {
	b := make([]byte, 0, PartSize)
	return &b
}}

// writer is a blob being written: see the package comment.
type writer struct {
	s    *Store
	ctx  context.Context // Create's: every upload runs under it
	key  string
	name string // the object's name: the key with the store's prefix

	mu sync.Mutex // Abort may come from another goroutine
	// buf is the part being filled, from partPool: nil until the first
	// byte, and again once the writer is done. A full buffer is sent only
	// when another byte comes, so that a blob of exactly PartSize is one
	// PutObject, and Commit always has a last part to send.
	buf      *[]byte
	uploadID string // the multipart upload, once the first part is sent
	parts    []minio.CompletePart
	state    writerState
	err      error // why the writer failed, if it did: it is aborted then
}

type writerState int

const (
	open writerState = iota
	committed
	aborted
)

var (
	errCommitted = errors.New("s3blob: blob already committed")
	errAborted   = errors.New("s3blob: blob aborted")
)

func (w *writer) stateErr() error {
	switch {
	case w.state == committed:
		return errCommitted
	case w.err != nil:
		return w.err
	case w.state == aborted:
		return errAborted
	}
	return nil
}

// Write buffers p, and sends each part as it fills (the first one starts
// the multipart upload). After a failed Write the writer is aborted: the
// upload is gone, and Commit returns the same error.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.stateErr(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// The request the bytes come from is gone: fail now, not at the next
	// part, so that nothing more is buffered for it.
	if err := w.ctx.Err(); err != nil {
		w.fail("write", err)
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = partPool.Get().(*[]byte)
		}
		if len(*w.buf) == PartSize {
			if err := w.sendPart(); err != nil {
				w.fail("write", err)
				return n, w.err
			}
		}
		b := *w.buf
		c := copy(b[len(b):PartSize], p)
		*w.buf = b[:len(b)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

// sendPart uploads the buffer as the next part, starting the multipart
// upload if this is the first.
func (w *writer) sendPart() error {
	if len(w.parts) == MaxParts {
		return fmt.Errorf("larger than S3's limit of %d parts of %d bytes", MaxParts, PartSize)
	}
	s := w.s
	if w.uploadID == "" {
		err := s.bounded(w.ctx, callTimeout, func(ctx context.Context) error {
			id, err := s.core.NewMultipartUpload(ctx, s.bucket, w.name, minio.PutObjectOptions{})
			w.uploadID = id
			return err
		})
		if err != nil {
			return err
		}
	}
	b := *w.buf
	number := len(w.parts) + 1
	var part minio.ObjectPart
	err := s.bounded(w.ctx, partTimeout, func(ctx context.Context) error {
		var err error
		// A bytes.Reader can seek, so minio-go may retry the part.
		part, err = s.core.PutObjectPart(ctx, s.bucket, w.name, w.uploadID, number,
			bytes.NewReader(b), int64(len(b)), minio.PutObjectPartOptions{})
		return err
	})
	if err != nil {
		return err
	}
	w.parts = append(w.parts, minio.CompletePart{PartNumber: number, ETag: part.ETag})
	*w.buf = b[:0]
	return nil
}

// Commit stores the blob: one PutObject if it fits in a part, else the
// last part and CompleteMultipartUpload. Committing twice, or after Abort,
// is an error. If Commit fails the upload is aborted, and nothing is
// visible under the key (but see the package comment on lost answers).
func (w *writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.stateErr(); err != nil {
		return err
	}
	if err := w.ctx.Err(); err != nil {
		w.fail("commit", err)
		return w.err
	}
	if err := w.commit(); err != nil {
		w.fail("commit", err)
		return w.err
	}
	w.state = committed
	w.release()
	return nil
}

func (w *writer) commit() error {
	s := w.s
	if w.uploadID == "" {
		var data []byte
		if w.buf != nil {
			data = *w.buf
		}
		return s.bounded(w.ctx, partTimeout, func(ctx context.Context) error {
			_, err := s.core.PutObject(ctx, s.bucket, w.name, bytes.NewReader(data), int64(len(data)), "", "",
				minio.PutObjectOptions{ContentType: "application/octet-stream"})
			return err
		})
	}
	if err := w.sendPart(); err != nil {
		return err
	}
	return s.bounded(w.ctx, partTimeout, func(ctx context.Context) error {
		_, err := s.core.CompleteMultipartUpload(ctx, s.bucket, w.name, w.uploadID, w.parts, minio.PutObjectOptions{})
		return err
	})
}

// fail records err as the writer's failure in op and discards the upload;
// an error aborting it is dropped, since err is what the caller must hear.
func (w *writer) fail(op string, err error) {
	w.err = w.s.opErr(op, w.key, err)
	_ = w.discard()
}

// discard aborts the multipart upload, if there is one, and gives the
// buffer back. The abort runs even when the writer's context has ended,
// which is when it matters most, with a deadline of its own.
func (w *writer) discard() error {
	w.state = aborted
	w.release()
	id := w.uploadID
	if id == "" {
		return nil
	}
	w.uploadID, w.parts = "", nil
	s := w.s
	err := s.bounded(context.WithoutCancel(w.ctx), callTimeout, func(ctx context.Context) error {
		return s.core.AbortMultipartUpload(ctx, s.bucket, w.name, id)
	})
	if err != nil && !isCode(err, minio.NoSuchUpload) {
		return s.opErr("abort", w.key, err)
	}
	return nil
}

// release puts the buffer back in the pool.
func (w *writer) release() {
	if w.buf != nil {
		*w.buf = (*w.buf)[:0]
		partPool.Put(w.buf)
		w.buf = nil
	}
}

// Abort discards what was written, aborting the multipart upload if one
// was started. It is a no-op after Commit, after a failure (which aborted
// already) and after Abort. It fails only if the store did not take the
// abort; the parts then stay until the bucket's lifecycle rule removes
// them, and are never visible as a blob.
func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != open {
		return nil
	}
	return w.discard()
}
