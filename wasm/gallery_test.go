package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"qrsync/api"
)

// page is a stand-in for the DOM: it applies ops exactly as the syscall/js
// layer does and fails the test on an op that could not be applied to a real
// page (adding a tile twice, moving or removing a missing one, inserting
// before a tile that is not there, updating a placeholder that is not one).
type page struct {
	t       *testing.T
	keys    []Key
	builds  map[Key]int       // how often a tile was built, to catch re-renders
	uploads map[string]Upload // what each placeholder shows
	state   string
	session Session
	viewing string // "" when the viewer is closed
	viewAt  [2]int // index, total as shown
}

func newPage(t *testing.T) *page {
	return &page{t: t, builds: map[Key]int{}, uploads: map[string]Upload{}, state: StateConnecting}
}

func (p *page) index(k Key) int { return slices.Index(p.keys, k) }

func (p *page) photos() []string {
	var ids []string
	for _, k := range p.keys {
		if !k.Upload {
			ids = append(ids, k.ID)
		}
	}
	return ids
}

func (p *page) insert(k, before Key) {
	p.t.Helper()
	if before == (Key{}) {
		p.keys = append(p.keys, k)
		return
	}
	i := p.index(before)
	if i < 0 {
		p.t.Fatalf("insert %v before missing tile %v", k, before)
	}
	p.keys = slices.Insert(p.keys, i, k)
}

func (p *page) apply(ops []Op) {
	p.t.Helper()
	for _, op := range ops {
		switch op.Kind {
		case OpAdd:
			if op.Key.Upload || op.Image.ID != op.Key.ID {
				p.t.Fatalf("add op %v carries image %q", op.Key, op.Image.ID)
			}
			if p.index(op.Key) >= 0 {
				p.t.Fatalf("add of tile %v already on the page", op.Key)
			}
			p.builds[op.Key]++
			p.insert(op.Key, op.Before)
		case OpPending:
			if !op.Key.Upload || op.Upload.ID != op.Key.ID {
				p.t.Fatalf("pending op %v carries upload %q", op.Key, op.Upload.ID)
			}
			if p.index(op.Key) >= 0 {
				p.t.Fatalf("pending tile %v already on the page", op.Key)
			}
			p.builds[op.Key]++
			p.insert(op.Key, op.Before)
			p.uploads[op.Key.ID] = op.Upload
		case OpProgress, OpFailed:
			if !op.Key.Upload || p.index(op.Key) < 0 {
				p.t.Fatalf("%v of missing placeholder %v", op.Kind, op.Key)
			}
			if (op.Kind == OpFailed) != op.Upload.Failed {
				p.t.Fatalf("%v op with Failed=%v", op.Kind, op.Upload.Failed)
			}
			if p.uploads[op.Key.ID].Failed {
				p.t.Fatalf("%v of %v, which had failed already", op.Kind, op.Key)
			}
			p.uploads[op.Key.ID] = op.Upload
		case OpRemove:
			i := p.index(op.Key)
			if i < 0 {
				p.t.Fatalf("remove of missing tile %v", op.Key)
			}
			p.keys = slices.Delete(p.keys, i, i+1)
			delete(p.uploads, op.Key.ID)
			delete(p.builds, op.Key) // it may rightly come back, as a new tile
		case OpMove:
			i := p.index(op.Key)
			if i < 0 {
				p.t.Fatalf("move of missing tile %v", op.Key)
			}
			if op.Before == op.Key {
				p.t.Fatalf("move of %v before itself", op.Key)
			}
			p.keys = slices.Delete(p.keys, i, i+1)
			p.insert(op.Key, op.Before)
		case OpState:
			p.state = op.State
		case OpSession:
			p.session = op.Session
		case OpViewer:
			if op.Image.ID == "" {
				p.viewing = ""
				continue
			}
			photos := p.photos()
			if i := slices.Index(photos, op.Image.ID); i != op.Index || len(photos) != op.Total {
				p.t.Fatalf("viewer on %q at %d of %d; the page has it at %d of %d", op.Image.ID, op.Index, op.Total, i, len(photos))
			}
			p.viewing, p.viewAt = op.Image.ID, [2]int{op.Index, op.Total}
		default:
			p.t.Fatalf("unknown op %v", op.Kind)
		}
	}
}

