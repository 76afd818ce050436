package jpegscale

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"testing"

	"github.com/disintegration/imaging"
)

// TestScale1MatchesImageJPEG: at scale 1 the result is pixel-identical to
// image/jpeg.Decode (same type, bounds, strides and bytes, and same error)
// for every JPEG in the shared and package test data and for generated
// baseline JPEGs, gray and color, at several sizes and qualities.
func TestScale1MatchesImageJPEG(t *testing.T) {
	files := append(jpegFiles(t), generatedFiles(t)...)
	progressive := 0
	for _, f := range files {
		want, wantErr := jpeg.Decode(bytes.NewReader(f.data))
		for name, decode := range map[string]func() (image.Image, error){
			"Decode":         func() (image.Image, error) { return Decode(bytes.NewReader(f.data)) },
			"DecodeScaled/1": func() (image.Image, error) { return DecodeScaled(bytes.NewReader(f.data), 1) },
		} {
			got, gotErr := decode()
			if errString(gotErr) != errString(wantErr) {
				t.Errorf("%s: %s: error %q, image/jpeg %q", f.name, name, gotErr, wantErr)
				continue
			}
			if wantErr == nil && !sameImage(got, want) {
				t.Errorf("%s: %s: %T %v differs from image/jpeg's %T %v", f.name, name, got, got.Bounds(), want, want.Bounds())
			}
		}
		if bytes.Contains(f.data, []byte{0xff, sof2Marker}) {
			progressive++
		}
	}
	if progressive == 0 {
		t.Error("no progressive JPEG among the test files")
	}
	t.Logf("%d files identical to image/jpeg (%d with an SOF2 marker, i.e. progressive)", len(files), progressive)
}

// TestDecodeConfig matches image/jpeg.DecodeConfig.
func TestDecodeConfig(t *testing.T) {
	for _, f := range append(jpegFiles(t), generatedFiles(t)...) {
		want, wantErr := jpeg.DecodeConfig(bytes.NewReader(f.data))
		got, gotErr := DecodeConfig(bytes.NewReader(f.data))
		if errString(gotErr) != errString(wantErr) || got != want {
			t.Errorf("%s: DecodeConfig = %+v, %v; image/jpeg %+v, %v", f.name, got, gotErr, want, wantErr)
		}
	}
}

// TestBadScale: scales other than 1, 2, 4 and 8 are an error, not a panic.
func TestBadScale(t *testing.T) {
	data := generatedFiles(t)[0].data
	for _, s := range []int{-1, 0, 3, 5, 16} {
		if img, err := DecodeScaled(bytes.NewReader(data), s); err == nil {
			t.Errorf("DecodeScaled(scale %d) = %v, nil; want an error", s, img.Bounds())
		}
	}
}

// TestScaledMatchesBoxAverage: at scales 2, 4 and 8 the image is
// ceil(w/s) x ceil(h/s), of the same type as a full decode, and close to
// the full decode box-averaged by s (PSNR over R, G, B >= 30 dB, over the
// whole MCUs).
func TestScaledMatchesBoxAverage(t *testing.T) {
	files := append(jpegFiles(t), generatedFiles(t)...)
	worst := map[int]float64{2: math.Inf(1), 4: math.Inf(1), 8: math.Inf(1)}
	for _, f := range files {
		full, err := jpeg.Decode(bytes.NewReader(f.data))
		if err != nil {
			continue // Covered by TestScale1MatchesImageJPEG.
		}
		fullRGBA := toRGBA(full)
		w, h := full.Bounds().Dx(), full.Bounds().Dy()
		line := f.name + ":"
		for _, s := range []int{2, 4, 8} {
			got, err := DecodeScaled(bytes.NewReader(f.data), s)
			if err != nil {
				t.Errorf("%s: scale %d: %v", f.name, s, err)
				continue
			}
			if want := image.Rect(0, 0, (w+s-1)/s, (h+s-1)/s); got.Bounds() != want {
				t.Errorf("%s: scale %d: bounds %v, want %v", f.name, s, got.Bounds(), want)
				continue
			}
			if gt, ft := typeName(got), typeName(full); gt != ft {
				t.Errorf("%s: scale %d: %s, full decode %s", f.name, s, gt, ft)
			}
			// Compare whole MCUs only: pixels of a partial MCU at the right
			// or bottom edge also depend on the encoder's padding beyond
			// the image, which the box average does not see. 32x16 is the
			// largest MCU (4:1:0).
			cw, ch := w/32*32, h/16*16
			if cw == 0 || ch == 0 {
				line += fmt.Sprintf(" 1/%d (no whole MCU; size checked)", s)
				continue
			}
			crop := image.Rect(0, 0, cw/s, ch/s)
			var p float64
			if cmyk, ok := full.(*image.CMYK); ok {
				// CMYK to RGB is not linear, so average the inks themselves
				// (the four channels, in the RGBA layout boxDown takes).
				raw := func(m *image.CMYK) *image.RGBA { return &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect} }
				p = psnrChannels(raw(got.(*image.CMYK)).SubImage(crop).(*image.RGBA), boxDown(raw(cmyk), s).SubImage(crop).(*image.RGBA), 4)
			} else {
				p = psnr(got.(subImager).SubImage(crop), boxDown(fullRGBA, s).SubImage(crop))
			}
			worst[s] = min(worst[s], p)
			line += formatDB(" 1/%d %s", s, p)
			if p < 30 {
				t.Errorf("%s: scale %d: PSNR %.2f dB against the box-averaged full decode, want >= 30", f.name, s, p)
			}
		}
		t.Log(line)
	}
	t.Logf("worst PSNR over %d files: 1/2 %.2f dB, 1/4 %.2f dB, 1/8 %.2f dB", len(files), worst[2], worst[4], worst[8])
}

