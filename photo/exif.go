package photo

import "encoding/binary"

// This file is a deliberately small EXIF (TIFF) reader/patcher. EXIF comes
// from the phone, so it is hostile input: every offset and count is checked
// against the block before use, loops are bounded, nothing is allocated in
// proportion to a number read from the data, and nothing is ever moved:
// the only write is zeroing bytes in place.

const (
	tagOrientation = 0x0112
	tagGPSIFD      = 0x8825

	maxIFDChain = 8 // IFD0, IFD1 (thumbnail) and a few more at most
)

// tiff is one EXIF block: a TIFF header, then IFDs addressed by offsets
// from the start of the header.
type tiff struct {
	b  []byte
	bo binary.ByteOrder
}

// exifPrefix is the APP1 identifier in JPEG. Some writers also put it in
// front of the TIFF data of a WebP EXIF or PNG eXIf chunk, where it does
// not belong; trimExifPrefix accepts both.
const exifPrefix = "Exif\x00"

// trimExifPrefix returns the TIFF data of an EXIF block that may start
// with "Exif\0\0" (JPEG style) or directly with the TIFF header.
func trimExifPrefix(b []byte) []byte {
	if len(b) >= 6 && string(b[:5]) == exifPrefix {
		return b[6:]
	}
	return b
}

// parseTIFF checks the TIFF header ("II*\0" little-endian or "MM\0*"
// big-endian) and returns the block and its IFD0 offset.
func parseTIFF(b []byte) (t tiff, ifd0 uint32, ok bool) {
	if len(b) < 8 {
		return tiff{}, 0, false
	}
	switch string(b[:4]) {
	case "II*\x00":
		t = tiff{b: b, bo: binary.LittleEndian}
	case "MM\x00*":
		t = tiff{b: b, bo: binary.BigEndian}
	default:
		return tiff{}, 0, false
	}
	return t, t.bo.Uint32(b[4:8]), true
}

// ifd returns the number of entries of the IFD at off and where its entries
// start. The count is clamped to what fits in the block, so a lying count
// costs nothing.
func (t tiff) ifd(off uint32) (n int, start int, ok bool) {
	if off < 8 || uint64(off)+2 > uint64(len(t.b)) {
		return 0, 0, false
	}
	n = int(t.bo.Uint16(t.b[off:]))
	start = int(off) + 2
	if fit := (len(t.b) - start) / 12; n > fit {
		n = fit
	}
	return n, start, true
}

// next returns the offset of the IFD after the one at off with n entries.
func (t tiff) next(off uint32, n int) uint32 {
	p := int(off) + 2 + 12*n
	if p+4 > len(t.b) {
		return 0
	}
	return t.bo.Uint32(t.b[p:])
}

// typeSize is the byte size of one value of a TIFF field type, 0 if unknown.
func typeSize(typ uint16) uint64 {
	switch typ {
	case 1, 2, 6, 7: // BYTE, ASCII, SBYTE, UNDEFINED
		return 1
	case 3, 8: // SHORT, SSHORT
		return 2
	case 4, 9, 11, 13: // LONG, SLONG, FLOAT, IFD
		return 4
	case 5, 10, 12: // RATIONAL, SRATIONAL, DOUBLE
		return 8
	}
	return 0
}

// exifOrientation returns the Orientation tag (1..8) of IFD0 of an EXIF
// block, or 1 when it is absent, malformed or out of range, which is what
// viewers do.
func exifOrientation(b []byte) int {
	t, ifd0, ok := parseTIFF(trimExifPrefix(b))
	if !ok {
		return 1
	}
	n, start, ok := t.ifd(ifd0)
	if !ok {
		return 1
	}
	for i := 0; i < n; i++ {
		e := t.b[start+12*i : start+12*i+12]
		if t.bo.Uint16(e[0:2]) != tagOrientation {
			continue
		}
		var v uint32
		switch typ, count := t.bo.Uint16(e[2:4]), t.bo.Uint32(e[4:8]); {
		case count < 1:
			return 1
		case typ == 3: // SHORT, the type the standard says
			v = uint32(t.bo.Uint16(e[8:10]))
		case typ == 4: // LONG, seen in the wild
			v = t.bo.Uint32(e[8:12])
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return int(v)
	}
	return 1
}

// clearGPS empties, in place, every GPS IFD that an IFD of the chain
// (IFD0, IFD1, ...) points to: the entry count becomes 0 and the entries
// and their out-of-line values are zeroed. Nothing moves, so every other
// offset in the block (and in the file around it) stays valid; the GPS
// pointer itself stays and points to a valid, empty IFD. b may carry the
// "Exif\0\0" prefix. It returns how many GPS entries were removed.
func clearGPS(b []byte) int {
	t, off, ok := parseTIFF(trimExifPrefix(b))
	if !ok {
		return 0
	}
	var gps []uint32
	seen := map[uint32]bool{}
	for i := 0; i < maxIFDChain && off != 0 && !seen[off]; i++ {
		seen[off] = true
		n, start, ok := t.ifd(off)
		if !ok {
			break
		}
		for j := 0; j < n; j++ {
			e := t.b[start+12*j : start+12*j+12]
			if t.bo.Uint16(e[0:2]) == tagGPSIFD {
				gps = append(gps, t.bo.Uint32(e[8:12]))
			}
		}
		off = t.next(off, n)
	}
	removed := 0
	for _, g := range gps {
		removed += t.emptyIFD(g)
	}
	return removed
}

// emptyIFD zeroes the IFD at off (its entries and their out-of-line values)
// and sets its count to 0. It returns the number of entries removed.
func (t tiff) emptyIFD(off uint32) int {
	n, start, ok := t.ifd(off)
	if !ok {
		return 0
	}
	// Read every entry before zeroing anything: a hostile value offset may
	// point into the entries themselves.
	type span struct{ from, to uint64 }
	var values []span
	for j := 0; j < n; j++ {
		e := t.b[start+12*j : start+12*j+12]
		size := typeSize(t.bo.Uint16(e[2:4])) * uint64(t.bo.Uint32(e[4:8]))
		if size > 4 { // the value field holds an offset to the value
			vo := uint64(t.bo.Uint32(e[8:12]))
			if vo >= 8 && vo < uint64(len(t.b)) {
				values = append(values, span{vo, min(vo+size, uint64(len(t.b)))})
			}
		}
	}
	for _, v := range values {
		clear(t.b[v.from:v.to])
	}
	clear(t.b[start : start+12*n])
	t.bo.PutUint16(t.b[off:], 0)
	return n
}
