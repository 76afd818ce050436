package server

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cloudwego/hertz/pkg/common/config"
	"github.com/cloudwego/hertz/pkg/common/ut"
	"github.com/cloudwego/hertz/pkg/route"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// testEngine is a bare Hertz engine for handler tests, quiet about its
// routes.
func testEngine() *route.Engine {
	opts := config.NewOptions(nil)
	opts.DisablePrintRoute = true
	return route.NewEngine(opts)
}

// scrape serves m on a bare engine and parses what it answers, failing t
// on anything a Prometheus server would not read.
func scrape(t *testing.T, m *metrics) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	e := testEngine()
	e.GET("/metrics", m.serve)
	w := ut.PerformRequest(e, "GET", "/metrics", nil,
		ut.Header{Key: "Accept", Value: "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"})
	resp := w.Result()
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	ct := string(resp.Header.ContentType())
	if !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q is not the Prometheus text format", ct)
	}
	body := string(resp.Body())
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the answer does not parse: %v\n%s", err, body)
	}
	return mfs, body
}

// value is the value of the series of family name with the given label
// (or the only series, when label is ""); a missing series fails t.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name, label, labelValue string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	for _, m := range mf.GetMetric() {
		if label != "" {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == label && lp.GetValue() == labelValue
			}
			if !found {
				continue
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, labelValue)
	return 0
}

func TestMetricsExposeTheContract(t *testing.T) {
	t.Parallel()
	m := newMetricsFrom(gaugeSources{
		sessionsActive: func() float64 { return 3 },
		decodeMemory:   func() float64 { return 4096 },
	})
	mfs, body := scrape(t, m)

	for _, name := range []string{
		"qrsync_uploads_total", "qrsync_upload_bytes_total", "qrsync_ingest_seconds",
		"qrsync_thumbnail_seconds", "qrsync_streams_open", "qrsync_events_sent_total",
		"qrsync_viewers_cut_total", "qrsync_sessions_active", "qrsync_refused_total",
		"qrsync_decode_memory_bytes", "qrsync_connections_open",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("no %s in\n%s", name, body)
		}
	}
	// Every label value is there from the start, at 0, so that rates and
	// alerts over them work before the first event of each kind.
	for _, r := range []string{"created", "duplicate", "too_large", "unsupported_type", "bad_image", "too_many", "internal"} {
		if v := value(t, mfs, "qrsync_uploads_total", "result", r); v != 0 {
			t.Errorf("uploads{result=%s} = %v before any upload", r, v)
		}
	}
	for _, r := range []string{
		"conn_total", "conn_per_ip", "header_timeout", "slow_body", "uploads_per_ip", "session_rate",
		"sessions_total", "token_misses", "decode_budget", "disk_full", "bad_host", "parts",
	} {
		if v := value(t, mfs, "qrsync_refused_total", "reason", r); v != 0 {
			t.Errorf("refused{reason=%s} = %v before any refusal", r, v)
		}
	}
	if v := value(t, mfs, "qrsync_sessions_active", "", ""); v != 3 {
		t.Errorf("sessions_active = %v, want what the server supplies (3)", v)
	}
	if v := value(t, mfs, "qrsync_decode_memory_bytes", "", ""); v != 4096 {
		t.Errorf("decode_memory_bytes = %v, want 4096", v)
	}
}

