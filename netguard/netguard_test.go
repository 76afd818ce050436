package netguard

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/app/server"
	"github.com/cloudwego/hertz/pkg/common/hlog"
	"github.com/cloudwego/hertz/pkg/network/standard"
)

// ---- helpers ----

// events counts what OnEvent is told.
type events struct {
	mu      sync.Mutex
	kinds   map[EventKind]int
	refused map[Reason]int
	evicted map[Reason]int
}

func newEvents() *events {
	return &events{kinds: map[EventKind]int{}, refused: map[Reason]int{}, evicted: map[Reason]int{}}
}

func (e *events) on(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.kinds[ev.Kind]++
	switch ev.Kind {
	case EventRefused:
		e.refused[ev.Reason]++
	case EventEvicted:
		e.evicted[ev.Reason]++
	}
}

func (e *events) kind(k EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.kinds[k]
}

func (e *events) refusedFor(r Reason) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.refused[r]
}

func (e *events) evictedFor(r Reason) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.evicted[r]
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// guard wraps a fresh loopback listener.
func guard(t *testing.T, cfg Config) (*Listener, *events) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	cfg.OnEvent = ev.on
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	l, err := Wrap(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, ev
}

// testServer speaks just enough HTTP/1.1 over a guarded listener, calling
// HeadDone and AwaitHead where the real server's middleware does. A head
// with "X-Body: 1" makes it read one body byte (and echo it) before
// answering; "X-Hold: 1" makes it wait on hold between AwaitHead and the
// answer, the way Hertz writes a response after the handler returned.
type testServer struct {
	l    *Listener
	hold chan struct{}
	held chan struct{}
	wg   sync.WaitGroup
}

func serve(t *testing.T, l *Listener) *testServer {
	t.Helper()
	s := &testServer{l: l, hold: make(chan struct{}), held: make(chan struct{}, 16)}
	var mu sync.Mutex
	var conns []net.Conn
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.handle(c.(*Conn))
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) handle(c *Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		head, err := readHead(br)
		if err != nil {
			return
		}
		c.HeadDone()
		body := "ok"
		if strings.Contains(head, "X-Body: 1") {
			b, err := br.ReadByte()
			if err != nil {
				return
			}
			body += string(b)
		}
		c.AwaitHead()
		if strings.Contains(head, "X-Hold: 1") {
			s.held <- struct{}{}
			<-s.hold
		}
		if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
			return
		}
	}
}

// readHead reads lines up to the empty one that ends a head.
func readHead(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return "", err
		}
		if line == "\r\n" {
			return sb.String(), nil
		}
	}
}

// client is one keep-alive connection to a testServer.
type client struct {
	net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, l *Listener) *client {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{Conn: c, br: bufio.NewReader(c)}
}

// dialAccepted dials and waits until the guard counts the connection.
func dialAccepted(t *testing.T, l *Listener, ev *events) *client {
	t.Helper()
	want := ev.kind(EventAccepted) + ev.kind(EventRefused) + 1
	c := dial(t, l)
	poll(t, "accept", func() bool { return ev.kind(EventAccepted)+ev.kind(EventRefused) >= want })
	return c
}

// head is a request head with an extra header line, if any.
func head(extra string) string {
	if extra != "" {
		extra += "\r\n"
	}
	return "GET / HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n"
}

// get sends a head and returns the answer's body.
func (c *client) get(t *testing.T, extra string) string {
	t.Helper()
	if _, err := io.WriteString(c, head(extra)); err != nil {
		t.Fatal(err)
	}
	return c.answer(t)
}

func (c *client) answer(t *testing.T) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return string(b)
}

// waitClosed waits for the server to close c, reading and discarding; it
// returns how long that took from start, and what was read.
func (c *client) waitClosed(t *testing.T, start time.Time, within time.Duration) (time.Duration, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c.br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("still open after %v (read %q)", within, b)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v", err)
	}
	return time.Since(start), string(b)
}

// poll waits up to 5 s for cond.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func idleCount(l *Listener) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.idle.Len()
}

// idleAddrs lists the remote addresses of the idle connections.
func idleAddrs(l *Listener) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var a []string
	for e := l.idle.Front(); e != nil; e = e.Next() {
		a = append(a, e.Value.(*Conn).RemoteAddr().String())
	}
	return a
}

// refuseHTTP answers as the server does: a status for the reason, JSON.
func refuseHTTP(w io.Writer, r Reason) {
	status := map[Reason]string{ReasonTotal: "503 Service Unavailable", ReasonPerIP: "429 Too Many Requests"}[r]
	body := fmt.Sprintf(`{"error":%q}`, r)
	fmt.Fprintf(w, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		status, len(body), body)
}

