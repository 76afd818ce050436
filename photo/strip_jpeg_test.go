package photo

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// Tests for StripLocation on JPEG: metadata cleaned at its length, so that
// every offset holds; progressive scans; and images appended after the
// primary's EOI, MPF and otherwise.

// exifGPS is an APP1 Exif segment with orientation orient and a GPS IFD
// holding gpsLatitude.
func exifGPS(bo byteOrder, orient int) []byte {
	return jpegSegment(0xE1, append([]byte("Exif\x00\x00"), buildTIFF(bo, orient, true)...))
}

// jpegSeg is one marker segment of a JPEG header.
type jpegSeg struct {
	marker  byte
	at      int    // offset of its 0xFF in the file
	payload []byte // what follows the length
}

// jpegHeader lists the segments of the JPEG starting at j[0] up to its
// first SOS, which it includes.
func jpegHeader(t testing.TB, j []byte) []jpegSeg {
	t.Helper()
	if len(j) < 2 || j[0] != 0xFF || j[1] != 0xD8 {
		t.Fatalf("no SOI: % x", j[:min(len(j), 4)])
	}
	var segs []jpegSeg
	for p := 2; p+4 <= len(j); {
		if j[p] != 0xFF {
			t.Fatalf("no marker at %d", p)
		}
		if j[p+1] == 0xFF {
			p++
			continue
		}
		l := int(j[p+2])<<8 | int(j[p+3])
		if l < 2 || p+2+l > len(j) {
			t.Fatalf("bad segment length %d at %d", l, p)
		}
		segs = append(segs, jpegSeg{j[p+1], p, j[p+4 : p+2+l]})
		if j[p+1] == 0xDA {
			return segs
		}
		p += 2 + l
	}
	t.Fatal("no SOS")
	return nil
}

// checkBlankXMP: x (an XMP payload after its identifier) is an empty packet
// padded with spaces.
func checkBlankXMP(t testing.TB, x []byte) {
	t.Helper()
	body, ok := bytes.CutPrefix(x, []byte(xmpPacketHead))
	if ok {
		body, ok = bytes.CutSuffix(body, []byte(xmpPacketTail))
	}
	if !ok || len(bytes.Trim(body, " ")) != 0 {
		t.Errorf("XMP is not an empty packet: %.200q", x)
	}
}

// sameOutside reports the first offset where in and out differ outside
// the given pieces of in (found by content, every occurrence), or -1. That
// is how the tests say "only these segments changed".
func sameOutside(t testing.TB, in, out []byte, pieces ...[]byte) int {
	t.Helper()
	if len(in) != len(out) {
		t.Fatalf("length %d, was %d", len(out), len(in))
	}
	allowed := make([]bool, len(in))
	for _, p := range pieces {
		found := false
		for i := 0; ; {
			k := bytes.Index(in[i:], p)
			if k < 0 {
				break
			}
			for j := range p {
				allowed[i+k+j] = true
			}
			i, found = i+k+len(p), true
		}
		if !found {
			t.Fatalf("piece %.20q is not in the input", p)
		}
	}
	for i := range in {
		if in[i] != out[i] && !allowed[i] {
			return i
		}
	}
	return -1
}

// mpfSegment builds an APP2 MPF segment (CIPA DC-007): a big-endian TIFF
// block whose MP Index IFD lists images by size and offset, the primary
// first (offset 0), the others relative to the MPF header, which starts
// mpfHeaderAt bytes into the segment.
func mpfSegment(sizes, offsets []uint32) []byte {
	bo := binary.BigEndian
	b := []byte("MPF\x00MM\x00*\x00\x00\x00\x08")
	b = bo.AppendUint16(b, 3)
	entry := func(tag, typ uint16, count uint32, v []byte) {
		b = bo.AppendUint16(b, tag)
		b = bo.AppendUint16(b, typ)
		b = bo.AppendUint32(b, count)
		b = append(b, v...)
	}
	entries := uint32(8 + 2 + 3*12 + 4)                                    // where the MP entries go, after the IFD
	entry(0xB000, 7, 4, []byte("0100"))                                    // MPFVersion
	entry(0xB001, 4, 1, bo.AppendUint32(nil, uint32(len(sizes))))          // NumberOfImages
	entry(0xB002, 7, uint32(16*len(sizes)), bo.AppendUint32(nil, entries)) // MPEntry
	b = bo.AppendUint32(b, 0)
	for i := range sizes {
		attr := uint32(0x00010001) // dependent child, large thumbnail
		if i == 0 {
			attr = 0x20030000 // representative, baseline primary
		}
		b = bo.AppendUint32(b, attr)
		b = bo.AppendUint32(b, sizes[i])
		b = bo.AppendUint32(b, offsets[i])
		b = append(b, 0, 0, 0, 0)
	}
	return jpegSegment(0xE2, b)
}

