package server

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"qrsync/api"
)

// Upload results that are not refusals; a refused upload is counted under
// its error code (api.Code*), so the label says what the phone was told.
const (
	resultCreated   = "created"
	resultDuplicate = "duplicate"
)

// uploadResults are the result label values shown from the start, at 0,
// so that a rate over them works before the first upload of each kind.
var uploadResults = []string{
	resultCreated, resultDuplicate,
	api.CodeBadRequest, api.CodeNotFound, api.CodeExpired, api.CodeTooLarge,
	api.CodeUnsupported, api.CodeBadImage, api.CodeTooMany, api.CodeInternal,
	api.CodeUnavailable, api.CodeNoSpace, api.CodeMisdirected,
}

// refusalReasons are the reason label values of qrsync_refused_total
// (limits.go), pre-initialised like uploadResults.
var refusalReasons = []string{
	reasonConnTotal, reasonConnPerIP, reasonHeaderTimeout, reasonSlowBody,
	reasonUploadsPerIP, reasonSessionRate, reasonSessionsTotal, reasonMisses,
	reasonDecodeBudget, reasonDiskFull, reasonBadHost, reasonParts,
}

// metrics are the server's Prometheus collectors. They live on a registry
// of their own, not the global one, so that two servers in one process
// (as in the tests) each count only their own work. Every recording method
// is safe on a nil *metrics and then records nothing.
type metrics struct {
	reg *prometheus.Registry

	uploads     *prometheus.CounterVec
	uploadBytes prometheus.Counter
	ingest      prometheus.Histogram
	thumbnail   prometheus.Histogram
	streamsOpen prometheus.Gauge
	eventsSent  prometheus.Counter
	viewersCut  prometheus.Counter
	refusals    *prometheus.CounterVec

	// openConns counts the connections open, for qrsync_connections_open.
	// The listener keeps that count and exists only once Serve runs, so
	// it is handed over then (setConnsOpen); until then the gauge is 0.
	openConns atomic.Pointer[func() int]
}

// gaugeSources are the values read at each scrape rather than kept up to
// date: the things that already keep their own count.
type gaugeSources struct {
	sessionsActive func() float64 // qrsync_sessions_active
	decodeMemory   func() float64 // qrsync_decode_memory_bytes
}

// sessionCountTimeout bounds the catalog lookup a scrape makes.
const sessionCountTimeout = time.Second

// newMetrics is the metrics of s: the sessions it holds come from its
// catalog (when the catalog can count them; NaN when the count fails) and
// the decoding memory from its budget.
func newMetrics(s *Server) *metrics {
	var src gaugeSources
	if sc, ok := s.cat.(sessionCounter); ok {
		src.sessionsActive = func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), sessionCountTimeout)
			defer cancel()
			n, err := sc.SessionCount(ctx)
			if err != nil {
				return math.NaN() // unknown, rather than a 0 that looks true
			}
			return float64(n)
		}
	}
	if b := s.budget; b != nil {
		src.decodeMemory = func() float64 { return float64(b.used()) }
	}
	return newMetricsFrom(src)
}

// newMetricsFrom registers every collector; a nil source reports 0.
func newMetricsFrom(src gaugeSources) *metrics {
	zero := func() float64 { return 0 }
	if src.sessionsActive == nil {
		src.sessionsActive = zero
	}
	if src.decodeMemory == nil {
		src.decodeMemory = zero
	}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qrsync_uploads_total",
			Help: "Files stored (result created or duplicate) and upload requests refused (result is the error code answered).",
		}, []string{"result"}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qrsync_upload_bytes_total",
			Help: "Bytes of files stored, duplicates included.",
		}),
		ingest: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "qrsync_ingest_seconds",
			Help: "Time from the start of an upload request to a file of it being stored.",
			// A phone on slow Wi-Fi sending 50 MB takes minutes.
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		thumbnail: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "qrsync_thumbnail_seconds",
			Help:    "Time to decode an image, resize it and encode its thumbnail.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		streamsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "qrsync_streams_open",
			Help: "Event streams being served now.",
		}),
		eventsSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qrsync_events_sent_total",
			Help: "Events written to streams (keep-alives not counted).",
		}),
		viewersCut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qrsync_viewers_cut_total",
			Help: "Streams ended because their viewer stopped reading.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qrsync_refused_total",
			Help: "Work the server refused to protect itself, by the limit that was hit.",
		}, []string{"reason"}),
	}
	for _, r := range uploadResults {
		m.uploads.WithLabelValues(r)
	}
	for _, r := range refusalReasons {
		m.refusals.WithLabelValues(r)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.uploads, m.uploadBytes, m.ingest, m.thumbnail, m.streamsOpen,
		m.eventsSent, m.viewersCut, m.refusals,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "qrsync_sessions_active",
			Help: "Sessions the catalog holds.",
		}, src.sessionsActive),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "qrsync_decode_memory_bytes",
			Help: "Bytes of the image decoding memory budget in use.",
		}, src.decodeMemory),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "qrsync_connections_open",
			Help: "Client connections open now.",
		}, func() float64 {
			if f := m.openConns.Load(); f != nil {
				return float64((*f)())
			}
			return 0
		}),
	)
	return m
}

