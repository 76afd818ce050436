package photo

import (
	"bytes"
	"errors"
	"slices"
)

// Format is an accepted image format, named by what its bytes say (Sniff),
// never by a file name or a client's Content-Type, which a phone may get
// wrong and an attacker may choose.
type Format string

// The accepted formats. JPEG, PNG, GIF and WebP are the ones every
// browser shows and pure Go decodes; HEIC (HEVC-coded HEIF, the iPhone's
// default) is decoded by libheif without cgo (see heic.go), and browsers
// are given a JPEG rendition of it (NeedsRendition).
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	WebP Format = "webp"
	HEIC Format = "heic"
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
	case HEIC:
		return "image/heic"
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
	case HEIC:
		return ".heic"
	}
	return ""
}

// Errors returned by Sniff and Process, always wrapped with %w and detail,
// so callers decide with errors.Is and can show Error() to a person. The
// server maps ErrUnsupported to 415 and ErrTooManyPixels and ErrCorrupt
// to 422.
var (
	// ErrUnsupported: the bytes are not one of the accepted formats (SVG,
	// HTML, PDF, zip, text, AVIF, empty, ...), or are an animated WebP,
	// which the pure-Go decoder cannot read, or a HEIF file that is not an
	// HEVC still image (an image sequence, AVIF, another codec) or whose
	// layout this package does not follow. Accepting only sniffed raster
	// formats keeps scriptable content (SVG, HTML) out of storage.
	ErrUnsupported = errors.New("unsupported file type: send a JPEG, PNG, GIF, WebP or HEIC image")

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

// heifStillBrands are the ISO-BMFF 'ftyp' brands of HEIF still images
// (ISO/IEC 23008-12): HEVC-coded ones, and mif1, the generic brand, whose
// primary image Process checks is HEVC. An AVIF file lists mif1 too,
// which is why AVIF is checked first.
var heifStillBrands = []string{"heic", "heix", "heim", "heis", "mif1"}

// heifSequenceBrands are those of HEIF image sequences (a 'moov' track,
// burst or animation), which are not accepted.
var heifSequenceBrands = []string{"hevc", "hevx", "msf1"}

// Sniff tells the format from the first bytes of a file (magic numbers,
// up to SniffLen bytes are looked at). It returns ErrUnsupported (wrapped)
// for anything that is not JPEG, PNG, GIF, WebP or a HEIF still image,
// including empty input and AVIF. It never trusts names or declared types.
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
			if slices.Contains(heifStillBrands, b) {
				return HEIC, nil
			}
		}
		for _, b := range brands {
			if slices.Contains(heifSequenceBrands, b) {
				return "", errorf(ErrUnsupported, "HEIF image sequences are not supported")
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