// refused dials, sends a head as a browser would, and returns the answer.
func refused(t *testing.T, l *Listener) (int, string) {
	t.Helper()
	c := dial(t, l)
	if _, err := io.WriteString(c, head("")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("reading the refusal: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ---- Accept ----

// flakyListener fails Accept with errs, then returns conn, then blocks
// until closed.
type flakyListener struct {
	mu     sync.Mutex
	errs   []error
	always error // if set, every Accept fails with it
	conn   net.Conn
	done   chan struct{}
	once   sync.Once
}

func (f *flakyListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	if f.always != nil {
		f.mu.Unlock()
		return nil, f.always
	}
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.mu.Unlock()
		return nil, err
	}
	if c := f.conn; c != nil {
		f.conn = nil
		f.mu.Unlock()
		return c, nil
	}
	f.mu.Unlock()
	<-f.done
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: net.ErrClosed}
}

func (f *flakyListener) Close() error   { f.once.Do(func() { close(f.done) }); return nil }
func (f *flakyListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func sysErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// lineCounter counts log lines.
type lineCounter struct{ n atomic.Int32 }

func (w *lineCounter) Write(p []byte) (int, error) {
	w.n.Add(int32(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}

func TestAcceptSurvivesErrors(t *testing.T) {
	t.Parallel()
	server, peer := net.Pipe()
	defer peer.Close()
	fake := &flakyListener{
		errs: []error{sysErr(syscall.EMFILE), sysErr(syscall.ENFILE), sysErr(syscall.ECONNABORTED), sysErr(syscall.EMFILE)},
		conn: server,
		done: make(chan struct{}),
	}
	logs := &lineCounter{}
	ev := newEvents()
	l, err := Wrap(fake, Config{OnEvent: ev.on, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept failed: %v", err)
	}
	if _, ok := c.(*Conn); !ok {
		t.Fatalf("Accept returned a %T", c)
	}
	if n := ev.kind(EventAcceptError); n != 4 {
		t.Errorf("%d accept-error events, want 4", n)
	}
	if n := logs.n.Load(); n != 1 {
		t.Errorf("%d log lines for 4 errors in a burst, want 1", n)
	}
	if l.Open() != 1 {
		t.Errorf("Open() = %d, want 1", l.Open())
	}
	c.Close()

	l.Close()
	_, err = l.Accept()
	if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed saying closed", err)
	}
}

func TestAcceptCloseEndsBackoff(t *testing.T) {
	t.Parallel()
	ev := newEvents()
	fake := &flakyListener{always: sysErr(syscall.EMFILE), done: make(chan struct{})}
	l, _ := Wrap(fake, Config{OnEvent: ev.on, Logger: discard})
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	poll(t, "retries", func() bool { return ev.kind(EventAcceptError) >= 6 }) // backoff at 160 ms by now
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Accept still backing off after Close")
	}
}

func TestWrapRejectsNegative(t *testing.T) {
	t.Parallel()
	ln := &flakyListener{done: make(chan struct{})}
	for _, cfg := range []Config{{MaxConns: -1}, {MaxConnsPerIP: -1}, {HeaderTimeout: -time.Second}} {
		if _, err := Wrap(ln, cfg); err == nil {
			t.Errorf("Wrap(%+v) accepted", cfg)
		}
	}
	l, err := Wrap(ln, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if l.cfg.MaxConns < 1 || l.cfg.MaxConns > DefaultMaxConns || l.cfg.MaxConnsPerIP != DefaultMaxConnsPerIP ||
		l.cfg.HeaderTimeout != DefaultHeaderTimeout {
		t.Errorf("defaults: %+v", l.cfg)
	}
}

func TestMaxConnsFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		soft uint64
		want int
	}{
		{0, 1}, {1, 1}, {64, 32}, {512, 256}, {1024, 768}, {2000, 1744},
		{4096, DefaultMaxConns}, {1 << 20, DefaultMaxConns}, {^uint64(0), DefaultMaxConns},
	} {
		if got := maxConnsFor(tc.soft); got != tc.want {
			t.Errorf("maxConnsFor(%d) = %d, want %d", tc.soft, got, tc.want)
		}
	}
}

func TestRemoteIP(t *testing.T) {
	t.Parallel()
	v4 := netip.MustParseAddr("192.0.2.7")
	for _, tc := range []struct {
		addr net.Addr
		want netip.Addr
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1}, v4},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 2}, v4},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 3}, netip.MustParseAddr("2001:db8::1")},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 4, Zone: "wlan0"}, netip.MustParseAddr("fe80::1")},
		{&net.UDPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 5}, v4},
		{&net.UnixAddr{Name: "/tmp/sock", Net: "unix"}, netip.Addr{}},
		{nil, netip.Addr{}},
	} {
		if got := remoteIP(tc.addr); got != tc.want {
			t.Errorf("remoteIP(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if ReasonTotal.String() != "total" || ReasonPerIP.String() != "per-ip" || EventEvicted.String() != "evicted" {
		t.Error("names")
	}
}

// ---- head deadline ----

func TestSilentConnectionCut(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	l, ev := guard(t, Config{HeaderTimeout: timeout})
	serve(t, l)
	start := time.Now()
	c := dial(t, l)
	took, _ := c.waitClosed(t, start, 3*time.Second)
	if took < timeout*9/10 || took > timeout+time.Second {
		t.Errorf("closed after %v, want about %v", took, timeout)
	}
	poll(t, "Open() == 0", func() bool { return l.Open() == 0 })
	// The event follows the close the client saw.
	poll(t, "a head-timeout event", func() bool { return ev.kind(EventHeadTimeout) == 1 })
}

// trickle writes s a byte every gap, until a write fails.
func trickle(c net.Conn, s string, gap time.Duration) {
	for i := range len(s) {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return
		}
		time.Sleep(gap)
	}
}

