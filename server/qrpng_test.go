package server

import (
	"bytes"
	"image"
	"image/png"
	"strconv"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

// qrPNG draws, pixel for pixel, the code qrcode.Encode draws, at sizes
// that divide evenly into modules and sizes that do not, and one below
// the code's own size (which grows to fit, as there).
func TestQRPNGDrawsWhatTheLibraryDraws(t *testing.T) {
	const link = "http://192.168.1.20:8080/u/kQkYS_m6AskZcwxZHriG5VP3"
	for _, size := range []int{20, 128, 280, 333, 560, 1024} {
		want, err := qrcode.Encode(link, qrcode.Medium, size)
		if err != nil {
			t.Fatal(err)
		}
		got, err := qrPNG(link, size)
		if err != nil {
			t.Fatal(err)
		}
		w, g := decodePNG(t, want), decodePNG(t, got)
		if w.Bounds() != g.Bounds() {
			t.Fatalf("size %d: bounds %v, want %v", size, g.Bounds(), w.Bounds())
		}
		for y := range w.Bounds().Dy() {
			for x := range w.Bounds().Dx() {
				wr, _, _, _ := w.At(x, y).RGBA()
				gr, _, _, _ := g.At(x, y).RGBA()
				if wr != gr {
					t.Fatalf("size %d: pixel (%d, %d) differs", size, x, y)
				}
			}
		}
	}
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

// BenchmarkQRPNG is the QR of a typical upload link at the PC page's sizes
// (device pixel ratio 1 and 2), by qrPNG and by qrcode.Encode.
func BenchmarkQRPNG(b *testing.B) {
	const link = "http://192.168.1.20:8080/u/kQkYS_m6AskZcwxZHriG5VP3"
	for _, size := range []int{280, 560} {
		b.Run("qrPNG/"+strconv.Itoa(size), func(b *testing.B) {
			for range b.N {
				qrPNG(link, size)
			}
		})
		b.Run("qrcode.Encode/"+strconv.Itoa(size), func(b *testing.B) {
			for range b.N {
				qrcode.Encode(link, qrcode.Medium, size)
			}
		})
	}
}
