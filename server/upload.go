package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/network"

	"qrsync/api"
	"qrsync/photo"
	"qrsync/storage"
)

// Limits of the upload path. Each is a bound on what one request can make
// the server hold or do, whatever the client sends.
const (
	// sniffLen is how many bytes the format is judged from.
	sniffLen = 512
	// ingestBuffer is the chunk the copy loop moves: every hop after the
	// multipart reader (the location filter, the hash, the decoder's pipe,
	// the blob) costs per call, and the reader hands a part over at most
	// 4 KB a Read.
	ingestBuffer = 64 << 10
	// maxNameBytes bounds the stored display name of a file.
	maxNameBytes = 255
	// maxFieldBytes bounds a form field that is not a file. The phone page
	// sends none; skipping a large one would read it to the end for nothing.
	maxFieldBytes = 64 << 10
	// maxParts bounds the parts of one request: the phone page sends one
	// file a request, and each part costs blobs and a catalog lookup.
	maxParts = 100
	// maxFastCostRatio bounds, per byte of the request, the memory a decode
	// may take while the upload still arrives. Camera photos need 5-30
	// bytes per byte of file (a progressive 12 MP JPEG about 25); a PNG
	// bomb of 380 KB asks for 400 MB, a thousand.
	maxFastCostRatio = 64

	// A refused upload is answered at once, then at most lingerBytes more
	// of its body are read (for at most lingerTime) before the connection
	// closes. Closing with unread bytes makes the kernel send a reset, and
	// a client that gets a reset while still sending may never read the
	// answer; reading everything instead would let a 10 GB body cost the
	// server 10 GB of reading. This is nginx's "lingering close".
	lingerTime  = 5 * time.Second
	lingerBytes = 64 << 20
)

// A body must keep coming: an upload whose bytes arrive slower than
// uploadMinRate, averaged so that it may go silent for at most
// uploadMaxSilence after a good run, is given up. A phone that walked out
// of Wi-Fi range sends no FIN, and a neighbour trickling one byte a second
// would otherwise hold a socket, a temporary file and a place in the
// per-address count for as long as it likes. Variables only so a test can
// shorten them.
var (
	uploadMinRate    int64 = 1 << 10 // bytes per second
	uploadMaxSilence       = time.Minute
)

// upload takes one or more multipart parts named "file" (DESIGN §3). The
// body is read as a stream, part by part: each part is hashed, stripped and
// written to the blob store as it arrives, and decoded alongside when that
// costs nobody else anything (see receive). Parts whose decode had to wait
// are decoded from storage once the whole body is in.
func (s *Server) upload(ctx context.Context, c *app.RequestContext) {
	ip := remoteIP(c)
	release, ok := s.uploadsByIP.acquire(ip)
	if !ok {
		s.refused(reasonUploadsPerIP)
		s.refuse(c, newUserError(errTooMany, "error.uploadFlood"))
		return
	}
	defer release()
	// The PC hears why a file failed in the phone's words (news.go).
	ctx = withCatalog(ctx, catalogFor(c))

	sess, err := s.sessionByToken(ctx, c, c.Param("token"))
	if err != nil {
		s.refuse(c, err)
		return
	}
	if sess.Images >= s.cfg.MaxImages || sess.Bytes >= s.cfg.MaxSessionBytes {
		s.refuse(c, storage.ErrQuota)
		return
	}
	boundary, err := multipartBoundary(string(c.Request.Header.ContentType()))
	if err != nil {
		s.refuse(c, err)
		return
	}

	body := newRateReader(c.RequestBodyStream(), c.GetConn())
	declared := int64(c.Request.Header.ContentLength()) // -1 when chunked
	res, created, err := s.ingestAll(ctx, sess, boundary, body, declared, func(ctx context.Context) (context.Context, func()) {
		// The body is read to its end, so a read on the connection now
		// returns only when the phone goes away: work queued for it can be
		// dropped then.
		return watchPeer(ctx, c.GetConn())
	})
	switch {
	case errors.Is(err, errSlowBody):
		s.refused(reasonSlowBody)
	case errors.Is(err, errNeverFits):
		s.refused(reasonDecodeBudget)
	}
	if err != nil {
		s.refuse(c, err)
		return
	}
	if !body.atEOF() {
		// Bytes after the closing boundary: keep-alive would have Hertz read
		// them all before the next request, however many there are.
		hangUp(c)
	}
	if created > 0 {
		s.touch(ctx, sess) // an upload is activity: the photos are kept longer
	}
	status := http.StatusCreated
	if created == 0 {
		status = http.StatusOK // nothing new: every file was already there
	}
	writeJSON(c, status, res)
}

