package server

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"qrsync/api"
)

// photoLikeJPEG makes a w×h JPEG with smooth gradients and sensor-like
// noise, so it compresses like a photo rather than like a flat test card.
func photoLikeJPEG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	r := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			v := 128 + 60*float64(x)/float64(w) - 40*float64(y)/float64(h) + r.NormFloat64()*6
			img.Y[y*img.YStride+x] = uint8(max(0, min(255, v)))
		}
	}
	for y := range h / 2 {
		for x := range w / 2 {
			img.Cb[y*img.CStride+x] = uint8(110 + x*40/(w/2))
			img.Cr[y*img.CStride+x] = uint8(140 - y*30/(h/2))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkUpload12MP measures what a person waits for: from the start of
// a 12-megapixel upload's request to its image event arriving on the PC's
// stream, over loopback with the embedded backends (fsync included).
func BenchmarkUpload12MP(b *testing.B) {
	a := startApp(b, Config{})
	data := photoLikeJPEG(b, 4000, 3000)
	s := a.newSession()
	sub := a.subscribe(s, "")
	sub.next() // snapshot
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		// Two trailing bytes after the image make each upload distinct,
		// so none is folded into an earlier one as a duplicate.
		photo := append(data[:len(data):len(data)], byte(i), byte(i>>8))
		body, ctype := multipartBody(b, map[string][]byte{"p.jpg": photo})
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, a.base+uploadPath(s), body)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("upload: %d", resp.StatusCode)
		}
		if ev := sub.next(); ev.Type != api.EventImage {
			b.Fatalf("got %s", fmtEvent(ev))
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/upload-to-event")
	b.ReportMetric(float64(len(data))/(1<<20), "MiB/photo")
}
