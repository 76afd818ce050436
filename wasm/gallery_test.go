package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"qrsync/api"
)

// page is a stand-in for the DOM: it applies ops exactly as the syscall/js
// layer does and fails the test on an op that could not be applied to a real
// page (adding a tile twice, moving or removing a missing one, inserting
// before a tile that is not there).
type page struct {
	t      *testing.T
	ids    []string
	builds map[string]int // how often a tile was built, to catch re-renders
	state  string
}

func newPage(t *testing.T) *page {
	return &page{t: t, builds: map[string]int{}, state: StateConnecting}
}

func (p *page) index(id string) int { return slices.Index(p.ids, id) }

func (p *page) insert(id, before string) {
	p.t.Helper()
	if before == "" {
		p.ids = append(p.ids, id)
		return
	}
	i := p.index(before)
	if i < 0 {
		p.t.Fatalf("insert %q before missing tile %q", id, before)
	}
	p.ids = slices.Insert(p.ids, i, id)
}

func (p *page) apply(ops []Op) {
	p.t.Helper()
	for _, op := range ops {
		switch op.Kind {
		case OpAdd:
			if p.index(op.ID) >= 0 {
				p.t.Fatalf("add of tile %q already on the page", op.ID)
			}
			if op.Image.ID != op.ID {
				p.t.Fatalf("add op id %q carries image %q", op.ID, op.Image.ID)
			}
			p.builds[op.ID]++
			p.insert(op.ID, op.Before)
		case OpRemove:
			i := p.index(op.ID)
			if i < 0 {
				p.t.Fatalf("remove of missing tile %q", op.ID)
			}
			p.ids = slices.Delete(p.ids, i, i+1)
		case OpMove:
			i := p.index(op.ID)
			if i < 0 {
				p.t.Fatalf("move of missing tile %q", op.ID)
			}
			if op.Before == op.ID {
				p.t.Fatalf("move of %q before itself", op.ID)
			}
			p.ids = slices.Delete(p.ids, i, i+1)
			p.insert(op.ID, op.Before)
		case OpState:
			p.state = op.State
		default:
			p.t.Fatalf("unknown op %v", op.Kind)
		}
	}
}

// short writes ops compactly: "add c<b" (add c before b), "add c<" (at the
// end), "rm a", "mv a<b", "state live"; "+" marks an arrived image.
func short(ops []Op) []string {
	out := []string{}
	for _, op := range ops {
		switch op.Kind {
		case OpAdd:
			s := "add " + op.ID + "<" + op.Before
			if op.Arrived {
				s += " +"
			}
			out = append(out, s)
		case OpRemove:
			out = append(out, "rm "+op.ID)
		case OpMove:
			out = append(out, "mv "+op.ID+"<"+op.Before)
		case OpState:
			out = append(out, "state "+op.State)
		}
	}
	return out
}