// multipartBoundary checks the request's Content-Type, so a body that is
// not a form is refused before a byte of it is read.
func multipartBoundary(contentType string) (string, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return "", newUserError(errBadRequest, "error.notMultipart")
	}
	return params["boundary"], nil
}

// ingestAll reads a multipart body and ingests every part named "file", in
// order. Each part becomes an image or leaves nothing; the parts before a
// failed one stay (DESIGN §9). It returns what was stored, how many images
// are new, and the first error. It is the whole upload path short of HTTP,
// which is what the fuzz test drives.
//
// It works in two steps. First every part is received: stored, and
// decoded on the way where it can be. Then, once the body has ended, the
// parts still to decode are decoded from storage, in order, and every part
// is recorded in the catalog in the order it came. afterBody, when not
// nil, gives the context for that second step (one that ends when the
// client goes away) and a function to call when it is done.
func (s *Server) ingestAll(ctx context.Context, sess storage.Session, boundary string, body io.Reader, declared int64, afterBody func(context.Context) (context.Context, func())) (api.UploadResult, int, error) {
	var got []*received
	defer func() {
		for _, r := range got {
			r.news.settle() // a part left unfinished by an earlier failure
			r.discard(ctx)  // what was not kept; a no-op for a kept part
		}
	}()
	var failing *progress // the part being received when the body failed
	recvErr := s.receiveAll(ctx, sess, boundary, body, declared, &got, &failing)
	if recvErr != nil && failing != nil {
		failing.failed(recvErr)
	}

	if afterBody != nil {
		var stop func()
		ctx, stop = afterBody(ctx)
		defer stop()
	}
	var res api.UploadResult
	created := 0
	for _, r := range got {
		stored, dup, err := s.finish(ctx, sess, r)
		if err != nil {
			r.news.failed(err)
			return res, created, err
		}
		// The phone holds only the upload token: no URL that names the
		// session goes to it.
		img := imageJSON(sess.ID, stored)
		img.URL, img.ThumbURL, img.DisplayURL = "", "", ""
		res.Images = append(res.Images, img)
		if dup {
			res.Duplicate = append(res.Duplicate, img.ID)
		} else {
			created++
		}
	}
	if recvErr != nil {
		return res, created, recvErr
	}
	if len(res.Images) == 0 {
		return res, created, newUserError(errBadRequest, "error.noFilePart")
	}
	return res, created, nil
}

// receiveAll is ingestAll's first step: it receives the parts of body into
// got until the body ends or a part fails.
func (s *Server) receiveAll(ctx context.Context, sess storage.Session, boundary string, body io.Reader, declared int64, got *[]*received, failing **progress) error {
	// The multipart reader reads its source 4 KB at a time, and each of
	// those would be a read(2) and a deadline change: a buffer of
	// ingestBuffer in between makes them one per 64 KB. It never reads
	// past the declared length, so bytes after the body stay on the
	// connection for atEOF and watchPeer to see.
	src := body
	if declared >= 0 {
		src = io.LimitReader(body, declared)
	}
	mr := multipart.NewReader(bufio.NewReaderSize(src, ingestBuffer), boundary)
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return bodyError(err)
		}
		if parts == maxParts {
			s.refused(reasonParts)
			return newUserError(errBadRequest, "error.tooManyParts", "max", strconv.Itoa(maxParts))
		}
		if part.FormName() != "file" {
			// Read through it here, bounded, rather than let NextPart
			// discard a field of any size.
			n, err := io.Copy(io.Discard, io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return bodyError(err)
			}
			if n > maxFieldBytes {
				return newUserError(errBadRequest, "error.onlyFile")
			}
			continue
		}
		// The PC hears of the file once it has been arriving for a moment
		// (firstNewsAfter). The request's length is the file's, near
		// enough, when it is the first part (phones send one file a
		// request); later parts' are unknown.
		total := int64(0)
		if len(*got) == 0 {
			total = declared
		}
		news := s.newProgress(ctx, sess.ID, displayName(part.FileName(), ""), total)
		*failing = news
		// On error the part is not closed: Close would read the rest of a
		// part that may be gigabytes long before the client hears why.
		r, err := s.receive(ctx, sess, countingReader{part, news}, part.FileName(), declared)
		if err != nil {
			return err
		}
		r.news = news
		*failing = nil
		part.Close()
		*got = append(*got, r)
		sess.Images++
		sess.Bytes += r.size
	}
}

