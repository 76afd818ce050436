package termqr

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"

	"qrsync/internal/termshot"
)

// token is 24 URL-safe base64 characters, like the upload tokens qrsync
// puts into its links.
const token = "q3VtX9-bN2_cLp0aZ8rTf4Ye"

// contents are what qrsync shows: a LAN upload link, an IPv6 one (longer,
// so a larger QR version), and a long one that needs version 7 or more,
// which adds version-information blocks and several alignment patterns.
var contents = []struct{ name, text string }{
	{"ipv4", "http://192.168.1.20:8080/u/" + token},
	{"ipv6", "http://[fd12:3456:789a:1:a2b3:c4d5:e6f7:1234]:8080/u/" + token},
	{"long", "http://photo-box.example.internal:8080/u/" + token + "?name=" + strings.Repeat("Holiday-2024_", 6)},
}

var (
	black = color.RGBA{0, 0, 0, 255}
	white = color.RGBA{255, 255, 255, 255}

	themes = []termshot.Theme{termshot.Light, termshot.Dark}
)

// emulate plays text on th, failing the test if the terminal rejects it:
// a stray sequence or character is a failure of its own, not "no code".
func emulate(t *testing.T, text string, th termshot.Theme) *termshot.Screen {
	t.Helper()
	s, err := termshot.Emulate(text, th)
	if err != nil {
		t.Fatalf("emulate on the %s theme: %v", th.Name, err)
	}
	return s
}

// scan reads the QR code text shows on th. Its error means that nothing
// was read; text the terminal rejects fails the test instead.
func scan(t *testing.T, text string, th termshot.Theme) (string, error) {
	t.Helper()
	got, err := termshot.Scan(text, th)
	if err != nil && !errors.Is(err, termshot.ErrNoCode) {
		t.Fatalf("scan on the %s theme: %v", th.Name, err)
	}
	return got, err
}

func writeString(t *testing.T, content string) string {
	t.Helper()
	var b strings.Builder
	if err := Write(&b, content); err != nil {
		t.Fatalf("Write(%q): %v", content, err)
	}
	return b.String()
}

func bitmap(t *testing.T, content string, border bool) [][]bool {
	t.Helper()
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	q.DisableBorder = !border
	return q.Bitmap()
}

