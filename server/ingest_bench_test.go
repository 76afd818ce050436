//go:build linux

package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
)

// BenchmarkIngest measures the upload path with big files: one, and eight
// at once, 50 MB uploads (10 MB with -short) over loopback to the real
// POST /api/upload/{token}, sent as the phone page sends them: one
// multipart/form-data part named "file", with a Content-Length. Each file
// is a real JPEG (640×480, decoded into a thumbnail as any photo is)
// followed by incompressible bytes after its EOI, as phones add trailers;
// a 16-byte tag right after the EOI makes every file's sha256 its own, so
// none is taken for a duplicate. The reference is a bare net/http handler
// written below, which streams each part to a temporary file through
// sha256 (the real server also hashes and stores every byte) and fsyncs
// it, as the real server does; it gets the same requests from the same
// client. Each side runs as a child process of the benchmark
// (benchchild_test.go), with its data on tmpfs; the two take turns, three
// rounds each (one with -short), a fresh session per qrsync round.
//
// Reported (qrsync's, the reference's as bare-*, and x-bare, qrsync's MiB/s
// over the reference's; the goals are x-bare ≥ 1.0 and rss-MiB
// ≤ 64, the reference's RSS being next to nothing):
//
//	MiB/s       file bytes sent (not counting the form's framing), over the
//	            wall time from the first request's start to the last
//	            answer (201), summed over the rounds.
//	rss-MiB     the server process's peak RSS growth in a round: VmHWM at
//	            its end minus VmRSS at its start, the peak having been
//	            reset to the current RSS (clear_refs) just before it; the
//	            largest of the rounds. Files on tmpfs are page cache, not
//	            RSS, so this is the server's own memory.
//	cpu-ms/MiB  the server process's CPU (user+sys, all threads) per MiB.
//
// After one warm-up upload of 1 MiB to each side.
func BenchmarkIngest(b *testing.B) {
	size, rounds := int64(50_000_000), 3
	if testing.Short() {
		size, rounds = 10_000_000, 1
	}
	head := photoLikeJPEG(b, 640, 480)
	bulk := make([]byte, size-int64(len(head))-ingestTagLen)
	if _, err := io.ReadFull(newFiller(7), bulk); err != nil {
		b.Fatal(err)
	}
	for _, parallel := range []int{1, 8} {
		b.Run(fmt.Sprintf("uploads=%d", parallel), func(b *testing.B) {
			qChild := startBenchChild(b, childQrsync)
			bareChild := startBenchChild(b, childBareIngest)
			qc := apptest.NewClient(b, qChild.Base)
			client := &http.Client{Transport: &http.Transport{
				WriteBufferSize: 64 << 10, MaxIdleConnsPerHost: 8, DisableCompression: true,
			}}
			defer client.CloseIdleConnections()
			qURL := func() string { return qChild.Base + apptest.UploadPath(qc.NewSession()) }
			bareURL := func() string { return bareChild.Base + "/upload" }

			// Warm up: decoder tables, pools and the catalog's pages
			// belong to the baseline, not to the load.
			ingestRound(b, qChild, client, qURL(), 1, head, bulk[:1<<20])
			ingestRound(b, bareChild, client, bareURL(), 1, head, bulk[:1<<20])

			var q, bare ingestResult
			for b.Loop() {
				for range rounds {
					q.add(ingestRound(b, qChild, client, qURL(), parallel, head, bulk))
					bare.add(ingestRound(b, bareChild, client, bareURL(), parallel, head, bulk))
				}
			}
			b.ReportMetric(0, "ns/op")
			q.report(b, "")
			bare.report(b, "bare-")
			b.ReportMetric(benchRatio(q.mibPerSec(), bare.mibPerSec()), "x-bare")
		})
	}
}

// ingestTagLen is the tag after each file's EOI that makes it unique.
const ingestTagLen = 16

// ingestSeq numbers the files sent, for their tags.
var ingestSeq atomic.Int64

