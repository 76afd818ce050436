// Command benchtable runs qrsync's speed benchmarks and prints one
// Markdown table of the figures the project has goals for, each beside
// the reference measured in the same run, so that BENCHMARKS.md can be
// refreshed with one paste:
//
//	go run ./internal/benchtable [-short] [-only REGEX] > table.md
//
// Progress goes to stderr, the table to stdout. A goal missed is a
// finding, not an error: the exit status is non-zero only when a
// benchmark could not be run (a build failure, a b.Fatal, a timeout).
// A benchmark that does not exist (yet) shows as "not run".
//
// The full run takes about 5 to 10 minutes on a 2-core machine; it needs
// vipsthumbnail (make bench-deps) and web/static/app.wasm (make wasm).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

func main() {
	short := flag.Bool("short", false, "pass -short to the benchmarks: smaller loads, for a quick check")
	only := flag.String("only", "", "run only the groups whose name matches this regexp (photo, streams, fanout, ingest, lastbyte, paint, wasm)")
	flag.Parse()
	var sel *regexp.Regexp
	if *only != "" {
		var err error
		if sel, err = regexp.Compile(*only); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable: -only:", err)
			os.Exit(2)
		}
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	r := &runner{root: root, short: *short, log: os.Stderr}
	start := time.Now()
	var rows []row
	failed := false
	groups := selectGroups(allGroups(), sel)
	for i, g := range groups {
		fmt.Fprintf(os.Stderr, "benchtable: [%d/%d] %s\n", i+1, len(groups), g.name)
		t0 := time.Now()
		rs, err := g.run(r)
		rows = append(rows, rs...)
		if err != nil {
			failed = true
			fmt.Fprintf(os.Stderr, "benchtable: %s FAILED after %s: %v\n", g.name, roundDur(time.Since(t0)), err)
		} else {
			fmt.Fprintf(os.Stderr, "benchtable: %s done in %s\n", g.name, roundDur(time.Since(t0)))
		}
	}
	m := readMachine(r)
	m.Wall = time.Since(start)
	m.Args = shellJoin(os.Args[1:])
	writeReport(os.Stdout, m, rows)
	fmt.Fprintf(os.Stderr, "benchtable: all done in %s\n", roundDur(m.Wall))
	if failed {
		os.Exit(1)
	}
}

// group is one run of benchmarks (or the wasm measurement) and the rows
// of the table it fills.
type group struct {
	name string
	run  func(r *runner) ([]row, error)
}

// allGroups is every figure the table has, in the table's order.
func allGroups() []group {
	return []group{
		{"photo", benchGroup(benchRun{
			pkg: "./photo", bench: "Process12MP|Thumbnail|Vips|48MP", timeout: 10 * time.Minute,
		}, photoRows)},
		// One round is all the streams (its doc comment: -benchtime=1x).
		{"streams", benchGroup(benchRun{
			pkg: "./server", bench: "^BenchmarkIdleStreamRSS$", benchtime: "1x", timeout: 5 * time.Minute,
		}, streamRows)},
		// A fan-out round is some 15 s of timed publishes, both sides.
		// Two rounds, qrsync and the hub in turn, so that a slow spell of
		// the machine falls on both sides rather than on one.
		{"fanout", benchGroup(benchRun{
			pkg: "./server", bench: "^BenchmarkFanOut$", benchtime: "2x", timeout: 10 * time.Minute,
		}, fanOutRows)},
		// A round of ingest is 3 rounds of uploads, both sides: one round
		// is the measurement.
		{"ingest", benchGroup(benchRun{
			pkg: "./server", bench: "^BenchmarkIngest$", benchtime: "1x", timeout: 10 * time.Minute,
		}, ingestRows)},
		// Twenty photos of 12 MP, each sent at 10 MB/s (~0.35 s).
		{"lastbyte", benchGroup(benchRun{
			pkg: "./server", bench: "^BenchmarkLastByteToEvent12MP$", benchtime: "20x", timeout: 5 * time.Minute,
		}, lastByteRows)},
		// Being written when this was (as BenchmarkPaint, then
		// BenchmarkPCPaint): any Benchmark...Paint, 1x if its doc asks.
		{"paint", benchGroup(benchRun{
			pkg: "./server", bench: paintBench.String(), benchtime: "doc", timeout: 10 * time.Minute,
		}, paintRows)},
		{"wasm", runWasm},
	}
}