// mpfHeaderAt is where the MPF offsets count from, within mpfSegment's
// output: after the marker, the length and "MPF\0".
const mpfHeaderAt = 4 + 4

// mpfImages reads the sizes and offsets back from an MPF segment's payload.
func mpfImages(t testing.TB, payload []byte) (sizes, offsets []uint32) {
	t.Helper()
	tiffData, ok := bytes.CutPrefix(payload, []byte("MPF\x00"))
	if !ok || string(tiffData[:4]) != "MM\x00*" {
		t.Fatalf("not an MPF segment: %.20q", payload)
	}
	bo := binary.BigEndian
	ifd := bo.Uint32(tiffData[4:])
	n := int(bo.Uint16(tiffData[ifd:]))
	for i := 0; i < n; i++ {
		e := tiffData[int(ifd)+2+12*i:]
		if bo.Uint16(e) != 0xB002 {
			continue
		}
		count, at := bo.Uint32(e[4:]), bo.Uint32(e[8:])
		for k := uint32(0); k < count/16; k++ {
			me := tiffData[at+16*k:]
			sizes = append(sizes, bo.Uint32(me[4:]))
			offsets = append(offsets, bo.Uint32(me[8:]))
		}
	}
	return sizes, offsets
}

// buildMPF joins a primary JPEG and secondary ones into one file the way
// cameras and phones do: an APP2 MPF segment inserted after the primary's
// first segment (its Exif) indexes them all, and the secondaries follow the
// primary's EOI. It returns the file and where each image starts.
func buildMPF(t testing.TB, primary []byte, secondaries ...[]byte) (file []byte, starts []int) {
	t.Helper()
	first := 4 + int(binary.BigEndian.Uint16(primary[4:]))
	n := 1 + len(secondaries)
	app2Len := len(mpfSegment(make([]uint32, n), make([]uint32, n)))
	mpfBase := first + mpfHeaderAt
	sizes := []uint32{uint32(len(primary) + app2Len)}
	offsets := []uint32{0}
	starts = []int{0}
	at := len(primary) + app2Len
	for _, s := range secondaries {
		sizes = append(sizes, uint32(len(s)))
		offsets = append(offsets, uint32(at-mpfBase))
		starts = append(starts, at)
		at += len(s)
	}
	file = append(bytes.Clone(primary[:first]), mpfSegment(sizes, offsets)...)
	file = append(file, primary[first:]...)
	for _, s := range secondaries {
		file = append(file, s...)
	}
	return file, starts
}

// mpfSample is a camera photo with GPS, as the primary image of an MPF
// file, followed by a small preview and another camera photo that carry
// GPS of their own; starts says where each image begins.
func mpfSample(t testing.TB) (file []byte, starts []int) {
	preview := jpegInsert(encJPEG(t, scene(160, 120), 85), exifGPS(binary.BigEndian, 6))
	return buildMPF(t, readShared(t, "gps/DSCN0010.jpg"), preview, readShared(t, "gps/DSCN0012.jpg"))
}

