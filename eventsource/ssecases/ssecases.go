// Package ssecases reads the event-stream decoding cases of
// eventsource/testdata/cases.json and runs one through eventsource.Decoder.
//
// The cases are checked in three places: the eventsource tests, the
// ssecheck program (the same cases in a browser's wasm runtime) and the
// interop tests (a browser's own EventSource). This package is the one
// reader of the file, so that all three agree on what a case says and, for
// the two that run our decoder, on how it is read and compared.
//
// It is compiled into the wasm program too, so it does not import testing.
package ssecases

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"strings"
	"testing/iotest"
	"time"

	"qrsync/eventsource"
)

// File is the whole of cases.json.
type File struct {
	// WPTCases is how many cases the file says come from
	// web-platform-tests: a count to check FromWPT against, so a case
	// lost or mislabelled in an edit is noticed.
	WPTCases int    `json:"wptCases"`
	Cases    []Case `json:"cases"`
}

// Case is one case: the body of one response and what a WHATWG-conforming
// parser makes of it. The file's own comment describes each field.
type Case struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
	// Input is the body as text; InputBase64 replaces it when the bytes
	// are not valid UTF-8, which JSON text cannot hold. Use Bytes.
	Input       string `json:"input,omitempty"`
	InputBase64 string `json:"inputBase64,omitempty"`
	// InitialLastEventID, when set, is the last event ID before reading,
	// as on a reconnection.
	InitialLastEventID *string `json:"initialLastEventId,omitempty"`
	// MaxEventSize is the decoder's size limit; 0 is the default.
	MaxEventSize int `json:"maxEventSize,omitempty"`
	// Events, LastEventID, RetryMs and Error are the expected outcome;
	// Want gives it in the form Decode returns.
	Events      []Event `json:"events"`
	LastEventID string  `json:"lastEventId"`
	RetryMs     *int64  `json:"retryMs"`
	Error       string  `json:"error,omitempty"`
}

// Event is one dispatched event of a case.
type Event struct {
	Type string `json:"type"`
	Data string `json:"data"`
	ID   string `json:"id"`
}

// Outcome is everything a case checks, comparable with reflect.DeepEqual.
type Outcome struct {
	Events      []Event // never nil, so that no events compares equal to no events
	LastEventID string
	Retry       time.Duration
	HasRetry    bool
	Err         string // "" (clean EOF), "too-large", or another error's text
}

// ErrTooLarge is Outcome.Err for eventsource.ErrEventTooLarge, as the file
// spells it.
const ErrTooLarge = "too-large"

// maxEvents stops Decode on a decoder that never stops: no case comes near.
const maxEvents = 1 << 20

// Parse reads the bytes of cases.json.
func Parse(b []byte) (File, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return File{}, fmt.Errorf("cases: %w", err)
	}
	return f, nil
}

// Load reads the cases file at path.
func Load(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	f, err := Parse(b)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// FromWPT tells whether the case mirrors a web-platform-tests test.
func (c Case) FromWPT() bool { return strings.HasPrefix(c.Source, "wpt") }

// Bytes returns the body the case feeds the decoder.
func (c Case) Bytes() ([]byte, error) {
	if c.InputBase64 == "" {
		return []byte(c.Input), nil
	}
	b, err := base64.StdEncoding.DecodeString(c.InputBase64)
	if err != nil {
		return nil, fmt.Errorf("%s: bad inputBase64: %w", c.Name, err)
	}
	return b, nil
}

// Want returns the outcome the case expects.
func (c Case) Want() Outcome {
	o := Outcome{Events: c.Events, LastEventID: c.LastEventID, Err: c.Error}
	if o.Events == nil {
		o.Events = []Event{}
	}
	if c.RetryMs != nil {
		o.Retry, o.HasRetry = time.Duration(*c.RetryMs)*time.Millisecond, true
	}
	return o
}

// Decode reads r with an eventsource.Decoder set up as the case says (size
// limit, last event ID before reading) until Next fails, and returns what
// it saw. It also calls Next once more, because errors must be sticky: if
// the second error differs, Err says so and the outcome cannot match.
func (c Case) Decode(r io.Reader) Outcome {
	d := eventsource.NewDecoder(r)
	d.SetMaxEventSize(c.MaxEventSize)
	if c.InitialLastEventID != nil {
		d.SetLastEventID(*c.InitialLastEventID)
	}
	o := Outcome{Events: []Event{}}
	for {
		ev, err := d.Next()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
			case errors.Is(err, eventsource.ErrEventTooLarge):
				o.Err = ErrTooLarge
			default:
				o.Err = err.Error()
			}
			if _, err2 := d.Next(); err2 != err {
				o.Err += fmt.Sprintf(" (then %v: not sticky)", err2)
			}
			break
		}
		if len(o.Events) == maxEvents {
			o.Err = "the decoder does not stop"
			break
		}
		o.Events = append(o.Events, Event{Type: ev.Type, Data: ev.Data, ID: ev.ID})
	}
	o.LastEventID = d.LastEventID()
	o.Retry, o.HasRetry = d.Retry()
	return o
}

// Readings yields in as readers that cut it in every way a network can
// matter to the decoder, each with a name for failure messages: whole, one
// byte per read, the last bytes together with io.EOF, half of what is asked
// per read, and split in two at every byte position. The outcome must not
// depend on the cuts.
func Readings(in []byte) iter.Seq2[string, io.Reader] {
	return func(yield func(string, io.Reader) bool) {
		if !yield("whole", bytes.NewReader(in)) ||
			!yield("one byte per read", iotest.OneByteReader(bytes.NewReader(in))) ||
			!yield("data with EOF", iotest.DataErrReader(bytes.NewReader(in))) ||
			!yield("half reads", iotest.HalfReader(bytes.NewReader(in))) {
			return
		}
		for i := 0; i <= len(in); i++ {
			if !yield("split at "+strconv.Itoa(i), io.MultiReader(bytes.NewReader(in[:i]), bytes.NewReader(in[i:]))) {
				return
			}
		}
	}
}

// String shows the outcome on one line, quoting what may hold control
// characters, for failure messages.
func (o Outcome) String() string {
	var b strings.Builder
	b.WriteString("events=[")
	for i, e := range o.Events {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "{type %q data %q id %q}", e.Type, e.Data, e.ID)
	}
	fmt.Fprintf(&b, "] lastEventId=%q", o.LastEventID)
	if o.HasRetry {
		fmt.Fprintf(&b, " retry=%v", o.Retry)
	}
	if o.Err != "" {
		fmt.Fprintf(&b, " err=%s", o.Err)
	}
	return b.String()
}
