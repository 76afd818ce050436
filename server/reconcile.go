package server

import (
	"context"
	"errors"
	"strings"

	"qrsync/storage"
)

// thumbSuffix ends a thumbnail's key (see thumbKey).
const thumbSuffix = ".thumb.jpg"

// reconcile removes blobs that no image in the catalog owns. An upload
// commits its original and thumbnail first and records the image last, so
// that nothing is announced before it can be fetched; a crash (kill -9,
// power cut) between the two leaves blobs nobody will ever serve or
// delete. So do a crash between a session's removal from the catalog and
// the deletion of its files.
//
// It must run before the server accepts uploads: an upload in flight is
// exactly a committed blob not yet in the catalog. Serve calls it before
// it starts serving. With a blob store that several instances share (S3),
// another instance's upload can be in that window; such a deployment must
// start instances one at a time.
//
// Blobs are only removed when the catalog says for sure that their image
// does not exist; any other answer (an ended session, which the sweep
// removes whole, or a catalog error) keeps them. Keys it does not
// recognise are left alone.
func (s *Server) reconcile(ctx context.Context) {
	keys, err := s.blobs.List(ctx, "sessions/")
	if err != nil {
		s.log.Warn("reconcile: list blobs", "err", err)
		return
	}
	owned := map[string]bool{} // "session/image" → whether the catalog has it
	var orphans []string
	for _, key := range keys {
		sid, iid, ok := blobOwner(key)
		if !ok {
			continue
		}
		ref := sid + "/" + iid
		has, seen := owned[ref]
		if !seen {
			_, err := s.cat.Image(ctx, sid, iid)
			has = !errors.Is(err, storage.ErrNotFound)
			if err != nil && has && !errors.Is(err, storage.ErrExpired) {
				s.log.Warn("reconcile: look up image", "session", sid, "image", iid, "err", err)
			}
			owned[ref] = has
		}
		if !has {
			orphans = append(orphans, key)
		}
	}
	if len(orphans) == 0 {
		return
	}
	if err := s.blobs.Delete(ctx, orphans...); err != nil {
		s.log.Warn("reconcile: remove orphaned blobs", "count", len(orphans), "err", err)
		return
	}
	s.log.Info("reconcile: removed blobs left by an interrupted upload or deletion", "count", len(orphans))
}

// blobOwner parses a key made by originalKey or thumbKey.
func blobOwner(key string) (sessionID, imageID string, ok bool) {
	rest, ok := strings.CutPrefix(key, "sessions/")
	if !ok {
		return "", "", false
	}
	sessionID, name, ok := strings.Cut(rest, "/")
	if !ok || sessionID == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	imageID = strings.TrimSuffix(name, thumbSuffix)
	if imageID == "" || strings.Contains(imageID, ".") {
		return "", "", false
	}
	return sessionID, imageID, true
}
