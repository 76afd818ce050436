package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"qrsync/storage"
)

// Defaults, each with the reason for its size.
const (
	// DefaultPrefix starts every key (and pub/sub channel) when the URL
	// names no prefix.
	DefaultPrefix = "qrsync:"
	// DefaultPoolSize bounds the connections for ordinary commands. Every
	// command is one short script or lookup, and no caller ever blocks on
	// a pooled connection (waiting is the hub's), so a few connections
	// serve thousands of streams.
	DefaultPoolSize = 16
	// DefaultGrace is how long a session's keys outlive its ExpiresAt
	// before Redis drops them by itself: long enough for any instance's
	// sweep to list it, delete its blobs and then its data first.
	DefaultGrace = 24 * time.Hour
	// DefaultMaxEvents bounds a session's log (XADD MAXLEN ~). A session
	// holds at most a few hundred images, so this only guards against a
	// runaway writer; a reader behind a trimmed id gets ErrEventGone and
	// starts again from a snapshot.
	DefaultMaxEvents = 10000
	// DefaultBlock is how long one XREAD BLOCK of the hub waits. It bounds
	// how soon the hub notices a Redis that stopped answering without
	// closing the connection, and what a missed kick could cost.
	DefaultBlock = time.Second

	dialTimeout  = 2 * time.Second
	ioTimeout    = 2 * time.Second // read and write, for every ordinary command
	poolTimeout  = 3 * time.Second // waiting for a free pooled connection
	pingTimeout  = 3 * time.Second // Open's first PING
	hubSlack     = 2 * time.Second // the hub's read deadline beyond its BLOCK
	kickTimeout  = 2 * time.Second
	ctlTTL       = 10 * time.Minute // a handle's control stream, after its last kick
	tombGrace    = time.Hour        // a tombstone's keys outlive its time by this, as a safety net
	stubTTL      = 5 * time.Minute  // the "ended" entry a deleted session's log keeps
	purgeBatch   = 500              // tombstones forgotten per script run
	subscribeTTL = 2 * time.Second  // one SUBSCRIBE or UNSUBSCRIBE of News
)

// timeLayout is how times are stored: UTC, fixed width, nanoseconds, so
// that they round-trip exactly and compare byte by byte in Lua.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Option changes how Open sets up a Catalog.
type Option func(*config)

type config struct {
	grace     time.Duration
	maxEvents int
	block     time.Duration
}

// WithGrace sets how long after its ExpiresAt a session's keys lapse by
// themselves (Redis TTL) if no sweep removed them: the backstop against
// data nobody removes. It must exceed the sweep's period by far; the
// default is DefaultGrace.
func WithGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithMaxEvents sets the approximate bound of each session's log
// (DefaultMaxEvents).
func WithMaxEvents(n int) Option { return func(c *config) { c.maxEvents = n } }

// WithBlock sets how long each XREAD BLOCK of the live reader waits
// (DefaultBlock). Shorter notices a silent Redis sooner and costs more
// idle round trips.
func WithBlock(d time.Duration) Option { return func(c *config) { c.block = d } }

// Catalog is the Redis catalog: sessions, images and event logs shared by
// every instance that opens the same Redis with the same prefix. It is
// safe for concurrent use. Close it when done.
type Catalog struct {
	rdb    *goredis.Client
	addr   string
	prefix string
	cfg    config
	hub    *hub

	newsMu sync.Mutex
	news   *News // made by the first News call

	closeOnce sync.Once
	closed    chan struct{}
}

// Errors never include session ids or tokens: both are secrets, and errors
// end up in logs.
var (
	errSessionNotFound = fmt.Errorf("redis: session: %w", storage.ErrNotFound)
	errSessionExpired  = fmt.Errorf("redis: session: %w", storage.ErrExpired)
	errImageNotFound   = fmt.Errorf("redis: image: %w", storage.ErrNotFound)
	errEventGone       = fmt.Errorf("redis: event id: %w", storage.ErrEventGone)
	errDuplicate       = fmt.Errorf("redis: %w", storage.ErrDuplicate)
	errClosed          = fmt.Errorf("redis: catalog closed: %w", storage.ErrUnavailable)
)

