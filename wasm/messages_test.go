package main

import (
	"html"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestStaticMessages keeps index.html and the message table in step: every
// key the page names exists, every static text is used, and the English
// the page shows before the client loads is the table's.
func TestStaticMessages(t *testing.T) {
	b, err := os.ReadFile("../web/static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	used := map[string]bool{}
	text := regexp.MustCompile(`data-msg="([^"]+)"[^>]*>([^<]*)<`)
	for _, m := range text.FindAllStringSubmatch(page, -1) {
		key, shown := m[1], html.UnescapeString(strings.TrimSpace(m[2]))
		used[key] = true
		want, ok := English.Static[key]
		if !ok {
			t.Errorf("index.html names data-msg %q, which messages.go lacks", key)
			continue
		}
		if shown != want {
			t.Errorf("data-msg %q: index.html says %q, messages.go %q", key, shown, want)
		}
	}
	attr := regexp.MustCompile(`data-msg-(aria-label|alt|title)="([^"]+)"`)
	for _, m := range attr.FindAllStringSubmatch(page, -1) {
		used[m[2]] = true
		want, ok := English.Static[m[2]]
		if !ok {
			t.Errorf("index.html names data-msg-%s %q, which messages.go lacks", m[1], m[2])
			continue
		}
		// the attribute itself carries the same English
		tag := page[strings.LastIndex(page[:strings.Index(page, m[0])], "<"):]
		tag = tag[:strings.Index(tag, ">")]
		if !strings.Contains(tag, m[1]+`="`+want+`"`) {
			t.Errorf("%s of %q: index.html's tag %s does not carry %q", m[1], m[2], tag, want)
		}
	}
	for key := range English.Static {
		if !used[key] {
			t.Errorf("messages.go has static text %q that index.html never uses", key)
		}
	}
	if !strings.Contains(page, "<title>"+html.EscapeString(English.Title)+"</title>") {
		t.Errorf("index.html's title is not %q", English.Title)
	}
	for _, a := range msgAttrsHost {
		if !strings.Contains(page, "data-msg-"+a) {
			t.Logf("attribute %s is never used", a)
		}
	}
}

// msgAttrsHost mirrors msgAttrs of ui_js.go (which the host build cannot
// see), so this test can warn when index.html uses an attribute the
// client does not translate.
var msgAttrsHost = []string{"aria-label", "alt", "title"}

// TestMessagesComplete fails when a text of the table is empty, so a
// translation that forgets one is caught here and not on screen.
func TestMessagesComplete(t *testing.T) {
	v := reflect.ValueOf(English)
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			if f.String() == "" {
				t.Errorf("%s is empty", name)
			}
		case reflect.Array:
			for j := range f.Len() {
				if f.Index(j).String() == "" {
					t.Errorf("%s[%d] is empty", name, j)
				}
			}
		case reflect.Map:
			for _, k := range f.MapKeys() {
				if f.MapIndex(k).String() == "" {
					t.Errorf("%s[%v] is empty", name, k)
				}
			}
		}
	}
	if got := fill("{a} and {b}, {a}", "{a}", "x", "{b}", "y"); got != "x and y, x" {
		t.Errorf("fill = %q", got)
	}
}
