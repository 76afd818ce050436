package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/network"
	"github.com/cloudwego/hertz/pkg/protocol/sse"

	"qrsync/api"
	"qrsync/storage"
)

// originID names the position before a session's first event. A snapshot
// of a session whose log is still empty carries it, so that every snapshot
// has an id to resume from; no backend issues it as a real event id.
const originID = "0"

// replayBatch bounds how many events one read of the log returns, so a
// subscriber far behind catches up in steps rather than one huge read.
const replayBatch = 100

// events streams a session (DESIGN §4). It never holds events for this
// subscriber in memory: it reads the durable log after the last id it sent,
// writes them, and waits for the log to grow. Live delivery and replay are
// the same loop, so a reconnect can neither lose nor repeat an event, and a
// slow viewer only ever delays itself.
//
// The handler checks the request and sets the headers; the stream itself
// runs on the connection taken from Hertz (see detach.go), so an idle
// viewer costs a socket and one small goroutine, not a whole request; and
// the session's tail (tail.go) reads and encodes each event once for all
// the streams that are in step with it.
func (s *Server) events(ctx context.Context, c *app.RequestContext) {
	id := c.Param("id")
	sess, err := s.session(ctx, c, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if c.IsHead() {
		// The headers a stream would start with, and no stream.
		c.Response.Header.Set("Cache-Control", "no-cache")
		c.Response.Header.Set("X-Accel-Buffering", "no")
		c.SetContentType("text/event-stream; charset=utf-8")
		c.SetStatusCode(http.StatusOK)
		return
	}
	conn := answerConnOf(ctx)
	if conn == nil {
		s.writeError(c, errors.New("stream: the connection cannot be taken from the server"))
		return
	}
	last := sse.GetLastEventID(&c.Request)
	if last == "" {
		last = c.Query("lastEventId")
	}
	// A viewer connected is activity: the photos are kept longer.
	sess.ExpiresAt = s.touch(ctx, sess)

	body := &chunkWriter{conn: newStreamConn(conn.Conn), timeout: s.cfg.StreamWriteTimeout}
	c.Response.HijackWriter(body) // before sse.NewWriter, which then writes to it
	w := sse.NewWriter(c)
	c.Response.Header.Set("X-Accel-Buffering", "no")
	c.Response.Header.SetContentLength(-1) // chunked
	body.head = bytes.Clone(c.Response.Header.Header())
	st := &stream{
		s: s, w: w, body: body, sess: sess, retry: s.cfg.Retry, news: newMailbox(),
		log: s.logFor(c),
	}
	conn.want()
	c.Hijack(func(network.Conn) {
		if !conn.take() {
			return
		}
		s.streams.Add(1)
		go s.serveStream(st, body.conn, body, last)
	})
}

// serveStream runs a stream on the connection it took, until the viewer
// leaves, the session ends or the server shuts down, and then closes it.
func (s *Server) serveStream(st *stream, conn *streamConn, body *chunkWriter, last string) {
	defer s.streams.Done()
	s.metrics.streamStarted()
	defer s.metrics.streamEnded()
	defer s.streamsEnded.Add(1)

	st.waker = newWaker()
	st.wake = st.waker.wake
	// The viewer's leaving is heard by a read of its own, which returns
	// only then: a stream request has no body and browsers do not
	// pipeline. It ends when the connection is closed, before the stream
	// counts as done.
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		conn.waitGone()
		st.waker.viewerLeft()
	}()
	defer func() { <-watching }()
	defer conn.Close()
	defer st.stopTimer()
	// The stream ends when the server shuts down, so that clients
	// reconnect to the next one.
	ctx := s.life
	defer context.AfterFunc(ctx, st.waker.wake)()
	defer s.tails.listen(st.sess.ID, st.news)()
	defer st.leaveTail()
	err := st.run(ctx, last)
	switch {
	case err == nil:
		// Over, not cut: the body ends properly.
		if err := body.end(); err != nil {
			st.log.Debug("stream ended", "err", err)
		}
	case errors.Is(err, errSlowViewer):
		s.metrics.viewerCut()
		st.log.Debug("stream ended", "err", err)
	case !errors.Is(err, context.Canceled) && !errors.Is(err, errViewerLeft):
		st.log.Debug("stream ended", "err", err)
	}
}

// stream is one subscriber's position in a session's log.
type stream struct {
	s     *Server
	w     *sse.Writer  // frames the stream's own messages into body
	body  *chunkWriter // the connection, as the response body
	waker *waker
	wake  func()          // waker.wake, made once: a method value per wait is garbage
	tail  *tail           // the session's, once the stream has looked
	sess  storage.Session // as last read or announced
	retry time.Duration   // sent once, with the first message
	last  string
	news  *mailbox // live news not yet sent
	log   *slog.Logger
	// quietUntil is when a keep-alive is due if nothing is sent before.
	quietUntil time.Time
	// timer wakes the stream at timerAt, for a keep-alive or the
	// session's end; nil until first armed.
	timer   *time.Timer
	timerAt time.Time
}

