package main

import "strconv"

// LocalTime gives the viewer's offset from UTC, in seconds east, at an
// instant. The page asks the browser's Date for each instant, so that a
// week-long expiry that crosses a change to or from summer time is told in
// the right hour.
type LocalTime func(Instant) (offset int)

// wall reads t on the viewer's clock.
func (local LocalTime) wall(t Instant) Wall { return WallAt(t, local(t)) }

// TextsEvery is how often the page recomputes its time texts (and lets
// placeholders time out): often enough that "Code works until" flips to
// expired within seconds, cheap since nothing changes most of the time.
const TextsEvery = 5 * Second

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
func Describe(s Session, photos int, now Instant, local LocalTime) SessionTexts {
	var t SessionTexts
	if up := s.UploadExpiresAt; up != 0 {
		lu, ln := local.wall(up), local.wall(now)
		switch {
		case now >= up:
			t.CodeExpired = true
			t.CodeUntil = fill(T.CodeExpiredAt, "{time}", ClockLabel(lu))
		case dayDiff(ln, lu) == 0:
			t.CodeUntil = fill(T.CodeUntil, "{time}", ClockLabel(lu))
		default:
			t.CodeUntil = fill(T.CodeUntilDate, "{date}", DateLabel(lu), "{time}", ClockLabel(lu))
		}
	}
	exp := s.ExpiresAt
	if exp == 0 {
		return t
	}
	le := local.wall(exp)
	t.KeptUntil = fill(T.KeptUntil, "{date}", DateLabel(le))
	if photos == 0 {
		return t
	}
	switch left := int64(exp - now); {
	case left <= 0:
		t.Warning = T.WarnNow
	case left <= 24*Hour:
		if dayDiff(local.wall(now), le) == 0 {
			t.Warning = fill(T.WarnToday, "{time}", ClockLabel(le))
		} else {
			t.Warning = fill(T.WarnTomorrow, "{time}", ClockLabel(le))
		}
	}
	return t
}

// ClockLabel writes a wall-clock time as a 24-hour clock: "09:05", "20:04".
//
//go:noinline
func ClockLabel(w Wall) string {
	h, m := w.Hour, w.Minute
	return string([]byte{byte('0' + h/10), byte('0' + h%10), ':', byte('0' + m/10), byte('0' + m%10)})
}

// DateLabel writes a date as T.DateFormat says: "Tue 8 Dec".
func DateLabel(w Wall) string {
	return fill(T.DateFormat,
		"{weekday}", T.Weekdays[w.Weekday],
		"{day}", strconv.Itoa(w.Day),
		"{month}", T.Months[w.Month-1])
}

// dayDiff is how many calendar days b's date is after a's: 0 the same
// day, 1 the next.
func dayDiff(a, b Wall) int { return int(b.days - a.days) }
