//! Corresponding adjustments and the emissions balance (2/CMA.3 annex chapter III; REFERENCE
//! §1.5, §1.7): the three methods of para 7, the balance of para 8, the structured summary of
//! paras 21–23, and the guarded workflow of an adjustment record up to para 12 finality.
//!
//! This module is arithmetic over a [`Ledger`] of yearly quantities, in t CO2e, kept as exact
//! decimals (never floats, rounded only by whoever reports). It must not guess: a balance whose
//! reported emissions are missing is an error (8514, F13), never a zero. It reads no journal; the
//! caller builds the ledger from the registry's records.
//!
//! Years: a first transfer counts in its block's **vintage** (para 8(a)); a use counts in the
//! year **for which** it is used (para 8(b), AEF Table 3 column 25); the action date keys
//! neither. An acquisition is recorded but is not a balance term (F1).

use crate::checks::{Checks, Code, Rejection};
use crate::units::Vintage;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Whether the NDC sets a target for one year or a budget over several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NdcKind {
    SingleYear,
    MultiYear,
}

/// The corresponding-adjustment method, chosen once for the NDC period (para 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaMethod {
    /// Single-year NDC, para 7(a)(i): indicative trajectory or budget; adjustments annually.
    Trajectory,
    /// Single-year NDC, para 7(a)(ii): the average of the cumulative net, applied in the
    /// target year only.
    Averaging,
    /// Multi-year NDC, para 7(b): trajectory or budget; adjustments annually and cumulatively.
    MultiYear,
}

/// The NDC's metric. Only GHG (t CO2e) is supported; non-GHG needs metric-specific accounts, a
/// conversion and an annual adjusted indicator (para 9, F10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    Ghg,
    NonGhg,
}

/// A party's NDC, as far as accounting needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ndc {
    pub kind: NdcKind,
    /// First and last years of the NDC implementation period, inclusive.
    pub first_year: u16,
    pub last_year: u16,
    /// The NDC (target) year; within the period.
    pub target_year: u16,
    pub method: CaMethod,
    pub metric: Metric,
}

impl Ndc {
    /// Whether `year` lies in the NDC implementation period.
    pub fn covers(&self, year: u16) -> bool {
        (self.first_year..=self.last_year).contains(&year)
    }
}

/// The quantities a party's balance is built from. First transfers are keyed by the VINTAGE of
/// the block (para 8(a)), uses by the year FOR WHICH they are used (para 8(b)), never the action
/// date. Acquisitions are recorded but are NOT a balance term (F1).
///
/// A year absent from a flow map (first transferred, used, acquired, authorized for OIMP) means
/// nothing happened: zero. A year absent from `reported_emissions` means the data is missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    pub reported_emissions: BTreeMap<u16, Decimal>,
    pub first_transferred: BTreeMap<u16, Decimal>,
    pub used: BTreeMap<u16, Decimal>,
    pub acquired: BTreeMap<u16, Decimal>,
    pub authorized_oimp: BTreeMap<u16, Decimal>,
}

/// One registry action as the ledger sees it. Each carries the year it happened, so that the
/// ledger, not the caller, decides which year it counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// ITMOs authorized and first transferred; counts in the block's vintage (para 8(a)).
    FirstTransfer {
        action_year: u16,
        vintage: Vintage,
        quantity: Decimal,
    },
    /// ITMOs used towards the NDC; counts in the year for which they are used (para 8(b)).
    Use {
        action_year: u16,
        for_year: u16,
        quantity: Decimal,
    },
    /// ITMOs acquired; reported in the year acquired, and no balance term (F1).
    Acquisition { action_year: u16, quantity: Decimal },
}

impl Ledger {
    /// Adds one action's quantity to the year it counts in. The quantity must be positive.
    pub fn record(&mut self, action: &Action) -> Result<(), Rejection> {
        let (map, year, quantity, what) = match *action {
            Action::FirstTransfer {
                vintage, quantity, ..
            } => (
                &mut self.first_transferred,
                vintage.year(),
                quantity,
                "first transferred",
            ),
            Action::Use {
                for_year, quantity, ..
            } => (&mut self.used, for_year, quantity, "used"),
            Action::Acquisition {
                action_year,
                quantity,
            } => (&mut self.acquired, action_year, quantity, "acquired"),
        };
        if quantity <= Decimal::ZERO {
            return Err(Rejection::one(
                Code::QUANTITY_INVALID,
                format!("the quantity {what} for {year} must be positive, not {quantity}"),
            ));
        }
        let total = map.get(&year).copied().unwrap_or(Decimal::ZERO);
        let total = checked(total.checked_add(quantity), what, year)?;
        map.insert(year, total);
        Ok(())
    }
}

