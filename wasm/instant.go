package main

// The client keeps time as Unix milliseconds and does its own calendar
// arithmetic: importing package time would add about 37 KB (brotli) to the
// download, mostly the runtime's metrics and GODEBUG code that time's
// settings pull in, for the few sums the page needs.

// Instant is a moment as milliseconds since the Unix epoch. 0 means
// unknown, as the zero time.Time does.
type Instant int64

// Spans of time, in milliseconds (the unit of Instant).
const (
	Second int64 = 1000
	Minute       = 60 * Second
	Hour         = 60 * Minute
	day          = 24 * Hour
)

// Session is api.Session as the client reads it, its times as Instants.
type Session struct {
	ID              string
	UploadURL       string
	QRURL           string
	EventsURL       string
	UploadExpiresAt Instant
	ExpiresAt       Instant
	Images          []Image
}

// Image is api.Image as the client reads it, its time as an Instant.
type Image struct {
	ID          string
	Name        string
	ContentType string
	Size        int64
	Width       int
	Height      int
	SHA256      string
	CreatedAt   Instant
	URL         string
	ThumbURL    string
	DisplayURL  string
	Upload      string
}

// Snapshot is api.Snapshot as the client reads it.
type Snapshot struct {
	Images    []Image
	ExpiresAt Instant
}

// Wall is an instant as the viewer's clock and calendar show it.
type Wall struct {
	Year, Month, Day int // Month 1..12
	Weekday          int // 0 Sunday .. 6 Saturday
	Hour, Minute     int
	days             int64 // days since 1970-01-01 in local time, for dayDiff
}

// WallAt reads t on a clock offset seconds east of UTC.
func WallAt(t Instant, offset int) Wall {
	ms := int64(t) + int64(offset)*Second
	days := floorDiv(ms, day)
	rest := ms - days*day
	y, m, d := civil(days)
	return Wall{
		Year: y, Month: m, Day: d,
		Weekday: int((days%7 + 11) % 7), // 1970-01-01 was a Thursday
		Hour:    int(rest / Hour), Minute: int(rest % Hour / Minute),
		days: days,
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// civil turns days since 1970-01-01 into a proleptic Gregorian date (H.
// Hinnant's civil_from_days).
func civil(days int64) (year, month, dayOfMonth int) {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

// daysFrom is the inverse of civil (days_from_civil).
func daysFrom(year, month, dayOfMonth int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := int64(month+9) % 12
	doy := (153*mp+2)/5 + int64(dayOfMonth) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
