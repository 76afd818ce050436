package main

import (
	"errors"
	"slices"
	"strconv"

	"qrsync/api/wire"
)

// Connection states, spelled exactly as eventsource.State.String() spells
// them, so that the page's data-state attribute, the view model and the
// browser tests share one vocabulary without this file importing the
// decoder.
const (
	StateConnecting   = "connecting"
	StateLive         = "live"
	StateReconnecting = "reconnecting"
	StateEnded        = "ended"
)

// How long placeholder tiles live without news, in milliseconds. Upload events are live
// news only (never replayed), so a placeholder can always miss its end.
const (
	// UploadSilence: a placeholder that hears nothing this long goes (the
	// phone went away).
	UploadSilence = 2 * Minute
	// FailedLinger: an error tile goes away by itself after this.
	FailedLinger = Minute
	// ReconnectGrace: after the stream comes back, an upload must be
	// heard of within this, since its failure may have been told while
	// the page was away. A live upload reports several times a second.
	ReconnectGrace = 15 * Second
)

// Key names one tile of the gallery: an image's, or an upload
// placeholder's. Image and upload ids are separate opaque namespaces, so
// the kind is part of the key. The zero Key means "the end of the
// gallery" wherever a position is asked for.
type Key struct {
	Upload bool   // a placeholder or error tile, named by its upload id
	ID     string // the image id, or the upload id
}

// ImageKey is the key of an image's tile.
func ImageKey(id string) Key { return Key{ID: id} }

// UploadKey is the key of an upload's placeholder tile.
func UploadKey(id string) Key { return Key{Upload: true, ID: id} }

// String writes the key for test failures and logs: "abc", or "u:abc" for
// an upload.
func (k Key) String() string {
	if k.Upload {
		return "u:" + k.ID
	}
	return k.ID
}

// OpKind says what one Op asks the DOM layer to do.
type OpKind int

// The operations the DOM layer knows. They are the smallest set that lets
// the page follow the model without ever rebuilding a tile that is already
// on screen: a rebuilt <img> would flash and refetch its thumbnail.
const (
	// OpAdd: build a tile for Image and insert it before the tile Before
	// (the zero Key means at the end).
	OpAdd OpKind = iota + 1
	// OpRemove: take the tile Key off the page.
	OpRemove
	// OpMove: move the existing tile Key before the tile Before. Only a
	// snapshot that reorders known tiles needs it.
	OpMove
	// OpState: the connection state changed to State.
	OpState
	// OpPending: build a placeholder tile for Upload (in whatever state
	// it is, failed included) and insert it before Before.
	OpPending
	// OpProgress: the upload of tile Key moved on; show Upload.
	OpProgress
	// OpFailed: the upload of tile Key failed; turn its tile into an
	// error tile showing Upload.
	OpFailed
	// OpSession: the session's own fields changed (new code, new
	// expiry); redraw what shows them from Session.
	OpSession
	// OpViewer: show Image in the viewer at Index of Total, opening it if
	// needed; an Image without an id closes the viewer.
	OpViewer
)

// String names the kind, for test failures and console logs.
func (k OpKind) String() string {
	switch k {
	case OpAdd:
		return "add"
	case OpRemove:
		return "remove"
	case OpMove:
		return "move"
	case OpState:
		return "state"
	case OpPending:
		return "pending"
	case OpProgress:
		return "progress"
	case OpFailed:
		return "failed"
	case OpSession:
		return "session"
	case OpViewer:
		return "viewer"
	}
	return "OpKind(" + strconv.Itoa(int(k)) + ")"
}

