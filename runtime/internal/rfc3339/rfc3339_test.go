package rfc3339

import (
	"testing"
	"time"
)

// TestParse: what Parse reads is what package time reads, in the form of
// every date-time Parse accepts; and Parse accepts the usual forms.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2026-11-25T13:00:00Z", true},
		{"2026-11-25t13:00:00z", true},
		{"2026-11-25T13:00:00.5Z", true},
		{"2026-11-25T13:00:00.123456789Z", true},
		{"2026-11-25T13:00:00.1234567891Z", true},
		{"2026-11-25T13:00:00+01:00", true},
		{"2026-11-25T13:00:00-23:59", true},
		{"2024-02-29T00:00:00Z", true},
		{"2000-02-29T00:00:00Z", true},
		{"0000-01-01T00:00:00Z", true},
		{"1900-02-29T00:00:00Z", false},
		{"2026-02-29T00:00:00Z", false},
		{"2026-04-31T00:00:00Z", false},
		{"2026-13-01T00:00:00Z", false},
		{"2026-11-25T24:00:00Z", false},
		{"2026-11-25T13:60:00Z", false},
		{"2026-11-25T23:59:60Z", false},
		{"2026-11-25T13:00:00.Z", false},
		{"2026-11-25T13:00:00.5", false},
		{"2026-11-25T13:00:00+24:00", false},
		{"2026-11-25T13:00:00+0100", false},
		{"2026-11-25 13:00:00Z", false},
		{"+026-11-25T13:00:00Z", false},
		{"2026-11-25T13:00:00ZZ", false},
	} {
		dt, ok := Parse([]byte(tc.in))
		if ok != tc.ok {
			t.Errorf("%s: ok %v, want %v", tc.in, ok, tc.ok)
			continue
		}
		if !ok || !dt.Upper {
			continue
		}
		want, err := time.Parse(time.RFC3339Nano, tc.in)
		if err != nil {
			t.Errorf("%s: package time: %v", tc.in, err)
			continue
		}
		zone := time.UTC
		if !dt.Z {
			zone = time.FixedZone("", dt.Offset*60)
		}
		got := time.Date(dt.Year, time.Month(dt.Month), dt.Day, dt.Hour, dt.Minute, dt.Second, dt.Nanosecond, zone)
		if !got.Equal(want) {
			t.Errorf("%s: %v, package time reads %v", tc.in, got, want)
		}
	}
}

// TestDaysSinceEpoch: the days of time.Date, for the first, the 28th, the
// 29th and the last of every month of every year from 0 to 9999, and for
// every day from 1960 to 2110.
func TestDaysSinceEpoch(t *testing.T) {
	check := func(year, month, day int) {
		t.Helper()
		want := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).Unix() / 86400 // a midnight: exact
		if got := DaysSinceEpoch(year, month, day); got != want {
			t.Fatalf("%04d-%02d-%02d: %d, want %d", year, month, day, got, want)
		}
	}
	for year := 0; year <= 9999; year++ {
		for month := 1; month <= 12; month++ {
			for _, day := range []int{1, 28, 29, DaysIn(month, year)} {
				if day <= DaysIn(month, year) {
					check(year, month, day)
				}
			}
		}
	}
	for year := 1960; year <= 2110; year++ {
		for month := 1; month <= 12; month++ {
			for day := 1; day <= DaysIn(month, year); day++ {
				check(year, month, day)
			}
		}
	}
}
