package photo

import (
	"encoding/binary"
	"image"
	"image/color"
	"math"
	"runtime"
)

// bytesPerAllowedPixel turns the pixel limit into a memory budget for one
// Process call: the decoded image (memory.decoded), and apart from it the
// resize (memory.process), may each take at most this many bytes per
// allowed pixel, as if every allowed pixel were 8-bit RGBA. Apart, because
// an image at the pixel limit may fill the one, and a small image may need
// more for its resize than for its own pixels. The pixel count alone does
// not bound memory: a 772 KB PNG of 10000×10000 16-bit RGBA is within 100
// megapixels yet decodes into 800 MB, a progressive JPEG keeps 4 bytes of
// coefficients per sample besides its pixels, and a WebP whose alpha is
// VP8L-compressed is decoded through a full NRGBA image first (~9 bytes
// per pixel). 4 bytes per pixel still admits every ordinary photo: a 48 MP
// progressive 4:2:0 JPEG decodes into 7.5 bytes per pixel, 360 MB, under
// the default 400 MB.
const bytesPerAllowedPixel = 4

// memory is what one Process call allocates for an image, in bytes, as
// worked out from its header, split by who allocates it; Info.Cost is the
// total. It counts every allocation, not the peak of live memory: what a
// decoder drops early (a PNG's Adam7 passes, the NRGBA a VP8L alpha plane
// is decoded into, the resize's intermediates) is only freed by the
// garbage collector's next cycle, so it weighs on the heap all the same.
//
// Per pixel, the decoders' figures (decoded + decoder) next to what they
// allocated for a 3000×2000 image (runtime.MemStats.TotalAlloc):
//
//	                       estimate   measured
//	JPEG baseline 4:2:0       1.50       1.51   1 byte per sample, in whole MCUs
//	     4:2:2 / 4:4:4    2.01/3.00  2.01/3.00
//	     grey                 1.00       1.00
//	JPEG progressive 4:2:0    7.52       7.53   + a [64]int32 per 8×8 samples
//	     4:4:4 / grey    15.00/5.00 15.01/5.00
//	JPEG CMYK (YCCK 4:2:0)    8.00 (6.51) 8.01 (6.51)  4 planes + a CMYK copy
//	     progressive         24.00      24.01
//	JPEG RGB (Adobe or ids)   7.00       7.00   3 planes + an RGBA copy
//	PNG grey, paletted        1.00       1.01   the image type; 2 rows
//	    grey + tRNS           4.00       4.01   (NRGBA; 16-bit: NRGBA64, 8)
//	    RGB(A) / 16-bit   4.00/8.01  4.01/8.02
//	    Adam7 RGBA 8/16  8.01/16.02 8.02/16.04  one image per pass besides
//	GIF                       1.00       1.01   (+4 for onCanvas's NRGBA when
//	    interlaced            2.00       2.01    the frame is not the screen)
//	WebP VP8                  1.54       1.55   4:2:0 macroblocks + the data
//	WebP VP8L                 6.76  4.00-6.51   transforms unknown: the most
//	WebP VP8X ALPH raw        2.54       2.55   alpha plane + VP8
//	     ALPH VP8L            9.30  6.55-9.05   VP8L + alpha copy + VP8
//
// Process's resize (memory.process) comes on top: 0.74 bytes per pixel for
// that YCbCr image, 2.12 for the others, 6.12 for NYCbCrA and CMYK (see
// imageKind), and ~4 for a grey or RGBA image just twice the thumbnail's
// size (resizeCost).
type memory struct {
	// decoded is the decoder's per-pixel arrays at the image's own size:
	// the image, coefficients, interlace passes, packed or converted copies.
	decoded int64
	// decoder is the rest the decoder allocates that grows with the image
	// or the file: planes rounded up to whole blocks, rows, transform
	// images, compressed data held in memory. (The header bytes Process
	// keeps for replay are left out: they are bounded by MaxHeaderBytes,
	// allocated before the cost is known, and their count depends on how
	// the stream happened to arrive, which the cost must not.)
	decoder int64
	// process is what Process allocates after decoding: the GIF canvas,
	// the resize's intermediates and the thumbnail. (Orienting and
	// encoding the thumbnail come after Admit's release: at most one more
	// copy of it, 0.6 MB at 400 px.)
	process int64
}

