package sse

import (
	"bytes"
	"errors"
	"io"
	"math"
	"unicode/utf8"
)

// DefaultMaxEventSize bounds one line and one event's data when no other
// size is set: far above any event qrsync sends (an Image is under 1 KiB, a
// snapshot of 500 images about 250 KiB), yet small enough that a broken or
// hostile server cannot make a browser tab grow without limit.
const DefaultMaxEventSize = 1 << 20

// readBufSize is the size of the Decoder's read buffer. A fetch chunk or a
// TCP read is rarely larger, so most lines are parsed in place, without a
// copy; it is allocated once per Decoder and reused across Reset.
const readBufSize = 32 << 10

// maxEmptyReads is how many (0, nil) reads in a row are tolerated before the
// reader is treated as broken, as bufio does.
const maxEmptyReads = 100

// ErrEventTooLarge is returned by Decoder.Next when a line, or the data of an
// event, grows past the maximum size. It is sticky: the stream cannot be
// resynchronised safely, so the caller must reconnect (Stream does).
var ErrEventTooLarge = errors.New("eventsource: event or line exceeds the maximum size")

// Event is one dispatched event, as an EventSource would hand it to a
// listener.
type Event struct {
	// ID is the stream's last event ID at dispatch time (WHATWG lastEventId):
	// the latest id field seen, which persists across events that carry none.
	ID string
	// Type is the event's type: "message" when the stream named none.
	Type string
	// Data is the event's data lines joined by LF, without the final LF.
	Data string
}

// bom is the UTF-8 byte order mark; one at the very start of a stream is
// dropped, as UTF-8 decode does.
var bom = []byte{0xEF, 0xBB, 0xBF}

// A Decoder reads an event stream from an io.Reader and returns its events
// one by one, following the WHATWG HTML "Interpreting an event stream" rules.
// It is not safe for concurrent use.
type Decoder struct {
	r      io.Reader
	buf    []byte // read buffer, fixed size, reused
	rpos   int    // start of unread bytes in buf
	wpos   int    // end of valid bytes in buf
	lfAt   int    // cached index of the next LF at or after rpos (wpos: none); -1 unknown
	crAt   int    // same for CR
	rerr   error  // error from r, reported once the buffered bytes are used up
	err    error  // sticky error returned by Next
	bomOK  bool   // the leading-BOM check is done
	skipLF bool   // the last line ended in CR: an LF right after it belongs to it

	line []byte // a line that spans reads, reused
	fix  []byte // scratch for a line with invalid UTF-8, reused

	data     []byte // data buffer (each line followed by LF)
	typ      []byte // event type buffer
	idBuf    string // last event ID buffer
	lastID   string // the stream's last event ID string (committed at dispatch)
	typeStr  string // last type handed out, reused so a repeated type costs no allocation
	retry    Duration
	hasRetry bool
	max      int
}

// NewDecoder returns a Decoder that reads from r with DefaultMaxEventSize.
// A nil r is allowed if Reset is called before Next.
func NewDecoder(r io.Reader) *Decoder {
	d := &Decoder{buf: make([]byte, readBufSize), max: DefaultMaxEventSize}
	d.Reset(r)
	return d
}

// Reset makes d read a new stream from r, as after a reconnection: the last
// event ID string and the reconnection time carry over (the spec keeps them
// on the EventSource, not on the connection), while a half-read line or
// event, an uncommitted id, the BOM check and any error are dropped. The
// buffers are kept, so a reconnect allocates nothing.
func (d *Decoder) Reset(r io.Reader) {
	d.r = r
	d.rpos, d.wpos = 0, 0
	d.lfAt, d.crAt = -1, -1
	d.rerr, d.err = nil, nil
	d.bomOK, d.skipLF = false, false
	d.line = d.line[:0]
	d.data = d.data[:0]
	d.typ = d.typ[:0]
	d.idBuf = d.lastID
}

// SetMaxEventSize sets the largest line, and the largest data buffer of one
// event (counting one LF per data line), that Next accepts before it fails
// with ErrEventTooLarge; it is what keeps memory bounded. n <= 0 restores
// DefaultMaxEventSize.
func (d *Decoder) SetMaxEventSize(n int) {
	if n <= 0 {
		n = DefaultMaxEventSize
	}
	d.max = n
}

// SetLastEventID sets the last event ID string, as if the stream had sent it:
// used to resume a stream whose position was saved, so that events without
// an id field report the right ID.
func (d *Decoder) SetLastEventID(id string) {
	d.idBuf = id
	d.lastID = id
}

