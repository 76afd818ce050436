package watch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/photoname"
)

// Fetcher makes the GET requests a watcher needs: the session's event
// stream and the originals. header holds the request headers to set. A
// non-nil error means the request failed on the network; any answer from
// the server, whatever its status, is a Response. The Body must be closed,
// and Close must be safe to call while a Read is blocked: that is how a
// stream is stopped (see eventsource.Response). qrsync uses
// qrsync/watch/hertzfetch.
type Fetcher interface {
	Fetch(ctx context.Context, url string, header map[string]string) (*eventsource.Response, error)
}

// Errors Run and New return that a caller may want to tell apart.
var (
	// ErrNoSession means the server does not know the session and this
	// folder never saw it: most likely a mistyped URL (a session that has
	// ended is gone from the server too).
	ErrNoSession = errors.New("no such session")
	// ErrFolderBusy means another watcher is running on the folder.
	ErrFolderBusy = errors.New("another qrsync watch is using this folder")
)

// errEnded stops the event stream cleanly once the session is known to be
// over: eventsource.Client.Run then returns nil.
var errEnded = fmt.Errorf("watch: the session has ended: %w", eventsource.ErrStop)

// lockFile is the hidden file a watcher locks while it runs.
const lockFile = ".qrsync-watch.lock"

// maxUnsizedDownload bounds an original whose size the server did not say;
// qrsync's server always says, and accepts 50 MiB at most by default.
const maxUnsizedDownload = 4 << 30

// sessionsPath is where sessions live in the API (DESIGN §3).
const sessionsPath = "/api/sessions/"

// Config is what a Watcher needs. SessionURL, Dir and Fetcher are required.
type Config struct {
	// SessionURL is the session's URL, http(s)://host/api/sessions/<id>,
	// or its events URL (…/events).
	SessionURL string
	// Dir is the folder to mirror into; it is created if missing (private
	// to the user, as the photos are).
	Dir string
	// Fetcher makes the HTTP requests.
	Fetcher Fetcher
	// Delete makes a `removed` event delete the image's file, if the file
	// still holds the bytes downloaded. Without it the file is kept and the
	// removal reported.
	Delete bool
	// Report, if set, is told of every state change and every file
	// written, found, kept or deleted, in order, on Run's goroutine.
	Report func(Report)
	// Backoff is the policy for reconnecting the stream (on top of the
	// server's retry time) and for retrying a failed download; the zero
	// value is fine.
	Backoff eventsource.Backoff
}

// Watcher mirrors one session into one folder. Create it with New, then
// call Run; Run must not run twice at the same time.
type Watcher struct {
	cfg       Config
	origin    string // scheme://host of the server
	sessionID string
	key       string // the session's name in the state file
	eventsURL string

	// Run's own, touched only on its goroutine.
	st    *state
	sess  *sessionState
	known bool // the folder knew the session, or its stream went live
	dirty bool // st changed since it was saved
}

// New checks cfg and returns a Watcher; nothing is touched until Run.
func New(cfg Config) (*Watcher, error) {
	if cfg.Fetcher == nil {
		return nil, errors.New("watch: a Fetcher is required")
	}
	if cfg.Dir == "" {
		return nil, errors.New("watch: a folder is required")
	}
	if fi, err := os.Stat(cfg.Dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("watch: %s is not a folder", cfg.Dir)
	}
	origin, id, err := ParseSessionURL(cfg.SessionURL)
	if err != nil {
		return nil, err
	}
	return &Watcher{
		cfg:       cfg,
		origin:    origin,
		sessionID: id,
		key:       sessionKey(id),
		eventsURL: origin + sessionsPath + id + "/events",
	}, nil
}

// ParseSessionURL splits a session URL (or its events URL) into the
// server's origin (scheme://host[:port]) and the session id.
func ParseSessionURL(raw string) (origin, sessionID string, err error) {
	const want = "a session URL looks like http://host:8080/api/sessions/<id>"
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", "", fmt.Errorf("watch: %w (%s)", err, want)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("watch: %q is not an http(s) URL (%s)", raw, want)
	}
	if u.User != nil {
		return "", "", errors.New("watch: the session URL must not carry a user name or password")
	}
	rest, ok := strings.CutPrefix(strings.TrimSuffix(u.EscapedPath(), "/"), sessionsPath)
	id, tail, _ := strings.Cut(rest, "/")
	if !ok || (tail != "" && tail != "events") || !validID(id) {
		return "", "", fmt.Errorf("watch: %q names no session (%s)", u.Redacted(), want)
	}
	return u.Scheme + "://" + u.Host, id, nil
}

