package photo

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestExifOrientation(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	long := func(bo byteOrder, v uint32) []byte {
		// IFD0 with one Orientation entry of type LONG.
		b := []byte("II*\x00")
		if bo == binary.BigEndian {
			b = []byte("MM\x00*")
		}
		b = bo.AppendUint32(b, 8)
		b = bo.AppendUint16(b, 1)
		b = bo.AppendUint16(b, tagOrientation)
		b = bo.AppendUint16(b, 4)
		b = bo.AppendUint32(b, 1)
		b = bo.AppendUint32(b, v)
		return bo.AppendUint32(b, 0)
	}
	tests := []struct {
		name string
		b    []byte
		want int
	}{
		{"le 6", buildTIFF(le, 6, true), 6},
		{"be 8", buildTIFF(be, 8, false), 8},
		{"with Exif prefix", append([]byte("Exif\x00\x00"), buildTIFF(le, 3, false)...), 3},
		{"absent", buildTIFF(le, 0, true), 1},
		{"zero", buildTIFF(be, 0, false), 1},
		{"out of range", buildTIFF(le, 9, false), 1},
		{"long type", long(be, 5), 5},
		{"long out of range", long(le, 1<<20|6), 1},
		{"empty", nil, 1},
		{"bad magic", []byte("XX*\x00\x08\x00\x00\x00"), 1},
		{"ifd offset past end", []byte("II*\x00\xff\xff\xff\xff"), 1},
		{"ifd offset into header", []byte("II*\x00\x02\x00\x00\x00\x00\x00"), 1},
		{"count larger than data", append([]byte("II*\x00\x08\x00\x00\x00\xff\xff"), bytes.Repeat([]byte{0x12, 0x01}, 5)...), 1},
		{"truncated entry", buildTIFF(le, 6, false)[:20], 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exifOrientation(tt.b); got != tt.want {
				t.Errorf("exifOrientation = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestClearGPS(t *testing.T) {
	for _, bo := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(bo.String(), func(t *testing.T) {
			b := buildTIFF(bo, 6, true)
			orig := bytes.Clone(b)
			if n := clearGPS(b); n != 3 {
				t.Fatalf("removed %d entries, want 3", n)
			}
			if len(b) != len(orig) {
				t.Fatal("length changed")
			}
			v := walkExif(t, b)
			if v.gpsEntries != 0 {
				t.Errorf("GPS IFD has %d entries", v.gpsEntries)
			}
			if v.orientation() != 6 || exifOrientation(b) != 6 {
				t.Error("orientation lost")
			}
			if bytes.Contains(b, latitudeBytes(bo)) || bytes.Contains(b, []byte("N\x00")) {
				t.Error("GPS values left")
			}
			if !bytes.Contains(b, []byte("QRSYNC!")) {
				t.Error("Make (another out-of-line value) was touched")
			}
			// Idempotent.
			again := bytes.Clone(b)
			if n := clearGPS(again); n != 0 || !bytes.Equal(again, b) {
				t.Error("second pass changed something")
			}
		})
	}
	t.Run("no gps", func(t *testing.T) {
		b := buildTIFF(binary.LittleEndian, 1, false)
		orig := bytes.Clone(b)
		if clearGPS(b) != 0 || !bytes.Equal(b, orig) {
			t.Error("changed a block without GPS")
		}
	})
	t.Run("hostile", func(t *testing.T) {
		// A GPS pointer to IFD0 itself, an IFD1 chain that loops, huge
		// counts and offsets: nothing may panic.
		b := buildTIFF(binary.LittleEndian, 6, true)
		gpsEntry := bytes.Index(b, []byte{0x25, 0x88, 4, 0})
		binary.LittleEndian.PutUint32(b[gpsEntry+8:], 8)
		next := 8 + 2 + 12*int(binary.LittleEndian.Uint16(b[8:]))
		binary.LittleEndian.PutUint32(b[next:], 8) // IFD0 -> IFD0
		clearGPS(b)
		for _, off := range []uint32{0, 1, 7, uint32(len(b)) - 1, uint32(len(b)), 1 << 31, 0xFFFFFFFF} {
			c := buildTIFF(binary.BigEndian, 3, true)
			binary.BigEndian.PutUint32(c[bytes.Index(c, []byte{0x88, 0x25, 0, 4})+8:], off)
			clearGPS(c)
		}
	})
}

// FuzzExif: the EXIF code never panics and clearGPS never changes the
// length of the block.
func FuzzExif(f *testing.F) {
	f.Add(buildTIFF(binary.LittleEndian, 6, true))
	f.Add(buildTIFF(binary.BigEndian, 3, true))
	f.Add([]byte("Exif\x00\x00II*\x00\x08\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		exifOrientation(b)
		c := bytes.Clone(b)
		clearGPS(c)
		if len(c) != len(b) {
			t.Fatal("length changed")
		}
	})
}
