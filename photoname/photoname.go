// Package photoname makes file names from the names phones send: safe to
// create on any common system, and unique in a folder or an archive. The
// watch command, the archive download and --save-to all name files
// through it, so a photo is called the same wherever it lands.
package photoname

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameBytes bounds a file name made from an image's name, extension
// included. File systems allow 255 bytes (ext4, APFS) or 255 UTF-16 units
// (NTFS); staying well under leaves room for the " (N)" that keeps names
// unique, and a UTF-8 name of 200 bytes is never more than 200 UTF-16 units.
const MaxNameBytes = 200

// maxExtBytes is the longest tail after the last dot still treated as an
// extension; anything longer is part of the name.
const maxExtBytes = 16

// fallbackStem names a photo whose name has nothing usable left.
const fallbackStem = "photo"

// extensions lists, per content type the server accepts, the extensions
// that may stand; the first is the one added when the name has none of them.
var extensions = map[string][]string{
	"image/jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
	"image/png":  {".png"},
	"image/gif":  {".gif"},
	"image/webp": {".webp"},
	// HEIC: HEVC-coded HEIF, as iPhones name it; ".heif" and ".hif" are
	// the other names its files go by.
	"image/heic": {".heic", ".heif", ".hif"},
	"image/heif": {".heif", ".heic", ".hif"},
}

// windowsReserved are device names Windows resolves in every folder, with
// any extension: "CON.jpg" cannot be a file there.
var windowsReserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true,
}

// Safe turns an image's name, as the phone sent it, into a file name
// that is safe to create in the watched folder on any common system:
//
//   - only the last path element is kept (both / and \ separate), so a name
//     can never point outside the folder;
//   - invalid UTF-8, control characters and the characters Windows forbids
//     (<>:"/\|?*) become "_", and invisible bidirectional and zero-width
//     formatting characters are dropped, so "gpj.exe" cannot be made to
//     display as "exe.jpg";
//   - leading dots, spaces and dashes are removed (no hidden files, no "."
//     or "..", nothing a shell glob would pass as an option), as are
//     trailing dots and spaces, which Windows strips silently;
//   - device names Windows reserves (CON, NUL, COM1…) get a "_" in front;
//   - the extension always matches the bytes (contentType): a JPEG sent as
//     "page.html" is saved as "page.html.jpg", so the system never opens a
//     photo as something else;
//   - the result is at most MaxNameBytes bytes, cut on a character
//     boundary with the extension kept, and never empty ("photo" + the
//     extension).
//
// The same input always gives the same output; uniqueness in the folder is
// not its job (see Numbered).
func Safe(name, contentType string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case IsInvisible(r):
			// dropped
		case unicode.IsControl(r), r == utf8.RuneError, strings.ContainsRune(`<>:"/\|?*`, r):
			b.WriteByte('_')
		case unicode.IsSpace(r):
			b.WriteByte(' ') // no-break, ideographic, line separator…: a plain one
		default:
			b.WriteRune(r)
		}
	}
	name = b.String()

	name = strings.TrimLeft(name, ". -")
	name = strings.TrimRight(name, ". ")
	stem, ext := splitExt(name)
	stem = strings.TrimRight(stem, ". ")
	if want, known := extensions[strings.ToLower(strings.TrimSpace(contentType))]; known {
		ok := false
		for _, e := range want {
			ok = ok || strings.EqualFold(ext, e)
		}
		if !ok {
			// Keep what the phone called it, but make the bytes decide.
			stem, ext = strings.TrimRight(stem+ext, ". "), want[0]
		}
	}
	if stem == "" {
		stem = fallbackStem
	}
	if r := windowsReservedStem(stem); r {
		stem = "_" + stem
	}
	stem = truncate(stem, MaxNameBytes-len(ext))
	stem = strings.TrimRight(stem, ". ")
	if stem == "" {
		stem = fallbackStem
	}
	return stem + ext
}

// splitExt splits off a short extension: "a.b.jpg" → "a.b", ".jpg".
func splitExt(name string) (stem, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || len(name)-i > maxExtBytes || strings.ContainsRune(name[i:], ' ') {
		return name, ""
	}
	return name[:i], name[i:]
}

// windowsReservedStem reports whether Windows would take a file whose name
// starts with stem (up to its first dot) for a device.
func windowsReservedStem(stem string) bool {
	base, _, _ := strings.Cut(stem, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	if windowsReserved[base] {
		return true
	}
	if len(base) >= 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		switch base[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
			return true
		}
	}
	return false
}

// IsInvisible reports the formatting characters that change how a name is
// displayed without showing: bidirectional controls, zero-width characters
// and the byte order mark.
func IsInvisible(r rune) bool {
	switch {
	case r >= 0x200B && r <= 0x200F, // zero width space/joiners, LRM, RLM
		r >= 0x202A && r <= 0x202E, // bidi embeddings and overrides
		r >= 0x2060 && r <= 0x2069, // word joiner, invisible operators, bidi isolates
		r == 0xFEFF, r == 0x061C, r == 0x00AD:
		return true
	}
	return false
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Numbered returns the i-th candidate for name: the name itself for 1,
// then "stem (2).ext", "stem (3).ext"… as file managers do. The result
// stays within MaxNameBytes + len(" (N)").
func Numbered(name string, i int) string {
	if i <= 1 {
		return name
	}
	stem, ext := splitExt(name)
	return stem + " (" + strconv.Itoa(i) + ")" + ext
}
