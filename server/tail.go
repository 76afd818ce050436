package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"qrsync/api"
	"qrsync/storage"
)

// A session watched by a thousand viewers would, read one stream at a
// time, be read from the log and encoded a thousand times per event. So
// each session with streams on this instance has one tail: a reader of the
// log that frames each event once, as the exact bytes a stream writes, and
// keeps the last few for the streams to take. A stream whose position the
// tail knows takes what follows it; one that is behind (a reconnect from
// long ago, a slow viewer) or momentarily ahead reads the log itself, as
// every stream once did, until its position is the tail's again. The log
// stays the one source of events: the tail is a shared read of it, never
// a queue, and a slow viewer still delays only itself.

// tailFrames is how many events a tail keeps for streams behind it. It is
// trimmed to half when full, so a stream's view of it stays valid.
const tailFrames = 64

// frame is an event of the log as a stream sends it.
type frame struct {
	ev storage.Event
	// chunk is the event as SSE, framed as one HTTP chunk; nil for a kind
	// of event this server does not send.
	chunk []byte
}

// tails is this instance's tails, and its news feeds, by session id.
type tails struct {
	s     *Server
	mu    sync.Mutex
	m     map[string]*tail
	feeds map[string]*feed
}

// feed is a session's news, subscribed to once for all its streams here:
// each piece is read once and put in every stream's mailbox.
//
// Putting news in a thousand mailboxes, and waking their streams, takes a
// couple of milliseconds, and News may call deliver from the upload that
// the news is about (in-process news does): so deliver only leaves the
// news in the feed's inbox, and a goroutine of the feed's, running only
// while there is news to hand out, spreads it. One spreader at a time
// keeps each upload's news in order.
type feed struct {
	mu    sync.Mutex // over boxes; held while news is spread
	boxes map[*mailbox]struct{}
	stop  func()

	inboxMu   sync.Mutex
	inbox     []feedNews // not yet spread, oldest first; one per upload
	spreading bool       // a spreader runs
}

// feedNews is a piece of news in a feed's inbox.
type feedNews struct {
	upload string
	chunk  []byte // as streams send it (sseChunk)
}

// listen puts the session's news in m from now on, until the function
// it returns is called.
func (ts *tails) listen(sessionID string, m *mailbox) func() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	f := ts.feeds[sessionID]
	if f == nil {
		if ts.feeds == nil {
			ts.feeds = map[string]*feed{}
		}
		f = &feed{boxes: map[*mailbox]struct{}{}}
		f.stop = ts.s.news.Subscribe(sessionID, f.deliver)
		ts.feeds[sessionID] = f
	}
	f.mu.Lock()
	f.boxes[m] = struct{}{}
	f.mu.Unlock()
	return func() {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		f.mu.Lock()
		delete(f.boxes, m)
		empty := len(f.boxes) == 0
		f.mu.Unlock()
		if empty {
			f.stop()
			if ts.feeds[sessionID] == f {
				delete(ts.feeds, sessionID)
			}
		}
	}
}

// deliver is the News callback.
func (f *feed) deliver(data []byte) {
	var p api.UploadProgress
	if json.Unmarshal(data, &p) != nil || p.Upload == "" {
		return
	}
	// Framed once here for every stream, as its tail frames events.
	n := feedNews{upload: p.Upload, chunk: sseChunk("", api.EventUpload, data)}
	f.inboxMu.Lock()
	defer f.inboxMu.Unlock()
	// Only the latest word of an upload matters, so the inbox holds one
	// per upload being sent (mailboxUploads at most), however fast news
	// comes.
	if i := slices.IndexFunc(f.inbox, func(o feedNews) bool { return o.upload == n.upload }); i >= 0 {
		f.inbox[i] = n
	} else {
		if len(f.inbox) == mailboxUploads {
			f.inbox = f.inbox[1:] // as a mailbox forgets its oldest upload
		}
		f.inbox = append(f.inbox, n)
	}
	if !f.spreading {
		f.spreading = true
		go f.spread()
	}
}

// spread puts the inbox's news in every mailbox until the inbox is empty.
func (f *feed) spread() {
	for {
		f.inboxMu.Lock()
		batch := f.inbox
		f.inbox = nil
		if len(batch) == 0 {
			f.spreading = false
			f.inboxMu.Unlock()
			return
		}
		f.inboxMu.Unlock()
		f.mu.Lock()
		for m := range f.boxes {
			for _, n := range batch {
				m.put(n.upload, n.chunk)
			}
		}
		f.mu.Unlock()
	}
}

// tail is one session's shared read of its log.
type tail struct {
	ts     *tails
	id     string
	cancel context.CancelFunc

	mu     sync.Mutex
	since  string  // frames follow this event id
	frames []frame // oldest first; never changed in place, only replaced
	err    error   // why the tail stopped; it is then out of ts.m
	subs   map[*waker]struct{}
}

