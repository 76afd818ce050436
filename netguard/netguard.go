// Package netguard guards a net.Listener so that hostile neighbours on the
// same network cannot crash or freeze the server with connection floods.
//
// A plain listener under Hertz's standard (Go net) transport is fragile in
// three ways, and netguard answers each where it is cheapest:
//
//   - Hertz's accept loop returns, and the server with it, on any Accept
//     error, so one EMFILE during a flood ends the process. [Listener.Accept]
//     never fails but after Close: it backs off (5 ms doubling to 1 s, as
//     net/http's Server does), logs at a bounded rate and retries.
//   - Hertz sets no deadline on a connection's first request (ReadTimeout is
//     0, since uploads are long), so a client that never sends a byte, or
//     trickles its head, holds a descriptor forever. Every [Conn] must
//     deliver a request head within [Config.HeaderTimeout]. Only the server
//     knows where a head ends, so it says so with [Conn.HeadDone] and
//     [Conn.AwaitHead]; bodies and event streams are never timed here.
//   - Nothing caps connections, so a flood exhausts the descriptor table
//     and every later open(2) fails too. Connections are capped per client
//     address and in total. At a cap the longest-idle connection (one
//     waiting for a request that has not begun) is closed to make room:
//     that costs a browser nothing, it retries on a fresh connection, and a
//     flood of silent connections then only ever displaces itself. Only when
//     nothing is idle is the new connection refused, off the accept
//     goroutine, so refusing cannot stall accepting either.
package netguard

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Defaults for the zero fields of a Config.
const (
	// DefaultMaxConns bounds the derived total cap: each open connection
	// costs Hertz a goroutine and its buffers, tens of KiB, so even with a
	// huge descriptor limit a flood must not take more memory than this many
	// connections' worth (tens of MiB), while a LAN of a few hundred
	// browsers fits.
	DefaultMaxConns = 2048

	// DefaultMaxConnsPerIP lets an office of a few dozen PCs behind one NAT
	// share an address: a browser opens at most ~6 connections to a host,
	// its page's event stream among them, so 256 fits 40 PCs with every
	// connection busy, and idle ones are closed before anyone is refused.
	DefaultMaxConnsPerIP = 256

	// DefaultHeaderTimeout is generous for a phone on weak Wi-Fi (a head is
	// well under a few KiB) and short enough that silent connections are
	// cleared faster than a flood can pile them up.
	DefaultHeaderTimeout = 10 * time.Second
)

const (
	// fdReserve is what the derived total cap leaves of RLIMIT_NOFILE for
	// everything that is not a connection: the database, blobs being written
	// and served, thumbnails being decoded, refusals in flight, the runtime.
	fdReserve = 256

	// Accept's backoff, as net/http's Server does it.
	backoffMin = 5 * time.Millisecond
	backoffMax = time.Second

	// logEvery bounds accept-error logging: under EMFILE every retry fails,
	// and a log line per failure would fill the disk the server needs.
	logEvery = 5 * time.Second

	// maxRefusing bounds refusals being answered at once; each holds a
	// descriptor for at most refuseTimeout. Beyond it a refused connection
	// is just closed: under a flood answering is a courtesy, not a duty.
	maxRefusing   = 32
	refuseTimeout = time.Second
	// refuseDrain is how much of a refused client's request is read and
	// discarded before the close (see answer).
	refuseDrain = 64 << 10
)

// Config says how a Listener guards. The zero value is usable.
type Config struct {
	// MaxConns caps open connections in total. 0 derives it from the
	// process's RLIMIT_NOFILE (the soft limit minus a reserve for files, at
	// most DefaultMaxConns); where there is no such limit it is
	// DefaultMaxConns.
	MaxConns int

	// MaxConnsPerIP caps open connections from one remote IP address (the
	// port does not matter; IPv4-mapped IPv6 counts as IPv4). 0 means
	// DefaultMaxConnsPerIP. Connections from non-IP addresses (Unix sockets)
	// are only subject to MaxConns.
	MaxConnsPerIP int

	// HeaderTimeout is how long a request head may take: from the accept
	// for a connection's first request, from the head's first byte for later
	// ones (the wait for that byte is the server's idle timeout). 0 means
	// DefaultHeaderTimeout. Under Hertz it also covers the up to 8 KiB of
	// body Hertz reads ahead before the first middleware runs HeadDone.
	HeaderTimeout time.Duration

	// Refuse writes the answer a refused connection gets, within a write
	// deadline of about a second; the connection is closed after it. nil
	// closes refused connections without a word. It runs on its own
	// goroutine and must be safe for concurrent use.
	Refuse func(w io.Writer, r Reason)

	// OnEvent, if set, is told of every accept, refusal, eviction, head
	// timeout and accept error, for metrics. It is called synchronously,
	// from the accept goroutine and from reading goroutines, so it must be
	// fast and safe for concurrent use.
	OnEvent func(e Event)

	// Logger gets accept errors, at most one line every few seconds and
	// never one per connection. nil means slog.Default().
	Logger *slog.Logger
}