// naiveBlocks is what many tools print: dark modules drawn in the default
// foreground ("█", or "▀"/"▄" where only one of the two rows in a line is
// dark), light modules as the default background (" "), no colours at all.
func naiveBlocks(bits [][]bool) string {
	at := func(x, y int) bool { return y < len(bits) && bits[y][x] }
	var b strings.Builder
	for y := 0; y < len(bits); y += 2 {
		for x := range bits[y] {
			switch top, bottom := at(x, y), at(x, y+1); {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestWriteScansOnBothThemes(t *testing.T) {
	t.Parallel()
	for _, c := range contents {
		out := writeString(t, c.text)
		for _, th := range themes {
			t.Run(c.name+"/"+th.Name, func(t *testing.T) {
				t.Parallel()
				got, err := scan(t, out, th)
				if err != nil {
					t.Fatalf("no QR code read on the %s theme: %v", th.Name, err)
				}
				if got != c.text {
					t.Fatalf("read %q on the %s theme, want %q", got, th.Name, c.text)
				}
			})
		}
	}
}

// TestNaiveRenderersFail shows that the scan test can fail: uncoloured
// renderers read on one theme only. For a reader that does not invert, the
// other theme shows an inverted code, and it reads nothing there.
func TestNaiveRenderersFail(t *testing.T) {
	t.Parallel()
	for _, c := range contents {
		tests := []struct {
			name      string
			text      string
			readsOn   termshot.Theme
			failsOn   termshot.Theme
			rationale string
		}{
			{
				name:      "blocks-for-dark",
				text:      naiveBlocks(bitmap(t, c.text, true)),
				readsOn:   termshot.Light,
				failsOn:   termshot.Dark,
				rationale: "dark modules are drawn light-grey on a near-black background",
			},
			{
				// go-qrcode's ToSmallString(false), which qrsync printed
				// before termqr: it draws the light modules as blocks, for
				// dark terminals, so light themes show it inverted.
				name:      "ToSmallString",
				text:      qrcodeSmallString(t, c.text),
				readsOn:   termshot.Dark,
				failsOn:   termshot.Light,
				rationale: "light modules are drawn black on a white background",
			},
		}
		for _, tc := range tests {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				// The renderer works on its own theme, so the failure
				// below is the theme's doing, not the harness's.
				if got, err := scan(t, tc.text, tc.readsOn); err != nil || got != c.text {
					t.Errorf("%s theme: read %q, %v; want %q", tc.readsOn.Name, got, err, c.text)
				}
				if got, err := scan(t, tc.text, tc.failsOn); err == nil {
					t.Errorf("%s theme: read %q, want nothing: %s", tc.failsOn.Name, got, tc.rationale)
				}
			})
		}
	}
}

func qrcodeSmallString(t *testing.T, content string) string {
	t.Helper()
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	return q.ToSmallString(false)
}

func TestEveryLineEndsWithReset(t *testing.T) {
	t.Parallel()
	for _, c := range contents {
		out := writeString(t, c.text)
		if !strings.HasSuffix(out, "\n") {
			t.Fatalf("%s: output does not end with a newline", c.name)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for i, l := range lines {
			if !strings.HasSuffix(l, reset) {
				t.Errorf("%s: line %d does not end with %q before the newline: %q", c.name, i, reset, l[max(0, len(l)-20):])
			}
			// A reset inside a line would let the theme's defaults show
			// in the cells after it.
			if n := strings.Count(l, "\x1b[0m"); n != 1 {
				t.Errorf("%s: line %d has %d resets, want 1 at its end", c.name, i, n)
			}
		}
	}
}

func TestEveryCellSetsBothColours(t *testing.T) {
	t.Parallel()
	for _, c := range contents {
		s := emulate(t, writeString(t, c.text), termshot.Dark)
		for row, l := range s.Lines {
			for col, cl := range l {
				if cl.FgDefault || cl.BgDefault {
					t.Fatalf("%s: cell (line %d, column %d) uses a default colour (fg %v, bg %v)",
						c.name, row, col, cl.FgDefault, cl.BgDefault)
				}
				// Pure black and white give the scanner the most contrast.
				for _, m := range []color.RGBA{cl.Top, cl.Bottom} {
					if m != black && m != white {
						t.Fatalf("%s: cell (line %d, column %d) has colour %v, want black or white", c.name, row, col, m)
					}
				}
			}
		}
	}
}

// TestModules checks the drawn modules against the encoder's: the symbol,
// a light quiet zone of 4 modules, a light bottom half on the last line,
// and the same picture whatever the theme.
func TestModules(t *testing.T) {
	t.Parallel()
	for _, c := range contents {
		out := writeString(t, c.text)
		bits := bitmap(t, c.text, false)
		// 4 is the QR spec's quiet zone, written out rather than taken
		// from the package so that the test checks it.
		const specQuietZone = 4
		size := len(bits) + 2*specQuietZone
		var grids [][][]bool
		for _, th := range themes {
			s := emulate(t, out, th)
			if len(s.Lines) != (size+1)/2 {
				t.Fatalf("%s: %d lines, want %d", c.name, len(s.Lines), (size+1)/2)
			}
			grids = append(grids, s.Modules())
		}
		if fmt.Sprint(grids[0]) != fmt.Sprint(grids[1]) {
			t.Errorf("%s: the code looks different on the light and dark themes", c.name)
		}
		grid := grids[0]
		if size%2 != 1 || len(grid) != size+1 {
			t.Fatalf("%s: %d module rows for a %d-module code, want %d (an odd count plus a light half row)",
				c.name, len(grid), size, size+1)
		}
		for y, row := range grid {
			if len(row) != size {
				t.Fatalf("%s: module row %d is %d wide, want %d", c.name, y, len(row), size)
			}
			for x, dark := range row {
				want := false
				if bx, by := x-specQuietZone, y-specQuietZone; by >= 0 && by < len(bits) && bx >= 0 && bx < len(bits) {
					want = bits[by][bx]
				}
				if dark != want {
					t.Fatalf("%s: module (%d, %d) dark=%v, want %v", c.name, x, y, dark, want)
				}
			}
		}
	}
}

// TestSGROnlyOnChange checks that the output is small: no SGR repeats the
// colours in force, and no two come one after another.
func TestSGROnlyOnChange(t *testing.T) {
	t.Parallel()
	for _, c := range contents {
		out := writeString(t, c.text)
		s := emulate(t, out, termshot.Light)
		if s.Redundant != 0 {
			t.Errorf("%s: %d of %d SGR sequences change nothing", c.name, s.Redundant, s.SGRs)
		}
		if s.Repeats != 0 {
			t.Errorf("%s: %d colour settings repeat the colour in force", c.name, s.Repeats)
		}
		if strings.Contains(out, "m\x1b[") {
			t.Errorf("%s: two SGR sequences in a row; they should be one", c.name)
		}
		// Changes between neighbouring cells, plus the first cell and the
		// reset of every line, are all the SGRs there should be.
		want := 0
		for _, l := range s.Lines {
			want += 2
			for i := 1; i < len(l); i++ {
				if l[i].Top != l[i-1].Top || l[i].Bottom != l[i-1].Bottom {
					want++
				}
			}
		}
		if s.SGRs != want {
			t.Errorf("%s: %d SGR sequences, want %d", c.name, s.SGRs, want)
		}
		t.Logf("%s (%d chars): %d lines × %d columns, %d bytes, %d SGRs",
			c.name, len(c.text), len(s.Lines), len(s.Lines[0]), len(out), s.SGRs)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	t.Run("too long", func(t *testing.T) {
		t.Parallel()
		var b bytes.Buffer
		if err := Write(&b, strings.Repeat("x", 3000)); err == nil {
			t.Fatal("Write of 3000 bytes: no error, want one (more than a QR code holds at level M)")
		}
		if b.Len() != 0 {
			t.Fatalf("Write failed but wrote %d bytes", b.Len())
		}
	})
	t.Run("writer fails", func(t *testing.T) {
		t.Parallel()
		want := errors.New("broken pipe")
		if err := Write(failingWriter{want}, contents[0].text); !errors.Is(err, want) {
			t.Fatalf("Write to a failing writer: %v, want %v", err, want)
		}
	})
}
