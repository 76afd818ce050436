package main

import (
	"slices"
	"strings"
	"testing"
)

const tok = "Zm9vYmFyYmF6cXV4cXV1eA"

func TestBaseOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://192.168.1.20:8080/u/" + tok, "http://192.168.1.20:8080"},
		{"https://photos.example.org/qrsync/u/" + tok, "https://photos.example.org/qrsync"},
		{"http://[fe80::1]:8080/u/" + tok, "http://[fe80::1]:8080"},
		{"http://host:8080/other", "http://host:8080"},
		{"/u/" + tok, ""},
		{"::", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := BaseOf(tt.in); got != tt.want {
				t.Errorf("BaseOf(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestUploadURLFor(t *testing.T) {
	up := "http://192.168.1.20:8080/u/" + tok
	tests := []struct{ name, uploadURL, base, want string }{
		{"other LAN address", up, "http://10.0.0.5:8080", "http://10.0.0.5:8080/u/" + tok},
		{"trailing slash", up, "http://10.0.0.5:8080/", "http://10.0.0.5:8080/u/" + tok},
		{"same base", up, "http://192.168.1.20:8080", up},
		{"base with a path prefix", up, "https://example.org/qrsync", "https://example.org/qrsync/u/" + tok},
		{"prefix in upload URL is replaced", "https://example.org/qrsync/u/" + tok, "http://10.0.0.5:8080", "http://10.0.0.5:8080/u/" + tok},
		{"bad base keeps the link", up, "javascript:alert(1)", up},
		{"empty base keeps the link", up, "", up},
		{"relative upload URL is left alone", "/u/" + tok, "http://10.0.0.5:8080", "/u/" + tok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UploadURLFor(tt.uploadURL, tt.base); got != tt.want {
				t.Errorf("UploadURLFor(%q, %q) = %q, want %q", tt.uploadURL, tt.base, got, tt.want)
			}
		})
	}
}

func TestAddressOptions(t *testing.T) {
	up := "http://192.168.1.20:8080/u/" + tok
	tests := []struct {
		name         string
		uploadURL    string
		candidates   []string
		want         []string
		wantSelected int
	}{
		{"one candidate, the session's own", up, []string{"http://192.168.1.20:8080"}, []string{"http://192.168.1.20:8080"}, 0},
		{"none", up, nil, []string{"http://192.168.1.20:8080"}, 0},
		{"session base second", up,
			[]string{"http://10.0.0.5:8080", "http://192.168.1.20:8080/"},
			[]string{"http://10.0.0.5:8080", "http://192.168.1.20:8080"}, 1},
		{"public URL not among candidates goes first", "https://photos.example.org/u/" + tok,
			[]string{"http://10.0.0.5:8080"},
			[]string{"https://photos.example.org", "http://10.0.0.5:8080"}, 0},
		{"duplicates and junk dropped", up,
			[]string{"http://192.168.1.20:8080", "http://192.168.1.20:8080/", "", "ftp://x", "not a url", "http://10.0.0.5:8080"},
			[]string{"http://192.168.1.20:8080", "http://10.0.0.5:8080"}, 0},
		{"relative upload URL", "/u/" + tok, []string{"http://10.0.0.5:8080"}, []string{"http://10.0.0.5:8080"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, sel := AddressOptions(tt.uploadURL, tt.candidates)
			if !slices.Equal(got, tt.want) || sel != tt.wantSelected {
				t.Errorf("AddressOptions = %q, %d; want %q, %d", got, sel, tt.want, tt.wantSelected)
			}
		})
	}
}

func TestQRSource(t *testing.T) {
	tests := []struct {
		name, qrURL, base string
		size              int
		version           string
		want              string
	}{
		{"default base", "/api/sessions/abc/qr.png", "", 560, "", "/api/sessions/abc/qr.png?size=560"},
		{"chosen base is escaped", "/api/sessions/abc/qr.png", "http://10.0.0.5:8080", 320, "",
			"/api/sessions/abc/qr.png?base=http%3A%2F%2F10.0.0.5%3A8080&size=320"},
		{"existing query kept, size replaced", "/api/sessions/abc/qr.png?size=100&w=2", "", 320, "",
			"/api/sessions/abc/qr.png?size=320&w=2"},
		{"absolute qrUrl", "http://192.168.1.20:8080/api/sessions/abc/qr.png", "", 320, "",
			"http://192.168.1.20:8080/api/sessions/abc/qr.png?size=320"},
		{"version of the code", "/api/sessions/abc/qr.png", "", 320, "1x2y",
			"/api/sessions/abc/qr.png?size=320&v=1x2y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := QRSource(tt.qrURL, tt.base, tt.size, tt.version); got != tt.want {
				t.Errorf("QRSource = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCodeVersion: a new code (a new upload URL, same qrUrl) must change
// the QR image's address, or the browser keeps showing the old picture.
func TestCodeVersion(t *testing.T) {
	a := CodeVersion("http://192.168.1.20:8080/u/tokenA")
	b := CodeVersion("http://192.168.1.20:8080/u/tokenB")
	if a == b || a == "" {
		t.Fatalf("versions %q and %q", a, b)
	}
	if a != CodeVersion("http://192.168.1.20:8080/u/tokenA") {
		t.Fatal("not deterministic")
	}
	if strings.Contains(a, "token") {
		t.Fatalf("version %q leaks the token", a)
	}
}

func TestParseAddresses(t *testing.T) {
	urls, ok := ParseAddresses([]byte(`{"urls":["http://10.0.0.5:8080","http://192.168.1.20:8080"]}`))
	if !ok || len(urls) != 2 || urls[1] != "http://192.168.1.20:8080" {
		t.Fatalf("got %q, %v", urls, ok)
	}
	if _, ok := ParseAddresses([]byte(`<html>`)); ok {
		t.Fatal("HTML accepted")
	}
}

func TestQRSize(t *testing.T) {
	tests := []struct {
		name string
		css  int
		dpr  float64
		want int
	}{
		{"1x", 280, 1, 280},
		{"2x", 280, 2, 560},
		{"odd ratio rounds", 280, 1.25, 350},
		{"clamped up", 50, 1, 128},
		{"clamped down", 280, 4, 1024},
		{"nonsense ratio", 280, 0, 280},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := QRSize(tt.css, tt.dpr); got != tt.want {
				t.Errorf("QRSize(%d, %v) = %d, want %d", tt.css, tt.dpr, got, tt.want)
			}
		})
	}
}

func TestAddressLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://192.168.1.20:8080", "192.168.1.20:8080"},
		{"https://photos.example.org", "https://photos.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := AddressLabel(tt.in); got != tt.want {
				t.Errorf("AddressLabel(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestWatchCommand(t *testing.T) {
	tests := []struct {
		upload, id, want string
	}{
		{"http://192.168.1.20:8080/u/tok", "sid", "qrsync watch http://192.168.1.20:8080/api/sessions/sid qrsync-photos"},
		{"https://photos.example/base/u/tok", "sid", "qrsync watch https://photos.example/base/api/sessions/sid qrsync-photos"},
		{"not a url", "sid", ""},
		{"http://192.168.1.20:8080/u/tok", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.upload, func(t *testing.T) {
			if got := WatchCommand(tt.upload, tt.id); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
