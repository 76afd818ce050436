package main

import (
	"strings"

	"qrsync/api"
)

// Messages is every text the PC page shows, in one language. The code
// never spells a user-visible string itself: it asks T, so a translation
// is one more value of this type (and a line that picks it), not a hunt
// through the code.
//
// Templates carry named slots in braces ({n}, {i}, {time}, {date},
// {name}, {weekday}, {day}, {month}, {received}, {total}, {status},
// {reason}); fill replaces them, so a language can put them in any order.
// Texts written before the client runs (boot.js: "the client is not
// built") and the server's own error messages are not here.
type Messages struct {
	// Lang is the BCP 47 tag the page's <html lang> gets.
	Lang string
	// Title is the document title.
	Title string
	// Static holds the texts of index.html's elements marked
	// data-msg="key" (their text) or data-msg-<attr>="key" (that
	// attribute), by key. index.html carries the same English texts, so
	// the page reads well before the client has loaded.
	Static map[string]string

	StatusConnecting, StatusLive, StatusReconnecting, StatusEnded string

	CountNone, CountOne, CountMany string // CountMany: {n}

	CodeUntil      string // {time}: the code expires today
	CodeUntilDate  string // {date}, {time}: on another day
	CodeExpiredAt  string // {time}
	KeptUntil      string // {date}
	WarnToday      string // {time}
	WarnTomorrow   string // {time}
	WarnNow        string // expiresAt has passed, the server has not said so yet
	DateFormat     string // {weekday}, {day}, {month}
	Weekdays       [7]string
	Months         [12]string
	DownloadAll    string // {n}
	ViewerPosition string // {i}, {n}

	OpenPhoto, DownloadPhoto, DeletePhoto string // aria-labels, {name}
	DismissUpload                         string // aria-label, {name}
	UploadProgress                        string // {received}, {total}
	UploadWaiting                         string // nothing received yet
	UploadFailed                          string // the error tile's heading
	// UploadErrors words a failed upload by its error code when the
	// server sent no message; UploadErrorOther covers any other code.
	UploadErrors     map[string]string
	UploadErrorOther string

	Copy, Copied, CopyYourself string

	ConfirmDelete       string // {name}
	ConfirmDeleteOK     string
	ConfirmNewSession   string // {date}: when the current photos go
	ConfirmNewSessionNo string // the same, when that date is unknown
	ConfirmNewSessionOK string

	ErrUnreachable string
	ErrNonsense    string
	ErrStatus      string // {status}
	ErrStart       string // {reason}
	ErrNewCode     string // {reason}
	ErrDelete      string // {name}, {reason}
	ErrNewSession  string // {reason}
}

// English is the page's language until a translation exists.
var English = Messages{
	Lang:  "en",
	Title: "qrsync — photos from your phone",
	Static: map[string]string{
		"scanTitle":      "Send photos from your phone",
		"scanHint":       "Point your phone's camera at the code, open the link, pick photos.",
		"qrAlt":          "QR code of the upload link",
		"codeExpired":    "This code has expired",
		"codeExpiredSub": "Make a new one to send more photos.",
		"newCode":        "New code",
		"retry":          "Try again",
		"linkLabel":      "Or open this link on the phone",
		"copy":           "Copy",
		"addressLabel":   "Phone can't open it? Try another address of this PC",
		"newSession":     "New session",
		"openElsewhere":  "Open on another computer",
		"elsewhereWarn":  "Whoever has this link or command can see and delete these photos.",
		"elsewhereLink":  "Open this link in a browser there",
		"elsewhereWatch": "Or mirror the photos into a folder there",
		"endedTitle":     "This session has ended.",
		"endedHint":      "Its code no longer takes photos. Start a new session to send more.",
		"photosLabel":    "Received photos",
		"downloadAll":    "Download all",
		"emptyTitle":     "Waiting for photos",
		"emptyHint":      "They appear here the moment they arrive.",
		"viewerLabel":    "Photo viewer",
		"viewerPrev":     "Previous photo",
		"viewerNext":     "Next photo",
		"viewerClose":    "Close",
		"viewerDownload": "Download",
		"viewerDelete":   "Delete",
		"confirmOK":      "OK",
		"cancel":         "Cancel",
		"noscript":       "qrsync needs JavaScript and WebAssembly to show the code.",
	},

	StatusConnecting:   "connecting…",
	StatusLive:         "live",
	StatusReconnecting: "reconnecting…",
	StatusEnded:        "ended",

	CountNone: "No photos yet",
	CountOne:  "1 photo",
	CountMany: "{n} photos",

	CodeUntil:      "Code works until {time}",
	CodeUntilDate:  "Code works until {date}, {time}",
	CodeExpiredAt:  "Code expired at {time}",
	KeptUntil:      "Photos kept until {date}",
	WarnToday:      "Photos will be removed today at {time} — download them to keep them",
	WarnTomorrow:   "Photos will be removed tomorrow at {time} — download them to keep them",
	WarnNow:        "Photos are due to be removed now — download them to keep them",
	DateFormat:     "{weekday} {day} {month}",
	Weekdays:       [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
	Months:         [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	DownloadAll:    "Download all ({n})",
	ViewerPosition: "{i} of {n}",

	OpenPhoto:      "Open {name}",
	DownloadPhoto:  "Download {name}",
	DeletePhoto:    "Delete {name}",
	DismissUpload:  "Dismiss {name}",
	UploadProgress: "{received} of {total}",
	UploadWaiting:  "Starting…",
	UploadFailed:   "Not received",
	UploadErrors: map[string]string{
		api.CodeTooLarge:    "The file is too large.",
		api.CodeUnsupported: "This kind of file can't be added: send JPEG, PNG, GIF, WebP or HEIC photos.",
		api.CodeBadImage:    "The photo is damaged or too large to open.",
		api.CodeTooMany:     "Too many photos at once, or the session is full.",
		api.CodeNoSpace:     "The computer has no room left for photos.",
		api.CodeUnavailable: "The computer was busy. Try sending it again.",
		api.CodeExpired:     "The code expired before the photo arrived.",
	},
	UploadErrorOther: "The photo didn't arrive. Try sending it again.",

	Copy:         "Copy",
	Copied:       "Copied",
	CopyYourself: "Select and copy it yourself",

	ConfirmDelete:       "Delete “{name}”? It is gone for everyone who has this session, and can't be brought back.",
	ConfirmDeleteOK:     "Delete",
	ConfirmNewSession:   "Start a new session with a new code? This page will stop showing the current photos; they stay on the server until {date} and are then removed.",
	ConfirmNewSessionNo: "Start a new session with a new code? This page will stop showing the current photos; they stay on the server until their time is up.",
	ConfirmNewSessionOK: "New session",

	ErrUnreachable: "The qrsync server can't be reached — is it still running?",
	ErrNonsense:    "The server's answer made no sense.",
	ErrStatus:      "The server answered {status}.",
	ErrStart:       "Couldn't start a session: {reason}",
	ErrNewCode:     "Couldn't make a new code: {reason}",
	ErrDelete:      "Couldn't delete {name}: {reason}",
	ErrNewSession:  "Couldn't start a new session: {reason}",
}

// T is the language the page speaks.
var T = &English

// fill replaces each {key} of tmpl by its value; kv alternates keys (with
// their braces) and values.
func fill(tmpl string, kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		tmpl = strings.ReplaceAll(tmpl, kv[i], kv[i+1])
	}
	return tmpl
}
