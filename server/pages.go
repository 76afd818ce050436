package server

import (
	"context"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

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
		status, _, _ := statusOf(err)
		c.Response.Header.Set("Cache-Control", "no-store")
		var b strings.Builder
		deadLinkPage.Execute(&b, nil)
		c.Data(status, "text/html; charset=utf-8", []byte(b.String()))
	default:
		s.writeError(c, err)
	}
}

var deadLinkPage = template.Must(template.New("dead").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qrsync — link expired</title><link rel="stylesheet" href="/static/theme.css">
<link rel="stylesheet" href="/static/upload.css"></head>
<body><main class="dead-link"><h1>This link has expired</h1>
<p>Scan the QR code on the computer again.</p></main></body></html>
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
	c.Response.Header.Set("Cache-Control", "no-cache")
	if strings.Contains(string(c.GetHeader("Accept-Encoding")), "gzip") {
		if b, err := fs.ReadFile(staticFS, name+".gz"); err == nil {
			c.Response.Header.Set("Content-Encoding", "gzip")
			c.Response.Header.Set("Vary", "Accept-Encoding")
			c.Data(http.StatusOK, ctype, b)
			return
		}
	}
	b, err := fs.ReadFile(staticFS, name)
	if err != nil {
		s.writeError(c, storage.ErrNotFound)
		return
	}
	c.Data(http.StatusOK, ctype, b)
}
