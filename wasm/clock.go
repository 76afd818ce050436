package main

import (
	"strconv"
	"time"

	"qrsync/api"
)

// LocalTime turns an instant into the viewer's wall-clock time. The page
// asks the browser's Date for each instant, because Go's time.Local under
// js/wasm is one fixed offset taken at start: a week-long expiry that
// crosses a change to or from summer time would be an hour off.
type LocalTime func(time.Time) time.Time

// InLocation is a LocalTime for a Go location (tests, and any host use).
func InLocation(loc *time.Location) LocalTime {
	return func(t time.Time) time.Time { return t.In(loc) }
}

// TextsEvery is how often the page recomputes its time texts (and lets
// placeholders time out): often enough that "Code works until" flips to
// expired within seconds, cheap since nothing changes most of the time.
const TextsEvery = 5 * time.Second

// SessionTexts is what the page says about a session's times at one
// moment; "" means show nothing there.
type SessionTexts struct {
	// CodeUntil goes under the QR: "Code works until 20:04", or "Code
	// expired at 20:04".
	CodeUntil string
	// CodeExpired is true once the QR's link no longer takes photos: the
	// page covers the QR and offers a new code.
	CodeExpired bool
	// KeptUntil goes by the gallery: "Photos kept until Tue 8 Dec".
	KeptUntil string
	// Warning is set within a day of the photos' removal, when there are
	// photos to lose.
	Warning string
}

// Describe works out the SessionTexts for s at now, with photos photos on
// show.
func Describe(s api.Session, photos int, now time.Time, local LocalTime) SessionTexts {
	var t SessionTexts
	if up := s.UploadExpiresAt; !up.IsZero() {
		lu, ln := local(up), local(now)
		switch {
		case !now.Before(up):
			t.CodeExpired = true
			t.CodeUntil = fill(T.CodeExpiredAt, "{time}", ClockLabel(lu))
		case dayDiff(ln, lu) == 0:
			t.CodeUntil = fill(T.CodeUntil, "{time}", ClockLabel(lu))
		default:
			t.CodeUntil = fill(T.CodeUntilDate, "{date}", DateLabel(lu), "{time}", ClockLabel(lu))
		}
	}
	exp := s.ExpiresAt
	if exp.IsZero() {
		return t
	}
	le := local(exp)
	t.KeptUntil = fill(T.KeptUntil, "{date}", DateLabel(le))
	if photos == 0 {
		return t
	}
	switch left := exp.Sub(now); {
	case left <= 0:
		t.Warning = T.WarnNow
	case left <= 24*time.Hour:
		if dayDiff(local(now), le) == 0 {
			t.Warning = fill(T.WarnToday, "{time}", ClockLabel(le))
		} else {
			t.Warning = fill(T.WarnTomorrow, "{time}", ClockLabel(le))
		}
	}
	return t
}

// ClockLabel writes a local time as a 24-hour clock: "09:05", "20:04".
func ClockLabel(t time.Time) string {
	h, m, _ := t.Clock()
	return string([]byte{byte('0' + h/10), byte('0' + h%10), ':', byte('0' + m/10), byte('0' + m%10)})
}

// DateLabel writes a local date as T.DateFormat says: "Tue 8 Dec".
func DateLabel(t time.Time) string {
	return fill(T.DateFormat,
		"{weekday}", T.Weekdays[t.Weekday()],
		"{day}", strconv.Itoa(t.Day()),
		"{month}", T.Months[t.Month()-1])
}

// dayDiff is how many calendar days b's date is after a's, both already
// in local time: 0 the same day, 1 the next.
func dayDiff(a, b time.Time) int {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	da := time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)
	db := time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}