// bodyError tells a body that broke off (the phone lost its connection;
// worth sending again) from one that was never a well-formed form. The
// parser's own words stay out of the message: they quote the client's
// bytes and mean nothing to the person holding the phone.
func bodyError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, errSlowBody):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errCutOff) || errors.As(err, &ne):
		return fmt.Errorf("%w (%v)", errCutOff, err)
	}
	return fmt.Errorf("%w (%v)", errMalformed, err)
}

// errMalformed is a body that is not the multipart form it claims to be.
var errMalformed = newUserError(errBadRequest, "error.malformed")

// refuse answers a failed upload with err and closes the connection: the
// rest of the body, if any, is not worth reading.
func (s *Server) refuse(c *app.RequestContext, err error) {
	s.metrics.uploadDone(uploadResult(err), 0, 0)
	hangUp(c)
	s.writeError(c, err)
}

// hangUp makes the connection close once the answer is sent, after a
// bounded linger (see lingerTime). Dropping the body stream is what stops
// Hertz from reading the whole rest of the body itself before closing.
func hangUp(c *app.RequestContext) {
	c.SetConnectionClose()
	c.Request.ResetBody()
	c.Hijack(linger)
}

// linger runs after the answer has been flushed: it reads and discards what
// the client is still sending, within bounds, so that the client reads the
// answer before the close rather than a reset. Hertz closes conn after.
func linger(conn network.Conn) {
	_ = conn.SetReadTimeout(lingerTime)
	_, _ = io.CopyN(io.Discard, conn, lingerBytes)
}

// rateReader is the request body held to uploadMinRate: it keeps a credit
// of bytes, spent at uploadMinRate as time passes and earned back by bytes
// received, at most uploadMaxSilence's worth. The connection's read
// deadline is the moment the credit runs out, so a silent or trickling
// client is cut off on time, and a slow one that keeps its average is not.
type rateReader struct {
	r      io.Reader
	conn   interface{ SetReadTimeout(time.Duration) error }
	credit int64 // bytes
	last   time.Time
	eof    bool
	cut    bool
}

func newRateReader(r io.Reader, conn interface{ SetReadTimeout(time.Duration) error }) *rateReader {
	return &rateReader{r: r, conn: conn, credit: maxCredit(), last: time.Now()}
}

func maxCredit() int64 { return uploadMinRate * int64(uploadMaxSilence/time.Millisecond) / 1000 }

// spend charges the time since the last call and reports whether credit
// is left.
func (r *rateReader) spend() bool {
	now := time.Now()
	r.credit -= uploadMinRate * int64(now.Sub(r.last)/time.Millisecond) / 1000
	r.last = now
	return r.credit > 0
}

func (r *rateReader) Read(p []byte) (int, error) {
	if r.cut || !r.spend() {
		r.cut = true
		return 0, errSlowBody
	}
	if r.conn != nil {
		_ = r.conn.SetReadTimeout(time.Duration(r.credit) * time.Second / time.Duration(uploadMinRate))
	}
	n, err := r.r.Read(p)
	if !r.spend() && err != nil && !errors.Is(err, io.EOF) {
		r.cut = true
		return n, errSlowBody
	}
	r.credit = min(r.credit+int64(n), maxCredit())
	if errors.Is(err, io.EOF) {
		r.eof = true
	}
	return n, err
}

