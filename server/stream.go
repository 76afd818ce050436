package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
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
	last := sse.GetLastEventID(&c.Request)
	if last == "" {
		last = c.Query("lastEventId")
	}
	c.Response.Header.Set("X-Accel-Buffering", "no")
	w := sse.NewWriter(c)
	defer w.Close()
	s.metrics.streamStarted()
	defer s.metrics.streamEnded()
	defer s.streamsEnded.Add(1)

	// The stream ends when its viewer leaves and when the server shuts
	// down, so that clients reconnect to the next one.
	ctx, stopWatching := watchViewer(ctx, c.GetConn())
	defer stopWatching()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.life, cancel)()

	// A viewer connected is activity: the photos are kept longer.
	sess.ExpiresAt = s.touch(ctx, sess)
	st := &stream{
		s: s, w: &deadlineWriter{w: sseConn{w, c.Response.GetHijackWriter()}, conn: c.GetConn(), timeout: s.cfg.StreamWriteTimeout},
		sess: sess, retry: s.cfg.Retry, news: newMailbox(),
	}
	defer s.news.Subscribe(id, st.news.deliver)()
	err = st.run(ctx, last)
	if errors.Is(err, errSlowViewer) {
		s.metrics.viewerCut()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		s.logFor(c).Debug("stream ended", "err", err)
	}
}

// viewerConn is the part of a Hertz connection watchViewer needs.
type viewerConn interface {
	Peek(n int) ([]byte, error)
	SetReadDeadline(t time.Time) error
}

// watchViewer returns a context that ends when the viewer's connection
// closes, and a stop function that must run before the handler returns.
//
// Hertz's WithSenseClientDisconnection does the same, but in v0.10.4 on
// Go's net transport it races: when writing a response fails (the viewer
// left mid-write) the server releases the connection's read buffers
// without first stopping its detector, which is still reading them. Here
// stop aborts the blocking read and waits for it to return, so the
// buffers are never touched once the handler is done. A stream request
// has no body and browsers do not pipeline, so the read returns only
// when the viewer goes away (or, harmlessly, if it does pipeline).
func watchViewer(ctx context.Context, conn viewerConn) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	conn.SetReadDeadline(time.Time{})
	go func() {
		defer close(done)
		if _, err := conn.Peek(1); err != nil {
			cancel()
		}
	}()
	return ctx, func() {
		conn.SetReadDeadline(time.Unix(1, 0)) // in the past: the read returns now
		<-done
		cancel()
	}
}

// eventWriter is what a stream writes to: Hertz's sse.Writer, behind a
// deadline. WriteChunk writes bytes already framed as SSE and flushes
// them, for an event too large to build whole (the snapshot).
type eventWriter interface {
	Write(e *sse.Event) error
	WriteKeepAlive() error
	WriteChunk(p []byte) error
}

// sseConn is Hertz's sse.Writer with the chunked body writer beneath it,
// which it writes every event to.
type sseConn struct {
	*sse.Writer
	raw interface {
		Write(p []byte) (int, error)
		Flush() error
	}
}

func (w sseConn) WriteChunk(p []byte) error {
	if _, err := w.raw.Write(p); err != nil {
		return err
	}
	return w.raw.Flush()
}

// deadlineWriter cuts off a viewer whose connection cannot take a write
// within timeout. Nothing ever waits for a viewer (events come from the
// durable log, at the viewer's own pace), so this is only about not
// pinning a goroutine and a socket to a peer that stopped reading; it
// reconnects and catches up from its last id. The deadline is the
// stream's own: a server-wide write timeout would also cut slow downloads
// of large originals.
type deadlineWriter struct {
	w       eventWriter
	conn    io.Closer
	timeout time.Duration
}

func (d *deadlineWriter) Write(e *sse.Event) error {
	return d.guard(func() error { return d.w.Write(e) })
}

func (d *deadlineWriter) WriteKeepAlive() error {
	return d.guard(d.w.WriteKeepAlive)
}

func (d *deadlineWriter) WriteChunk(p []byte) error {
	return d.guard(func() error { return d.w.WriteChunk(p) })
}

func (d *deadlineWriter) guard(write func() error) error {
	var cut atomic.Bool
	t := time.AfterFunc(d.timeout, func() {
		cut.Store(true)
		d.conn.Close()
	})
	err := write()
	t.Stop()
	if cut.Load() {
		return fmt.Errorf("%w: no write progress in %v", errSlowViewer, d.timeout)
	}

	return err
}

