package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/cloudwego/hertz/pkg/app"

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

func (s *Server) pcPage(_ context.Context, c *app.RequestContext) {
	s.serveAsset(c, "index.html")
}

// phonePage serves the upload page for a live token, and a plain page that
// says what to do for a dead one, so a person who scans an old code is not
// left with a page whose every upload fails.
func (s *Server) phonePage(ctx context.Context, c *app.RequestContext) {
	_, err := s.sessionByToken(ctx, c, c.Param("token"))
	switch {
	case err == nil:
		c.Response.Header.Set("Cache-Control", "no-store")
		s.serveAsset(c, "upload.html")
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrExpired):
		// A mistyped link and an ended one call for different things: a
		// closer look at the address, or the code the computer shows now.
		status, _, msg := statusOf(err)
		page := deadLink{Title: "This link has ended", Message: msg}
		if status == http.StatusNotFound {
			page = deadLink{Title: "This link was not found", Message: "Check the address, or scan the QR code on the computer again."}
		}
		c.Response.Header.Set("Cache-Control", "no-store")
		var b strings.Builder
		deadLinkPage.Execute(&b, page)
		c.Data(status, "text/html; charset=utf-8", []byte(b.String()))
	default:
		s.writeError(c, err)
	}
}

// deadLink is what the page for a link that takes no photos says.
type deadLink struct{ Title, Message string }

var deadLinkPage = template.Must(template.New("dead").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qrsync — {{.Title}}</title><link rel="stylesheet" href="/static/theme.css">
<link rel="stylesheet" href="/static/upload.css"></head>
<body><main class="dead-link"><h1>{{.Title}}</h1>
<p>{{.Message}}</p></main></body></html>
`))

// static serves web/static. The wasm client is served gzipped when the
// build left a .gz beside it and the browser accepts it: it is most of the
// page's weight.
func (s *Server) static(_ context.Context, c *app.RequestContext) {
	name := strings.TrimPrefix(path.Clean("/"+c.Param("file")), "/")
	s.serveAsset(c, name)
}

func (s *Server) serveAsset(c *app.RequestContext, name string) {
	if name == "" || !fs.ValidPath(name) {
		s.writeError(c, storage.ErrNotFound)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".wasm":
		ctype = "application/wasm" // instantiateStreaming insists on it
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	// no-cache with a validator: a reload costs a 304, not the wasm again.
	c.Response.Header.Set("Cache-Control", "no-cache")
	c.Response.Header.Set("Vary", "Accept-Encoding")
	file := name
	if strings.Contains(string(c.GetHeader("Accept-Encoding")), "gzip") {
		if _, err := fs.Stat(staticFS, name+".gz"); err == nil {
			file = name + ".gz"
			c.Response.Header.Set("Content-Encoding", "gzip")
		}
	}
	b, err := fs.ReadFile(staticFS, file)
	if err != nil {
		s.writeError(c, storage.ErrNotFound)
		return
	}
	etag := assetETag(file, b)
	c.Response.Header.Set("ETag", etag)
	if string(c.GetHeader("If-None-Match")) == etag {
		c.SetStatusCode(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, ctype, b)
}

// assetETags caches each embedded file's validator: the files never change
// while the process runs.
var assetETags sync.Map // name → `"sha256 prefix"`

func assetETag(name string, b []byte) string {
	if v, ok := assetETags.Load(name); ok {
		return v.(string)
	}
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	assetETags.Store(name, etag)
	return etag
}
