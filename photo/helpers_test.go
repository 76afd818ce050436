package photo

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"qrsync/internal/flatimage"
)

// sharedImages is where the project's real test photos live, relative to
// this package's directory: shared/ sits beside the repository.
const sharedImages = "../../shared/testdata/images"

func readShared(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedImages, rel))
	if err != nil {
		t.Fatalf("shared test image: %v", err)
	}
	return b
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scene is a w x h picture with content that tells orientations apart:
// colour ramps in both directions and a dark block near the top left.
func scene(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{uint8(255 * x / max(1, w-1)), uint8(255 * y / max(1, h-1)), uint8(128 + 100*math.Sin(float64(x+y)/9)), 255}
			if x < w/3 && y < h/4 {
				c = color.NRGBA{20, 20, 20, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encPNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encGIF(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, img, &gif.Options{NumColors: 256}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// animatedGIF has two frames of different colours; the first is red.
func animatedGIF(t testing.TB, w, h int) []byte {
	t.Helper()
	frame := func(c uint8) *image.Paletted {
		p := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		for i := range p.Pix {
			p.Pix[i] = c
		}
		return p
	}
	rIdx := uint8(color.Palette(palette.Plan9).Index(color.RGBA{255, 0, 0, 255}))
	bIdx := uint8(color.Palette(palette.Plan9).Index(color.RGBA{0, 0, 255, 255}))
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame(rIdx), frame(bIdx)}, Delay: []int{10, 10}})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mustBuild is the file a flatimage builder returned, failing the test
// with its error if it returned one: mustBuild(flatimage.PNG(...))(t).
func mustBuild(b []byte, err error) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// pngInsert puts extra chunks right after IHDR (before) or before IEND.
func pngInsert(t testing.TB, p []byte, before, after [][]byte) []byte {
	t.Helper()
	const ihdrEnd = 8 + 8 + 13 + 4
	iend := bytes.LastIndex(p, []byte("IEND")) - 4
	if iend < ihdrEnd {
		t.Fatal("no IEND")
	}
	out := append([]byte{}, p[:ihdrEnd]...)
	for _, c := range before {
		out = append(out, c...)
	}
	out = append(out, p[ihdrEnd:iend]...)
	for _, c := range after {
		out = append(out, c...)
	}
	return append(out, p[iend:]...)
}

// --- EXIF building -----------------------------------------------------------

// gpsLatitude is the value our synthetic GPS IFD carries: 51° 30' 26.46"
// as three RATIONALs, a byte pattern unlikely to occur by chance.
var gpsLatitude = []uint32{51, 1, 30, 1, 2646, 100}

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type ifdEntry struct {
	tag, typ uint16
	count    uint32
	value    []byte // if <= 4 bytes it goes inline
}

// buildTIFF makes an EXIF TIFF block: IFD0 with Orientation (if orient >
// 0), a Make tag, a GPS IFD pointer (if gps) and an Exif IFD pointer; the
// GPS IFD holds version, latitude ref and latitude (out of line).
func buildTIFF(bo byteOrder, orient int, gps bool) []byte {
	var b []byte
	put16 := func(v uint16) { b = bo.AppendUint16(b, v) }
	put32 := func(v uint32) { b = bo.AppendUint32(b, v) }
	if bo == binary.LittleEndian {
		b = append(b, "II*\x00"...)
	} else {
		b = append(b, "MM\x00*"...)
	}
	put32(8)
	short := func(v uint16) []byte { return bo.AppendUint16(nil, v) }
	long := func(v uint32) []byte { return bo.AppendUint32(nil, v) }

	var ifd0 []ifdEntry
	if orient > 0 {
		ifd0 = append(ifd0, ifdEntry{tagOrientation, 3, 1, short(uint16(orient))})
	}
	ifd0 = append(ifd0, ifdEntry{0x010F, 2, 8, []byte("QRSYNC!\x00")}) // Make, out of line
	gpsPtrAt := -1
	if gps {
		ifd0 = append(ifd0, ifdEntry{tagGPSIFD, 4, 1, long(0)})
		gpsPtrAt = len(ifd0) - 1
	}
	// layout: header(8) ifd0 (2+12n+4) then out-of-line data, then GPS IFD
	ifd0Size := 2 + 12*len(ifd0) + 4
	dataAt := 8 + ifd0Size
	var data []byte
	offsets := make([]uint32, len(ifd0))
	for i, e := range ifd0 {
		if len(e.value) > 4 {
			offsets[i] = uint32(dataAt + len(data))
			data = append(data, e.value...)
		}
	}
	gpsAt := dataAt + len(data)
	if gpsPtrAt >= 0 {
		ifd0[gpsPtrAt].value = long(uint32(gpsAt))
	}
	put16(uint16(len(ifd0)))
	for i, e := range ifd0 {
		put16(e.tag)
		put16(e.typ)
		put32(e.count)
		if len(e.value) > 4 {
			put32(offsets[i])
		} else {
			v := append(append([]byte{}, e.value...), 0, 0, 0, 0)
			b = append(b, v[:4]...)
		}
	}
	put32(0)
	b = append(b, data...)
	if gps {
		var lat []byte
		for _, v := range gpsLatitude {
			lat = bo.AppendUint32(lat, v)
		}
		entries := []ifdEntry{
			{0x0000, 1, 4, []byte{2, 3, 0, 0}},
			{0x0001, 2, 2, []byte("N\x00")},
			{0x0002, 5, 3, lat},
		}
		latAt := gpsAt + 2 + 12*len(entries) + 4
		put16(uint16(len(entries)))
		for _, e := range entries {
			put16(e.tag)
			put16(e.typ)
			put32(e.count)
			if len(e.value) > 4 {
				put32(uint32(latAt))
			} else {
				v := append(append([]byte{}, e.value...), 0, 0, 0, 0)
				b = append(b, v[:4]...)
			}
		}
		put32(0)
		b = append(b, lat...)
	}
	return b
}

func latitudeBytes(bo byteOrder) []byte {
	var lat []byte
	for _, v := range gpsLatitude {
		lat = bo.AppendUint32(lat, v)
	}
	return lat
}

// jpegSegment builds a JPEG marker segment.
func jpegSegment(marker byte, payload []byte) []byte {
	l := len(payload) + 2
	return append([]byte{0xFF, marker, byte(l >> 8), byte(l)}, payload...)
}

// jpegInsert puts segments right after SOI.
func jpegInsert(j []byte, segs ...[]byte) []byte {
	out := append([]byte{}, j[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, j[2:]...)
}

// --- WebP building -----------------------------------------------------------

// webpChunks splits a WebP file into its chunks.
func webpChunks(t testing.TB, b []byte) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for p := 12; p+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[p+4:]))
		if p+8+n > len(b) {
			t.Fatalf("chunk %q overruns", b[p:p+4])
		}
		m[string(b[p:p+4])] = b[p+8 : p+8+n]
		p += 8 + n + n%2
	}
	return m
}

