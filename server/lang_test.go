package server_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/locale"
	"qrsync/server"
)

// langRequest sends a request with Accept-Language and, if set, the
// language cookie, and returns the answer and its body.
func langRequest(t *testing.T, method, url, acceptLang, cookie string, body io.Reader, ctype string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if acceptLang != "" {
		req.Header.Set("Accept-Language", acceptLang)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "qrsync-lang", Value: cookie})
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// A PDF is refused with 415 and the same code in every language; only the
// message changes, to the request's language, and a language the person
// picked (the cookie) outranks the browser's.
func TestErrorsSpeakTheRequestsLanguage(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	pdf := []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	zh := locale.Match("zh-CN")
	for _, tc := range []struct {
		acceptLang, cookie string
		want               *locale.Catalog
	}{
		{"zh-CN,zh;q=0.9", "", zh},
		{"zh", "", zh},
		{"en-US,en;q=0.9", "", locale.English},
		{"fr-FR", "", locale.English},
		{"", "", locale.English},
		{"zh-CN", "en", locale.English},
		{"en-US", "zh-Hans", zh},
	} {
		body, ctype := multipartBody(t, map[string][]byte{"report.pdf": pdf})
		resp, b := langRequest(t, http.MethodPost, a.Base+apptest.UploadPath(s), tc.acceptLang, tc.cookie, body, ctype)
		var e api.ErrorBody
		mustJSON(t, b, &e)
		if resp.StatusCode != http.StatusUnsupportedMediaType || e.Error.Code != api.CodeUnsupported {
			t.Errorf("Accept-Language %q, cookie %q: %d %s; want 415 %s", tc.acceptLang, tc.cookie, resp.StatusCode, b, api.CodeUnsupported)
			continue
		}
		if want := tc.want.T("error.unsupported"); e.Error.Message != want {
			t.Errorf("Accept-Language %q, cookie %q: message %q; want %q", tc.acceptLang, tc.cookie, e.Error.Message, want)
		}
	}
	if zh.T("error.unsupported") == locale.English.T("error.unsupported") {
		t.Fatal("the Chinese message is the English one")
	}
}

// The pages come in the request's language, say so, and tell caches that
// the language depends on the request; a dead link's page too.
func TestPagesSpeakTheRequestsLanguage(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	zh := locale.Match("zh-CN")
	for _, tc := range []struct {
		path, key string
		status    int
	}{
		{"/", "pc.scanTitle", http.StatusOK},
		{strings.TrimPrefix(s.UploadURL, a.Base), "phone.heading", http.StatusOK},
		{"/u/no-such-token", "link.notFoundTitle", http.StatusNotFound},
	} {
		for _, cat := range []*locale.Catalog{zh, locale.English} {
			resp, b := langRequest(t, http.MethodGet, a.Base+tc.path, cat.Lang, "", nil, "")
			page := string(b)
			if resp.StatusCode != tc.status || !strings.Contains(page, `<html lang="`+cat.Lang+`">`) || !strings.Contains(page, cat.T(tc.key)) {
				t.Errorf("GET %s in %s: %d, want %d with lang %s and %q", tc.path, cat.Lang, resp.StatusCode, tc.status, cat.Lang, cat.T(tc.key))
			}
			if got := resp.Header.Get("Content-Language"); got != cat.Lang {
				t.Errorf("GET %s in %s: Content-Language %q", tc.path, cat.Lang, got)
			}
			if tc.status == http.StatusOK && !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") {
				t.Errorf("GET %s: Vary %q lacks Accept-Language", tc.path, resp.Header.Get("Vary"))
			}
			// The page's script gets its texts as data, in the same language.
			if tc.status == http.StatusOK && !bytes.Contains(b, []byte(`<script type="application/json" id="messages">{"`)) {
				t.Errorf("GET %s in %s: no #messages catalog for the script", tc.path, cat.Lang)
			}
		}
	}
}
