package server

import (
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
)

// hostGuard answers 421 to a request whose Host the server does not serve
// (DESIGN §3). A page on the web that rebinds its own name to this
// machine's address can make the browser send requests here, but they
// carry the page's name in Host: refusing unknown names leaves it nothing.
// IP literals are fine when they are this machine's own, since no page
// can pose as an IP address.
type hostGuard struct {
	names map[string]bool // lower case, no port

	mu       sync.Mutex
	ips      map[string]bool
	ipsAt    time.Time
	localIPs func() []string
}

// hostRefresh bounds how often the machine's addresses are listed again,
// when a request names an IP that was not among them (DHCP moved it).
const hostRefresh = 10 * time.Second

func newHostGuard(publicURLs, allow []string) *hostGuard {
	g := &hostGuard{names: map[string]bool{"localhost": true}, localIPs: interfaceIPs}
	for _, u := range publicURLs {
		if p, err := url.Parse(u); err == nil {
			g.names[strings.ToLower(p.Hostname())] = true
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		h = strings.ToLower(h)
		g.names[h], g.names[h+".local"] = true, true
	}
	for _, h := range allow {
		g.names[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	return g
}

// allows reports whether hostport (a Host header) is served here.
func (g *hostGuard) allows(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if g.names[host] {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	return g.localIP(ip.String())
}

func (g *hostGuard) localIP(ip string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ips[ip] {
		return true
	}
	if time.Since(g.ipsAt) < hostRefresh {
		return false
	}
	g.ipsAt = time.Now()
	g.ips = map[string]bool{}
	for _, a := range g.localIPs() {
		g.ips[a] = true
	}
	return g.ips[ip]
}

// interfaceIPs lists the machine's own addresses: a server listening on
// all of them answers to each.
func interfaceIPs() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP.String())
		}
	}
	return out
}

// checkHost is the middleware of hostGuard.
func (s *Server) checkHost(ctx context.Context, c *app.RequestContext) {
	if !s.hosts.allows(string(c.Host())) {
		s.refused(reasonBadHost)
		c.SetConnectionClose()
		s.writeError(c, errMisdirected)
		c.Abort()
		return
	}
	c.Next(ctx)
}