// Op is one change the DOM layer applies, in order. Applying a list of ops
// to a page that matched the model before makes it match the model after;
// that is the whole contract, and it keeps the syscall/js code trivial.
type Op struct {
	Kind OpKind
	// Key is the tile the op is about (every kind but OpState, OpSession
	// and OpViewer).
	Key Key
	// Before is the tile to insert in front of; the zero Key means at the
	// end of the gallery (OpAdd, OpMove, OpPending).
	Before Key
	// Image is the image to draw (OpAdd, OpViewer).
	Image Image
	// Arrived is true when the image just came in on a live `image` event
	// rather than as part of a snapshot, so the page may draw the eye to it.
	Arrived bool
	// Upload is the placeholder to draw (OpPending, OpProgress, OpFailed).
	Upload Upload
	// State is the new connection state (OpState).
	State string
	// Session is the session as it now stands, without images (OpSession).
	Session Session
	// Index and Total place Image among the photos (OpViewer).
	Index, Total int
}

// Upload is a file a phone is sending, as its placeholder tile shows it.
type Upload struct {
	ID   string // the opaque upload id of its events
	Name string // the file's name on the phone
	// Received and Total are bytes; Total 0 means unknown (an
	// indeterminate bar).
	Received, Total int64
	// Failed is set once the server said the upload failed; Error then
	// says why, in plain words.
	Failed bool
	Error  string

	heard Instant // the last news of it: the clock of its timeouts
}

// Gallery is the PC page's view model: the tiles on show in upload order
// (oldest first, placeholders of uploads still arriving after the photos),
// the session's own fields, the photo open in the viewer and the
// connection state. It is fed the decoded events of the stream and the
// user's actions and answers each with the ops that bring the page up to
// date. It is not safe for concurrent use; the page serialises calls.
type Gallery struct {
	// Now is the clock of the placeholders' timeouts (the page's is the
	// browser's Date.now); nil is a clock stopped at 0, for tests that do
	// not let time pass.
	Now func() Instant

	order   []Key              // tiles in display order
	images  map[string]Image   // by image id
	uploads map[string]*Upload // placeholders, by upload id
	// finished holds the uploads that completed or failed: progress heard
	// for them afterwards is late news (it can overtake nothing) and must
	// not bring a placeholder back.
	finished map[string]bool
	session  Session
	state    string
	viewing  string // id of the image in the viewer, "" when closed
}

// NewGallery returns an empty gallery in the connecting state.
func NewGallery() *Gallery {
	return &Gallery{
		images:   map[string]Image{},
		uploads:  map[string]*Upload{},
		finished: map[string]bool{},
		state:    StateConnecting,
	}
}

func (g *Gallery) now() Instant {
	if g.Now != nil {
		return g.Now()
	}
	return 0
}

// State returns the connection state, one of the State constants.
func (g *Gallery) State() string { return g.state }

// Len returns how many photos are on show (placeholders not counted).
func (g *Gallery) Len() int { return len(g.images) }

// IDs returns the ids of the photos on show in display order, oldest
// first.
//
//go:noinline
func (g *Gallery) IDs() []string {
	ids := make([]string, 0, len(g.images))
	for _, k := range g.order {
		if !k.Upload {
			ids = append(ids, k.ID)
		}
	}
	return ids
}

// Keys returns every tile on show, placeholders included, in display
// order.
func (g *Gallery) Keys() []Key { return slices.Clone(g.order) }

// Image returns the image with the given id, if it is on show.
func (g *Gallery) Image(id string) (Image, bool) {
	img, ok := g.images[id]
	return img, ok
}

// Upload returns the placeholder of an upload, if it is on show.
func (g *Gallery) Upload(id string) (Upload, bool) {
	u, ok := g.uploads[id]
	if !ok {
		return Upload{}, false
	}
	return *u, true
}

// Session returns the session as last told (without images).
func (g *Gallery) Session() Session { return g.session }

// ExpiresAt returns when the session and its photos are removed, as last
// told by the session or a snapshot (zero until then).
func (g *Gallery) ExpiresAt() Instant { return g.session.ExpiresAt }

// Viewing returns the id of the photo open in the viewer, "" if none.
func (g *Gallery) Viewing() string { return g.viewing }

// errNoID rejects an image or removal without an id: such an image could
// never be matched by a later removed event or deduplicated on replay.
var errNoID = errors.New("event without an id")