// TestChromaScaledUp: subsampled chroma is reconstructed at a larger block
// size than luma, as libjpeg does, so the output's chroma subsampling
// shrinks with the scale (never grows), and reaches 4:4:4 once every chroma
// block is 8/scale times the chroma sampling ratio.
func TestChromaScaledUp(t *testing.T) {
	const (
		r444 = image.YCbCrSubsampleRatio444
		r422 = image.YCbCrSubsampleRatio422
		r420 = image.YCbCrSubsampleRatio420
		r440 = image.YCbCrSubsampleRatio440
		r411 = image.YCbCrSubsampleRatio411
		r410 = image.YCbCrSubsampleRatio410
	)
	for _, c := range []struct {
		file string
		want [4]image.YCbCrSubsampleRatio // At scales 1, 2, 4, 8.
	}{
		{"444", [4]image.YCbCrSubsampleRatio{r444, r444, r444, r444}},
		{"440", [4]image.YCbCrSubsampleRatio{r440, r444, r444, r444}},
		{"422", [4]image.YCbCrSubsampleRatio{r422, r444, r444, r444}},
		{"420", [4]image.YCbCrSubsampleRatio{r420, r444, r444, r444}},
		{"411", [4]image.YCbCrSubsampleRatio{r411, r422, r444, r444}},
		{"410", [4]image.YCbCrSubsampleRatio{r410, r422, r444, r444}},
	} {
		for _, prog := range []string{"", ".progressive"} {
			name := "testdata/video-001.q50." + c.file + prog + ".jpeg"
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range []int{1, 2, 4, 8} {
				img, err := DecodeScaled(bytes.NewReader(data), s)
				if err != nil {
					t.Fatalf("%s: scale %d: %v", name, s, err)
				}
				if got := img.(*image.YCbCr).SubsampleRatio; got != c.want[i] {
					t.Errorf("%s: scale %d: subsampling %v, want %v", name, s, got, c.want[i])
				}
			}
		}
	}
}

type subImager interface {
	SubImage(image.Rectangle) image.Image
}

func typeName(img image.Image) string {
	switch img.(type) {
	case *image.Gray:
		return "Gray"
	case *image.YCbCr:
		return "YCbCr"
	case *image.RGBA:
		return "RGBA"
	case *image.CMYK:
		return "CMYK"
	}
	return "other"
}

func formatDB(format string, s int, p float64) string {
	if math.IsInf(p, 1) {
		return fmt.Sprintf(format, s, "inf")
	}
	return fmt.Sprintf(format, s, fmt.Sprintf("%.1f", p))
}

