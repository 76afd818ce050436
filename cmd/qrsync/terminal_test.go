package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/termshot"
	"qrsync/locale"
	"qrsync/photoname"
)

// terminalPhoto is a real camera JPEG, read by the path the repository's
// tests use from their package directory.
const terminalPhoto = "../../../shared/testdata/images/orientation/Landscape_1.jpg"

// terminalWait bounds every wait of the terminal test.
const terminalWait = 20 * time.Second

// noEnv keeps the developer's QRSYNC_* variables out of the test.
func noEnv(string) string { return "" }

// servedCommand is `qrsync` running in-process as main runs it.
type servedCommand struct {
	base         string // the --public-url, also where it listens
	out, errOut  *syncBuffer
	cancel       func()
	finished     chan struct{} // closed once run has returned, with err set
	err          error
	saveTo, data string
}

// wait waits for run to return, and tells whether it did in time.
func (c *servedCommand) wait() bool {
	select {
	case <-c.finished:
		return true
	case <-time.After(terminalWait):
		return false
	}
}

// startServeCommand runs `qrsync --addr 127.0.0.1:PORT --public-url
// http://127.0.0.1:PORT --data … --save-to …` until it has printed its
// welcome. The port is picked free beforehand, since the QR code holds the
// public URL and with --addr :0 the test could not know it; another
// process may take it in between, so a start that finds it taken is tried
// again on another.
func startServeCommand(t *testing.T) *servedCommand {
	t.Helper()
	return startServeCommandEnv(t, noEnv)
}

