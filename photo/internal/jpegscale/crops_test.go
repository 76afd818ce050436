package jpegscale

import (
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"testing"
)

// cropsFile is the picture BENCHMARKS.md shows of the thumbnail's quality.
const cropsFile = "../../../docs/bench/thumbnail-crops.png"

var updateCrops = flag.Bool("update-crops", false, "rewrite "+cropsFile)

// TestThumbnailCrops holds docs/bench/thumbnail-crops.png to the code: a
// 128x128 crop from the middle of the 400x300 thumbnail of the 12 MP
// photo, shown at 3x, the old way (a full decode, then Lanczos) on the
// left and the way the server makes it (DecodeScaled(ScaleFor), then
// Lanczos) on the right. A change to either path makes the file stale;
// -update-crops writes it again.
func TestThumbnailCrops(t *testing.T) {
	if testing.Short() {
		t.Skip("the 12 MP photo takes seconds to make; -short leaves it out")
	}
	data := jpeg12MP(t)
	old, _ := thumbnail(t, data, false)
	cur, _ := thumbnail(t, data, true)
	const crop, zoom, gap = 128, 3, 8
	out := image.NewRGBA(image.Rect(0, 0, 2*crop*zoom+gap, crop*zoom))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for i, img := range []image.Image{old, cur} {
		b := img.Bounds()
		x0, y0 := b.Min.X+(b.Dx()-crop)/2, b.Min.Y+(b.Dy()-crop)/2
		for y := range crop * zoom {
			for x := range crop * zoom {
				out.Set(i*(crop*zoom+gap)+x, y, img.At(x0+x/zoom, y0+y/zoom))
			}
		}
	}
	if *updateCrops {
		f, err := os.Create(cropsFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, out); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(cropsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	committed, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// Not bit for bit: float arithmetic may round differently elsewhere.
	if committed.Bounds() != out.Bounds() {
		t.Fatalf("%s is %v, the crops are %v: run this test with -update-crops", cropsFile, committed.Bounds(), out.Bounds())
	}
	if p := psnr(committed, out); p < 50 {
		t.Errorf("%s is stale (%.1f dB from what the code makes now): run this test with -update-crops", cropsFile, p)
	}
}
