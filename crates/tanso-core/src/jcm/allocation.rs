//! Credit allocation (REFERENCE §3.4): splitting the whole tonnes the Joint Committee decides to
//! issue among project participants and governments by the percentages of the Credit
//! Allocation Form, without creating or losing a tonne.
//!
//! Rule (the official one is [U]): each share gets `floor(total × percent / 100)`, computed
//! exactly; the remainder — always fewer tonnes than there are shares — goes to one designated
//! share. This module is pure arithmetic: no I/O, no floats, and it never panics on input.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use crate::checks::{Code, Rejection};
use crate::ids::{AccountId, RegistryId};

/// One line of the Credit Allocation Form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Share {
    pub registry: RegistryId,
    pub account: AccountId,
    /// Percent of the total, `0 < percent ≤ 100`; the percents of a form sum to exactly 100.
    pub percent: Decimal,
}

/// Splits `total` tonnes by `shares`: each share gets `floor(total × percent / 100)`, and the
/// remainder goes to `shares[remainder_to]`. Checks (all collected into one 8024 failure): at
/// least one share; every percent > 0 and ≤ 100; no duplicate (registry, account); the
/// percents sum to exactly 100; `remainder_to < shares.len()`. Returns the quantities in share
/// order; they sum to `total` exactly.
pub fn allocate(total: u64, shares: &[Share], remainder_to: usize) -> Result<Vec<u64>, Rejection> {
    let mut problems = Vec::new();
    if shares.is_empty() {
        problems.push("at least one share is required".to_owned());
    }
    let mut seen = BTreeSet::new();
    for (i, s) in shares.iter().enumerate() {
        if s.percent <= Decimal::ZERO || s.percent > Decimal::ONE_HUNDRED {
            problems.push(format!(
                "share {i} ({} account {}): percent {} must be greater than 0 and at most 100",
                s.registry, s.account.0, s.percent
            ));
        }
        if !seen.insert((s.registry, s.account)) {
            problems.push(format!(
                "share {i} ({} account {}) appears more than once",
                s.registry, s.account.0
            ));
        }
    }
    if !shares.is_empty() && !sums_to_100(shares) {
        let shown = shares
            .iter()
            .map(|s| s.percent.to_string())
            .collect::<Vec<_>>()
            .join(" + ");
        problems.push(format!("percents {shown} do not sum to exactly 100"));
    }
    if remainder_to >= shares.len() {
        problems.push(format!(
            "remainder share {remainder_to} does not exist ({} shares)",
            shares.len()
        ));
    }
    if !problems.is_empty() {
        return Err(Rejection::one(
            Code::ALLOCATION_INVALID,
            format!("credit allocation: {}", problems.join("; ")),
        ));
    }

    let mut quantities = floors(total, shares);
    let floored = quantities
        .iter()
        .try_fold(0u64, |acc, q| acc.checked_add(*q))
        .expect("floors of percents summing to 100 sum to at most the total");
    let remainder = total
        .checked_sub(floored)
        .expect("floors of percents summing to 100 sum to at most the total");
    // Each floor loses less than one tonne.
    assert!(
        remainder < u64::try_from(shares.len()).unwrap_or(u64::MAX),
        "allocation remainder {remainder} not below share count {}",
        shares.len()
    );
    quantities[remainder_to] += remainder;
    assert_eq!(
        quantities.iter().map(|q| u128::from(*q)).sum::<u128>(),
        u128::from(total),
        "allocation conserves the total"
    );
    Ok(quantities)
}

/// The floor part alone, `floor(total × percent / 100)` per share in order, without the
/// remainder (for tests and reports). Exact for every `u64` total and every percent; a percent
/// outside `0..=100` (which `allocate` rejects) gives 0 when negative and saturates at
/// `u64::MAX`.
pub fn floors(total: u64, shares: &[Share]) -> Vec<u64> {
    shares
        .iter()
        .map(|s| floor_share(total, s.percent))
        .collect()
}

