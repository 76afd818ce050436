package main

import (
	"errors"
	"unicode/utf8"
	"unsafe"

	"qrsync/api/wire"
)

// The client reads a handful of JSON shapes (Session, Image and
// Snapshot as Session, Image and Snapshot, wire.Removed,
// wire.UploadProgress, wire.ErrorBody and the address list). encoding/json would bring reflect and fmt into the wasm
// binary and more than double its size, so they are decoded here by hand,
// following encoding/json's rules for these types: keys match exactly or
// case-insensitively, unknown keys are skipped, null leaves a value as it is
// (and empties a slice or pointer), a value of the wrong kind, a number that
// is not an integer or any syntax error fails the whole document. The
// differential tests in jsondec_test.go hold the two to the same answers.

var (
	errJSONSyntax = errors.New("json: syntax error")
	errJSONType   = errors.New("json: value of the wrong type")
	errJSONDepth  = errors.New("json: exceeded max depth")
)

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// jsonDec reads one JSON document. The first error sticks: every read
// after it does nothing.
type jsonDec struct {
	s     []byte
	i     int
	depth int
	err   error
}

// decodeJSON runs read over the single value that b must hold.
func decodeJSON(b []byte, read func(d *jsonDec)) error {
	d := &jsonDec{s: b}
	read(d)
	if d.err == nil && d.peek() != 0 {
		d.fail(errJSONSyntax)
	}
	if d.err == nil && d.i != len(d.s) {
		d.fail(errJSONSyntax)
	}
	return d.err
}

//go:noinline
func (d *jsonDec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.i = len(d.s)
}

// peek skips white space and returns the next byte, 0 at the end.
//
//go:noinline
func (d *jsonDec) peek() byte {
	for d.i < len(d.s) {
		switch c := d.s[d.i]; c {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return c
		}
	}
	return 0
}

//go:noinline
func (d *jsonDec) lit(w string) {
	if len(d.s)-d.i >= len(w) && string(d.s[d.i:d.i+len(w)]) == w {
		d.i += len(w)
		return
	}
	d.fail(errJSONSyntax)
}

// null consumes a null, if that is what comes next.
func (d *jsonDec) null() bool {
	if d.peek() == 'n' {
		d.lit("null")
		return true
	}
	return false
}

// mismatch is a value of the wrong kind: a null is fine (it changes
// nothing), anything else is an error.
//
//go:noinline
func (d *jsonDec) mismatch() {
	if !d.null() {
		d.fail(errJSONType)
	}
}

// object reads an object, handing each member's key to field, which must
// read the value. A null reads as nothing; any other value is an error.
func (d *jsonDec) object(field func(key string)) {
	d.members(func(key string) { field(foldKey(key)) })
}

// members is object with each key as it is written, for a map.
func (d *jsonDec) members(field func(key string)) {
	if d.peek() != '{' {
		d.mismatch()
		return
	}
	d.i++
	if d.enter() {
		return
	}
	defer d.leave()
	if d.peek() == '}' {
		d.i++
		return
	}
	for d.err == nil {
		if d.peek() != '"' {
			d.fail(errJSONSyntax)
			return
		}
		key := d.str()
		if d.peek() != ':' {
			d.fail(errJSONSyntax)
			return
		}
		d.i++
		field(key)
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return
		default:
			d.fail(errJSONSyntax)
		}
	}
}

// array reads an array, calling elem for each element, which must read
// it. The caller handles null.
func (d *jsonDec) array(elem func()) {
	if d.peek() != '[' {
		d.mismatch()
		return
	}
	d.i++
	if d.enter() {
		return
	}
	defer d.leave()
	if d.peek() == ']' {
		d.i++
		return
	}
	for d.err == nil {
		elem()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return
		default:
			d.fail(errJSONSyntax)
		}
	}
}

func (d *jsonDec) enter() bool {
	d.depth++
	if d.depth > maxJSONDepth {
		d.fail(errJSONDepth)
		return true
	}
	return false
}

func (d *jsonDec) leave() { d.depth-- }

// skip reads any value.
func (d *jsonDec) skip() {
	switch c := d.peek(); {
	case c == '{':
		d.object(func(string) { d.skip() })
	case c == '[':
		d.array(d.skip)
	case c == '"':
		d.str()
	case c == 't':
		d.lit("true")
	case c == 'f':
		d.lit("false")
	case c == 'n':
		d.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		d.number()
	default:
		d.fail(errJSONSyntax)
	}
}

// number reads a number literal.
func (d *jsonDec) number() string {
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.s) && d.s[d.i] == '0':
		d.i++
	case d.digits() == 0:
		d.fail(errJSONSyntax)
		return ""
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			d.fail(errJSONSyntax)
			return ""
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			d.fail(errJSONSyntax)
			return ""
		}
	}
	return string(d.s[start:d.i])
}

