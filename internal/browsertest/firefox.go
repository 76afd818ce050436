//go:build unix

package browsertest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Firefox is driven without a driver (no geckodriver, no Marionette): the
// page under test does its work and reports back to the test's server, and
// the test then ends the browser. These bound that ending.
const (
	// firefoxQuitWait is how long Firefox gets to exit after SIGTERM
	// (40–90 ms is usual) before its process group is killed.
	firefoxQuitWait = 5 * time.Second
	// firefoxChildWait is how long its child processes get to follow
	// (they are usually gone within 3 s) before they are killed.
	firefoxChildWait = 4 * time.Second
	// firefoxLogTail is how much of the browser's output a failed test
	// shows.
	firefoxLogTail = 4 << 10
)

// Browser is a browser process started by this package, in a process group
// of its own so that it and every child it forks can be ended together.
type Browser struct {
	t       testing.TB
	cmd     *exec.Cmd
	pgid    int
	exited  chan struct{} // closed once the main process has been waited for
	logPath string
	stop    sync.Once
}

// Firefox starts headless Firefox ESR on url with a fresh profile (a new
// empty directory holding only the shared firefox-user.js, never reused),
// with crash reports and remote settings fetches off, so that it talks to
// nothing but loopback (see shared/browsers/README.md). It fails t if
// Firefox is missing (unless QRSYNC_SKIP_BROWSER=1) or cannot start. The
// browser is ended, with every process it started, when the test ends, or
// earlier by Stop.
func Firefox(t testing.TB, url string) *Browser {
	t.Helper()
	bin := FirefoxPath(t)
	userJS, err := os.ReadFile(FirefoxUserJS(t))
	if err != nil {
		t.Fatalf("firefox prefs: %v", err)
	}
	profile := t.TempDir()
	if err := os.WriteFile(filepath.Join(profile, "user.js"), userJS, 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "firefox.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	cmd := exec.Command(bin, "--headless", "--no-remote", "--profile", profile, url)
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_REMOTE_SETTINGS_DEVTOOLS=1")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A group of its own, so that Stop reaches the content processes too;
	// and killed by the kernel if the test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	b := &Browser{t: t, cmd: cmd, exited: make(chan struct{}), logPath: logPath}

	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that started the process ends,
		// not the process: keep this goroutine on its thread until the
		// browser is gone (see https://go.dev/issue/27505).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		cmd.Wait()
		close(b.exited)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start firefox: %v", err)
	}
	b.pgid = cmd.Process.Pid
	// Registered after the profile's TempDir, so it runs before the
	// directory is removed: nothing writes into it any more by then.
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("firefox output (tail):\n%s", b.Output())
		}
	})
	return b
}

// FirefoxUserJS is the path of the shared Firefox preferences that keep it
// quiet: shared/browsers/firefox-user.js beside the module root.
func FirefoxUserJS(t testing.TB) string {
	t.Helper()
	return filepath.Join(moduleRoot(t), "..", "shared", "browsers", "firefox-user.js")
}

// PID is the browser's main process id (also its process group id).
func (b *Browser) PID() int { return b.pgid }

// Exited is closed when the browser's main process has ended.
func (b *Browser) Exited() <-chan struct{} { return b.exited }

// Output returns the end of what the browser printed.
func (b *Browser) Output() string {
	out, err := os.ReadFile(b.logPath)
	if err != nil {
		return err.Error()
	}
	if len(out) > firefoxLogTail {
		out = out[len(out)-firefoxLogTail:]
	}
	return string(out)
}

// Stop ends the browser: SIGTERM to its whole process group, then SIGKILL
// for whatever is left after a grace period. It returns once no process of
// the group is left, and is safe to call more than once.
func (b *Browser) Stop() {
	b.stop.Do(func() {
		syscall.Kill(-b.pgid, syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(firefoxQuitWait):
			b.t.Logf("firefox (pid %d) ignored SIGTERM for %v: killing it", b.pgid, firefoxQuitWait)
			syscall.Kill(-b.pgid, syscall.SIGKILL)
			<-b.exited
		}
		deadline := time.Now().Add(firefoxChildWait)
		killed := false
		for groupAlive(b.pgid) {
			if !killed && time.Now().After(deadline) {
				b.t.Logf("firefox children (group %d) still running %v after it quit: killing them", b.pgid, firefoxChildWait)
				syscall.Kill(-b.pgid, syscall.SIGKILL)
				killed = true
				deadline = time.Now().Add(firefoxChildWait)
			} else if killed && time.Now().After(deadline) {
				b.t.Errorf("firefox processes of group %d survive SIGKILL", b.pgid)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// groupAlive reports whether a process of group pgid is still running.
// Zombies do not count: the main process is already reaped, and a child's
// zombie belongs to whoever adopted it.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		// No /proc: ask the kernel, which counts zombies too.
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces and
		// parentheses, so parse after its last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 3 || string(f[0]) == "Z" {
			continue
		}
		if g, err := strconv.Atoi(string(f[2])); err == nil && g == pgid {
			return true
		}
	}
	return false
}
