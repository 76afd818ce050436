// Package lanaddr finds the addresses a phone on the same network can
// reach this machine at. A QR code that points at localhost, a docker
// bridge or a VPN tunnel scans fine and then fails on the phone, which is
// the worst kind of failure for a person to debug, so the choice is made
// carefully and every candidate is offered, best first.
package lanaddr

import (
	"net"
	"slices"
	"strings"
)

// Candidate is one IPv4 address on a named interface.
type Candidate struct {
	IP        net.IP
	Interface string
	rank      int
}

// Interface kinds, best first: Wi-Fi is where phones are, Ethernet is on
// the same LAN more often than not, anything else is a guess.
const (
	rankWiFi = iota
	rankEthernet
	rankOther
)

// virtualPrefixes name interfaces that no phone can reach: container and
// VM bridges, veth pairs, tunnels and VPNs.
var virtualPrefixes = []string{
	"docker", "veth", "br-", "virbr", "vmnet", "vboxnet", "lxc", "lxd", "cni", "flannel",
	"cali", "weave", "kube", "podman", "tun", "tap", "wg", "tailscale", "zt", "utun",
	"ppp", "ipsec", "gif", "stf", "awdl", "llw", "anpi", "bridge", "vEthernet",
}

// Candidates lists the machine's usable LAN IPv4 addresses, best first.
func Candidates() []Candidate {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []Candidate
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		out = append(out, fromInterface(ifc.Name, ifc.Flags, addrs)...)
	}
	Sort(out)
	return out
}

// fromInterface keeps the usable addresses of one interface. It is split
// out so the filtering can be tested without real interfaces.
func fromInterface(name string, flags net.Flags, addrs []net.Addr) []Candidate {
	if flags&net.FlagUp == 0 || flags&net.FlagLoopback != 0 || isVirtual(name) {
		return nil
	}
	var out []Candidate
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip := ipn.IP.To4()
		if ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
			continue
		}
		out = append(out, Candidate{IP: ip, Interface: name, rank: rankOf(name)})
	}
	return out
}

func isVirtual(name string) bool {
	lower := strings.ToLower(name)
	for _, p := range virtualPrefixes {
		if strings.HasPrefix(lower, strings.ToLower(p)) {
			return true
		}
	}
	return false
}

func rankOf(name string) int {
	n := strings.ToLower(name)
	switch {
	case strings.HasPrefix(n, "wl"), strings.HasPrefix(n, "wifi"), strings.Contains(n, "wi-fi"), strings.Contains(n, "wireless"):
		return rankWiFi
	case strings.HasPrefix(n, "en"), strings.HasPrefix(n, "eth"), strings.Contains(n, "ethernet"):
		return rankEthernet
	}
	return rankOther
}

// Sort orders candidates best first: by interface kind, then private
// (RFC 1918) addresses before public ones, then by name for stability.
func Sort(c []Candidate) {
	slices.SortStableFunc(c, func(a, b Candidate) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		if ap, bp := a.IP.IsPrivate(), b.IP.IsPrivate(); ap != bp {
			if ap {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Interface, b.Interface)
	})
}
