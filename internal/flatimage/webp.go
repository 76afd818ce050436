package flatimage

import (
	"encoding/binary"
	"fmt"
)

// VP8 is the payload of a VP8 chunk: a key frame of w x h (1 to 16383
// each) whose partitions are all zero bytes. A boolean decoder reading
// zeros reads every bit as 0, whatever its probability: no segmentation,
// no loop filter, one token partition, no probability updates, no skip
// flags, every macroblock B_PRED with every subblock B_DC_PRED, and every
// block's first token end-of-block. Zeros enough for that cost less than a
// byte per macroblock in each partition; 2 and 4 leave room.
//
// It panics if a side is out of range.
func VP8(w, h int) []byte {
	if w < 1 || h < 1 || w > 1<<14-1 || h > 1<<14-1 {
		panic(fmt.Sprintf("flatimage: VP8 frame of %dx%d: each side must be 1 to 16383", w, h))
	}
	mbs := ((w + 15) / 16) * ((h + 15) / 16)
	first := 64 + 2*mbs
	tag := uint32(0) | 1<<4 | uint32(first)<<5 // key frame, version 0, shown
	b := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), 0x9d, 0x01, 0x2a,
		byte(w), byte(w >> 8 & 0x3f), byte(h), byte(h >> 8 & 0x3f)}
	return append(b, make([]byte, first+64+4*mbs)...)
}

// lsbWriter writes the least significant bit first, as VP8L reads.
type lsbWriter struct {
	b   []byte
	acc uint64
	n   uint
}