// check fails unless the page shows what the model holds.
func (p *page) check(g *Gallery, what string) {
	p.t.Helper()
	if !slices.Equal(p.keys, g.Keys()) {
		p.t.Fatalf("%s: page %v does not match model %v", what, p.keys, g.Keys())
	}
	if !slices.Equal(p.photos(), g.IDs()) || g.Len() != len(p.photos()) {
		p.t.Fatalf("%s: photos %q, model %q (Len %d)", what, p.photos(), g.IDs(), g.Len())
	}
	if p.state != g.State() {
		p.t.Fatalf("%s: page state %q, model %q", what, p.state, g.State())
	}
	if p.viewing != g.Viewing() {
		p.t.Fatalf("%s: viewer shows %q, model %q", what, p.viewing, g.Viewing())
	}
	if p.viewing != "" {
		if i, n := g.position(p.viewing); p.viewAt != [2]int{i, n} {
			p.t.Fatalf("%s: viewer says %v, model %d of %d", what, p.viewAt, i, n)
		}
	}
	for _, k := range p.keys {
		if !k.Upload {
			continue
		}
		u, ok := g.Upload(k.ID)
		shown := p.uploads[k.ID]
		u.heard, shown.heard = 0, 0
		if !ok || shown != u {
			p.t.Fatalf("%s: placeholder %v shows %+v, model %+v", what, k, shown, u)
		}
	}
}

// short writes ops compactly: "add c<b" (add c before b), "add c<" (at the
// end), "+" marks an arrived image; "up u:x<" a placeholder ("failed" if
// it is an error tile), "prog u:x 10/100", "fail u:x"; "rm a", "mv a<b",
// "state live", "session", "view b 2/3" (the viewer shows b, the 2nd of
// 3), "view -" (closed).
func short(ops []Op) []string {
	out := []string{}
	for _, op := range ops {
		switch op.Kind {
		case OpAdd:
			s := "add " + op.Key.String() + "<" + op.Before.String()
			if op.Arrived {
				s += " +"
			}
			out = append(out, s)
		case OpPending:
			s := "up " + op.Key.String() + "<" + op.Before.String()
			if op.Upload.Failed {
				s += " failed"
			}
			out = append(out, s)
		case OpProgress:
			out = append(out, "prog "+op.Key.String()+" "+strconv.FormatInt(op.Upload.Received, 10)+"/"+strconv.FormatInt(op.Upload.Total, 10))
		case OpFailed:
			out = append(out, "fail "+op.Key.String())
		case OpRemove:
			out = append(out, "rm "+op.Key.String())
		case OpMove:
			out = append(out, "mv "+op.Key.String()+"<"+op.Before.String())
		case OpState:
			out = append(out, "state "+op.State)
		case OpSession:
			out = append(out, "session")
		case OpViewer:
			if op.Image.ID == "" {
				out = append(out, "view -")
			} else {
				out = append(out, fmt.Sprintf("view %s %d/%d", op.Image.ID, op.Index+1, op.Total))
			}
		}
	}
	return out
}

func image(id string) api.Image {
	return api.Image{
		ID: id, Name: id + ".jpg", ContentType: "image/jpeg", Size: 2_400_000,
		Width: 4032, Height: 3024, CreatedAt: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC),
		URL: "/api/sessions/s/images/" + id, ThumbURL: "/api/sessions/s/images/" + id + "/thumb",
		DisplayURL: "/api/sessions/s/images/" + id + "/display",
	}
}

