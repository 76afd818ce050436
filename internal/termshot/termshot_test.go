package termshot

import (
	"errors"
	"fmt"
	"image/color"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

var (
	black = color.RGBA{0, 0, 0, 255}
	white = color.RGBA{255, 255, 255, 255}
)

// TestEmulator checks the terminal, on which the tests that use it rely.
func TestEmulator(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]color.RGBA{
		0: black, 1: {0xcd, 0, 0, 255}, 15: white, 16: black, 21: {0, 0, 0xff, 255},
		196: {0xff, 0, 0, 255}, 231: white, 232: {8, 8, 8, 255}, 244: {0x80, 0x80, 0x80, 255}, 255: {0xee, 0xee, 0xee, 255},
	} {
		if got := xterm256(n); got != want {
			t.Errorf("xterm256(%d) = %v, want %v", n, got, want)
		}
	}
	red, blue := color.RGBA{0xcd, 0, 0, 255}, color.RGBA{1, 2, 3, 255}
	s, err := Emulate("▀\x1b[31;48;2;1;2;3m▀▄\x1b[39m█\x1b[m \x1b[97;100m▀\n", Dark)
	if err != nil {
		t.Fatal(err)
	}
	want := []Cell{
		{Top: Dark.Foreground, Bottom: Dark.Background, FgDefault: true, BgDefault: true},
		{Top: red, Bottom: blue},
		{Top: blue, Bottom: red},
		{Top: Dark.Foreground, Bottom: Dark.Foreground, FgDefault: true},
		{Top: Dark.Background, Bottom: Dark.Background, FgDefault: true, BgDefault: true},
		{Top: white, Bottom: basic16[8]},
	}
	if len(s.Lines) != 1 || fmt.Sprint(s.Lines[0]) != fmt.Sprint(want) {
		t.Errorf("cells = %v, want %v", s.Lines, want)
	}
	if s.SGRs != 4 || s.Redundant != 0 || s.Repeats != 0 {
		t.Errorf("SGRs %d, redundant %d, repeats %d; want 4, 0, 0", s.SGRs, s.Redundant, s.Repeats)
	}
	if s, err := Emulate("\x1b[31m\x1b[31;49m▀", Light); err != nil || s.SGRs != 2 || s.Redundant != 1 || s.Repeats != 2 {
		t.Errorf("a repeated SGR: %+v, %v; want 2 SGRs, 1 redundant, 2 repeats", s, err)
	}
	for _, bad := range []string{"x", "\x1b[1m", "\x1b[38;5m", "\x1b[2J", "\t"} {
		if _, err := Emulate(bad, Light); err == nil {
			t.Errorf("Emulate(%q): no error, want one", bad)
		}
		if _, err := Scan(bad, Light); err == nil || errors.Is(err, ErrNoCode) {
			t.Errorf("Scan(%q): %v, want the emulator's error", bad, err)
		}
	}
}

// TestRender checks the picture: the text area in the middle of the
// theme's background, short lines filled with it.
func TestRender(t *testing.T) {
	t.Parallel()
	img, err := Render("\x1b[38;5;196m█\x1b[0m\n▄▄\n", Light)
	if err != nil {
		t.Fatal(err)
	}
	const px, margin = pixelsPerModule, marginModules * pixelsPerModule
	if b := img.Bounds(); b.Dx() != 2*px+2*margin || b.Dy() != 4*px+2*margin {
		t.Fatalf("bounds %v, want 2×4 modules plus the margin", b)
	}
	red := color.RGBA{0xff, 0, 0, 255}
	for _, p := range []struct {
		x, y int
		want color.RGBA
	}{
		{0, 0, white},                        // margin
		{margin, margin, red},                // the red cell's top
		{margin, margin + 2*px - 1, red},     // and bottom
		{margin + px, margin, white},         // the rest of the short line
		{margin, margin + 2*px, white},       // "▄": top is the background
		{margin + px, margin + 3*px, black},  // and bottom the foreground
		{2*margin + 2*px - 1, margin, white}, // margin
		{margin, 2*margin + 4*px - 1, white}, // margin
	} {
		if got := color.RGBAModel.Convert(img.At(p.x, p.y)); got != p.want {
			t.Errorf("pixel (%d, %d) = %v, want %v", p.x, p.y, got, p.want)
		}
	}
}

// TestScan checks the reader against go-qrcode's uncoloured rendering:
// it reads where the code shows dark on light, and reads nothing where
// the theme inverts it, since a phone app does not invert.
func TestScan(t *testing.T) {
	t.Parallel()
	const content = "http://192.168.1.20:8080/u/q3VtX9-bN2_cLp0aZ8rTf4Ye"
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	text := q.ToSmallString(false) // light modules as blocks: for dark themes
	if got, err := Scan(text, Dark); err != nil || got != content {
		t.Errorf("dark theme: read %q, %v; want %q", got, err, content)
	}
	if got, err := Scan(text, Light); !errors.Is(err, ErrNoCode) {
		t.Errorf("light theme: read %q, %v; want ErrNoCode (the code shows inverted)", got, err)
	}
}