// run serves the stream until it ends: a nil error means it ended
// properly (the session is over), any other that it was cut.
func (st *stream) run(ctx context.Context, last string) error {
	if err := st.start(ctx, last); err != nil {
		return st.end(err)
	}
	for {
		frames, err := st.next(ctx)
		if errors.Is(err, errIdle) {
			err = st.wait() // here, where the stack is shallow
		}
		if errors.Is(err, storage.ErrEventGone) {
			// Unknown or too old to replay: start the viewer afresh.
			err = aside(func() error { return st.snapshot(ctx) })
		}
		if err == nil {
			err = st.deliver(frames)
		}
		if err != nil {
			return st.end(err)
		}
	}
}

// start sends the stream's first message: the snapshot, or for a
// reconnect the retry alone, which also tells the client at once that it
// is live, before any replay.
func (st *stream) start(ctx context.Context, last string) error {
	st.last = last
	if st.last == originID {
		st.last = ""
	}
	if last == "" {
		return aside(func() error { return st.snapshot(ctx) })
	}
	return st.send("", "", nil)
}

// deliver sends frames, then the news that came, in one write: with a
// thousand viewers, each write is a system call and a wake of the viewer
// a thousand times over.
func (st *stream) deliver(frames []frame) error {
	var some [4][]byte // room for the usual: an event and its news
	chunks := some[:0]
	for _, f := range frames {
		if f.chunk != nil {
			chunks = append(chunks, f.chunk)
		}
		switch f.ev.Type {
		case storage.EventSession:
			// The session's new end, for this stream's clock.
			sess := f.ev.Session
			st.sess.UploadToken, st.sess.UploadExpiresAt, st.sess.ExpiresAt = sess.UploadToken, sess.UploadExpiresAt, sess.ExpiresAt
		case storage.EventImage:
			// The photo is here: its upload's progress is news no more.
			st.news.completed(f.ev.Image.Upload)
		}
	}
	chunks = st.news.take(chunks)
	if len(chunks) > 0 {
		if st.retry > 0 {
			// Frames are shared and carry no retry; it goes first, alone.
			if err := st.send("", "", nil); err != nil {
				return err
			}
		}
		b := chunks[0]
		if len(chunks) > 1 {
			b = slices.Concat(chunks...)
		}
		if err := st.body.send(b); err != nil {
			return err
		}
		st.sent()
		st.s.metrics.manyEventsSent(len(chunks))
	}
	if len(frames) > 0 {
		st.last = frames[len(frames)-1].ev.ID
	}
	return nil
}

// sent notes that the viewer heard from the stream: the next keep-alive
// is due a whole KeepAlive from now.
func (st *stream) sent() { st.quietUntil = time.Now().Add(st.s.cfg.KeepAlive) }

// next returns what to send after the last event sent: the frames that
// follow it, or errIdle when there are none yet, having armed the wait.
// While the session is quiet it writes a keep-alive comment every
// KeepAlive (and keeps the session alive while it is watched). It returns
// storage.ErrExpired when the session's time is up, by this server's
// clock, and errViewerLeft once the viewer is gone.
//
// Between events an idle stream is this goroutine parked on its waker and
// the viewer's read parked in the network poller, with one timer for the
// next keep-alive or the session's end. The timer is moved only when it
// rang or must ring sooner, not for every event: under a steady flow of
// events it rings once a KeepAlive, finds the keep-alive not yet due and
// is set again.
func (st *stream) next(ctx context.Context) ([]frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if st.waker.left.Load() {
			return nil, errViewerLeft
		}
		untilEnd := st.sess.ExpiresAt.Sub(st.s.cfg.Now())
		if untilEnd <= 0 {
			// Its end may have moved since we last looked.
			if err := aside(func() error {
				sess, err := st.s.judged(st.s.sessions.Session(ctx, st.sess.ID))
				if err == nil {
					st.sess = sess
				}
				return err
			}); err != nil {
				return nil, err
			}
			continue
		}
		now := time.Now()
		if !now.Before(st.quietUntil) {
			if err := st.w.WriteKeepAlive(); err != nil {
				return nil, err
			}
			st.sent()
			aside(func() error {
				st.sess.ExpiresAt = st.s.touch(ctx, st.sess)
				return nil
			})
			continue
		}
		deadline := st.quietUntil
		if end := now.Add(untilEnd); end.Before(deadline) {
			deadline = end
		}
		// Armed before looking, so that a wake after the look ends the wait.
		st.waker.begin()
		st.armTimer(now, deadline)
		st.news.wait(st.wake)
		frames, err := st.look(ctx, deadline)
		if err != nil || len(frames) > 0 {
			st.news.stopWaiting()
			return frames, err
		}
		return nil, errIdle
	}
}

// armTimer makes sure the stream is woken by deadline: it moves the timer
// only if it has rung (or is ringing) or would ring after deadline.
func (st *stream) armTimer(now, deadline time.Time) {
	switch {
	case st.timer == nil:
		st.timer = time.AfterFunc(deadline.Sub(now), st.wake)
	case !st.timerAt.After(now) || st.timerAt.After(deadline):
		st.timer.Reset(deadline.Sub(now))
	default:
		return // rings early; the stream then sets it again
	}
	st.timerAt = deadline
}