// atEOF reports whether the body has been read to its end, reading at most
// a few bytes (the CRLF a client may put after the closing boundary) to
// find out.
func (r *rateReader) atEOF() bool {
	var buf [64]byte
	for range 4 {
		if r.eof {
			return true
		}
		if _, err := r.Read(buf[:]); err != nil {
			return errors.Is(err, io.EOF)
		}
	}
	return r.eof
}

// errSlowBody ends an upload that came slower than uploadMinRate.
var errSlowBody = newUserError(errBadRequest, "error.slowBody")

// received is one part on its way to becoming an image: its bytes are in
// the blob store, and its thumbnail too when it could be decoded while it
// arrived.
type received struct {
	s          *Server
	okey, tkey string
	id, name   string
	format     photo.Format
	size       int64
	sha256     string
	thumb      storage.BlobWriter // still open until the part is finished
	display    storage.BlobWriter // HEIC's JPEG rendition (see createDisplay); nil for formats browsers show
	info       photo.Info
	decoded    bool // info and thumb are done
	kept       bool // the catalog holds it: nothing to clean up
	start      time.Time
	news       *progress // what the session's viewers hear of it
}

// discard removes what a part left unless the catalog took it.
func (r *received) discard(ctx context.Context) {
	if r.kept {
		return
	}
	r.thumb.Abort()
	r.abortDisplay()
	if err := r.s.blobs.Delete(context.WithoutCancel(ctx), r.blobKeys()...); err != nil {
		r.s.log.Warn("remove the blobs of a failed upload", "err", err)
	}
	r.kept = true // once is enough
}

// receive stores one part's bytes, or nothing at all.
//
// The bytes flow once through a tee: into the location-stripping filter
// (then the original blob and the hash), and, when that delays nobody, into
// an io.Pipe that the decoder reads as they arrive, so by the time the
// phone's last byte lands the thumbnail is nearly done. It delays nobody
// when a decoding slot is free and the decode's memory is free at once, and
// it stays that way only while the bytes keep coming: a decoder that waits
// on a slow network gives its slot and memory back (feedReader), and the
// part is decoded from storage after the body has ended (finish). So does
// a decode that would cost far more than the bytes sent (a decompression
// bomb): its duplicate is then known by its hash before any decode.
func (s *Server) receive(ctx context.Context, sess storage.Session, part io.Reader, fileName string, declared int64) (*received, error) {
	start := time.Now()
	limit, overErr := s.cfg.MaxFileSize, error(newUserError(errTooLarge, "error.fileTooLarge", "limit", humanBytes(s.cfg.MaxFileSize)))
	if left := s.cfg.MaxSessionBytes - sess.Bytes; left < limit {
		limit, overErr = left, storage.ErrQuota
	}
	// Only the sniff is buffered here: the copy reads whole chunks past it.
	br := bufio.NewReaderSize(&limitReader{r: part, n: limit, err: overErr}, sniffLen)
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	format, err := photo.Sniff(head)
	if err != nil {
		return nil, err
	}

	id := newSecret()
	r := &received{s: s, start: start, id: id, okey: originalKey(sess.ID, id), tkey: thumbKey(sess.ID, id),
		name: displayName(fileName, format), format: format}
	orig, err := s.blobs.Create(ctx, r.okey)
	if err != nil {
		return nil, fmt.Errorf("create original: %w", err)
	}
	r.thumb, err = s.blobs.Create(ctx, r.tkey)
	if err != nil {
		orig.Abort()
		return nil, fmt.Errorf("create thumbnail: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			orig.Abort()
			r.discard(ctx)
		}
	}()
	if err := s.createDisplay(ctx, sess.ID, r); err != nil {
		return nil, err
	}

	hash := sha256.New()
	var size countWriter
	var sink io.Writer = io.MultiWriter(orig, hash, &size)
	var out io.WriteCloser = nopWriteCloser{sink}
	if !s.cfg.KeepMetadata {
		out = photo.StripLocation(sink, format)
	}

	// store finishes the original once every byte is in: the location
	// filter's last bytes, then the blob's commit.
	store := func() error {
		if err := out.Close(); err != nil {
			return err
		}
		if err := orig.Commit(); err != nil {
			return fmt.Errorf("store original: %w", err)
		}
		return nil
	}
	if !s.mayBeDuplicate(ctx, sess.ID, declared) && s.tryDecodeSlot(declared) {
		err = s.decodeWhileReceiving(br, out, r, declared, store)
	} else if err = copyChunks(out, br); err == nil {
		err = store()
	}
	if err != nil {
		return nil, err
	}
	r.size, r.sha256 = int64(size), hex.EncodeToString(hash.Sum(nil))
	ok = true
	return r, nil
}

