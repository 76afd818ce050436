package server_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/internal/flatimage"
)

// The tests in this file attack the real binary as a neighbour on the same
// Wi-Fi would, and check it keeps serving within its budgets. Each figure
// they measure is logged, so a run shows the numbers.

// withFileLimit is a script that runs bin under a file-descriptor limit of
// n, as `ulimit -n` in a shell would.
func withFileLimit(t *testing.T, bin string, n int) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "qrsync-limited")
	body := fmt.Sprintf("#!/bin/sh\nulimit -n %d || exit 97\nexec %q \"$@\"\n", n, bin)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// A flood of connections that never send a byte, more than the process
// has file descriptors: the server must not exit (accept errors back off),
// must close the silent ones after its header timeout, and must serve a
// real client during and after the flood.
func TestConnectionFloodUnderFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the real binary")
	}
	t.Parallel()
	const limit, flood = 200, 250
	bin := withFileLimit(t, buildQrsync(t), limit)
	p := startQrsync(t, bin, freeAddr(t), t.TempDir(), "--header-timeout", "2s")
	addr := p.Base[len("http://"):]

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range flood {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			continue // the backlog is full: that is the flood working
		}
		conns = append(conns, c)
	}
	t.Logf("opened %d of %d silent connections against a limit of %d descriptors", len(conns), flood, limit)

	// During the flood a real client is served: idle connections make way.
	healthy := func() bool {
		client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(p.Base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	waitFor(t, "the server to answer during the flood", healthy)
	select {
	case <-p.done:
		t.Fatalf("qrsync exited under the flood:\n%s", p.out.String())
	default:
	}

	// The silent connections are closed by the server after its header
	// timeout (a read sees EOF or a reset), not held for ever.
	start := time.Now()
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			closed++
		}
	}
	t.Logf("%d of %d silent connections were closed by the server within %v", closed, len(conns), time.Since(start).Round(time.Millisecond))
	if closed != len(conns) {
		t.Errorf("%d silent connections are still open", len(conns)-closed)
	}
	waitFor(t, "the server to answer after the flood", healthy)
	s := p.NewSession()
	_, photo := apptest.Photo(t, 1)
	if status, body, err := p.Upload(s, "after-flood.jpg", photo); err != nil || status != http.StatusCreated {
		t.Fatalf("upload after the flood: %d %s %v", status, body, err)
	}
}

// Sixteen decompression bombs at once (8-bit and 16-bit RGBA PNGs and
// WebPs with a lossless alpha plane, each a few hundred KB or less,
// announcing 100-180 MB of decoding) against a server with a 256 MiB
// decode budget: they take turns in the budget, the runtime's memory limit
// follows it, and the process's peak RSS stays under the budget plus a
// small margin.
func TestDecodeBombsStayInBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 1.6 GB of bombs in the real binary")
	}
	t.Parallel()
	const (
		budget = 256 << 20
		// margin is what may come on top: the command sets the runtime's
		// memory limit to the budget plus this, for the server's own
		// buffers, the uploads' bodies and garbage not yet collected.
		margin = 128 << 20
	)
	bin := buildQrsync(t)
	p := startQrsync(t, bin, freeAddr(t), t.TempDir(), "--decode-memory", "256MiB")
	s := p.NewSession()
	_, warm := apptest.Photo(t, 1)
	p.MustUpload(s, "warm.jpg", warm)
	base := p.procStatus("VmRSS")

	type bomb struct {
		name string
		data []byte
	}
	var bombs []bomb
	for i := range 6 {
		bombs = append(bombs, bomb{fmt.Sprintf("rgba8-%d.png", i), flatimage.PNGBomb(5000, 5000, 8, 6, i)})
		bombs = append(bombs, bomb{fmt.Sprintf("rgba16-%d.png", i), flatimage.PNGBomb(3500, 3500, 16, 6, i)})
	}
	for i := range 4 { // each its own size, so no two are the same bytes
		bombs = append(bombs, bomb{fmt.Sprintf("alpha-%d.webp", i), flatimage.WebPWithVP8LAlpha(3200+2*i, 3200)})
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]string, len(bombs))
	for i, b := range bombs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, err := p.Upload(s, b.name, b.data)
			if err != nil || status != http.StatusCreated {
				errs[i] = fmt.Sprintf("%s (%d KB): %d %s %v", b.name, len(b.data)>>10, status, body, err)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	peak := p.procStatus("VmHWM")
	t.Logf("%d bombs in %v: RSS %s before, peak %s: %s over the %s budget",
		len(bombs), time.Since(start).Round(time.Millisecond), mib(base), mib(peak), mib(peak-base-budget), mib(budget))
	if limit := base + budget + margin; peak > limit {
		t.Errorf("peak RSS %s, want under %s (RSS before + budget + %s)", mib(peak), mib(limit), mib(margin))
	}
	if resp, b := p.Do(http.MethodGet, "/readyz", nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("not ready after the bombs: %d %s", resp.StatusCode, b)
	}
}