/// Checks that the NDC can be accounted for here: a GHG metric (8511, F10), a method that fits
/// the NDC kind (8512), four-digit years (3040) and a target year within a well-ordered period
/// (3043). Every failure is reported, not only the first.
pub fn check_method(ndc: &Ndc) -> Result<(), Rejection> {
    let mut c = Checks::new();
    c.require(ndc.metric == Metric::Ghg, Code::METRIC_UNSUPPORTED, || {
        "the NDC is in a non-GHG metric: metric-specific accounts, a conversion factor and an \
         annual adjusted indicator are not supported yet"
            .into()
    });
    let fits = matches!(
        (ndc.kind, ndc.method),
        (
            NdcKind::SingleYear,
            CaMethod::Trajectory | CaMethod::Averaging
        ) | (NdcKind::MultiYear, CaMethod::MultiYear)
    );
    c.require(fits, Code::ADJUSTMENT_STATE, || {
        format!(
            "the {:?} method does not apply to a {:?} NDC: trajectory or averaging for a \
             single-year NDC, multi-year for a multi-year NDC (para 7)",
            ndc.method, ndc.kind
        )
    });
    for (name, year) in [
        ("first year", ndc.first_year),
        ("last year", ndc.last_year),
        ("target year", ndc.target_year),
    ] {
        c.require(
            Vintage::new(i64::from(year)).is_ok(),
            Code::VINTAGE_INVALID,
            || format!("the NDC {name} {year} is not a four-digit year"),
        );
    }
    c.require(
        ndc.first_year <= ndc.last_year && ndc.covers(ndc.target_year),
        Code::PERIOD_INVALID,
        || {
            format!(
                "the NDC period {}–{} must be in order and contain the target year {}",
                ndc.first_year, ndc.last_year, ndc.target_year
            )
        },
    );
    c.finish()
}

/// The emissions balance of para 8 for `year`: reported emissions, plus ITMOs first transferred
/// of that vintage, minus ITMOs used for that year. Acquisitions are not a term (F1). Missing
/// reported emissions are 8514 (F13).
///
/// This is the balance under the trajectory and multi-year methods; under averaging the
/// structured summary applies the average in the target year instead (see [`SummaryRow`]).
pub fn emissions_balance(l: &Ledger, year: u16) -> Result<Decimal, Rejection> {
    let reported = reported(l, year)?;
    checked(
        reported.checked_add(net(l, year)?),
        "emissions balance",
        year,
    )
}

/// The corresponding adjustment for each year of the NDC period through `as_of`.
///
/// Trajectory and multi-year: each year from the first through `as_of` (or the last year of the
/// period, whichever is earlier) gets first transferred of that vintage minus used for that
/// year; a year without either gets 0. Averaging: one entry, in the target year, once `as_of`
/// reaches it; its value is the cumulative net through the target year divided by the years
/// elapsed through it (the whole period when, as usual, the target year is the last).
pub fn annual_adjustments(
    l: &Ledger,
    ndc: &Ndc,
    as_of: u16,
) -> Result<BTreeMap<u16, Decimal>, Rejection> {
    check_method(ndc)?;
    let mut out = BTreeMap::new();
    match ndc.method {
        CaMethod::Trajectory | CaMethod::MultiYear => {
            for year in ndc.first_year..=as_of.min(ndc.last_year) {
                out.insert(year, net(l, year)?);
            }
        }
        CaMethod::Averaging => {
            if as_of >= ndc.target_year {
                out.insert(
                    ndc.target_year,
                    averaging_indicative(l, ndc, ndc.target_year)?,
                );
            }
        }
    }
    Ok(out)
}

/// The cumulative net (first transferred minus used) from the first year of the NDC period
/// through `through_year`, which must lie in the period (3043). With `ndc.last_year` this is the
/// cumulative adjustment at the end of a multi-year period (para 7(b)).
pub fn cumulative(l: &Ledger, ndc: &Ndc, through_year: u16) -> Result<Decimal, Rejection> {
    check_method(ndc)?;
    require_in_period(ndc, through_year)?;
    (ndc.first_year..=through_year).try_fold(Decimal::ZERO, |sum, year| {
        checked(sum.checked_add(net(l, year)?), "cumulative net", year)
    })
}

