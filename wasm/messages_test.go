package main

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"qrsync/locale"
)

// TestMain gives the tests the page's English texts, as the server hands
// them to the client.
func TestMain(m *testing.M) {
	var missing []string
	T, missing = MessagesFrom(locale.English.Prefixed("pc."))
	if len(missing) > 0 {
		panic("English lacks client messages: " + fmtList(missing))
	}
	os.Exit(m.Run())
}

// TestEveryCatalogHasTheClientsTexts fails when a language the server
// can render the page in lacks a text the client writes, or has one empty.
func TestEveryCatalogHasTheClientsTexts(t *testing.T) {
	t.Parallel()
	for _, cat := range locale.All() {
		m, missing := MessagesFrom(cat.Prefixed("pc."))
		if len(missing) > 0 {
			t.Errorf("%s lacks %v", cat.Lang, missing)
		}
		for key, field := range m.texts() {
			if *field == "" {
				t.Errorf("%s: %s is empty", cat.Lang, key)
			}
		}
		if len(m.UploadErrors) == 0 {
			t.Errorf("%s: no upload error texts", cat.Lang)
		}
	}
}

// TestDecodeMessages holds the catalog reader to encoding/json's answers.
func TestDecodeMessages(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{}`,
		`{"pc.a":"x","pc.B|one":"{n} \u00e9","k":"a\"b"}`,
		`{"a":"x","a":"y"}`,
		`{"a":1}`,
		`{"a":"x"`,
		`[]`,
		`null`,
	} {
		got, want := map[string]string{}, map[string]string{}
		gotErr := decodeMessages([]byte(doc), got)
		wantErr := json.Unmarshal([]byte(doc), &want)
		if (gotErr != nil) != (wantErr != nil) || (wantErr == nil && len(got)+len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: got %v, %v; encoding/json %v, %v", doc, got, gotErr, want, wantErr)
		}
	}
	if got := fill("{a} and {b}, {a}", "{a}", "x", "{b}", "y"); got != "x and y, x" {
		t.Errorf("fill = %q", got)
	}
}

func fmtList(s []string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