// copyChunks copies src to dst in chunks of ingestBuffer, each read in
// full unless the stream ends: at a phone's speed a chunk takes tens of
// milliseconds to gather, and one write of it replaces sixteen of 4 KB.
func copyChunks(dst io.Writer, src io.Reader) error {
	buf := make([]byte, ingestBuffer)
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// multipartSlack bounds what a one-file form adds to its file: the part's
// headers (with the file's name) and the boundaries.
const multipartSlack = 4 << 10

// mayBeDuplicate reports whether the session holds an image about as large
// as the request: then the bytes are stored first and their hash looked up
// before any decode, so a phone sending a photo again (its retry after a
// lost answer) costs no decode. The stored size is the sent size for JPEG,
// whose location is blanked in place.
func (s *Server) mayBeDuplicate(ctx context.Context, sessionID string, declared int64) bool {
	if declared <= 0 {
		return false
	}
	found, err := s.images.HasImageSized(ctx, sessionID, declared-multipartSlack, declared)
	return found || err != nil // cannot tell: take the path that looks first
}

// tryDecodeSlot takes a decoding slot if one is free and the upload's
// length is known (it bounds what a decode may cost while the bytes
// arrive).
func (s *Server) tryDecodeSlot(declared int64) bool {
	if declared <= 0 {
		return false
	}
	select {
	case s.decode <- struct{}{}:
		return true
	default:
		return false
	}
}

// decodeWhileReceiving is the fast path: the decoder runs beside the copy.
// The caller holds a decoding slot; it is released here, as soon as the
// decoder is done or has given up. When the decoder gives up (errDecodeBusy)
// the copy goes on alone and r stays undecoded; Process writes nothing to
// the thumbnail then, so finish can use it as it is.
//
// Once the copy has every byte, store runs beside the decoder's last
// steps (the resize and the encode): on a disk, the original's fsync of
// several megabytes is then no longer added to the wait after the
// phone's last byte. It has run, or failed, when this returns.
func (s *Server) decodeWhileReceiving(src io.Reader, out io.Writer, r *received, declared int64, store func() error) error {
	pr, pw := io.Pipe()
	feed := &feedReader{pr: pr, now: s.cfg.Now}
	type result struct {
		info photo.Info
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-s.decode }()
		opts := s.photoOptions()
		opts.Display = r.display
		opts.Admit = func(cost int64) (func(), error) {
			// A decode that costs far more than its bytes is a bomb, or
			// close to one: it waits for the body's end, so a duplicate
			// of it is known before it costs anything.
			if cost > declared*maxFastCostRatio {
				return nil, errDecodeBusy
			}
			return s.budget.tryAdmit(cost)
		}
		start := time.Now()
		info, err := photo.Process(feed, opts, r.thumb)
		if err != nil && feed.gaveUp() {
			err = errDecodeBusy
		}
		if err == nil {
			s.metrics.thumbnailDone(time.Since(start))
		}
		// Unblocks the copy if the decoder stopped before the body's end:
		// a bad image stops it; a deferred decode, or a JPEG done before
		// what follows its end, lets it go on alone.
		stop := errDecoderStopped
		switch {
		case err == nil:
			stop = errDecoderDone
		case errors.Is(err, errDecodeBusy):
			stop = errDecodeBusy
		}
		pr.CloseWithError(stop)
		done <- result{info, err}
	}()
	copyErr := copyChunks(io.MultiWriter(out, &detachableWriter{w: pw}), src)
	pw.CloseWithError(copyErr)
	var stored chan error
	if copyErr == nil {
		stored = make(chan error, 1)
		go func() { stored <- store() }()
	}
	res := <-done
	storeErr := copyErr // the original is whole only once the copy is
	if stored != nil {
		storeErr = <-stored
	}
	switch {
	case copyErr != nil && !errors.Is(copyErr, errDecoderStopped):
		// Too large, over quota, or the client went away: the decoder only
		// saw the pipe break, so the copy's error is the true cause.
		return copyErr
	case errors.Is(res.err, errDecodeBusy):
	case res.err != nil:
		return res.err
	default:
		r.info, r.decoded = res.info, true
	}
	return storeErr
}

