package boltdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"qrsync/storage"
	"qrsync/storage/internal/nospace"
)

const (
	// DefaultLockTimeout is how long Open waits for the file lock. bbolt
	// allows one process per file; without a timeout a second qrsync on the
	// same --data would hang silently instead of saying why it cannot start.
	DefaultLockTimeout = 2 * time.Second
	// FileMode is the database file's mode: it holds the session secrets.
	FileMode = 0o600
	// dirPerm is the mode of a parent directory Open creates.
	dirPerm = 0o750
)

var (
	bucketSessions = []byte("sessions")
	bucketTokens   = []byte("tokens")
	keyMeta        = []byte("meta")
	bucketImages   = []byte("images")
	bucketImgIdx   = []byte("imgidx")
	bucketSHA      = []byte("sha")
	// bucketSizes indexes a session's images by size; sessions made before
	// it have none, and are read whole instead (HasImageSized).
	bucketSizes  = []byte("sizes")
	bucketEvents = []byte("events")
	// bucketTombstones holds what is left of removed sessions: id →
	// tombstoneRecord, until the tombstone's time is up.
	bucketTombstones = []byte("tombstones")
)

// errClosed is returned by Read after Close.
var errClosed = errors.New("boltdb: catalog closed")

// Option changes how Open sets up a Catalog.
type Option func(*config)

type config struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long Open waits for another process to release
// the database file (DefaultLockTimeout if not given; must be > 0, since
// zero would mean waiting forever).
func WithLockTimeout(d time.Duration) Option {
	return func(c *config) { c.lockTimeout = d }
}

// Catalog is the embedded catalog, in a bbolt file. It is safe for
// concurrent use within one process; the file is locked against other
// processes. It reads no clock: every time it stores or compares is the
// caller's.
type Catalog struct {
	db   *bolt.DB
	path string

	// sessions counts the sessions in the file. Only this process can
	// have the file open, so a counter kept by CreateSession and
	// DeleteSession is exact, and SessionCount costs nothing.
	sessions atomic.Int64

	// The space kept for removals on a full disk (see keepReserve).
	size         atomic.Int64 // bbolt's high-water mark, as last seen
	reserveShort atomic.Bool  // the disk is full and the reserve is low
	resMu        sync.Mutex
	resFile      *os.File // nil: cannot preallocate here
	allocated    int64    // bytes of the file allocated by keepReserve

	mu      sync.Mutex
	waiters map[string]*waitEntry // session id → channel closed on its next change
	closed  bool
}

// waitEntry is a session's broadcast channel and how many waiters hold it.
type waitEntry struct {
	ch   chan struct{}
	refs int
}

// Open opens (creating it if needed) the catalog file at path. It fails
// after the lock timeout, with a message saying so, if another process has
// the file open. It reads the whole file and runs bbolt's consistency
// check, so that a damaged file (a disk error, a copy cut short) stops the
// server at once with an error wrapping ErrCorrupt that says what to do,
// rather than a panic in the middle of a request later; the catalog is
// small, so this costs little.
func Open(path string, opts ...Option) (*Catalog, error) {
	cfg := config{lockTimeout: DefaultLockTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if path == "" {
		return nil, errors.New("boltdb: empty path")
	}
	if cfg.lockTimeout <= 0 {
		return nil, fmt.Errorf("boltdb: lock timeout %v must be positive", cfg.lockTimeout)
	}
	if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		return nil, fmt.Errorf("boltdb: create directory: %w", nospace.Wrap(err))
	}
	bopts := *bolt.DefaultOptions // fsync on every commit stays on
	bopts.Timeout = cfg.lockTimeout
	var db *bolt.DB
	err := protect(path, func() error {
		var err error
		db, err = bolt.Open(path, FileMode, &bopts)
		return err
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltdb: %s is in use by another process (gave up after %v): %w", path, cfg.lockTimeout, err)
	}
	if err != nil {
		return nil, openError(path, err)
	}
	c := &Catalog{db: db, path: path, waiters: map[string]*waitEntry{}}
	if err := c.verify(); err != nil {
		_ = protect(path, db.Close)
		return nil, err
	}
	err = c.update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketSessions, bucketTokens, bucketTombstones} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = protect(path, db.Close)
		return nil, fmt.Errorf("boltdb: initialise %s: %w", path, err)
	}
	var size int64
	_ = c.view(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	c.openReserve(size)
	return c, nil
}