// TestStripLocationMPF: a camera photo with GPS as the primary image and
// two appended images that carry GPS of their own, indexed by MPF: every
// GPS IFD is emptied, and every image is still where MPF says and decodes
// as before.
func TestStripLocationMPF(t *testing.T) {
	primary, other := readShared(t, "gps/DSCN0010.jpg"), readShared(t, "gps/DSCN0012.jpg")
	in, starts := mpfSample(t)

	var leaks [][]byte
	for _, img := range [][]byte{primary, other} {
		tiffData, _ := jpegParts(t, img)
		leaks = append(leaks, gpsValues(t, tiffData)...)
	}
	leaks = append(leaks, latitudeBytes(binary.BigEndian))
	for _, l := range leaks {
		if !bytes.Contains(in, l) {
			t.Fatalf("coordinate bytes % x not in the input", l)
		}
	}

	out, err := strip(t, in, JPEG, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("output is %d bytes, input %d: MPF offsets would be wrong", len(out), len(in))
	}
	for _, l := range leaks {
		if bytes.Contains(out, l) {
			t.Errorf("coordinate bytes % x still in the output", l)
		}
	}
	one, err := strip(t, in, JPEG, func() int { return 1 })
	if err != nil || !bytes.Equal(one, out) {
		t.Errorf("1-byte writes: equal=%v err=%v", bytes.Equal(one, out), err)
	}

	// The images as MPF in the output locates them.
	var mpf []byte
	for _, s := range jpegHeader(t, out) {
		if s.marker == 0xE2 && bytes.HasPrefix(s.payload, []byte("MPF\x00")) {
			mpf = s.payload
			mpfBase := s.at + mpfHeaderAt
			sizes, offsets := mpfImages(t, s.payload)
			if len(sizes) != 3 {
				t.Fatalf("MPF lists %d images", len(sizes))
			}
			for i := 1; i < len(sizes); i++ {
				if got := mpfBase + int(offsets[i]); got != starts[i] {
					t.Errorf("MPF puts image %d at %d, it is at %d", i, got, starts[i])
				}
			}
		}
	}
	if mpf == nil {
		t.Fatal("no MPF segment in the output")
	}

	ends := []int{starts[1], starts[2], len(in)}
	for i, start := range starts {
		t.Run([]string{"primary", "preview", "DSCN0012"}[i], func(t *testing.T) {
			imgIn, imgOut := in[start:ends[i]], out[start:ends[i]]
			tiffIn, sosIn := jpegParts(t, imgIn)
			tiffOut, sosOut := jpegParts(t, imgOut)
			vIn, vOut := walkExif(t, tiffIn), walkExif(t, tiffOut)
			if vIn.gpsEntries <= 0 || vOut.gpsEntries != 0 {
				t.Errorf("GPS entries %d -> %d", vIn.gpsEntries, vOut.gpsEntries)
			}
			if vOut.orientation() != vIn.orientation() {
				t.Errorf("orientation %d, was %d", vOut.orientation(), vIn.orientation())
			}
			if sosOut != sosIn || !bytes.Equal(imgOut[sosOut:], imgIn[sosIn:]) {
				t.Error("scan data changed")
			}
			a, err := jpeg.Decode(bytes.NewReader(imgIn))
			if err != nil {
				t.Fatal(err)
			}
			b, err := jpeg.Decode(bytes.NewReader(imgOut))
			if err != nil {
				t.Fatalf("does not decode at its offset: %v", err)
			}
			if d := meanDiff(t, a, b); d != 0 {
				t.Errorf("decoded pixels differ (%.3f)", d)
			}
		})
	}
	// DSCN0012 has XMP after its SOF, well after the primary's APP2.
	for _, s := range jpegHeader(t, out[starts[2]:]) {
		if x, ok := bytes.CutPrefix(s.payload, []byte(xmpID)); ok {
			checkBlankXMP(t, x)
		}
	}
}

// bitWriter writes JPEG entropy-coded data: bits MSB first, every 0xFF
// byte followed by a stuffed 0x00.
type bitWriter struct {
	out  []byte
	acc  byte
	nacc uint
}

func (w *bitWriter) bits(v uint32, n uint) {
	for ; n > 0; n-- {
		w.acc = w.acc<<1 | byte(v>>(n-1)&1)
		if w.nacc++; w.nacc == 8 {
			w.out = append(w.out, w.acc)
			if w.acc == 0xFF {
				w.out = append(w.out, 0x00)
			}
			w.acc, w.nacc = 0, 0
		}
	}
}

