package server

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/cloudwego/hertz/pkg/app"

	"qrsync/photoname"
	"qrsync/storage"
)

// archive streams every original of a session as one zip (DESIGN §3). The
// files are stored, not compressed: photos do not compress, and storing
// costs no CPU. The zip is written as it is sent, through a pipe, so memory
// stays flat however many photos there are; its length is worked out
// first, so the browser shows how far the download has got.
func (s *Server) archive(ctx context.Context, c *app.RequestContext) {
	sess, err := s.session(ctx, c, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	images, _, err := s.images.Images(ctx, sess.ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	entries := archiveEntries(images)
	length, err := archiveLength(entries)
	if err != nil {
		s.writeError(c, fmt.Errorf("size the archive: %w", err))
		return
	}
	name := "qrsync " + sess.CreatedAt.Local().Format("2006-01-02 15.04") + ".zip"
	h := &c.Response.Header
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Cache-Control", "private, no-store")
	c.SetContentType("application/zip")
	c.SetStatusCode(http.StatusOK)
	if c.IsHead() {
		h.SetContentLength(int(length))
		return
	}
	pr, pw := io.Pipe()
	go func() {
		// Hertz closes pr once the answer is sent or the browser goes
		// away; the next write here then fails and this returns.
		pw.CloseWithError(s.writeArchive(context.WithoutCancel(ctx), pw, sess.ID, entries))
	}()
	c.SetBodyStream(pr, int(length))
}

// archiveEntry is one file of the archive: the image and its name there.
type archiveEntry struct {
	img  storage.Image
	name string
}

// archiveEntries names every image as the watch command would name its
// file, made unique without regard to case, since the zip may be unpacked
// where case does not count (Windows, macOS).
func archiveEntries(images []storage.Image) []archiveEntry {
	taken := make(map[string]bool, len(images))
	out := make([]archiveEntry, 0, len(images))
	for _, img := range images {
		base := photoname.Safe(img.Name, img.ContentType)
		name := base
		for i := 2; taken[strings.ToLower(name)]; i++ {
			name = photoname.Numbered(base, i)
		}
		taken[strings.ToLower(name)] = true
		out = append(out, archiveEntry{img: img, name: name})
	}
	return out
}

func entryHeader(e archiveEntry) *zip.FileHeader {
	return &zip.FileHeader{Name: e.name, Method: zip.Store, Modified: e.img.CreatedAt}
}

// archiveLength is the exact length of the zip of entries: the same
// writer, fed zeros of the same sizes into a counter. Only the checksums
// differ, and they have a fixed width.
func archiveLength(entries []archiveEntry) (int64, error) {
	var n countWriter
	zw := zip.NewWriter(&n)
	for _, e := range entries {
		w, err := zw.CreateHeader(entryHeader(e))
		if err != nil {
			return 0, err
		}
		if _, err := io.CopyN(w, zeros{}, e.img.Size); err != nil {
			return 0, err
		}
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// writeArchive writes the zip of entries to w, reading each original from
// the blob store as it goes.
func (s *Server) writeArchive(ctx context.Context, w io.Writer, sessionID string, entries []archiveEntry) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		fw, err := zw.CreateHeader(entryHeader(e))
		if err != nil {
			return err
		}
		b, err := s.blobs.Open(ctx, originalKey(sessionID, e.img.ID))
		if err != nil {
			// Deleted since the list was read: the length promised can no
			// longer be kept, so the download fails rather than lie.
			return fmt.Errorf("open %s: %w", e.name, err)
		}
		n, err := io.Copy(fw, b)
		b.Close()
		if err != nil {
			return err
		}
		if n != e.img.Size {
			return fmt.Errorf("%s: %d bytes stored, %d listed: %w", e.name, n, e.img.Size, storage.ErrNotFound)
		}
	}
	return zw.Close()
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