// verify reads every page of the file, counts the sessions, and runs
// bbolt's consistency check. The read comes first and on this goroutine,
// under protect: the check runs on a goroutine of bbolt's own, where a
// fault on a page past the end of the file could not be recovered, so
// every page it will look at must have been read safely already.
func (c *Catalog) verify() error {
	return c.view(func(tx *bolt.Tx) error {
		fi, err := os.Stat(c.path)
		if err != nil {
			return fmt.Errorf("boltdb: %w", err)
		}
		if fi.Size() < tx.Size() {
			return corrupt(c.path, fmt.Sprintf("it is %d bytes long, but its pages reach to byte %d: it was cut short", fi.Size(), tx.Size()))
		}
		err = tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return readAll(b) })
		if err != nil {
			return corrupt(c.path, err.Error())
		}
		if sessions := tx.Bucket(bucketSessions); sessions != nil {
			var n int64
			err := sessions.ForEachBucket(func([]byte) error { n++; return nil })
			if err != nil {
				return corrupt(c.path, err.Error())
			}
			c.sessions.Store(n)
		}
		var problems []error
		for err := range tx.Check(bolt.WithKVStringer(redacted{})) {
			problems = append(problems, err)
		}
		switch len(problems) {
		case 0:
			return nil
		case 1:
			return corrupt(c.path, "bbolt's consistency check: "+problems[0].Error())
		default:
			return corrupt(c.path, fmt.Sprintf("bbolt's consistency check found %d problems; the first: %v", len(problems), problems[0]))
		}
	})
}

// readAll walks every key of b and of its nested buckets, so that every
// branch and leaf page of the tree has been read.
func readAll(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v != nil {
			return nil
		}
		if nb := b.Bucket(k); nb != nil {
			return readAll(nb)
		}
		return nil
	})
}

// sessionRecord is the stored form of storage.Session; its own type so the
// file format does not change when the contract's struct does.
type sessionRecord struct {
	ID              string    `json:"id"`
	UploadToken     string    `json:"uploadToken"`
	CreatedAt       time.Time `json:"createdAt"`
	UploadExpiresAt time.Time `json:"uploadExpiresAt,omitzero"`
	ExpiresAt       time.Time `json:"expiresAt"`
	Images          int       `json:"images"`
	Bytes           int64     `json:"bytes"`
	// OldTokens are the upload tokens RenewUploadLink replaced: they stay
	// in the tokens bucket, pointing here, until the tombstone goes.
	OldTokens []string `json:"oldTokens,omitempty"`
	// Ended is set by EndSession: from then on the session is over,
	// whatever its ExpiresAt says.
	Ended bool `json:"ended,omitempty"`
}

func (r sessionRecord) session() storage.Session {
	up := r.UploadExpiresAt
	if up.IsZero() {
		up = r.ExpiresAt // a record written before upload links had their own life
	}
	return storage.Session{
		ID: r.ID, UploadToken: r.UploadToken, CreatedAt: r.CreatedAt,
		UploadExpiresAt: up, ExpiresAt: r.ExpiresAt, Images: r.Images, Bytes: r.Bytes,
	}
}

// tombstoneRecord is what DeleteSession leaves of a session: enough to say
// "ended" rather than "not found" to its id and its upload tokens.
type tombstoneRecord struct {
	EndedAt time.Time `json:"endedAt"`
	Until   time.Time `json:"until"`
	Tokens  []string  `json:"tokens"`
}

// Errors never include session ids or tokens: both are secrets, and errors
// end up in logs.
var (
	errSessionNotFound = fmt.Errorf("boltdb: session: %w", storage.ErrNotFound)
	errSessionExpired  = fmt.Errorf("boltdb: session: %w", storage.ErrExpired)
	errImageNotFound   = fmt.Errorf("boltdb: image: %w", storage.ErrNotFound)
	errEventGone       = fmt.Errorf("boltdb: event id: %w", storage.ErrEventGone)
)

