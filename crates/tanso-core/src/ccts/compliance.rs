//! CCTS compliance arithmetic for one obligated entity and one compliance year (REFERENCE
//! §4.3, §4.7): the achieved GEI, the outcome (surplus, balanced, shortfall), the certificates
//! to issue or the obligation to surrender, what stays outstanding, and the environmental
//! compensation (EC).
//!
//! Everything is exact decimal arithmetic followed by one named rounding step: every policy
//! the rules leave open ([U] in REFERENCE §4.3: rounding of issuance and of obligations, the
//! base of the EC, the surrender deadline, banking validity) is a field of [`CctsPolicy`].
//! A sum or product that cannot be held exactly in a `Decimal` is rejected, never rounded
//! silently. This module owns no state and writes no event; it must not read a clock.

use crate::checks::{Code, Rejection};
use crate::units::Date;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;

/// A compliance year is India's financial year, April–March, named by its first year:
/// `ComplianceYear(2025)` is FY 2025-26, 1 April 2025 to 31 March 2026.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComplianceYear(pub u16);

impl ComplianceYear {
    /// The first years a compliance year may have: its last year must also have four digits.
    pub const FIRST_YEAR_MIN: u16 = 1000;
    pub const FIRST_YEAR_MAX: u16 = 9998;

    /// A compliance year by its first year; 3040 outside 1000..=9998.
    pub fn new(first_year: u16) -> Result<Self, Code> {
        if (Self::FIRST_YEAR_MIN..=Self::FIRST_YEAR_MAX).contains(&first_year) {
            Ok(ComplianceYear(first_year))
        } else {
            Err(Code::VINTAGE_INVALID)
        }
    }

    /// The first (April) year.
    pub fn first_year(self) -> u16 {
        self.0
    }

    /// `"2025-26"`.
    pub fn label(self) -> String {
        format!("{}-{:02}", self.0, (u32::from(self.0) + 1) % 100)
    }

    /// Its first and last day, both included: 1 April of the first year to 31 March of the
    /// next. 3040 if the year is outside 1000..=9998 (the field is public, so it is checked).
    pub fn period(self) -> Result<(Date, Date), Code> {
        let y = Self::new(self.0)?.0;
        let start = Date::from_ymd(i32::from(y), 4, 1)?;
        let end = Date::from_ymd(i32::from(y) + 1, 3, 31)?;
        Ok((start, end))
    }

    /// Whether `date` falls within the compliance year.
    pub fn contains(self, date: Date) -> bool {
        self.period()
            .is_ok_and(|(start, end)| start <= date && date <= end)
    }

    /// The compliance year that contains `date` (April starts a new one).
    pub fn containing(date: Date) -> Result<Self, Code> {
        let (y, m, _) = date.ymd();
        let first = if m >= 4 { y } else { y - 1 };
        u16::try_from(first)
            .map_err(|_| Code::VINTAGE_INVALID)
            .and_then(Self::new)
    }

    /// Parses `"2025-26"` (the second part must be the next year, two digits) or `"2025"`;
    /// 3040 on anything else.
    pub fn parse(s: &str) -> Result<Self, Code> {
        let (first, second) = match s.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        if first.len() != 4 || !first.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Code::VINTAGE_INVALID);
        }
        let year: u16 = first.parse().map_err(|_| Code::VINTAGE_INVALID)?;
        let cy = Self::new(year)?;
        if let Some(second) = second {
            if second.len() != 2 || !second.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Code::VINTAGE_INVALID);
            }
            let next: u32 = second.parse().map_err(|_| Code::VINTAGE_INVALID)?;
            if next != (u32::from(year) + 1) % 100 {
                return Err(Code::VINTAGE_INVALID);
            }
        }
        Ok(cy)
    }
}

impl fmt::Display for ComplianceYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// How an exact surplus becomes whole certificates (REFERENCE §4.3 [U]): floor by default, so
/// no certificate is issued for a part of a tonne not achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum IssuanceRounding {
    #[default]
    Floor,
    /// Half a certificate or more rounds up.
    HalfUp,
}

/// How an exact shortfall becomes a whole number of certificates to surrender (REFERENCE §4.3
/// [U]): ceil by default, so the obligation always covers the whole shortfall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ObligationRounding {
    #[default]
    Ceil,
    /// Half a certificate or more rounds up.
    HalfUp,
}

/// What the environmental compensation is a multiple of (REFERENCE §4.3 and TV-7: "rounding of
/// the EC base [U]").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CompensationBase {
    /// TV-7: the exact decimal shortfall less the certificates surrendered, never below zero.
    #[default]
    ExactShortfallLessSurrendered,
    /// The rounded obligation less the certificates surrendered, never below zero.
    RoundedObligationLessSurrendered,
}

