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
	"strings"
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
	// sniffLen is how many bytes the format is judged from; the read buffer
	// is larger so the copy loop moves big chunks.
	sniffLen     = 512
	ingestBuffer = 64 << 10
	// maxNameBytes bounds the stored display name of a file.
	maxNameBytes = 255
	// maxFieldBytes bounds a form field that is not a file. The phone page
	// sends none; skipping a large one would read it to the end for nothing.
	maxFieldBytes = 64 << 10

	// A refused upload is answered at once, then at most lingerBytes more
	// of its body are read (for at most lingerTime) before the connection
	// closes. Closing with unread bytes makes the kernel send a reset, and
	// a client that gets a reset while still sending may never read the
	// answer; reading everything instead would let a 10 GB body cost the
	// server 10 GB of reading. This is nginx's "lingering close".
	lingerTime  = 5 * time.Second
	lingerBytes = 64 << 20
)

// uploadIdleTimeout ends an upload whose client has sent nothing for this
// long: a phone that walked out of Wi-Fi range sends no FIN, and its
// request would otherwise hold a decoding slot and a temporary file until
// TCP gives up, many minutes later. A variable only so a test can shorten it.
var uploadIdleTimeout = 2 * time.Minute

// upload takes one or more multipart parts named "file" (DESIGN §3). The
// body is read as a stream, part by part, and each part is ingested in one
// pass: hashed, written to the blob store and decoded as it arrives.
func (s *Server) upload(ctx context.Context, c *app.RequestContext) {
	ip := remoteIP(c)
	if !s.limits.allow(ip) {
		s.refuse(c, newUserError(errTooMany, "Too many attempts with unknown links: wait a minute and scan the QR code again."))
		return
	}
	sess, err := s.cat.SessionByToken(ctx, c.Param("token"))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			s.limits.fail(ip)
		}
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

	body := &idleReader{r: c.RequestBodyStream(), conn: c.GetConn(), timeout: uploadIdleTimeout}
	res, created, err := s.ingestAll(ctx, sess, boundary, body)
	if err != nil {
		s.refuse(c, err)
		return
	}
	if !body.atEOF() {
		// Bytes after the closing boundary: keep-alive would have Hertz read
		// them all before the next request, however many there are.
		hangUp(c)
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
		return "", newUserError(errBadRequest, "Send the photos as multipart/form-data, in parts named \"file\".")
	}
	return params["boundary"], nil
}

// ingestAll reads a multipart body and ingests every part named "file", in
// order. Each part becomes an image or leaves nothing; the parts before a
// failed one stay (DESIGN §9). It returns what was stored, how many images
// are new, and the first error. It is the whole upload path short of HTTP,
// which is what the fuzz test drives.
func (s *Server) ingestAll(ctx context.Context, sess storage.Session, boundary string, body io.Reader) (api.UploadResult, int, error) {
	var res api.UploadResult
	created := 0
	mr := multipart.NewReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, created, bodyError(err)
		}
		if part.FormName() != "file" {
			// Read through it here, bounded, rather than let NextPart
			// discard a field of any size.
			n, err := io.Copy(io.Discard, io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return res, created, bodyError(err)
			}
			if n > maxFieldBytes {
				return res, created, newUserError(errBadRequest, "Only files named \"file\" can be sent here.")
			}
			continue
		}
		// On error the part is not closed: Close would read the rest of a
		// part that may be gigabytes long before the client hears why.
		img, dup, err := s.ingest(ctx, sess, part)
		if err != nil {
			return res, created, err
		}
		part.Close()
		img.URL, img.ThumbURL = "", ""
		res.Images = append(res.Images, img)
		if dup {
			res.Duplicate = append(res.Duplicate, img.ID)
		} else {
			created++
			sess.Images++
			sess.Bytes += img.Size
		}
	}
	if len(res.Images) == 0 {
		return res, created, newUserError(errBadRequest, "No part named \"file\" was sent.")
	}
	return res, created, nil
}

