//! ITMO unique identifiers (6/CMA.4 annex I para 5; REFERENCE §1.6): the cooperative approach,
//! the originating Party registry, the first transferring Party, the serial number and the
//! vintage, in the canonical string form the AEF validator checks:
//! `CA\d{4}-[A-Z]{3}\d{2}-[A-Z]{3}-[1-9]\d{0,2}((\d*)|(,\d{3})*)-\d{4}`.
//!
//! This module owns parsing and printing those strings, by hand (no regex engine), and nothing
//! else: it never decides whether an ITMO exists, who holds it or whether it was first
//! transferred. Parsing is the only way in from text; it returns a check code and never panics.

use crate::checks::Code;
use crate::ids::{PartyId, RegistryId};
use crate::units::Vintage;
use std::fmt;
use std::str::FromStr;

/// A cooperative approach id as the CARP assigns it: `CA` and exactly four digits (`CA0042`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaId(u16);

impl CaId {
    /// The approach numbered `n`; `n` must fit four digits (≤ 9999), else 2513.
    pub fn new(n: u16) -> Result<Self, Code> {
        if n <= 9999 {
            Ok(CaId(n))
        } else {
            Err(Code::MALFORMED_ID)
        }
    }

    /// Parses `CA` followed by exactly four ASCII digits; anything else is 2513.
    pub fn parse(s: &str) -> Result<Self, Code> {
        let digits = s.strip_prefix("CA").ok_or(Code::MALFORMED_ID)?;
        let n = parse_fixed_digits(digits, 4).ok_or(Code::MALFORMED_ID)?;
        // Four digits are at most 9999, which fits a u16.
        let n = u16::try_from(n).map_err(|_| Code::MALFORMED_ID)?;
        CaId::new(n)
    }

    pub fn number(self) -> u16 {
        self.0
    }
}

impl fmt::Display for CaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CA{:04}", self.0)
    }
}

impl FromStr for CaId {
    type Err = Code;
    fn from_str(s: &str) -> Result<Self, Code> {
        CaId::parse(s)
    }
}

/// One ITMO's unique identifier (6/CMA.4 annex I para 5).
///
/// The fields are public, so a value built by hand is not checked: a serial of 0 prints a string
/// that [`ItmoId::parse`] rejects. Values that came from text went through `parse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ItmoId {
    pub ca: CaId,
    /// The originating Party's ITMO registry, e.g. `IND01`.
    pub registry: RegistryId,
    pub first_transferring: PartyId,
    /// The serial number, 1 or more.
    pub serial: u64,
    pub vintage: Vintage,
}

impl ItmoId {
    /// Parses the canonical form, with the serial either plain (`1000000`) or grouped in
    /// thousands (`1,000,000`). The whole string must match the AEF validator's pattern: 2513
    /// otherwise, and also when the serial does not fit 64 bits. A vintage that matches `\d{4}`
    /// but is below 1000 (`0999`) is not a four-digit year: 3040 (F14).
    ///
    /// Digits are ASCII only; the validator's `\d` would also accept other Unicode digits, which
    /// no registry writes.
    pub fn parse(s: &str) -> Result<Self, Code> {
        let mut parts = s.split('-');
        let (Some(ca), Some(registry), Some(party), Some(serial), Some(vintage), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Code::MALFORMED_ID);
        };
        let ca = CaId::parse(ca)?;
        let registry = RegistryId::parse(registry)?;
        let first_transferring = PartyId::parse(party)?;
        let serial = parse_serial(serial).ok_or(Code::MALFORMED_ID)?;
        let year = parse_fixed_digits(vintage, 4).ok_or(Code::MALFORMED_ID)?;
        let vintage = Vintage::new(i64::from(year))?;
        Ok(ItmoId {
            ca,
            registry,
            first_transferring,
            serial,
            vintage,
        })
    }

    /// Whether `s` is a valid ITMO identifier (exactly when [`ItmoId::parse`] accepts it).
    pub fn is_valid(s: &str) -> bool {
        ItmoId::parse(s).is_ok()
    }

    /// The canonical form with the serial grouped in thousands:
    /// `CA0042-IND01-IND-1,000,000-2026`.
    pub fn grouped(&self) -> String {
        format!(
            "{}-{}-{}-{}-{:04}",
            self.ca,
            self.registry,
            self.first_transferring,
            group_thousands(self.serial),
            self.vintage.year()
        )
    }
}

impl fmt::Display for ItmoId {
    /// The canonical form with a plain serial: `CA0042-IND01-IND-1000000-2026`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}-{}-{:04}",
            self.ca,
            self.registry,
            self.first_transferring,
            self.serial,
            self.vintage.year()
        )
    }
}

impl FromStr for ItmoId {
    type Err = Code;
    fn from_str(s: &str) -> Result<Self, Code> {
        ItmoId::parse(s)
    }
}

/// The "First ID" and "Last ID" of a contiguous block (AEF Table 3 columns 8 and 9).
///
/// The caller passes a block's validated serial range (first ≥ 1, first ≤ last); nothing here
/// checks it again.
pub fn range_ids(
    ca: CaId,
    registry: RegistryId,
    first_transferring: PartyId,
    first_serial: u64,
    last_serial: u64,
    vintage: Vintage,
) -> (ItmoId, ItmoId) {
    let id = |serial| ItmoId {
        ca,
        registry,
        first_transferring,
        serial,
        vintage,
    };
    (id(first_serial), id(last_serial))
}

/// Exactly `len` ASCII digits, as a number.
fn parse_fixed_digits(s: &str, len: usize) -> Option<u32> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u32, |n, b| {
        n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// `[1-9]\d{0,2}((\d*)|(,\d{3})*)`, fully matched: a plain run of digits with no leading zero,
/// or one to three leading digits then groups of exactly three after commas. `None` also when
/// the value does not fit a u64.
fn parse_serial(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if !matches!(b.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut groups = s.split(',');
    let head = groups.next()?;
    let grouped = s.contains(',');
    if grouped && head.len() > 3 {
        return None;
    }
    if !head.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if !groups.all(|g| g.len() == 3 && g.bytes().all(|c| c.is_ascii_digit())) {
        return None;
    }
    s.bytes().filter(|&c| c != b',').try_fold(0u64, |n, c| {
        n.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })
}

/// `1000000` → `1,000,000`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_grammar() {
        assert_eq!(parse_serial("1"), Some(1));
        assert_eq!(parse_serial("1234567"), Some(1_234_567));
        assert_eq!(parse_serial("123,456"), Some(123_456));
        assert_eq!(parse_serial("1234,567"), None);
        assert_eq!(parse_serial("1,00"), None);
        assert_eq!(parse_serial("1,"), None);
        assert_eq!(parse_serial("1,,000"), None);
        assert_eq!(parse_serial(",100"), None);
        assert_eq!(parse_serial("01"), None);
        assert_eq!(parse_serial(""), None);
        assert_eq!(parse_serial("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_serial("18446744073709551616"), None);
    }

    #[test]
    fn grouping() {
        assert_eq!(group_thousands(1), "1");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(12_345_678), "12,345,678");
        assert_eq!(group_thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
