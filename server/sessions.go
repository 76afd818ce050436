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

	"qrsync/api"
	"qrsync/locale"
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
	p := api.SessionPath(sess.ID)
	return api.Session{
		ID:              sess.ID,
		UploadURL:       base + api.UploadPathMark + sess.UploadToken,
		QRURL:           p + "/qr.png",
		EventsURL:       p + "/events",
		UploadExpiresAt: sess.UploadExpiresAt.UTC(),
		ExpiresAt:       sess.ExpiresAt.UTC(),
	}
}

// sessionCounter is the catalog's power to say how many sessions it holds,
// for the cap on them; a catalog without it is not capped.
type sessionCounter interface {
	SessionCount(ctx context.Context) (int, error)
}

// createSession opens a session, within the per-address rate and the cap
// on sessions held at once: anyone on the network can call it, so a flood
// must be cheap to refuse and must not fill the catalog.
func (s *Server) createSession(ctx context.Context, c *app.RequestContext) {
	if !s.sessionRate.take(remoteIP(c)) {
		s.refused(reasonSessionRate)
		s.writeError(c, newUserError(errTooMany, "error.sessionFlood"))
		return
	}
	if sc, ok := s.cat.(sessionCounter); ok {
		n, err := sc.SessionCount(ctx)
		if err != nil {
			s.writeError(c, fmt.Errorf("count sessions: %w", err))
			return
		}
		if n >= s.cfg.MaxSessions {
			s.refused(reasonSessionsTotal)
			s.writeError(c, newUserError(errUnavailable, "error.sessionsFull"))
			return
		}
	}
	qr, err := qrSizeParam(c, "qr", 0) // refused before anything is made
	if err != nil {
		s.writeError(c, err)
		return
	}
	out, err := s.NewSession(ctx)
	if err == nil {
		err = withQRImage(&out, qr)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusCreated, out)
}

// NewSession opens a session as POST /api/sessions does, without its
// limits: the command opens the terminal's own session with it.
func (s *Server) NewSession(ctx context.Context) (api.Session, error) {
	now := s.cfg.Now()
	sess := storage.Session{
		ID:              newSecret(),
		UploadToken:     newSecret(),
		CreatedAt:       now,
		UploadExpiresAt: now.Add(s.cfg.UploadTTL),
		ExpiresAt:       now.Add(s.cfg.Keep),
	}
	if err := s.sessions.CreateSession(ctx, sess); err != nil {
		return api.Session{}, fmt.Errorf("create session: %w", err)
	}
	return s.sessionJSON(sess, s.cfg.PublicURLs[0]), nil
}

// session looks up the session a viewer's route names. An unknown id counts
// against the caller's address, and past DefaultMissesPerMinute misses are
// answered 429; a known id always passes.
func (s *Server) session(ctx context.Context, c *app.RequestContext, id string) (storage.Session, error) {
	sess, err := s.judged(s.sessions.Session(ctx, id))
	if errors.Is(err, storage.ErrNotFound) {
		return sess, s.missed(c, err)
	}
	return sess, err
}

// judged is a session the catalog found, judged by this server's clock:
// one whose time is up is over, whether or not the sweep has ended it
// yet. The catalog reads no clock, so that every instance, on whatever
// backend, agrees on when a session ends.
func (s *Server) judged(sess storage.Session, err error) (storage.Session, error) {
	if err == nil && !s.cfg.Now().Before(sess.ExpiresAt) {
		return sess, errTimeUp
	}
	return sess, err
}

// errTimeUp is a session past its end that the sweep has yet to end.
var errTimeUp = fmt.Errorf("session: time is up: %w", storage.ErrExpired)

// sessionByToken is session for the phone's upload token. A link that was
// replaced by a new code, or whose time is up, is 410 while the session
// lives on: the phone must scan the code the PC shows now.
func (s *Server) sessionByToken(ctx context.Context, c *app.RequestContext, token string) (storage.Session, error) {
	sess, err := s.judged(s.sessions.SessionByToken(ctx, token))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return sess, s.missed(c, err)
	case errors.Is(err, storage.ErrExpired):
		return sess, errSessionEnded
	case err != nil:
		return sess, err
	case sess.UploadToken != token:
		return sess, errLinkReplaced
	case !s.cfg.Now().Before(sess.UploadExpiresAt):
		return sess, errLinkLapsed
	}
	return sess, nil
}

// The three ways an upload link is over, each 410 with its own advice.
var (
	errSessionEnded = newUserError(storage.ErrExpired, "error.sessionEnded")
	errLinkReplaced = newUserError(storage.ErrExpired, "error.linkReplaced")
	errLinkLapsed   = newUserError(storage.ErrExpired, "error.linkLapsed")
)

