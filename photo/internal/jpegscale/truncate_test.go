package jpegscale

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"testing"
)

// TestTruncated decodes prefixes of small JPEGs (baseline with restart
// markers, progressive, 4:1:0, CMYK, gray), stepping through the lengths,
// at every scale: never a panic, and at every scale the same error as
// image/jpeg gives for that prefix (or, where it decodes, an image that is
// identical at scale 1 and of the scaled size otherwise).
func TestTruncated(t *testing.T) {
	names := []string{
		"testdata/video-001.restart2.jpeg",
		"testdata/video-001.q50.420.progressive.jpeg",
		"testdata/video-001.q50.410.jpeg",
		"testdata/video-001.cmyk.jpeg",
		"testdata/video-005.gray.q50.progressive.jpeg",
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// About 300 prefixes per file (60 with -short), including the
		// whole file.
		step := max(1, len(data)/300)
		if testing.Short() {
			step = max(1, len(data)/60)
		}
		decoded := 0
		for n := 0; n < len(data)+step; n += step {
			prefix := data[:min(n, len(data))]
			want, wantErr := jpeg.Decode(bytes.NewReader(prefix))
			for _, s := range []int{1, 2, 4, 8} {
				var got image.Image
				var gotErr error
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("%s[:%d]: scale %d: panic: %v", name, n, s, r)
						}
					}()
					got, gotErr = DecodeScaled(bytes.NewReader(prefix), s)
				}()
				if errString(gotErr) != errString(wantErr) {
					t.Fatalf("%s[:%d]: scale %d: error %q, image/jpeg %q", name, n, s, gotErr, wantErr)
				}
				if wantErr != nil {
					continue
				}
				if s == 1 && !sameImage(got, want) {
					t.Fatalf("%s[:%d]: scale 1 image differs from image/jpeg's", name, n)
				}
				wb := want.Bounds()
				if r := image.Rect(0, 0, (wb.Dx()+s-1)/s, (wb.Dy()+s-1)/s); got.Bounds() != r {
					t.Fatalf("%s[:%d]: scale %d: bounds %v, want %v", name, n, s, got.Bounds(), r)
				}
			}
			if wantErr == nil {
				decoded++
			}
		}
		t.Logf("%s: %d bytes, prefixes every %d bytes: %d decoded (image/jpeg too), the rest the same error as image/jpeg", name, len(data), step, decoded)
	}
}