// TestScale8IsBlockMean: at 1/8 each pixel is the DC coefficient, i.e. the
// mean of the 8x8 block before rounding and clamping; so for one-block
// planes (gray, and all three planes of 4:4:4) it is the mean of the full
// decode's 8x8 block to within rounding (<= 1: the full decode rounds each
// pixel), except for blocks where the full decode clamped pixels to 0 or
// 255, which are reported but not checked.
func TestScale8IsBlockMean(t *testing.T) {
	files := append(jpegFiles(t), generatedFiles(t)...)
	checked := 0
	for _, f := range files {
		full, err := jpeg.Decode(bytes.NewReader(f.data))
		if err != nil {
			continue
		}
		var fullPlanes, gotPlanes [][]byte
		var strides, gotStrides []int
		got, err := DecodeScaled(bytes.NewReader(f.data), 8)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		switch m := full.(type) {
		case *image.Gray:
			g := got.(*image.Gray)
			fullPlanes, strides = [][]byte{m.Pix}, []int{m.Stride}
			gotPlanes, gotStrides = [][]byte{g.Pix}, []int{g.Stride}
		case *image.YCbCr:
			if m.SubsampleRatio != image.YCbCrSubsampleRatio444 {
				continue
			}
			g := got.(*image.YCbCr)
			fullPlanes, strides = [][]byte{m.Y, m.Cb, m.Cr}, []int{m.YStride, m.CStride, m.CStride}
			gotPlanes, gotStrides = [][]byte{g.Y, g.Cb, g.Cr}, []int{g.YStride, g.CStride, g.CStride}
		default:
			continue
		}
		w, h := full.Bounds().Dx(), full.Bounds().Dy()
		maxDiff, clampedMax, blocks, clamped := 0.0, 0.0, 0, 0
		for p := range fullPlanes {
			// Partial blocks at the right and bottom edges are decoded whole
			// into both buffers (each is allocated to whole MCUs), so the
			// mean is over the full decode's buffer, not its visible area.
			for by := 0; by < (h+7)/8; by++ {
				for bx := 0; bx < (w+7)/8; bx++ {
					sum, isClamped := 0, false
					for y := 0; y < 8; y++ {
						for x := 0; x < 8; x++ {
							v := fullPlanes[p][(8*by+y)*strides[p]+8*bx+x]
							sum += int(v)
							isClamped = isClamped || v == 0 || v == 255
						}
					}
					d := math.Abs(float64(gotPlanes[p][by*gotStrides[p]+bx]) - float64(sum)/64)
					if isClamped {
						// The DC is the mean before clamping to [0, 255].
						clampedMax = max(clampedMax, d)
						clamped++
						continue
					}
					maxDiff = max(maxDiff, d)
					blocks++
				}
			}
		}
		checked++
		t.Logf("%s: max |DC pixel - block mean| = %.3f over %d blocks; %.3f over %d blocks with clamped pixels", f.name, maxDiff, blocks, clampedMax, clamped)
		if maxDiff > 1 {
			t.Errorf("%s: a DC pixel differs from its block mean by %.3f, want <= 1", f.name, maxDiff)
		}
	}
	if checked == 0 {
		t.Fatal("no gray or 4:4:4 file checked")
	}
}

// TestFlatBlockSameAtEveryScale: a flat block (DC only) gives bit for bit
// the value of image/jpeg's full IDCT at every scale.
func TestFlatBlockSameAtEveryScale(t *testing.T) {
	for dc := int32(-1100); dc <= 1100; dc++ {
		var full block
		full[0] = dc
		idct(&full)
		want := clampPixel(full[0])
		for i, v := range full {
			if clampPixel(v) != want {
				t.Fatalf("dc %d: full IDCT not flat at %d", dc, i)
			}
		}
		// The reduced IDCTs take dequantized coefficients.
		var b block
		b[0] = dc
		var p1 [1]byte
		idct1x1(&b, p1[:])
		var p2 [4]byte
		idct2x2(&b, p2[:], 2)
		var p4 [16]byte
		idct4x4(&b, p4[:], 4)
		for _, v := range append(append(p1[:], p2[:]...), p4[:]...) {
			if v != want {
				t.Fatalf("dc %d: reduced IDCT gives %d, full %d", dc, v, want)
			}
		}
	}
}

