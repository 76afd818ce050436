// Package api holds the JSON shapes that cross the wire between the server,
// the PC page's wasm client and `qrsync watch`. It is deliberately tiny and
// imports nothing but the standard library, so the wasm client can share it
// without pulling in the server's dependencies.
package api

import "time"

// Session is a viewer's handle on one photo drop. ID is the viewer's secret;
// the upload token only appears inside UploadURL.
type Session struct {
	ID        string `json:"id"`
	UploadURL string `json:"uploadUrl"`
	QRURL     string `json:"qrUrl"`
	EventsURL string `json:"eventsUrl"`
	// UploadExpiresAt is when UploadURL (the QR code) stops taking
	// photos; the session and its photos live on until ExpiresAt.
	UploadExpiresAt time.Time `json:"uploadExpiresAt"`
	// ExpiresAt is when the session and its photos are removed. It moves
	// forward with activity: an upload, or a viewer connected.
	ExpiresAt time.Time `json:"expiresAt"`
	// Images is filled only by GET /api/sessions/{id}, oldest first.
	Images []Image `json:"images,omitzero"`
}

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

// Image describes one stored photo. Width and Height are as displayed, after
// EXIF orientation; URL and ThumbURL are paths under the session.
type Image struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"createdAt"`
	// URL and ThumbURL contain the session id, the viewer's secret, so
	// they are left out of answers to the phone (which holds only the
	// upload token) and present everywhere else.
	URL      string `json:"url,omitempty"`
	ThumbURL string `json:"thumbUrl,omitempty"`
	// DisplayURL is an image every browser shows: the original, or a JPEG
	// rendition for formats browsers do not draw (HEIC).
	DisplayURL string `json:"displayUrl,omitempty"`
	// Upload is the opaque id of the upload that brought the image, the
	// one its `upload` progress events carried, so a page can swap its
	// placeholder for the photo.
	Upload string `json:"upload,omitempty"`
}

// UploadResult answers POST /api/upload/{token}. Duplicate lists the ids of
// images whose bytes the session already had, so the phone can say so. Its
// images carry no URL or ThumbURL (see Image).
type UploadResult struct {
	Images    []Image  `json:"images"`
	Duplicate []string `json:"duplicate,omitempty"`
}

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

// Snapshot is the data of a snapshot event: the whole gallery at one point
// of the event log, so that the events after it apply cleanly.
type Snapshot struct {
	Images    []Image   `json:"images"`
	ExpiresAt time.Time `json:"expiresAt"`
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
