package ssecases

import (
	"bytes"
	"io"
	"reflect"
	"testing"
)

// TestReadingsCutWithoutLoss checks that every reading hands over exactly
// the input, and that there is one split per byte boundary: a reading that
// lost or doubled a byte would test nothing.
func TestReadingsCutWithoutLoss(t *testing.T) {
	in := []byte("data: a\r\n\r\n")
	n := 0
	for how, r := range Readings(in) {
		n++
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, in) {
			t.Errorf("%s: read %q, %v", how, got, err)
		}
	}
	if want := 4 + len(in) + 1; n != want {
		t.Errorf("%d readings, want %d", n, want)
	}
	for range Readings(in) {
		break // a loop may stop early: Readings must not yield again
	}
}

// TestDecodeMatchesWant runs one case through Decode and checks that an
// outcome differing in one field does not compare equal.
func TestDecodeMatchesWant(t *testing.T) {
	f, err := Parse([]byte(`{"wptCases": 0, "cases": [{"name": "n", "source": "extra",
		"inputBase64": "cmV0cnk6IDUKaWQ6IDEKZGF0YTog/woK", "maxEventSize": 100,
		"events": [{"type": "message", "data": "\ufffd", "id": "1"}], "lastEventId": "1", "retryMs": 5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Cases[0]
	in, err := c.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Decode(bytes.NewReader(in)), c.Want(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	c.LastEventID = "2"
	if got, want := c.Decode(bytes.NewReader(in)), c.Want(); reflect.DeepEqual(got, want) {
		t.Fatalf("a wrong last event ID matched: %v", got)
	}
}

// TestBadInputIsAnError checks that a file that is not cases, or a body
// that is not base64, is an error rather than an empty pass.
func TestBadInputIsAnError(t *testing.T) {
	if _, err := Parse([]byte("not json")); err == nil {
		t.Error("Parse accepted a file that is not JSON")
	}
	if _, err := (Case{InputBase64: "not base64!"}).Bytes(); err == nil {
		t.Error("Bytes accepted bad base64")
	}
}