func (w *lsbWriter) put(v uint32, n uint) {
	w.acc |= uint64(v) << w.n
	w.n += n
	for w.n >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// bytes ends the stream; the zeros after it let the decoder's look-up
// table path read ahead.
func (w *lsbWriter) bytes() []byte {
	if w.n > 0 {
		w.b = append(w.b, byte(w.acc))
	}
	return append(w.b, 0, 0, 0, 0)
}

// VP8LTransformKind is the kind of a VP8L transform, as the bit stream
// numbers it.
type VP8LTransformKind int

// The VP8L transforms.
const (
	VP8LPredictor     VP8LTransformKind = 0 // predictor, tiles of 1<<Bits pixels, every tile's mode 0
	VP8LCrossColor    VP8LTransformKind = 1 // cross-colour, tiles of 1<<Bits pixels, every multiplier 0
	VP8LSubtractGreen VP8LTransformKind = 2 // subtract green
	VP8LColorIndexing VP8LTransformKind = 3 // colour indexing with a palette of Colors entries
)

// VP8LTransform is one VP8L transform of VP8L: predictor or cross-colour
// with tiles of 1<<Bits pixels (Bits 2 to 9), subtract green, or colour
// indexing with a palette of Colors entries (1 to 256).
type VP8LTransform struct {
	// Kind is which transform.
	Kind VP8LTransformKind
	// Bits is the log2 of the tile side of a predictor or cross-colour
	// transform.
	Bits uint
	// Colors is the number of palette entries of a colour-indexing
	// transform; every entry's delta from the one before is the image's
	// colour.
	Colors int
}

// VP8L is a VP8L bit stream of a flat w x h image (1 to 16384 each) of
// colour argb, in the order alpha, red, green, blue (in an ALPH chunk,
// green carries the alpha value), with these transforms in this order;
// header adds the 5-byte VP8L header (a VP8L chunk has it, an ALPH chunk
// does not). Every entropy-coded image uses single-symbol Huffman codes,
// which take no bits per pixel. It is the image before the transforms are
// undone that is flat: with a predictor transform, say, the decoded pixels
// are not.
//
// It panics if a side or a transform's parameter is out of range.
func VP8L(w, h int, header bool, argb [4]byte, transforms ...VP8LTransform) []byte {
	if w < 1 || h < 1 || w > 1<<14 || h > 1<<14 {
		panic(fmt.Sprintf("flatimage: VP8L image of %dx%d: each side must be 1 to 16384", w, h))
	}
	var bw lsbWriter
	if header {
		bw.put(0x2f, 8)
		bw.put(uint32(w-1), 14)
		bw.put(uint32(h-1), 14)
		bw.put(0, 1) // alpha hint
		bw.put(0, 3) // version
	}
	// A code of one symbol: the "simple" form with one 8-bit symbol.
	code := func(sym byte) {
		bw.put(1, 1)
		bw.put(0, 1)
		bw.put(1, 1)
		bw.put(uint32(sym), 8)
	}
	codes := func(a, r, g, b byte) {
		code(g)
		code(r)
		code(b)
		code(a)
		code(0) // distance
	}
	subImage := func(a, r, g, b byte) {
		bw.put(0, 1) // no colour cache
		codes(a, r, g, b)
	}
	for _, t := range transforms {
		bw.put(1, 1)
		bw.put(uint32(t.Kind), 2)
		switch t.Kind {
		case VP8LPredictor, VP8LCrossColor:
			if t.Bits < 2 || t.Bits > 9 {
				panic(fmt.Sprintf("flatimage: VP8L transform %d with tiles of 1<<%d pixels", t.Kind, t.Bits))
			}
			bw.put(uint32(t.Bits-2), 3)
			subImage(0, 0, 0, 0) // predictor 0, no cross-colour
		case VP8LSubtractGreen:
		case VP8LColorIndexing:
			if t.Colors < 1 || t.Colors > 256 {
				panic(fmt.Sprintf("flatimage: VP8L palette of %d colours", t.Colors))
			}
			bw.put(uint32(t.Colors-1), 8)
			subImage(argb[0], argb[1], argb[2], argb[3]) // entries are deltas
		default:
			panic(fmt.Sprintf("flatimage: no VP8L transform %d", t.Kind))
		}
	}
	bw.put(0, 1) // no more transforms
	bw.put(0, 1) // no colour cache
	bw.put(0, 1) // no meta Huffman image
	codes(argb[0], argb[1], argb[2], argb[3])
	return bw.bytes()
}

// VP8XWebP is an extended WebP of canvas w x h (1 to 1<<24 each) whose
// chunks (see RIFFChunk) follow its VP8X chunk, with the alpha flag set
// when an ALPH chunk is among them. Nothing checks that the chunks agree
// with the canvas, or with each other.
//
// It panics if a side is out of range.
func VP8XWebP(w, h int, chunks ...[]byte) []byte {
	if w < 1 || h < 1 || w > 1<<24 || h > 1<<24 {
		panic(fmt.Sprintf("flatimage: VP8X canvas of %dx%d: each side must be 1 to 2^24", w, h))
	}
	x := make([]byte, 10)
	for _, c := range chunks {
		if len(c) >= 4 && string(c[:4]) == "ALPH" {
			x[0] |= 1 << 4
		}
	}
	x[4], x[5], x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	x[7], x[8], x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return RIFF(append([][]byte{RIFFChunk("VP8X", x)}, chunks...)...)
}

// WebPWithVP8LAlpha is an extended WebP of w x h (1 to 16383 each): a VP8X
// chunk with the alpha flag, an ALPH chunk of a VP8L-compressed flat
// alpha plane (every value 0x80; no filtering or preprocessing), then the
// VP8 frame of VP8. It is a few bytes per macroblock, while decoding it
// allocates the frame's YCbCr planes and its alpha plane as for a photo,
// and, in golang.org/x/image/webp, the NRGBA image the compressed alpha
// plane is first decoded into.
func WebPWithVP8LAlpha(w, h int) []byte {
	alpha := VP8L(w, h, false, [4]byte{0x00, 0x00, 0x80, 0x00}) // green is the alpha value
	return VP8XWebP(w, h,
		RIFFChunk("ALPH", append([]byte{1}, alpha...)), // compression 1: VP8L
		RIFFChunk("VP8 ", VP8(w, h)))
}

// RIFFChunk is a RIFF chunk of type fcc (four bytes) holding data, padded
// to an even length.
func RIFFChunk(fcc string, data []byte) []byte {
	if len(fcc) != 4 {
		panic(fmt.Sprintf("flatimage: RIFF chunk type %q is not four bytes", fcc))
	}
	b := append([]byte(fcc), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// RIFF is a WebP file: a RIFF header of form type WEBP, then the chunks
// (see RIFFChunk) in order.
func RIFF(chunks ...[]byte) []byte {
	var body []byte
	body = append(body, "WEBP"...)
	for _, c := range chunks {
		body = append(body, c...)
	}
	b := append([]byte("RIFF"), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(body)))
	return append(b, body...)
}
