package jpegscale

import (
	"bytes"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// TestShortReads: the decoder gives the same image (or error) however the
// reader splits the stream: one byte at a time, half of what is asked
// for, or with empty reads in between. fillBits must then complete a
// 0xff's pair and find a marker across reads.
func TestShortReads(t *testing.T) {
	files := append(jpegFiles(t), generatedFiles(t)...)
	readers := map[string]func([]byte) io.Reader{
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"empty reads": func(b []byte) io.Reader {
			return &stutterReader{r: bytes.NewReader(b)}
		},
	}
	for _, f := range files {
		if len(f.data) > 1<<20 && testing.Short() {
			continue
		}
		for _, s := range []int{1, 4} {
			want, wantErr := DecodeScaled(bytes.NewReader(f.data), s)
			for name, r := range readers {
				got, gotErr := DecodeScaled(r(f.data), s)
				if errString(gotErr) != errString(wantErr) {
					t.Errorf("%s, scale %d, %s: error %q, from a bytes.Reader %q", f.name, s, name, gotErr, wantErr)
				} else if wantErr == nil && !sameImage(got, want) {
					t.Errorf("%s, scale %d, %s: image differs from a bytes.Reader's", f.name, s, name)
				}
			}
		}
	}
}

// stutterReader returns at most 7 bytes a read, and nothing (with no
// error) every other read.
type stutterReader struct {
	r *bytes.Reader
	n int
}

func (s *stutterReader) Read(p []byte) (int, error) {
	s.n++
	if s.n%2 == 0 {
		return 0, nil
	}
	return s.r.Read(p[:min(len(p), 7)])
}

// TestCorruptMatchesImageJPEG: small test files with a few bytes changed
// (set to 0xff, random, a bit flipped, a restart marker written, or the
// file cut there) decode as image/jpeg decodes them: the same error, and
// at scale 1 the same pixels; at the other scales the same error. This
// is the fuzz test's comparison on inputs made to hit what the bit reader
// does at markers and at the end of the data, run with every go test.
func TestCorruptMatchesImageJPEG(t *testing.T) {
	var small []testFile
	for _, f := range append(jpegFiles(t), generatedFiles(t)...) {
		if len(f.data) < 100<<10 {
			small = append(small, f)
		}
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	rng := rand.New(rand.NewPCG(1, 7))
	for it := range n {
		f := small[rng.IntN(len(small))]
		b := bytes.Clone(f.data)
		for range 1 + rng.IntN(4) {
			i := rng.IntN(len(b))
			switch rng.IntN(5) {
			case 0:
				b[i] = 0xff
			case 1:
				b[i] = byte(rng.IntN(256))
			case 2:
				b[i] ^= 1 << rng.IntN(8)
			case 3:
				if i+2 < len(b) {
					b[i], b[i+1] = 0xff, byte(0xd0+rng.IntN(10)) // RSTn, SOI or EOI
				}
			case 4:
				b = b[:i+1]
			}
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width*cfg.Height > 1e6 {
			continue
		}
		want, wantErr := jpeg.Decode(bytes.NewReader(b))
		for _, s := range []int{1, 2, 4, 8} {
			got, gotErr := DecodeScaled(bytes.NewReader(b), s)
			if errString(gotErr) != errString(wantErr) {
				t.Fatalf("%s, change %d, scale %d: error %q, image/jpeg %q", f.name, it, s, gotErr, wantErr)
			}
			if s == 1 && wantErr == nil && !sameImage(got, want) {
				t.Fatalf("%s, change %d: image differs from image/jpeg's", f.name, it)
			}
		}
	}
}
