package server_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"qrsync/api"
)

// Uploads stream to disk (DESIGN §7): eight 50 MB uploads at once
// must not cost the server anything near their 400 MB. The real binary
// runs as a child process, so its peak resident set (VmHWM) is the
// server's alone; it is read before and after. A server that held each
// upload in memory, or a network layer that read ahead of the handler
// without bound, grows by hundreds of MB and fails the bound.
func TestMemoryBoundedParallelUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 400 MB through a child process")
	}
	const (
		parallel = 8
		fileSize = 50_000_000 // under the default --max-file-size of 50 MiB
		// maxGrowth is generous for two decodes of a 6 MP photo, buffers
		// and the Go runtime's slack, and far below the 400 MB that
		// buffering would take.
		maxGrowth = 100 << 20
	)
	bin := buildQrsync(t)
	p := startQrsync(t, bin, freeAddr(t), t.TempDir())

	// The head is a real photo-sized JPEG, so every upload is decoded into
	// a thumbnail; the bulk is trailing bytes after its EOI, as phones add
	// (MPF previews, vendor trailers), which the server must hash, store
	// and drain like the rest.
	head := photoLikeJPEG(t, 3000, 2000)
	sess := p.NewSession()

	// Warm up: the first upload initialises decoder tables, pools and the
	// database's maps, which belong to the baseline, not to the load.
	if status, body, err := p.UploadFrom(sess, "warmup.jpg", photoOfSize(head, 1<<20, 99)); err != nil || status != http.StatusCreated {
		t.Fatalf("warm-up upload: %d %s %v", status, body, err)
	}
	before, rssBefore := p.procStatus("VmHWM"), p.procStatus("VmRSS")

	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]string, parallel)
	for i := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, err := p.UploadFrom(sess, fmt.Sprintf("big-%d.jpg", i), photoOfSize(head, fileSize, uint64(i)))
			if err != nil || status != http.StatusCreated {
				errs[i] = fmt.Sprintf("upload %d: %d %s %v", i, status, body, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	after := p.procStatus("VmHWM")
	growth := after - before
	t.Logf("%d parallel uploads of %d bytes in %v (%.0f MB/s): peak RSS %s → %s, growth %s (RSS before %s)",
		parallel, fileSize, elapsed.Round(time.Millisecond), float64(parallel*fileSize)/1e6/elapsed.Seconds(),
		mib(before), mib(after), mib(growth), mib(rssBefore))
	if growth > maxGrowth {
		t.Errorf("peak RSS grew by %s for %d×%d MB uploads; want under %s: uploads are being held in memory",
			mib(growth), parallel, fileSize/1_000_000, mib(maxGrowth))
	}

	var got api.Session
	p.GetJSON("/api/sessions/"+sess.ID, &got)
	if len(got.Images) != parallel+1 {
		t.Fatalf("session holds %d images, want %d", len(got.Images), parallel+1)
	}
	for _, img := range got.Images[1:] {
		if img.Size != fileSize || img.Width != 3000 || img.Height != 2000 {
			t.Errorf("stored %s: %d bytes %dx%d, want %d bytes 3000x2000", img.Name, img.Size, img.Width, img.Height, fileSize)
		}
	}
}

// photoOfSize is a file of size bytes, the JPEG head followed by filler,
// made as it is read so that no test ever holds it. seed makes the
// filler, and so the sha256, different per file.
func photoOfSize(head []byte, size int64, seed uint64) io.Reader {
	return io.MultiReader(bytes.NewReader(head), io.LimitReader(newFiller(seed), size-int64(len(head))))
}

// filler is an endless stream of pseudo-random bytes (incompressible, like
// the JPEG data it stands in for), cheap enough to make at GB/s.
type filler struct {
	r   *rand.ChaCha8
	buf [64 << 10]byte
	off int
}

func newFiller(seed uint64) *filler {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	f := &filler{r: rand.NewChaCha8(s)}
	f.off = len(f.buf)
	return f
}

func (f *filler) Read(p []byte) (int, error) {
	if f.off == len(f.buf) {
		f.r.Read(f.buf[:])
		f.off = 0
	}
	n := copy(p, f.buf[f.off:])
	f.off += n
	return n, nil
}
