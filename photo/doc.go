// Package photo turns an uploaded image stream into what the server
// stores and shows: the sniffed format, the size as displayed, a JPEG
// thumbnail, and a copy of the original without location metadata. It
// knows nothing about HTTP or storage; it reads an io.Reader and writes
// io.Writers.
//
// # One pass over the bytes
//
// The time that counts is from the phone's last byte to the thumbnail on
// the PC (DESIGN §1). So the server does not receive, then re-read, then
// decode: it tees the upload once into a hasher, into StripLocation (on its
// way to the blob store) and into an io.Pipe whose reader is Process.
// Process decodes while the bytes arrive, so when the last byte lands only
// the tail of the decode, a resize of a small image and a 400 px JPEG
// encode remain (tens of milliseconds for a 12 MP photo). Process drains
// its input to EOF on success so the tee's writer never blocks; on error it
// returns early and the caller closes the pipe with that error.
//
// # Header first
//
// Process reads the header (image.DecodeConfig) before anything else and
// refuses images over Options.MaxPixels right there: a few hundred bytes can
// announce a 65535x65535 JPEG or a 20000x20000 PNG, and the decoders would
// allocate for that before noticing the data is missing. To decode from the
// same single stream, the bytes DecodeConfig consumed are recorded (at most
// MaxHeaderBytes, otherwise ErrCorrupt, so memory stays bounded) and
// replayed in front of the rest of the stream. Decoder panics become
// ErrCorrupt.
//
// EXIF orientation is read by a small streaming scanner that sees every
// byte on its way to the decoder. For JPEG it is in APP1 before the pixels;
// a WebP's EXIF chunk and sometimes a PNG's eXIf come after them, which is
// why orientation is applied to the already-resized thumbnail, once the
// stream has been drained: the transforms commute with scaling and cost
// nothing at 400 px.
//
// # Memory
//
// The pixel count does not bound what a decode allocates: per pixel it is
// 1.5 bytes for a baseline 4:2:0 JPEG, 7.5 progressive, 8 for a 16-bit
// PNG and twice that interlaced, ~9 for a WebP whose alpha plane is
// VP8L-compressed (decoded as a full NRGBA first), and the resize adds
// from 0.2 (a large YCbCr photo) to ~4 (RGBA just twice the thumbnail's
// size). So the cost is worked out from the header, following what the
// decoders and the resize allocate (cost.go has the figures, which
// TestCostMatchesAllocation checks against runtime.MemStats.TotalAlloc on
// every path: within 1%, but for VP8L, which is charged the most its
// transforms can take). What it depends on can lie past DecodeConfig's
// header (a PNG's tRNS, a GIF's first frame descriptor, a WebP's ALPH
// chunk), so Process reads on, recorded, to where the pixel data starts.
//
// The decoded image, and apart from it the resize, may each take 4 bytes
// per allowed pixel (ErrTooManyPixels beyond). Within that, Options.Admit
// lets the server hold all decodes to one shared budget: it is given the
// whole cost before a pixel is decoded, and its release runs once the
// resize is done. Two inputs can still allocate more than admitted: a
// VP8L stream's Huffman tables (up to ~200 MB for a crafted file, a few
// hundred KB in real ones), which only decoding reveals, and a JPEG
// whose Adobe marker after the first scan turns it into RGB (+4 bytes per
// pixel), which no encoder writes.
//
// # Resizing
//
// Decoding dominates. A JPEG is decoded at reduced scale in the DCT
// domain (internal/jpegscale, a fork of image/jpeg with libjpeg-turbo's
// way of entropy decoding): at 1/2, 1/4 or 1/8, the smallest that leaves
// the picture at least the thumbnail's size (jpegscale.ScaleFor), as
// libvips' shrink-on-load does, so a 12 MP photo decodes to 504x378 (only
// the DC term of each block transformed) for well under 1 MB instead of
// ~150 ms and 18 MB, and its thumbnail stays about 40 dB from a full
// decode and Lanczos (TestScaledThumbnailQuality; docs/bench shows both).
// Every coefficient is still entropy-decoded, which is most of what is
// left. That picture is resized by resizeYCbCr, imaging's Lanczos in
// integer arithmetic, for a few ms of CPU. A one-step Lanczos resize of 12 MP with imaging costs ~80 ms more;
// box-averaging integer blocks straight from the decoder's YCbCr planes
// down to 2-4x the target, then Lanczos, costs ~14 ms and stays within
// about half a grey level of the one-step result (BenchmarkResizeOnly,
// TestTwoStepQuality); that is how images that are not decoded at reduced
// scale are resized. A 12 MP thumbnail costs about as much CPU as libvips'
// vipsthumbnail takes for it (BenchmarkThumbnailCPU). Fed at 8 MB/s
// through a pipe, the thumbnail of a 12 MP photo is ready ~17 ms after
// the last byte (BenchmarkTailLatency12MP).
//
// # Location privacy
//
// StripLocation removes GPS from the stored original without re-encoding
// it and without buffering the file. In EXIF the GPS IFD is emptied in
// place (count 0, entries and values zeroed) rather than removed: removing
// it would shift every offset after it, including those of maker notes and
// the embedded thumbnail, which are not all self-describing and so cannot
// be fixed up reliably. Emptying keeps every other offset valid and every
// other tag, orientation included, byte for byte. XMP and IPTC, which also
// carry place names, are dropped in PNG and blanked to the same length in
// JPEG and WebP, where offsets or sizes must not change. A JPEG is followed
// past its end, since phones append more images (MPF previews, HDR gain
// maps) with their own Exif; those are cleaned too. The pixel data is never
// touched.
//
// # HEIC
//
// HEIC (HEVC-coded HEIF, the iPhone's default) is sniffed by its 'ftyp'
// brands. Its header is the 'meta' box, which phones write before the
// pixel data: heif.go reads it (bounded by MaxHeaderBytes, whatever comes
// before it included) for the primary image, its 'ispe' size turned by
// 'irot', its tiles and their SPS, and where each item's bytes are, and
// refuses from it alone a file over MaxPixels, one whose SPS is larger
// than its 'ispe', a grid with tiles beyond its output, AVIF and other
// codecs. The decoder (libheif and libde265 compiled to WebAssembly,
// github.com/gen2brain/heic, or a system libheif) needs the file whole:
// it is read up to the end of its last item once admitted, and decoded in
// a worker process (heicworker.go: wazero's code would stall this
// process's garbage collector). The decoder applies 'irot' and 'imir';
// the Exif orientation is not applied on top (HEIF readers ignore it; an
// iPhone writes it to agree with 'irot'). Browsers cannot show HEIC, so
// Options.Display receives a JPEG rendition from the same decode. Its cost
// (cost.go, heicMemory) was measured like the others', and is large: the
// decoder's memory grows by append, ~25-35 bytes per pixel allocated in
// all. StripLocation cleans the Exif and XMP items in place as they
// stream by (heifstrip.go).
package photo
