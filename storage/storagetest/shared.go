package storagetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"qrsync/storage"
)

// TestSharedCatalog proves what a catalog shared by several instances owes
// them, beyond TestCatalog: open returns two handles on one backend, as
// two processes would hold them. Every write through one is seen by the
// other, a reader blocked on one wakes for an append or an end through the
// other, and writers racing through both keep the quota, the duplicate
// rule and the order of the log.
func TestSharedCatalog(t *testing.T, open func(t *testing.T) (a, b Catalog)) {
	tests := []struct {
		name string
		run  func(t *testing.T, a, b Catalog)
	}{
		{"ReadWakesAcross", testSharedReadWakes},
		{"EndWakesAcross", testSharedEndWakes},
		{"DeleteWakesAcross", testSharedDeleteWakes},
		{"ConcurrentWriters", testSharedConcurrentWriters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tt.run(t, a, b)
		})
	}
}

// blockedRead starts a Read on c after afterID and returns where its
// answer arrives.
func blockedRead(t *testing.T, c Catalog, sessionID, afterID string) <-chan readResult {
	done := make(chan readResult, 1)
	go func() {
		evs, err := c.Read(testContext(t), sessionID, afterID, 0)
		done <- readResult{evs, err}
	}()
	// Give the reader a moment to block. Nothing depends on it: a Read
	// that starts after the write answers at once.
	time.Sleep(50 * time.Millisecond)
	return done
}

type readResult struct {
	evs []storage.Event
	err error
}

func awaitRead(t *testing.T, done <-chan readResult, what string) readResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(hangTimeout):
		t.Fatalf("a Read blocked on one handle did not wake after %s on the other", what)
		return readResult{}
	}
}

