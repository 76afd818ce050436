//go:build linux

package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"qrsync/internal/browsertest"
)

// The cluster as a person runs it: scripts/cluster.sh starts Redis,
// versitygw, two instances on both and nginx in front of them. In a real
// Chromium the PC page and the phone page are both opened through nginx,
// a real photo goes up from the phone, and the PC shows it, although
// nginx spreads the requests over both instances. Then the instance that
// holds the PC's stream is killed: the page reconnects through nginx to
// the other one, and the next photo arrives there, exactly once.
func TestClusterBrowserPhoneToPC(t *testing.T) {
	t.Parallel()
	c := startCluster(t, buildQrsync(t))
	browser := browsertest.Chromium(t)
	pc, uploadURL := openPCPage(t, browser, c.url)
	if !strings.HasPrefix(uploadURL, c.url+"/") {
		t.Fatalf("upload link %q is not on the balancer %s", uploadURL, c.url)
	}

	phone, cancelPhone := chromedp.NewContext(browser)
	defer cancelPhone()
	first, err := filepath.Abs(testdata + "orientation/Landscape_6.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(phone,
		chromedp.Emulate(device.IPhone13),
		chromedp.Navigate(uploadURL),
		chromedp.SetUploadFiles(chromedp.CSS(`#files`), []string{first}),
	); err != nil {
		t.Fatal(err)
	}
	until(t, phone, "the phone showing the photo received", `document.querySelectorAll('.file.done').length === 1`)
	until(t, pc, "the photo's thumbnail on the PC",
		`(() => { const i = document.querySelector('#gallery .tile img'); return !!i && i.complete && i.naturalWidth === 400 })()`)

	// Both instances served the pages: the session made on one was found
	// on the other.
	access := c.log("nginx-access.log")
	for _, inst := range []string{c.a, c.b} {
		if !strings.Contains(access, "upstream="+strings.TrimPrefix(inst, "http://")) {
			t.Errorf("nginx sent no request to %s:\n%s", inst, access)
		}
	}

	// Kill the instance that holds the PC's stream, as a crash would.
	var holder, other string
	waitFor(t, "one instance holding the PC's stream", func() bool {
		na, nb := streamsOpen(t, c.a), streamsOpen(t, c.b)
		switch {
		case na == 1 && nb == 0:
			holder, other = "a", c.b
		case nb == 1 && na == 0:
			holder, other = "b", c.a
		default:
			return false
		}
		return true
	})
	if err := syscall.Kill(c.pids[holder], syscall.SIGKILL); err != nil {
		t.Fatalf("kill instance %s: %v", holder, err)
	}
	t.Logf("killed instance %s (pid %d), which held the stream", holder, c.pids[holder])
	waitFor(t, "the PC's stream on the other instance", func() bool { return streamsOpen(t, other) == 1 })
	until(t, pc, "the PC page live again", `document.querySelector('#status')?.dataset.state === 'live'`)

	second, err := filepath.Abs(testdata + "orientation/Landscape_3.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(phone, chromedp.SetUploadFiles(chromedp.CSS(`#files`), []string{second})); err != nil {
		t.Fatal(err)
	}
	until(t, phone, "the phone showing the second photo received", `document.querySelectorAll('.file.done').length === 2`)
	until(t, pc, "both photos on the PC", tilesExpr+` === 2`)
	ids := js[[]string](t, pc, `[...document.querySelectorAll('#gallery li.tile[data-id]')].map(t => t.dataset.id)`)
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("tiles after the failover: %v", ids)
	}
	// Let the tile's arrival animation settle so the picture shows the
	// page at rest.
	if err := chromedp.Do(pc, chromedp.Sleep(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, pc, "pc-page-cluster.png")
}

// cluster is a running scripts/cluster.sh, as its machine-readable lines
// describe it.
type cluster struct {
	url  string         // the balancer: the PC page's base
	a, b string         // the instances' own bases
	pids map[string]int // by piece: nginx, a, b, redis, s3
	dir  string
}

// clusterStart bounds the script's start: five pieces, each polled until
// it answers, on a 2-core machine that runs other tests beside it.
const clusterStart = 2 * time.Minute

// startCluster runs scripts/cluster.sh with bin as both instances, in a
// process group of its own, and returns once it prints its address. When
// the test ends the group gets SIGTERM (the script then stops every piece
// in order) and, if anything lingers, SIGKILL. A failed test shows what
// the script printed and the end of each piece's log.
func startCluster(t *testing.T, bin string) *cluster {
	t.Helper()
	dir := t.TempDir()
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "../scripts/cluster.sh")
	cmd.Env = append(os.Environ(), "CLUSTER_DIR="+dir, "CLUSTER_PORT="+port, "QRSYNC_BIN="+bin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	// The script and every piece it starts share this group; the kernel
	// kills the script if the test binary dies first (and the script's
	// pieces are told by theirs in turn).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		// Pdeathsig fires when the thread that started the process ends:
		// keep this goroutine on its thread until the script is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start scripts/cluster.sh: %v", err)
	}
	pgid := cmd.Process.Pid

	out := &lockedBuffer{}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if rest, ok := strings.CutPrefix(sc.Text(), "cluster: "); ok {
				lines <- rest
			}
		}
		io.Copy(io.Discard, stdout)
	}()

	c := &cluster{pids: map[string]int{}, dir: dir}
	t.Cleanup(func() {
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Errorf("scripts/cluster.sh did not stop within 30 s of SIGTERM: killing its group")
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("scripts/cluster.sh stdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
			for _, name := range []string{"a.log", "b.log", "nginx-error.log", "redis.log", "s3.log"} {
				t.Logf("%s (tail):\n%s", name, tail(c.log(name), 3000))
			}
		}
	})

	deadline := time.After(clusterStart)
	for c.url == "" || c.a == "" || len(c.pids) == 0 {
		select {
		case line, ok := <-lines:
			if !ok {
				<-exited
				t.Fatalf("scripts/cluster.sh ended before it was up (%v)", cmd.ProcessState)
			}
			c.parse(t, line)
		case <-deadline:
			t.Fatalf("scripts/cluster.sh printed no address within %v", clusterStart)
		}
	}
	return c
}

// parse reads one "cluster: " line: url=…, a=… b=… …, or pids ….
func (c *cluster) parse(t *testing.T, line string) {
	t.Helper()
	fields := strings.Fields(line)
	isPids := len(fields) > 0 && fields[0] == "pids"
	if isPids {
		fields = fields[1:]
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("cluster line %q: field %q", line, f)
		}
		if isPids {
			pid, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("cluster line %q: pid %q", line, v)
			}
			c.pids[k] = pid
			continue
		}
		switch k {
		case "url":
			c.url = v
		case "a":
			c.a = v
		case "b":
			c.b = v
		}
	}
}

// log returns a log the script's pieces write under the cluster's dir.
func (c *cluster) log(name string) string {
	b, err := os.ReadFile(filepath.Join(c.dir, "logs", name))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// streamsOpen reads qrsync_streams_open from the instance at base, or -1
// if it does not answer (a killed instance).
func streamsOpen(t *testing.T, base string) int {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "qrsync_streams_open "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s/metrics: qrsync_streams_open %q", base, v)
			}
			return int(n)
		}
	}
	t.Fatalf("%s/metrics has no qrsync_streams_open", base)
	return 0
}