// uploaded is image id as the event completing upload up carries it.
func uploaded(id, up string) api.Image {
	img := image(id)
	img.Upload = up
	return img
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var snapshotExpiry = time.Date(2025, 1, 8, 13, 0, 0, 0, time.UTC)

// snapshotData builds a snapshot's JSON; ids are oldest first, as the
// server sends them.
func snapshotData(t *testing.T, ids ...string) string {
	s := api.Snapshot{Images: []api.Image{}, ExpiresAt: snapshotExpiry}
	for _, id := range ids {
		s.Images = append(s.Images, image(id))
	}
	return mustJSON(t, s)
}

func imageData(t *testing.T, id string) string { return mustJSON(t, image(id)) }

func uploadedData(t *testing.T, id, up string) string { return mustJSON(t, uploaded(id, up)) }

func removedData(t *testing.T, id string) string { return mustJSON(t, api.Removed{ID: id}) }

func progressData(t *testing.T, up string, received, total int64) string {
	return mustJSON(t, api.UploadProgress{Upload: up, Name: up + ".jpg", Received: received, Total: total})
}

func failureData(t *testing.T, up, code, message string) string {
	return mustJSON(t, api.UploadProgress{Upload: up, Name: up + ".jpg", Received: 10, Total: 100,
		Error: &api.ErrorDetail{Code: code, Message: message}})
}

// ms is a span of the client's milliseconds as a time.Duration.
func ms(d int64) time.Duration { return time.Duration(d) * time.Millisecond }

// step is one thing that happens to the gallery: an event (typ, data), a
// call (do), after the clock moved by wait.
type step struct {
	wait     time.Duration
	typ      string
	data     string
	do       func(g *Gallery) []Op
	wantOps  []string // nil: not checked
	wantPage []string // tiles in order (Key.String()); nil: not checked
	wantErr  bool
}

func state(s string) func(*Gallery) []Op { return func(g *Gallery) []Op { return g.SetState(s) } }

// tick lets the clock run its timeouts.
func tick(g *Gallery) []Op { return g.Tick(g.now()) }

func open(id string) func(*Gallery) []Op { return func(g *Gallery) []Op { return g.Open(id) } }

func stepBy(d int) func(*Gallery) []Op { return func(g *Gallery) []Op { return g.Step(d) } }

func run(t *testing.T, steps []step) *Gallery {
	t.Helper()
	clock := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	g := NewGallery()
	g.Now = func() Instant { return at(clock) }
	p := newPage(t)
	for i, st := range steps {
		clock = clock.Add(st.wait)
		var ops []Op
		what := fmt.Sprintf("step %d (%s)", i, st.typ)
		if st.do != nil {
			ops = st.do(g)
			what = fmt.Sprintf("step %d (call)", i)
		} else {
			var err error
			ops, err = g.Apply(st.typ, []byte(st.data))
			if (err != nil) != st.wantErr {
				t.Fatalf("%s: err = %v, want error %v", what, err, st.wantErr)
			}
			if err != nil && ops != nil {
				t.Fatalf("%s: error with ops %v", what, short(ops))
			}
		}
		if st.wantOps != nil {
			if got := short(ops); !slices.Equal(got, st.wantOps) {
				t.Fatalf("%s: ops = %q, want %q", what, got, st.wantOps)
			}
		}
		p.apply(ops)
		p.check(g, what)
		if st.wantPage != nil {
			var got []string
			for _, k := range p.keys {
				got = append(got, k.String())
			}
			if !slices.Equal(got, st.wantPage) && (len(got) > 0 || len(st.wantPage) > 0) {
				t.Fatalf("%s: page = %q, want %q", what, got, st.wantPage)
			}
		}
	}
	for k, n := range p.builds {
		if n != 1 && p.index(k) >= 0 {
			t.Errorf("tile %v built %d times, want once", k, n)
		}
	}
	return g
}

func TestGallery(t *testing.T) {
	tests := []struct {
		name      string
		steps     func(t *testing.T) []step
		wantState string
	}{
		{
			name: "snapshot then events, oldest first",
			steps: func(t *testing.T) []step {
				return []step{
					{do: state(StateLive), wantOps: []string{"state live"}},
					{typ: "snapshot", data: snapshotData(t, "a", "b"), wantOps: []string{"add b<", "add a<b", "session"}, wantPage: []string{"a", "b"}},
					{typ: "image", data: imageData(t, "c"), wantOps: []string{"add c< +"}, wantPage: []string{"a", "b", "c"}},
					{typ: "removed", data: removedData(t, "b"), wantOps: []string{"rm b"}, wantPage: []string{"a", "c"}},
					{typ: "image", data: imageData(t, "d"), wantOps: []string{"add d< +"}, wantPage: []string{"a", "c", "d"}},
				}
			},
			wantState: StateLive,
		},
		{
			name: "empty snapshot then first image",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t), wantOps: []string{"session"}, wantPage: []string{}},
					{typ: "image", data: imageData(t, "a"), wantOps: []string{"add a< +"}, wantPage: []string{"a"}},
				}
			},
			wantState: StateConnecting,
		},
		{
			name: "duplicate image events are ignored",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "b")},
					{typ: "image", data: imageData(t, "b"), wantOps: []string{}, wantPage: []string{"a", "b"}},
					{typ: "image", data: imageData(t, "c"), wantOps: []string{"add c< +"}},
					// replay overlap after a reconnect: c again, then d
					{do: state(StateReconnecting)},
					{do: state(StateLive)},
					{typ: "image", data: imageData(t, "c"), wantOps: []string{}},
					{typ: "image", data: imageData(t, "d"), wantOps: []string{"add d< +"}, wantPage: []string{"a", "b", "c", "d"}},
				}
			},
			wantState: StateLive,
		},
		{
			name: "removed of unknown id is harmless",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "removed", data: removedData(t, "nope"), wantOps: []string{}, wantPage: []string{}},
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "removed", data: removedData(t, "nope"), wantOps: []string{}, wantPage: []string{"a"}},
					{typ: "removed", data: removedData(t, "a"), wantOps: []string{"rm a"}},
					{typ: "removed", data: removedData(t, "a"), wantOps: []string{}, wantPage: []string{}},
				}
			},
			wantState: StateConnecting,
		},
		{
			name: "snapshot after reconnect replaces the photos",
			steps: func(t *testing.T) []step {
				return []step{
					{do: state(StateLive)},
					{typ: "snapshot", data: snapshotData(t, "a", "b", "c", "d")},
					{do: state(StateReconnecting), wantOps: []string{"state reconnecting"}},
					// while away: b and d were removed, e and f arrived
					{do: state(StateLive)},
					{typ: "snapshot", data: snapshotData(t, "a", "c", "e", "f"),
						wantOps:  []string{"rm b", "rm d", "add f<", "add e<f"},
						wantPage: []string{"a", "c", "e", "f"}},
				}
			},
			wantState: StateLive,
		},
		{
			name: "snapshot inserts new images between kept ones",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "c")},
					{typ: "snapshot", data: snapshotData(t, "a", "b", "c", "d"),
						wantOps:  []string{"add d<", "add b<c"},
						wantPage: []string{"a", "b", "c", "d"}},
				}
			},
			wantState: StateConnecting,
		},
		{
			name: "identical snapshot changes nothing",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "b")},
					{typ: "snapshot", data: snapshotData(t, "a", "b"), wantOps: []string{}, wantPage: []string{"a", "b"}},
				}
			},
			wantState: StateConnecting,
		},
		{
			name: "snapshot that reorders moves as few tiles as it can",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "b", "c")},
					{typ: "snapshot", data: snapshotData(t, "c", "x", "a", "b"),
						wantOps:  []string{"add x<a", "mv c<x"},
						wantPage: []string{"c", "x", "a", "b"}},
					{typ: "snapshot", data: snapshotData(t, "b", "c", "x", "a"),
						wantOps:  []string{"mv b<c"},
						wantPage: []string{"b", "c", "x", "a"}},
				}
			},
			wantState: StateConnecting,
		},
		{
			name: "duplicate ids inside one snapshot are shown once",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "b", "a"), wantPage: []string{"a", "b"}},
				}
			},
			wantState: StateConnecting,
		},
		{
			name: "expired ends the session for good",
			steps: func(t *testing.T) []step {
				return []step{
					{do: state(StateLive)},
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "upload", data: progressData(t, "u1", 10, 100)},
					{typ: "expired", data: "{}", wantOps: []string{"rm u:u1", "state ended"}, wantPage: []string{"a"}},
					{typ: "expired", data: "{}", wantOps: []string{}},
					{typ: "image", data: imageData(t, "b"), wantOps: []string{}},
					{typ: "removed", data: removedData(t, "a"), wantOps: []string{}},
					{typ: "snapshot", data: snapshotData(t), wantOps: []string{}, wantPage: []string{"a"}},
					{typ: "upload", data: progressData(t, "u2", 10, 100), wantOps: []string{}},
					{typ: "session", data: `{"uploadUrl":"http://x/u/new"}`, wantOps: []string{}},
					{do: state(StateReconnecting), wantOps: []string{}},
					{do: open("a"), wantOps: []string{}},
				}
			},
			wantState: StateEnded,
		},
		{
			name: "ended state from the client (404/410) is final too",
			steps: func(t *testing.T) []step {
				return []step{
					{do: state(StateReconnecting)},
					{do: state(StateEnded), wantOps: []string{"state ended"}},
					{do: state(StateLive), wantOps: []string{}},
				}
			},
			wantState: StateEnded,
		},
		{
			name: "same state twice is one op",
			steps: func(t *testing.T) []step {
				return []step{
					{do: state(StateConnecting), wantOps: []string{}},
					{do: state(StateLive), wantOps: []string{"state live"}},
					{do: state(StateLive), wantOps: []string{}},
				}
			},
			wantState: StateLive,
		},
		{
			name: "malformed data is an error and changes nothing",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "image", data: `{"id":`, wantErr: true, wantPage: []string{"a"}},
					{typ: "image", data: `{"name":"x.jpg"}`, wantErr: true, wantPage: []string{"a"}},
					{typ: "removed", data: `[]`, wantErr: true, wantPage: []string{"a"}},
					{typ: "removed", data: `{}`, wantErr: true, wantPage: []string{"a"}},
					{typ: "snapshot", data: `nope`, wantErr: true, wantPage: []string{"a"}},
					{typ: "upload", data: `{"name":"x.jpg","received":1}`, wantErr: true, wantPage: []string{"a"}},
					{typ: "upload", data: `{"upload":7}`, wantErr: true, wantPage: []string{"a"}},
					{typ: "session", data: `{"expiresAt":"soon"}`, wantErr: true},
				}
			},
			wantState: StateConnecting,
		},
		{
			name: "unknown event types are ignored",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "message", data: "hello", wantOps: []string{}},
					{typ: "renamed", data: `{"id":"a"}`, wantOps: []string{}, wantPage: []string{}},
				}
			},
			wantState: StateConnecting,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := run(t, tt.steps(t))
			if g.State() != tt.wantState {
				t.Errorf("final state %q, want %q", g.State(), tt.wantState)
			}
		})
	}
}

