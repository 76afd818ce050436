package server_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"qrsync/internal/apptest"
	"qrsync/internal/browsertest"
	"qrsync/server"
	"qrsync/storage"
)

// The phone page on a phone-sized Chromium (iPhone 13: 390×844, touch):
// three photos picked at once, one of them an iPhone HEIC. All three
// appear on the PC page (the HEIC's thumbnail upright: portrait, 400 px
// high), and the phone shows them done. Then a file over the size limit is refused with the
// server's words, which needs the 413 to reach the browser while it is
// still sending. A screenshot of the phone is left in test-output/.
func TestBrowserPhoneUploadsThreeOneHEIC(t *testing.T) {
	a := apptest.Start(t, server.Config{MaxFileSize: 1 << 20})
	browser := browsertest.Chromium(t)
	pc, uploadURL := openPCPage(t, browser, a.Base)

	files := []string{testdata + "orientation/Landscape_1.jpg", testdata + "heic/IMG_5195.HEIC", testdata + "gps/DSCN0010.jpg"}
	for i, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = abs
	}
	phone, cancelPhone := chromedp.NewContext(browser)
	defer cancelPhone()
	if err := chromedp.Do(phone,
		chromedp.Emulate(device.IPhone13),
		chromedp.Navigate(uploadURL),
		chromedp.SetUploadFiles(chromedp.CSS(`#files`), files),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(phone, chromedp.Poll[bool](
		`document.querySelectorAll('.file.done').length === 3`,
		// The HEIC decode runs in a wasm runtime, which the race
		// detector slows to tens of seconds on a busy two-core machine.
		chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		rows, _ := chromedp.Run(phone, chromedp.Evaluate[string](`[...document.querySelectorAll('.file')].map(r => r.dataset.state + ': ' + r.textContent).join(' | ')`))
		t.Fatalf("phone page never showed three done: %v; rows: %s", err, rows)
	}

	type row struct {
		Name, State, Status string
		Retry               bool
	}
	rows, err := chromedp.Run(phone, chromedp.Evaluate[[]row](`[...document.querySelectorAll('.file')].map(r => ({
		Name: r.dataset.name, State: r.dataset.state, Status: r.querySelector('.status').textContent,
		Retry: !r.querySelector('.retry').hidden}))`))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.State != "done" || r.Status != "Received" {
			t.Errorf("row %+v, want done", r)
		}
	}
	summary, err := chromedp.Run(phone, chromedp.Evaluate[string](`document.querySelector('#summary').textContent`))
	if err != nil || summary != "All 3 received" {
		t.Errorf("summary %q (%v)", summary, err)
	}

	if _, err := chromedp.Run(pc, chromedp.Poll[bool](
		`(() => { const t = [...document.querySelectorAll('#gallery .tile img')];
		  return t.length === 3 && t.every(i => i.complete && Math.max(i.naturalWidth, i.naturalHeight) === 400) &&
		    t.filter(i => i.naturalHeight === 400 && i.naturalWidth === 310).length === 1 })()`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		n, _ := chromedp.Run(pc, chromedp.Evaluate[int](`document.querySelectorAll('#gallery .tile').length`))
		t.Fatalf("PC page shows %d tiles, want the two JPEGs and the HEIC upright: %v", n, err)
	}
	// The HEIC opens in the viewer as its JPEG rendition, upright, under
	// its own name: most browsers cannot show HEIC itself.
	if err := chromedp.Do(pc, chromedp.Click(chromedp.CSS(`#gallery li.tile[data-id][title="IMG_5195.HEIC"] img, #gallery li.tile[data-id] img[alt="IMG_5195.HEIC"]`))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(pc, chromedp.Poll[bool](
		`(() => { const v = document.querySelector('#viewer'), i = document.querySelector('#viewer-img');
		  return v.open && i.complete && i.src.includes('/display') && i.naturalWidth > 0 && i.naturalHeight > i.naturalWidth &&
		    document.querySelector('#viewer-name').textContent === 'IMG_5195.HEIC' })()`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		state, _ := chromedp.Run(pc, chromedp.Evaluate[string](`(() => { const i = document.querySelector('#viewer-img'); return document.querySelector('#viewer').open + ' ' + i.src + ' ' + i.naturalWidth + 'x' + i.naturalHeight + ' ' + document.querySelector('#viewer-name').textContent })()`))
		t.Fatalf("the HEIC's viewer never showed its upright rendition: %v (%s)", err, state)
	}

	// Usable one-handed: nothing wider than the screen, big targets, and
	// the buttons in the lower part of the screen where a thumb reaches.
	layout, err := chromedp.Run(phone, chromedp.Evaluate[map[string]float64](`(() => {
		const r = s => document.querySelector(s).getBoundingClientRect();
		return {scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth, innerHeight: innerHeight,
		  pickTop: r('.pick.primary').top, pickBottom: r('.pick.primary').bottom,
		  pickHeight: r('.pick.primary').height, pickWidth: r('.pick.primary').width,
		  cameraHeight: r('.pick:not(.primary)').height, cameraWidth: r('.pick:not(.primary)').width,
		  fontSize: parseFloat(getComputedStyle(document.body).fontSize)} })()`))
	if err != nil {
		t.Fatal(err)
	}
	if layout["scrollWidth"] > layout["innerWidth"] || layout["innerWidth"] != 390 ||
		layout["pickHeight"] < 48 || layout["cameraHeight"] < 48 || layout["pickWidth"] < 200 || layout["cameraWidth"] < 96 ||
		layout["pickTop"] < layout["innerHeight"]*2/3 || layout["pickBottom"] > layout["innerHeight"] || layout["fontSize"] < 16 {
		t.Errorf("phone layout %v: want no sideways scroll at 390 px, tap targets of 48 px or more in the bottom third, 16 px text", layout)
	}
	screenshot(t, phone, "phone-page.png")

	// A file over --max-file-size: the browser is still sending when the
	// server answers 413, and must show the answer, not a network error.
	big := filepath.Join(t.TempDir(), "panorama.png")
	if err := os.WriteFile(big, append(smallPNG(t, 64, 64), bytes.Repeat([]byte{7}, 3<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(phone, chromedp.SetUploadFiles(chromedp.CSS(`#files`), []string{big})); err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(phone, chromedp.Poll[string](
		`(() => { const r = document.querySelector('.file[data-name="panorama.png"]');
		  return r && r.dataset.state === 'error' && r.querySelector('.status').textContent })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !strings.Contains(status, "larger than this server accepts (1 MiB)") {
		t.Fatalf("oversized file: %q %v", status, err)
	}
}

// What a phone on real Wi-Fi sees, with the upload throttled to 1 MiB/s:
// per-file progress in bytes, the overall "n of m" and the speed while
// sending; an upload the server fails (500) retried on its own; an upload
// that finds the network gone retried on its own once it is back; and
// "All 3 received" at the end. A screenshot mid-upload is left in
// test-output/phone-page-progress.png.
func TestBrowserPhoneProgressAndRetry(t *testing.T) {
	var failures atomic.Int32
	failures.Store(1) // the first image the server records fails
	a := apptest.StartWrapped(t, server.Config{Logger: quietLogger()}, nil, func(c server.Catalog) server.Catalog {
		return &flakyCatalog{Catalog: c, failures: &failures}
	})
	s := a.NewSession()
	browser := browsertest.Chromium(t)
	phone, cancel := chromedp.NewContext(browser)
	defer cancel()

	dir := t.TempDir()
	write := func(name string, w, h, pad int) string {
		p := filepath.Join(dir, name)
		data := append(photoLikeJPEG(t, w, h), bytes.Repeat([]byte{byte(pad)}, pad<<10)...)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big, small, later := write("IMG_0001.jpg", 800, 600, 2500), write("IMG_0002.jpg", 640, 480, 700), write("IMG_0003.jpg", 600, 400, 100)

	throttle := func(offline bool) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			// Chromium before 150 wants "offline" beside the rules, later
			// ones in each rule; each ignores the other's.
			type byRule struct {
				Offline bool `json:"offline"`
				network.EmulateNetworkConditionsByRuleParams
			}
			cmd := cdp.Command[byRule, network.EmulateNetworkConditionsByRuleResult]{Method: network.CommandEmulateNetworkConditionsByRule}
			_, err := cdp.Call(ctx, tg, cmd, byRule{offline, network.EmulateNetworkConditionsByRuleParams{
				MatchedNetworkConditions: []*network.Conditions{{URLPattern: a.Base + "/api/*", UploadThroughput: 1 << 20, DownloadThroughput: -1, Offline: offline}},
			}})
			return err
		})
	}
	if err := chromedp.Do(phone,
		chromedp.Emulate(device.IPhone13),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
			return err
		}),
		throttle(false),
		chromedp.Navigate(s.UploadURL),
		chromedp.SetUploadFiles(chromedp.CSS(`#files`), []string{big, small}),
	); err != nil {
		t.Fatal(err)
	}

	// While sending: bytes of bytes, "0 of 2", a speed.
	type progress struct{ Status, Summary, Speed string }
	p, err := chromedp.Run(phone, chromedp.Poll[progress](`(() => {
		const st = document.querySelector('.file[data-name="IMG_0001.jpg"] .status').textContent;
		const sum = document.querySelector('#summary').textContent, sp = document.querySelector('#speed').textContent;
		return /^Sending… [0-9.]+ (kB|MB) of 2\.[0-9] MB$/.test(st) && sp.endsWith('MB/s') && sum.startsWith('0 of 2') &&
		  {Status: st, Summary: sum, Speed: sp} })()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("no per-file progress, overall count and speed while sending: %v", err)
	}
	t.Logf("while sending: %q, %q, %q", p.Status, p.Summary, p.Speed)
	screenshot(t, phone, "phone-page-progress.png")

	// The server's 500 is retried without anyone touching anything.
	retrying, err := chromedp.Run(phone, chromedp.Poll[string](
		`[...document.querySelectorAll('.file .status')].map(s => s.textContent).find(t => t.includes('trying again')) || false`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("a 500 was not retried: %v", err)
	}
	t.Logf("after the 500: %q", retrying)
	if _, err := chromedp.Run(phone, chromedp.Poll[bool](
		`document.querySelectorAll('.file.done').length === 2 && document.querySelector('#summary').textContent === 'All 2 received'`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("not all received after the retry: %v", err)
	}

	// The network goes away: the upload fails at once and is retried,
	// with backoff, until the network is back.
	if err := chromedp.Do(phone, throttle(true), chromedp.SetUploadFiles(chromedp.CSS(`#files`), []string{later})); err != nil {
		t.Fatal(err)
	}
	lost, err := chromedp.Run(phone, chromedp.Poll[string](
		`(() => { const s = document.querySelector('.file[data-name="IMG_0003.jpg"] .status')?.textContent || '';
		  return s.startsWith('Connection lost') && s })()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("a network error was not shown as such: %v", err)
	}
	t.Logf("offline: %q", lost)
	if err := chromedp.Do(phone, throttle(false)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(phone, chromedp.Poll[bool](
		`document.querySelectorAll('.file.done').length === 3 && document.querySelector('#summary').textContent === 'All 3 received'`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("not retried once the network was back: %v", err)
	}
	images, _, err := a.Server.Catalog().Images(context.Background(), s.ID)
	if err != nil || len(images) != 3 {
		t.Fatalf("server holds %d images (%v), want 3", len(images), err)
	}
}

// flakyCatalog fails AddImage while failures is above zero, as a server
// whose database hiccups.
type flakyCatalog struct {
	server.Catalog
	failures *atomic.Int32
}

func (c *flakyCatalog) AddImage(ctx context.Context, sid string, img storage.Image, q storage.Quota) (storage.Image, storage.Event, error) {
	if c.failures.Add(-1) >= 0 {
		return storage.Image{}, storage.Event{}, errors.New("database busy (injected)")
	}
	return c.Catalog.AddImage(ctx, sid, img, q)
}
