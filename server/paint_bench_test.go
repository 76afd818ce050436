package server_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/internal/browsertest"
	"qrsync/server"
)

// paintProbe runs in every page before its own scripts (CDP bypasses the
// page's Content-Security-Policy) and notes, in the page's clock
// (performance.now(): ms since navigation start), the frame that first
// shows the QR, and, in wall-clock ms (timeOrigin + now), the frame that
// first shows a photo tile's thumbnail. A load event on an <img> is when
// its pixels are ready; the next animation frame is the one that paints
// them. For QRSYNC_PAINT_TIMELINE it also keeps the page's fetch calls,
// its long tasks and DOMContentLoaded (timelineJS).
const paintProbe = `(function () {
  var f = window.fetch; window.__fetchAt = []; window.__long = [];
  try { new PerformanceObserver(function (l) { l.getEntries().forEach(function (e) { window.__long.push(Math.round(e.startTime) + "+" + Math.round(e.duration)); }); }).observe({type: "longtask", buffered: true}); } catch (e) {}
  document.addEventListener("DOMContentLoaded", function () { window.__dcl = performance.now(); });
  window.fetch = function () { window.__fetchAt.push(performance.now()); return f.apply(this, arguments); };
  document.addEventListener("load", function (e) {
    var t = e.target;
    if (!t || t.tagName !== "IMG" || !(t.naturalWidth > 0)) { return; }
    if (t.id === "qr" && window.__qrPaint === undefined) {
      window.__qrPaint = null;
      requestAnimationFrame(function () { window.__qrPaint = performance.now(); });
    } else if (t.closest && t.closest("#gallery") && window.__thumbPaint === undefined) {
      window.__thumbPaint = null;
      requestAnimationFrame(function () { window.__thumbPaint = performance.timeOrigin + performance.now(); });
    }
  }, true);
})();`

// timelineJS sums up, in the page, where the time to the QR went (ms from
// navigation start): DOM interactive, DOMContentLoaded, first paint, when
// the page's scripts called fetch (boot.js's first call is when it ran),
// the page's performance marks, the main thread's long tasks
// (start+duration: a layout with its font look-ups shows here), and each
// resource as start/requestStart/responseStart→responseEnd.
const timelineJS = `(function () {
  var r = Math.round, nav = performance.getEntriesByType("navigation")[0];
  var out = "dI " + r(nav.domInteractive) + " dcl " + r(window.__dcl) + " fp " + r((performance.getEntriesByType("paint")[0] || {}).startTime);
  out += " fetch@" + (window.__fetchAt || []).map(r).join(",");
  out += " marks " + performance.getEntriesByType("mark").map(function (m) { return m.name + "@" + r(m.startTime); }).join(",");
  out += " long " + (window.__long || []).join(",");
  out += " | " + [nav].concat(performance.getEntriesByType("resource")).map(function (e) {
    return e.name.replace(location.origin, "").replace(/^\/api\/sessions\/[^/]+\//, "S/").slice(0, 24) + " " + r(e.startTime) + (e.requestStart ? "/" + r(e.requestStart) : "") + "/" + r(e.responseStart) + "→" + r(e.responseEnd);
  }).join(" | ");
  return out;
})()`

// BenchmarkPCPaint loads the PC page cold ten times — each in a fresh
// browser context (empty cache, empty localStorage: a first visit) with
// the HTTP cache disabled — and reports navigation → QR painted (p50, p90
// in ms), then, on the same page, an upload's start → its thumbnail
// painted on the PC (p50, p90 in ms). It runs the ten loads once whatever
// b.N is: the numbers are the percentiles, not ns/op.
//
//	go test ./server -run '^$' -bench PCPaint -benchtime 1x
func BenchmarkPCPaint(b *testing.B) {
	const loads = 10
	a := apptest.Start(b, server.Config{Logger: quietLogger()})
	browser := browsertest.Chromium(b)
	_, photo := apptest.Photo(b, 1)

	var qr, thumb []float64
	for range b.N {
		qr, thumb = qr[:0], thumb[:0]
		for i := range loads {
			q, th, err := coldLoad(browser, a, photo)
			if err != nil {
				b.Fatalf("load %d: %v", i, err)
			}
			qr = append(qr, q)
			thumb = append(thumb, th)
		}
	}
	b.ReportMetric(paintPercentile(qr, 50), "qr-p50-ms")
	b.ReportMetric(paintPercentile(qr, 90), "qr-p90-ms")
	b.ReportMetric(paintPercentile(thumb, 50), "thumb-p50-ms")
	b.ReportMetric(paintPercentile(thumb, 90), "thumb-p90-ms")
	b.Logf("navigation → QR painted, ms: %v", rounded(qr))
	b.Logf("upload start → thumbnail painted, ms: %v", rounded(thumb))
}

// coldLoad opens the PC page in a new browser context and returns how
// long after navigation start the QR was painted, and how long an upload
// then took from its start to its thumbnail painted on the page.
func coldLoad(browser context.Context, a *apptest.App, photo []byte) (qrMS, thumbMS float64, err error) {
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancel()
	tab, cancelT := context.WithTimeout(tab, 30*time.Second)
	defer cancelT()
	err = chromedp.Do(tab,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			if _, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: paintProbe})
			return err
		}),
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(a.Base+"/"),
	)
	if err != nil {
		return 0, 0, err
	}
	qrMS, err = chromedp.Run(tab, chromedp.Poll[float64](`typeof window.__qrPaint === "number" && window.__qrPaint`,
		chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(5*time.Millisecond)))
	if err != nil {
		return 0, 0, fmt.Errorf("QR never painted: %w", err)
	}
	if os.Getenv("QRSYNC_PAINT_TIMELINE") != "" {
		// What the page fetched, when (ms from navigation start): where
		// the time to the QR goes.
		line, _ := chromedp.Run(tab, chromedp.Evaluate[string](timelineJS))
		fmt.Fprintf(os.Stderr, "QR at %.0f ms: %s\n", qrMS, line)
	}
	// The upload waits for the stream: a photo sent before the page
	// listens would arrive in the snapshot, which is not what is measured.
	link, err := chromedp.Run(tab, chromedp.Poll[string](
		`document.querySelector('#status')?.dataset.state === 'live' && document.querySelector('#upload-url')?.textContent.trim()`,
		chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(5*time.Millisecond)))
	if err != nil {
		return 0, 0, fmt.Errorf("page never went live: %w", err)
	}
	s := api.Session{UploadURL: link}
	start := time.Now()
	if status, body, err := a.Upload(s, "bench.jpg", photo); err != nil || status != 201 {
		return 0, 0, fmt.Errorf("upload: %d %s %v", status, body, err)
	}
	at, err := chromedp.Run(tab, chromedp.Poll[float64](`typeof window.__thumbPaint === "number" && window.__thumbPaint`,
		chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(5*time.Millisecond)))
	if err != nil {
		return 0, 0, fmt.Errorf("thumbnail never painted: %w", err)
	}
	thumbMS = at - float64(start.UnixNano())/1e6
	return qrMS, thumbMS, nil
}

// paintPercentile is the p-th percentile of xs, nearest rank.
func paintPercentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

func rounded(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Round(x*10) / 10
	}
	return out
}