func (m memory) total() int64 { return m.decoded + m.decoder + m.process }

// decodeCost estimates the bytes of the arrays the standard decoders
// allocate per pixel for an image with this header (memory.decoded).
// header holds the stream's first bytes; where they do not show what the
// cost depends on (or are nil), the colour model decides.
func decodeCost(f Format, cfg image.Config, header []byte) int64 {
	return estimate(f, cfg, fixedHeader(header), 0).decoded
}

// imageKind is what the resize does with the decoded image.
type imageKind int

const (
	// kindPlain: imaging converts it row by row (Gray, Paletted, RGBA,
	// NRGBA and their 16-bit forms).
	kindPlain imageKind = iota
	// kindYCbCr: box-averaged in place (boxReduceYCbCr).
	kindYCbCr
	// kindBoxed: imaging reads an *image.NYCbCrA or *image.CMYK through
	// At, boxing each pixel's colour: 4 bytes of garbage per pixel (16
	// under the race detector, which turns off the tiny allocator).
	kindBoxed
)

// estimate works out the memory for a Process call from the header, read
// through h, which may read further into the stream: up to a JPEG's first
// scan, a PNG's first IDAT, a GIF's first image descriptor, or a WebP's
// ALPH or image chunk. thumbSize 0 leaves out Process's resize.
func estimate(f Format, cfg image.Config, h header, thumbSize int) memory {
	return estimateScaled(f, cfg, h, thumbSize, 1)
}

// estimateScaled is estimate for a JPEG decoded at 1/scale of its size
// (jpegscale.DecodeScaled); other formats ignore scale.
func estimateScaled(f Format, cfg image.Config, h header, thumbSize, scale int) memory {
	w, ht := cfg.Width, cfg.Height
	var (
		m    memory
		kind = kindPlain
		ok   bool
	)
	switch f {
	case JPEG:
		m, kind, ok = jpegMemory(w, ht, h, scale)
		// What is resized is the scaled picture.
		w, ht = ceilDivInt(w, scale), ceilDivInt(ht, scale)
	case PNG:
		m, ok = pngMemory(w, ht, h)
	case GIF:
		m, ok = gifMemory(w, ht, h)
	case WebP:
		m, kind, ok = webpMemory(w, ht, h)
	}
	if !ok {
		m = memory{decoded: int64(w) * int64(ht) * bytesPerPixel(cfg.ColorModel)}
		switch cfg.ColorModel {
		case color.YCbCrModel:
			kind = kindYCbCr
		case color.NYCbCrAModel, color.CMYKModel:
			kind = kindBoxed
		}
	}
	if thumbSize > 0 {
		m.process += resizeCost(w, ht, thumbSize, kind)
	}
	return m
}

// bytesPerPixel is the size of one pixel in the image type a decoder
// returns for this colour model; unknown models count as the widest.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at most; subsampled chroma is less
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// --- JPEG ----------------------------------------------------------------------

