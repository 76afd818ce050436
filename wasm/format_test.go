package main

import (
	"math"
	"testing"
)

func TestHumanSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{-1, "0 B"},
		{0, "0 B"},
		{1, "1 B"},
		{999, "999 B"},
		{1000, "1.0 kB"},
		{1500, "1.5 kB"},
		{99_949, "99.9 kB"},
		{99_950, "100 kB"},
		{312_400, "312 kB"},
		{999_499, "999 kB"},
		{999_500, "1.0 MB"},
		{999_999, "1.0 MB"},
		{2_400_000, "2.4 MB"},
		{2_449_999, "2.4 MB"},
		{24_300_000, "24.3 MB"},
		{52_428_800, "52.4 MB"}, // the 50 MiB upload limit
		{312_000_000, "312 MB"},
		{2_147_483_648, "2.1 GB"}, // the 2 GiB session quota
		{999_600_000_000, "1.0 TB"},
		{math.MaxInt64, "9.2 EB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := HumanSize(tt.n); got != tt.want {
				t.Errorf("HumanSize(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestStatusLabel(t *testing.T) {
	tests := []struct{ state, want string }{
		{StateConnecting, "connecting…"},
		{StateLive, "live"},
		{StateReconnecting, "reconnecting…"},
		{StateEnded, "ended"},
		{"weird", "weird"},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			if got := StatusLabel(tt.state); got != tt.want {
				t.Errorf("StatusLabel(%q) = %q, want %q", tt.state, got, tt.want)
			}
		})
	}
}

func TestCountLabel(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{{0, "No photos yet"}, {1, "1 photo"}, {2, "2 photos"}, {500, "500 photos"}}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := CountLabel(tt.n); got != tt.want {
				t.Errorf("CountLabel(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestSmallLabels(t *testing.T) {
	tests := []struct{ got, want string }{
		{DownloadAllLabel(0), "Download all (0)"},
		{DownloadAllLabel(12), "Download all (12)"},
		{PositionLabel(2, 12), "3 of 12"},
		{PositionLabel(0, 1), "1 of 1"},
		{ProgressLabel(1_200_000, 3_400_000), "1.2 MB of 3.4 MB"},
		{ProgressLabel(5_000_000, 3_400_000), "3.4 MB of 3.4 MB"}, // never past the total
		{ProgressLabel(1_200_000, 0), "1.2 MB"},                   // total unknown
		{ProgressLabel(0, 0), "Starting…"},
		{ProgressLabel(0, 2_000), "0 B of 2.0 kB"},
		{UploadErrorText("too_large", "The file is larger than 50 MB."), "The file is larger than 50 MB."},
		{UploadErrorText("too_large", ""), "The file is too large."},
		{UploadErrorText("something_new", ""), "The photo didn't arrive. Try sending it again."},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