// Reason says which cap a connection met.
type Reason int

const (
	// ReasonTotal is the server-wide cap, MaxConns: the server is full and
	// should answer 503 Service Unavailable.
	ReasonTotal Reason = iota + 1
	// ReasonPerIP is the per-address cap, MaxConnsPerIP: this client has
	// too many connections and should be answered 429 Too Many Requests.
	ReasonPerIP
)

// String names r for logs and metric labels.
func (r Reason) String() string {
	switch r {
	case ReasonTotal:
		return "total"
	case ReasonPerIP:
		return "per-ip"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// EventKind is what happened, in an Event.
type EventKind int

const (
	// EventAccepted: a connection was accepted and handed to the server.
	EventAccepted EventKind = iota + 1
	// EventRefused: a connection met a cap with nothing idle to close; it
	// was refused. Event.Reason says which cap.
	EventRefused
	// EventEvicted: an idle connection was closed to make room for a new
	// one. Event.Reason says which cap.
	EventEvicted
	// EventHeadTimeout: a connection did not deliver a request head within
	// HeaderTimeout and was closed.
	EventHeadTimeout
	// EventAcceptError: the wrapped listener's Accept failed (Event.Err);
	// Accept backs off and retries.
	EventAcceptError
)

// String names k for logs and metric labels.
func (k EventKind) String() string {
	switch k {
	case EventAccepted:
		return "accepted"
	case EventRefused:
		return "refused"
	case EventEvicted:
		return "evicted"
	case EventHeadTimeout:
		return "head-timeout"
	case EventAcceptError:
		return "accept-error"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what OnEvent is told. It carries no address on purpose: metrics
// labelled by client would themselves be a memory a flood could grow.
type Event struct {
	Kind   EventKind
	Reason Reason // for EventRefused and EventEvicted
	Err    error  // for EventAcceptError
}

// Listener is a guarded net.Listener. Its methods are safe for concurrent
// use.
type Listener struct {
	ln       net.Listener
	cfg      Config
	done     chan struct{} // closed by Close: ends a backoff at once
	refusing chan struct{} // semaphore of refusals being answered

	closeOnce sync.Once
	closeErr  error

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int

	mu     sync.Mutex
	closed bool
	open   int
	ips    map[netip.Addr]*ipBucket
	idle   list.List // of *Conn, longest idle first
}

// ipBucket is one remote address's connections.
type ipBucket struct {
	addr netip.Addr
	open int
	idle list.List // of *Conn, longest idle first
}

// Wrap guards ln with cfg. It fails only on a negative field in cfg.
func Wrap(ln net.Listener, cfg Config) (*Listener, error) {
	if ln == nil {
		return nil, errors.New("netguard: nil listener")
	}
	if cfg.MaxConns < 0 || cfg.MaxConnsPerIP < 0 || cfg.HeaderTimeout < 0 {
		return nil, fmt.Errorf("netguard: negative limit (MaxConns %d, MaxConnsPerIP %d, HeaderTimeout %v)",
			cfg.MaxConns, cfg.MaxConnsPerIP, cfg.HeaderTimeout)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = defaultMaxConns()
	}
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Listener{
		ln:       ln,
		cfg:      cfg,
		done:     make(chan struct{}),
		refusing: make(chan struct{}, maxRefusing),
		ips:      make(map[netip.Addr]*ipBucket),
	}, nil
}

// maxConnsFor derives the total cap from a descriptor soft limit: what the
// reserve leaves, but never less than half the limit (a tiny limit still
// serves), and never more than DefaultMaxConns.
func maxConnsFor(soft uint64) int {
	if soft >= 1<<31 {
		return DefaultMaxConns
	}
	n := int(soft) - fdReserve
	if half := int(soft) / 2; n < half {
		n = half
	}
	return max(1, min(n, DefaultMaxConns))
}

// Accept waits for the next connection that fits the caps and returns it
// as a *Conn. It returns an error only once the listener is closed: Hertz's
// transport stops serving on any Accept error, so a transient one (EMFILE,
// ENFILE, ECONNABORTED) is backed off and retried here instead. The error
// after Close wraps net.ErrClosed, which Hertz takes for a clean stop.
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil, l.closedError(err)
			}
			delay = min(max(2*delay, backoffMin), backoffMax)
			l.acceptFailed(err, delay)
			if !l.sleep(delay) {
				return nil, l.closedError(nil)
			}
			continue
		}
		delay = 0
		c, err := l.admit(raw)
		if err != nil {
			return nil, err
		}
		if c != nil {
			return c, nil
		}
	}
}