// jpegMemory follows image/jpeg, and jpegscale at 1/scale: the samples of
// each component in whole MCUs (makeImg), for a progressive frame a
// [64]int32 block per 8×8 samples (progCoeffs, at full size whatever the
// scale: every coefficient is kept until the last scan), for 4 components
// the black plane and a CMYK or RGBA copy of the whole image
// (applyBlack), and for an RGB image an RGBA copy (convertToRGB).
//
// At a reduced scale each 8×8 block becomes 8/scale pixels a side, but a
// subsampled component's blocks shrink less, up to none (jpegscale keeps
// chroma at least at the luma's new resolution), so the planes are
// counted per component as the decoder sizes them.
func jpegMemory(w, h int, hd header, scale int) (m memory, kind imageKind, ok bool) {
	j, ok := readJPEGFrame(hd)
	if !ok {
		return m, kindPlain, false
	}
	sof := j.sof
	n := int(sof[5])
	if n != 1 && n != 3 && n != 4 || len(sof) < 6+3*n {
		return m, kindPlain, false
	}
	var hmax, vmax, samples int64 = 1, 1, 0
	for i := range n {
		s := sof[6+3*i+1]
		hi, vi := int64(s>>4), int64(s&0x0f)
		if n == 1 { // one component is never subsampled (see processSOF)
			hi, vi = 1, 1
		}
		hmax, vmax = max(hmax, hi), max(vmax, vi)
		samples += hi * vi
	}
	// The planes the decoder allocates cover whole MCUs of 8·hmax × 8·vmax
	// pixels; at 1/scale, component i's blocks are bw × bh samples.
	mcus := ceilDiv(int64(w), 8*hmax) * ceilDiv(int64(h), 8*vmax)
	bs := int64(8 / scale)
	h0, v0 := int64(sof[6+1]>>4), int64(sof[6+1]&0x0f)
	if n == 1 {
		h0, v0 = 1, 1
	}
	var planes int64
	for i := range n {
		s := sof[6+3*i+1]
		hi, vi := int64(s>>4), int64(s&0x0f)
		if n == 1 {
			hi, vi = 1, 1
		}
		bw, bh := min(8, bs*h0/max(hi, 1)), min(8, bs*v0/max(vi, 1))
		planes += bw * hi * bh * vi
	}
	m.decoded = mcus * planes
	if j.progressive {
		m.decoded += 4 * 64 * mcus * samples
	}
	px := int64(ceilDivInt(w, scale)) * int64(ceilDivInt(h, scale))
	kind = kindPlain // *image.Gray, *image.RGBA
	switch {
	case n == 4:
		m.decoded += 4 * px // *image.CMYK
		kind = kindBoxed
	case n == 3 && j.isRGB():
		m.decoded += 4 * px
	case n == 3:
		kind = kindYCbCr
	}
	return m, kind, true
}

// jpegFrame is what the cost depends on from the segments up to the
// first scan.
type jpegFrame struct {
	sof         []byte // frame header payload
	progressive bool
	jfif        bool // the last APP0 was JFIF
	adobe       bool // an Adobe APP14 was seen
	transform   byte // its colour transform
}

// isRGB is image/jpeg's rule for a 3-component image stored as RGB. The
// decoder applies it with the markers it has seen by the end of the image,
// so an APP0 or APP14 after the first scan (legal, but written by no
// encoder) could still change it.
func (j jpegFrame) isRGB() bool {
	if j.jfif {
		return false
	}
	if j.adobe && j.transform == 0 {
		return true
	}
	return len(j.sof) >= 15 && j.sof[6] == 'R' && j.sof[9] == 'G' && j.sof[12] == 'B'
}

// readJPEGFrame walks the marker segments up to the first SOS the way
// image/jpeg does (skipping extraneous bytes and fill bytes), and reports
// false if it finds no frame header.
func readJPEGFrame(hd header) (j jpegFrame, ok bool) {
	if b := hd.at(0, 2); b == nil || b[0] != 0xFF || b[1] != 0xD8 {
		return j, false
	}
	for off := 2; ; {
		b := hd.at(off, 2)
		if b == nil {
			return j, j.sof != nil
		}
		if b[0] != 0xFF { // extraneous data: the decoder skips it
			off++
			continue
		}
		off += 2
		m := b[1]
		if m == 0 {
			continue
		}
		for m == 0xFF {
			c := hd.at(off, 1)
			if c == nil {
				return j, j.sof != nil
			}
			m = c[0]
			off++
		}
		if m == 0xD9 { // EOI
			return j, j.sof != nil
		}
		if 0xD0 <= m && m <= 0xD7 { // RSTn: no length
			continue
		}
		l := hd.at(off, 2)
		if l == nil {
			return j, j.sof != nil
		}
		n := int(binary.BigEndian.Uint16(l)) - 2
		if n < 0 {
			return j, j.sof != nil
		}
		switch m {
		case 0xC0, 0xC1, 0xC2:
			if j.sof != nil {
				return j, true // the decoder refuses a second SOF
			}
			j.sof = hd.at(off+2, n)
			if len(j.sof) < 6 {
				return j, false
			}
			j.progressive = m == 0xC2
		case 0xDA:
			return j, j.sof != nil
		case 0xE0:
			if n >= 5 {
				p := hd.at(off+2, 5)
				if p == nil {
					return j, j.sof != nil
				}
				j.jfif = string(p) == "JFIF\x00"
			}
		case 0xEE:
			if n >= 12 {
				p := hd.at(off+2, 12)
				if p == nil {
					return j, j.sof != nil
				}
				if string(p[:5]) == "Adobe" {
					j.adobe, j.transform = true, p[11]
				}
			}
		}
		off += 2 + n
	}
}

