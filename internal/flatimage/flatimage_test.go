package flatimage_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"golang.org/x/image/webp"

	"qrsync/internal/flatimage"
)

// pal, as a wanted colour model, is any non-empty color.Palette.
var pal = color.Palette(nil)

// check decodes data with config and decode and checks the size, the
// colour model DecodeConfig reports (which does not always know what tRNS
// or VP8L chunks come later), the Go type of the decoded image and its
// colour model.
func check(t *testing.T, data []byte, decode func([]byte) (image.Image, error), config func([]byte) (image.Config, error),
	w, h int, cfgModel color.Model, typ string, model color.Model) image.Image {
	t.Helper()
	cfg, err := config(data)
	if err != nil {
		t.Fatalf("DecodeConfig: %v", err)
	}
	if cfg.Width != w || cfg.Height != h {
		t.Errorf("DecodeConfig says %dx%d, want %dx%d", cfg.Width, cfg.Height, w, h)
	}
	checkModel(t, "DecodeConfig's", cfg.ColorModel, cfgModel)
	img, err := decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got := img.Bounds(); got != image.Rect(0, 0, w, h) {
		t.Errorf("decodes to bounds %v, want %dx%d", got, w, h)
	}
	if got := fmt.Sprintf("%T", img); got != typ {
		t.Errorf("decodes to %s, want %s", got, typ)
	}
	checkModel(t, "the image's", img.ColorModel(), model)
	return img
}

func checkModel(t *testing.T, whose string, got, want color.Model) {
	t.Helper()
	gp, gotPalette := got.(color.Palette)
	_, wantPalette := want.(color.Palette)
	switch {
	case gotPalette != wantPalette:
		t.Errorf("%s colour model is %T, want %T", whose, got, want)
	case gotPalette:
		if len(gp) == 0 {
			t.Errorf("%s colour model is an empty palette", whose)
		}
	case got != want:
		t.Errorf("%s colour model is %s, want %s", whose, modelName(got), modelName(want))
	}
}

func modelName(m color.Model) string {
	for name, n := range map[string]color.Model{
		"Gray": color.GrayModel, "Gray16": color.Gray16Model, "RGBA": color.RGBAModel, "RGBA64": color.RGBA64Model,
		"NRGBA": color.NRGBAModel, "NRGBA64": color.NRGBA64Model, "YCbCr": color.YCbCrModel,
		"NYCbCrA": color.NYCbCrAModel, "CMYK": color.CMYKModel, "Alpha": color.AlphaModel,
	} {
		if n == m {
			return name
		}
	}
	return fmt.Sprintf("%T %v", m, m)
}

// flat checks that every pixel of img is want.
func flat(t *testing.T, img image.Image, want color.Color) {
	t.Helper()
	nearlyFlat(t, img, want, 0)
}

// nearlyFlat checks that every pixel of img is want, each channel within
// tol of it (out of 255).
func nearlyFlat(t *testing.T, img image.Image, want color.Color, tol int) {
	t.Helper()
	r := img.Bounds()
	wr, wg, wb, wa := want.RGBA()
	w := [4]int{int(wr), int(wg), int(wb), int(wa)}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, ca := img.At(x, y).RGBA()
			for i, c := range [4]int{int(cr), int(cg), int(cb), int(ca)} {
				if d := c - w[i]; d > tol*0x101 || d < -tol*0x101 {
					t.Fatalf("pixel (%d, %d) is %v, want %v", x, y, img.At(x, y), want)
				}
			}
		}
	}
}

func reader(f func(r *bytes.Reader) (image.Image, error)) func([]byte) (image.Image, error) {
	return func(b []byte) (image.Image, error) { return f(bytes.NewReader(b)) }
}

func configReader(f func(r *bytes.Reader) (image.Config, error)) func([]byte) (image.Config, error) {
	return func(b []byte) (image.Config, error) { return f(bytes.NewReader(b)) }
}

