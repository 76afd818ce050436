package server_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/internal/flatimage"
	"qrsync/server"
)

// hostileBoundary is the boundary of the bodies built by hand below.
const hostileBoundary = "qrsync-hostile-7d1f"

// part is one multipart part as a client might send it, byte for byte:
// the Content-Disposition is written raw so a test controls every byte of
// the name (quotes, non-UTF-8, RFC 2231).
type part struct {
	disposition string // e.g. `form-data; name="file"; filename="a.jpg"`
	ctype       string // part Content-Type, "" for none
	data        []byte
}

func filePart(name string, data []byte) part {
	return part{disposition: `form-data; name="file"; filename="` + name + `"`, ctype: "application/octet-stream", data: data}
}

// rawMultipart writes parts with hostileBoundary and the closing boundary.
func rawMultipart(parts ...part) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString("--" + hostileBoundary + "\r\nContent-Disposition: " + p.disposition + "\r\n")
		if p.ctype != "" {
			b.WriteString("Content-Type: " + p.ctype + "\r\n")
		}
		b.WriteString("\r\n")
		b.Write(p.data)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + hostileBoundary + "--\r\n")
	return b.Bytes()
}

const hostileType = "multipart/form-data; boundary=" + hostileBoundary

// --- hostile files ---------------------------------------------------------

func tinyJPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tinyGIF(t testing.TB) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 40, 30), color.Palette{color.White, color.Black, color.RGBA{200, 30, 30, 255}})
	for i := range img.Pix {
		img.Pix[i] = uint8(i % 3)
	}
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegClaiming is a JPEG whose frame header announces w×h and that has
// nothing else: a few bytes that ask a naive decoder for gigabytes.
func jpegClaiming(w, h int) []byte {
	// SOI, then a JFIF APP0 so that decoders take the frame header as the
	// answer to "how big" without looking further.
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	b = append(b, 0xFF, 0xC0, 0, 17, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	return append(b, 0xFF, 0xD9)
}

// pngChunk frames one PNG chunk with its length and CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

func pngIHDR(w, h uint32, depth, colorType byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, colorType, 0, 0, 0)
	return pngChunk("IHDR", ihdr)
}

func zipFile(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("photo.jpg")
	w.Write(tinyJPEG(t))
	zw.Close()
	return b.Bytes()
}