// loadSession returns the session's bucket and record, or ErrNotFound.
// For a removed session whose tombstone still stands it returns a nil
// bucket, a record with only ID and ExpiresAt, and ErrExpired.
func (c *Catalog) loadSession(tx *bolt.Tx, id string) (*bolt.Bucket, sessionRecord, error) {
	var rec sessionRecord
	sb := tx.Bucket(bucketSessions).Bucket([]byte(id))
	if sb == nil {
		if ts, ok := c.tombstone(tx, id); ok {
			return nil, sessionRecord{ID: id, ExpiresAt: ts.EndedAt}, errSessionExpired
		}
		return nil, rec, errSessionNotFound
	}
	if err := json.Unmarshal(sb.Get(keyMeta), &rec); err != nil {
		return nil, rec, fmt.Errorf("boltdb: corrupt session record: %w", err)
	}
	return sb, rec, nil
}

// liveSession is loadSession that also fails with ErrExpired for an ended
// session.
func (c *Catalog) liveSession(tx *bolt.Tx, id string) (*bolt.Bucket, sessionRecord, error) {
	sb, rec, err := c.loadSession(tx, id)
	if err == nil && rec.Ended {
		return nil, rec, errSessionExpired
	}
	return sb, rec, err
}

func putMeta(sb *bolt.Bucket, rec sessionRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return sb.Put(keyMeta, b)
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// formatID and parseID convert between an event sequence and its id. Only
// the canonical form parses, so every id has exactly one spelling.
func formatID(seq uint64) string { return strconv.FormatUint(seq, 10) }

func parseID(id string) (uint64, bool) {
	seq, err := strconv.ParseUint(id, 10, 64)
	if err != nil || seq == 0 || formatID(seq) != id {
		return 0, false
	}
	return seq, true
}

// CreateSession stores a new session with empty counters (s.Images and
// s.Bytes are ignored: a new session holds nothing). An id or upload token
// already in use is an error, as is a missing id, token or expiry.
func (c *Catalog) CreateSession(ctx context.Context, s storage.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.ID == "" || s.UploadToken == "" {
		return errors.New("boltdb: session needs an id and an upload token")
	}
	if s.ExpiresAt.IsZero() {
		return errors.New("boltdb: session needs an expiry")
	}
	if s.UploadExpiresAt.IsZero() {
		s.UploadExpiresAt = s.ExpiresAt
	}
	rec := sessionRecord{ID: s.ID, UploadToken: s.UploadToken, CreatedAt: s.CreatedAt, UploadExpiresAt: s.UploadExpiresAt, ExpiresAt: s.ExpiresAt}
	err := c.grow(func(tx *bolt.Tx) error {
		sessions, tokens := tx.Bucket(bucketSessions), tx.Bucket(bucketTokens)
		if sessions.Bucket([]byte(s.ID)) != nil || tx.Bucket(bucketTombstones).Get([]byte(s.ID)) != nil {
			return errors.New("boltdb: session id already in use")
		}
		if tokens.Get([]byte(s.UploadToken)) != nil {
			return errors.New("boltdb: upload token already in use")
		}
		sb, err := sessions.CreateBucket([]byte(s.ID))
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketImages, bucketImgIdx, bucketSHA, bucketSizes, bucketEvents} {
			if _, err := sb.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := putMeta(sb, rec); err != nil {
			return err
		}
		return tokens.Put([]byte(s.UploadToken), []byte(s.ID))
	})
	if err != nil {
		return err
	}
	c.sessions.Add(1)
	return nil
}

// Session returns the session with id: ErrNotFound if unknown; the record
// and ErrExpired if it was ended.
func (c *Catalog) Session(ctx context.Context, id string) (storage.Session, error) {
	if err := ctx.Err(); err != nil {
		return storage.Session{}, err
	}
	var rec sessionRecord
	err := c.view(func(tx *bolt.Tx) error {
		_, r, err := c.liveSession(tx, id)
		rec = r
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrExpired) {
		return storage.Session{}, err
	}
	return rec.session(), err
}

// SessionByToken looks a session up by its upload token, with the same
// errors as Session.
func (c *Catalog) SessionByToken(ctx context.Context, token string) (storage.Session, error) {
	if err := ctx.Err(); err != nil {
		return storage.Session{}, err
	}
	var rec sessionRecord
	err := c.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketTokens).Get([]byte(token))
		if id == nil {
			return errSessionNotFound
		}
		_, r, err := c.liveSession(tx, string(id))
		rec = r
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrExpired) {
		return storage.Session{}, err
	}
	return rec.session(), err
}