// Open connects to the Redis at rawURL,
// redis://[user:password@]host:port[/db][?prefix=qrsync:&...] (rediss://
// for TLS; go-redis's own parameters, such as pool_size or read_timeout,
// are accepted, any other is an error). It fails within a few seconds,
// naming the address, if Redis does not answer PING.
//
// A handle holds at most the pool's connections (pool_size, DefaultPoolSize
// unless the URL says otherwise), one more for its live reader, and one
// more for News once that is used: DefaultPoolSize+2 in all, however many
// streams it serves.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Catalog, error) {
	cfg := config{grace: DefaultGrace, maxEvents: DefaultMaxEvents, block: DefaultBlock}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.grace <= 0 || cfg.maxEvents <= 0 || cfg.block < 10*time.Millisecond {
		return nil, errors.New("redis: grace and max events must be positive, and the block at least 10ms")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not the url.Error itself: it quotes the URL, password and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis: bad catalog URL: %w", err)
	}
	q := u.Query()
	prefix := DefaultPrefix
	if q.Has("prefix") {
		prefix = q.Get("prefix")
		q.Del("prefix")
		u.RawQuery = q.Encode()
	}
	o, err := goredis.ParseURL(u.String())
	if err != nil {
		return nil, err // go-redis's messages name no password
	}
	setDefaults(o)

	// The hub's own client: one connection, made and remade by go-redis,
	// used for nothing but its XREAD BLOCK.
	ho := *o
	ho.PoolSize, ho.MinIdleConns, ho.MaxIdleConns, ho.MaxActiveConns = 1, 0, 1, 1
	ho.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}

	c := &Catalog{
		rdb:    goredis.NewClient(o),
		addr:   o.Addr,
		prefix: prefix,
		cfg:    cfg,
		closed: make(chan struct{}),
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := c.rdb.Ping(pctx).Err(); err != nil {
		_ = c.rdb.Close()
		return nil, fmt.Errorf("redis: %s does not answer: %w (%w)", o.Addr, storage.ErrUnavailable, err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	c.hub = newHub(c, goredis.NewClient(&ho), prefix+"hub:"+hex.EncodeToString(id[:]), cfg.block)
	return c, nil
}

// setDefaults fills in what the URL left unset. The timeouts are what make
// an outage answer promptly rather than hang: a command fails within a few
// seconds, and ctx ends one sooner (ContextTimeoutEnabled).
func setDefaults(o *goredis.Options) {
	if o.DialTimeout == 0 {
		o.DialTimeout = dialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = ioTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = ioTimeout
	}
	if o.PoolSize == 0 {
		o.PoolSize = DefaultPoolSize
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = poolTimeout
	}
	if o.MaxRetries == 0 {
		// No retries. A script whose reply was lost may have run, and
		// running AddImage again would answer the caller's own upload
		// with ErrDuplicate; and each retry of a timeout would double how
		// long a silent network holds a request. The pool checks an idle
		// connection before use, so one killed or left over from a
		// restarted Redis is redialled, not failed.
		o.MaxRetries = -1
	}
	if o.PipelinePoolSize == 0 {
		// No pipelines here: keep the connection count at the pool's.
		o.PipelinePoolSize = -1
	}
	if o.ClientName == "" {
		o.ClientName = "qrsync"
	}
	o.ContextTimeoutEnabled = true
}

// Close stops the live reader and News, wakes every blocked Read (it
// returns an error) and closes the connections. Calling it again is
// harmless.
func (c *Catalog) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		c.hub.close()
		c.newsMu.Lock()
		if c.news != nil {
			c.news.close()
		}
		c.newsMu.Unlock()
		err = c.rdb.Close()
	})
	return err
}

