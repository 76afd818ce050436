package main

import (
	"testing"
	"time"

	"qrsync/api"
)

func TestDescribe(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600) // no tzdata: the DST case below is skipped
	}
	local := InLocation(paris)
	// Tue 1 Dec 2026, 19:04 in Paris (CET, UTC+1).
	now := time.Date(2026, 12, 1, 18, 4, 0, 0, time.UTC)
	tests := []struct {
		name   string
		s      api.Session
		photos int
		now    time.Time
		want   SessionTexts
	}{
		{name: "nothing known", want: SessionTexts{}},
		{
			name:   "fresh session",
			s:      api.Session{UploadExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(7 * 24 * time.Hour)},
			photos: 3, now: now,
			want: SessionTexts{CodeUntil: "Code works until 20:04", KeptUntil: "Photos kept until Tue 8 Dec"},
		},
		{
			name: "code valid until tomorrow says the day",
			s:    api.Session{UploadExpiresAt: now.Add(6 * time.Hour)},
			now:  now,
			want: SessionTexts{CodeUntil: "Code works until Wed 2 Dec, 01:04"},
		},
		{
			name: "code expired, to the second",
			s:    api.Session{UploadExpiresAt: now},
			now:  now,
			want: SessionTexts{CodeUntil: "Code expired at 19:04", CodeExpired: true},
		},
		{
			name: "a second before, still valid",
			s:    api.Session{UploadExpiresAt: now.Add(time.Second)},
			now:  now,
			want: SessionTexts{CodeUntil: "Code works until 19:04"},
		},
		{
			name:   "removed tomorrow",
			s:      api.Session{ExpiresAt: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)},
			photos: 1, now: now,
			want: SessionTexts{KeptUntil: "Photos kept until Wed 2 Dec",
				Warning: "Photos will be removed tomorrow at 10:00 — download them to keep them"},
		},
		{
			name:   "removed later today",
			s:      api.Session{ExpiresAt: time.Date(2026, 12, 1, 22, 30, 0, 0, time.UTC)},
			photos: 1, now: now,
			want: SessionTexts{KeptUntil: "Photos kept until Tue 1 Dec",
				Warning: "Photos will be removed today at 23:30 — download them to keep them"},
		},
		{
			name:   "more than a day left: no warning",
			s:      api.Session{ExpiresAt: now.Add(24*time.Hour + time.Minute)},
			photos: 1, now: now,
			want: SessionTexts{KeptUntil: "Photos kept until Wed 2 Dec"},
		},
		{
			name: "no photos, nothing to warn about",
			s:    api.Session{ExpiresAt: now.Add(time.Hour)},
			now:  now,
			want: SessionTexts{KeptUntil: "Photos kept until Tue 1 Dec"},
		},
		{
			name:   "past due, the server has not said so yet",
			s:      api.Session{ExpiresAt: now.Add(-time.Minute)},
			photos: 2, now: now,
			want: SessionTexts{KeptUntil: "Photos kept until Tue 1 Dec", Warning: T.WarnNow},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Describe(fromSession(tt.s), tt.photos, at(tt.now), local); got != tt.want {
				t.Errorf("Describe =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}

	// Paris leaves summer time on Sun 25 Oct 2026 at 03:00: a removal a
	// week after a Saturday evening is shown in winter time, as the
	// browser's own clock (browserLocal) does for each instant.
	if paris.String() == "Europe/Paris" {
		sat := time.Date(2026, 10, 24, 18, 0, 0, 0, time.UTC) // 20:00 CEST
		got := Describe(Session{ExpiresAt: at(sat.Add(7 * 24 * time.Hour))}, 1, at(sat.Add(6*24*time.Hour+time.Hour)), local)
		if want := "Photos will be removed tomorrow at 19:00 — download them to keep them"; got.Warning != want {
			t.Errorf("across the change of time: %q, want %q", got.Warning, want)
		}
	}
}

func TestDateAndClockLabels(t *testing.T) {
	d := time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC)
	if got := DateLabel(wallUTC(d)); got != "Sun 1 Mar" {
		t.Errorf("DateLabel = %q", got)
	}
	if got := ClockLabel(wallUTC(d)); got != "09:05" {
		t.Errorf("ClockLabel = %q", got)
	}
	for i, want := range map[int][2]time.Time{
		0:  {d, d.Add(14 * time.Hour)},
		1:  {d, d.Add(15 * time.Hour)},
		-1: {d, d.Add(-10 * time.Hour)},
		31: {time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 1, 0, 0, 0, time.UTC)},
	} {
		if got := dayDiff(wallUTC(want[0]), wallUTC(want[1])); got != i {
			t.Errorf("dayDiff(%v, %v) = %d, want %d", want[0], want[1], got, i)
		}
	}
}