/// Every choice the CCTS rules leave open, named. `Default` gives the choices REFERENCE §4.3
/// and §6 TV-6/TV-7 use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CctsPolicy {
    pub issuance: IssuanceRounding,
    pub obligation: ObligationRounding,
    pub compensation_base: CompensationBase,
    /// EC = this multiple × average price × base; 2 under the GEI rules [C].
    pub compensation_multiple: u32,
    /// Days after the evaluation by which a shortfall must be surrendered; 120 [U].
    pub surrender_deadline_days: u32,
    /// Days after its imposition by which EC must be paid; 90 [C].
    pub compensation_due_days: u32,
    /// Compliance years a CCC stays valid after the one it was issued for; 3 [U].
    pub validity_years: u16,
}

impl Default for CctsPolicy {
    fn default() -> Self {
        CctsPolicy {
            issuance: IssuanceRounding::default(),
            obligation: ObligationRounding::default(),
            compensation_base: CompensationBase::default(),
            compensation_multiple: 2,
            surrender_deadline_days: 120,
            compensation_due_days: 90,
            validity_years: 3,
        }
    }
}

impl CctsPolicy {
    /// The last day to surrender a shortfall evaluated on `evaluated_on`; 3043 on overflow.
    pub fn surrender_deadline(&self, evaluated_on: Date) -> Result<Date, Rejection> {
        add_days(
            evaluated_on,
            self.surrender_deadline_days,
            "surrender deadline",
        )
    }

    /// The last day to pay EC imposed on `imposed_on`; 3043 on overflow.
    pub fn compensation_due(&self, imposed_on: Date) -> Result<Date, Rejection> {
        add_days(
            imposed_on,
            self.compensation_due_days,
            "compensation due date",
        )
    }

    /// The last compliance year towards which a CCC issued for `issued_for` can be surrendered
    /// (banking); 3040 if it would pass 9998.
    pub fn last_valid_year(&self, issued_for: ComplianceYear) -> Result<ComplianceYear, Rejection> {
        issued_for
            .0
            .checked_add(self.validity_years)
            .ok_or(Code::VINTAGE_INVALID)
            .and_then(ComplianceYear::new)
            .map_err(|code| {
                Rejection::one(
                    code,
                    format!(
                        "validity of certificates of {} runs past year 9998",
                        issued_for.0
                    ),
                )
            })
    }
}

fn add_days(from: Date, days: u32, what: &str) -> Result<Date, Rejection> {
    i32::try_from(days)
        .ok()
        .and_then(|d| from.days().checked_add(d))
        .map(Date::from_days)
        .ok_or_else(|| Rejection::one(Code::PERIOD_INVALID, format!("{what} overflows")))
}

/// The result of evaluating one entity-year. `exact` is always positive: the surplus or the
/// shortfall in tCO2e before rounding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Achieved GEI below target: `certificates` CCCs to issue.
    Surplus { exact: Decimal, certificates: u64 },
    /// Achieved GEI exactly on target.
    Balanced,
    /// Achieved GEI above target: `obligation` CCCs to surrender.
    Shortfall { exact: Decimal, obligation: u64 },
}

impl Outcome {
    /// CCCs to issue (0 unless a surplus).
    pub fn certificates(&self) -> u64 {
        match self {
            Outcome::Surplus { certificates, .. } => *certificates,
            _ => 0,
        }
    }

    /// CCCs to surrender (0 unless a shortfall).
    pub fn obligation(&self) -> u64 {
        match self {
            Outcome::Shortfall { obligation, .. } => *obligation,
            _ => 0,
        }
    }

    /// The exact shortfall (0 unless a shortfall): the base of EC under the default policy.
    pub fn exact_shortfall(&self) -> Decimal {
        match self {
            Outcome::Shortfall { exact, .. } => *exact,
            _ => Decimal::ZERO,
        }
    }
}

/// One entity-year evaluated from its verified output and emissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// emissions ÷ output, as exact as a `Decimal` holds it (28 significant digits).
    pub achieved_gei: Decimal,
    pub target_gei: Decimal,
    pub output: Decimal,
    pub emissions: Decimal,
    pub outcome: Outcome,
}

