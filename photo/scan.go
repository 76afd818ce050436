package photo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
)

// scanner walks the container structure of an image stream (JPEG segments,
// PNG chunks, RIFF chunks) as bytes are written to it, in any chunking. It
// has two uses:
//
//   - strip mode (StripLocation): it rewrites the stream to out, minus
//     location metadata, holding at most one metadata block in memory. A
//     JPEG is followed to its end and past it, since phones append more
//     images (MPF previews, gain maps) that carry their own Exif;
//   - observe mode (Process): out is nil and it only keeps a copy of the
//     first EXIF block it meets, wherever in the file it is (a WebP's EXIF
//     chunk comes after the pixels), and stops at a JPEG's first scan.
//
// It is a push parser: the next step is a continuation that runs when the
// bytes it asked for have arrived, so there is no goroutine and no
// read-ahead, and 1-byte writes give the same result as one big write.
type scanner struct {
	out   *bufio.Writer // strip mode: where the filtered stream goes; nil when observing
	strip bool
	exif  []byte // observe mode: copy of the first EXIF (TIFF) block seen
	err   error  // sticky; set by fail or by out

	mode   scanMode
	want   int          // modeCollect: how many bytes buf must hold
	buf    []byte       // modeCollect: the bytes so far
	onFull func([]byte) // modeCollect: runs with buf once it holds want bytes
	onCut  func([]byte) // modeCollect: runs with buf if the stream ends first; nil: buf is written as is
	remain int64        // modePass, modeSkip: bytes left
	then   func()       // modePass, modeSkip: runs once remain is 0

	riffLeft int64 // WebP: bytes of the RIFF body not yet announced by a chunk header

	// HEIC, strip mode.
	pos     int64           // bytes of the stream consumed so far, once the header is out
	held    []byte          // the stream up to the end of its 'meta' box, held until it is cleaned
	patches []metadataPatch // metadata ranges still to clean, in order

	// JPEG, strip mode.
	headerDone bool // the primary image reached its first SOS or EOI: its metadata is read, and a fault or an early end is no longer an error
	trailing   bool // past the primary image's EOI: only signed APP13 segments are blanked
	soi        int  // modeTrailer: how many bytes of "FF D8 FF" the bytes so far end with

	closed bool
}

type scanMode uint8

const (
	modeCollect scanMode = iota // gather want bytes into buf, then onFull
	modePass                    // copy remain bytes through, then then
	modeSkip                    // drop remain bytes, then then
	modeRest                    // copy everything that follows as is (the structure is done)
	modeEntropy                 // JPEG: copy entropy-coded data through up to the next marker
	modeTrailer                 // JPEG: copy bytes after an EOI through, looking for another image
)

const (
	// maxExifChunk bounds a WebP EXIF / PNG eXIf chunk held in memory. A
	// JPEG APP1 is at most 64 KiB by construction; the RIFF and PNG
	// containers allow gigabytes, which we refuse to buffer. Real EXIF
	// with a thumbnail is well under 100 KiB.
	maxExifChunk = 1 << 20

	// maxTextKeyword: a PNG text keyword is 1-79 bytes plus its NUL.
	maxTextKeyword = 80

	stripBufferSize = 32 << 10
)

// newScanner starts a scanner for format f. With out != nil it rewrites the
// stream to out without location metadata (strip mode).
func newScanner(f Format, out *bufio.Writer) *scanner {
	s := &scanner{out: out, strip: out != nil}
	switch f {
	case JPEG:
		s.jpegStart()
	case PNG:
		s.pngStart()
	case WebP:
		s.webpStart()
	case GIF:
		// GIF has no EXIF; it is copied as is.
		s.rest()
	case HEIC:
		prepareHEICSoon()
		if !s.strip {
			// Process applies no Exif orientation to HEIC (see
			// Info.Orientation): there is nothing to observe.
			s.rest()
			return s
		}
		s.heifBox()
	default:
		s.err = errorf(ErrUnsupported, "cannot filter format %q", string(f))
	}
	return s
}

var errClosed = errors.New("photo: write after Close")

