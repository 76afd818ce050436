package server

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"sync"

	qrcode "github.com/skip2/go-qrcode"
)

// qrPNG draws content as a QR code (medium error correction, the usual
// quiet zone) size pixels square, black on white: a 1-bit PNG, pixel for
// pixel what qrcode.Encode draws.
//
// It writes the PNG itself because the QR is on the PC page's critical
// path (docs/DESIGN.md, "The QR before the client"), and image/png spends
// most of qrcode.Encode's time on it: it asks each pixel for its colour
// through an interface, then compresses at the best level. A QR has only
// a few distinct rows, so each is packed once and copied.
func qrPNG(content string, size int) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	modules := q.Bitmap() // the quiet zone included
	n := len(modules)
	size = max(size, n)
	// Each row: filter type 0 (none), then one bit a pixel, 1 = black.
	stride := 1 + (size+7)/8
	raw := make([]byte, size*stride)
	for y := range size {
		line := raw[y*stride : (y+1)*stride]
		my := y * n / size // pixel p shows module p*n/size, as in qrcode.Image
		if y > 0 && my == (y-1)*n/size {
			copy(line, raw[(y-1)*stride:y*stride])
			continue
		}
		for x := range size {
			if modules[my][x*n/size] {
				line[1+x/8] |= 0x80 >> (x % 8)
			}
		}
	}
	var z bytes.Buffer
	zw := zlibWriters.Get().(*zlib.Writer)
	zw.Reset(&z)
	zw.Write(raw) // a bytes.Buffer does not fail
	zw.Close()
	zlibWriters.Put(zw)

	var b bytes.Buffer
	b.Grow(z.Len() + 80)
	b.WriteString("\x89PNG\r\n\x1a\n")
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(size))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(size))
	ihdr[8], ihdr[9] = 1, 3 // bit depth 1, indexed colour; the rest 0
	pngChunk(&b, "IHDR", ihdr[:])
	pngChunk(&b, "PLTE", []byte{0xff, 0xff, 0xff, 0, 0, 0}) // 0 white, 1 black
	pngChunk(&b, "IDAT", z.Bytes())
	pngChunk(&b, "IEND", nil)
	return b.Bytes(), nil
}

// zlibWriters keep their compressors: making one allocates and clears
// more memory than a QR takes to draw.
var zlibWriters = sync.Pool{New: func() any { return zlib.NewWriter(nil) }}

// pngChunk appends one PNG chunk: length, type, data, CRC of type and data.
func pngChunk(b *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	b.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	b.WriteString(typ)
	b.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	b.Write(n[:])
}
