//go:build linux

// Package testservers starts the real backend servers that the scale-out
// backends are tested against (DESIGN §6): a private redis-server and the S3
// server versitygw (posix backend), each on a free loopback port with its
// data in the test's temp dir, both ended when the test ends. There are no
// fakes here on purpose: the backends must be proven against the servers
// they will meet.
//
// It is test support, to be imported only from _test.go files. The binaries
// come from scripts/test-deps.sh (run by `make test`): redis-server from
// Debian's package, versitygw from `go install` into $(go env GOPATH)/bin,
// where S3 looks for it when it is not on PATH. A missing binary fails the
// test, never skips it.
//
// Each server runs in a process group of its own with Pdeathsig SIGKILL,
// so that nothing outlives the test binary, even one killed by a timeout.
package testservers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	// readyWait bounds a server's start, generously: a loaded 2-core CI
	// machine running the race detector can be slow to schedule it.
	readyWait = 20 * time.Second
	// stopWait is how long a server gets to exit after SIGTERM before its
	// process group is killed (both exit within milliseconds as a rule).
	stopWait = 5 * time.Second
	// startAttempts is how many ports a start tries: a port found free can
	// be taken by another process before the server binds it.
	startAttempts = 5
	// logTail is how much of a server's log a failed test shows.
	logTail = 4 << 10
	// doTimeout bounds one RedisServer.Do round trip.
	doTimeout = 10 * time.Second
)

// installHint is what a test says when a binary is missing.
const installHint = "run ./scripts/test-deps.sh (as root it installs what is missing), or `make test`"

// RedisServer is a redis-server started for one test by Redis.
type RedisServer struct {
	// Addr is where it listens, host:port on 127.0.0.1.
	Addr string

	srv *server
}

// Redis starts a private redis-server for the test: on a free loopback
// port, without persistence unless Persistent is given (so a Restart comes
// back empty, like a fresh server), its working dir a temp dir. It returns once the server answers
// PING, and stops it when the test ends. It fails t if redis-server is
// missing or does not start.
func Redis(t testing.TB, opts ...RedisOption) *RedisServer {
	t.Helper()
	var cfg redisConfig
	for _, o := range opts {
		o(&cfg)
	}
	persist := []string{"--save", "", "--appendonly", "no"}
	if cfg.persistent {
		persist = []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}
	}
	bin := redisPath(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &RedisServer{}
	r.srv = &server{
		t:       t,
		name:    "redis-server",
		bin:     bin,
		logPath: filepath.Join(tmp, "redis.log"),
		args: func(port int) []string {
			// No config file: every setting is here. The log goes to
			// stdout, which is the log file.
			return append([]string{
				"--port", strconv.Itoa(port),
				"--bind", "127.0.0.1",
			}, append(persist,
				"--dir", dir,
				"--daemonize", "no",
				"--logfile", "",
			)...)
		},
		ready: func(ctx context.Context, addr string) error {
			return redisPing(ctx, addr)
		},
	}
	r.srv.start(t)
	r.Addr = r.srv.addr()
	r.srv.cleanup(t)
	return r
}

// RedisOption changes how Redis starts a server.
type RedisOption func(*redisConfig)

type redisConfig struct{ persistent bool }

// Persistent makes the server keep its data across Restart, as a
// production Redis does: an append-only file, synced on every write, in
// the server's dir.
func Persistent() RedisOption { return func(c *redisConfig) { c.persistent = true } }

// URL is the server as a --catalog URL: database 0, no password.
func (r *RedisServer) URL() string { return "redis://" + r.Addr + "/0" }

// Stop stops the server now, to test an outage: SIGTERM, then SIGKILL if
// it lingers. It returns once the process has exited, and does nothing if
// the server is already stopped.
func (r *RedisServer) Stop() { r.srv.stop() }

// Restart starts the server again on the same port and dir (stopping it
// first if it runs) and returns once it answers PING. It comes back empty
// unless it was started Persistent.
func (r *RedisServer) Restart(t testing.TB) {
	t.Helper()
	r.srv.restart(t)
}

