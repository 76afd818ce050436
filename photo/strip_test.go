package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/webp"

	"qrsync/internal/flatimage"
)

// strip runs StripLocation with the given write sizes (nil: one write).
func strip(t testing.TB, data []byte, f Format, sizes func() int) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	w := StripLocation(&out, f)
	for len(data) > 0 {
		k := len(data)
		if sizes != nil {
			k = min(k, sizes())
		}
		if _, err := w.Write(data[:k]); err != nil {
			w.Close()
			return nil, err
		}
		data = data[k:]
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// gpsValues returns the out-of-line values of the GPS IFD's latitude (2)
// and longitude (4) entries, as stored in the file.
func gpsValues(t testing.TB, tiffData []byte) [][]byte {
	t.Helper()
	v := walkExif(t, tiffData)
	e, ok := v.ifd0[tagGPSIFD]
	if !ok {
		t.Fatal("no GPS IFD")
	}
	g := int(v.bo.Uint32(e[8:]))
	n := int(v.bo.Uint16(tiffData[g:]))
	var vals [][]byte
	for i := 0; i < n; i++ {
		en := tiffData[g+2+12*i:]
		tag, count := v.bo.Uint16(en[0:]), v.bo.Uint32(en[4:])
		if tag == 2 || tag == 4 {
			off := v.bo.Uint32(en[8:])
			vals = append(vals, tiffData[off:off+8*count])
		}
	}
	if len(vals) != 2 {
		t.Fatalf("found %d of latitude/longitude", len(vals))
	}
	return vals
}

// TestStripLocationGPSPhotos uses real camera JPEGs with GPS.
func TestStripLocationGPSPhotos(t *testing.T) {
	for _, name := range []string{"DSCN0010.jpg", "DSCN0012.jpg", "DSCN0021.jpg"} {
		t.Run(name, func(t *testing.T) {
			in := readShared(t, "gps/"+name)
			inTIFF, inSOS := jpegParts(t, in)
			inView := walkExif(t, inTIFF)
			if inView.gpsEntries <= 0 {
				t.Fatalf("test photo has no GPS entries")
			}
			coords := gpsValues(t, inTIFF)
			for _, c := range coords {
				if bytes.Count(in, c) != 1 {
					t.Fatalf("coordinate bytes % x occur %d times in the input", c, bytes.Count(in, c))
				}
			}

			out, err := strip(t, in, JPEG, nil)
			if err != nil {
				t.Fatal(err)
			}
			outTIFF, outSOS := jpegParts(t, out)
			outView := walkExif(t, outTIFF)
			if outView.gpsEntries != 0 {
				t.Errorf("GPS IFD has %d entries after stripping", outView.gpsEntries)
			}
			if outView.orientation() != inView.orientation() {
				t.Errorf("orientation %d, was %d", outView.orientation(), inView.orientation())
			}
			for tag, e := range inView.ifd0 {
				if outView.ifd0[tag] != e {
					t.Errorf("IFD0 tag 0x%04X changed", tag)
				}
			}
			if len(outTIFF) != len(inTIFF) {
				t.Errorf("Exif block is %d bytes, was %d: offsets would move", len(outTIFF), len(inTIFF))
			}
			if !bytes.Equal(out[outSOS:], in[inSOS:]) {
				t.Error("bytes from SOS on differ: pixel data changed")
			}
			for _, c := range coords {
				if bytes.Contains(out, c) {
					t.Errorf("coordinate bytes % x still in the output", c)
				}
			}
			// Same length, so nothing after the metadata moves.
			if len(out) != len(in) {
				t.Errorf("output is %d bytes, input %d", len(out), len(in))
			}
			xmps := 0
			for _, seg := range jpegHeader(t, out) {
				if x, ok := bytes.CutPrefix(seg.payload, []byte(xmpID)); ok {
					checkBlankXMP(t, x)
					xmps++
				}
			}
			if xmps != 1 {
				t.Errorf("%d XMP segments, want the photo's one, blanked", xmps)
			}
			if bytes.Contains(out, []byte("MicrosoftPhoto")) {
				t.Error("XMP text still in the output")
			}
			a, err := jpeg.Decode(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			b, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("output does not decode: %v", err)
			}
			if d := meanDiff(t, a, b); d != 0 {
				t.Errorf("decoded pixels differ (%.3f)", d)
			}
			// Process sees the same picture.
			i1, _, _, err1 := process(t, in, Options{})
			i2, _, _, err2 := process(t, out, Options{})
			if err1 != nil || err2 != nil || i1 != i2 {
				t.Errorf("Process: %+v %v vs %+v %v", i1, err1, i2, err2)
			}
			t.Logf("%d -> %d bytes, %d GPS entries removed", len(in), len(out), inView.gpsEntries)
		})
	}
}

// stripSamples are inputs of every format with location metadata where
// the format can carry it.
func stripSamples(t testing.TB) []struct {
	name string
	f    Format
	data []byte
} {
	sc := scene(64, 48)
	le := buildTIFF(binary.LittleEndian, 6, true)
	be := buildTIFF(binary.BigEndian, 3, true)
	xmp := []byte("<?xpacket begin='\xEF\xBB\xBF' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>" +
		"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description xmlns:exif='http://ns.adobe.com/exif/1.0/' " +
		"exif:GPSLatitude='51,30.441N' exif:GPSLongitude='0,7.76W'/></rdf:RDF></x:xmpmeta><?xpacket end='w'?>")
	jpg := encJPEG(t, sc, 90)
	jpgMeta := jpegInsert(jpg,
		jpegSegment(0xE0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00")),
		jpegSegment(0xE1, append([]byte("Exif\x00\x00"), le...)),
		jpegSegment(0xE1, append([]byte(xmpID), xmp...)),
		jpegSegment(0xE1, append([]byte(xmpExtendedID), []byte("0123456789ABCDEF0123456789ABCDEF\x00\x00\x00\x10\x00\x00\x00\x00GPSLatitude51N")...)),
		jpegSegment(0xED, []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0e\x1c\x02\x5a\x00\x06London")),
		jpegSegment(0xE2, []byte("ICC_PROFILE\x00\x01\x01fake")),
		jpegSegment(0xFE, []byte("a comment")),
		[]byte{0xFF}, // a fill byte before the next marker
	)
	pngMeta := pngInsert(t, encPNG(t, sc),
		[][]byte{
			flatimage.PNGChunk("eXIf", be),
			flatimage.PNGChunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), xmp...)),
			flatimage.PNGChunk("tEXt", []byte("Comment\x00kept as is")),
			flatimage.PNGChunk("zTXt", []byte("Raw profile type exif\x00\x00x\x9c\x03\x00\x00\x00\x00\x01")),
		},
		[][]byte{flatimage.PNGChunk("tEXt", []byte("Author\x00someone"))})
	lossy := readTestdata(t, "blue-purple-pink.lossy.webp")
	return []struct {
		name string
		f    Format
		data []byte
	}{
		{"jpeg", JPEG, jpgMeta},
		{"jpeg plain", JPEG, jpg},
		{"jpeg big-endian exif", JPEG, jpegInsert(jpg, jpegSegment(0xE1, append([]byte("Exif\x00\x00"), be...)))},
		{"jpeg trailer", JPEG, append(bytes.Clone(jpgMeta), "\xFF\xD8\xFF\xE1 trailing MPF-like data"...)},
		{"png", PNG, pngMeta},
		{"png trailer", PNG, append(bytes.Clone(pngMeta), "junk after IEND"...)},
		{"webp", WebP, extendedWebP(t, lossy, 150, 100, le, xmp)},
		{"webp odd xmp", WebP, extendedWebP(t, lossy, 150, 100, append([]byte("Exif\x00\x00"), be...), append(bytes.Clone(xmp), ' '))},
		{"webp tiny xmp", WebP, extendedWebP(t, lossy, 150, 100, nil, []byte("<x:xmp GPS/>"))},
		{"webp simple", WebP, lossy},
		{"gif", GIF, encGIF(t, sc)},
	}
}

