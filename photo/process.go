package photo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"qrsync/photo/internal/jpegscale"
)

// Defaults for Options, and the bounds that keep hostile input cheap.
const (
	// DefaultMaxPixels is the pixel limit (DESIGN §7: 100 megapixels). It
	// also bounds the memory of one Process call: the decoded image, and
	// apart from it the resize, may each take 4 bytes per allowed pixel
	// (see bytesPerAllowedPixel), 400 MB, however small the file is.
	DefaultMaxPixels = 100_000_000
	// DefaultThumbSize is the thumbnail's long side (DESIGN §3: 400 px).
	DefaultThumbSize = 400
	// DefaultQuality is the thumbnail's JPEG quality: small files that
	// still look clean at 400 px.
	DefaultQuality = 80

	// MaxThumbSize bounds Options.ThumbSize; thumbnails are small by nature.
	MaxThumbSize = 4096

	// MaxHeaderBytes bounds the bytes before the pixel data, which Process
	// reads to learn the image's size and what decoding it will cost (and
	// so holds for replay): a JPEG's segments up to its first scan, a
	// PNG's chunks up to IDAT, a GIF's blocks up to the first frame, a
	// WebP's chunks up to ALPH or the image. It is generous because JPEG
	// puts every APPn segment before SOF (Exif with its thumbnail, ICC
	// profiles, extended XMP with depth maps can reach a few MiB); a
	// header larger than this is ErrCorrupt.
	MaxHeaderBytes = 8 << 20
)

// readBufferSize is the bufio buffer between the caller's reader and the
// decoders: large enough that decoders reading small pieces do not turn
// into many tiny reads of a pipe.
const readBufferSize = 64 << 10

// Options tune Process. The zero value means the defaults; negative values
// are a programming error and make Process fail.
type Options struct {
	// MaxPixels is the largest width*height accepted, checked from the
	// header before anything is decoded; the decoded image, and apart from
	// it the resize, may also be estimated to take at most 4 bytes per
	// allowed pixel (see bytesPerAllowedPixel), so a 16-bit RGBA PNG is
	// accepted up to half the limit. 0 means DefaultMaxPixels.
	MaxPixels int64
	// ThumbSize is the thumbnail's long side in pixels; smaller images are
	// never enlarged. 0 means DefaultThumbSize; at most MaxThumbSize.
	ThumbSize int
	// Quality is the thumbnail's JPEG quality, 1..100. 0 means
	// DefaultQuality.
	Quality int
	// Admit, when set, is called once the header is read and checked and
	// the decode's cost in bytes is known, before any pixel is decoded, so
	// that a server can hold all decodes to one memory budget. A non-nil
	// error ends Process with that error (returned as is, so callers can
	// errors.Is their own sentinels); otherwise release, if not nil, is
	// called exactly once, when the decode's large allocations are no
	// longer needed (after the resize, before the rest of the stream is
	// drained and the thumbnail encoded), or when Process fails after
	// Admit. Nothing is read from the stream while Admit runs. Panics in
	// Admit and release are the caller's and are not recovered.
	Admit func(cost int64) (release func(), err error)
	// Display, when set, receives a JPEG rendition of an image browsers
	// cannot show (Format.NeedsRendition: HEIC), made from the same decode
	// as the thumbnail: turned as displayed, long side at most
	// DisplaySize, quality DisplayQuality. Nothing is written to it for
	// other formats, nor unless the whole stream was good; Info.Display
	// says whether it was written. Its cost is part of what Admit is given.
	Display io.Writer
}

// withDefaults fills zero fields and validates the rest, so a bad
// configuration fails early and loudly instead of producing odd images.
func (o Options) withDefaults() (Options, error) {
	if o.MaxPixels == 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.ThumbSize == 0 {
		o.ThumbSize = DefaultThumbSize
	}
	if o.Quality == 0 {
		o.Quality = DefaultQuality
	}
	switch {
	case o.MaxPixels < 0:
		return o, fmt.Errorf("photo: invalid Options.MaxPixels %d", o.MaxPixels)
	case o.ThumbSize < 0 || o.ThumbSize > MaxThumbSize:
		return o, fmt.Errorf("photo: invalid Options.ThumbSize %d (1..%d)", o.ThumbSize, MaxThumbSize)
	case o.Quality < 0 || o.Quality > 100:
		return o, fmt.Errorf("photo: invalid Options.Quality %d (1..100)", o.Quality)
	}
	return o, nil
}

