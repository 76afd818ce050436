//go:build linux

package testservers

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServers starts both servers side by side, as a backend test would.
func TestServers(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		testRedis(t)
	})
	t.Run("redis persistent", func(t *testing.T) {
		t.Parallel()
		testRedisPersistent(t)
	})
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		testS3(t)
	})
}

// A Persistent server keeps what was written across a stop, even a
// SIGKILL, as the outage tests need.
func testRedisPersistent(t *testing.T) {
	r := Redis(t, Persistent())
	if got := r.Do(t, "SET", "k", "kept"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	r.Stop()
	r.Restart(t)
	if got := r.Do(t, "GET", "k"); got != "kept" {
		t.Errorf("GET after Restart = %q, want the value written before", got)
	}
}

func testRedis(t *testing.T) {
	r := Redis(t)
	if want := "redis://" + r.Addr + "/0"; r.URL() != want {
		t.Errorf("URL() = %q, want %q", r.URL(), want)
	}
	if host, _, err := net.SplitHostPort(r.Addr); err != nil || host != "127.0.0.1" {
		t.Errorf("Addr = %q: want 127.0.0.1:PORT", r.Addr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "k", "v"}, "OK"},
		{[]string{"GET", "k"}, "v"},
		{[]string{"GET", "absent"}, "(nil)"},
		// A bulk string holding CRLF is read by its length, not by lines.
		{[]string{"SET", "crlf", "a\r\nb\r\n"}, "OK"},
		{[]string{"GET", "crlf"}, "a\r\nb\r\n"},
		{[]string{"RPUSH", "l", "x", "y", "z"}, "3"},
		{[]string{"LRANGE", "l", "0", "-1"}, "x\ny\nz"},
		{[]string{"LRANGE", "absent", "0", "-1"}, "(empty array)"},
		{[]string{"DBSIZE"}, "3"},
		{[]string{"CONFIG", "GET", "save"}, "save\n"},
		{[]string{"CONFIG", "GET", "appendonly"}, "appendonly\nno"},
		{[]string{"NOSUCHCOMMAND"}, "(error) ERR unknown command 'NOSUCHCOMMAND', with args beginning with: "},
	} {
		if got := r.Do(t, c.args...); got != c.want {
			t.Errorf("Do(%q) = %q, want %q", c.args, got, c.want)
		}
	}
	// A client of its own shows up in CLIENT LIST, and CLIENT KILL ends it.
	conn, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$6\r\nvictim\r\n"))
	if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("CLIENT SETNAME: %q, %v", line, err)
	}
	if list := r.Do(t, "CLIENT", "LIST"); strings.Count(list, "\n") < 2 || !strings.Contains(list, "name=victim") {
		t.Errorf("CLIENT LIST = %q, want two clients, one named victim", list)
	}
	var addr string
	for _, line := range strings.Split(r.Do(t, "CLIENT", "LIST"), "\n") {
		if strings.Contains(line, "name=victim") {
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "addr="); ok {
					addr = v
				}
			}
		}
	}
	if got := r.Do(t, "CLIENT", "KILL", "ADDR", addr); got != "1" {
		t.Errorf("CLIENT KILL ADDR %s = %q, want 1", addr, got)
	}

	r.Stop()
	r.Stop() // idempotent
	if c, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("dial %s succeeded after Stop", r.Addr)
	}
	r.Restart(t)
	if got := r.Do(t, "PING"); got != "PONG" {
		t.Errorf("PING after Restart = %q", got)
	}
	// Nothing persisted: it comes back empty.
	if got := r.Do(t, "DBSIZE"); got != "0" {
		t.Errorf("DBSIZE after Restart = %q, want 0", got)
	}
	r.Restart(t) // while running: stops and starts again
	if got := r.Do(t, "PING"); got != "PONG" {
		t.Errorf("PING after a second Restart = %q", got)
	}
}