// validID accepts the URL-safe ids the server makes, and nothing that would
// need escaping or could change the path.
func validID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 256 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '~') {
			return false
		}
	}
	return true
}

// Run mirrors the session into the folder until the session ends or ctx is
// cancelled. It returns nil when the session has ended (an `expired`
// event, 410, or 404 for a session this folder or run had seen),
// ctx.Err() when cancelled, and an error otherwise: ErrNoSession, a
// refusal by the server (*eventsource.EndedError), or a local failure such
// as a full disk. Network failures are not errors: the stream reconnects
// and downloads are retried, with Config.Backoff, for as long as it takes.
func (w *Watcher) Run(ctx context.Context) error {
	dir := w.cfg.Dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer unlock()
	if err := removeLeftovers(dir); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	st, err := loadState(dir)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	_, known := st.Sessions[w.key]
	w.st, w.sess, w.known, w.dirty = st, st.session(w.key), known, false
	if w.sess.Ended {
		w.report(Report{Kind: ReportEnded})
		return nil
	}
	// A file that went missing (deleted by hand, or lost in a crash before
	// the folder was synced) is only noticed by a snapshot: start afresh.
	for _, e := range w.sess.Images {
		if !exists(filepath.Join(dir, e.File)) {
			w.sess.LastEventID = ""
			break
		}
	}

	c := &eventsource.Client{
		Connect:     w.connect,
		LastEventID: w.sess.LastEventID,
		Backoff:     w.cfg.Backoff,
		OnEvent:     func(ev eventsource.Event) error { return w.apply(ctx, ev) },
		OnState:     w.onState,
	}
	err = c.Run(ctx)

	var refused *eventsource.EndedError
	switch {
	case err == nil: // expired, or a download said 410
		return w.end()
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &refused) && (refused.Status == 410 || refused.Status == 404 && w.known):
		return w.end()
	case errors.As(err, &refused) && refused.Status == 404:
		return fmt.Errorf("watch: %w at %s: check the URL (a session that has ended is gone too)", ErrNoSession, w.origin)
	case errors.As(err, &refused):
		return fmt.Errorf("watch: %s: %w", w.origin, err)
	}
	return fmt.Errorf("watch: %w", err)
}

// end records that the session is over and reports it. Its image list is
// dropped (nothing more will change), so the state file does not grow with
// every session the folder ever collected.
func (w *Watcher) end() error {
	w.st.Sessions[w.key] = &sessionState{Ended: true}
	w.dirty = true
	if err := w.save(); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	w.report(Report{Kind: ReportEnded})
	return nil
}

// connect opens the event stream, resuming after lastEventID.
func (w *Watcher) connect(ctx context.Context, lastEventID string) (*eventsource.Response, error) {
	h := map[string]string{"Accept": "text/event-stream", "Cache-Control": "no-cache"}
	if lastEventID != "" {
		h["Last-Event-ID"] = lastEventID
	}
	return w.cfg.Fetcher.Fetch(ctx, w.eventsURL, h)
}

func (w *Watcher) onState(s eventsource.State, err error) {
	if s == eventsource.StateLive {
		w.known = true
	}
	if s == eventsource.StateEnded {
		return // Run's result says how it ended
	}
	w.report(Report{Kind: ReportState, State: s, Err: err})
}

func (w *Watcher) report(r Report) {
	if w.cfg.Report != nil {
		w.cfg.Report(r)
	}
}

// apply brings the folder up to date with one event, then records the
// event's id. The id is saved only once the event's files are in place,
// and the stream client moves past an event only once apply returns nil,
// so after a drop or a crash the event is delivered again, never skipped.
// Every report of a change follows the save that records it, so what a
// report says is already on disk.
func (w *Watcher) apply(ctx context.Context, ev eventsource.Event) error {
	var err error
	var after *Report // reported once the state is saved
	switch ev.Type {
	case api.EventSnapshot:
		var s api.Snapshot
		if jerr := json.Unmarshal([]byte(ev.Data), &s); jerr != nil {
			w.report(Report{Kind: ReportProblem, Err: fmt.Errorf("unreadable snapshot event: %w", jerr)})
			break
		}
		err = w.reconcile(ctx, s.Images, ev.ID)
	case api.EventImage:
		var img api.Image
		if jerr := json.Unmarshal([]byte(ev.Data), &img); jerr != nil || img.ID == "" {
			w.report(Report{Kind: ReportProblem, Err: fmt.Errorf("unreadable image event: %v", jerr)})
			break
		}
		w.report(Report{Kind: ReportImage, Image: img})
		err = w.ensure(ctx, img, ev.ID)
	case api.EventRemoved:
		var r api.Removed
		if jerr := json.Unmarshal([]byte(ev.Data), &r); jerr != nil || r.ID == "" {
			w.report(Report{Kind: ReportProblem, Err: fmt.Errorf("unreadable removed event: %v", jerr)})
			break
		}
		if rep, ok := w.removed(r.ID); ok {
			after = &rep
		}
	case api.EventExpired:
		return errEnded
	}
	if err != nil {
		return err
	}
	if ev.ID != w.sess.LastEventID {
		w.sess.LastEventID = ev.ID
		w.dirty = true
	}
	if err := w.save(); err != nil {
		return err
	}
	if after != nil {
		w.report(*after)
	}
	return nil
}

