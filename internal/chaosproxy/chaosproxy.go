// Package chaosproxy is a loopback TCP proxy for tests that breaks
// connections on purpose: every connection it forwards is cut after a
// random lifetime (100–500 ms by default), and the whole proxy can be paused
// so that it refuses connections or silently stops forwarding. Tests put it
// between a client and the real server to prove that the client survives
// drops without losing, repeating or reordering anything.
//
// It is deliberately narrow, since it exists only to be run by `go test`:
// it listens on and dials 127.0.0.1 only (a test must never open a relay
// that other machines can reach, or reach out to them), it bounds how many
// connections it holds at once, and it shuts itself down when the test that
// started it ends. Lifetimes come from a seeded generator, and the seed is
// logged, so the sequence of lifetimes of a failed run can be replayed.
package chaosproxy

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Defaults for the zero values of Config.
const (
	// DefaultMinLife and DefaultMaxLife bound a connection's random
	// lifetime: long enough for a request and a few events to get through,
	// short enough that a test of a few seconds sees dozens of cuts.
	DefaultMinLife = 100 * time.Millisecond
	DefaultMaxLife = 500 * time.Millisecond
	// DefaultMaxConns bounds the connections held at once; past it new
	// ones are reset, so a runaway client cannot exhaust the test machine.
	DefaultMaxConns = 64
)

// loopback is the only address the proxy listens on or dials.
const loopback = "127.0.0.1"

// copyBufSize is the size of each direction's copy buffer.
const copyBufSize = 16 << 10

// Config tunes a Proxy; the zero value uses the defaults above.
type Config struct {
	// MinLife and MaxLife bound the lifetime of each connection, drawn
	// uniformly between them; when it is up, both sides are closed. Zero
	// means the default; a negative MaxLife means connections are never cut
	// (pausing still works).
	MinLife, MaxLife time.Duration
	// Seed seeds the generator of lifetimes and of the way each cut is made;
	// 0 picks one at random. Either way it is logged.
	Seed uint64
	// MaxConns bounds the connections held at once; 0 means
	// DefaultMaxConns.
	MaxConns int
}

// Mode says how a paused proxy treats connections.
type Mode int

const (
	// Refuse cuts every live connection with a reset, and resets each new
	// one as soon as it is accepted, as a server that went away would.
	Refuse Mode = iota + 1
	// Drop stops forwarding: live and new connections stay open but no
	// byte moves in either direction, as when a firewall drops packets;
	// peers see only silence. Lifetimes still run, so with the default
	// lifetimes a dropped connection is cut within half a second anyway.
	Drop
)

// String names the mode for logs.
func (m Mode) String() string {
	switch m {
	case Refuse:
		return "refuse"
	case Drop:
		return "drop"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Stats counts what the proxy did.
type Stats struct {
	// Accepted is how many connections were accepted and forwarded.
	Accepted int64
	// Cuts is how many were cut because their lifetime was up.
	Cuts int64
	// Refused is how many were reset at once: while paused in Refuse mode,
	// over MaxConns, or because the target could not be reached.
	Refused int64
	// Live is how many are open now.
	Live int64
}

// Proxy forwards connections from its loopback address to a target on
// loopback, cutting them at random. Its methods are safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	cfg    Config

	rndMu sync.Mutex
	rnd   *rand.Rand

	mu     sync.Mutex
	conns  map[*conn]struct{}
	mode   Mode          // 0 when forwarding
	gate   chan struct{} // closed while forwarding; open (blocking) while dropping
	closed bool

	wg                      sync.WaitGroup
	accepted, cuts, refused atomic.Int64
	closeOnce               sync.Once
}

// Start runs a proxy on a fresh 127.0.0.1 port that forwards to target,
// which must be a 127.0.0.1 address with a port. It fails the test on a bad
// config and closes itself when the test ends.
func Start(t testing.TB, target string, cfg Config) *Proxy {
	t.Helper()
	p, err := New(target, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	life := fmt.Sprintf("lifetimes %v–%v", p.cfg.MinLife, p.cfg.MaxLife)
	if p.cfg.MaxLife < 0 {
		life = "never cut"
	}
	t.Logf("chaosproxy %s → %s: %s, seed %d", p.Addr(), target, life, p.cfg.Seed)
	return p
}

// New is Start without a test: the caller must Close the proxy.
func New(target string, cfg Config) (*Proxy, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("chaosproxy: target %q: %w", target, err)
	}
	// Only a literal 127.0.0.1: a name could resolve anywhere.
	if host != loopback || port == "" || port == "0" {
		return nil, fmt.Errorf("chaosproxy: target %q must be %s:<port>", target, loopback)
	}
	if cfg.MinLife == 0 {
		cfg.MinLife = DefaultMinLife
	}
	if cfg.MaxLife == 0 {
		cfg.MaxLife = max(DefaultMaxLife, cfg.MinLife)
	}
	if cfg.MinLife < 0 || (cfg.MaxLife > 0 && cfg.MaxLife < cfg.MinLife) {
		return nil, fmt.Errorf("chaosproxy: lifetimes %v–%v make no sense", cfg.MinLife, cfg.MaxLife)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConns < 0 {
		return nil, errors.New("chaosproxy: MaxConns must not be negative")
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64() | 1
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return nil, fmt.Errorf("chaosproxy: %w", err)
	}
	open := make(chan struct{})
	close(open)
	p := &Proxy{
		ln:     ln,
		target: target,
		cfg:    cfg,
		rnd:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		conns:  map[*conn]struct{}{},
		gate:   open,
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's address, 127.0.0.1:<port>.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's address as an http origin, for HTTP clients.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Seed is the seed in use, to replay a run.
func (p *Proxy) Seed() uint64 { return p.cfg.Seed }

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	live := int64(len(p.conns))
	p.mu.Unlock()
	return Stats{Accepted: p.accepted.Load(), Cuts: p.cuts.Load(), Refused: p.refused.Load(), Live: live}
}

// String summarises the stats for test logs.
func (s Stats) String() string {
	return fmt.Sprintf("%d connections, %d cut, %d refused, %d live", s.Accepted, s.Cuts, s.Refused, s.Live)
}

// Pause stops normal forwarding until Resume, in the given mode. Pausing
// again switches the mode.
func (p *Proxy) Pause(m Mode) {
	if m != Refuse && m != Drop {
		panic("chaosproxy: Pause with an unknown mode")
	}
	p.mu.Lock()
	if p.mode == 0 {
		p.gate = make(chan struct{}) // open: copies wait on it
	}
	p.mode = m
	var victims []*conn
	if m == Refuse {
		for c := range p.conns {
			victims = append(victims, c)
		}
	}
	p.mu.Unlock()
	for _, c := range victims {
		c.cut(true)
	}
}

// Resume goes back to forwarding; connections held by Drop carry on where
// they stopped.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == 0 {
		return
	}
	p.mode = 0
	close(p.gate)
}

// Outages plays the outage schedule of the chaos tests, one step at a
// time: call it before step i of a run of at least 150. At step 60 the
// proxy starts refusing everything (a server gone away), at 80 it resumes,
// at 120 it silently holds everything (a dead Wi-Fi link), at 140 it
// resumes; every other step leaves it as it is.
func (p *Proxy) Outages(i int) {
	switch i {
	case 60:
		p.Pause(Refuse)
	case 80, 140:
		p.Resume()
	case 120:
		p.Pause(Drop)
	}
}

// Close stops the proxy: it stops accepting, cuts every connection and
// waits for all of its goroutines. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		victims := make([]*conn, 0, len(p.conns))
		for c := range p.conns {
			victims = append(victims, c)
		}
		p.mu.Unlock()
		p.ln.Close()
		for _, c := range victims {
			c.cut(true)
		}
		p.wg.Wait()
	})
	return nil
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	var delay time.Duration
	for {
		down, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or similar: back off a little, as
			// net/http does, rather than spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		p.admit(down)
	}
}