// --- PNG -----------------------------------------------------------------------

// pngMemory follows image/png: the image type of the colour type and
// depth (a tRNS chunk turns grey and RGB into NRGBA or NRGBA64), two rows
// of filtered bytes, and for Adam7 an image of each pass besides the
// full-size one (readImagePass), i.e. the pixels twice.
func pngMemory(w, h int, hd header) (m memory, ok bool) {
	ihdr := hd.at(8, 8+13)
	if ihdr == nil || string(ihdr[4:8]) != "IHDR" {
		return m, false
	}
	depth, ctype, interlaced := int64(ihdr[16]), ihdr[17], ihdr[20] == 1
	trns := false
	for off := 8; ; {
		c := hd.at(off, 8)
		if c == nil {
			return m, false
		}
		n := binary.BigEndian.Uint32(c)
		if n > 0x7fffffff {
			return m, false
		}
		typ := string(c[4:8])
		if typ == "IDAT" {
			break
		}
		if typ == "tRNS" {
			trns = true
		}
		off += 12 + int(n)
	}
	// Bits per pixel in the stream; bytes per pixel of the image type:
	// Gray, Gray16, Paletted, or (N)RGBA and (N)RGBA64.
	var bits, size int64
	wide := int64(1)
	if depth == 16 {
		wide = 2
	}
	switch ctype {
	case 0:
		bits, size = depth, wide
		if trns {
			size = 4 * wide
		}
	case 2:
		bits, size = 3*depth, 4*wide
	case 3:
		bits, size = depth, 1
	case 4:
		bits, size = 2*depth, 4*wide
	case 6:
		bits, size = 4*depth, 4*wide
	default:
		return m, false
	}
	W, H := int64(w), int64(h)
	m.decoded = W * H * size
	rows := func(pw int64) int64 { return 2 * (1 + (bits*pw+7)/8) } // cr, pr
	if !interlaced {
		m.decoder = rows(W)
		return m, true
	}
	m.decoded *= 2
	for _, p := range adam7 {
		pw := (W - p[0] + p[2] - 1) / p[2]
		ph := (H - p[1] + p[3] - 1) / p[3]
		if pw > 0 && ph > 0 {
			m.decoder += rows(pw)
		}
	}
	return m, true
}

// adam7 is each pass's x offset, y offset, x step and y step.
var adam7 = [7][4]int64{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}

// --- GIF -----------------------------------------------------------------------

// gifMemory follows image/gif for the first frame: a paletted image of the
// frame's size, a second one to undo interlacing (uninterlace), and
// onCanvas's NRGBA of the whole logical screen when the frame does not
// cover it exactly.
func gifMemory(w, h int, hd header) (m memory, ok bool) {
	lsd := hd.at(6, 7)
	if lsd == nil {
		return m, false
	}
	off := 13
	if lsd[4]&0x80 != 0 {
		off += 3 << (lsd[4]&7 + 1)
	}
	for {
		b := hd.at(off, 1)
		if b == nil {
			return m, false
		}
		switch b[0] {
		case 0x21: // extension: label, then sub-blocks up to an empty one
			off += 2
			for {
				n := hd.at(off, 1)
				if n == nil {
					return m, false
				}
				off += 1 + int(n[0])
				if n[0] == 0 {
					break
				}
			}
		case 0x2C:
			d := hd.at(off+1, 9)
			if d == nil {
				return m, false
			}
			left, top := int64(binary.LittleEndian.Uint16(d)), int64(binary.LittleEndian.Uint16(d[2:]))
			fw, fh := int64(binary.LittleEndian.Uint16(d[4:])), int64(binary.LittleEndian.Uint16(d[6:]))
			m.decoded = fw * fh
			if d[8]&0x40 != 0 {
				m.decoded *= 2
			}
			if left != 0 || top != 0 || fw != int64(w) || fh != int64(h) {
				m.process = 4 * int64(w) * int64(h)
			}
			return m, true
		default:
			return m, false
		}
	}
}