func TestTrickledHeadCut(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	l, _ := guard(t, Config{HeaderTimeout: timeout})
	serve(t, l)
	start := time.Now()
	c := dial(t, l)
	go trickle(c, head("X-Padding: "+strings.Repeat("a", 100)), 10*time.Millisecond) // ~1.3 s
	took, got := c.waitClosed(t, start, 3*time.Second)
	if got != "" {
		t.Errorf("a trickled head was answered: %q", got)
	}
	if took < timeout*9/10 || took > timeout+time.Second {
		t.Errorf("cut after %v, want about %v", took, timeout)
	}
}

func TestNoDeadlineAfterHeadDone(t *testing.T) {
	t.Parallel()
	const timeout = 150 * time.Millisecond
	l, _ := guard(t, Config{HeaderTimeout: timeout})
	serve(t, l)
	c := dial(t, l)
	if _, err := io.WriteString(c, head("X-Body: 1")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * timeout) // the body is the server's business
	if _, err := io.WriteString(c, "z"); err != nil {
		t.Fatal(err)
	}
	if got := c.answer(t); got != "okz" {
		t.Fatalf("answer %q", got)
	}
}

func TestKeepAliveHeads(t *testing.T) {
	t.Parallel()
	const timeout = 150 * time.Millisecond
	l, ev := guard(t, Config{HeaderTimeout: timeout})
	serve(t, l)
	c := dial(t, l)
	if got := c.get(t, ""); got != "ok" {
		t.Fatalf("first answer %q", got)
	}
	// Waiting between requests is the server's idle timeout, not a head.
	time.Sleep(2 * timeout)
	if got := c.get(t, ""); got != "ok" {
		t.Fatalf("second answer %q", got)
	}
	// A trickled third head is cut, timed from its first byte.
	time.Sleep(timeout / 2)
	start := time.Now()
	go trickle(c, head("X-Padding: "+strings.Repeat("a", 100)), 10*time.Millisecond)
	took, got := c.waitClosed(t, start, 3*time.Second)
	if got != "" {
		t.Errorf("a trickled head was answered: %q", got)
	}
	if took < timeout*9/10 || took > timeout+time.Second {
		t.Errorf("cut %v after its first byte, want about %v", took, timeout)
	}
	// The event follows the close the client saw.
	poll(t, "a head-timeout event", func() bool { return ev.kind(EventHeadTimeout) == 1 })
}

