package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/internal/apptest"
)

func TestParseSessionURL(t *testing.T) {
	const id = "AbC-_d9"
	for _, tc := range []struct {
		in, origin string
		ok         bool
	}{
		{"http://192.168.1.5:8080/api/sessions/" + id, "http://192.168.1.5:8080", true},
		{"http://host/api/sessions/" + id + "/", "http://host", true},
		{"https://host/api/sessions/" + id + "/events", "https://host", true},
		{"  http://host/api/sessions/" + id + "/events?lastEventId=3#x ", "http://host", true},
		{"http://host/api/sessions/" + id + "/qr.png", "", false},
		{"http://host/api/sessions/", "", false},
		{"http://host/api/sessions/../admin", "", false},
		{"http://host/api/sessions/a%2Fb", "", false},
		{"http://host/u/" + id, "", false},
		{"http://host/", "", false},
		{"ftp://host/api/sessions/" + id, "", false},
		{"/api/sessions/" + id, "", false},
		{"http://user:pw@host/api/sessions/" + id, "", false},
		{"http://[::1/api/sessions/" + id, "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			origin, got, err := ParseSessionURL(tc.in)
			if !tc.ok {
				if err == nil {
					t.Fatalf("accepted, as %q %q", origin, got)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil || origin != tc.origin || got != id {
				t.Fatalf("got %q %q %v, want %q %q", origin, got, err, tc.origin, id)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	f := newFetcher(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	good := "http://127.0.0.1:1/api/sessions/abc"
	for name, cfg := range map[string]Config{
		"no fetcher":    {SessionURL: good, Dir: t.TempDir()},
		"no folder":     {SessionURL: good, Fetcher: f},
		"not a folder":  {SessionURL: good, Dir: file, Fetcher: f},
		"not a session": {SessionURL: "http://127.0.0.1:1/", Dir: t.TempDir(), Fetcher: f},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// TestMirror follows one session from its first photo to its end: hostile
// and clashing names, a photo arriving live, a removal without --delete,
// the end of the session, and a second run on the ended session.
func TestMirror(t *testing.T) {
	app := startServer(t)
	s := app.NewSession()
	_, a := apptest.Photo(t, 1)
	_, b := apptest.Photo(t, 2)
	_, c := apptest.Photo(t, 3)
	imgs := []api.Image{
		app.MustUpload(s, "../../etc/passwd.jpg", a),
		app.MustUpload(s, "same.png", b),
	}

	dir := filepath.Join(t.TempDir(), "new", "folder") // created by Run
	w := startWatcher(t, Config{SessionURL: sessionURL(app.Base, s), Dir: dir, Fetcher: newFetcher(t)})
	eventually(t, 20*time.Second, "the first two photos", func() bool { return w.rec.count(ReportSaved) == 2 })
	// Same name, different bytes: the second gets a number.
	imgs = append(imgs, app.MustUpload(s, "same.png", func() []byte { _, d := apptest.Photo(t, 4); return d }()))
	imgs = append(imgs, app.MustUpload(s, "live.jpg", c))
	eventually(t, 20*time.Second, "the live photos", func() bool { return w.rec.count(ReportSaved) == 4 })

	want := []string{"live.jpg", "passwd.jpg", "same (2).png", "same.png"}
	if got := photos(t, dir); !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	if fi, err := os.Stat(filepath.Join(dir, "live.jpg")); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("a photo is readable by others: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "passwd.jpg")); err == nil && !fi.ModTime().Equal(imgs[0].CreatedAt) {
		t.Errorf("mtime %v, want the upload time %v", fi.ModTime(), imgs[0].CreatedAt)
	}
	checkFiles(t, dir, readState(t, dir).session(sessionKey(s.ID)), imgs)
	raw, _ := os.ReadFile(filepath.Join(dir, StateFile))
	if strings.Contains(string(raw), s.ID) {
		t.Error("the state file holds the session id, the viewer's secret")
	}

	// Removed without --delete: the file stays, the state forgets it.
	httpDelete(t, imageURL(app.Base, s, imgs[1]))
	eventually(t, 20*time.Second, "the removal", func() bool { return w.rec.count(ReportKept) == 1 })
	if k := w.rec.of(ReportKept)[0]; k.File != "same.png" || k.String() != "kept same.png (removed from the session)" {
		t.Errorf("kept report %+v %q", k, k.String())
	}
	if !exists(filepath.Join(dir, "same.png")) {
		t.Error("the file of a removed image was deleted without --delete")
	}

	// The session ends: Run returns nil.
	httpDelete(t, app.Base+"/api/sessions/"+s.ID)
	if err := w.wait(t, 20*time.Second); err != nil {
		t.Fatalf("Run after the session ended: %v", err)
	}
	if w.rec.count(ReportEnded) != 1 {
		t.Error("the end was not reported")
	}
	if st := readState(t, dir).Sessions[sessionKey(s.ID)]; st == nil || !st.Ended || len(st.Images) != 0 {
		t.Errorf("state after the end: %+v", st)
	}
	if got := photos(t, dir); len(got) != 4 {
		t.Errorf("files after the end: %q", got)
	}

	// Again on the ended session: it says so at once.
	again := startWatcher(t, Config{SessionURL: sessionURL(app.Base, s), Dir: dir, Fetcher: newFetcher(t)})
	if err := again.wait(t, 10*time.Second); err != nil || again.rec.count(ReportEnded) != 1 {
		t.Errorf("second run on an ended session: %v", err)
	}
}

func TestDelete(t *testing.T) {
	app := startServer(t)
	s := app.NewSession()
	imgs := uploadPhotos(t, app, s, 3)
	dir := t.TempDir()
	w := startWatcher(t, Config{SessionURL: sessionURL(app.Base, s), Dir: dir, Fetcher: newFetcher(t), Delete: true})
	eventually(t, 20*time.Second, "three photos", func() bool { return w.rec.count(ReportSaved) == 3 })
	files := map[string]string{}
	for _, r := range w.rec.of(ReportSaved) {
		files[r.Image.ID] = r.File
	}

	// Unchanged: deleted.
	httpDelete(t, imageURL(app.Base, s, imgs[0]))
	eventually(t, 20*time.Second, "the deletion", func() bool { return w.rec.count(ReportDeleted) == 1 })
	if exists(filepath.Join(dir, files[imgs[0].ID])) {
		t.Error("--delete left the file of a removed image")
	}
	// Changed since the download: kept.
	edited := filepath.Join(dir, files[imgs[1].ID])
	if err := os.WriteFile(edited, []byte("edited"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpDelete(t, imageURL(app.Base, s, imgs[1]))
	eventually(t, 20*time.Second, "the kept file", func() bool { return w.rec.count(ReportKept) == 1 })
	if k := w.rec.of(ReportKept)[0]; k.Err == nil || !exists(edited) {
		t.Errorf("an edited file was not kept with a reason: %+v", k)
	}
	// The state forgot both (a report follows the save); the third is
	// still there.
	if st := readState(t, dir).session(sessionKey(s.ID)); len(st.Images) != 1 || st.Images[imgs[2].ID].File == "" {
		t.Errorf("state after the removals: %+v", st.Images)
	}
	if got := photos(t, dir); len(got) != 2 {
		t.Errorf("files %q, want the edited one and the third", got)
	}
}

// TestDeleteWhileAway: removals that happen while no watcher runs are seen
// in the snapshot of the next start.
func TestDeleteWhileAway(t *testing.T) {
	app := startServer(t)
	s := app.NewSession()
	imgs := uploadPhotos(t, app, s, 2)
	dir := t.TempDir()
	cfg := Config{SessionURL: sessionURL(app.Base, s), Dir: dir, Fetcher: newFetcher(t), Delete: true}
	w := startWatcher(t, cfg)
	eventually(t, 20*time.Second, "two photos", func() bool { return w.rec.count(ReportSaved) == 2 })
	if err := w.stop(t); !isCanceled(err) {
		t.Fatalf("stopped watcher returned %v", err)
	}
	httpDelete(t, imageURL(app.Base, s, imgs[0]))
	// Make the next start ask for a snapshot: forget the position.
	st := readState(t, dir)
	st.session(sessionKey(s.ID)).LastEventID = ""
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	w = startWatcher(t, cfg)
	eventually(t, 20*time.Second, "the snapshot", func() bool { return w.rec.count(ReportSynced) == 1 })
	if w.rec.count(ReportDeleted) != 1 || w.rec.count(ReportSaved) != 0 {
		t.Errorf("after the snapshot: %d deleted, %d saved; want 1, 0", w.rec.count(ReportDeleted), w.rec.count(ReportSaved))
	}
	checkFiles(t, dir, readState(t, dir).session(sessionKey(s.ID)), imgs[1:])
}

// TestFoundByContent: a folder that already holds the photos (its state
// file lost) gets no duplicates, and a missing file is fetched again.
func TestFoundByContent(t *testing.T) {
	app := startServer(t)
	s := app.NewSession()
	imgs := uploadPhotos(t, app, s, 3)
	dir := t.TempDir()
	cfg := Config{SessionURL: sessionURL(app.Base, s), Dir: dir, Fetcher: newFetcher(t)}
	w := startWatcher(t, cfg)
	eventually(t, 20*time.Second, "three photos", func() bool { return w.rec.count(ReportSaved) == 3 })
	w.stop(t)

	st := readState(t, dir).session(sessionKey(s.ID))
	os.Remove(filepath.Join(dir, st.Images[imgs[2].ID].File)) // deleted by hand
	os.Remove(filepath.Join(dir, StateFile))                  // state lost
	// A stranger with a photo's name but other bytes must not be taken.
	os.WriteFile(filepath.Join(dir, st.Images[imgs[2].ID].File), []byte("not the photo"), 0o600)

	w = startWatcher(t, cfg)
	eventually(t, 20*time.Second, "the snapshot", func() bool { return w.rec.count(ReportSynced) == 1 })
	if n, m := w.rec.count(ReportFound), w.rec.count(ReportSaved); n != 2 || m != 1 {
		t.Errorf("found %d and saved %d, want 2 and 1", n, m)
	}
	if got := photos(t, dir); len(got) != 4 { // 3 photos + the stranger
		t.Errorf("files %q", got)
	}
	st = readState(t, dir).session(sessionKey(s.ID))
	for _, img := range imgs {
		e := st.Images[img.ID]
		if sum, err := hashFile(filepath.Join(dir, e.File)); err != nil || sum != img.SHA256 {
			t.Errorf("%s → %q: %v", img.Name, e.File, err)
		}
	}
}

func TestNoSuchSession(t *testing.T) {
	app := startServer(t)
	dir := t.TempDir()
	w := startWatcher(t, Config{SessionURL: app.Base + "/api/sessions/nosuchsession", Dir: dir, Fetcher: newFetcher(t)})
	if err := w.wait(t, 20*time.Second); !errors.Is(err, ErrNoSession) {
		t.Errorf("Run = %v, want ErrNoSession", err)
	}
}

func TestNotAStream(t *testing.T) {
	app := startServer(t)
	dir := t.TempDir()
	// The page's origin answers, but / under it is HTML, not a stream: a
	// session URL on a server that is not qrsync behaves the same.
	w := startWatcher(t, Config{SessionURL: app.Base + "/api/sessions/x", Dir: dir, Fetcher: htmlFetcher{newFetcher(t), app.Base + "/"}})
	var ended *eventsource.EndedError
	if err := w.wait(t, 20*time.Second); !errors.As(err, &ended) || ended.Status != 200 {
		t.Errorf("Run = %v, want an EndedError for a 200 that is not a stream", err)
	}
}

// htmlFetcher sends every request to one URL.
type htmlFetcher struct {
	f   Fetcher
	url string
}

func (h htmlFetcher) Fetch(ctx context.Context, _ string, header map[string]string) (*eventsource.Response, error) {
	return h.f.Fetch(ctx, h.url, header)
}

func TestFolderBusy(t *testing.T) {
	app := startServer(t)
	s := app.NewSession()
	dir := t.TempDir()
	cfg := Config{SessionURL: sessionURL(app.Base, s), Dir: dir, Fetcher: newFetcher(t)}
	first := startWatcher(t, cfg)
	eventually(t, 20*time.Second, "the first watcher to go live", func() bool { return first.rec.count(ReportSynced) == 1 })
	second := startWatcher(t, cfg)
	if err := second.wait(t, 10*time.Second); !errors.Is(err, ErrFolderBusy) {
		t.Errorf("second watcher: %v, want ErrFolderBusy", err)
	}
	if err := first.stop(t); !isCanceled(err) {
		t.Errorf("first watcher: %v", err)
	}
	third := startWatcher(t, cfg)
	eventually(t, 20*time.Second, "a watcher after the first stopped", func() bool {
		return third.rec.count(ReportSynced) == 1 || len(third.rec.of(ReportState)) > 0 && third.rec.of(ReportState)[len(third.rec.of(ReportState))-1].State == eventsource.StateLive
	})
}

func TestLeftoversRemoved(t *testing.T) {
	app := startServer(t)
	s := app.NewSession()
	dir := t.TempDir()
	left := filepath.Join(dir, ".qrsync-12345.part")
	os.WriteFile(left, []byte("half a photo"), 0o600)
	w := startWatcher(t, Config{SessionURL: sessionURL(app.Base, s), Dir: dir, Fetcher: newFetcher(t)})
	eventually(t, 20*time.Second, "the snapshot", func() bool { return w.rec.count(ReportSynced) == 1 })
	if exists(left) {
		t.Error("a leftover temporary file survived the start")
	}
}