// Close stops accepting, and closes the connections that are idle, waiting
// for a request that has not begun: nothing is lost by closing them, and
// Hertz's graceful shutdown would otherwise wait on them until its idle
// timeout or exit wait time. Connections serving a request are left to the
// server. Close may be called more than once.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		var idle []*Conn
		for e := l.idle.Front(); e != nil; e = e.Next() {
			idle = append(idle, e.Value.(*Conn))
		}
		l.mu.Unlock()
		close(l.done)
		l.closeErr = l.ln.Close()
		for _, c := range idle {
			c.closeWith(errEvicted)
		}
	})
	return l.closeErr
}

// Addr is the wrapped listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Open is the number of connections open now, for a gauge. Refused
// connections, even while being answered, are not counted.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func (l *Listener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// closedError is what Accept returns once closed: err if it already says
// so, else one that does, both to errors.Is and to Hertz, which looks for
// "closed" in the message.
func (l *Listener) closedError(err error) error {
	if err != nil && errors.Is(err, net.ErrClosed) {
		return err
	}
	a := l.ln.Addr()
	op := &net.OpError{Op: "accept", Addr: a, Err: net.ErrClosed}
	if a != nil {
		op.Net = a.Network()
	}
	return op
}

// sleep waits d, or until Close; it reports whether d passed.
func (l *Listener) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.done:
		return false
	}
}

func (l *Listener) acceptFailed(err error, retry time.Duration) {
	l.emit(Event{Kind: EventAcceptError, Err: err})
	l.logMu.Lock()
	now := time.Now()
	if !l.lastLog.IsZero() && now.Sub(l.lastLog) < logEvery {
		l.suppressed++
		l.logMu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.lastLog, l.suppressed = now, 0
	l.logMu.Unlock()
	l.cfg.Logger.Warn("netguard: accept failed; retrying",
		"err", err, "retry_in", retry, "suppressed", suppressed)
}

func (l *Listener) emit(e Event) {
	if l.cfg.OnEvent != nil {
		l.cfg.OnEvent(e)
	}
}

// admit applies the caps to a new connection: it returns the *Conn, or nil
// if the connection was refused, or an error if the listener is closed.
func (l *Listener) admit(raw net.Conn) (*Conn, error) {
	now := time.Now()
	addr := remoteIP(raw.RemoteAddr())

	var (
		victim *Conn
		reason Reason
		refuse bool
	)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		raw.Close()
		return nil, l.closedError(nil)
	}
	if addr.IsValid() {
		if b := l.ips[addr]; b != nil && b.open >= l.cfg.MaxConnsPerIP {
			reason = ReasonPerIP
			if e := b.idle.Front(); e != nil {
				victim = e.Value.(*Conn)
			} else {
				refuse = true
			}
		}
	}
	// An eviction for the address also frees a place in the total.
	if !refuse && victim == nil && l.open >= l.cfg.MaxConns {
		reason = ReasonTotal
		if e := l.idle.Front(); e != nil {
			victim = e.Value.(*Conn)
		} else {
			refuse = true
		}
	}
	if refuse {
		l.mu.Unlock()
		l.refuse(raw, reason)
		return nil, nil
	}
	if victim != nil {
		// Counted out now, so that the new connection fits; its Close,
		// below and again by the server, then finds nothing to count.
		l.releaseLocked(victim)
	}
	c := &Conn{Conn: raw, l: l, awaiting: true, headStart: now}
	c.watch.Store(true)
	l.open++
	if addr.IsValid() {
		b := l.ips[addr] // looked up again: the eviction may have emptied it
		if b == nil {
			b = &ipBucket{addr: addr}
			l.ips[addr] = b
		}
		b.open++
		c.bucket = b
	}
	// A fresh connection is idle until its first byte: it has cost nothing
	// to open, so it is the first to go when room is needed.
	l.markIdleLocked(c)
	l.mu.Unlock()

	c.mu.Lock()
	_ = c.applyLocked()
	c.mu.Unlock()
	if victim != nil {
		victim.closeWith(errEvicted)
		l.emit(Event{Kind: EventEvicted, Reason: reason})
	}
	l.emit(Event{Kind: EventAccepted})
	return c, nil
}

