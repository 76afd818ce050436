// Package termshot is a terminal in a test: it plays the text a program
// prints (SGR colours, xterm's 256-colour palette, the half-block
// characters QR renderers draw with) on a light or a dark theme, draws
// what a screen would show, and reads a QR code from that picture the way
// a phone does. It is test support, for _test.go files only.
//
// The emulator knows only what a QR renderer needs and rejects anything
// else, so that a stray escape sequence or character makes a test fail
// instead of being silently ignored.
package termshot

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// Theme is what a terminal uses for cells whose colours are the default.
type Theme struct {
	// Name names the theme in test messages.
	Name string
	// Foreground and Background are the default colours.
	Foreground, Background color.RGBA
}

// Light is a light theme: black on white.
var Light = Theme{"light", color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}}

// Dark is a dark theme: light grey on near-black, as most dark themes are.
var Dark = Theme{"dark", color.RGBA{0xd0, 0xd0, 0xd0, 255}, color.RGBA{0x1e, 0x1e, 0x1e, 255}}

// ErrNoCode is wrapped by Scan's error when the text played but no QR code
// could be read from the picture, as opposed to text the emulator rejects.
var ErrNoCode = errors.New("termshot: no QR code read")

// pen is one SGR colour slot; def means "the theme's default".
type pen struct {
	def bool
	c   color.RGBA
}

// Cell is one character cell as shown: its top and bottom halves' colours
// (a module each, in a half-block QR code), and whether the foreground or
// the background in force when it was drawn was the theme's default.
type Cell struct {
	Top, Bottom          color.RGBA
	FgDefault, BgDefault bool
}

// Screen is the result of playing text on a theme.
type Screen struct {
	// Theme is the theme the text was played on.
	Theme Theme
	// Lines are the cells of each text line; a final "\n" adds no line.
	Lines [][]Cell
	// SGRs counts the SGR sequences; Redundant counts those that left the
	// colours as they were, and Repeats the colour settings (other than
	// by reset) that gave a slot the colour it already had.
	SGRs, Redundant, Repeats int
}

// basic16 are xterm's default colours 0–15.
var basic16 = [16]color.RGBA{
	{0x00, 0x00, 0x00, 255}, {0xcd, 0x00, 0x00, 255}, {0x00, 0xcd, 0x00, 255}, {0xcd, 0xcd, 0x00, 255},
	{0x00, 0x00, 0xee, 255}, {0xcd, 0x00, 0xcd, 255}, {0x00, 0xcd, 0xcd, 255}, {0xe5, 0xe5, 0xe5, 255},
	{0x7f, 0x7f, 0x7f, 255}, {0xff, 0x00, 0x00, 255}, {0x00, 0xff, 0x00, 255}, {0xff, 0xff, 0x00, 255},
	{0x5c, 0x5c, 0xff, 255}, {0xff, 0x00, 0xff, 255}, {0x00, 0xff, 0xff, 255}, {0xff, 0xff, 0xff, 255},
}

// xterm256 is xterm's 256-colour palette: the 16 basic colours, the 6×6×6
// cube from 16 to 231, and 24 greys from 232 to 255.
func xterm256(n int) color.RGBA {
	switch {
	case n < 16:
		return basic16[n]
	case n < 232:
		n -= 16
		level := func(v int) uint8 {
			if v == 0 {
				return 0
			}
			return uint8(55 + 40*v)
		}
		return color.RGBA{level(n / 36), level(n / 6 % 6), level(n % 6), 255}
	default:
		g := uint8(8 + 10*(n-232))
		return color.RGBA{g, g, g, 255}
	}
}