// eventError says which event an error is about, and keeps the error
// reachable by errors.Is (fmt.Errorf's %w without fmt).
type eventError struct {
	event string
	err   error
}

func (e *eventError) Error() string { return e.event + ": " + e.err.Error() }
func (e *eventError) Unwrap() error { return e.err }

// Apply takes one event of the session stream, by its type and raw data,
// and returns the ops that show its effect. Unknown event types are ignored
// (a newer server may send more); malformed data is an error and changes
// nothing. After the session has ended every event is ignored.
func (g *Gallery) Apply(eventType string, data []byte) ([]Op, error) {
	if g.state == StateEnded {
		return nil, nil
	}
	switch eventType {
	case wire.EventSnapshot:
		var s Snapshot
		if err := decodeSnapshot(data, &s); err != nil {
			return nil, &eventError{"snapshot event", err}
		}
		ops := g.Snapshot(s.Images)
		if s.ExpiresAt != 0 {
			ops = append(ops, g.SetSession(Session{ExpiresAt: s.ExpiresAt})...)
		}
		return ops, nil
	case wire.EventImage:
		var img Image
		if err := decodeImage(data, &img); err != nil {
			return nil, &eventError{"image event", err}
		}
		if img.ID == "" {
			return nil, &eventError{"image event", errNoID}
		}
		return g.Add(img), nil
	case wire.EventRemoved:
		var r wire.Removed
		if err := decodeRemoved(data, &r); err != nil {
			return nil, &eventError{"removed event", err}
		}
		if r.ID == "" {
			return nil, &eventError{"removed event", errNoID}
		}
		return g.Remove(r.ID), nil
	case wire.EventExpired:
		return g.Expire(), nil
	case wire.EventUpload:
		var p wire.UploadProgress
		if err := decodeProgress(data, &p); err != nil {
			return nil, &eventError{"upload event", err}
		}
		if p.Upload == "" {
			return nil, &eventError{"upload event", errNoID}
		}
		return g.Progress(p), nil
	case wire.EventSession:
		var s Session
		if err := decodeSession(data, &s); err != nil {
			return nil, &eventError{"session event", err}
		}
		return g.SetSession(s), nil
	}
	return nil, nil
}

// SetSession takes the session's own fields, from the first answer, a new
// upload link or a `session` event, and returns an OpSession if anything
// the page shows changed. Empty fields keep what was known (a `session`
// event may leave some out); images are not the session's business here.
func (g *Gallery) SetSession(s Session) []Op {
	if g.state == StateEnded {
		return nil
	}
	next := g.session
	if next.ID == "" {
		next.ID = s.ID
	}
	if s.UploadURL != "" {
		next.UploadURL = s.UploadURL
	}
	if s.QRURL != "" {
		next.QRURL = s.QRURL
	}
	if s.EventsURL != "" {
		next.EventsURL = s.EventsURL
	}
	if s.UploadExpiresAt != 0 {
		next.UploadExpiresAt = s.UploadExpiresAt
	}
	if s.ExpiresAt != 0 {
		next.ExpiresAt = s.ExpiresAt
	}
	next.Images = nil
	cur := g.session
	if next.ID == cur.ID && next.UploadURL == cur.UploadURL && next.QRURL == cur.QRURL &&
		next.EventsURL == cur.EventsURL && next.UploadExpiresAt == cur.UploadExpiresAt &&
		next.ExpiresAt == cur.ExpiresAt {
		return nil
	}
	g.session = next
	return []Op{{Kind: OpSession, Session: next}}
}

