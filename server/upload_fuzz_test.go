package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qrsync/internal/flatimage"
	"qrsync/server"
	"qrsync/storage"
	"qrsync/storage/boltdb"
	"qrsync/storage/fsblob"
)

// FuzzUpload drives the whole upload path short of HTTP (multipart parsing,
// sniffing, the header check, decoding, location stripping, storing and
// recording) with real backends, on arbitrary bodies. With wrap the input
// is the content of one well-formed file part, so the fuzzer spends its
// time inside the image formats; without, it is the whole body.
//
// Whatever the input: no panic; an error is always the client's (4xx,
// never 500: a bad upload must not look like a broken server); and what
// is stored matches what was answered: exactly two blobs (original and
// thumbnail) per image in the catalog, and no temporary file.
//
//	go test ./server -run '^$' -fuzz FuzzUpload -fuzztime 60s
func FuzzUpload(f *testing.F) {
	jpg := readFile(f, testdata+"orientation/Landscape_6.jpg")
	gps := readFile(f, testdata+"gps/DSCN0010.jpg")
	webp := readFile(f, "testdata/blue-purple-pink.lossy.webp")
	heic := readFile(f, testdata+"heic/IMG_5195.HEIC")
	png := smallPNG(f, 24, 16)
	gifb := tinyGIF(f)
	for _, file := range [][]byte{jpg, gps[:4096], webp, heic[:512], png, gifb, tinyJPEG(f),
		jpegClaiming(65535, 65535), flatimage.PNGBomb(3000, 3000, 8, 0, 0), animatedWebP(webp), nil} {
		f.Add(file, true)
	}
	f.Add(rawMultipart(filePart("a.png", png), filePart("b.gif", gifb)), false)
	f.Add(rawMultipart(part{`form-data; name="x"`, "", []byte("v")}, filePart("../c.webp", webp)), false)
	f.Add(rawMultipart(part{"form-data; name=\"file\"; filename*=UTF-8''%FF.png", "image/png", png}), false)
	f.Add([]byte("--"+hostileBoundary+"\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\xFF\xD8\xFF"), false)

	dir := f.TempDir()
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { blobs.Close() })
	cat, err := boltdb.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cat.Close() })
	srv, err := server.New(server.Config{
		PublicURLs:  []string{"http://127.0.0.1"},
		MaxFileSize: 4 << 20,
		// Small, so that a fuzzed header cannot make each run decode
		// hundreds of megapixels; the limit itself is what is exercised.
		MaxPixels: 4_000_000,
		Logger:    quietLogger(),
	}, blobs, cat)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	var sess storage.Session
	runs := 0

	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		// A fresh session now and then keeps quotas and directories small.
		if runs%50 == 0 {
			now := time.Now()
			sess = storage.Session{ID: rand.Text(), UploadToken: rand.Text(), CreatedAt: now, UploadExpiresAt: now.Add(server.DefaultUploadTTL), ExpiresAt: now.Add(server.DefaultKeep)}
			if err := cat.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
		}
		runs++
		body := data
		if wrap {
			body = rawMultipart(filePart("fuzz.jpg", data))
		}
		cur, err := cat.Session(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, _, err := srv.IngestAll(ctx, cur, hostileBoundary, bytes.NewReader(body))
		if err != nil {
			if status, code, msg := server.StatusOf(err); status >= 500 {
				t.Fatalf("client input answered %d %s %q: %v", status, code, msg, err)
			}
		} else if len(res.Images) == 0 {
			t.Fatal("success without an image")
		}
		images, _, err := cat.Images(ctx, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		var files, temps int
		filepath.Walk(filepath.Join(dir, "blobs", "sessions", sess.ID), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				if strings.HasPrefix(info.Name(), ".") {
					temps++
				} else {
					files++
				}
			}
			return nil
		})
		if temps != 0 || files != 2*len(images) {
			t.Fatalf("%d images in the catalog but %d blob files and %d temporary files", len(images), files, temps)
		}
	})
}
