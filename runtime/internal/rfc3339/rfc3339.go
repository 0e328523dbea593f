// Package rfc3339 reads date-times written the usual way, digits where
// RFC 3339 has them: yyyy-mm-ddThh:mm:ss[.fraction](Z|±hh:mm). The fast
// paths of package validate and of the runtime's typed dispatch use it in
// place of package time and of the JSON Schema library's format check,
// and leave every other form to them.
package rfc3339

// DateTime is a date-time read by Parse.
type DateTime struct {
	Year, Month, Day, Hour, Minute, Second int
	Nanosecond                             int  // the fraction, when it has at most 9 digits
	FracDigits                             int  // the digits of the fraction (0: none)
	Z                                      bool // the zone is Z (or z); otherwise Offset
	Offset                                 int  // the zone offset in minutes east of UTC, for ±hh:mm
	Upper                                  bool // T and Z are upper case
}

// Parse reads b. ok is false for anything that is not in the usual form or
// not a real date-time: a month, day, hour, minute, second or offset out of
// range (a leap second too), or the 29th of February of a common year.
func Parse(b []byte) (dt DateTime, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' && b[10] != 't' || b[13] != ':' || b[16] != ':' {
		return dt, false
	}
	dt.Year, dt.Month, dt.Day = digits(b[0:4]), digits(b[5:7]), digits(b[8:10])
	dt.Hour, dt.Minute, dt.Second = digits(b[11:13]), digits(b[14:16]), digits(b[17:19])
	if dt.Year < 0 || dt.Month < 1 || dt.Month > 12 || dt.Day < 1 || dt.Day > DaysIn(dt.Month, dt.Year) ||
		dt.Hour < 0 || dt.Hour > 23 || dt.Minute < 0 || dt.Minute > 59 || dt.Second < 0 || dt.Second > 59 {
		return dt, false
	}
	rest := b[19:]
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
			if i <= 9 {
				dt.Nanosecond = dt.Nanosecond*10 + int(rest[i]-'0')
			}
			i++
		}
		if i == 1 || i == len(rest) {
			return dt, false
		}
		dt.FracDigits = i - 1
		for n := dt.FracDigits; n < 9; n++ {
			dt.Nanosecond *= 10
		}
		rest = rest[i:]
	}
	dt.Upper = b[10] == 'T'
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		dt.Z, dt.Upper = true, dt.Upper && rest[0] == 'Z'
		return dt, true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		zh, zm := digits(rest[1:3]), digits(rest[4:6])
		if zh < 0 || zh > 23 || zm < 0 || zm > 59 {
			return dt, false
		}
		dt.Offset = zh*60 + zm
		if rest[0] == '-' {
			dt.Offset = -dt.Offset
		}
		return dt, true
	}
	return dt, false
}

// digits returns the number b writes in decimal digits, or -1.
func digits(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// DaysIn returns the number of days of the month of the year (proleptic
// Gregorian, as package time counts them).
func DaysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// DaysSinceEpoch returns the days from January 1, 1970 to a date of the
// proleptic Gregorian calendar (year 0 to 9999, a real date), as time.Date
// counts them, without its normalization: Howard Hinnant's
// days_from_civil.
func DaysSinceEpoch(year, month, day int) int64 {
	y := year
	if month <= 2 {
		y-- // the year starts in March, so that a leap day is its last
	}
	era := (y + 400) / 400 // y >= -1: a floor division, offset by one era
	yoe := y - (era-1)*400 // [0, 399]
	mp := (month + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era-1)*146097 + int64(doe) - 719468
}