// Snapshot replaces the photos with images (oldest first, as the server
// lists them). Tiles that vanished are removed, new ones are added in
// place, and tiles already on show are kept as they are, so a reconnect
// that falls back to a snapshot causes no flicker. Placeholders stay after
// the photos, except those whose photo the snapshot shows.
func (g *Gallery) Snapshot(images []Image) []Op {
	if g.state == StateEnded {
		return nil
	}
	return g.tracked(func() []Op {
		nextImages := make(map[string]Image, len(images))
		target := make([]Key, 0, len(images)+len(g.uploads))
		for _, img := range images {
			if img.ID == "" {
				continue
			}
			if _, dup := nextImages[img.ID]; dup {
				continue
			}
			nextImages[img.ID] = img
			target = append(target, ImageKey(img.ID))
			if img.Upload != "" {
				g.finished[img.Upload] = true
				delete(g.uploads, img.Upload) // arrived while we were away
			}
		}
		for _, k := range g.order {
			if k.Upload && g.uploads[k.ID] != nil {
				target = append(target, k)
			}
		}
		g.images = nextImages
		return g.arrange(target, func(k Key) Op {
			return Op{Kind: OpAdd, Key: k, Image: nextImages[k.ID]}
		})
	})
}

// arrange turns the page's tiles (g.order) into target with the fewest
// moves: tiles not in target are removed, tiles in a longest run that is
// already in order stay put, new tiles are built by build, and the rest
// move. It walks from the end so that every insertion has its successor in
// its final place already.
func (g *Gallery) arrange(target []Key, build func(Key) Op) []Op {
	want := make(map[Key]bool, len(target))
	for _, k := range target {
		want[k] = true
	}
	var ops []Op
	pos := make(map[Key]int, len(g.order)) // kept tiles by page position
	for _, k := range g.order {
		if want[k] {
			pos[k] = len(pos)
		} else {
			ops = append(ops, Op{Kind: OpRemove, Key: k})
		}
	}
	seq := make([]int, 0, len(pos)) // page positions in target order
	for _, k := range target {
		if p, ok := pos[k]; ok {
			seq = append(seq, p)
		}
	}
	stay := increasingRun(seq)
	var before Key
	for i := len(target) - 1; i >= 0; i-- {
		k := target[i]
		p, had := pos[k]
		switch {
		case !had:
			op := build(k)
			op.Before = before
			ops = append(ops, op)
		case !stay[p]:
			ops = append(ops, Op{Kind: OpMove, Key: k, Before: before})
		}
		before = k
	}
	g.order = target
	return ops
}

// increasingRun returns the members of a longest strictly increasing
// subsequence of seq (distinct values), by value.
func increasingRun(seq []int) map[int]bool {
	tails := []int{}              // indexes into seq: tails[l] ends a run of l+1
	prev := make([]int, len(seq)) // the index before each in its run
	for i, v := range seq {
		l, _ := slices.BinarySearchFunc(tails, v, func(j, v int) int { return seq[j] - v })
		if l > 0 {
			prev[i] = tails[l-1]
		} else {
			prev[i] = -1
		}
		if l == len(tails) {
			tails = append(tails, i)
		} else {
			tails[l] = i
		}
	}
	in := make(map[int]bool, len(tails))
	if len(tails) > 0 {
		for i := tails[len(tails)-1]; i >= 0; i = prev[i] {
			in[seq[i]] = true
		}
	}
	return in
}