// TestGalleryUploads covers the placeholders of files a phone is sending:
// where they go, how the photo takes their place, failures and timeouts.
func TestGalleryUploads(t *testing.T) {
	tests := []struct {
		name  string
		steps func(t *testing.T) []step
	}{
		{
			name: "placeholder at the end, updated, then replaced in place",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "upload", data: progressData(t, "u1", 0, 100), wantOps: []string{"up u:u1<"}, wantPage: []string{"a", "u:u1"}},
					{typ: "upload", data: progressData(t, "u1", 50, 100), wantOps: []string{"prog u:u1 50/100"}},
					{typ: "upload", data: progressData(t, "u1", 50, 100), wantOps: []string{}}, // nothing new
					{typ: "upload", data: progressData(t, "u2", 0, 0), wantOps: []string{"up u:u2<"}, wantPage: []string{"a", "u:u1", "u:u2"}},
					{typ: "image", data: uploadedData(t, "b", "u1"), wantOps: []string{"add b<u:u1 +", "rm u:u1"}, wantPage: []string{"a", "b", "u:u2"}},
					// the progress event overtaken by its image event is late news
					{typ: "upload", data: progressData(t, "u1", 100, 100), wantOps: []string{}, wantPage: []string{"a", "b", "u:u2"}},
				}
			},
		},
		{
			name: "total 0 means unknown, and stays so until told",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "upload", data: progressData(t, "u1", 0, 0), wantOps: []string{"up u:u1<"}},
					{typ: "upload", data: progressData(t, "u1", 4000, 0), wantOps: []string{"prog u:u1 4000/0"}},
					{typ: "upload", data: progressData(t, "u1", 8000, 10000), wantOps: []string{"prog u:u1 8000/10000"}},
				}
			},
		},
		{
			name: "the second upload finishing first keeps its place",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "upload", data: progressData(t, "u1", 1, 100)},
					{typ: "upload", data: progressData(t, "u2", 1, 100), wantPage: []string{"u:u1", "u:u2"}},
					{typ: "image", data: uploadedData(t, "b", "u2"), wantOps: []string{"add b<u:u2 +", "rm u:u2"}, wantPage: []string{"u:u1", "b"}},
					{typ: "image", data: uploadedData(t, "a", "u1"), wantOps: []string{"add a<u:u1 +", "rm u:u1"}, wantPage: []string{"a", "b"}},
				}
			},
		},
		{
			name: "a photo without a placeholder goes before the uploads still arriving",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "upload", data: progressData(t, "u1", 1, 100)},
					{typ: "image", data: imageData(t, "c"), wantOps: []string{"add c<u:u1 +"}, wantPage: []string{"a", "c", "u:u1"}},
					{typ: "image", data: uploadedData(t, "d", "u-unheard"), wantOps: []string{"add d<u:u1 +"}, wantPage: []string{"a", "c", "d", "u:u1"}},
					{typ: "upload", data: progressData(t, "u-unheard", 5, 100), wantOps: []string{}},
				}
			},
		},
		{
			name: "failure turns the placeholder into an error tile that goes after a minute",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "upload", data: progressData(t, "u1", 10, 100)},
					{typ: "upload", data: failureData(t, "u1", "too_large", "The file is larger than 50 MB."), wantOps: []string{"fail u:u1"}},
					{do: func(g *Gallery) []Op {
						if u, _ := g.Upload("u1"); !u.Failed || u.Error != "The file is larger than 50 MB." || u.Name != "u1.jpg" {
							t.Errorf("failed upload %+v", u)
						}
						return nil
					}},
					{typ: "upload", data: progressData(t, "u1", 20, 100), wantOps: []string{}}, // failure is final
					{typ: "upload", data: failureData(t, "u1", "too_large", ""), wantOps: []string{}},
					{wait: 59 * time.Second, do: tick, wantOps: []string{}},
					{wait: time.Second, do: tick, wantOps: []string{"rm u:u1"}, wantPage: []string{}},
					{typ: "upload", data: progressData(t, "u1", 20, 100), wantOps: []string{}},
				}
			},
		},
		{
			name: "failure of an upload never seen shows an error tile, worded by its code",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "upload", data: failureData(t, "u9", "unsupported_type", ""), wantOps: []string{"up u:u9< failed"}},
					{do: func(g *Gallery) []Op {
						if u, _ := g.Upload("u9"); u.Error != T.UploadErrors["unsupported_type"] {
							t.Errorf("error text %q", u.Error)
						}
						return nil
					}},
				}
			},
		},
		{
			name: "dismiss takes an error tile away for good",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "upload", data: failureData(t, "u1", "bad_image", "Broken.")},
					{do: func(g *Gallery) []Op { return g.Dismiss("u1") }, wantOps: []string{"rm u:u1"}},
					{do: func(g *Gallery) []Op { return g.Dismiss("u1") }, wantOps: []string{}},
					{typ: "upload", data: failureData(t, "u1", "bad_image", "Broken."), wantOps: []string{}},
				}
			},
		},
		{
			name: "a placeholder silent for two minutes goes; news keeps it",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "upload", data: progressData(t, "u1", 10, 100)},
					{typ: "upload", data: progressData(t, "u2", 10, 100)},
					{wait: 90 * time.Second, typ: "upload", data: progressData(t, "u2", 20, 100)},
					{wait: 29 * time.Second, do: tick, wantOps: []string{}},
					{wait: time.Second, do: tick, wantOps: []string{"rm u:u1"}, wantPage: []string{"u:u2"}},
					{wait: 90 * time.Second, do: tick, wantOps: []string{"rm u:u2"}, wantPage: []string{}},
					// the phone came back: a placeholder again, at the end
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "upload", data: progressData(t, "u1", 30, 100), wantOps: []string{"up u:u1<"}, wantPage: []string{"a", "u:u1"}},
				}
			},
		},
		{
			name: "after a reconnect a placeholder must be heard of soon",
			steps: func(t *testing.T) []step {
				return []step{
					{do: state(StateLive)},
					{typ: "upload", data: progressData(t, "u1", 10, 100)},
					{typ: "upload", data: progressData(t, "u2", 10, 100)},
					{typ: "upload", data: failureData(t, "u3", "too_many", "")},
					{do: state(StateReconnecting)},
					{wait: time.Second, do: state(StateLive)},
					{wait: 5 * time.Second, typ: "upload", data: progressData(t, "u2", 20, 100)},
					{wait: ms(ReconnectGrace) - 5*time.Second, do: tick, wantOps: []string{"rm u:u1"}, wantPage: []string{"u:u2", "u:u3"}},
					{wait: ms(FailedLinger), do: tick, wantOps: []string{"rm u:u3"}, wantPage: []string{"u:u2"}},
				}
			},
		},
		{
			name: "a snapshot that shows the upload's photo drops its placeholder",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "upload", data: progressData(t, "u1", 10, 100)},
					{typ: "upload", data: progressData(t, "u2", 10, 100)},
					{typ: "snapshot", data: mustJSON(t, api.Snapshot{Images: []api.Image{image("a"), uploaded("b", "u1")}}),
						wantOps: []string{"rm u:u1", "add b<u:u2"}, wantPage: []string{"a", "b", "u:u2"}},
					{typ: "upload", data: progressData(t, "u1", 100, 100), wantOps: []string{}},
				}
			},
		},
		{
			name: "placeholders stay after the photos across a snapshot",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "upload", data: progressData(t, "u1", 1, 100)},
					{typ: "upload", data: progressData(t, "u2", 1, 100)},
					{typ: "image", data: uploadedData(t, "b", "u2"), wantPage: []string{"u:u1", "b"}},
					{typ: "snapshot", data: snapshotData(t, "a", "b"), wantOps: []string{"mv b<u:u1", "add a<b", "session"}, wantPage: []string{"a", "b", "u:u1"}},
				}
			},
		},
		{
			name: "news that the file is a duplicate ends its placeholder",
			steps: func(t *testing.T) []step {
				dup := mustJSON(t, api.UploadProgress{Upload: "u1", Name: "a.jpg", Received: 100, Total: 100, Duplicate: "a"})
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "upload", data: progressData(t, "u1", 50, 100)},
					{typ: "upload", data: dup, wantOps: []string{"rm u:u1"}, wantPage: []string{"a"}},
					{typ: "upload", data: progressData(t, "u1", 100, 100), wantOps: []string{}},
					// a duplicate never seen arriving shows nothing at all
					{typ: "upload", data: mustJSON(t, api.UploadProgress{Upload: "u2", Name: "a.jpg", Duplicate: "a"}), wantOps: []string{}},
					{typ: "upload", data: progressData(t, "u2", 100, 100), wantOps: []string{}},
				}
			},
		},
		{
			name: "a duplicate's image event ends its placeholder",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "upload", data: progressData(t, "u1", 100, 100)},
					{typ: "image", data: uploadedData(t, "a", "u1"), wantOps: []string{"rm u:u1"}, wantPage: []string{"a"}},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps(t)) })
	}
}

