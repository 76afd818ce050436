package photo

import (
	"bytes"
	"image"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/disintegration/imaging"
	"github.com/gen2brain/heic"

	"qrsync/photo/internal/jpegscale"
)

// photo12MP is a 4000x3000 JPEG (quality 90, 4:2:0 like a phone's) with
// natural-ish content: smooth light, large shapes with edges, fine texture
// and sensor-like noise, so that both the decoder and the filters do the
// work a real photo makes them do.
var photo12MP = sync.OnceValue(func() []byte { return synthPhoto(4000, 3000) })

// synthPhoto is photo12MP's picture at any size.
func synthPhoto(w, h int) []byte {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			v := 90 + 60*math.Sin(3*fx+2*fy) + 25*math.Sin(fx*fy*40)
			if (x/250+y/250)%3 == 0 { // blocks with hard edges
				v += 40
			}
			v += 12 * math.Sin(float64(x)*0.9) * math.Cos(float64(y)*0.7) // fine texture
			v += rng.NormFloat64() * 6                                    // noise
			img.Y[y*img.YStride+x] = uint8(max(0, min(255, v)))
		}
	}
	for y := 0; y < h/2; y++ {
		for x := 0; x < w/2; x++ {
			fx, fy := float64(x)/float64(w/2), float64(y)/float64(h/2)
			img.Cb[y*img.CStride+x] = uint8(128 + 40*math.Sin(5*fx) + rng.NormFloat64()*3)
			img.Cr[y*img.CStride+x] = uint8(128 + 40*math.Cos(4*fy+fx) + rng.NormFloat64()*3)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func BenchmarkDecode12MP(b *testing.B) {
	data := photo12MP()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThumbnail measures decode + resize of the 12 MP photo to a 400 px
// thumbnail with each filter, in one step (imaging alone) and in two steps
// (box pre-reduction, then the filter).
func BenchmarkThumbnail(b *testing.B) {
	data := photo12MP()
	filters := []struct {
		name string
		f    imaging.ResampleFilter
	}{
		{"Lanczos", imaging.Lanczos},
		{"CatmullRom", imaging.CatmullRom},
		{"Linear", imaging.Linear},
		{"Box", imaging.Box},
	}
	for _, pre := range []bool{false, true} {
		for _, f := range filters {
			name := f.name + "/onestep"
			if pre {
				name = f.name + "/twostep"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					img, err := jpeg.Decode(bytes.NewReader(data))
					if err != nil {
						b.Fatal(err)
					}
					t := resizeWith(img, DefaultThumbSize, f.f, pre)
					if t.Rect.Dx() != 400 || t.Rect.Dy() != 300 {
						b.Fatal(t.Rect)
					}
				}
			})
		}
	}
}

// BenchmarkResizeOnly is BenchmarkThumbnail without the decode.
func BenchmarkResizeOnly(b *testing.B) {
	img, err := jpeg.Decode(bytes.NewReader(photo12MP()))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    imaging.ResampleFilter
		pre  bool
	}{
		{"Lanczos/onestep", imaging.Lanczos, false},
		{"CatmullRom/onestep", imaging.CatmullRom, false},
		{"Linear/onestep", imaging.Linear, false},
		{"Box/onestep", imaging.Box, false},
		{"Lanczos/twostep", imaging.Lanczos, true},
		{"CatmullRom/twostep", imaging.CatmullRom, true},
		{"Linear/twostep", imaging.Linear, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				resizeWith(img, DefaultThumbSize, c.f, c.pre)
			}
		})
	}
}

