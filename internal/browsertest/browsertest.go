// Package browsertest starts real headless browsers for tests, launched so
// that they talk to loopback only: this project's tests must never reach
// the internet, and a browser left to its defaults keeps trying (updates,
// telemetry, sign-in, time). A missing browser fails the test with what to
// install; it is skipped only when QRSYNC_SKIP_BROWSER=1 says so, so CI
// can never pass without running it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumFlags keep Chromium quiet: no background networking, component
// updates, sync, sign-in or network time (see shared/browsers/README.md).
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("no-sandbox", true),
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("no-default-browser-check", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("component-updater", "url-source=http://127.0.0.1:9/cu"),
	chromedp.Flag("gaia-url", "http://127.0.0.1:9/"),
	chromedp.Flag("disable-features", "NetworkTimeServiceQuerying,OptimizationHints,OptimizationGuideModelDownloading"),
}

// ChromiumPath finds the Chromium binary, or fails t with what to do.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "chromium")
	return ""
}

// FirefoxPath finds Firefox ESR, or fails t with what to do.
func FirefoxPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "firefox-esr")
	return ""
}

func missing(t testing.TB, pkg string) {
	t.Helper()
	if os.Getenv("QRSYNC_SKIP_BROWSER") == "1" {
		t.Skipf("%s not installed and QRSYNC_SKIP_BROWSER=1", pkg)
	}
	t.Fatalf("%s is not installed: run `make test-deps` as root (apt-get install %s), or set QRSYNC_SKIP_BROWSER=1 to skip browser tests knowingly", pkg, pkg)
}

// Chromium starts a headless Chromium and returns a context for its first
// tab; more tabs are chromedp.NewContext of it. Everything is torn down
// when the test ends. chromedp makes (and removes) its own profile dir.
func Chromium(t testing.TB) context.Context {
	t.Helper()
	return chromium(t)
}

// ChromiumIn is Chromium speaking lang (a BCP 47 tag such as "zh-CN"): its
// interface language and the Accept-Language it sends, as for a person
// whose system is set to that language.
func ChromiumIn(t testing.TB, lang string) context.Context {
	t.Helper()
	return chromium(t, chromedp.Flag("lang", lang), chromedp.Flag("accept-lang", lang))
}

func chromium(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(ChromiumPath(t))}, chromiumFlags...)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now so a launch failure is reported as such.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// OutputDir is test-output/ at the module root, where browser tests leave
// screenshots for people to look at; it is created if needed.
func OutputDir(t testing.TB) string {
	t.Helper()
	out := filepath.Join(moduleRoot(t), "test-output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// moduleRoot is the directory of go.mod above the test's directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
