//! Quantities, serial ranges, vintages, dates and times: the numbers of the registry.
//!
//! Units are whole tonnes (`u64`, checked arithmetic, never floats, never `as`). Dates are civil
//! days (proleptic Gregorian) and times are UTC microseconds; both are plain integers so the core
//! stays deterministic. This module does no rounding of rates: that belongs to the domain
//! modules that name their policy.

use crate::checks::Code;
use std::fmt;

/// A positive whole number of units (tonnes CO2e).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(u64);

impl Quantity {
    /// Refuses zero (3007). Overflow and negatives are refused at the edge (3008).
    pub fn new(n: u64) -> Result<Self, Code> {
        if n == 0 {
            Err(Code::QUANTITY_ZERO)
        } else {
            Ok(Quantity(n))
        }
    }
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An inclusive range of serial numbers within one issuing registry. `start <= end`, both ≥ 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SerialRange {
    start: u64,
    end: u64,
}

impl SerialRange {
    pub fn new(start: u64, end: u64) -> Result<Self, Code> {
        if start == 0 || end == 0 {
            Err(Code::RANGE_INVALID)
        } else if start > end {
            Err(Code::RANGE_START_AFTER_END)
        } else {
            Ok(SerialRange { start, end })
        }
    }
    pub fn start(&self) -> u64 {
        self.start
    }
    pub fn end(&self) -> u64 {
        self.end
    }
    /// Number of serials; never zero. Saturates only for the full u64 range, which
    /// `new` cannot build because serial 0 is excluded.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn contains(&self, serial: u64) -> bool {
        self.start <= serial && serial <= self.end
    }
    pub fn overlaps(&self, other: &SerialRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }
    pub fn covers(&self, other: &SerialRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }
    pub fn intersect(&self, other: &SerialRange) -> Option<SerialRange> {
        let s = self.start.max(other.start);
        let e = self.end.min(other.end);
        (s <= e).then_some(SerialRange { start: s, end: e })
    }
}

impl fmt::Display for SerialRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// A vintage: a four-digit year (F14), the calendar year of the mitigation for ITMOs and JCM
/// credits, or the compliance year for CCCs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vintage(u16);

impl Vintage {
    pub fn new(year: i64) -> Result<Self, Code> {
        if (1000..=9999).contains(&year) {
            Ok(Vintage(year as u16))
        } else {
            Err(Code::VINTAGE_INVALID)
        }
    }
    pub fn year(self) -> u16 {
        self.0
    }
}

/// A civil date, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    pub fn from_days(days: i32) -> Self {
        Date(days)
    }
    pub fn days(self) -> i32 {
        self.0
    }
    /// From year, month, day; refuses impossible dates.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Result<Self, Code> {
        if !(1000..=9999).contains(&y)
            || !(1..=12).contains(&m)
            || d == 0
            || d > days_in_month(y, m)
        {
            return Err(Code::PERIOD_INVALID);
        }
        Ok(Date(days_from_civil(y, m, d)))
    }
    /// `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Self, Code> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(Code::PERIOD_INVALID);
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, Code> {
            s.get(r)
                .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|t| t.parse().ok())
                .ok_or(Code::PERIOD_INVALID)
        };
        let y = num(0..4)?;
        Date::from_ymd(y as i32, num(5..7)?, num(8..10)?)
    }
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }
    pub fn year(self) -> i32 {
        self.ymd().0
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy as i32;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The period in which the mitigation happened, inclusive of both days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MitigationPeriod {
    start: Date,
    end: Date,
}

impl MitigationPeriod {
    pub fn new(start: Date, end: Date) -> Result<Self, Code> {
        if start > end {
            Err(Code::PERIOD_INVALID)
        } else {
            Ok(MitigationPeriod { start, end })
        }
    }
    pub fn start(&self) -> Date {
        self.start
    }
    pub fn end(&self) -> Date {
        self.end
    }
    /// Days of the period that fall in each calendar year, ascending by year.
    pub fn days_per_year(&self) -> Vec<(i32, u64)> {
        let mut out = Vec::new();
        let (y0, _, _) = self.start.ymd();
        let (y1, _, _) = self.end.ymd();
        for y in y0..=y1 {
            let first = days_from_civil(y, 1, 1).max(self.start.0);
            let last = days_from_civil(y, 12, 31).min(self.end.0);
            out.push((y, (last - first + 1) as u64));
        }
        out
    }

    /// The default straddle policy's split of `q` tonnes over the calendar years of the
    /// period: each year but the last gets floor(q × its days ÷ the period's days), the last
    /// gets the rest, so the parts always sum to `q`. Years that get nothing are left out.
    pub fn apportion(&self, q: u64) -> Vec<(i32, u64)> {
        let years = self.days_per_year();
        let total: u64 = years.iter().map(|(_, d)| d).sum();
        let mut given = 0u64;
        let mut out = Vec::with_capacity(years.len());
        for (i, (y, d)) in years.iter().enumerate() {
            let share = if i + 1 == years.len() {
                q - given
            } else {
                // floor(q × d ÷ total) in u128: no overflow, no float.
                ((q as u128 * *d as u128) / total as u128) as u64
            };
            given += share;
            if share > 0 {
                out.push((*y, share));
            }
        }
        out
    }
}

/// A UTC instant in microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn micros(self) -> i64 {
        self.0
    }
    pub fn date(self) -> Date {
        Date(self.0.div_euclid(86_400_000_000) as i32)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 UTC with microseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = self.date();
        let rem = self.0.rem_euclid(86_400_000_000);
        let (h, mi, s, us) = (
            rem / 3_600_000_000,
            rem / 60_000_000 % 60,
            rem / 1_000_000 % 60,
            rem % 1_000_000,
        );
        write!(f, "{day}T{h:02}:{mi:02}:{s:02}.{us:06}Z")
    }
}

/// An amount of money in the currency's minor units (paise, yen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub u64);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_refuse_reversed_and_zero() {
        assert_eq!(SerialRange::new(5, 4), Err(Code::RANGE_START_AFTER_END));
        assert_eq!(SerialRange::new(0, 4), Err(Code::RANGE_INVALID));
        assert_eq!(SerialRange::new(1, 3000).map(|r| r.len()), Ok(3000));
    }

    #[test]
    fn vintages_are_four_digit_years() {
        assert!(Vintage::new(2026).is_ok());
        assert_eq!(Vintage::new(26), Err(Code::VINTAGE_INVALID));
        assert_eq!(Vintage::new(10000), Err(Code::VINTAGE_INVALID));
    }

    #[test]
    fn dates_parse_and_print() {
        let d = Date::parse("2024-02-29").expect("leap day");
        assert_eq!(d.to_string(), "2024-02-29");
        assert_eq!(Date::parse("2023-02-29"), Err(Code::PERIOD_INVALID));
        assert_eq!(Date::parse("2023-2-01"), Err(Code::PERIOD_INVALID));
        assert_eq!(Date::from_ymd(1970, 1, 1).map(|d| d.days()), Ok(0));
        assert_eq!(
            Timestamp(86_400_000_000 + 1).to_string(),
            "1970-01-02T00:00:00.000001Z"
        );
    }

    #[test]
    fn a_period_straddling_new_year_splits_its_days() {
        let p = MitigationPeriod::new(
            Date::parse("2025-12-01").unwrap(),
            Date::parse("2026-01-31").unwrap(),
        )
        .unwrap();
        assert_eq!(p.days_per_year(), vec![(2025, 31), (2026, 31)]);
    }

    proptest! {
        #[test]
        fn civil_dates_round_trip(days in -300_000i32..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
