package storagetest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"qrsync/storage"
)

// Catalog is all that a catalog backend provides, and what this suite
// proves of it. Its users ask for less, each through its own small
// interface (the server's sessions, gallery and event log); one backend
// type implements them all.
//
// The catalog keeps sessions, their images and each session's event log.
// Adding or removing an image and appending its event are one atomic step,
// so the log and the gallery never disagree, and replaying the log is
// live delivery. It never reads a clock: every time it stores or compares
// is the caller's (the server's), so that instances and backends agree.
type Catalog interface {
	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s storage.Session) error
	// Session returns the session with id: ErrNotFound if unknown;
	// ErrExpired with the record if it was ended (EndSession); ErrExpired
	// with only ID and ExpiresAt (when it ended) for a deleted session
	// whose tombstone stands. A session whose ExpiresAt has passed but
	// which nobody ended is returned as it is: the caller judges times.
	Session(ctx context.Context, id string) (storage.Session, error)
	// SessionByToken looks a session up by an upload token, with the same
	// errors as Session. A token replaced by RenewUploadLink still finds
	// its session, whose UploadToken then differs from it: the caller
	// tells a replaced link from the current one.
	SessionByToken(ctx context.Context, token string) (storage.Session, error)
	// RenewUploadLink gives a live session a new upload token valid until
	// expiresAt, and appends a "session" event, atomically. The old
	// tokens keep finding the session (see SessionByToken).
	RenewUploadLink(ctx context.Context, id, token string, expiresAt time.Time) (storage.Session, storage.Event, error)
	// ExtendSession moves a live session's ExpiresAt to expiresAt if that
	// is later, and then appends a "session" event, atomically. It returns
	// the record and the event (zero when nothing moved).
	ExtendSession(ctx context.Context, id string, expiresAt time.Time) (storage.Session, storage.Event, error)
	// EndSession ends a live session at the given time: from then on it
	// is ErrExpired with ExpiresAt = at, an EventEnded in its log wakes
	// its readers, and ExpiredSessions lists it until DeleteSession.
	// Ending an ended session is nil.
	EndSession(ctx context.Context, id string, at time.Time) error
	// DeleteSession removes an ended or live session's images, event log
	// and record, and wakes its readers. What stays is a tombstone: the
	// id and every upload token it had answer ErrExpired rather than
	// ErrNotFound until PurgeTombstones passes tombstoneUntil (a backend
	// may also let it lapse by itself then). Deleting a tombstone is nil;
	// unknown is ErrNotFound.
	DeleteSession(ctx context.Context, id string, tombstoneUntil time.Time) error
	// ExpiredSessions lists ids of sessions that are ended, or whose
	// ExpiresAt is at or before now, and whose data is not yet deleted,
	// so the server can remove them and their blobs (also after a
	// restart). A backend that drops records by itself (a TTL) keeps
	// each long enough after ExpiresAt for this to list it first: the
	// record names the blobs, and without it they would leak.
	ExpiredSessions(ctx context.Context, now time.Time) ([]string, error)
	// PurgeTombstones forgets tombstones whose time is at or before now.
	PurgeTombstones(ctx context.Context, now time.Time) error

	// AddImage records img in a live session and appends an "image"
	// event carrying it, atomically. It fails with ErrQuota if q would be
	// exceeded, and with ErrDuplicate, returning the image already
	// stored, if the session has an image with img.SHA256.
	AddImage(ctx context.Context, sessionID string, img storage.Image, q storage.Quota) (storage.Image, storage.Event, error)
	// RemoveImage deletes an image and appends a "removed" event.
	RemoveImage(ctx context.Context, sessionID, imageID string) (storage.Event, error)
	// ImageBySHA returns the session's image whose bytes hash to sum (hex
	// SHA-256), reading the index AddImage keeps for duplicates rather than
	// the whole gallery; found is false if the session has none. A session
	// that is unknown or over is an error, as for Image.
	ImageBySHA(ctx context.Context, sessionID, sum string) (img storage.Image, found bool, err error)
	// HasImageSized reports whether the session holds an image of lo to
	// hi bytes (both included), reading an index rather than the whole
	// gallery, so that the check costs the same in a session of a
	// thousand photos. Errors as for Image.
	HasImageSized(ctx context.Context, sessionID string, lo, hi int64) (bool, error)
	// Image returns one image of a session; ErrNotFound or ErrExpired as
	// for Session.
	Image(ctx context.Context, sessionID, imageID string) (storage.Image, error)
	// Images returns the session's images, oldest first, and the id of the
	// last event they reflect ("" if the log is empty), read atomically.
	Images(ctx context.Context, sessionID string) ([]storage.Image, string, error)

	// Read returns up to limit events (limit <= 0: all) after afterID,
	// oldest first; afterID "" is the start of the log. When there are
	// none yet it blocks until one is appended or ctx ends (then
	// ctx.Err()), as XREAD BLOCK does, so live delivery and replay are one
	// call and one round trip. An id the log does not hold (unknown, or
	// trimmed) is ErrEventGone. A session unknown or over is ErrNotFound
	// or ErrExpired, at once, and a reader blocked when the session ends
	// or is deleted, on any handle of the backend, wakes with ErrExpired.
	Read(ctx context.Context, sessionID, afterID string, limit int) ([]storage.Event, error)

	// Ping reports whether the backend answers, for /readyz.
	Ping(ctx context.Context) error
}