// BenchmarkProcess12MP is the whole of Process on the 12 MP photo.
func BenchmarkProcess12MP(b *testing.B) {
	data := photo12MP()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Process(bytes.NewReader(data), Options{}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTailLatency12MP feeds the 12 MP photo through an io.Pipe at
// about 8 MB/s (a good phone upload over Wi-Fi) and reports how long after
// the last byte was taken Process returned with the thumbnail: the time
// the single-pass design is for.
func BenchmarkTailLatency12MP(b *testing.B) {
	data := photo12MP()
	const chunk, every = 64 << 10, 8 * time.Millisecond // 8 MB/s
	var total time.Duration
	for b.Loop() {
		pr, pw := io.Pipe()
		lastByte := make(chan time.Time, 1)
		go func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for p := data; len(p) > 0; {
				<-tick.C
				k := min(len(p), chunk)
				if _, err := pw.Write(p[:k]); err != nil {
					break
				}
				p = p[k:]
			}
			lastByte <- time.Now()
			pw.Close()
		}()
		if _, err := Process(pr, Options{}, io.Discard); err != nil {
			b.Fatal(err)
		}
		done := time.Now()
		total += done.Sub(<-lastByte)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-after-last-byte")
}

// heicBenchFile is the HEIC the HEIC benchmarks decode: the iPhone photo
// (2566x3313, 8.5 MP, 42 tiles), or the file QRSYNC_HEIC_BENCH names.
func heicBenchFile(b *testing.B) []byte {
	if p := os.Getenv("QRSYNC_HEIC_BENCH"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	return iphoneHEIC(b)
}

// reportCPU adds the CPU per operation and per megapixel to a benchmark
// whose loop used cpu of CPU time over n operations of px pixels each.
func reportCPU(b *testing.B, cpu time.Duration, n int, px int64) {
	ms := float64(cpu.Microseconds()) / 1000 / float64(n)
	b.ReportMetric(ms, "cpu-ms/op")
	b.ReportMetric(ms/(float64(px)/1e6), "cpu-ms/MP")
}

// BenchmarkHEICDecode is the HEIC decoder alone, in this process, on
// whichever decoder gen2brain/heic picked (HEICDecoder; LD_LIBRARY_PATH
// naming a directory with libheif.so selects the system one, -tags
// nodynamic forbids it).
func BenchmarkHEICDecode(b *testing.B) {
	data := heicBenchFile(b)
	heic.Init()
	b.Log(HEICDecoder())
	var px int64
	start := cpuTime()
	for b.Loop() {
		img, err := heic.Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		px = int64(img.Bounds().Dx() * img.Bounds().Dy())
	}
	reportCPU(b, cpuTime()-start, b.N, px)
}

// BenchmarkProcessHEIC is the whole of Process on a HEIC: header, decode
// (in a worker, for the WebAssembly decoder), 400 px thumbnail and the
// display rendition.
func BenchmarkProcessHEIC(b *testing.B) {
	data := heicBenchFile(b)
	PrepareHEIC()
	b.Log(HEICDecoder())
	b.SetBytes(int64(len(data)))
	var px int64
	start := cpuTime()
	for b.Loop() {
		info, err := Process(bytes.NewReader(data), Options{Display: io.Discard}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		px = int64(info.Width) * int64(info.Height)
	}
	if heicInProcess() { // a worker's CPU is not this process's
		reportCPU(b, cpuTime()-start, b.N, px)
	}
}

// BenchmarkHEICFirstDecode is what the first HEIC photo of a process
// waits for if nothing started a worker ahead: a worker's start and its
// compiling the WebAssembly decoder (nothing for a system libheif), then
// the photo. It means something only as the process's first HEIC work:
// go test -run '^$' -bench HEICFirstDecode -benchtime 1x.
func BenchmarkHEICFirstDecode(b *testing.B) {
	data := heicBenchFile(b)
	for b.Loop() {
		t0 := time.Now()
		PrepareHEIC()
		compile := time.Since(t0)
		if _, err := Process(bytes.NewReader(data), Options{Display: io.Discard}, io.Discard); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(compile.Microseconds())/1000, "ms-compile")
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "ms-first-photo")
	}
}

// BenchmarkResizeYCbCr is the resize of Process for the 12 MP photo,
// decoded at the scale it uses (1/4: 1000x750), to the 400x300
// thumbnail: imaging's Lanczos on the YCbCr image, and resizeYCbCr.
func BenchmarkResizeYCbCr(b *testing.B) {
	img, err := jpegscale.DecodeScaled(bytes.NewReader(photo12MP()), jpegscale.ScaleFor(4000, 3000, DefaultThumbSize))
	if err != nil {
		b.Fatal(err)
	}
	src := img.(*image.YCbCr)
	tw, th := thumbSize(4000, 3000, DefaultThumbSize)
	b.Run("imaging", func(b *testing.B) {
		start := cpuTime()
		for b.Loop() {
			imaging.Resize(src, tw, th, imaging.Lanczos)
		}
		b.ReportMetric(float64(cpuTime()-start)/1e6/float64(b.N), "cpu-ms")
	})
	b.Run("planes", func(b *testing.B) {
		start := cpuTime()
		for b.Loop() {
			resizeYCbCr(src, tw, th, imaging.Lanczos)
		}
		b.ReportMetric(float64(cpuTime()-start)/1e6/float64(b.N), "cpu-ms")
	})
}
