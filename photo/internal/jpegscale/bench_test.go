package jpegscale

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"testing"
)

// BenchmarkDecode12MP decodes a 4032x3024 q90 4:2:0 JPEG (see jpeg12MP)
// with image/jpeg and with DecodeScaled at each scale.
func BenchmarkDecode12MP(b *testing.B) {
	data := jpeg12MP(b)
	b.Run("image-jpeg", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, s := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("scale%d", s), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := DecodeScaled(bytes.NewReader(data), s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkThumbnail12MP is the server's whole thumbnail: decode then
// imaging.Fit 400x400 Lanczos, from a full image/jpeg decode and from
// DecodeScaled(ScaleFor(w, h, 400)) (1/8 here: 504x378).
func BenchmarkThumbnail12MP(b *testing.B) {
	data := jpeg12MP(b)
	for _, scaled := range []bool{false, true} {
		name := "full"
		if scaled {
			name = "scaled"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				thumbnail(b, data, scaled)
			}
		})
	}
}
