package eventsource

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
)

// decodeCase is one entry of testdata/cases.json. The file is shared with a
// browser test that runs the same cases through the wasm build.
type decodeCase struct {
	Name               string      `json:"name"`
	Source             string      `json:"source"`
	Note               string      `json:"note,omitempty"`
	Input              string      `json:"input,omitempty"`
	InputBase64        string      `json:"inputBase64,omitempty"`
	InitialLastEventID *string     `json:"initialLastEventId,omitempty"`
	MaxEventSize       int         `json:"maxEventSize,omitempty"`
	Events             []caseEvent `json:"events"`
	LastEventID        string      `json:"lastEventId"`
	RetryMs            *int64      `json:"retryMs"`
	Error              string      `json:"error,omitempty"`
}

type caseEvent struct {
	Type string `json:"type"`
	Data string `json:"data"`
	ID   string `json:"id"`
}

// input returns the case's body bytes.
func (c decodeCase) input(t testing.TB) []byte {
	if c.InputBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(c.InputBase64)
		if err != nil {
			t.Fatalf("%s: bad inputBase64: %v", c.Name, err)
		}
		return b
	}
	return []byte(c.Input)
}

// outcome is everything a case checks: comparable with reflect.DeepEqual.
type outcome struct {
	Events      []caseEvent
	LastEventID string
	Retry       time.Duration
	HasRetry    bool
	Err         string // "" (clean EOF), "too-large", or another error's text
}

func (c decodeCase) want() outcome {
	o := outcome{Events: c.Events, LastEventID: c.LastEventID, Err: c.Error}
	if o.Events == nil {
		o.Events = []caseEvent{}
	}
	if c.RetryMs != nil {
		o.Retry, o.HasRetry = time.Duration(*c.RetryMs)*time.Millisecond, true
	}
	return o
}

type casesFile struct {
	WPTCases int          `json:"wptCases"`
	Cases    []decodeCase `json:"cases"`
}

func loadCases(t testing.TB) casesFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f casesFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("testdata/cases.json: %v", err)
	}
	return f
}

// decodeAll runs a Decoder over r until it stops and records what it saw.
func decodeAll(t testing.TB, r io.Reader, initialID *string, limit int) outcome {
	t.Helper()
	d := NewDecoder(r)
	d.SetMaxEventSize(limit)
	if initialID != nil {
		d.SetLastEventID(*initialID)
	}
	o := outcome{Events: []caseEvent{}}
	for i := 0; ; i++ {
		ev, err := d.Next()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
			case errors.Is(err, ErrEventTooLarge):
				o.Err = "too-large"
			default:
				o.Err = err.Error()
			}
			// Errors are sticky.
			if _, err2 := d.Next(); err2 != err {
				t.Errorf("second Next after %v returned %v", err, err2)
			}
			break
		}
		if i > 1<<20 {
			t.Fatal("decoder does not stop")
		}
		o.Events = append(o.Events, caseEvent{Type: ev.Type, Data: ev.Data, ID: ev.ID})
	}
	o.LastEventID = d.LastEventID()
	o.Retry, o.HasRetry = d.Retry()
	return o
}