// Do sends one command on a new connection and returns its reply as text,
// the way redis-cli prints it: a status or a bulk string as is ("OK",
// "PONG", the whole of CLIENT LIST), an integer in decimal, a nil reply as
// "(nil)", an error as "(error) " and its message, and an array as its
// elements one per line ("(empty array)" when it has none). It reads the
// whole reply whatever its size. It fails t if the server cannot be
// reached or answers nothing within 10 s, so it is not for blocking
// commands.
func (r *RedisServer) Do(t testing.TB, args ...string) string {
	t.Helper()
	if len(args) == 0 {
		t.Fatal("testservers: Redis Do needs a command")
	}
	reply, err := redisDo(r.Addr, doTimeout, args...)
	if err != nil {
		t.Fatalf("redis %s: %v", args[0], err)
	}
	return reply
}

// Log returns the end of what the server logged.
func (r *RedisServer) Log() string { return r.srv.logTail() }

// S3Server is a versitygw started for one test by S3, with one bucket.
type S3Server struct {
	// Endpoint is its base URL, http://127.0.0.1:PORT.
	Endpoint string
	// Region is the region requests are signed for.
	Region string
	// Bucket is the bucket created for the test.
	Bucket string
	// AccessKey and SecretKey are the root account's credentials, random
	// for each server.
	AccessKey, SecretKey string
	// Root is the posix backend's root dir: the bucket is the directory
	// Root/Bucket and an object is the file Root/Bucket/KEY, so a test can
	// look at what was stored (or damage it) without an S3 client.
	Root string

	srv *server
}

// s3Bucket is the bucket S3 creates: each server is private to its test,
// so one fixed name is enough, and it is easy to spot in a log.
const s3Bucket = "qrsync-test"

// S3 starts versitygw for the test with its posix backend in a temp dir,
// on a free loopback port, with a random root access key and secret, and
// creates one bucket by a signed CreateBucket request: a directory made by
// hand passes for a bucket with the root account, but lacks what only
// CreateBucket stores in its xattrs (ACL, object ownership), so some
// requests would answer differently than on a real bucket. It returns once
// the bucket exists, and stops the server when the test ends. It fails t
// if versitygw is missing or does not start.
func S3(t testing.TB) *S3Server {
	t.Helper()
	bin := versitygwPath(t)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "s3")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &S3Server{
		Region:    "us-east-1",
		Bucket:    s3Bucket,
		AccessKey: "QR" + rand.Text()[:18],
		SecretKey: rand.Text() + rand.Text()[:14],
		Root:      root,
	}
	s.srv = &server{
		t:       t,
		name:    "versitygw",
		bin:     bin,
		logPath: filepath.Join(tmp, "versitygw.log"),
		args: func(port int) []string {
			return []string{
				"--port", "127.0.0.1:" + strconv.Itoa(port),
				"--region", s.Region,
				"posix", root,
			}
		},
		// The credentials go by environment rather than argv, where ps
		// would show them; an inherited VGW_* setting must not change
		// the server under test.
		env: append(filterEnv(os.Environ(), "VGW_", "ROOT_ACCESS_KEY", "ROOT_SECRET"),
			"ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey),
		ready: func(ctx context.Context, addr string) error {
			_, err := httpAnswers(ctx, "http://"+addr+"/")
			return err
		},
	}
	s.srv.start(t)
	s.Endpoint = "http://" + s.srv.addr()
	s.srv.cleanup(t)

	ctx, cancel := context.WithTimeout(context.Background(), readyWait)
	defer cancel()
	status, body, err := s.do(ctx, http.MethodPut, "/"+s.Bucket, nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("versitygw: CreateBucket %s: status %d, %v\n%s", s.Bucket, status, err, body)
	}
	return s
}

