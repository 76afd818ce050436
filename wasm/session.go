package main

import (
	"errors"
	"strconv"
	"strings"

	"qrsync/api/wire"
)

// StorageKey is the localStorage key that keeps the session id. The id is
// the viewer's secret and the screen may be shared, so it lives here and
// never in the address bar.
const StorageKey = "qrsync.session"

// hashPrefix starts the fragment of a link that hands a session to this
// page ("Open on another computer", the terminal's link). A fragment is
// never sent to the server nor in a Referer.
const hashPrefix = "#s="

// maxIDLen bounds an id taken from a link or from storage; the server's
// are 24 characters.
const maxIDLen = 128

// ValidID reports whether s can be a session id: URL-safe base64
// characters only, so that an id from a link can never steer a request
// to another path ("../", "?", "#").
//
//go:noinline
func ValidID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// HashID returns the session id of a fragment "#s=<id>", if it is one.
func HashID(hash string) (string, bool) {
	id, ok := strings.CutPrefix(hash, hashPrefix)
	if !ok || !ValidID(id) {
		return "", false
	}
	return id, true
}

// IsSessionHash reports whether a fragment looks like a session link, valid
// or not; either way it must leave the address bar.
func IsSessionHash(hash string) bool { return strings.HasPrefix(hash, hashPrefix) }

// PickSession chooses the session the page opens from the link's fragment
// and the stored id: a link wins (and must then be stored), else the stored
// id, else none ("" and the page creates one).
func PickSession(hash, stored string) (id string, fromLink bool) {
	if id, ok := HashID(hash); ok {
		return id, true
	}
	if ValidID(stored) {
		return stored, false
	}
	return "", false
}

// ElsewhereURL is the link that opens this session on another computer:
// the page at base with the id in the fragment.
func ElsewhereURL(base, id string) string {
	if base == "" || id == "" {
		return ""
	}
	return strings.TrimSuffix(base, "/") + "/" + hashPrefix + id
}

// LoadResult is what the page does with the answer to GET of its stored
// session.
type LoadResult int

// The outcomes of loading a session.
const (
	// LoadShow: it lives; show it.
	LoadShow LoadResult = iota + 1
	// LoadForget: it never existed (404): forget it and make a new one.
	LoadForget
	// LoadEnded: it ended (410): say so, and let the user start anew.
	LoadEnded
	// LoadFailed: anything else (5xx, a proxy's page): say so and offer
	// to try again, keeping the id.
	LoadFailed
)

// ClassifyLoad tells what an HTTP status of GET /api/sessions/{id} means.
func ClassifyLoad(status int) LoadResult {
	switch status {
	case 200:
		return LoadShow
	case 404:
		return LoadForget
	case 410:
		return LoadEnded
	}
	return LoadFailed
}

// ErrorMessage picks the person-readable message out of an error body, or
// says what the status was.
func ErrorMessage(status int, body []byte) string {
	var e wire.ErrorBody
	if decodeErrorBody(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return fill(T.ErrStatus, "{status}", strconv.Itoa(status))
}

// errNonsense is an answer that parses but is not a usable session.
var errNonsense = errors.New("the server's answer is not a session")

// ParseSession reads a Session answer and checks that the page can use it.
// want is the id asked for ("" for a new session).
func ParseSession(body []byte, want string) (Session, error) {
	var s Session
	if err := decodeSession(body, &s); err != nil {
		return s, err
	}
	if !ValidID(s.ID) || s.EventsURL == "" || (want != "" && s.ID != want) {
		return s, errNonsense
	}
	return s, nil
}
