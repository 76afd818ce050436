package photo

import (
	"bytes"
	"errors"
)

// Format is an accepted image format, named by what its bytes say (Sniff),
// never by a file name or a client's Content-Type, which a phone may get
// wrong and an attacker may choose.
type Format string

// The accepted formats. They are the ones every browser shows and pure Go
// decodes, so the server can both make a thumbnail and serve the original.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	WebP Format = "webp"
)

// ContentType is the MIME type to serve the original with ("image/jpeg",
// ...), so the server never echoes a client-supplied type. It is
// "application/octet-stream" for anything that is not an accepted format.
func (f Format) ContentType() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case GIF:
		return "image/gif"
	case WebP:
		return "image/webp"
	}
	return "application/octet-stream"
}

// Ext is the conventional file name extension (".jpg", ...), for naming a
// download whose client-supplied name is missing or lies. It is "" for
// anything that is not an accepted format.
func (f Format) Ext() string {
	switch f {
	case JPEG:
		return ".jpg"
	case PNG:
		return ".png"
	case GIF:
		return ".gif"
	case WebP:
		return ".webp"
	}
	return ""
}

// messageError is a sentinel with a message for a person and an error it
// is a kind of (so ErrHEIC is also ErrUnsupported).
type messageError struct {
	msg  string
	kind error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.kind }

// Errors returned by Sniff and Process, always wrapped with %w and detail,
// so callers decide with errors.Is and can show Error() to a person. The
// server maps ErrUnsupported (and so ErrHEIC) to 415 and ErrTooManyPixels
// and ErrCorrupt to 422.
var (
	// ErrUnsupported: the bytes are not one of the accepted formats (SVG,
	// HTML, PDF, zip, text, AVIF, empty, ...), or are an animated WebP,
	// which the pure-Go decoder cannot read. Accepting only sniffed raster
	// formats keeps scriptable content (SVG, HTML) out of storage.
	ErrUnsupported = errors.New("unsupported file type: send a JPEG, PNG, GIF or WebP image")

	// ErrHEIC: an HEIC/HEIF photo, the iPhone default. Pure Go cannot
	// decode it, so the message tells the user what to do instead. It
	// wraps ErrUnsupported.
	ErrHEIC error = &messageError{
		msg: "HEIC/HEIF photos are not supported: on the iPhone choose Settings > Camera > Formats > " +
			"Most Compatible, or share the photo as JPEG",
		kind: ErrUnsupported,
	}

	// ErrTooManyPixels: the header announces more pixels than allowed.
	// It is decided from the header alone, before any pixel memory is
	// allocated, because a few bytes can announce gigabytes.
	ErrTooManyPixels = errors.New("image has too many pixels")

	// ErrCorrupt: the bytes start like an accepted format but cannot be
	// decoded: truncated, damaged, nonsense header (zero size, ...), or a
	// header larger than MaxHeaderBytes.
	ErrCorrupt = errors.New("image is damaged or incomplete")
)

// SniffLen is how many leading bytes Sniff wants to see. Fewer are fine
// for a short file; the magic numbers fit in 12 bytes, the rest is room for
// the HEIF/AVIF brand list.
const SniffLen = 64

// heifBrands are ISO-BMFF 'ftyp' brands of HEIC/HEIF still images and
// sequences (ISO/IEC 23008-12). mif1/msf1 are the generic HEIF brands; an
// AVIF file lists them too, which is why AVIF is checked first.
var heifBrands = []string{"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"}

// Sniff tells the format from the first bytes of a file (magic numbers,
// up to SniffLen bytes are looked at). It returns ErrHEIC for HEIC/HEIF,
// ErrUnsupported (wrapped) for anything else that is not JPEG, PNG, GIF or
// WebP, including empty input. It never trusts names or declared types.
func Sniff(head []byte) (Format, error) {
	switch {
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return JPEG, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case bytes.HasPrefix(head, []byte("GIF87a")) || bytes.HasPrefix(head, []byte("GIF89a")):
		return GIF, nil
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WebP, nil
	}
	if len(head) == 0 {
		return "", errorf(ErrUnsupported, "the file is empty")
	}
	if brands, ok := ftypBrands(head); ok {
		for _, b := range brands {
			if b == "avif" || b == "avis" {
				return "", errorf(ErrUnsupported, "AVIF is not supported")
			}
		}
		for _, b := range brands {
			for _, h := range heifBrands {
				if b == h {
					return "", ErrHEIC
				}
			}
		}
		return "", errorf(ErrUnsupported, "ISO media file (brand %q)", brands[0])
	}
	return "", ErrUnsupported
}

// ftypBrands returns the major and compatible brands of a leading ISO-BMFF
// 'ftyp' box, as far as head holds them.
func ftypBrands(head []byte) ([]string, bool) {
	if len(head) < 12 || string(head[4:8]) != "ftyp" {
		return nil, false
	}
	size := int(be32(head[0:4]))
	if size < 16 || size > len(head) {
		size = len(head) // box larger than what we were given (or bogus): use what we have
	}
	brands := []string{string(head[8:12])} // major brand; head[12:16] is the minor version
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(head[i:i+4]))
	}
	return brands, true
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