// TestCatalog runs the conformance suite for a Catalog. open
// returns a handle on the catalog under test; it is called once per
// subtest, and the suite does not close the handle (the caller's cleanup
// does). A catalog that can count its sessions (SessionCount, which the
// server uses for its cap on sessions) is checked for that too.
func TestCatalog(t *testing.T, open func(t *testing.T) Catalog) {
	// Counting is checked first, alone: the other subtests run in
	// parallel and create sessions, so the count would move under it on a
	// shared backend.
	t.Run("SessionCount", func(t *testing.T) { testCatalogSessionCount(t, open(t)) })
	tests := []struct {
		name string
		run  func(t *testing.T, c Catalog)
	}{
		{"CreateAndGet", testCatalogCreateAndGet},
		{"Token", testCatalogToken},
		{"Unknown", testCatalogUnknown},
		{"Expired", testCatalogExpired},
		{"Delete", testCatalogDelete},
		{"DeleteWakesReader", testCatalogDeleteWakesReader},
		{"AddImages", testCatalogAddImages},
		{"EventIDs", testCatalogEventIDs},
		{"EventsAfter", testCatalogEventsAfter},
		{"EmptyLog", testCatalogEmptyLog},
		{"Duplicate", testCatalogDuplicate},
		{"QuotaCount", testCatalogQuotaCount},
		{"QuotaBytes", testCatalogQuotaBytes},
		{"ConcurrentDuplicate", testCatalogConcurrentDuplicate},
		{"ConcurrentQuota", testCatalogConcurrentQuota},
		{"RemoveImage", testCatalogRemoveImage},
		{"ImageBySHA", testCatalogImageBySHA},
		{"HasImageSized", testCatalogHasImageSized},
		{"ReadWakesOnAppend", testCatalogReadWakesOnAppend},
		{"ReadReturnsAtOnce", testCatalogReadReturnsAtOnce},
		{"ReadHonoursContext", testCatalogReadHonoursContext},
		{"SnapshotPlusEvents", testCatalogSnapshotPlusEvents},
		{"Ping", testCatalogPing},
		{"RenewUploadLink", testCatalogRenewUploadLink},
		{"ExtendSession", testCatalogExtendSession},
		{"EndSession", testCatalogEndSession},
		{"TombstoneLapses", testCatalogTombstoneLapses},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// eventIDPattern is the alphabet DESIGN §4 allows in an SSE id.
var eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// now is the suite's notion of the current time, whole seconds in UTC so
// that any backend's time encoding round-trips it exactly.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// newSession creates a session that expires expiresIn from now (negative:
// already expired).
func newSession(t *testing.T, c Catalog, expiresIn time.Duration) storage.Session {
	t.Helper()
	created := now().Add(-time.Minute)
	if expiresIn < 0 {
		created = created.Add(expiresIn)
	}
	s := storage.Session{
		ID:          randomID(),
		UploadToken: randomID(),
		CreatedAt:   created,
		// The link lapses before the session, as the server makes them.
		UploadExpiresAt: now().Add(min(expiresIn, time.Hour) - time.Minute),
		ExpiresAt:       now().Add(expiresIn),
	}
	if err := c.CreateSession(testContext(t), s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

func liveSession(t *testing.T, c Catalog) storage.Session {
	t.Helper()
	return newSession(t, c, time.Hour)
}

// newImage returns an image with random id and hash. CreatedAt has
// millisecond precision in UTC, which JSON round-trips exactly.
func newImage(sessionID string, size int64) storage.Image {
	id := randomID()
	return storage.Image{
		ID:          id,
		Name:        "IMG_" + id[:6] + ".jpg",
		ContentType: "image/jpeg",
		Size:        size,
		Width:       4032,
		Height:      3024,
		SHA256:      randomID() + randomID(),
		CreatedAt:   time.Now().UTC().Truncate(time.Millisecond),
		Upload:      "up-" + sessionID[:6] + id[:6],
	}
}

// sameImage reports whether a and b describe the same image; times are
// compared as instants.
func sameImage(a, b storage.Image) bool {
	ta, tb := a.CreatedAt, b.CreatedAt
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

func imageIDs(imgs []storage.Image) []string {
	ids := make([]string, len(imgs))
	for i, img := range imgs {
		ids[i] = img.ID
	}
	return ids
}

func eventIDs(evs []storage.Event) []string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}

// addImage adds img with no quota and checks the answer.
func addImage(t *testing.T, c Catalog, sessionID string, img storage.Image) storage.Event {
	t.Helper()
	got, ev, err := c.AddImage(testContext(t), sessionID, img, storage.Quota{})
	if err != nil {
		t.Fatalf("AddImage: %v", err)
	}
	if !sameImage(got, img) {
		t.Errorf("AddImage returned %+v, want %+v", got, img)
	}
	checkImageEvent(t, ev, img)
	return ev
}

// sameEvent reports whether a and b are the same event, read twice.
func sameEvent(a, b storage.Event) bool {
	return a.ID == b.ID && a.Type == b.Type && sameImage(a.Image, b.Image) && a.ImageID == b.ImageID &&
		a.Session.ID == b.Session.ID && a.Session.UploadToken == b.Session.UploadToken &&
		a.Session.ExpiresAt.Equal(b.Session.ExpiresAt) && a.Session.UploadExpiresAt.Equal(b.Session.UploadExpiresAt)
}

func checkImageEvent(t *testing.T, ev storage.Event, img storage.Image) {
	t.Helper()
	if !eventIDPattern.MatchString(ev.ID) {
		t.Errorf("event id %q is not short opaque ASCII", ev.ID)
	}
	if ev.Type != storage.EventImage {
		t.Errorf("event type %q, want %q", ev.Type, storage.EventImage)
	}
	if !sameImage(ev.Image, img) {
		t.Errorf("event image %+v, want %+v", ev.Image, img)
	}
}

// allEvents reads the whole log, in pages, to exercise limit as well.
func allEvents(t *testing.T, c Catalog, sessionID string) []storage.Event {
	t.Helper()
	var all []storage.Event
	after := ""
	for {
		page, err := readNow(c, testContext(t), sessionID, after, 3)
		if err != nil {
			t.Fatalf("Read(%q): %v", after, err)
		}
		if len(page) > 3 {
			t.Fatalf("Read(limit 3) returned %d events", len(page))
		}
		all = append(all, page...)
		if len(page) < 3 {
			return all
		}
		after = page[len(page)-1].ID
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func testCatalogCreateAndGet(t *testing.T, c Catalog) {
	s := liveSession(t, c)
	got, err := c.Session(testContext(t), s.ID)
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	checkSession(t, got, s, 0, 0)
}

func checkSession(t *testing.T, got, want storage.Session, images int, bytes int64) {
	t.Helper()
	if got.ID != want.ID || got.UploadToken != want.UploadToken ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		!got.UploadExpiresAt.Equal(want.UploadExpiresAt) {
		t.Errorf("session = %+v, want %+v", got, want)
	}
	if got.Images != images || got.Bytes != bytes {
		t.Errorf("session counts %d images / %d bytes, want %d / %d", got.Images, got.Bytes, images, bytes)
	}
}

func testCatalogToken(t *testing.T, c Catalog) {
	s := liveSession(t, c)
	other := liveSession(t, c)
	for _, want := range []storage.Session{s, other} {
		got, err := c.SessionByToken(testContext(t), want.UploadToken)
		if err != nil {
			t.Fatalf("SessionByToken: %v", err)
		}
		checkSession(t, got, want, 0, 0)
	}
	// The token is not a session id, nor the id a token.
	_, err := c.SessionByToken(testContext(t), s.ID)
	wantErr(t, "SessionByToken(session id)", err, storage.ErrNotFound)
	_, err = c.Session(testContext(t), s.UploadToken)
	wantErr(t, "Session(upload token)", err, storage.ErrNotFound)
}

func testCatalogUnknown(t *testing.T, c Catalog) {
	ctx := testContext(t)
	id := randomID()
	_, err := c.Session(ctx, id)
	wantErr(t, "Session", err, storage.ErrNotFound)
	_, err = c.SessionByToken(ctx, id)
	wantErr(t, "SessionByToken", err, storage.ErrNotFound)
	err = c.DeleteSession(ctx, id, tombstone())
	wantErr(t, "DeleteSession", err, storage.ErrNotFound)
	_, _, err = c.RenewUploadLink(ctx, id, randomID(), now().Add(time.Hour))
	wantErr(t, "RenewUploadLink", err, storage.ErrNotFound)
	_, _, err = c.ExtendSession(ctx, id, now().Add(time.Hour))
	wantErr(t, "ExtendSession", err, storage.ErrNotFound)
	err = c.EndSession(ctx, id, now())
	wantErr(t, "EndSession", err, storage.ErrNotFound)
	_, _, err = c.AddImage(ctx, id, newImage(id, 1), storage.Quota{})
	wantErr(t, "AddImage", err, storage.ErrNotFound)
	_, err = c.RemoveImage(ctx, id, randomID())
	wantErr(t, "RemoveImage", err, storage.ErrNotFound)
	_, err = c.Image(ctx, id, randomID())
	wantErr(t, "Image", err, storage.ErrNotFound)
	_, _, err = c.Images(ctx, id)
	wantErr(t, "Images", err, storage.ErrNotFound)
	_, err = readNow(c, ctx, id, "", 10)
	wantErr(t, "Read (now)", err, storage.ErrNotFound)
	// Waiting on nothing must not block until ctx ends.
	err = waitRead(c, ctx, id, "")
	wantErr(t, "Read", err, storage.ErrNotFound)

	// An unknown image of a known session.
	s := liveSession(t, c)
	_, err = c.Image(ctx, s.ID, randomID())
	wantErr(t, "Image(unknown image)", err, storage.ErrNotFound)
	_, err = c.RemoveImage(ctx, s.ID, randomID())
	wantErr(t, "RemoveImage(unknown image)", err, storage.ErrNotFound)
}

func testCatalogExpired(t *testing.T, c Catalog) {
	ctx := testContext(t)
	live := liveSession(t, c)
	s := newSession(t, c, -time.Minute)

	// Past its time, a session nobody ended is still the caller's to
	// judge: the catalog reads no clock.
	got, err := c.Session(ctx, s.ID)
	if err != nil {
		t.Fatalf("Session(past its time) = %v, want the record", err)
	}
	checkSession(t, got, s, 0, 0)

	ids, err := c.ExpiredSessions(ctx, now())
	if err != nil {
		t.Fatalf("ExpiredSessions: %v", err)
	}
	if !slices.Contains(ids, s.ID) {
		t.Errorf("ExpiredSessions lacks the expired session")
	}
	if slices.Contains(ids, live.ID) {
		t.Errorf("ExpiredSessions lists a live session")
	}
	// A later now sees the live session as expired too: the time is the
	// caller's.
	ids, err = c.ExpiredSessions(ctx, live.ExpiresAt.Add(time.Second))
	if err != nil {
		t.Fatalf("ExpiredSessions: %v", err)
	}
	if !slices.Contains(ids, s.ID) || !slices.Contains(ids, live.ID) {
		t.Errorf("ExpiredSessions(after both expiries) lacks one of them")
	}

	// Ended, it is ErrExpired everywhere, with the record where there is
	// one, its end the time given.
	end := s.ExpiresAt.Add(-time.Second)
	if err := c.EndSession(ctx, s.ID, end); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	ended := s
	ended.ExpiresAt = end
	got, err = c.Session(ctx, s.ID)
	wantErr(t, "Session", err, storage.ErrExpired)
	checkSession(t, got, ended, 0, 0) // the record comes with the error
	got, err = c.SessionByToken(ctx, s.UploadToken)
	wantErr(t, "SessionByToken", err, storage.ErrExpired)
	checkSession(t, got, ended, 0, 0)

	_, _, err = c.AddImage(ctx, s.ID, newImage(s.ID, 1), storage.Quota{})
	wantErr(t, "AddImage", err, storage.ErrExpired)
	_, err = c.RemoveImage(ctx, s.ID, randomID())
	wantErr(t, "RemoveImage", err, storage.ErrExpired)
	_, err = c.Image(ctx, s.ID, randomID())
	wantErr(t, "Image", err, storage.ErrExpired)
	_, _, err = c.Images(ctx, s.ID)
	wantErr(t, "Images", err, storage.ErrExpired)
	_, err = readNow(c, ctx, s.ID, "", 10)
	wantErr(t, "Read (now)", err, storage.ErrExpired)

	// An ended session cannot be changed, and ending it again is nil:
	// two instances' sweeps may race to it.
	_, _, err = c.RenewUploadLink(ctx, s.ID, randomID(), now().Add(time.Hour))
	wantErr(t, "RenewUploadLink", err, storage.ErrExpired)
	_, _, err = c.ExtendSession(ctx, s.ID, now().Add(time.Hour))
	wantErr(t, "ExtendSession", err, storage.ErrExpired)
	if err := c.EndSession(ctx, s.ID, now()); err != nil {
		t.Errorf("EndSession(ended) = %v, want nil", err)
	}
	if got, _ := c.Session(ctx, s.ID); !got.ExpiresAt.Equal(end) {
		t.Errorf("a second EndSession moved the end to %v, want %v", got.ExpiresAt, end)
	}

	// The sweeper removes expired sessions; their tombstone says ended.
	if err := c.DeleteSession(ctx, s.ID, tombstone()); err != nil {
		t.Fatalf("DeleteSession(expired): %v", err)
	}
	_, err = c.Session(ctx, s.ID)
	wantErr(t, "Session after delete", err, storage.ErrExpired)
	ids, err = c.ExpiredSessions(ctx, now())
	if err != nil {
		t.Fatalf("ExpiredSessions: %v", err)
	}
	if slices.Contains(ids, s.ID) {
		t.Errorf("ExpiredSessions lists a deleted session")
	}
}

func testCatalogDelete(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	keep := liveSession(t, c)
	img := newImage(s.ID, 100)
	addImage(t, c, s.ID, img)
	addImage(t, c, s.ID, newImage(s.ID, 200))
	kept := addImage(t, c, keep.ID, newImage(keep.ID, 300))

	if err := c.DeleteSession(ctx, s.ID, tombstone()); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	// What is left is a tombstone: ended, not unknown, with nothing in it.
	_, err := c.Session(ctx, s.ID)
	wantErr(t, "Session", err, storage.ErrExpired)
	_, err = c.SessionByToken(ctx, s.UploadToken)
	wantErr(t, "SessionByToken", err, storage.ErrExpired)
	_, _, err = c.Images(ctx, s.ID)
	wantErr(t, "Images", err, storage.ErrExpired)
	_, err = c.Image(ctx, s.ID, img.ID)
	wantErr(t, "Image", err, storage.ErrExpired)
	_, err = readNow(c, ctx, s.ID, "", 10)
	wantErr(t, "Read (now)", err, storage.ErrExpired)
	_, _, err = c.AddImage(ctx, s.ID, newImage(s.ID, 1), storage.Quota{})
	wantErr(t, "AddImage", err, storage.ErrExpired)
	err = waitRead(c, ctx, s.ID, "")
	wantErr(t, "Read", err, storage.ErrExpired)
	if err := c.DeleteSession(ctx, s.ID, tombstone()); err != nil {
		t.Errorf("second DeleteSession = %v, want nil (a tombstone already)", err)
	}
	if err := c.CreateSession(ctx, storage.Session{ID: s.ID, UploadToken: randomID(), CreatedAt: now(), ExpiresAt: now().Add(time.Hour)}); err == nil {
		t.Error("CreateSession reused the id of a tombstone")
	}
	ids, err := c.ExpiredSessions(ctx, now().Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ids, s.ID) {
		t.Error("ExpiredSessions lists a tombstone")
	}

	// Other sessions are untouched.
	imgs, last, err := c.Images(ctx, keep.ID)
	if err != nil || len(imgs) != 1 || last != kept.ID {
		t.Errorf("the other session after delete: %d images, last %q, %v; want 1, %q", len(imgs), last, err, kept.ID)
	}
}

func testCatalogDeleteWakesReader(t *testing.T, c Catalog) {
	s := liveSession(t, c)
	ev := addImage(t, c, s.ID, newImage(s.ID, 1))
	done := make(chan error, 1)
	go func() { done <- waitRead(c, testContext(t), s.ID, ev.ID) }()
	// Give the waiter a moment to block. The test does not depend on it:
	// a Read that starts after the delete must return ErrExpired at once.
	time.Sleep(50 * time.Millisecond)
	if err := c.DeleteSession(testContext(t), s.ID, tombstone()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, storage.ErrExpired) {
			t.Errorf("Read after DeleteSession = %v, want ErrExpired", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("Read did not return after DeleteSession")
	}
}

func testCatalogAddImages(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	var want []storage.Image
	var total int64
	for i := range 5 {
		img := newImage(s.ID, int64(1000*(i+1)))
		addImage(t, c, s.ID, img)
		want = append(want, img)
		total += img.Size
	}
	imgs, _, err := c.Images(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(imageIDs(imgs), imageIDs(want)) {
		t.Fatalf("Images = %q, want oldest first %q", imageIDs(imgs), imageIDs(want))
	}
	for i := range want {
		if !sameImage(imgs[i], want[i]) {
			t.Errorf("Images[%d] = %+v, want %+v", i, imgs[i], want[i])
		}
		got, err := c.Image(ctx, s.ID, want[i].ID)
		if err != nil || !sameImage(got, want[i]) {
			t.Errorf("Image(%d) = %+v, %v; want %+v", i, got, err, want[i])
		}
	}
	got, err := c.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkSession(t, got, s, len(want), total)
	got, err = c.SessionByToken(ctx, s.UploadToken)
	if err != nil {
		t.Fatal(err)
	}
	checkSession(t, got, s, len(want), total)
}

func testCatalogEventIDs(t *testing.T, c Catalog) {
	s := liveSession(t, c)
	var returned []storage.Event
	for range 7 {
		returned = append(returned, addImage(t, c, s.ID, newImage(s.ID, 1)))
	}
	log := allEvents(t, c, s.ID)
	if !slices.Equal(eventIDs(log), eventIDs(returned)) {
		t.Fatalf("log ids %q, want the ids AddImage returned, in order: %q", eventIDs(log), eventIDs(returned))
	}
	seen := map[string]bool{}
	for i, ev := range log {
		if ev.ID == "" || seen[ev.ID] {
			t.Fatalf("event %d has an empty or repeated id %q", i, ev.ID)
		}
		seen[ev.ID] = true
		if !sameEvent(ev, returned[i]) {
			t.Errorf("log event %d = %+v, want %+v", i, ev, returned[i])
		}
		// Increasing: every id is followed by exactly the events logged
		// after it, whatever the ids look like.
		after, err := readNow(c, testContext(t), s.ID, ev.ID, 100)
		if err != nil {
			t.Fatalf("Read(%q): %v", ev.ID, err)
		}
		if !slices.Equal(eventIDs(after), eventIDs(log[i+1:])) {
			t.Errorf("Read(event %d) = %q, want %q", i, eventIDs(after), eventIDs(log[i+1:]))
		}
	}
}

func testCatalogEventsAfter(t *testing.T, c Catalog) {
	s := liveSession(t, c)
	other := liveSession(t, c)
	otherEv := addImage(t, c, other.ID, newImage(other.ID, 1))
	var evs []storage.Event
	for range 6 {
		evs = append(evs, addImage(t, c, s.ID, newImage(s.ID, 1)))
	}
	tests := []struct {
		name  string
		after string
		limit int
		want  []storage.Event
		err   error
	}{
		{"start", "", 100, evs, nil},
		{"start limited", "", 2, evs[:2], nil},
		{"middle", evs[2].ID, 100, evs[3:], nil},
		{"middle limited", evs[2].ID, 1, evs[3:4], nil},
		{"last", evs[5].ID, 100, nil, nil},
		{"unknown", "unknown-id", 100, nil, storage.ErrEventGone},
		{"unknown numeric", "99999999999", 100, nil, storage.ErrEventGone},
		{"unknown dotted", "99999999999-0", 100, nil, storage.ErrEventGone},
	}
	if !slices.Contains(eventIDs(evs), otherEv.ID) {
		// Ids are per session; another session's id is unknown here unless
		// this session happens to use the same string.
		tests = append(tests, struct {
			name  string
			after string
			limit int
			want  []storage.Event
			err   error
		}{"other session's id", otherEv.ID, 100, nil, storage.ErrEventGone})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readNow(c, testContext(t), s.ID, tt.after, tt.limit)
			if tt.err != nil {
				wantErr(t, fmt.Sprintf("Read(%q)", tt.after), err, tt.err)
				return
			}
			if err != nil {
				t.Fatalf("Read(%q): %v", tt.after, err)
			}
			if !slices.Equal(eventIDs(got), eventIDs(tt.want)) {
				t.Errorf("Read(%q, %d) = %q, want %q", tt.after, tt.limit, eventIDs(got), eventIDs(tt.want))
			}
		})
	}
}

func testCatalogEmptyLog(t *testing.T, c Catalog) {
	s := liveSession(t, c)
	evs, err := readNow(c, testContext(t), s.ID, "", 10)
	if err != nil || len(evs) != 0 {
		t.Errorf("EventsAfter on a new session = %v, %v; want nothing", evs, err)
	}
	imgs, last, err := c.Images(testContext(t), s.ID)
	if err != nil || len(imgs) != 0 || last != "" {
		t.Errorf("Images on a new session = %v, %q, %v; want nothing, \"\"", imgs, last, err)
	}
	// The first event has an id a client can send back.
	ev := addImage(t, c, s.ID, newImage(s.ID, 1))
	if ev.ID == "" {
		t.Fatal("the first event has an empty id")
	}
	evs, err = readNow(c, testContext(t), s.ID, ev.ID, 10)
	if err != nil || len(evs) != 0 {
		t.Errorf("Read(first id) = %v, %v; want nothing", evs, err)
	}
}

func testCatalogDuplicate(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	first := newImage(s.ID, 500)
	firstEv := addImage(t, c, s.ID, first)
	again := newImage(s.ID, 500)
	again.SHA256 = first.SHA256
	got, ev, err := c.AddImage(ctx, s.ID, again, storage.Quota{})
	wantErr(t, "AddImage(same sha256)", err, storage.ErrDuplicate)
	if !sameImage(got, first) {
		t.Errorf("AddImage(duplicate) returned %+v, want the stored image %+v", got, first)
	}
	if ev.ID != "" {
		t.Errorf("AddImage(duplicate) returned event %q, want none", ev.ID)
	}
	// A full session still says duplicate: the photo is there already.
	_, _, err = c.AddImage(ctx, s.ID, again, storage.Quota{MaxImages: 1, MaxBytes: 500})
	wantErr(t, "AddImage(same sha256, session full)", err, storage.ErrDuplicate)

	if log := allEvents(t, c, s.ID); !slices.Equal(eventIDs(log), []string{firstEv.ID}) {
		t.Errorf("log = %q, want only the first image's event", eventIDs(log))
	}
	sess, err := c.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkSession(t, sess, s, 1, 500)
	// The same bytes in another session are no duplicate.
	other := liveSession(t, c)
	addImage(t, c, other.ID, again)
}

func testCatalogQuotaCount(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	q := storage.Quota{MaxImages: 3}
	for i := range 3 {
		if _, _, err := c.AddImage(ctx, s.ID, newImage(s.ID, 10), q); err != nil {
			t.Fatalf("AddImage %d of 3: %v", i+1, err)
		}
	}
	_, ev, err := c.AddImage(ctx, s.ID, newImage(s.ID, 10), q)
	wantErr(t, "AddImage over MaxImages", err, storage.ErrQuota)
	if ev.ID != "" {
		t.Errorf("a refused AddImage returned event %q", ev.ID)
	}
	sess, err := c.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkSession(t, sess, s, 3, 30)
	if log := allEvents(t, c, s.ID); len(log) != 3 {
		t.Errorf("log has %d events, want 3", len(log))
	}
	// Zero means no limit.
	for range 3 {
		if _, _, err := c.AddImage(ctx, s.ID, newImage(s.ID, 10), storage.Quota{}); err != nil {
			t.Fatalf("AddImage without quota: %v", err)
		}
	}
}

func testCatalogQuotaBytes(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	q := storage.Quota{MaxBytes: 1000}
	steps := []struct {
		size int64
		err  error
	}{
		{600, nil},
		{500, storage.ErrQuota},
		{400, nil}, // exactly MaxBytes is allowed
		{1, storage.ErrQuota},
	}
	for i, st := range steps {
		_, _, err := c.AddImage(ctx, s.ID, newImage(s.ID, st.size), q)
		if st.err == nil && err != nil {
			t.Fatalf("step %d: AddImage(%d bytes): %v", i, st.size, err)
		}
		if st.err != nil {
			wantErr(t, fmt.Sprintf("step %d: AddImage(%d bytes)", i, st.size), err, st.err)
		}
	}
	sess, err := c.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkSession(t, sess, s, 2, 1000)
}

// testCatalogConcurrentDuplicate uploads the same photo from 16 goroutines:
// exactly one is stored, the others learn which.
func testCatalogConcurrentDuplicate(t *testing.T, c Catalog) {
	const n = 16
	s := liveSession(t, c)
	sha := randomID() + randomID()
	type result struct {
		sent, got storage.Image
		ev        storage.Event
		err       error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			img := newImage(s.ID, 100)
			img.SHA256 = sha
			got, ev, err := c.AddImage(testContext(t), s.ID, img, storage.Quota{})
			results[i] = result{img, got, ev, err}
		})
	}
	wg.Wait()
	var winner *result
	for i := range results {
		r := &results[i]
		switch {
		case r.err == nil:
			if winner != nil {
				t.Fatalf("two concurrent AddImage calls with one sha256 both succeeded")
			}
			winner = r
		case !errors.Is(r.err, storage.ErrDuplicate):
			t.Fatalf("concurrent AddImage: %v, want nil or ErrDuplicate", r.err)
		}
	}
	if winner == nil {
		t.Fatal("no concurrent AddImage succeeded")
	}
	for _, r := range results {
		if r.err != nil && !sameImage(r.got, winner.sent) {
			t.Errorf("a duplicate returned %+v, want the stored image %+v", r.got, winner.sent)
		}
	}
	log := allEvents(t, c, s.ID)
	if len(log) != 1 || log[0].ID != winner.ev.ID {
		t.Errorf("log = %q, want just %q", eventIDs(log), winner.ev.ID)
	}
	imgs, _, err := c.Images(testContext(t), s.ID)
	if err != nil || len(imgs) != 1 {
		t.Errorf("Images: %d, %v; want 1", len(imgs), err)
	}
}

// testCatalogConcurrentQuota races 32 distinct uploads for 10 places.
func testCatalogConcurrentQuota(t *testing.T, c Catalog) {
	const n, limit = 32, 10
	s := liveSession(t, c)
	q := storage.Quota{MaxImages: limit}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = c.AddImage(testContext(t), s.ID, newImage(s.ID, 7), q)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrQuota):
			t.Fatalf("concurrent AddImage: %v, want nil or ErrQuota", err)
		}
	}
	if ok != limit {
		t.Errorf("%d of %d concurrent AddImage calls succeeded, want %d", ok, n, limit)
	}
	if log := allEvents(t, c, s.ID); len(log) != limit {
		t.Errorf("log has %d events, want %d", len(log), limit)
	}
	imgs, _, err := c.Images(testContext(t), s.ID)
	if err != nil || len(imgs) != limit {
		t.Errorf("Images: %d, %v; want %d", len(imgs), err, limit)
	}
	sess, err := c.Session(testContext(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkSession(t, sess, s, limit, 7*limit)
}

func testCatalogImageBySHA(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	first, second := newImage(s.ID, 100), newImage(s.ID, 200)
	addImage(t, c, s.ID, first)
	addImage(t, c, s.ID, second)
	for _, want := range []storage.Image{first, second} {
		got, found, err := c.ImageBySHA(ctx, s.ID, want.SHA256)
		if err != nil || !found || !sameImage(got, want) {
			t.Errorf("ImageBySHA(%s) = %+v, %v, %v; want %+v", want.SHA256, got, found, err, want)
		}
	}
	if _, found, err := c.ImageBySHA(ctx, s.ID, "0123"); err != nil || found {
		t.Errorf("ImageBySHA(unknown sum) = found %v, %v; want not found, no error", found, err)
	}
	// The same bytes in another session are not this one's.
	other := liveSession(t, c)
	if _, found, err := c.ImageBySHA(ctx, other.ID, first.SHA256); err != nil || found {
		t.Errorf("ImageBySHA(another session's sum) = found %v, %v; want not found", found, err)
	}
	if _, err := c.RemoveImage(ctx, s.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, found, err := c.ImageBySHA(ctx, s.ID, first.SHA256); err != nil || found {
		t.Errorf("ImageBySHA(removed image's sum) = found %v, %v; want not found", found, err)
	}
	_, _, err := c.ImageBySHA(ctx, "no-such-session", first.SHA256)
	wantErr(t, "ImageBySHA(unknown session)", err, storage.ErrNotFound)
	if err := c.DeleteSession(ctx, s.ID, tombstone()); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ImageBySHA(ctx, s.ID, second.SHA256)
	wantErr(t, "ImageBySHA(deleted session)", err, storage.ErrExpired)
}

func testCatalogRemoveImage(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	q := storage.Quota{MaxImages: 3}
	var imgs []storage.Image
	var last storage.Event
	for range 3 {
		img := newImage(s.ID, 100)
		got, ev, err := c.AddImage(ctx, s.ID, img, q)
		if err != nil {
			t.Fatal(err)
		}
		imgs, last = append(imgs, got), ev
	}
	gone := imgs[1]
	ev, err := c.RemoveImage(ctx, s.ID, gone.ID)
	if err != nil {
		t.Fatalf("RemoveImage: %v", err)
	}
	if ev.Type != storage.EventRemoved || !eventIDPattern.MatchString(ev.ID) {
		t.Errorf("removed event = %q %q", ev.Type, ev.ID)
	}
	if ev.ImageID != gone.ID {
		t.Errorf("removed event names %q, want %q", ev.ImageID, gone.ID)
	}
	after, err := readNow(c, ctx, s.ID, last.ID, 10)
	if err != nil || !slices.Equal(eventIDs(after), []string{ev.ID}) || !sameEvent(after[0], ev) {
		t.Errorf("Read(last image) = %+v, %v; want the removed event", after, err)
	}

	list, lastID, err := c.Images(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{imgs[0].ID, imgs[2].ID}; !slices.Equal(imageIDs(list), want) {
		t.Errorf("Images after remove = %q, want %q", imageIDs(list), want)
	}
	if lastID != ev.ID {
		t.Errorf("Images' last event %q, want the removed event %q", lastID, ev.ID)
	}
	_, err = c.Image(ctx, s.ID, gone.ID)
	wantErr(t, "Image(removed)", err, storage.ErrNotFound)
	_, err = c.RemoveImage(ctx, s.ID, gone.ID)
	wantErr(t, "second RemoveImage", err, storage.ErrNotFound)
	sess, err := c.Session(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkSession(t, sess, s, 2, 200)

	// The place and the hash are free again.
	if _, _, err := c.AddImage(ctx, s.ID, gone, q); err != nil {
		t.Fatalf("re-adding the removed image: %v", err)
	}
	_, _, err = c.AddImage(ctx, s.ID, newImage(s.ID, 1), q)
	wantErr(t, "AddImage over quota after re-adding", err, storage.ErrQuota)
}

// subscribe reads the log after id the way the server's stream does: one
// blocking read.
func subscribe(ctx context.Context, c Catalog, sessionID, after string) ([]storage.Event, error) {
	return c.Read(ctx, sessionID, after, 100)
}

func testCatalogReadWakesOnAppend(t *testing.T, c Catalog) {
	s := liveSession(t, c)
	for _, name := range []string{"empty log", "after an event"} {
		_, last, err := c.Images(testContext(t), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			evs []storage.Event
			err error
		}
		done := make(chan result, 1)
		go func() {
			evs, err := subscribe(testContext(t), c, s.ID, last)
			done <- result{evs, err}
		}()
		time.Sleep(50 * time.Millisecond) // let it block; correctness does not depend on it
		ev := addImage(t, c, s.ID, newImage(s.ID, 1))
		select {
		case r := <-done:
			if r.err != nil || !slices.Equal(eventIDs(r.evs), []string{ev.ID}) {
				t.Errorf("%s: subscriber got %q, %v; want %q", name, eventIDs(r.evs), r.err, ev.ID)
			}
		case <-time.After(hangTimeout):
			t.Fatalf("%s: Read did not wake on AddImage", name)
		}
	}

	// RemoveImage wakes too, and several waiters at once.
	imgs, last, err := c.Images(testContext(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	const waiters = 5
	done := make(chan error, waiters)
	for range waiters {
		go func() {
			evs, err := subscribe(testContext(t), c, s.ID, last)
			if err == nil && (len(evs) != 1 || evs[0].Type != storage.EventRemoved) {
				err = fmt.Errorf("got %+v, want one removed event", evs)
			}
			done <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := c.RemoveImage(testContext(t), s.ID, imgs[0].ID); err != nil {
		t.Fatal(err)
	}
	for range waiters {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("waiter: %v", err)
			}
		case <-time.After(hangTimeout):
			t.Fatal("a waiter did not wake on RemoveImage")
		}
	}
}

func testCatalogReadReturnsAtOnce(t *testing.T, c Catalog) {
	s := liveSession(t, c)
	first := addImage(t, c, s.ID, newImage(s.ID, 1))
	addImage(t, c, s.ID, newImage(s.ID, 1))
	// testContext only ends after hangTimeout: a nil answer means Read saw
	// the events already there.
	for _, after := range []string{"", first.ID} {
		if err := waitRead(c, testContext(t), s.ID, after); err != nil {
			t.Errorf("Read(%q) with events after it = %v, want nil at once", after, err)
		}
	}
}

func testCatalogReadHonoursContext(t *testing.T, c Catalog) {
	empty := liveSession(t, c)
	busy := liveSession(t, c)
	ev := addImage(t, c, busy.ID, newImage(busy.ID, 1))
	for _, tt := range []struct{ name, session, after string }{
		{"empty log", empty.ID, ""},
		{"after the last event", busy.ID, ev.ID},
	} {
		// Deadline: once ctx is over, Read must say so.
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		start := time.Now()
		var err error
		for err == nil && time.Since(start) < hangTimeout {
			err = waitRead(c, ctx, tt.session, tt.after)
		}
		cancel()
		wantErr(t, tt.name+": Read past its deadline", err, context.DeadlineExceeded)

		// Cancel from another goroutine.
		ctx, cancel = context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			var err error
			for err == nil && ctx.Err() == nil {
				err = waitRead(c, ctx, tt.session, tt.after)
			}
			if err == nil {
				err = waitRead(c, ctx, tt.session, tt.after)
			}
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			wantErr(t, tt.name+": Read after cancel", err, context.Canceled)
		case <-time.After(hangTimeout):
			t.Fatalf("%s: Read ignored cancel", tt.name)
		}
	}
}

// testCatalogSnapshotPlusEvents checks that Images and its last event id are
// read atomically: a snapshot taken while images come and go, plus the
// events after its id, is exactly the final gallery.
func testCatalogSnapshotPlusEvents(t *testing.T, c Catalog) {
	s := liveSession(t, c)
	writerDone := make(chan struct{})
	var writerErr error
	go func() {
		defer close(writerDone)
		var added []string
		for i := range 24 {
			got, _, err := c.AddImage(testContext(t), s.ID, newImage(s.ID, 1), storage.Quota{})
			if err != nil {
				writerErr = err
				return
			}
			added = append(added, got.ID)
			if i%3 == 2 {
				if _, err := c.RemoveImage(testContext(t), s.ID, added[i-1]); err != nil {
					writerErr = err
					return
				}
			}
		}
	}()

	type snapshot struct {
		ids  []string
		last string
	}
	// Distinct snapshots only: checking thousands of equal ones proves
	// nothing more and is slow on a networked backend.
	var snaps []snapshot
	seen := map[string]bool{}
	for running := true; running; {
		select {
		case <-writerDone:
			running = false
		default:
		}
		imgs, last, err := c.Images(testContext(t), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		key := last + "|" + strings.Join(imageIDs(imgs), ",")
		if !seen[key] {
			seen[key] = true
			snaps = append(snaps, snapshot{imageIDs(imgs), last})
		}
	}
	if writerErr != nil {
		t.Fatal(writerErr)
	}

	final, finalLast, err := c.Images(testContext(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	log := allEvents(t, c, s.ID)
	if len(log) == 0 || log[len(log)-1].ID != finalLast {
		t.Fatalf("Images' last id %q is not the log's last event", finalLast)
	}
	for i, snap := range snaps {
		var evs []storage.Event
		if snap.last == "" {
			evs = log
		} else if evs, err = readNow(c, testContext(t), s.ID, snap.last, 1000); err != nil {
			t.Fatalf("snapshot %d: EventsAfter(%q): %v", i, snap.last, err)
		}
		ids := slices.Clone(snap.ids)
		for _, ev := range evs {
			switch ev.Type {
			case storage.EventImage:
				ids = append(ids, ev.Image.ID)
			case storage.EventRemoved:
				n := len(ids)
				ids = slices.DeleteFunc(ids, func(id string) bool { return id == ev.ImageID })
				if len(ids) != n-1 {
					t.Fatalf("snapshot %d: event removes %q, which the snapshot plus earlier events lacks", i, ev.ImageID)
				}
			default:
				t.Fatalf("unexpected event type %q", ev.Type)
			}
		}
		if !slices.Equal(ids, imageIDs(final)) {
			t.Fatalf("snapshot %d (%d images at %q) plus %d events = %q, want the final gallery %q",
				i, len(snap.ids), snap.last, len(evs), ids, imageIDs(final))
		}
	}
}

func testCatalogPing(t *testing.T, c Catalog) {
	if err := c.Ping(testContext(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// sessionCounter is the optional power of a catalog to say how many
// sessions it holds, live or ended and not yet removed.
type sessionCounter interface {
	SessionCount(ctx context.Context) (int, error)
}

func testCatalogSessionCount(t *testing.T, c Catalog) {
	sc, ok := c.(sessionCounter)
	if !ok {
		t.Skipf("%T has no SessionCount", c)
	}
	ctx := testContext(t)
	count := func() int {
		t.Helper()
		n, err := sc.SessionCount(ctx)
		if err != nil {
			t.Fatalf("SessionCount: %v", err)
		}
		return n
	}
	// Relative to what is there: a shared backend may hold leftovers.
	base := count()
	live := liveSession(t, c)
	other := liveSession(t, c)
	ended := newSession(t, c, -time.Minute)
	if n := count(); n != base+3 {
		t.Fatalf("SessionCount after 3 sessions = %d, want %d (ended ones count until removed)", n, base+3)
	}
	// Images do not count, nor does a failed creation.
	addImage(t, c, live.ID, newImage(live.ID, 1))
	if err := c.CreateSession(ctx, live); err == nil {
		t.Fatal("CreateSession with an id in use succeeded")
	}
	if n := count(); n != base+3 {
		t.Fatalf("SessionCount after an image and a refused session = %d, want %d", n, base+3)
	}
	for i, id := range []string{ended.ID, live.ID} {
		if err := c.DeleteSession(ctx, id, tombstone()); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != base+2-i {
			t.Fatalf("SessionCount after %d deletions = %d, want %d", i+1, n, base+2-i)
		}
	}
	// Deleting what is gone changes nothing.
	if err := c.DeleteSession(ctx, live.ID, tombstone()); err != nil {
		t.Fatalf("second DeleteSession = %v, want nil", err)
	}
	if n := count(); n != base+1 {
		t.Fatalf("SessionCount after deleting a deleted session = %d, want %d", n, base+1)
	}
	if err := c.DeleteSession(ctx, other.ID, tombstone()); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != base {
		t.Fatalf("SessionCount after deleting all = %d, want %d", n, base)
	}
}

// tombstone is how long the suite's removed sessions keep answering ended.
func tombstone() time.Time { return now().Add(time.Hour) }

func testCatalogRenewUploadLink(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	first := addImage(t, c, s.ID, newImage(s.ID, 10))
	token, until := randomID(), now().Add(2*time.Hour)
	got, ev, err := c.RenewUploadLink(ctx, s.ID, token, until)
	if err != nil {
		t.Fatalf("RenewUploadLink: %v", err)
	}
	if got.UploadToken != token || !got.UploadExpiresAt.Equal(until) || !got.ExpiresAt.Equal(s.ExpiresAt) || got.Images != 1 {
		t.Errorf("RenewUploadLink returned %+v, want token %q until %v, the same expiry and 1 image", got, token, until)
	}
	checkSessionEvent(t, ev, got)
	if evs := allEvents(t, c, s.ID); len(evs) != 2 || evs[0].ID != first.ID || evs[1].ID != ev.ID {
		t.Errorf("log after renewal = %v, want the image then the session event", eventIDs(evs))
	}
	// The new token finds the session; the old one does too, but the
	// session's token is the new one, so the caller can tell.
	now, err := c.SessionByToken(ctx, token)
	if err != nil || now.ID != s.ID || now.UploadToken != token {
		t.Errorf("SessionByToken(new) = %+v, %v", now, err)
	}
	old, err := c.SessionByToken(ctx, s.UploadToken)
	if err != nil || old.ID != s.ID || old.UploadToken != token {
		t.Errorf("SessionByToken(old) = %+v, %v; want the session, whose token is the new one", old, err)
	}
	// A token in use elsewhere is refused.
	other := liveSession(t, c)
	if _, _, err := c.RenewUploadLink(ctx, s.ID, other.UploadToken, until); err == nil {
		t.Error("RenewUploadLink took another session's token")
	}
	// Once removed, every token the session had says ended.
	if err := c.DeleteSession(ctx, s.ID, tombstone()); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{s.UploadToken, token} {
		_, err := c.SessionByToken(ctx, tok)
		wantErr(t, "SessionByToken after delete", err, storage.ErrExpired)
	}
}

// checkSessionEvent checks a "session" event against the session it
// announces.
func checkSessionEvent(t *testing.T, ev storage.Event, want storage.Session) {
	t.Helper()
	if ev.Type != storage.EventSession || !eventIDPattern.MatchString(ev.ID) {
		t.Fatalf("event %q id %q, want a %q event with a valid id", ev.Type, ev.ID, storage.EventSession)
	}
	got := ev.Session
	if got.ID != want.ID || got.UploadToken != want.UploadToken || !got.UploadExpiresAt.Equal(want.UploadExpiresAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("session event data = %+v, want %+v", got, want)
	}
}

func testCatalogExtendSession(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	// Not later: nothing moves, nothing is logged.
	got, ev, err := c.ExtendSession(ctx, s.ID, s.ExpiresAt.Add(-time.Minute))
	if err != nil || ev.ID != "" || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Errorf("ExtendSession(earlier) = %+v, event %q, %v; want no change", got, ev.ID, err)
	}
	later := s.ExpiresAt.Add(24 * time.Hour)
	got, ev, err = c.ExtendSession(ctx, s.ID, later)
	if err != nil || !got.ExpiresAt.Equal(later) {
		t.Fatalf("ExtendSession = %+v, %v; want expiry %v", got, err, later)
	}
	checkSessionEvent(t, ev, got)
	read, err := c.Session(ctx, s.ID)
	if err != nil || !read.ExpiresAt.Equal(later) || !read.UploadExpiresAt.Equal(s.UploadExpiresAt) {
		t.Errorf("Session after extension = %+v, %v", read, err)
	}
	if evs := allEvents(t, c, s.ID); len(evs) != 1 || evs[0].ID != ev.ID {
		t.Errorf("log = %v, want the one session event", eventIDs(evs))
	}
}

func testCatalogEndSession(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	ev := addImage(t, c, s.ID, newImage(s.ID, 1))
	done := make(chan error, 1)
	go func() { done <- waitRead(c, testContext(t), s.ID, ev.ID) }()
	time.Sleep(50 * time.Millisecond) // let it block; not relied on
	if err := c.EndSession(ctx, s.ID, now()); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, storage.ErrExpired) {
			t.Errorf("Read after EndSession = %v, want ErrExpired", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("Read did not return after EndSession")
	}
	_, err := c.Session(ctx, s.ID)
	wantErr(t, "Session after EndSession", err, storage.ErrExpired)
	_, err = c.SessionByToken(ctx, s.UploadToken)
	wantErr(t, "SessionByToken after EndSession", err, storage.ErrExpired)
	// Its data is still there for the sweeper to find.
	ids, err := c.ExpiredSessions(ctx, now().Add(-time.Hour))
	if err != nil || !slices.Contains(ids, s.ID) {
		t.Errorf("ExpiredSessions after EndSession = %v, %v; want it listed", len(ids), err)
	}
}

func testCatalogTombstoneLapses(t *testing.T, c Catalog) {
	ctx := testContext(t)
	gone, kept := liveSession(t, c), liveSession(t, c)
	if err := c.DeleteSession(ctx, gone.ID, now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSession(ctx, kept.ID, now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := c.PurgeTombstones(ctx, now()); err != nil {
		t.Fatalf("PurgeTombstones: %v", err)
	}
	// A purged tombstone answers as if the session had never been.
	_, err := c.Session(ctx, gone.ID)
	wantErr(t, "Session with a purged tombstone", err, storage.ErrNotFound)
	_, err = c.SessionByToken(ctx, gone.UploadToken)
	wantErr(t, "SessionByToken with a purged tombstone", err, storage.ErrNotFound)
	// One whose time is not up stands.
	_, err = c.Session(ctx, kept.ID)
	wantErr(t, "Session with a standing tombstone", err, storage.ErrExpired)
	_, err = c.SessionByToken(ctx, kept.UploadToken)
	wantErr(t, "SessionByToken with a standing tombstone", err, storage.ErrExpired)
}

// readNow is Read that does not wait: it answers what the log holds now,
// an empty list when that is nothing. It gives a backend a second to
// answer, which only an expected empty list ever spends.
func readNow(c Catalog, ctx context.Context, sessionID, afterID string, limit int) ([]storage.Event, error) {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	evs, err := c.Read(rctx, sessionID, afterID, limit)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, nil
	}
	return evs, err
}

// waitRead is a blocking Read for one event, for the tests of waking: it
// returns what the read returned, without the events.
func waitRead(c Catalog, ctx context.Context, sessionID, afterID string) error {
	_, err := c.Read(ctx, sessionID, afterID, 1)
	return err
}

func testCatalogHasImageSized(t *testing.T, c Catalog) {
	ctx := testContext(t)
	s := liveSession(t, c)
	has := func(lo, hi int64) bool {
		t.Helper()
		found, err := c.HasImageSized(ctx, s.ID, lo, hi)
		if err != nil {
			t.Fatalf("HasImageSized(%d, %d): %v", lo, hi, err)
		}
		return found
	}
	if has(0, 1<<40) {
		t.Errorf("an empty gallery holds an image of some size")
	}
	small, large := newImage(s.ID, 1000), newImage(s.ID, 5000)
	addImage(t, c, s.ID, small)
	addImage(t, c, s.ID, large)
	for _, tt := range []struct {
		lo, hi int64
		want   bool
	}{
		{1000, 1000, true}, {999, 1001, true}, {4000, 6000, true}, {0, 999, false},
		{1001, 4999, false}, {5001, 1 << 40, false}, {0, 1 << 40, true}, {6000, 4000, false},
	} {
		if got := has(tt.lo, tt.hi); got != tt.want {
			t.Errorf("HasImageSized(%d, %d) = %v; want %v", tt.lo, tt.hi, got, tt.want)
		}
	}
	// Another session's photos are not this one's.
	other := liveSession(t, c)
	if found, err := c.HasImageSized(ctx, other.ID, 0, 1<<40); err != nil || found {
		t.Errorf("HasImageSized(another session) = %v, %v; want false", found, err)
	}
	if _, err := c.RemoveImage(ctx, s.ID, small.ID); err != nil {
		t.Fatal(err)
	}
	if has(1000, 1000) || !has(5000, 5000) {
		t.Errorf("after removing the 1000-byte image: has 1000 %v, has 5000 %v; want false, true", has(1000, 1000), has(5000, 5000))
	}
	_, err := c.HasImageSized(ctx, "no-such-session", 0, 1)
	wantErr(t, "HasImageSized(unknown session)", err, storage.ErrNotFound)
	if err := c.DeleteSession(ctx, s.ID, tombstone()); err != nil {
		t.Fatal(err)
	}
	_, err = c.HasImageSized(ctx, s.ID, 0, 1)
	wantErr(t, "HasImageSized(deleted session)", err, storage.ErrExpired)
}
