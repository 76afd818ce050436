package server_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"qrsync/internal/apptest"
	"qrsync/server"
)

// rawGet asks for path with the given headers and returns the answer and
// its body exactly as sent: no transparent decompression.
func rawGet(t *testing.T, a *apptest.App, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.Base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// decode undoes an answer's Content-Encoding.
func decode(t *testing.T, resp *http.Response, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc := resp.Header.Get("Content-Encoding"); enc {
	case "":
		return b
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: gzip: %v", resp.Request.URL.Path, err)
		}
		r = zr
	default:
		t.Fatalf("%s: Content-Encoding %q", resp.Request.URL.Path, enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: decode %s: %v", resp.Request.URL.Path, resp.Header.Get("Content-Encoding"), err)
	}
	return out
}

// hashedURL matches the pages' hashed asset URLs: /static/<stem>.<16 hex><ext>.
var hashedURL = regexp.MustCompile(`"(/static/([A-Za-z0-9_-]+)\.([0-9a-f]{16})(\.[a-z]+))"`)

// pageAssets are the hashed URLs the page at path names, by file name.
func pageAssets(t *testing.T, a *apptest.App, path string) map[string]string {
	t.Helper()
	resp, b := rawGet(t, a, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	urls := map[string]string{}
	for _, m := range hashedURL.FindAllStringSubmatch(string(b), -1) {
		urls[m[2]+m[4]] = m[1]
	}
	if strings.Contains(string(b), `"/static/theme.css"`) {
		t.Errorf("%s still names /static/theme.css, not its hashed URL", path)
	}
	return urls
}

// The pages name every asset by a URL that carries its content's hash,
// and such a URL is served immutable, with the right type, in the
// encoding asked for; its bytes are the file's.
func TestAssetHashedURLsAreImmutable(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	urls := pageAssets(t, a, "/")
	want := map[string]string{
		"theme.css": "text/css; charset=utf-8",
		"app.css":   "text/css; charset=utf-8",
		"boot.js":   "text/javascript; charset=utf-8",
	}
	if _, err := os.Stat("../web/static/app.wasm"); err == nil {
		want["app.wasm"] = "application/wasm"
		want["wasm_exec.js"] = "text/javascript; charset=utf-8"
	}
	for name, ctype := range want {
		url := urls[name]
		if url == "" {
			t.Errorf("the PC page names no hashed URL for %s (it names %v)", name, urls)
			continue
		}
		orig := readFile(t, "../web/static/"+name)
		sum := sha256.Sum256(orig)
		if !strings.Contains(url, "."+hex.EncodeToString(sum[:8])+".") {
			t.Errorf("%s: URL %s does not carry the file's hash %x", name, url, sum[:8])
		}
		etags := map[string]string{}
		for accept, allowed := range map[string][]string{
			"br, gzip, deflate":  {"", "br", "gzip"},
			"gzip":               {"", "gzip"},
			"identity":           {""},
			"":                   {""},
			"br;q=0, gzip;q=0.5": {"", "gzip"},
			"*":                  {"", "br", "gzip"},
		} {
			resp, b := rawGet(t, a, url, "Accept-Encoding", accept)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s (%q): %d", url, accept, resp.StatusCode)
			}
			h := resp.Header
			if cc := h.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("%s: Cache-Control %q", url, cc)
			}
			if h.Get("Content-Type") != ctype || h.Get("Vary") != "Accept-Encoding" || h.Get("ETag") == "" {
				t.Errorf("%s: Content-Type %q, Vary %q, ETag %q", url, h.Get("Content-Type"), h.Get("Vary"), h.Get("ETag"))
			}
			enc := h.Get("Content-Encoding")
			if !slices.Contains(allowed, enc) {
				t.Errorf("%s (%q): sent %q, which was not asked for", url, accept, enc)
			}
			if got := decode(t, resp, b); !bytes.Equal(got, orig) {
				t.Errorf("%s (%q, %s): %d bytes that are not the file's %d", url, accept, enc, len(got), len(orig))
			}
			if prev, ok := etags[enc]; ok && prev != h.Get("ETag") {
				t.Errorf("%s: two ETags for one encoding %q: %s, %s", url, enc, prev, h.Get("ETag"))
			}
			etags[enc] = h.Get("ETag")
		}
		seen := map[string]bool{}
		for _, etag := range etags {
			if seen[etag] {
				t.Errorf("%s: encodings share an ETag: %v", url, etags)
			}
			seen[etag] = true
		}
	}
}

