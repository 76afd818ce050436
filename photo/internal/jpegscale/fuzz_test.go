package jpegscale

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

// FuzzDecodeScale1 compares DecodeScaled(·, 1) with image/jpeg.Decode: the
// same error (or none) and the same pixels. It also decodes at 1/2, 1/4 and
// 1/8, which must give the same error as scale 1 (the entropy decoding is
// the same) and the scaled size. It is seeded with the test files up to
// 64 KB (the package's testdata and the generated ones): the camera photos
// are larger than 1 MP, which the fuzz function skips, and would only slow
// the fuzzer down; TestScale1MatchesImageJPEG covers them.
func FuzzDecodeScale1(f *testing.F) {
	for _, tf := range append(jpegFiles(f), generatedFiles(f)...) {
		if len(tf.data) <= 64<<10 {
			f.Add(tf.data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// As image/jpeg's own fuzz test does, skip huge images, which only
		// test the allocator.
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width*cfg.Height > 1e6 {
			return
		}
		want, wantErr := jpeg.Decode(bytes.NewReader(b))
		got, gotErr := DecodeScaled(bytes.NewReader(b), 1)
		if errString(gotErr) != errString(wantErr) {
			t.Fatalf("error %q, image/jpeg %q", gotErr, wantErr)
		}
		if wantErr == nil && !sameImage(got, want) {
			t.Fatalf("image differs from image/jpeg's")
		}
		for _, s := range []int{2, 4, 8} {
			img, err := DecodeScaled(bytes.NewReader(b), s)
			if errString(err) != errString(wantErr) {
				t.Fatalf("scale %d: error %q, scale 1 %q", s, err, wantErr)
			}
			if err == nil {
				wb := want.Bounds()
				if r := image.Rect(0, 0, (wb.Dx()+s-1)/s, (wb.Dy()+s-1)/s); img.Bounds() != r {
					t.Fatalf("scale %d: bounds %v, want %v", s, img.Bounds(), r)
				}
			}
		}
	})
}