var (
	jpegDecode = reader(func(r *bytes.Reader) (image.Image, error) { return jpeg.Decode(r) })
	jpegConfig = configReader(func(r *bytes.Reader) (image.Config, error) { return jpeg.DecodeConfig(r) })
	pngDecode  = reader(func(r *bytes.Reader) (image.Image, error) { return png.Decode(r) })
	pngConfig  = configReader(func(r *bytes.Reader) (image.Config, error) { return png.DecodeConfig(r) })
	gifDecode  = reader(func(r *bytes.Reader) (image.Image, error) { return gif.Decode(r) })
	gifConfig  = configReader(func(r *bytes.Reader) (image.Config, error) { return gif.DecodeConfig(r) })
	webpDecode = reader(func(r *bytes.Reader) (image.Image, error) { return webp.Decode(r) })
	webpConfig = configReader(func(r *bytes.Reader) (image.Config, error) { return webp.DecodeConfig(r) })
)

func TestJPEG(t *testing.T) {
	t.Parallel()
	p420 := []byte{0x22, 0x11, 0x11}
	tests := []struct {
		name  string
		f     flatimage.JPEG
		typ   string
		model color.Model
		ratio image.YCbCrSubsampleRatio
	}{
		{"baseline 4:2:0", flatimage.JPEG{Sampling: p420, JFIF: true}, "*image.YCbCr", color.YCbCrModel, image.YCbCrSubsampleRatio420},
		{"baseline 4:2:2", flatimage.JPEG{Sampling: []byte{0x21, 0x11, 0x11}}, "*image.YCbCr", color.YCbCrModel, image.YCbCrSubsampleRatio422},
		{"baseline 4:4:4", flatimage.JPEG{Sampling: []byte{0x11, 0x11, 0x11}}, "*image.YCbCr", color.YCbCrModel, image.YCbCrSubsampleRatio444},
		{"baseline 4:4:0", flatimage.JPEG{Sampling: []byte{0x12, 0x11, 0x11}}, "*image.YCbCr", color.YCbCrModel, image.YCbCrSubsampleRatio440},
		{"baseline 4:1:1", flatimage.JPEG{Sampling: []byte{0x41, 0x11, 0x11}}, "*image.YCbCr", color.YCbCrModel, image.YCbCrSubsampleRatio411},
		{"baseline 4:1:0", flatimage.JPEG{Sampling: []byte{0x42, 0x11, 0x11}}, "*image.YCbCr", color.YCbCrModel, image.YCbCrSubsampleRatio410},
		{"baseline grey", flatimage.JPEG{Sampling: []byte{0x11}, JFIF: true}, "*image.Gray", color.GrayModel, 0},
		{"progressive 4:2:0", flatimage.JPEG{Progressive: true, Sampling: p420, JFIF: true}, "*image.YCbCr", color.YCbCrModel, image.YCbCrSubsampleRatio420},
		{"progressive 4:2:2", flatimage.JPEG{Progressive: true, Sampling: []byte{0x21, 0x11, 0x11}}, "*image.YCbCr", color.YCbCrModel, image.YCbCrSubsampleRatio422},
		{"progressive grey", flatimage.JPEG{Progressive: true, Sampling: []byte{0x11}}, "*image.Gray", color.GrayModel, 0},
		{"cmyk", flatimage.JPEG{Sampling: []byte{0x11, 0x11, 0x11, 0x11}, Adobe: true}, "*image.CMYK", color.CMYKModel, 0},
		{"ycck", flatimage.JPEG{Sampling: []byte{0x22, 0x11, 0x11, 0x22}, Adobe: true, Transform: 2}, "*image.CMYK", color.CMYKModel, 0},
		{"cmyk progressive", flatimage.JPEG{Progressive: true, Sampling: []byte{0x11, 0x11, 0x11, 0x11}, Adobe: true}, "*image.CMYK", color.CMYKModel, 0},
		{"rgb by component ids", flatimage.JPEG{Sampling: []byte{0x11, 0x11, 0x11}, IDs: []byte("RGB")}, "*image.RGBA", color.RGBAModel, 0},
		{"rgb by adobe transform 0", flatimage.JPEG{Sampling: []byte{0x11, 0x11, 0x11}, Adobe: true}, "*image.RGBA", color.RGBAModel, 0},
	}
	for _, tt := range tests {
		for _, size := range [][2]int{{640, 480}, {301, 203}, {1, 1}} {
			t.Run(fmt.Sprintf("%s %dx%d", tt.name, size[0], size[1]), func(t *testing.T) {
				t.Parallel()
				f := tt.f
				f.W, f.H = size[0], size[1]
				img := check(t, f.Encode(), jpegDecode, jpegConfig, f.W, f.H, tt.model, tt.typ, tt.model)
				if y, ok := img.(*image.YCbCr); ok && y.SubsampleRatio != tt.ratio {
					t.Errorf("subsampling %v, want %v", y.SubsampleRatio, tt.ratio)
				}
				switch img.(type) {
				case *image.YCbCr, *image.Gray:
					flat(t, img, color.Gray{0x80})
				default:
					flat(t, img, img.At(0, 0))
				}
			})
		}
	}
	t.Run("size of a 4000x3000 4:2:0", func(t *testing.T) {
		if n := len(flatimage.JPEG{W: 4000, H: 3000, Sampling: p420}.Encode()); n > 200<<10 {
			t.Errorf("%d bytes", n)
		}
	})
}