// RenewUploadLink gives the session a new upload token and appends a
// "session" event. The old token stays in the tokens bucket, so that it
// finds the session and the server can say the link was replaced.
func (c *Catalog) RenewUploadLink(ctx context.Context, id, token string, expiresAt time.Time) (storage.Session, storage.Event, error) {
	if token == "" || expiresAt.IsZero() {
		return storage.Session{}, storage.Event{}, errors.New("boltdb: a new upload link needs a token and an expiry")
	}
	return c.changeSession(ctx, id, func(tx *bolt.Tx, rec *sessionRecord) (bool, error) {
		tokens := tx.Bucket(bucketTokens)
		if tokens.Get([]byte(token)) != nil {
			return false, errors.New("boltdb: upload token already in use")
		}
		if err := tokens.Put([]byte(token), []byte(id)); err != nil {
			return false, err
		}
		rec.OldTokens = append(rec.OldTokens, rec.UploadToken)
		rec.UploadToken, rec.UploadExpiresAt = token, expiresAt
		return true, nil
	})
}

// ExtendSession moves the session's end to expiresAt if that is later, and
// then appends a "session" event.
func (c *Catalog) ExtendSession(ctx context.Context, id string, expiresAt time.Time) (storage.Session, storage.Event, error) {
	return c.changeSession(ctx, id, func(_ *bolt.Tx, rec *sessionRecord) (bool, error) {
		if !expiresAt.After(rec.ExpiresAt) {
			return false, nil
		}
		rec.ExpiresAt = expiresAt
		return true, nil
	})
}

// changeSession applies change to a live session's record in one
// transaction; when change says it changed something, the record is
// stored with the "session" event that carries it, and readers wake.
func (c *Catalog) changeSession(ctx context.Context, id string, change func(*bolt.Tx, *sessionRecord) (bool, error)) (storage.Session, storage.Event, error) {
	if err := ctx.Err(); err != nil {
		return storage.Session{}, storage.Event{}, err
	}
	var (
		out storage.Session
		ev  storage.Event
	)
	err := c.grow(func(tx *bolt.Tx) error {
		sb, rec, err := c.liveSession(tx, id)
		if err != nil {
			return err
		}
		changed, err := change(tx, &rec)
		if err != nil || !changed {
			out = rec.session()
			return err
		}
		out, ev, err = putAndAnnounce(sb, rec)
		return err
	})
	if err != nil {
		return storage.Session{}, storage.Event{}, err
	}
	if ev.ID != "" {
		c.broadcast(id)
	}
	return out, ev, nil
}

// putAndAnnounce stores rec and appends the "session" event that carries it.
func putAndAnnounce(sb *bolt.Bucket, rec sessionRecord) (storage.Session, storage.Event, error) {
	if err := putMeta(sb, rec); err != nil {
		return storage.Session{}, storage.Event{}, err
	}
	out := rec.session()
	ev, err := appendEvent(sb, storage.Event{Type: storage.EventSession, Session: out})
	return out, ev, err
}

// EndSession sets a live session's end to at, marks it ended, logs its
// end and wakes its readers. An ended session stays as it is.
func (c *Catalog) EndSession(ctx context.Context, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := c.update(func(tx *bolt.Tx) error {
		sb, rec, err := c.loadSession(tx, id)
		if err != nil || rec.Ended {
			return err
		}
		rec.ExpiresAt, rec.Ended = at, true
		if err := putMeta(sb, rec); err != nil {
			return err
		}
		_, err = appendEvent(sb, storage.Event{Type: storage.EventEnded})
		return err
	})
	if err != nil {
		return err
	}
	c.broadcast(id)
	return nil
}

