package server_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
)

// archive.zip holds every original, byte for byte, in upload order, under
// names made unique (also where case does not count), with its length
// said up front.
func TestArchive(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	names := []string{"IMG.jpg", "IMG.jpg", "img.JPG", "IMG (2).jpg", "../../evil.jpg", "CON.png", "a\u202egnp.exe"}
	for len(names) < 20 {
		names = append(names, fmt.Sprintf("photo %02d.jpg", len(names)))
	}
	for i, n := range names {
		_, data := apptest.Photo(t, i)
		a.MustUpload(s, n, data)
	}
	var sess api.Session
	a.GetJSON(api.SessionPath(s.ID), &sess)

	resp, body := a.Do(http.MethodGet, api.ArchivePath(s.ID), nil, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("archive: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if n, _ := strconv.Atoi(resp.Header.Get("Content-Length")); n != len(body) {
		t.Errorf("Content-Length %q, body %d bytes", resp.Header.Get("Content-Length"), len(body))
	}
	if d, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err != nil || d != "attachment" || !strings.HasSuffix(params["filename"], ".zip") {
		t.Errorf("Content-Disposition %q", resp.Header.Get("Content-Disposition"))
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != len(sess.Images) {
		t.Fatalf("%d files in the archive, %d images", len(zr.File), len(sess.Images))
	}
	seen := map[string]bool{}
	for i, f := range zr.File {
		img := sess.Images[i]
		if f.Method != zip.Store {
			t.Errorf("%s: method %d, want stored", f.Name, f.Method)
		}
		if lower := strings.ToLower(f.Name); seen[lower] || strings.ContainsAny(f.Name, `/\`) || strings.HasPrefix(f.Name, ".") {
			t.Errorf("name %q: taken already, or not a plain file name", f.Name)
		} else {
			seen[lower] = true
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc) // checks the CRC too
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		_, want := a.Do(http.MethodGet, img.URL, nil, "")
		if !bytes.Equal(got, want) {
			t.Errorf("%s (%s): %d bytes differ from the original's %d", f.Name, img.Name, len(got), len(want))
		}
		if !f.Modified.Equal(img.CreatedAt.Truncate(time.Second)) && f.Modified.Sub(img.CreatedAt).Abs() > 2*time.Second {
			t.Errorf("%s: modified %v, image created %v", f.Name, f.Modified, img.CreatedAt)
		}
	}
	t.Logf("names: %q …", func() []string {
		var n []string
		for _, f := range zr.File[:7] {
			n = append(n, f.Name)
		}
		return n
	}())

	// HEAD says the same length and sends nothing.
	req, _ := http.NewRequest(http.MethodHead, a.Base+api.ArchivePath(s.ID), nil)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != http.StatusOK || hr.ContentLength != int64(len(body)) {
		t.Errorf("HEAD: %d, length %d; want 200, %d", hr.StatusCode, hr.ContentLength, len(body))
	}

	// An empty session's archive is an empty zip.
	empty := a.NewSession()
	resp, body = a.Do(http.MethodGet, api.ArchivePath(empty.ID), nil, "")
	if zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body))); resp.StatusCode != http.StatusOK || err != nil || len(zr.File) != 0 {
		t.Errorf("empty session's archive: %d, %v", resp.StatusCode, err)
	}
}

// Zipping 500 photos of 1 MB streams: the server's peak memory while it
// sends the 500 MB archive stays flat.
func TestArchiveMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 GB through a child process")
	}
	t.Parallel()
	const (
		photos   = 500
		fileSize = 1_000_000
		// maxGrowth allows buffers and the runtime's slack; building the
		// archive in memory would take 500 MB.
		maxGrowth = 32 << 20
	)
	bin := buildQrsync(t)
	p := startQrsync(t, bin, freeAddr(t), t.TempDir())
	sess := p.NewSession()
	head := photoLikeJPEG(t, 320, 240)
	var wg sync.WaitGroup
	work := make(chan int)
	var mu sync.Mutex
	var errs []string
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				data, _ := io.ReadAll(photoOfSize(head, fileSize, uint64(i)))
				if status, body, err := p.Upload(sess, fmt.Sprintf("IMG_%04d.jpg", i%250), data); err != nil || status != http.StatusCreated {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("upload %d: %d %s %v", i, status, body, err))
					mu.Unlock()
				}
			}
		}()
	}
	start := time.Now()
	for i := range photos {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d uploads failed; the first: %s", len(errs), errs[0])
	}
	uploaded := time.Since(start)

	// The peak so far belongs to the uploads: start counting afresh.
	if err := os.WriteFile(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "clear_refs"), []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
	before, peakBefore := p.procStatus("VmRSS"), p.procStatus("VmHWM")
	start = time.Now()
	resp, err := http.Get(p.Base + api.ArchivePath(sess.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := io.Copy(f, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || n != resp.ContentLength {
		t.Fatalf("archive: %d, %d of %d bytes, %v", resp.StatusCode, n, resp.ContentLength, err)
	}
	zipped := time.Since(start)
	peak := p.procStatus("VmHWM")
	zr, err := zip.NewReader(f, n)
	if err != nil || len(zr.File) != photos {
		t.Fatalf("archive of %d bytes: %v, %d files", n, err, len(zr.File))
	}
	seen := map[string]bool{}
	for _, zf := range zr.File {
		if seen[strings.ToLower(zf.Name)] || zf.UncompressedSize64 != fileSize {
			t.Fatalf("%s: a name twice, or %d bytes", zf.Name, zf.UncompressedSize64)
		}
		seen[strings.ToLower(zf.Name)] = true
	}
	t.Logf("%d uploads of %d bytes in %v; archive of %d MB in %v (%.0f MB/s): RSS %s before, peak %s while zipping (%s before the reset)",
		photos, fileSize, uploaded.Round(time.Millisecond), n/1e6, zipped.Round(time.Millisecond), float64(n)/1e6/zipped.Seconds(),
		mib(before), mib(peak), mib(peakBefore))
	if growth := peak - before; growth > maxGrowth {
		t.Errorf("peak RSS grew by %s while zipping %d MB; want under %s: the archive is being held in memory", mib(growth), n/1e6, mib(maxGrowth))
	}
}