// bodyError tells a body that broke off (the phone lost its connection;
// worth sending again) from one that was never a well-formed form. The
// parser's own words stay out of the message: they quote the client's
// bytes and mean nothing to the person holding the phone.
func bodyError(err error) error {
	var ne net.Error
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errCutOff) || errors.As(err, &ne) {
		return fmt.Errorf("%w (%v)", errCutOff, err)
	}
	return fmt.Errorf("%w (%v)", errMalformed, err)
}

// errMalformed is a body that is not the multipart form it claims to be.
var errMalformed = newUserError(errBadRequest, "The upload was not understood: send the photos as multipart/form-data, in parts named \"file\".")

// refuse answers a failed upload with err and closes the connection: the
// rest of the body, if any, is not worth reading.
func (s *Server) refuse(c *app.RequestContext, err error) {
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

// idleReader is the request body with a deadline that moves with every
// read: a slow upload is fine, a silent one is not (uploadIdleTimeout).
type idleReader struct {
	r       io.Reader
	conn    interface{ SetReadTimeout(time.Duration) error }
	timeout time.Duration
	eof     bool
}

func (r *idleReader) Read(p []byte) (int, error) {
	if r.conn != nil {
		_ = r.conn.SetReadTimeout(r.timeout)
	}
	n, err := r.r.Read(p)
	if errors.Is(err, io.EOF) {
		r.eof = true
	}
	return n, err
}

// atEOF reports whether the body has been read to its end, reading at most
// a few bytes (the CRLF a client may put after the closing boundary) to
// find out.
func (r *idleReader) atEOF() bool {
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

// ingest stores one part as an image, or nothing at all. It returns the
// stored image, and whether the session already had these bytes.
//
// The part's bytes flow once through a tee: into the location-stripping
// filter (then the original blob and the hash), and, when a decoding slot
// is free, into an io.Pipe that the decoder reads as bytes arrive. So by
// the time the phone's last byte lands the thumbnail is nearly done. When
// every slot is busy the original is stored first and decoded from storage
// once a slot frees up, so a burst of uploads never stalls their sockets
// and never decodes more than ThumbWorkers images at once.
func (s *Server) ingest(ctx context.Context, sess storage.Session, part *multipart.Part) (img api.Image, dup bool, err error) {
	limit, overErr := s.cfg.MaxFileSize, error(newUserError(errTooLarge, "That file is larger than this server accepts (%s).", humanBytes(s.cfg.MaxFileSize)))
	if left := s.cfg.MaxSessionBytes - sess.Bytes; left < limit {
		limit, overErr = left, storage.ErrQuota
	}
	br := bufio.NewReaderSize(&limitReader{r: part, n: limit, err: overErr}, ingestBuffer)
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return img, false, err
	}
	format, err := photo.Sniff(head)
	if err != nil {
		return img, false, err
	}

	id := newSecret()
	okey, tkey := originalKey(sess.ID, id), thumbKey(sess.ID, id)
	orig, err := s.blobs.Create(ctx, okey)
	if err != nil {
		return img, false, fmt.Errorf("create original: %w", err)
	}
	thumb, err := s.blobs.Create(ctx, tkey)
	if err != nil {
		orig.Abort()
		return img, false, fmt.Errorf("create thumbnail: %w", err)
	}
	kept := false
	defer func() {
		if kept {
			return
		}
		orig.Abort()
		thumb.Abort()
		// The fallback path commits the original before decoding it.
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), okey, tkey); derr != nil {
			s.log.Warn("remove failed upload", "key", okey, "err", derr)
		}
	}()

	hash := sha256.New()
	var size countWriter
	var sink io.Writer = io.MultiWriter(orig, hash, &size)
	var out io.WriteCloser = nopWriteCloser{sink}
	if !s.cfg.KeepMetadata {
		out = photo.StripLocation(sink, format)
	}
	opts := photo.Options{MaxPixels: s.cfg.MaxPixels}

	var info photo.Info
	select {
	case s.decode <- struct{}{}:
		info, err = s.decodeWhileReceiving(br, out, thumb, opts)
		if err == nil {
			err = orig.Commit()
		}
	default:
		info, err = s.decodeAfterReceiving(ctx, br, out, orig, okey, thumb, opts)
	}
	if err != nil {
		return img, false, err
	}
	if err := thumb.Commit(); err != nil {
		return img, false, fmt.Errorf("store thumbnail: %w", err)
	}

	base := "/api/sessions/" + sess.ID + "/images/" + id
	img = api.Image{
		ID:          id,
		Name:        displayName(part.FileName(), format),
		ContentType: format.ContentType(),
		Size:        int64(size),
		Width:       info.Width,
		Height:      info.Height,
		SHA256:      hex.EncodeToString(hash.Sum(nil)),
		CreatedAt:   s.cfg.Now().UTC(),
		URL:         base,
		ThumbURL:    base + "/thumb",
	}
	stored, _, err := s.cat.AddImage(ctx, sess.ID, img, storage.Quota{MaxImages: s.cfg.MaxImages, MaxBytes: s.cfg.MaxSessionBytes})
	if errors.Is(err, storage.ErrDuplicate) {
		return stored, true, nil // our copy is removed by the deferred cleanup
	}
	if err != nil {
		return img, false, err
	}
	kept = true
	return stored, false, nil
}