// Ping reports whether Redis answers, for /readyz.
func (c *Catalog) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return c.fail(ctx, "ping", err)
	}
	return nil
}

// fail wraps a Redis error. If ctx ended meanwhile, that is the error:
// go-redis reports a deadline as a network timeout, and callers ask
// errors.Is(err, context.DeadlineExceeded). A Redis that did not answer is
// storage.ErrUnavailable, so that the server answers 503 and the client
// tries again.
func (c *Catalog) fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("redis: %s: %w", op, cerr)
	}
	if unavailable(err) {
		return fmt.Errorf("redis %s: %s: %w (%w)", c.addr, op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("redis %s: %s: %w", c.addr, op, err)
}

// unavailable reports whether err means Redis could not be reached or
// cannot serve just now, rather than an answer to the command: any error
// that is not a reply from Redis (refused, cut, timed out, the pool
// exhausted or closed), and the replies of a server that is loading, a
// replica, or busy.
func unavailable(err error) bool {
	var re goredis.Error
	if !errors.As(err, &re) {
		return true
	}
	msg := re.Error()
	for _, p := range []string{"LOADING", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "BUSY", "NOREPLICAS", "ERR max number of clients"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// Key names. Per-session keys carry the id as a hash tag, so one session's
// keys share a slot.
func (c *Catalog) key(kind, id string) string   { return c.prefix + kind + ":{" + id + "}" }
func (c *Catalog) tokenKey(token string) string { return c.prefix + "t:" + token }
func (c *Catalog) expiryKey() string            { return c.prefix + "expiry" }
func (c *Catalog) tombsKey() string             { return c.prefix + "tombstones" }

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeLayout, s)
}

// ceilMs and floorMs turn times into scores. An expiry rounds up and the
// caller's now rounds down, so a session is never listed before its time
// (at worst a millisecond after it).
func ceilMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

func floorMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).After(t) {
		ms--
	}
	return ms
}

// codeErr maps a script's refusal to the storage error.
func codeErr(code string) error {
	switch code {
	case "none":
		return errSessionNotFound
	case "ended", "tomb":
		return errSessionExpired
	case "noimage":
		return errImageNotFound
	case "eventgone":
		return errEventGone
	case "idinuse":
		return errors.New("redis: session id already in use")
	case "tokeninuse":
		return errors.New("redis: upload token already in use")
	case "imageinuse":
		return errors.New("redis: image id already in use in this session")
	}
	return fmt.Errorf("redis: unexpected script answer %q", code)
}

// reply is a script's array answer: its code, then the rest.
func reply(v any) (string, []any, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return "", nil, fmt.Errorf("redis: unexpected script reply %T", v)
	}
	code, ok := arr[0].(string)
	if !ok {
		return "", nil, fmt.Errorf("redis: unexpected script code %T", arr[0])
	}
	return code, arr[1:], nil
}

// fields reads a flat field/value list (HGETALL's reply) into a map.
func fields(flat []any) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		m[k] = v
	}
	return m
}

// toSession decodes the session hash (or a "session" event's copy of it).
func toSession(m map[string]string) (storage.Session, error) {
	s := storage.Session{ID: m["id"], UploadToken: m["token"]}
	var err error
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"created", &s.CreatedAt}, {"upexp", &s.UploadExpiresAt}, {"exp", &s.ExpiresAt}} {
		if *f.dst, err = parseTime(m[f.name]); err != nil {
			return storage.Session{}, fmt.Errorf("redis: corrupt session record: %w", err)
		}
	}
	if s.Images, err = strconv.Atoi(m["images"]); err != nil {
		return storage.Session{}, fmt.Errorf("redis: corrupt session record: %w", err)
	}
	if s.Bytes, err = strconv.ParseInt(m["bytes"], 10, 64); err != nil {
		return storage.Session{}, fmt.Errorf("redis: corrupt session record: %w", err)
	}
	return s, nil
}

