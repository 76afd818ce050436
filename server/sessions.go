package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
	qrcode "github.com/skip2/go-qrcode"

	"qrsync/api"
	"qrsync/storage"
)

// QR code sizes in pixels (DESIGN §3).
const (
	minQRSize     = 128
	maxQRSize     = 1024
	defaultQRSize = 320
)

// newSecret returns 144 random bits, URL-safe. Session ids and upload
// tokens are capabilities, so they must be unguessable (DESIGN §3 asks for
// at least 128 bits); image ids use it too so a storage key never carries
// anything a client chose.
func newSecret() string {
	var b [18]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return short)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) sessionJSON(sess storage.Session, base string) api.Session {
	p := "/api/sessions/" + sess.ID
	return api.Session{
		ID:        sess.ID,
		UploadURL: base + "/u/" + sess.UploadToken,
		QRURL:     p + "/qr.png",
		EventsURL: p + "/events",
		ExpiresAt: sess.ExpiresAt.UTC(),
	}
}

func (s *Server) createSession(ctx context.Context, c *app.RequestContext) {
	now := s.cfg.Now()
	sess := storage.Session{
		ID:          newSecret(),
		UploadToken: newSecret(),
		CreatedAt:   now,
		ExpiresAt:   now.Add(s.cfg.SessionTTL),
	}
	if err := s.cat.CreateSession(ctx, sess); err != nil {
		s.writeError(c, fmt.Errorf("create session: %w", err))
		return
	}
	writeJSON(c, http.StatusCreated, s.sessionJSON(sess, s.cfg.PublicURLs[0]))
}

func (s *Server) getSession(ctx context.Context, c *app.RequestContext) {
	sess, err := s.cat.Session(ctx, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	images, _, err := s.cat.Images(ctx, sess.ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := s.sessionJSON(sess, s.cfg.PublicURLs[0])
	out.Images = images
	if out.Images == nil {
		out.Images = []api.Image{}
	}
	writeJSON(c, http.StatusOK, out)
}

// deleteSession ends a session now. Deleting from the catalog wakes every
// stream of the session, which then sends expired and closes.
func (s *Server) deleteSession(ctx context.Context, c *app.RequestContext) {
	id := c.Param("id")
	if _, err := s.cat.Session(ctx, id); err != nil && !errors.Is(err, storage.ErrExpired) {
		s.writeError(c, err)
		return
	}
	if err := s.removeSession(ctx, id); err != nil {
		s.writeError(c, err)
		return
	}
	c.SetStatusCode(http.StatusNoContent)
}

// removeSession deletes the catalog entry first, so nothing can be served
// from the session any more, then every blob under its prefix: that also
// catches blobs of uploads that never reached the catalog.
func (s *Server) removeSession(ctx context.Context, id string) error {
	if err := s.cat.DeleteSession(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	keys, err := s.blobs.List(ctx, sessionPrefix(id))
	if err != nil {
		return fmt.Errorf("list blobs of %s: %w", id, err)
	}
	if err := s.blobs.Delete(ctx, keys...); err != nil {
		return fmt.Errorf("delete blobs of %s: %w", id, err)
	}
	return nil
}

// sweep removes ended sessions every SweepEvery until ctx ends. Streams of
// a session learn of its end from their own timer; this reclaims the disk.
func (s *Server) sweep(ctx context.Context) {
	s.sweepOnce(ctx)
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweepOnce(ctx)
		}
	}
}

func (s *Server) sweepOnce(ctx context.Context) {
	ids, err := s.cat.ExpiredSessions(ctx, s.cfg.Now())
	if err != nil {
		s.log.Warn("sweep: list ended sessions", "err", err)
		return
	}
	for _, id := range ids {
		if err := s.removeSession(ctx, id); err != nil {
			s.log.Warn("sweep: remove session", "err", err)
		}
	}
}

// qrCode draws the session's upload URL. With ?base= it draws it for one of
// the server's candidate addresses instead of the first, so the PC page can
// switch when the phone cannot reach the default; any other base is
// refused, so this never becomes a QR generator for arbitrary links.
func (s *Server) qrCode(ctx context.Context, c *app.RequestContext) {
	sess, err := s.cat.Session(ctx, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	size := defaultQRSize
	if v := c.Query("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < minQRSize || n > maxQRSize {
			s.writeError(c, newUserError(errBadRequest, "size must be a whole number from %d to %d", minQRSize, maxQRSize))
			return
		}
		size = n
	}
	base := s.cfg.PublicURLs[0]
	if v := c.Query("base"); v != "" {
		if !slices.Contains(s.cfg.PublicURLs, v) {
			s.writeError(c, newUserError(errBadRequest, "base must be one of the server's addresses (see /api/addresses)"))
			return
		}
		base = v
	}
	png, err := qrcode.Encode(s.sessionJSON(sess, base).UploadURL, qrcode.Medium, size)
	if err != nil {
		s.writeError(c, fmt.Errorf("draw QR: %w", err))
		return
	}
	c.Response.Header.Set("Cache-Control", "private, no-store")
	c.Data(http.StatusOK, "image/png", png)
}

// addresses lists the base URLs the page may offer for the QR code.
func (s *Server) addresses(_ context.Context, c *app.RequestContext) {
	writeJSON(c, http.StatusOK, map[string][]string{"urls": s.cfg.PublicURLs})
}

// healthz answers 200 only when the backends answer too.
func (s *Server) healthz(ctx context.Context, c *app.RequestContext) {
	if err := s.cat.Ping(ctx); err != nil {
		s.writeError(c, fmt.Errorf("catalog: %w", err))
		return
	}
	if p, ok := s.blobs.(pinger); ok {
		if err := p.Ping(ctx); err != nil {
			s.writeError(c, fmt.Errorf("blob store: %w", err))
			return
		}
	}
	writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

// pinger is the optional power of a blob store to say whether it answers.
type pinger interface {
	Ping(ctx context.Context) error
}

// Storage keys are made here only, from server-made ids: a client's file
// name never becomes part of a path.
func sessionPrefix(sessionID string) string { return "sessions/" + sessionID + "/" }

func originalKey(sessionID, imageID string) string { return sessionPrefix(sessionID) + imageID }

func thumbKey(sessionID, imageID string) string {
	return sessionPrefix(sessionID) + imageID + ".thumb.jpg"
}