// --- WebP ----------------------------------------------------------------------

// vp8MaxData is the most compressed data the vp8 decoder reads into memory
// for one frame: the first partition (19-bit length) and up to 8 token
// partitions of less than 16 MiB each (parseOtherPartitions).
const vp8MaxData = 1<<19 + 8<<24

// webpMemory follows golang.org/x/image/webp for a simple lossy (VP8) or
// lossless (VP8L) file, and for an extended one (VP8X) walks its chunks to
// the ALPH or image chunk.
func webpMemory(w, h int, hd header) (m memory, kind imageKind, ok bool) {
	c := hd.at(12, 8)
	if c == nil {
		return m, kindPlain, false
	}
	switch string(c[:4]) {
	case "VP8 ":
		return vp8Memory(w, h, int64(binary.LittleEndian.Uint32(c[4:]))), kindYCbCr, true
	case "VP8L":
		return vp8lMemory(w, h), kindPlain, true
	case "VP8X":
	default:
		return m, kindPlain, false
	}
	riffEnd := int64(8)
	if r := hd.at(4, 4); r != nil {
		riffEnd += int64(binary.LittleEndian.Uint32(r))
	}
	for off := int64(30); ; {
		c := hd.at(int(off), 8)
		if c == nil {
			return m, kindPlain, false
		}
		n := int64(binary.LittleEndian.Uint32(c[4:]))
		switch string(c[:4]) {
		case "ALPH":
			b := hd.at(int(off)+8, 1)
			if b == nil {
				return m, kindPlain, false
			}
			px := int64(w) * int64(h)
			m.decoded = px // the alpha plane
			if b[0]&0x03 == 1 {
				// The plane is decoded as a VP8L image first, and its
				// green values copied out (readAlpha).
				a := vp8lMemory(w, h)
				m.decoded += a.decoded
				m.decoder += a.decoder
			}
			// The VP8 chunk comes after this one; its size is bounded by
			// what the RIFF header says is left.
			rest := riffEnd - (off + 8 + n + n&1) - 8
			v := vp8Memory(w, h, max(0, rest))
			m.decoded += v.decoded
			m.decoder += v.decoder
			return m, kindBoxed, true // *image.NYCbCrA
		case "VP8 ":
			return vp8Memory(w, h, n), kindYCbCr, true
		case "VP8L":
			return vp8lMemory(w, h), kindPlain, true
		}
		off += 8 + n + n&1
	}
}

// vp8Memory follows golang.org/x/image/vp8: a 4:2:0 image in whole 16×16
// macroblocks, 4 bytes of filter parameters per macroblock, and the
// frame's compressed data, which DecodeFrame reads whole before decoding
// (data bytes are in the chunk, of which it holds at most vp8MaxData).
func vp8Memory(w, h int, data int64) memory {
	W, H := int64(w), int64(h)
	mbs := ceilDiv(W, 16) * ceilDiv(H, 16)
	nominal := W*H + 2*ceilDiv(W, 2)*ceilDiv(H, 2)
	return memory{
		decoded: nominal,
		decoder: 384*mbs - nominal + 4*mbs + min(data, vp8MaxData),
	}
}

