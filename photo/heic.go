package photo

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"sync/atomic"

	"github.com/gen2brain/heic"
)

// HEIC is decoded by libheif and libde265, compiled to WebAssembly and
// run on wazero (github.com/gen2brain/heic), so the binary needs no cgo
// and no system library. When the system has libheif as "libheif.so"
// (Debian: libheif-dev, which adds that name to libheif1's
// libheif.so.1), gen2brain/heic uses it through purego instead, unless
// the binary is built with the tag nodynamic. Either way the decoder is
// given the whole file, applies the primary image's 'irot' and 'imir'
// transforms itself, and returns the image as displayed.
//
// The WebAssembly decoder runs in worker processes (heicworker.go says
// why); each compiles it once, which takes about half a second of CPU.
// PrepareHEIC starts one ahead, and Process and StripLocation start one in
// the background as soon as they see a HEIC file, so that the start
// overlaps the upload.

// Rendition bounds (DESIGN §3: display is a JPEG for HEIC).
const (
	// DisplaySize is the long side, at most, of the JPEG rendition of an
	// image browsers cannot show; smaller images keep their size.
	DisplaySize = 4096
	// DisplayQuality is the rendition's JPEG quality.
	DisplayQuality = 85
)

// NeedsRendition reports whether browsers cannot show the format, so a
// viewer needs a JPEG rendition of it (Options.Display).
func (f Format) NeedsRendition() bool { return f == HEIC }

var warming atomic.Bool

// prepareHEICSoon starts a HEIC worker in the background if none is idle.
func prepareHEICSoon() {
	if heicInProcess() || !warming.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer warming.Store(false)
		warmHEICWorker()
	}()
}

// PrepareHEIC readies the HEIC decoder now: a worker process with the
// WebAssembly decoder compiled (about half a second of CPU), or nothing
// for a system libheif, so that the first HEIC photo does not wait for
// it. It is safe to call at any time, from any goroutine, and more than
// once.
func PrepareHEIC() {
	if !heicInProcess() {
		warmHEICWorker()
	}
}

var heicDecodes atomic.Int64

// HEICDecodes is how many HEIC files this process has given the decoder
// whole, to decode: what a test counts to show that a file was refused
// before any decode.
func HEICDecodes() int64 { return heicDecodes.Load() }

// HEICDecoder names the decoder HEIC photos get, for a log line at start.
func HEICDecoder() string {
	if heicInProcess() {
		return "system libheif (purego)"
	}
	return "libheif/libde265 WebAssembly (wazero), in worker processes"
}

// decodeHEIC decodes a HEIF file whose header f has been read and checked.
// The decoder needs the file whole: r is read up to f.dataEnd, the end of
// the last item's data, and no further (the caller drains the rest); a
// file that ends before it is ErrCorrupt, found before anything is decoded.
func decodeHEIC(f *heifFile, r io.Reader, maxPixels int64) (image.Image, error) {
	if heicInProcess() {
		img, err := heic.Decode(&exactReader{r: io.LimitReader(r, f.dataEnd), left: f.dataEnd})
		if err != nil {
			if errors.Is(err, heic.ErrDecode) {
				return nil, errorf(ErrCorrupt, "the HEIC decoder refused it")
			}
			return nil, err
		}
		return img, nil
	}
	data := make([]byte, f.dataEnd)
	if n, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, errorf(ErrCorrupt, "the file ends %d bytes before the end of its items", f.dataEnd-int64(n))
		}
		return nil, err
	}
	heicDecodes.Add(1)
	img, err := decodeInWorker(data, maxPixels)
	var refused *workerRefusal
	if errors.As(err, &refused) {
		return nil, errorf(ErrCorrupt, "the HEIC decoder refused it: %s", refused.msg)
	}
	return img, err
}

// exactReader fails with ErrCorrupt if r ends before left bytes.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) {
		if e.left > 0 {
			return n, errorf(ErrCorrupt, "the file ends %d bytes before the end of its items", e.left)
		}
		// The decoder reads the file whole, then decodes.
		heicDecodes.Add(1)
	}
	return n, err
}

// writeRendition writes img as the JPEG a browser is given instead of an
// original it cannot show: long side at most DisplaySize, quality
// DisplayQuality, with the original's ICC profile (iPhones shoot in
// Display P3) so colours stay as they were.
func writeRendition(w io.Writer, img image.Image, icc []byte) error {
	b := img.Bounds()
	if b.Dx() > DisplaySize || b.Dy() > DisplaySize {
		img = resizeWith(img, DisplaySize, thumbFilter, true)
	}
	return encodeJPEG(withICC(w, icc), img, DisplayQuality)
}

// encodeJPEG writes img as JPEG; an NRGBA image is flattened onto white
// first (see encodeThumb).
func encodeJPEG(w io.Writer, img image.Image, quality int) error {
	if n, ok := img.(*image.NRGBA); ok {
		return encodeThumb(w, n, quality)
	}
	return jpeg.Encode(w, img, &jpeg.Options{Quality: quality})
}

// iccChunk is the most ICC data one APP2 segment carries: 65535, less the
// length field, "ICC_PROFILE\0" and the two sequence bytes.
const iccChunk = 65535 - 2 - 12 - 2

// withICC returns a writer that puts the ICC profile, as APP2 ICC_PROFILE
// segments, right after the SOI of the JPEG written through it. A profile
// too large for 255 segments, or none, leaves w as it is.
func withICC(w io.Writer, icc []byte) io.Writer {
	n := (len(icc) + iccChunk - 1) / iccChunk
	if n == 0 || n > 255 {
		return w
	}
	var segs bytes.Buffer
	for i := range n {
		part := icc[i*iccChunk : min(len(icc), (i+1)*iccChunk)]
		l := 2 + 12 + 2 + len(part)
		segs.Write([]byte{0xFF, 0xE2, byte(l >> 8), byte(l)})
		segs.WriteString("ICC_PROFILE\x00")
		segs.Write([]byte{byte(i + 1), byte(n)})
		segs.Write(part)
	}
	return &soiInserter{w: w, insert: segs.Bytes()}
}

// soiInserter writes insert after the first two bytes (SOI) that pass.
type soiInserter struct {
	w      io.Writer
	insert []byte
	seen   int
}

func (s *soiInserter) Write(p []byte) (int, error) {
	if s.insert == nil {
		return s.w.Write(p)
	}
	k := min(2-s.seen, len(p))
	if _, err := s.w.Write(p[:k]); err != nil {
		return 0, err
	}
	s.seen += k
	if s.seen < 2 {
		return k, nil
	}
	if _, err := s.w.Write(s.insert); err != nil {
		return k, err
	}
	s.insert = nil
	n, err := s.w.Write(p[k:])
	return k + n, err
}

// checkDecodedHEIC refuses a decoded image that is larger than its header
// said: the cost was worked out from the header.
func checkDecodedHEIC(f *heifFile, img image.Image) error {
	b := img.Bounds()
	if int64(b.Dx())*int64(b.Dy()) > int64(f.width)*int64(f.height) || b.Dx() <= 0 || b.Dy() <= 0 {
		return errorf(ErrCorrupt, "decoded %dx%d, the header said %dx%d", b.Dx(), b.Dy(), f.width, f.height)
	}
	return nil
}