// uploadResult is the result label of an upload refused with err: the
// error code the phone was answered with, a fixed set.
func uploadResult(err error) string {
	_, code, _ := statusOf(err)
	return code
}

// uploadDone counts one upload outcome. For a stored file (result
// created or duplicate) bytes is its size and d the time since its
// request started; a refusal passes 0 for both and is not timed, so the
// histogram shows only how long storing takes.
func (m *metrics) uploadDone(result string, bytes int64, d time.Duration) {
	if m == nil {
		return
	}
	m.uploads.WithLabelValues(result).Inc()
	if bytes > 0 {
		m.uploadBytes.Add(float64(bytes))
	}
	if result == resultCreated || result == resultDuplicate {
		m.ingest.Observe(d.Seconds())
	}
}

// thumbnailDone records one successful decode, resize and encode.
func (m *metrics) thumbnailDone(d time.Duration) {
	if m == nil {
		return
	}
	m.thumbnail.Observe(d.Seconds())
}

// streamStarted and streamEnded bracket one event stream.
func (m *metrics) streamStarted() {
	if m == nil {
		return
	}
	m.streamsOpen.Inc()
}

func (m *metrics) streamEnded() {
	if m == nil {
		return
	}
	m.streamsOpen.Dec()
}

// eventSent counts one event written to a viewer.
func (m *metrics) eventSent() { m.manyEventsSent(1) }

// manyEventsSent counts n events written to a stream at once.
func (m *metrics) manyEventsSent(n int) {
	if m == nil {
		return
	}
	m.eventsSent.Add(float64(n))
}

// viewerCut counts a stream ended because its viewer stopped reading.
func (m *metrics) viewerCut() {
	if m == nil {
		return
	}
	m.viewersCut.Inc()
}

// refused counts one refusal; reason is one of the reason* constants.
func (m *metrics) refused(reason string) {
	if m == nil {
		return
	}
	m.refusals.WithLabelValues(reason).Inc()
}

// refused counts a refusal the server makes to protect itself; reason is
// one of the reason* constants (limits.go).
func (s *Server) refused(reason string) { s.metrics.refused(reason) }

// setConnsOpen hands over the count qrsync_connections_open reports:
// the listener's own, which knows every connection it let in and closed.
func (m *metrics) setConnsOpen(count func() int) {
	if m == nil {
		return
	}
	m.openConns.Store(&count)
}

// metricsHandler is GET /metrics.
func (s *Server) metricsHandler(ctx context.Context, c *app.RequestContext) {
	s.metrics.serve(ctx, c)
}

// serve answers a scrape in the Prometheus text format. Only the text
// format is offered: every scraper reads it, and one format is one thing
// to get right. The escaping the scraper asks for is honoured.
func (m *metrics) serve(_ context.Context, c *app.RequestContext) {
	mfs, err := m.reg.Gather()
	if err != nil {
		// Our own collectors do not fail; if one ever does, say so
		// rather than serve numbers that are silently incomplete.
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("gathering metrics failed\n"))
		return
	}
	h := http.Header{}
	if a := c.Request.Header.Get("Accept"); a != "" {
		h.Set("Accept", a)
	}
	format := expfmt.NegotiateAccept(h, expfmt.FmtText)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("encoding metrics failed\n"))
			return
		}
	}
	if cl, ok := enc.(expfmt.Closer); ok {
		_ = cl.Close() // a no-op for text, but the encoder asks for it
	}
	c.Response.Header.Set("Cache-Control", "no-store")
	c.Data(http.StatusOK, string(format), buf.Bytes())
}
