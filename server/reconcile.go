package server

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"

	"qrsync/storage"
)

// thumbSuffix ends a thumbnail's key (see thumbKey), displaySuffix the
// key of the JPEG rendition of a photo browsers cannot show (displayKey).
const (
	thumbSuffix   = ".thumb.jpg"
	displaySuffix = ".display.jpg"
)

// DefaultOrphanGrace is how old a blob that no image in the catalog owns
// must be before reconcile removes it. An upload commits its blobs before
// it records its image, so a younger one may be an upload between the two
// steps, on this server or on another instance sharing the blob store; an
// hour is far beyond the time any upload spends there.
const DefaultOrphanGrace = time.Hour

// reconcile removes blobs that no image in the catalog owns. An upload
// commits its original and thumbnail first and records the image last, so
// that nothing is announced before it can be fetched; a crash (kill -9,
// power cut) between the two leaves blobs nobody will ever serve or
// delete. So does a crash between a session's removal from the catalog and
// the deletion of its files.
//
// Only blobs older than Config.OrphanGrace go, so uploads in flight are
// never taken for leftovers: it is safe while the server serves, and runs
// at start-up and then once per grace period.
//
// It deletes nothing it is not sure of:
//   - A catalog that holds no session while the blob store holds photos is
//     far more likely the wrong catalog (a mistyped --catalog, a file moved
//     aside) than a store of leftovers: it warns and deletes nothing.
//   - A catalog that cannot count its sessions cannot tell that case
//     apart, so with it nothing is deleted either.
//   - A blob goes only when the catalog says for sure that its image does
//     not exist; any other answer (an ended session, which the sweep
//     removes whole, or a catalog error) keeps it.
//
// Keys it does not recognise are left alone. Its logs carry counts, never
// a session or image id: those are secrets or derived from them.
func (s *Server) reconcile(ctx context.Context) {
	s.removeOrphans(ctx, s.cfg.OrphanGrace)
}

// removeOrphans is reconcile with the grace period as a parameter.
func (s *Server) removeOrphans(ctx context.Context, grace time.Duration) {
	blobs, err := s.blobs.List(ctx, "sessions/")
	if err != nil {
		s.log.Warn("reconcile: list blobs", "err", logSafe(err))
		return
	}
	var ours []storage.BlobInfo // blobs with keys the server makes
	sessions := map[string]bool{}
	for _, b := range blobs {
		if sid, _, ok := blobOwner(b.Key); ok {
			ours = append(ours, b)
			sessions[sid] = true
		}
	}
	if len(ours) == 0 {
		return
	}
	counter, ok := s.cat.(sessionCounter)
	if !ok {
		s.log.Info("reconcile: the catalog cannot say how many sessions it holds, so no blob is removed", "blobs", len(ours))
		return
	}
	n, err := counter.SessionCount(ctx)
	if err != nil {
		s.log.Warn("reconcile: count sessions; no blob is removed", "err", logSafe(err))
		return
	}
	if n == 0 {
		s.log.Warn("reconcile: the catalog holds no sessions, but the blob store holds photos of earlier ones; "+
			"none is deleted. If --catalog names the wrong database, point it at the right one; "+
			"if these photos are unwanted, remove them from the blob store by hand",
			"blobs", len(ours), "sessions", len(sessions))
		return
	}

	cutoff := s.cfg.Now().Add(-grace)
	owned := map[string]bool{} // "session/image" → whether the catalog has it
	var orphans []string
	var failed int
	var firstErr error
	for _, b := range ours {
		// A blob of unknown age is treated as young.
		if b.ModTime.IsZero() || b.ModTime.After(cutoff) {
			continue
		}
		sid, iid, _ := blobOwner(b.Key)
		ref := sid + "/" + iid
		has, seen := owned[ref]
		if !seen {
			// A session over by this server's clock is the sweep's to
			// remove whole; the catalog would still answer for it.
			_, err := s.judged(s.sessions.Session(ctx, sid))
			if err == nil {
				_, err = s.images.Image(ctx, sid, iid)
			}
			has = !errors.Is(err, storage.ErrNotFound)
			if err != nil && has && !errors.Is(err, storage.ErrExpired) {
				failed++
				if firstErr == nil {
					firstErr = err
				}
			}
			owned[ref] = has
		}
		if !has {
			orphans = append(orphans, b.Key)
		}
	}
	if ctx.Err() != nil {
		return // stopping: the lookups failed for that reason, nothing to report
	}
	if failed > 0 {
		s.log.Warn("reconcile: look up images; their blobs are kept", "images", failed, "err", logSafe(firstErr))
	}
	if len(orphans) == 0 {
		return
	}
	if err := s.blobs.Delete(ctx, orphans...); err != nil {
		s.log.Warn("reconcile: remove orphaned blobs", "count", len(orphans), "err", logSafe(err))
		return
	}
	s.log.Info("reconcile: removed blobs left by an interrupted upload or deletion", "count", len(orphans), "grace", grace)
}

// blobOwner parses a key made by originalKey, thumbKey or displayKey.
func blobOwner(key string) (sessionID, imageID string, ok bool) {
	rest, ok := strings.CutPrefix(key, "sessions/")
	if !ok {
		return "", "", false
	}
	sessionID, name, ok := strings.Cut(rest, "/")
	if !ok || sessionID == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	imageID = strings.TrimSuffix(strings.TrimSuffix(name, thumbSuffix), displaySuffix)
	if imageID == "" || strings.Contains(imageID, ".") {
		return "", "", false
	}
	return sessionID, imageID, true
}

// logSafe is what of a backend error reconcile's log may show. Backends
// name blob keys and file paths in their errors, and keys carry session
// and image ids; the innermost causes (an errno, a sentinel such as "not
// found") carry neither, and are what an operator acts on.
func logSafe(err error) string {
	for {
		switch e := err.(type) {
		case *fs.PathError:
			err = e.Err
			continue
		case *os.LinkError:
			err = e.Err
			continue
		case interface{ Unwrap() []error }:
			var parts []string
			for _, inner := range e.Unwrap() {
				parts = append(parts, logSafe(inner))
			}
			return strings.Join(parts, ": ")
		}
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
