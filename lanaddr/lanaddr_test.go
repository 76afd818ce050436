package lanaddr

import (
	"net"
	"testing"
)

func ipnet(s string) net.Addr {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

func TestFromInterface(t *testing.T) {
	up := net.FlagUp | net.FlagBroadcast
	tests := []struct {
		name  string
		iface string
		flags net.Flags
		addrs []net.Addr
		want  []string
	}{
		{"wifi kept", "wlan0", up, []net.Addr{ipnet("192.168.1.20/24")}, []string{"192.168.1.20"}},
		{"loopback skipped", "lo", up | net.FlagLoopback, []net.Addr{ipnet("127.0.0.1/8")}, nil},
		{"down skipped", "eth0", net.FlagBroadcast, []net.Addr{ipnet("10.0.0.2/24")}, nil},
		{"docker skipped", "docker0", up, []net.Addr{ipnet("172.17.0.1/16")}, nil},
		{"bridge skipped", "br-3f2a", up, []net.Addr{ipnet("172.18.0.1/16")}, nil},
		{"veth skipped", "veth12ab", up, []net.Addr{ipnet("10.1.0.1/24")}, nil},
		{"tunnel skipped", "tun0", up, []net.Addr{ipnet("10.8.0.2/24")}, nil},
		{"wireguard skipped", "wg0", up, []net.Addr{ipnet("10.9.0.2/24")}, nil},
		{"link-local skipped", "eth0", up, []net.Addr{ipnet("169.254.3.4/16")}, nil},
		{"ipv6 skipped", "eth0", up, []net.Addr{ipnet("fe80::1/64"), ipnet("2001:db8::2/64")}, nil},
		{"mixed keeps v4", "enp3s0", up, []net.Addr{ipnet("2001:db8::2/64"), ipnet("192.168.0.7/24")}, []string{"192.168.0.7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromInterface(tt.iface, tt.flags, tt.addrs)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].IP.String() != tt.want[i] {
					t.Errorf("got %s, want %s", got[i].IP, tt.want[i])
				}
			}
		})
	}
}

func TestSortPrefersWiFiThenEthernetThenPrivate(t *testing.T) {
	up := net.FlagUp
	var c []Candidate
	c = append(c, fromInterface("usb0", up, []net.Addr{ipnet("192.168.42.10/24")})...)
	c = append(c, fromInterface("eth0", up, []net.Addr{ipnet("203.0.113.5/24")})...)
	c = append(c, fromInterface("eth1", up, []net.Addr{ipnet("10.0.0.5/24")})...)
	c = append(c, fromInterface("wlp2s0", up, []net.Addr{ipnet("192.168.1.20/24")})...)
	Sort(c)
	want := []string{"192.168.1.20", "10.0.0.5", "203.0.113.5", "192.168.42.10"}
	for i, w := range want {
		if c[i].IP.String() != w {
			t.Fatalf("order %d: got %s, want %s (all: %v)", i, c[i].IP, w, c)
		}
	}
}