// TestGalleryViewer covers the full-size viewer: its position, stepping,
// and what it does when photos come and go under it.
func TestGalleryViewer(t *testing.T) {
	tests := []struct {
		name  string
		steps func(t *testing.T) []step
	}{
		{
			name: "open, step, stop at the ends, close",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "b", "c")},
					{do: open("b"), wantOps: []string{"view b 2/3"}},
					{do: open("b"), wantOps: []string{}},
					{do: stepBy(+1), wantOps: []string{"view c 3/3"}},
					{do: stepBy(+1), wantOps: []string{}},
					{do: stepBy(-2), wantOps: []string{"view a 1/3"}},
					{do: stepBy(-1), wantOps: []string{}},
					{do: func(g *Gallery) []Op { return g.Close() }, wantOps: []string{"view -"}},
					{do: func(g *Gallery) []Op { return g.Close() }, wantOps: []string{}},
					{do: stepBy(+1), wantOps: []string{}},
					{do: open("nope"), wantOps: []string{}},
				}
			},
		},
		{
			name: "removing the photo on show moves to the next, then the one before, then closes",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "b", "c")},
					{do: open("b")},
					{typ: "removed", data: removedData(t, "b"), wantOps: []string{"rm b", "view c 2/2"}},
					{typ: "removed", data: removedData(t, "c"), wantOps: []string{"rm c", "view a 1/1"}},
					{typ: "removed", data: removedData(t, "a"), wantOps: []string{"rm a", "view -"}},
				}
			},
		},
		{
			name: "photos coming and going elsewhere update the position",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "b")},
					{do: open("b")},
					{typ: "image", data: imageData(t, "c"), wantOps: []string{"add c< +", "view b 2/3"}},
					{typ: "removed", data: removedData(t, "a"), wantOps: []string{"rm a", "view b 1/2"}},
					// placeholders are not photos: the position stays
					{typ: "upload", data: progressData(t, "u1", 1, 10), wantOps: []string{"up u:u1<"}},
					{typ: "snapshot", data: snapshotData(t, "z", "b", "c"), wantOps: []string{"add z<b", "view b 2/3"}},
				}
			},
		},
		{
			name: "the end of the session closes the viewer",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a")},
					{do: open("a")},
					{typ: "expired", data: "{}", wantOps: []string{"view -", "state ended"}},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps(t)) })
	}
}