// CreateSession stores a new session with empty counters (s.Images and
// s.Bytes are ignored). An id or upload token in use, or an id whose
// tombstone stands, is an error, as is a missing id, token or expiry.
func (c *Catalog) CreateSession(ctx context.Context, s storage.Session) error {
	if s.ID == "" || s.UploadToken == "" {
		return errors.New("redis: session needs an id and an upload token")
	}
	if s.ExpiresAt.IsZero() {
		return errors.New("redis: session needs an expiry")
	}
	if s.UploadExpiresAt.IsZero() {
		s.UploadExpiresAt = s.ExpiresAt
	}
	keys := []string{c.key("s", s.ID), c.key("x", s.ID), c.tokenKey(s.UploadToken), c.key("k", s.ID),
		c.expiryKey(), c.key("i", s.ID), c.key("o", s.ID), c.key("h", s.ID), c.key("e", s.ID), c.key("z", s.ID)}
	code, err := scriptCreate.Run(ctx, c.rdb, keys, s.ID, s.UploadToken, formatTime(s.CreatedAt),
		formatTime(s.UploadExpiresAt), formatTime(s.ExpiresAt), ceilMs(s.ExpiresAt), c.cfg.grace.Milliseconds()).Text()
	if err != nil {
		return c.fail(ctx, "create session", err)
	}
	if code != "ok" {
		return codeErr(code)
	}
	return nil
}

// Session returns the session with id: ErrNotFound if unknown; the record
// and ErrExpired if it was ended; only ID and ExpiresAt (its end) and
// ErrExpired for a deleted one whose tombstone stands.
func (c *Catalog) Session(ctx context.Context, id string) (storage.Session, error) {
	v, err := scriptSession.Run(ctx, c.rdb, []string{c.key("s", id), c.key("x", id)}).Result()
	if err != nil {
		return storage.Session{}, c.fail(ctx, "session", err)
	}
	code, rest, err := reply(v)
	if err != nil {
		return storage.Session{}, err
	}
	switch code {
	case "live", "ended":
		s, err := toSession(fields(rest))
		if err != nil {
			return storage.Session{}, err
		}
		if code == "ended" {
			return s, errSessionExpired
		}
		return s, nil
	case "tomb":
		var ended time.Time
		if len(rest) > 0 {
			str, _ := rest[0].(string)
			ended, _ = parseTime(str)
		}
		return storage.Session{ID: id, ExpiresAt: ended}, errSessionExpired
	}
	return storage.Session{}, codeErr(code)
}

// SessionByToken looks a session up by any upload token it ever had, with
// the same answers as Session. Two round trips: a token never moves to
// another session, so nothing can come between them that matters.
func (c *Catalog) SessionByToken(ctx context.Context, token string) (storage.Session, error) {
	id, err := c.rdb.Get(ctx, c.tokenKey(token)).Result()
	if errors.Is(err, goredis.Nil) {
		return storage.Session{}, errSessionNotFound
	}
	if err != nil {
		return storage.Session{}, c.fail(ctx, "session by token", err)
	}
	return c.Session(ctx, id)
}

// RenewUploadLink gives a live session a new upload token valid until
// expiresAt and appends a "session" event, in one script. The old tokens
// keep pointing at the session.
func (c *Catalog) RenewUploadLink(ctx context.Context, id, token string, expiresAt time.Time) (storage.Session, storage.Event, error) {
	if token == "" || expiresAt.IsZero() {
		return storage.Session{}, storage.Event{}, errors.New("redis: a new upload link needs a token and an expiry")
	}
	keys := []string{c.key("s", id), c.key("x", id), c.tokenKey(token), c.key("k", id), c.key("e", id)}
	v, err := scriptRenew.Run(ctx, c.rdb, keys, token, formatTime(expiresAt), id, c.cfg.maxEvents).Result()
	if err != nil {
		return storage.Session{}, storage.Event{}, c.fail(ctx, "renew upload link", err)
	}
	return c.sessionEvent(v)
}

