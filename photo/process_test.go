package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"

	"qrsync/internal/flatimage"
)

// process runs Process over bytes and decodes the thumbnail.
func process(t testing.TB, data []byte, opt Options) (Info, image.Image, []byte, error) {
	t.Helper()
	var thumb bytes.Buffer
	info, err := Process(bytes.NewReader(data), opt, &thumb)
	if err != nil {
		if thumb.Len() != 0 {
			t.Errorf("thumbnail bytes written despite error %v", err)
		}
		return info, nil, nil, err
	}
	img, err := jpeg.Decode(bytes.NewReader(thumb.Bytes()))
	if err != nil {
		t.Fatalf("thumbnail is not a JPEG: %v", err)
	}
	return info, img, thumb.Bytes(), nil
}

func TestSniff(t *testing.T) {
	heic := readShared(t, "heic/IMG_5195.HEIC")
	ftyp := func(major string, compat ...string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compat)))
		b = append(b, "ftyp"+major+"\x00\x00\x00\x00"...)
		for _, c := range compat {
			b = append(b, c...)
		}
		return append(b, "\x00\x00\x00\x08mdat"...)
	}
	tests := []struct {
		name string
		head []byte
		want Format
		err  error
	}{
		{"jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'}, JPEG, nil},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), PNG, nil},
		{"gif87a", []byte("GIF87a\x01\x00\x01\x00"), GIF, nil},
		{"gif89a", []byte("GIF89a\x01\x00\x01\x00"), GIF, nil},
		{"webp", []byte("RIFF\x24\x00\x00\x00WEBPVP8 "), WebP, nil},
		{"heic file", heic, HEIC, nil},
		{"heic brand", ftyp("heic", "mif1", "heic"), HEIC, nil},
		{"heif mif1 only", ftyp("mif1", "mif1"), HEIC, nil},
		{"heix", ftyp("heix", "mif1", "heix"), HEIC, nil},
		{"hevc sequence", ftyp("msf1", "hevc"), "", ErrUnsupported},
		{"avif listing mif1", ftyp("avif", "mif1", "avif"), "", ErrUnsupported},
		{"avif", ftyp("avif", "mif1", "miaf", "avif"), "", ErrUnsupported},
		{"mp4", ftyp("isom", "isom", "mp41"), "", ErrUnsupported},
		{"empty", nil, "", ErrUnsupported},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "", ErrUnsupported},
		{"svg with xml decl", []byte(`<?xml version="1.0"?><svg/>`), "", ErrUnsupported},
		{"html", []byte("<!doctype html><html><body>hi"), "", ErrUnsupported},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3"), "", ErrUnsupported},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), "", ErrUnsupported},
		{"text", []byte("hello, world\n"), "", ErrUnsupported},
		{"riff not webp", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), "", ErrUnsupported},
		{"jpeg magic cut", []byte{0xFF, 0xD8}, "", ErrUnsupported},
		{"bmp", []byte("BM6\x00\x00\x00\x00\x00"), "", ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sniff(tt.head)
			if got != tt.want {
				t.Errorf("Sniff = %q, want %q", got, tt.want)
			}
			if tt.err == nil {
				if err != nil {
					t.Fatalf("Sniff error %v", err)
				}
				return
			}
			if !errors.Is(err, tt.err) || !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Sniff error %v, want %v (and ErrUnsupported)", err, tt.err)
			}
		})
	}
}

func TestErrUnsupportedNamesTheFormats(t *testing.T) {
	if !strings.Contains(ErrUnsupported.Error(), "JPEG, PNG, GIF, WebP or HEIC") {
		t.Errorf("ErrUnsupported should say what to send: %q", ErrUnsupported)
	}
}

func TestFormatNames(t *testing.T) {
	tests := []struct {
		f       Format
		ct, ext string
	}{
		{JPEG, "image/jpeg", ".jpg"},
		{PNG, "image/png", ".png"},
		{GIF, "image/gif", ".gif"},
		{WebP, "image/webp", ".webp"},
		{HEIC, "image/heic", ".heic"},
		{"svg", "application/octet-stream", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.f), func(t *testing.T) {
			if got := tt.f.ContentType(); got != tt.ct {
				t.Errorf("ContentType = %q, want %q", got, tt.ct)
			}
			if got := tt.f.Ext(); got != tt.ext {
				t.Errorf("Ext = %q, want %q", got, tt.ext)
			}
		})
	}
}

