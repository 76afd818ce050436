package server_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/internal/browsertest"
	"qrsync/server"
)

// js evaluates expr in tab and returns its value, failing the test on error.
func js[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until polls expr in tab until it is truthy, up to 20 s, and fails the
// test with what it was waiting for otherwise.
func until(t *testing.T, tab context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// pcSession is the session the PC page in tab keeps.
func pcSession(t *testing.T, tab context.Context) string {
	t.Helper()
	id := js[string](t, tab, `localStorage.getItem('qrsync.session') || ''`)
	if id == "" {
		t.Fatal("the page keeps no session in local storage")
	}
	return id
}

// tiles counts the photo tiles on the page.
const tilesExpr = `document.querySelectorAll('#gallery li.tile[data-id]').length`

// The PC page keeps its session: a reload and a second tab show the same
// photos and the same link, nothing of the session is in the address bar,
// and "New session" starts a new one.
func TestPCPageKeepsItsSession(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	browser := browsertest.Chromium(t)
	pc, link := openPCPage(t, browser, a.Base)
	id := pcSession(t, pc)
	s := api.Session{ID: id, UploadURL: link}
	a.MustUpload(s, "first.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
	a.MustUpload(s, "second.jpg", readFile(t, testdata+"orientation/Landscape_3.jpg"))
	until(t, pc, "two tiles", tilesExpr+` === 2`)

	if err := chromedp.Do(pc, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	until(t, pc, "live after the reload", `document.querySelector('#status')?.dataset.state === 'live'`)
	until(t, pc, "the two photos after the reload", tilesExpr+` === 2`)
	if got := js[string](t, pc, `document.querySelector('#upload-url').textContent.trim()`); got != link {
		t.Errorf("link after reload %q, want %q", got, link)
	}
	if got := pcSession(t, pc); got != id {
		t.Errorf("session after reload %q, want %q", got, id)
	}
	names := js[string](t, pc, `[...document.querySelectorAll('#gallery li.tile[data-id] .name')].map(e => e.textContent).join('|')`)
	if names != "first.jpg|second.jpg" {
		t.Errorf("tiles %q, want the upload order first.jpg|second.jpg", names)
	}

	// A second tab shows the same session.
	other, _ := openPCPage(t, browser, a.Base)
	until(t, other, "the two photos in a second tab", tilesExpr+` === 2`)
	if got := pcSession(t, other); got != id {
		t.Errorf("second tab's session %q, want %q", got, id)
	}
	for _, tab := range []context.Context{pc, other} {
		if href := js[string](t, tab, `location.href`); strings.Contains(href, id) || strings.Contains(href, "?") {
			t.Errorf("the address bar shows %q", href)
		}
	}

	// A link from "Open on another computer" opens the session there, and
	// leaves the address bar clean.
	elsewhere := js[string](t, pc, `document.querySelector('#elsewhere-url').value || document.querySelector('#elsewhere-url').textContent`)
	if elsewhere != api.PageURL(a.Base, id) {
		t.Errorf("link for another computer %q, want %q", elsewhere, api.PageURL(a.Base, id))
	}
	fresh := browsertest.Chromium(t) // another browser: nothing stored
	there, cancel := chromedp.NewContext(fresh)
	defer cancel()
	if err := chromedp.Do(there, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(elsewhere)); err != nil {
		t.Fatal(err)
	}
	until(t, there, "the two photos on another computer", tilesExpr+` === 2`)
	if href := js[string](t, there, `location.href`); strings.Contains(href, id) {
		t.Errorf("the other computer's address bar still shows the id: %q", href)
	}

	// "New session" is a new session, kept from then on.
	if err := chromedp.Do(pc, chromedp.Click(chromedp.CSS(`#new-session`))); err != nil {
		t.Fatal(err)
	}
	confirmDialog(t, pc)
	until(t, pc, "a new session", fmt.Sprintf(`localStorage.getItem('qrsync.session') !== %q && document.querySelector('#status')?.dataset.state === 'live'`, id))
	until(t, pc, "an empty gallery", tilesExpr+` === 0`)
	if got := js[string](t, pc, `document.querySelector('#upload-url').textContent.trim()`); got == link || !strings.Contains(got, api.UploadPathMark) {
		t.Errorf("new session's link %q (old %q)", got, link)
	}
	// The old session's photos are still on the server.
	var old api.Session
	a.GetJSON(api.SessionPath(id), &old)
	if len(old.Images) != 2 {
		t.Errorf("the old session holds %d photos, want 2", len(old.Images))
	}
}

// confirmDialog presses OK in the page's own confirmation dialog.
func confirmDialog(t *testing.T, tab context.Context) {
	t.Helper()
	until(t, tab, "the confirmation", `document.querySelector('#confirm')?.open === true`)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#confirm-ok`))); err != nil {
		t.Fatal(err)
	}
}

// "New code" on the page: the old link answers 410, the new one works,
// and the gallery stays.
func TestPCPageNewCode(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	browser := browsertest.Chromium(t)
	pc, link := openPCPage(t, browser, a.Base)
	s := api.Session{ID: pcSession(t, pc), UploadURL: link}
	a.MustUpload(s, "kept.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
	until(t, pc, "the photo", tilesExpr+` === 1`)
	if err := chromedp.Do(pc, chromedp.Click(chromedp.CSS(`#new-code`))); err != nil {
		t.Fatal(err)
	}
	until(t, pc, "a new link", fmt.Sprintf(`document.querySelector('#upload-url').textContent.trim() !== %q`, link))
	newLink := js[string](t, pc, `document.querySelector('#upload-url').textContent.trim()`)
	if status, body, _ := a.Upload(s, "old.jpg", readFile(t, testdata+"orientation/Landscape_3.jpg")); status != http.StatusGone {
		t.Errorf("upload to the old link: %d %s, want 410", status, body)
	}
	a.MustUpload(api.Session{ID: s.ID, UploadURL: newLink}, "new.jpg", readFile(t, testdata+"orientation/Landscape_3.jpg"))
	until(t, pc, "both photos", tilesExpr+` === 2`)
}

// While a phone sends slowly the PC shows a tile with a progress bar,
// swapped for the photo when it lands; a refused file shows its reason.
// The viewer opens a photo full size, steps with the arrow keys and
// closes with Esc. A photo deleted on one page leaves every other page.
func TestPCPageProgressViewerAndDelete(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	browser := browsertest.Chromium(t)
	pc, link := openPCPage(t, browser, a.Base)
	s := api.Session{ID: pcSession(t, pc), UploadURL: link}
	a.MustUpload(s, "a first photo with a long name, to see it whole in the viewer.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg"))
	until(t, pc, "the first photo", tilesExpr+` === 1`)

	// About 1 MB/s: a 2.5 MB body over ~2.5 s.
	photo := photoOfSizeBytes(t, 2_500_000)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "slow.jpg")
	w.Write(photo)
	mw.Close()
	done := make(chan int, 1)
	go func() {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, a.Base+apptest.UploadPath(s), &pacedReader{r: bytes.NewReader(body.Bytes()), total: body.Len(), over: 2500 * time.Millisecond, start: start})
		req.ContentLength = int64(body.Len())
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	until(t, pc, "a progress tile", `(() => { const b = document.querySelector('#gallery li.tile.uploading progress'); return !!b && b.value > 0 && b.value < b.max })()`)
	screenshot(t, pc, "pc-page-progress.png")
	if status := <-done; status != http.StatusCreated {
		t.Fatalf("slow upload: %d", status)
	}
	until(t, pc, "the photo in the placeholder's place", tilesExpr+` === 2 && !document.querySelector('#gallery li.tile.uploading')`)

	// A refused file: its reason on the PC, in the phone's words.
	status, answer, _ := a.Upload(s, "report.pdf", []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"))
	if status != http.StatusUnsupportedMediaType {
		t.Fatalf("PDF: %d %s", status, answer)
	}
	until(t, pc, "an error tile", `(document.querySelector('#gallery li.tile.failed .tile-error')?.textContent || '').includes('not a photo')`)

	// The viewer.
	if err := chromedp.Do(pc, chromedp.Click(chromedp.CSS(`#gallery li.tile[data-id] img`))); err != nil {
		t.Fatal(err)
	}
	until(t, pc, "the viewer with the first photo", `(() => { const v = document.querySelector('#viewer'); const i = document.querySelector('#viewer-img');
		return v && (v.open || !v.hidden) && i && i.complete && i.naturalWidth > 0 && i.src.includes('/display') })()`)
	if name := js[string](t, pc, `document.querySelector('#viewer-name').textContent`); !strings.Contains(name, "to see it whole in the viewer.jpg") {
		t.Errorf("viewer shows the name %q, want it whole", name)
	}
	if tabs := js[int](t, pc, `window.length`); tabs != 0 {
		t.Errorf("%d frames opened", tabs)
	}
	time.Sleep(500 * time.Millisecond) // let the picture settle for the screenshot
	screenshot(t, pc, "pc-page-viewer.png")
	first := js[string](t, pc, `document.querySelector('#viewer-img').src`)
	if err := chromedp.Do(pc, chromedp.KeyEvent(kb.ArrowRight)); err != nil {
		t.Fatal(err)
	}
	until(t, pc, "the next photo", fmt.Sprintf(`document.querySelector('#viewer-img').src !== %q && document.querySelector('#viewer-name').textContent === 'slow.jpg'`, first))
	if err := chromedp.Do(pc, chromedp.KeyEvent(kb.Escape)); err != nil {
		t.Fatal(err)
	}
	until(t, pc, "the viewer closed", `(() => { const v = document.querySelector('#viewer'); return !v.open && (v.hidden || getComputedStyle(v).display === 'none' || !v.open) })()`)
	if href := js[string](t, pc, `location.href`); strings.Contains(href, s.ID) {
		t.Errorf("the address bar shows the session: %q", href)
	}

	// Delete on one page; the other page sees it go.
	other, _ := openPCPage(t, browser, a.Base)
	until(t, other, "both photos on the second page", tilesExpr+` === 2`)
	if err := chromedp.Do(pc, chromedp.Click(chromedp.CSS(`#gallery li.tile[data-id] .tile-delete`))); err != nil {
		t.Fatal(err)
	}
	confirmDialog(t, pc)
	until(t, other, "the deleted photo to leave the other page", tilesExpr+` === 1`)
	until(t, pc, "the deleted photo to leave this page", tilesExpr+` === 1`)
}

// photoOfSizeBytes is a real JPEG padded with trailing bytes to size.
func photoOfSizeBytes(t *testing.T, size int) []byte {
	t.Helper()
	head := photoLikeJPEG(t, 640, 480)
	var b bytes.Buffer
	b.Write(head)
	b.ReadFrom(photoOfSize(head, int64(size), 7))
	return b.Bytes()[len(head):]
}

// A reload costs a revalidation of the wasm, not its megabytes again.
func TestPCPageReloadRevalidatesWasm(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	browser := browsertest.Chromium(t)
	pc, _ := openPCPage(t, browser, a.Base)
	if err := chromedp.Do(pc, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	until(t, pc, "live after the reload", `document.querySelector('#status')?.dataset.state === 'live'`)
	type entry struct {
		Name         string  `json:"name"`
		TransferSize float64 `json:"transferSize"`
		BodySize     float64 `json:"encodedBodySize"`
	}
	entries := js[[]entry](t, pc, `performance.getEntriesByType('resource').filter(e => e.name.includes('.wasm')).map(e => ({name: e.name, transferSize: e.transferSize, encodedBodySize: e.encodedBodySize}))`)
	if len(entries) == 0 {
		t.Fatal("the reloaded page fetched no wasm")
	}
	for _, e := range entries {
		// A 304 transfers its headers only; a cache hit transfers nothing.
		if e.TransferSize > 2000 {
			t.Errorf("%s: %v bytes transferred on reload (body %v): fetched again in full", e.Name, e.TransferSize, e.BodySize)
		}
		t.Logf("after reload %s: %v bytes transferred, body %v", e.Name, e.TransferSize, e.BodySize)
	}
}
