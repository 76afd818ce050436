package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"qrsync/api"
)

// News carries live news of a session (upload progress) to its streams, on
// this instance or every instance that shares the backends. It is lossy by
// design: news is never stored or replayed, and a stream that is behind
// keeps only the latest word of each upload. Config.News names one; nil
// means in-process, which is right for a single instance.
type News interface {
	// Publish hands data (an api.UploadProgress as JSON) to the session's
	// subscribers. It never waits for them.
	Publish(ctx context.Context, sessionID string, data []byte) error
	// Subscribe calls deliver with every piece of news of the session
	// until cancel is called. deliver must not block.
	Subscribe(sessionID string, deliver func(data []byte)) (cancel func())
}

// localNews is News within one process.
type localNews struct {
	mu   sync.Mutex
	subs map[string]map[*func([]byte)]struct{} // session id → deliver functions
}

func newLocalNews() *localNews {
	return &localNews{subs: map[string]map[*func([]byte)]struct{}{}}
}

func (n *localNews) Publish(_ context.Context, sessionID string, data []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for d := range n.subs[sessionID] {
		(*d)(data)
	}
	return nil
}

func (n *localNews) Subscribe(sessionID string, deliver func([]byte)) func() {
	d := &deliver
	n.mu.Lock()
	if n.subs[sessionID] == nil {
		n.subs[sessionID] = map[*func([]byte)]struct{}{}
	}
	n.subs[sessionID][d] = struct{}{}
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.subs[sessionID], d)
		if len(n.subs[sessionID]) == 0 {
			delete(n.subs, sessionID)
		}
	}
}

// mailbox is one stream's news not yet sent: the latest word of each
// upload, in the order the uploads began. A viewer that reads slowly
// therefore holds at most mailboxUploads small entries, never a queue.
//
// News wakes the stream through its waker (see wait), so an idle stream
// needs no goroutine of its own to watch for news.
//
// It holds slices, not maps: it is touched for every piece of news and
// every photo, a thousand times over when a thousand viewers watch, and
// a scan of its few entries finds an upload faster than a map does,
// whose entries lie in memory the cache no longer holds. A mailbox that
// never saw news holds nothing.
type mailbox struct {
	mu      sync.Mutex
	latest  []boxNews // uploads with news not yet sent, oldest first, one each
	done    []string  // uploads whose image was sent: late news is dropped; a ring once full
	doneAt  int       // where the ring writes next, once full
	pending bool      // news arrived that no wait has answered yet
	wake    func()    // ends the stream's wait now, if it waits
}

// boxNews is an upload's latest word, as a chunk (sseChunk).
type boxNews struct {
	upload string
	chunk  []byte
}

// mailboxUploads bounds the uploads a mailbox remembers, pending or done.
const mailboxUploads = 64

// newMailbox returns an empty mailbox.
func newMailbox() *mailbox {
	return &mailbox{}
}

// wait arranges for wake to be called when news comes, until
// stopWaiting; if news already came, it calls wake at once.
func (m *mailbox) wait(wake func()) {
	m.mu.Lock()
	if m.pending {
		m.mu.Unlock()
		wake()
		return
	}
	m.wake = wake
	m.mu.Unlock()
}

// stopWaiting ends what wait began and reports whether news came since the
// last wait ended (the wait may have ended for it).
func (m *mailbox) stopWaiting() (news bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wake = nil
	news, m.pending = m.pending, false
	return news
}

// put keeps chunk as the upload's latest word.
func (m *mailbox) put(upload string, chunk []byte) {
	m.mu.Lock()
	if slices.Contains(m.done, upload) {
		m.mu.Unlock()
		return
	}
	if i := m.find(upload); i >= 0 {
		m.latest[i].chunk = chunk
	} else {
		if len(m.latest) == mailboxUploads {
			m.latest = slices.Delete(m.latest, 0, 1) // the oldest upload is forgotten
		}
		m.latest = append(m.latest, boxNews{upload, chunk})
	}
	m.pending = true
	wake := m.wake
	m.wake = nil
	m.mu.Unlock()
	if wake != nil {
		wake()
	}
}

// find is the index of the upload's news in latest, or -1.
func (m *mailbox) find(upload string) int {
	for i := range m.latest {
		if m.latest[i].upload == upload {
			return i
		}
	}
	return -1
}

// take appends the pending news to out, oldest upload first, and empties
// the box.
func (m *mailbox) take(out [][]byte) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.latest {
		out = append(out, n.chunk)
	}
	clear(m.latest) // let the chunks go
	m.latest = m.latest[:0]
	return out
}

