package server

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/cloudwego/hertz/pkg/app"

	"qrsync/api"
	"qrsync/storage"
)

// StoredImage is a photo just stored, as Config.OnImage hears of it.
type StoredImage struct {
	// Session is the session it was stored in, as the upload found it.
	Session storage.Session
	// Image is its catalog entry.
	Image api.Image
	blobs storage.BlobStore
}

// Open reads the stored original.
func (si StoredImage) Open(ctx context.Context) (storage.Blob, error) {
	return si.blobs.Open(ctx, originalKey(si.Session.ID, si.Image.ID))
}

// original serves the stored bytes with their real content type, shown
// inline (the PC page opens them in a tab) under the uploaded file name.
func (s *Server) original(ctx context.Context, c *app.RequestContext) {
	sid, iid := c.Param("id"), c.Param("image")
	img, err := s.image(ctx, c, sid, iid)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Response.Header.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": img.Name}))
	s.serveBlob(ctx, c, originalKey(sid, iid), img.ContentType, `"`+iid+`"`)
}

// display serves an image every browser shows. Every format stored today
// is one, so that is the original, inline; a format browsers do not draw
// would get a rendition here.
func (s *Server) display(ctx context.Context, c *app.RequestContext) {
	sid, iid := c.Param("id"), c.Param("image")
	img, err := s.image(ctx, c, sid, iid)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Response.Header.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": img.Name}))
	s.serveBlob(ctx, c, originalKey(sid, iid), img.ContentType, `"`+iid+`"`)
}

// image looks up an image a viewer's route names; a miss counts as for
// session.
func (s *Server) image(ctx context.Context, c *app.RequestContext, sid, iid string) (api.Image, error) {
	img, err := s.cat.Image(ctx, sid, iid)
	if errors.Is(err, storage.ErrNotFound) {
		return img, s.missed(c, err)
	}
	return img, err
}

func (s *Server) thumbnail(ctx context.Context, c *app.RequestContext) {
	sid, iid := c.Param("id"), c.Param("image")
	if _, err := s.image(ctx, c, sid, iid); err != nil {
		s.writeError(c, err)
		return
	}
	s.serveBlob(ctx, c, thumbKey(sid, iid), "image/jpeg", `"t`+iid+`"`)
}

// serveBlob streams a blob; Hertz closes it once the response is written.
//
// Photos may be cached only by this browser and only while the server
// still says they exist: "private, no-cache" with an ETag makes each use
// a revalidation, which costs a 304 and no bytes while the photo lives and
// a 404 once it is deleted. Image ids are never reused, so the id is a
// sound validator.
func (s *Server) serveBlob(ctx context.Context, c *app.RequestContext, key, contentType, etag string) {
	c.Response.Header.Set("Cache-Control", "private, no-cache")
	c.Response.Header.Set("ETag", etag)
	if string(c.GetHeader("If-None-Match")) == etag {
		c.SetStatusCode(http.StatusNotModified)
		return
	}
	b, err := s.blobs.Open(ctx, key)
	if err != nil {
		s.writeError(c, fmt.Errorf("open blob: %w", err))
		return
	}
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