// DeleteSession removes the session, its images and its log, ended or
// not, leaves a tombstone that keeps its id and tokens answering
// ErrExpired until PurgeTombstones passes tombstoneUntil, and wakes its
// waiters. The tombstone's end is the session's ExpiresAt: the server
// ends a session (EndSession) before it deletes it.
func (c *Catalog) DeleteSession(ctx context.Context, id string, tombstoneUntil time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	gone := false
	err := c.update(func(tx *bolt.Tx) error {
		_, rec, err := c.loadSession(tx, id)
		if errors.Is(err, storage.ErrExpired) && tx.Bucket(bucketSessions).Bucket([]byte(id)) == nil {
			return nil // a tombstone already
		}
		if err != nil {
			return err
		}
		ts := tombstoneRecord{EndedAt: rec.ExpiresAt, Until: tombstoneUntil, Tokens: append(rec.OldTokens, rec.UploadToken)}
		b, err := json.Marshal(ts)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketTombstones).Put([]byte(id), b); err != nil {
			return err
		}
		gone = true
		return tx.Bucket(bucketSessions).DeleteBucket([]byte(id))
	})
	if err != nil {
		return err
	}
	if gone {
		c.sessions.Add(-1)
	}
	c.broadcast(id)
	return nil
}

// tombstone returns the tombstone of a removed session until
// PurgeTombstones takes it.
func (c *Catalog) tombstone(tx *bolt.Tx, id string) (tombstoneRecord, bool) {
	var ts tombstoneRecord
	raw := tx.Bucket(bucketTombstones).Get([]byte(id))
	if raw == nil || json.Unmarshal(raw, &ts) != nil {
		return ts, false
	}
	return ts, true
}

