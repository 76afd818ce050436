package main

import (
	"net/netip"
	"net/url"
	"testing"
)

var urlCases = []string{
	"http://192.168.1.20:8080/u/tok", "HTTPS://Photos.Example.org/qrsync/u/tok", "http://[fe80::1]:8080/u/t",
	"http://[fe80::1%25en0]:8080/", "http://[fe80::1%en0]/", "http://[::ffff:1.2.3.4]/", "http://[1.2.3.4]/",
	"http://[::1]", "http://[::]/", "http://[1:2:3:4:5:6:7:8]/", "http://[1:2:3:4:5:6:7:8:9]/", "http://[1:2:3:4:5:6:7::]/",
	"http://[1::2::3]/", "http://[:1]/", "http://[1:]/", "http://[12345::]/", "http://[::1.2.3]/", "http://[::01.2.3.4]/",
	"http://[1:2:3:4:5:6:1.2.3.4]/", "http://[1:2:3:4:5:6:7:1.2.3.4]/", "http://[::1]x/", "http://[::1]:/", "http://x[::1]/",
	"http://[::1/", "http://[::1%25]/", "http://[::1%25%41]/", "http://[::1%25%00]/", "http://[::1%25%20]/",
	"http://a:b:c/", "ftp://a:b:c/", "http://host:port/", "http://host:/", "http://host:80a/",
	"http://user:pass@host/", "http://us er@host/", "http://a@b@host/", "http://%zz@host/", "http://host/%zz",
	"http://host/#%zz", "http://host/#frag", "http://host/#", "http://host/?", "http://host/?a=1", "http://host?x",
	"http://ho st/", "http://ho%41st/", "http://ho%c3%a9st/", "http://hé.st/", "http://host\x7f/", "http://host/\n",
	"http://host/a\tb", "http://", "http:", "http:/x", "http:///x", "//host/x", "///x", "/u/tok", "::", ":x", "a:b",
	"1http://x", "h+t-t.p://x/", "not a url", "", "*", "mailto:x@y", "javascript:alert(1)", "ftp://x", "a/b:c", "./a:b",
	"http://h/u/t#s=x", "http://{h}/", "http://h|x/", "http://h\\x/", "http://h^/", "http://h%/", "http://h%2/",
	"/api/sessions/abc/qr.png?size=100&w=2", "/q?a=1;b=2&c=%zz&d=+x+&&=e&f", "http://h/q#a#b",
}

// TestParseURLMatchesNetURL: parseURL must accept exactly what url.Parse
// accepts and read the same scheme, host, query and fragment.
func TestParseURLMatchesNetURL(t *testing.T) {
	for _, s := range urlCases {
		checkURL(t, s)
	}
}

func checkURL(t *testing.T, s string) {
	t.Helper()
	want, err := url.Parse(s)
	got, ok := parseURL(s)
	if ok != (err == nil) {
		t.Errorf("parseURL(%q) ok = %v, url.Parse error %v", s, ok, err)
		return
	}
	if !ok {
		return
	}
	if got.scheme != want.Scheme || got.host != want.Host || got.rawQuery != want.RawQuery || got.fragment != want.Fragment {
		t.Errorf("parseURL(%q) = %+v, url.Parse %q %q %q %q", s, got, want.Scheme, want.Host, want.RawQuery, want.Fragment)
	}
}

func FuzzParseURLMatchesNetURL(f *testing.F) {
	for _, s := range urlCases {
		f.Add(s)
	}
	f.Fuzz(checkURL)
}

// TestQueryMatchesNetURL: the query is read and written as url.Values
// does.
func TestQueryMatchesNetURL(t *testing.T) {
	for _, q := range []string{"", "a=1", "size=100&w=2", "b=2&a=1&b=3", "a=1;b=2&c=%zz&d=+x+&&=e&f", "k%20y=v%2Bw&z=é", "x=a%26b"} {
		want, _ := url.ParseQuery(q)
		want.Set("size", "320")
		want.Set("base", "http://10.0.0.5:8080/a b")
		got := parseQuery(q)
		got = setQuery(got, "size", "320", true)
		got = setQuery(got, "base", "http://10.0.0.5:8080/a b", true)
		if g, w := encodeQuery(got), want.Encode(); g != w {
			t.Errorf("query %q: %q, want %q", q, g, w)
		}
	}
}

// TestValidIPv4 holds validIPv4 to netip's dotted quads.
func TestValidIPv4(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5",
		"1..3.4", ".1.2.3", "1.2.3.", "01.2.3.4", "1.2.3.04", "1.2.3.a", "", "...", "1234.1.1.1", "1.2.3.4 ",
	} {
		a, err := netip.ParseAddr(s)
		want := err == nil && a.Is4()
		if got := validIPv4(s); got != want {
			t.Errorf("validIPv4(%q) = %v, want %v", s, got, want)
		}
	}
}