func testSharedReadWakes(t *testing.T, a, b Catalog) {
	s := liveSession(t, a)
	if _, err := b.Session(testContext(t), s.ID); err != nil {
		t.Fatalf("the session made through one handle, read through the other: %v", err)
	}
	for _, after := range []string{"", "the last"} {
		last := ""
		if after != "" {
			last = addImage(t, a, s.ID, newImage(s.ID, 1)).ID
		}
		done := blockedRead(t, b, s.ID, last)
		img := newImage(s.ID, 2)
		ev := addImage(t, a, s.ID, img)
		r := awaitRead(t, done, "an AddImage")
		if r.err != nil || len(r.evs) != 1 || !sameEvent(r.evs[0], ev) {
			t.Fatalf("Read after %s event = %+v, %v; want the one event appended: %+v", after, r.evs, r.err, ev)
		}
	}
	// And the other way round, for the session's own events.
	imgs, last, err := a.Images(testContext(t), s.ID)
	if err != nil || len(imgs) != 3 {
		t.Fatalf("Images = %d, %v; want 3", len(imgs), err)
	}
	done := blockedRead(t, a, s.ID, last)
	_, ev, err := b.ExtendSession(testContext(t), s.ID, s.ExpiresAt.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r := awaitRead(t, done, "an ExtendSession"); r.err != nil || len(r.evs) != 1 || !sameEvent(r.evs[0], ev) {
		t.Fatalf("Read after a session event = %+v, %v; want %+v", r.evs, r.err, ev)
	}
}

func testSharedEndWakes(t *testing.T, a, b Catalog) {
	s := liveSession(t, a)
	done := blockedRead(t, b, s.ID, "")
	if err := a.EndSession(testContext(t), s.ID, now()); err != nil {
		t.Fatal(err)
	}
	if r := awaitRead(t, done, "an EndSession"); !errors.Is(r.err, storage.ErrExpired) {
		t.Errorf("Read after EndSession elsewhere = %v, want ErrExpired", r.err)
	}
	_, err := b.Session(testContext(t), s.ID)
	wantErr(t, "Session after EndSession elsewhere", err, storage.ErrExpired)
}

func testSharedDeleteWakes(t *testing.T, a, b Catalog) {
	s := liveSession(t, a)
	ev := addImage(t, a, s.ID, newImage(s.ID, 1))
	done := blockedRead(t, b, s.ID, ev.ID)
	if err := a.DeleteSession(testContext(t), s.ID, tombstone()); err != nil {
		t.Fatal(err)
	}
	if r := awaitRead(t, done, "a DeleteSession"); !errors.Is(r.err, storage.ErrExpired) {
		t.Errorf("Read after DeleteSession elsewhere = %v, want ErrExpired", r.err)
	}
	_, err := b.SessionByToken(testContext(t), s.UploadToken)
	wantErr(t, "SessionByToken after DeleteSession elsewhere", err, storage.ErrExpired)
}

// testSharedConcurrentWriters races writers through both handles: some
// send the same bytes, all of them more images than the quota allows, and
// a reader on each handle follows the log meanwhile.
func testSharedConcurrentWriters(t *testing.T, a, b Catalog) {
	const writers, limit = 40, 25
	s := liveSession(t, a)
	q := storage.Quota{MaxImages: limit}
	shared := newImage(s.ID, 5) // sent by every fifth writer
	var wg sync.WaitGroup
	added := make([]storage.Event, writers)
	errs := make([]error, writers)
	for i := range writers {
		c := []Catalog{a, b}[i%2]
		img := newImage(s.ID, 5)
		if i%5 == 0 {
			img.ID, img.SHA256 = randomID(), shared.SHA256
		}
		wg.Go(func() { _, added[i], errs[i] = c.AddImage(testContext(t), s.ID, img, q) })
	}
	// Readers follow the log live on both handles while it is written.
	follow := func(c Catalog) <-chan []storage.Event {
		out := make(chan []storage.Event, 1)
		go func() {
			var got []storage.Event
			after := ""
			for len(got) < limit {
				evs, err := c.Read(testContext(t), s.ID, after, 0)
				if err != nil {
					t.Errorf("following the log: %v", err)
					break
				}
				got = append(got, evs...)
				after = evs[len(evs)-1].ID
			}
			out <- got
		}()
		return out
	}
	fa, fb := follow(a), follow(b)
	wg.Wait()

	ok, dup := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, storage.ErrDuplicate):
			dup++
			if i%5 != 0 {
				t.Errorf("writer %d, with bytes of its own, got ErrDuplicate", i)
			}
		case !errors.Is(err, storage.ErrQuota):
			t.Fatalf("concurrent AddImage: %v, want nil, ErrQuota or ErrDuplicate", err)
		}
	}
	if ok != limit {
		t.Errorf("%d concurrent AddImage calls succeeded, want the quota, %d", ok, limit)
	}
	log := allEvents(t, b, s.ID)
	if len(log) != limit {
		t.Fatalf("log has %d events, want %d", len(log), limit)
	}
	seen, shares := map[string]bool{}, 0
	for _, ev := range log {
		if seen[ev.Image.ID] {
			t.Errorf("image %s is in the log twice", ev.Image.ID)
		}
		seen[ev.Image.ID] = true
		if ev.Image.SHA256 == shared.SHA256 {
			shares++
		}
	}
	if shares > 1 {
		t.Errorf("the same bytes were stored %d times", shares)
	}
	for i, err := range errs {
		if err == nil && !seen[added[i].Image.ID] {
			t.Errorf("writer %d's image is not in the log", i)
		}
	}
	for name, f := range map[string]<-chan []storage.Event{"first": fa, "second": fb} {
		select {
		case got := <-f:
			if !slices.EqualFunc(got, log, sameEvent) {
				t.Errorf("the %s handle's live reader saw %q, want the log %q", name, eventIDs(got), eventIDs(log))
			}
		case <-time.After(hangTimeout):
			t.Fatalf("the %s handle's live reader did not see the whole log", name)
		}
	}
	imgs, last, err := a.Images(testContext(t), s.ID)
	if err != nil || len(imgs) != limit || last != log[len(log)-1].ID {
		t.Errorf("Images = %d, last %q, %v; want %d, %q", len(imgs), last, err, limit, log[len(log)-1].ID)
	}
}
