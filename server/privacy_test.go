package server_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"qrsync/internal/apptest"
	"qrsync/server"
)

// Location privacy end to end: the camera photos in the shared
// test data carry GPS coordinates. Uploaded with the defaults, their
// stored originals carry none (the coordinates' bytes are nowhere in the
// file), keep their orientation tag and their compressed pixels byte for
// byte, and their thumbnails are upright. With KeepMetadata the original
// is stored exactly as sent.
func TestLocationRemovedEndToEnd(t *testing.T) {
	paths, _ := filepath.Glob(testdata + "gps/*.jpg")
	paths = append(paths, testdata+"orientation/Landscape_6.jpg") // orientation 6, no GPS: must stay rotated right
	if len(paths) < 4 {
		t.Fatalf("shared GPS photos missing: %v", paths)
	}
	for _, keep := range []bool{false, true} {
		a := apptest.Start(t, server.Config{KeepMetadata: keep})
		s := a.NewSession()
		for _, p := range paths {
			name := filepath.Base(p)
			sent := readFile(t, p)
			ex := readExif(t, sent)
			if filepath.Dir(p) == filepath.Clean(testdata+"gps") && (ex.gpsEntries == 0 || len(ex.gpsValues) == 0) {
				t.Fatalf("%s: test photo has no GPS to remove", name)
			}
			img := a.MustUpload(s, name, sent)
			base := "/api/sessions/" + s.ID + "/images/" + img.ID
			_, stored := a.Do(http.MethodGet, base, nil, "")
			// What the API serves is what is on disk.
			if onDisk, err := os.ReadFile(filepath.Join(a.DataDir, "blobs", "sessions", s.ID, img.ID)); err != nil || !bytes.Equal(onDisk, stored) {
				t.Fatalf("%s: the served original is not the stored file (%v)", name, err)
			}

			got := readExif(t, stored)
			if keep {
				if !bytes.Equal(stored, sent) {
					t.Errorf("%s: KeepMetadata must store the file exactly as sent", name)
				}
			} else {
				if got.gpsEntries != 0 {
					t.Errorf("%s: stored original still has %d GPS entries", name, got.gpsEntries)
				}
				if len(ex.gpsValues) > 0 && bytes.Contains(stored, ex.gpsValues) {
					t.Errorf("%s: the GPS coordinates' bytes are still in the stored original", name)
				}
				if !bytes.Equal(scanData(t, stored), scanData(t, sent)) {
					t.Errorf("%s: the compressed pixels changed: location must be removed without re-encoding", name)
				}
			}
			if got.orientation != ex.orientation {
				t.Errorf("%s: orientation %d stored, %d sent", name, got.orientation, ex.orientation)
			}

			// The thumbnail is the photo as a viewer shows it, upright.
			_, thumbBytes := a.Do(http.MethodGet, base+"/thumb", nil, "")
			thumb, err := jpeg.Decode(bytes.NewReader(thumbBytes))
			if err != nil {
				t.Fatalf("%s: thumbnail: %v", name, err)
			}
			want := uprightReference(t, sent, ex.orientation)
			tb := thumb.Bounds()
			if img.Width != want.Bounds().Dx() || img.Height != want.Bounds().Dy() || max(tb.Dx(), tb.Dy()) != 400 ||
				(tb.Dx() > tb.Dy()) != (img.Width > img.Height) {
				t.Errorf("%s: reported %dx%d, thumbnail %v; upright photo is %v", name, img.Width, img.Height, tb, want.Bounds())
			}
			// Resampling filters differ (Lanczos there, block averages here),
			// so an upright thumbnail is off by ~10 grey levels on a
			// detailed photo; a wrongly turned one by five times that.
			same, turned := meanDiffs(thumb, want)
			if same > 20 || same*3 > turned {
				t.Errorf("%s: thumbnail differs from the upright photo by %.1f (upside down: %.1f)", name, same, turned)
			}
			t.Logf("keep=%v %s: orientation %d, GPS entries %d → %d, thumbnail %v off upright by %.1f (upside down %.1f)",
				keep, name, ex.orientation, ex.gpsEntries, got.gpsEntries, tb.Size(), same, turned)
		}
	}
}

// exifFacts is what the test needs to know of a JPEG's Exif.
type exifFacts struct {
	orientation int
	gpsEntries  int
	gpsValues   []byte // the out-of-line values of the GPS IFD (the coordinates' rationals)
}

