package eventsource_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"qrsync/eventsource"
	"qrsync/eventsource/ssecases"
)

// refDecode is the reference the fuzzer checks the Decoder against. It is
// written to be obviously right rather than fast: it sees the whole body at
// once, decodes it to text, splits the text into lines, and walks the WHATWG
// steps line by line with plain strings. It shares no code with the Decoder.
//
// The size limit is the Decoder's own rule, restated: a line (as sent,
// terminator excluded) longer than limit, including a final unterminated one,
// or a data buffer (decoded, one LF per data line) longer than limit stops the
// stream with ssecases.ErrTooLarge after the events before it.
func refDecode(in []byte, limit int, initialID *string) ssecases.Outcome {
	// UTF-8 decode: one leading BOM is dropped, then bytes become text.
	raw := in
	if len(raw) >= 3 && raw[0] == 0xEF && raw[1] == 0xBB && raw[2] == 0xBF {
		raw = raw[3:]
	}
	rawLines, rawRest := refSplitLines(string(raw))
	lines, _ := refSplitLines(refUTF8(raw))
	if len(lines) != len(rawLines) {
		// CR and LF are never part of a multi-byte sequence, so decoding
		// cannot move a line end. If it did, the model itself is wrong.
		panic("reference: decoding changed the line structure")
	}

	o := ssecases.Outcome{Events: []ssecases.Event{}}
	var data strings.Builder
	var typ, idBuf, lastID string
	if initialID != nil {
		idBuf, lastID = *initialID, *initialID
	}
	tooLarge := false
	for i, line := range lines {
		if len(rawLines[i]) > limit {
			tooLarge = true
			break
		}
		if line == "" { // dispatch
			lastID = idBuf
			if data.Len() == 0 {
				typ = ""
				continue
			}
			t := typ
			if t == "" {
				t = "message"
			}
			o.Events = append(o.Events, ssecases.Event{Type: t, Data: strings.TrimSuffix(data.String(), "\n"), ID: lastID})
			data.Reset()
			typ = ""
			continue
		}
		if line[0] == ':' {
			continue
		}
		name, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch name {
		case "event":
			typ = value
		case "data":
			if data.Len()+len(value)+1 > limit {
				tooLarge = true
			}
			data.WriteString(value + "\n")
		case "id":
			if !strings.Contains(value, "\x00") {
				idBuf = value
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				ms, err := strconv.ParseInt(value, 10, 64)
				if err == nil && ms <= math.MaxInt64/int64(time.Millisecond) {
					o.Retry, o.HasRetry = time.Duration(ms)*time.Millisecond, true
				}
			}
		}
		if tooLarge {
			break
		}
	}
	if !tooLarge && len(rawRest) > limit {
		tooLarge = true
	}
	if tooLarge {
		o.Err = ssecases.ErrTooLarge
	}
	o.LastEventID = lastID
	return o
}

// refSplitLines splits s at CRLF, LF and CR and returns the lines and what
// follows the last line end (pending data, which the spec discards).
func refSplitLines(s string) (lines []string, rest string) {
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			lines = append(lines, s[start:i])
			start = i + 1
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	return lines, s[start:]
}

// refUTF8 decodes b like the WHATWG UTF-8 decoder: valid sequences are kept;
// otherwise the longest prefix that some valid sequence starts with (at least
// one byte) becomes one U+FFFD. Whether a prefix can start a valid sequence
// is asked of the standard library, by completing it with continuation bytes.
func refUTF8(b []byte) string {
	var out strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			out.Write(b[:n])
			b = b[n:]
			continue
		}
		skip := 1
		for p := min(3, len(b)); p >= 2; p-- {
			if refStartsValid(b[:p]) {
				skip = p
				break
			}
		}
		out.WriteRune(utf8.RuneError)
		b = b[skip:]
	}
	return out.String()
}

