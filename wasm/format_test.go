package main

import (
	"math"
	"testing"
	"time"
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

func TestExpiryLabel(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"zero", time.Time{}, ""},
		{"local time", time.Date(2025, 1, 1, 13, 5, 0, 0, time.UTC), "Code valid until 14:05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExpiryLabel(tt.t, paris); got != tt.want {
				t.Errorf("ExpiryLabel = %q, want %q", got, tt.want)
			}
		})
	}
}
