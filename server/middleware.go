package server

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
)

// contentSecurityPolicy lets pages run their own scripts and the wasm
// client and nothing else: no inline script, no third-party origin. Images
// may be blob: and data: URLs because the phone page previews picked files.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " +
	"img-src 'self' blob: data:; style-src 'self'; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaders is set on every answer, streams included. no-referrer
// matters most: the page URLs carry the capabilities.
func (s *Server) securityHeaders(ctx context.Context, c *app.RequestContext) {
	h := &c.Response.Header
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Next(ctx)
}

// remoteIP is the peer's address. Forwarding headers are ignored on
// purpose: a client could forge them to dodge the limiter.
func remoteIP(c *app.RequestContext) string {
	addr := c.RemoteAddr()
	if addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// Guessing upload tokens: each address may miss this many times a window.
const (
	tokenMissLimit  = 20
	tokenMissWindow = time.Minute
)

// tokenLimiter counts unknown-token attempts per client address in fixed
// windows. 144-bit tokens cannot be guessed anyway; this keeps a scanner
// from costing the catalog a lookup per try.
type tokenLimiter struct {
	now    func() time.Time
	mu     sync.Mutex
	window time.Time
	misses map[string]int
}

func newTokenLimiter(now func() time.Time) *tokenLimiter {
	return &tokenLimiter{now: now, misses: map[string]int{}}
}

func (l *tokenLimiter) roll() {
	if now := l.now(); now.Sub(l.window) >= tokenMissWindow {
		l.window = now
		clear(l.misses) // the map never outgrows one window of addresses
	}
}

func (l *tokenLimiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll()
	return l.misses[ip] < tokenMissLimit
}

func (l *tokenLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll()
	l.misses[ip]++
}