func refStartsValid(p []byte) bool {
	for n := len(p) + 1; n <= utf8.UTFMax; n++ {
		q := append(append([]byte(nil), p...), bytes.Repeat([]byte{0x80}, n-len(p))...)
		if utf8.Valid(q) && utf8.RuneCount(q) == 1 {
			return true
		}
	}
	return false
}

// lcgReader hands out its bytes in pseudo-random read sizes (1 to 40 bytes,
// now and then a large read) chosen by a seed, so the fuzzer also explores
// where the network cuts the stream.
type lcgReader struct {
	b    []byte
	seed uint64
}

func (r *lcgReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	r.seed = r.seed*6364136223846793005 + 1442695040888963407
	n := int(r.seed>>33)%40 + 1
	if r.seed>>60 == 0 {
		n = len(p)
	}
	n = min(n, len(p), len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// FuzzDecoder checks the Decoder against refDecode on arbitrary bytes, read
// in arbitrary pieces, with a small size limit, and checks that it never
// panics and never holds more than the limit allows. It keeps its own loop
// rather than ssecases.Case.Decode because it looks at the Decoder's
// buffers after every Next.
func FuzzDecoder(f *testing.F) {
	for _, c := range loadCases(f) {
		in, err := c.Bytes()
		if err != nil {
			f.Fatal(err)
		}
		id := ""
		if c.InitialLastEventID != nil {
			id = *c.InitialLastEventID
		}
		f.Add(in, uint16(c.MaxEventSize), uint64(0), id)
		f.Add(in, uint16(7), uint64(len(c.Name)), "")
	}
	f.Fuzz(func(t *testing.T, in []byte, maxSel uint16, chunkSeed uint64, initialID string) {
		limit := int(maxSel)
		if limit == 0 {
			limit = eventsource.DefaultMaxEventSize
		}
		var initial *string
		if initialID != "" {
			initial = &initialID
		}
		want := refDecode(in, limit, initial)

		d := eventsource.NewDecoder(&lcgReader{b: in, seed: chunkSeed})
		d.SetMaxEventSize(limit)
		if initial != nil {
			d.SetLastEventID(*initial)
		}
		got := ssecases.Outcome{Events: []ssecases.Event{}}
		for {
			ev, err := d.Next()
			// Memory stays bounded by the limit, whatever the input.
			if line, data, typ, fix := eventsource.BufferLens(d); line > limit || data > limit || typ > 3*limit || fix > 3*limit {
				t.Fatalf("buffers past the limit %d: line %d, data %d, type %d, fix %d",
					limit, line, data, typ, fix)
			}
			if err != nil {
				if errors.Is(err, eventsource.ErrEventTooLarge) {
					got.Err = ssecases.ErrTooLarge
				} else if err != io.EOF {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if len(ev.Data) >= limit {
				t.Fatalf("event data of %d bytes passed the limit %d", len(ev.Data), limit)
			}
			got.Events = append(got.Events, ssecases.Event{Type: ev.Type, Data: ev.Data, ID: ev.ID})
		}
		got.LastEventID = d.LastEventID()
		got.Retry, got.HasRetry = d.Retry()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %q (limit %d, seed %d):\n got %v\nwant %v", in, limit, chunkSeed, got, want)
		}
	})
}

// TestReferenceAgreesWithCases keeps the reference honest: it must give the
// expected outcome of every hand-checked case too.
func TestReferenceAgreesWithCases(t *testing.T) {
	for _, c := range loadCases(t) {
		in, err := c.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		limit := c.MaxEventSize
		if limit == 0 {
			limit = eventsource.DefaultMaxEventSize
		}
		if got, want := refDecode(in, limit, c.InitialLastEventID), c.Want(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", c.Name, got, want)
		}
	}
}

// loadCases returns the cases of testdata/cases.json, which seed the
// fuzzer and check the reference.
func loadCases(tb testing.TB) []ssecases.Case {
	tb.Helper()
	f, err := ssecases.Load("testdata/cases.json")
	if err != nil {
		tb.Fatal(err)
	}
	return f.Cases
}
