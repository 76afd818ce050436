package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Captured from real runs on a 2-core AMD EPYC (the go test commands
// main runs), so that the parser is held to what go test prints.
const (
	photoOut = `goos: linux
goarch: amd64
pkg: qrsync/photo
cpu: AMD EPYC
BenchmarkThumbnail/Lanczos/onestep-2         	       2	 871249728 ns/op
BenchmarkThumbnail/CatmullRom/onestep-2      	       2	 983756083 ns/op
BenchmarkThumbnail/Linear/onestep-2          	       2	 669491475 ns/op
BenchmarkThumbnail/Box/onestep-2             	       2	 533776552 ns/op
BenchmarkThumbnail/Lanczos/twostep-2         	       3	 427946289 ns/op
BenchmarkThumbnail/CatmullRom/twostep-2      	       3	 415682587 ns/op
BenchmarkThumbnail/Linear/twostep-2          	       3	 407826896 ns/op
BenchmarkThumbnail/Box/twostep-2             	       3	 427944977 ns/op
BenchmarkProcess12MP-2                       	      13	  87821797 ns/op	  44.15 MB/s
BenchmarkThumbnailCPU/4032x3024-2            	      13	  87535277 ns/op	        85.80 cpu-ms	        98.34 vips-cpu-ms	         0.8725 x-vips
BenchmarkThumbnailCPU/8064x6048-2            	       5	 244282400 ns/op	       235.8 cpu-ms	       239.0 vips-cpu-ms	         0.9867 x-vips
PASS
ok  	qrsync/photo	30.090s
`
	streamsOut = `goos: linux
goarch: amd64
pkg: qrsync/server
cpu: AMD EPYC
BenchmarkIdleStreamRSS-2   	       1	9380184917 ns/op	     14351 bytes/stream	         1.000 go_goroutines/stream	      4630 heap_inuse_bytes/stream	      8182 stack_inuse_bytes/stream
PASS
ok  	qrsync/server	31.247s
`
	fanOutOut = `goos: linux
goarch: amd64
pkg: qrsync/server
cpu: AMD EPYC
BenchmarkFanOut/subscribers=1000-2         	       1	        18.34 bare-client-cpu-ms/event	        39.50 bare-cpu-ms/event	         0 bare-lost-events	         4.100 bare-p1-ms	        28.60 bare-p50-ms	       171.3 bare-p99-ms	         0 bare-publish-cpu-ms	         7.335 bare-publish-ms	        25.88 client-cpu-ms/event	        64.60 cpu-ms/event	         0 lost-events	         9.500 p1-ms	       133.1 p50-ms	       666.4 p99-ms	         3.000 publish-cpu-ms	        96.06 publish-ms	         1.635 x-bare-cpu	         4.655 x-bare-p50	         3.889 x-bare-p99
--- BENCH: BenchmarkFanOut/subscribers=1000-2
    fanout_bench_test.go:82: qrsync: 1000 subscribers connected in 840ms
    fanout_bench_test.go:82: qrsync: 100 events published and delivered to 1000 subscribers in 12.047s
    fanout_bench_test.go:83: bare-hub: 1000 subscribers connected in 200ms
    fanout_bench_test.go:83: bare-hub: 100 events published and delivered to 1000 subscribers in 9.928s
BenchmarkFanOut/subscribers=5000-2         	       1	        90.12 bare-cpu-ms/event	       140.0 bare-p50-ms	       400.0 bare-p99-ms	       99.00 cpu-ms/event	       150.0 p50-ms	       420.0 p99-ms	         1.099 x-bare-cpu	         1.071 x-bare-p50	         1.050 x-bare-p99
PASS
ok  	qrsync/server	80.2s
`
	ingestOut = `BenchmarkIngest/uploads=1-2         	       1	       310.5 MiB/s	         1.250 bare-MiB/s	       0.5000 bare-rss-MiB	       302.1 bare-cpu-ms/MiB	      3.100 cpu-ms/MiB	        40.00 rss-MiB	         0.9900 x-bare
BenchmarkIngest/uploads=8-2         	       1	       400.0 MiB/s	       380.0 bare-MiB/s	       0.7500 bare-rss-MiB	         2.900 cpu-ms/MiB	       70.00 rss-MiB	         1.053 x-bare
PASS
ok  	qrsync/server	50.0s
`
)

func TestParseBench(t *testing.T) {
	o := parseBench(photoOut)
	if len(o.Results) != 11 || len(o.Failed) != 0 || len(o.Skipped) != 0 {
		t.Fatalf("%d results, failed %v, skipped %v; want 11, none, none", len(o.Results), o.Failed, o.Skipped)
	}
	r, ok := o.find("BenchmarkThumbnailCPU/8064x6048")
	if !ok {
		t.Fatal("BenchmarkThumbnailCPU/8064x6048 not found")
	}
	want := map[string]float64{"ns/op": 244282400, "cpu-ms": 235.8, "vips-cpu-ms": 239.0, "x-vips": 0.9867}
	if r.N != 5 || len(r.Metrics) != len(want) {
		t.Fatalf("got N=%d %v, want N=5 %v", r.N, r.Metrics, want)
	}
	for u, v := range want {
		if r.Metrics[u] != v {
			t.Errorf("%s = %v, want %v", u, r.Metrics[u], v)
		}
	}
	if r, _ := o.find("BenchmarkProcess12MP"); r.Metrics["MB/s"] != 44.15 {
		t.Errorf("Process12MP MB/s = %v", r.Metrics["MB/s"])
	}
	// A parent's name does not find a child's result.
	if _, ok := o.find("BenchmarkThumbnailCPU"); ok {
		t.Error("found BenchmarkThumbnailCPU, which prints no figures")
	}
}

func TestParseBenchWithoutProcSuffix(t *testing.T) {
	// GOMAXPROCS=1: go test appends nothing.
	o := parseBench("BenchmarkIngest/uploads=8 \t 1\t 400.0 MiB/s\t 1.05 x-bare\n")
	if r, ok := o.find("BenchmarkIngest/uploads=8"); !ok || r.Metrics["x-bare"] != 1.05 {
		t.Fatalf("got %+v, %v", r, ok)
	}
}

func TestParseBenchInterleaved(t *testing.T) {
	// The name is printed when the benchmark starts; what its server
	// logs to stdout then comes before the figures.
	out := "BenchmarkPaint-2   \t2026/12/02 15:00:00 listening on 127.0.0.1:4000\n" +
		"some child's line: 12 things\n" +
		"       1\t  90.5 qr-p50-ms\t 200 qr-p99-ms\n" +
		"BenchmarkHalf-2   \t 3 notanumber ns/op\n"
	o := parseBench(out)
	if len(o.Results) != 1 {
		t.Fatalf("results %+v, want the one of BenchmarkPaint", o.Results)
	}
	if r := o.Results[0]; r.Name != "BenchmarkPaint-2" || r.Metrics["qr-p50-ms"] != 90.5 || r.Metrics["qr-p99-ms"] != 200 {
		t.Errorf("got %+v", r)
	}
}

func TestParseBenchFailures(t *testing.T) {
	out := `BenchmarkProcess12MP-2   	      13	  87821797 ns/op	  44.15 MB/s
--- FAIL: BenchmarkThumbnailCPU
    vips_bench_test.go:26: vipsthumbnail is missing: run ./scripts/bench-deps.sh (as root it installs libvips-tools), or make bench
--- SKIP: BenchmarkIngest/uploads=8-2
FAIL
exit status 1
FAIL	qrsync/photo	3.0s
`
	o := parseBench(out)
	if len(o.Results) != 1 {
		t.Fatalf("results %+v", o.Results)
	}
	for name, want := range map[string]string{
		"BenchmarkThumbnailCPU/4032x3024": "failed",
		"BenchmarkThumbnailCPU":           "failed",
		"BenchmarkThumbnailCPUx":          "not run",
		"BenchmarkIngest/uploads=8":       "skipped",
		"BenchmarkIngest/uploads=1":       "not run",
		"BenchmarkPaint":                  "not run",
	} {
		if got := o.status(name); got != want {
			t.Errorf("status(%s) = %q, want %q", name, got, want)
		}
	}
	rows := photoRows(o, false)
	if rows[0].Met != "failed" || rows[0].Measured != "—" {
		t.Errorf("12 MP row %+v, want failed", rows[0])
	}
	if rows[2].Measured != "87.8 ms" {
		t.Errorf("Process row %+v, want 87.8 ms", rows[2])
	}
}

func TestPhotoRows(t *testing.T) {
	rows := photoRows(parseBench(photoOut), false)
	want := []row{
		{"Thumbnail CPU, 12 MP (4032×3024)", "85.8 ms", "98.3 ms (vipsthumbnail)", "0.87×", "≤ 2× vips", "yes"},
		{"Thumbnail CPU, 48 MP (8064×6048)", "236 ms", "239 ms (vipsthumbnail)", "0.99×", "—", "—"},
		{"Process, 12 MP (wall per photo)", "87.8 ms", "—", "—", "—", "—"},
		{"Thumbnail PSNR vs full decode + Lanczos", "—", "—", "—", "≥ 35 dB", "not reported"},
	}
	checkRows(t, rows, want)

	// A PSNR metric, wherever reported: the worst one counts.
	out := photoOut + "BenchmarkThumbnailPSNR/a-2 \t 1\t 41.2 psnr-dB\nBenchmarkThumbnailPSNR/b-2 \t 1\t 34.5 psnr-dB\n"
	if got := photoRows(parseBench(out), false)[3]; got.Measured != "34.5 dB" || got.Met != "**no**" {
		t.Errorf("PSNR row %+v, want 34.5 dB, no", got)
	}
	// Nothing ran (go test failed to build): every row says so.
	o := parseBench("FAIL\tqrsync/photo [build failed]\n")
	o.runErr = os.ErrInvalid
	for _, r := range photoRows(o, false) {
		if r.Met != "failed" {
			t.Errorf("%s: %q, want failed", r.Figure, r.Met)
		}
	}
}

func TestStreamRows(t *testing.T) {
	checkRows(t, streamRows(parseBench(streamsOut), false), []row{
		{"Idle stream RSS (10,000 streams)", "14,351 B/stream", "—", "—", "≤ 15,360 B/stream (15 KiB)", "yes"},
	})
	over := strings.Replace(streamsOut, "14351 bytes/stream", "15361 bytes/stream", 1)
	checkRows(t, streamRows(parseBench(over), true), []row{
		{"Idle stream RSS (1,000 streams)", "15,361 B/stream", "—", "—", "≤ 15,360 B/stream (15 KiB)", "**no**"},
	})
}

func TestFanOutRows(t *testing.T) {
	b := "(bare hub)"
	g := "≤ 1.1× bare"
	checkRows(t, fanOutRows(parseBench(fanOutOut), false), []row{
		{"Fan-out, 1,000 subscribers: server CPU/event", "64.6 ms", "39.5 ms " + b, "1.64×", g, "**no**"},
		{"Fan-out, 1,000 subscribers: p50 latency", "133 ms", "28.6 ms " + b, "4.66×", g, "**no**"},
		{"Fan-out, 1,000 subscribers: p99 latency", "666 ms", "171 ms " + b, "3.89×", g, "**no**"},
		// Shown without a goal, with a ratio of its own.
		{"Fan-out, 1,000 subscribers: p1 latency", "9.50 ms", "4.10 ms " + b, "2.32×", "—", "—"},
		{"Fan-out, 1,000 subscribers: publish answered, p50", "96.1 ms", "7.33 ms " + b, "13.1×", "—", "—"},
		{"Fan-out, 5,000 subscribers: server CPU/event", "99.0 ms", "90.1 ms " + b, "1.10×", g, "yes"},
		{"Fan-out, 5,000 subscribers: p50 latency", "150 ms", "140 ms " + b, "1.07×", g, "yes"},
		{"Fan-out, 5,000 subscribers: p99 latency", "420 ms", "400 ms " + b, "1.05×", g, "yes"},
		// An older run without the metrics says so.
		{"Fan-out, 5,000 subscribers: p1 latency", "—", "—", "—", "—", "not reported"},
		{"Fan-out, 5,000 subscribers: publish answered, p50", "—", "—", "—", "—", "not reported"},
	})
	// -short runs 1,000 only.
	short := fanOutOut[:strings.Index(fanOutOut, "BenchmarkFanOut/subscribers=5000")]
	if r := fanOutRows(parseBench(short), true); r[5].Met != "not run" || r[5].Measured != "—" {
		t.Errorf("5,000 with -short: %+v, want not run", r[5])
	}
}

func TestIngestRows(t *testing.T) {
	b := "(bare handler)"
	checkRows(t, ingestRows(parseBench(ingestOut), false), []row{
		{"Ingest, 1 upload at once: throughput", "311 MiB/s", "1.25 MiB/s " + b, "0.99×", "≥ 1.0× bare", "**no**"},
		{"Ingest, 1 upload at once: peak RSS growth", "40.0 MiB", "0.50 MiB " + b, "—", "≤ 64 MiB", "yes"},
		{"Ingest, 8 uploads at once: throughput", "400 MiB/s", "380 MiB/s " + b, "1.05×", "≥ 1.0× bare", "yes"},
		{"Ingest, 8 uploads at once: peak RSS growth", "70.0 MiB", "0.75 MiB " + b, "—", "≤ 64 MiB", "**no**"},
	})
}

func TestPaintRows(t *testing.T) {
	// Not written yet: one row, not run, with its goal.
	checkRows(t, paintRows(parseBench(streamsOut), false), []row{
		{"Paint: qr-p50", "—", "—", "—", "≤ 150 ms", "not run"},
	})
	failed := parseBench("--- FAIL: BenchmarkPCPaint-2\n    paint_bench_test.go:60: load 0: timeout\n")
	checkRows(t, paintRows(failed, false), []row{
		{"Paint: qr-p50", "—", "—", "—", "≤ 150 ms", "failed"},
	})
	// As server/paint_bench_test.go has it.
	pc := "BenchmarkPCPaint-2   \t       1\t        95.00 qr-p50-ms\t       130.0 qr-p90-ms\t       210.0 thumb-p50-ms\t       260.0 thumb-p90-ms\n" +
		"--- BENCH: BenchmarkPCPaint-2\n    paint_bench_test.go:72: navigation → QR painted, ms: [90 95 100]\n"
	checkRows(t, paintRows(parseBench(pc), false), []row{
		{"PCPaint: qr-p50", "95.0 ms", "—", "—", "≤ 150 ms", "yes"},
		{"PCPaint: thumb-p50", "210 ms", "—", "—", "—", "—"},
	})
	out := "BenchmarkPaint/cold-2 \t 1\t 120.0 qr-p50-ms\t 300 qr-p99-ms\t 40.0 shell-p50-ms\n" +
		"BenchmarkPaint/warm-2 \t 1\t 160.0 qr-p50-ms\t 80.0 bare-qr-p50-ms\n"
	checkRows(t, paintRows(parseBench(out), false), []row{
		{"Paint, cold: qr-p50", "120 ms", "—", "—", "≤ 150 ms", "yes"},
		{"Paint, cold: shell-p50", "40.0 ms", "—", "—", "—", "—"},
		{"Paint, warm: qr-p50", "160 ms", "80.0 ms (bare)", "2.00×", "≤ 150 ms", "**no**"},
	})
}

func checkRows(t *testing.T, got, want []row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	writeTable(&b, []row{
		{"Idle stream RSS", "14,351 B/stream", "—", "—", "≤ 15,360 B/stream", "yes"},
		{"Paint: QR p50", "—", "—", "—", "≤ 150 ms", "not run"},
	})
	want := `| figure          | measured        | same-run reference | ratio | goal              | met?    |
| --------------- | --------------- | ------------------ | ----- | ----------------- | ------- |
| Idle stream RSS | 14,351 B/stream | —                  | —     | ≤ 15,360 B/stream | yes     |
| Paint: QR p50   | —               | —                  | —     | ≤ 150 ms          | not run |
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestFmtNum(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0.00", 0.8725: "0.87", 1.1: "1.10", 9.994: "9.99", 12.34: "12.3", 99.96: "100.0",
		235.8: "236", 14351: "14,351", 1234567: "1,234,567", -2500: "-2,500", 0.004: "0.004",
	} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestCPUModel(t *testing.T) {
	x86 := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := cpuModel(x86); got != "AMD EPYC 7B13" {
		t.Errorf("x86: %q", got)
	}
	arm := "processor\t: 0\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"
	if got := cpuModel(arm); got != "Raspberry Pi 4 Model B Rev 1.4" {
		t.Errorf("arm: %q", got)
	}
	if got := cpuModel(""); got != "unknown" {
		t.Errorf("empty: %q", got)
	}
}

func TestArgs(t *testing.T) {
	b := benchRun{pkg: "./server", bench: "^BenchmarkFanOut$", timeout: 600e9}
	got := strings.Join(b.args(true, "1x"), " ")
	if want := "test -run ^$ -bench ^BenchmarkFanOut$ -timeout 10m0s -benchtime 1x -short ./server"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := strings.Join(b.args(false, ""), " "); strings.Contains(got, "benchtime") || strings.Contains(got, "short") {
		t.Errorf("default benchtime, no -short: %s", got)
	}
}

func TestDocSaysOneRound(t *testing.T) {
	dir := t.TempDir()
	src := `package server_test

// BenchmarkPCPaint measures the first paint.
//
//	go test ./server -run '^$' -bench PCPaint -benchtime 1x
func BenchmarkPCPaint(b *testing.B) {}

// BenchmarkPaint measures the first paint. Run with -benchtime=1x.
func BenchmarkPaint(b *testing.B) {}

// BenchmarkOther loops as go test likes.
func BenchmarkOther(b *testing.B) {}
`
	if err := os.WriteFile(filepath.Join(dir, "paint_bench_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for re, want := range map[string]bool{
		"^BenchmarkPaint$": true, "^BenchmarkPCPaint$": true, paintBench.String(): true,
		"^BenchmarkOther$": false, "^BenchmarkMissing$": false,
	} {
		if got := docSaysOneRound(dir, regexp.MustCompile(re)); got != want {
			t.Errorf("%s: %v, want %v", re, got, want)
		}
	}
}

func TestSelectGroups(t *testing.T) {
	var names []string
	for _, g := range selectGroups(allGroups(), regexp.MustCompile("fanout|wasm")) {
		names = append(names, g.name)
	}
	if got := strings.Join(names, ","); got != "fanout,wasm" {
		t.Errorf("got %s", got)
	}
	if n := len(selectGroups(allGroups(), nil)); n != 7 {
		t.Errorf("all: %d groups", n)
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"-short", "-only", "fanout|ingest", "it's"})
	if want := `-short -only 'fanout|ingest' 'it'\''s'`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