// URL is the server's bucket as a --blob URL (DESIGN §6), with prefix as
// the key prefix (none if empty). The credentials are not in it: the
// backend takes them from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see
// Env).
func (s *S3Server) URL(prefix string) string {
	u := "s3://" + s.Bucket + "?endpoint=" + s.Endpoint + "&region=" + s.Region
	if prefix != "" {
		// Escaped for a query, but with its slashes kept for legibility
		// (they need no escaping there).
		u += "&prefix=" + strings.ReplaceAll(url.QueryEscape(prefix), "%2F", "/")
	}
	return u
}

// Env is the credentials as the environment the S3 backend reads them
// from, for a server started as a subprocess (exec.Cmd.Env).
func (s *S3Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey}
}

// Stop stops the server now, to test an outage: SIGTERM, then SIGKILL if
// it lingers. It returns once the process has exited, and does nothing if
// the server is already stopped.
func (s *S3Server) Stop() { s.srv.stop() }

// Restart starts the server again on the same port, root and credentials
// (stopping it first if it runs) and returns once it answers HTTP. The
// bucket and its objects are on disk, so they are all still there.
func (s *S3Server) Restart(t testing.TB) {
	t.Helper()
	s.srv.restart(t)
}

// Log returns the end of what the server logged.
func (s *S3Server) Log() string { return s.srv.logTail() }

// do sends one request signed as the root account, with body as its
// payload, and returns the status and the response body.
func (s *S3Server) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	signV4(req, body, s.AccessKey, s.SecretKey, s.Region, time.Now())
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// httpClient talks to the servers started here: never through a proxy the
// environment may name, and with no idle connections kept, which would
// outlive a server that is stopped and restarted.
var httpClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// httpAnswers reports whether anything answers HTTP at u: any status
// counts (an unsigned request gets an S3 error).
func httpAnswers(ctx context.Context, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// redisPath finds redis-server: on PATH, or where Debian's package puts it
// (PATH may lack /usr/bin in an odd environment).
func redisPath(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if p := "/usr/bin/redis-server"; isExecutable(p) {
		return p
	}
	t.Fatalf("redis-server not found (Debian package redis-server): %s", installHint)
	return ""
}

// versitygwPath finds versitygw: on PATH, or in $(go env GOPATH)/bin,
// where scripts/test-deps.sh installs it (go install's own default).
func versitygwPath(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	p := filepath.Join(goBinDir(), "versitygw")
	if isExecutable(p) {
		return p
	}
	t.Fatalf("versitygw not found on PATH nor at %s (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0): %s", p, installHint)
	return ""
}

var goBinDir = sync.OnceValue(func() string {
	// `go env` knows a GOPATH set by `go env -w` too; the environment and
	// go's default ($HOME/go) are the fallback when go is not on PATH.
	gopath := ""
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath = strings.TrimSpace(string(out))
	}
	if gopath == "" {
		gopath = os.Getenv("GOPATH")
	}
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	// go install writes into the first entry of a list.
	gopath, _, _ = strings.Cut(gopath, string(filepath.ListSeparator))
	return filepath.Join(gopath, "bin")
})

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// filterEnv drops the variables whose names start with one of prefixes.
func filterEnv(env []string, prefixes ...string) []string {
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// server is what Redis and S3 share: a process started on a port, probed
// until ready, stopped and started again on the same port.
type server struct {
	t       testing.TB // the test that owns it: Stop and cleanup log here
	name    string
	bin     string
	args    func(port int) []string
	env     []string // nil: the test's own
	logPath string
	ready   func(ctx context.Context, addr string) error

	mu   sync.Mutex // held across a start, so that Stop waits for one
	port int
	proc *process // nil while stopped
}

// process is one run of a server's binary.
type process struct {
	cmd      *exec.Cmd
	pgid     int
	exited   chan struct{} // closed once the process has been waited for
	waitErr  error         // how it ended, set before exited is closed
	stopping atomic.Bool   // set when we end it, so an exit by itself stands out
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// cleanup stops the server when the test ends, and shows its log if the
// test failed. Registered after the temp dirs, so it runs before they are
// removed.
func (s *server) cleanup(t testing.TB) {
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("%s log %s (tail):\n%s", s.name, s.logPath, s.logTail())
		}
	})
}