// samples are small valid images of every accepted format and shape.
func samples(t testing.TB) []struct {
	name   string
	data   []byte
	format Format
	w, h   int // displayed
	orient int
	tw, th int // thumbnail at the default size
} {
	sc := scene(600, 300)
	gray := image.NewGray(image.Rect(0, 0, 90, 120))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	cmyk := image.NewCMYK(image.Rect(0, 0, 64, 48))
	for i := range cmyk.Pix {
		cmyk.Pix[i] = uint8(i * 7)
	}
	alpha := scene(500, 500)
	for i := 3; i < len(alpha.Pix); i += 4 {
		alpha.Pix[i] = uint8(i / 4 % 256)
	}
	lossy := readTestdata(t, "blue-purple-pink.lossy.webp")
	exif6 := buildTIFF(binary.BigEndian, 6, true)
	return []struct {
		name   string
		data   []byte
		format Format
		w, h   int
		orient int
		tw, th int
	}{
		{"jpeg", encJPEG(t, sc, 90), JPEG, 600, 300, 1, 400, 200},
		{"jpeg gray", encJPEG(t, gray, 90), JPEG, 90, 120, 1, 90, 120},
		{"jpeg cmyk", encJPEG(t, cmyk, 90), JPEG, 64, 48, 1, 64, 48},
		{"jpeg exif 6", jpegInsert(encJPEG(t, sc, 90), jpegSegment(0xE1, append([]byte("Exif\x00\x00"), exif6...))), JPEG, 300, 600, 6, 200, 400},
		{"png rgb", encPNG(t, sc), PNG, 600, 300, 1, 400, 200},
		{"png alpha", encPNG(t, alpha), PNG, 500, 500, 1, 400, 400},
		{"png gray small", encPNG(t, gray), PNG, 90, 120, 1, 90, 120},
		{"png eXIf 8", pngInsert(t, encPNG(t, sc), [][]byte{flatimage.PNGChunk("eXIf", buildTIFF(binary.LittleEndian, 8, false))}, nil), PNG, 300, 600, 8, 200, 400},
		{"gif", encGIF(t, sc), GIF, 600, 300, 1, 400, 200},
		{"gif animated", animatedGIF(t, 40, 30), GIF, 40, 30, 1, 40, 30},
		{"webp lossy", lossy, WebP, 150, 100, 1, 150, 100},
		{"webp lossless", readTestdata(t, "gopher-doc.1bpp.lossless.webp"), WebP, 0, 0, 1, 0, 0},
		{"webp alpha vp8x", readTestdata(t, "yellow_rose.lossy-with-alpha.webp"), WebP, 400, 301, 1, 400, 301},
		{"webp exif 6", extendedWebP(t, lossy, 150, 100, exif6, nil), WebP, 100, 150, 6, 100, 150},
	}
}