// pad fills the last byte with 1 bits, as before a marker.
func (w *bitWriter) pad() {
	for w.nacc != 0 {
		w.bits(1, 1)
	}
}

// huffCodes makes the canonical Huffman codes (code, length) of a DHT
// table given as counts per length and symbols (Annex C).
func huffCodes(counts [16]byte, symbols []byte) map[byte][2]uint32 {
	codes := map[byte][2]uint32{}
	code, k := uint32(0), 0
	for l := 1; l <= 16; l++ {
		for i := 0; i < int(counts[l-1]); i++ {
			codes[symbols[k]] = [2]uint32{code, uint32(l)}
			code, k = code+1, k+1
		}
		code <<= 1
	}
	return codes
}

// dhtSegment builds a DHT segment for one table (class 0 DC, 1 AC).
func dhtSegment(class, id byte, counts [16]byte, symbols []byte) []byte {
	p := append([]byte{class<<4 | id}, counts[:]...)
	return jpegSegment(0xC4, append(p, symbols...))
}

// progressiveJPEG builds a w x h greyscale progressive JPEG (SOF2, w and h
// multiples of 8) whose 8x8 blocks are flat, at levels given as DC
// coefficients dc (quantiser 1). It has a restart interval, a first DC
// scan of all bits but the last, a DHT, an AC scan that ends every block
// at once, the segments mid and a comment, and a DC refinement scan with
// the last bits. So its entropy data holds stuffed 0xFF and RSTn, and
// segments come between its scans, as in a real progressive JPEG.
func progressiveJPEG(w, h int, dc []int32, mid ...[]byte) []byte {
	const restartEvery = 7
	dcCounts := [16]byte{0, 1, 5, 1, 1, 1, 1, 1, 1} // Annex K.3 luminance DC
	dcSymbols := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	dcCodes := huffCodes(dcCounts, dcSymbols)
	acCounts := [16]byte{1} // one symbol: EOB, code "0"
	acSymbols := []byte{0x00}

	f := []byte{0xFF, 0xD8}
	f = append(f, jpegSegment(0xDB, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...))...)
	f = append(f, jpegSegment(0xC2, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})...)
	f = append(f, jpegSegment(0xDD, []byte{0, restartEvery})...)
	f = append(f, dhtSegment(0, 0, dcCounts, dcSymbols)...)

	// scan codes every block with code, with a restart marker every
	// restartEvery blocks; code gets the block's index within its interval.
	scan := func(header []byte, code func(bw *bitWriter, i, inInterval int)) {
		f = append(f, jpegSegment(0xDA, header)...)
		var bw bitWriter
		for i := range dc {
			if i > 0 && i%restartEvery == 0 {
				bw.pad()
				bw.out = append(bw.out, 0xFF, 0xD0+byte(i/restartEvery-1)%8)
			}
			code(&bw, i, i%restartEvery)
		}
		bw.pad()
		f = append(f, bw.out...)
	}
	// DC first scan (Ss=Se=0, Ah=0, Al=1): differences of dc>>1.
	scan([]byte{1, 1, 0x00, 0, 0, 0x01}, func(bw *bitWriter, i, k int) {
		diff := dc[i] >> 1
		if k > 0 {
			diff -= dc[i-1] >> 1
		}
		mag, size := diff, uint(0)
		if mag < 0 {
			mag = -mag
		}
		for mag>>size != 0 {
			size++
		}
		c := dcCodes[byte(size)]
		bw.bits(c[0], uint(c[1]))
		if diff < 0 {
			diff += 1<<size - 1
		}
		bw.bits(uint32(diff), size)
	})
	f = append(f, dhtSegment(1, 0, acCounts, acSymbols)...)
	// AC first scan (Ss=1, Se=63): every block ends at once.
	scan([]byte{1, 1, 0x00, 1, 63, 0x00}, func(bw *bitWriter, _, _ int) { bw.bits(0, 1) })
	for _, m := range mid {
		f = append(f, m...)
	}
	f = append(f, jpegSegment(0xFE, []byte("between scans"))...)
	// DC refinement scan (Ah=1, Al=0): the last bit of every dc.
	scan([]byte{1, 1, 0x00, 0, 0, 0x10}, func(bw *bitWriter, i, _ int) { bw.bits(uint32(dc[i]&1), 1) })
	return append(f, 0xFF, 0xD9)
}

