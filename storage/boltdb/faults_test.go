package boltdb_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qrsync/storage"
	"qrsync/storage/boltdb"
	"qrsync/storage/internal/fulldisk"
)

// fillCatalog creates sessions with images in c, so that its file has
// grown well past its first pages, and returns the session ids.
func fillCatalog(t *testing.T, c *boltdb.Catalog, sessions, images int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := range sessions {
		// Ids are new on every call: a removed session leaves a tombstone.
		s := session(fmt.Sprint("s", i, "-", time.Now().UnixNano()), time.Now().Add(time.Hour))
		if err := c.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		for j := range images {
			if _, _, err := c.AddImage(ctx, s.ID, image(fmt.Sprint(i, "-", j)), storage.Quota{}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, s.ID)
	}
	return ids
}

func wantFull(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrInsufficientStorage) {
		t.Fatalf("%s = %v, want ErrInsufficientStorage", what, err)
	}
}

// TestFullDisk runs the catalog on a real tmpfs filled to the last byte
// by another file: removing images and sessions works, which is how the
// server frees a full disk; adding is refused with ErrInsufficientStorage
// before it can use up the room removals need, and removals still work
// after that; once space is freed, adding works again. Without the
// catalog's reserve, bbolt fails every RemoveImage here once one session
// has been created on the full disk (its file's spare pages are holes).
func TestFullDisk(t *testing.T) {
	dir, err := fulldisk.Mount(t, 8<<20, 0)
	if err != nil {
		t.Skipf("needs a real full disk, and a tmpfs cannot be mounted here (%v); bbolt has no byte budget to stand in for one", err)
	}
	t.Log("on a real 8 MiB tmpfs")
	ctx := context.Background()
	c := open(t, filepath.Join(dir, "catalog.db"))
	ids := fillCatalog(t, c, 30, 20)
	fill := filepath.Join(dir, "fill")
	fulldisk.Fill(t, fill)
	if err := os.WriteFile(filepath.Join(dir, "probe"), []byte("x"), 0o600); err == nil {
		t.Fatal("the disk still takes a byte after Fill")
	}

	// A session that arrives now may be stored or refused, nothing else.
	if err := c.CreateSession(ctx, session("arrived", time.Now().Add(time.Hour))); err != nil {
		wantFull(t, "CreateSession on a full disk", err)
	} else {
		ids = append(ids, "arrived")
	}
	for i, id := range ids[:30] {
		if _, err := c.RemoveImage(ctx, id, fmt.Sprint(i, "-0")); err != nil {
			t.Fatalf("RemoveImage on a full disk: %v", err)
		}
	}
	for _, id := range ids[:20] {
		if err := c.DeleteSession(ctx, id, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("DeleteSession on a full disk: %v", err)
		}
	}

	// Adding goes on while bbolt finds room in its file, then stops.
	var added []string
	for i := range 100_000 {
		s := session(fmt.Sprint("new", i), time.Now().Add(time.Hour))
		if err = c.CreateSession(ctx, s); err != nil {
			break
		}
		added = append(added, s.ID)
	}
	wantFull(t, "CreateSession until the catalog's file is full", err)
	t.Logf("on the full disk: 50 removals, then %d sessions added before: %v", len(added), err)
	_, _, err = c.AddImage(ctx, ids[29], image("late"), storage.Quota{})
	wantFull(t, "AddImage on the full disk", err)
	// Removals still work: the refusal kept their room.
	for _, id := range append(ids[20:], added...) {
		if err := c.DeleteSession(ctx, id, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("DeleteSession after additions were refused: %v", err)
		}
	}
	if n, err := c.SessionCount(ctx); err != nil || n != 0 {
		t.Fatalf("SessionCount = %d, %v; want 0", n, err)
	}

	// Space freed: adding works again.
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	fillCatalog(t, c, 5, 5)
}

