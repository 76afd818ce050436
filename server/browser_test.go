package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/internal/browsertest"
	"qrsync/server"
)

// The whole path in a real Chromium: the PC page makes a session and shows
// its upload link; a phone-sized tab opens the link and uploads a real
// photo through the file input; the PC page shows the thumbnail, live.
func TestBrowserPhoneToPC(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	browser := browsertest.Chromium(t)
	pc, uploadURL := openPCPage(t, browser, a.Base)
	qrLoaded, err := chromedp.Run(pc, chromedp.Poll[bool](
		`(() => { const q = document.querySelector('#qr'); return !!q && q.complete && q.naturalWidth > 0 })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !qrLoaded {
		t.Fatalf("QR image not shown: %v", err)
	}
	// The code came inside the session's answer, and the client, started
	// after it was shown, did not fetch it again.
	if src := js[string](t, pc, `document.querySelector('#qr').getAttribute('src')`); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Errorf("the QR's src is %.60q; want the data: URL the session's answer carries", src)
	}
	if n := js[int](t, pc, `performance.getEntriesByType('resource').filter(e => e.name.includes('/qr.png')).length`); n != 0 {
		t.Errorf("the page fetched qr.png %d times; the code came with the session", n)
	}

	phone, cancelPhone := chromedp.NewContext(browser)
	defer cancelPhone()
	photo, err := filepath.Abs(testdata + "orientation/Landscape_6.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(phone,
		chromedp.Emulate(device.IPhone13),
		chromedp.Navigate(uploadURL),
		chromedp.SetUploadFiles(chromedp.CSS(`#files`), []string{photo}),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(phone, chromedp.Poll[bool](
		`document.querySelectorAll('.done').length === 1`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("phone page never showed the file as done: %v", err)
	}

	if _, err := chromedp.Run(pc, chromedp.Poll[bool](
		`(() => { const i = document.querySelector('#gallery .tile img'); return !!i && i.complete && i.naturalWidth === 400 })()`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("PC page never showed the thumbnail: %v", err)
	}
	tiles, err := chromedp.Run(pc, chromedp.Evaluate[int](`document.querySelectorAll('#gallery .tile').length`))
	if err != nil || tiles != 1 {
		t.Fatalf("PC shows %d tiles (%v), want exactly 1", tiles, err)
	}

	// The mirror command names this very session, through the phone's base.
	cmd, err := chromedp.Run(pc, chromedp.Evaluate[string](`document.querySelector('#watch-cmd').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(cmd)
	if len(f) != 4 || f[0] != "qrsync" || f[1] != "watch" || !strings.HasPrefix(f[2], a.Base+"/api/sessions/") {
		t.Fatalf("watch command %q", cmd)
	}
	var got api.Session
	a.GetJSON(strings.TrimPrefix(f[2], a.Base), &got)
	if len(got.Images) != 1 {
		t.Fatalf("the watch command's session: %+v", got)
	}

	// Let the tile's arrival animation settle so the picture shows the
	// page at rest.
	if err := chromedp.Do(pc, chromedp.Sleep(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, pc, "pc-page.png")
}

// openPCPage opens the PC page of the server at base in a new desktop-sized
// tab of browser, and waits for it to go live with a session: it returns
// the tab and the session's upload link.
func openPCPage(t *testing.T, browser context.Context, base string) (pc context.Context, uploadURL string) {
	t.Helper()
	pc, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(pc, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	uploadURL, err := chromedp.Run(pc, chromedp.Poll[string](
		`document.querySelector('#status')?.dataset.state === 'live' && document.querySelector('#upload-url')?.textContent.trim()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("PC page never went live with an upload link: %v", err)
	}
	return pc, uploadURL
}

// screenshot leaves a picture of the whole page in tab in test-output/.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(browsertest.OutputDir(t), name)
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)
}

// The PC page survives a server restart: it shows reconnecting while the
// server is gone, goes live again when it is back on the same port and
// data, and an upload made after the restart appears exactly once.
func TestBrowserReconnectsAfterRestart(t *testing.T) {
	cfg := server.Config{Retry: 300 * time.Millisecond}
	a := apptest.Start(t, cfg)
	browser := browsertest.Chromium(t)
	pc, cancel := chromedp.NewContext(browser)
	defer cancel()

	state := func(want string) {
		t.Helper()
		if _, err := chromedp.Run(pc, chromedp.Poll[bool](
			fmt.Sprintf(`document.querySelector('#status')?.dataset.state === %q`, want),
			chromedp.WithPollingTimeout(45*time.Second))); err != nil {
			got, _ := chromedp.Run(pc, chromedp.Evaluate[string](`document.querySelector('#status')?.dataset.state`))
			t.Fatalf("page never showed %q (shows %q): %v", want, got, err)
		}
	}
	tiles := func(n int) {
		t.Helper()
		if _, err := chromedp.Run(pc, chromedp.Poll[bool](
			fmt.Sprintf(`document.querySelectorAll('#gallery .tile').length === %d`, n),
			chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("page never showed %d tiles: %v", n, err)
		}
	}
	if err := chromedp.Do(pc, chromedp.Navigate(a.Base+"/")); err != nil {
		t.Fatal(err)
	}
	state("live")
	uploadURL, err := chromedp.Run(pc, chromedp.Evaluate[string](`document.querySelector('#upload-url').textContent.trim()`))
	if err != nil {
		t.Fatal(err)
	}
	s := api.Session{UploadURL: uploadURL}
	a.MustUpload(s, "before.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
	tiles(1)

	a.Stop()
	state("reconnecting")
	b := apptest.StartAt(t, a.Addr, a.DataDir, cfg)
	state("live")
	b.MustUpload(s, "after.jpg", readFile(t, testdata+"orientation/Landscape_3.jpg"))
	tiles(2)
	// Nothing arrives twice, even after the replay settles.
	if err := chromedp.Do(pc, chromedp.Sleep(time.Second)); err != nil {
		t.Fatal(err)
	}
	ids, err := chromedp.Run(pc, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#gallery .tile')].map(t => t.dataset.id)`))
	if err != nil || len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("tiles after restart: %v %v", ids, err)
	}
}