// selectGroups keeps the groups -only names (all of them for nil).
func selectGroups(gs []group, sel *regexp.Regexp) []group {
	if sel == nil {
		return gs
	}
	var out []group
	for _, g := range gs {
		if sel.MatchString(g.name) {
			out = append(out, g)
		}
	}
	return out
}

// runner holds what every group's run needs.
type runner struct {
	root  string // the module's directory
	short bool
	log   io.Writer // progress
}

// moduleRoot is the directory of the main module's go.mod, so that the
// program works from any directory of the tree.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the qrsync module: run from its tree")
	}
	return filepath.Dir(gomod), nil
}

// benchRun is one go test invocation.
type benchRun struct {
	pkg   string
	bench string
	// benchtime is passed as -benchtime; "" leaves go's default, "doc"
	// means 1x if the benchmark's doc comment says -benchtime 1x (for a
	// benchmark written after this program).
	benchtime string
	timeout   time.Duration
}

// args is the go command line of b.
func (b benchRun) args(short bool, benchtime string) []string {
	a := []string{"test", "-run", "^$", "-bench", b.bench, "-timeout", b.timeout.String()}
	if benchtime != "" {
		a = append(a, "-benchtime", benchtime)
	}
	if short {
		a = append(a, "-short")
	}
	return append(a, b.pkg)
}

// benchGroup makes a group of a go test run whose parsed output rows
// turns into rows of the table.
func benchGroup(b benchRun, rows func(o *benchOutput, short bool) []row) func(r *runner) ([]row, error) {
	return func(r *runner) ([]row, error) {
		bt := b.benchtime
		if bt == "doc" {
			bt = ""
			if docSaysOneRound(filepath.Join(r.root, b.pkg), regexp.MustCompile(b.bench)) {
				bt = "1x"
			}
		}
		args := b.args(r.short, bt)
		fmt.Fprintf(r.log, "benchtable:   go %s\n", strings.Join(args, " "))
		o, err := r.goTest(args)
		if err != nil {
			o.runErr = err
		}
		return rows(o, r.short), err
	}
}

// goTest runs go with args in the module's root and parses its standard
// output, echoing the result lines to the progress log as they come so
// that a long run shows it is alive.
func (r *runner) goTest(args []string) (*benchOutput, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = r.root
	var out bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(&out, pw)
	cmd.Stderr = r.log
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "--- SKIP") {
				fmt.Fprintf(r.log, "benchtable:     %s\n", strings.Join(strings.Fields(line), " "))
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	o := parseBench(out.String())
	if err != nil {
		// What go test printed says why; the tail is the part that does.
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		lines = lines[max(0, len(lines)-40):]
		fmt.Fprintf(r.log, "benchtable:   go test failed (%v); the end of its output:\n%s\n", err, strings.Join(lines, "\n"))
	}
	return o, err
}

// docOneRound finds "benchtime 1x" (or =1x) in a doc comment.
var docOneRound = regexp.MustCompile(`benchtime[= ]1x`)

// docSaysOneRound reports whether the doc comment of a benchmark func
// in the _test.go files of dir whose name matches name asks for
// -benchtime 1x.
func docSaysOneRound(dir string, name *regexp.Regexp) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			fn, ok := strings.CutPrefix(l, "func ")
			if fn, _, ok2 := strings.Cut(fn, "("); !ok || !ok2 || !name.MatchString(fn) {
				continue
			}
			for j := i - 1; j >= 0 && strings.HasPrefix(lines[j], "//"); j-- {
				if docOneRound.MatchString(lines[j]) {
					return true
				}
			}
		}
	}
	return false
}

// result is one benchmark result line.
type result struct {
	Name    string // as printed, with the -GOMAXPROCS suffix if any
	N       int64
	Metrics map[string]float64 // by unit: "ns/op", "x-vips", ...
}

// benchOutput is what one go test -bench run printed.
type benchOutput struct {
	Results []result
	Failed  []string // names of --- FAIL lines
	Skipped []string // names of --- SKIP lines
	runErr  error    // go test's own failure, if any
}