func TestPNG(t *testing.T) {
	t.Parallel()
	trnsGrey := flatimage.PNGChunk("tRNS", []byte{0, 0})
	trnsRGB := flatimage.PNGChunk("tRNS", make([]byte, 6))
	text := flatimage.PNGChunk("tEXt", []byte("Comment\x00flat"))
	tests := []struct {
		depth, colorType int
		extra            [][]byte
		cfgModel         color.Model // as the header says: DecodeConfig stops before tRNS
		typ              string
		model            color.Model
		pixel            color.Color
	}{
		{1, 0, nil, color.GrayModel, "*image.Gray", color.GrayModel, color.Black},
		{4, 0, nil, color.GrayModel, "*image.Gray", color.GrayModel, color.Black},
		{8, 0, [][]byte{text}, color.GrayModel, "*image.Gray", color.GrayModel, color.Black},
		{8, 0, [][]byte{trnsGrey}, color.GrayModel, "*image.NRGBA", color.NRGBAModel, color.Transparent},
		{16, 0, nil, color.Gray16Model, "*image.Gray16", color.Gray16Model, color.Black},
		{16, 0, [][]byte{trnsGrey}, color.Gray16Model, "*image.NRGBA64", color.NRGBA64Model, color.Transparent},
		{8, 2, nil, color.RGBAModel, "*image.RGBA", color.RGBAModel, color.Black},
		{8, 2, [][]byte{trnsRGB}, color.RGBAModel, "*image.NRGBA", color.NRGBAModel, color.Transparent},
		{16, 2, nil, color.RGBA64Model, "*image.RGBA64", color.RGBA64Model, color.Black},
		{1, 3, nil, pal, "*image.Paletted", pal, color.Gray{0x80}},
		{4, 3, nil, pal, "*image.Paletted", pal, color.Gray{0x80}},
		{8, 3, [][]byte{text}, pal, "*image.Paletted", pal, color.Gray{0x80}},
		{8, 4, nil, color.NRGBAModel, "*image.NRGBA", color.NRGBAModel, color.Transparent},
		{16, 4, nil, color.NRGBA64Model, "*image.NRGBA64", color.NRGBA64Model, color.Transparent},
		{8, 6, nil, color.NRGBAModel, "*image.NRGBA", color.NRGBAModel, color.Transparent},
		{16, 6, nil, color.NRGBA64Model, "*image.NRGBA64", color.NRGBA64Model, color.Transparent},
	}
	for _, tt := range tests {
		for _, interlaced := range []bool{false, true} {
			// 1x1 and 3x2 leave some Adam7 passes empty; 301x203 ends
			// every pass on a partial tile.
			for _, size := range [][2]int{{301, 203}, {1, 1}, {3, 2}} {
				w, h := size[0], size[1]
				t.Run(fmt.Sprintf("type %d depth %d %d extra interlaced %v %dx%d", tt.colorType, tt.depth, len(tt.extra), interlaced, w, h), func(t *testing.T) {
					t.Parallel()
					data, err := flatimage.PNG(w, h, tt.depth, tt.colorType, interlaced, tt.extra...)
					if err != nil {
						t.Fatal(err)
					}
					img := check(t, data, pngDecode, pngConfig, w, h, tt.cfgModel, tt.typ, tt.model)
					flat(t, img, tt.pixel)
				})
			}
		}
	}
	for _, bad := range [][4]int{{0, 1, 8, 0}, {1, 0, 8, 0}, {1, 1, 4, 2}, {1, 1, 16, 3}, {1, 1, 2, 4}, {1, 1, 8, 5}, {1, 1, 8, 7}, {1, 1, 0, 0}} {
		if _, err := flatimage.PNG(bad[0], bad[1], bad[2], bad[3], false); err == nil {
			t.Errorf("PNG(%d, %d, depth %d, colour type %d) gives no error", bad[0], bad[1], bad[2], bad[3])
		}
	}
}