// ExtendSession moves a live session's ExpiresAt to expiresAt if that is
// later, with its backstop TTL, and appends a "session" event, in one
// script. It returns the record and the event (zero when nothing moved).
func (c *Catalog) ExtendSession(ctx context.Context, id string, expiresAt time.Time) (storage.Session, storage.Event, error) {
	keys := []string{c.key("s", id), c.key("x", id), c.key("e", id), c.key("k", id),
		c.key("i", id), c.key("o", id), c.key("h", id), c.expiryKey(), c.key("z", id)}
	v, err := scriptExtend.Run(ctx, c.rdb, keys, formatTime(expiresAt), ceilMs(expiresAt),
		c.cfg.grace.Milliseconds(), id, c.cfg.maxEvents, c.prefix).Result()
	if err != nil {
		return storage.Session{}, storage.Event{}, c.fail(ctx, "extend session", err)
	}
	return c.sessionEvent(v)
}

// sessionEvent reads the answer of a script that changes the record: a
// state code, "same" and the record, or the new event's id and the record.
func (c *Catalog) sessionEvent(v any) (storage.Session, storage.Event, error) {
	code, rest, err := reply(v)
	if err != nil {
		return storage.Session{}, storage.Event{}, err
	}
	switch code {
	case "live", "ended", "tomb", "none", "tokeninuse":
		return storage.Session{}, storage.Event{}, codeErr(code)
	}
	s, err := toSession(fields(rest))
	if err != nil {
		return storage.Session{}, storage.Event{}, err
	}
	if code == "same" {
		return s, storage.Event{}, nil
	}
	return s, storage.Event{ID: code, Type: storage.EventSession, Session: s}, nil
}

// EndSession ends a live session at the given time and appends an
// "ended" event, which wakes its readers on every instance. Ending an
// ended session is nil; a deleted one is ErrExpired.
func (c *Catalog) EndSession(ctx context.Context, id string, at time.Time) error {
	keys := []string{c.key("s", id), c.key("x", id), c.key("e", id), c.expiryKey()}
	code, err := scriptEnd.Run(ctx, c.rdb, keys, formatTime(at), id, c.cfg.maxEvents).Text()
	if err != nil {
		return c.fail(ctx, "end session", err)
	}
	if code != "ok" {
		return codeErr(code)
	}
	return nil
}

// DeleteSession removes a session's record, images and log, and leaves a
// tombstone that answers ErrExpired for its id and its tokens until
// PurgeTombstones passes tombstoneUntil (or, as a safety net, a TTL an
// hour later). Its log keeps one "ended" entry for a few minutes, which
// wakes blocked readers everywhere. A session whose keys already lapsed
// (TTL) but which the expiry set still lists is deleted too, so the sweep
// finishes. Deleting a tombstone is nil; unknown is ErrNotFound.
func (c *Catalog) DeleteSession(ctx context.Context, id string, tombstoneUntil time.Time) error {
	keys := []string{c.key("s", id), c.key("x", id), c.key("e", id), c.key("k", id),
		c.key("i", id), c.key("o", id), c.key("h", id), c.expiryKey(), c.tombsKey(), c.key("z", id)}
	code, err := scriptDelete.Run(ctx, c.rdb, keys, id, formatTime(tombstoneUntil), ceilMs(tombstoneUntil),
		tombGrace.Milliseconds(), stubTTL.Milliseconds(), c.prefix).Text()
	if err != nil {
		return c.fail(ctx, "delete session", err)
	}
	if code != "ok" {
		return codeErr(code)
	}
	return nil
}

