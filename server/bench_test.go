package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
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
	a := apptest.Start(b, server.Config{Logger: quietLogger()})
	data := photoLikeJPEG(b, 4000, 3000)
	s := a.NewSession()
	sub := a.Subscribe(s, "")
	sub.Next() // snapshot
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		// Two trailing bytes after the image make each upload distinct,
		// so none is folded into an earlier one as a duplicate.
		photo := append(data[:len(data):len(data)], byte(i), byte(i>>8))
		body, ctype := multipartBody(b, map[string][]byte{"p.jpg": photo})
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, a.Base+apptest.UploadPath(s), body)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("upload: %d", resp.StatusCode)
		}
		if ev := sub.Next(); ev.Type != api.EventImage {
			b.Fatalf("got %s", fmtEvent(ev))
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/upload-to-event")
	b.ReportMetric(float64(len(data))/(1<<20), "MiB/photo")
}

// throttledReader hands out its bytes at about rate bytes per second, the
// way a phone on Wi-Fi sends them, and notes when the last one went.
type throttledReader struct {
	r        io.Reader
	rate     float64
	start    time.Time
	sent     int64
	lastByte time.Time
}

func (t *throttledReader) Read(p []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	p = p[:min(len(p), 32<<10)]
	n, err := t.r.Read(p)
	t.sent += int64(n)
	if due := t.start.Add(time.Duration(float64(t.sent) / t.rate * float64(time.Second))); time.Until(due) > 0 {
		time.Sleep(time.Until(due))
	}
	if errors.Is(err, io.EOF) {
		t.lastByte = time.Now()
	}
	return n, err
}

// BenchmarkLastByteToEvent12MP measures the time DESIGN §1 says counts:
// from the phone's last byte to the image event on the PC, for a 12 MP
// photo sent at 10 MB/s (good Wi-Fi), its data in the test's temporary
// directory (a real disk's fsyncs). Decoding runs while the bytes arrive,
// so what is left after the last one is the tail of the decode, the
// resize, the fsyncs and the catalog write. It reports the median and the
// mean over the photos sent.
func BenchmarkLastByteToEvent12MP(b *testing.B) {
	a := apptest.Start(b, server.Config{Logger: quietLogger()})
	data := photoLikeJPEG(b, 4000, 3000)
	s := a.NewSession()
	sub := a.Subscribe(s, "")
	sub.Next()
	b.ResetTimer()
	var took []time.Duration
	for i := range b.N {
		// Each photo a few KB longer than the last: one within
		// multipartSlack of a stored photo's size would be looked up as a
		// likely duplicate before any decode, and decoded only after its
		// last byte, which is not the path a new photo takes.
		photo := withComment(data, (i+1)*8<<10)
		body, ctype := multipartBody(b, map[string][]byte{"p.jpg": photo})
		size := int64(body.(*bytes.Buffer).Len())
		tr := &throttledReader{r: body, rate: 10e6}
		req, _ := http.NewRequest(http.MethodPost, a.Base+apptest.UploadPath(s), tr)
		req.Header.Set("Content-Type", ctype)
		// A browser's form upload states its length, and the server decodes
		// while the bytes arrive only when it knows it (a chunked body is
		// stored first, then decoded).
		req.ContentLength = size
		done := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					err = fmt.Errorf("upload: %d", resp.StatusCode)
				}
			}
			done <- err
		}()
		if ev := sub.Next(); ev.Type != api.EventImage {
			b.Fatalf("got %s", fmtEvent(ev))
		}
		arrived := time.Now()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		took = append(took, arrived.Sub(tr.lastByte))
	}
	var total time.Duration
	for _, d := range took {
		total += d
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/last-byte-to-event")
	b.ReportMetric(percentileMS(took, 50), "p50-ms")
}

// percentileMS sorts d and returns its q-th percentile in ms (nearest rank).
func percentileMS(d []time.Duration, q int) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := min(len(d)-1, max(0, (len(d)*q+99)/100-1))
	return float64(d[i]) / float64(time.Millisecond)
}

// withComment is the JPEG jpg with n bytes of comment (COM segments)
// after its start marker: longer, and decoded exactly as before. Unlike
// bytes after the image's end, they come before the picture, so the
// decoder still ends with the file.
func withComment(jpg []byte, n int) []byte {
	out := append([]byte(nil), jpg[:2]...) // SOI
	for n > 0 {
		k := min(n, 0xffff-2)
		out = append(out, 0xff, 0xfe, byte((k+2)>>8), byte(k+2))
		out = append(out, make([]byte, k)...)
		n -= k
	}
	return append(out, jpg[2:]...)
}