/// `floor(total × percent / 100)`, exactly. With `percent = m / 10^s`, that is
/// `floor(total × m / (100 × 10^s))`: a product of up to 160 bits divided by at most
/// `10^30 < 2^100`, done by schoolbook binary long division.
fn floor_share(total: u64, percent: Decimal) -> u64 {
    let m = percent.mantissa();
    if m <= 0 {
        return 0;
    }
    let m = m.unsigned_abs(); // < 2^96
    let d = 100u128 * 10u128.pow(percent.scale()); // scale ≤ 28, so < 2^100
                                                   // total × m as three 64-bit words, most significant first.
    let (m_hi, m_lo) = (m >> 64, m & u128::from(u64::MAX));
    let t = u128::from(total);
    let low = t * m_lo; // < 2^128
    let high = t * m_hi; // < 2^96
    let w0 = low & u128::from(u64::MAX);
    let mid = (low >> 64) + (high & u128::from(u64::MAX)); // < 2^65
    let w1 = mid & u128::from(u64::MAX);
    let w2 = (mid >> 64) + (high >> 64); // < 2^33
    let mut rem: u128 = 0; // < d < 2^100, so shifting left stays in range
    let mut quotient: u64 = 0;
    for word in [w2, w1, w0] {
        for bit in (0..64).rev() {
            rem = (rem << 1) | ((word >> bit) & 1);
            let q_bit = rem >= d;
            if q_bit {
                rem -= d;
            }
            quotient = match quotient.checked_mul(2) {
                Some(q) => q | u64::from(q_bit),
                None => return u64::MAX,
            };
        }
    }
    quotient
}

/// Whether the percents sum to exactly 100, in exact integer arithmetic at the largest scale
/// (decimal addition could round at 28 digits).
fn sums_to_100(shares: &[Share]) -> bool {
    let scale = shares.iter().map(|s| s.percent.scale()).max().unwrap_or(0);
    let mut sum: i128 = 0;
    for s in shares {
        let up = 10i128.pow(scale - s.percent.scale());
        let Some(next) = s
            .percent
            .mantissa()
            .checked_mul(up)
            .and_then(|v| sum.checked_add(v))
        else {
            return false;
        };
        sum = next;
    }
    Some(sum) == 100i128.checked_mul(10i128.pow(scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn share(reg: &str, account: u64, percent: &str) -> Share {
        Share {
            registry: RegistryId::parse(reg).unwrap(),
            account: AccountId(account),
            percent: d(percent),
        }
    }

    #[test]
    fn floor_share_is_exact_at_the_extremes() {
        assert_eq!(floor_share(u64::MAX, d("100")), u64::MAX);
        assert_eq!(
            floor_share(u64::MAX, d("100.0000000000000000000000000")),
            u64::MAX
        );
        assert_eq!(floor_share(u64::MAX, d("50")), u64::MAX / 2);
        assert_eq!(floor_share(0, d("100")), 0);
        assert_eq!(floor_share(7, d("0")), 0);
        assert_eq!(floor_share(7, d("-5")), 0);
        assert_eq!(floor_share(u64::MAX, d("200")), u64::MAX);
        // 27 decimal places (29 digits, the most a decimal holds): 33.33…33 % of 3 × 10^18 is
        // just under 10^18.
        let third = d("33.333333333333333333333333333");
        assert_eq!(third.scale(), 27);
        assert_eq!(
            floor_share(3_000_000_000_000_000_000, third),
            999_999_999_999_999_999
        );
        // Scale 28, 29 digits; expected values from exact rational arithmetic (Python
        // fractions).
        assert_eq!(
            floor_share(u64::MAX, d("1.2345678901234567890123456789")),
            227_737_579_107_269_814
        );
        // The largest mantissa, 2^96 − 1, at scale 27 and 28.
        assert_eq!(
            floor_share(u64::MAX, d("79.228162514264337593543950335")),
            14_615_016_373_309_029_181
        );
        assert_eq!(
            floor_share(u64::MAX, d("7.9228162514264337593543950335")),
            1_461_501_637_330_902_918
        );
        // 1e-28 % of u64::MAX is far below one tonne.
        assert_eq!(
            floor_share(u64::MAX, d("0.0000000000000000000000000001")),
            0
        );
    }

    #[test]
    fn sum_is_checked_exactly_beyond_decimal_precision() {
        // Three 27-place thirds sum to 99.99…99 (29 nines, beyond a decimal's 96-bit
        // mantissa): decimal addition would round it to 100.
        let third = "33.333333333333333333333333333";
        assert_eq!(d(third) + d(third) + d(third), Decimal::ONE_HUNDRED);
        let shares = [
            share("JPN01", 1, third),
            share("JPN01", 2, third),
            share("IND01", 3, third),
        ];
        assert!(!sums_to_100(&shares));
        let last = "33.333333333333333333333333334";
        let shares = [
            share("JPN01", 1, third),
            share("JPN01", 2, third),
            share("IND01", 3, last),
        ];
        assert!(sums_to_100(&shares));
        let q = allocate(u64::MAX, &shares, 2).unwrap();
        assert_eq!(
            q.iter().map(|x| u128::from(*x)).sum::<u128>(),
            u128::from(u64::MAX)
        );
    }

    #[test]
    fn trailing_zeros_do_not_matter() {
        let shares = [share("JPN01", 1, "50.00"), share("IND01", 2, "50")];
        assert_eq!(allocate(3, &shares, 1).unwrap(), [1, 2]);
    }
}
