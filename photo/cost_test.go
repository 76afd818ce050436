package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"runtime"
	"testing"
	"time"

	"qrsync/internal/flatimage"
	"qrsync/photo/internal/jpegscale"
)

// sofHeader is SOI plus a frame header with the given marker (0xC0
// baseline, 0xC2 progressive) and per-component sampling factors.
func sofHeader(marker byte, w, h uint16, sampling ...byte) []byte {
	seg := []byte{8}
	seg = binary.BigEndian.AppendUint16(seg, h)
	seg = binary.BigEndian.AppendUint16(seg, w)
	seg = append(seg, byte(len(sampling)))
	for i, s := range sampling {
		seg = append(seg, byte(i+1), s, 0)
	}
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0} // SOI, a tiny APP0
	b = append(b, 0xFF, marker)
	b = binary.BigEndian.AppendUint16(b, uint16(len(seg)+2))
	return append(b, seg...)
}

func TestDecodeCost(t *testing.T) {
	const mp = 10_000_000 // 10 megapixels: 5000x2000
	tests := []struct {
		name   string
		f      Format
		model  color.Model
		header []byte
		want   int64
	}{
		{"png 8-bit RGBA", PNG, color.NRGBAModel, nil, 4 * mp},
		{"png 16-bit RGBA", PNG, color.NRGBA64Model, nil, 8 * mp},
		{"png gray", PNG, color.GrayModel, nil, mp},
		{"gif palette", GIF, color.Palette{color.Black, color.White}, nil, mp},
		{"webp lossy", WebP, color.YCbCrModel, nil, 3 * mp},
		{"unknown model counts widest", PNG, color.ModelFunc(func(c color.Color) color.Color { return c }), nil, 8 * mp},
		// JPEG planes cover whole MCUs: 313x125 of 16x16 pixels for 4:2:0.
		{"jpeg baseline 4:2:0", JPEG, color.YCbCrModel, sofHeader(0xC0, 5000, 2000, 0x22, 0x11, 0x11), 313 * 125 * 384},
		{"jpeg baseline 4:4:4", JPEG, color.YCbCrModel, sofHeader(0xC0, 5000, 2000, 0x11, 0x11, 0x11), 3 * mp},
		{"jpeg baseline gray", JPEG, color.GrayModel, sofHeader(0xC0, 5000, 2000, 0x11), mp},
		{"jpeg progressive 4:2:0", JPEG, color.YCbCrModel, sofHeader(0xC2, 5000, 2000, 0x22, 0x11, 0x11), 313 * 125 * 384 * 5},
		{"jpeg progressive 4:4:4", JPEG, color.YCbCrModel, sofHeader(0xC2, 5000, 2000, 0x11, 0x11, 0x11), 15 * mp},
		{"jpeg without a frame header", JPEG, color.YCbCrModel, []byte{0xFF, 0xD8}, 3 * mp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeCost(tt.f, image.Config{ColorModel: tt.model, Width: 5000, Height: 2000}, tt.header)
			if got != tt.want {
				t.Errorf("cost %d, want %d", got, tt.want)
			}
		})
	}
}

// A tiny PNG whose header asks for 10000x10000 at 16 bits per channel is
// within 100 megapixels but would decode into 800 MB: it is refused from
// the header, at once.
func TestProcessRefusesDecodeOverMemoryBudget(t *testing.T) {
	ihdr := binary.BigEndian.AppendUint32(nil, 10000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 10000)
	ihdr = append(ihdr, 16, 6, 0, 0, 0) // 16-bit RGBA
	png16 := append([]byte(pngSignature), flatimage.PNGChunk("IHDR", ihdr)...)
	png16 = append(png16, flatimage.PNGChunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x60, 0, 0, 0, 2, 0, 1})...)
	png16 = append(png16, flatimage.PNGChunk("IEND", nil)...)
	start := time.Now()
	_, err := Process(bytes.NewReader(png16), Options{}, &bytes.Buffer{})
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("err = %v, want ErrTooManyPixels", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: it must be refused from the header, not decoded", d)
	}
	t.Log(err)
}

