package main

import (
	"errors"
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for _, ok := range []string{"Zm9vYmFyYmF6cXV4cXV1eA", "a", "A-b_9", strings.Repeat("x", maxIDLen)} {
		if !ValidID(ok) {
			t.Errorf("ValidID(%q) = false", ok)
		}
	}
	// Anything that could steer a request elsewhere, or is not an id.
	for _, bad := range []string{"", "../x", "a/b", "a?b", "a#b", "a b", "a%2F", "é", "a.b", strings.Repeat("x", maxIDLen+1)} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestPickSession(t *testing.T) {
	tests := []struct {
		hash, stored string
		id           string
		fromLink     bool
	}{
		{"", "", "", false},
		{"", "stored1", "stored1", false},
		{"#s=link1", "stored1", "link1", true},
		{"#s=link1", "", "link1", true},
		{"#s=../../api", "stored1", "stored1", false}, // a bad link never wins
		{"#s=", "stored1", "stored1", false},
		{"#other", "stored1", "stored1", false},
		{"", "not an id", "", false},
	}
	for _, tt := range tests {
		id, fromLink := PickSession(tt.hash, tt.stored)
		if id != tt.id || fromLink != tt.fromLink {
			t.Errorf("PickSession(%q, %q) = %q, %v; want %q, %v", tt.hash, tt.stored, id, fromLink, tt.id, tt.fromLink)
		}
	}
	if !IsSessionHash("#s=../x") || IsSessionHash("#x") || IsSessionHash("") {
		t.Error("IsSessionHash")
	}
}

func TestElsewhereURL(t *testing.T) {
	if got := ElsewhereURL("http://192.168.1.20:8080", "sid"); got != "http://192.168.1.20:8080/#s=sid" {
		t.Errorf("got %q", got)
	}
	if got := ElsewhereURL("https://photos.example/base/", "sid"); got != "https://photos.example/base/#s=sid" {
		t.Errorf("got %q", got)
	}
	if ElsewhereURL("", "sid") != "" || ElsewhereURL("http://a", "") != "" {
		t.Error("empty parts must give no link")
	}
	// The link's fragment is what the page takes back.
	if id, ok := HashID("#" + strings.SplitN(ElsewhereURL("http://a", "sid"), "#", 2)[1]); !ok || id != "sid" {
		t.Errorf("round trip: %q %v", id, ok)
	}
}

func TestClassifyLoad(t *testing.T) {
	for status, want := range map[int]LoadResult{200: LoadShow, 404: LoadForget, 410: LoadEnded, 500: LoadFailed, 503: LoadFailed, 429: LoadFailed, 421: LoadFailed, 0: LoadFailed} {
		if got := ClassifyLoad(status); got != want {
			t.Errorf("ClassifyLoad(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	if got := ErrorMessage(410, []byte(`{"error":{"code":"expired","message":"This session has ended."}}`)); got != "This session has ended." {
		t.Errorf("got %q", got)
	}
	if got := ErrorMessage(502, []byte(`<html>Bad Gateway</html>`)); got != "The server answered 502." {
		t.Errorf("got %q", got)
	}
}

func TestParseSession(t *testing.T) {
	body := []byte(`{"id":"sid","uploadUrl":"http://h/u/t","qrUrl":"/api/sessions/sid/qr.png","eventsUrl":"/api/sessions/sid/events",
		"uploadExpiresAt":"2026-12-01T19:04:00Z","expiresAt":"2026-12-08T18:04:00Z","images":[{"id":"a","name":"a.jpg"}]}`)
	s, err := ParseSession(body, "sid")
	if err != nil || s.ID != "sid" || len(s.Images) != 1 || s.UploadExpiresAt == 0 || s.ExpiresAt == 0 {
		t.Fatalf("ParseSession = %+v, %v", s, err)
	}
	if _, err := ParseSession(body, ""); err != nil {
		t.Fatalf("a new session: %v", err)
	}
	if _, err := ParseSession(body, "other"); !errors.Is(err, errNonsense) {
		t.Fatalf("another session's answer: %v", err)
	}
	if _, err := ParseSession([]byte(`{"id":"../x","eventsUrl":"/e"}`), ""); !errors.Is(err, errNonsense) {
		t.Fatalf("a bad id: %v", err)
	}
	if _, err := ParseSession([]byte(`{"id":"sid"}`), ""); !errors.Is(err, errNonsense) {
		t.Fatalf("no stream: %v", err)
	}
	if _, err := ParseSession([]byte(`<html>`), ""); err == nil {
		t.Fatal("HTML accepted")
	}
}
