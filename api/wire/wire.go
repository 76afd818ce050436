// Package wire is the part of package api without time.Time in it: the URL
// layout, the event names, the error codes and the shapes that carry no
// time. Package api re-exports all of it. The PC page's wasm client imports
// this package instead of api, because importing package time costs the
// client about 37 KB (brotli) of the runtime's metrics and GODEBUG code.
package wire

// The URL layout of a session's routes, in one place for the server, the
// page and the watch command. UploadPathMark is what precedes the upload
// token in an upload URL.
const (
	SessionsPath   = "/api/sessions"
	UploadPathMark = "/u/"
	UploadAPIPath  = "/api/upload/"
)

// PageFragment introduces a session id in the PC page's URL. A fragment
// never leaves the browser (no server, proxy or log sees it), and the page
// moves the id into local storage and clears it from the address bar.
const PageFragment = "#s="

// PageURL is the address that opens a session's PC page from base.
func PageURL(base, sessionID string) string { return base + "/" + PageFragment + sessionID }

// SessionPath is the path of a session's own routes.
func SessionPath(sessionID string) string { return SessionsPath + "/" + sessionID }

// ImagePath is the path of one image of a session (its original bytes).
func ImagePath(sessionID, imageID string) string {
	return SessionPath(sessionID) + "/images/" + imageID
}

// ArchivePath is the path of the zip of every original of a session.
func ArchivePath(sessionID string) string { return SessionPath(sessionID) + "/archive.zip" }

// UploadLinkPath is the path that replaces a session's upload link.
func UploadLinkPath(sessionID string) string { return SessionPath(sessionID) + "/upload-link" }

// Event names on the session stream (DESIGN §4).
const (
	EventSnapshot = "snapshot"
	EventImage    = "image"
	EventRemoved  = "removed"
	EventExpired  = "expired"
	// EventUpload is live news of a file a phone is sending: no id, never
	// replayed (UploadProgress).
	EventUpload = "upload"
	// EventSession carries the session's own fields (a Session without
	// images) when they change: a new upload link, or ExpiresAt moved.
	EventSession = "session"
)

// UploadProgress is the data of an upload event: how much of a file has
// arrived; once it failed, why (Error set); or, when the session already
// held the same bytes, which image it is (Duplicate set), since then no
// image event follows. Total is 0 when the phone did not say how long
// the upload is.
type UploadProgress struct {
	Upload    string       `json:"upload"`
	Name      string       `json:"name"`
	Received  int64        `json:"received"`
	Total     int64        `json:"total"`
	Error     *ErrorDetail `json:"error,omitempty"`
	Duplicate string       `json:"duplicate,omitempty"`
}

// Removed is the data of a removed event.
type Removed struct {
	ID string `json:"id"`
}

// Error codes of the JSON error body (DESIGN §3).
const (
	CodeBadRequest  = "bad_request"
	CodeNotFound    = "not_found"
	CodeExpired     = "expired"
	CodeTooLarge    = "too_large"
	CodeUnsupported = "unsupported_type"
	CodeBadImage    = "bad_image"
	CodeTooMany     = "too_many"
	CodeInternal    = "internal"
	// CodeUnavailable: a backend does not answer or the server is at a
	// global limit; the request may be retried later (503).
	CodeUnavailable = "unavailable"
	// CodeNoSpace: the server's disk budget is spent (507).
	CodeNoSpace = "insufficient_storage"
	// CodeMisdirected: the request named a host this server does not
	// serve (421), as a DNS-rebinding page would.
	CodeMisdirected = "misdirected"
)

// ErrorBody is every error answer: {"error":{"code":"…","message":"…"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inner object of ErrorBody; Message is for a person.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
