package photo

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Tests for StripLocation on JPEG: metadata cleaned at its length, so that
// every offset holds.

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