func TestGallerySession(t *testing.T) {
	g := NewGallery()
	up := time.Date(2025, 1, 1, 13, 0, 0, 0, time.UTC)
	first := api.Session{ID: "s", UploadURL: "http://h/u/one", QRURL: "/api/sessions/s/qr.png",
		EventsURL: "/api/sessions/s/events", UploadExpiresAt: up, ExpiresAt: snapshotExpiry,
		Images: []api.Image{image("a")}}
	if got := short(g.SetSession(fromSession(first))); !slices.Equal(got, []string{"session"}) {
		t.Fatalf("first session: %q", got)
	}
	if g.Session().Images != nil {
		t.Fatal("the session keeps its images")
	}
	if got := short(g.SetSession(fromSession(first))); len(got) != 0 {
		t.Fatalf("the same session again: %q", got)
	}
	// A session event: a new code; fields it leaves out stay.
	ops, err := g.Apply(api.EventSession, []byte(`{"id":"s","uploadUrl":"http://h/u/two","uploadExpiresAt":"2025-01-01T14:00:00Z"}`))
	if err != nil || !slices.Equal(short(ops), []string{"session"}) {
		t.Fatalf("session event: %q, %v", short(ops), err)
	}
	s := ops[0].Session
	if s.UploadURL != "http://h/u/two" || s.UploadExpiresAt != at(up.Add(time.Hour)) ||
		s.QRURL != first.QRURL || s.EventsURL != first.EventsURL || s.ExpiresAt != at(snapshotExpiry) || s.ID != "s" {
		t.Fatalf("merged session %+v", s)
	}
	// A snapshot moves expiresAt.
	later := snapshotExpiry.Add(48 * time.Hour)
	ops, err = g.Apply(api.EventSnapshot, []byte(mustJSON(t, api.Snapshot{Images: []api.Image{image("a")}, ExpiresAt: later})))
	if err != nil || !slices.Equal(short(ops), []string{"add a<", "session"}) || g.ExpiresAt() != at(later) {
		t.Fatalf("snapshot: %q, %v, expires %v", short(ops), err, g.ExpiresAt())
	}
	// Another session's id never replaces ours.
	g.SetSession(Session{ID: "other"})
	if g.Session().ID != "s" {
		t.Fatalf("id became %q", g.Session().ID)
	}
	img, ok := g.Image("a")
	if !ok || img.Name != "a.jpg" || img.ThumbURL != "/api/sessions/s/images/a/thumb" {
		t.Fatalf("Image(a) = %+v, %v", img, ok)
	}
	if _, ok := g.Image("zz"); ok {
		t.Fatal("Image(zz) found")
	}
}

