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
)

// Defaults for Options, and the bounds that keep hostile input cheap.
const (
	// DefaultMaxPixels is the pixel limit (DESIGN §7: 100 megapixels). It
	// also sets the memory one decode may use, 4 bytes per allowed pixel
	// (see decodeCost), so one decode stays under 400 MB however small
	// the file is.
	DefaultMaxPixels = 100_000_000
	// DefaultThumbSize is the thumbnail's long side (DESIGN §3: 400 px).
	DefaultThumbSize = 400
	// DefaultQuality is the thumbnail's JPEG quality: small files that
	// still look clean at 400 px.
	DefaultQuality = 80

	// MaxThumbSize bounds Options.ThumbSize; thumbnails are small by nature.
	MaxThumbSize = 4096

	// MaxHeaderBytes bounds the bytes a header may take before the image
	// size is known (and so the bytes Process holds for replay). It is
	// generous because JPEG puts every APPn segment before SOF (Exif with
	// its thumbnail, ICC profiles, extended XMP with depth maps can reach
	// a few MiB); a header larger than this is ErrCorrupt.
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
	// header before anything is decoded; a decode may also use at most 4
	// bytes per allowed pixel, so a 16-bit RGBA PNG is accepted up to half
	// the limit. 0 means DefaultMaxPixels.
	MaxPixels int64
	// ThumbSize is the thumbnail's long side in pixels; smaller images are
	// never enlarged. 0 means DefaultThumbSize; at most MaxThumbSize.
	ThumbSize int
	// Quality is the thumbnail's JPEG quality, 1..100. 0 means
	// DefaultQuality.
	Quality int
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
	Orientation int
}

// Process reads one image stream once and writes its thumbnail. It
// sniffs the format, reads the header (DecodeConfig, and EXIF orientation
// on the way), enforces MaxPixels from the header alone, then decodes the
// rest as it arrives, resizes so the long side is ThumbSize (never
// upscaling), applies the orientation and writes a JPEG to thumb.
//
// It is built for a tee: r may be the read end of an io.Pipe fed by a slow
// upload, and decoding proceeds while the bytes arrive. On success it has
// read r to EOF (bytes after the image, such as a JPEG's MPF preview or a
// WebP's trailing EXIF chunk, are drained and still scanned for EXIF), so
// the writer of a pipe never blocks forever; on error it may return early,
// and the caller should then close the pipe's reader with that error.
//
// Errors wrap ErrUnsupported (ErrHEIC), ErrTooManyPixels or ErrCorrupt;
// a panic in a decoder is ErrCorrupt. An error returned by r itself (not
// io.EOF) is passed on wrapped but not as one of those, so a failed upload
// is not mistaken for a bad image. Animated WebP is ErrUnsupported (the
// decoder has no animation support); for GIF the first frame is used.
// Images with transparency are flattened onto white. Nothing is written to
// thumb unless the whole stream was good.
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

	// Every byte the decoders read passes the observer first, in stream
	// order, so it sees each metadata block exactly once.
	obs := newScanner(format, nil)
	tee := &teeReader{r: br, obs: obs}
	rec := &recorder{r: tee, max: MaxHeaderBytes}

	defer func() {
		// Decoders are not hardened against every hostile input; a panic
		// in one must cost one upload, not the server.
		if p := recover(); p != nil {
			info, err = Info{}, errorf(ErrCorrupt, "decoder failed: %v", p)
		}
	}()

	cfg, err := decodeConfig(format, rec)
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
	if cost, budget := decodeCost(format, cfg, rec.buf), opt.MaxPixels*bytesPerAllowedPixel; cost > budget {
		return Info{}, errorf(ErrTooManyPixels, "%dx%d needs %d MiB to decode, the limit is %d MiB",
			w, h, cost>>20, budget>>20)
	}

	// Replay what DecodeConfig consumed, then go on with the live stream.
	img, err := decode(format, io.MultiReader(bytes.NewReader(rec.buf), tee))
	rec.buf = nil
	if err != nil {
		return Info{}, decodeError(err, src)
	}
	img = onCanvas(img, w, h)

	// Resize before draining: the trailing bytes are still on their way,
	// so the CPU work overlaps with the network.
	small := resize(img, opt.ThumbSize)
	img = nil

	if _, err := io.Copy(io.Discard, tee); err != nil {
		return Info{}, decodeError(err, src)
	}

	orient := 1
	if obs.exif != nil {
		orient = exifOrientation(obs.exif)
	}
	small = orientImage(small, orient)
	if err := encodeThumb(thumb, small, opt.Quality); err != nil {
		return Info{}, fmt.Errorf("photo: writing thumbnail: %w", err)
	}
	if orient >= 5 {
		w, h = h, w
	}
	return Info{Format: format, Width: w, Height: h, Orientation: orient}, nil
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

func decode(f Format, r io.Reader) (image.Image, error) {
	switch f {
	case JPEG:
		return jpeg.Decode(r)
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
	case errors.Is(err, ErrUnsupported), errors.Is(err, ErrCorrupt):
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

// errHeaderTooLarge ends DecodeConfig when the header exceeds MaxHeaderBytes.
var errHeaderTooLarge = errorf(ErrCorrupt, "header larger than %d MiB", MaxHeaderBytes>>20)

// recorder keeps a copy of what DecodeConfig reads, up to max bytes, so
// the decoder can be given the same bytes again.
type recorder struct {
	r   io.Reader
	buf []byte
	max int
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