// damage returns a copy of the file at src with f applied to its bytes.
func damage(t *testing.T, src string, f func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "catalog.db")
	if err := os.WriteFile(dst, f(bytes.Clone(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// wantCorrupt checks that err is Open's clear answer to a damaged file:
// ErrCorrupt, the file's name, what to do, and no secret.
func wantCorrupt(t *testing.T, path string, err error) {
	t.Helper()
	if !errors.Is(err, boltdb.ErrCorrupt) {
		t.Fatalf("Open(damaged) = %v, want ErrCorrupt", err)
	}
	msg := err.Error()
	for _, want := range []string{path, "move the file aside", "photos are not kept in this file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "tok-") || strings.Contains(msg, "goroutine") {
		t.Errorf("error %q shows a token or a stack", msg)
	}
}

// TestCorrupt damages a real catalog file in the ways disks and copies do.
// Open answers each with a clear error, never a panic; a page it finds no
// fault with (a free one) leaves a catalog that answers every read.
func TestCorrupt(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "catalog.db")
	c, err := boltdb.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	ids := fillCatalog(t, c, 20, 10)
	for _, id := range ids[:5] { // so that the file has free pages too
		if err := c.DeleteSession(ctx, id, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	const page = 4096
	pages := highWaterMark(t, src, page)

	t.Run("meta pages", func(t *testing.T) {
		path := damage(t, src, func(b []byte) []byte {
			r := rand.NewChaCha8([32]byte{1})
			_, _ = r.Read(b[:2*page])
			return b
		})
		_, err := boltdb.Open(path)
		wantCorrupt(t, path, err)
		t.Log(err)
	})
	t.Run("cut short", func(t *testing.T) {
		for _, size := range []int{pages / 2 * page, 3 * page, 100} {
			path := damage(t, src, func(b []byte) []byte { return b[:size] })
			_, err := boltdb.Open(path)
			wantCorrupt(t, path, err)
			t.Log(err)
		}
	})
	t.Run("garbage over a page", func(t *testing.T) {
		var failed, survived int
		for p := 2; p < pages; p++ { // every page but the two metas
			for seed, fill := range []func([]byte){
				func(b []byte) { r := rand.NewChaCha8([32]byte{byte(p)}); _, _ = r.Read(b) },
				func(b []byte) {
					for i := range b {
						b[i] = 0xff
					}
				},
			} {
				path := damage(t, src, func(b []byte) []byte { fill(b[p*page : (p+1)*page]); return b })
				c, err := boltdb.Open(path, boltdb.WithLockTimeout(100*time.Millisecond))
				if err != nil {
					wantCorrupt(t, path, err)
					failed++
					continue
				}
				survived++
				// Nothing the check let through may panic later.
				for _, id := range ids {
					_, _ = c.Session(ctx, id)
					_, _, _ = c.Images(ctx, id)
					_, _ = c.Read(ctx, id, "", 0)
				}
				if err := c.Close(); err != nil && !errors.Is(err, boltdb.ErrCorrupt) {
					t.Errorf("page %d, fill %d: Close: %v", p, seed, err)
				}
			}
		}
		t.Logf("%d pages: garbage over one made Open fail %d times and was harmless %d times (a free page)", pages-2, failed, survived)
		if failed == 0 {
			t.Fatal("no damaged page was noticed")
		}
	})
}

// highWaterMark reads from the file's newer meta page how many pages
// bbolt uses; the rest of the file is the reserve, never read.
func highWaterMark(t *testing.T, path string, page int) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A page header is 16 bytes; in the meta after it, the page count is
	// at byte 40 and the transaction id at 48, both little-endian here.
	meta := func(p int) (pgid, txid uint64) {
		m := b[p*page+16:]
		return binary.LittleEndian.Uint64(m[40:]), binary.LittleEndian.Uint64(m[48:])
	}
	pg0, tx0 := meta(0)
	pg1, tx1 := meta(1)
	if tx1 > tx0 {
		pg0 = pg1
	}
	if pg0 < 4 || int(pg0)*page > len(b) {
		t.Fatalf("high-water mark %d pages does not fit a %d-byte file", pg0, len(b))
	}
	return int(pg0)
}

// TestSessionCountReopen: the count is read from the file at Open.
func TestSessionCountReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := boltdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := fillCatalog(t, c, 3, 1)
	if err := c.DeleteSession(ctx, ids[1], time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SessionCount(ctx); err == nil {
		t.Error("SessionCount after Close succeeded")
	}
	c = open(t, path)
	if n, err := c.SessionCount(ctx); err != nil || n != 2 {
		t.Fatalf("SessionCount after reopen = %d, %v; want 2", n, err)
	}
}