// Info describes an image as a viewer shows it, which is what the API
// reports (DESIGN §3: width/height as displayed).
type Info struct {
	// Format is the sniffed format.
	Format Format
	// Width and Height are as displayed, i.e. after EXIF orientation:
	// orientations 5-8 swap the stored width and height.
	Width, Height int
	// Orientation is the EXIF orientation, 1..8; 1 when absent or invalid.
	// For HEIC it is what the primary image's 'irot' and 'imir' amount
	// to, which the decoder applies: HEIF readers do not apply the Exif
	// tag, which an iPhone writes to agree with 'irot' (applying both would
	// turn the photo twice).
	Orientation int
	// Cost is the memory in bytes the decode and resize were estimated to
	// allocate, from the header, as admitted by Options.Admit; 0 when
	// Admit is not set (so Info stays a pure description of the image for
	// callers that do not budget).
	Cost int64
	// Display reports that a rendition was written to Options.Display.
	Display bool
}

// Process reads one image stream once and writes its thumbnail. It
// sniffs the format, reads the header (DecodeConfig, and EXIF orientation
// on the way), enforces MaxPixels and the memory budget from the header
// alone, asks Options.Admit if set, then decodes the rest as it arrives,
// resizes so the long side is ThumbSize (never upscaling), applies the
// orientation and writes a JPEG to thumb.
//
// It is built for a tee: r may be the read end of an io.Pipe fed by a slow
// upload, and decoding proceeds while the bytes arrive. On success it has
// read r through the image: a JPEG to its end (EOI), leaving unread what
// may follow it (an MPF preview, a gain map), every other format to EOF
// (a WebP's trailing EXIF chunk is still scanned). It may return early on
// error too; the caller of a pipe closes its reader once Process returns,
// so that the writer never blocks: with the error, or, on success, so
// that the writer goes on alone.
//
// Errors wrap ErrUnsupported, ErrTooManyPixels or ErrCorrupt;
// a panic in a decoder is ErrCorrupt. An error returned by r itself (not
// io.EOF) is passed on wrapped but not as one of those, so a failed upload
// is not mistaken for a bad image; Admit's error is returned as it is.
// Animated WebP is ErrUnsupported (the decoder has no animation support);
// for GIF the first frame is used.
// Images with transparency are flattened onto white. Nothing is written to
// thumb unless all of the stream Process reads was good; whether bytes it
// leaves unread arrive is the caller's to check.
func Process(r io.Reader, opt Options, thumb io.Writer) (info Info, err error) {
	opt, err = opt.withDefaults()
	if err != nil {
		return Info{}, err
	}
	src := &sourceReader{r: r}
	br := bufio.NewReaderSize(src, readBufferSize)
	head, _ := br.Peek(SniffLen) // a short read or error shows up again below
	format, err := Sniff(head)
	if err != nil {
		if src.err != nil {
			return Info{}, src.readError()
		}
		return Info{}, err
	}
	if format == WebP && webpAnimated(head) {
		return Info{}, errorf(ErrUnsupported, "animated WebP is not supported")
	}
	if format == HEIC {
		prepareHEICSoon() // compiles while the header is read and the rest arrives
	}

	// Every byte the decoders read passes the observer first, in stream
	// order, so it sees each metadata block exactly once.
	obs := newScanner(format, nil)
	tee := &teeReader{r: br, obs: obs}
	rec := &recorder{r: tee, max: MaxHeaderBytes}

	// release is Admit's, until it has been called; inCaller is set while
	// Admit or release runs, whose panics are not the decoder's.
	var (
		release  func()
		inCaller bool
		admitted int64
	)
	callRelease := func() {
		if r := release; r != nil {
			release = nil
			inCaller = true
			r()
			inCaller = false
		}
	}
	defer func() {
		// Decoders are not hardened against every hostile input; a panic
		// in one must cost one upload, not the server.
		if p := recover(); p != nil {
			if inCaller {
				panic(p)
			}
			info, err = Info{}, errorf(ErrCorrupt, "decoder failed: %v", p)
		}
		callRelease()
	}()

	var (
		cfg image.Config
		hf  *heifFile // HEIC: its header
	)
	if format == HEIC {
		hf, err = readHEIF(rec, opt.MaxPixels)
		if hf != nil {
			cfg.Width, cfg.Height = hf.width, hf.height
		}
	} else {
		cfg, err = decodeConfig(format, rec)
	}
	if err != nil {
		return Info{}, decodeError(err, src)
	}
	w, h := cfg.Width, cfg.Height
	if w <= 0 || h <= 0 {
		return Info{}, errorf(ErrCorrupt, "header says %dx%d", w, h)
	}
	// The limit is checked from the header alone, before the decoder
	// allocates a single pixel: a 1 KiB file can announce 4 gigapixels.
	if px := int64(w) * int64(h); px > opt.MaxPixels {
		return Info{}, errorf(ErrTooManyPixels, "%dx%d is %s pixels, the limit is %s",
			w, h, pixels(px), pixels(opt.MaxPixels))
	}
	// What the decode will allocate depends on more than the size: the
	// estimate reads on to where the pixel data starts (recorded, like
	// the header, for the decoder).
	// A JPEG is decoded at the smallest DCT scale that leaves the
	// picture at least the thumbnail's size: a fraction of the work and
	// of the memory of a full decode.
	scale := 1
	if format == JPEG {
		scale = jpegscale.ScaleFor(w, h, opt.ThumbSize)
	}
	var mem memory
	if format == HEIC {
		mem = heicMemory(hf, opt.ThumbSize, opt.Display != nil)
	} else {
		mem = estimateScaled(format, cfg, rec, opt.ThumbSize, scale)
	}
	if rec.err != nil {
		return Info{}, decodeError(rec.err, src)
	}
	// The limit applies to the decoded image and to the resize apart: an
	// image at the pixel limit may fill the one (8-bit RGBA does), and a
	// small one may need more for the resize than its own pixels.
	if budget := opt.MaxPixels * bytesPerAllowedPixel; mem.decoded > budget || mem.process > budget {
		return Info{}, errorf(ErrTooManyPixels, "%dx%d needs %d MiB to decode and %d MiB to resize, the limit is %d MiB",
			w, h, (mem.decoded+mem.decoder)>>20, mem.process>>20, budget>>20)
	}
	cost := mem.total()
	if opt.Admit != nil {
		inCaller = true
		rel, err := opt.Admit(cost)
		inCaller = false
		if err != nil {
			return Info{}, err
		}
		release = rel
		admitted = cost
	}

	// Replay what was recorded, then go on with the live stream.
	replay := io.MultiReader(bytes.NewReader(rec.buf), tee)
	var img image.Image
	if format == HEIC {
		img, err = decodeHEIC(hf, replay, opt.MaxPixels)
	} else {
		img, err = decode(format, replay, scale)
	}
	rec.buf = nil
	if err != nil {
		return Info{}, decodeError(err, src)
	}
	if format == HEIC {
		// The decoder had the file whole and turned it as displayed; what
		// follows the last item is drained now, so that the rendition is
		// only written for a good stream.
		if err := checkDecodedHEIC(hf, img); err != nil {
			return Info{}, err
		}
		w, h = img.Bounds().Dx(), img.Bounds().Dy()
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return Info{}, decodeError(err, src)
		}
	}
	img = onCanvas(img, ceilDivInt(w, scale), ceilDivInt(h, scale))

	// Resize before draining: the trailing bytes are still on their way,
	// so the CPU work overlaps with the network. The thumbnail's size is
	// the photo's, whatever the scale it was decoded at.
	tw, th := thumbSize(w, h, opt.ThumbSize)
	small := resizeTo(img, tw, th)
	display := false
	if opt.Display != nil && format.NeedsRendition() {
		if err := writeRendition(opt.Display, img, hf.icc); err != nil {
			return Info{}, fmt.Errorf("photo: writing the display rendition: %w", err)
		}
		display = true
	}
	img = nil
	callRelease()

	// A JPEG's own metadata all comes before its pixels: what follows its
	// end (an MPF preview, a gain map, a phone's trailer) is left unread,
	// so the thumbnail is ready as soon as the image is. The other formats
	// may put EXIF after the pixels (WebP's chunk, PNG's eXIf) and are
	// read to the end.
	if format != JPEG {
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return Info{}, decodeError(err, src)
		}
	}

	orient := 1
	switch {
	case format == HEIC:
		// Already applied by the decoder; reported for what it was.
		orient = hf.orientation()
	case obs.exif != nil:
		orient = exifOrientation(obs.exif)
		small = orientImage(small, orient)
	}
	var out io.Writer = thumb
	if format == HEIC {
		out = withICC(thumb, hf.icc)
	}
	if err := encodeThumb(out, small, opt.Quality); err != nil {
		return Info{}, fmt.Errorf("photo: writing thumbnail: %w", err)
	}
	if orient >= 5 && format != HEIC {
		w, h = h, w
	}
	return Info{Format: format, Width: w, Height: h, Orientation: orient, Cost: admitted, Display: display}, nil
}