func TestStripLocationFormats(t *testing.T) {
	for _, s := range stripSamples(t) {
		t.Run(s.name, func(t *testing.T) {
			out, err := strip(t, s.data, s.f, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, leak := range [][]byte{
				latitudeBytes(binary.LittleEndian), latitudeBytes(binary.BigEndian),
				[]byte("GPSLatitude"), []byte("London"),
			} {
				if bytes.Contains(out, leak) {
					t.Errorf("output still contains %q", leak)
				}
			}
			// What the original and the output must share.
			info1, _, _, err1 := process(t, s.data, Options{})
			info2, _, _, err2 := process(t, out, Options{})
			if err1 != nil || err2 != nil || info1 != info2 {
				t.Errorf("Process before %+v %v, after %+v %v", info1, err1, info2, err2)
			}
			switch s.f {
			case JPEG:
				_, sosIn := jpegParts(t, s.data)
				tiffOut, sosOut := jpegParts(t, out)
				if !bytes.Equal(s.data[sosIn:], out[sosOut:]) {
					t.Error("data from SOS on changed")
				}
				if tiffOut != nil {
					if v := walkExif(t, tiffOut); v.gpsEntries > 0 {
						t.Errorf("%d GPS entries left", v.gpsEntries)
					}
				}
				for _, keep := range []string{"JFIF", "ICC_PROFILE", "a comment"} {
					if bytes.Contains(s.data, []byte(keep)) && !bytes.Contains(out, []byte(keep)) {
						t.Errorf("segment %q was dropped", keep)
					}
				}
				if len(out) != len(s.data) {
					t.Errorf("JPEG length changed %d -> %d: offsets after the metadata would move", len(s.data), len(out))
				}
				// Blanked, not dropped: the same segments at the same places.
				hIn, hOut := jpegHeader(t, s.data), jpegHeader(t, out)
				if len(hIn) != len(hOut) {
					t.Fatalf("%d segments, were %d", len(hOut), len(hIn))
				}
				for i, seg := range hOut {
					if seg.marker != hIn[i].marker || seg.at != hIn[i].at || len(seg.payload) != len(hIn[i].payload) {
						t.Errorf("segment %d: 0x%02X at %d, was 0x%02X at %d", i, seg.marker, seg.at, hIn[i].marker, hIn[i].at)
					}
					if x, ok := bytes.CutPrefix(seg.payload, []byte(xmpID)); ok {
						checkBlankXMP(t, x)
					}
				}
				for _, gone := range []string{xmpExtendedID, "Photoshop 3.0"} {
					if bytes.Contains(out, []byte(gone)) {
						t.Errorf("segment %q not zeroed", gone)
					}
				}
			case PNG:
				if _, err := png.Decode(bytes.NewReader(out)); err != nil {
					t.Errorf("output does not decode: %v", err)
				}
				if i := bytes.Index(out, []byte("eXIf")); i < 0 {
					t.Error("eXIf dropped: orientation lost")
				} else if v := walkExif(t, out[i+4:]); v.gpsEntries != 0 || v.orientation() != 3 {
					t.Errorf("eXIf: %d GPS entries, orientation %d", v.gpsEntries, v.orientation())
				}
				for _, gone := range []string{"XML:com.adobe.xmp", "Raw profile type exif"} {
					if bytes.Contains(out, []byte(gone)) {
						t.Errorf("chunk %q kept", gone)
					}
				}
				for _, keep := range []string{"Comment\x00kept as is", "Author\x00someone"} {
					if !bytes.Contains(out, flatimage.PNGChunk("tEXt", []byte(keep))) {
						t.Errorf("chunk %q not copied as is", keep)
					}
				}
			case WebP:
				if len(out) != len(s.data) {
					t.Errorf("WebP length changed %d -> %d: RIFF sizes would be wrong", len(s.data), len(out))
				}
				if _, err := webp.Decode(bytes.NewReader(out)); err != nil {
					t.Errorf("output does not decode: %v", err)
				}
				cin, cout := webpChunks(t, s.data), webpChunks(t, out)
				if !bytes.Equal(cin["VP8 "], cout["VP8 "]) || !bytes.Equal(cin["VP8X"], cout["VP8X"]) {
					t.Error("image chunks changed")
				}
				if e := cout["EXIF"]; e != nil {
					v := walkExif(t, trimExifPrefix(e))
					if v.gpsEntries != 0 {
						t.Errorf("%d GPS entries left", v.gpsEntries)
					}
					if v.orientation() != walkExif(t, trimExifPrefix(cin["EXIF"])).orientation() {
						t.Error("orientation changed")
					}
				}
				if x := cout["XMP "]; x != nil {
					if len(x) >= len(xmpPacketHead)+len(xmpPacketTail) &&
						(!bytes.HasPrefix(x, []byte(xmpPacketHead)) || !bytes.HasSuffix(x, []byte(xmpPacketTail))) {
						t.Errorf("XMP not an empty packet: %q", x)
					}
					if bytes.Contains(x, []byte("GPS")) {
						t.Errorf("XMP kept: %q", x)
					}
				}
			case GIF:
				if !bytes.Equal(out, s.data) {
					t.Error("GIF changed")
				}
			}
		})
	}
}

// TestStripLocationChunking: the filter gives the same bytes however the
// input is split.
func TestStripLocationChunking(t *testing.T) {
	type sample = struct {
		name string
		f    Format
		data []byte
	}
	all := stripSamples(t)
	for _, n := range []string{"DSCN0010.jpg", "DSCN0012.jpg", "DSCN0021.jpg"} {
		all = append(all, sample{n, JPEG, readShared(t, "gps/"+n)})
	}
	all = append(all, sample{"Landscape_6", JPEG, readShared(t, "orientation/Landscape_6.jpg")})
	mpf, _ := mpfSample(t)
	_, progFile, _ := progressiveSample(t)
	all = append(all, sample{"mpf", JPEG, mpf}, sample{"progressive and appended", JPEG, progFile})
	for _, c := range trailerSamples(t) {
		all = append(all, sample{"trailer " + c.name, JPEG, c.data})
	}
	for _, s := range all {
		t.Run(s.name, func(t *testing.T) {
			want, err := strip(t, s.data, s.f, nil)
			if err != nil {
				t.Fatal(err)
			}
			one, err := strip(t, s.data, s.f, func() int { return 1 })
			if err != nil || !bytes.Equal(one, want) {
				t.Errorf("1-byte writes: equal=%v err=%v", bytes.Equal(one, want), err)
			}
			for seed := uint64(0); seed < 5; seed++ {
				rng := rand.New(rand.NewPCG(seed, 99))
				max := []int{3, 17, 300, 5000, 70000}[seed]
				got, err := strip(t, s.data, s.f, func() int { return 1 + rng.IntN(max) })
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("random splits (seed %d): equal=%v err=%v", seed, bytes.Equal(got, want), err)
				}
			}
		})
	}
}

