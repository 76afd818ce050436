package main

import "strings"

// net/url would bring fmt, reflect, net/netip and unique into the wasm
// binary, for the few URL questions the client asks. urlParts is the part
// of url.Parse it needs, with the same rules about what parses: no control
// bytes, a well-formed scheme, userinfo, host and port, IPv6 literals,
// and %-escapes in the path, userinfo and fragment. TestParseURLMatchesNetURL
// holds it to net/url's answers.
type urlParts struct {
	scheme   string // lower case
	host     string // unescaped, with its port
	rawQuery string
	fragment string // unescaped
	// prefix is the raw text before the query and fragment.
	prefix string
}

// parseURL parses raw as url.Parse does (not as a request URI).
func parseURL(raw string) (urlParts, bool) {
	var u urlParts
	rest, frag, hasFrag := strings.Cut(raw, "#")
	if !hasFrag {
		frag = ""
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < ' ' || rest[i] == 0x7f {
			return u, false
		}
	}
	if rest == "*" {
		u.prefix = rest
		return u, finishFragment(&u, frag)
	}
	// The scheme.
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			continue
		}
		if '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.' {
			if i == 0 {
				break
			}
			continue
		}
		if c == ':' {
			if i == 0 {
				return u, false // missing protocol scheme
			}
			u.scheme = asciiLower(rest[:i])
			rest = rest[i+1:]
		}
		break
	}
	if strings.HasSuffix(rest, "?") && strings.Count(rest, "?") == 1 {
		rest = rest[:len(rest)-1]
	} else {
		rest, u.rawQuery, _ = strings.Cut(rest, "?")
	}
	u.prefix, _, _ = strings.Cut(raw, "?")
	u.prefix, _, _ = strings.Cut(u.prefix, "#")
	if !strings.HasPrefix(rest, "/") {
		if u.scheme != "" {
			return u, finishFragment(&u, frag) // opaque
		}
		if segment, _, _ := strings.Cut(rest, "/"); strings.Contains(segment, ":") {
			return u, false // first path segment cannot contain a colon
		}
	}
	if strings.HasPrefix(rest, "//") && (u.scheme != "" || !strings.HasPrefix(rest, "///")) {
		authority := rest[2:]
		rest = ""
		if i := strings.Index(authority, "/"); i >= 0 {
			authority, rest = authority[:i], authority[i:]
		}
		hostport := authority
		if i := strings.LastIndex(authority, "@"); i >= 0 {
			hostport = authority[i+1:]
		}
		host, ok := parseHost(u.scheme, hostport)
		if !ok {
			return u, false
		}
		u.host = host
		if i := strings.LastIndex(authority, "@"); i >= 0 {
			userinfo := authority[:i]
			if !validUserinfo(userinfo) {
				return u, false
			}
			if _, ok := urlUnescape(userinfo, escapeOther); !ok {
				return u, false
			}
		}
	}
	if _, ok := urlUnescape(rest, escapeOther); !ok {
		return u, false
	}
	return u, finishFragment(&u, frag)
}

// asciiLower lower-cases a scheme (ASCII only, by then).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func finishFragment(u *urlParts, frag string) bool {
	f, ok := urlUnescape(frag, escapeOther)
	u.fragment = f
	return ok
}

// parseHost checks host[:port] and returns it unescaped, as url's
// parseHost does.
func parseHost(scheme, host string) (string, bool) {
	if open := strings.LastIndex(host, "["); open > 0 {
		return "", false
	} else if open == 0 {
		closing := strings.LastIndex(host, "]")
		if closing < 0 {
			return "", false
		}
		colonPort := host[closing+1:]
		if !validOptionalPort(colonPort) {
			return "", false
		}
		name := host[1:closing]
		var unescaped string
		if z := strings.Index(name, "%25"); z >= 0 {
			h, ok1 := urlUnescape(name[:z], escapeHost)
			zone, ok2 := urlUnescape(name[z:], escapeZone)
			if !ok1 || !ok2 {
				return "", false
			}
			unescaped = h + zone
		} else {
			var ok bool
			if unescaped, ok = urlUnescape(name, escapeHost); !ok {
				return "", false
			}
		}
		if !validIPv6(unescaped) {
			return "", false
		}
		return "[" + unescaped + "]" + colonPort, true
	} else if i := strings.Index(host, ":"); i >= 0 {
		// Colons are strict in http(s) hosts: the port starts at the first.
		if scheme != "http" && scheme != "https" {
			i = strings.LastIndex(host, ":")
		}
		if !validOptionalPort(host[i:]) {
			return "", false
		}
	}
	return urlUnescape(host, escapeHost)
}