// parseBench reads go test -bench output: lines "Name N value unit
// value unit ...", and the --- FAIL and --- SKIP lines. Anything a
// benchmark or its children print to stdout can come between a name and
// its figures (the name is printed when the benchmark starts); a name
// alone is therefore kept for the next line of figures.
func parseBench(out string) *benchOutput {
	o := &benchOutput{}
	pending := ""
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		if name, ok := strings.CutPrefix(t, "--- FAIL: "); ok {
			o.Failed = append(o.Failed, firstField(name))
			continue
		}
		if name, ok := strings.CutPrefix(t, "--- SKIP: "); ok {
			o.Skipped = append(o.Skipped, firstField(name))
			continue
		}
		f := strings.Fields(t)
		if len(f) == 0 {
			continue
		}
		if strings.HasPrefix(f[0], "Benchmark") {
			if r, ok := parseFigures(f[0], f[1:]); ok {
				o.Results = append(o.Results, r)
				pending = ""
			} else {
				pending = f[0]
			}
			continue
		}
		if pending != "" {
			if r, ok := parseFigures(pending, f); ok {
				o.Results = append(o.Results, r)
				pending = ""
			}
		}
	}
	return o
}

// firstField is s up to its first blank ("Name (0.00s)" → "Name").
func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

// parseFigures reads "N value unit value unit ..." into a result.
func parseFigures(name string, f []string) (result, bool) {
	if len(f) < 3 || len(f)%2 != 1 {
		return result{}, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return result{}, false
	}
	r := result{Name: name, N: n, Metrics: map[string]float64{}}
	for i := 1; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return result{}, false
		}
		r.Metrics[f[i+1]] = v
	}
	return r, true
}

// procSuffix is the -GOMAXPROCS go test appends to names (not with 1).
var procSuffix = regexp.MustCompile(`-[0-9]+$`)

// sameBench reports whether printed is the benchmark want, with or
// without the -GOMAXPROCS suffix.
func sameBench(printed, want string) bool {
	return printed == want || procSuffix.ReplaceAllString(printed, "") == want
}

// find is the last result of benchmark name.
func (o *benchOutput) find(name string) (result, bool) {
	for i := len(o.Results) - 1; i >= 0; i-- {
		if sameBench(o.Results[i].Name, name) {
			return o.Results[i], true
		}
	}
	return result{}, false
}

// status says why benchmark name has no figure: "failed" (it or a
// parent did, or go test did), "skipped", or "not run" (no such
// benchmark, or it did not get that far).
func (o *benchOutput) status(name string) string {
	under := func(list []string) bool {
		for _, p := range list {
			for _, s := range []string{p, procSuffix.ReplaceAllString(p, "")} {
				if s == name || strings.HasPrefix(name, s+"/") {
					return true
				}
			}
		}
		return false
	}
	switch {
	case under(o.Failed), o.runErr != nil:
		return "failed"
	case under(o.Skipped):
		return "skipped"
	}
	return "not run"
}

// row is one line of the table, its cells in column order.
type row struct {
	Figure, Measured, Reference, Ratio, Goal string
	Met                                      string // yes, **no**, —, or why there is no figure
}

// goal is what a figure should be; a zero goal means report it only.
type goal struct {
	text    string // as the table shows it
	ofRatio bool   // limit applies to the ratio, not the value
	atMost  bool   // met if ≤ limit, else if ≥ limit
	limit   float64
}

// met is the goal's verdict on value v and ratio x.
func (g goal) met(v, x float64, haveRatio bool) string {
	if g.text == "" {
		return "—"
	}
	if g.ofRatio {
		if !haveRatio {
			return "—"
		}
		v = x
	}
	if (g.atMost && v <= g.limit) || (!g.atMost && v >= g.limit) {
		return "yes"
	}
	return "**no**"
}

// figure is a row that comes from one benchmark's metrics.
type figure struct {
	label string
	bench string // its name, without the -GOMAXPROCS suffix
	unit  string // the metric measured
	ref   string // the same-run reference's metric, or ""
	// refName says what the reference is.
	refName string
	// ratio is the metric holding measured/reference, or "" to divide.
	ratio   string
	noRatio bool                 // a ratio would mean nothing (the RSS of a bare handler)
	show    func(float64) string // how a value reads; plain number if nil
	scale   float64              // multiplies the metric (ns → ms), 1 if 0
	goal    goal
}

