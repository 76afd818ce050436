package server

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"qrsync/api"
)

// smallPNG makes a valid w×h PNG.
func smallPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Bad input gets its exact status and code, the server keeps serving, and
// nothing is left in the data directory.
func TestBadUploads(t *testing.T) {
	const maxFile = 1 << 20
	a := startApp(t, Config{MaxFileSize: maxFile})
	s := a.newSession()
	heic := readFile(t, testdata+"heic/IMG_5195.HEIC")
	big := append(smallPNG(t, 64, 64), bytes.Repeat([]byte{0}, maxFile)...)

	type tc struct {
		name    string
		path    string
		body    io.Reader
		ctype   string
		status  int
		code    string
		message string // part of the message a person reads
	}
	mp := func(name string, data []byte) (io.Reader, string) {
		return multipartBody(t, map[string][]byte{name: data})
	}
	textBody, textType := mp("notes.jpg", []byte("just some text, named like a photo"))
	heicBody, heicType := mp("IMG_5195.HEIC", heic)
	bigBody, bigType := mp("big.png", big)
	emptyBody, emptyType := mp("empty.jpg", nil)
	svgBody, svgType := mp("x.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	okBody, okType := mp("ok.png", smallPNG(t, 8, 8))
	tests := []tc{
		{"text named .jpg", uploadPath(s), textBody, textType, 415, api.CodeUnsupported, "JPEG, PNG, GIF or WebP"},
		{"heic", uploadPath(s), heicBody, heicType, 415, api.CodeUnsupported, "Most Compatible"},
		{"svg with script", uploadPath(s), svgBody, svgType, 415, api.CodeUnsupported, ""},
		{"empty file", uploadPath(s), emptyBody, emptyType, 415, api.CodeUnsupported, ""},
		{"over max file size", uploadPath(s), bigBody, bigType, 413, api.CodeTooLarge, "1 MiB"},
		{"unknown token", "/api/upload/not-a-token", okBody, okType, 404, api.CodeNotFound, ""},
		{"not multipart", uploadPath(s), strings.NewReader("hello"), "text/plain", 400, api.CodeBadRequest, "multipart"},
		{"no boundary", uploadPath(s), strings.NewReader("hello"), "multipart/form-data", 400, api.CodeBadRequest, ""},
		{"no file part", uploadPath(s), strings.NewReader("--xx\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--xx--\r\n"), "multipart/form-data; boundary=xx", 400, api.CodeBadRequest, "file"},
		{"body stops half-way", uploadPath(s), strings.NewReader("--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n\x89PNG\r\n\x1a\n"), "multipart/form-data; boundary=xx", 400, api.CodeBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := a.do(http.MethodPost, tt.path, tt.body, tt.ctype)
			var e api.ErrorBody
			mustJSON(t, body, &e)
			if resp.StatusCode != tt.status || e.Error.Code != tt.code {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			if !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("message %q should mention %q", e.Error.Message, tt.message)
			}
			if files := a.blobFiles(); len(files) != 0 {
				t.Fatalf("left behind: %v", files)
			}
			waitHealthy(t, a.base)
		})
	}
	resp, body := a.do(http.MethodGet, "/api/sessions/"+s.ID, nil, "")
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"id":"`+s.ID+`","images":[{`) {
		t.Fatalf("session after bad uploads: %d %s", resp.StatusCode, body)
	}
}

// The same bytes twice make one image, and the phone is told.
func TestDuplicateUpload(t *testing.T) {
	a := startApp(t, Config{})
	s := a.newSession()
	data := readFile(t, testdata+"orientation/Landscape_2.jpg")
	resp, body := a.upload(s, "one.jpg", data)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first: %d %s", resp.StatusCode, body)
	}
	var first api.UploadResult
	mustJSON(t, body, &first)
	resp, body = a.upload(s, "again.jpg", data)
	var second api.UploadResult
	mustJSON(t, body, &second)
	if resp.StatusCode != http.StatusOK || len(second.Duplicate) != 1 || second.Duplicate[0] != first.Images[0].ID {
		t.Fatalf("second: %d %s", resp.StatusCode, body)
	}
	if files := a.blobFiles(); len(files) != 2 {
		t.Fatalf("want one original and one thumbnail, got %v", files)
	}
}

// Several files in one request are each stored.
func TestUploadSeveralParts(t *testing.T) {
	a := startApp(t, Config{})
	s := a.newSession()
	body, ctype := multipartBody(t, map[string][]byte{
		"a.png": smallPNG(t, 10, 20),
		"b.png": smallPNG(t, 30, 5),
	})
	resp, out := a.do(http.MethodPost, uploadPath(s), body, ctype)
	var res api.UploadResult
	mustJSON(t, out, &res)
	if resp.StatusCode != http.StatusCreated || len(res.Images) != 2 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
}