// start starts the server on a fresh free port, trying another if the
// port is taken by the time the server binds it.
func (s *server) start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 1; ; attempt++ {
		s.port = freePort(t)
		err := s.run()
		if err == nil {
			return
		}
		if !errors.Is(err, errPortInUse) || attempt == startAttempts {
			t.Fatalf("%s did not start on %s: %v\nlog %s (tail):\n%s", s.name, s.addr(), err, s.logPath, s.logTail())
		}
	}
}

// restart starts the server again on its port. The port was free while
// the server was down, so another process may hold it for a moment (a
// probe of a free port somewhere else): a failed bind is retried a few
// times before the test fails.
func (s *server) restart(t testing.TB) {
	t.Helper()
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return // restarted meanwhile by another goroutine
	}
	for attempt := 1; ; attempt++ {
		err := s.run()
		if err == nil {
			return
		}
		if !errors.Is(err, errPortInUse) || attempt == startAttempts {
			t.Fatalf("%s did not restart on %s: %v\nlog %s (tail):\n%s", s.name, s.addr(), err, s.logPath, s.logTail())
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
}

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port in use")

// run starts the binary on s.port and waits until it is ready. On error it
// has ended the process; the error wraps errPortInUse if the server said
// its port was taken. s.mu is held.
func (s *server) run() error {
	logFile, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	offset, _ := logFile.Seek(0, io.SeekEnd)
	args := s.args(s.port)
	fmt.Fprintf(logFile, "=== testservers %s: %s\n", time.Now().Format(time.RFC3339Nano), shellLine(s.bin, args))

	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A group of its own, so that Stop reaches anything it forks; and
	// killed by the kernel if the test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that started the process ends,
		// not the process: keep this goroutine on its thread until the
		// server is gone (see https://go.dev/issue/27505).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	p.pgid = cmd.Process.Pid

	if err := s.waitReady(p); err != nil {
		s.kill(p)
		out, _ := os.ReadFile(s.logPath)
		if int64(len(out)) >= offset {
			out = out[offset:]
		}
		if bytes.Contains(bytes.ToLower(out), []byte("address already in use")) {
			return fmt.Errorf("%w: %v", errPortInUse, err)
		}
		return err
	}
	s.proc = p
	return nil
}

// shellLine renders a command line for the log, quoting what a shell
// would need quoted (an empty --save "" would vanish otherwise).
func shellLine(bin string, args []string) string {
	parts := []string{bin}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// waitReady probes the server until it answers, it exits, or readyWait
// has passed.
func (s *server) waitReady(p *process) error {
	deadline := time.Now().Add(readyWait)
	var last error
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("exited before it was ready: %v", p.waitErr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		last = s.ready(ctx, s.addr())
		cancel()
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", readyWait, last)
		}
		select {
		case <-p.exited:
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// stop ends the running process, if any.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.kill(s.proc)
		s.proc = nil
	}
}

// kill ends p: SIGTERM to its group, SIGKILL after stopWait, and returns
// once it has exited.
func (s *server) kill(p *process) {
	select {
	case <-p.exited:
		if !p.stopping.Load() {
			s.t.Logf("%s (pid %d) had exited by itself: %v", s.name, p.pgid, p.waitErr)
		}
		return
	default:
	}
	p.stopping.Store(true)
	syscall.Kill(-p.pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopWait):
		s.t.Logf("%s (pid %d) ignored SIGTERM for %v: killing it", s.name, p.pgid, stopWait)
		syscall.Kill(-p.pgid, syscall.SIGKILL)
		<-p.exited
	}
	// Anything it forked (neither server forks with these settings) goes
	// with it.
	syscall.Kill(-p.pgid, syscall.SIGKILL)
}

// logTail returns the end of the server's log, from a line start.
func (s *server) logTail() string {
	out, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	if len(out) > logTail {
		out = out[len(out)-logTail:]
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
	}
	return string(out)
}

// freePort returns a loopback port that was free a moment ago. Another
// process can take it before the server binds it; start retries then.
func freePort(t testing.TB) int {
	t.Helper()
	var err error
	for range 3 {
		var l net.Listener
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			port := l.Addr().(*net.TCPAddr).Port
			l.Close()
			return port
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no free loopback port: %v", err)
	return 0
}

// redisPing sends PING and expects PONG, speaking RESP directly: this
// package must not depend on a Redis client.
func redisPing(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		// -LOADING while it reads a dump, for one: not yet ready.
		return fmt.Errorf("PING: %q", strings.TrimRight(line, "\r\n"))
	}
	return nil
}

// redisDo sends one command on a new connection and returns its reply as
// Do describes.
func redisDo(addr string, timeout time.Duration, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

// maxBulk bounds a bulk string read, as Redis's own proto-max-bulk-len.
const maxBulk = 512 << 20

// readReply reads one whole RESP2 reply, nested arrays included, and
// renders it as Do describes.
func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") || len(line) < 3 {
		return "", fmt.Errorf("bad reply line %q", line)
	}
	kind, rest := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return rest, nil
	case '-':
		return "(error) " + rest, nil
	case ':':
		return rest, nil
	case '$':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 || n > maxBulk {
			return "", fmt.Errorf("bad bulk length %q", rest)
		}
		if n == -1 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		if string(buf[n:]) != "\r\n" {
			return "", errors.New("bulk string not ended by CRLF")
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 {
			return "", fmt.Errorf("bad array length %q", rest)
		}
		if n == -1 {
			return "(nil)", nil
		}
		if n == 0 {
			return "(empty array)", nil
		}
		elems := make([]string, n)
		for i := range elems {
			if elems[i], err = readReply(br); err != nil {
				return "", err
			}
		}
		return strings.Join(elems, "\n"), nil
	}
	return "", fmt.Errorf("unknown reply type %q", line)
}