/// The averaging figure of para 7(a)(ii) at the end of `elapsed_through_year`: the cumulative
/// net through that year divided by the number of years elapsed in the NDC period, at full
/// decimal precision. In the target year it is the adjustment applied; before it, an
/// indicative figure. The year must lie in the period (3043).
pub fn averaging_indicative(
    l: &Ledger,
    ndc: &Ndc,
    elapsed_through_year: u16,
) -> Result<Decimal, Rejection> {
    let sum = cumulative(l, ndc, elapsed_through_year)?;
    // In the period, so at least one year has elapsed: the divisor is never zero.
    let elapsed = Decimal::from(elapsed_through_year - ndc.first_year + 1);
    checked(
        sum.checked_div(elapsed),
        "averaging figure",
        elapsed_through_year,
    )
}

/// One year's rows of the structured summary (paras 21–23), in t CO2e.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    pub year: u16,
    /// Annual emissions covered by the NDC, as reported.
    pub reported_emissions: Decimal,
    /// ITMOs first transferred of this vintage (23(c)).
    pub first_transferred: Decimal,
    /// Mitigation outcomes authorized for other international mitigation purposes (23(d)).
    pub authorized_oimp: Decimal,
    /// ITMOs used towards the NDC for this year (23(e)).
    pub used: Decimal,
    /// First transferred minus used (23(f)).
    pub net: Decimal,
    /// The net, cumulative from the first year of the NDC period through this year.
    pub cumulative_net: Decimal,
    /// Under averaging only: the cumulative net divided by the elapsed years through this year.
    pub averaging: Option<Decimal>,
    /// The total corresponding adjustment applied in this year: the net under trajectory and
    /// multi-year; under averaging, the average in the target year and 0 in other years.
    pub corresponding_adjustment: Decimal,
    /// Reported emissions plus the corresponding adjustment (23(k)(i)); equal to
    /// [`emissions_balance`] under trajectory and multi-year.
    pub emissions_balance: Decimal,
}

/// The structured-summary row for `year`, which must lie in the NDC period (3043). Missing
/// reported emissions are 8514; a non-GHG NDC is 8511.
pub fn structured_summary(l: &Ledger, ndc: &Ndc, year: u16) -> Result<SummaryRow, Rejection> {
    check_method(ndc)?;
    require_in_period(ndc, year)?;
    let reported_emissions = reported(l, year)?;
    let corresponding_adjustment = annual_adjustments(l, ndc, year)?
        .get(&year)
        .copied()
        .unwrap_or(Decimal::ZERO);
    let averaging = match ndc.method {
        CaMethod::Averaging => Some(averaging_indicative(l, ndc, year)?),
        CaMethod::Trajectory | CaMethod::MultiYear => None,
    };
    let row = SummaryRow {
        year,
        reported_emissions,
        first_transferred: flow(&l.first_transferred, year),
        authorized_oimp: flow(&l.authorized_oimp, year),
        used: flow(&l.used, year),
        net: net(l, year)?,
        cumulative_net: cumulative(l, ndc, year)?,
        averaging,
        corresponding_adjustment,
        emissions_balance: checked(
            reported_emissions.checked_add(corresponding_adjustment),
            "emissions balance",
            year,
        )?,
    };
    if ndc.method != CaMethod::Averaging {
        // Pair assertion: the summary's balance is para 8's balance under these methods.
        debug_assert_eq!(Ok(row.emissions_balance), emissions_balance(l, year));
    }
    Ok(row)
}

/// Where an adjustment record stands in its workflow (F12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdjustmentStatus {
    Draft,
    Submitted,
    Approved,
    /// Final before the review of the BTR covering the NDC end year starts (para 12): no step
    /// and no change is allowed after it.
    Finalized,
}

/// A corresponding adjustment for one year, with its workflow: draft → submitted → approved →
/// finalized, and submitted → draft to return it. Any other step is 8512; any step or change on
/// a finalized record is 8513. From every state but finalized, some path leads to finalized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdjustmentRecord {
    pub year: u16,
    pub quantity: Decimal,
    pub status: AdjustmentStatus,
}

impl AdjustmentRecord {
    /// A new record in draft.
    pub fn new(year: u16, quantity: Decimal) -> Self {
        AdjustmentRecord {
            year,
            quantity,
            status: AdjustmentStatus::Draft,
        }
    }

