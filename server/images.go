package server

import (
	"context"
	"fmt"
	"mime"
	"net/http"

	"github.com/cloudwego/hertz/pkg/app"
)

// original serves the stored bytes with their real content type, shown
// inline (the PC page opens them in a tab) under the uploaded file name.
func (s *Server) original(ctx context.Context, c *app.RequestContext) {
	sid, iid := c.Param("id"), c.Param("image")
	img, err := s.cat.Image(ctx, sid, iid)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Response.Header.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": img.Name}))
	s.serveBlob(ctx, c, originalKey(sid, iid), img.ContentType)
}

func (s *Server) thumbnail(ctx context.Context, c *app.RequestContext) {
	sid, iid := c.Param("id"), c.Param("image")
	if _, err := s.cat.Image(ctx, sid, iid); err != nil {
		s.writeError(c, err)
		return
	}
	s.serveBlob(ctx, c, thumbKey(sid, iid), "image/jpeg")
}

// serveBlob streams a blob; Hertz closes it once the response is written.
// Image ids are never reused, so what is behind a URL never changes.
func (s *Server) serveBlob(ctx context.Context, c *app.RequestContext, key, contentType string) {
	b, err := s.blobs.Open(ctx, key)
	if err != nil {
		s.writeError(c, fmt.Errorf("open %s: %w", key, err))
		return
	}
	c.Response.Header.Set("Cache-Control", "private, max-age=31536000, immutable")
	c.SetContentType(contentType)
	c.SetStatusCode(http.StatusOK)
	c.SetBodyStream(b, int(b.Size()))
}

// deleteImage removes an image; the catalog appends the removed event in
// the same step, then the blobs go.
func (s *Server) deleteImage(ctx context.Context, c *app.RequestContext) {
	sid, iid := c.Param("id"), c.Param("image")
	if _, err := s.cat.RemoveImage(ctx, sid, iid); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.blobs.Delete(ctx, originalKey(sid, iid), thumbKey(sid, iid)); err != nil {
		s.log.Warn("remove image blobs", "err", err)
	}
	c.SetStatusCode(http.StatusNoContent)
}