// TestDecoderCases runs every case of testdata/cases.json whole, split into
// two reads at every byte position, and one byte per read: the result must
// not depend on how the network cut the stream.
func TestDecoderCases(t *testing.T) {
	f := loadCases(t)
	wpt := 0
	seen := map[string]bool{}
	for _, c := range f.Cases {
		if seen[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		if len(c.Source) >= 3 && c.Source[:3] == "wpt" {
			wpt++
		}
		t.Run(c.Name, func(t *testing.T) {
			in := c.input(t)
			want := c.want()
			check := func(how string, r io.Reader) {
				t.Helper()
				got := decodeAll(t, r, c.InitialLastEventID, c.MaxEventSize)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", how, got, want)
				}
			}
			check("whole", bytes.NewReader(in))
			check("one byte per read", iotest.OneByteReader(bytes.NewReader(in)))
			check("data with EOF", iotest.DataErrReader(bytes.NewReader(in)))
			check("half reads", iotest.HalfReader(bytes.NewReader(in)))
			for i := 0; i <= len(in); i++ {
				check("split at "+itoa(i), io.MultiReader(bytes.NewReader(in[:i]), bytes.NewReader(in[i:])))
				if t.Failed() {
					return
				}
			}
		})
	}
	if wpt != f.WPTCases {
		t.Errorf("cases.json says %d WPT cases, found %d", f.WPTCases, wpt)
	}
	t.Logf("%d cases: %d derived from WPT, %d extra", len(f.Cases), wpt, len(f.Cases)-wpt)
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// TestDecoderReadError checks that a read error ends the stream with that
// error, after the events already complete, and drops the unfinished one.
func TestDecoderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader([]byte("data: a\n\ndata: b\n")), iotest.ErrReader(boom))
	d := NewDecoder(r)
	ev, err := d.Next()
	if err != nil || ev.Data != "a" {
		t.Fatalf("Next = %+v, %v", ev, err)
	}
	if _, err := d.Next(); err != boom {
		t.Fatalf("Next err = %v, want boom", err)
	}
}

// TestDecoderNoProgress checks that a reader stuck on (0, nil) is reported
// rather than spun on forever.
func TestDecoderNoProgress(t *testing.T) {
	d := NewDecoder(zeroReader{})
	if _, err := d.Next(); err != io.ErrNoProgress {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// TestDecoderReset checks what carries over to the next connection: the
// committed last event ID and the retry time, but not a half-read event, its
// uncommitted id, or a pending CR.
func TestDecoderReset(t *testing.T) {
	d := NewDecoder(bytes.NewReader([]byte("retry: 700\nid: 1\ndata: a\n\nid: 2\nevent: x\ndata: half\r")))
	if ev, err := d.Next(); err != nil || ev.ID != "1" {
		t.Fatalf("Next = %+v, %v", ev, err)
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("err = %v, want EOF", err)
	}
	d.Reset(bytes.NewReader([]byte("\ufeff\ndata: b\n\n")))
	ev, err := d.Next()
	if err != nil || ev != (Event{ID: "1", Type: "message", Data: "b"}) {
		t.Fatalf("after Reset: %+v, %v", ev, err)
	}
	if r, ok := d.Retry(); !ok || r != 700*time.Millisecond {
		t.Fatalf("Retry = %v, %v", r, ok)
	}
}

// TestDecoderLargeStream runs events bigger than the read buffer and lines
// that straddle reads, against the size limit at its default.
func TestDecoderLargeStream(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80 KB, > readBufSize
	var in bytes.Buffer
	for i := 0; i < 5; i++ {
		in.WriteString("id: ")
		in.WriteString(itoa(i))
		in.WriteString("\r\ndata: ")
		in.Write(big)
		in.WriteString("\r\ndata: ")
		in.Write(big[:i])
		in.WriteString("\r\n\r\n")
	}
	for _, r := range []io.Reader{bytes.NewReader(in.Bytes()), iotest.HalfReader(bytes.NewReader(in.Bytes()))} {
		d := NewDecoder(r)
		for i := 0; i < 5; i++ {
			ev, err := d.Next()
			if err != nil {
				t.Fatal(err)
			}
			if want := string(big) + "\n" + string(big[:i]); ev.Data != want || ev.ID != itoa(i) {
				t.Fatalf("event %d: id %q, %d bytes of data", i, ev.ID, len(ev.Data))
			}
		}
		if _, err := d.Next(); err != io.EOF {
			t.Fatalf("err = %v", err)
		}
	}
}

// TestDecoderAllocs checks the steady state: one allocation per event for
// its data and one for a new id, none per line or byte.
func TestDecoderAllocs(t *testing.T) {
	stream := benchStream(200)
	r := bytes.NewReader(stream)
	d := NewDecoder(r)
	allocs := testing.AllocsPerRun(20, func() {
		r.Reset(stream)
		d.Reset(r)
		for {
			if _, err := d.Next(); err != nil {
				break
			}
		}
	})
	if perEvent := allocs / 200; perEvent > 2.1 {
		t.Errorf("%.2f allocations per event, want <= 2", perEvent)
	}
}