// costAllowance is what TestCostMatchesAllocation lets the estimate miss
// or exceed by regardless of size: the read buffer, decoder tables, the
// thumbnail's JPEG encoding, the recorded header. They come to ~220 KiB;
// at 1500×1000 the allowance is 0.35 bytes per pixel.
const costAllowance = 512 << 10

// TestCostMatchesAllocation decodes one input of each kind the cost model
// tells apart and checks the cost Process admits against what it really
// allocated: never below (less costAllowance), never above 2.5 times.
//
// "Allocated" is runtime.MemStats.TotalAlloc across one Process call, with
// nothing else running: it counts every byte allocated, garbage included,
// and does not depend on when the collector happens to run, unlike a
// sampled peak of HeapInuse, which a collection between two samples can
// halve and which the sampling itself disturbs. It is also what the
// budget must cover: a buffer the decoder has dropped (an Adam7 pass, the
// NRGBA a compressed alpha plane is decoded into) still occupies the heap
// until the next collection, so a budget of live bytes would be exceeded
// by every decode that leaves garbage behind.
func TestCostMatchesAllocation(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes some 50 images of one or more megapixels")
	}
	const w, h = 1500, 1000
	type tcase struct {
		name  string
		w, h  int
		data  func(t *testing.T) []byte
		opt   Options
		boxed bool   // decoded into an image type imaging reads through At
		scale int    // the scale it is decoded at, if not 1
		typ   string // if set, the image type the decoder must return
	}
	jp := func(name string, f flatimage.JPEG) tcase {
		if f.W == 0 {
			f.W, f.H = w, h
		}
		return tcase{name: name, w: f.W, h: f.H, data: func(*testing.T) []byte { return f.Encode() }, boxed: len(f.Sampling) == 4,
			scale: jpegscale.ScaleFor(f.W, f.H, DefaultThumbSize)}
	}
	pn := func(name string, w, h, depth, ctype int, interlaced bool, extra ...[]byte) tcase {
		return tcase{name: name, w: w, h: h, data: func(t *testing.T) []byte {
			return mustBuild(flatimage.PNG(w, h, depth, ctype, interlaced, extra...))(t)
		}}
	}
	webp := func(name string, w, h int, boxed bool, data func() []byte) tcase {
		return tcase{name: name, w: w, h: h, data: func(*testing.T) []byte { return data() }, boxed: boxed}
	}
	trnsGray := flatimage.PNGChunk("tRNS", []byte{0, 0})
	trnsRGB := flatimage.PNGChunk("tRNS", make([]byte, 6))
	grey := [4]byte{0xFF, 0x80, 0x80, 0x80}
	half := [4]byte{0x00, 0x00, 0x80, 0x00} // green is the alpha value
	allTransforms := []flatimage.VP8LTransform{
		{Kind: flatimage.VP8LPredictor, Bits: 2}, {Kind: flatimage.VP8LCrossColor, Bits: 2},
		{Kind: flatimage.VP8LSubtractGreen}, {Kind: flatimage.VP8LColorIndexing, Colors: 16},
	}
	typed := func(typ string, tc tcase) tcase {
		tc.typ = typ
		return tc
	}
	alph := func(compression byte, body []byte) []byte {
		return flatimage.RIFFChunk("ALPH", append([]byte{compression}, body...))
	}

	tests := []tcase{
		jp("jpeg baseline 4:2:0", flatimage.JPEG{Sampling: []byte{0x22, 0x11, 0x11}, JFIF: true}),
		jp("jpeg baseline 4:2:0 4000x3000", flatimage.JPEG{W: 4000, H: 3000, Sampling: []byte{0x22, 0x11, 0x11}, JFIF: true}),
		jp("jpeg baseline 4:2:2", flatimage.JPEG{Sampling: []byte{0x21, 0x11, 0x11}, JFIF: true}),
		jp("jpeg baseline 4:4:4", flatimage.JPEG{Sampling: []byte{0x11, 0x11, 0x11}, JFIF: true}),
		jp("jpeg baseline 4:4:0", flatimage.JPEG{Sampling: []byte{0x12, 0x11, 0x11}, JFIF: true}),
		jp("jpeg baseline 4:1:1", flatimage.JPEG{Sampling: []byte{0x41, 0x11, 0x11}, JFIF: true}),
		jp("jpeg baseline 4:1:0", flatimage.JPEG{Sampling: []byte{0x42, 0x11, 0x11}, JFIF: true}),
		jp("jpeg baseline grey", flatimage.JPEG{Sampling: []byte{0x11}, JFIF: true}),
		jp("jpeg baseline odd size 4:2:0", flatimage.JPEG{W: 1501, H: 999, Sampling: []byte{0x22, 0x11, 0x11}}),
		jp("jpeg progressive 4:2:0", flatimage.JPEG{Progressive: true, Sampling: []byte{0x22, 0x11, 0x11}, JFIF: true}),
		jp("jpeg progressive 4:4:4", flatimage.JPEG{Progressive: true, Sampling: []byte{0x11, 0x11, 0x11}, JFIF: true}),
		jp("jpeg progressive 4:2:2", flatimage.JPEG{Progressive: true, Sampling: []byte{0x21, 0x11, 0x11}}),
		jp("jpeg progressive grey", flatimage.JPEG{Progressive: true, Sampling: []byte{0x11}}),
		typed("*image.CMYK", jp("jpeg cmyk", flatimage.JPEG{Sampling: []byte{0x11, 0x11, 0x11, 0x11}, Adobe: true})),
		typed("*image.CMYK", jp("jpeg ycck", flatimage.JPEG{Sampling: []byte{0x22, 0x11, 0x11, 0x22}, Adobe: true, Transform: 2})),
		jp("jpeg cmyk progressive", flatimage.JPEG{Progressive: true, Sampling: []byte{0x11, 0x11, 0x11, 0x11}, Adobe: true}),
		typed("*image.RGBA", jp("jpeg rgb", flatimage.JPEG{Sampling: []byte{0x11, 0x11, 0x11}, IDs: []byte("RGB")})),
		typed("*image.RGBA", jp("jpeg adobe rgb", flatimage.JPEG{Sampling: []byte{0x11, 0x11, 0x11}, Adobe: true})),
		{name: "jpeg image/jpeg", w: 1200, h: 900, data: func(t *testing.T) []byte { return encJPEG(t, scene(1200, 900), 90) }},

		pn("png grey", w, h, 8, 0, false),
		typed("*image.NRGBA", pn("png grey tRNS", w, h, 8, 0, false, trnsGray)),
		pn("png grey 16", w, h, 16, 0, false),
		typed("*image.NRGBA64", pn("png grey 16 tRNS", w, h, 16, 0, false, trnsGray)),
		pn("png grey 1-bit", w, h, 1, 0, false),
		pn("png grey+alpha", w, h, 8, 4, false),
		pn("png rgb", w, h, 8, 2, false),
		typed("*image.NRGBA", pn("png rgb tRNS", w, h, 8, 2, false, trnsRGB)),
		pn("png rgba", w, h, 8, 6, false),
		pn("png rgba 16", w, h, 16, 6, false),
		pn("png rgb 16", w, h, 16, 2, false),
		pn("png paletted", w, h, 8, 3, false),
		pn("png paletted 4-bit", w, h, 4, 3, false),
		pn("png rgba adam7", w, h, 8, 6, true),
		pn("png grey adam7", w, h, 8, 0, true),
		pn("png rgb 16 adam7", w, h, 16, 2, true),
		pn("png panorama 20000x40", 20000, 40, 8, 0, false),
		pn("png grey twice the thumbnail", 800, 600, 8, 0, false),

		{name: "gif", w: w, h: h, data: func(t *testing.T) []byte { return mustBuild(flatimage.GIF(w, h, image.Rect(0, 0, w, h), false))(t) }},
		{name: "gif interlaced", w: w, h: h, data: func(t *testing.T) []byte { return mustBuild(flatimage.GIF(w, h, image.Rect(0, 0, w, h), true))(t) }},
		{name: "gif frame inside the screen", w: w, h: h, data: func(t *testing.T) []byte {
			return mustBuild(flatimage.GIF(w, h, image.Rect(10, 10, w-10, h-10), false))(t)
		}},

		webp("webp vp8", w, h, false, func() []byte { return flatimage.RIFF(flatimage.RIFFChunk("VP8 ", flatimage.VP8(w, h))) }),
		webp("webp vp8l", w, h, false, func() []byte { return flatimage.RIFF(flatimage.RIFFChunk("VP8L", flatimage.VP8L(w, h, true, grey))) }),
		webp("webp vp8l all transforms", w, h, false, func() []byte {
			return flatimage.RIFF(flatimage.RIFFChunk("VP8L", flatimage.VP8L(w, h, true, grey, allTransforms...)))
		}),
		webp("webp vp8l one colour", w, h, false, func() []byte {
			return flatimage.RIFF(flatimage.RIFFChunk("VP8L", flatimage.VP8L(w, h, true, grey, flatimage.VP8LTransform{Kind: flatimage.VP8LColorIndexing, Colors: 1})))
		}),
		webp("webp vp8x vp8", w, h, false, func() []byte { return flatimage.VP8XWebP(w, h, flatimage.RIFFChunk("VP8 ", flatimage.VP8(w, h))) }),
		webp("webp vp8x vp8l", w, h, false, func() []byte {
			return flatimage.VP8XWebP(w, h, flatimage.RIFFChunk("VP8L", flatimage.VP8L(w, h, true, grey)))
		}),
		typed("*image.NYCbCrA", webp("webp vp8x alph raw", w, h, true, func() []byte {
			return flatimage.VP8XWebP(w, h, alph(0, bytes.Repeat([]byte{0x80}, w*h)), flatimage.RIFFChunk("VP8 ", flatimage.VP8(w, h)))
		})),
		typed("*image.NYCbCrA", webp("webp vp8x alph vp8l", w, h, true, func() []byte {
			return flatimage.VP8XWebP(w, h, alph(1, flatimage.VP8L(w, h, false, half)), flatimage.RIFFChunk("VP8 ", flatimage.VP8(w, h)))
		})),
		webp("webp vp8x alph vp8l all transforms", w, h, true, func() []byte {
			return flatimage.VP8XWebP(w, h, alph(1, flatimage.VP8L(w, h, false, half, allTransforms...)), flatimage.RIFFChunk("VP8 ", flatimage.VP8(w, h)))
		}),
		webp("webp vp8x alph vp8l with iccp and exif", w, h, true, func() []byte {
			return flatimage.VP8XWebP(w, h, flatimage.RIFFChunk("ICCP", make([]byte, 3000)), alph(1, flatimage.VP8L(w, h, false, half)),
				flatimage.RIFFChunk("VP8 ", flatimage.VP8(w, h)), flatimage.RIFFChunk("EXIF", make([]byte, 100)))
		}),

		{name: "thumbnail as large as the image", w: 1600, h: 1200, opt: Options{ThumbSize: 1600},
			data: func(*testing.T) []byte {
				return flatimage.JPEG{W: 1600, H: 1200, Sampling: []byte{0x22, 0x11, 0x11}}.Encode()
			}},
		{name: "thumbnail 1000", w: w, h: h, opt: Options{ThumbSize: 1000},
			data: func(t *testing.T) []byte { return mustBuild(flatimage.PNG(w, h, 8, 2, false))(t) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data(t)
			if tc.typ != "" {
				img, _, err := image.Decode(bytes.NewReader(data))
				if err != nil || fmt.Sprintf("%T", img) != tc.typ {
					t.Fatalf("decodes to %T (%v), want %s", img, err, tc.typ)
				}
			}
			cost, alloc := measureProcess(t, data, tc.opt)
			if raceEnabled && tc.boxed {
				// The race detector turns off the tiny allocator: the
				// 4-byte colour imaging boxes per decoded pixel takes 16
				// bytes.
				s := max(tc.scale, 1)
				alloc -= 12 * int64((tc.w+s-1)/s) * int64((tc.h+s-1)/s)
			}
			px := float64(tc.w) * float64(tc.h)
			t.Logf("%d bytes in; allocated %.2f bytes per pixel, estimated %.2f (%.2fx, %+d KiB)",
				len(data), float64(alloc)/px, float64(cost)/px, float64(cost)/float64(alloc), (cost-alloc)>>10)
			if cost < alloc-costAllowance {
				t.Errorf("estimated %d bytes, allocated %d: %d MiB short", cost, alloc, (alloc-cost)>>20)
			}
			if cost > alloc*5/2+costAllowance {
				t.Errorf("estimated %d bytes, allocated %d: %.1f times as much", cost, alloc, float64(cost)/float64(alloc))
			}
		})
	}
}