// TestGalleryRandomSnapshots checks the reconcile contract on many
// generated before/after pairs: the ops always turn the old page into the
// new one, no tile that stays is ever rebuilt, and a tile moves only if it
// must (a longest run of kept tiles already in order stays put).
func TestGalleryRandomSnapshots(t *testing.T) {
	const n = 7
	seed := uint64(1)
	next := func() uint64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed }
	pick := func() []string {
		var ids []string
		for i := range n {
			if next()%2 == 0 {
				ids = append(ids, fmt.Sprintf("i%d", i))
			}
		}
		if next()%3 == 0 { // now and then shuffle
			for i := len(ids) - 1; i > 0; i-- {
				j := int(next() % uint64(i+1))
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
		return ids
	}
	for round := range 500 {
		before, after := pick(), pick()
		t.Run(fmt.Sprintf("%d:%s->%s", round, strings.Join(before, ","), strings.Join(after, ",")), func(t *testing.T) {
			g := NewGallery()
			p := newPage(t)
			ops, err := g.Apply(api.EventSnapshot, []byte(snapshotData(t, before...)))
			if err != nil {
				t.Fatal(err)
			}
			p.apply(ops)
			ops, err = g.Apply(api.EventSnapshot, []byte(snapshotData(t, after...)))
			if err != nil {
				t.Fatal(err)
			}
			p.apply(ops)
			p.check(g, "after")
			if !slices.Equal(p.photos(), after) {
				t.Fatalf("page %q, want %q (ops %q)", p.photos(), after, short(ops))
			}
			for k, n := range p.builds {
				if n != 1 && p.index(k) >= 0 {
					t.Errorf("tile %v built %d times", k, n)
				}
			}
			// kept tiles: the fewest moves is their number less the longest
			// run of them already in order.
			var seq []int
			for _, id := range after {
				if i := slices.Index(before, id); i >= 0 {
					seq = append(seq, i)
				}
			}
			moves := 0
			for _, op := range ops {
				if op.Kind == OpMove {
					moves++
				}
			}
			if want := len(seq) - longestRun(seq); moves != want {
				t.Errorf("%d moves, want %d (ops %q)", moves, want, short(ops))
			}
		})
	}
}

// longestRun is the length of a longest increasing subsequence, the slow
// and obvious way.
func longestRun(seq []int) int {
	best := make([]int, len(seq))
	n := 0
	for i := range seq {
		best[i] = 1
		for j := range i {
			if seq[j] < seq[i] {
				best[i] = max(best[i], best[j]+1)
			}
		}
		n = max(n, best[i])
	}
	return n
}

// TestGalleryRandomLife drives the gallery with long random runs of every
// kind of event and action, checking after each one that the page the ops
// built is the page the model describes.
func TestGalleryRandomLife(t *testing.T) {
	for round := range 200 {
		seed := uint64(round*7919 + 1)
		next := func(n int) int {
			seed ^= seed << 13
			seed ^= seed >> 7
			seed ^= seed << 17
			return int(seed % uint64(n))
		}
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			clock := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
			g := NewGallery()
			g.Now = func() Instant { return at(clock) }
			p := newPage(t)
			img := func() string { return "i" + strconv.Itoa(next(8)) }
			up := func() string { return "u" + strconv.Itoa(next(5)) }
			for i := range 120 {
				var ops []Op
				var err error
				what := ""
				switch next(11) {
				case 0:
					var ids []string
					for range next(6) {
						ids = append(ids, img())
					}
					what = "snapshot " + strings.Join(ids, ",")
					ops, err = g.Apply(api.EventSnapshot, []byte(snapshotData(t, ids...)))
				case 1, 2:
					id, u := img(), up()
					what = "image " + id + " of " + u
					ops, err = g.Apply(api.EventImage, []byte(uploadedData(t, id, u)))
				case 3:
					id := img()
					what = "removed " + id
					ops, err = g.Apply(api.EventRemoved, []byte(removedData(t, id)))
				case 4, 5:
					u := up()
					what = "progress " + u
					ops, err = g.Apply(api.EventUpload, []byte(progressData(t, u, int64(next(100)), int64(next(2)*100))))
				case 6:
					u := up()
					what = "failure " + u
					ops, err = g.Apply(api.EventUpload, []byte(failureData(t, u, "too_large", "")))
				case 7:
					clock = clock.Add(time.Duration(next(90)) * time.Second)
					what = "tick"
					ops = g.Tick(at(clock))
				case 8:
					what = "open/step"
					if next(2) == 0 {
						ops = g.Open(img())
					} else {
						ops = g.Step(next(3) - 1)
					}
				case 9:
					what = "dismiss"
					ops = g.Dismiss(up())
				case 10:
					what = "state"
					ops = g.SetState([]string{StateLive, StateReconnecting, StateLive, StateLive}[next(4)])
				}
				if err != nil {
					t.Fatalf("%d %s: %v", i, what, err)
				}
				p.apply(ops)
				p.check(g, strconv.Itoa(i)+" "+what)
			}
		})
	}
}

func TestIncreasingRun(t *testing.T) {
	tests := []struct {
		seq  []int
		want int
	}{
		{nil, 0}, {[]int{0}, 1}, {[]int{2, 0, 1}, 2}, {[]int{3, 2, 1, 0}, 1},
		{[]int{0, 1, 2, 3}, 4}, {[]int{4, 0, 5, 1, 2, 6, 3}, 4}, {[]int{5, 6, 0, 7, 1, 2, 3}, 4},
	}
	for _, tt := range tests {
		got := increasingRun(tt.seq)
		if len(got) != tt.want {
			t.Errorf("increasingRun(%v) has %d members, want %d", tt.seq, len(got), tt.want)
		}
		last := -1
		for _, v := range tt.seq {
			if got[v] {
				if v < last {
					t.Errorf("increasingRun(%v) = %v is not increasing", tt.seq, got)
				}
				last = v
			}
		}
	}
}

func TestOpKindString(t *testing.T) {
	for k, want := range map[OpKind]string{OpAdd: "add", OpRemove: "remove", OpMove: "move", OpState: "state",
		OpPending: "pending", OpProgress: "progress", OpFailed: "failed", OpSession: "session", OpViewer: "viewer",
		99: "OpKind(99)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}