// refuse turns raw away for reason, off the accept goroutine.
func (l *Listener) refuse(raw net.Conn, reason Reason) {
	l.emit(Event{Kind: EventRefused, Reason: reason})
	if l.cfg.Refuse == nil {
		raw.Close()
		return
	}
	select {
	case l.refusing <- struct{}{}:
		go l.answer(raw, reason)
	default:
		raw.Close()
	}
}

// answer writes the refusal and closes raw. Closing a socket with unread
// request bytes makes the kernel send a reset, which can destroy the answer
// before the client reads it; so it half-closes and drains the request for
// what is left of the deadline, as a lingering close does.
func (l *Listener) answer(raw net.Conn, reason Reason) {
	defer func() { <-l.refusing }()
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(refuseTimeout))
	l.cfg.Refuse(raw, reason)
	if cw, ok := raw.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		_, _ = io.CopyN(io.Discard, raw, refuseDrain)
	}
}

// markIdle enters c in the idle lists; it reports false if the listener is
// closed, when c should rather be closed.
func (l *Listener) markIdle(c *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.markIdleLocked(c)
	return true
}

func (l *Listener) markIdleLocked(c *Conn) {
	if c.released || c.idleAll != nil {
		return
	}
	c.idleAll = l.idle.PushBack(c)
	if c.bucket != nil {
		c.idleIP = c.bucket.idle.PushBack(c)
	}
}

// markBusy takes c out of the idle lists.
func (l *Listener) markBusy(c *Conn) {
	l.mu.Lock()
	l.unlinkLocked(c)
	l.mu.Unlock()
}

func (l *Listener) unlinkLocked(c *Conn) {
	if c.idleAll != nil {
		l.idle.Remove(c.idleAll)
		c.idleAll = nil
	}
	if c.idleIP != nil {
		c.bucket.idle.Remove(c.idleIP)
		c.idleIP = nil
	}
}

// release counts c out, once however often it is called.
func (l *Listener) release(c *Conn) {
	l.mu.Lock()
	l.releaseLocked(c)
	l.mu.Unlock()
}

func (l *Listener) releaseLocked(c *Conn) {
	if c.released {
		return
	}
	c.released = true
	l.unlinkLocked(c)
	l.open--
	if b := c.bucket; b != nil {
		b.open--
		if b.open == 0 {
			delete(l.ips, b.addr) // the map holds only addresses with connections
		}
	}
}

// remoteIP is the address connections are counted under: the IP without
// port or zone, IPv4-mapped IPv6 as IPv4; invalid when a is not IP.
func remoteIP(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case nil:
		return netip.Addr{}
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return netip.Addr{}
		}
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap().WithZone("")
}

// OnAccept is NewContext for Hertz's server.WithOnAccept, whose callback
// has no context to derive from. The context it returns is the one Hertz
// hands to every middleware and handler of the connection.
func OnAccept(conn net.Conn) context.Context {
	return NewContext(context.Background(), conn)
}

type ctxKey struct{}

// NewContext returns ctx carrying conn if conn is a *Conn, or wraps one
// (through NetConn, as *tls.Conn does), else ctx itself.
func NewContext(ctx context.Context, conn net.Conn) context.Context {
	// Layers above the guard (TLS, a rewriting wrapper) name the
	// connection beneath them with NetConn, as *tls.Conn does.
	for range 8 {
		if c, ok := conn.(*Conn); ok {
			return context.WithValue(ctx, ctxKey{}, c)
		}
		u, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			return ctx
		}
		conn = u.NetConn()
	}
	return ctx
}

// FromContext is the *Conn NewContext stored in ctx, or nil. Conn's
// HeadDone and AwaitHead accept a nil receiver, so a middleware need not
// check.
func FromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(ctxKey{}).(*Conn)
	return c
}
