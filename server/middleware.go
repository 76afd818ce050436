package server

import (
	"context"
	"net"

	"github.com/cloudwego/hertz/pkg/app"
)

// contentSecurityPolicy lets pages run their own scripts and the wasm
// client and nothing else: no inline script, no third-party origin. Images
// may be blob: and data: URLs because the phone page previews picked files.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " +
	"img-src 'self' blob: data:; style-src 'self'; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaderList is set on every answer, streams and the answers
// Hertz writes itself (rawerrors.go) included. no-referrer matters most:
// the page URLs carry the capabilities.
var securityHeaderList = [][2]string{
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	{"Content-Security-Policy", contentSecurityPolicy},
}

func (s *Server) securityHeaders(ctx context.Context, c *app.RequestContext) {
	for _, h := range securityHeaderList {
		c.Response.Header.Set(h[0], h[1])
	}
	c.Next(ctx)
}

// closeWhenStopping asks clients to reconnect elsewhere once the server
// has begun to stop, so no keep-alive connection outlives the shutdown:
// also an answer to a request that began before the stop (an upload the
// shutdown waited for), which is written only after its handler returns.
func (s *Server) closeWhenStopping(ctx context.Context, c *app.RequestContext) {
	c.Next(ctx)
	if s.life.Err() != nil {
		c.SetConnectionClose()
	}
}

// remoteIP is the peer's address. Forwarding headers are ignored on
// purpose: a client could forge them to dodge the limits.
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