// extendedWebP wraps the VP8 chunk of a simple lossy WebP into an extended
// (VP8X) file with optional EXIF and XMP chunks after the image data, where
// the container spec puts them.
func extendedWebP(t testing.TB, simple []byte, w, h int, exif, xmp []byte) []byte {
	t.Helper()
	vp8 := webpChunks(t, simple)["VP8 "]
	if vp8 == nil {
		t.Fatal("not a simple lossy WebP")
	}
	x := make([]byte, 10)
	if exif != nil {
		x[0] |= 1 << 3
	}
	if xmp != nil {
		x[0] |= 1 << 2
	}
	x[4], x[5], x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	x[7], x[8], x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	chunks := [][]byte{flatimage.RIFFChunk("VP8X", x), flatimage.RIFFChunk("VP8 ", vp8)}
	if exif != nil {
		chunks = append(chunks, flatimage.RIFFChunk("EXIF", exif))
	}
	if xmp != nil {
		chunks = append(chunks, flatimage.RIFFChunk("XMP ", xmp))
	}
	return flatimage.RIFF(chunks...)
}

// --- comparing ---------------------------------------------------------------

// meanDiff is the mean absolute difference per RGB channel (0..255) of two
// images of the same size.
func meanDiff(t testing.TB, a, b image.Image) float64 {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes differ: %v vs %v", a.Bounds(), b.Bounds())
	}
	var sum float64
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			sum += math.Abs(float64(r1>>8)-float64(r2>>8)) + math.Abs(float64(g1>>8)-float64(g2>>8)) +
				math.Abs(float64(b1>>8)-float64(b2>>8))
		}
	}
	return sum / float64(3*ab.Dx()*ab.Dy())
}

// --- a test-only EXIF walker, independent of exif.go ---------------------------

type exifView struct {
	ifd0       map[uint16][12]byte
	gpsEntries int // entries in the GPS IFD; -1 when there is no GPS pointer
	bo         binary.ByteOrder
}

func walkExif(t testing.TB, tiffData []byte) exifView {
	t.Helper()
	v := exifView{ifd0: map[uint16][12]byte{}, gpsEntries: -1}
	switch string(tiffData[:2]) {
	case "II":
		v.bo = binary.LittleEndian
	case "MM":
		v.bo = binary.BigEndian
	default:
		t.Fatalf("not TIFF: % x", tiffData[:4])
	}
	off := v.bo.Uint32(tiffData[4:])
	n := int(v.bo.Uint16(tiffData[off:]))
	for i := 0; i < n; i++ {
		e := [12]byte(tiffData[int(off)+2+12*i:])
		v.ifd0[v.bo.Uint16(e[:2])] = e
	}
	if e, ok := v.ifd0[tagGPSIFD]; ok {
		g := v.bo.Uint32(e[8:])
		v.gpsEntries = int(v.bo.Uint16(tiffData[g:]))
	}
	return v
}

func (v exifView) orientation() int {
	e, ok := v.ifd0[tagOrientation]
	if !ok {
		return 0
	}
	return int(v.bo.Uint16(e[8:]))
}

// jpegParts finds the first APP1 Exif payload's TIFF data and the offset
// of the SOS marker with a plain walk of the segments.
func jpegParts(t testing.TB, j []byte) (tiffData []byte, sos int) {
	t.Helper()
	for p := 2; p+4 <= len(j); {
		if j[p] != 0xFF {
			t.Fatalf("no marker at %d", p)
		}
		m := j[p+1]
		if m == 0xFF { // fill byte
			p++
			continue
		}
		if m == 0xDA {
			return tiffData, p
		}
		l := int(j[p+2])<<8 | int(j[p+3])
		if l < 2 || p+2+l > len(j) {
			t.Fatalf("bad segment length %d at %d", l, p)
		}
		seg := j[p+4 : p+2+l]
		if m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00")) && tiffData == nil {
			tiffData = seg[6:]
		}
		p += 2 + l
	}
	t.Fatal("no SOS")
	return nil, 0
}