func TestServerDeadlineRespected(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	l, ev := guard(t, Config{HeaderTimeout: timeout})
	c := dial(t, l)
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sc := nc.(*Conn)
	defer sc.Close()
	buf := make([]byte, 1)

	// The server's earlier deadline wins, and leaves the connection open.
	start := time.Now()
	sc.SetReadDeadline(start.Add(30 * time.Millisecond))
	_, err = sc.Read(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ErrHeadTimeout) {
		t.Fatalf("read past the server's deadline: %v", err)
	}
	if took := time.Since(start); took > timeout*2/3 {
		t.Fatalf("the server's deadline took %v", took)
	}
	// A later one does not extend the head's.
	sc.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = sc.Read(buf)
	if !errors.Is(err, ErrHeadTimeout) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read past the head deadline: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("ErrHeadTimeout is not a net.Error timeout")
	}
	if took := time.Since(start); took < timeout*9/10 || took > timeout+time.Second {
		t.Errorf("head deadline after %v, want about %v", took, timeout)
	}
	c.waitClosed(t, start, time.Second)
	if l.Open() != 0 || ev.kind(EventHeadTimeout) != 1 {
		t.Errorf("Open() = %d, head timeouts %d", l.Open(), ev.kind(EventHeadTimeout))
	}

	// After HeadDone only the server's deadline counts.
	c2 := dial(t, l)
	nc, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sc2 := nc.(*Conn)
	defer sc2.Close()
	sc2.HeadDone()
	start = time.Now()
	sc2.SetReadDeadline(start.Add(timeout * 3 / 2))
	_, err = sc2.Read(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ErrHeadTimeout) {
		t.Fatalf("read after HeadDone: %v", err)
	}
	if took := time.Since(start); took < timeout*3/2*9/10 {
		t.Errorf("read after HeadDone ended after %v", took)
	}
	if _, err := sc2.Write([]byte("x")); err != nil {
		t.Fatalf("the connection was closed: %v", err)
	}
	if _, err := io.ReadFull(c2, buf); err != nil || buf[0] != 'x' {
		t.Fatalf("client read %q, %v", buf, err)
	}
}

// ---- caps ----

func TestPerIPEvictsIdle(t *testing.T) {
	t.Parallel()
	l, ev := guard(t, Config{MaxConnsPerIP: 3, HeaderTimeout: 5 * time.Second})
	serve(t, l)
	var cs []*client
	for range 3 {
		cs = append(cs, dialAccepted(t, l, ev))
	}
	poll(t, "3 idle", func() bool { return idleCount(l) == 3 })
	fourth := dialAccepted(t, l, ev)
	start := time.Now()
	cs[0].waitClosed(t, start, time.Second) // the longest idle makes room
	if got := fourth.get(t, ""); got != "ok" {
		t.Fatalf("fourth answered %q", got)
	}
	for _, c := range cs[1:] {
		if got := c.get(t, ""); got != "ok" {
			t.Fatalf("a younger idle connection answered %q", got)
		}
	}
	if n := ev.evictedFor(ReasonPerIP); n != 1 {
		t.Errorf("%d per-IP evictions, want 1", n)
	}
	if l.Open() != 3 {
		t.Errorf("Open() = %d, want 3", l.Open())
	}
}

func TestPerIPRefusesWhenBusy(t *testing.T) {
	t.Parallel()
	l, ev := guard(t, Config{MaxConnsPerIP: 3, HeaderTimeout: 5 * time.Second, Refuse: refuseHTTP})
	serve(t, l)
	for range 3 { // each sends a head, then owes its body: busy
		c := dialAccepted(t, l, ev)
		if _, err := io.WriteString(c, head("X-Body: 1")); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, "none idle", func() bool { return idleCount(l) == 0 })
	status, body := refused(t, l)
	if status != 429 || !strings.Contains(body, "per-ip") {
		t.Fatalf("refusal %d %q", status, body)
	}
	if n := ev.refusedFor(ReasonPerIP); n != 1 {
		t.Errorf("%d per-IP refusals, want 1", n)
	}
	if l.Open() != 3 {
		t.Errorf("Open() = %d, want 3", l.Open())
	}
}

func TestTotalCap(t *testing.T) {
	t.Parallel()
	l, ev := guard(t, Config{MaxConns: 3, HeaderTimeout: 5 * time.Second, Refuse: refuseHTTP})
	serve(t, l)
	var cs []*client
	for range 3 {
		cs = append(cs, dialAccepted(t, l, ev))
	}
	poll(t, "3 idle", func() bool { return idleCount(l) == 3 })
	fourth := dialAccepted(t, l, ev)
	cs[0].waitClosed(t, time.Now(), time.Second)
	if n := ev.evictedFor(ReasonTotal); n != 1 {
		t.Errorf("%d total evictions, want 1", n)
	}
	// Make all three busy: a fourth is refused.
	for _, c := range append(cs[1:], fourth) {
		if _, err := io.WriteString(c, head("X-Body: 1")); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, "none idle", func() bool { return idleCount(l) == 0 })
	status, body := refused(t, l)
	if status != 503 || !strings.Contains(body, "total") {
		t.Fatalf("refusal %d %q", status, body)
	}
	if n := ev.refusedFor(ReasonTotal); n != 1 {
		t.Errorf("%d total refusals, want 1", n)
	}
	// A busy one finishing its request goes idle, and makes room again.
	if _, err := io.WriteString(fourth, "z"); err != nil {
		t.Fatal(err)
	}
	if got := fourth.answer(t); got != "okz" {
		t.Fatalf("answer %q", got)
	}
	poll(t, "1 idle", func() bool { return idleCount(l) == 1 })
	late := dialAccepted(t, l, ev)
	fourth.waitClosed(t, time.Now(), time.Second)
	if got := late.get(t, ""); got != "ok" {
		t.Fatalf("late answered %q", got)
	}
}