// renewUploadLink gives the session a new upload link; the old one then
// answers 410. The gallery is untouched.
func (s *Server) renewUploadLink(ctx context.Context, c *app.RequestContext) {
	sess, err := s.session(ctx, c, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	sess, _, err = s.sessions.RenewUploadLink(ctx, sess.ID, newSecret(), s.cfg.Now().Add(s.cfg.UploadTTL))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.touch(ctx, sess)
	writeJSON(c, http.StatusOK, s.sessionJSON(sess, s.cfg.PublicURLs[0]))
}

// touch keeps a session whose photos someone is using: its end moves to
// Keep from now. The catalog is written (and a session event sent) only
// when that moves it by extendStep or more, so a busy session costs a
// write an hour, not one per request.
func (s *Server) touch(ctx context.Context, sess storage.Session) time.Time {
	now := s.cfg.Now()
	want := now.Add(s.cfg.Keep)
	// A session whose time is up stays over: the catalog, which reads no
	// clock, would extend it, and the sweep would find it alive again.
	if !now.Before(sess.ExpiresAt) || want.Sub(sess.ExpiresAt) < s.extendStep() {
		return sess.ExpiresAt
	}
	got, _, err := s.sessions.ExtendSession(ctx, sess.ID, want)
	if err != nil {
		s.log.Debug("extend a session", "err", logSafe(err))
		return sess.ExpiresAt
	}
	return got.ExpiresAt
}

// extendStep is the least move of a session's end worth writing: an hour
// (DESIGN §4), or less when photos are kept for less than a day.
func (s *Server) extendStep() time.Duration { return min(time.Hour, s.cfg.Keep/24) }

// missed counts a miss of the caller's address and returns what to
// answer: err itself, or 429 once the address has missed too often.
func (s *Server) missed(c *app.RequestContext, err error) error {
	ip := remoteIP(c)
	if s.misses.over(ip) {
		s.refused(reasonMisses)
		return errTooManyMisses
	}
	s.misses.add(ip)
	return err
}

var errTooManyMisses = newUserError(errTooMany, "error.unknownLinks")

func (s *Server) getSession(ctx context.Context, c *app.RequestContext) {
	sess, err := s.session(ctx, c, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	qr, err := qrSizeParam(c, "qr", 0)
	if err != nil {
		s.writeError(c, err)
		return
	}
	images, _, err := s.images.Images(ctx, sess.ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := s.sessionJSON(sess, s.cfg.PublicURLs[0])
	out.Images = imagesJSON(sess.ID, images)
	if err := withQRImage(&out, qr); err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, out)
}

// deleteSession ends a session now: its streams get expired, its links
// and routes answer 410, and its photos are removed. A session that has
// already ended is 410 itself.
func (s *Server) deleteSession(ctx context.Context, c *app.RequestContext) {
	id := c.Param("id")
	if _, err := s.session(ctx, c, id); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.sessions.EndSession(ctx, id, s.cfg.Now()); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.removeSession(ctx, id); err != nil {
		// Ended all the same; the sweep finishes the removal.
		s.log.Warn("remove an ended session", "err", logSafe(err))
	}
	c.SetStatusCode(http.StatusNoContent)
}

// removeSession removes an ended session's blobs, then its catalog data,
// leaving the tombstone that answers 410. In that order, a removal cut
// short (a crash, a full disk) leaves the session listed by
// ExpiredSessions, and the next sweep, also after a restart, finishes it.
func (s *Server) removeSession(ctx context.Context, id string) error {
	// Ended first, at its own end if that came before now, so that
	// streams on every instance hear of it, and so that no upload lands
	// while the blobs go.
	sess, err := s.sessions.Session(ctx, id)
	if err == nil {
		err = s.sessions.EndSession(ctx, id, minTime(s.cfg.Now(), sess.ExpiresAt))
	}
	if err != nil && !errors.Is(err, storage.ErrExpired) && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("end session: %w", err)
	}
	// List the prefix rather than ask the catalog: that also catches the
	// blobs of an upload cut short by a crash, which it never named.
	blobs, err := s.blobs.List(ctx, sessionPrefix(id))
	if err != nil {
		return fmt.Errorf("list the session's blobs: %w", err)
	}
	keys := make([]string, len(blobs))
	for i, b := range blobs {
		keys[i] = b.Key
	}
	if err := s.blobs.Delete(ctx, keys...); err != nil {
		return fmt.Errorf("delete the session's blobs: %w", err)
	}
	if err := s.sessions.DeleteSession(ctx, id, s.cfg.Now().Add(s.cfg.Tombstone)); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// sweep removes ended sessions every SweepEvery until ctx ends. Streams of
// a session learn of its end from their own timer; this reclaims the disk.
func (s *Server) sweep(ctx context.Context) {
	s.sweepOnce(ctx)
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	orphans := time.NewTicker(max(s.cfg.OrphanGrace, time.Minute))
	defer orphans.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweepOnce(ctx)
		case <-orphans.C:
			s.reconcile(ctx)
		}
	}
}

func (s *Server) sweepOnce(ctx context.Context) {
	ids, err := s.sessions.ExpiredSessions(ctx, s.cfg.Now())
	if err != nil {
		s.log.Warn("sweep: list ended sessions", "err", logSafe(err))
		return
	}
	for _, id := range ids {
		if err := s.removeSession(ctx, id); err != nil {
			s.log.Warn("sweep: remove an ended session", "err", logSafe(err))
		}
	}
	if err := s.sessions.PurgeTombstones(ctx, s.cfg.Now()); err != nil {
		s.log.Warn("sweep: purge old tombstones", "err", logSafe(err))
	}
}