// join adds a stream at position last to the session's tail, starting one
// from last if the session has none. w is woken whenever the tail moves.
func (ts *tails) join(sessionID, last string, w *waker) *tail {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.m[sessionID]
	if t == nil {
		if ts.m == nil {
			ts.m = map[string]*tail{}
		}
		ctx, cancel := context.WithCancel(ts.s.life)
		t = &tail{ts: ts, id: sessionID, cancel: cancel, since: last, subs: map[*waker]struct{}{}}
		ts.m[sessionID] = t
		ts.s.streams.Add(1) // Serve waits for tails as for streams
		go t.run(ctx)
	}
	t.mu.Lock()
	t.subs[w] = struct{}{}
	t.mu.Unlock()
	return t
}

// leave removes a stream; the tail stops with its last stream.
func (t *tail) leave(w *waker) {
	t.ts.mu.Lock()
	defer t.ts.mu.Unlock()
	t.mu.Lock()
	delete(t.subs, w)
	empty := len(t.subs) == 0
	t.mu.Unlock()
	if empty {
		t.cancel()
		if t.ts.m[t.id] == t {
			delete(t.ts.m, t.id)
		}
	}
}

// after returns the frames that follow last. known is false when the tail
// does not hold last: the stream must read the log itself. Once the tail
// has stopped, it returns why.
func (t *tail) after(last string) (frames []frame, known bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return nil, false, t.err
	}
	if last == t.since {
		return t.frames, true, nil
	}
	for i := len(t.frames) - 1; i >= 0; i-- {
		if t.frames[i].ev.ID == last {
			return t.frames[i+1:], true, nil
		}
	}
	return nil, false, nil
}

// run reads the log until the tail's last stream leaves or a read fails,
// and wakes the streams whenever it has read more.
func (t *tail) run(ctx context.Context) {
	defer t.ts.s.streams.Done()
	last := t.since
	for {
		events, err := t.ts.s.eventLog.Read(ctx, t.id, last, replayBatch)
		if err == nil && ctx.Err() == nil {
			framed := make([]frame, len(events))
			for i, ev := range events {
				if framed[i], err = t.ts.s.frame(t.id, ev); err != nil {
					break
				}
			}
			if err == nil {
				last = events[len(events)-1].ID
				t.add(framed)
				continue
			}
		}
		if ctx.Err() != nil {
			return // no stream is left to tell
		}
		// The streams hear why and end or start afresh; a new tail is
		// made for whoever comes next.
		t.ts.mu.Lock()
		if t.ts.m[t.id] == t {
			delete(t.ts.m, t.id)
		}
		t.ts.mu.Unlock()
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
		t.wakeAll()
		return
	}
}

// add appends frames, trimming the oldest, and wakes the streams. A
// stream may hold a slice of frames: appending past its end never changes
// what it sees, and trimming makes a fresh array.
func (t *tail) add(framed []frame) {
	t.mu.Lock()
	if len(t.frames)+len(framed) <= tailFrames {
		t.frames = append(t.frames, framed...)
	} else {
		all := append(append(make([]frame, 0, len(t.frames)+len(framed)), t.frames...), framed...)
		drop := len(all) - tailFrames/2
		t.since = all[drop-1].ev.ID
		t.frames = append(make([]frame, 0, tailFrames), all[drop:]...)
	}
	t.mu.Unlock()
	t.wakeAll()
}

func (t *tail) wakeAll() {
	t.mu.Lock()
	subs := make([]*waker, 0, len(t.subs))
	for w := range t.subs {
		subs = append(subs, w)
	}
	t.mu.Unlock()
	for _, w := range subs {
		w.wake()
	}
}

// frame encodes an event of the log as the API's event, framed as a
// stream writes it: the catalog keeps its own records, and the wire JSON
// (with this server's URLs) is made here, once for every stream.
func (s *Server) frame(sessionID string, ev storage.Event) (frame, error) {
	var (
		typ  string
		body any
	)
	switch ev.Type {
	case storage.EventImage:
		typ, body = api.EventImage, imageJSON(sessionID, ev.Image)
	case storage.EventRemoved:
		typ, body = api.EventRemoved, api.Removed{ID: ev.ImageID}
	case storage.EventSession:
		typ, body = api.EventSession, s.sessionJSON(ev.Session, s.cfg.PublicURLs[0])
	default:
		return frame{ev: ev}, nil // a kind this server does not know: newer instances may log more
	}
	data, err := json.Marshal(body)
	if err != nil {
		return frame{}, fmt.Errorf("%s event: %w", ev.Type, err)
	}
	return frame{ev: ev, chunk: sseChunk(ev.ID, typ, data)}, nil
}

// sseChunk frames one event, whose data holds no line break (it is JSON),
// as an HTTP chunk: the bytes Hertz's sse.Writer and chunkWriter would
// write for it. An empty id writes no id line, as for news, which must
// not move the viewer's last event id.
func sseChunk(id, typ string, data []byte) []byte {
	n := len("event: \ndata: \n\n") + len(typ) + len(data)
	if id != "" {
		n += len("id: \n") + len(id)
	}
	b := make([]byte, 0, n+16)
	b = append(strconv.AppendInt(b, int64(n), 16), "\r\n"...)
	if id != "" {
		b = append(append(append(b, "id: "...), id...), '\n')
	}
	b = append(append(append(b, "event: "...), typ...), "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n\r\n"...)
}
