package jpegscale

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/disintegration/imaging"
)

// sharedTestdata is the project's shared test photos, relative to this
// package's directory: shared/ sits beside the repository.
const sharedTestdata = "../../../../shared/testdata"

// testFile is a JPEG used by the tests: a real file or a generated one.
type testFile struct {
	name string
	data []byte
}

// jpegFiles returns every JPEG under the shared test data (recursively) and
// under this package's testdata directory. It fails the test if the shared
// directory is missing or holds no JPEG, so that a moved directory does not
// silently turn the tests into no-ops.
func jpegFiles(tb testing.TB) []testFile {
	tb.Helper()
	var files []testFile
	shared := 0
	for _, root := range []string{sharedTestdata, "testdata"} {
		err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() {
				return nil
			}
			ext := strings.ToLower(filepath.Ext(path))
			if ext != ".jpg" && ext != ".jpeg" {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if root == sharedTestdata {
				shared++
			}
			files = append(files, testFile{name: path, data: b})
			return nil
		})
		if err != nil {
			tb.Fatalf("walking %s: %v", root, err)
		}
	}
	if shared == 0 {
		tb.Fatalf("no JPEG under %s", sharedTestdata)
	}
	return files
}

// synth draws a synthetic picture: gradients, a few sinusoids and uniform
// noise of the given amplitude, in gray or in color.
func synth(w, h int, gray bool, noise int, seed uint64) image.Image {
	rng := rand.New(rand.NewPCG(seed, 1))
	var gm *image.Gray
	var cm *image.RGBA
	if gray {
		gm = image.NewGray(image.Rect(0, 0, w, h))
	} else {
		cm = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	clamp := func(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }
	n := func() float64 {
		if noise == 0 {
			return 0
		}
		return float64(rng.IntN(2*noise+1) - noise)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(max(w, 1)), float64(y)/float64(max(h, 1))
			base := 40 + 170*fx + 30*math.Sin(float64(x)/7+float64(y)/11)
			if gray {
				gm.Pix[y*gm.Stride+x] = clamp(base + 20*fy + n())
				continue
			}
			i := y*cm.Stride + 4*x
			cm.Pix[i+0] = clamp(base + n())
			cm.Pix[i+1] = clamp(30 + 200*fy + 25*math.Cos(float64(x+y)/9) + n())
			cm.Pix[i+2] = clamp(220 - 150*fx*fy + n())
			cm.Pix[i+3] = 255
		}
	}
	if gray {
		return gm
	}
	return cm
}

// generatedFiles encodes synthetic pictures with image/jpeg (baseline;
// 4:2:0 for color, one component for gray) at several sizes, including
// sizes that are not multiples of the MCU, and qualities.
func generatedFiles(tb testing.TB) []testFile {
	tb.Helper()
	var files []testFile
	sizes := [][2]int{{1, 1}, {7, 5}, {17, 9}, {64, 48}, {67, 45}, {301, 203}}
	for i, sz := range sizes {
		for _, gray := range []bool{true, false} {
			for _, q := range []int{10, 50, 75, 90, 100} {
				img := synth(sz[0], sz[1], gray, 24, uint64(i*1000+q))
				var buf bytes.Buffer
				if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
					tb.Fatal(err)
				}
				kind := "color"
				if gray {
					kind = "gray"
				}
				files = append(files, testFile{
					name: fmt.Sprintf("gen-%dx%d-%s-q%d", sz[0], sz[1], kind, q),
					data: buf.Bytes(),
				})
			}
		}
	}
	return files
}

// sameImage reports whether a and b are the same concrete type with the same
// bounds, strides and pixel buffers (including the padding beyond the
// bounds, which both decoders fill the same way).
func sameImage(a, b image.Image) bool {
	return reflect.TypeOf(a) == reflect.TypeOf(b) && reflect.DeepEqual(a, b)
}

// errString is err's message, or "" for nil. image/jpeg's FormatError and
// UnsupportedError are other types than this package's, but their messages
// are the same.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// toRGBA converts any image to *image.RGBA at the origin.
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Rect, img, b.Min, draw.Src)
	return m
}