// readExif walks a JPEG's APP1 Exif by hand (independently of package
// photo, whose work it checks): IFD0's orientation and GPS pointer, and
// the GPS IFD's entry count and first out-of-line value.
func readExif(t testing.TB, j []byte) exifFacts {
	t.Helper()
	f := exifFacts{orientation: 1}
	for i := 2; i+4 <= len(j) && j[i] == 0xFF; {
		m, l := j[i+1], int(binary.BigEndian.Uint16(j[i+2:]))
		if m == 0xDA {
			break
		}
		seg := j[i+4 : i+2+l]
		i += 2 + l
		if m != 0xE1 || !bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			continue
		}
		tiff := seg[6:]
		var bo binary.ByteOrder = binary.BigEndian
		if string(tiff[:2]) == "II" {
			bo = binary.LittleEndian
		}
		entries := func(off uint32, each func(tag, typ uint16, count, val uint32, raw []byte)) int {
			n := int(bo.Uint16(tiff[off:]))
			for k := range n {
				e := tiff[int(off)+2+12*k:]
				each(bo.Uint16(e), bo.Uint16(e[2:]), bo.Uint32(e[4:]), bo.Uint32(e[8:]), e[8:12])
			}
			return n
		}
		var gps uint32
		entries(bo.Uint32(tiff[4:]), func(tag, typ uint16, count, val uint32, raw []byte) {
			switch tag {
			case 0x0112:
				f.orientation = int(bo.Uint16(raw))
			case 0x8825:
				gps = val
			}
		})
		if gps != 0 {
			f.gpsEntries = entries(gps, func(tag, typ uint16, count, val uint32, raw []byte) {
				if typ == 5 && count >= 3 && f.gpsValues == nil { // latitude or longitude: three rationals
					f.gpsValues = bytes.Clone(tiff[val : val+8*count])
				}
			})
		}
	}
	return f
}

// scanData is a JPEG from its first SOS on: the compressed pixels.
func scanData(t testing.TB, j []byte) []byte {
	t.Helper()
	for i := 2; i+4 <= len(j); {
		if j[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		if j[i+1] == 0xDA {
			return j[i:]
		}
		i += 2 + int(binary.BigEndian.Uint16(j[i+2:]))
	}
	t.Fatal("no SOS")
	return nil
}

// uprightReference decodes a JPEG with the standard library and turns it
// as EXIF orientation o says (1 and 6 are all the test photos use).
func uprightReference(t testing.TB, j []byte, o int) image.Image {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	switch o {
	case 1:
		return src
	case 6: // stored turned left: turn it 90° clockwise
		b := src.Bounds()
		dst := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
		for y := range b.Dy() {
			for x := range b.Dx() {
				dst.Set(b.Dy()-1-y, x, src.At(b.Min.X+x, b.Min.Y+y))
			}
		}
		return dst
	}
	t.Fatalf("orientation %d not handled by the test", o)
	return nil
}

// meanDiffs compares thumb with ref scaled to thumb's size by block
// averages, on grey levels (0-255): as it is, and with ref upside down.
func meanDiffs(thumb, ref image.Image) (same, turned float64) {
	tb, rb := thumb.Bounds(), ref.Bounds()
	grey := func(img image.Image, x, y int) float64 {
		r, g, b, _ := img.At(x, y).RGBA()
		return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 257
	}
	for ty := range tb.Dy() {
		for tx := range tb.Dx() {
			x0, x1 := tx*rb.Dx()/tb.Dx(), (tx+1)*rb.Dx()/tb.Dx()
			y0, y1 := ty*rb.Dy()/tb.Dy(), (ty+1)*rb.Dy()/tb.Dy()
			var acc float64
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					acc += grey(ref, rb.Min.X+x, rb.Min.Y+y)
				}
			}
			acc /= float64((x1 - x0) * (y1 - y0))
			d := grey(thumb, tb.Min.X+tx, tb.Min.Y+ty) - acc
			same += max(d, -d)
			d = grey(thumb, tb.Max.X-1-tx, tb.Max.Y-1-ty) - acc
			turned += max(d, -d)
		}
	}
	n := float64(tb.Dx() * tb.Dy())
	return same / n, turned / n
}