// Add shows a newly arrived image: in place of its upload's placeholder if
// there is one, otherwise after the other photos (before the placeholders of
// uploads still arriving). An image already on show is ignored, so the
// overlap of a replay after a reconnect never shows a photo twice.
func (g *Gallery) Add(img Image) []Op {
	if g.state == StateEnded || img.ID == "" {
		return nil
	}
	return g.tracked(func() []Op {
		var ops []Op
		var pending Key
		if img.Upload != "" {
			g.finished[img.Upload] = true
			if g.uploads[img.Upload] != nil {
				pending = UploadKey(img.Upload)
				delete(g.uploads, img.Upload)
			}
		}
		if _, ok := g.images[img.ID]; ok {
			// The bytes were already here (a duplicate): the placeholder
			// has nothing left to wait for.
			if pending.ID != "" {
				g.order = slices.DeleteFunc(g.order, func(k Key) bool { return k == pending })
				ops = append(ops, Op{Kind: OpRemove, Key: pending})
			}
			return ops
		}
		g.images[img.ID] = img
		k := ImageKey(img.ID)
		if pending.ID != "" {
			i := slices.Index(g.order, pending)
			g.order[i] = k
			return append(ops,
				Op{Kind: OpAdd, Key: k, Image: img, Before: pending, Arrived: true},
				Op{Kind: OpRemove, Key: pending})
		}
		i := slices.IndexFunc(g.order, func(k Key) bool { return k.Upload })
		var before Key
		if i < 0 {
			i = len(g.order)
		} else {
			before = g.order[i]
		}
		g.order = append(g.order, Key{})
		copy(g.order[i+1:], g.order[i:])
		g.order[i] = k
		return append(ops, Op{Kind: OpAdd, Key: k, Image: img, Before: before, Arrived: true})
	})
}

// Remove takes an image off the gallery; an id not on show is harmless. If
// the viewer shows it, the viewer moves on to the next photo (or the one
// before, or closes).
func (g *Gallery) Remove(id string) []Op {
	if g.state == StateEnded {
		return nil
	}
	if _, ok := g.images[id]; !ok {
		return nil
	}
	return g.tracked(func() []Op {
		delete(g.images, id)
		return g.drop(ImageKey(id))
	})
}

// drop takes a tile out of the order and says so.
func (g *Gallery) drop(k Key) []Op {
	g.order = slices.DeleteFunc(g.order, func(o Key) bool { return o == k })
	return []Op{{Kind: OpRemove, Key: k}}
}

// Progress takes the news of a file a phone is sending. An unknown upload
// gets a placeholder at the end; a known one is updated, becomes an error
// tile if the news is a failure, or goes if the file was a duplicate. News
// of an upload that already completed or failed is late (it can arrive
// after the image event) and ignored.
func (g *Gallery) Progress(p wire.UploadProgress) []Op {
	if g.state == StateEnded || p.Upload == "" || g.finished[p.Upload] {
		return nil
	}
	if p.Duplicate != "" {
		// The session had these bytes already (as image p.Duplicate): no
		// image event follows, so the placeholder has nothing to wait for.
		g.finished[p.Upload] = true
		return g.Dismiss(p.Upload)
	}
	now := g.now()
	u := g.uploads[p.Upload]
	if u == nil {
		u = &Upload{ID: p.Upload, Name: p.Name, Received: p.Received, Total: p.Total, heard: now}
		if p.Error != nil {
			g.fail(u, p.Error)
		}
		g.uploads[p.Upload] = u
		k := UploadKey(p.Upload)
		g.order = append(g.order, k)
		return []Op{{Kind: OpPending, Key: k, Upload: *u}}
	}
	u.heard = now
	if p.Name != "" {
		u.Name = p.Name
	}
	if p.Error != nil {
		if p.Total > 0 {
			u.Received, u.Total = p.Received, p.Total
		}
		g.fail(u, p.Error)
		return []Op{{Kind: OpFailed, Key: UploadKey(u.ID), Upload: *u}}
	}
	if p.Received == u.Received && p.Total == u.Total {
		return nil
	}
	u.Received, u.Total = p.Received, p.Total
	return []Op{{Kind: OpProgress, Key: UploadKey(u.ID), Upload: *u}}
}

func (g *Gallery) fail(u *Upload, e *wire.ErrorDetail) {
	u.Failed = true
	u.Error = UploadErrorText(e.Code, e.Message)
	g.finished[u.ID] = true
}

// Dismiss takes a placeholder or error tile away at the user's request.
func (g *Gallery) Dismiss(uploadID string) []Op {
	u := g.uploads[uploadID]
	if u == nil {
		return nil
	}
	delete(g.uploads, uploadID)
	return g.drop(UploadKey(uploadID))
}