// TestReducedIDCTMath checks the integer reduced IDCTs against the
// floating-point formula in idctred.go's comment, for random coefficients.
func TestReducedIDCTMath(t *testing.T) {
	cf := func(u int) float64 {
		if u == 0 {
			return 1 / math.Sqrt2
		}
		return 1
	}
	seed := uint32(1)
	next := func() int32 { seed = seed*1664525 + 1013904223; return int32(seed>>20) - 2048 }
	for iter := 0; iter < 2000; iter++ {
		var b block
		for i := range b {
			b[i] = next() / int32(1+i) // Larger at low frequencies, as in photos.
		}
		type size struct{ n, m int }
		sizes := []size{{1, 1}, {2, 2}, {4, 4}}
		for _, n := range []int{1, 2, 4, 8} {
			for _, m := range []int{1, 2, 4, 8} {
				if n != m || n == 8 {
					sizes = append(sizes, size{n, m})
				}
			}
		}
		for _, sz := range sizes {
			n, m := sz.n, sz.m
			out := make([]byte, n*m)
			bb := b
			switch {
			case n == 1 && m == 1:
				idct1x1(&bb, out)
			case n == 2 && m == 2:
				idct2x2(&bb, out, n)
			case n == 4 && m == 4:
				idct4x4(&bb, out, n)
			default:
				idctNxM(&bb, n, m, out, n)
			}
			for y := 0; y < m; y++ {
				for x := 0; x < n; x++ {
					g := 0.0
					for v := 0; v < m; v++ {
						for u := 0; u < n; u++ {
							g += cf(u) * cf(v) * float64(b[8*v+u]) *
								math.Cos(float64(2*x+1)*float64(u)*math.Pi/float64(2*n)) *
								math.Cos(float64(2*y+1)*float64(v)*math.Pi/float64(2*m))
						}
					}
					want := max(0, min(255, math.Floor(g/4+0.5)+128))
					if d := math.Abs(float64(out[y*n+x]) - want); d > 1 {
						t.Fatalf("%dx%d at (%d,%d): %d, formula %v", n, m, x, y, out[y*n+x], want)
					}
				}
			}
		}
	}
}

func TestScaleFor(t *testing.T) {
	for _, c := range []struct{ w, h, target, want int }{
		{4032, 3024, 400, 8}, // 504x378
		{3024, 4032, 400, 8},
		{8064, 6048, 400, 8}, // 1008x756: capped at 8
		{16000, 100, 400, 8}, // capped at 8
		{1800, 1200, 400, 4}, // 450x300
		{1600, 1200, 400, 4}, // exactly target at 1/4
		{1599, 1200, 400, 4}, // ceil(1599/4) = 400
		{799, 600, 400, 2},   // ceil(799/2) = 400
		{798, 600, 400, 1},   // 399 < 400
		{640, 480, 400, 1},
		{100, 100, 400, 1},
		{4032, 3024, 0, 1},
		{0, 0, 400, 1},
	} {
		if got := ScaleFor(c.w, c.h, c.target); got != c.want {
			t.Errorf("ScaleFor(%d, %d, %d) = %d, want %d", c.w, c.h, c.target, got, c.want)
		}
	}
}

// thumbnail is what the server does: decode, then fit into 400x400 with
// Lanczos. scaled selects DecodeScaled(ScaleFor(w, h, 400)) over a full
// image/jpeg decode.
func thumbnail(tb testing.TB, data []byte, scaled bool) (image.Image, int) {
	tb.Helper()
	const size = 400
	var img image.Image
	var err error
	scale := 1
	if scaled {
		cfg, err := DecodeConfig(bytes.NewReader(data))
		if err != nil {
			tb.Fatal(err)
		}
		scale = ScaleFor(cfg.Width, cfg.Height, size)
		img, err = DecodeScaled(bytes.NewReader(data), scale)
		if err != nil {
			tb.Fatal(err)
		}
	} else {
		img, err = jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			tb.Fatal(err)
		}
	}
	return imaging.Fit(img, size, size, imaging.Lanczos), scale
}

// TestThumbnailQuality: the real use. For each shared camera photo (largest
// first) and for the 12 MP photo-derived JPEG, the 400 px thumbnail made
// from DecodeScaled(ScaleFor(w, h, 400)) matches the one made from a full
// decode, both with imaging.Fit Lanczos: PSNR >= 35 dB.
func TestThumbnailQuality(t *testing.T) {
	files := photoFiles(t)
	if !testing.Short() {
		files = append([]testFile{{name: "generated 4032x3024 q90 (from Landscape_1.jpg)", data: jpeg12MP(t)}}, files...)
	}
	for _, f := range files {
		want, _ := thumbnail(t, f.data, false)
		got, scale := thumbnail(t, f.data, true)
		if got.Bounds() != want.Bounds() {
			t.Errorf("%s: thumbnail %v, full-decode thumbnail %v", f.name, got.Bounds(), want.Bounds())
			continue
		}
		cfg, _ := DecodeConfig(bytes.NewReader(f.data))
		p := psnr(got, want)
		t.Logf("%s: %dx%d, scale 1/%d, thumbnail %v: PSNR %.2f dB", f.name, cfg.Width, cfg.Height, scale, got.Bounds().Size(), p)
		if p < 35 {
			t.Errorf("%s: PSNR %.2f dB, want >= 35", f.name, p)
		}
	}
}