// startServeCommandEnv is startServeCommand with the environment getenv
// gives, for the terminal's language.
func startServeCommandEnv(t *testing.T, getenv func(string) string) *servedCommand {
	t.Helper()
	data, saveTo := t.TempDir(), t.TempDir()
	for attempt := 1; ; attempt++ {
		c, err := tryServeCommand(t, getenv, data, saveTo)
		if err == nil {
			// Also after a failure: the data directory goes only once
			// the server has let go of it.
			t.Cleanup(func() {
				c.cancel()
				if !c.wait() {
					t.Errorf("qrsync did not return within %v of the test's end", terminalWait)
				}
			})
			return c
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 3 {
			t.Fatalf("qrsync returned %v before its welcome\nstdout:\n%s\nstderr:\n%s", err, c.out, c.errOut)
		}
		t.Logf("the port was taken before qrsync listened: %v; trying another", err)
	}
}

// tryServeCommand starts qrsync on a port free a moment ago and waits for
// its welcome; it returns run's error if run returns before.
func tryServeCommand(t *testing.T, getenv func(string) string, data, saveTo string) (*servedCommand, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := &servedCommand{
		base: "http://127.0.0.1:" + port,
		out:  &syncBuffer{}, errOut: &syncBuffer{},
		cancel: cancel, finished: make(chan struct{}),
		saveTo: saveTo, data: data,
	}
	args := []string{"--addr", "127.0.0.1:" + port, "--public-url", c.base, "--data", data, "--save-to", saveTo}
	go func() {
		defer close(c.finished)
		c.err = run(ctx, args, getenv, c.out, c.errOut)
	}()
	deadline := time.After(terminalWait)
	last := locale.FromEnv(getenv).T("term.stop")
	for !strings.Contains(c.out.String(), last) {
		select {
		case <-c.finished:
			cancel()
			err := c.err
			if err == nil {
				err = errors.New("run returned nil")
			}
			return c, err
		case <-deadline:
			cancel()
			t.Fatalf("no welcome within %v\nstdout:\n%s\nstderr:\n%s", terminalWait, c.out, c.errOut)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return c, nil
}

// stop is Ctrl+C: run must return nil.
func (c *servedCommand) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	if !c.wait() {
		t.Fatalf("qrsync did not return within %v of Ctrl+C\nstderr:\n%s", terminalWait, c.errOut)
	}
	if c.err != nil {
		t.Errorf("qrsync returned %v after Ctrl+C, want nil\nstderr:\n%s", c.err, c.errOut)
	}
}

// welcome is what the terminal shows at start, as a person reads it.
type welcome struct {
	qr         string // the QR code's lines, each with its "\n"
	uploadLink string // the link printed under the code
	pageURL    string // the PC page's address
}

// readWelcome picks the parts out of the printed text: the QR code is the
// block of lines drawn with "▀", the upload link the first line after it,
// and the page URL the line that carries api.PageFragment.
func readWelcome(t *testing.T, out string) welcome {
	t.Helper()
	lines := strings.Split(out, "\n")
	first, last := -1, -1
	for i, l := range lines {
		if strings.Contains(l, "▀") {
			if first < 0 {
				first = i
			} else if last != i-1 {
				t.Fatalf("the QR code's lines are not one block (line %d):\n%s", i, out)
			}
			last = i
		}
	}
	if first < 0 {
		t.Fatalf("no QR code printed:\n%s", out)
	}
	if first == 0 {
		t.Errorf("the QR code is the first line; want the welcome's first line before it:\n%s", out)
	}
	var w welcome
	for _, l := range lines[first : last+1] {
		w.qr += l + "\n"
	}
	for _, l := range lines[last+1:] {
		if l = strings.TrimSpace(l); l != "" {
			w.uploadLink = l
			break
		}
	}
	for _, l := range lines[last+1:] {
		if l = strings.TrimSpace(l); strings.Contains(l, api.PageFragment) {
			w.pageURL = l
			break
		}
	}
	if w.uploadLink == "" || w.pageURL == "" {
		t.Fatalf("no upload link or page URL after the QR code:\n%s", out)
	}
	return w
}

// terminalClient keeps no idle connections, which would otherwise hold
// the server's graceful stop.
var terminalClient = &http.Client{
	Timeout:   terminalWait,
	Transport: &http.Transport{DisableKeepAlives: true},
}

func getBody(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := terminalClient.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return b
}

func getSession(t *testing.T, base, id string) api.Session {
	t.Helper()
	var s api.Session
	if b := getBody(t, base+api.SessionPath(id)); json.Unmarshal(b, &s) != nil {
		t.Fatalf("GET %s: not a session: %s", api.SessionPath(id), b)
	}
	return s
}

// TestServeTerminal is what a person sees running `qrsync --save-to DIR`:
// a QR code that scans, on light and dark themes alike, to the printed
// upload link of the terminal's own session; a PC page URL that opens
// that session; a line for a photo the phone sends; and the photo's
// original in a folder named after the session's start.
func TestServeTerminal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ lang, env string }{
		{"en", ""},
		{"zh-Hans", "zh_CN.UTF-8"},
	} {
		// One after the other: each run installs Hertz's logger, a
		// process-wide setting that run sets once, at its start.
		t.Run(tc.lang, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "LANG" {
					return tc.env
				}
				return ""
			}
			cat := locale.FromEnv(getenv)
			if cat.Lang != tc.lang {
				t.Fatalf("LANG=%q picks %s, want %s", tc.env, cat.Lang, tc.lang)
			}
			started := time.Now() // before the session, which the folder is named by
			testServeTerminal(t, cat, started, startServeCommandEnv(t, getenv))
		})
	}
}