// eval makes f's row from o.
func (f figure) eval(o *benchOutput) row {
	rw := row{Figure: f.label, Measured: "—", Reference: "—", Ratio: "—", Goal: orDash(f.goal.text)}
	res, ok := o.find(f.bench)
	v, have := res.Metrics[f.unit]
	if !ok || !have {
		rw.Met = o.status(f.bench)
		if ok {
			rw.Met = "not reported"
		}
		return rw
	}
	scale := f.scale
	if scale == 0 {
		scale = 1
	}
	show := f.show
	if show == nil {
		show = fmtNum
	}
	rw.Measured = show(v * scale)
	var x float64
	haveRatio := false
	if f.ref != "" {
		if rv, ok := res.Metrics[f.ref]; ok {
			rw.Reference = show(rv*scale) + " " + f.refName
			if !f.noRatio && rv != 0 {
				x, haveRatio = v/rv, true
			}
		}
	}
	if rx, ok := res.Metrics[f.ratio]; ok && f.ratio != "" {
		x, haveRatio = rx, true
	}
	if haveRatio {
		rw.Ratio = fmtNum(x) + "×"
	}
	rw.Met = f.goal.met(v*scale, x, haveRatio)
	return rw
}

// orDash is s, or a dash for an empty cell.
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// photoRows: the thumbnail's CPU beside vipsthumbnail's at 12 and 48 MP,
// the whole of Process at 12 MP, and the thumbnail's PSNR if a benchmark
// reports one (any metric named with psnr, or in dB).
func photoRows(o *benchOutput, short bool) []row {
	ms := unitShow(" ms")
	rows := []row{
		figure{label: "Thumbnail CPU, 12 MP (4032×3024)", bench: "BenchmarkThumbnailCPU/4032x3024",
			unit: "cpu-ms", ref: "vips-cpu-ms", refName: "(vipsthumbnail)", ratio: "x-vips", show: ms,
			goal: goal{text: "≤ 2× vips", ofRatio: true, atMost: true, limit: 2}}.eval(o),
		figure{label: "Thumbnail CPU, 48 MP (8064×6048)", bench: "BenchmarkThumbnailCPU/8064x6048",
			unit: "cpu-ms", ref: "vips-cpu-ms", refName: "(vipsthumbnail)", ratio: "x-vips", show: ms}.eval(o),
		figure{label: "Process, 12 MP (wall per photo)", bench: "BenchmarkProcess12MP",
			unit: "ns/op", scale: 1e-6, show: ms}.eval(o),
	}
	psnr := row{Figure: "Thumbnail PSNR vs full decode + Lanczos", Measured: "—", Reference: "—", Ratio: "—",
		Goal: psnrGoal.text, Met: "not reported"}
	worst := math.Inf(1)
	for _, r := range o.Results {
		for unit, v := range r.Metrics {
			if u := strings.ToLower(unit); (strings.Contains(u, "psnr") || u == "db") && v < worst {
				worst = v // the worst photo is the one that speaks for all
			}
		}
	}
	switch {
	case !math.IsInf(worst, 1):
		psnr.Measured = fmtNum(worst) + " dB"
		psnr.Met = psnrGoal.met(worst, 0, false)
	case len(o.Results) == 0:
		psnr.Met = o.status("BenchmarkThumbnailCPU")
	}
	return append(rows, psnr)
}

// psnrGoal is the thumbnail's fidelity to a full decode and Lanczos.
var psnrGoal = goal{text: "≥ 35 dB", limit: 35}

// streamRows: what an idle viewer costs the server.
func streamRows(o *benchOutput, short bool) []row {
	n := "10,000"
	if short {
		n = "1,000"
	}
	return []row{
		figure{label: "Idle stream RSS (" + n + " streams)", bench: "BenchmarkIdleStreamRSS",
			unit: "bytes/stream", show: unitShow(" B/stream"),
			goal: goal{text: "≤ 15,360 B/stream (15 KiB)", atMost: true, limit: 15360}}.eval(o),
	}
}

// lastByteRows: from a phone's last byte to the photo's image event on
// the PC, the wait DESIGN §1 says counts; the aim is 20 ms.
func lastByteRows(o *benchOutput, short bool) []row {
	return []row{
		figure{label: "Last byte → image event, 12 MP at 10 MB/s: p50", bench: "BenchmarkLastByteToEvent12MP",
			unit: "p50-ms", show: unitShow(" ms"),
			goal: goal{text: "≤ 20 ms (aim)", atMost: true, limit: 20}}.eval(o),
	}
}

