package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"qrsync/api"
)

// jsonCases are documents of every shape the client reads, well and badly
// formed.
var jsonCases = []string{
	`{"id":"a","name":"a.jpg","contentType":"image/jpeg","size":123,"width":4,"height":3,"sha256":"ff","createdAt":"2025-01-01T12:00:00Z","url":"/u","thumbUrl":"/t","displayUrl":"/d","upload":"up"}`,
	`{"id":"sid","uploadUrl":"http://h/u/t","qrUrl":"/q","eventsUrl":"/e","uploadExpiresAt":"2026-12-01T19:04:00.123456789Z","expiresAt":"2026-12-08T18:04:00+02:00","images":[{"id":"a"},{"id":"b","size":-7}]}`,
	`{"images":[],"expiresAt":"2026-12-08T18:04:00-05:30"}`,
	`{"images":null,"expiresAt":null}`,
	`{"images":[null,{"id":"x"}]}`,
	`{"upload":"u1","name":"x.jpg","received":10,"total":100,"error":{"code":"too_large","message":"big"},"duplicate":""}`,
	`{"upload":"u1","error":null}`,
	`{"upload":"u1","error":"no"}`,
	`{"upload":7}`,
	`{"id":`,
	`{"name":"x.jpg"}`,
	`[]`,
	`{}`,
	`nope`,
	`null`,
	``,
	`  {"id" : "a" , "x" : [1, 2.5e-3, true, false, null, {"y": {}}] }  `,
	`{"id":"a"} x`,
	`{"id":"a",}`,
	`{"id":"a" "b":1}`,
	`{"ID":"upper","Name":"N","CONTENTTYPE":"c"}`,
	"{\"\u212Aey\":1,\"\u017Fize\":5,\"ſha256\":\"x\"}",
	`{"id":"\u00e9\ud83d\ude00\ud800x\u0041\n\t\"\\\/"}`,
	"{\"id\":\"\xff\xfeok\xed\xa0\x80\"}",
	"{\"id\":\"a\x01\"}",
	`{"id":"\x"}`,
	`{"id":"\u12"}`,
	`{"size":1.5}`,
	`{"size":1e3}`,
	`{"size":-0}`,
	`{"size":9223372036854775807}`,
	`{"size":9223372036854775808}`,
	`{"size":-9223372036854775808}`,
	`{"size":-9223372036854775809}`,
	`{"size":01}`,
	`{"size":-}`,
	`{"size":1.}`,
	`{"size":"1"}`,
	`{"id":5}`,
	`{"id":true}`,
	`{"id":{}}`,
	`{"id":[]}`,
	`{"id":null}`,
	`{"createdAt":"2025-02-29T12:00:00Z"}`,
	`{"createdAt":"2024-02-29T12:00:00Z"}`,
	`{"createdAt":"2025-01-01T24:00:00Z"}`,
	`{"createdAt":"2025-01-01T12:00:00"}`,
	`{"createdAt":"2025-01-01T12:00:00.Z"}`,
	`{"createdAt":"2025-01-01T12:00:00.1234567891Z"}`,
	`{"createdAt":"2025-01-01T12:00:00+24:00"}`,
	`{"createdAt":"2025-01-01t12:00:00Z"}`,
	`{"createdAt":"\u0032025-01-01T12:00:00Z"}`,
	`{"createdAt":12}`,
	`{"createdAt":"0001-01-01T00:00:00Z"}`,
	`{"createdAt":"0001-01-01T01:00:00+01:00"}`,
	`{"createdAt":"0001-01-01T00:00:00.0004Z"}`,
	`{"createdAt":"0000-01-01T00:00:00-23:59"}`,
	`{"createdAt":"1969-12-31T23:59:59.9999Z"}`,
	`{"createdAt":"9999-12-31T23:59:59.999999999+00:00"}`,
	`{"createdAt":"soon"}`,
	`{"urls":["http://a:1","http://b"]}`,
	`{"urls":[]}`,
	`{"urls":null}`,
	`{"urls":[1]}`,
	`{"urls":"x"}`,
	`{"error":{"code":"expired","message":"This session has ended."}}`,
	`{"error":"x"}`,
	`{"id":"a","id":"b"}`,
	`{"images":[{"id":"a","name":"n"}],"images":[{"id":"b"}]}`,
	`<html>`,
	`{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	`{"a":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`,
}

// sameJSON decodes doc with encoding/json into a fresh A (an api type) and
// with mine into a fresh L (the client's own, conv(A) when encoding/json
// succeeds), and reports any difference: in whether it failed, or in what
// it read.
func sameJSON[A, L any](t *testing.T, doc string, mine func([]byte, *L) error, conv func(A) L) {
	t.Helper()
	var want A
	var got L
	wantErr := json.Unmarshal([]byte(doc), &want)
	gotErr := mine([]byte(doc), &got)
	if (wantErr != nil) != (gotErr != nil) {
		t.Errorf("%T %.80q: error %v, encoding/json says %v", got, doc, gotErr, wantErr)
		return
	}
	if wantErr == nil && !reflect.DeepEqual(got, conv(want)) {
		t.Errorf("%T %.80q:\n got %+v\nwant %+v", got, doc, got, conv(want))
	}
}

func same[T any](v T) T { return v }

type addresses struct {
	URLs []string `json:"urls"`
}

func decodeAddressesInto(b []byte, a *addresses) error { return decodeAddresses(b, &a.URLs) }

func checkAllJSON(t *testing.T, doc string) {
	sameJSON(t, doc, decodeImage, fromImage)
	sameJSON(t, doc, decodeSession, fromSession)
	sameJSON(t, doc, decodeSnapshot, fromSnapshot)
	sameJSON(t, doc, decodeRemoved, same[api.Removed])
	sameJSON(t, doc, decodeProgress, same[api.UploadProgress])
	sameJSON(t, doc, decodeErrorBody, same[api.ErrorBody])
	sameJSON(t, doc, decodeAddressesInto, same[addresses])
}

// TestJSONMatchesEncodingJSON: the hand-written decoder must read every
// document as encoding/json does.
func TestJSONMatchesEncodingJSON(t *testing.T) {
	for _, doc := range jsonCases {
		checkAllJSON(t, doc)
	}
	// What the server writes.
	created := time.Date(2025, 3, 4, 5, 6, 7, 890, time.UTC)
	for _, v := range []any{
		api.Session{ID: "s", UploadURL: "http://h/u/t", QRURL: "/q", EventsURL: "/e", UploadExpiresAt: created, ExpiresAt: created.Add(time.Hour),
			Images: []api.Image{{ID: "a", Name: "<b>\"é\".jpg", Size: 1 << 40, Width: 1, Height: 2, CreatedAt: created, Upload: "u"}}},
		api.Snapshot{Images: []api.Image{{ID: "a"}, {ID: "b", DisplayURL: "/d?x=1&y=2"}}, ExpiresAt: created},
		api.UploadProgress{Upload: "u", Name: "\u2028x", Received: 5, Total: 9, Error: &api.ErrorDetail{Code: "c", Message: "m"}},
		api.ErrorBody{Error: api.ErrorDetail{Code: "expired", Message: "gone"}},
		api.Removed{ID: "r"},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		checkAllJSON(t, string(b))
	}
}

func FuzzJSONMatchesEncodingJSON(f *testing.F) {
	for _, doc := range jsonCases {
		if len(doc) < 1000 {
			f.Add(doc)
		}
	}
	f.Fuzz(func(t *testing.T, doc string) { checkAllJSON(t, doc) })
}
