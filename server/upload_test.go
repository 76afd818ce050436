package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
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
	a := apptest.Start(t, server.Config{MaxFileSize: maxFile})
	s := a.NewSession()
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
	bigBody, bigType := mp("big.png", big)
	emptyBody, emptyType := mp("empty.jpg", nil)
	svgBody, svgType := mp("x.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	okBody, okType := mp("ok.png", smallPNG(t, 8, 8))
	up := apptest.UploadPath(s)
	tests := []tc{
		{"text named .jpg", up, textBody, textType, 415, api.CodeUnsupported, "JPEG, PNG, GIF, WebP or HEIC"},
		{"svg with script", up, svgBody, svgType, 415, api.CodeUnsupported, ""},
		{"empty file", up, emptyBody, emptyType, 415, api.CodeUnsupported, ""},
		{"over max file size", up, bigBody, bigType, 413, api.CodeTooLarge, "1 MiB"},
		{"unknown token", "/api/upload/not-a-token", okBody, okType, 404, api.CodeNotFound, ""},
		{"not multipart", up, strings.NewReader("hello"), "text/plain", 400, api.CodeBadRequest, "multipart"},
		{"no boundary", up, strings.NewReader("hello"), "multipart/form-data", 400, api.CodeBadRequest, ""},
		{"no file part", up, strings.NewReader("--xx\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--xx--\r\n"), "multipart/form-data; boundary=xx", 400, api.CodeBadRequest, "file"},
		{"body stops half-way", up, strings.NewReader("--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n\x89PNG\r\n\x1a\n"), "multipart/form-data; boundary=xx", 400, api.CodeBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := a.Do(http.MethodPost, tt.path, tt.body, tt.ctype)
			var e api.ErrorBody
			mustJSON(t, body, &e)
			if resp.StatusCode != tt.status || e.Error.Code != tt.code {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			if !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("message %q should mention %q", e.Error.Message, tt.message)
			}
			leftNothing(t, a)
		})
	}
	resp, body := a.Do(http.MethodGet, "/api/sessions/"+s.ID, nil, "")
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"id":"`+s.ID+`","images":[{`) {
		t.Fatalf("session after bad uploads: %d %s", resp.StatusCode, body)
	}
}

// leftNothing fails t if a refused upload left a file in a's blob store,
// or if the server stopped serving.
func leftNothing(t *testing.T, a *apptest.App) {
	t.Helper()
	if files := blobFiles(a.DataDir); len(files) != 0 {
		t.Fatalf("left behind: %v", files)
	}
	apptest.WaitHealthy(t, a.Base)
}

// The same bytes twice make one image, and the phone is told.
func TestDuplicateUpload(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	data := readFile(t, testdata+"orientation/Landscape_2.jpg")
	first := a.MustUpload(s, "one.jpg", data)
	status, body, err := a.Upload(s, "again.jpg", data)
	if err != nil {
		t.Fatal(err)
	}
	var second api.UploadResult
	mustJSON(t, body, &second)
	if status != http.StatusOK || len(second.Duplicate) != 1 || second.Duplicate[0] != first.ID {
		t.Fatalf("second: %d %s", status, body)
	}
	if files := blobFiles(a.DataDir); len(files) != 2 {
		t.Fatalf("want one original and one thumbnail, got %v", files)
	}
}

// Several files in one request are each stored.
func TestUploadSeveralParts(t *testing.T) {
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	body, ctype := multipartBody(t, map[string][]byte{
		"a.png": smallPNG(t, 10, 20),
		"b.png": smallPNG(t, 30, 5),
	})
	resp, out := a.Do(http.MethodPost, apptest.UploadPath(s), body, ctype)
	var res api.UploadResult
	mustJSON(t, out, &res)
	if resp.StatusCode != http.StatusCreated || len(res.Images) != 2 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
}

// A file over --max-file-size is refused while it streams: a real client
// still sending gets the 413 answer, not a reset or a hang, and nothing is
// kept.
func TestOversizeAnsweredWhileSending(t *testing.T) {
	a := apptest.Start(t, server.Config{MaxFileSize: 1 << 20})
	s := a.NewSession()
	head := smallPNG(t, 16, 16)
	start := time.Now()
	status, body, err := a.UploadFrom(s, "huge.png", photoOfSize(head, 40<<20, 1))
	if err != nil || status != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d %s %v, want 413", status, body, err)
	}
	var e api.ErrorBody
	mustJSON(t, body, &e)
	if e.Error.Code != api.CodeTooLarge || !strings.Contains(e.Error.Message, "1 MiB") {
		t.Fatalf("error body %s", body)
	}
	t.Logf("413 after %v", time.Since(start).Round(time.Millisecond))
	leftNothing(t, a)
}

// A body that never ends is answered, read for a bounded while, and then
// the connection is closed: a client cannot make the server read forever.
func TestEndlessBodyIsCutOff(t *testing.T) {
	const maxFile = 1 << 20
	a := apptest.Start(t, server.Config{MaxFileSize: maxFile})
	s := a.NewSession()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	sent := make(chan int64, 1)
	go func() {
		var n int64
		w, err := mw.CreateFormFile("file", "endless.png")
		if err == nil {
			_, err = w.Write(smallPNG(t, 16, 16))
		}
		if err == nil {
			n, err = io.Copy(w, newFiller(7)) // ends only when the server hangs up
		}
		pw.CloseWithError(err)
		sent <- n
	}()
	req, _ := http.NewRequest(http.MethodPost, a.Base+apptest.UploadPath(s), pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("no answer to an endless body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d %s, want 413", resp.StatusCode, body)
	}
	t.Logf("answered after %v", time.Since(start).Round(time.Millisecond))
	waitHangUp(t, start, sent, maxFile)
	leftNothing(t, a)
}

// A client that keeps sending whatever the server says (the Go client
// above stops by itself once answered) still gets the answer first, and
// the server stops reading after lingerBytes or lingerTime and hangs up.
func TestRefusedBodyLingerIsBounded(t *testing.T) {
	const maxFile = 1 << 20
	a := apptest.Start(t, server.Config{MaxFileSize: maxFile})
	s := a.NewSession()
	conn, err := net.Dial("tcp", a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const boundary = "b0undary"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n" +
		"Content-Type: image/png\r\n\r\n"
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n%s",
		apptest.UploadPath(s), boundary, int64(1)<<40, head)
	conn.Write(smallPNG(t, 16, 16))

	sent := make(chan int64, 1)
	start := time.Now()
	go func() {
		n, _ := io.Copy(conn, newFiller(3)) // until the server hangs up
		sent <- n
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while sending: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Fatalf("got %d (close %v) %s, want 413 and Connection: close", resp.StatusCode, resp.Close, body)
	}
	waitHangUp(t, start, sent, maxFile)
	apptest.WaitHealthy(t, a.Base)
}

// waitHangUp waits for the server to close the connection of a refused
// body that a client sent from start on and would never stop sending;
// sent then says how much went. The server may read no more than the
// file limit, what lingering reads and what socket buffers hold.
func waitHangUp(t *testing.T, start time.Time, sent <-chan int64, maxFile int64) {
	t.Helper()
	select {
	case n := <-sent:
		t.Logf("server hung up after %v and %s", time.Since(start).Round(time.Millisecond), mib(n))
		if max := maxFile + server.LingerBytes + 32<<20; n > max {
			t.Errorf("server read %s of a refused body, want at most %s", mib(n), mib(max))
		}
	case <-time.After(server.LingerTime + 20*time.Second):
		t.Fatal("the server kept reading a refused body")
	}
}

// An upload whose client goes silent half-way (a phone out of Wi-Fi range
// sends no FIN) is given up once its minimum-rate credit runs out (here
// shortened to the silence allowed after a good start), leaving nothing.
func TestSilentUploadTimesOut(t *testing.T) {
	const idle = 700 * time.Millisecond
	server.SetUploadIdleTimeout(t, idle)
	a := apptest.Start(t, server.Config{})
	s := a.NewSession()
	conn, err := net.Dial("tcp", a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := rawMultipart(filePart("IMG_9.jpg", readFile(t, testdata+"orientation/Landscape_8.jpg")))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", apptest.UploadPath(s), hostileType, len(body))
	conn.Write(body[:len(body)/2])
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a silent upload: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	var e api.ErrorBody
	mustJSON(t, b, &e)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error.Message, "cut off") {
		t.Fatalf("got %d %s, want 400 cut off", resp.StatusCode, b)
	}
	if d := time.Since(start); d < idle/2 {
		t.Fatalf("answered after %v, before the client was silent for %v", d, idle)
	}
	waitFor(t, "the upload's files to go", func() bool { return len(blobFiles(a.DataDir)) == 0 })
}
