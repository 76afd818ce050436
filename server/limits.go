package server

import (
	"net/netip"
	"sync"
	"time"
)

// Limits per client address and in total (DESIGN §7). They are sized so
// that normal use from one NAT — an office opening a few dozen sessions
// and streams within a minute, each phone sending three files at a time —
// never meets them, and a neighbour scripting requests does at once.
const (
	// DefaultSessionsPerMinute is how many sessions one address may open
	// in a minute.
	DefaultSessionsPerMinute = 60
	// DefaultMaxSessions caps the sessions the catalog holds at once; past
	// it, creating one is 503 until some end.
	DefaultMaxSessions = 10_000
	// DefaultUploadsPerAddress caps one address's uploads in flight.
	DefaultUploadsPerAddress = 32
	// DefaultMissesPerMinute is how many unknown session ids and upload
	// tokens one address may try in a minute. Only misses count: a phone
	// with a valid link is never refused because a neighbour behind the
	// same NAT guessed.
	DefaultMissesPerMinute = 20

	limitWindow = time.Minute
	// maxTracked bounds the addresses a window remembers. Past it, new
	// addresses share one count, so a flood from many addresses costs
	// bounded memory and is still limited.
	maxTracked = 100_000
)

// Reasons the server refuses work to protect itself, as the metrics name
// them (qrsync_refused_total{reason}).
const (
	reasonConnTotal     = "conn_total"
	reasonConnPerIP     = "conn_per_ip"
	reasonHeaderTimeout = "header_timeout"
	reasonSlowBody      = "slow_body"
	reasonUploadsPerIP  = "uploads_per_ip"
	reasonSessionRate   = "session_rate"
	reasonSessionsTotal = "sessions_total"
	reasonMisses        = "token_misses"
	reasonDecodeBudget  = "decode_budget"
	reasonDiskFull      = "disk_full"
	reasonBadHost       = "bad_host"
	reasonParts         = "parts"
)

// addrKey is what a limit counts by: an IPv4 address, or the /64 of an
// IPv6 one, since a single host is handed a whole /64.
func addrKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// windowCounter counts events per address in fixed windows of limitWindow.
type windowCounter struct {
	limit  int
	mu     sync.Mutex
	window time.Time
	counts map[string]int
}

func newWindowCounter(limit int) *windowCounter {
	return &windowCounter{limit: limit, counts: map[string]int{}}
}

func (w *windowCounter) key(ip string) string {
	if now := time.Now(); now.Sub(w.window) >= limitWindow {
		w.window = now
		clear(w.counts) // the map never outgrows one window of addresses
	}
	k := addrKey(ip)
	if _, ok := w.counts[k]; !ok && len(w.counts) >= maxTracked {
		k = "" // the shared count of addresses past maxTracked
	}
	return k
}

// take counts one event for ip and reports whether it was within the limit.
func (w *windowCounter) take(ip string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := w.key(ip)
	if w.counts[k] >= w.limit {
		return false
	}
	w.counts[k]++
	return true
}

// over reports whether ip has used up its window, without counting.
func (w *windowCounter) over(ip string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[w.key(ip)] >= w.limit
}

// add counts one event for ip, past the limit too.
func (w *windowCounter) add(ip string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[w.key(ip)]++
}

// inFlightCounter caps what one address has running at once.
type inFlightCounter struct {
	limit int
	mu    sync.Mutex
	n     map[string]int
}

func newInFlightCounter(limit int) *inFlightCounter {
	return &inFlightCounter{limit: limit, n: map[string]int{}}
}

// acquire takes a place for ip; release gives it back.
func (c *inFlightCounter) acquire(ip string) (release func(), ok bool) {
	k := addrKey(ip)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[k] >= c.limit {
		return nil, false
	}
	c.n[k]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.n[k]--; c.n[k] == 0 {
				delete(c.n, k)
			}
		})
	}, true
}