func TestPNGBomb(t *testing.T) {
	t.Parallel()
	tests := []struct {
		depth, colorType int
		typ              string
		model            color.Model
		pixel            color.Color
	}{
		{8, 0, "*image.Gray", color.GrayModel, color.Black},
		{1, 0, "*image.Gray", color.GrayModel, color.Black},
		{16, 2, "*image.RGBA64", color.RGBA64Model, color.Black},
		{4, 3, "*image.Paletted", pal, color.Gray{0x80}},
		{8, 4, "*image.NRGBA", color.NRGBAModel, color.Transparent},
		{8, 6, "*image.NRGBA", color.NRGBAModel, color.Transparent},
		{16, 6, "*image.NRGBA64", color.NRGBA64Model, color.Transparent},
	}
	// Sizes whose image data are less than one 16 KiB block, several of
	// them, and several 1 MiB blocks and then some.
	for _, size := range [][2]int{{1, 1}, {100, 1}, {301, 203}, {1500, 1100}} {
		for _, tt := range tests {
			w, h := size[0], size[1]
			t.Run(fmt.Sprintf("type %d depth %d %dx%d", tt.colorType, tt.depth, w, h), func(t *testing.T) {
				t.Parallel()
				data := flatimage.PNGBomb(w, h, tt.depth, tt.colorType, 7)
				img := check(t, data, pngDecode, pngConfig, w, h, tt.model, tt.typ, tt.model)
				flat(t, img, tt.pixel)
			})
		}
	}

	t.Run("each seed its own bytes", func(t *testing.T) {
		a, b := flatimage.PNGBomb(500, 400, 8, 6, 1), flatimage.PNGBomb(500, 400, 8, 6, 2)
		if bytes.Equal(a, b) {
			t.Error("seeds 1 and 2 give the same bytes")
		}
		if !bytes.Equal(a, flatimage.PNGBomb(500, 400, 8, 6, 1)) {
			t.Error("seed 1 gives different bytes each time")
		}
		if !bytes.Contains(a, []byte("tEXtComment\x00bomb 1")) {
			t.Error("no tEXt chunk of the seed")
		}
	})

	t.Run("5000x5000 RGBA is fast and small", func(t *testing.T) {
		for _, depth := range []int{8, 16} {
			start := time.Now()
			data := flatimage.PNGBomb(5000, 5000, depth, 6, 1)
			d := time.Since(start)
			t.Logf("%d-bit: %d bytes in %v", depth, len(data), d)
			if d > time.Second {
				t.Errorf("%d-bit: took %v", depth, d)
			}
			if len(data) > 1<<20 {
				t.Errorf("%d-bit: %d bytes", depth, len(data))
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(data))
			if err != nil || cfg.Width != 5000 || cfg.Height != 5000 || cfg.ColorModel != map[int]color.Model{8: color.NRGBAModel, 16: color.NRGBA64Model}[depth] {
				t.Errorf("%d-bit: DecodeConfig = %+v, %v", depth, cfg, err)
			}
		}
	})

	for _, bad := range [][4]int{{0, 1, 8, 0}, {1, 1, 4, 2}, {1, 1, 8, 5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("PNGBomb(%d, %d, depth %d, colour type %d) does not panic", bad[0], bad[1], bad[2], bad[3])
				}
			}()
			flatimage.PNGBomb(bad[0], bad[1], bad[2], bad[3], 0)
		}()
	}
}

