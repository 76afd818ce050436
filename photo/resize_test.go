package photo

import (
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
