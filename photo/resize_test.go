package photo

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
)

// TestResizeYCbCrMatchesImaging: resizeYCbCr gives what imaging.Resize
// gives for the same YCbCr image, within rounding (imaging rounds to 8
// bits between its passes, resizeYCbCr keeps fracBits more and rounds its
// weights), for every subsampling ratio, sizes that reduce a little, a
// lot, not at all in one direction, and tiny ones; the pictures have
// smooth areas, edges, noise and saturated colours (which each pixel's
// conversion clamps).
func TestResizeYCbCrMatchesImaging(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	sizes := [][4]int{
		{1008, 756, 400, 300}, {801, 601, 400, 300}, {400, 300, 400, 150}, {400, 300, 200, 300},
		{1000, 40, 400, 16}, {17, 9, 5, 3}, {3, 2, 1, 1}, {5, 7, 4, 7},
	}
	for _, r := range ratios {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%v/%dx%d-%dx%d", r, sz[0], sz[1], sz[2], sz[3]), func(t *testing.T) {
				src := testYCbCr(sz[0], sz[1], r)
				want := imaging.Resize(src, sz[2], sz[3], imaging.Lanczos)
				got := resizeYCbCr(src, sz[2], sz[3], imaging.Lanczos)
				if got.Rect != want.Rect {
					t.Fatalf("bounds %v, imaging %v", got.Rect, want.Rect)
				}
				worst := 0
				for i := range want.Pix {
					worst = max(worst, int(got.Pix[i])-int(want.Pix[i]), int(want.Pix[i])-int(got.Pix[i]))
				}
				db := psnr(want, got)
				if db < 50 || worst > 2 {
					t.Errorf("%.1f dB from imaging, largest difference %d; want 50 dB, at most 2", db, worst)
				}
			})
		}
	}
}

// testYCbCr is a w x h picture with gradients, hard edges, noise and
// saturated colours.
func testYCbCr(w, h int, r image.YCbCrSubsampleRatio) *image.YCbCr {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), r)
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for y := range h {
		for x := range w {
			v := 40 + 150*x/max(1, w-1) + rng.IntN(20)
			if (x/7+y/5)%4 == 0 {
				v = 250
			}
			m.Y[y*m.YStride+x] = uint8(min(255, v))
		}
	}
	for i := range m.Cb {
		x, y := i%m.CStride, i/m.CStride
		m.Cb[i] = uint8(16 + 224*x/max(1, m.CStride-1))
		m.Cr[i] = uint8(20 + (37*y)%220 + rng.IntN(10))
	}
	return m
}

// clone gives what imaging.Clone gives, for every chroma layout, for
// images that do not start at the origin, and above its size limit.
func TestCloneIsImagingClone(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(rnd.IntN(256))
		}
	}
	var imgs []image.Image
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		m := image.NewYCbCr(image.Rect(0, 0, 37, 23), ratio)
		fill(m.Y)
		fill(m.Cb)
		fill(m.Cr)
		imgs = append(imgs, m, m.SubImage(image.Rect(3, 5, 30, 20)))
	}
	n := image.NewNRGBA(image.Rect(0, 0, 29, 17))
	fill(n.Pix)
	imgs = append(imgs, n, n.SubImage(image.Rect(1, 2, 20, 15)))
	r := image.NewRGBA(image.Rect(0, 0, 31, 19))
	for i := 0; i < len(r.Pix); i += 4 {
		// Premultiplied: no channel above alpha; some pixels clear, some opaque.
		a := []byte{0, 0xff, byte(rnd.IntN(256))}[rnd.IntN(3)]
		for c := range 3 {
			r.Pix[i+c] = byte(rnd.IntN(int(a) + 1))
		}
		r.Pix[i+3] = a
	}
	imgs = append(imgs, r, r.SubImage(image.Rect(2, 1, 25, 18)))
	big := image.NewYCbCr(image.Rect(0, 0, 300, 300), image.YCbCrSubsampleRatio420)
	fill(big.Y)
	imgs = append(imgs, big)
	for i, img := range imgs {
		got, want := clone(img), imaging.Clone(img)
		if got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("image %d (%T %v): clone differs from imaging.Clone", i, img, img.Bounds())
		}
	}
}