// stopTimer stops the stream's timer, if it has one.
func (st *stream) stopTimer() {
	if st.timer != nil {
		st.timer.Stop()
	}
}

// errIdle is next's word that the stream has nothing to send until a
// wake: news, the tail, its timer, its viewer leaving.
var errIdle = errors.New("stream idle")

// wait waits for what next armed. It returns errViewerLeft if the viewer
// went away.
func (st *stream) wait() error {
	<-st.waker.ch
	st.news.stopWaiting()
	if st.waker.left.Load() {
		return errViewerLeft
	}
	return nil
}

// look returns the frames after the last event sent: from the session's
// tail when it knows that event, else from the log itself, waiting no
// longer than deadline or a wake.
func (st *stream) look(ctx context.Context, deadline time.Time) ([]frame, error) {
	if st.tail == nil {
		st.tail = st.s.tails.join(st.sess.ID, st.last, st.waker)
	}
	frames, known, err := st.tail.after(st.last)
	if err != nil {
		st.leaveTail() // it stopped: the next look joins a new one
		return nil, err
	}
	if known {
		return frames, nil
	}
	// Behind the tail, or for a moment ahead of it.
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if !st.waker.cancelOnWake(cancel) {
		return nil, nil // woken already: look again
	}
	var events []storage.Event
	err = aside(func() (err error) {
		events, err = st.s.eventLog.Read(rctx, st.sess.ID, st.last, replayBatch)
		return err
	})
	st.waker.cancelOnWake(nil)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case rctx.Err() != nil:
		return nil, nil // woken, or the deadline: the wait decides
	default:
		return nil, err
	}
	frames = make([]frame, len(events))
	for i, ev := range events {
		if frames[i], err = st.s.frame(st.sess.ID, ev); err != nil {
			return nil, err
		}
	}
	return frames, nil
}

// aside runs f on a goroutine of its own and waits for it. A stream's
// goroutine lives as long as its viewer, and a goroutine's stack keeps the
// size of its deepest call until a collection finds it mostly unused: so
// the deep calls (a snapshot, a read of the catalog) run aside, and an
// idle stream keeps only the small stack its wait needs.
func aside(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return <-done
}

// leaveTail leaves the session's tail, if the stream is in one.
func (st *stream) leaveTail() {
	if st.tail != nil {
		st.tail.leave(st.waker)
		st.tail = nil
	}
}

// end closes the stream with an expired event when the session is gone or
// over, the one case in which a server-ended stream should not be retried;
// any other error just drops the connection so the client reconnects.
func (st *stream) end(err error) error {
	if errors.Is(err, storage.ErrExpired) || errors.Is(err, storage.ErrNotFound) {
		if werr := st.send("", api.EventExpired, []byte("{}")); werr != nil {
			return werr
		}
		return nil
	}
	return err
}

// snapshot sends the whole gallery as one event, written in pieces of at
// most snapshotChunk: built whole, a 500-image snapshot is ~300 KB, held
// twice (the JSON, and Hertz's framed copy) by every viewer until its
// socket takes it, which let a thousand viewers that never read hold
// 600 MB. The bytes are exactly those of json.Marshal(api.Snapshot).
func (st *stream) snapshot(ctx context.Context) error {
	images, last, err := st.s.images.Images(ctx, st.sess.ID)
	if err != nil {
		return err
	}
	st.last = last
	id := last
	if id == "" {
		id = originID
	}
	buf := make([]byte, 0, snapshotChunk+4<<10)
	buf = append(append(append(buf, "id: "...), id...), "\nevent: "+api.EventSnapshot+"\n"...)
	if st.retry > 0 {
		buf = strconv.AppendInt(append(buf, "retry: "...), st.retry.Milliseconds(), 10)
		buf = append(buf, '\n')
		st.retry = 0
	}
	buf = append(buf, `data: {"images":[`...)
	for i, img := range images {
		b, err := json.Marshal(imageJSON(st.sess.ID, img))
		if err != nil {
			return err
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, b...)
		if len(buf) >= snapshotChunk {
			if _, err := st.body.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	exp, err := json.Marshal(st.sess.ExpiresAt.UTC())
	if err != nil {
		return err
	}
	buf = append(append(append(buf, `],"expiresAt":`...), exp...), "}\n\n"...)
	if _, err := st.body.Write(buf); err != nil {
		return err
	}
	st.sent()
	st.s.metrics.eventSent()
	return nil
}

// snapshotChunk is the most of a snapshot a stream holds at once.
const snapshotChunk = 16 << 10

func (st *stream) send(id, typ string, data []byte) error {
	e := &sse.Event{ID: id, Type: typ, Data: data}
	if st.retry > 0 {
		e.SetRetry(st.retry)
		st.retry = 0
	}
	if err := st.w.Write(e); err != nil {
		return err
	}
	st.sent()
	if typ != "" {
		st.s.metrics.eventSent()
	}
	return nil
}
