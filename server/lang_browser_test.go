package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"qrsync/internal/apptest"
	"qrsync/internal/browsertest"
	"qrsync/locale"
	"qrsync/server"
)

// Chromium set to Chinese gets both pages in Simplified Chinese, and set to
// English in English: the server's texts, the wasm client's (live, the
// photo count) and the phone script's (the upload's status and summary).
// Screenshots of both pages in both languages are left in test-output/.
func TestBrowserPagesSpeakTheBrowsersLanguage(t *testing.T) {
	for _, tc := range []struct{ browserLang, want string }{
		{"zh-CN", "zh-Hans"},
		{"en-US", "en"},
	} {
		t.Run(tc.browserLang, func(t *testing.T) {
			cat := locale.Match(tc.browserLang)
			if cat.Lang != tc.want {
				t.Fatalf("%s matches %s; want %s", tc.browserLang, cat.Lang, tc.want)
			}
			a := apptest.Start(t, server.Config{})
			browser := browsertest.ChromiumIn(t, tc.browserLang)
			pc, uploadURL := openPCPage(t, browser, a.Base)
			for sel, key := range map[string]string{
				"html": "", "#scan-title": "pc.scanTitle", "#status": "pc.status.live", "#count": "pc.count.none",
			} {
				expr := `document.querySelector('` + sel + `').textContent.trim()`
				want := cat.T(key)
				if key == "" {
					expr, want = `document.documentElement.lang`, cat.Lang
				}
				if got := js[string](t, pc, expr); got != want {
					t.Errorf("PC page %s = %q; want %q", sel, got, want)
				}
			}

			switchOffersAll(t, pc, "PC page", cat)

			photo, err := filepath.Abs(testdata + "orientation/Landscape_1.jpg")
			if err != nil {
				t.Fatal(err)
			}
			phone, cancel := chromedp.NewContext(browser)
			defer cancel()
			if err := chromedp.Do(phone, chromedp.Emulate(device.IPhone13), chromedp.Navigate(uploadURL)); err != nil {
				t.Fatal(err)
			}
			if got, want := js[string](t, phone, `document.querySelector('h1').textContent`), cat.T("phone.heading"); got != want {
				t.Errorf("phone page heading %q; want %q", got, want)
			}
			switchOffersAll(t, phone, "phone page", cat)
			screenshot(t, phone, "lang-phone-"+cat.Lang+"-before.png")
			if err := chromedp.Do(phone, chromedp.SetUploadFiles(chromedp.CSS(`#files`), []string{photo})); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Run(phone, chromedp.Poll[bool](`document.querySelectorAll('.file.done').length === 1`,
				chromedp.WithPollingTimeout(60*time.Second))); err != nil {
				t.Fatalf("the phone never showed the photo received: %v", err)
			}
			if got, want := js[string](t, phone, `document.querySelector('.file .status').textContent`), cat.T("phone.received"); got != want {
				t.Errorf("phone row status %q; want %q", got, want)
			}
			if got, want := js[string](t, phone, `document.querySelector('#summary').textContent`), cat.N("phone.allReceived", 1); got != want {
				t.Errorf("phone summary %q; want %q", got, want)
			}
			screenshot(t, phone, "lang-phone-"+cat.Lang+".png")

			until(t, pc, "the photo on the PC", tilesExpr+` === 1`)
			if got, want := js[string](t, pc, `document.querySelector('#count').textContent.trim()`), cat.N("pc.count", 1); got != want {
				t.Errorf("PC count %q; want %q", got, want)
			}
			screenshot(t, pc, "lang-pc-"+cat.Lang+".png")
		})
	}
}

// switchOffersAll checks that the page's language switch comes to offer
// every language, in the catalogs' order, with the page's own chosen. The
// page is served offering its own alone (lang.js says why).
func switchOffersAll(t *testing.T, page context.Context, which string, cat *locale.Catalog) {
	t.Helper()
	var want []string
	for _, c := range locale.All() {
		want = append(want, c.Lang+" "+c.Name)
	}
	until(t, page, which+" offering every language", fmt.Sprintf(`document.querySelector('#lang').options.length === %d`, len(want)))
	got := js[[]string](t, page, `[...document.querySelector('#lang').options].map(o => o.value + " " + o.textContent)`)
	if !slices.Equal(got, want) {
		t.Errorf("%s: the language switch offers %q; want %q", which, got, want)
	}
	if v := js[string](t, page, `document.querySelector('#lang').value`); v != cat.Lang {
		t.Errorf("%s: the language switch shows %q; want %q", which, v, cat.Lang)
	}
}

// The language switch on the PC page changes its language, and the choice
// outlasts a reload and reaches the server's own messages.
func TestBrowserLanguageSwitchIsRemembered(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	browser := browsertest.ChromiumIn(t, "en-US")
	pc, _ := openPCPage(t, browser, a.Base)
	zh := locale.Match("zh-CN")
	// A person's pick: the value, then the change event. The page then
	// loads again: wait for the new document before polling in it, since a
	// poll running while the old one goes fails with it. One evaluation
	// does it all, so nothing else runs while the old document goes.
	js[bool](t, pc, `window.beforeSwitch = true;
		const sel = document.querySelector('#lang');
		sel.value = '`+zh.Lang+`';
		sel.dispatchEvent(new Event('change'));
		true`)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if gone, err := chromedp.Run(pc, chromedp.Evaluate[bool](`window.beforeSwitch !== true`)); err == nil && gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the language switch did not load the page again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	until(t, pc, "the page in Chinese", `document.documentElement.lang === '`+zh.Lang+`' && document.querySelector('#status')?.dataset.state === 'live'`)
	if got, want := js[string](t, pc, `document.querySelector('#status').textContent.trim()`), zh.T("pc.status.live"); got != want {
		t.Errorf("status after the switch %q; want %q", got, want)
	}
	if err := chromedp.Do(pc, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	until(t, pc, "still Chinese after a reload", `document.documentElement.lang === '`+zh.Lang+`'`)
	msg, err := chromedp.Run(pc, chromedp.Evaluate[string](`fetch('/api/sessions/no-such-session', {headers: {Accept: 'application/json'}}).then(r => r.json()).then(b => b.error.message)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if want := zh.T("error.notFound"); msg != want {
		t.Errorf("the server's message after the switch %q; want %q", msg, want)
	}
}