func testS3(t *testing.T) {
	s := S3(t)
	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()

	status, err := httpAnswers(ctx, s.Endpoint+"/")
	if err != nil {
		t.Fatalf("unsigned GET %s: %v", s.Endpoint, err)
	}
	if status != http.StatusForbidden {
		t.Logf("unsigned GET %s: status %d", s.Endpoint, status) // any status shows it answers
	}
	if fi, err := os.Stat(filepath.Join(s.Root, s.Bucket)); err != nil || !fi.IsDir() {
		t.Fatalf("bucket directory: %v", err)
	}

	want := "s3://" + s.Bucket + "?endpoint=" + s.Endpoint + "&region=us-east-1&prefix=p/q%26r"
	if got := s.URL("p/q&r"); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	u, err := url.Parse(s.URL("p/q&r"))
	if err != nil || u.Scheme != "s3" || u.Host != s.Bucket || u.Query().Get("endpoint") != s.Endpoint ||
		u.Query().Get("region") != "us-east-1" || u.Query().Get("prefix") != "p/q&r" {
		t.Errorf("URL parses as %#v (%v)", u, err)
	}
	if got := s.URL(""); strings.Contains(got, "prefix") {
		t.Errorf("URL(\"\") = %q, want no prefix", got)
	}

	// The bucket is a real one: a signed PutObject lands in its directory
	// and reads back; a wrong secret is refused, so the server checks.
	key := "/" + s.Bucket + "/a dir/obj+1.txt"
	if st, body, err := s.do(ctx, http.MethodPut, key, []byte("hello")); err != nil || st != http.StatusOK {
		t.Fatalf("PutObject: %d %v\n%s", st, err, body)
	}
	if b, err := os.ReadFile(filepath.Join(s.Root, s.Bucket, "a dir", "obj+1.txt")); err != nil || string(b) != "hello" {
		t.Errorf("object on disk: %q, %v", b, err)
	}
	if st, body, err := s.do(ctx, http.MethodGet, key, nil); err != nil || st != http.StatusOK || string(body) != "hello" {
		t.Errorf("GetObject: %d %q %v", st, body, err)
	}
	if st, body, err := s.do(ctx, http.MethodGet, "/"+s.Bucket+"?list-type=2&prefix=a%20dir/", nil); err != nil || st != http.StatusOK ||
		!strings.Contains(string(body), "<Key>a dir/obj+1.txt</Key>") {
		t.Errorf("ListObjectsV2: %d %v\n%s", st, err, body)
	}
	wrong := *s
	wrong.SecretKey = "not" + s.SecretKey
	if st, _, err := wrong.do(ctx, http.MethodGet, key, nil); err != nil || st != http.StatusForbidden {
		t.Errorf("GetObject with a wrong secret: %d %v, want 403", st, err)
	}

	s.Stop()
	s.Stop() // idempotent
	if _, err := httpAnswers(ctx, s.Endpoint+"/"); err == nil {
		t.Fatalf("%s answers after Stop", s.Endpoint)
	}
	s.Restart(t)
	if _, err := httpAnswers(ctx, s.Endpoint+"/"); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	// The bucket and its objects are on disk: still there.
	if st, body, err := s.do(ctx, http.MethodGet, key, nil); err != nil || st != http.StatusOK || string(body) != "hello" {
		t.Errorf("GetObject after Restart: %d %q %v", st, body, err)
	}
}

func TestReadReply(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"+OK\r\n", "OK"},
		{"-ERR bad\r\n", "(error) ERR bad"},
		{":42\r\n", "42"},
		{"$0\r\n\r\n", ""},
		{"$-1\r\n", "(nil)"},
		{"*-1\r\n", "(nil)"},
		{"*0\r\n", "(empty array)"},
		{"*2\r\n*2\r\n:1\r\n$1\r\na\r\n$-1\r\n", "1\na\n(nil)"},
	} {
		got, err := readReply(bufio.NewReader(strings.NewReader(c.in)))
		if err != nil || got != c.want {
			t.Errorf("readReply(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "+OK", "$3\r\nab\r\n", "$2\r\nabcd", "?x\r\n", "*1\r\n"} {
		if got, err := readReply(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("readReply(%q) = %q, want an error", in, got)
		}
	}
}