// save writes the state if it changed.
func (w *Watcher) save() error {
	if !w.dirty {
		return nil
	}
	if err := w.st.save(w.cfg.Dir); err != nil {
		return local(err)
	}
	w.dirty = false
	return nil
}

// reconcile makes the folder match a snapshot: files of images that are no
// longer in the session are treated as removed, and images without a file
// are fetched, oldest first. The snapshot's eventID is saved with the last
// change it brings, so no write trails the Synced report.
func (w *Watcher) reconcile(ctx context.Context, images []api.Image, eventID string) error {
	in := make(map[string]bool, len(images))
	for _, img := range images {
		in[img.ID] = true
	}
	var gone []string
	for id := range w.sess.Images {
		if !in[id] {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	var reports []Report
	for _, id := range gone {
		if r, ok := w.removed(id); ok {
			reports = append(reports, r)
		}
	}
	if err := w.save(); err != nil {
		return err
	}
	for _, r := range reports {
		w.report(r)
	}
	for _, img := range images {
		if err := w.ensure(ctx, img, ""); err != nil {
			return err
		}
	}
	if eventID != "" && eventID != w.sess.LastEventID {
		w.sess.LastEventID = eventID
		w.dirty = true
	}
	if err := w.save(); err != nil {
		return err
	}
	w.report(Report{Kind: ReportSynced, Count: len(images)})
	return nil
}

// ensure makes sure img has a file: nothing to do if it has one; a file
// already in the folder with exactly its bytes is taken as its copy;
// otherwise it is downloaded, retrying network failures until it works,
// the image turns out to be gone, or ctx ends. A non-empty eventID is the
// id of the event that announced img alone: it is saved together with the
// file, so one state write covers both and no write trails the report.
func (w *Watcher) ensure(ctx context.Context, img api.Image, eventID string) error {
	if img.ID == "" {
		return nil
	}
	if e, ok := w.sess.Images[img.ID]; ok {
		if exists(filepath.Join(w.cfg.Dir, e.File)) {
			return nil // a replay after a reconnect, or an image seen before
		}
		delete(w.sess.Images, img.ID) // went missing: fetch it again
		w.dirty = true
	}
	name := photoname.Safe(img.Name, img.ContentType)
	// Each report follows the save, so what it says is already on disk.
	if file, ok := w.findCopy(img, name); ok {
		w.record(img.ID, file, img.SHA256, eventID)
		if err := w.save(); err != nil {
			return err
		}
		w.report(Report{Kind: ReportFound, Image: img, File: file})
		return nil
	}
	for attempt := 0; ; attempt++ {
		file, sum, err := w.download(ctx, img, name)
		if err == nil {
			w.record(img.ID, file, sum, eventID)
			if err := w.save(); err != nil {
				return err
			}
			w.report(Report{Kind: ReportSaved, Image: img, File: file})
			return nil
		}
		var le *localError
		var se *statusError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &le):
			return fmt.Errorf("save %s: %w", name, le.err)
		case errors.As(err, &se) && se.status == 410:
			return errEnded
		case errors.As(err, &se) && se.status == 404:
			w.report(Report{Kind: ReportSkipped, Image: img})
			return nil
		case errors.As(err, &se) && se.permanent():
			w.report(Report{Kind: ReportSkipped, Image: img, Err: err})
			return nil
		}
		w.report(Report{Kind: ReportRetry, Image: img, Err: err})
		if err := sleep(ctx, w.cfg.Backoff.Delay(0, attempt)); err != nil {
			return err
		}
	}
}

// record notes img's file and, if eventID is set, that its event is done.
func (w *Watcher) record(imageID, file, sum, eventID string) {
	w.sess.Images[imageID] = fileEntry{File: file, SHA256: sum}
	if eventID != "" {
		w.sess.LastEventID = eventID
	}
	w.dirty = true
}

