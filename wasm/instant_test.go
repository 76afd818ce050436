package main

import (
	"math/rand/v2"
	"testing"
	"time"

	"qrsync/api"
)

// The tests speak time.Time and api types, which the client cannot import;
// these turn them into the client's own.

// InLocation is a LocalTime for a Go location.
func InLocation(loc *time.Location) LocalTime {
	return func(t Instant) int {
		_, off := time.UnixMilli(int64(t)).In(loc).Zone()
		return off
	}
}

// at is t as an Instant, the zero time as 0 (as parseRFC3339 reads it).
func at(t time.Time) Instant {
	if t.IsZero() {
		return 0
	}
	return Instant(t.UnixMilli())
}

// wallUTC reads t on a UTC clock.
func wallUTC(t time.Time) Wall { return WallAt(at(t), 0) }

func fromImage(img api.Image) Image {
	return Image{ID: img.ID, Name: img.Name, ContentType: img.ContentType, Size: img.Size,
		Width: img.Width, Height: img.Height, SHA256: img.SHA256, CreatedAt: at(img.CreatedAt),
		URL: img.URL, ThumbURL: img.ThumbURL, DisplayURL: img.DisplayURL, Upload: img.Upload}
}

func fromImages(imgs []api.Image) []Image {
	if imgs == nil {
		return nil
	}
	out := make([]Image, len(imgs))
	for i, img := range imgs {
		out[i] = fromImage(img)
	}
	return out
}

func fromSession(s api.Session) Session {
	return Session{ID: s.ID, UploadURL: s.UploadURL, QRURL: s.QRURL, EventsURL: s.EventsURL,
		UploadExpiresAt: at(s.UploadExpiresAt), ExpiresAt: at(s.ExpiresAt), Images: fromImages(s.Images)}
}

func fromSnapshot(s api.Snapshot) Snapshot {
	return Snapshot{Images: fromImages(s.Images), ExpiresAt: at(s.ExpiresAt)}
}

// TestWallAt holds the client's calendar to package time's, over instants
// from year 1 to 9999 and offsets of a day either way.
func TestWallAt(t *testing.T) {
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).UnixMilli()
	r := rand.New(rand.NewPCG(1, 2))
	check := func(ms int64, off int) {
		t.Helper()
		w := WallAt(Instant(ms), off)
		tt := time.UnixMilli(ms).In(time.FixedZone("", off))
		if w.Year != tt.Year() || w.Month != int(tt.Month()) || w.Day != tt.Day() ||
			w.Weekday != int(tt.Weekday()) || w.Hour != tt.Hour() || w.Minute != tt.Minute() {
			t.Fatalf("WallAt(%d, %d) = %+v, time says %v", ms, off, w, tt)
		}
		y, m, d := tt.Date()
		if got := daysFrom(y, int(m), d); got != w.days {
			t.Fatalf("daysFrom(%d, %d, %d) = %d, want %d", y, m, d, got, w.days)
		}
	}
	for _, ms := range []int64{lo, hi, 0, -1, 1, 951782400000 /* 2000-02-29 */, -86400000} {
		check(ms, 0)
		check(ms, 3600)
		check(ms, -3600)
	}
	for range 100000 {
		check(lo+r.Int64N(hi-lo), r.IntN(2*86400+1)-86400)
	}
}