func TestGIF(t *testing.T) {
	t.Parallel()
	const w, h = 300, 200
	for _, r := range []image.Rectangle{image.Rect(0, 0, w, h), image.Rect(5, 5, 200, 100), image.Rect(0, 0, 10, 10), image.Rect(w-1, h-1, w, h)} {
		for _, interlaced := range []bool{false, true} {
			t.Run(fmt.Sprintf("frame %v interlaced %v", r, interlaced), func(t *testing.T) {
				data, err := flatimage.GIF(w, h, r, interlaced)
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := gif.DecodeConfig(bytes.NewReader(data))
				if err != nil || cfg.Width != w || cfg.Height != h {
					t.Fatalf("DecodeConfig = %dx%d, %v", cfg.Width, cfg.Height, err)
				}
				if _, ok := cfg.ColorModel.(color.Palette); !ok {
					t.Errorf("colour model %T", cfg.ColorModel)
				}
				g, err := gif.DecodeAll(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if len(g.Image) != 1 || g.Image[0].Bounds() != r {
					t.Fatalf("%d frames, the first %v", len(g.Image), g.Image[0].Bounds())
				}
				flat(t, g.Image[0], color.Gray{0x80})
				if img, err := gifDecode(data); err != nil || img.Bounds() != r {
					t.Errorf("Decode: %v, %v", img.Bounds(), err)
				}
			})
		}
	}
	t.Run("interlace flag", func(t *testing.T) {
		a, _ := flatimage.GIF(w, h, image.Rect(0, 0, w, h), false)
		b, _ := flatimage.GIF(w, h, image.Rect(0, 0, w, h), true)
		var diff []int
		for i := range a {
			if a[i] != b[i] {
				diff = append(diff, i)
			}
		}
		if len(a) != len(b) || len(diff) != 1 || a[diff[0]]|0x40 != b[diff[0]] || a[diff[0]-9] != 0x2C {
			t.Errorf("interlaced differs at %v", diff)
		}
	})
	if _, err := flatimage.GIF(w, h, image.Rect(0, 0, w+1, h), false); err == nil {
		t.Error("a frame outside the screen gives no error")
	}
}

func TestWebP(t *testing.T) {
	t.Parallel()
	const w, h = 301, 203
	grey := [4]byte{0xFF, 0x80, 0x80, 0x80}
	half := [4]byte{0x00, 0x00, 0x80, 0x00} // green is the alpha value
	all := []flatimage.VP8LTransform{
		{Kind: flatimage.VP8LPredictor, Bits: 2}, {Kind: flatimage.VP8LCrossColor, Bits: 2},
		{Kind: flatimage.VP8LSubtractGreen}, {Kind: flatimage.VP8LColorIndexing, Colors: 16},
	}
	alph := func(body []byte) []byte { return flatimage.RIFFChunk("ALPH", append([]byte{1}, body...)) }
	vp8 := flatimage.RIFFChunk("VP8 ", flatimage.VP8(w, h))
	ycc := color.YCbCr{0x80, 0x80, 0x80}
	ycca := color.NYCbCrA{YCbCr: ycc, A: 0x80}
	tests := []struct {
		name     string
		w, h     int
		data     []byte
		cfgModel color.Model // a VP8X header tells alpha or not, not VP8L or VP8
		typ      string
		model    color.Model
		pixel    color.Color // nil: not checked
	}{
		{"vp8", w, h, flatimage.RIFF(vp8), color.YCbCrModel, "*image.YCbCr", color.YCbCrModel, ycc},
		{"vp8l", w, h, flatimage.RIFF(flatimage.RIFFChunk("VP8L", flatimage.VP8L(w, h, true, grey))), color.NRGBAModel, "*image.NRGBA", color.NRGBAModel, color.NRGBA{0x80, 0x80, 0x80, 0xFF}},
		{"vp8l all transforms", w, h, flatimage.RIFF(flatimage.RIFFChunk("VP8L", flatimage.VP8L(w, h, true, grey, all...))), color.NRGBAModel, "*image.NRGBA", color.NRGBAModel, nil},
		{"vp8l one colour", w, h, flatimage.RIFF(flatimage.RIFFChunk("VP8L", flatimage.VP8L(w, h, true, grey, flatimage.VP8LTransform{Kind: flatimage.VP8LColorIndexing, Colors: 1}))), color.NRGBAModel, "*image.NRGBA", color.NRGBAModel, nil},
		{"vp8x vp8", w, h, flatimage.VP8XWebP(w, h, vp8), color.YCbCrModel, "*image.YCbCr", color.YCbCrModel, ycc},
		{"vp8x vp8l", w, h, flatimage.VP8XWebP(w, h, flatimage.RIFFChunk("VP8L", flatimage.VP8L(w, h, true, grey))), color.YCbCrModel, "*image.NRGBA", color.NRGBAModel, color.NRGBA{0x80, 0x80, 0x80, 0xFF}},
		{"vp8x alph raw", w, h, flatimage.VP8XWebP(w, h, flatimage.RIFFChunk("ALPH", append([]byte{0}, bytes.Repeat([]byte{0x80}, w*h)...)), vp8), color.NYCbCrAModel, "*image.NYCbCrA", color.NYCbCrAModel, ycca},
		{"vp8x alph vp8l", w, h, flatimage.VP8XWebP(w, h, alph(flatimage.VP8L(w, h, false, half)), vp8), color.NYCbCrAModel, "*image.NYCbCrA", color.NYCbCrAModel, ycca},
		{"vp8x alph vp8l all transforms", w, h, flatimage.VP8XWebP(w, h, alph(flatimage.VP8L(w, h, false, half, all...)), vp8), color.NYCbCrAModel, "*image.NYCbCrA", color.NYCbCrAModel, nil},
		{"vp8x alph vp8l with iccp and exif", w, h, flatimage.VP8XWebP(w, h, flatimage.RIFFChunk("ICCP", make([]byte, 3001)), alph(flatimage.VP8L(w, h, false, half)),
			vp8, flatimage.RIFFChunk("EXIF", make([]byte, 101))), color.NYCbCrAModel, "*image.NYCbCrA", color.NYCbCrAModel, ycca},
		{"WebPWithVP8LAlpha", w, h, flatimage.WebPWithVP8LAlpha(w, h), color.NYCbCrAModel, "*image.NYCbCrA", color.NYCbCrAModel, ycca},
		{"WebPWithVP8LAlpha 1x1", 1, 1, flatimage.WebPWithVP8LAlpha(1, 1), color.NYCbCrAModel, "*image.NYCbCrA", color.NYCbCrAModel, ycca},
		{"WebPWithVP8LAlpha 1501x999", 1501, 999, flatimage.WebPWithVP8LAlpha(1501, 999), color.NYCbCrAModel, "*image.NYCbCrA", color.NYCbCrAModel, ycca},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := check(t, tt.data, webpDecode, webpConfig, tt.w, tt.h, tt.cfgModel, tt.typ, tt.model)
			if tt.pixel == nil {
				return
			}
			switch img := img.(type) {
			case *image.NYCbCrA:
				// A flat VP8 frame is not quite flat: the prediction from
				// outside the frame is 127 above and 129 to the left. Its
				// alpha plane is.
				if n := bytes.Count(img.A, []byte{0x80}); n != len(img.A) {
					t.Errorf("%d of %d alpha values are 0x80", n, len(img.A))
				}
				if tt.w*tt.h <= 1e6 {
					nearlyFlat(t, img, tt.pixel, 1)
				}
			case *image.YCbCr:
				nearlyFlat(t, img, tt.pixel, 1)
			default:
				flat(t, img, tt.pixel)
			}
		})
	}

	t.Run("WebPWithVP8LAlpha is small for its size", func(t *testing.T) {
		data := flatimage.WebPWithVP8LAlpha(16383, 16383)
		if len(data) > 8<<20 {
			t.Errorf("%d bytes", len(data))
		}
		cfg, err := webp.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != 16383 || cfg.Height != 16383 || cfg.ColorModel != color.NYCbCrAModel {
			t.Errorf("DecodeConfig = %+v, %v", cfg, err)
		}
	})

	t.Run("VP8X canvas without image data", func(t *testing.T) {
		data := flatimage.VP8XWebP(10000, 10000, flatimage.RIFFChunk("ALPH", []byte{1, 0}))
		cfg, err := webp.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != 10000 || cfg.Height != 10000 || cfg.ColorModel != color.NYCbCrAModel {
			t.Errorf("DecodeConfig = %+v, %v", cfg, err)
		}
	})

	for name, f := range map[string]func(){
		"VP8 16384 wide":  func() { flatimage.VP8(16384, 1) },
		"VP8L 16385 high": func() { flatimage.VP8L(1, 16385, true, grey) },
		"VP8L predictor bits 10": func() {
			flatimage.VP8L(1, 1, true, grey, flatimage.VP8LTransform{Kind: flatimage.VP8LPredictor, Bits: 10})
		},
		"VP8L palette of 0":    func() { flatimage.VP8L(1, 1, true, grey, flatimage.VP8LTransform{Kind: flatimage.VP8LColorIndexing}) },
		"VP8L transform 4":     func() { flatimage.VP8L(1, 1, true, grey, flatimage.VP8LTransform{Kind: 4}) },
		"VP8X canvas 0 wide":   func() { flatimage.VP8XWebP(0, 1) },
		"RIFF chunk type of 3": func() { flatimage.RIFFChunk("VP8", nil) },
		"PNG chunk type of 5":  func() { flatimage.PNGChunk("IHDRs", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestRIFF(t *testing.T) {
	t.Parallel()
	c := flatimage.RIFFChunk("EXIF", []byte{1, 2, 3})
	if want := []byte("EXIF\x03\x00\x00\x00\x01\x02\x03\x00"); !bytes.Equal(c, want) {
		t.Errorf("RIFFChunk = %q, want %q", c, want)
	}
	f := flatimage.RIFF(c, flatimage.RIFFChunk("ICCP", nil))
	if string(f[:4]) != "RIFF" || string(f[8:12]) != "WEBP" || binary.LittleEndian.Uint32(f[4:]) != uint32(len(f)-8) {
		t.Errorf("RIFF header %q", f[:12])
	}
	if !bytes.Equal(f[12:], append(c, "ICCP\x00\x00\x00\x00"...)) {
		t.Errorf("RIFF body %q", f[12:])
	}
	p := flatimage.PNGChunk("IEND", nil)
	if want := []byte("\x00\x00\x00\x00IEND\xae\x42\x60\x82"); !bytes.Equal(p, want) {
		t.Errorf("PNGChunk = %q, want %q", p, want)
	}
}
