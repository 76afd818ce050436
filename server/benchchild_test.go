//go:build linux

package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"qrsync/internal/apptest"
	"qrsync/server"
)

// BenchmarkFanOut and BenchmarkIngest compare the real server with a bare
// reference written in the benchmark, and both run as child processes of
// the benchmark: this test binary started again, serving one of them. A
// process of its own is what lets the server's CPU (utime+stime from
// /proc/PID/stat) and resident set (/proc/PID/status) be read apart from
// the clients', which stay in the benchmark's process. qrsync and its
// reference thus run the same build, under the same client code.
//
// Environment, all optional:
//
//	QRSYNC_BENCH_PROFILE=dir  each child writes a CPU and a heap profile
//	                          and an execution trace of itself there
//	                          (-test.cpuprofile, -test.memprofile,
//	                          -test.trace), named after the benchmark and
//	                          the server: go tool pprof -top dir/FILE, and
//	                          for where goroutines wait (a fan-out's
//	                          queueing) go tool trace dir/FILE.trace
//	QRSYNC_BENCH_TMPDIR=dir   where the children keep their data. By default
//	                          a directory in /dev/shm (tmpfs), so the figures
//	                          are the server's and not this machine's disk
//	                          (fsync on tmpfs costs next to nothing).

const (
	benchChildEnv   = "QRSYNC_BENCH_CHILD"
	benchProfileEnv = "QRSYNC_BENCH_PROFILE"
	benchTmpDirEnv  = "QRSYNC_BENCH_TMPDIR"
)

// Kinds of child server.
const (
	childQrsync     = "qrsync"      // the real server, through apptest (embedded backends)
	childBareHub    = "bare-hub"    // BenchmarkFanOut's reference (fanout_bench_test.go)
	childBareIngest = "bare-ingest" // BenchmarkIngest's reference (ingest_bench_test.go)
)

// TestBenchChild is not a test: it is the body of a benchmark's child
// process (see above), and skips unless started as one. It serves until
// its stdin closes, then stops cleanly, so that profiles get written.
func TestBenchChild(t *testing.T) {
	kind := os.Getenv(benchChildEnv)
	if kind == "" {
		t.Skip("runs only as the server process of BenchmarkFanOut or BenchmarkIngest")
	}
	var base string
	switch kind {
	case childQrsync:
		a := apptest.Start(t, server.Config{
			Logger: quietLogger(),
			// Room for BenchmarkFanOut's 5,000 viewers, all on loopback.
			MaxConns:           16000,
			MaxConnsPerAddress: 16000,
		})
		base = a.Base
	case childBareHub:
		base = startBareHub(t)
	case childBareIngest:
		base = startBareIngest(t)
	default:
		t.Fatalf("%s=%q: no such child", benchChildEnv, kind)
	}
	fmt.Printf("BASE %s\n", base)
	io.Copy(io.Discard, os.Stdin) // until the benchmark is done with us
}

// benchChild is a running child server.
type benchChild struct {
	Base string

	b     testing.TB
	kind  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *lockedBuffer
	done  chan struct{}
}

// startBenchChild starts a child serving kind and waits for its address.
func startBenchChild(b testing.TB, kind string) *benchChild {
	b.Helper()
	args := []string{"-test.run=^TestBenchChild$", "-test.count=1"}
	if dir := os.Getenv(benchProfileEnv); dir != "" {
		dir, err := filepath.Abs(dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		name := regexp.MustCompile(`[^A-Za-z0-9=_-]+`).ReplaceAllString(b.Name(), "_") + "-" + kind
		args = append(args, "-test.cpuprofile="+filepath.Join(dir, name+".cpu.pprof"),
			"-test.memprofile="+filepath.Join(dir, name+".mem.pprof"), "-test.trace="+filepath.Join(dir, name+".trace"))
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), benchChildEnv+"="+kind, "TMPDIR="+benchTmpRoot(b))
	c := &benchChild{b: b, kind: kind, cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "BASE "); ok {
				base <- addr
				continue
			}
			fmt.Fprintln(c.out, sc.Text())
		}
	}()
	go func() { cmd.Wait(); close(c.done) }()
	b.Cleanup(c.stop)
	select {
	case c.Base = <-base:
	case <-c.done:
		b.Fatalf("%s child exited before serving:\n%s", kind, c.out.String())
	case <-time.After(30 * time.Second):
		b.Fatalf("%s child did not serve within 30s:\n%s", kind, c.out.String())
	}
	return c
}

// stop ends the child cleanly (its stdin closes) and waits for it. Safe
// to call more than once.
func (c *benchChild) stop() {
	c.stdin.Close()
	select {
	case <-c.done:
		return
	case <-time.After(60 * time.Second):
	}
	c.b.Errorf("%s child did not stop within 60s; killing it:\n%s", c.kind, c.out.String())
	c.cmd.Process.Kill()
	<-c.done
}

// cpu is the CPU the child has used, user and system, all its threads
// (fields 14 and 15 of /proc/PID/stat, in clock ticks of 10 ms).
func (c *benchChild) cpu() time.Duration {
	c.b.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		c.b.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: count after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		c.b.Fatalf("parse /proc/%d/stat: %q", c.cmd.Process.Pid, b)
	}
	const clockTick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * clockTick
}

// status reads a "kB" field of /proc/PID/status (VmRSS, VmHWM), in bytes.
func (c *benchChild) status(field string) int64 {
	c.b.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		c.b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if name, val, ok := strings.Cut(line, ":"); ok && name == field {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
			if err != nil {
				c.b.Fatalf("parse %s %q: %v", field, val, err)
			}
			return kb << 10
		}
	}
	c.b.Fatalf("no %s in /proc/%d/status", field, c.cmd.Process.Pid)
	return 0
}

// resetPeakRSS makes VmHWM start again from the current VmRSS (writing 5
// to /proc/PID/clear_refs), so that a later VmHWM is the peak of what
// came between.
func (c *benchChild) resetPeakRSS() {
	c.b.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", c.cmd.Process.Pid), []byte("5"), 0); err != nil {
		c.b.Fatalf("reset the peak RSS: %v", err)
	}
}

// benchTmpRoot is where the children keep their data (see above): one
// directory per benchmark, removed when it ends.
func benchTmpRoot(b testing.TB) string {
	b.Helper()
	if dir := os.Getenv(benchTmpDirEnv); dir != "" {
		d, err := os.MkdirTemp(dir, "qrsync-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	if d, err := os.MkdirTemp("/dev/shm", "qrsync-bench-"); err == nil {
		b.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return b.TempDir()
}

// raiseFileLimit raises RLIMIT_NOFILE to at least need descriptors (the
// hard limit too, when the process may), for this process and the
// children it starts, which inherit it.
func raiseFileLimit(b testing.TB, need uint64) {
	b.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		b.Fatal(err)
	}
	if rl.Max < need {
		rl.Max = need // only root may; then the soft limit is all we get
	}
	rl.Cur = max(rl.Cur, min(need, rl.Max))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			b.Fatal(err)
		}
	}
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	if rl.Cur < need {
		b.Fatalf("RLIMIT_NOFILE is %d; this benchmark needs %d descriptors", rl.Cur, need)
	}
}

// selfCPU is the CPU this process (the benchmark: its clients) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