// boxDown averages src over s x s boxes into a ceil(w/s) x ceil(h/s) image;
// the boxes at the right and bottom edges average only the pixels they have.
func boxDown(src *image.RGBA, s int) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := (w+s-1)/s, (h+s-1)/s
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for dy := 0; dy < dh; dy++ {
		for dx := 0; dx < dw; dx++ {
			var sum [4]int
			n := 0
			for y := dy * s; y < min(h, dy*s+s); y++ {
				for x := dx * s; x < min(w, dx*s+s); x++ {
					i := y*src.Stride + 4*x
					for c := 0; c < 4; c++ {
						sum[c] += int(src.Pix[i+c])
					}
					n++
				}
			}
			i := dy*dst.Stride + 4*dx
			for c := 0; c < 4; c++ {
				dst.Pix[i+c] = uint8((sum[c] + n/2) / n)
			}
		}
	}
	return dst
}

// psnr is the peak signal-to-noise ratio, in dB, between the R, G and B
// channels of two images of the same size (+Inf if they are equal). The
// images are opaque (JPEG), so RGBA and NRGBA values are the same.
func psnr(a, b image.Image) float64 {
	return psnrChannels(toRGBA(a), toRGBA(b), 3)
}

// psnrChannels is the PSNR over the first n of the 4 channels of a and b.
func psnrChannels(a, b *image.RGBA, n int) float64 {
	if a.Rect.Size() != b.Rect.Size() {
		panic(fmt.Sprintf("psnr: sizes differ: %v vs %v", a.Rect, b.Rect))
	}
	var se float64
	count := 0
	for y := 0; y < a.Rect.Dy(); y++ {
		pa := a.Pix[a.PixOffset(a.Rect.Min.X, a.Rect.Min.Y+y):]
		pb := b.Pix[b.PixOffset(b.Rect.Min.X, b.Rect.Min.Y+y):]
		for x := 0; x < a.Rect.Dx(); x++ {
			for c := 0; c < n; c++ {
				d := float64(pa[4*x+c]) - float64(pb[4*x+c])
				se += d * d
				count++
			}
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(count)))
}

// photoFiles returns the shared real photos (JPEG), largest first.
func photoFiles(tb testing.TB) []testFile {
	tb.Helper()
	var photos []testFile
	for _, f := range jpegFiles(tb) {
		if strings.HasPrefix(f.name, sharedTestdata) {
			photos = append(photos, f)
		}
	}
	area := func(f testFile) int {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(f.data))
		if err != nil {
			tb.Fatalf("%s: %v", f.name, err)
		}
		return cfg.Width * cfg.Height
	}
	sort.SliceStable(photos, func(i, j int) bool { return area(photos[i]) > area(photos[j]) })
	return photos
}

var (
	big12MPOnce sync.Once
	big12MP     []byte
	big12MPErr  error
)

// jpeg12MP returns a 4032x3024 (12.2 MP, a phone camera's size) baseline
// 4:2:0 JPEG at quality 90. The shared test data has no photo that large
// (its largest JPEGs are 1800x1200), so it is made from the largest real
// photo there, scaled up with Lanczos to 4032x3024 and given ±4 of noise per
// channel, like sensor noise, so that it has fine detail and a size (about
// 4 MB) like a camera's.
func jpeg12MP(tb testing.TB) []byte {
	tb.Helper()
	big12MPOnce.Do(func() {
		src, err := os.ReadFile(filepath.Join(sharedTestdata, "images/orientation/Landscape_1.jpg"))
		if err != nil {
			big12MPErr = err
			return
		}
		img, err := jpeg.Decode(bytes.NewReader(src))
		if err != nil {
			big12MPErr = err
			return
		}
		m := imaging.Resize(img, 4032, 3024, imaging.Lanczos)
		rng := rand.New(rand.NewPCG(12, 12))
		for i := range m.Pix {
			if i%4 == 3 {
				continue
			}
			v := int(m.Pix[i]) + rng.IntN(9) - 4
			m.Pix[i] = uint8(max(0, min(255, v)))
		}
		var buf bytes.Buffer
		big12MPErr = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90})
		big12MP = buf.Bytes()
	})
	if big12MPErr != nil {
		tb.Fatal(big12MPErr)
	}
	return big12MP
}