// LastEventID returns the stream's last event ID string: the value to send as
// Last-Event-ID when reconnecting. It changes only when a blank line ends an
// event (even one with no data), so an id in an unfinished event never
// counts, and an empty id field resets it to "".
func (d *Decoder) LastEventID() string { return d.lastID }

// Retry returns the reconnection time from the last valid retry field (a
// value of ASCII digits only, in milliseconds), and false if there was none.
// A retry field takes effect as soon as its line ends, event or not.
func (d *Decoder) Retry() (Duration, bool) { return d.retry, d.hasRetry }

// Next returns the next dispatched event. At the end of the stream it returns
// io.EOF, dropping an event that was not finished by a blank line; a read
// error is returned as is, and ErrEventTooLarge when a line or event is too
// big. Errors are sticky until Reset.
func (d *Decoder) Next() (Event, error) {
	if d.err != nil {
		return Event{}, d.err
	}
	for {
		line, err := d.readLine()
		if err != nil {
			d.err = err
			return Event{}, err
		}
		ev, ok, err := d.processLine(line)
		if err != nil {
			d.err = err
			return Event{}, err
		}
		if ok {
			return ev, nil
		}
	}
}

// readLine returns the next complete line without its end (CRLF, LF or CR).
// The slice is only valid until the next call. A final line with no end is
// never returned: at end of stream it is pending data, which the spec
// discards.
func (d *Decoder) readLine() ([]byte, error) {
	d.line = d.line[:0]
	for {
		if d.rpos < d.wpos && !d.bomOK && !d.checkBOM() {
			// Fewer than three bytes that may still be a BOM: read more.
			if d.rerr != nil {
				return nil, d.rerr
			}
			d.fill()
			continue
		}
		if d.rpos < d.wpos && d.skipLF {
			d.skipLF = false
			if d.buf[d.rpos] == '\n' {
				d.rpos++
				continue
			}
		}
		if d.rpos < d.wpos {
			if e := d.lineEnd(); e >= 0 {
				chunk := d.buf[d.rpos:e]
				if len(d.line)+len(chunk) > d.max {
					return nil, ErrEventTooLarge
				}
				line := chunk
				if len(d.line) > 0 {
					d.line = append(d.line, chunk...)
					line = d.line
				}
				d.rpos = e + 1
				if d.buf[e] == '\r' {
					if d.rpos < d.wpos {
						if d.buf[d.rpos] == '\n' {
							d.rpos++
						}
					} else {
						d.skipLF = true
					}
				}
				return line, nil
			}
			// No line end in the buffer: keep the partial line and read on.
			chunk := d.buf[d.rpos:d.wpos]
			if len(d.line)+len(chunk) > d.max {
				return nil, ErrEventTooLarge
			}
			d.line = append(d.line, chunk...)
			d.rpos = d.wpos
		}
		if d.rerr != nil {
			return nil, d.rerr
		}
		d.fill()
	}
}

// checkBOM decides, once, whether the stream starts with a BOM, and skips
// it. It returns false when the bytes so far are a proper prefix of the BOM
// and more must be read to know.
func (d *Decoder) checkBOM() bool {
	b := d.buf[d.rpos:d.wpos]
	n := min(len(b), len(bom))
	if !bytes.Equal(b[:n], bom[:n]) {
		d.bomOK = true
		return true
	}
	if n == len(bom) {
		d.rpos += len(bom)
		d.bomOK = true
		return true
	}
	if d.rerr != nil { // the stream ended inside a would-be BOM
		d.bomOK = true
		return true
	}
	return false
}

// lineEnd returns the index in buf of the first CR or LF at or after rpos,
// or -1. The positions found are cached, so a stream that uses only CR (or
// only LF) is not rescanned for the other byte on every line: scanning stays
// linear.
func (d *Decoder) lineEnd() int {
	if d.lfAt < d.rpos {
		d.lfAt = d.wpos
		if i := bytes.IndexByte(d.buf[d.rpos:d.wpos], '\n'); i >= 0 {
			d.lfAt = d.rpos + i
		}
	}
	if d.crAt < d.rpos {
		d.crAt = d.wpos
		if i := bytes.IndexByte(d.buf[d.rpos:d.wpos], '\r'); i >= 0 {
			d.crAt = d.rpos + i
		}
	}
	e := min(d.lfAt, d.crAt)
	if e >= d.wpos {
		return -1
	}
	return e
}