// ExpiredSessions lists the sessions that are ended or whose ExpiresAt is
// at or before now and that are not deleted: one ZRANGEBYSCORE of the
// expiry set, where an ended session scores -inf.
func (c *Catalog) ExpiredSessions(ctx context.Context, now time.Time) ([]string, error) {
	ids, err := c.rdb.ZRangeByScore(ctx, c.expiryKey(), &goredis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(floorMs(now), 10),
	}).Result()
	if err != nil {
		return nil, c.fail(ctx, "expired sessions", err)
	}
	return ids, nil
}

// PurgeTombstones forgets the tombstones whose time is at or before now,
// with the upload tokens they kept, a batch per script so that no single
// script holds Redis for long.
func (c *Catalog) PurgeTombstones(ctx context.Context, now time.Time) error {
	for {
		n, err := scriptPurge.Run(ctx, c.rdb, []string{c.tombsKey()}, floorMs(now), c.prefix, purgeBatch).Int()
		if err != nil {
			return c.fail(ctx, "purge tombstones", err)
		}
		if n < purgeBatch {
			return nil
		}
	}
}

// SessionCount returns how many sessions the catalog holds, live or ended
// and not yet deleted, for the server's cap on sessions (ZCARD of the
// expiry set). A session whose keys lapsed by TTL counts until a sweep's
// DeleteSession removes it.
func (c *Catalog) SessionCount(ctx context.Context) (int, error) {
	n, err := c.rdb.ZCard(ctx, c.expiryKey()).Result()
	if err != nil {
		return 0, c.fail(ctx, "session count", err)
	}
	return int(n), nil
}

// AddImage records img in a live session and appends its "image" event,
// in one script: the duplicate check (which wins over a full quota), the
// quota, the write and the XADD cannot interleave with another writer on
// any instance. An empty img.SHA256 is not checked for duplicates; an
// empty or already used img.ID is an error.
func (c *Catalog) AddImage(ctx context.Context, sessionID string, img storage.Image, q storage.Quota) (storage.Image, storage.Event, error) {
	if img.ID == "" || img.Size < 0 {
		return storage.Image{}, storage.Event{}, errors.New("redis: image needs an id and a size")
	}
	data, err := json.Marshal(img)
	if err != nil {
		return storage.Image{}, storage.Event{}, fmt.Errorf("redis: encode image: %w", err)
	}
	keys := []string{c.key("s", sessionID), c.key("x", sessionID), c.key("i", sessionID),
		c.key("o", sessionID), c.key("h", sessionID), c.key("e", sessionID), c.key("z", sessionID)}
	v, err := scriptAdd.Run(ctx, c.rdb, keys, img.ID, data, img.SHA256, img.Size,
		max(q.MaxImages, 0), max(q.MaxBytes, 0), c.cfg.maxEvents).Result()
	if err != nil {
		return storage.Image{}, storage.Event{}, c.fail(ctx, "add image", err)
	}
	code, rest, err := reply(v)
	if err != nil {
		return storage.Image{}, storage.Event{}, err
	}
	switch code {
	case "ok":
		id, _ := rest[0].(string)
		return img, storage.Event{ID: id, Type: storage.EventImage, Image: img}, nil
	case "dup":
		dup, err := decodeImage(rest[0])
		if err != nil {
			return storage.Image{}, storage.Event{}, err
		}
		return dup, storage.Event{}, errDuplicate
	case "quota":
		what, _ := rest[0].(string)
		return storage.Image{}, storage.Event{}, fmt.Errorf("redis: %s: %w", what, storage.ErrQuota)
	}
	return storage.Image{}, storage.Event{}, codeErr(code)
}

func decodeImage(v any) (storage.Image, error) {
	var img storage.Image
	s, _ := v.(string)
	if err := json.Unmarshal([]byte(s), &img); err != nil {
		return storage.Image{}, fmt.Errorf("redis: corrupt image record: %w", err)
	}
	return img, nil
}