// Tick lets time pass: error tiles older than FailedLinger and
// placeholders silent for UploadSilence go.
func (g *Gallery) Tick(now Instant) []Op {
	var ops []Op
	for _, k := range slices.Clone(g.order) {
		if !k.Upload {
			continue
		}
		u := g.uploads[k.ID]
		idle := int64(now - u.heard)
		if (u.Failed && idle >= FailedLinger) || (!u.Failed && idle >= UploadSilence) {
			delete(g.uploads, k.ID)
			ops = append(ops, g.drop(k)...)
		}
	}
	return ops
}

// Expire ends the session for good. The photos' tiles stay on the page
// (their thumbnails are already loaded) but placeholders go, since their
// uploads can no longer complete, the viewer closes, the state is ended
// and nothing changes the gallery afterwards.
func (g *Gallery) Expire() []Op {
	return g.SetState(StateEnded)
}

// SetState records a connection state reported by the stream client and
// returns an OpState if it changed. Ended is final: a late "reconnecting"
// from the client cannot bring a dead session back to life on screen.
func (g *Gallery) SetState(state string) []Op {
	if g.state == StateEnded || g.state == state {
		return nil
	}
	var ops []Op
	switch {
	case state == StateEnded:
		ops = g.tracked(func() []Op {
			var ops []Op
			for _, k := range slices.Clone(g.order) {
				if k.Upload {
					delete(g.uploads, k.ID)
					ops = append(ops, g.drop(k)...)
				}
			}
			g.viewing = ""
			return ops
		})
	case state == StateLive && g.state == StateReconnecting:
		latest := g.now() + Instant(ReconnectGrace-UploadSilence)
		for _, u := range g.uploads {
			if !u.Failed && u.heard > latest {
				u.heard = latest
			}
		}
	}
	g.state = state
	return append(ops, Op{Kind: OpState, State: state})
}

// Open shows a photo in the viewer.
func (g *Gallery) Open(id string) []Op {
	if g.state == StateEnded {
		return nil
	}
	if _, ok := g.images[id]; !ok {
		return nil
	}
	return g.tracked(func() []Op {
		g.viewing = id
		return nil
	})
}

// Close closes the viewer.
func (g *Gallery) Close() []Op {
	return g.tracked(func() []Op {
		g.viewing = ""
		return nil
	})
}

// Step moves the viewer by delta photos (-1 previous, +1 next); past
// either end it stays where it is.
func (g *Gallery) Step(delta int) []Op {
	if g.viewing == "" {
		return nil
	}
	ids := g.IDs()
	i := slices.Index(ids, g.viewing) + delta
	if i < 0 || i >= len(ids) {
		return nil
	}
	return g.tracked(func() []Op {
		g.viewing = ids[i]
		return nil
	})
}

// tracked runs a change and adds the OpViewer it calls for: the viewer
// follows when its photo moves, is joined by others, or is removed (it
// then shows the photo that took its place, or the one before, or closes).
func (g *Gallery) tracked(change func() []Op) []Op {
	was := g.viewing
	wasAt, wasOf := g.position(was)
	ops := change()
	if g.viewing != "" {
		if _, ok := g.images[g.viewing]; !ok {
			ids := g.IDs()
			if len(ids) == 0 {
				g.viewing = ""
			} else {
				g.viewing = ids[min(wasAt, len(ids)-1)]
			}
		}
	}
	if g.viewing == "" {
		if was != "" {
			ops = append(ops, Op{Kind: OpViewer})
		}
		return ops
	}
	at, of := g.position(g.viewing)
	if g.viewing != was || at != wasAt || of != wasOf {
		ops = append(ops, Op{Kind: OpViewer, Image: g.images[g.viewing], Index: at, Total: of})
	}
	return ops
}

// position is where a photo stands among the photos: its index and their
// number (-1 when not on show).
//
//go:noinline
func (g *Gallery) position(id string) (int, int) {
	ids := g.IDs()
	return slices.Index(ids, id), len(ids)
}