// pixels formats a pixel count for a person: "400 million", "9600".
func pixels(n int64) string {
	if n >= 10_000_000 {
		return fmt.Sprintf("%d million", n/1_000_000)
	}
	return fmt.Sprint(n)
}

func decodeConfig(f Format, r io.Reader) (image.Config, error) {
	switch f {
	case JPEG:
		return jpeg.DecodeConfig(r)
	case PNG:
		return png.DecodeConfig(r)
	case GIF:
		return gif.DecodeConfig(r)
	case WebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, errorf(ErrUnsupported, "format %q", string(f))
}

// decode decodes an image of format f; a JPEG at 1/scale of its size.
func decode(f Format, r io.Reader, scale int) (image.Image, error) {
	switch f {
	case JPEG:
		return jpegscale.DecodeScaled(r, scale)
	case PNG:
		return png.Decode(r)
	case GIF:
		return gif.Decode(r) // the first frame
	case WebP:
		return webp.Decode(r)
	}
	return nil, errorf(ErrUnsupported, "format %q", string(f))
}

// decodeError classifies a decoder's error: a failure of the caller's
// reader is passed on as such; anything else is the image's fault.
func decodeError(err error, src *sourceReader) error {
	switch {
	case src.err != nil:
		return src.readError()
	case errors.Is(err, ErrUnsupported), errors.Is(err, ErrCorrupt), errors.Is(err, ErrTooManyPixels):
		return err
	case errors.Is(err, io.EOF):
		return wrapCause(ErrCorrupt, io.ErrUnexpectedEOF) // truncated
	}
	return wrapCause(ErrCorrupt, err)
}

// webpAnimated reports whether a WebP starts with a VP8X chunk whose
// animation flag is set.
func webpAnimated(head []byte) bool {
	return len(head) >= 21 && string(head[12:16]) == "VP8X" && head[20]&0x02 != 0
}

// onCanvas returns img with bounds (0,0)-(w,h). A GIF's first frame may
// cover only part of its logical screen; the rest is transparent.
func onCanvas(img image.Image, w, h int) image.Image {
	want := image.Rect(0, 0, w, h)
	if img.Bounds() == want {
		return img
	}
	canvas := image.NewNRGBA(want)
	drawOver(canvas, img)
	return canvas
}

// sourceReader remembers the first error of the caller's reader other than
// io.EOF, to tell a broken upload from a broken image.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *sourceReader) readError() error {
	return fmt.Errorf("photo: reading the image: %w", s.err)
}

