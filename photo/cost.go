package photo

import (
	"encoding/binary"
	"image"
	"image/color"
)

// bytesPerAllowedPixel turns the pixel limit into a memory budget for one
// decode. The pixel count alone does not bound memory: a 772 KB PNG of
// 10000×10000 16-bit RGBA is within 100 megapixels yet decodes into 800
// MB, and a progressive JPEG keeps 4 bytes of coefficients per pixel and
// component besides its pixels. So the limit is applied to the bytes the
// decoder will allocate, as if every allowed pixel were 8-bit RGBA.
const bytesPerAllowedPixel = 4

// decodeCost estimates the bytes the standard decoders allocate for an
// image with this header. header holds the bytes DecodeConfig read, which
// for JPEG include the frame header (SOF) with its sampling factors.
func decodeCost(f Format, cfg image.Config, header []byte) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	if f == JPEG {
		if c, ok := jpegCost(header, px); ok {
			return c
		}
	}
	return px * bytesPerPixel(cfg.ColorModel)
}

// bytesPerPixel is the size of one pixel in the image type a decoder
// returns for this colour model; unknown models count as the widest.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at most; subsampled chroma is less
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// jpegCost reads the frame header for the components and their sampling
// factors: the decoded image holds one byte per sample, and a progressive
// frame adds a 64×int32 block of coefficients per 8×8 block of samples,
// i.e. 4 bytes per sample.
func jpegCost(header []byte, px int64) (int64, bool) {
	sof, progressive, ok := findSOF(header)
	if !ok || len(sof) < 6 {
		return 0, false
	}
	n := int(sof[5])
	if n < 1 || len(sof) < 6+3*n {
		return 0, false
	}
	var hmax, vmax int64 = 1, 1
	for i := range n {
		s := sof[6+3*i+1]
		hmax, vmax = max(hmax, int64(s>>4)), max(vmax, int64(s&0x0f))
	}
	// Samples per pixel, in 1/(hmax*vmax) units to stay in integers.
	var samples int64
	for i := range n {
		s := sof[6+3*i+1]
		samples += int64(s>>4) * int64(s&0x0f)
	}
	perPixel := samples // bytes of image, per hmax*vmax pixels
	if progressive {
		perPixel += 4 * samples
	}
	return px * perPixel / (hmax * vmax), true
}

// findSOF walks the marker segments of a JPEG header to its frame header
// and returns the segment's payload and whether it is progressive.
func findSOF(b []byte) (payload []byte, progressive, ok bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, false, false
	}
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return nil, false, false
		}
		m := b[i+1]
		if m == 0xFF { // fill byte
			i++
			continue
		}
		l := int(binary.BigEndian.Uint16(b[i+2:]))
		if l < 2 || i+2+l > len(b) {
			return nil, false, false
		}
		seg := b[i+4 : i+2+l]
		switch {
		case m == 0xC0 || m == 0xC1:
			return seg, false, true
		case m == 0xC2:
			return seg, true, true
		case m == 0xDA || m == 0xD9:
			return nil, false, false
		}
		i += 2 + l
	}
	return nil, false, false
}
