package boltdb_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"qrsync/storage"
	"qrsync/storage/boltdb"
	"qrsync/storage/storagetest"
)

func open(t testing.TB, path string, opts ...boltdb.Option) *boltdb.Catalog {
	t.Helper()
	c, err := boltdb.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestConformance(t *testing.T) {
	storagetest.TestCatalog(t, func(t *testing.T) storagetest.Catalog {
		return open(t, filepath.Join(t.TempDir(), "catalog.db"))
	})
}

func image(id string) storage.Image {
	return storage.Image{ID: id, Name: id + ".jpg", ContentType: "image/jpeg", Size: 100, SHA256: "sha-" + id,
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func session(id string, expires time.Time) storage.Session {
	return storage.Session{ID: id, UploadToken: "tok-" + id, CreatedAt: expires.Add(-time.Hour), ExpiresAt: expires}
}

// TestReopen: everything survives a close, and ids keep increasing after it.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := boltdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s := session("s1", time.Now().Add(time.Hour).UTC().Truncate(time.Second))
	if err := c.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, id := range []string{"a", "b", "c"} {
		_, ev, err := c.AddImage(ctx, s.ID, image(id), storage.Quota{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	ev, err := c.RemoveImage(ctx, s.ID, "b")
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, ev.ID)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c = open(t, path)
	got, err := c.SessionByToken(ctx, s.UploadToken)
	if err != nil || got.ID != s.ID || got.Images != 2 || got.Bytes != 200 || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("session after reopen = %+v, %v", got, err)
	}
	imgs, last, err := c.Images(ctx, s.ID)
	if err != nil || len(imgs) != 2 || imgs[0].ID != "a" || imgs[1].ID != "c" || last != ids[3] {
		t.Fatalf("Images after reopen = %+v, %q, %v", imgs, last, err)
	}
	evs, err := c.Read(ctx, s.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	for _, ev := range evs {
		logged = append(logged, ev.ID)
	}
	if !slices.Equal(logged, ids) {
		t.Fatalf("log after reopen = %q, want %q", logged, ids)
	}
	// The duplicate index survived too.
	if _, _, err := c.AddImage(ctx, s.ID, image("a"), storage.Quota{}); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("re-adding after reopen: %v, want ErrDuplicate", err)
	}
	_, next, err := c.AddImage(ctx, s.ID, image("d"), storage.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ids, next.ID) {
		t.Fatalf("id %q reused after reopen", next.ID)
	}
	after, err := c.Read(ctx, s.ID, ids[3], 0)
	if err != nil || len(after) != 1 || after[0].ID != next.ID {
		t.Fatalf("EventsAfter(last before reopen) = %+v, %v; want just %q", after, err, next.ID)
	}
}

func TestEventIDs(t *testing.T) {
	ctx := context.Background()
	c := open(t, filepath.Join(t.TempDir(), "catalog.db"))
	s := session("s", time.Now().Add(time.Hour))
	if err := c.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	_, ev, err := c.AddImage(ctx, s.ID, image("a"), storage.Quota{})
	if err != nil || ev.ID != "1" {
		t.Fatalf("first event id %q, %v; want \"1\"", ev.ID, err)
	}
	// Malformed, non-canonical and never issued ids are all gone.
	for _, id := range []string{"0", "01", "+1", "2", "-1", "1.0", " 1", "18446744073709551616"} {
		if _, err := c.Read(ctx, s.ID, id, 0); !errors.Is(err, storage.ErrEventGone) {
			t.Errorf("EventsAfter(%q) = %v, want ErrEventGone", id, err)
		}
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	open(t, path)
	start := time.Now()
	_, err := boltdb.Open(path, boltdb.WithLockTimeout(100*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open = %v, want a clear lock error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("second Open took %v", d)
	}
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		path string
		opts []boltdb.Option
	}{
		{"empty path", "", nil},
		{"zero lock timeout", filepath.Join(dir, "b.db"), []boltdb.Option{boltdb.WithLockTimeout(0)}},
		{"directory", dir, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := boltdb.Open(tt.path, tt.opts...); err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestCreateSessionRejects(t *testing.T) {
	ctx := context.Background()
	c := open(t, filepath.Join(t.TempDir(), "catalog.db"))
	exp := time.Now().Add(time.Hour)
	if err := c.CreateSession(ctx, session("s", exp)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		s    storage.Session
	}{
		{"same id", storage.Session{ID: "s", UploadToken: "other", ExpiresAt: exp}},
		{"same token", storage.Session{ID: "other", UploadToken: "tok-s", ExpiresAt: exp}},
		{"no id", storage.Session{UploadToken: "t2", ExpiresAt: exp}},
		{"no token", storage.Session{ID: "s2", ExpiresAt: exp}},
		{"no expiry", storage.Session{ID: "s3", UploadToken: "t3"}},
	} {
		if err := c.CreateSession(ctx, tt.s); err == nil {
			t.Errorf("%s: CreateSession succeeded", tt.name)
		} else if strings.Contains(err.Error(), "tok-s") {
			t.Errorf("%s: error %q reveals the token", tt.name, err)
		}
	}
	// The failed attempts changed nothing.
	if got, err := c.SessionByToken(ctx, "tok-s"); err != nil || got.ID != "s" {
		t.Fatalf("SessionByToken = %+v, %v", got, err)
	}
	if _, _, err := c.AddImage(ctx, "s", storage.Image{}, storage.Quota{}); err == nil {
		t.Error("AddImage without an id succeeded")
	}
	if _, _, err := c.AddImage(ctx, "s", image("a"), storage.Quota{}); err != nil {
		t.Fatal(err)
	}
	dupID := image("a")
	dupID.SHA256 = "different"
	if _, _, err := c.AddImage(ctx, "s", dupID, storage.Quota{}); err == nil || errors.Is(err, storage.ErrDuplicate) {
		t.Errorf("AddImage with a used id = %v, want a plain error", err)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	c, err := boltdb.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := session("s", time.Now().Add(time.Hour))
	if err := c.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- readOne(c, ctx, s.ID) }()
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done: // woken (nil) or refused (closed): either way not hanging
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not wake a waiter")
	}
	if err := readOne(c, ctx, s.ID); err == nil {
		t.Error("Wait after Close succeeded")
	}
	if err := c.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// BenchmarkAddImage measures one AddImage, a bbolt transaction with fsync,
// in sessions that fill up to the default quota of 500 images.
func BenchmarkAddImage(b *testing.B) {
	ctx := context.Background()
	c := open(b, filepath.Join(b.TempDir(), "catalog.db"))
	var sessionID string
	i := 0
	for b.Loop() {
		if i%500 == 0 {
			sessionID = fmt.Sprint("s", i)
			if err := c.CreateSession(ctx, session(sessionID, time.Now().Add(24*time.Hour))); err != nil {
				b.Fatal(err)
			}
		}
		i++
		if _, _, err := c.AddImage(ctx, sessionID, image(fmt.Sprint(i)), storage.Quota{MaxImages: 500}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddImageParallel is AddImage from many uploads into one session
// at once; bbolt serialises them, each with its own fsync.
func BenchmarkAddImageParallel(b *testing.B) {
	ctx := context.Background()
	c := open(b, filepath.Join(b.TempDir(), "catalog.db"))
	s := session("s", time.Now().Add(24*time.Hour))
	if err := c.CreateSession(ctx, s); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := c.AddImage(ctx, s.ID, image(fmt.Sprint(n.Add(1))), storage.Quota{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestTombstones: a removed session says ended across a reopen, with its
// old and new upload tokens, until its tombstone is purged; then it is
// unknown and its tokens are gone from the file.
func TestTombstones(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := boltdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s := session("s1", time.Now().Add(time.Hour))
	if err := c.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.RenewUploadLink(ctx, s.ID, "tok-new", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(24 * time.Hour)
	if err := c.DeleteSession(ctx, s.ID, until); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, path)
	check := func(when string, want error) {
		t.Helper()
		if _, err := c.Session(ctx, s.ID); !errors.Is(err, want) {
			t.Errorf("%s: Session = %v, want %v", when, err, want)
		}
		for _, tok := range []string{s.UploadToken, "tok-new"} {
			if _, err := c.SessionByToken(ctx, tok); !errors.Is(err, want) {
				t.Errorf("%s: SessionByToken(%s) = %v, want %v", when, tok, err, want)
			}
		}
	}
	check("after reopen", storage.ErrExpired)
	// Purging before the tombstone's time keeps it.
	if err := c.PurgeTombstones(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	check("after an early purge", storage.ErrExpired)
	if err := c.PurgeTombstones(ctx, until.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	check("after the purge", storage.ErrNotFound)
	// The tokens are free again (they were removed, not just hidden).
	s2 := storage.Session{ID: "s2", UploadToken: "tok-new", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := c.CreateSession(ctx, s2); err != nil {
		t.Errorf("a purged token is still held: %v", err)
	}
}

// readOne is a blocking Read of one event, returning only its error.
func readOne(c *boltdb.Catalog, ctx context.Context, sessionID string) error {
	_, err := c.Read(ctx, sessionID, "", 1)
	return err
}