// A connection whose handler has returned is not idle until the server
// reads again: Hertz is still writing the response until then.
func TestIdleStartsAtNextRead(t *testing.T) {
	t.Parallel()
	l, ev := guard(t, Config{MaxConnsPerIP: 1, HeaderTimeout: 5 * time.Second})
	s := serve(t, l)
	first := dial(t, l)
	if _, err := io.WriteString(first, head("X-Hold: 1")); err != nil {
		t.Fatal(err)
	}
	<-s.held // AwaitHead called, answer not yet written
	second := dialAccepted(t, l, ev)
	second.waitClosed(t, time.Now(), time.Second)
	if n := ev.refusedFor(ReasonPerIP); n != 1 {
		t.Fatalf("%d per-IP refusals, want 1 (evictions %d)", n, ev.evictedFor(ReasonPerIP))
	}
	close(s.hold)
	if got := first.answer(t); got != "ok" {
		t.Fatalf("answer %q", got)
	}
	poll(t, "idle", func() bool { return idleCount(l) == 1 })
	third := dialAccepted(t, l, ev)
	first.waitClosed(t, time.Now(), time.Second)
	if got := third.get(t, ""); got != "ok" {
		t.Fatalf("third answered %q", got)
	}
}

func TestOpenCountsOnce(t *testing.T) {
	t.Parallel()
	l, _ := guard(t, Config{})
	dial(t, l)
	dial(t, l)
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if l.Open() != 2 {
		t.Fatalf("Open() = %d, want 2", l.Open())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err == nil {
		t.Error("second Close: no error")
	}
	if l.Open() != 1 {
		t.Fatalf("Open() = %d after closing one twice, want 1", l.Open())
	}
	b.(*Conn).closeWith(errEvicted) // as an eviction does, then the server
	b.Close()
	if l.Open() != 0 {
		t.Fatalf("Open() = %d, want 0", l.Open())
	}
	l.mu.Lock()
	n := len(l.ips)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("%d addresses still tracked", n)
	}
}

func TestCloseClosesIdle(t *testing.T) {
	t.Parallel()
	l, _ := guard(t, Config{HeaderTimeout: 5 * time.Second})
	serve(t, l)
	idle := dial(t, l)
	busy := dial(t, l)
	if got := idle.get(t, ""); got != "ok" {
		t.Fatal(got)
	}
	if _, err := io.WriteString(busy, head("X-Body: 1")); err != nil {
		t.Fatal(err)
	}
	poll(t, "just one idle", func() bool {
		a := idleAddrs(l)
		return len(a) == 1 && a[0] == idle.LocalAddr().String()
	})
	l.Close()
	idle.waitClosed(t, time.Now(), time.Second)
	if _, err := io.WriteString(busy, "z"); err != nil { // the busy one finishes
		t.Fatal(err)
	}
	if got := busy.answer(t); got != "okz" {
		t.Fatalf("busy answered %q", got)
	}
	busy.waitClosed(t, time.Now(), time.Second) // and is closed at its next read
	poll(t, "Open() == 0", func() bool { return l.Open() == 0 })
}

// ---- floods ----

