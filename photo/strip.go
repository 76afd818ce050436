package photo

import (
	"bufio"
	"io"
)

// StripLocation returns a writer that copies an image stream of format f
// to w minus location metadata, so stored originals do not reveal where a
// photo was taken. It streams: memory is bounded by one metadata block
// (at most 64 KiB for JPEG, 1 MiB for a WebP EXIF or PNG eXIf chunk),
// never by the file.
//
//   - JPEG: in each APP1 Exif segment the GPS IFD (tag 0x8825) is emptied
//     in place: its entry count becomes 0 and its entries and their
//     out-of-line values are zeroed, so no offset moves and orientation and
//     every other tag stay. An APP1 XMP segment keeps its identifier and
//     gets an empty, valid XMP packet padded with spaces to the same
//     length; extended XMP and APP13 (Photoshop/IPTC, which carries city
//     and location) keep marker and length and have their payload zeroed,
//     which readers skip. So the output is as long as the input and every
//     offset holds, MPF's included. Everything from SOS on, pixel data
//     included, is copied byte for byte.
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
//
// Close flushes and returns an error if the stream was malformed in a way
// that stopped the filter (wrapping ErrCorrupt), ended inside its header,
// or if writing to w failed; Write fails from the first such problem on.
// Then the output is incomplete and the caller must discard it. Location
// kept by means this filter does not read (maker notes, the Exif of a
// second image appended after a JPEG's EOI such as an MPF preview, text in
// a comment) is not removed. The caller must call Close; it does not close
// w. An f that is not an accepted format fails with ErrUnsupported.
func StripLocation(w io.Writer, f Format) io.WriteCloser {
	return newScanner(f, bufio.NewWriterSize(w, stripBufferSize))
}