func image(id string) api.Image {
	return api.Image{
		ID: id, Name: id + ".jpg", ContentType: "image/jpeg", Size: 2_400_000,
		Width: 4032, Height: 3024, CreatedAt: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC),
		URL: "/api/sessions/s/images/" + id, ThumbURL: "/api/sessions/s/images/" + id + "/thumb",
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snapshotData builds a snapshot's JSON; ids are oldest first, as the
// server sends them.
func snapshotData(t *testing.T, ids ...string) string {
	s := api.Snapshot{Images: []api.Image{}, ExpiresAt: time.Date(2025, 1, 1, 13, 0, 0, 0, time.UTC)}
	for _, id := range ids {
		s.Images = append(s.Images, image(id))
	}
	return mustJSON(t, s)
}

func imageData(t *testing.T, id string) string { return mustJSON(t, image(id)) }

func removedData(t *testing.T, id string) string { return mustJSON(t, api.Removed{ID: id}) }

type step struct {
	typ, data string
	state     string   // if set, a SetState call instead of an event
	wantOps   []string // nil: not checked
	wantPage  []string // newest first; nil: not checked
	wantErr   bool
}

func TestGallery(t *testing.T) {
	tests := []struct {
		name      string
		steps     func(t *testing.T) []step
		wantState string
	}{
		{
			name: "snapshot then events",
			steps: func(t *testing.T) []step {
				return []step{
					{state: StateLive, wantOps: []string{"state live"}},
					{typ: "snapshot", data: snapshotData(t, "a", "b"), wantOps: []string{"add a<", "add b<a"}, wantPage: []string{"b", "a"}},
					{typ: "image", data: imageData(t, "c"), wantOps: []string{"add c<b +"}, wantPage: []string{"c", "b", "a"}},
					{typ: "removed", data: removedData(t, "b"), wantOps: []string{"rm b"}, wantPage: []string{"c", "a"}},
					{typ: "image", data: imageData(t, "d"), wantOps: []string{"add d<c +"}, wantPage: []string{"d", "c", "a"}},
				}
			},
			wantState: StateLive,
		},
		{
			name: "empty snapshot then first image",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t), wantOps: []string{}, wantPage: []string{}},
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
					{typ: "image", data: imageData(t, "b"), wantOps: []string{}, wantPage: []string{"b", "a"}},
					{typ: "image", data: imageData(t, "c"), wantOps: []string{"add c<b +"}},
					// replay overlap after a reconnect: c again, then d
					{state: StateReconnecting},
					{state: StateLive},
					{typ: "image", data: imageData(t, "c"), wantOps: []string{}},
					{typ: "image", data: imageData(t, "d"), wantOps: []string{"add d<c +"}, wantPage: []string{"d", "c", "b", "a"}},
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
			name: "snapshot after reconnect replaces state",
			steps: func(t *testing.T) []step {
				return []step{
					{state: StateLive},
					{typ: "snapshot", data: snapshotData(t, "a", "b", "c", "d")},
					{state: StateReconnecting, wantOps: []string{"state reconnecting"}},
					// while away: b and d were removed, e and f arrived
					{state: StateLive},
					{typ: "snapshot", data: snapshotData(t, "a", "c", "e", "f"),
						wantOps:  []string{"rm d", "rm b", "add e<c", "add f<e"},
						wantPage: []string{"f", "e", "c", "a"}},
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
						wantOps:  []string{"add b<a", "add d<c"},
						wantPage: []string{"d", "c", "b", "a"}},
				}
			},
			wantState: StateConnecting,
		},
		{
			name: "identical snapshot changes nothing",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "b")},
					{typ: "snapshot", data: snapshotData(t, "a", "b"), wantOps: []string{}, wantPage: []string{"b", "a"}},
				}
			},
			wantState: StateConnecting,
		},
		{
			name: "snapshot that reorders kept images moves them",
			steps: func(t *testing.T) []step {
				return []step{
					{typ: "snapshot", data: snapshotData(t, "a", "b", "c")},
					{typ: "snapshot", data: snapshotData(t, "c", "x", "a", "b"),
						wantOps:  []string{"mv c<", "add x<c", "mv a<x", "mv b<a"},
						wantPage: []string{"b", "a", "x", "c"}},
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
					{state: StateLive},
					{typ: "snapshot", data: snapshotData(t, "a")},
					{typ: "expired", data: "{}", wantOps: []string{"state ended"}, wantPage: []string{"a"}},
					{typ: "expired", data: "{}", wantOps: []string{}},
					{typ: "image", data: imageData(t, "b"), wantOps: []string{}},
					{typ: "removed", data: removedData(t, "a"), wantOps: []string{}},
					{typ: "snapshot", data: snapshotData(t), wantOps: []string{}, wantPage: []string{"a"}},
					{state: StateReconnecting, wantOps: []string{}},
				}
			},
			wantState: StateEnded,
		},
		{
			name: "ended state from the client (404/410) is final too",
			steps: func(t *testing.T) []step {
				return []step{
					{state: StateReconnecting},
					{state: StateEnded, wantOps: []string{"state ended"}},
					{state: StateLive, wantOps: []string{}},
				}
			},
			wantState: StateEnded,
		},
		{
			name: "same state twice is one op",
			steps: func(t *testing.T) []step {
				return []step{
					{state: StateConnecting, wantOps: []string{}},
					{state: StateLive, wantOps: []string{"state live"}},
					{state: StateLive, wantOps: []string{}},
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
			g := NewGallery()
			p := newPage(t)
			for i, st := range tt.steps(t) {
				var ops []Op
				what := "state " + st.state
				if st.state != "" {
					ops = g.SetState(st.state)
				} else {
					what = st.typ
					var err error
					ops, err = g.Apply(st.typ, []byte(st.data))
					if (err != nil) != st.wantErr {
						t.Fatalf("step %d (%s): err = %v, want error %v", i, what, err, st.wantErr)
					}
					if err != nil && ops != nil {
						t.Fatalf("step %d (%s): error with ops %v", i, what, short(ops))
					}
				}
				if st.wantOps != nil {
					if got := short(ops); !slices.Equal(got, st.wantOps) {
						t.Fatalf("step %d (%s): ops = %q, want %q", i, what, got, st.wantOps)
					}
				}
				p.apply(ops)
				if !slices.Equal(p.ids, g.IDs()) {
					t.Fatalf("step %d (%s): page %q does not match model %q", i, what, p.ids, g.IDs())
				}
				if st.wantPage != nil && !slices.Equal(p.ids, st.wantPage) {
					t.Fatalf("step %d (%s): page = %q, want %q", i, what, p.ids, st.wantPage)
				}
				if p.state != g.State() {
					t.Fatalf("step %d (%s): page state %q, model %q", i, what, p.state, g.State())
				}
				if g.Len() != len(p.ids) {
					t.Fatalf("step %d: Len() = %d, page has %d", i, g.Len(), len(p.ids))
				}
			}
			for id, n := range p.builds {
				if n != 1 && p.index(id) >= 0 {
					t.Errorf("tile %q built %d times, want once", id, n)
				}
			}
			if g.State() != tt.wantState {
				t.Errorf("final state %q, want %q", g.State(), tt.wantState)
			}
		})
	}
}

