package photo

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"testing"

	"github.com/disintegration/imaging"

	"qrsync/photo/internal/jpegscale"
)

// TestScaledThumbnailQuality: a thumbnail from a JPEG decoded at reduced
// scale is within 35 dB PSNR of the reference, a full decode and a
// Lanczos fit, on the real photos and on camera-sized ones made from them.
func TestScaledThumbnailQuality(t *testing.T) {
	type photo struct {
		name string
		data []byte
	}
	var photos []photo
	for _, rel := range []string{"orientation/Landscape_1.jpg", "gps/DSCN0010.jpg", "gps/DSCN0021.jpg"} {
		photos = append(photos, photo{rel, readShared(t, rel)})
	}
	sizes := [][2]int{{4032, 3024}}
	if !testing.Short() && !raceEnabled {
		// Under the race detector the 48 MP picture alone takes a minute
		// to make and decode; the decoder's code is the same at any size.
		sizes = append(sizes, [2]int{8064, 6048})
	}
	src, err := jpeg.Decode(bytes.NewReader(readShared(t, "orientation/Landscape_1.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	for _, sz := range sizes {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, imaging.Resize(src, sz[0], sz[1], imaging.Linear), &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		photos = append(photos, photo{fmt.Sprintf("%dx%d from Landscape_1", sz[0], sz[1]), buf.Bytes()})
	}
	for _, p := range photos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			db, w, h, scale, err := scaledPSNR(p.data)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%dx%d decoded at 1/%d: thumbnail %.1f dB from a full decode and Lanczos", w, h, scale, db)
			if db < 35 {
				t.Errorf("PSNR %.1f dB, want at least 35", db)
			}
		})
	}
}

// scaledPSNR is how close the thumbnail of a JPEG decoded at reduced
// scale comes to the reference, a full decode and a Lanczos fit, in dB;
// with the photo's size and the scale it was decoded at.
func scaledPSNR(data []byte) (db float64, w, h, scale int, err error) {
	full, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	w, h = full.Bounds().Dx(), full.Bounds().Dy()
	tw, th := thumbSize(w, h, DefaultThumbSize)
	want := imaging.Resize(full, tw, th, imaging.Lanczos)
	scale = jpegscale.ScaleFor(w, h, DefaultThumbSize)
	small, err := jpegscale.DecodeScaled(bytes.NewReader(data), scale)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	return psnr(want, resizeTo(small, tw, th)), w, h, scale, nil
}

// psnr is the peak signal-to-noise ratio of b against a over RGB, in dB.
func psnr(a, b *image.NRGBA) float64 {
	var sum float64
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := float64(a.Pix[i]) - float64(b.Pix[i])
		sum += d * d
	}
	mse := sum / float64(len(a.Pix)/4*3)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}