// RemoveImage deletes an image, frees its place in the quota and its hash,
// and appends a "removed" event, in one script.
func (c *Catalog) RemoveImage(ctx context.Context, sessionID, imageID string) (storage.Event, error) {
	keys := []string{c.key("s", sessionID), c.key("x", sessionID), c.key("i", sessionID),
		c.key("o", sessionID), c.key("h", sessionID), c.key("e", sessionID), c.key("z", sessionID)}
	v, err := scriptRemove.Run(ctx, c.rdb, keys, imageID, c.cfg.maxEvents).Result()
	if err != nil {
		return storage.Event{}, c.fail(ctx, "remove image", err)
	}
	code, rest, err := reply(v)
	if err != nil {
		return storage.Event{}, err
	}
	if code != "ok" {
		return storage.Event{}, codeErr(code)
	}
	id, _ := rest[0].(string)
	return storage.Event{ID: id, Type: storage.EventRemoved, ImageID: imageID}, nil
}

// Image returns one image of a live session.
func (c *Catalog) Image(ctx context.Context, sessionID, imageID string) (storage.Image, error) {
	keys := []string{c.key("s", sessionID), c.key("x", sessionID), c.key("i", sessionID)}
	v, err := scriptImage.Run(ctx, c.rdb, keys, imageID).Result()
	if err != nil {
		return storage.Image{}, c.fail(ctx, "image", err)
	}
	code, rest, err := reply(v)
	if err != nil {
		return storage.Image{}, err
	}
	if code != "ok" {
		return storage.Image{}, codeErr(code)
	}
	return decodeImage(rest[0])
}

// ImageBySHA returns the session's image whose bytes hash to sum, through
// the duplicate index (h:{id}); found is false if it has none.
func (c *Catalog) ImageBySHA(ctx context.Context, sessionID, sum string) (storage.Image, bool, error) {
	keys := []string{c.key("s", sessionID), c.key("x", sessionID), c.key("h", sessionID), c.key("i", sessionID)}
	v, err := scriptImageBySHA.Run(ctx, c.rdb, keys, sum).Result()
	if err != nil {
		return storage.Image{}, false, c.fail(ctx, "image by sha", err)
	}
	code, rest, err := reply(v)
	if err != nil {
		return storage.Image{}, false, err
	}
	switch code {
	case "ok":
		img, err := decodeImage(rest[0])
		return img, err == nil, err
	case "noimage":
		return storage.Image{}, false, nil
	}
	return storage.Image{}, false, codeErr(code)
}

// HasImageSized reports whether the session holds an image of lo to hi
// bytes, through the size index (z:{id}): one range query, however large
// the gallery.
func (c *Catalog) HasImageSized(ctx context.Context, sessionID string, lo, hi int64) (bool, error) {
	keys := []string{c.key("s", sessionID), c.key("x", sessionID), c.key("z", sessionID), c.key("i", sessionID)}
	v, err := scriptHasSized.Run(ctx, c.rdb, keys, lo, hi).Result()
	if err != nil {
		return false, c.fail(ctx, "image by size", err)
	}
	code, _, err := reply(v)
	if err != nil {
		return false, err
	}
	switch code {
	case "ok":
		return true, nil
	case "noimage":
		return false, nil
	}
	return false, codeErr(code)
}

// Images returns the session's images, oldest first, and the id of the
// log's last event ("" if none), read by one script so that the snapshot
// plus the events after that id is exactly the gallery. The slice is never
// nil, so it encodes as [] in a snapshot.
func (c *Catalog) Images(ctx context.Context, sessionID string) ([]storage.Image, string, error) {
	keys := []string{c.key("s", sessionID), c.key("x", sessionID), c.key("o", sessionID),
		c.key("i", sessionID), c.key("e", sessionID)}
	v, err := scriptImages.Run(ctx, c.rdb, keys).Result()
	if err != nil {
		return nil, "", c.fail(ctx, "images", err)
	}
	code, rest, err := reply(v)
	if err != nil {
		return nil, "", err
	}
	if code != "ok" {
		return nil, "", codeErr(code)
	}
	last, _ := rest[0].(string)
	imgs := make([]storage.Image, 0, len(rest)-1)
	for _, r := range rest[1:] {
		img, err := decodeImage(r)
		if err != nil {
			return nil, "", err
		}
		imgs = append(imgs, img)
	}
	return imgs, last, nil
}

