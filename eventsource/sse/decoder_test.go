package sse

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

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
	if r, ok := d.Retry(); !ok || r != 700*Millisecond {
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