/// The outcome for a target and an achieved GEI (tCO2e per unit of equivalent product) and the
/// compliance year's output: surplus certificates = (target − achieved) × output rounded by
/// `policy.issuance`; shortfall obligation = (achieved − target) × output rounded by
/// `policy.obligation` (REFERENCE §4.3). 3008 if target ≤ 0, achieved < 0, output ≤ 0, or a
/// result cannot be held exactly or does not fit in 64 bits.
pub fn evaluate_gei(
    target: Decimal,
    achieved: Decimal,
    output: Decimal,
    policy: &CctsPolicy,
) -> Result<Outcome, Rejection> {
    require_positive(target, "target GEI")?;
    require_not_negative(achieved, "achieved GEI")?;
    require_positive(output, "output")?;
    let gap = exact_sub(target, achieved, "target GEI − achieved GEI")?;
    let surplus = exact_mul(gap, output, "(target GEI − achieved GEI) × output")?;
    outcome_of(surplus, policy)
}

/// Evaluates an entity-year from its output and emissions: achieved GEI = emissions ÷ output.
///
/// The outcome uses the same formula as [`evaluate_gei`] but computes the surplus as
/// `target × output − emissions`, which equals `(target − emissions ÷ output) × output` and is
/// exact even when the division is not (e.g. emissions 1, output 3). 3008 if target ≤ 0,
/// output ≤ 0 or emissions < 0, naming the field, or on overflow.
pub fn evaluate(
    target: Decimal,
    output: Decimal,
    emissions: Decimal,
    policy: &CctsPolicy,
) -> Result<Evaluation, Rejection> {
    require_positive(target, "target GEI")?;
    require_positive(output, "output")?;
    require_not_negative(emissions, "emissions")?;
    let achieved_gei = emissions.checked_div(output).ok_or_else(|| {
        Rejection::one(
            Code::QUANTITY_INVALID,
            format!("achieved GEI: emissions {emissions} ÷ output {output} overflows"),
        )
    })?;
    let allowed = exact_mul(target, output, "target GEI × output")?;
    let surplus = exact_sub(allowed, emissions, "target GEI × output − emissions")?;
    let outcome = outcome_of(surplus, policy)?;
    Ok(Evaluation {
        achieved_gei,
        target_gei: target,
        output,
        emissions,
        outcome,
    })
}

/// A signed exact surplus (negative = shortfall) rounded by the policy.
fn outcome_of(surplus: Decimal, policy: &CctsPolicy) -> Result<Outcome, Rejection> {
    if surplus.is_zero() {
        return Ok(Outcome::Balanced);
    }
    if surplus.is_sign_positive() {
        let rounded = match policy.issuance {
            IssuanceRounding::Floor => surplus.floor(),
            IssuanceRounding::HalfUp => half_up(surplus),
        };
        Ok(Outcome::Surplus {
            exact: surplus,
            certificates: whole(rounded, "certificates to issue")?,
        })
    } else {
        let exact = surplus.abs();
        let rounded = match policy.obligation {
            ObligationRounding::Ceil => exact.ceil(),
            ObligationRounding::HalfUp => half_up(exact),
        };
        Ok(Outcome::Shortfall {
            exact,
            obligation: whole(rounded, "certificates to surrender")?,
        })
    }
}

/// Environmental compensation in rupees, exact: `multiple × average price × base`, the base
/// chosen by `policy.compensation_base` — the exact shortfall less the certificates
/// surrendered (default, TV-7), or the rounded obligation less them; never below zero.
/// 3008 if the exact shortfall is negative or on overflow; 3052 if the price is negative.
pub fn compensation(
    exact_shortfall: Decimal,
    obligation: u64,
    surrendered: u64,
    average_price: Decimal,
    policy: &CctsPolicy,
) -> Result<Decimal, Rejection> {
    require_not_negative(exact_shortfall, "exact shortfall")?;
    if average_price.is_sign_negative() && !average_price.is_zero() {
        return Err(Rejection::one(
            Code::AMOUNT_INVALID,
            format!("average CCC price must not be negative, got {average_price}"),
        ));
    }
    let base = match policy.compensation_base {
        CompensationBase::ExactShortfallLessSurrendered => {
            let left = exact_sub(
                exact_shortfall,
                Decimal::from(surrendered),
                "exact shortfall − surrendered",
            )?;
            left.max(Decimal::ZERO)
        }
        CompensationBase::RoundedObligationLessSurrendered => {
            Decimal::from(outstanding(obligation, surrendered))
        }
    };
    let multiple = Decimal::from(policy.compensation_multiple);
    let per_unit = exact_mul(multiple, average_price, "multiple × average price")
        .map_err(|r| amount_overflow(r, "environmental compensation"))?;
    exact_mul(per_unit, base, "multiple × average price × base")
        .map_err(|r| amount_overflow(r, "environmental compensation"))
}