// errDecoderStopped is what the copy sees once the decoder has failed.
var errDecoderStopped = errors.New("decoder stopped")

// errDecoderDone is what the copy sees once the decoder has made the
// thumbnail before the body's end: the copy goes on alone.
var errDecoderDone = errors.New("decoder done")

// detachableWriter feeds the decoder's pipe until the decoder lets go of
// it (errDecodeBusy, errDecoderDone), after which the copy goes on
// without it.
type detachableWriter struct {
	w        io.Writer
	detached bool
}

func (d *detachableWriter) Write(p []byte) (int, error) {
	if d.detached {
		return len(p), nil
	}
	n, err := d.w.Write(p)
	if errors.Is(err, errDecodeBusy) || errors.Is(err, errDecoderDone) {
		d.detached = true
		return len(p), nil
	}
	return n, err
}

// The decoder of an arriving upload keeps its slot and memory only while
// the bytes come at least this fast, after a first grace: at a phone's
// usual megabytes a second it never waits long, while a sender of one byte
// a second would otherwise hold a slot of a 2-core machine for as long as
// it liked.
const (
	minFeedRate = 128 << 10 // bytes per second
	feedGrace   = 500 * time.Millisecond
)

// feedReader is the decoder's end of the pipe. It counts how long the
// decoder has waited for bytes against how many came; once the waiting is
// out of proportion it closes the pipe, which makes the decoder give up.
type feedReader struct {
	pr     *io.PipeReader
	now    func() time.Time
	got    int64
	waited time.Duration
	cut    atomic.Bool
}

func (f *feedReader) Read(p []byte) (int, error) {
	allowed := feedGrace + time.Duration(f.got)*time.Second/minFeedRate - f.waited
	if allowed <= 0 {
		f.giveUp()
		return 0, errDecodeBusy
	}
	t := time.AfterFunc(allowed, f.giveUp)
	start := f.now()
	n, err := f.pr.Read(p)
	t.Stop()
	f.waited += f.now().Sub(start)
	f.got += int64(n)
	return n, err
}

func (f *feedReader) giveUp() {
	f.cut.Store(true)
	f.pr.CloseWithError(errDecodeBusy)
}

func (f *feedReader) gaveUp() bool { return f.cut.Load() }

// finish is ingestAll's second step for one received part: it decodes the
// part from storage if that did not happen on the way, then records it.
// It returns the image and whether the session already had these bytes.
func (s *Server) finish(ctx context.Context, sess storage.Session, r *received) (storage.Image, bool, error) {
	sessionID := sess.ID
	if !r.decoded {
		// Known by its hash before any decode: sending the same bomb again
		// costs the server a lookup, not a decode.
		if dup, found, err := s.images.ImageBySHA(ctx, sessionID, r.sha256); err != nil || found {
			if err != nil {
				return storage.Image{}, false, err
			}
			dup.Name = r.name
			s.metrics.uploadDone(resultDuplicate, r.size, time.Since(r.start))
			r.news.duplicate(dup.ID)
			dup.Upload = ""
			return dup, true, nil
		}
		if err := s.decodeStored(ctx, r); err != nil {
			return storage.Image{}, false, err
		}
	}
	if err := r.thumb.Commit(); err != nil {
		return storage.Image{}, false, fmt.Errorf("store thumbnail: %w", err)
	}
	if err := r.commitDisplay(); err != nil {
		return storage.Image{}, false, err
	}
	img := storage.Image{
		ID:          r.id,
		Name:        r.name,
		ContentType: r.format.ContentType(),
		Size:        r.size,
		Width:       r.info.Width,
		Height:      r.info.Height,
		SHA256:      r.sha256,
		CreatedAt:   s.cfg.Now().UTC(),
		Upload:      r.news.p.Upload, // set once, at the start
	}
	// From here the image event may go out at any moment: no progress
	// may follow it.
	r.news.settle()
	stored, _, err := s.images.AddImage(ctx, sessionID, img, storage.Quota{MaxImages: s.cfg.MaxImages, MaxBytes: s.cfg.MaxSessionBytes})
	if errors.Is(err, storage.ErrDuplicate) {
		// The answer speaks of this phone's file, not of the name under
		// which someone else stored the same bytes.
		stored.Name = r.name
		s.metrics.uploadDone(resultDuplicate, r.size, time.Since(r.start))
		r.news.duplicate(stored.ID)
		stored.Upload = ""
		return stored, true, nil // our copy is removed by discard
	}
	if err != nil {
		return img, false, err
	}
	r.kept = true
	s.diskFullAt.Store(0)
	s.metrics.uploadDone(resultCreated, r.size, time.Since(r.start))
	if s.cfg.OnImage != nil {
		s.cfg.OnImage(ctx, StoredImage{Session: sess, Image: stored, blobs: s.blobs})
	}
	return stored, false, nil
}