// fanOutRows: server CPU and latency of one session's events to many
// viewers, beside the bare net/http hub.
func fanOutRows(o *benchOutput, short bool) []row {
	var rows []row
	within := goal{text: "≤ 1.1× bare", ofRatio: true, atMost: true, limit: 1.1}
	for _, n := range []string{"1000", "5000"} {
		bench := "BenchmarkFanOut/subscribers=" + n
		label := "Fan-out, " + n[:1] + "," + n[1:] + " subscribers: "
		rows = append(rows,
			figure{label: label + "server CPU/event", bench: bench, unit: "cpu-ms/event", ref: "bare-cpu-ms/event",
				refName: "(bare hub)", ratio: "x-bare-cpu", show: unitShow(" ms"), goal: within}.eval(o),
			figure{label: label + "p50 latency", bench: bench, unit: "p50-ms", ref: "bare-p50-ms",
				refName: "(bare hub)", ratio: "x-bare-p50", show: unitShow(" ms"), goal: within}.eval(o),
			figure{label: label + "p99 latency", bench: bench, unit: "p99-ms", ref: "bare-p99-ms",
				refName: "(bare hub)", ratio: "x-bare-p99", show: unitShow(" ms"), goal: within}.eval(o),
			// Not goals: they show how much of the latency is the publish
			// itself (for qrsync a real upload) rather than the fan-out.
			figure{label: label + "p1 latency", bench: bench, unit: "p1-ms", ref: "bare-p1-ms",
				refName: "(bare hub)", show: unitShow(" ms")}.eval(o),
			figure{label: label + "publish answered, p50", bench: bench, unit: "publish-ms", ref: "bare-publish-ms",
				refName: "(bare hub)", show: unitShow(" ms")}.eval(o),
		)
	}
	return rows
}

// ingestRows: big uploads' throughput beside a bare net/http handler's,
// and the server's memory growth under them.
func ingestRows(o *benchOutput, short bool) []row {
	var rows []row
	for _, n := range []string{"1", "8"} {
		bench := "BenchmarkIngest/uploads=" + n
		label := "Ingest, " + n + " upload" + map[bool]string{true: "s", false: ""}[n != "1"] + " at once: "
		rows = append(rows,
			figure{label: label + "throughput", bench: bench, unit: "MiB/s", ref: "bare-MiB/s",
				refName: "(bare handler)", ratio: "x-bare", show: unitShow(" MiB/s"),
				goal: goal{text: "≥ 1.0× bare", ofRatio: true, limit: 1}}.eval(o),
			figure{label: label + "peak RSS growth", bench: bench, unit: "rss-MiB", ref: "bare-rss-MiB",
				refName: "(bare handler)", noRatio: true, show: unitShow(" MiB"),
				goal: goal{text: "≤ 64 MiB", atMost: true, limit: 64}}.eval(o),
		)
	}
	return rows
}

// paintBench names the paint benchmarks: the brief said BenchmarkPaint,
// the file has BenchmarkPCPaint, a phone's may follow.
var paintBench = regexp.MustCompile(`^Benchmark\w*Paint$`)

// paintRows: time to the first paint of the QR code (and of a photo's
// thumbnail). The benchmark came after this program, so every p50 it
// reports gets a row (the goal is on qr-p50-ms), with a bare-* metric as
// the reference if it has one.
func paintRows(o *benchOutput, short bool) []row {
	var rows []row
	for _, r := range o.Results {
		name := procSuffix.ReplaceAllString(r.Name, "")
		top, sub, _ := strings.Cut(name, "/")
		if !paintBench.MatchString(top) {
			continue
		}
		label := strings.TrimPrefix(top, "Benchmark")
		if sub != "" {
			label += ", " + sub
		}
		for _, unit := range slices.Sorted(maps.Keys(r.Metrics)) {
			if !strings.HasSuffix(unit, "p50-ms") || strings.HasPrefix(unit, "bare-") || strings.HasPrefix(unit, "x-") {
				continue
			}
			f := figure{label: label + ": " + strings.TrimSuffix(unit, "-ms"), bench: name, unit: unit,
				ref: "bare-" + unit, refName: "(bare)",
				ratio: ratioIfAny(r, "x-bare-"+strings.TrimSuffix(unit, "-ms")), show: unitShow(" ms")}
			if unit == "qr-p50-ms" {
				f.goal = paintGoal
			}
			rows = append(rows, f.eval(o))
		}
	}
	if len(rows) > 0 {
		return rows
	}
	rw := row{Figure: "Paint: qr-p50", Measured: "—", Reference: "—", Ratio: "—", Goal: paintGoal.text, Met: "not run"}
	named := func(names []string) bool {
		for _, n := range names {
			top, _, _ := strings.Cut(procSuffix.ReplaceAllString(n, ""), "/")
			if paintBench.MatchString(top) {
				return true
			}
		}
		return false
	}
	switch {
	case o.runErr != nil || named(o.Failed):
		rw.Met = "failed"
	case named(o.Skipped):
		rw.Met = "skipped"
	}
	return append(rows, rw)
}

