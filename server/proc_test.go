package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"qrsync/internal/apptest"
)

// The tests in this file's family run the real qrsync binary as a child
// process: only a process of its own shows the server's own memory (not
// the test's) and can be killed with SIGKILL without taking the test down.

// buildQrsync builds ./cmd/qrsync into a temporary directory. The build
// cache makes every build after the first a link step of a few seconds.
func buildQrsync(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "qrsync")
	// -race=false even if GOFLAGS asks for it: the memory test measures the
	// server as it ships, not the race detector's shadow memory.
	cmd := exec.Command(goBin, "build", "-race=false", "-o", bin, "qrsync/cmd/qrsync")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/qrsync: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// qrsyncProc is one running qrsync process, and a client of it.
type qrsyncProc struct {
	*apptest.Client
	t    testing.TB
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

// startQrsync runs bin on addr with --data dataDir and waits until it is
// healthy. The process is killed when the test ends if it still runs.
func startQrsync(t testing.TB, bin, addr, dataDir string, extra ...string) *qrsyncProc {
	t.Helper()
	return startQrsyncEnv(t, bin, addr, dataDir, nil, extra...)
}

// startQrsyncEnv is startQrsync with env added to the child's environment
// (the S3 credentials, which never go in argv).
func startQrsyncEnv(t testing.TB, bin, addr, dataDir string, env []string, extra ...string) *qrsyncProc {
	t.Helper()
	base := "http://" + addr
	args := append([]string{"--addr", addr, "--data", dataDir, "--public-url", base}, extra...)
	out := &lockedBuffer{}
	var p *qrsyncProc
	// A port just freed by a killed process is free at once on Linux
	// (SO_REUSEADDR), but give a slow machine a few tries.
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = out, out
		if env != nil {
			cmd.Env = append(os.Environ(), env...)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p = &qrsyncProc{Client: apptest.NewClient(t, base), t: t, cmd: cmd, out: out, done: make(chan struct{})}
		go func() { cmd.Wait(); close(p.done) }()
		if p.waitHealthy(15 * time.Second) {
			break
		}
		p.kill()
		if attempt == 3 {
			t.Fatalf("qrsync never became healthy on %s:\n%s", addr, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(p.kill)
	return p
}

func (p *qrsyncProc) waitHealthy(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return false
		default:
		}
		resp, err := http.Get(p.Base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return false
}

// kill sends SIGKILL and waits for the process to be gone: no deferred
// function, no shutdown hook, no flush runs, as in a power cut of the
// process (the kernel's page cache survives, as it would not in a real
// power cut; fsync is what covers that case).
func (p *qrsyncProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("qrsync (pid %d) did not die after SIGKILL", p.cmd.Process.Pid)
	}
}

// procStatus reads a "kB" field (VmHWM, VmRSS) of /proc/PID/status, in bytes.
func (p *qrsyncProc) procStatus(field string) int64 {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatalf("read /proc status (Linux only): %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			p.t.Fatalf("parse %s %q: %v", field, val, err)
		}
		return kb << 10
	}
	p.t.Fatalf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
	return 0
}

// lockedBuffer collects a child's output from two pipes at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