// Viewers that open a 500-image session's stream and never read: their
// snapshots are written in small pieces, so they hold little while their
// sockets are full, and once they are gone the memory goes back to the
// system.
func TestNonReadingViewersReleaseMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 500 photos and opens 200 streams on the real binary")
	}
	t.Parallel()
	const viewers = 200
	bin := buildQrsync(t)
	p := startQrsync(t, bin, freeAddr(t), t.TempDir())
	s := p.NewSession()
	for i := range 500 {
		name, data := apptest.Photo(t, 1000+i)
		if status, body, err := p.Upload(s, name, data); err != nil || status != http.StatusCreated {
			t.Fatalf("upload %d: %d %s %v", i, status, body, err)
		}
	}
	// One reader first: it warms the paths every viewer takes.
	st := p.Subscribe(s, "")
	if ev := st.Next(); ev.Type != api.EventSnapshot || len(ev.Data) < 100_000 {
		t.Fatalf("first event %q of %d bytes, want a snapshot of 500 images", ev.Type, len(ev.Data))
	}
	st.Close()
	base := p.procStatus("VmRSS")

	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		// A tiny receive window: the server's writes stall at once.
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
	}}
	addr := p.Base[len("http://"):]
	var conns []net.Conn
	for range viewers {
		c, err := dialer.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n", s.EventsURL)
	}
	time.Sleep(2 * time.Second) // every snapshot is being written, and stuck
	during := p.procStatus("VmRSS")
	for _, c := range conns {
		c.Close()
	}
	var after int64
	deadline := time.Now().Add(20 * time.Second)
	for {
		after = p.procStatus("VmRSS")
		if after < base+12<<20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%d non-reading viewers of a 500-image session: RSS %s before, %s with them, %s after they went",
		viewers, mib(base), mib(during), mib(after))
	if during > base+64<<20 {
		t.Errorf("the viewers held %s, want under 64 MiB", mib(during-base))
	}
	if after > base+12<<20 {
		t.Errorf("RSS %s after the viewers went, want back near %s", mib(after), mib(base))
	}
}

// SIGTERM while a phone is half-way through a slow upload: the upload is
// finished and answered 201, the process exits 0, and after a restart the
// photo is there and no temporary file is left.
func TestGracefulStopDuringUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and restarts the real binary")
	}
	t.Parallel()
	bin := buildQrsync(t)
	addr, data := freeAddr(t), t.TempDir()
	p := startQrsync(t, bin, addr, data)
	s := p.NewSession()

	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile("file", "slow.jpg")
	w.Write(photoLikeJPEG(t, 1200, 900))
	mw.Close()
	body := b.Bytes()
	type answer struct {
		status int
		body   []byte
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, p.Base+apptest.UploadPath(s),
			&pacedReader{r: bytes.NewReader(body), total: len(body), over: 3 * time.Second, start: time.Now()})
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.ContentLength = int64(len(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		got <- answer{status: resp.StatusCode, body: rb}
	}()
	time.Sleep(time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil || a.status != http.StatusCreated {
		t.Fatalf("upload across SIGTERM: %d %s %v\n%s", a.status, a.body, a.err, p.out.String())
	}
	var res api.UploadResult
	mustJSON(t, a.body, &res)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("qrsync did not exit after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, p.out.String())
	}

	p = startQrsync(t, bin, addr, data)
	var after api.Session
	p.GetJSON("/api/sessions/"+s.ID, &after)
	if len(after.Images) != 1 || after.Images[0].ID != res.Images[0].ID {
		t.Fatalf("after the restart the session holds %+v, want the one upload %s", after.Images, res.Images[0].ID)
	}
	if tmp := tempFiles(blobFiles(data)); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}
