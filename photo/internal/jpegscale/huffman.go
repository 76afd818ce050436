// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Changed for qrsync (photo/internal/jpegscale): from Go 1.26's
// image/jpeg/huffman.go. The bit reader is rewritten in the manner of
// libjpeg-turbo (jdhuff.c): a 64-bit accumulator refilled several bytes at
// a time, with byte stuffing removed on the way in and a marker ending the
// data, so that nothing ever has to be unread; and the look-up table has
// lutSize = 10 bits. Every decision that image/jpeg makes on the bits it
// has (which code a table gives, which error ends a short or malformed
// stream) is kept, so that decoding stays identical to image/jpeg's,
// errors included. The sequential scans' fast path is decodeBlock, in
// scan.go.

package jpegscale

import (
	"encoding/binary"
	"io"
)

// maxCodeLength is the maximum (inclusive) number of bits in a Huffman code.
const maxCodeLength = 16

// maxNCodes is the maximum (inclusive) number of codes in a Huffman tree.
const maxNCodes = 256

// lutSize is the log-2 size of the Huffman decoder's look-up tables. The
// tables of a photo's scan (2 KiB each, and 4 KiB more for an AC table's
// fast) stay in the L1 cache, and codes longer than 10 bits are rare.
const lutSize = 10

// huffman is a Huffman decoder, specified in section C.
type huffman struct {
	// length is the number of codes in the tree.
	nCodes int32
	// lut is the look-up table for the next lutSize bits in the bit-stream.
	// The high 8 bits of the uint16 are the decoded value, the low 8 bits
	// the code length, or 0 if the code is longer than lutSize bits (or
	// the bits are no code: see buildLUT).
	lut [1 << lutSize]uint16
	// fast is, for an AC table, the look-up table of a code and its value
	// together, for the next lutSize bits when they hold both (most of a
	// photo's coefficients): the value, extended, in the high 16 bits,
	// then the run of zeros before it (4 bits), then in the low 8 bits the
	// length of code and value. 0 if they do not fit, or the value is an
	// EOB or ZRL, which have none.
	fast [1 << lutSize]int32
	// vals are the decoded values, sorted by their encoding.
	vals [maxNCodes]uint8
	// minCodes[i] is the minimum code of length i, or -1 if there are no
	// codes of that length.
	minCodes [maxCodeLength]int32
	// maxCodes[i] is the maximum code of length i, or -1 if there are no
	// codes of that length.
	maxCodes [maxCodeLength]int32
	// valsIndices[i] is the index into vals of minCodes[i].
	valsIndices [maxCodeLength]int32
}

// errShortHuffmanData means that an unexpected EOF occurred while decoding
// Huffman data.
var errShortHuffmanData = FormatError("short Huffman data")

var (
	errUninitializedHuffman = FormatError("uninitialized Huffman table")
	errBadHuffmanCode       = FormatError("bad Huffman code")
)

// bits holds the unprocessed bits that have been taken from the byte-stream.
// They are left-aligned in a: the next bit to read is a's most significant
// bit, and the bits below the n valid ones are zero (or, after a fast
// refill, the leading bits of the next bytes, which the next refill ORs in
// again unchanged).
//
// Bytes are added by fillBits, with byte stuffing removed, until the data
// ends: at a marker, which stays unread in d.bytes for the caller (a
// restart marker, or the one after the scan), or at the end of the input
// or an error. end then says why, and is the error of reading past the
// end: image/jpeg reads a byte at a time and fails exactly when it needs
// a bit that is not there, which is what checking n against the bits
// wanted does here.
type bits struct {
	a   uint64 // the bits, left-aligned.
	n   int32  // the number of valid bits in a.
	end error  // non-nil once no more bytes can be added: errMissingFF00 at a marker, errShortHuffmanData at EOF, or the reader's error.
}

