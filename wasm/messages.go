package main

import (
	"strings"
	"unsafe"
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

// texts is each plain text's catalog key and where its field is in
// Messages. It is a table of offsets rather than a map or a function of
// &m.Field pointers because those compile to code per field, and this
// table is data: the wasm binary is the page's download.
var texts = [...]struct {
	key string
	off uintptr
}{
	{"pc.status.connecting", unsafe.Offsetof(Messages{}.StatusConnecting)},
	{"pc.status.live", unsafe.Offsetof(Messages{}.StatusLive)},
	{"pc.status.reconnecting", unsafe.Offsetof(Messages{}.StatusReconnecting)},
	{"pc.status.ended", unsafe.Offsetof(Messages{}.StatusEnded)},
	{"pc.count.none", unsafe.Offsetof(Messages{}.CountNone)},
	{"pc.codeUntil", unsafe.Offsetof(Messages{}.CodeUntil)},
	{"pc.codeUntilDate", unsafe.Offsetof(Messages{}.CodeUntilDate)},
	{"pc.codeExpiredAt", unsafe.Offsetof(Messages{}.CodeExpiredAt)},
	{"pc.keptUntil", unsafe.Offsetof(Messages{}.KeptUntil)},
	{"pc.warnToday", unsafe.Offsetof(Messages{}.WarnToday)},
	{"pc.warnTomorrow", unsafe.Offsetof(Messages{}.WarnTomorrow)},
	{"pc.warnNow", unsafe.Offsetof(Messages{}.WarnNow)},
	{"pc.dateFormat", unsafe.Offsetof(Messages{}.DateFormat)},
	{"pc.downloadAllCount", unsafe.Offsetof(Messages{}.DownloadAll)},
	{"pc.viewerPosition", unsafe.Offsetof(Messages{}.ViewerPosition)},
	{"pc.openPhoto", unsafe.Offsetof(Messages{}.OpenPhoto)},
	{"pc.downloadPhoto", unsafe.Offsetof(Messages{}.DownloadPhoto)},
	{"pc.deletePhoto", unsafe.Offsetof(Messages{}.DeletePhoto)},
	{"pc.dismissUpload", unsafe.Offsetof(Messages{}.DismissUpload)},
	{"pc.uploadProgress", unsafe.Offsetof(Messages{}.UploadProgress)},
	{"pc.uploadWaiting", unsafe.Offsetof(Messages{}.UploadWaiting)},
	{"pc.uploadFailed", unsafe.Offsetof(Messages{}.UploadFailed)},
	{uploadErrorKey + "other", unsafe.Offsetof(Messages{}.UploadErrorOther)},
	{"pc.copy", unsafe.Offsetof(Messages{}.Copy)},
	{"pc.copied", unsafe.Offsetof(Messages{}.Copied)},
	{"pc.copyYourself", unsafe.Offsetof(Messages{}.CopyYourself)},
	{"pc.confirmDelete", unsafe.Offsetof(Messages{}.ConfirmDelete)},
	{"pc.confirmDeleteOK", unsafe.Offsetof(Messages{}.ConfirmDeleteOK)},
	{"pc.confirmNewSession", unsafe.Offsetof(Messages{}.ConfirmNewSession)},
	{"pc.confirmNewSessionNoDate", unsafe.Offsetof(Messages{}.ConfirmNewSessionNo)},
	{"pc.confirmNewSessionOK", unsafe.Offsetof(Messages{}.ConfirmNewSessionOK)},
	{"pc.err.unreachable", unsafe.Offsetof(Messages{}.ErrUnreachable)},
	{"pc.err.nonsense", unsafe.Offsetof(Messages{}.ErrNonsense)},
	{"pc.err.status", unsafe.Offsetof(Messages{}.ErrStatus)},
	{"pc.err.start", unsafe.Offsetof(Messages{}.ErrStart)},
	{"pc.err.newCode", unsafe.Offsetof(Messages{}.ErrNewCode)},
	{"pc.err.delete", unsafe.Offsetof(Messages{}.ErrDelete)},
	{"pc.err.newSession", unsafe.Offsetof(Messages{}.ErrNewSession)},
}

// text is the field of m at off, an offset from texts.
func (m *Messages) text(off uintptr) *string {
	return (*string)(unsafe.Add(unsafe.Pointer(m), off))
}

// MessagesFrom builds the page's Messages from its catalog's "pc."
// messages, and names the keys it needed and did not find (a server and a
// client out of step), so the caller can say so.
func MessagesFrom(cat map[string]string) (*Messages, []string) {
	m := &Messages{Count: map[string]string{}, UploadErrors: map[string]string{}}
	var missing []string
	for _, t := range texts {
		s, ok := cat[t.key]
		if !ok {
			missing = append(missing, t.key)
		}
		*m.text(t.off) = s
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
// exactly len(dst) names. Only ASCII spaces separate (strings.Fields
// would bring the Unicode space table): a catalog's names may hold a
// no-break space.
func names(list string, dst []string) bool {
	n := 0
	for list != "" {
		i := 0
		for i < len(list) && asciiSpace(list[i]) {
			i++
		}
		j := i
		for j < len(list) && !asciiSpace(list[j]) {
			j++
		}
		if i < j {
			if n < len(dst) {
				dst[n] = list[i:j]
			}
			n++
		}
		list = list[j:]
	}
	return n == len(dst)
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
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
// their braces) and values. It is strings.ReplaceAll for non-empty keys,
// without the general Replace's code in the wasm.
func fill(tmpl string, kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		key, out := kv[i], ""
		for {
			j := strings.Index(tmpl, key)
			if j < 0 || key == "" {
				break
			}
			out += tmpl[:j] + kv[i+1]
			tmpl = tmpl[j+len(key):]
		}
		tmpl = out + tmpl
	}
	return tmpl
}
