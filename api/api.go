// Package api holds the JSON shapes that cross the wire between the server,
// the PC page's wasm client and `qrsync watch`. It is deliberately tiny and
// imports nothing but the standard library, so the wasm client can share it
// without pulling in the server's dependencies. Everything without a
// time.Time in it lives in package wire (which the wasm client imports
// instead, to stay clear of package time) and is re-exported here.
package api

import (
	"time"

	"qrsync/api/wire"
)

// Session is a viewer's handle on one photo drop. ID is the viewer's secret;
// the upload token only appears inside UploadURL.
type Session struct {
	ID        string `json:"id"`
	UploadURL string `json:"uploadUrl"`
	QRURL     string `json:"qrUrl"`
	// QRImage is the QR at qrUrl as a data: URL (a PNG), only when the
	// request asked for it with ?qr=<size in pixels>: a page that shows
	// the code at once saves the round trip of fetching it.
	QRImage   string `json:"qrImage,omitempty"`
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

// The URL layout of a session's routes (see package wire).
const (
	SessionsPath   = wire.SessionsPath
	UploadPathMark = wire.UploadPathMark
	UploadAPIPath  = wire.UploadAPIPath
)

// PageFragment introduces a session id in the PC page's URL (see package
// wire).
const PageFragment = wire.PageFragment

// PageURL is the address that opens a session's PC page from base.
func PageURL(base, sessionID string) string { return wire.PageURL(base, sessionID) }

// SessionPath is the path of a session's own routes.
func SessionPath(sessionID string) string { return wire.SessionPath(sessionID) }

// ImagePath is the path of one image of a session (its original bytes).
func ImagePath(sessionID, imageID string) string { return wire.ImagePath(sessionID, imageID) }

// ArchivePath is the path of the zip of every original of a session.
func ArchivePath(sessionID string) string { return wire.ArchivePath(sessionID) }

// UploadLinkPath is the path that replaces a session's upload link.
func UploadLinkPath(sessionID string) string { return wire.UploadLinkPath(sessionID) }

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

// Event names on the session stream (see package wire).
const (
	EventSnapshot = wire.EventSnapshot
	EventImage    = wire.EventImage
	EventRemoved  = wire.EventRemoved
	EventExpired  = wire.EventExpired
	EventUpload   = wire.EventUpload
	EventSession  = wire.EventSession
)

// UploadProgress is the data of an upload event (see package wire).
type UploadProgress = wire.UploadProgress

// Snapshot is the data of a snapshot event: the whole gallery at one point
// of the event log, so that the events after it apply cleanly.
type Snapshot struct {
	Images    []Image   `json:"images"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Removed is the data of a removed event.
type Removed = wire.Removed

// Error codes of the JSON error body (see package wire).
const (
	CodeBadRequest  = wire.CodeBadRequest
	CodeNotFound    = wire.CodeNotFound
	CodeExpired     = wire.CodeExpired
	CodeTooLarge    = wire.CodeTooLarge
	CodeUnsupported = wire.CodeUnsupported
	CodeBadImage    = wire.CodeBadImage
	CodeTooMany     = wire.CodeTooMany
	CodeInternal    = wire.CodeInternal
	CodeUnavailable = wire.CodeUnavailable
	CodeNoSpace     = wire.CodeNoSpace
	CodeMisdirected = wire.CodeMisdirected
)

// ErrorBody is every error answer: {"error":{"code":"…","message":"…"}}.
type ErrorBody = wire.ErrorBody

// ErrorDetail is the inner object of ErrorBody; Message is for a person.
type ErrorDetail = wire.ErrorDetail