    /// Draft → submitted. A submitted or approved record is not submitted again.
    pub fn submit(&mut self) -> Result<(), Rejection> {
        self.step(
            "submit",
            AdjustmentStatus::Draft,
            AdjustmentStatus::Submitted,
        )
    }

    /// Submitted → approved.
    pub fn approve(&mut self) -> Result<(), Rejection> {
        self.step(
            "approve",
            AdjustmentStatus::Submitted,
            AdjustmentStatus::Approved,
        )
    }

    /// Submitted → draft, for correction.
    pub fn return_to_draft(&mut self) -> Result<(), Rejection> {
        self.step(
            "return to draft",
            AdjustmentStatus::Submitted,
            AdjustmentStatus::Draft,
        )
    }

    /// Approved → finalized (para 12).
    pub fn finalize(&mut self) -> Result<(), Rejection> {
        self.step(
            "finalize",
            AdjustmentStatus::Approved,
            AdjustmentStatus::Finalized,
        )
    }

    /// Changes the quantity of a draft.
    pub fn amend(&mut self, quantity: Decimal) -> Result<(), Rejection> {
        self.require(
            "amend the quantity of",
            AdjustmentStatus::Draft,
            AdjustmentStatus::Draft,
        )?;
        self.quantity = quantity;
        Ok(())
    }

    fn step(
        &mut self,
        verb: &str,
        from: AdjustmentStatus,
        to: AdjustmentStatus,
    ) -> Result<(), Rejection> {
        self.require(verb, from, to)?;
        self.status = to;
        Ok(())
    }

    fn require(
        &self,
        verb: &str,
        from: AdjustmentStatus,
        to: AdjustmentStatus,
    ) -> Result<(), Rejection> {
        if self.status == AdjustmentStatus::Finalized {
            return Err(Rejection::one(
                Code::PERIOD_FINALIZED,
                format!(
                    "cannot {verb} the {} adjustment record: it is finalized (para 12)",
                    self.year
                ),
            ));
        }
        if self.status != from {
            return Err(Rejection::one(
                Code::ADJUSTMENT_STATE,
                format!(
                    "cannot {verb} the {} adjustment record: it is {:?}, and only a {:?} record \
                     can become {:?}",
                    self.year, self.status, from, to
                ),
            ));
        }
        Ok(())
    }
}

/// A year of use must lie in the NDC implementation period (8515).
pub fn check_use_year(ndc: &Ndc, year: u16) -> Result<(), Rejection> {
    if ndc.covers(year) {
        Ok(())
    } else {
        Err(Rejection::one(
            Code::USE_YEAR_INVALID,
            format!(
                "ITMOs cannot be used for {year}: the NDC implementation period is {}–{}",
                ndc.first_year, ndc.last_year
            ),
        ))
    }
}

/// A vintage is a four-digit year (3040, F14).
pub fn check_vintage(year: i64) -> Result<Vintage, Rejection> {
    Vintage::new(year)
        .map_err(|code| Rejection::one(code, format!("vintage {year} is not a four-digit year")))
}

fn reported(l: &Ledger, year: u16) -> Result<Decimal, Rejection> {
    l.reported_emissions.get(&year).copied().ok_or_else(|| {
        Rejection::one(
            Code::DATA_MISSING,
            format!("no reported emissions for {year}: the emissions balance cannot be computed"),
        )
    })
}

fn flow(map: &BTreeMap<u16, Decimal>, year: u16) -> Decimal {
    map.get(&year).copied().unwrap_or(Decimal::ZERO)
}

/// First transferred of vintage `year` minus used for `year` (23(f)).
fn net(l: &Ledger, year: u16) -> Result<Decimal, Rejection> {
    checked(
        flow(&l.first_transferred, year).checked_sub(flow(&l.used, year)),
        "net quantity",
        year,
    )
}

fn require_in_period(ndc: &Ndc, year: u16) -> Result<(), Rejection> {
    if ndc.covers(year) {
        Ok(())
    } else {
        Err(Rejection::one(
            Code::PERIOD_INVALID,
            format!(
                "{year} is outside the NDC implementation period {}–{}",
                ndc.first_year, ndc.last_year
            ),
        ))
    }
}

/// Decimal arithmetic that left the representable range is rejected, never a panic.
fn checked(v: Option<Decimal>, what: &str, year: u16) -> Result<Decimal, Rejection> {
    v.ok_or_else(|| {
        Rejection::one(
            Code::QUANTITY_INVALID,
            format!("the {what} for {year} overflows exact decimal arithmetic"),
        )
    })
}