func (d *jsonDec) digits() int {
	n := 0
	for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

// str reads a string literal (d.s[d.i] is its quote) and returns its
// value. Invalid UTF-8 and lone surrogates become U+FFFD, as in
// encoding/json.
func (d *jsonDec) str() string {
	d.i++
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		if c == '"' {
			d.i++
			return string(d.s[start : d.i-1])
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.i++
	}
	b := append([]byte(nil), d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b)
		case c < 0x20:
			d.fail(errJSONSyntax)
			return ""
		case c == '\\':
			if d.i+1 >= len(d.s) {
				d.fail(errJSONSyntax)
				return ""
			}
			e := d.s[d.i+1]
			d.i += 2
			if e != 'u' {
				// One append for the one-letter escapes, not one each.
				j := 0
				for j < len(jsonEscapes) && jsonEscapes[j] != e {
					j++
				}
				if j == len(jsonEscapes) {
					d.fail(errJSONSyntax)
					return ""
				}
				b = append(b, jsonUnescaped[j])
				break
			}
			r := d.hex4(d.i)
			if r < 0 {
				d.fail(errJSONSyntax)
				return ""
			}
			d.i += 4
			if 0xD800 <= r && r < 0xE000 {
				r2 := rune(-1)
				if d.i+1 < len(d.s) && d.s[d.i] == '\\' && d.s[d.i+1] == 'u' {
					r2 = d.hex4(d.i + 2)
				}
				if r < 0xDC00 && 0xDC00 <= r2 && r2 < 0xE000 {
					r = (r-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
					d.i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.i++
		default:
			r, n := utf8.DecodeRune(d.s[d.i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, d.s[d.i:d.i+n]...)
			}
			d.i += n
		}
	}
	d.fail(errJSONSyntax)
	return ""
}

// The one-letter escapes of a JSON string, and the bytes they stand for.
const (
	jsonEscapes   = `"\/bfnrt`
	jsonUnescaped = "\"\\/\b\f\n\r\t"
)

// hex4 is the value of the four hex digits at i, -1 if they are not.
func (d *jsonDec) hex4(i int) rune {
	if len(d.s)-i < 4 {
		return -1
	}
	var r rune
	for _, c := range d.s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// foldKey is the key as matched against the lower-case field names:
// encoding/json matches a key exactly or else case-insensitively
// (bytes.EqualFold); no two fields of one type differ only in case, so
// folding the key alone gives the same match. The Kelvin sign and the long
// s are the two runes outside ASCII that fold to an ASCII letter.
func foldKey(k string) string {
	plain := true
	for i := 0; i < len(k); i++ {
		if c := k[i]; 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return k
	}
	b := make([]byte, 0, len(k))
	for _, r := range k {
		switch {
		case 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		case r == '\u212A':
			r = 'k'
		case r == '\u017F':
			r = 's'
		case r >= utf8.RuneSelf:
			return k // matches no field name
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// The typed readers: each leaves its target alone on null.

func (d *jsonDec) string(p *string) {
	if d.peek() != '"' {
		d.mismatch()
		return
	}
	*p = d.str()
}

func (d *jsonDec) int64(p *int64) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		d.mismatch()
		return
	}
	lit := d.number()
	if d.err != nil {
		return
	}
	n, ok := parseInt64(lit)
	if !ok {
		d.fail(errJSONType)
		return
	}
	*p = n
}

// parseInt64 is strconv.ParseInt(s, 10, 64) for a JSON number literal
// (without strconv's error type, which brings its quoting tables): false
// for a fraction, an exponent or an overflow.
func parseInt64(s string) (int64, bool) {
	neg := s != "" && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63 {
			return 0, false
		}
	}
	if !neg && n == 1<<63 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func (d *jsonDec) int(p *int) {
	n := int64(*p)
	d.int64(&n)
	*p = int(n)
}

// time reads an RFC 3339 string, as time.Time's UnmarshalJSON does (from
// the literal's raw bytes), to the millisecond.
func (d *jsonDec) time(p *Instant) {
	if d.peek() != '"' {
		d.mismatch()
		return
	}
	start := d.i
	d.str()
	if d.err != nil {
		return
	}
	t, ok := parseRFC3339(d.s[start+1 : d.i-1])
	if !ok {
		d.fail(errJSONType)
		return
	}
	*p = t
}

// strings reads a []string.
func (d *jsonDec) strings(p *[]string) {
	if d.null() {
		*p = nil
		return
	}
	n := 0
	d.array(func() {
		if n < len(*p) {
			d.string(&(*p)[n])
		} else {
			var s string
			d.string(&s)
			*p = append(*p, s)
		}
		n++
	})
	if n == 0 {
		*p = []string{}
	}
	*p = (*p)[:n]
}

// images reads a []Image; like encoding/json it decodes into the
// elements already there.
func (d *jsonDec) images(p *[]Image) {
	if d.null() {
		*p = nil
		return
	}
	n := 0
	d.array(func() {
		if n < len(*p) {
			d.image(&(*p)[n])
		} else {
			var img Image
			d.image(&img)
			*p = append(*p, img)
		}
		n++
	})
	if n == 0 {
		*p = []Image{}
	}
	*p = (*p)[:n]
}

// The shapes the client reads, as tables of each field's key (folded, as
// object hands it over), how its value reads and where it is in its
// struct: one loop over a table is data where a switch per shape was code
// in the wasm, the page's download.

// jsonKind is how a field's value reads.
type jsonKind uint8

const (
	jString jsonKind = iota
	jInt64
	jInt
	jTime
	jStrings
	jImages
	jErrorDetail
	jErrorPtr // a *wire.ErrorDetail: null empties it
)

// jsonField is one field of a table: a key, and its value's kind and
// offset in the struct.
type jsonField struct {
	key  string
	kind jsonKind
	off  uintptr
}

var imageFields = [...]jsonField{
	{"id", jString, unsafe.Offsetof(Image{}.ID)},
	{"name", jString, unsafe.Offsetof(Image{}.Name)},
	{"contenttype", jString, unsafe.Offsetof(Image{}.ContentType)},
	{"size", jInt64, unsafe.Offsetof(Image{}.Size)},
	{"width", jInt, unsafe.Offsetof(Image{}.Width)},
	{"height", jInt, unsafe.Offsetof(Image{}.Height)},
	{"sha256", jString, unsafe.Offsetof(Image{}.SHA256)},
	{"createdat", jTime, unsafe.Offsetof(Image{}.CreatedAt)},
	{"url", jString, unsafe.Offsetof(Image{}.URL)},
	{"thumburl", jString, unsafe.Offsetof(Image{}.ThumbURL)},
	{"displayurl", jString, unsafe.Offsetof(Image{}.DisplayURL)},
	{"upload", jString, unsafe.Offsetof(Image{}.Upload)},
}

var sessionFields = [...]jsonField{
	{"id", jString, unsafe.Offsetof(Session{}.ID)},
	{"uploadurl", jString, unsafe.Offsetof(Session{}.UploadURL)},
	{"qrurl", jString, unsafe.Offsetof(Session{}.QRURL)},
	{"eventsurl", jString, unsafe.Offsetof(Session{}.EventsURL)},
	{"uploadexpiresat", jTime, unsafe.Offsetof(Session{}.UploadExpiresAt)},
	{"expiresat", jTime, unsafe.Offsetof(Session{}.ExpiresAt)},
	{"images", jImages, unsafe.Offsetof(Session{}.Images)},
}

var snapshotFields = [...]jsonField{
	{"images", jImages, unsafe.Offsetof(Snapshot{}.Images)},
	{"expiresat", jTime, unsafe.Offsetof(Snapshot{}.ExpiresAt)},
}

var removedFields = [...]jsonField{
	{"id", jString, unsafe.Offsetof(wire.Removed{}.ID)},
}

var progressFields = [...]jsonField{
	{"upload", jString, unsafe.Offsetof(wire.UploadProgress{}.Upload)},
	{"name", jString, unsafe.Offsetof(wire.UploadProgress{}.Name)},
	{"received", jInt64, unsafe.Offsetof(wire.UploadProgress{}.Received)},
	{"total", jInt64, unsafe.Offsetof(wire.UploadProgress{}.Total)},
	{"error", jErrorPtr, unsafe.Offsetof(wire.UploadProgress{}.Error)},
	{"duplicate", jString, unsafe.Offsetof(wire.UploadProgress{}.Duplicate)},
}

var errorDetailFields = [...]jsonField{
	{"code", jString, unsafe.Offsetof(wire.ErrorDetail{}.Code)},
	{"message", jString, unsafe.Offsetof(wire.ErrorDetail{}.Message)},
}

var errorBodyFields = [...]jsonField{
	{"error", jErrorDetail, unsafe.Offsetof(wire.ErrorBody{}.Error)},
}

// addressesFields reads {"urls":[…]} into a []string.
var addressesFields = [...]jsonField{{"urls", jStrings, 0}}

// fields reads an object into the struct at p, whose fields fs describes;
// other keys are skipped.
func (d *jsonDec) fields(p unsafe.Pointer, fs []jsonField) {
	d.object(func(k string) {
		for _, f := range fs {
			if f.key == k {
				d.value(unsafe.Add(p, f.off), f.kind)
				return
			}
		}
		d.skip()
	})
}

// value reads a value of kind k into p.
func (d *jsonDec) value(p unsafe.Pointer, k jsonKind) {
	switch k {
	case jString:
		d.string((*string)(p))
	case jInt64:
		d.int64((*int64)(p))
	case jInt:
		d.int((*int)(p))
	case jTime:
		d.time((*Instant)(p))
	case jStrings:
		d.strings((*[]string)(p))
	case jImages:
		d.images((*[]Image)(p))
	case jErrorDetail:
		d.fields(p, errorDetailFields[:])
	case jErrorPtr:
		e := (**wire.ErrorDetail)(p)
		if d.null() {
			*e = nil
			return
		}
		if d.peek() != '{' {
			d.fail(errJSONType)
			return
		}
		if *e == nil {
			*e = new(wire.ErrorDetail)
		}
		d.fields(unsafe.Pointer(*e), errorDetailFields[:])
	}
}

func (d *jsonDec) image(img *Image) { d.fields(unsafe.Pointer(img), imageFields[:]) }

// The documents the client reads.

func decodeSession(b []byte, s *Session) error {
	return decodeJSON(b, func(d *jsonDec) { d.fields(unsafe.Pointer(s), sessionFields[:]) })
}

func decodeImage(b []byte, img *Image) error {
	return decodeJSON(b, func(d *jsonDec) { d.image(img) })
}

func decodeSnapshot(b []byte, s *Snapshot) error {
	return decodeJSON(b, func(d *jsonDec) { d.fields(unsafe.Pointer(s), snapshotFields[:]) })
}

func decodeRemoved(b []byte, r *wire.Removed) error {
	return decodeJSON(b, func(d *jsonDec) { d.fields(unsafe.Pointer(r), removedFields[:]) })
}

func decodeProgress(b []byte, p *wire.UploadProgress) error {
	return decodeJSON(b, func(d *jsonDec) { d.fields(unsafe.Pointer(p), progressFields[:]) })
}

func decodeErrorBody(b []byte, e *wire.ErrorBody) error {
	return decodeJSON(b, func(d *jsonDec) { d.fields(unsafe.Pointer(e), errorBodyFields[:]) })
}

// decodeAddresses reads {"urls":[…]}.
func decodeAddresses(b []byte, urls *[]string) error {
	return decodeJSON(b, func(d *jsonDec) { d.fields(unsafe.Pointer(urls), addressesFields[:]) })
}

// parseRFC3339 parses a time as time.Time's UnmarshalJSON does for every
// time the server writes: "2006-01-02T15:04:05Z07:00" with optional
// fractional seconds. (time also takes some malformed forms, such as a
// one-digit hour, through a lenient fallback; no Go encoder writes them.)
// Fractions of a millisecond are dropped. The zero time.Time, which the
// server writes for a time it does not know, is 0; so is the Unix epoch
// itself, which no session can name.
func parseRFC3339(s []byte) (Instant, bool) {
	ok := true
	num := func(b []byte, lo, hi int) int {
		x := 0
		for _, c := range b {
			if c < '0' || '9' < c {
				ok = false
				return lo
			}
			x = x*10 + int(c-'0')
		}
		if x < lo || hi < x {
			ok = false
			return lo
		}
		return x
	}
	if len(s) < len("2006-01-02T15:04:05") {
		return 0, false
	}
	year := num(s[0:4], 0, 9999)
	month := num(s[5:7], 1, 12)
	day := num(s[8:10], 1, daysIn(month, year))
	hour := num(s[11:13], 0, 23)
	minute := num(s[14:16], 0, 59)
	sec := num(s[17:19], 0, 59)
	if !ok || !(s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':') {
		return 0, false
	}
	s = s[19:]
	nsec := 0
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		n := 1
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		for i := 1; i < 10; i++ {
			nsec *= 10
			if i < n {
				nsec += int(s[i] - '0')
			}
		}
		s = s[n:]
	}
	off := 0
	switch {
	case len(s) == 1 && s[0] == 'Z':
	case len(s) == len("-07:00"):
		// time's lenient fallback takes an offset up to 24:60.
		hr := num(s[1:3], 0, 24)
		mm := num(s[4:6], 0, 60)
		if !ok || !((s[0] == '-' || s[0] == '+') && s[3] == ':') {
			return 0, false
		}
		off = (hr*60 + mm) * 60
		if s[0] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	secs := daysFrom(year, month, day)*86400 + int64(hour*3600+minute*60+sec-off)
	if secs == zeroTimeUnix && nsec == 0 {
		return 0, true
	}
	return Instant(secs*1000 + int64(nsec/1e6)), true
}

// zeroTimeUnix is the zero time.Time, 0001-01-01T00:00:00Z, in Unix
// seconds.
const zeroTimeUnix = -62135596800

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
