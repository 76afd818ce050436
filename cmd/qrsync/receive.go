package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"

	"qrsync/locale"
	"qrsync/photoname"
	"qrsync/server"
	"qrsync/watch"
)

// receiver tells the terminal of every photo stored, and with --save-to
// writes a copy into a folder per session.
type receiver struct {
	mu     sync.Mutex // one line, one file at a time
	out    io.Writer
	cat    *locale.Catalog
	saveTo string
	log    *slog.Logger
}

func newReceiver(out io.Writer, cat *locale.Catalog, saveTo string, log *slog.Logger) *receiver {
	return &receiver{out: out, cat: cat, saveTo: saveTo, log: log}
}

// sessionFolderLayout names a session's folder under --save-to by the
// time it started, in local time: folders sort by date, and the name says
// nothing of the session's secrets.
const sessionFolderLayout = "2006-01-02 15.04.05"

// received is the server's OnImage hook.
func (r *receiver) received(ctx context.Context, si server.StoredImage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	img := si.Image
	line := r.cat.T("term.received",
		"time", img.CreatedAt.Local().Format("15:04:05"),
		"name", strconv.QuoteToGraphic(photoname.Safe(img.Name, img.ContentType)),
		"width", strconv.Itoa(img.Width), "height", strconv.Itoa(img.Height),
		"size", sizeText(img.Size))
	if r.saveTo != "" {
		dir := filepath.Join(r.saveTo, si.Session.CreatedAt.Local().Format(sessionFolderLayout))
		if name, err := r.save(ctx, si, dir); err != nil {
			r.log.Error("save a copy", "dir", r.saveTo, "err", err)
			line += "  " + r.cat.T("term.notSaved", "err", err.Error())
		} else {
			line += "  → " + filepath.Join(filepath.Base(dir), name)
		}
	}
	fmt.Fprintln(r.out, line)
}

func (r *receiver) save(ctx context.Context, si server.StoredImage, dir string) (string, error) {
	b, err := si.Open(ctx)
	if err != nil {
		return "", err
	}
	defer b.Close()
	return watch.SaveFile(dir, si.Image.Name, si.Image.ContentType, si.Image.CreatedAt, b)
}

// sizeText says a file's size in the units a person reads: "2.4 MB".
func sizeText(n int64) string {
	switch {
	case n >= 1_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
	case n >= 1000:
		return strconv.FormatInt(n/1000, 10) + " kB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
