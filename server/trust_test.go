package server_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/server"
	"qrsync/storage/boltdb"
	"qrsync/storage/fsblob"
)

// rawRequest sends head as is on a fresh connection and reads the answer.
func rawRequest(t *testing.T, addr, head string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to %q: %v", head[:min(len(head), 60)], err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Every answer is the JSON error with the security headers: the ones the
// framework writes itself for a request it cannot parse, unknown routes
// and methods, and a Host the server does not serve (421, so a page that
// rebinds its own name to this machine gets nothing).
func TestEveryAnswerIsJSON(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	tests := []struct {
		name   string
		head   string
		status int
		code   string
	}{
		{"malformed request line", "GET\x00/ HTTP/1.1\r\nHost: localhost\r\n\r\n", http.StatusBadRequest, api.CodeBadRequest},
		{"bad content length", "POST /api/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Length: lots\r\n\r\n", http.StatusBadRequest, api.CodeBadRequest},
		{"headers too large", "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, api.CodeTooLarge},
		{"unknown route", "GET /nothing/here HTTP/1.1\r\nHost: localhost\r\n\r\n", http.StatusNotFound, api.CodeNotFound},
		{"wrong method", "PUT /api/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n", http.StatusMethodNotAllowed, api.CodeBadRequest},
		{"rebound host name", "GET / HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n", http.StatusMisdirectedRequest, api.CodeMisdirected},
		{"rebound host, API", "POST /api/sessions HTTP/1.1\r\nHost: attacker.test\r\nContent-Length: 0\r\n\r\n", http.StatusMisdirectedRequest, api.CodeMisdirected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := rawRequest(t, a.Addr, tt.head)
			wantError(t, resp, b, tt.status, tt.code)
			if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("answer lacks the security headers: %v", resp.Header)
			}
		})
	}
	// The names it does serve: its public URL's host, loopback, its own host
	// name.
	for _, host := range []string{"localhost", "127.0.0.1", "[::1]:80", strings.TrimPrefix(a.Base, "http://")} {
		if resp, b := rawRequest(t, a.Addr, "GET /healthz HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %s: %d %s, want 200", host, resp.StatusCode, b)
		}
	}
	apptest.WaitHealthy(t, a.Base)
}

// Photos are cached only privately and revalidated on every use, so a
// deleted photo is gone from the browser too: the validator gets 304 while
// the photo lives and 404 once it is deleted.
func TestPhotosAreNotCachedPastDeletion(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	s := a.NewSession()
	name, data := apptest.Photo(t, 7)
	img := a.MustUpload(s, name, data)
	var got api.Session
	a.GetJSON("/api/sessions/"+s.ID, &got)
	img = got.Images[0]
	for _, path := range []string{img.URL, img.ThumbURL} {
		resp, _ := a.Do(http.MethodGet, path, nil, "")
		etag := resp.Header.Get("ETag")
		if cc := resp.Header.Get("Cache-Control"); cc != "private, no-cache" || etag == "" {
			t.Fatalf("%s: Cache-Control %q, ETag %q; want private, no-cache with a validator", path, cc, etag)
		}
		if status := revalidate(t, a, path, etag); status != http.StatusNotModified {
			t.Fatalf("%s revalidated: %d, want 304", path, status)
		}
	}
	if resp, b := a.Do(http.MethodDelete, "/api/sessions/"+s.ID+"/images/"+img.ID, nil, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	if status := revalidate(t, a, img.URL, `"`+img.ID+`"`); status != http.StatusNotFound {
		t.Fatalf("revalidating a deleted photo: %d, want 404", status)
	}
}

// The answer to a duplicate speaks of the phone's own file: it never tells
// the phone the name under which someone stored the same bytes. And the
// duplicate costs no decode.
func TestDuplicateAnswerKeepsTheSendersName(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, server.Config{Logger: quietLogger()})
	s := a.NewSession()
	_, data := apptest.Photo(t, 9)
	a.MustUpload(s, "private-name-of-alice.jpg", data)
	status, body, err := a.Upload(s, "bobs-copy.jpg", data)
	if err != nil || status != http.StatusOK {
		t.Fatalf("duplicate: %d %s %v", status, body, err)
	}
	if strings.Contains(string(body), "alice") {
		t.Fatalf("the duplicate answer names the first uploader's file: %s", body)
	}
	var res api.UploadResult
	mustJSON(t, body, &res)
	if len(res.Images) != 1 || res.Images[0].Name != "bobs-copy.jpg" || len(res.Duplicate) != 1 {
		t.Fatalf("duplicate answer %s, want bobs-copy.jpg marked duplicate", body)
	}
	// It was known by its hash before any decode: one thumbnail was made.
	_, m := a.Do(http.MethodGet, "/metrics", nil, "")
	if !strings.Contains(string(m), "\nqrsync_thumbnail_seconds_count 1\n") {
		t.Fatalf("the duplicate was decoded: /metrics shows\n%s", m)
	}
}

// With TLS configured the server speaks HTTPS through the same guarded
// listener, and Hertz's own error answers are still rewritten (they are
// written in the clear, inside the TLS connection).
func TestTLS(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ln.Addr().String()
	dir := t.TempDir()
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	cat, err := boltdb.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	srv, err := server.New(server.Config{PublicURLs: []string{base}, TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
		Logger: quietLogger()}, blobs, cat)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	pool.AddCert(leaf)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	var resp *http.Response
	for i := 0; ; i++ {
		resp, err = client.Post(base+"/api/sessions", "", nil)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var sess api.Session
	mustJSON(t, b, &sess)
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(sess.UploadURL, base+"/u/") {
		t.Fatalf("session over TLS: %d %s", resp.StatusCode, b)
	}
	// An event stream runs on the TLS connection it takes over, not on
	// the socket beneath: its snapshot arrives readable.
	ev, err := client.Get(base + sess.EventsURL)
	if err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(ev.Body).ReadString('\n')
	ev.Body.Close()
	if err != nil || ev.StatusCode != http.StatusOK || !strings.HasPrefix(first, "id: ") {
		t.Fatalf("event stream over TLS: %d, first line %q, %v", ev.StatusCode, first, err)
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: "+strings.Repeat("a", 1<<20)+"\r\n\r\n")
	r2, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	wantError(t, r2, b2, http.StatusRequestHeaderFieldsTooLarge, api.CodeTooLarge)
}