// Write consumes p, emitting filtered bytes in strip mode. Once the stream
// has proved malformed every Write fails, so a tee feeding it stops early.
func (s *scanner) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errClosed
	}
	n := 0
	for len(p) > 0 && s.err == nil {
		switch s.mode {
		case modeCollect:
			k := min(s.want-len(s.buf), len(p))
			s.buf = append(s.buf, p[:k]...)
			p, n = p[k:], n+k
			if len(s.buf) == s.want {
				f := s.onFull
				s.onFull, s.onCut = nil, nil
				f(s.buf)
			}
		case modePass, modeSkip:
			k := int(min(s.remain, int64(len(p))))
			if s.mode == modePass {
				s.emit(p[:k])
			}
			p, n = p[k:], n+k
			s.remain -= int64(k)
			if s.remain == 0 {
				f := s.then
				s.then = nil
				f()
			}
		case modeRest:
			s.emit(p)
			p, n = nil, n+len(p)
		case modeEntropy:
			k := s.entropy(p)
			p, n = p[k:], n+k
		case modeTrailer:
			k := s.trailer(p)
			p, n = p[k:], n+k
		}
	}
	return n, s.err
}

// Close reports whether the stream was complete and well formed as far as
// the scanner looked, and flushes the output.
func (s *scanner) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	if s.err == nil && s.mode != modeRest && !s.headerDone {
		s.err = errorf(ErrCorrupt, "the file ends inside its header")
	}
	if s.err == nil && s.mode == modeCollect {
		// A JPEG cut short after its header (a truncated file, or trailer
		// bytes that only looked like an image): what was held is written,
		// cleaned as a whole segment would be, so nothing is lost or leaked.
		if s.onCut != nil {
			s.onCut(s.buf)
		} else {
			s.emit(s.buf)
		}
	}
	if s.err != nil {
		return s.err
	}
	if s.out != nil {
		s.err = s.out.Flush()
	}
	return s.err
}

// --- steps -----------------------------------------------------------------

// collect asks for the next n bytes in one piece. The slice given to f is
// only valid until f schedules a step that consumes input, so f must be
// done with it first (it may emit it).
func (s *scanner) collect(n int, f func([]byte)) { s.collectOr(n, f, nil) }

// collectOr is collect, with cut to run instead of f on the bytes so far
// if the stream ends before n have come (only once a JPEG's header is
// done; anywhere else that is a malformed stream).
func (s *scanner) collectOr(n int, f, cut func([]byte)) {
	s.mode, s.want, s.buf, s.onFull, s.onCut = modeCollect, n, s.buf[:0], f, cut
	if n == 0 {
		s.onFull, s.onCut = nil, nil
		f(s.buf)
	}
}

// pass copies the next n bytes through (drops them when observing).
func (s *scanner) pass(n int64, then func()) { s.advance(modePass, n, then) }

// skip drops the next n bytes.
func (s *scanner) skip(n int64, then func()) { s.advance(modeSkip, n, then) }

func (s *scanner) advance(m scanMode, n int64, then func()) {
	s.mode, s.remain, s.then = m, n, then
	if n == 0 {
		s.then = nil
		then()
	}
}

// rest copies the remainder of the stream as is.
func (s *scanner) rest() { s.mode = modeRest }

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = errorf(ErrCorrupt, format, args...)
	}
}

func (s *scanner) emit(b []byte) {
	if s.out == nil || s.err != nil || len(b) == 0 {
		return
	}
	if _, err := s.out.Write(b); err != nil {
		s.err = err
	}
}

// keepExif stores the first EXIF block met when observing. It returns true
// when the scanner has nothing left to look for.
func (s *scanner) keepExif(b []byte) bool {
	if s.strip || s.exif != nil {
		return false
	}
	s.exif = bytes.Clone(trimExifPrefix(b))
	return true
}

// --- JPEG ------------------------------------------------------------------
//
// In strip mode the whole stream is followed: the primary image's segments,
// its entropy-coded data (scanned for markers, since a progressive JPEG has
// tables and metadata between its scans) and, after its EOI, a trailer that
// is copied through while watching for "FF D8 FF", the start of an appended
// image (an MPF preview or gain map, or any JPEG) whose segments are
// cleaned the same way. Nothing changes length: MPF locates the appended
// images by their offsets from the primary's APP2, so every byte after it
// must stay where it was.
//
// Every structural byte is written as soon as it is read; only the payload
// of a metadata segment (at most 64 KiB) is held, to be cleaned in place.

const (
	xmpID         = "http://ns.adobe.com/xap/1.0/\x00"
	xmpExtendedID = "http://ns.adobe.com/xmp/extension/\x00"
	photoshopID   = "Photoshop 3.0\x00" // APP13 image resource blocks, IPTC among them
)

// isRST reports whether m is a restart marker, which may appear inside
// entropy-coded data.
func isRST(m byte) bool { return m >= 0xD0 && m <= 0xD7 }

