// Package flatimage builds small, valid image files that decode to large
// flat images: for tests of decoders, memory budgets and decompression
// bombs.
//
// It writes the encodings the standard encoders do not (progressive or
// CMYK JPEG, interlaced or tRNS PNG, interlaced GIF, any WebP): each is a
// few bytes of entropy-coded data per block or none at all, so a
// 12-megapixel input costs almost nothing to make, while the decoder
// allocates for it exactly as for a photo.
//
// Every builder is deterministic: the same arguments give the same bytes.
// Arguments no valid file can have (a WebP wider than its format allows, a
// PNG colour type and bit depth that do not go together) are programmer
// errors: the builders that return an error report them, the others panic
// on those they check (JPEG.Encode checks none: it writes what it is given).
package flatimage