/// Rupees as paise (minor units), rounded half-up; 3052 if negative or beyond 64 bits.
pub fn in_minor_units(rupees: Decimal) -> Result<u64, Rejection> {
    if rupees.is_sign_negative() && !rupees.is_zero() {
        return Err(Rejection::one(
            Code::AMOUNT_INVALID,
            format!("amount must not be negative, got ₹ {rupees}"),
        ));
    }
    let paise = rupees
        .checked_mul(Decimal::ONE_HUNDRED)
        .map(half_up)
        .and_then(|p| p.to_u64())
        .ok_or_else(|| {
            Rejection::one(
                Code::AMOUNT_INVALID,
                format!("amount ₹ {rupees} in paise does not fit in 64 bits"),
            )
        })?;
    Ok(paise)
}

/// Certificates still to surrender: obligation less surrendered, never below zero.
pub fn outstanding(obligation: u64, surrendered: u64) -> u64 {
    obligation.saturating_sub(surrendered)
}

fn half_up(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
}

fn whole(rounded: Decimal, what: &str) -> Result<u64, Rejection> {
    rounded.to_u64().ok_or_else(|| {
        Rejection::one(
            Code::QUANTITY_INVALID,
            format!("{what}: {rounded} does not fit in 64 bits"),
        )
    })
}

fn require_positive(d: Decimal, field: &str) -> Result<(), Rejection> {
    if d.is_zero() || d.is_sign_negative() {
        Err(Rejection::one(
            Code::QUANTITY_INVALID,
            format!("{field} must be positive, got {d}"),
        ))
    } else {
        Ok(())
    }
}

fn require_not_negative(d: Decimal, field: &str) -> Result<(), Rejection> {
    if d.is_sign_negative() && !d.is_zero() {
        Err(Rejection::one(
            Code::QUANTITY_INVALID,
            format!("{field} must not be negative, got {d}"),
        ))
    } else {
        Ok(())
    }
}

fn amount_overflow(r: Rejection, what: &str) -> Rejection {
    let detail = r
        .failures
        .into_iter()
        .map(|f| f.message)
        .collect::<Vec<_>>()
        .join("; ");
    Rejection::one(Code::AMOUNT_INVALID, format!("{what}: {detail}"))
}

/// The largest mantissa a `Decimal` holds, plus one: 2^96.
const MANTISSA_LIMIT: u128 = 1 << 96;
/// The largest scale a `Decimal` holds.
const SCALE_MAX: u32 = 28;

/// `mantissa × 10^-scale` as a `Decimal`, or `None` if it cannot be held exactly. Trailing
/// zeros of the fraction are dropped first, so a value only rounds away zeros.
fn exact_decimal(mut mantissa: i128, mut scale: u32) -> Option<Decimal> {
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    if scale > SCALE_MAX || mantissa.unsigned_abs() >= MANTISSA_LIMIT {
        return None;
    }
    Decimal::try_from_i128_with_scale(mantissa, scale).ok()
}

fn not_exact(what: &str) -> Rejection {
    Rejection::one(
        Code::QUANTITY_INVALID,
        format!("{what} overflows or needs more than 28 significant digits"),
    )
}

/// `a × b` exactly, or 3008.
fn exact_mul(a: Decimal, b: Decimal, what: &str) -> Result<Decimal, Rejection> {
    a.mantissa()
        .checked_mul(b.mantissa())
        .and_then(|m| exact_decimal(m, a.scale() + b.scale()))
        .ok_or_else(|| not_exact(what))
}

/// `a − b` exactly, or 3008.
fn exact_sub(a: Decimal, b: Decimal, what: &str) -> Result<Decimal, Rejection> {
    let scale = a.scale().max(b.scale());
    let widen = |d: Decimal| {
        10i128
            .checked_pow(scale - d.scale())
            .and_then(|p| d.mantissa().checked_mul(p))
    };
    widen(a)
        .zip(widen(b))
        .and_then(|(ma, mb)| ma.checked_sub(mb))
        .and_then(|m| exact_decimal(m, scale))
        .ok_or_else(|| not_exact(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn exact_mul_refuses_to_round() {
        let tiny = Decimal::new(1, 20);
        assert_eq!(
            exact_mul(tiny, tiny, "x").unwrap_err().codes(),
            vec![Code::QUANTITY_INVALID]
        );
        assert_eq!(
            exact_mul(d("0.1260"), d("1238336"), "x").unwrap(),
            d("156030.336")
        );
    }

    #[test]
    fn exact_sub_aligns_scales_and_refuses_to_round() {
        assert_eq!(
            exact_sub(d("13.2260"), d("13.3"), "x").unwrap(),
            d("-0.074")
        );
        let big = Decimal::from(10u64.pow(19));
        assert_eq!(
            exact_sub(big, Decimal::new(1, 20), "x")
                .unwrap_err()
                .codes(),
            vec![Code::QUANTITY_INVALID]
        );
    }
}