// decodeStored decodes a stored original once a decoding slot and its
// memory are free, waiting no longer than ctx (the phone gone, the server
// stopping).
func (s *Server) decodeStored(ctx context.Context, r *received) error {
	select {
	case s.decode <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.decode }()
	b, err := s.blobs.Open(ctx, r.okey)
	if err != nil {
		return fmt.Errorf("reopen original: %w", err)
	}
	defer b.Close()
	opts := s.photoOptions()
	opts.Display = r.display
	opts.Admit = s.budget.admit(ctx)
	start := time.Now()
	info, err := photo.Process(b, opts, r.thumb)
	if err != nil {
		return err
	}
	s.metrics.thumbnailDone(time.Since(start))
	r.info, r.decoded = info, true
	return nil
}

func (s *Server) photoOptions() photo.Options {
	return photo.Options{MaxPixels: s.cfg.MaxPixels}
}

// errCutOff is a body that ended or broke before the multipart end: the
// phone lost its connection, or the request was malformed.
var errCutOff = newUserError(errBadRequest, "error.cutOff")

// limitReader fails with err once more than n bytes are read, so an
// oversized file is refused while it streams, not after. Read errors of
// the body itself become errCutOff, so they are answered as the client's
// fault, not the server's.
type limitReader struct {
	r   io.Reader
	n   int64
	err error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, l.err
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, l.err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w (%v)", errCutOff, err)
	}
	return n, err
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// displayName turns a client's file name into something safe to show and
// to put in Content-Disposition. It is metadata only: storage keys never
// contain it.
func displayName(name string, f photo.Format) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	// Phones and old browsers may send a full path, with either separator.
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		// Format characters (Unicode Cf: bidi overrides, zero-width
		// joiners) make "evil\u202egnp.exe" read as "evilexe.png".
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '"' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == "/" || name == ".." {
		name = "photo" + f.Ext()
	}
	for len(name) > maxNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

func humanBytes(n int64) string {
	const kib, mib = 1 << 10, 1 << 20
	switch {
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= kib && n%kib == 0:
		return fmt.Sprintf("%d KiB", n/kib)
	}
	return fmt.Sprintf("%d bytes", n)
}

// peerConn is the part of a Hertz connection watchPeer needs.
type peerConn interface {
	Peek(n int) ([]byte, error)
	SetReadDeadline(t time.Time) error
}

// watchPeer returns a context that ends when the peer's connection closes,
// and a stop function that must run before the handler returns.
//
// Hertz's WithSenseClientDisconnection does the same, but in v0.10.4 on
// Go's net transport it races: when writing a response fails (the peer
// left mid-write) the server releases the connection's read buffers
// without first stopping its detector, which is still reading them. Here
// stop aborts the blocking read and waits for it to return, so the
// buffers are never touched once the handler is done. It is for a request
// whose body was read to its end, so the read returns only when the peer
// goes away (or, harmlessly, if it pipelines).
func watchPeer(ctx context.Context, conn peerConn) (context.Context, func()) {
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
		conn.SetReadDeadline(aLongTimeAgo) // the read returns now
		<-done
		cancel()
	}
}

// aLongTimeAgo is a read deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)