func TestProcessFormats(t *testing.T) {
	for _, s := range samples(t) {
		t.Run(s.name, func(t *testing.T) {
			info, img, _, err := process(t, s.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if s.w == 0 { // size not known up front: take the decoder's word for it
				cfg, err := webp.DecodeConfig(bytes.NewReader(s.data))
				if err != nil {
					t.Fatal(err)
				}
				s.w, s.h = cfg.Width, cfg.Height
				s.tw, s.th = thumbSize(s.w, s.h, DefaultThumbSize)
			}
			want := Info{Format: s.format, Width: s.w, Height: s.h, Orientation: s.orient}
			if info != want {
				t.Errorf("Info = %+v, want %+v", info, want)
			}
			if b := img.Bounds(); b.Dx() != s.tw || b.Dy() != s.th {
				t.Errorf("thumbnail %dx%d, want %dx%d", b.Dx(), b.Dy(), s.tw, s.th)
			}
		})
	}
}

// TestProcessOrientedContent checks that the synthetic rotated samples
// come out looking like the upright scene, not just with swapped sizes.
func TestProcessOrientedContent(t *testing.T) {
	sc := scene(600, 300)
	// Store the scene rotated 90° counter-clockwise and tag it 6 ("rotate
	// 90° clockwise to display"): the thumbnail must be the upright scene.
	stored := imaging.Rotate90(sc)
	exif := append([]byte("Exif\x00\x00"), buildTIFF(binary.LittleEndian, 6, false)...)
	data := jpegInsert(encJPEG(t, stored, 95), jpegSegment(0xE1, exif))
	info, img, _, err := process(t, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 600 || info.Height != 300 {
		t.Fatalf("Info %+v", info)
	}
	want := imaging.Resize(sc, 400, 200, imaging.Lanczos)
	if d := meanDiff(t, img, want); d > 4 {
		t.Errorf("oriented thumbnail differs from upright scene by %.1f", d)
	}
	if d := meanDiff(t, img, imaging.Rotate180(want)); d < 20 {
		t.Errorf("test cannot tell orientations apart (%.1f)", d)
	}
}

// orientationThreshold is the largest mean difference (0..255 per channel)
// between a thumbnail and the upright reference that counts as "the same
// picture". JPEG noise and resampling give about 1; any wrong orientation
// of these photos gives 20 or more (checked below).
const orientationThreshold = 6

func TestProcessOrientationPhotos(t *testing.T) {
	thumbOf := func(t *testing.T, n int) (Info, image.Image) {
		data := readShared(t, fmt.Sprintf("orientation/Landscape_%d.jpg", n))
		info, img, _, err := process(t, data, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return info, img
	}
	_, ref := thumbOf(t, 1)
	wrongs := []struct {
		name string
		f    func(image.Image) *image.NRGBA
	}{
		{"flipH", imaging.FlipH}, {"flipV", imaging.FlipV}, {"rot180", imaging.Rotate180},
	}
	for n := 0; n <= 8; n++ {
		t.Run(fmt.Sprintf("Landscape_%d", n), func(t *testing.T) {
			info, img := thumbOf(t, n)
			want := Info{Format: JPEG, Width: 1800, Height: 1200, Orientation: max(n, 1)}
			if info != want {
				t.Errorf("Info = %+v, want %+v", info, want)
			}
			if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 267 {
				t.Fatalf("thumbnail %dx%d, want 400x267", b.Dx(), b.Dy())
			}
			d := meanDiff(t, img, ref)
			t.Logf("mean difference to Landscape_1: %.2f", d)
			if d > orientationThreshold {
				t.Errorf("not upright: mean difference %.1f > %d", d, orientationThreshold)
			}
			// The threshold must reject a wrong orientation of the same
			// thumbnail, or the check above proves nothing.
			for _, w := range wrongs {
				if d := meanDiff(t, w.f(img), ref); d <= orientationThreshold {
					t.Errorf("%s of the thumbnail passes the threshold (%.1f)", w.name, d)
				}
			}
		})
	}
	// And the thumbnail made while ignoring the tag (as a naive pipeline
	// would) fails it for every tagged photo whose stored shape matches.
	for _, n := range []int{2, 3, 4} {
		t.Run(fmt.Sprintf("unoriented_%d", n), func(t *testing.T) {
			img, err := jpeg.Decode(bytes.NewReader(readShared(t, fmt.Sprintf("orientation/Landscape_%d.jpg", n))))
			if err != nil {
				t.Fatal(err)
			}
			raw := resize(img, DefaultThumbSize)
			if d := meanDiff(t, raw, ref); d <= orientationThreshold {
				t.Errorf("unoriented Landscape_%d passes the threshold (%.1f)", n, d)
			}
		})
	}
}

// minimalPNG is a PNG whose IHDR says w x h and whose IDAT holds a few
// bytes: valid up to the header, cheap to build, expensive only if decoded.
func minimalPNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	b := []byte(pngSignature)
	b = append(b, flatimage.PNGChunk("IHDR", ihdr)...)
	b = append(b, flatimage.PNGChunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x60, 0, 0, 0, 2, 0, 1})...)
	return append(b, flatimage.PNGChunk("IEND", nil)...)
}

