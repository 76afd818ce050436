package server

import "testing"

func TestBlobOwner(t *testing.T) {
	for _, tc := range []struct {
		key, sid, iid string
		ok            bool
	}{
		{"sessions/S/I", "S", "I", true},
		{"sessions/S/I.thumb.jpg", "S", "I", true},
		{"sessions/S/.thumb.jpg", "", "", false},
		{"sessions/S/I.other", "", "", false},
		{"sessions/S", "", "", false},
		{"sessions//I", "", "", false},
		{"sessions/S/I/J", "", "", false},
		{"other/S/I", "", "", false},
	} {
		sid, iid, ok := blobOwner(tc.key)
		if sid != tc.sid || iid != tc.iid || ok != tc.ok {
			t.Errorf("blobOwner(%q) = %q %q %v, want %q %q %v", tc.key, sid, iid, ok, tc.sid, tc.iid, tc.ok)
		}
	}
}