func (s *scanner) jpegStart() {
	s.collect(2, func(b []byte) {
		s.emit(b)
		if b[0] != 0xFF || b[1] != 0xD8 {
			s.fail("JPEG without SOI")
			return
		}
		s.jpegMarker()
	})
}

// jpegMarker reads the marker that must follow a segment.
func (s *scanner) jpegMarker() {
	s.collect(2, func(b []byte) {
		s.emit(b)
		if b[0] != 0xFF {
			// Not resynchronised in the primary image on purpose: a parser
			// that did could walk past an Exif segment without seeing it.
			s.malformed(b, "JPEG: expected a marker, found byte 0x%02X", b[0])
			return
		}
		s.jpegCode(b[1])
	})
}

// jpegCodeNext reads the code of a marker whose 0xFF has been read.
func (s *scanner) jpegCodeNext() {
	s.collect(1, func(b []byte) {
		s.emit(b)
		s.jpegCode(b[0])
	})
}

// jpegCode handles what follows the marker 0xFF m, which has been written.
func (s *scanner) jpegCode(m byte) {
	switch {
	case m == 0xFF: // fill byte before a marker (B.1.1.2)
		s.jpegCodeNext()
	case m == 0x00 || m == 0xD8:
		s.malformed([]byte{0xFF, m}, "JPEG: unexpected marker 0x%02X", m)
	case m == 0x01 || isRST(m): // TEM, RSTn: no length
		s.jpegMarker()
	case !s.strip && (m == 0xDA || m == 0xD9):
		// An observer has seen every header segment by the first scan.
		s.rest()
	case m == 0xD9: // EOI
		s.headerDone, s.trailing = true, true
		s.scanTrailer()
	default:
		if m == 0xDA { // SOS
			s.headerDone = true
		}
		s.collect(2, func(b []byte) {
			s.emit(b)
			l := int(b[0])<<8 | int(b[1])
			if l < 2 {
				s.malformed(b, "JPEG: segment 0x%02X with length %d", m, l)
				return
			}
			n := l - 2
			switch {
			case m == 0xDA: // the scan header, then its entropy-coded data
				s.pass(int64(n), s.scanEntropy)
			case m == 0xE1 && !s.strip:
				s.collect(n, func(p []byte) {
					if len(p) >= 6 && string(p[:5]) == exifPrefix && s.keepExif(p) {
						s.rest()
						return
					}
					s.jpegMarker()
				})
			case s.strip && (m == 0xE1 || m == 0xED): // APP1: Exif or XMP; APP13: Photoshop IRB / IPTC
				cleaned := func(p []byte) { s.emitMetadata(m, p) }
				s.collectOr(n, func(p []byte) {
					cleaned(p)
					s.jpegMarker()
				}, cleaned)
			default:
				s.pass(int64(n), s.jpegMarker)
			}
		})
	}
}

// emitMetadata writes the payload p of an APP1 or APP13 segment, whose
// marker and length are written, without location and at the same length.
func (s *scanner) emitMetadata(m byte, p []byte) {
	switch {
	case m == 0xED && (!s.trailing || bytes.HasPrefix(p, []byte(photoshopID))):
		// Photoshop IRB / IPTC names city and place. Zeroed whole, its
		// signature too, so readers take it for nothing they know. After
		// the primary image only a signed one is: "FF D8 FF ED" in other
		// appended data (a motion photo's video) must not cost it 64 KiB.
		clear(p)
	case len(p) >= 6 && string(p[:5]) == exifPrefix:
		clearGPS(p)
	case bytes.HasPrefix(p, []byte(xmpID)):
		// XMP repeats GPS and names places. An empty packet in its place
		// keeps readers that expect XMP here content.
		s.emit(p[:len(xmpID)])
		s.emitBlankXMP(int64(len(p) - len(xmpID)))
		return
	case bytes.HasPrefix(p, []byte(xmpExtendedID)):
		// A piece of a large XMP packet; zeroed, readers skip it.
		clear(p)
	}
	s.emit(p)
}

// malformed handles a fault in the JPEG structure. Before the primary
// image's first scan the stream is corrupt: its metadata could not be
// read. After it, the fault only ends the structure being followed and the
// trailer scan resumes: the filter must never refuse a photo the decoder
// would take (decoders skip stray bytes between scans), and the segments
// it might miss come after the pixels, where phones put none. b are the
// bytes that showed the fault (already written), at most 2; they may begin
// the next image ("FF D8").
func (s *scanner) malformed(b []byte, format string, args ...any) {
	if !s.headerDone {
		s.fail(format, args...)
		return
	}
	s.scanTrailer()
	_, s.soi = findSOI(0, b)
}