// vp8lMemory follows golang.org/x/image/vp8l, whose cost the header does
// not tell: the transforms and entropy images come inside the compressed
// bit stream. So it is the most they can take: the NRGBA result, a packed
// copy half as wide when a colour-indexing transform with 5 to 16 colours
// packs 2 pixels per entry (inverseColorIndexing then expands it into the
// result), and the predictor, cross-colour and Huffman meta images at
// their finest tiles (4×4 pixels, 4 bytes each). Measured (cwebp 1.2.4,
// -lossless, 1800×1200 photo): 4.2 bytes per pixel.
//
// Not counted: the Huffman tables. The meta image can select up to 2600
// groups of 5 tables (the decoder's maxHuffImageSize), each up to ~53 KB
// held and ~25 KB more of code-length arrays dropped with a full colour
// cache, so a crafted file of about a megabyte can add ~140 MB (~200 MB
// allocated) whatever its pixel count (worked out from the source, not
// measured); encoders use few (cwebp: 0.1-0.3 bytes per pixel for tables
// and transforms together), and charging the maximum would cost every
// lossless image 200 MB.
func vp8lMemory(w, h int) memory {
	W, H := int64(w), int64(h)
	// A colour cache of up to 11 bits in each of the 5 entropy-coded
	// images, and the 256-entry palette.
	const tables = 5*4<<11 + 4*256
	return memory{
		decoded: 4*W*H + 4*ceilDiv(W, 2)*H,
		decoder: 3*4*ceilDiv(W, 4)*ceilDiv(H, 4) + tables,
	}
}

// --- resize --------------------------------------------------------------------

// resizeCost follows resizeWith: a box pre-reduction (boxReduceYCbCr, or
// imaging's Box filter for other types), then imaging's Lanczos to the
// thumbnail, or a copy (imaging.Clone) of an image no larger than it; a
// YCbCr image that needs no pre-reduction is resampled plane by plane
// instead (resizeYCbCrCost).
// imaging allocates per pass an NRGBA of the pass's result, a table of
// weights (16 bytes per source pixel the kernel spans, per destination
// row or column: for Lanczos 96 bytes per source pixel, which a very wide
// and very flat image pays in full), a channel of row or column indexes,
// and one scan line per worker.
func resizeCost(w, h, size int, kind imageKind) int64 {
	W, H := int64(w), int64(h)
	tw, th := thumbSize(w, h, size)
	var c int64
	if kind == kindBoxed { // every source pixel is read once through At
		c += 4 * W * H
	}
	if tw == w && th == h {
		return c + 4*W*H + 8*H
	}
	if k := min(w/(2*tw), h/(2*th)); k >= 2 {
		ow, oh := ceilDiv(W, int64(k)), ceilDiv(H, int64(k))
		if kind == kindYCbCr {
			procs := min(int64(runtime.GOMAXPROCS(0)), oh)
			c += 4*ow*oh + 8*W + procs*3*4*ow
		} else {
			c += imagingResizeCost(W, H, ow, oh, 0.5)
		}
		W, H = ow, oh
	} else if kind == kindYCbCr {
		procs := min(int64(runtime.GOMAXPROCS(0)), int64(th))
		return c + resizeYCbCrCost(W, H, int64(tw), int64(th), procs, 3)
	}
	return c + imagingResizeCost(W, H, int64(tw), int64(th), 3)
}

// imagingResizeCost is what imaging.Resize allocates from sw×sh to dw×dh
// with a filter of this support (Box 0.5, Lanczos 3).
func imagingResizeCost(sw, sh, dw, dh int64, support float64) int64 {
	procs := int64(runtime.GOMAXPROCS(0))
	horizontal := 4*dw*sh + weightsCost(dw, sw, support) + 8*sh + min(procs, sh)*4*sw
	vertical := func(w int64) int64 {
		return 4*w*dh + weightsCost(dh, sh, support) + 8*w + min(procs, w)*4*sh
	}
	switch {
	case sw != dw && sh != dh:
		return horizontal + vertical(dw)
	case sw != dw:
		return horizontal
	case sh != dh:
		return vertical(sw)
	}
	return 4*sw*sh + 8*sh
}

