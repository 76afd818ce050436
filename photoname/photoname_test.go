package photoname

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSafe(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	for _, tc := range []struct {
		name, in, ct, want string
	}{
		{"plain", "IMG_0001.JPG", "image/jpeg", "IMG_0001.JPG"},
		{"jpeg spelling", "scan.jpeg", "image/jpeg", "scan.jpeg"},
		{"unicode kept", "Été à Zürich 😀.png", "image/png", "Été à Zürich 😀.png"},
		{"unix path", "../../etc/passwd.png", "image/png", "passwd.png"},
		{"windows path", `C:\Users\me\DCIM\a.jpg`, "image/jpeg", "a.jpg"},
		{"only separators", "/", "image/png", "photo.png"},
		{"dot dot", "..", "image/png", "photo.png"},
		{"hidden", ".bashrc", "image/png", "bashrc.png"},
		{"hidden with ext", ".x.png", "image/png", "x.png"},
		{"leading dash", "-rf.png", "image/png", "rf.png"},
		{"leading spaces and dots", " . .a.gif", "image/gif", "a.gif"},
		{"trailing dots and spaces", "a.png. . ", "image/png", "a.png"},
		{"stem trailing dot", "a..png", "image/png", "a.png"},
		{"empty", "", "image/webp", "photo.webp"},
		{"control chars", "a\x00b\x1fc\x7fd\u0085e.png", "image/png", "a_b_c_d_e.png"},
		{"newline", "two\nlines.png", "image/png", "two_lines.png"},
		{"tab", "a\tb.png", "image/png", "a_b.png"},
		{"other spaces", "a\u00A0b\u2028c\u3000d.png", "image/png", "a b c d.png"},
		{"windows forbidden", `a<b>c:d"e|f?g*h.png`, "image/png", "a_b_c_d_e_f_g_h.png"},
		{"invalid utf-8", "a\xff\xfeb.png", "image/png", "a_b.png"},
		{"replacement char", "a\uFFFDb.png", "image/png", "a_b.png"},
		{"bidi override", "photo\u202Egnp.exe", "image/png", "photognp.exe.png"},
		{"zero width", "a\u200Bb\uFEFF.png", "image/png", "ab.png"},
		{"reserved CON", "CON.png", "image/png", "_CON.png"},
		{"reserved lower", "nul.jpg", "image/jpeg", "_nul.jpg"},
		{"reserved COM1", "com1.tar.png", "image/png", "_com1.tar.png"},
		{"reserved LPT9", "LPT9", "image/png", "_LPT9.png"},
		{"reserved superscript", "COM¹.png", "image/png", "_COM¹.png"},
		{"reserved with space", "AUX .png", "image/png", "_AUX.png"},
		{"not reserved", "CONSOLE.png", "image/png", "CONSOLE.png"},
		{"not reserved COM10", "COM10.png", "image/png", "COM10.png"},
		{"wrong extension", "page.html", "image/jpeg", "page.html.jpg"},
		{"other image ext", "x.png", "image/jpeg", "x.png.jpg"},
		{"no extension", "holiday", "image/gif", "holiday.gif"},
		{"case of type", "a.PNG", "IMAGE/PNG", "a.PNG"},
		{"unknown type keeps ext", "a.avif", "image/avif", "a.avif"},
		{"heic", "IMG_5195.HEIC", "image/heic", "IMG_5195.HEIC"},
		{"heic as heif", "IMG_5195.heif", "image/heic", "IMG_5195.heif"},
		{"heic named jpg", "IMG_5195.jpg", "image/heic", "IMG_5195.jpg.heic"},
		{"heic without ext", "IMG_5195", "image/heic", "IMG_5195.heic"},
		{"heif", "a.hif", "image/heif", "a.hif"},
		{"unknown type, no ext", "a", "", "a"},
		{"long ext is stem", "a." + strings.Repeat("x", 40), "image/png", "a." + strings.Repeat("x", 40) + ".png"},
		{"ext with space is stem", "a.b c", "image/png", "a.b c.png"},
		{"long", long + ".jpg", "image/jpeg", strings.Repeat("é", 98) + ".jpg"},
		{"long ascii", strings.Repeat("a", 300), "image/png", strings.Repeat("a", MaxNameBytes-4) + ".png"},
		{"cut leaves dots", strings.Repeat("a", 195) + "....." + "x", "image/png", strings.Repeat("a", 195) + ".png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Safe(tc.in, tc.ct)
			if got != tc.want {
				t.Errorf("Safe(%q, %q) = %q, want %q", tc.in, tc.ct, got, tc.want)
			}
			checkSafe(t, got)
			if again := Safe(got, tc.ct); again != got {
				t.Errorf("not stable: Safe(%q) = %q", got, again)
			}
		})
	}
}

// checkSafe asserts the properties every result must have, whatever the
// input.
func checkSafe(t *testing.T, name string) {
	t.Helper()
	switch {
	case name == "" || len(name) > MaxNameBytes:
		t.Errorf("%q: length %d", name, len(name))
	case !utf8.ValidString(name):
		t.Errorf("%q: invalid UTF-8", name)
	case strings.ContainsAny(name, "/\\<>:\"|?*"):
		t.Errorf("%q: a separator or a character Windows forbids", name)
	case strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, " "):
		t.Errorf("%q: a leading dot, dash or space", name)
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		t.Errorf("%q: a trailing dot or space", name)
	case windowsReservedStem(name):
		t.Errorf("%q: a Windows device name", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || IsInvisible(r) {
			t.Errorf("%q: control or invisible character %U", name, r)
		}
	}
}

// FuzzSafe checks the invariants on any input, and that the name can
// really be created as a file in a folder, and lands in that folder.
func FuzzSafe(f *testing.F) {
	for _, s := range []string{"", "a.jpg", "../x", `..\..\x.png`, "CON", "\x00", ".", "a\u202E", strings.Repeat("ü", 200)} {
		f.Add(s, "image/jpeg")
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in, ct string) {
		name := Safe(in, ct)
		checkSafe(t, name)
		p := filepath.Join(dir, name)
		if filepath.Dir(p) != dir {
			t.Fatalf("%q escapes the folder: %s", name, p)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatalf("%q cannot be created: %v", name, err)
		}
		os.Remove(p)
	})
}

func TestNumbered(t *testing.T) {
	for _, tc := range []struct {
		name string
		i    int
		want string
	}{
		{"a.jpg", 1, "a.jpg"},
		{"a.jpg", 2, "a (2).jpg"},
		{"a.jpg", 10, "a (10).jpg"},
		{"a", 3, "a (3)"},
		{"a.b.png", 2, "a.b (2).png"},
		{"_CON.png", 2, "_CON (2).png"},
	} {
		if got := Numbered(tc.name, tc.i); got != tc.want {
			t.Errorf("Numbered(%q, %d) = %q, want %q", tc.name, tc.i, got, tc.want)
		}
	}
	long := Safe(strings.Repeat("x", 400), "image/jpeg")
	if n := Numbered(long, 99999); len(n) > 255 {
		t.Errorf("Numbered name of %d bytes: over what file systems allow", len(n))
	}
}