// PurgeTombstones removes the tombstones whose time is up, with the upload
// tokens they kept, so that the file does not grow with every session
// ever made. The server calls it from its sweep.
func (c *Catalog) PurgeTombstones(ctx context.Context, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.update(func(tx *bolt.Tx) error {
		stones, tokens := tx.Bucket(bucketTombstones), tx.Bucket(bucketTokens)
		var due [][]byte
		err := stones.ForEach(func(k, v []byte) error {
			var ts tombstoneRecord
			if err := json.Unmarshal(v, &ts); err != nil || !ts.Until.After(now) {
				for _, tok := range ts.Tokens {
					if err := tokens.Delete([]byte(tok)); err != nil {
						return err
					}
				}
				due = append(due, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range due {
			if err := stones.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ExpiredSessions lists the ids of sessions that are ended or whose
// ExpiresAt is at or before now. It reads every session record: the embedded catalog holds few
// sessions at a time, and the sweeper calls it rarely.
func (c *Catalog) ExpiredSessions(ctx context.Context, now time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ids []string
	err := c.view(func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		return sessions.ForEachBucket(func(k []byte) error {
			var rec sessionRecord
			if err := json.Unmarshal(sessions.Bucket(k).Get(keyMeta), &rec); err != nil {
				return fmt.Errorf("boltdb: corrupt session record: %w", err)
			}
			if rec.Ended || !rec.ExpiresAt.After(now) {
				ids = append(ids, string(k))
			}
			return nil
		})
	})
	return ids, err
}

// AddImage records img and appends its "image" event in one transaction.
// A duplicate sha256 wins over a full quota: the phone is told the photo is
// already there rather than that the session is full. An empty img.SHA256
// is not checked for duplicates; an empty or already used img.ID is an
// error.
func (c *Catalog) AddImage(ctx context.Context, sessionID string, img storage.Image, q storage.Quota) (storage.Image, storage.Event, error) {
	if err := ctx.Err(); err != nil {
		return storage.Image{}, storage.Event{}, err
	}
	if img.ID == "" {
		return storage.Image{}, storage.Event{}, errors.New("boltdb: image needs an id")
	}
	data, err := json.Marshal(img)
	if err != nil {
		return storage.Image{}, storage.Event{}, fmt.Errorf("boltdb: encode image: %w", err)
	}
	var (
		dup storage.Image
		ev  storage.Event
	)
	err = c.grow(func(tx *bolt.Tx) error {
		sb, rec, err := c.liveSession(tx, sessionID)
		if err != nil {
			return err
		}
		images, idx, shas := sb.Bucket(bucketImages), sb.Bucket(bucketImgIdx), sb.Bucket(bucketSHA)
		if img.SHA256 != "" {
			if existing := shas.Get([]byte(img.SHA256)); existing != nil {
				if dup, err = getImage(sb, existing); err != nil {
					return err
				}
				return fmt.Errorf("boltdb: %w", storage.ErrDuplicate)
			}
		}
		if idx.Get([]byte(img.ID)) != nil {
			return errors.New("boltdb: image id already in use in this session")
		}
		if q.MaxImages > 0 && rec.Images+1 > q.MaxImages {
			return fmt.Errorf("boltdb: %d images: %w", q.MaxImages, storage.ErrQuota)
		}
		if q.MaxBytes > 0 && rec.Bytes+img.Size > q.MaxBytes {
			return fmt.Errorf("boltdb: %d bytes: %w", q.MaxBytes, storage.ErrQuota)
		}
		seq, err := images.NextSequence()
		if err != nil {
			return err
		}
		if err := images.Put(seqKey(seq), data); err != nil {
			return err
		}
		if err := idx.Put([]byte(img.ID), seqKey(seq)); err != nil {
			return err
		}
		if img.SHA256 != "" {
			if err := shas.Put([]byte(img.SHA256), []byte(img.ID)); err != nil {
				return err
			}
		}
		if sizes := sb.Bucket(bucketSizes); sizes != nil {
			if err := sizes.Put(sizeKey(img.Size, img.ID), nil); err != nil {
				return err
			}
		}
		rec.Images++
		rec.Bytes += img.Size
		if err := putMeta(sb, rec); err != nil {
			return err
		}
		ev, err = appendEvent(sb, storage.Event{Type: storage.EventImage, Image: img})
		return err
	})
	if errors.Is(err, storage.ErrDuplicate) {
		return dup, storage.Event{}, err
	}
	if err != nil {
		return storage.Image{}, storage.Event{}, err
	}
	c.broadcast(sessionID)
	return img, ev, nil
}

// getImage reads the image with this id from a session bucket.
func getImage(sb *bolt.Bucket, imageID []byte) (storage.Image, error) {
	var img storage.Image
	seq := sb.Bucket(bucketImgIdx).Get(imageID)
	if seq == nil {
		return img, errImageNotFound
	}
	raw := sb.Bucket(bucketImages).Get(seq)
	if raw == nil {
		return img, errors.New("boltdb: image index points at nothing")
	}
	if err := json.Unmarshal(raw, &img); err != nil {
		return img, fmt.Errorf("boltdb: corrupt image record: %w", err)
	}
	return img, nil
}

// removedRecord is what a "removed" event stores.
type removedRecord struct {
	ID string `json:"id"`
}

// appendEvent adds ev to the session's log and returns it with its id. The
// stored value is the type, a NUL, and the event's record as JSON: the
// image, the removed image's id, the session, or nothing.
func appendEvent(sb *bolt.Bucket, ev storage.Event) (storage.Event, error) {
	var rec any
	switch ev.Type {
	case storage.EventImage:
		rec = ev.Image
	case storage.EventRemoved:
		rec = removedRecord{ID: ev.ImageID}
	case storage.EventSession:
		rec = ev.Session
	default:
		rec = struct{}{}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return storage.Event{}, err
	}
	events := sb.Bucket(bucketEvents)
	seq, err := events.NextSequence()
	if err != nil {
		return storage.Event{}, err
	}
	v := make([]byte, 0, len(ev.Type)+1+len(data))
	v = append(append(append(v, ev.Type...), 0), data...)
	if err := events.Put(seqKey(seq), v); err != nil {
		return storage.Event{}, err
	}
	ev.ID = formatID(seq)
	return ev, nil
}

// decodeEvent reads a stored event out of bbolt's memory, which is only
// valid inside the transaction.
func decodeEvent(k, v []byte) (storage.Event, error) {
	i := bytes.IndexByte(v, 0)
	if len(k) != 8 || i < 0 {
		return storage.Event{}, errors.New("boltdb: corrupt event record")
	}
	ev := storage.Event{ID: formatID(binary.BigEndian.Uint64(k)), Type: string(v[:i])}
	data := v[i+1:]
	var err error
	switch ev.Type {
	case storage.EventImage:
		err = json.Unmarshal(data, &ev.Image)
	case storage.EventRemoved:
		var r removedRecord
		err = json.Unmarshal(data, &r)
		ev.ImageID = r.ID
	case storage.EventSession:
		err = json.Unmarshal(data, &ev.Session)
	}
	if err != nil {
		return storage.Event{}, fmt.Errorf("boltdb: corrupt %s event: %w", ev.Type, err)
	}
	return ev, nil
}

// RemoveImage deletes an image, frees its place in the quota and its hash,
// and appends a "removed" event, in one transaction.
func (c *Catalog) RemoveImage(ctx context.Context, sessionID, imageID string) (storage.Event, error) {
	if err := ctx.Err(); err != nil {
		return storage.Event{}, err
	}
	var ev storage.Event
	err := c.update(func(tx *bolt.Tx) error {
		sb, rec, err := c.liveSession(tx, sessionID)
		if err != nil {
			return err
		}
		img, err := getImage(sb, []byte(imageID))
		if err != nil {
			return err
		}
		idx, shas := sb.Bucket(bucketImgIdx), sb.Bucket(bucketSHA)
		seq := bytes.Clone(idx.Get([]byte(imageID)))
		if err := sb.Bucket(bucketImages).Delete(seq); err != nil {
			return err
		}
		if err := idx.Delete([]byte(imageID)); err != nil {
			return err
		}
		if img.SHA256 != "" && string(shas.Get([]byte(img.SHA256))) == imageID {
			if err := shas.Delete([]byte(img.SHA256)); err != nil {
				return err
			}
		}
		if sizes := sb.Bucket(bucketSizes); sizes != nil {
			if err := sizes.Delete(sizeKey(img.Size, imageID)); err != nil {
				return err
			}
		}
		rec.Images--
		rec.Bytes -= img.Size
		if err := putMeta(sb, rec); err != nil {
			return err
		}
		ev, err = appendEvent(sb, storage.Event{Type: storage.EventRemoved, ImageID: imageID})
		return err
	})
	if err != nil {
		return storage.Event{}, err
	}
	c.broadcast(sessionID)
	return ev, nil
}

// Image returns one image of a live session.
func (c *Catalog) Image(ctx context.Context, sessionID, imageID string) (storage.Image, error) {
	if err := ctx.Err(); err != nil {
		return storage.Image{}, err
	}
	var img storage.Image
	err := c.view(func(tx *bolt.Tx) error {
		sb, _, err := c.liveSession(tx, sessionID)
		if err != nil {
			return err
		}
		img, err = getImage(sb, []byte(imageID))
		return err
	})
	return img, err
}

// ImageBySHA returns the session's image whose bytes hash to sum, through
// the duplicate index; found is false if it has none.
func (c *Catalog) ImageBySHA(ctx context.Context, sessionID, sum string) (storage.Image, bool, error) {
	if err := ctx.Err(); err != nil {
		return storage.Image{}, false, err
	}
	var (
		img   storage.Image
		found bool
	)
	err := c.view(func(tx *bolt.Tx) error {
		sb, _, err := c.liveSession(tx, sessionID)
		if err != nil {
			return err
		}
		id := sb.Bucket(bucketSHA).Get([]byte(sum))
		if id == nil {
			return nil
		}
		img, err = getImage(sb, id)
		found = err == nil
		return err
	})
	return img, found, err
}

// HasImageSized reports whether the session holds an image of lo to hi
// bytes, through the size index: one seek, however large the gallery.
func (c *Catalog) HasImageSized(ctx context.Context, sessionID string, lo, hi int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var found bool
	err := c.view(func(tx *bolt.Tx) error {
		sb, _, err := c.liveSession(tx, sessionID)
		if err != nil {
			return err
		}
		sizes := sb.Bucket(bucketSizes)
		if sizes == nil { // a session older than the index
			return sb.Bucket(bucketImages).ForEach(func(_, v []byte) error {
				var img storage.Image
				if err := json.Unmarshal(v, &img); err != nil {
					return fmt.Errorf("boltdb: corrupt image record: %w", err)
				}
				found = found || img.Size >= lo && img.Size <= hi
				return nil
			})
		}
		k, _ := sizes.Cursor().Seek(sizeKey(lo, ""))
		found = k != nil && int64(binary.BigEndian.Uint64(k)) <= hi
		return nil
	})
	return found, err
}

// sizeKey is an image's key in the size index: its size, big-endian so
// that keys sort by it, then its id.
func sizeKey(size int64, imageID string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(max(size, 0))), imageID...)
}

// Images returns the session's images, oldest first, and the id of the
// last event ("" if none), read in one transaction so that the snapshot
// plus the events after that id is exactly the gallery. The slice is never
// nil, so it encodes as [] in a snapshot.
func (c *Catalog) Images(ctx context.Context, sessionID string) ([]storage.Image, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	imgs := []storage.Image{}
	var last string
	err := c.view(func(tx *bolt.Tx) error {
		sb, _, err := c.liveSession(tx, sessionID)
		if err != nil {
			return err
		}
		err = sb.Bucket(bucketImages).ForEach(func(_, v []byte) error {
			var img storage.Image
			if err := json.Unmarshal(v, &img); err != nil {
				return fmt.Errorf("boltdb: corrupt image record: %w", err)
			}
			imgs = append(imgs, img)
			return nil
		})
		if err != nil {
			return err
		}
		if k, _ := sb.Bucket(bucketEvents).Cursor().Last(); k != nil {
			last = formatID(binary.BigEndian.Uint64(k))
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return imgs, last, nil
}

// eventsAfter returns up to limit events after afterID, oldest first, at
// once; limit <= 0 means all of them. afterID "" is the start of the log;
// an id this session never issued is ErrEventGone; the last id gives an
// empty list.
func (c *Catalog) eventsAfter(ctx context.Context, sessionID, afterID string, limit int) ([]storage.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var evs []storage.Event
	err := c.view(func(tx *bolt.Tx) error {
		sb, _, err := c.liveSession(tx, sessionID)
		if err != nil {
			return err
		}
		cur := sb.Bucket(bucketEvents).Cursor()
		var k, v []byte
		if afterID == "" {
			k, v = cur.First()
		} else {
			seq, ok := parseID(afterID)
			if !ok {
				return errEventGone
			}
			key := seqKey(seq)
			if k, _ = cur.Seek(key); !bytes.Equal(k, key) {
				return errEventGone
			}
			k, v = cur.Next()
		}
		for ; k != nil && (limit <= 0 || len(evs) < limit); k, v = cur.Next() {
			ev, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// Read returns the events after afterID, waiting for the log to grow when
// there are none. It takes the session's broadcast channel before each
// look at the log, so an append committed after the look closes exactly
// that channel and cannot be missed; EndSession and DeleteSession close it
// too, and the next look then answers ErrExpired.
func (c *Catalog) Read(ctx context.Context, sessionID, afterID string, limit int) ([]storage.Event, error) {
	for {
		ch, release, err := c.subscribe(sessionID)
		if err != nil {
			return nil, err
		}
		evs, err := c.eventsAfter(ctx, sessionID, afterID, limit)
		if err != nil || len(evs) > 0 {
			release()
			return evs, err
		}
		select {
		case <-ch:
			release()
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
}

// subscribe returns the session's current broadcast channel and a function
// that gives it back; the map entry goes when its last waiter does.
func (c *Catalog) subscribe(sessionID string) (<-chan struct{}, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, errClosed
	}
	e := c.waiters[sessionID]
	if e == nil {
		e = &waitEntry{ch: make(chan struct{})}
		c.waiters[sessionID] = e
	}
	e.refs++
	return e.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		e.refs--
		if e.refs == 0 && c.waiters[sessionID] == e {
			delete(c.waiters, sessionID)
		}
	}, nil
}

// broadcast wakes every waiter of the session. It never blocks: closing a
// channel costs the same for one waiter or a thousand, slow or not.
func (c *Catalog) broadcast(sessionID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.waiters[sessionID]; e != nil {
		close(e.ch)
		delete(c.waiters, sessionID)
	}
}

// Ping reports whether the database answers a read transaction.
func (c *Catalog) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.view(func(*bolt.Tx) error { return nil })
}

// Close wakes every waiter (their next call fails) and closes the database.
// Calling it again is harmless.
func (c *Catalog) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for id, e := range c.waiters {
		close(e.ch)
		delete(c.waiters, id)
	}
	c.mu.Unlock()
	c.resMu.Lock()
	if c.resFile != nil {
		_ = c.resFile.Close()
		c.resFile = nil
	}
	c.resMu.Unlock()
	return protect(c.path, c.db.Close)
}

// SessionCount returns how many sessions the catalog holds, live or ended
// and not yet removed, for the server's cap on sessions and its gauge. It
// reads a counter, so it is cheap enough for every session created.
func (c *Catalog) SessionCount(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, errClosed
	}
	return int(c.sessions.Load()), nil
}
