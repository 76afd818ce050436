package photo

import (
	"bufio"
	"io"
)

// StripLocation returns a writer that copies an image stream of format f
// to w minus location metadata, so stored originals do not reveal where a
// photo was taken. It streams: memory is bounded by one metadata block
// (at most 64 KiB for JPEG, 1 MiB for a WebP EXIF or PNG eXIf chunk or a
// HEIC Exif item, MaxHeaderBytes for a HEIC header), never by the file.
//
//   - JPEG: the output is exactly as long as the input and only metadata
//     bytes change, so every offset holds, including the MPF (Multi-Picture
//     Format) offsets by which a primary image's APP2 locates the images
//     appended after it. In each APP1 Exif segment the GPS IFD (tag 0x8825)
//     is emptied in place: its entry count becomes 0 and its entries and
//     their out-of-line values are zeroed, so orientation and every other
//     tag stay. An APP1 XMP segment keeps its identifier and gets an empty,
//     valid XMP packet padded with spaces to the same length; extended XMP
//     and APP13 (Photoshop/IPTC, which carries city and location) keep
//     marker and length and have their payload zeroed, which readers skip.
//     This holds for segments anywhere in the primary image (between the
//     scans of a progressive JPEG too) and in every JPEG found after its
//     EOI by its start "FF D8 FF", such as an MPF preview or gain map;
//     there, an APP13 is zeroed only if it has the Photoshop signature, so
//     that those bytes met by chance in other appended data (a motion
//     photo's video) cost it nothing. Entropy-coded data and the bytes
//     between images are copied byte for byte. The primary image must be
//     well formed up to its first scan, where its metadata is; past that, a
//     fault in the structure (of the primary or of an appended image) is
//     not the filter's to judge: the bytes are copied as they are from
//     there, and the search for a next image resumes.
//   - PNG: the GPS IFD of an eXIf chunk is emptied in place as for JPEG and
//     that chunk's CRC recomputed (an eXIf over 1 MiB is dropped);
//     tEXt/zTXt/iTXt chunks whose keyword is "XML:com.adobe.xmp" or an
//     ImageMagick "Raw profile type" exif/xmp/iptc/APP1 are dropped. Every
//     other chunk is copied byte for byte.
//   - WebP: the GPS IFD of the EXIF chunk is emptied in place as for JPEG
//     (an EXIF chunk over 1 MiB stops the filter: it cannot be cleaned and
//     the RIFF sizes forbid dropping it); the XMP chunk's payload is
//     overwritten with an empty, valid XMP packet padded with spaces to the
//     same length, so every RIFF size stays right.
//   - GIF: copied as is (it has no EXIF).
//   - HEIC: the stream is held up to the end of its 'meta' box (at most
//     MaxHeaderBytes), which says where the Exif and XMP items are; then
//     every Exif item's GPS IFD is emptied in place as for JPEG (an Exif
//     item is held, at most 1 MiB) and every XMP item (mime type
//     application/rdf+xml) is overwritten as it passes with an empty
//     packet padded to the same length (zeros if it is compressed). The
//     output is exactly as long as the input, so every 'iloc' offset
//     holds; items before 'meta' are cleaned in what is held. A 'meta'
//     that does not end within MaxHeaderBytes, and metadata in a layout
//     that cannot be cleaned in place (several extents, built from other
//     items, in another file), fail with ErrUnsupported rather than keep
//     their location.
//
// Close flushes and returns an error if the stream was malformed in a way
// that stopped the filter (wrapping ErrCorrupt), ended inside its header,
// or if writing to w failed; Write fails from the first such problem on.
// Then the output is incomplete and the caller must discard it. A JPEG cut
// short once its first scan has begun is not an error: what arrived is
// written, a segment cut off in its middle cleaned as a whole one would
// be. Location kept where this filter does not look is not removed: maker
// notes (inside Exif, in formats private to each camera maker), JPEG COM
// comments, PNG text chunks under other keywords, JPEGs inside other
// segments (an Exif thumbnail), an appended JPEG that starts within the
// length a malformed one before it announced for a segment, and appended
// data that is not JPEG (a motion photo's video). The caller must call
// Close; it does not close w. An f that is not an accepted format fails
// with ErrUnsupported.
func StripLocation(w io.Writer, f Format) io.WriteCloser {
	return newScanner(f, bufio.NewWriterSize(w, stripBufferSize))
}