// completed drops an upload's pending news once its image was sent, and
// any that comes later: a progress tile must not come back after the photo.
func (m *mailbox) completed(upload string) {
	if upload == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := m.find(upload); i >= 0 {
		m.latest = slices.Delete(m.latest, i, i+1)
	}
	switch {
	case slices.Contains(m.done, upload):
	case len(m.done) < mailboxUploads:
		m.done = append(m.done, upload)
	default:
		m.done[m.doneAt] = upload // over the oldest
		m.doneAt = (m.doneAt + 1) % mailboxUploads
	}
}

// progressEvery is the least time between two progress reports of one
// file: at most 4 a second (DESIGN §4).
const progressEvery = 250 * time.Millisecond

// firstNewsAfter is how long a file has been arriving before the PC hears
// of it. A photo that lands sooner, as most do on a LAN, appears as
// itself: no placeholder flashes up a few milliseconds before it, and
// every viewer's stream writes once for it, not twice.
const firstNewsAfter = 100 * time.Millisecond

// newUploadID names one file's upload in its news and its image. It is not
// a secret (viewers see it), only unique.
func newUploadID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// progress reports one file's upload as it arrives. Its first report goes
// out once the file has been arriving for firstNewsAfter, from a timer, so
// that a sender that stalls is still shown; the later ones as bytes come,
// at most every progressEvery. Once the file's fate is settled (stored,
// duplicate or refused) no more progress goes out.
type progress struct {
	s         *Server
	ctx       context.Context
	sessionID string

	// mu is held by the handler's reads and the first report's timer;
	// p.Upload, set at the start, may be read without it.
	mu      sync.Mutex
	p       api.UploadProgress
	last    time.Time   // of the last report; zero until the first
	settled bool        // the image, the duplicate or the refusal is known
	first   *time.Timer // sends the first report
}

func (s *Server) newProgress(ctx context.Context, sessionID, name string, total int64) *progress {
	pr := &progress{s: s, ctx: ctx, sessionID: sessionID,
		p: api.UploadProgress{Upload: newUploadID(), Name: name, Total: max(total, 0)}}
	pr.first = time.AfterFunc(firstNewsAfter, pr.firstReport)
	return pr
}

// firstReport tells the PC of a file that is taking its time.
func (pr *progress) firstReport() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if !pr.settled && pr.last.IsZero() {
		pr.publish()
	}
}

// add counts n more bytes received, reporting them if the PC has heard
// of the file and the last report is old enough.
func (pr *progress) add(n int) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.p.Received += int64(n)
	if pr.p.Total > 0 && pr.p.Received > pr.p.Total {
		pr.p.Total = pr.p.Received
	}
	pr.maybeReport()
}

// ended reports the file's last byte, so the PC's bar reaches its end: the
// request's length counted the form's framing too. It keeps to the rate.
func (pr *progress) ended() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.p.Total = pr.p.Received
	pr.maybeReport()
}

func (pr *progress) maybeReport() {
	if !pr.settled && !pr.last.IsZero() && time.Since(pr.last) >= progressEvery {
		pr.publish()
	}
}

// settle ends the file's progress: its image (which carries the upload id)
// is about to be told, or it ended otherwise. It is safe to call more than
// once.
func (pr *progress) settle() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.settleLocked()
}

func (pr *progress) settleLocked() {
	pr.settled = true
	pr.first.Stop()
}

// duplicate reports that the file was one the session already holds, as
// imageID: no image event follows, so a PC that shows the file drops its
// placeholder. A PC that never heard of the file hears nothing.
func (pr *progress) duplicate(imageID string) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.settleLocked()
	if !pr.last.IsZero() {
		pr.p.Duplicate = imageID
		pr.publish()
	}
}

// failed reports why the file was refused, in the words the phone hears,
// whether or not the PC had heard of it: the PC shows why for a while.
func (pr *progress) failed(err error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.settleLocked()
	_, code, m := statusOf(err)
	pr.p.Error = &api.ErrorDetail{Code: code, Message: m.in(catalogFrom(pr.ctx))}
	pr.publish()
}

// publish sends the current report; pr.mu is held.
func (pr *progress) publish() {
	pr.last = time.Now()
	data, err := json.Marshal(pr.p)
	if err != nil {
		return
	}
	if err := pr.s.news.Publish(context.WithoutCancel(pr.ctx), pr.sessionID, data); err != nil {
		pr.s.log.Debug("publish upload progress", "err", logSafe(err))
	}
}

// countingReader tells pr of every byte read through it.
type countingReader struct {
	r  io.Reader
	pr *progress
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.pr.add(n)
	}
	if errors.Is(err, io.EOF) {
		c.pr.ended()
	}
	return n, err
}
