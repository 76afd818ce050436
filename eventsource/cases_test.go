package eventsource_test

import (
	"reflect"
	"testing"

	"qrsync/eventsource/ssecases"
)

// TestDecoderCases runs every case of testdata/cases.json in every reading
// ssecases.Readings gives (whole, split into two reads at every byte
// position, one byte per read, ...): the result must not depend on how the
// network cut the stream. It is an external test because ssecases imports
// eventsource.
func TestDecoderCases(t *testing.T) {
	f, err := ssecases.Load("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	wpt := 0
	seen := map[string]bool{}
	for _, c := range f.Cases {
		if seen[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		if c.FromWPT() {
			wpt++
		}
		t.Run(c.Name, func(t *testing.T) {
			in, err := c.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			want := c.Want()
			failures := 0
			for how, r := range ssecases.Readings(in) {
				if got := c.Decode(r); !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %v\nwant %v", how, got, want)
					// A few failing readings show what goes wrong;
					// hundreds of splits would bury it.
					if failures++; failures == 3 {
						return
					}
				}
			}
		})
	}
	if wpt != f.WPTCases {
		t.Errorf("cases.json says %d WPT cases, found %d", f.WPTCases, wpt)
	}
	t.Logf("%d cases: %d derived from WPT, %d extra", len(f.Cases), wpt, len(f.Cases)-wpt)
}