// signV4 signs req in place with AWS Signature Version 4 (header form,
// service s3) over payload, so that S3 can create its bucket with no S3
// client. It signs host, x-amz-date and x-amz-content-sha256, and rewrites
// the request's path and query in the canonical encoding it signed, so
// that what is sent is what was signed.
func signV4(req *http.Request, payload []byte, access, secret, region string, now time.Time) {
	now = now.UTC()
	amzDate := now.Format("20060102T150405Z")
	day := now.Format("20060102")
	sum := sha256.Sum256(payload)
	payloadHash := hex.EncodeToString(sum[:])

	path := req.URL.Path
	if path == "" {
		path = "/"
	}
	req.URL.RawPath = awsEscape(path, false)
	req.URL.RawQuery = canonicalQuery(req.URL.Query())
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)

	const signed = "host;x-amz-content-sha256;x-amz-date"
	canonical := strings.Join([]string{
		req.Method,
		req.URL.RawPath,
		req.URL.RawQuery,
		"host:" + host,
		"x-amz-content-sha256:" + payloadHash,
		"x-amz-date:" + amzDate,
		"",
		signed,
		payloadHash,
	}, "\n")
	scope := day + "/" + region + "/s3/aws4_request"
	csum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(csum[:])

	key := hmacSHA256([]byte("AWS4"+secret), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+access+"/"+scope+
		", SignedHeaders="+signed+", Signature="+sig)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalQuery is q in SigV4's canonical form: escaped names and values,
// sorted by name, then value.
func canonicalQuery(q url.Values) string {
	var pairs [][2]string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, [2]string{awsEscape(k, true), awsEscape(v, true)})
		}
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p[0] + "=" + p[1])
	}
	return b.String()
}

// awsEscape percent-encodes every byte but the unreserved ones (and '/',
// unless escapeSlash), as SigV4 requires; Go's own escaping leaves a few
// more bytes as they are.
func awsEscape(s string, escapeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !escapeSlash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