// qrCode draws the session's upload URL. With ?base= it draws it for one of
// the server's candidate addresses instead of the first, so the PC page can
// switch when the phone cannot reach the default; any other base is
// refused, so this never becomes a QR generator for arbitrary links.
func (s *Server) qrCode(ctx context.Context, c *app.RequestContext) {
	sess, err := s.session(ctx, c, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	size, err := qrSizeParam(c, "size", defaultQRSize)
	if err != nil {
		s.writeError(c, err)
		return
	}
	base := s.cfg.PublicURLs[0]
	if v := c.Query("base"); v != "" {
		if !slices.Contains(s.cfg.PublicURLs, v) {
			s.writeError(c, newUserError(errBadRequest, "error.qrBase"))
			return
		}
		base = v
	}
	png, err := qrPNG(s.sessionJSON(sess, base).UploadURL, size)
	if err != nil {
		s.writeError(c, fmt.Errorf("draw QR: %w", err))
		return
	}
	c.Response.Header.Set("Cache-Control", "private, no-store")
	c.Data(http.StatusOK, "image/png", png)
}

// qrSizeParam reads a QR's size in pixels from the query parameter key:
// def when there is none, an error when it is out of range.
func qrSizeParam(c *app.RequestContext, key string, def int) (int, error) {
	v := c.Query(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < minQRSize || n > maxQRSize {
		return 0, newUserError(errBadRequest, "error.qrSize", "min", strconv.Itoa(minQRSize), "max", strconv.Itoa(maxQRSize))
	}
	return n, nil
}

// withQRImage puts the session's QR, size pixels square, in its answer as
// a data: URL, for ?qr=<size>; size 0 (not asked) leaves it out.
func withQRImage(out *api.Session, size int) error {
	if size == 0 {
		return nil
	}
	png, err := qrPNG(out.UploadURL, size)
	if err != nil {
		return fmt.Errorf("draw QR: %w", err)
	}
	out.QRImage = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	return nil
}

// addresses lists the base URLs the page may offer for the QR code.
func (s *Server) addresses(_ context.Context, c *app.RequestContext) {
	writeJSON(c, http.StatusOK, map[string][]string{"urls": s.cfg.PublicURLs})
}

// healthz is liveness: 200 while the process serves, whatever its
// backends do, so a supervisor restarts it only when it is truly stuck.
func (s *Server) healthz(_ context.Context, c *app.RequestContext) {
	writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: 200 when every backend answers and there is room
// to store photos, 503 naming what fails otherwise, so a load balancer
// sends phones elsewhere.
func (s *Server) readyz(ctx context.Context, c *app.RequestContext) {
	fail := func(what string, err error) {
		s.logFor(c).Warn("not ready", "backend", what, "err", err)
		writeJSON(c, http.StatusServiceUnavailable, api.ErrorBody{Error: api.ErrorDetail{
			Code: api.CodeUnavailable, Message: what + " does not answer: " + statusText(err)}})
	}
	if err := s.cat.Ping(ctx); err != nil {
		fail("catalog", err)
		return
	}
	if p, ok := s.blobs.(pinger); ok {
		if err := p.Ping(ctx); err != nil {
			fail("blob store", err)
			return
		}
	}
	if u, ok := s.blobs.(usageReporter); ok {
		if used, limit := u.Usage(); limit > 0 && used >= limit {
			fail("blob store", storage.ErrInsufficientStorage)
			return
		}
	}
	// A disk that filled without a budget of ours (the file system itself)
	// shows only in refused writes: one within diskFullMemory counts.
	if at := s.diskFullAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < diskFullMemory {
		fail("blob store", storage.ErrInsufficientStorage)
		return
	}
	writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

// diskFullMemory is how long a refused write for want of space keeps
// /readyz at 503, unless a photo is stored in the meantime.
const diskFullMemory = time.Minute

// statusText is the part of an error a readiness answer may show: the
// kind, not the details (they may name files).
func statusText(err error) string {
	if errors.Is(err, storage.ErrInsufficientStorage) {
		return "storage is full"
	}
	_, _, m := statusOf(err)
	return m.in(locale.English) // for whoever runs the server
}

// pinger is the optional power of a blob store to say whether it answers.
type pinger interface {
	Ping(ctx context.Context) error
}

// usageReporter is the optional power of a blob store to say how much of
// its disk budget is used.
type usageReporter interface {
	Usage() (used, limit int64)
}

// Storage keys are made here only, from server-made ids: a client's file
// name never becomes part of a path.
func sessionPrefix(sessionID string) string { return "sessions/" + sessionID + "/" }

func originalKey(sessionID, imageID string) string { return sessionPrefix(sessionID) + imageID }

func thumbKey(sessionID, imageID string) string {
	return sessionPrefix(sessionID) + imageID + thumbSuffix
}