// decodeWhileReceiving is the fast path: the decoder runs beside the copy.
// The caller holds a decoding slot; it is released here.
func (s *Server) decodeWhileReceiving(src io.Reader, out io.WriteCloser, thumb io.Writer, opts photo.Options) (photo.Info, error) {
	pr, pw := io.Pipe()
	type result struct {
		info photo.Info
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-s.decode }()
		info, err := photo.Process(pr, opts, thumb)
		// Unblocks the copy if the decoder stopped early (a bad image).
		pr.CloseWithError(errDecoderStopped)
		done <- result{info, err}
	}()
	_, copyErr := io.Copy(io.MultiWriter(out, pw), src)
	pw.CloseWithError(copyErr)
	r := <-done
	switch {
	case copyErr != nil && !errors.Is(copyErr, errDecoderStopped):
		// Too large, over quota, or the client went away: the decoder only
		// saw the pipe break, so the copy's error is the true cause.
		return r.info, copyErr
	case r.err != nil:
		return r.info, r.err
	}
	if err := out.Close(); err != nil {
		return r.info, err
	}
	return r.info, nil
}

// errDecoderStopped is what the copy sees once the decoder has returned.
var errDecoderStopped = errors.New("decoder stopped")

// decodeAfterReceiving is the path under load: store the original first,
// then wait for a decoding slot and decode it from the blob store.
func (s *Server) decodeAfterReceiving(ctx context.Context, src io.Reader, out io.WriteCloser, orig storage.BlobWriter, okey string, thumb io.Writer, opts photo.Options) (photo.Info, error) {
	if _, err := io.Copy(out, src); err != nil {
		return photo.Info{}, err
	}
	if err := out.Close(); err != nil {
		return photo.Info{}, err
	}
	if err := orig.Commit(); err != nil {
		return photo.Info{}, fmt.Errorf("store original: %w", err)
	}
	select {
	case s.decode <- struct{}{}:
	case <-ctx.Done():
		return photo.Info{}, ctx.Err()
	}
	defer func() { <-s.decode }()
	b, err := s.blobs.Open(ctx, okey)
	if err != nil {
		return photo.Info{}, fmt.Errorf("reopen original: %w", err)
	}
	defer b.Close()
	return photo.Process(b, opts, thumb)
}

// errCutOff is a body that ended or broke before the multipart end: the
// phone lost its connection, or the request was malformed.
var errCutOff = newUserError(errBadRequest, "The upload was cut off before the end: send it again.")

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
		if unicode.IsControl(r) || r == '"' {
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
	const mib = 1 << 20
	if n >= mib && n%mib == 0 {
		return fmt.Sprintf("%d MiB", n/mib)
	}
	return fmt.Sprintf("%d bytes", n)
}