// fill reads more bytes into buf, keeping unread bytes (only ever a partial
// BOM) at the front.
func (d *Decoder) fill() {
	if d.rpos > 0 {
		n := copy(d.buf, d.buf[d.rpos:d.wpos])
		d.rpos, d.wpos = 0, n
	}
	d.lfAt, d.crAt = -1, -1
	if d.r == nil {
		d.rerr = io.EOF
		return
	}
	for range maxEmptyReads {
		n, err := d.r.Read(d.buf[d.wpos:])
		if n < 0 || n > len(d.buf)-d.wpos {
			d.rerr = errors.New("eventsource: reader returned an invalid count")
			return
		}
		d.wpos += n
		if err != nil {
			d.rerr = err
			return
		}
		if n > 0 {
			return
		}
	}
	d.rerr = io.ErrNoProgress
}

// processLine interprets one line, and returns the event if the line was
// blank and dispatched one.
func (d *Decoder) processLine(line []byte) (Event, bool, error) {
	if len(line) == 0 {
		ev, ok := d.dispatch()
		return ev, ok, nil
	}
	if line[0] == ':' { // comment
		return Event{}, false, nil
	}
	// Decoding line by line gives the same text as decoding the whole
	// stream: CR and LF never take part in a multi-byte sequence, and a
	// sequence they cut short becomes one U+FFFD either way.
	if !utf8.Valid(line) {
		d.fix = appendValidUTF8(d.fix[:0], line)
		line = d.fix
	}
	name, value := line, line[len(line):]
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "event":
		d.typ = append(d.typ[:0], value...)
	case "data":
		if len(d.data)+len(value)+1 > d.max {
			return Event{}, false, ErrEventTooLarge
		}
		d.data = append(d.data, value...)
		d.data = append(d.data, '\n')
	case "id":
		// An id with NUL is ignored: it could not be sent back in a header.
		if bytes.IndexByte(value, 0) < 0 && string(value) != d.idBuf {
			d.idBuf = string(value)
		}
	case "retry":
		if ms, ok := parseRetry(value); ok {
			d.retry, d.hasRetry = ms, true
		}
	}
	return Event{}, false, nil
}

// dispatch ends the current event at a blank line.
func (d *Decoder) dispatch() (Event, bool) {
	d.lastID = d.idBuf
	if len(d.data) == 0 {
		d.typ = d.typ[:0]
		return Event{}, false
	}
	ev := Event{ID: d.lastID, Type: "message", Data: string(d.data[:len(d.data)-1])}
	if len(d.typ) > 0 {
		if string(d.typ) != d.typeStr {
			d.typeStr = string(d.typ)
		}
		ev.Type = d.typeStr
	}
	d.data = d.data[:0]
	d.typ = d.typ[:0]
	return ev, true
}

// maxRetryMillis is the largest retry value that fits a Duration (and a
// time.Duration); a larger one is ignored, like a value that is not a
// number.
const maxRetryMillis = math.MaxInt64 / int64(Millisecond)

// parseRetry parses a retry value: ASCII digits only, base ten (leading
// zeros are not octal), at least one digit.
func parseRetry(v []byte) (Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var ms int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		ms = ms*10 + int64(c-'0')
		if ms > maxRetryMillis {
			return 0, false
		}
	}
	return Duration(ms) * Millisecond, true
}

// appendValidUTF8 appends src to dst with each invalid sequence replaced by
// U+FFFD the way the WHATWG UTF-8 decoder does it: one U+FFFD per maximal
// subpart (a lead byte and the continuation bytes that were still valid), so
// "\xE2\x80x" gives one U+FFFD, not two. This is what a browser's
// TextDecoder and EventSource produce.
func appendValidUTF8(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r != utf8.RuneError || size > 1 {
			dst = append(dst, src[i:i+size]...)
			i += size
			continue
		}
		i += invalidLen(src[i:])
		dst = append(dst, "\uFFFD"...)
	}
	return dst
}

// invalidLen returns the length of the maximal subpart at the start of b,
// which holds an invalid or truncated sequence: the lead byte plus the
// continuation bytes that fit the lead's ranges (the WHATWG decoder's
// "UTF-8 lower/upper boundary"), or 1 when the lead itself is invalid.
func invalidLen(b []byte) int {
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
	default:
		return 1
	}
	n := 1
	for n <= need && n < len(b) && b[n] >= lo && b[n] <= hi {
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}

// BufferLens returns the lengths of d's buffers, so that tests outside the
// package (the fuzz test checks them against the size limit) can see them.
func BufferLens(d *Decoder) (line, data, typ, fix int) {
	return len(d.line), len(d.data), len(d.typ), len(d.fix)
}
