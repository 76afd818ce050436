// Package termqr draws QR codes for terminals so that they scan the same on
// light and on dark themes.
//
// A naive renderer draws dark modules as "█" in the terminal's default
// foreground and light modules as spaces. On a dark theme the default
// foreground is light and the background dark, so the phone sees an
// inverted code, which most readers reject. termqr never lets the theme's
// default colours show inside the code: every cell, quiet zone included,
// sets both its foreground and its background explicitly to black or white.
//
// Each text line carries two module rows through the upper half block "▀":
// its foreground is the top module, its background the bottom one. That keeps
// the modules roughly square (terminal cells are about twice as tall as wide)
// and the code half as tall as one module row per line.
package termqr

import (
	"fmt"
	"io"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// quietZone is the light border, in modules, that the QR spec requires
// around the symbol. We draw it ourselves instead of relying on
// go-qrcode's border: that border is an internal detail of the library
// (4 today), and owning it keeps the guarantee here, where the quiet zone
// also has to be coloured explicitly like the rest of the code.
const quietZone = 4

// The colours are xterm 256-colour indices: 16 (#000000) and 231 (#ffffff)
// from the 6×6×6 colour cube. Unlike the 16 basic colours (30–37, 40–47 and
// their bright forms), which every theme remaps — Solarized's "black" is
// dark teal, many dark themes' "white" is grey — the cube is fixed in
// practically every terminal. 256-colour SGRs are also understood by more
// terminals than 24-bit truecolor (macOS Terminal.app before version 26,
// GNU screen, tmux without its Tc/RGB option) and are shorter.
const (
	darkColour  = "16"
	lightColour = "231"
)

// reset ends every line so that no colour leaks into what the program prints
// after the code, and so that a line stands alone if the terminal reflows it.
const reset = "\x1b[0m"

// upperHalf is drawn in every cell: foreground = top module, background =
// bottom module.
const upperHalf = "▀"

// Write draws content as a QR code into w as text for a terminal.
//
// The code is encoded at error-correction level Medium (15%), a common
// choice for scanning from a screen, and surrounded by a 4-module quiet
// zone. The output is one block of lines, each ending in an SGR reset and
// "\n", written with a single call to w so that it does not interleave with
// other writers. Write returns an error if content does not fit in a QR code
// or if w fails.
func Write(w io.Writer, content string) error {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("termqr: encode: %w", err)
	}
	q.DisableBorder = true
	if _, err := io.WriteString(w, render(q.Bitmap())); err != nil {
		return fmt.Errorf("termqr: write: %w", err)
	}
	return nil
}

// render turns a borderless bitmap (true = dark) into terminal text with the
// quiet zone added. QR symbols are 4v+17 modules wide, so with the quiet
// zone the number of module rows is odd: the last line's bottom half falls
// outside the bitmap and is drawn light, as extra quiet zone.
func render(bits [][]bool) string {
	size := len(bits) + 2*quietZone
	dark := func(x, y int) bool {
		x, y = x-quietZone, y-quietZone
		return y >= 0 && y < len(bits) && x >= 0 && x < len(bits[y]) && bits[y][x]
	}
	colour := func(d bool) string {
		if d {
			return darkColour
		}
		return lightColour
	}

	var b strings.Builder
	// A rough size: 3 bytes per cell plus an SGR about every other cell.
	// Growing once avoids repeated reallocations.
	b.Grow((size + 1) / 2 * (size*len(upperHalf) + size*6 + len(reset) + 1))
	for y := 0; y < size; y += 2 {
		// Nothing is known about the colours at the start of a line (the
		// previous one ended with a reset), so the first cell sets both.
		fg, bg := "", ""
		for x := 0; x < size; x++ {
			top, bottom := colour(dark(x, y)), colour(dark(x, y+1))
			// Only what changed is sent: both colours stay explicitly
			// set, and the output stays small.
			switch {
			case top != fg && bottom != bg:
				b.WriteString("\x1b[38;5;" + top + ";48;5;" + bottom + "m")
			case top != fg:
				b.WriteString("\x1b[38;5;" + top + "m")
			case bottom != bg:
				b.WriteString("\x1b[48;5;" + bottom + "m")
			}
			fg, bg = top, bottom
			b.WriteString(upperHalf)
		}
		b.WriteString(reset + "\n")
	}
	return b.String()
}
