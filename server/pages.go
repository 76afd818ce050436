package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/cloudwego/hertz/pkg/app"

	"qrsync/locale"
	"qrsync/storage"
	"qrsync/web"
)

// staticFS is web/static, the embedded page assets.
var staticFS = func() fs.FS {
	sub, err := fs.Sub(web.Static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}()

// siteAssets are the embedded files as they are served: hashed, their
// pages rewritten to name the hashed URLs, with their compressed
// variants. The embedded bytes never change while the process runs, so
// this is worked out once, at start-up.
var siteAssets = loadAssets(staticFS)

func (s *Server) pcPage(_ context.Context, c *app.RequestContext) {
	// no-cache with a strong validator: a reload costs a 304, and a new
	// build's page (naming new asset URLs) is seen at once.
	s.serveAsset(c, siteAssets.page("index.html", catalogFor(c)), cacheRevalidate)
}

// phonePage serves the upload page for a live token, and a plain page that
// says what to do for a dead one, so a person who scans an old code is not
// left with a page whose every upload fails.
func (s *Server) phonePage(ctx context.Context, c *app.RequestContext) {
	_, err := s.sessionByToken(ctx, c, c.Param("token"))
	switch {
	case err == nil:
		// no-store: which page this address gets depends on the token's
		// state at the moment of asking (live: the upload page; replaced
		// or ended: the dead-link page), so no cache may answer for it,
		// not even after a revalidation. Its assets are cached as any.
		s.serveAsset(c, siteAssets.page("upload.html", catalogFor(c)), cacheNoStore)
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrExpired):
		// A mistyped link and an ended one call for different things: a
		// closer look at the address, or the code the computer shows now.
		status, _, m := statusOf(err)
		cat := catalogFor(c)
		page := deadLink{Lang: cat.Lang, Title: cat.T("link.endedTitle"), Message: m.in(cat)}
		if status == http.StatusNotFound {
			page.Title, page.Message = cat.T("link.notFoundTitle"), cat.T("link.notFoundHint")
		}
		h := &c.Response.Header
		h.Set("Cache-Control", cacheNoStore)
		h.Set("Content-Language", cat.Lang)
		var b strings.Builder
		deadLinkPage.Execute(&b, page)
		c.Data(status, "text/html; charset=utf-8", []byte(b.String()))
	default:
		s.writeError(c, err)
	}
}

// deadLink is what the page for a link that takes no photos says.
type deadLink struct{ Lang, Title, Message string }