// jpegWithSize patches the dimensions in a JPEG's SOF0.
func jpegWithSize(t testing.TB, j []byte, w, h int) []byte {
	t.Helper()
	out := bytes.Clone(j)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	binary.BigEndian.PutUint16(out[i+5:], uint16(h))
	binary.BigEndian.PutUint16(out[i+7:], uint16(w))
	return out
}

func TestProcessErrors(t *testing.T) {
	sc := scene(120, 80)
	jpg := encJPEG(t, sc, 90)
	pngData := encPNG(t, sc)
	gifData := encGIF(t, sc)
	lossy := readTestdata(t, "blue-purple-pink.lossy.webp")
	lossless := readTestdata(t, "gopher-doc.1bpp.lossless.webp")
	_, sos := jpegParts(t, jpg)
	corrupt := func(b []byte, at int, v byte) []byte {
		c := bytes.Clone(b)
		c[at] = v
		return c
	}
	// A JPEG with more APPn bytes before SOF than MaxHeaderBytes.
	var big [][]byte
	for n := 0; n*65533 <= MaxHeaderBytes; n++ {
		big = append(big, jpegSegment(0xE2, make([]byte, 65533)))
	}
	animated := flatimage.RIFF(flatimage.RIFFChunk("VP8X", []byte{0x02, 0, 0, 0, 9, 0, 0, 9, 0, 0}), flatimage.RIFFChunk("ANIM", make([]byte, 6)))

	tests := []struct {
		name string
		data []byte
		opt  Options
		want error
	}{
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"), Options{}, ErrUnsupported},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`), Options{}, ErrUnsupported},
		{"html", []byte("<html><script>alert(1)</script></html>"), Options{}, ErrUnsupported},
		{"pdf", []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"), Options{}, ErrUnsupported},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), Options{}, ErrUnsupported},
		{"empty", nil, Options{}, ErrUnsupported},
		{"text", []byte("just some text"), Options{}, ErrUnsupported},
		{"animated webp", animated, Options{}, ErrUnsupported},

		{"jpeg truncated in header", jpg[:sos/2], Options{}, ErrCorrupt},
		{"jpeg header only", jpg[:sos+20], Options{}, ErrCorrupt},
		{"jpeg data truncated", jpg[:sos+(len(jpg)-sos)/2], Options{}, ErrCorrupt},
		{"jpeg zero width", jpegWithSize(t, jpg, 0, 80), Options{}, ErrCorrupt},
		{"jpeg bad marker", corrupt(jpg, 3, 0x02), Options{}, ErrCorrupt},
		{"jpeg header too large", jpegInsert(jpg, big...), Options{}, ErrCorrupt},
		{"jpeg magic only", jpg[:3], Options{}, ErrCorrupt},
		{"png truncated", pngData[:len(pngData)/2], Options{}, ErrCorrupt},
		{"png bad crc", corrupt(pngData, len(pngData)-20, pngData[len(pngData)-20]^0xFF), Options{}, ErrCorrupt},
		{"png zero size", minimalPNG(0, 10), Options{}, ErrCorrupt},
		{"png signature only", pngData[:8], Options{}, ErrCorrupt},
		{"gif truncated", gifData[:len(gifData)/2], Options{}, ErrCorrupt},
		{"gif bad lzw width", corrupt(gifData, bytes.Index(gifData, []byte{0x2C, 0, 0, 0, 0})+10, 0xFF), Options{}, ErrCorrupt},
		{"gif header only", gifData[:13], Options{}, ErrCorrupt},
		{"webp truncated", lossy[:len(lossy)/2], Options{}, ErrCorrupt},
		{"webp lossless truncated", lossless[:len(lossless)-40], Options{}, ErrCorrupt},
		{"webp bad vp8 start code", corrupt(lossy, 23, 0x00), Options{}, ErrCorrupt},
		{"webp header only", lossy[:12], Options{}, ErrCorrupt},

		{"png 20000x20000", minimalPNG(20000, 20000), Options{}, ErrTooManyPixels},
		{"jpeg 65535x65535", jpegWithSize(t, jpg, 65535, 65535), Options{}, ErrTooManyPixels},
		{"gif over limit", gifData, Options{MaxPixels: 120*80 - 1}, ErrTooManyPixels},
		{"webp over limit", lossy, Options{MaxPixels: 100}, ErrTooManyPixels},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := process(t, tt.data, tt.opt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrUnsupported, ErrTooManyPixels, ErrCorrupt} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("err %v is also %v", err, other)
				}
			}
			t.Logf("%v", err)
		})
	}
}