// ingestResult is what rounds of one side measured.
type ingestResult struct {
	bytes   int64
	elapsed time.Duration
	growth  int64 // the largest peak RSS growth of a round
	cpu     time.Duration
}

func (r *ingestResult) add(o ingestResult) {
	r.bytes += o.bytes
	r.elapsed += o.elapsed
	r.growth = max(r.growth, o.growth)
	r.cpu += o.cpu
}

func (r *ingestResult) mibPerSec() float64 {
	return float64(r.bytes) / (1 << 20) / r.elapsed.Seconds()
}

func (r *ingestResult) rssMiB() float64 { return float64(r.growth) / (1 << 20) }

func (r *ingestResult) report(b *testing.B, prefix string) {
	b.ReportMetric(r.mibPerSec(), prefix+"MiB/s")
	b.ReportMetric(r.rssMiB(), prefix+"rss-MiB")
	b.ReportMetric(float64(r.cpu)/float64(time.Millisecond)/(float64(r.bytes)/(1<<20)), prefix+"cpu-ms/MiB")
}

// ingestRound sends parallel files at once to url, each head, a tag and
// bulk, and measures the child serving them.
func ingestRound(b *testing.B, child *benchChild, client *http.Client, url string, parallel int, head, bulk []byte) ingestResult {
	b.Helper()
	fileSize := int64(len(head) + ingestTagLen + len(bulk))
	child.resetPeakRSS()
	rss0, cpu0 := child.status("VmRSS"), child.cpu()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, parallel)
	for i := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := fmt.Appendf(nil, "%0*x", ingestTagLen, ingestSeq.Add(1))
			errs[i] = sendUpload(client, url, fileSize, head, tag, bulk)
		}()
	}
	wg.Wait()
	res := ingestResult{bytes: int64(parallel) * fileSize, elapsed: time.Since(start)}
	res.growth = child.status("VmHWM") - rss0
	res.cpu = child.cpu() - cpu0
	for _, err := range errs {
		if err != nil {
			b.Fatalf("%s: %v", child.kind, err)
		}
	}
	return res
}

// sendUpload sends one file, the concatenation of parts, as the phone page
// does, and checks the answer: 201, and the file's size.
func sendUpload(client *http.Client, url string, size int64, parts ...[]byte) error {
	var pre bytes.Buffer
	mw := multipart.NewWriter(&pre)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="big.jpg"`)
	h.Set("Content-Type", "image/jpeg")
	if _, err := mw.CreatePart(h); err != nil {
		return err
	}
	post := "\r\n--" + mw.Boundary() + "--\r\n"
	readers := []io.Reader{&pre}
	length := int64(pre.Len() + len(post))
	for _, p := range parts {
		readers = append(readers, bytes.NewReader(p))
		length += int64(len(p))
	}
	readers = append(readers, strings.NewReader(post))
	req, err := http.NewRequest(http.MethodPost, url, io.MultiReader(readers...))
	if err != nil {
		return err
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var res api.UploadResult
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &res) != nil || len(res.Images) != 1 || res.Images[0].Size != size {
		return fmt.Errorf("upload of %d bytes: %d %.300s", size, resp.StatusCode, body)
	}
	return nil
}

// startBareIngest serves the reference upload handler on a loopback port
// until t ends, storing under a directory of t's.
func startBareIngest(t *testing.T) string {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bareIngest(w, r, dir)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// bareIngest is the least an upload handler that keeps what it gets can
// do: each part named "file" streamed through sha256 into a temporary
// file, fsynced and closed; the answer gives each file's size and hash in
// the real server's shape.
func bareIngest(w http.ResponseWriter, r *http.Request, dir string) {
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	buf := make([]byte, 64<<10)
	var res api.UploadResult
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if part.FormName() != "file" {
			continue
		}
		f, err := os.CreateTemp(dir, "upload-")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h := sha256.New()
		n, err := io.CopyBuffer(io.MultiWriter(f, h), part, buf)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		res.Images = append(res.Images, api.Image{Name: part.FileName(), Size: n, SHA256: fmt.Sprintf("%x", h.Sum(nil))})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(res)
}
