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
		for _, txt := range texts {
			if *m.text(txt.off) == "" {
				t.Errorf("%s: %s is empty", cat.Lang, txt.key)
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

// TestTextsCoverMessages fails when a plain string field of Messages has
// no catalog key in texts (it would stay "" on every page), or two keys.
func TestTextsCoverMessages(t *testing.T) {
	t.Parallel()
	keys := map[uintptr][]string{}
	for _, txt := range texts {
		keys[txt.off] = append(keys[txt.off], txt.key)
	}
	typ := reflect.TypeFor[Messages]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.String {
			continue
		}
		if k := keys[f.Offset]; len(k) != 1 {
			t.Errorf("Messages.%s has keys %v in texts, want one", f.Name, k)
		}
		delete(keys, f.Offset)
	}
	for off, k := range keys {
		t.Errorf("texts has %v at offset %d, no string field of Messages", k, off)
	}
}