// TestProcessPixelLimitBeforeDecode: a tiny file announcing 400
// megapixels is refused at once, without allocating its pixels.
func TestProcessPixelLimitBeforeDecode(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"png 20000x20000", minimalPNG(20000, 20000)},
		{"jpeg 65535x65535", jpegWithSize(t, encJPEG(t, scene(16, 16), 80), 65535, 65535)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Process(bytes.NewReader(tt.data), Options{}, io.Discard)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("err = %v", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
				t.Errorf("allocated %d bytes: it decoded", alloc)
			}
			if elapsed > time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
}

// chunkReader returns at most n bytes per Read, like a slow network.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// errReaderDone is what TestProcessPipe closes its pipe's reader with.
var errReaderDone = errors.New("reader done")

// TestProcessPipe feeds every sample through an io.Pipe in small random
// chunks, as the server's tee does: the result must be the same as from
// memory, and the writer must never be left blocked.
func TestProcessPipe(t *testing.T) {
	cases := samples(t)
	// Bytes after a JPEG's end (an MPF preview, junk) are left unread: the
	// writer goes on once the reader is closed, as the server does.
	jpg := encJPEG(t, scene(300, 200), 90)
	cases = append(cases, struct {
		name   string
		data   []byte
		format Format
		w, h   int
		orient int
		tw, th int
	}{name: "jpeg with trailer", data: append(bytes.Clone(jpg), bytes.Repeat([]byte("trailer!"), 100000)...)})
	for _, s := range cases {
		t.Run(s.name, func(t *testing.T) {
			wantInfo, _, wantThumb, wantErr := process(t, s.data, Options{})
			if wantErr != nil {
				t.Fatal(wantErr)
			}
			rng := rand.New(rand.NewPCG(uint64(len(s.data)), 7))
			pr, pw := io.Pipe()
			writeErr := make(chan error, 1)
			go func() {
				data := s.data
				for len(data) > 0 {
					k := min(len(data), 1+rng.IntN(700))
					if _, err := pw.Write(data[:k]); err != nil {
						writeErr <- err
						return
					}
					data = data[k:]
				}
				writeErr <- pw.Close()
			}()
			var thumb bytes.Buffer
			info, err := Process(pr, Options{}, &thumb)
			if err != nil {
				t.Fatal(err)
			}
			pr.CloseWithError(errReaderDone)
			select {
			case err := <-writeErr:
				// A JPEG's reader may stop at its end, refusing the rest.
				isJPEG := bytes.HasPrefix(s.data, []byte{0xFF, 0xD8})
				if err != nil && !(isJPEG && errors.Is(err, errReaderDone)) {
					t.Fatalf("writer: %v", err)
				}
				if s.name == "jpeg with trailer" && err == nil {
					t.Error("the 800 kB after the JPEG's end were read: the thumbnail waited for them")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("writer still blocked after Process returned: input not drained")
			}
			if info != wantInfo {
				t.Errorf("Info over pipe %+v, from memory %+v", info, wantInfo)
			}
			if !bytes.Equal(thumb.Bytes(), wantThumb) {
				t.Error("thumbnail over pipe differs from the one made from memory")
			}
			// And with 1-byte reads.
			var thumb1 bytes.Buffer
			info1, err := Process(&chunkReader{bytes.NewReader(s.data), 1}, Options{}, &thumb1)
			if err != nil || info1 != wantInfo || !bytes.Equal(thumb1.Bytes(), wantThumb) {
				t.Errorf("1-byte reads: %+v, %v, same thumbnail %v", info1, err, bytes.Equal(thumb1.Bytes(), wantThumb))
			}
		})
	}
}

// TestProcessReadError: when the upload itself fails, the error says so
// and is not mistaken for a bad image.
func TestProcessReadError(t *testing.T) {
	errAborted := errors.New("client went away")
	jpg := encJPEG(t, scene(300, 200), 90)
	// A whole JPEG is Process's success even if the stream fails after
	// its end, which Process does not read: that failure is the caller's.
	for _, cut := range []int{0, 2, 100, len(jpg) / 2, len(jpg) - 2, len(jpg)} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				pw.Write(jpg[:cut])
				pw.CloseWithError(errAborted)
			}()
			_, err := Process(pr, Options{}, io.Discard)
			if cut == len(jpg) {
				if err != nil {
					t.Fatalf("whole JPEG, then a failure: err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, errAborted) {
				t.Fatalf("err = %v, want %v", err, errAborted)
			}
			for _, s := range []error{ErrUnsupported, ErrCorrupt, ErrTooManyPixels} {
				if errors.Is(err, s) {
					t.Errorf("err %v is %v", err, s)
				}
			}
		})
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestProcessOptions(t *testing.T) {
	jpg := encJPEG(t, scene(1000, 500), 90)
	t.Run("invalid", func(t *testing.T) {
		for _, o := range []Options{{MaxPixels: -1}, {ThumbSize: -1}, {ThumbSize: MaxThumbSize + 1}, {Quality: 101}, {Quality: -5}} {
			if _, err := Process(bytes.NewReader(jpg), o, io.Discard); err == nil {
				t.Errorf("%+v accepted", o)
			}
		}
	})
	for _, tc := range []struct {
		name         string
		size, dx, dy int
	}{
		{"thumb size", 100, 100, 50},
		{"never upscales", 2000, 1000, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, img, _, err := process(t, jpg, Options{ThumbSize: tc.size})
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.dx || b.Dy() != tc.dy {
				t.Errorf("thumbnail %v, want %dx%d", b, tc.dx, tc.dy)
			}
		})
	}
	t.Run("quality", func(t *testing.T) {
		_, _, lo, err1 := process(t, jpg, Options{Quality: 10})
		_, _, hi, err2 := process(t, jpg, Options{Quality: 100})
		if err1 != nil || err2 != nil || len(lo) >= len(hi) {
			t.Errorf("quality 10: %d bytes, quality 100: %d bytes (%v, %v)", len(lo), len(hi), err1, err2)
		}
	})
	t.Run("pixel limit is inclusive", func(t *testing.T) {
		if _, _, _, err := process(t, jpg, Options{MaxPixels: 1000 * 500}); err != nil {
			t.Errorf("exactly at the limit: %v", err)
		}
	})
	t.Run("thumb write error", func(t *testing.T) {
		errDisk := errors.New("disk full")
		_, err := Process(bytes.NewReader(jpg), Options{}, failWriter{errDisk})
		if !errors.Is(err, errDisk) || errors.Is(err, ErrCorrupt) {
			t.Errorf("err = %v", err)
		}
	})
}

