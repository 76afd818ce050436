package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"qrsync/internal/flatimage"
)

// fuzzMaxPixels keeps every decode in the fuzzer small, so that the
// allocation bound below is meaningful.
const fuzzMaxPixels = 1 << 16

// fuzzAllocBound is the most one Process call may allocate with
// fuzzMaxPixels: a decoded image of 64 Ki pixels at up to 8 bytes each, the
// resize buffers, the read buffer and the decoders' tables fit with room to
// spare; the header recording is bounded by the input, which the fuzzer
// keeps small.
const fuzzAllocBound = 24 << 20

// fuzzSlow: an input this slow would be a cheap way to hold a worker.
const fuzzSlow = 3 * time.Second

func fuzzSeeds(f *testing.F) {
	sc := scene(40, 30)
	jpg := encJPEG(f, sc, 80)
	f.Add(jpg)
	f.Add(jpegInsert(jpg, jpegSegment(0xE1, append([]byte("Exif\x00\x00"), buildTIFF(binary.BigEndian, 6, true)...))))
	f.Add(encPNG(f, sc))
	f.Add(pngInsert(f, encPNG(f, sc), [][]byte{flatimage.PNGChunk("eXIf", buildTIFF(binary.LittleEndian, 8, true))}, nil))
	f.Add(encGIF(f, sc))
	f.Add(animatedGIF(f, 8, 8))
	lossy := readTestdata(f, "blue-purple-pink.lossy.webp")
	f.Add(lossy)
	f.Add(readTestdata(f, "gopher-doc.1bpp.lossless.webp"))
	f.Add(extendedWebP(f, lossy, 150, 100, buildTIFF(binary.LittleEndian, 5, true), []byte("<x/>")))
	f.Add(minimalPNG(300, 200))
	f.Add([]byte("\xFF\xD8\xFF"))
	f.Add([]byte("GIF89a"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8X"))
	f.Add([]byte(""))
	// HEIC: a single image (over fuzzMaxPixels, so its header is what is
	// fuzzed) and one with Exif (GPS) and XMP items.
	f.Add(readTestdata(f, "heic-640x480.heic"))
	f.Add(readTestdata(f, "heic-gps.heic")[:4096])
	f.Add([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic\x00\x00\x00\x08meta"))
}

// FuzzProcess: Process never panics (a decoder panic it recovers still
// fails the fuzz, to be looked at), never allocates beyond a bound, and
// either succeeds with a sane Info or returns one of the sentinels.
func FuzzProcess(f *testing.F) {
	fuzzSeeds(f)
	opt := Options{MaxPixels: fuzzMaxPixels, ThumbSize: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var thumb bytes.Buffer
		start := time.Now()
		info, err := Process(bytes.NewReader(data), opt, &thumb)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		if elapsed > fuzzSlow {
			t.Fatalf("took %v for a %d-byte input (%+v, %v)", elapsed, len(data), info, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > fuzzAllocBound {
			t.Fatalf("allocated %d bytes for a %d-byte input (%+v, %v)", alloc, len(data), info, err)
		}
		if err != nil {
			if strings.Contains(err.Error(), "decoder failed") {
				t.Fatalf("recovered panic: %v", err)
			}
			if !isSentinel(err) {
				t.Fatalf("error %v is none of the sentinels", err)
			}
			return
		}
		if info.Width <= 0 || info.Height <= 0 || int64(info.Width)*int64(info.Height) > fuzzMaxPixels ||
			info.Orientation < 1 || info.Orientation > 8 || thumb.Len() == 0 {
			t.Fatalf("bad result %+v, %d thumbnail bytes", info, thumb.Len())
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrUnsupported, ErrCorrupt, ErrTooManyPixels} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzStripLocation: the filter never panics, gives the same result
// however the input is split, and never lengthens the input.
func FuzzStripLocation(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		format, err := Sniff(data)
		if err != nil {
			format = JPEG // exercise the parsers on anything
		}
		whole, err1 := strip(t, data, format, nil)
		split, err2 := strip(t, data, format, func() int { return 7 })
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(whole, split) {
			t.Fatalf("split writes differ: %v vs %v", err1, err2)
		}
		if err1 == nil && len(whole) > len(data) {
			t.Fatalf("output %d bytes longer than input %d", len(whole), len(data))
		}
		if err1 != nil && !isSentinel(err1) {
			t.Fatalf("error %v is none of the sentinels", err1)
		}
	})
}
