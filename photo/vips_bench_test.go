//go:build linux

package photo

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkThumbnailCPU is the CPU one thumbnail costs Process (all its
// threads, from getrusage), beside libvips' vipsthumbnail on the same
// file in the same run, net of vipsthumbnail's start-up (its CPU for a
// 16x16 JPEG): cpu-ms, vips-cpu-ms and their ratio; and psnr-dB, the
// thumbnail's distance from a full decode and Lanczos fit. make bench installs
// vipsthumbnail (scripts/bench-deps.sh).
func BenchmarkThumbnailCPU(b *testing.B) {
	vips, err := exec.LookPath("vipsthumbnail")
	if err != nil {
		b.Fatal("vipsthumbnail is missing: run ./scripts/bench-deps.sh (as root it installs libvips-tools), or make bench")
	}
	dir := b.TempDir()
	tiny := filepath.Join(dir, "tiny.jpg")
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(tiny, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, sz := range [][2]int{{4032, 3024}, {8064, 6048}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			data := synthPhoto(sz[0], sz[1])
			file := filepath.Join(dir, "photo.jpg")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				b.Fatal(err)
			}
			// The reference: the median of five runs, less start-up.
			vipsCPU := func(in string) time.Duration {
				var runs []time.Duration
				for range 5 {
					cmd := exec.Command(vips, in, "-s", fmt.Sprint(DefaultThumbSize), "-o", filepath.Join(dir, "out.jpg[Q=85]"))
					if out, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("vipsthumbnail: %v\n%s", err, out)
					}
					runs = append(runs, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
				}
				slices.Sort(runs)
				return runs[len(runs)/2]
			}
			ref := vipsCPU(file) - vipsCPU(tiny)

			start := cpuTime()
			for b.Loop() {
				if _, err := Process(bytes.NewReader(data), Options{}, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			ours := (cpuTime() - start) / time.Duration(b.N)
			b.ReportMetric(float64(ours)/1e6, "cpu-ms")
			b.ReportMetric(float64(ref)/1e6, "vips-cpu-ms")
			b.ReportMetric(float64(ours)/float64(ref), "x-vips")
			// Speed at no cost to the picture: its distance from a full
			// decode and Lanczos fit (goal: at least 35 dB).
			db, _, _, _, err := scaledPSNR(data)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(db, "psnr-dB")
		})
	}
}