// animatedWebP is an extended WebP whose VP8X header sets the animation
// flag, followed by the frame of a still one.
func animatedWebP(still []byte) []byte {
	vp8x := make([]byte, 10)
	vp8x[0] = 0x02 // animation
	vp8x[4], vp8x[7] = 149, 99
	body := append([]byte("WEBP"), riffChunk("VP8X", vp8x)...)
	body = append(body, riffChunk("ANIM", make([]byte, 6))...)
	body = append(body, still[12:]...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func riffChunk(fcc string, data []byte) []byte {
	b := append([]byte(fcc), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func ftyp(major string, compat ...string) []byte {
	body := []byte(major + "\x00\x00\x00\x00")
	for _, c := range compat {
		body = append(body, c...)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	b = append(b, "ftyp"...)
	b = append(b, body...)
	return append(b, make([]byte, 200)...)
}

func flip(b []byte, at int) []byte {
	c := bytes.Clone(b)
	c[at] ^= 0xFF
	return c
}

// --- the table -------------------------------------------------------------

// hostileCase is one request and the exact answer it must get.
type hostileCase struct {
	name   string
	token  string // "" means the session's own token
	ctype  string // "" means hostileType
	body   []byte
	status int
	code   string
	msg    string // part of the message a person reads, if it matters
	// raw, when set, sends the request itself over a TCP connection and
	// returns the status and body it got.
	raw func(t *testing.T, a *apptest.App, path string) (int, []byte)
}

// Everything anyone who sees a QR code could send, each with its exact
// status and error code. After each, the server still serves, and the data
// directory holds nothing new: no blob file (temporary or not), no image
// in the catalog, no event in the log and none on a live stream.
func TestHostileUploads(t *testing.T) {
	const maxFile = 2 << 20
	var clockOffset atomic.Int64 // lets the test make an already ended session
	a := apptest.Start(t, server.Config{
		MaxFileSize:     maxFile,
		MaxImages:       3,
		MaxSessionBytes: 3 << 20,
		Now:             func() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) },
	})
	s := a.NewSession()
	sub := a.Subscribe(s, "")
	if ev := sub.Next(); ev.Type != api.EventSnapshot {
		t.Fatalf("first event %s", fmtEvent(ev))
	}

	// A session already at its image quota, and one at its byte quota.
	full := a.NewSession()
	for i := range 3 {
		a.MustUpload(full, fmt.Sprintf("%d.png", i), smallPNG(t, 8+i, 8))
	}
	heavy := a.NewSession()
	bulky := append(smallPNG(t, 32, 32), bytes.Repeat([]byte{0xA5}, 2<<20-4096)...) // valid: bytes after IEND
	a.MustUpload(heavy, "bulky.png", bulky)
	// A session that has ended.
	clockOffset.Store(int64(-2 * time.Hour))
	ended := a.NewSession()
	clockOffset.Store(0)

	tokenOf := func(s api.Session) string { return strings.TrimPrefix(apptest.UploadPath(s), "/api/upload/") }

	jpg := readFile(t, testdata+"orientation/Landscape_1.jpg")
	heic := readFile(t, testdata+"heic/IMG_5195.HEIC")
	webp := readFile(t, "testdata/blue-purple-pink.lossy.webp")
	png := smallPNG(t, 64, 48)
	gifb := tinyGIF(t)
	bigPNG := flatimage.PNGBomb(20000, 20000, 8, 0, 0) // 400 MP of zeros in a few hundred KB
	t.Logf("20000x20000 PNG: %d bytes", len(bigPNG))

	mp := func(parts ...part) []byte { return rawMultipart(parts...) }
	file := func(name string, data []byte) []byte { return mp(filePart(name, data)) }

	const (
		s400 = http.StatusBadRequest
		s404 = http.StatusNotFound
		s410 = http.StatusGone
		s413 = http.StatusRequestEntityTooLarge
		s415 = http.StatusUnsupportedMediaType
		s422 = http.StatusUnprocessableEntity
		s429 = http.StatusTooManyRequests
		bad  = api.CodeBadRequest
		unsu = api.CodeUnsupported
		bimg = api.CodeBadImage
	)
	cases := []hostileCase{
		// Not images at all, whatever they are called.
		{name: "zero bytes", body: file("empty.jpg", nil), status: s415, code: unsu, msg: "JPEG, PNG, GIF, WebP or HEIC"},
		{name: "one byte", body: file("one.jpg", []byte{0xFF}), status: s415, code: unsu},
		{name: "text named .jpg typed image/jpeg", body: mp(part{`form-data; name="file"; filename="notes.jpg"`, "image/jpeg", []byte("just some text")}), status: s415, code: unsu},
		{name: "svg with script", body: file("x.svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(document.cookie)</script></svg>`)), status: s415, code: unsu},
		{name: "svg named .png", body: file("x.png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)), status: s415, code: unsu},
		{name: "html", body: file("index.html", []byte("<!doctype html><html><script>fetch('/api/sessions')</script></html>")), status: s415, code: unsu},
		{name: "html with BOM named .gif", body: file("a.gif", []byte("\xEF\xBB\xBF<html><body onload=alert(1)>")), status: s415, code: unsu},
		{name: "pdf", body: file("doc.pdf", []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF")), status: s415, code: unsu},
		{name: "zip", body: file("photos.zip", zipFile(t)), status: s415, code: unsu},
		{name: "windows executable", body: file("setup.jpg", append([]byte("MZ\x90\x00\x03"), make([]byte, 300)...)), status: s415, code: unsu},
		{name: "elf executable", body: file("x.png", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 300)...)), status: s415, code: unsu},
		{name: "BMP", body: file("a.bmp", append([]byte("BM6\x00\x00\x00"), make([]byte, 100)...)), status: s415, code: unsu},
		{name: "TIFF", body: file("a.tif", append([]byte("II*\x00\x08\x00\x00\x00"), make([]byte, 100)...)), status: s415, code: unsu},
		{name: "AVIF", body: file("a.avif", ftyp("avif", "avif", "mif1", "miaf")), status: s415, code: unsu, msg: "JPEG, PNG, GIF, WebP or HEIC"},
		{name: "HEIF image sequence", body: file("burst.heic", ftyp("msf1", "msf1", "hevc")), status: s415, code: unsu},
		{name: "MP4 video", body: file("clip.jpg", ftyp("isom", "isom", "iso2", "mp41")), status: s415, code: unsu},
		{name: "animated WebP", body: file("anim.webp", animatedWebP(webp)), status: s415, code: unsu},

		// Images that are broken or lie about their size.
		{name: "JPEG magic only", body: file("a.jpg", []byte{0xFF, 0xD8, 0xFF}), status: s422, code: bimg},
		{name: "JPEG cut inside its header", body: file("a.jpg", jpg[:300]), status: s422, code: bimg},
		{name: "JPEG cut half-way through the pixels", body: file("a.jpg", jpg[:len(jpg)/2]), status: s422, code: bimg},
		{name: "JPEG frame header of zero height", body: file("a.jpg", jpegClaiming(640, 0)), status: s422, code: bimg},
		{name: "JPEG header claiming 65535x65535", body: file("a.jpg", jpegClaiming(65535, 65535)), status: s422, code: bimg, msg: "too many pixels"},
		{name: "JPEG with a garbage segment length", body: file("a.jpg", append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01}, jpg[2:]...)), status: s422, code: bimg},
		{name: "PNG signature only", body: file("a.png", png[:8]), status: s422, code: bimg},
		{name: "PNG cut half-way", body: file("a.png", png[:len(png)/2]), status: s422, code: bimg},
		{name: "PNG with a bad IHDR CRC", body: file("a.png", flip(png, 29)), status: s422, code: bimg},
		{name: "PNG with no IDAT", body: file("a.png", slices.Concat([]byte("\x89PNG\r\n\x1a\n"), pngIHDR(10, 10, 8, 2), pngChunk("IEND", nil))), status: s422, code: bimg},
		{name: "PNG 20000x20000 of a few hundred KB", body: file("huge.png", bigPNG), status: s422, code: bimg, msg: "too many pixels"},
		{name: "PNG header claiming 4294967295 rows", body: file("a.png", slices.Concat([]byte("\x89PNG\r\n\x1a\n"), pngIHDR(1, 0xFFFFFFFF, 8, 0))), status: s422, code: bimg},
		{name: "GIF header only", body: file("a.gif", []byte("GIF89a")), status: s422, code: bimg},
		{name: "GIF cut half-way", body: file("a.gif", gifb[:len(gifb)/2]), status: s422, code: bimg},
		{name: "GIF screen of 65535x65535", body: file("a.gif", append([]byte("GIF89a\xFF\xFF\xFF\xFF\x00\x00\x00"), gifb[13:]...)), status: s422, code: bimg, msg: "too many pixels"},
		{name: "WebP RIFF header only", body: file("a.webp", webp[:12]), status: s422, code: bimg},
		{name: "WebP cut half-way", body: file("a.webp", webp[:len(webp)/2]), status: s422, code: bimg},
		{name: "WebP with a corrupt VP8 frame tag", body: file("a.webp", flip(flip(webp, 23), 24)), status: s422, code: bimg},
		{name: "HEIF brand mif1 named .jpg, no meta", body: file("a.jpg", ftyp("mif1", "mif1", "heic")), status: s422, code: bimg},
		{name: "HEIC cut half-way", body: file("IMG_5195.HEIC", heic[:len(heic)/2]), status: s422, code: bimg},
		{name: "HEIC cut inside its meta box", body: file("IMG_5195.HEIC", heic[:1000]), status: s422, code: bimg},
		{name: "HEIC declaring 50000x50000", body: file("IMG_5195.HEIC", heicDeclaring(t, heic, 50000, 50000)), status: s422, code: bimg, msg: "too many pixels"},
		{name: "polyglot: GIF header then JavaScript", body: file("x.gif", []byte("GIF89a/*\x00\x00*/=1;alert(document.domain)//")), status: s422, code: bimg},
		{name: "polyglot: PNG signature then HTML", body: file("x.png", []byte("\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>")), status: s422, code: bimg},

		// Hostile names on hostile contents: the name never saves them.
		{name: "path traversal name on an SVG", body: file("../../../static/upload.js", []byte("<svg/onload=alert(1)>")), status: s415, code: unsu},
		{name: "very long name on HTML", body: file(strings.Repeat("A", 20000)+".jpg", []byte("<html>")), status: s415, code: unsu},
		{name: "non-UTF-8 name on a truncated JPEG", body: file("\xff\xfe\xfd.jpg", jpg[:1000]), status: s422, code: bimg},

		// Limits.
		{name: "over --max-file-size", body: file("big.png", append(bytes.Clone(png), make([]byte, maxFile)...)), status: s413, code: api.CodeTooLarge, msg: "2 MiB"},
		{name: "session at its image quota", token: tokenOf(full), body: file("more.png", png), status: s429, code: api.CodeTooMany},
		{name: "session at its byte quota", token: tokenOf(heavy), body: file("more.png", append(bytes.Clone(png), make([]byte, 3<<19)...)), status: s429, code: api.CodeTooMany},
		{name: "unknown token", token: "AAAAAAAAAAAAAAAAAAAAAAAA", body: file("a.png", png), status: s404, code: api.CodeNotFound},
		{name: "ended session's token", token: tokenOf(ended), body: file("a.png", png), status: s410, code: api.CodeExpired},

		// Requests that are not the form they claim to be.
		{name: "no Content-Type", ctype: "-", body: file("a.png", png), status: s400, code: bad, msg: "multipart/form-data"},
		{name: "text/plain", ctype: "text/plain", body: png, status: s400, code: bad},
		{name: "urlencoded form", ctype: "application/x-www-form-urlencoded", body: []byte("file=abc"), status: s400, code: bad},
		{name: "multipart/mixed", ctype: "multipart/mixed; boundary=" + hostileBoundary, body: file("a.png", png), status: s400, code: bad},
		{name: "multipart without boundary", ctype: "multipart/form-data", body: file("a.png", png), status: s400, code: bad},
		{name: "wrong boundary", ctype: "multipart/form-data; boundary=not-the-one", body: file("a.png", png), status: s400, code: bad},
		{name: "unparsable Content-Type", ctype: "multipart/form-data; boundary=", body: file("a.png", png), status: s400, code: bad},
		{name: "empty body", body: nil, status: s400, code: bad},
		{name: "closing boundary only", body: []byte("--" + hostileBoundary + "--\r\n"), status: s400, code: bad, msg: `"file"`},
		{name: "part without a name", body: mp(part{`form-data; filename="a.png"`, "image/png", png}), status: s400, code: bad, msg: `"file"`},
		{name: "part named photo, not file", body: mp(part{`form-data; name="photo"; filename="a.png"`, "image/png", png}), status: s400, code: bad, msg: `"file"`},
		{name: "huge form field", body: mp(part{`form-data; name="comment"`, "", bytes.Repeat([]byte("x"), 1<<20)}), status: s400, code: bad},
		{name: "control character in the part header", body: mp(part{"form-data; name=\"file\"; filename=\"bell\x07.png\"", "image/png", png}), status: s400, code: bad},
		{name: "part headers never end", body: []byte("--" + hostileBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n" + string(png)), status: s400, code: bad},
		{name: "multipart that stops after the file's first bytes", body: []byte("--" + hostileBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n" + string(png[:40])), status: s400, code: bad},
		{name: "body that stops half-way (Content-Length unmet)", body: file("a.jpg", jpg), status: s400, code: bad, msg: "cut off", raw: sendHalf},
		{name: "chunked body that stops half-way", body: file("a.jpg", jpg), status: s400, code: bad, msg: "cut off", raw: sendHalfChunked},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}

	sessions := []api.Session{s, full, heavy}
	state := func() string { return dataState(t, a, sessions) }
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := state()
			path := apptest.UploadPath(s)
			if tc.token != "" {
				path = "/api/upload/" + tc.token
			}
			var status int
			var body []byte
			if tc.raw != nil {
				status, body = tc.raw(t, a, path)
			} else {
				ctype := tc.ctype
				switch ctype {
				case "":
					ctype = hostileType
				case "-":
					ctype = ""
				}
				resp, b := a.Do(http.MethodPost, path, bytes.NewReader(tc.body), ctype)
				status, body = resp.StatusCode, b
			}
			var e api.ErrorBody
			mustJSON(t, body, &e)
			if status != tc.status || e.Error.Code != tc.code {
				t.Errorf("got %d %s, want %d %s", status, body, tc.status, tc.code)
			}
			if !strings.Contains(e.Error.Message, tc.msg) {
				t.Errorf("message %q should mention %q", e.Error.Message, tc.msg)
			}
			apptest.WaitHealthy(t, a.Base)
			if after := state(); after != before {
				t.Fatalf("the data directory changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	t.Logf("%d hostile cases", len(cases))
	sub.None(300 * time.Millisecond)

	// And after all that, a good photo still goes through.
	a.MustUpload(s, "fine.jpg", jpg)
	if ev := sub.Next(); ev.Type != api.EventImage {
		t.Fatalf("want the image event, got %s", fmtEvent(ev))
	}
}

// dataState sums up everything an upload could leave behind: every file
// under the data directory's blob store (temporary files included; only the
// store's .lock is skipped) and, per session, its images and its event log.
func dataState(t testing.TB, a *apptest.App, sessions []api.Session) string {
	t.Helper()
	out := fmt.Sprintf("files=%v", blobFiles(a.DataDir))
	ctx := context.Background()
	for i, s := range sessions {
		imgs, last, err := a.Server.Catalog().Images(ctx, s.ID)
		if err != nil {
			t.Fatalf("images of %s: %v", s.ID, err)
		}
		// The whole log, without waiting when it is empty.
		rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		evs, err := a.Server.Catalog().Read(rctx, s.ID, "", 0)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("events of %s: %v", s.ID, err)
		}
		out += fmt.Sprintf(" session%d: %d images, %d events, last %q", i, len(imgs), len(evs), last)
	}
	return out
}

// sendHalf sends the headers of a request and half of its body, then
// stops sending (half-close, as a phone whose upload dies does not, but so
// that the answer can still be read).
func sendHalf(t *testing.T, a *apptest.App, path string) (int, []byte) {
	body := rawMultipart(filePart("a.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg")))
	return rawExchange(t, a, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		path, hostileType, len(body)), body[:len(body)/2])
}

func sendHalfChunked(t *testing.T, a *apptest.App, path string) (int, []byte) {
	body := rawMultipart(filePart("a.jpg", readFile(t, testdata+"orientation/Landscape_1.jpg")))
	half := body[:len(body)/2]
	chunk := fmt.Sprintf("%x\r\n%s\r\n", len(half), half)
	return rawExchange(t, a, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n",
		path, hostileType), []byte(chunk))
}

// rawExchange writes head and body on a fresh connection, closes its
// writing side and reads the answer.
func rawExchange(t *testing.T, a *apptest.App, head string, body []byte) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a body that stopped: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Names are metadata only: a hostile name on a good photo is stored under
// a server-made key and shown cleaned up, never used as a path.
func TestHostileFileNames(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	png := smallPNG(t, 20, 10)
	long := strings.Repeat("é", 3000) + ".png"
	cases := []struct {
		name        string
		disposition string
		want        string
	}{
		{"path traversal", `form-data; name="file"; filename="../../../../etc/passwd.png"`, "passwd.png"},
		{"windows path", `form-data; name="file"; filename="..\\..\\Windows\\System32\\evil.png"`, "evil.png"},
		{"absolute path", `form-data; name="file"; filename="/var/lib/qrsync/blobs/x.png"`, "x.png"},
		{"dot dot only", `form-data; name="file"; filename=".."`, "photo.png"},
		{"empty name", `form-data; name="file"; filename=""`, "photo.png"},
		{"no filename at all", `form-data; name="file"`, "photo.png"},
		{"very long name", `form-data; name="file"; filename="` + long + `"`, long[:254]},
		{"non-UTF-8 name", "form-data; name=\"file\"; filename=\"caf\xe9 \xff.png\"", "caf\uFFFD \uFFFD.png"},
		{"RFC 2231 name with NUL and newline", `form-data; name="file"; filename*=UTF-8''a%00b%0Ac%22d.png`, "abcd.png"},
		{"quotes and backslashes", `form-data; name="file"; filename="say \"cheese\".png"`, "say cheese.png"},
		{"tab in the name", "form-data; name=\"file\"; filename=\"tab\t.png\"", "tab.png"},
		// Format characters (Cf) go: "evil\u202egnp.exe" would read as "evilexe.png".
		{"right-to-left override", "form-data; name=\"file\"; filename=\"evil\u202Egnp.exe\"", "evilgnp.exe"},
		{"zero-width and bidi marks", "form-data; name=\"file\"; filename=\"a\u200Bb\u200Ec\u2066d\uFEFF.jpg\"", "abcd.jpg"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := a.NewSession()
			data := append(bytes.Clone(png), byte(i)) // distinct bytes: no duplicates
			resp, body := a.Do(http.MethodPost, apptest.UploadPath(s), bytes.NewReader(rawMultipart(part{tc.disposition, "image/png", data})), hostileType)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			var res api.UploadResult
			mustJSON(t, body, &res)
			img := res.Images[0]
			if img.Name != tc.want {
				t.Errorf("name %q, want %q", img.Name, tc.want)
			}
			if len(img.Name) > server.MaxNameBytes || strings.ContainsAny(img.Name, "/\\\"\x00\n\r") {
				t.Errorf("unsafe stored name %q", img.Name)
			}
			// The only files are the server-made keys of this image.
			want := []string{"sessions/" + s.ID + "/" + img.ID, "sessions/" + s.ID + "/" + img.ID + ".thumb.jpg"}
			var got []string
			for _, f := range blobFiles(a.DataDir) {
				if strings.Contains(f, s.ID) {
					got = append(got, f)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("files %v, want %v", got, want)
			}
			// The name comes back in a well-formed Content-Disposition.
			resp, _ = a.Do(http.MethodGet, "/api/sessions/"+s.ID+"/images/"+img.ID, nil, "")
			cd := resp.Header.Get("Content-Disposition")
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(cd, "inline;") || strings.ContainsAny(cd, "\r\n\x00") {
				t.Errorf("original: %d, Content-Disposition %q", resp.StatusCode, cd)
			}
		})
	}
}