// teeReader hands every byte read to the metadata observer.
type teeReader struct {
	r   io.Reader
	obs *scanner
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		// An observer that gives up (odd structure) only means no
		// orientation; the decoder has the last word on corruption.
		t.obs.Write(p[:n])
	}
	return n, err
}

// errHeaderTooLarge ends DecodeConfig, or the cost estimate's reading on,
// when the header exceeds MaxHeaderBytes.
var errHeaderTooLarge = errorf(ErrCorrupt, "header larger than %d MiB", MaxHeaderBytes>>20)

// recorder keeps a copy of what DecodeConfig and the cost estimate read,
// up to max bytes, so the decoder can be given the same bytes again.
type recorder struct {
	r       io.Reader
	buf     []byte
	max     int
	err     error  // what stopped at, if anything
	scratch []byte // at's read buffer, once it needs one
}

// at reads on as far as the cost estimate asks (see header); an error,
// io.EOF included, is kept in err.
func (rec *recorder) at(off, n int) []byte {
	if off < 0 || n < 0 {
		return nil
	}
	for len(rec.buf) < off+n && rec.err == nil {
		if rec.scratch == nil {
			rec.scratch = make([]byte, 4096)
		}
		_, err := rec.Read(rec.scratch[:min(len(rec.scratch), off+n-len(rec.buf))])
		if err != nil && len(rec.buf) < off+n {
			rec.err = err
		}
	}
	if len(rec.buf) < off+n {
		return nil
	}
	return rec.buf[off : off+n]
}

func (rec *recorder) Read(p []byte) (int, error) {
	room := rec.max - len(rec.buf)
	if room <= 0 {
		return 0, errHeaderTooLarge
	}
	if len(p) > room {
		p = p[:room]
	}
	n, err := rec.r.Read(p)
	rec.buf = append(rec.buf, p[:n]...)
	return n, err
}