func validOptionalPort(port string) bool {
	if port == "" {
		return true
	}
	if port[0] != ':' {
		return false
	}
	for i := 1; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

func validUserinfo(s string) bool {
	for _, r := range s {
		if 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			continue
		}
		switch r {
		case '-', '.', '_', ':', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', '%', '@':
			continue
		}
		return false
	}
	return true
}

// validIPv6 reports whether s (the inside of a URL's brackets, its zone
// unescaped) is an IPv6 address as netip.ParseAddr reads one, IPv4-mapped
// ones included and plain IPv4 excluded.
func validIPv6(s string) bool {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		if i == len(s)-1 {
			return false // an empty zone
		}
		s = s[:i]
	}
	if !strings.Contains(s, ":") {
		return false
	}
	groups := 0
	ellipsis := false
	if strings.HasPrefix(s, "::") {
		ellipsis = true
		s = s[2:]
		if s == "" {
			return true
		}
	}
	for {
		n := 0
		for n < len(s) && n <= 4 && isHex(s[n]) {
			n++
		}
		if n == 0 || n > 4 {
			return false
		}
		if n < len(s) && s[n] == '.' {
			// An IPv4 tail, as the last two groups.
			if (!ellipsis && groups != 6) || groups > 6 || !validIPv4(s) {
				return false
			}
			groups += 2
			s = ""
			break
		}
		groups++
		s = s[n:]
		if s == "" {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis {
				return false
			}
			ellipsis = true
			s = s[1:]
			if s == "" {
				break
			}
		}
		if groups >= 8 {
			return false
		}
	}
	if ellipsis {
		return groups < 8
	}
	return groups == 8
}

// validIPv4 is netip's dotted quad: four decimal fields up to 255, no
// leading zeros.
func validIPv4(s string) bool {
	for n := 0; n < 4; n++ {
		f, rest, more := strings.Cut(s, ".")
		if more != (n < 3) {
			return false
		}
		s = rest
		if f == "" || len(f) > 3 || (len(f) > 1 && f[0] == '0') {
			return false
		}
		v := 0
		for i := 0; i < len(f); i++ {
			if f[i] < '0' || f[i] > '9' {
				return false
			}
			v = v*10 + int(f[i]-'0')
		}
		if v > 255 {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// The unescaping modes the client needs of net/url's.
const (
	escapeOther = iota // path, userinfo, fragment: only %-escapes checked
	escapeHost
	escapeZone
	escapeQuery // a query component: '+' is a space
)

// urlUnescape decodes %-escapes as url's unescape does in mode.
func urlUnescape(s string, mode int) (string, bool) {
	n := 0
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '%':
			n++
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", false
			}
			if mode == escapeHost && unhex(s[i+1]) < 8 && s[i:i+3] != "%25" {
				return "", false
			}
			if mode == escapeZone {
				v := unhex(s[i+1])<<4 | unhex(s[i+2])
				if s[i:i+3] != "%25" && v != ' ' && !hostByte(v) {
					return "", false
				}
			}
			i += 3
		case c == '+':
			if mode == escapeQuery {
				n++
			}
			i++
		default:
			if (mode == escapeHost || mode == escapeZone) && c < 0x80 && !hostByte(c) {
				return "", false
			}
			i++
		}
	}
	if n == 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case c == '+' && mode == escapeQuery:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}

// hostByte reports whether an ASCII byte may stand unescaped in a host.
func hostByte(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!$&'()*+,;=:[]<>\"-_.~", c) >= 0
}

// queryEscape is url.QueryEscape.
func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// queryParam is one key of a query and its values, in order.
type queryParam struct {
	key    string
	values []string
}

// parseQuery reads a raw query as url.ParseQuery does, dropping what it
// would refuse (a ';', a bad escape).
func parseQuery(q string) []queryParam {
	var ps []queryParam
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if strings.Contains(kv, ";") || kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, ok1 := urlUnescape(k, escapeQuery)
		v, ok2 := urlUnescape(v, escapeQuery)
		if !ok1 || !ok2 {
			continue
		}
		ps = setQuery(ps, k, v, false)
	}
	return ps
}

// setQuery adds value to key (replace false, url.Values.Add) or makes it
// key's only value (replace true, url.Values.Set).
//
//go:noinline
func setQuery(ps []queryParam, key, value string, replace bool) []queryParam {
	for i := range ps {
		if ps[i].key == key {
			if replace {
				ps[i].values = nil
			}
			ps[i].values = append(ps[i].values, value)
			return ps
		}
	}
	return append(ps, queryParam{key, []string{value}})
}

// encodeQuery is url.Values.Encode: keys sorted, each value escaped.
func encodeQuery(ps []queryParam) string {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].key < ps[j-1].key; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	var b strings.Builder
	for _, p := range ps {
		k := queryEscape(p.key)
		for _, v := range p.values {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(queryEscape(v))
		}
	}
	return b.String()
}