// paintGoal is the PC page's QR on screen, cold.
var paintGoal = goal{text: "≤ 150 ms", atMost: true, limit: 150}

// ratioIfAny is unit if r reports it, else "" (the ratio is computed).
func ratioIfAny(r result, unit string) string {
	if _, ok := r.Metrics[unit]; ok {
		return unit
	}
	return ""
}

// wasmGoal is the budget of the client over Go's own floor.
var wasmGoal = goal{text: "≤ 1.2× empty", ofRatio: true, atMost: true, limit: 1.2}

// runWasm compares the brotli size of web/static/app.wasm (make wasm)
// with that of an empty GOOS=js program built now, by the same go and
// the same flags as the Makefile's: the floor the runtime alone sets. Beside
// it goes the smallest client of the event stream (streamonly: the same
// fetch glue and decoder, events logged to the console), so that a reader
// sees how much of the budget over the floor the stream alone takes.
func runWasm(r *runner) ([]row, error) {
	rw := row{Figure: "Client wasm, brotli q11", Measured: "—", Reference: "—", Ratio: "—", Goal: wasmGoal.text}
	floor := row{Figure: "Stream-only client wasm, brotli q11", Measured: "—", Reference: "—", Ratio: "—", Goal: "—", Met: "—"}
	fail := func(err error) ([]row, error) {
		rw.Met, floor.Met = "failed", "failed"
		return []row{rw, floor}, err
	}
	app := filepath.Join(r.root, "web", "static", "app.wasm")
	st, err := os.Stat(app)
	if err != nil {
		// Not a benchmark failing: the input was never built.
		fmt.Fprintf(r.log, "benchtable:   %s is missing (make wasm): not run\n", app)
		rw.Met, floor.Met = "not run", "not run"
		return []row{rw, floor}, nil
	}
	fmt.Fprintf(r.log, "benchtable:   %s, built %s\n", app, st.ModTime().Format(time.DateTime))
	dir, err := os.MkdirTemp("", "benchtable-wasm-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	empty, err := buildEmptyWasm(r, dir)
	if err != nil {
		return fail(err)
	}
	streamOnly := filepath.Join(dir, "streamonly.wasm")
	if err := buildWasm(r, r.root, streamOnly, "./internal/benchtable/streamonly"); err != nil {
		return fail(err)
	}
	files := []string{app, empty, streamOnly}
	sizes := make([]int64, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() { sizes[i], errs[i] = brotliSize(f) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	appSize, emptySize, floorSize := sizes[0], sizes[1], sizes[2]
	x := float64(appSize) / float64(emptySize)
	rw.Measured = fmtInt(appSize) + " B"
	rw.Reference = fmtInt(emptySize) + " B (empty program)"
	rw.Ratio = fmtNum(x) + "×"
	rw.Met = wasmGoal.met(0, x, true)
	floor.Measured = fmtInt(floorSize) + " B"
	floor.Reference = rw.Reference
	floor.Ratio = fmtNum(float64(floorSize)/float64(emptySize)) + "×"
	return []row{rw, floor}, nil
}

// buildEmptyWasm builds func main() {} for js/wasm in dir, with a
// go.mod carrying the module's go and toolchain lines so that the same
// toolchain builds it.
func buildEmptyWasm(r *runner, dir string) (string, error) {
	gomod := "module empty\n"
	if data, err := os.ReadFile(filepath.Join(r.root, "go.mod")); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "go ") || strings.HasPrefix(l, "toolchain ") {
				gomod += "\n" + l + "\n"
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "empty.wasm")
	return out, buildWasm(r, dir, out, ".")
}

// buildWasm builds the package pkg, from dir, for js/wasm into out, with
// the Makefile's flags.
func buildWasm(r *runner, dir, out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	fmt.Fprintf(r.log, "benchtable:   GOOS=js GOARCH=wasm go build -trimpath -ldflags=\"-s -w\" %s (in %s)\n", pkg, dir)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s for js/wasm: %v\n%s", pkg, err, msg)
	}
	return nil
}

// brotliSize is the size of file compressed at brotli's quality 11, as
// a server would serve it precompressed.
func brotliSize(file string) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n countWriter
	w := brotli.NewWriterLevel(&n, brotli.BestCompression)
	if _, err := io.Copy(w, f); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// countWriter counts what is written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// unitShow formats a value followed by unit.
func unitShow(unit string) func(float64) string {
	return func(v float64) string { return fmtNum(v) + unit }
}

// fmtNum shows v with three or so significant digits, and thousands
// separated: the noise of these figures is larger than that.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case a >= 100:
		return fmtInt(int64(math.Round(v)))
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 0.01 || a == 0:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// fmtInt shows n with thousands separated by commas.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// shellJoin quotes args as a shell would need them, so that the command
// line the report shows can be pasted back.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t|&;()<>$`\\\"'*?[]#~{}^!") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// roundDur rounds d for a human.
func roundDur(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// machine is what the figures were measured on.
type machine struct {
	CPU       string        // model name, from /proc/cpuinfo
	Cores     int           // usable by this process
	GoVersion string        // of the go the benchmarks ran with
	OSArch    string        // GOOS/GOARCH
	When      time.Time     // the end of the run, UTC
	Wall      time.Duration // the whole run
	Args      string        // this program's flags, shell-quoted
}

// readMachine describes this machine and the go the benchmarks ran with
// (go env, which is the go on PATH, not necessarily this program's).
func readMachine(r *runner) machine {
	m := machine{CPU: "unknown", Cores: runtime.NumCPU(), OSArch: runtime.GOOS + "/" + runtime.GOARCH,
		When: time.Now().UTC(), GoVersion: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(string(data))
	}
	cmd := exec.Command("go", "env", "GOVERSION")
	cmd.Dir = r.root
	if out, err := cmd.Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	return m
}

// cpuModel is the CPU's name in /proc/cpuinfo: "model name" on x86,
// else the likes of "Model" or "Hardware" on ARM.
func cpuModel(cpuinfo string) string {
	found := map[string]string{}
	for _, l := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(l, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if ok && v != "" && found[k] == "" {
			found[k] = v
		}
	}
	for _, k := range []string{"model name", "Model", "Hardware", "cpu model", "cpu"} {
		if v := found[k]; v != "" {
			return v
		}
	}
	return "unknown"
}

// writeReport prints the machine and the table, in Markdown.
func writeReport(w io.Writer, m machine, rows []row) {
	cmdline := "go run ./internal/benchtable"
	if m.Args != "" {
		cmdline += " " + m.Args
	}
	fmt.Fprintf(w, "- Machine: %s, %d cores, %s\n", m.CPU, m.Cores, m.OSArch)
	fmt.Fprintf(w, "- Go: %s\n", m.GoVersion)
	fmt.Fprintf(w, "- Run: `%s`, %s, %s wall\n\n", cmdline, m.When.Format("2006-01-02 15:04 UTC"), m.Wall.Round(time.Second))
	writeTable(w, rows)
}

// writeTable prints rows as a Markdown table, columns padded so that it
// also reads as plain text.
func writeTable(w io.Writer, rows []row) {
	head := row{"figure", "measured", "same-run reference", "ratio", "goal", "met?"}
	cells := func(r row) []string { return []string{r.Figure, r.Measured, r.Reference, r.Ratio, r.Goal, r.Met} }
	width := make([]int, 6)
	for _, r := range append([]row{head}, rows...) {
		for i, c := range cells(r) {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cs []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cs {
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-len([]rune(c))) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(cells(head))
	sep := make([]string, 6)
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(cells(r))
	}
}