// fillBits adds whole bytes of entropy-coded data to the accumulator a
// holding n bits, up to 57 to 64 bits, and returns it; fewer only at the
// end of the data (see bits). Callers keep the accumulator in local
// variables in their loops and call this when it runs low: with at least
// 57 bits, any code and its value (16 + 16 bits) can be taken without
// looking at n again.
func (d *decoder) fillBits(a uint64, n int32) (uint64, int32) {
	if d.bits.end != nil {
		return a, n
	}
	b := &d.bytes
	// The fast path: eight bytes at once, none of them 0xff (which would
	// be byte stuffing or a marker), as long as the buffer has them.
	if b.j-b.i >= 8 {
		w := binary.BigEndian.Uint64(b.buf[b.i:])
		const ones, highs = 0x0101010101010101, 0x8080808080808080
		if (^w-ones)&w&highs == 0 { // ^w has no zero byte: w has no 0xff
			k := (64 - n) >> 3 // whole bytes that fit
			a |= w >> uint(n)
			b.i += int(k)
			return a, n + 8*k
		}
	}
	// A byte at a time. The bits below n may hold the leading bits of the
	// next bytes from a fast refill (see bits), and must be zeros if the
	// data ends.
	a &^= ^uint64(0) >> uint(n)
	for n <= 56 {
		if b.i == b.j {
			if err := d.fill(); err != nil {
				d.bits.end = shortData(err)
				break
			}
			continue
		}
		c := b.buf[b.i]
		if c == 0xff {
			if b.i+1 == b.j { // the byte after it decides; fill keeps the 0xff
				if err := d.fill(); err != nil {
					d.bits.end = shortData(err)
					break
				}
				continue
			}
			if b.buf[b.i+1] != 0x00 {
				// A marker: the data ends here.
				d.bits.end = errMissingFF00
				break
			}
			b.i++ // Skip the stuffed 0x00.
		}
		b.i++
		a |= uint64(c) << uint(56-n)
		n += 8
	}
	return a, n
}

// shortData is image/jpeg's ensureNBits error for a failure to read.
func shortData(err error) error {
	if err == io.ErrUnexpectedEOF {
		return errShortHuffmanData
	}
	return err
}

// receiveExtend is the composition of RECEIVE and EXTEND, specified in section
// F.2.2.1.
func (d *decoder) receiveExtend(t uint8) (int32, error) {
	if d.bits.n < int32(t) {
		d.bits.a, d.bits.n = d.fillBits(d.bits.a, d.bits.n)
		if d.bits.n < int32(t) {
			return 0, d.bits.end
		}
	}
	x := extend(d.bits.a, t)
	d.bits.a <<= t
	d.bits.n -= int32(t)
	return x, nil
}

// extend is EXTEND (section F.2.2.1) of the t-bit value at the top of a:
// values whose first bit is 0 are negative, x - (2^t - 1). Branch-free,
// since the sign of a coefficient cannot be predicted; for t = 0 it is 0.
func extend(a uint64, t uint8) int32 {
	x := int32(a >> (64 - uint(t))) // 0 for t = 0
	neg := int32(int64(^a) >> 63)   // -1 if the first bit is 0
	return x + neg&((-1<<t)+1)
}

// processDHT processes a Define Huffman Table marker, and initializes a huffman
// struct from its contents. Specified in section B.2.4.2.
func (d *decoder) processDHT(n int) error {
	for n > 0 {
		if n < 17 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(d.tmp[:17]); err != nil {
			return err
		}
		tc := d.tmp[0] >> 4
		if tc > maxTc {
			return FormatError("bad Tc value")
		}
		th := d.tmp[0] & 0x0f
		// The baseline th <= 1 restriction is specified in table B.5.
		if th > maxTh || (d.baseline && th > 1) {
			return FormatError("bad Th value")
		}
		h := &d.huff[tc][th]

		// Read nCodes and h.vals (and derive h.nCodes).
		// nCodes[i] is the number of codes with code length i.
		// h.nCodes is the total number of codes.
		h.nCodes = 0
		var nCodes [maxCodeLength]int32
		for i := range nCodes {
			nCodes[i] = int32(d.tmp[i+1])
			h.nCodes += nCodes[i]
		}
		if h.nCodes == 0 {
			return FormatError("Huffman table has zero length")
		}
		if h.nCodes > maxNCodes {
			return FormatError("Huffman table has excessive length")
		}
		n -= int(h.nCodes) + 17
		if n < 0 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(h.vals[:h.nCodes]); err != nil {
			return err
		}

		// Derive minCodes, maxCodes, and valsIndices.
		var c, index int32
		for i, n := range nCodes {
			if n == 0 {
				h.minCodes[i] = -1
				h.maxCodes[i] = -1
				h.valsIndices[i] = -1
			} else {
				h.minCodes[i] = c
				h.maxCodes[i] = c + n - 1
				h.valsIndices[i] = index
				c += n
				index += n
			}
			c <<= 1
		}
		h.buildLUT(&nCodes)
	}
	return nil
}

