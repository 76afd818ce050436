package main

import (
	"strconv"
	"strings"

	"qrsync/api/wire"
)

// The QR image is requested at a size the server accepts (DESIGN §3).
const (
	minQRSize = 128
	maxQRSize = 1024
)

// BaseOf returns the base URL of an upload URL: everything before "/u/"
// (wire.UploadPathMark), the base the phone has to reach,
// without a trailing slash ("http://192.168.1.20:8080"). It returns "" when
// the URL is not absolute.
func BaseOf(uploadURL string) string {
	u, ok := parseURL(uploadURL)
	if !ok || u.scheme == "" || u.host == "" {
		return ""
	}
	i := strings.LastIndex(uploadURL, wire.UploadPathMark)
	if i < 0 {
		return strings.TrimSuffix(u.scheme+"://"+u.host, "/")
	}
	return strings.TrimSuffix(uploadURL[:i], "/")
}

// UploadURLFor is the upload URL as seen from another base: base + "/u/" +
// token. It returns uploadURL unchanged when either does not parse, so a
// bad candidate can never blank the link.
func UploadURLFor(uploadURL, base string) string {
	base = normalizeBase(base)
	i := strings.LastIndex(uploadURL, wire.UploadPathMark)
	if base == "" || i < 0 || BaseOf(uploadURL) == "" {
		return uploadURL
	}
	return base + uploadURL[i:]
}

// AddressOptions merges the session's own base with the candidates from
// GET /api/addresses into the list the address switcher offers, and says
// which one the QR code shows now. Candidates are normalised (no trailing
// slash) and deduplicated; unusable ones are dropped. If the session's base
// is not among them (say, --public-url names a host name), it goes first:
// the QR already shows it, so it must stay selectable.
func AddressOptions(uploadURL string, candidates []string) (opts []string, selected int) {
	seen := map[string]bool{}
	for _, c := range candidates {
		c = normalizeBase(c)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		opts = append(opts, c)
	}
	current := BaseOf(uploadURL)
	if current == "" {
		return opts, 0
	}
	for i, o := range opts {
		if o == current {
			return opts, i
		}
	}
	return append([]string{current}, opts...), 0
}

// QRSource is the src of the QR image: the session's qrUrl with the pixel
// size and, when the viewer picked another address, base. An empty base
// keeps the server's default, which is always allowed. version (see
// CodeVersion) goes in as "v", which the server ignores; "" leaves it out.
//
// The query is rebuilt as url.Values.Encode writes one (sorted keys);
// what comes before it is kept as the server wrote it.
func QRSource(qrURL, base string, size int, version string) string {
	u, ok := parseURL(qrURL)
	if !ok {
		return qrURL
	}
	q := parseQuery(u.rawQuery)
	q = setQuery(q, "size", strconv.Itoa(size), true)
	if base != "" {
		q = setQuery(q, "base", base, true)
	}
	if version != "" {
		q = setQuery(q, "v", version, true)
	}
	s := u.prefix + "?" + encodeQuery(q)
	if u.fragment != "" {
		_, frag, _ := strings.Cut(qrURL, "#")
		s += "#" + frag
	}
	return s
}

// QRSize is the pixel size to ask for so that a QR shown cssPx wide stays
// sharp on a screen with the given device pixel ratio, within the server's
// limits.
func QRSize(cssPx int, dpr float64) int {
	if dpr < 1 {
		dpr = 1
	}
	n := int(float64(cssPx)*dpr + 0.5)
	return min(max(n, minQRSize), maxQRSize)
}

// normalizeBase accepts only absolute http(s) URLs and drops a trailing
// slash, so that "http://a:8080/" and "http://a:8080" are one option.
func normalizeBase(s string) string {
	s = strings.TrimSpace(s)
	u, ok := parseURL(s)
	if !ok || (u.scheme != "http" && u.scheme != "https") || u.host == "" || u.rawQuery != "" || u.fragment != "" {
		return ""
	}
	return strings.TrimSuffix(s, "/")
}

// AddressLabel is how the address switcher shows a base: without the
// scheme when it is plain http, since people read "192.168.1.20:8080"
// faster than a full URL.
func AddressLabel(base string) string {
	return strings.TrimPrefix(base, "http://")
}

// WatchCommand is the command that mirrors the session into a folder on
// another computer, through the same address the phone uses (a LAN
// address; the PC's own localhost would be useless there).
func WatchCommand(uploadURL, sessionID string) string {
	base := BaseOf(uploadURL)
	if base == "" || sessionID == "" {
		return ""
	}
	return "qrsync watch " + base + wire.SessionPath(sessionID) + " qrsync-photos"
}

// ParseAddresses reads the answer of GET /api/addresses: {"urls":[…]}.
func ParseAddresses(body []byte) ([]string, bool) {
	var urls []string
	if decodeAddresses(body, &urls) != nil {
		return nil, false
	}
	return urls, true
}

// CodeVersion is a short tag of an upload URL for the QR image's address.
// A new code keeps the same qrUrl, and a browser shows an image it has
// already drawn for an address without asking again, so the address must
// change with the code; the tag does that without putting the upload
// token itself in one more URL. (FNV-1a, 32 bits.)
func CodeVersion(uploadURL string) string {
	h := uint32(2166136261)
	for i := 0; i < len(uploadURL); i++ {
		h ^= uint32(uploadURL[i])
		h *= 16777619
	}
	return strconv.FormatUint(uint64(h), 36)
}