// The build's variants are served when they are there: after `make wasm`
// app.css has a brotli and a gzip one; the pages, compressed at start-up,
// always do.
func TestAssetEncodingsByAcceptEncoding(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	paths := []string{"/"}
	if _, err := os.Stat("../web/static/app.css.br"); err == nil {
		if sums, err := os.ReadFile("../web/static/precompress.sums"); err == nil {
			sum := sha256.Sum256(readFile(t, "../web/static/app.css"))
			if strings.Contains(string(sums), hex.EncodeToString(sum[:])+"  app.css\n") {
				paths = append(paths, pageAssets(t, a, "/")["app.css"])
			}
		}
	}
	for _, path := range paths {
		var orig []byte
		for _, tc := range []struct{ accept, enc string }{
			{"identity", ""},
			{"gzip, deflate, br, zstd", "br"},
			{"gzip", "gzip"},
			{"br;q=0, gzip", "gzip"},
			{"deflate", ""},
			{"*;q=0, identity", ""},
		} {
			resp, b := rawGet(t, a, path, "Accept-Encoding", tc.accept)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != tc.enc {
				t.Errorf("GET %s (%q): %d, Content-Encoding %q, want %q", path, tc.accept, resp.StatusCode, resp.Header.Get("Content-Encoding"), tc.enc)
				continue
			}
			got := decode(t, resp, b)
			if orig == nil {
				orig = got
			} else if !bytes.Equal(got, orig) {
				t.Errorf("GET %s (%q): decodes to other bytes than the identity answer", path, tc.accept)
			}
			if tc.enc != "" && len(b) >= len(orig) {
				t.Errorf("GET %s (%q): %d bytes in %s, not smaller than %d", path, tc.accept, len(b), tc.enc, len(orig))
			}
		}
	}
}

// The pages are served no-cache with a strong validator per encoding, and
// a matching If-None-Match gets 304; the phone page stays no-store.
func TestAssetPagesRevalidate(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	resp, _ := rawGet(t, a, "/", "Accept-Encoding", "br")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache" ||
		!strings.HasPrefix(etag, `"`) || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d, Cache-Control %q, ETag %q, Content-Type %q", resp.StatusCode,
			resp.Header.Get("Cache-Control"), etag, resp.Header.Get("Content-Type"))
	}
	for _, inm := range []string{etag, `"x", ` + etag, "W/" + etag, "*"} {
		resp, b := rawGet(t, a, "/", "Accept-Encoding", "br", "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d with %d bytes, ETag %q; want 304", inm, resp.StatusCode, len(b), resp.Header.Get("ETag"))
		}
	}
	// Another encoding is another representation: its own ETag.
	resp, _ = rawGet(t, a, "/", "Accept-Encoding", "identity", "If-None-Match", etag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Errorf("identity with the br ETag: %d, ETag %q; want 200 with another", resp.StatusCode, resp.Header.Get("ETag"))
	}

	s := a.NewSession()
	resp, b := rawGet(t, a, "/u/"+uploadToken(s), "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("phone page: %d, Cache-Control %q; want 200 no-store", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if page := string(decode(t, resp, b)); !hashedURL.MatchString(page) || strings.Contains(page, `"/static/upload.js"`) {
		t.Errorf("the phone page does not name its assets by hashed URLs")
	}
}

// A hash that is not the file's is not found; the plain URLs still work,
// with no-cache, for pages that name them.
func TestAssetUnknownHashAndPlainStatic(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	good := pageAssets(t, a, "/")["boot.js"]
	for _, path := range []string{
		"/static/boot.0000000000000000.js",
		"/static/app.ffffffffffffffff.css",
		strings.Replace(good, "boot.", "theme.", 1),
		"/static/nothing.css",
		"/static/precompress.sums",
	} {
		if resp, _ := rawGet(t, a, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	for _, name := range []string{"boot.js", "theme.css", "upload.js"} {
		resp, b := rawGet(t, a, "/static/"+name, "Accept-Encoding", "br, gzip")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET /static/%s: %d, Cache-Control %q, ETag %q", name, resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
			continue
		}
		if !bytes.Equal(decode(t, resp, b), readFile(t, "../web/static/"+name)) {
			t.Errorf("GET /static/%s: not the file's bytes", name)
		}
		if again, _ := rawGet(t, a, "/static/"+name, "Accept-Encoding", "br, gzip", "If-None-Match", resp.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
			t.Errorf("revalidate /static/%s: %d, want 304", name, again.StatusCode)
		}
	}
}