func TestMetricsCount(t *testing.T) {
	t.Parallel()
	m := newMetricsFrom(gaugeSources{})
	m.uploadDone(resultCreated, 1000, 2*time.Second)
	m.uploadDone(resultCreated, 24, 10*time.Millisecond)
	m.uploadDone(resultDuplicate, 500, time.Second)
	m.uploadDone(uploadResult(newUserError(errTooLarge, "big")), 0, 0)
	m.uploadDone(uploadResult(errors.New("disk on fire")), 0, 0)
	m.thumbnailDone(30 * time.Millisecond)
	m.streamStarted()
	m.streamStarted()
	m.streamEnded()
	for range 3 {
		m.eventSent()
	}
	m.viewerCut()
	(&Server{metrics: m}).refused(reasonParts)
	m.refused(reasonParts)
	m.refused(reasonBadHost)
	m.setConnsOpen(func() int { return 5 })

	mfs, _ := scrape(t, m)
	for _, c := range []struct {
		name, label, value string
		want               float64
	}{
		{"qrsync_uploads_total", "result", "created", 2},
		{"qrsync_uploads_total", "result", "duplicate", 1},
		{"qrsync_uploads_total", "result", "too_large", 1},
		{"qrsync_uploads_total", "result", "internal", 1},
		{"qrsync_uploads_total", "result", "bad_image", 0},
		{"qrsync_upload_bytes_total", "", "", 1524},
		{"qrsync_ingest_seconds", "", "", 3}, // stored files only, not refusals
		{"qrsync_thumbnail_seconds", "", "", 1},
		{"qrsync_streams_open", "", "", 1},
		{"qrsync_events_sent_total", "", "", 3},
		{"qrsync_viewers_cut_total", "", "", 1},
		{"qrsync_refused_total", "reason", "parts", 2},
		{"qrsync_refused_total", "reason", "bad_host", 1},
		{"qrsync_refused_total", "reason", "disk_full", 0},
		{"qrsync_connections_open", "", "", 5},
		{"qrsync_sessions_active", "", "", 0},
	} {
		if got := value(t, mfs, c.name, c.label, c.value); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
	}
	h := mfs["qrsync_ingest_seconds"].GetMetric()[0].GetHistogram()
	if s := h.GetSampleSum(); math.Abs(s-3.01) > 1e-9 {
		t.Errorf("ingest seconds sum %v, want 3.01", s)
	}
}

// countingCatalog is a catalog that can only count its sessions.
type countingCatalog struct {
	Catalog
	n   int
	err error
}

func (c countingCatalog) SessionCount(context.Context) (int, error) { return c.n, c.err }

func TestMetricsReadTheServer(t *testing.T) {
	t.Parallel()
	m := newMetrics(&Server{cat: countingCatalog{n: 7}, budget: newDecodeBudget(1 << 20)})
	mfs, _ := scrape(t, m)
	if v := value(t, mfs, "qrsync_sessions_active", "", ""); v != 7 {
		t.Errorf("sessions_active = %v, want the catalog's 7", v)
	}
	if v := value(t, mfs, "qrsync_decode_memory_bytes", "", ""); v != 0 {
		t.Errorf("decode_memory_bytes = %v with nothing decoding", v)
	}

	// A count that fails is unknown, not zero.
	m = newMetrics(&Server{cat: countingCatalog{err: errors.New("catalog down")}})
	mfs, _ = scrape(t, m)
	if v := value(t, mfs, "qrsync_sessions_active", "", ""); !math.IsNaN(v) {
		t.Errorf("sessions_active = %v when the count fails, want NaN", v)
	}
}

// TestMetricsTwoServers shows that each server has a registry of its own:
// a second one neither panics on registration nor sees the first's counts.
func TestMetricsTwoServers(t *testing.T) {
	t.Parallel()
	a, b := newMetricsFrom(gaugeSources{}), newMetricsFrom(gaugeSources{})
	a.eventSent()
	mfs, _ := scrape(t, b)
	if v := value(t, mfs, "qrsync_events_sent_total", "", ""); v != 0 {
		t.Errorf("the second server counts the first's events: %v", v)
	}
}

func TestMetricsNilRecordsNothing(t *testing.T) {
	t.Parallel()
	var m *metrics
	m.uploadDone(resultCreated, 1, time.Second)
	m.thumbnailDone(time.Second)
	m.streamStarted()
	m.streamEnded()
	m.eventSent()
	m.viewerCut()
	m.refused(reasonParts)
	m.setConnsOpen(func() int { return 1 })
	(&Server{}).refused(reasonParts)
}