const progressiveW, progressiveH = 256, 192

// progressiveSample is a progressive JPEG with Exif GPS in its header and,
// unusual but legal, between its scans (orientation 0), and the file made
// of it and an appended baseline JPEG with GPS; dc are its block levels.
func progressiveSample(t testing.TB) (prog, file []byte, dc []int32) {
	rng := rand.New(rand.NewPCG(7, 8))
	dc = make([]int32, (progressiveW/8)*(progressiveH/8))
	for i := range dc {
		dc[i] = int32(rng.IntN(2001)) - 1000
	}
	prog = jpegInsert(progressiveJPEG(progressiveW, progressiveH, dc, exifGPS(binary.LittleEndian, 0)), exifGPS(binary.BigEndian, 8))
	appended := jpegInsert(encJPEG(t, scene(96, 64), 90), exifGPS(binary.LittleEndian, 3))
	return prog, append(bytes.Clone(prog), appended...), dc
}

// TestStripLocationProgressive: a progressive primary image with tables,
// metadata and a comment between its scans, and a JPEG with GPS appended.
func TestStripLocationProgressive(t *testing.T) {
	const w, h = progressiveW, progressiveH
	prog, in, dc := progressiveSample(t)
	between := exifGPS(binary.LittleEndian, 0)

	// The builder is right: the image decodes to the levels it was given.
	img, err := jpeg.Decode(bytes.NewReader(prog))
	if err != nil {
		t.Fatalf("progressive test image does not decode: %v", err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("decoded as %T", img)
	}
	for i, v := range dc {
		x, y := 8*(i%(w/8))+3, 8*(i/(w/8))+3
		want := max(0, min(255, 128+float64(v)/8))
		if d := float64(g.GrayAt(x, y).Y) - want; d < -1 || d > 1 {
			t.Fatalf("block %d decodes to %d, want %.1f", i, g.GrayAt(x, y).Y, want)
		}
	}
	_, sos := jpegParts(t, prog)
	if !bytes.Contains(prog[sos:], []byte{0xFF, 0x00}) || !bytes.Contains(prog[sos:], []byte{0xFF, 0xD0}) {
		t.Fatal("the scans hold no stuffed 0xFF or no RST0: the test would prove less")
	}

	out, err := strip(t, in, JPEG, nil)
	if err != nil {
		t.Fatal(err)
	}
	if i := sameOutside(t, in, out, between, exifGPS(binary.BigEndian, 8), exifGPS(binary.LittleEndian, 3)); i >= 0 {
		t.Errorf("byte %d changed outside the Exif segments", i)
	}
	for _, l := range [][]byte{latitudeBytes(binary.LittleEndian), latitudeBytes(binary.BigEndian)} {
		if bytes.Contains(out, l) {
			t.Errorf("latitude % x still in the output", l)
		}
	}
	if v := walkExif(t, trimExifPrefix(out[bytes.Index(in, between)+4:])); v.gpsEntries != 0 {
		t.Errorf("Exif between the scans kept %d GPS entries", v.gpsEntries)
	}
	a, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if d := meanDiff(t, img, a); d != 0 {
		t.Errorf("primary decodes differently (%.3f)", d)
	}
	tail := out[len(prog):]
	tiffData, _ := jpegParts(t, tail)
	if v := walkExif(t, tiffData); v.gpsEntries != 0 || v.orientation() != 3 {
		t.Errorf("appended image: %d GPS entries, orientation %d", v.gpsEntries, v.orientation())
	}
	if _, err := jpeg.Decode(bytes.NewReader(tail)); err != nil {
		t.Errorf("appended image does not decode: %v", err)
	}
}

// trailerIRB is an APP13 payload naming a city, in trailerSamples' image.
var trailerIRB = []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0e\x1c\x02\x5a\x00\x06London")

// trailerSamples are JPEGs followed by trailers with false or broken image
// starts before, or after, a real JPEG with GPS, which must be cleaned.
func trailerSamples(t testing.TB) []struct {
	name string
	data []byte
} {
	primary := jpegInsert(encJPEG(t, scene(64, 48), 90), exifGPS(binary.LittleEndian, 6))
	garbage := make([]byte, 3000)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	real := jpegInsert(encJPEG(t, scene(48, 32), 80), exifGPS(binary.BigEndian, 5), jpegSegment(0xED, trailerIRB))
	_, sos := jpegParts(t, real)
	inLatitude := 2 + len(exifGPS(binary.BigEndian, 5)) - 10 // 14 bytes into the 24 of gpsLatitude
	cat := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{primary}, parts...), nil) }
	return []struct {
		name string
		data []byte
	}{
		{"image right after EOI", cat(real)},
		{"false APP13 in data", cat(garbage[:100], []byte("\xFF\xD8\xFF\xED\x01\x00"), garbage[100:], real)},
		{"garbage then image", cat(garbage, real)},
		{"zero marker", cat([]byte("\xFF\xD8\xFF\x00junk"), real)},
		{"short segment length", cat([]byte("\xFF\xD8\xFF\xE1\x00\x01junk"), real)},
		{"no marker after a segment", cat([]byte("\xFF\xD8\xFF\xE0\x00\x04ab junk"), garbage[:50], real)},
		{"SOI twice", cat([]byte("\xFF\xD8"), real)},
		{"image cut in its scan", cat(real[:sos+40], real)},
		{"fill byte before EOI", cat(real[:len(real)-2], []byte("\xFF\xFF\xD9"), real)},
		{"fill byte before the primary's EOI", bytes.Join([][]byte{primary[:len(primary)-2], []byte("\xFF\xFF\xD9"), real}, nil)},
		{"fill bytes and stuffing", cat([]byte("\xFF\xFF\xFF\xD8\xFF\xFF\x00\xFF\xD8\xD8"), real)},
		{"false start at the end", cat(real, garbage[:100], []byte("\xFF\xD8\xFF\xE1\x01\x00partial"))},
		{"image cut in its Exif at the end", cat(garbage[:100], real[:inLatitude])},
	}
}