// Read returns up to limit events after afterID (limit <= 0: all), oldest
// first, and waits for the log to grow when there are none. The wait
// holds no connection: the handle's hub watches the stream from afterID
// and wakes this call when an entry lands, and the call then looks again
// on the pool. The hub reads from afterID itself, not from "now", so an
// entry appended between the look and the wait is never missed.
func (c *Catalog) Read(ctx context.Context, sessionID, afterID string, limit int) ([]storage.Event, error) {
	pos, ok := parseStreamID(afterID)
	if !ok {
		// Not a stream id at all; the log cannot hold it. The session's
		// state is still the first answer, as for an id it lacks.
		if _, err := c.readNow(ctx, sessionID, "", 1); err != nil {
			return nil, err
		}
		return nil, errEventGone
	}
	key := c.key("e", sessionID)
	for {
		evs, err := c.readNow(ctx, sessionID, afterID, limit)
		if err != nil || len(evs) > 0 {
			return evs, err
		}
		w, release := c.hub.watch(key, pos)
		select {
		case <-w.ch:
			release()
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		case <-c.closed:
			release()
			return nil, errClosed
		}
	}
}

// readNow is one look at the log: the session's state, afterID's place in
// the log and what follows it, atomically.
func (c *Catalog) readNow(ctx context.Context, sessionID, afterID string, limit int) ([]storage.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	keys := []string{c.key("s", sessionID), c.key("x", sessionID), c.key("e", sessionID)}
	v, err := scriptRead.Run(ctx, c.rdb, keys, afterID, max(limit, 0)).Result()
	if err != nil {
		return nil, c.fail(ctx, "read events", err)
	}
	code, rest, err := reply(v)
	if err != nil {
		return nil, err
	}
	if code != "ok" {
		return nil, codeErr(code)
	}
	entries, _ := rest[0].([]any)
	evs := make([]storage.Event, 0, len(entries))
	for _, e := range entries {
		ev, err := decodeEntry(e)
		if err != nil {
			return nil, err
		}
		if ev.Type == storage.EventEnded {
			// Never returned: the end is an answer, not an event.
			return nil, errSessionExpired
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// decodeEntry reads one stream entry: [id, [field, value, ...]] with the
// fields t (the type) and d (the record: an Image as JSON, a removed
// image's id, a session's fields as JSON).
func decodeEntry(v any) (storage.Event, error) {
	e, ok := v.([]any)
	if !ok || len(e) != 2 {
		return storage.Event{}, errors.New("redis: corrupt log entry")
	}
	id, _ := e[0].(string)
	flat, _ := e[1].([]any)
	f := fields(flat)
	ev := storage.Event{ID: id, Type: f["t"]}
	switch ev.Type {
	case storage.EventImage:
		if err := json.Unmarshal([]byte(f["d"]), &ev.Image); err != nil {
			return storage.Event{}, fmt.Errorf("redis: corrupt image event: %w", err)
		}
	case storage.EventRemoved:
		ev.ImageID = f["d"]
	case storage.EventSession:
		var m map[string]string
		if err := json.Unmarshal([]byte(f["d"]), &m); err != nil {
			return storage.Event{}, fmt.Errorf("redis: corrupt session event: %w", err)
		}
		s, err := toSession(m)
		if err != nil {
			return storage.Event{}, err
		}
		ev.Session = s
	case storage.EventEnded:
	default:
		return storage.Event{}, fmt.Errorf("redis: log entry of unknown type %q", ev.Type)
	}
	return ev, nil
}
