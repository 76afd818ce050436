package flatimage

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
)

const pngSignature = "\x89PNG\r\n\x1a\n"

// adam7 is the Adam7 passes: x and y of the first pixel, then the steps.
var adam7 = [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}

// PNGChunk builds one PNG chunk of type typ (four letters) with its CRC.
func PNGChunk(typ string, data []byte) []byte {
	if len(typ) != 4 {
		panic(fmt.Sprintf("flatimage: PNG chunk type %q is not four bytes", typ))
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 12+len(data)), uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	return binary.BigEndian.AppendUint32(b, crc.Sum32())
}

// pngStart is the signature, IHDR and, for colour type 3, a one-entry
// PLTE (mid-grey) of a PNG, and the number of channels of its colour type;
// err says why the header would be invalid.
func pngStart(w, h, depth, colorType int, interlaced bool) (b []byte, channels int, err error) {
	if w <= 0 || h <= 0 || w > 1<<31-1 || h > 1<<31-1 {
		return nil, 0, fmt.Errorf("flatimage: PNG of %dx%d: each side must be 1 to 2^31-1", w, h)
	}
	depths := map[int][]int{0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
	ok, found := false, false
	for _, d := range depths[colorType] {
		found = true
		ok = ok || d == depth
	}
	if !found {
		return nil, 0, fmt.Errorf("flatimage: PNG colour type %d does not exist", colorType)
	}
	if !ok {
		return nil, 0, fmt.Errorf("flatimage: PNG colour type %d has no bit depth %d", colorType, depth)
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	il := byte(0)
	if interlaced {
		il = 1
	}
	ihdr = append(ihdr, byte(depth), byte(colorType), 0, 0, il)
	b = append([]byte(pngSignature), PNGChunk("IHDR", ihdr)...)
	if colorType == 3 {
		b = append(b, PNGChunk("PLTE", []byte{0x80, 0x80, 0x80})...)
	}
	channels = map[int]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colorType]
	return b, channels, nil
}

// PNG is a PNG of w x h zero samples with this colour type (0 grey, 2 RGB,
// 3 paletted, with a one-entry mid-grey palette, 4 grey and alpha, 6 RGBA)
// and bit depth, optionally Adam7-interlaced, with the extra chunks (see
// PNGChunk) between the header (IHDR and any PLTE) and IDAT: a tRNS chunk
// there, for example, makes a grey or RGB image decode with alpha.
//
// The rows are compressed as they are, in one IDAT chunk: for images of
// tens of megapixels, PNGBomb builds the stream much faster. The error
// reports a size, colour type or bit depth no PNG can have.
func PNG(w, h, depth, colorType int, interlaced bool, extra ...[]byte) ([]byte, error) {
	b, channels, err := pngStart(w, h, depth, colorType, interlaced)
	if err != nil {
		return nil, err
	}
	for _, c := range extra {
		b = append(b, c...)
	}
	rowBytes := func(pw int) int { return 1 + (channels*depth*pw+7)/8 }
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	if err != nil {
		return nil, err
	}
	row := make([]byte, rowBytes(w))
	passes := [][4]int{{0, 0, 1, 1}}
	if interlaced {
		passes = adam7[:]
	}
	for _, p := range passes {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if pw <= 0 || ph <= 0 {
			continue
		}
		for range ph {
			zw.Write(row[:rowBytes(pw)])
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	b = append(b, PNGChunk("IDAT", z.Bytes())...)
	return append(b, PNGChunk("IEND", nil)...), nil
}

// PNGBomb is a real, complete w x h PNG of zero samples with this colour
// type and bit depth (as for PNG, not interlaced), whose image data are a
// tiny fraction of what they decode to: a 5000x5000 16-bit RGBA PNGBomb is
// about 200 KB announcing 200 MB of samples. A tEXt chunk after the image
// data, "Comment" "bomb <seed>", makes each seed's bytes its own (so that
// a server that recognises an upload it has seen takes each as new).
//
// Compressing hundreds of MB of zeros takes seconds, half a minute under
// the race detector, so the stream is put together instead: one deflate
// block of 1 MiB of zeros, ended on a byte boundary (a flush), repeated,
// then blocks of 16 KiB of zeros the same way, then the rest in a final
// block; every block was compressed from an empty window, so its copies
// refer only to the zeros it wrote itself, and the repetition is valid
// deflate. The Adler-32 of n zeros is (n mod 65521)<<16 | 1. The stream is
// cut into IDAT chunks of 64 KiB, as encoders write them.
//
// PNGBomb panics on a size, colour type or bit depth no PNG can have.
func PNGBomb(w, h, depth, colorType int, seed int) []byte {
	b, channels, err := pngStart(w, h, depth, colorType, false)
	if err != nil {
		panic(err)
	}
	total := int64(h) * (1 + (int64(channels)*int64(depth)*int64(w)+7)/8) // each row: filter byte 0, then its samples
	n := total
	var z bytes.Buffer
	z.Write([]byte{0x78, 0xDA}) // zlib header: deflate, 32 KiB window, best compression
	for _, size := range []int64{bigZeros, smallZeros} {
		block := zeroBlock(size)
		for range n / size {
			z.Write(block)
		}
		n %= size
	}
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	fw.Write(make([]byte, n))
	fw.Close()
	z.Write(binary.BigEndian.AppendUint32(nil, uint32(total%65521)<<16|1))

	data := z.Bytes()
	for len(data) > 0 {
		k := min(len(data), 64<<10)
		b = append(b, PNGChunk("IDAT", data[:k])...)
		data = data[k:]
	}
	b = append(b, PNGChunk("tEXt", fmt.Appendf([]byte("Comment\x00"), "bomb %d", seed))...)
	return append(b, PNGChunk("IEND", nil)...)
}

// The sizes of the deflate blocks of zeros PNGBomb repeats.
const (
	bigZeros   = 1 << 20
	smallZeros = 16 << 10
)

var zeroBlocks = map[int64]func() []byte{
	bigZeros:   sync.OnceValue(func() []byte { return compressZeros(bigZeros) }),
	smallZeros: sync.OnceValue(func() []byte { return compressZeros(smallZeros) }),
}

// zeroBlock is the deflate data of size zeros, compressed from an empty
// window and flushed to a byte boundary, not final.
func zeroBlock(size int64) []byte { return zeroBlocks[size]() }

func compressZeros(size int) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	fw.Write(make([]byte, size))
	fw.Flush()
	return b.Bytes()
}
