package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"testing"
	"time"
)

// sofHeader is SOI plus a frame header with the given marker (0xC0
// baseline, 0xC2 progressive) and per-component sampling factors.
func sofHeader(marker byte, w, h uint16, sampling ...byte) []byte {
	seg := []byte{8}
	seg = binary.BigEndian.AppendUint16(seg, h)
	seg = binary.BigEndian.AppendUint16(seg, w)
	seg = append(seg, byte(len(sampling)))
	for i, s := range sampling {
		seg = append(seg, byte(i+1), s, 0)
	}
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0} // SOI, a tiny APP0
	b = append(b, 0xFF, marker)
	b = binary.BigEndian.AppendUint16(b, uint16(len(seg)+2))
	return append(b, seg...)
}

func TestDecodeCost(t *testing.T) {
	const mp = 10_000_000 // 10 megapixels: 5000x2000
	tests := []struct {
		name   string
		f      Format
		model  color.Model
		header []byte
		want   int64
	}{
		{"png 8-bit RGBA", PNG, color.NRGBAModel, nil, 4 * mp},
		{"png 16-bit RGBA", PNG, color.NRGBA64Model, nil, 8 * mp},
		{"png gray", PNG, color.GrayModel, nil, mp},
		{"gif palette", GIF, color.Palette{color.Black, color.White}, nil, mp},
		{"webp lossy", WebP, color.YCbCrModel, nil, 3 * mp},
		{"unknown model counts widest", PNG, color.ModelFunc(func(c color.Color) color.Color { return c }), nil, 8 * mp},
		{"jpeg baseline 4:2:0", JPEG, color.YCbCrModel, sofHeader(0xC0, 5000, 2000, 0x22, 0x11, 0x11), mp * 3 / 2},
		{"jpeg baseline 4:4:4", JPEG, color.YCbCrModel, sofHeader(0xC0, 5000, 2000, 0x11, 0x11, 0x11), 3 * mp},
		{"jpeg baseline gray", JPEG, color.GrayModel, sofHeader(0xC0, 5000, 2000, 0x11), mp},
		{"jpeg progressive 4:2:0", JPEG, color.YCbCrModel, sofHeader(0xC2, 5000, 2000, 0x22, 0x11, 0x11), mp * 15 / 2},
		{"jpeg progressive 4:4:4", JPEG, color.YCbCrModel, sofHeader(0xC2, 5000, 2000, 0x11, 0x11, 0x11), 15 * mp},
		{"jpeg without a frame header", JPEG, color.YCbCrModel, []byte{0xFF, 0xD8}, 3 * mp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeCost(tt.f, image.Config{ColorModel: tt.model, Width: 5000, Height: 2000}, tt.header)
			if got != tt.want {
				t.Errorf("cost %d, want %d", got, tt.want)
			}
		})
	}
}

// A tiny PNG whose header asks for 10000x10000 at 16 bits per channel is
// within 100 megapixels but would decode into 800 MB: it is refused from
// the header, at once.
func TestProcessRefusesDecodeOverMemoryBudget(t *testing.T) {
	ihdr := binary.BigEndian.AppendUint32(nil, 10000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 10000)
	ihdr = append(ihdr, 16, 6, 0, 0, 0) // 16-bit RGBA
	png16 := append([]byte(pngSignature), pngChunk("IHDR", ihdr)...)
	png16 = append(png16, pngChunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x60, 0, 0, 0, 2, 0, 1})...)
	png16 = append(png16, pngChunk("IEND", nil)...)
	start := time.Now()
	_, err := Process(bytes.NewReader(png16), Options{}, &bytes.Buffer{})
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("err = %v, want ErrTooManyPixels", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: it must be refused from the header, not decoded", d)
	}
	t.Log(err)
}
