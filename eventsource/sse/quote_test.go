package sse

import (
	"strconv"
	"testing"
)

// TestQuoteMatchesStrconv holds quote to strconv.Quote for every ASCII
// byte, invalid UTF-8 and printable runes beyond ASCII (where the two
// agree; quote keeps non-printable runes as they are).
func TestQuoteMatchesStrconv(t *testing.T) {
	t.Parallel()
	cases := []string{"", "text/html; charset=utf-8", "é ü 日本", "\xff\xfe", "a\xc3", "\xed\xa0\x80"}
	for c := 0; c < 0x80; c++ {
		cases = append(cases, string(rune(c)), "x"+string(rune(c))+"y")
	}
	for _, s := range cases {
		if got, want := quote(s), strconv.Quote(s); got != want {
			t.Errorf("quote(%q) = %s, want %s", s, got, want)
		}
	}
}