func TestStripLocationMalformed(t *testing.T) {
	jpg := encJPEG(t, scene(32, 32), 90)
	_, sos := jpegParts(t, jpg)
	lossy := readTestdata(t, "blue-purple-pink.lossy.webp")
	overrun := bytes.Clone(lossy)
	binary.LittleEndian.PutUint32(overrun[16:], 1<<20) // VP8 chunk bigger than the RIFF
	bigExif := flatimage.RIFF(flatimage.RIFFChunk("VP8X", make([]byte, 10)), flatimage.RIFFChunk("EXIF", make([]byte, maxExifChunk+1)))
	tests := []struct {
		name string
		f    Format
		data []byte
	}{
		{"jpeg without SOI", JPEG, []byte("not a jpeg at all")},
		{"jpeg ends in header", JPEG, jpg[:sos-10]},
		{"jpeg garbage between segments", JPEG, append(append(bytes.Clone(jpg[:2]), 0x00, 0x01), jpg[2:]...)},
		{"jpeg short segment length", JPEG, append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01}, jpg[2:]...)},
		{"jpeg stuffed zero marker", JPEG, append([]byte{0xFF, 0xD8, 0xFF, 0x00}, jpg[2:]...)},
		{"png bad signature", PNG, []byte("\x89PNG\r\n\x1a\x00rest")},
		{"png ends before IEND", PNG, encPNG(t, scene(8, 8))[:40]},
		{"png chunk length overflow", PNG, append([]byte(pngSignature), 0xFF, 0xFF, 0xFF, 0xFF, 'I', 'D', 'A', 'T')},
		{"webp bad header", WebP, []byte("RIFF\x04\x00\x00\x00WAVE")},
		{"webp chunk overruns", WebP, overrun},
		{"webp truncated", WebP, lossy[:100]},
		{"webp huge exif", WebP, bigExif},
		{"unknown format", Format("svg"), []byte("<svg/>")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := strip(t, tt.data, tt.f, nil)
			if err == nil {
				t.Fatal("malformed input accepted")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("err = %v", err)
			}
			_, err1 := strip(t, tt.data, tt.f, func() int { return 1 })
			if err1 == nil {
				t.Error("1-byte writes accepted it")
			}
		})
	}
	// After the first scan a fault is not the filter's to judge (the
	// decoder may well skip it): the bytes are copied as they are.
	for name, data := range map[string][]byte{
		"truncated after SOS":   jpg[:sos+10],
		"SOI inside the scan":   append(bytes.Clone(jpg[:sos+40]), jpg...),
		"bad segment after SOS": append(bytes.Clone(jpg[:sos+40]), 0xFF, 0xC4, 0x00, 0x03, 0x00, 0x12, 0x34),
	} {
		t.Run(name+" is copied", func(t *testing.T) {
			for _, size := range []func() int{nil, func() int { return 1 }} {
				out, err := strip(t, data, JPEG, size)
				if err != nil || !bytes.Equal(out, data) {
					t.Errorf("err=%v equal=%v", err, bytes.Equal(out, data))
				}
			}
		})
	}
}

