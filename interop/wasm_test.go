//go:build unix

package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"qrsync/internal/browsertest"
)

// casesFile is the decoder's conformance cases, relative to this package.
const casesFile = "../eventsource/testdata/cases.json"

// wasmBuild is internal/ssecheck built for js/wasm once per test binary,
// beside the wasm_exec.js of the same Go; TestMain removes it.
var wasmBuild struct {
	once sync.Once
	dir  string
	took time.Duration
	err  error
}

// ssecheckWasm builds internal/ssecheck with GOOS=js GOARCH=wasm into a
// temporary directory and returns it, holding ssecheck.wasm and
// wasm_exec.js.
func ssecheckWasm(t testing.TB) string {
	t.Helper()
	wasmBuild.once.Do(func() {
		start := time.Now()
		defer func() { wasmBuild.took = time.Since(start) }()
		goBin, err := exec.LookPath("go")
		if err != nil {
			wasmBuild.err = fmt.Errorf("the go command is needed to build the wasm: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "qrsync-interop-wasm-")
		if err != nil {
			wasmBuild.err = err
			return
		}
		wasmBuild.dir = dir
		cmd := exec.Command(goBin, "build", "-o", filepath.Join(dir, "ssecheck.wasm"), "qrsync/internal/ssecheck")
		// -race (say, from GOFLAGS) does not exist for js/wasm.
		var flags []string
		for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
			if f != "-race" && f != "--race" {
				flags = append(flags, f)
			}
		}
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS="+strings.Join(flags, " "))
		if out, err := cmd.CombinedOutput(); err != nil {
			wasmBuild.err = fmt.Errorf("GOOS=js GOARCH=wasm go build ./internal/ssecheck: %v\n%s", err, out)
			return
		}
		out, err := exec.Command(goBin, "env", "GOROOT").Output()
		if err != nil {
			wasmBuild.err = fmt.Errorf("go env GOROOT: %w", err)
			return
		}
		js, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec.js"))
		if err != nil {
			wasmBuild.err = err
			return
		}
		wasmBuild.err = os.WriteFile(filepath.Join(dir, "wasm_exec.js"), js, 0o644)
	})
	if wasmBuild.err != nil {
		t.Fatal(wasmBuild.err)
	}
	return wasmBuild.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if wasmBuild.dir != "" {
		os.RemoveAll(wasmBuild.dir)
	}
	os.Exit(code)
}

// wasmReport is what ssecheck.js posts.
type wasmReport struct {
	UserAgent string  `json:"userAgent"`
	Millis    float64 `json:"ms"`
	Error     string  `json:"error"`
	Report    struct {
		Runtime  string `json:"runtime"`
		Cases    int    `json:"cases"`
		WPTCases int    `json:"wptCases"`
		WPTFound int    `json:"wptFound"`
		Passed   int    `json:"passed"`
		Readings int    `json:"readings"`
		Results  []struct {
			Name     string   `json:"name"`
			Pass     bool     `json:"pass"`
			Readings int      `json:"readings"`
			Failures []string `json:"failures"`
		} `json:"results"`
	} `json:"report"`
}

// runCasesInBrowser opens the ssecheck page in a browser (launch) and
// checks that every case of cases.json passed there.
func runCasesInBrowser(t *testing.T, who string, launch func(pageURL string)) {
	start := time.Now()
	dir := ssecheckWasm(t)
	want := loadCases(t)

	ps := newPageServer(t, map[string]string{
		"/ssecheck.html": "testdata/ssecheck.html",
		"/ssecheck.js":   "testdata/ssecheck.js",
		"/wasm_exec.js":  filepath.Join(dir, "wasm_exec.js"),
		"/ssecheck.wasm": filepath.Join(dir, "ssecheck.wasm"),
		"/cases.json":    casesFile,
	}, "")
	launch(ps.URL() + "/ssecheck.html")
	var rep wasmReport
	ps.waitReport(waitLaunch, &rep)
	if rep.Error != "" {
		t.Fatalf("%s: the page failed: %s", who, rep.Error)
	}
	r := rep.Report
	if !strings.HasPrefix(r.Runtime, "js/wasm ") {
		t.Errorf("%s: the cases ran on %q, not js/wasm", who, r.Runtime)
	}
	if r.Cases != len(want.Cases) || len(r.Results) != len(want.Cases) {
		t.Fatalf("%s: ran %d cases (%d results), the file has %d", who, r.Cases, len(r.Results), len(want.Cases))
	}
	for i, res := range r.Results {
		if res.Name != want.Cases[i].Name {
			t.Errorf("%s: result %d is %q, want case %q", who, i, res.Name, want.Cases[i].Name)
		}
		if !res.Pass {
			t.Errorf("%s: case %s failed in the browser:\n  %s", who, res.Name, strings.Join(res.Failures, "\n  "))
		}
		if res.Readings < 5 {
			t.Errorf("%s: case %s was read only %d ways", who, res.Name, res.Readings)
		}
	}
	if r.WPTFound != want.WPTCases || r.WPTCases != want.WPTCases {
		t.Errorf("%s: %d WPT cases found, the file says %d", who, r.WPTFound, want.WPTCases)
	}
	if r.Passed != r.Cases {
		t.Errorf("%s: %d of %d cases pass", who, r.Passed, r.Cases)
	}
	t.Logf("%s (%s): %s: %d/%d cases pass (%d from WPT), %d readings in %.0f ms; wasm build %v (once per run), whole test %v",
		who, rep.UserAgent, r.Runtime, r.Passed, r.Cases, r.WPTFound, r.Readings, rep.Millis,
		wasmBuild.took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestDecoderCasesInChromium runs the decoder's cases in its wasm build in
// headless Chromium.
func TestDecoderCasesInChromium(t *testing.T) {
	browsertest.ChromiumPath(t)
	runCasesInBrowser(t, "Chromium", func(pageURL string) {
		ctx := browsertest.Chromium(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
			t.Fatalf("chromium: open %s: %v", pageURL, err)
		}
	})
}

// TestDecoderCasesInFirefox runs the decoder's cases in its wasm build in
// headless Firefox ESR.
func TestDecoderCasesInFirefox(t *testing.T) {
	browsertest.FirefoxPath(t)
	runCasesInBrowser(t, "Firefox", func(pageURL string) {
		browsertest.Firefox(t, pageURL)
	})
}
