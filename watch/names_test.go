package watch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
)

// TestUniqueNames: photos sent under one name, and names that differ only
// in case, each get their own file, numbered in arrival order.
func TestUniqueNames(t *testing.T) {
	app := startServer(t)
	s := app.NewSession()
	dir := t.TempDir()
	w := startWatcher(t, Config{SessionURL: sessionURL(app.Base, s), Dir: dir, Fetcher: newFetcher(t)})
	eventually(t, 20*time.Second, "the first snapshot", func() bool { return w.rec.count(ReportSynced) == 1 })
	// An existing stranger takes the first name.
	os.WriteFile(filepath.Join(dir, "dup.png"), []byte("mine"), 0o600)
	names := []string{"dup.png", "dup.png", "DUP.png", "sub/dup.png", "dup (2).png"}
	for i, n := range names {
		_, data := apptest.Photo(t, 2*i) // even: PNG
		app.MustUpload(s, n, data)
	}
	eventually(t, 20*time.Second, "five photos", func() bool { return w.rec.count(ReportSaved) == len(names) })
	var got []string
	for _, r := range w.rec.of(ReportSaved) {
		got = append(got, r.File)
	}
	// Where the file system ignores case, "DUP.png" collides as well; both
	// outcomes are unique names.
	want := []string{"dup (2).png", "dup (3).png", "DUP.png", "dup (4).png", "dup (2) (2).png"}
	if exists(filepath.Join(dir, "dup.PNG")) { // case-insensitive
		want = []string{"dup (2).png", "dup (3).png", "DUP (4).png", "dup (5).png", "dup (2) (2).png"}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("names %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dup.png")); string(b) != "mine" {
		t.Error("the stranger's file was overwritten")
	}
}

func TestReportDisplaysNamesSafely(t *testing.T) {
	for _, tc := range []struct {
		r    Report
		want string
	}{
		{Report{Kind: ReportSaved, File: "Été 1.jpg"}, "saved Été 1.jpg"},
		{Report{Kind: ReportRetry, Image: api.Image{Name: "a\x1b]0;pwned\x07.jpg"}, Err: errors.New("EOF")}, `retrying "a\x1b]0;pwned\a.jpg": EOF`},
		{Report{Kind: ReportSkipped, Image: api.Image{Name: "x\u202Egnp.exe"}}, `skipped "x\u202egnp.exe": no longer on the server`},
		{Report{Kind: ReportKept, File: "a\nb.jpg"}, `kept "a\nb.jpg" (removed from the session)`},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}
