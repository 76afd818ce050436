package server

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/cloudwego/hertz/pkg/app"

	"qrsync/api"
	"qrsync/photo"
	"qrsync/storage"
)

// StoredImage is a photo just stored, as Config.OnImage hears of it.
type StoredImage struct {
	// Session is the session it was stored in, as the upload found it.
	Session storage.Session
	// Image is its catalog entry.
	Image storage.Image
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

// display serves an image every browser shows (DESIGN §3): the original
// for JPEG, PNG, GIF and WebP; for HEIC, which most browsers cannot draw,
// the JPEG rendition made at upload beside the thumbnail, from the same
// decode (photo.Options.Display): turned as displayed, long side at most
// 4096, named like the original with ".jpg".
func (s *Server) display(ctx context.Context, c *app.RequestContext) {
	sid, iid := c.Param("id"), c.Param("image")
	img, err := s.image(ctx, c, sid, iid)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !needsRendition(img.ContentType) {
		c.Response.Header.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": img.Name}))
		s.serveBlob(ctx, c, originalKey(sid, iid), img.ContentType, `"`+iid+`"`)
		return
	}
	name := strings.TrimSuffix(img.Name, path.Ext(img.Name)) + ".jpg"
	c.Response.Header.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	s.serveBlob(ctx, c, displayKey(sid, iid), "image/jpeg", `"d`+iid+`"`)
}

// needsRendition reports whether images of this (stored, sniffed) content
// type are shown through a JPEG rendition.
func needsRendition(contentType string) bool {
	return contentType == photo.HEIC.ContentType()
}

// displayKey is the key of an image's JPEG rendition: its original's key
// with displaySuffix, as received.blobKeys relies on.
func displayKey(sessionID, imageID string) string {
	return originalKey(sessionID, imageID) + displaySuffix
}

// createDisplay opens the blob for r's rendition when its format needs
// one; it is committed with the thumbnail (commitDisplay) or removed with
// the rest of a failed upload (discard).
func (s *Server) createDisplay(ctx context.Context, sessionID string, r *received) error {
	if !r.format.NeedsRendition() {
		return nil
	}
	w, err := s.blobs.Create(ctx, displayKey(sessionID, r.id))
	if err != nil {
		return fmt.Errorf("create display rendition: %w", err)
	}
	r.display = w
	return nil
}

// commitDisplay stores r's rendition, if it has one. Process has written
// it whenever it wrote the thumbnail.
func (r *received) commitDisplay() error {
	if r.display == nil {
		return nil
	}
	if !r.info.Display {
		return errors.New("no display rendition was made")
	}
	if err := r.display.Commit(); err != nil {
		return fmt.Errorf("store display rendition: %w", err)
	}
	return nil
}

func (r *received) abortDisplay() {
	if r.display != nil {
		r.display.Abort()
	}
}

// blobKeys are the keys of every blob r may have written.
func (r *received) blobKeys() []string {
	if r.display == nil {
		return []string{r.okey, r.tkey}
	}
	return []string{r.okey, r.tkey, r.okey + displaySuffix}
}

// image looks up an image a viewer's route names, in a session that is
// not over by this server's clock; a miss counts as for session.
func (s *Server) image(ctx context.Context, c *app.RequestContext, sid, iid string) (storage.Image, error) {
	if _, err := s.session(ctx, c, sid); err != nil {
		return storage.Image{}, err
	}
	img, err := s.images.Image(ctx, sid, iid)
	if errors.Is(err, storage.ErrNotFound) {
		return img, s.missed(c, err)
	}
	return img, err
}

// imageJSON is the API's image for a catalog entry: the entry with the
// URLs of this server's routes. It is made here, never stored, so the
// catalog knows nothing of the wire format.
func imageJSON(sessionID string, img storage.Image) api.Image {
	base := api.ImagePath(sessionID, img.ID)
	return api.Image{
		ID:          img.ID,
		Name:        img.Name,
		ContentType: img.ContentType,
		Size:        img.Size,
		Width:       img.Width,
		Height:      img.Height,
		SHA256:      img.SHA256,
		CreatedAt:   img.CreatedAt.UTC(),
		URL:         base,
		ThumbURL:    base + "/thumb",
		DisplayURL:  base + "/display",
		Upload:      img.Upload,
	}
}

// imagesJSON is imageJSON for a gallery; never nil, so it encodes as [].
func imagesJSON(sessionID string, images []storage.Image) []api.Image {
	out := make([]api.Image, len(images))
	for i, img := range images {
		out[i] = imageJSON(sessionID, img)
	}
	return out
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
	if _, err := s.images.RemoveImage(ctx, sid, iid); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.blobs.Delete(ctx, originalKey(sid, iid), thumbKey(sid, iid), displayKey(sid, iid)); err != nil {
		s.log.Warn("remove image blobs", "err", err)
	}
	c.SetStatusCode(http.StatusNoContent)
}
