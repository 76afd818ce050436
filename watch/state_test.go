package watch

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"qrsync/internal/apptest"
)

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st, err := loadState(dir)
	if err != nil {
		t.Fatalf("a folder without state: %v", err)
	}
	if len(st.Sessions) != 0 {
		t.Fatalf("fresh state has sessions: %+v", st.Sessions)
	}
	a := st.session(sessionKey("session-a"))
	a.LastEventID = "1700000000000-3"
	a.Images["img1"] = fileEntry{File: "IMG_0001.jpg", SHA256: strings.Repeat("ab", 32)}
	a.Images["img2"] = fileEntry{File: "Été (2).png"}
	st.Sessions[sessionKey("session-b")] = &sessionState{Ended: true}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, st)
	}
	// Saving again replaces the file atomically and leaves nothing behind.
	a.LastEventID = "1700000000000-4"
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != StateFile {
		t.Errorf("the folder holds %v, want only %s", entries, StateFile)
	}
	if got, _ := loadState(dir); got.Sessions[sessionKey("session-a")].LastEventID != "1700000000000-4" {
		t.Error("the second save was not read back")
	}
	raw, _ := os.ReadFile(filepath.Join(dir, StateFile))
	if strings.Contains(string(raw), "session-a") {
		t.Error("the state file names a session by its id")
	}
	if k, id, ok := got.owner("img_0001.JPG"); !ok || id != "img1" || k != sessionKey("session-a") {
		t.Errorf("owner of a name in another case: %q %q %v", k, id, ok)
	}
}

func TestSessionKey(t *testing.T) {
	a, b := sessionKey("abc"), sessionKey("abd")
	if a == b || len(a) != 32 || a != sessionKey("abc") || strings.Contains(a, "abc") {
		t.Errorf("keys %q %q", a, b)
	}
}

func TestLoadStateRefuses(t *testing.T) {
	for name, content := range map[string]string{
		"damaged": `{"version":1,"sessions":{`,
		"newer":   `{"version":99,"sessions":{}}`,
		"wrong":   `[1,2,3]`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, StateFile), []byte(content), 0o600)
			if _, err := loadState(dir); err == nil {
				t.Error("loaded")
			}
		})
	}
}

// TestLoadStateDropsHostileEntries: a state file edited by hand (or by
// someone else) cannot make the watcher touch files outside the folder, or
// its own hidden files.
func TestLoadStateDropsHostileEntries(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"version":1,"sessions":{
		"k":{"lastEventId":"5","images":{
			"ok":{"file":"a.jpg"},
			"up":{"file":"../outside.jpg"},
			"abs":{"file":"/etc/passwd"},
			"sub":{"file":"sub/a.jpg"},
			"own":{"file":".qrsync-watch.json"},
			"empty":{"file":""}}},
		"null":null}}`), 0o600)
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Sessions) != 1 {
		t.Errorf("sessions %+v", st.Sessions)
	}
	if imgs := st.Sessions["k"].Images; len(imgs) != 1 || imgs["ok"].File != "a.jpg" {
		t.Errorf("entries kept: %+v", imgs)
	}
}

// TestRestartResumes: a watcher restarted on a folder resumes from the
// saved event id, so it neither asks for a snapshot nor fetches a photo
// again.
func TestRestartResumes(t *testing.T) {
	app := startServer(t)
	s := app.NewSession()
	dir := t.TempDir()
	cfg := Config{SessionURL: sessionURL(app.Base, s), Dir: dir, Fetcher: newFetcher(t)}
	uploadPhotos(t, app, s, 2)
	w := startWatcher(t, cfg)
	eventually(t, 20*time.Second, "two photos", func() bool { return w.rec.count(ReportSaved) == 2 })
	w.stop(t)
	saved := readState(t, dir).session(sessionKey(s.ID)).LastEventID
	if saved == "" {
		t.Fatal("no event id saved")
	}
	name, data := apptest.Photo(t, 2)
	app.MustUpload(s, name, data)

	w = startWatcher(t, cfg)
	eventually(t, 20*time.Second, "the third photo", func() bool { return w.rec.count(ReportSaved) == 1 })
	if n := w.rec.count(ReportSynced); n != 0 {
		t.Errorf("the restarted watcher got %d snapshots, want to resume after %q", n, saved)
	}
	if imgs := w.rec.of(ReportImage); len(imgs) != 1 || imgs[0].Image.Name != name {
		t.Errorf("image events after the restart: %+v", imgs)
	}
	if got := photos(t, dir); len(got) != 3 {
		t.Errorf("files %q", got)
	}
}