// Emulate plays text on a terminal with theme th. Besides "\n" it accepts
// only SGR sequences of colours and resets, and the characters "▀", "▄",
// "█" and " "; anything else is an error.
func Emulate(text string, th Theme) (*Screen, error) {
	s := &Screen{Theme: th, Lines: [][]Cell{nil}}
	fg, bg := pen{def: true}, pen{def: true}
	resolve := func(p pen, def color.RGBA) color.RGBA {
		if p.def {
			return def
		}
		return p.c
	}
	for i := 0; i < len(text); {
		if text[i] == '\x1b' {
			end := strings.IndexByte(text[i:], 'm')
			if !strings.HasPrefix(text[i:], "\x1b[") || end < 0 {
				return nil, fmt.Errorf("termshot: offset %d: unsupported escape sequence %q", i, text[i:min(i+12, len(text))])
			}
			oldFg, oldBg := fg, bg
			repeats, err := applySGR(text[i+2:i+end], &fg, &bg)
			if err != nil {
				return nil, fmt.Errorf("termshot: offset %d: %w", i, err)
			}
			s.Repeats += repeats
			s.SGRs++
			if fg == oldFg && bg == oldBg {
				s.Redundant++
			}
			i += end + 1
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		f, b := resolve(fg, th.Foreground), resolve(bg, th.Background)
		c := Cell{FgDefault: fg.def, BgDefault: bg.def}
		switch r {
		case '\n':
			s.Lines = append(s.Lines, nil)
			continue
		case '▀':
			c.Top, c.Bottom = f, b
		case '▄':
			c.Top, c.Bottom = b, f
		case '█':
			c.Top, c.Bottom = f, f
		case ' ':
			c.Top, c.Bottom = b, b
		default:
			return nil, fmt.Errorf("termshot: offset %d: unsupported character %q", i-size, r)
		}
		last := len(s.Lines) - 1
		s.Lines[last] = append(s.Lines[last], c)
	}
	if len(s.Lines[len(s.Lines)-1]) == 0 {
		s.Lines = s.Lines[:len(s.Lines)-1]
	}
	return s, nil
}

// applySGR applies the parameters of one "\x1b[...m" sequence. It returns
// how many colour settings, other than by reset, gave a slot the colour it
// already had.
func applySGR(params string, fg, bg *pen) (repeats int, err error) {
	if params == "" {
		params = "0"
	}
	var ps []int
	for _, f := range strings.Split(params, ";") {
		n := 0
		if f != "" {
			if n, err = strconv.Atoi(f); err != nil {
				return 0, fmt.Errorf("bad SGR %q", params)
			}
		}
		ps = append(ps, n)
	}
	set := func(slot *pen, p pen) {
		if *slot == p {
			repeats++
		}
		*slot = p
	}
	for i := 0; i < len(ps); i++ {
		p := ps[i]
		switch {
		case p == 0:
			*fg, *bg = pen{def: true}, pen{def: true} // a reset is never a repeat
		case p >= 30 && p <= 37:
			set(fg, pen{c: basic16[p-30]})
		case p >= 90 && p <= 97:
			set(fg, pen{c: basic16[p-90+8]})
		case p == 39:
			set(fg, pen{def: true})
		case p >= 40 && p <= 47:
			set(bg, pen{c: basic16[p-40]})
		case p >= 100 && p <= 107:
			set(bg, pen{c: basic16[p-100+8]})
		case p == 49:
			set(bg, pen{def: true})
		case p == 38 || p == 48:
			target := fg
			if p == 48 {
				target = bg
			}
			switch {
			case i+2 < len(ps) && ps[i+1] == 5 && ps[i+2] <= 255:
				set(target, pen{c: xterm256(ps[i+2])})
				i += 2
			case i+4 < len(ps) && ps[i+1] == 2 && ps[i+2] <= 255 && ps[i+3] <= 255 && ps[i+4] <= 255:
				set(target, pen{c: color.RGBA{uint8(ps[i+2]), uint8(ps[i+3]), uint8(ps[i+4]), 255}})
				i += 4
			default:
				return 0, fmt.Errorf("bad extended colour in SGR %q", params)
			}
		default:
			return 0, fmt.Errorf("unsupported SGR parameter %d in %q", p, params)
		}
	}
	return repeats, nil
}

// pixelsPerModule is S: each module is S×S pixels, each cell S×2S.
const pixelsPerModule = 4

// marginModules is how much of the theme's background, in modules, the
// image shows around the text area, as a screen does around the code.
const marginModules = 8

// image draws the screen as a screen shows it: cells at their place, and
// the theme's background around them and after the end of short lines.
func (s *Screen) image() *image.RGBA {
	cols := 0
	for _, l := range s.Lines {
		cols = max(cols, len(l))
	}
	w := (cols + 2*marginModules) * pixelsPerModule
	h := (2*len(s.Lines) + 2*marginModules) * pixelsPerModule
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill := func(mx, my int, c color.RGBA) {
		for y := my * pixelsPerModule; y < (my+1)*pixelsPerModule; y++ {
			for x := mx * pixelsPerModule; x < (mx+1)*pixelsPerModule; x++ {
				img.SetRGBA(x, y, c)
			}
		}
	}
	for my := 0; my < h/pixelsPerModule; my++ {
		for mx := 0; mx < w/pixelsPerModule; mx++ {
			fill(mx, my, s.Theme.Background)
		}
	}
	for row, l := range s.Lines {
		for col, c := range l {
			fill(marginModules+col, marginModules+2*row, c.Top)
			fill(marginModules+col, marginModules+2*row+1, c.Bottom)
		}
	}
	return img
}

// Modules returns the screen's module grid, two rows per text line, true
// where a module is dark (luminance below the middle), as a scanner would
// threshold it.
func (s *Screen) Modules() [][]bool {
	dark := func(c color.RGBA) bool {
		return 299*int(c.R)+587*int(c.G)+114*int(c.B) < 128*1000
	}
	var grid [][]bool
	for _, l := range s.Lines {
		top, bottom := make([]bool, len(l)), make([]bool, len(l))
		for i, c := range l {
			top[i], bottom[i] = dark(c.Top), dark(c.Bottom)
		}
		grid = append(grid, top, bottom)
	}
	return grid
}

// Render plays text on th and draws what a screen shows: the whole text
// area, each cell 4×8 pixels, surrounded by 8 modules (32 pixels) of the
// theme's background, which also fills the rest of short lines. Its error
// is Emulate's.
func Render(text string, th Theme) (image.Image, error) {
	s, err := Emulate(text, th)
	if err != nil {
		return nil, err
	}
	return s.image(), nil
}

// Scan renders text on th and reads a QR code from the picture the way a
// phone app that does not invert colours does: gozxing's QRCodeReader,
// which tries the image only as given (its inverted retry exists only as
// the ALSO_INVERTED hint of a MultiFormatReader, not used here). When the
// text plays but nothing is read, the error wraps ErrNoCode.
func Scan(text string, th Theme) (string, error) {
	img, err := Render(text, th)
	if err != nil {
		return "", err
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("termshot: %w", err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", fmt.Errorf("%w on the %s theme: %w", ErrNoCode, th.Name, err)
	}
	return res.GetText(), nil
}