var deadLinkPage = template.Must(template.New("dead").Parse(siteAssets.rewrite.Replace(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qrsync — {{.Title}}</title><link rel="stylesheet" href="/static/theme.css">
<link rel="stylesheet" href="/static/upload.css"></head>
<body><main class="dead-link"><h1>{{.Title}}</h1>
<p>{{.Message}}</p></main></body></html>
`)))

// Static assets (docs/api.md, "Static assets").
//
// Every embedded file but the pages (*.html) is served twice:
//
//   - under its hashed URL, /static/<stem>.<hash><ext> (app.wasm →
//     /static/app.0123456789abcdef.wasm; hash: the first 16 hex digits of
//     the SHA-256 of the file), with Cache-Control cacheImmutable: the
//     address changes whenever the bytes do, so a browser never needs to
//     ask again. A hash that is not the current one answers 404.
//   - under its plain URL, /static/<name>, with no-cache and a validator,
//     for pages and links that name it so (an old page still open).
//
// The pages name the hashed URLs: at start-up every "/static/<name>" in
// them (quotes included) is replaced with the hashed URL of <name>.
//
// Each answer is the best encoding the request accepts of those there
// are: brotli, gzip, identity. For the assets the variants are made at
// build time (`make wasm` runs internal/precompress: <name>.br, <name>.gz
// and precompress.sums, the SHA-256 of each source), and one is used only
// while the sum still matches the embedded file, so an asset edited after
// the build is served as it is now, uncompressed, never stale. Nothing is
// compressed per request: a fresh clone without built variants serves
// identity. The pages, rewritten here, are rendered once per language at
// start-up and compressed then.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
	cacheNoStore    = "no-store"
	// sumsFile lists the SHA-256 of each file internal/precompress made
	// variants of, as sha256sum writes it.
	sumsFile = "precompress.sums"
)

// variant is one encoding of an asset.
type variant struct {
	body []byte
	etag string // strong, of these very bytes
}

func newVariant(b []byte) *variant {
	sum := sha256.Sum256(b)
	return &variant{body: b, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// asset is one file of web/static as it is served.
type asset struct {
	name     string // under web/static: "app.wasm"
	ctype    string
	url      string // its hashed URL; "" for a page
	lang     string // a page's language; "" for an asset
	identity *variant
	br, gz   *variant // nil when there is none
}

type assetSet struct {
	byName   map[string]*asset // "app.wasm", "index.html"
	byHashed map[string]*asset // "app.0123456789abcdef.wasm"
	// pages are the pages (*.html) by name, then by language: each
	// rendered once per catalog.
	pages map[string]map[string]*asset
	// rewrite puts the hashed URLs into a page.
	rewrite *strings.Replacer
}

// hashedName is the one place the hashed URLs' layout is decided:
// "app.wasm" with content hash h is "app.<h>.wasm", served at
// /static/app.<h>.wasm.
func hashedName(name, hash string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

func isPage(name string) bool { return path.Ext(name) == ".html" }

// isVariant tells the build's own outputs, which are served only as an
// encoding of their source.
func isVariant(fsys fs.FS, name string) bool {
	if name == sumsFile {
		return true
	}
	for _, ext := range []string{".br", ".gz"} {
		if src, ok := strings.CutSuffix(name, ext); ok {
			if _, err := fs.Stat(fsys, src); err == nil {
				return true
			}
		}
	}
	return false
}

func loadAssets(fsys fs.FS) *assetSet {
	set := &assetSet{byName: map[string]*asset{}, byHashed: map[string]*asset{}, pages: map[string]map[string]*asset{}}
	sums := readSums(fsys)
	var names []string
	fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !isVariant(fsys, name) {
			names = append(names, name)
		}
		return nil
	})
	sort.Strings(names)
	var pairs, pages []string
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			continue
		}
		a := &asset{name: name, ctype: contentType(name)}
		set.byName[name] = a
		if isPage(name) {
			pages = append(pages, name)
			continue
		}
		sum := sha256.Sum256(b)
		a.identity = newVariant(b)
		hashed := hashedName(name, hex.EncodeToString(sum[:8]))
		a.url = "/static/" + hashed
		set.byHashed[hashed] = a
		if sums[name] == hex.EncodeToString(sum[:]) {
			if br, err := fs.ReadFile(fsys, name+".br"); err == nil {
				a.br = newVariant(br)
			}
			if gz, err := fs.ReadFile(fsys, name+".gz"); err == nil {
				a.gz = newVariant(gz)
			}
		}
		pairs = append(pairs, `"/static/`+name+`"`, `"`+a.url+`"`)
	}
	set.rewrite = strings.NewReplacer(pairs...)
	for _, name := range pages {
		b, _ := fs.ReadFile(fsys, name)
		delete(set.byName, name) // served at their own routes, in a language
		set.pages[name] = map[string]*asset{}
		for _, cat := range locale.All() {
			body, err := renderPage(name, set.rewrite.Replace(string(b)), cat)
			if err != nil {
				panic(err) // embedded: the tests see a broken page first
			}
			a := &asset{name: name, ctype: contentType(name), lang: cat.Lang}
			a.identity = newVariant(body)
			a.br, a.gz = compress(body)
			set.pages[name][cat.Lang] = a
		}
	}
	return set
}

// page is the page name in the language of cat.
func (set *assetSet) page(name string, cat *locale.Catalog) *asset {
	return set.pages[name][cat.Lang]
}

// pageData is what a page template is given.
type pageData struct {
	Lang     string            // the page's language, for <html lang>
	LangName string            // and its own name for itself, which the switch shows at first
	Langs    []*locale.Catalog // for the language switch
	// LangCookie is the cookie the switch sets to the chosen tag.
	LangCookie string
	// Messages are the page's dynamic texts (its catalog's keys with the
	// page's prefix), for its script: data, not code, so the wasm client
	// carries no catalog of its own.
	Messages map[string]string
}

// pagePrefix names which catalog keys each page's script is handed.
var pagePrefix = map[string]string{"index.html": "pc.", "upload.html": "phone."}

// renderPage executes page src, an html/template, in cat's language. Its
// texts are {{t "key"}}; {{emph "key" "slot" "key2"}} fills the slot with
// key2's text in <strong>. A key the catalog lacks is an error, so a page
// never ships with a hole.
func renderPage(name, src string, cat *locale.Catalog) ([]byte, error) {
	t := func(key string) (string, error) {
		if !cat.Has(key) {
			return "", fmt.Errorf("%s: no message %q in %s", name, key, cat.Lang)
		}
		return cat.T(key), nil
	}
	emph := func(key string, slotKeys ...string) (template.HTML, error) {
		text, err := t(key)
		if err != nil {
			return "", err
		}
		pairs := []string{}
		for i := 0; i+1 < len(slotKeys); i += 2 {
			inner, err := t(slotKeys[i+1])
			if err != nil {
				return "", err
			}
			pairs = append(pairs, "{"+slotKeys[i]+"}", "<strong>"+template.HTMLEscapeString(inner)+"</strong>")
		}
		return template.HTML(strings.NewReplacer(pairs...).Replace(template.HTMLEscapeString(text))), nil
	}
	tmpl, err := template.New(name).Funcs(template.FuncMap{"t": t, "emph": emph}).Parse(src)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, pageData{
		Lang: cat.Lang, LangName: cat.Name, Langs: locale.All(), LangCookie: langCookie,
		Messages: cat.Prefixed(pagePrefix[name]),
	})
	return b.Bytes(), err
}

// readSums reads precompress.sums: "<sha256 hex>  <name>" lines.
func readSums(fsys fs.FS) map[string]string {
	sums := map[string]string{}
	b, err := fs.ReadFile(fsys, sumsFile)
	if err != nil {
		return sums
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if ok {
			sums[name] = sum
		}
	}
	return sums
}

// compress makes the brotli and gzip variants of a page; either is nil
// when it would not be smaller.
func compress(b []byte) (br, gz *variant) {
	var bb bytes.Buffer
	w := brotli.NewWriterLevel(&bb, brotli.BestCompression)
	w.Write(b)
	w.Close()
	if bb.Len() < len(b) {
		br = newVariant(bb.Bytes())
	}
	var gb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gb, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if gb.Len() < len(b) {
		gz = newVariant(gb.Bytes())
	}
	return br, gz
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".wasm":
		return "application/wasm" // instantiateStreaming insists on it
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	if ctype := mime.TypeByExtension(path.Ext(name)); ctype != "" {
		return ctype
	}
	return "application/octet-stream"
}

// static serves web/static: a hashed URL as immutable, a plain one with
// no-cache.
func (s *Server) static(_ context.Context, c *app.RequestContext) {
	name := strings.TrimPrefix(path.Clean("/"+c.Param("file")), "/")
	if a := siteAssets.byHashed[name]; a != nil {
		s.serveAsset(c, a, cacheImmutable)
		return
	}
	s.serveAsset(c, siteAssets.byName[name], cacheRevalidate)
}

// serveAsset answers with the best encoding of a that the request
// accepts, or 304 when the request's validator matches it.
func (s *Server) serveAsset(c *app.RequestContext, a *asset, cacheControl string) {
	if a == nil {
		s.writeError(c, storage.ErrNotFound)
		return
	}
	v, enc := a.identity, ""
	accept := string(c.GetHeader("Accept-Encoding"))
	switch {
	case a.br != nil && acceptsEncoding(accept, "br"):
		v, enc = a.br, "br"
	case a.gz != nil && acceptsEncoding(accept, "gzip"):
		v, enc = a.gz, "gzip"
	}
	h := &c.Response.Header
	h.Set("Cache-Control", cacheControl)
	if a.lang != "" {
		// Which language a page is in depends on these too.
		h.Set("Vary", "Accept-Encoding, Accept-Language, Cookie")
		h.Set("Content-Language", a.lang)
	} else {
		h.Set("Vary", "Accept-Encoding")
	}
	h.Set("ETag", v.etag)
	if etagMatches(string(c.GetHeader("If-None-Match")), v.etag) {
		c.SetStatusCode(http.StatusNotModified)
		return
	}
	if enc != "" {
		h.Set("Content-Encoding", enc)
	}
	c.Data(http.StatusOK, a.ctype, v.body)
}

// acceptsEncoding reports whether an Accept-Encoding header takes coding
// (by name, or by "*" when it is not named) with a q above 0.
func acceptsEncoding(header, coding string) bool {
	star := false
	for _, item := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(item, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		ok := qualityAbove0(params)
		switch name {
		case coding:
			return ok
		case "*":
			star = ok
		}
	}
	return star
}

func qualityAbove0(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q > 0
		}
	}
	return true
}

// etagMatches is If-None-Match's weak comparison (RFC 9110 13.1.2).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}