// findCopy looks among name, "name (2)"… for a file no other image owns
// that holds exactly img's bytes: a file downloaded just before a crash
// wiped the state's memory of it, or a folder whose state file was lost.
func (w *Watcher) findCopy(img api.Image, name string) (string, bool) {
	if img.SHA256 == "" {
		return "", false
	}
	for i := 1; i <= maxCandidates; i++ {
		cand := photoname.Numbered(name, i)
		p := filepath.Join(w.cfg.Dir, cand)
		if !exists(p) {
			return "", false // the first free name ends the search
		}
		if _, _, owned := w.st.owner(cand); owned {
			continue
		}
		if sameFile(p, img.Size, img.SHA256) {
			return cand, true
		}
	}
	return "", false
}

// statusError is an answer other than 200 to a download.
type statusError struct{ status int }

func (e *statusError) Error() string {
	return "the server answered " + strconv.Itoa(e.status)
}

// permanent reports whether asking again cannot help: a 4xx other than
// "too early / too many / timeout".
func (e *statusError) permanent() bool {
	switch e.status {
	case 408, 425, 429:
		return false
	}
	return e.status >= 400 && e.status <= 499
}

// download fetches img's original into a hidden temporary file, checks its
// size and SHA-256 against what the server announced, syncs it, and only
// then gives it its name, without ever replacing a file: a half-download
// is never visible under a photo's name, and nothing is overwritten. It
// returns the name used and the bytes' hash.
func (w *Watcher) download(ctx context.Context, img api.Image, name string) (file, sum string, err error) {
	// The URL is made from the ids (DESIGN §3) rather than taken from the
	// event's url field, so no event can send the watcher to another host.
	u := w.origin + sessionsPath + w.sessionID + "/images/" + url.PathEscape(img.ID)
	resp, err := w.cfg.Fetcher.Fetch(ctx, u, map[string]string{"Accept": "*/*"})
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	if resp.Status != 200 {
		return "", "", &statusError{resp.Status}
	}

	dir := w.cfg.Dir
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return "", "", local(err)
	}
	tmp, closed, placed := f.Name(), false, false
	defer func() {
		if !closed {
			f.Close()
		}
		if !placed {
			os.Remove(tmp)
		}
	}()

	limit := int64(maxUnsizedDownload)
	if img.Size > 0 {
		limit = img.Size
	}
	h := sha256.New()
	n, err := io.Copy(localWriter{io.MultiWriter(f, h)}, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", "", err
	}
	switch {
	case n > limit:
		return "", "", fmt.Errorf("the server sent more than the %d bytes announced", limit)
	case img.Size > 0 && n != img.Size:
		return "", "", fmt.Errorf("the download stopped after %d of %d bytes", n, img.Size)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if img.SHA256 != "" && !strings.EqualFold(sum, img.SHA256) {
		return "", "", errors.New("the bytes received do not match the image's SHA-256")
	}
	if err := f.Sync(); err != nil {
		return "", "", local(err)
	}
	closed = true
	if err := f.Close(); err != nil {
		return "", "", local(err)
	}
	if err := setTimes(tmp, img.CreatedAt); err != nil {
		return "", "", local(err)
	}
	for i := 1; i <= maxCandidates; i++ {
		cand := photoname.Numbered(name, i)
		if _, _, owned := w.st.owner(cand); owned {
			continue // another image's name, even if its file is away for now
		}
		ok, err := placeNoClobber(tmp, dir, cand)
		if err != nil {
			return "", "", local(err)
		}
		if ok {
			placed = true
			return cand, sum, local(syncDir(dir))
		}
	}
	return "", "", local(fmt.Errorf("no free name like %s", name))
}

// removed handles an image that left the session: its file is deleted with
// Config.Delete, if it still holds the bytes downloaded, and kept otherwise.
// Failing to delete is reported, not fatal. It returns what to report, if
// anything, once the state forgetting the image is saved.
func (w *Watcher) removed(imageID string) (Report, bool) {
	e, ok := w.sess.Images[imageID]
	if !ok {
		return Report{}, false
	}
	delete(w.sess.Images, imageID)
	w.dirty = true
	p := filepath.Join(w.cfg.Dir, e.File)
	switch {
	case !exists(p):
		return Report{}, false // gone already; nothing to keep or delete
	case !w.cfg.Delete:
		return Report{Kind: ReportKept, File: e.File}, true
	case e.SHA256 != "" && !sameFile(p, 0, e.SHA256):
		return Report{Kind: ReportKept, File: e.File, Err: errors.New("it was changed here since it was downloaded")}, true
	}
	if err := os.Remove(p); err != nil {
		return Report{Kind: ReportKept, File: e.File, Err: err}, true
	}
	return Report{Kind: ReportDeleted, File: e.File}, true
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