func TestGalleryKeepsImageData(t *testing.T) {
	g := NewGallery()
	if _, err := g.Apply(api.EventSnapshot, []byte(snapshotData(t, "a"))); err != nil {
		t.Fatal(err)
	}
	img, ok := g.Image("a")
	if !ok || img.Name != "a.jpg" || img.ThumbURL != "/api/sessions/s/images/a/thumb" {
		t.Fatalf("Image(a) = %+v, %v", img, ok)
	}
	if want := time.Date(2025, 1, 1, 13, 0, 0, 0, time.UTC); !g.ExpiresAt().Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", g.ExpiresAt(), want)
	}
	if _, ok := g.Image("zz"); ok {
		t.Fatal("Image(zz) found")
	}
}

// TestGalleryRandomSnapshots checks the reconcile contract on many
// generated before/after pairs: the ops always turn the old page into the
// new one, and no tile that stays is ever rebuilt.
func TestGalleryRandomSnapshots(t *testing.T) {
	const n = 6
	seed := uint64(1)
	next := func() uint64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed }
	pick := func() []string {
		var ids []string
		for i := range n {
			if next()%2 == 0 {
				ids = append(ids, fmt.Sprintf("i%d", i))
			}
		}
		if next()%4 == 0 { // occasionally shuffle
			for i := len(ids) - 1; i > 0; i-- {
				j := int(next() % uint64(i+1))
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
		return ids
	}
	for round := range 300 {
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
			want := slices.Clone(after)
			slices.Reverse(want)
			if !slices.Equal(p.ids, want) {
				t.Fatalf("page %q, want %q (ops %q)", p.ids, want, short(ops))
			}
			for id, n := range p.builds {
				if n != 1 && p.index(id) >= 0 {
					t.Errorf("tile %q built %d times", id, n)
				}
			}
		})
	}
}

func TestOpKindString(t *testing.T) {
	for k, want := range map[OpKind]string{OpAdd: "add", OpRemove: "remove", OpMove: "move", OpState: "state", 99: "OpKind(99)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}
