package main

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
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

// TestFillAndNames holds fill to strings.ReplaceAll and names to
// strings.Fields, whose code they replace.
func TestFillAndNames(t *testing.T) {
	t.Parallel()
	for _, c := range [][]string{
		{"{a} and {b}, {a}", "{a}", "x", "{b}", "y"},
		{"{a}{a}{a}", "{a}", "{a}{a}"},
		{"no slots", "{a}", "x"},
		{"{n}", "{n}", ""},
		{"{x}{n}", "{x}", "{n}", "{n}", "7"},
		{"", "{a}", "x"},
		{"{a", "{a}", "x"},
	} {
		want := c[0]
		for i := 1; i+1 < len(c); i += 2 {
			want = strings.ReplaceAll(want, c[i], c[i+1])
		}
		if got := fill(c[0], c[1:]...); got != want {
			t.Errorf("fill(%q, %q) = %q, want %q", c[0], c[1:], got, want)
		}
	}
	lists := []string{"", " ", "a", " a  b\tc\n", "Mo Di Mi Do Fr Sa So", "a b c d e f g h"}
	for _, cat := range locale.All() {
		p := cat.Prefixed("pc.")
		lists = append(lists, p[weekdaysKey], p[monthsKey])
	}
	for _, l := range lists {
		want := strings.Fields(l)
		for _, n := range []int{len(want) - 1, len(want), len(want) + 1} {
			if n < 0 {
				continue
			}
			got := make([]string, n)
			ok := names(l, got)
			if ok != (n == len(want)) || (ok && !reflect.DeepEqual(got, want)) {
				t.Errorf("names(%q) into %d = %q, %v; strings.Fields %q", l, n, got, ok, want)
			}
		}
	}
}
