package chaosproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"qrsync/internal/tcptest"
	"testing"
	"time"
)

// echoServer answers every line with the same line, on loopback, until the
// test ends.
func echoServer(t *testing.T) string {
	return tcptest.Serve(t, func(c net.Conn) { io.Copy(c, c) })
}

// roundTrip sends one line and reads it back.
func roundTrip(c net.Conn, r *bufio.Reader, line string) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return errors.New("echo mismatch: " + got)
	}
	return nil
}

func TestNewRejectsAnythingButLoopback(t *testing.T) {
	for _, target := range []string{
		"localhost:80", "10.0.0.1:80", "[::1]:80", "0.0.0.0:80", "127.0.0.1", "127.0.0.1:0", "example.com:443",
	} {
		t.Run(target, func(t *testing.T) {
			p, err := New(target, Config{})
			if err == nil {
				p.Close()
				t.Fatalf("New(%q) accepted a target that is not 127.0.0.1:<port>", target)
			}
		})
	}
	for _, cfg := range []Config{
		{MinLife: -time.Second},
		{MinLife: time.Second, MaxLife: time.Millisecond},
		{MaxConns: -1},
	} {
		if p, err := New("127.0.0.1:9", cfg); err == nil {
			p.Close()
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

func TestForwardsAndCutsWithinLifetime(t *testing.T) {
	target := echoServer(t)
	p := Start(t, target, Config{MinLife: 150 * time.Millisecond, MaxLife: 250 * time.Millisecond, Seed: 42})
	if host, _, _ := net.SplitHostPort(p.Addr()); host != "127.0.0.1" {
		t.Fatalf("listens on %s, want 127.0.0.1", p.Addr())
	}
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r := bufio.NewReader(c)
		if err := roundTrip(c, r, "hello"); err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		// Keep talking until the proxy cuts us.
		var err2 error
		for err2 == nil {
			err2 = roundTrip(c, r, "again")
			if err2 == nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
		lived := time.Since(start)
		c.Close()
		// The lower bound is exact; the upper one allows for a loaded machine.
		if lived < 150*time.Millisecond || lived > 2*time.Second {
			t.Errorf("conn %d lived %v, want about 150–250ms (cut by %v)", i, lived, err2)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for p.Stats().Live != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := p.Stats()
	if st.Accepted != 5 || st.Cuts != 5 || st.Live != 0 {
		t.Errorf("stats %v, want 5 accepted, 5 cut, 0 live", st)
	}
}

func TestSameSeedSameLifetimes(t *testing.T) {
	draws := func(seed uint64) []time.Duration {
		p, err := New("127.0.0.1:9", Config{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		var out []time.Duration
		for i := 0; i < 20; i++ {
			d, _ := p.draw()
			if d < DefaultMinLife || d > DefaultMaxLife {
				t.Fatalf("lifetime %v outside the defaults", d)
			}
			out = append(out, d)
		}
		return out
	}
	a, b, c := draws(7), draws(7), draws(8)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 gave %v then %v at draw %d", a[i], b[i], i)
		}
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("seeds 7 and 8 gave the same lifetimes")
	}
}

func TestPauseRefuseAndDrop(t *testing.T) {
	target := echoServer(t)
	p := Start(t, target, Config{MaxLife: -1}) // never cut: only pausing acts

	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if err := roundTrip(c, r, "one"); err != nil {
		t.Fatal(err)
	}

	// Drop: the bytes go nowhere until Resume, then arrive.
	p.Pause(Drop)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "held\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a dropping proxy forwarded bytes")
	}
	// A new connection is accepted but silent too.
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	io.WriteString(c2, "new\n")
	c2.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := r2.ReadString('\n'); err == nil {
		t.Fatal("a dropping proxy forwarded a new connection")
	}
	p.Resume()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after Resume got %q, %v; want the held line", got, err)
	}
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r2.ReadString('\n'); err != nil || got != "new\n" {
		t.Fatalf("after Resume the new connection got %q, %v", got, err)
	}

	// Refuse: live connections are reset, new ones too.
	p.Pause(Refuse)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a live connection survived Pause(Refuse)")
	}
	c3, err := net.Dial("tcp", p.Addr())
	if err == nil {
		c3.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c3, "x\n")
		if _, err := bufio.NewReader(c3).ReadString('\n'); err == nil {
			t.Fatal("a refusing proxy answered")
		}
		c3.Close()
	}
	p.Resume()
	c4, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if err := roundTrip(c4, bufio.NewReader(c4), "back"); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
	if st := p.Stats(); st.Refused < 1 {
		t.Errorf("stats %v: the refused connection was not counted", st)
	}
}

func TestBoundedAndClose(t *testing.T) {
	target := echoServer(t)
	p, err := New(target, Config{MaxLife: -1, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := roundTrip(c, bufio.NewReader(c), "hi"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	extra, err := net.Dial("tcp", p.Addr())
	if err == nil {
		if roundTrip(extra, bufio.NewReader(extra), "over") == nil {
			t.Error("a third connection got through with MaxConns 2")
		}
		extra.Close()
	}
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("conn %d still open after Close", i)
		}
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("still accepting after Close")
	}
	p.Close() // twice is fine
}