func TestStripLocationWriteErrors(t *testing.T) {
	errDisk := errors.New("disk full")
	data := readShared(t, "gps/DSCN0010.jpg")
	w := StripLocation(failWriter{errDisk}, JPEG)
	var err error
	for i := 0; i < len(data) && err == nil; i += 4096 {
		_, err = w.Write(data[i:min(i+4096, len(data))])
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if !errors.Is(err, errDisk) {
		t.Errorf("err = %v, want %v", err, errDisk)
	}
	if _, err := w.Write([]byte{1}); err == nil {
		t.Error("Write after Close succeeded")
	}
}

// ExampleStripLocation shows the single pass the server makes: the upload's
// bytes go once through a tee, to the store minus location metadata and,
// unchanged, to Process through a pipe.
func ExampleStripLocation() {
	var stored bytes.Buffer
	w := StripLocation(&stored, JPEG)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := Process(pr, Options{}, io.Discard)
		pr.CloseWithError(err)
		done <- err
	}()
	src := bytes.NewReader(jpegExample)
	_, err := io.Copy(io.MultiWriter(w, pw), src)
	pw.CloseWithError(err)
	if err := <-done; err != nil {
		fmt.Println("process:", err)
	}
	if err := w.Close(); err != nil {
		fmt.Println("strip:", err)
	}
	fmt.Println(stored.Len() > 0)
	// Output: true
}

var jpegExample = func() []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, scene(40, 30), nil)
	return b.Bytes()
}()

// BenchmarkStripLocationJPEG filters the 12 MP photo, with a GPS Exif
// segment, in the 32 KiB writes an upload arrives in. The filter sits
// between the network and the disk, so it must be much faster than both.
func BenchmarkStripLocationJPEG(b *testing.B) {
	data := jpegInsert(photo12MP(), jpegSegment(0xE1, append([]byte("Exif\x00\x00"), buildTIFF(binary.LittleEndian, 6, true)...)))
	const chunk = 32 << 10
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		w := StripLocation(io.Discard, JPEG)
		for p := data; len(p) > 0; {
			k := min(len(p), chunk)
			if _, err := w.Write(p[:k]); err != nil {
				b.Fatal(err)
			}
			p = p[k:]
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