// errSlowViewer ends a stream whose viewer stopped reading.
var errSlowViewer = errors.New("viewer cut off")

// stream is one subscriber's position in a session's log.
type stream struct {
	s     *Server
	w     eventWriter
	sess  storage.Session // as last read or announced
	retry time.Duration   // sent once, with the first message
	last  string
	news  *mailbox // live news not yet sent
}

func (st *stream) run(ctx context.Context, last string) error {
	st.last = last
	if st.last == originID {
		st.last = ""
	}
	if last == "" {
		if err := st.snapshot(ctx); err != nil {
			return st.end(err)
		}
	} else if err := st.send("", "", nil); err != nil {
		// A reconnect: the first message is the retry alone, which also
		// tells the client at once that it is live, before any replay.
		return err
	}
	for {
		events, err := st.next(ctx)
		if errors.Is(err, storage.ErrEventGone) {
			// Unknown or too old to replay: start the viewer afresh.
			if err = st.snapshot(ctx); err == nil {
				continue
			}
		}
		if err != nil {
			return st.end(err)
		}
		for _, ev := range events {
			if err := st.sendLogged(ev); err != nil {
				return err
			}
			st.last = ev.ID
		}
		for _, data := range st.news.take() {
			if err := st.send("", api.EventUpload, data); err != nil {
				return err
			}
		}
	}
}

// sendLogged sends an event of the log as the API's event: the catalog
// keeps its own records, and the wire JSON (with this server's URLs) is
// made here. A session event also tells the stream the session's new end.
func (st *stream) sendLogged(ev storage.Event) error {
	var (
		typ  string
		body any
	)
	switch ev.Type {
	case storage.EventImage:
		typ, body = api.EventImage, imageJSON(st.sess.ID, ev.Image)
	case storage.EventRemoved:
		typ, body = api.EventRemoved, api.Removed{ID: ev.ImageID}
	case storage.EventSession:
		sess := ev.Session
		st.sess.UploadToken, st.sess.UploadExpiresAt, st.sess.ExpiresAt = sess.UploadToken, sess.UploadExpiresAt, sess.ExpiresAt
		typ, body = api.EventSession, st.s.sessionJSON(sess, st.s.cfg.PublicURLs[0])
	default:
		return nil // a kind this server does not know: newer instances may log more
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s event: %w", ev.Type, err)
	}
	if err := st.send(ev.ID, typ, data); err != nil {
		return err
	}
	if ev.Type == storage.EventImage {
		// The photo is here: its upload's progress is news no more.
		st.news.completed(ev.Image.Upload)
	}
	return nil
}

// next is one blocking read of the log after the last event sent: it
// returns the events, or nothing when there is news to send. While the
// session is quiet it writes a keep-alive comment every KeepAlive (and
// keeps the session alive while it is watched). It returns
// storage.ErrExpired when the session's time is up, by this server's
// clock.
func (st *stream) next(ctx context.Context) ([]storage.Event, error) {
	for {
		untilEnd := st.sess.ExpiresAt.Sub(st.s.cfg.Now())
		if untilEnd <= 0 {
			// Its end may have moved since we last looked.
			sess, err := st.s.judged(st.s.sessions.Session(ctx, st.sess.ID))
			if err != nil {
				return nil, err
			}
			st.sess = sess
			continue
		}
		d := min(st.s.cfg.KeepAlive, untilEnd)
		rctx, cancel := context.WithTimeout(ctx, d)
		stop := make(chan struct{})
		woke := make(chan bool, 1)
		go func() {
			select {
			case <-st.news.wake:
				woke <- true
				cancel()
			case <-stop:
				woke <- false
			}
		}()
		events, err := st.s.eventLog.Read(rctx, st.sess.ID, st.last, replayBatch)
		close(stop)
		byNews := <-woke
		cancel()
		switch {
		case err == nil:
			return events, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case byNews:
			return nil, nil
		case !errors.Is(err, context.DeadlineExceeded):
			return nil, err
		}
		if err := st.w.WriteKeepAlive(); err != nil {
			return nil, err
		}
		st.sess.ExpiresAt = st.s.touch(ctx, st.sess)
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
			if err := st.w.WriteChunk(buf); err != nil {
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
	if err := st.w.WriteChunk(buf); err != nil {
		return err
	}
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
	if typ != "" {
		st.s.metrics.eventSent()
	}
	return nil
}