func (s *scanner) scanEntropy() { s.mode = modeEntropy }

func (s *scanner) scanTrailer() { s.mode, s.soi = modeTrailer, 0 }

// entropy copies entropy-coded data from p through, up to and including
// the next marker, and returns how many bytes it consumed. In this data an
// 0xFF is followed by 0x00 (a stuffed 0xFF), a restart marker or another
// 0xFF (fill); anything else is a marker and ends the scan.
func (s *scanner) entropy(p []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(p[i:], 0xFF)
		if j < 0 {
			s.emit(p)
			return len(p)
		}
		i += j + 1
		if i == len(p) {
			// The byte that says what this 0xFF is comes with the next Write.
			s.emit(p)
			s.collect(1, s.entropyFF)
			return len(p)
		}
		switch c := p[i]; {
		case c == 0x00 || isRST(c):
			i++
		case c == 0xFF: // fill: the next 0xFF is looked at in turn
		default:
			s.emit(p[:i+1])
			s.jpegCode(c)
			return i + 1
		}
	}
}

// entropyFF is entropy for the byte after an 0xFF that ended a Write.
func (s *scanner) entropyFF(b []byte) {
	s.emit(b)
	switch c := b[0]; {
	case c == 0x00 || isRST(c):
		s.scanEntropy()
	case c == 0xFF:
		s.collect(1, s.entropyFF)
	default:
		s.jpegCode(c)
	}
}

// trailer copies bytes after an EOI from p through, up to and including
// the first "FF D8 FF" (SOI and the 0xFF of the next marker), and returns
// how many it consumed. Appended images start there.
func (s *scanner) trailer(p []byte) int {
	end, k := findSOI(s.soi, p)
	if end < 0 {
		s.emit(p)
		s.soi = k
		return len(p)
	}
	s.emit(p[:end])
	s.jpegCodeNext()
	return end
}

// jpegStartBytes begin every JPEG: SOI and the 0xFF of its first marker.
const jpegStartBytes = "\xFF\xD8\xFF"

// findSOI looks for jpegStartBytes in p, given that the bytes before p
// ended with the first k of them. It returns the index just past the first
// match, or -1 and how many of jpegStartBytes p ends with.
func findSOI(k int, p []byte) (end, tail int) {
	for i := 0; i < len(p); {
		if k == 0 {
			j := bytes.IndexByte(p[i:], 0xFF)
			if j < 0 {
				return -1, 0
			}
			i, k = i+j+1, 1
			continue
		}
		switch {
		case p[i] == jpegStartBytes[k]:
			k++
			if k == len(jpegStartBytes) {
				return i + 1, 0
			}
		case p[i] == 0xFF: // "FF FF": the second 0xFF may begin it
			k = 1
		default:
			k = 0
		}
		i++
	}
	return -1, k
}

// --- PNG -------------------------------------------------------------------

const pngSignature = "\x89PNG\r\n\x1a\n"

// pngLocationKeywords are text chunk keywords whose payload is XMP, or
// EXIF/IPTC/XMP as ImageMagick's hex "raw profiles"; all may carry location.
var pngLocationKeywords = []string{
	"XML:com.adobe.xmp",
	"Raw profile type exif",
	"Raw profile type xmp",
	"Raw profile type iptc",
	"Raw profile type APP1",
}

func (s *scanner) pngStart() {
	s.collect(8, func(b []byte) {
		if string(b) != pngSignature {
			s.fail("PNG without signature")
			return
		}
		s.emit(b)
		s.pngChunk()
	})
}