// measureProcess runs Process on data alone and returns the cost it
// admitted and the bytes it allocated (see TestCostMatchesAllocation).
func measureProcess(t *testing.T, data []byte, opt Options) (cost, alloc int64) {
	t.Helper()
	cost = -1
	opt.Admit = func(c int64) (func(), error) {
		cost = c
		return nil, nil
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	info, err := Process(bytes.NewReader(data), opt, io.Discard)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cost != cost {
		t.Errorf("Info.Cost %d, admitted %d", info.Cost, cost)
	}
	return cost, int64(after.TotalAlloc - before.TotalAlloc)
}

// TestCostLimit: the budget of 4 bytes per allowed pixel admits ordinary
// photos at their largest and refuses what would allocate far more than
// its pixel count suggests. Nothing is decoded: an admitted image is
// stopped by Admit itself.
func TestCostLimit(t *testing.T) {
	errAdmitted := errors.New("admitted")
	var admitted int64
	opt := Options{Admit: func(cost int64) (func(), error) {
		admitted = cost
		return nil, errAdmitted
	}}
	p420 := []byte{0x22, 0x11, 0x11}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"48 MP progressive 4:2:0 JPEG", flatimage.JPEG{W: 8000, H: 6000, Progressive: true, Sampling: p420}.Encode(), errAdmitted},
		{"100 MP baseline 4:4:4 JPEG", flatimage.JPEG{W: 10000, H: 10000, Sampling: []byte{0x11, 0x11, 0x11}}.Encode(), errAdmitted},
		{"100 MP 8-bit RGBA PNG", minimalPNG(10000, 10000), errAdmitted},
		// A progressive JPEG keeps every coefficient until its last scan,
		// 4 bytes per sample whatever the scale it is decoded at: at 100 MP
		// that alone is more than the limit. (At 64 MP, 385 MB, it fits:
		// decoded at 1/8 it has no full-size planes.)
		{"64 MP progressive 4:2:0 JPEG", flatimage.JPEG{W: 9248, H: 6936, Progressive: true, Sampling: p420}.Encode(), errAdmitted},
		{"100 MP progressive 4:2:0 JPEG", flatimage.JPEG{W: 10000, H: 10000, Progressive: true, Sampling: p420}.Encode(), ErrTooManyPixels},
		{"100 MP WebP with VP8L alpha", flatimage.VP8XWebP(10000, 10000, flatimage.RIFFChunk("ALPH", []byte{1, 0})), ErrTooManyPixels},
		{"45 MP WebP with VP8L alpha", flatimage.VP8XWebP(8000, 5600, flatimage.RIFFChunk("ALPH", []byte{1, 0})), errAdmitted},
		{"100 MP GIF whose frame is not the screen", mustBuild(flatimage.GIF(10000, 10000, image.Rect(0, 0, 10, 10), false))(t), ErrTooManyPixels},
		// 100 million pixels in one row: imaging's Lanczos weights alone
		// would take 9.6 GB.
		{"100000000x1 PNG", minimalPNG(100_000_000, 1), ErrTooManyPixels},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admitted = 0
			_, err := Process(bytes.NewReader(tt.data), opt, io.Discard)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			t.Logf("%v; admitted %d MiB", err, admitted>>20)
		})
	}
}