// TestStripLocationTrailer: whatever follows the primary image, the upload
// succeeds, the bytes are copied and every JPEG in them is cleaned.
func TestStripLocationTrailer(t *testing.T) {
	realExif := exifGPS(binary.BigEndian, 5)
	for _, c := range trailerSamples(t) {
		t.Run(c.name, func(t *testing.T) {
			in := c.data
			out, err := strip(t, in, JPEG, nil)
			if err != nil {
				t.Fatalf("a trailer failed the upload: %v", err)
			}
			pieces := [][]byte{exifGPS(binary.LittleEndian, 6), realExif, trailerIRB}
			whole := bytes.Contains(in, realExif)
			if !whole {
				pieces = [][]byte{pieces[0], in[bytes.LastIndex(in, realExif[:10]):]} // the cut Exif
			}
			if i := sameOutside(t, in, out, pieces...); i >= 0 {
				t.Errorf("byte %d changed outside the Exif segments: % x -> % x", i, in[i:min(i+8, len(in))], out[i:min(i+8, len(out))])
			}
			for i := 0; whole; {
				k := bytes.Index(in[i:], realExif)
				if k < 0 {
					break
				}
				i += k + len(realExif)
				if v := walkExif(t, out[i-len(realExif)+4+6:i]); v.gpsEntries != 0 || v.orientation() != 5 {
					t.Errorf("appended image at %d: %d GPS entries, orientation %d", i-len(realExif), v.gpsEntries, v.orientation())
				}
			}
			for _, lat := range [][]byte{latitudeBytes(binary.LittleEndian), latitudeBytes(binary.BigEndian)} {
				if bytes.Contains(out, lat[:8]) {
					t.Errorf("latitude % x still in the output", lat[:8])
				}
			}
			if bytes.Contains(out, []byte("London")) {
				t.Error("APP13 city still in the output")
			}
			one, err := strip(t, in, JPEG, func() int { return 1 })
			if err != nil || !bytes.Equal(one, out) {
				t.Errorf("1-byte writes: equal=%v err=%v", bytes.Equal(one, out), err)
			}
		})
	}
}