func (s *scanner) pngChunk() {
	s.collect(8, func(b []byte) {
		n := be32(b[0:4])
		if n > 0x7FFFFFFF {
			s.fail("PNG: chunk length %d", n)
			return
		}
		hdr := [8]byte(b)
		typ := string(hdr[4:8])
		rest := int64(n) + 4 // data and CRC
		switch typ {
		case "eXIf":
			if s.strip {
				if n > maxExifChunk {
					s.skip(rest, s.pngChunk) // too big to clean: the whole chunk goes
					return
				}
				// Cleaned in place like a JPEG's Exif rather than dropped,
				// so the orientation (and the picture as viewers show it)
				// survives; only this chunk's CRC is recomputed.
				s.collect(int(n)+4, func(p []byte) {
					if clearGPS(p[:n]) > 0 {
						binary.BigEndian.PutUint32(p[n:], crc32.Update(crc32.ChecksumIEEE(hdr[4:8]), crc32.IEEETable, p[:n]))
					}
					s.emit(hdr[:])
					s.emit(p)
					s.pngChunk()
				})
				return
			}
			if s.exif == nil && n <= maxExifChunk {
				s.collect(int(n), func(p []byte) {
					if s.keepExif(p) {
						s.rest()
						return
					}
					s.skip(4, s.pngChunk)
				})
				return
			}
			s.skip(rest, s.pngChunk)
		case "tEXt", "zTXt", "iTXt":
			if !s.strip {
				s.skip(rest, s.pngChunk)
				return
			}
			k := min(int(n), maxTextKeyword)
			s.collect(k, func(p []byte) {
				kw := p
				if i := bytes.IndexByte(p, 0); i >= 0 {
					kw = p[:i]
				}
				for _, l := range pngLocationKeywords {
					if strings.EqualFold(string(kw), l) {
						s.skip(rest-int64(k), s.pngChunk)
						return
					}
				}
				s.emit(hdr[:])
				s.emit(p)
				s.pass(rest-int64(k), s.pngChunk)
			})
		case "IEND":
			s.emit(hdr[:])
			s.pass(rest, s.rest)
		default:
			s.emit(hdr[:])
			s.pass(rest, s.pngChunk)
		}
	})
}

// --- WebP ------------------------------------------------------------------

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (s *scanner) webpStart() {
	s.collect(12, func(b []byte) {
		if string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
			s.fail("WebP without RIFF header")
			return
		}
		size := le32(b[4:8])
		if size < 4 {
			s.fail("WebP: RIFF size %d", size)
			return
		}
		s.emit(b)
		s.riffLeft = int64(size) - 4
		s.webpChunk()
	})
}

func (s *scanner) webpChunk() {
	if s.riffLeft == 0 {
		s.rest() // anything after the RIFF is copied as is
		return
	}
	if s.riffLeft < 8 {
		s.fail("WebP: %d stray bytes at the end of the RIFF", s.riffLeft)
		return
	}
	s.collect(8, func(b []byte) {
		hdr := [8]byte(b)
		n := int64(le32(hdr[4:8]))
		pad := n & 1
		if 8+n+pad > s.riffLeft {
			s.fail("WebP: chunk %q overruns the RIFF", hdr[0:4])
			return
		}
		s.riffLeft -= 8 + n + pad
		next := func() { s.pass(pad, s.webpChunk) }
		switch string(hdr[0:4]) {
		case "EXIF":
			if n > maxExifChunk {
				if s.strip {
					s.fail("WebP: EXIF chunk of %d bytes is too large to clean", n)
					return
				}
				s.skip(n+pad, s.webpChunk)
				return
			}
			s.collect(int(n), func(p []byte) {
				if !s.strip {
					if s.keepExif(p) {
						s.rest()
						return
					}
				} else {
					clearGPS(p)
					s.emit(hdr[:])
					s.emit(p)
				}
				next()
			})
		case "XMP ":
			if !s.strip {
				s.skip(n+pad, s.webpChunk)
				return
			}
			// Same length, so the RIFF and chunk sizes stay right.
			s.emit(hdr[:])
			s.emitBlankXMP(n)
			s.skip(n, next)
		default:
			s.emit(hdr[:])
			s.pass(n+pad, s.webpChunk)
		}
	})
}

// An empty but valid XMP packet, in its full form and bare.
const (
	xmpPacketHead = "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>" +
		"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>"
	xmpPacketTail = "<?xpacket end=\"w\"?>"
	xmpBare       = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>"
)

var spaces = bytes.Repeat([]byte{' '}, 512)

// emitBlankXMP writes exactly n bytes: an empty XMP packet padded with
// spaces where XMP puts its padding (before the closing processing
// instruction), or as much of one as fits.
func (s *scanner) emitBlankXMP(n int64) {
	head, tail := "", ""
	switch {
	case n >= int64(len(xmpPacketHead)+len(xmpPacketTail)):
		head, tail = xmpPacketHead, xmpPacketTail
	case n >= int64(len(xmpBare)):
		head = xmpBare
	}
	s.emit([]byte(head))
	for pad := n - int64(len(head)+len(tail)); pad > 0; {
		k := min(pad, int64(len(spaces)))
		s.emit(spaces[:k])
		pad -= k
	}
	s.emit([]byte(tail))
}