// TestProcessTransparency: transparent pixels become white, not black.
func TestProcessTransparency(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 50, 50)) // all transparent black
	for x := 0; x < 25; x++ {
		for y := 0; y < 50; y++ {
			img.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 255})
		}
	}
	_, th, _, err := process(t, encPNG(t, img), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, g, b, _ := th.At(40, 25).RGBA()
	if r>>8 < 240 || g>>8 < 240 || b>>8 < 240 {
		t.Errorf("transparent area is %d,%d,%d, want white", r>>8, g>>8, b>>8)
	}
	r, g, b, _ = th.At(10, 25).RGBA()
	if r>>8 < 200 || g>>8 > 60 || b>>8 > 60 {
		t.Errorf("opaque red area is %d,%d,%d", r>>8, g>>8, b>>8)
	}
}

// TestProcessGIFFirstFrame: the first frame is used, placed on the full
// logical screen even when it covers only part of it.
func TestProcessGIFFirstFrame(t *testing.T) {
	_, th, _, err := process(t, animatedGIF(t, 40, 30), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _, b, _ := th.At(20, 15).RGBA(); r>>8 < 200 || b>>8 > 60 {
		t.Errorf("first frame is red, got %d,_,%d", r>>8, b>>8)
	}
	// A frame at (10,10)-(20,20) on a 40x30 screen.
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{255, 0, 0, 255}}
	frame := image.NewPaletted(image.Rect(10, 10, 20, 20), pal)
	for i := range frame.Pix {
		frame.Pix[i] = 1
	}
	var buf bytes.Buffer
	err = gif.EncodeAll(&buf, &gif.GIF{
		Image:  []*image.Paletted{frame},
		Delay:  []int{0},
		Config: image.Config{ColorModel: pal, Width: 40, Height: 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, th2, _, err := process(t, buf.Bytes(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 40 || info.Height != 30 || th2.Bounds().Dx() != 40 || th2.Bounds().Dy() != 30 {
		t.Errorf("Info %+v, thumbnail %v", info, th2.Bounds())
	}
	if r, _, _, _ := th2.At(15, 15).RGBA(); r>>8 < 200 {
		t.Errorf("frame not drawn at its place")
	}
	if r, g, b, _ := th2.At(2, 2).RGBA(); r>>8 < 240 || g>>8 < 240 || b>>8 < 240 {
		t.Errorf("outside the frame should be white (transparent), got %d,%d,%d", r>>8, g>>8, b>>8)
	}
}

// TestTwoStepQuality: the box pre-reduction is not visible next to a
// one-step Lanczos resize of the whole image, on a real photo.
func TestTwoStepQuality(t *testing.T) {
	img, err := jpeg.Decode(bytes.NewReader(readShared(t, "orientation/Landscape_1.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{400, 200, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			one := resizeWith(img, size, imaging.Lanczos, false)
			two := resize(img, size)
			d := meanDiff(t, one, two)
			t.Logf("two-step vs one-step Lanczos at %d px: mean difference %.2f", size, d)
			if d > 1.5 {
				t.Errorf("two-step thumbnail differs by %.2f", d)
			}
		})
	}
}

func TestThumbSize(t *testing.T) {
	tests := []struct{ w, h, size, tw, th int }{
		{1800, 1200, 400, 400, 267},
		{1200, 1800, 400, 267, 400},
		{4000, 3000, 400, 400, 300},
		{400, 300, 400, 400, 300},
		{10, 10, 400, 10, 10},
		{10000, 1, 400, 400, 1},
		{1, 10000, 400, 1, 400},
		{65535, 65535, 400, 400, 400},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d", tt.w, tt.h), func(t *testing.T) {
			if tw, th := thumbSize(tt.w, tt.h, tt.size); tw != tt.tw || th != tt.th {
				t.Errorf("thumbSize = %dx%d, want %dx%d", tw, th, tt.tw, tt.th)
			}
		})
	}
}

// TestBoxReduceSubsampling: every YCbCr layout reduces to the same colours
// as converting first.
func TestBoxReduceSubsampling(t *testing.T) {
	src := scene(203, 157) // odd sizes: partial edge blocks
	for _, r := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		t.Run(r.String(), func(t *testing.T) {
			y := image.NewYCbCr(src.Rect, r)
			for py := 0; py < 157; py++ {
				for px := 0; px < 203; px++ {
					c := src.NRGBAAt(px, py)
					yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
					y.Y[y.YOffset(px, py)] = yy
					y.Cb[y.COffset(px, py)] = cb
					y.Cr[y.COffset(px, py)] = cr
				}
			}
			got := boxReduce(y, 5)
			// Reference: convert to RGB first, then average 5x5 blocks
			// (41x32 of them, the last column and row cut short).
			rgb := imaging.Clone(y)
			want := image.NewNRGBA(image.Rect(0, 0, 41, 32))
			for oy := 0; oy < 32; oy++ {
				for ox := 0; ox < 41; ox++ {
					var sum [3]int
					n := 0
					for py := oy * 5; py < min(oy*5+5, 157); py++ {
						for px := ox * 5; px < min(ox*5+5, 203); px++ {
							c := rgb.NRGBAAt(px, py)
							sum[0], sum[1], sum[2] = sum[0]+int(c.R), sum[1]+int(c.G), sum[2]+int(c.B)
							n++
						}
					}
					want.SetNRGBA(ox, oy, color.NRGBA{uint8(sum[0] / n), uint8(sum[1] / n), uint8(sum[2] / n), 255})
				}
			}
			if d := meanDiff(t, got, want); d > 1.5 {
				t.Errorf("mean difference %.2f", d)
			}
		})
	}
}