func TestFlood(t *testing.T) {
	t.Parallel()
	const maxConns, flood = 50, 500
	l, ev := guard(t, Config{MaxConns: maxConns, HeaderTimeout: 2 * time.Second})
	serve(t, l)
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
		over  atomic.Int32
		stop  = make(chan struct{})
	)
	go func() { // Open() never exceeds the cap
		for {
			select {
			case <-stop:
				return
			default:
			}
			if l.Open() > maxConns {
				over.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range flood / 20 {
				c, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	poll(t, "every connection accepted", func() bool { return ev.kind(EventAccepted)+ev.kind(EventRefused) == flood })
	close(stop)
	if over.Load() > 0 || l.Open() > maxConns {
		t.Errorf("Open() went over %d", maxConns)
	}
	if n := ev.kind(EventEvicted); n < flood-maxConns {
		t.Errorf("%d evictions, want ≥ %d", n, flood-maxConns)
	}
	fresh := dial(t, l)
	if got := fresh.get(t, ""); got != "ok" {
		t.Fatalf("after the flood: %q", got)
	}
	fresh.Close()
	for _, c := range conns {
		c.Close()
	}
	poll(t, "Open() == 0", func() bool { return l.Open() == 0 })
}

// Refusals are answered off the accept goroutine, at most maxRefusing at
// once: a flood of busy clients cannot stall Accept by not reading.
func TestRefusalsDoNotStallAccept(t *testing.T) {
	t.Parallel()
	const extra = 3 * maxRefusing
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	slow := func(w io.Writer, r Reason) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		refuseHTTP(w, r)
	}
	l, ev := guard(t, Config{MaxConns: 2, HeaderTimeout: 5 * time.Second, Refuse: slow})
	serve(t, l)
	for range 2 {
		c := dialAccepted(t, l, ev)
		if _, err := io.WriteString(c, head("X-Body: 1")); err != nil {
			t.Fatal(err)
		}
	}
	poll(t, "none idle", func() bool { return idleCount(l) == 0 })
	for range extra {
		dial(t, l)
	}
	poll(t, "every refusal", func() bool { return ev.refusedFor(ReasonTotal) == extra })
	// A refusal is counted before its writer starts: wait for the writers
	// themselves, as many as may run at once, before letting them go.
	poll(t, "the refusers at work", func() bool { return inFlight.Load() >= maxRefusing })
	close(release)
	if p := peak.Load(); p != maxRefusing {
		t.Errorf("%d refusals answered at once, want %d", p, maxRefusing)
	}
}

// ---- Hertz ----

// TestHertz wires the guard into Hertz as the server does, and checks that
// a handler finds the Conn in its context, that keep-alive survives an idle
// gap longer than HeaderTimeout, and that a silent connection is cut while
// the server goes on serving.
func TestHertz(t *testing.T) {
	t.Parallel()
	hlogs := &syncBuffer{}
	hlog.SetOutput(hlogs) // Hertz's logger is global; only this test serves Hertz
	const timeout = 300 * time.Millisecond
	l, ev := guard(t, Config{HeaderTimeout: timeout})
	h := server.New(
		server.WithListener(l),
		server.WithTransport(standard.NewTransporter),
		server.WithOnAccept(OnAccept),
		server.WithSenseClientDisconnection(false),
		server.WithStreamBody(true),
		server.WithIdleTimeout(time.Minute),
		server.WithReadTimeout(0),
		server.WithExitWaitTime(time.Second),
		server.WithDisablePrintRoute(true),
	)
	h.Use(func(ctx context.Context, c *app.RequestContext) {
		conn := FromContext(ctx)
		conn.HeadDone()
		defer conn.AwaitHead()
		c.Next(ctx)
	})
	h.GET("/", func(ctx context.Context, c *app.RequestContext) {
		if FromContext(ctx) == nil {
			c.String(500, "no Conn in the handler's context")
			return
		}
		c.String(200, "ok")
	})
	go h.Run()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h.Shutdown(ctx)
	})

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	get := func() {
		t.Helper()
		resp, err := hc.Get("http://" + l.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("%d %q", resp.StatusCode, b)
		}
	}
	get()
	time.Sleep(timeout * 3 / 2)
	get()
	if n := ev.kind(EventAccepted); n != 1 {
		t.Errorf("%d connections for two requests, want 1 (keep-alive)", n)
	}

	start := time.Now()
	silent := dial(t, l)
	took, _ := silent.waitClosed(t, start, 3*time.Second)
	if took < timeout*9/10 || took > timeout+time.Second {
		t.Errorf("silent connection cut after %v, want about %v", took, timeout)
	}
	get()
	// The event follows the close the client saw.
	poll(t, "a head-timeout event", func() bool { return ev.kind(EventHeadTimeout) == 1 })
	// Hertz logs a connection's read error at Error level unless it is a
	// reset: a flood of silent connections must not be a flood of lines.
	if logs := hlogs.String(); strings.Contains(logs, "[Error]") {
		t.Errorf("Hertz logged the cut:\n%s", logs)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
