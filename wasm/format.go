package main

import "strconv"

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
		return T.StatusConnecting
	case StateLive:
		return T.StatusLive
	case StateReconnecting:
		return T.StatusReconnecting
	case StateEnded:
		return T.StatusEnded
	}
	return state
}

// CountLabel says how many photos have arrived: "No photos yet",
// "1 photo", "12 photos".
func CountLabel(n int) string {
	if n == 0 {
		return T.CountNone
	}
	tmpl, ok := T.Count[PluralForm(n)]
	if !ok {
		tmpl = T.Count["other"]
	}
	return fill(tmpl, "{n}", strconv.Itoa(n))
}

// DownloadAllLabel is the text of the "Download all (N)" link.
func DownloadAllLabel(n int) string {
	return fill(T.DownloadAll, "{n}", strconv.Itoa(n))
}

// PositionLabel is the viewer's "3 of 12"; i counts from 0.
func PositionLabel(i, n int) string {
	return fill(T.ViewerPosition, "{i}", strconv.Itoa(i+1), "{n}", strconv.Itoa(n))
}

// ProgressLabel says how much of an upload has arrived: "1.2 MB of
// 3.4 MB", or only what has arrived when the total is unknown (0).
func ProgressLabel(received, total int64) string {
	switch {
	case total > 0:
		return fill(T.UploadProgress, "{received}", HumanSize(min(received, total)), "{total}", HumanSize(total))
	case received > 0:
		return HumanSize(received)
	}
	return T.UploadWaiting
}

// UploadErrorText is what an error tile says: the server's own message
// (written for a person, in the phone's language), or ours for its code.
func UploadErrorText(code, message string) string {
	if message != "" {
		return message
	}
	if s, ok := T.UploadErrors[code]; ok {
		return s
	}
	return T.UploadErrorOther
}
