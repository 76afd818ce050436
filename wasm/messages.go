package main

import (
	"strings"
)

// Messages is every text the client writes into the PC page, in the page's
// language. The code never spells a user-visible string itself: it asks T.
// The texts are not in the client: the server renders the page in the
// person's language (locale/*.json) and hands the client that catalog's
// "pc." messages as data, in the page's #messages element, which
// LoadMessages reads. A language is therefore a file on the server, and
// no catalog or translation library weighs on the wasm binary.
//
// Templates carry named slots in braces ({n}, {i}, {time}, {date},
// {name}, {weekday}, {day}, {month}, {received}, {total}, {status},
// {reason}); fill replaces them, so a language can put them in any order.
type Messages struct {
	StatusConnecting, StatusLive, StatusReconnecting, StatusEnded string

	CountNone string
	// Count is "{n} photos" by CLDR plural form ("one", "other", …):
	// CountLabel picks the form with PluralForm.
	Count map[string]string

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

// T is the language the page speaks. Until LoadMessages has run it is
// empty, and every text reads as "".
var T = &Messages{}

// Catalog keys with a meaning beyond one text.
const (
	countKey       = "pc.count|" // + a plural form
	uploadErrorKey = "pc.uploadError."
	weekdaysKey    = "pc.weekdays" // seven names, Sunday first, space-separated
	monthsKey      = "pc.months"   // twelve names, January first, space-separated
)

// texts maps each plain text's catalog key to its field of m.
func (m *Messages) texts() map[string]*string {
	return map[string]*string{
		"pc.status.connecting":       &m.StatusConnecting,
		"pc.status.live":             &m.StatusLive,
		"pc.status.reconnecting":     &m.StatusReconnecting,
		"pc.status.ended":            &m.StatusEnded,
		"pc.count.none":              &m.CountNone,
		"pc.codeUntil":               &m.CodeUntil,
		"pc.codeUntilDate":           &m.CodeUntilDate,
		"pc.codeExpiredAt":           &m.CodeExpiredAt,
		"pc.keptUntil":               &m.KeptUntil,
		"pc.warnToday":               &m.WarnToday,
		"pc.warnTomorrow":            &m.WarnTomorrow,
		"pc.warnNow":                 &m.WarnNow,
		"pc.dateFormat":              &m.DateFormat,
		"pc.downloadAllCount":        &m.DownloadAll,
		"pc.viewerPosition":          &m.ViewerPosition,
		"pc.openPhoto":               &m.OpenPhoto,
		"pc.downloadPhoto":           &m.DownloadPhoto,
		"pc.deletePhoto":             &m.DeletePhoto,
		"pc.dismissUpload":           &m.DismissUpload,
		"pc.uploadProgress":          &m.UploadProgress,
		"pc.uploadWaiting":           &m.UploadWaiting,
		"pc.uploadFailed":            &m.UploadFailed,
		uploadErrorKey + "other":     &m.UploadErrorOther,
		"pc.copy":                    &m.Copy,
		"pc.copied":                  &m.Copied,
		"pc.copyYourself":            &m.CopyYourself,
		"pc.confirmDelete":           &m.ConfirmDelete,
		"pc.confirmDeleteOK":         &m.ConfirmDeleteOK,
		"pc.confirmNewSession":       &m.ConfirmNewSession,
		"pc.confirmNewSessionNoDate": &m.ConfirmNewSessionNo,
		"pc.confirmNewSessionOK":     &m.ConfirmNewSessionOK,
		"pc.err.unreachable":         &m.ErrUnreachable,
		"pc.err.nonsense":            &m.ErrNonsense,
		"pc.err.status":              &m.ErrStatus,
		"pc.err.start":               &m.ErrStart,
		"pc.err.newCode":             &m.ErrNewCode,
		"pc.err.delete":              &m.ErrDelete,
		"pc.err.newSession":          &m.ErrNewSession,
	}
}

// MessagesFrom builds the page's Messages from its catalog's "pc."
// messages, and names the keys it needed and did not find (a server and a
// client out of step), so the caller can say so.
func MessagesFrom(cat map[string]string) (*Messages, []string) {
	m := &Messages{Count: map[string]string{}, UploadErrors: map[string]string{}}
	var missing []string
	for key, field := range m.texts() {
		s, ok := cat[key]
		if !ok {
			missing = append(missing, key)
		}
		*field = s
	}
	for key, s := range cat {
		switch {
		case strings.HasPrefix(key, countKey):
			m.Count[key[len(countKey):]] = s
		case strings.HasPrefix(key, uploadErrorKey) && key != uploadErrorKey+"other":
			m.UploadErrors[key[len(uploadErrorKey):]] = s
		}
	}
	if m.Count["other"] == "" {
		missing = append(missing, countKey+"other")
	}
	if !names(cat[weekdaysKey], m.Weekdays[:]) {
		missing = append(missing, weekdaysKey)
	}
	if !names(cat[monthsKey], m.Months[:]) {
		missing = append(missing, monthsKey)
	}
	return m, missing
}

// decodeMessages reads the page's catalog, a JSON object of strings, into
// cat.
func decodeMessages(b []byte, cat map[string]string) error {
	return decodeJSON(b, func(d *jsonDec) {
		d.members(func(key string) {
			var s string
			d.string(&s)
			cat[key] = s
		})
	})
}

// names splits a space-separated list into dst, reporting whether it had
// exactly len(dst) names.
func names(list string, dst []string) bool {
	f := strings.Fields(list)
	copy(dst, f)
	return len(f) == len(dst)
}

// PluralForm is the CLDR plural form of n in the page's language. This is
// English's rule; in the browser the client asks Intl.PluralRules for the
// page's language instead (main_js.go).
var PluralForm = func(n int) string {
	if n == 1 {
		return "one"
	}
	return "other"
}

// fill replaces each {key} of tmpl by its value; kv alternates keys (with
// their braces) and values.
func fill(tmpl string, kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		tmpl = strings.ReplaceAll(tmpl, kv[i], kv[i+1])
	}
	return tmpl
}