// weightsCost is imaging's precomputeWeights: a slice header per
// destination pixel and room for (ceil(scale·support)+2)·2 weights of 16
// bytes each.
func weightsCost(dst, src int64, support float64) int64 {
	scale := max(float64(src)/float64(dst), 1)
	ru := int64(math.Ceil(scale * support))
	return 24*dst + 16*dst*(ru+2)*2
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func ceilDivInt(a, b int) int { return (a + b - 1) / b }

// --- reading the header ---------------------------------------------------------

// header is the start of the stream, for the cost model to read.
type header interface {
	// at returns the n bytes at off, or nil if the stream does not have
	// them (or may not be read that far).
	at(off, n int) []byte
}

// fixedHeader is a header of the bytes given, and no more.
type fixedHeader []byte

func (h fixedHeader) at(off, n int) []byte {
	if off < 0 || n < 0 || off+n > len(h) {
		return nil
	}
	return h[off : off+n]
}

// --- HEIC ----------------------------------------------------------------------

// heicMemory is what decoding a HEIC file allocates with the WebAssembly
// decoder, in the worker process that runs it (heicworker.go) and in this
// one (the file, read whole, and the image the worker sends back) added
// up: both are this machine's memory. The decoder's linear memory is a
// Go slice that grows by append as libheif and libde265 ask for more, so
// every step of its growth is counted, the garbage of the steps before
// included (~3.6 times the final 52 MB for IMG_5195.HEIC), and the image
// it returns is a view of that memory, which stays live until the resize
// is done. libheif holds the file, its own copy of the image and, in
// libde265, the picture being decoded with its per-block state; a grid
// decodes one tile at a time; a rotation ('irot') makes one more copy, a
// mirror ('imir') none. Measured (runtime.MemStats.TotalAlloc over one
// Process call with a rendition, in both processes,
// TestHEICCostMatchesAllocation), in bytes per pixel of the primary image:
//
//	                       estimate  measured
//	one image, 4:2:0          36.7    27.5-33.0  (0.3, 1.5 and 12 MP)
//	           4:2:2          38.7    31.6
//	           4:4:4          56.7    50.1
//	           grey           28.1    22.7
//	      10-bit 4:2:0        61.9    54.0
//	      with alpha          58.7    43.0-55.0
//	grid of 512×512 4:2:0     28.5    23.3       (IMG_5195.HEIC)
//	      turned by irot      37.5    31.1
//
// plus 8 bytes per byte of the file: the decoder reads it whole (io.ReadAll
// grows its buffer the same way) and copies it into its memory. The
// system libheif, when gen2brain/heic uses one, allocates in C instead:
// ~1.75 bytes per pixel in Go, and ~50 MB of resident memory for that
// photo, so the same estimate holds it from above.
func heicMemory(f *heifFile, thumbSize int, display bool) memory {
	p := f.primary
	tiles := p.typ == "grid"
	c := f.coded[0].hevc // every coded image of the primary has one (check)
	// samples per pixel of the image returned, and the measured total per
	// pixel for one coded image of that chroma format.
	samples, perPixel := 1.5, 36.0
	switch c.chroma {
	case 0:
		samples, perPixel = 1, 26
	case 2:
		samples, perPixel = 2, 38
	case 3:
		samples, perPixel = 3, 56
	}
	if tiles {
		perPixel *= 0.75 // libde265's state is a tile's, not the image's
	}
	if c.bitDepth > 8 {
		perPixel *= 1.7 // 16-bit samples until the conversion to 8 bits
	}
	if p.rot != 0 {
		perPixel += 6 * samples
	}
	if f.alpha != nil {
		perPixel += 22 * float64(f.alpha.w) * float64(f.alpha.h) / (float64(p.w) * float64(p.h))
	}
	px := int64(p.w) * int64(p.h)
	var m memory
	m.decoded = int64(samples * float64(px))
	m.decoder = max(0, int64(perPixel*float64(px))-m.decoded) + 8*f.dataEnd
	kind := kindYCbCr
	if c.chroma == 0 {
		kind = kindPlain // *image.Gray
	}
	m.process = resizeCost(f.width, f.height, thumbSize, kind)
	if display && (f.width > DisplaySize || f.height > DisplaySize) {
		m.process += resizeCost(f.width, f.height, DisplaySize, kind)
	}
	return m
}