// buildLUT derives h.lut. It must give what image/jpeg gives for the same
// bits, for any table, including the malformed (over-subscribed) ones
// that a fuzzer writes and for which codes overlap: image/jpeg looks the
// next 8 bits up in a table where, of overlapping codes, the later one
// wins, and on a miss decodes bit by bit (decodeLong) from the shortest
// length up. So the 10-bit table holds, for each 10 bits, image/jpeg's
// 8-bit entry where there is one, and otherwise decodeLong's code if it is
// at most 10 bits long.
func (h *huffman) buildLUT(nCodes *[maxCodeLength]int32) {
	// image/jpeg's table, as it builds it: the low 8 bits of an entry are
	// 1 plus the code length, 0 for none.
	var lut8 [1 << 8]uint16
	var x, code uint32
	for i := uint32(0); i < 8; i++ {
		code <<= 1
		for j := int32(0); j < nCodes[i]; j++ {
			// The codeLength is 1+i, so shift code by 8-(1+i) to
			// calculate the high bits for every 8-bit sequence
			// whose codeLength's high bits matches code.
			base := uint8(code << (7 - i))
			lutValue := uint16(h.vals[x])<<8 | uint16(2+i)
			for k := uint8(0); k < 1<<(7-i); k++ {
				lut8[base|k] = lutValue
			}
			code++
			x++
		}
	}
	for p := range h.lut {
		if v := lut8[p>>(lutSize-8)]; v != 0 {
			h.lut[p] = v - 1 // the code length, not 1 plus it
			continue
		}
		h.lut[p] = 0
		if v, l := h.decodeLong(uint64(p) << (64 - lutSize)); l > 0 && l <= lutSize {
			h.lut[p] = uint16(v)<<8 | uint16(l)
		}
	}
	for p, e := range h.lut {
		h.fast[p] = 0
		rs, l := uint8(e>>8), uint8(e)
		run, size := rs>>4, rs&0x0f
		if l == 0 || size == 0 || l+size > lutSize {
			continue
		}
		a := uint64(p) << (64 - lutSize) << l
		h.fast[p] = extend(a, size)<<16 | int32(run)<<8 | int32(l+size)
	}
}

// decodeLong decodes the code at the top of a bit by bit, as image/jpeg's
// decodeHuffman does when its look-up table has no entry: the value and
// the code length, or a length of 0 if 16 bits are no code (or the table
// was never defined). Not inlined: it is the rare path of a look-up.
//
//go:noinline
func (h *huffman) decodeLong(a uint64) (uint8, int32) {
	if h.nCodes == 0 {
		return 0, 0
	}
	code := int32(0)
	for i := 0; i < maxCodeLength; i++ {
		code = code<<1 | int32(a>>(63-uint(i))&1)
		if code <= h.maxCodes[i] {
			return h.vals[h.valsIndices[i]+code-h.minCodes[i]], int32(i + 1)
		}
	}
	return 0, 0
}

// decodeHuffman returns the next Huffman-coded value from the bit-stream,
// decoded according to h. It is the careful path, for progressive scans
// and for the last bits of a sequential one.
func (d *decoder) decodeHuffman(h *huffman) (uint8, error) {
	if h.nCodes == 0 {
		return 0, errUninitializedHuffman
	}
	if d.bits.n < maxCodeLength {
		d.bits.a, d.bits.n = d.fillBits(d.bits.a, d.bits.n)
	}
	v, l, err := d.decodeCode(h, d.bits.a, d.bits.n)
	if err != nil {
		return 0, err
	}
	d.bits.a <<= uint(l)
	d.bits.n -= l
	return v, nil
}

// decodeCode decodes the code at the top of the accumulator a of n bits
// (all there are, if fewer than 16) with the table h (defined: nCodes >
// 0): its value and length. Like image/jpeg, with fewer than 8 bits left
// it decodes bit by bit, and it fails with the end of the data only if
// the code needs more bits than there are.
func (d *decoder) decodeCode(h *huffman, a uint64, n int32) (uint8, int32, error) {
	if n >= 8 {
		if e := h.lut[a>>(64-lutSize)]; e != 0 {
			if l := int32(e & 0xff); l <= n {
				return uint8(e >> 8), l, nil
			}
			return 0, 0, d.bits.end
		}
	}
	v, l := h.decodeLong(a)
	switch {
	case l == 0 && n < maxCodeLength, l > n:
		return 0, 0, d.bits.end
	case l == 0:
		return 0, 0, errBadHuffmanCode
	}
	return v, l, nil
}

func (d *decoder) decodeBit() (bool, error) {
	if d.bits.n == 0 {
		d.bits.a, d.bits.n = d.fillBits(d.bits.a, d.bits.n)
		if d.bits.n == 0 {
			return false, d.bits.end
		}
	}
	ret := d.bits.a&(1<<63) != 0
	d.bits.a <<= 1
	d.bits.n--
	return ret, nil
}

func (d *decoder) decodeBits(n int32) (uint32, error) {
	if d.bits.n < n {
		d.bits.a, d.bits.n = d.fillBits(d.bits.a, d.bits.n)
		if d.bits.n < n {
			return 0, d.bits.end
		}
	}
	ret := uint32(d.bits.a >> (64 - uint(n)))
	d.bits.a <<= uint(n)
	d.bits.n -= n
	return ret, nil
}