// TestStripLocationXMPAfterAPP2: metadata after an APP2 (where MPF sits)
// is blanked at its length, so nothing after it moves.
func TestStripLocationXMPAfterAPP2(t *testing.T) {
	xmp := append([]byte(xmpID), `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>`+
		`<rdf:Description exif:GPSLatitude="51,30.441N" photoshop:City="London"/></rdf:RDF></x:xmpmeta>`+
		"                                        <?xpacket end=\"w\"?>"...)
	ext := append([]byte(xmpExtendedID), "0123456789ABCDEF0123456789ABCDEF\x00\x00\x01\x00\x00\x00\x00\x00<rdf:li>GPSLatitude 51N</rdf:li>"...)
	irb := []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0e\x1c\x02\x5a\x00\x06London")
	segs := [][]byte{
		exifGPS(binary.BigEndian, 6),
		jpegSegment(0xE2, []byte("MPF\x00MM\x00*\x00\x00\x00\x08 stands in for an index")),
		jpegSegment(0xE1, xmp),
		jpegSegment(0xE1, ext),
		jpegSegment(0xED, irb),
	}
	in := jpegInsert(encJPEG(t, scene(64, 48), 90), segs...)
	out, err := strip(t, in, JPEG, nil)
	if err != nil {
		t.Fatal(err)
	}
	if i := sameOutside(t, in, out, segs[0], xmp[len(xmpID):], ext, irb); i >= 0 {
		t.Errorf("byte %d changed outside the metadata payloads", i)
	}
	hIn, hOut := jpegHeader(t, in), jpegHeader(t, out)
	if len(hIn) != len(hOut) {
		t.Fatalf("%d segments, were %d", len(hOut), len(hIn))
	}
	for i := range hIn {
		if hIn[i].marker != hOut[i].marker || hIn[i].at != hOut[i].at || len(hIn[i].payload) != len(hOut[i].payload) {
			t.Errorf("segment %d: 0x%02X at %d, %d bytes; was 0x%02X at %d, %d bytes", i,
				hOut[i].marker, hOut[i].at, len(hOut[i].payload), hIn[i].marker, hIn[i].at, len(hIn[i].payload))
		}
	}
	x, ok := bytes.CutPrefix(hOut[2].payload, []byte(xmpID))
	if !ok {
		t.Fatalf("XMP lost its identifier: %.40q", hOut[3].payload)
	}
	checkBlankXMP(t, x)
	for _, i := range []int{3, 4} {
		if p := hOut[i].payload; len(bytes.Trim(p, "\x00")) != 0 {
			t.Errorf("segment 0x%02X not zeroed: %.40q", hOut[i].marker, p)
		}
	}
	for _, leak := range []string{"GPS", "London", "51N"} {
		if bytes.Contains(out, []byte(leak)) {
			t.Errorf("output still contains %q", leak)
		}
	}
}

// FuzzStripLocationJPEG: whatever the bytes, 1-byte writes give what one
// write gives, and a JPEG the filter accepts keeps its length.
func FuzzStripLocationJPEG(f *testing.F) {
	for _, c := range trailerSamples(f) {
		f.Add(c.data)
	}
	prog, _, _ := progressiveSample(f)
	f.Add(prog)
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, err1 := strip(t, data, JPEG, nil)
		bytewise, err2 := strip(t, data, JPEG, func() int { return 1 })
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(whole, bytewise) {
			t.Fatalf("1-byte writes differ: %v vs %v", err1, err2)
		}
		if err1 == nil && len(whole) != len(data) {
			t.Fatalf("output %d bytes, input %d", len(whole), len(data))
		}
	})
}
