package main

import (
	"strconv"
	"time"
)

// sizeUnits are decimal (SI) units, as phones and file managers show photo
// sizes, so "2.4 MB" here is "2.4 MB" in the phone's gallery too.
var sizeUnits = [...]string{"kB", "MB", "GB", "TB", "PB", "EB"}

// HumanSize formats a byte count for people: "532 B", "2.4 MB", "312 MB".
// One decimal below 100 of a unit, none above; a value that would round to
// 1000 moves to the next unit ("1.0 MB", never "1000 kB").
func HumanSize(n int64) string {
	if n < 0 {
		n = 0
	}
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	for i, unit := range sizeUnits {
		v /= 1000
		switch {
		case v < 99.95:
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
		case v < 999.5 || i == len(sizeUnits)-1:
			return strconv.FormatFloat(v, 'f', 0, 64) + " " + unit
		}
	}
	panic("unreachable")
}

// StatusLabel is the text of the header's status pill for a connection
// state: short, and with an ellipsis while something is still happening.
func StatusLabel(state string) string {
	switch state {
	case StateConnecting:
		return "connecting…"
	case StateLive:
		return "live"
	case StateReconnecting:
		return "reconnecting…"
	case StateEnded:
		return "ended"
	}
	return state
}

// CountLabel says how many photos have arrived: "No photos yet",
// "1 photo", "12 photos".
func CountLabel(n int) string {
	switch n {
	case 0:
		return "No photos yet"
	case 1:
		return "1 photo"
	}
	return strconv.Itoa(n) + " photos"
}

// ExpiryLabel tells until when the QR code works, in the viewer's local
// time; "" when the time is unknown.
func ExpiryLabel(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return "Code valid until " + t.In(loc).Format("15:04")
}