// testServeTerminal is TestServeTerminal in one language: every line the
// terminal prints for a person is that language's.
func testServeTerminal(t *testing.T, cat *locale.Catalog, started time.Time, cmd *servedCommand) {
	out := cmd.out.String()
	w := readWelcome(t, out)
	for _, key := range []string{"term.running", "term.seeThem", "term.key"} {
		if !strings.Contains(out, cat.T(key)) {
			t.Errorf("the welcome lacks %s %q:\n%s", key, cat.T(key), out)
		}
	}
	if keep := cat.N("term.days", 7); !strings.Contains(out, keep) {
		t.Errorf("the welcome does not say photos are kept %q:\n%s", keep, out)
	}

	if !strings.HasPrefix(w.uploadLink, cmd.base+api.UploadPathMark) {
		t.Fatalf("upload link %q is not under %s%s:\n%s", w.uploadLink, cmd.base, api.UploadPathMark, out)
	}
	for _, th := range []termshot.Theme{termshot.Light, termshot.Dark} {
		got, err := termshot.Scan(w.qr, th)
		if err != nil {
			t.Fatalf("the printed QR code does not scan on the %s theme: %v\n%s", th.Name, err, out)
		}
		if got != w.uploadLink {
			t.Fatalf("the QR code reads %q on the %s theme; the printed link is %q", got, th.Name, w.uploadLink)
		}
	}

	page, err := url.Parse(w.pageURL)
	if err != nil {
		t.Fatalf("page URL %q: %v", w.pageURL, err)
	}
	id, ok := strings.CutPrefix("#"+page.Fragment, api.PageFragment)
	if !ok || id == "" || w.pageURL != api.PageURL(cmd.base, id) {
		t.Fatalf("page URL %q is not %s with a session id", w.pageURL, api.PageURL(cmd.base, "ID"))
	}
	if s := getSession(t, cmd.base, id); s.UploadURL != w.uploadLink || len(s.Images) != 0 {
		t.Fatalf("session %s: upload URL %q with %d images; want the QR code's %q and none", id, s.UploadURL, len(s.Images), w.uploadLink)
	}

	// The phone: it scanned the code and sends a photo to the link's API.
	photo, err := os.ReadFile(terminalPhoto)
	if err != nil {
		t.Fatal(err)
	}
	const sentName = "Landscape_1.jpg"
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", sentName)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(photo)
	mw.Close()
	i := strings.Index(w.uploadLink, api.UploadPathMark)
	uploadAPI := w.uploadLink[:i] + api.UploadAPIPath + w.uploadLink[i+len(api.UploadPathMark):]
	resp, err := terminalClient.Post(uploadAPI, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload to %s: %d %s\nstderr:\n%s", uploadAPI, resp.StatusCode, answer, cmd.errOut)
	}

	s := getSession(t, cmd.base, id)
	if len(s.Images) != 1 || s.Images[0].Name != sentName {
		t.Fatalf("session after the upload: %+v, want %s alone", s.Images, sentName)
	}
	img := s.Images[0]
	name := photoname.Safe(img.Name, img.ContentType)

	// The --save-to folder: one folder for the session, named by its start.
	entries, err := os.ReadDir(cmd.saveTo)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !entries[0].IsDir() {
		t.Fatalf("--save-to holds %v, want one session folder", entries)
	}
	folder := entries[0].Name()
	at, err := time.ParseInLocation(sessionFolderLayout, folder, time.Local)
	if err != nil {
		t.Fatalf("session folder %q is not named by a time like %q: %v", folder, sessionFolderLayout, err)
	}
	if at.Before(started.Truncate(time.Second)) || at.After(time.Now()) {
		t.Errorf("session folder %q is not the session's start: the test ran from %s", folder, started.Format(sessionFolderLayout))
	}

	// The line for the photo; it is printed once the copy is written.
	want := cat.T("term.received", "time", img.CreatedAt.Local().Format("15:04:05"),
		"name", strconv.Quote(name), "width", strconv.Itoa(img.Width), "height", strconv.Itoa(img.Height),
		"size", sizeText(img.Size)) + "  → " + filepath.Join(folder, name)
	deadline := time.Now().Add(terminalWait)
	line := ""
	for line == "" {
		for l := range strings.SplitSeq(cmd.out.String(), "\n") {
			if l == want {
				line = l
			}
		}
		if line == "" && time.Now().After(deadline) {
			t.Fatalf("no line %q within %v:\n%s\nstderr:\n%s", want, terminalWait, cmd.out, cmd.errOut)
		}
		time.Sleep(10 * time.Millisecond)
	}

	files, err := os.ReadDir(filepath.Join(cmd.saveTo, folder))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name() != name {
		t.Fatalf("session folder holds %v, want %s alone", files, name)
	}
	saved, err := os.ReadFile(filepath.Join(cmd.saveTo, folder, name))
	if err != nil {
		t.Fatal(err)
	}
	if original := getBody(t, cmd.base+img.URL); !bytes.Equal(saved, original) {
		t.Errorf("saved copy (%d bytes) differs from the stored original (%d bytes)", len(saved), len(original))
	}
	t.Logf("sent %d bytes, stored and saved %d; %s", len(photo), len(saved), line)

	cmd.stop(t)
}

// TestVersionFlag: `qrsync --version` prints one line naming the program
// and returns without serving.
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"serve", "--version"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, noEnv, &out, &errOut); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got := out.String(); !strings.HasPrefix(got, "qrsync ") || strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
			t.Errorf("%v printed %q, want one line starting \"qrsync \"", args, got)
		}
		if errOut.Len() != 0 {
			t.Errorf("%v wrote %q to stderr", args, errOut.String())
		}
	}
}
