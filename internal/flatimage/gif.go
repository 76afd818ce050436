package flatimage

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
)

// GIF is a GIF whose logical screen is w x h and whose one frame is the
// flat mid-grey rectangle r (within the screen, and as small as one likes:
// a 10x10 frame on a 10000x10000 screen is fine),
// interlaced if asked (the rows of a flat frame are all alike, so only the
// flag needs setting). The error is image/gif's, for a frame or screen it
// will not encode (a frame outside the screen, for one).
func GIF(w, h int, r image.Rectangle, interlaced bool) ([]byte, error) {
	frame := image.NewPaletted(r, color.Palette{color.Gray{0x80}, color.Black})
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{
		Image:  []*image.Paletted{frame},
		Delay:  []int{0},
		Config: image.Config{ColorModel: frame.Palette, Width: w, Height: h},
	})
	if err != nil {
		return nil, err
	}
	g := b.Bytes()
	if interlaced {
		off := 13
		if g[10]&0x80 != 0 {
			off += 3 << (g[10]&7 + 1)
		}
		for g[off] == 0x21 {
			off += 2
			for g[off] != 0 {
				off += 1 + int(g[off])
			}
			off++
		}
		if g[off] != 0x2C {
			return nil, errors.New("flatimage: image/gif wrote no image descriptor where expected")
		}
		g[off+9] |= 0x40
	}
	return g, nil
}