// admit decides what to do with a new connection and, if it is to be
// forwarded, starts forwarding it.
func (p *Proxy) admit(down net.Conn) {
	p.mu.Lock()
	refuse := p.closed || p.mode == Refuse || len(p.conns) >= p.cfg.MaxConns
	p.mu.Unlock()
	if refuse {
		p.refused.Add(1)
		reset(down)
		return
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	up, err := d.Dial("tcp", p.target)
	if err != nil {
		p.refused.Add(1)
		reset(down)
		return
	}
	life, hard := p.draw()
	c := &conn{p: p, down: down, up: up, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.refused.Add(1)
		reset(down)
		reset(up)
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	p.accepted.Add(1)

	p.wg.Add(2)
	go c.pipe(up, down)
	go c.pipe(down, up)
	if life > 0 {
		// A timer that fires after the connection ended on its own finds
		// it already cut and does nothing.
		time.AfterFunc(life, func() {
			if c.cut(hard) {
				p.cuts.Add(1)
			}
		})
	}
}

// draw picks a lifetime (0: never cut) and whether the cut is a reset (true)
// or an orderly close (false): clients must survive both.
func (p *Proxy) draw() (time.Duration, bool) {
	p.rndMu.Lock()
	defer p.rndMu.Unlock()
	hard := p.rnd.IntN(2) == 0
	if p.cfg.MaxLife < 0 {
		return 0, hard
	}
	span := int64(p.cfg.MaxLife - p.cfg.MinLife)
	life := p.cfg.MinLife
	if span > 0 {
		life += time.Duration(p.rnd.Int64N(span + 1))
	}
	return life, hard
}

// gateNow returns the channel a copy must see closed before it writes.
func (p *Proxy) gateNow() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gate
}

// conn is one forwarded connection: down is the client's side, up the
// target's.
type conn struct {
	p        *Proxy
	down, up net.Conn
	done     chan struct{} // closed once cut
	once     sync.Once
	halves   atomic.Int32 // copies that met end-of-stream
}

// pipe copies src to dst until either side fails or the connection is cut.
// While the proxy drops, what it has read waits here, unsent.
func (c *conn) pipe(dst, src net.Conn) {
	defer c.p.wg.Done()
	buf := make([]byte, copyBufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.isCut() {
			select {
			case <-c.p.gateNow():
			case <-c.done:
			}
			if !c.isCut() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					c.cut(false)
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && !c.isCut() {
				// Pass the half-close on, so a request/response exchange
				// that ends with a FIN still completes.
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
				if c.halves.Add(1) == 2 {
					c.cut(false)
				}
				return
			}
			c.cut(false)
			return
		}
		if c.isCut() {
			return
		}
	}
}

// isCut reports whether the connection has been cut.
func (c *conn) isCut() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// cut closes both sides, with a reset when hard, and reports whether this
// call was the one that cut it. The target sees its answer fail mid-write,
// as a server does when a phone walks out of Wi-Fi range.
func (c *conn) cut(hard bool) bool {
	first := false
	c.once.Do(func() {
		first = true
		close(c.done)
		if hard {
			reset(c.down)
		} else {
			c.down.Close()
		}
		if hard {
			reset(c.up)
		} else {
			c.up.Close()
		}
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	})
	return first
}

// reset closes a connection with a TCP RST instead of a FIN, the way a
// crashed peer or a middlebox that lost its state does.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
