//! Executable, versioned JCM methodologies: the parameters a methodology needs, its eligibility
//! checklist, and the exact-decimal computation of reference emissions (RE), project emissions
//! (PE), emission reductions (ER = RE − PE) and the whole tonnes credited (REFERENCE §3.6).
//!
//! This module owns the generic machinery: merging ex-ante values fixed in the PDD with values
//! reported in a monitoring report, filling in defaults, range checks with stable codes, one
//! named rounding step, and the spec hash recorded on chain so a later code change to an
//! approved version is detectable. It must stay pure: no I/O, no floats, no clock. Each
//! concrete methodology lives in one file under `methodologies/`.

use std::collections::BTreeSet;

use rust_decimal::prelude::ToPrimitive;
pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;
use sha2::{Digest, Sha256};

use crate::checks::{Checks, Code, Rejection};
use crate::encode::Enc;

/// Parameter values by name, exact decimals.
pub type Params = std::collections::BTreeMap<String, Decimal>;

/// How a parameter's value is obtained (JCM monitoring options).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MonitoringOption {
    /// Public or statistical data.
    A,
    /// Transaction-based data (invoices, purchase records).
    B,
    /// Direct measurement.
    C,
}

/// When a parameter's value is fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParamStage {
    /// Fixed in the PDD's monitoring plan.
    ExAnte,
    /// Reported in each monitoring report.
    Monitored,
}

/// A default value written into the methodology, with where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DefaultValue {
    /// Exact decimal text.
    pub value: &'static str,
    pub source: &'static str,
}

/// One parameter of a methodology. Bounds are exact decimal texts, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParamSpec {
    pub name: &'static str,
    pub unit: &'static str,
    pub description: &'static str,
    pub option: MonitoringOption,
    pub stage: ParamStage,
    pub default: Option<DefaultValue>,
    pub min: Option<&'static str>,
    pub max: Option<&'static str>,
}

/// One eligibility criterion: the checklist item a project must affirm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Criterion {
    pub code: &'static str,
    pub text: &'static str,
}

/// Named rounding policy for credited reductions. Default `Floor` (REFERENCE §3.6: JCM is
/// believed to round down [U]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rounding {
    /// Towards negative infinity.
    #[default]
    Floor,
    /// To nearest, a half away from zero.
    HalfUp,
    /// To nearest, a half to the even neighbour (banker's rounding).
    HalfEven,
}

/// The result of evaluating one monitoring period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Computation {
    /// Reference emissions, tCO2e.
    pub re: Decimal,
    /// Project emissions, tCO2e.
    pub pe: Decimal,
    /// Emission reductions `re − pe`, tCO2e, unrounded (may be negative).
    pub er: Decimal,
    /// Whole tonnes credited: `er` rounded by the named policy, and 0 when negative.
    pub credited: u64,
    /// Every value used, defaults filled in.
    pub inputs: Params,
}

/// An executable methodology. An approved `(code, version)` never changes: a change is a new
/// version (and `spec_hash` would reveal one that was not).
pub trait Methodology: Sync {
    /// e.g. `"IN_AM001"`.
    fn code(&self) -> &'static str;
    /// 1, 2, …
    fn version(&self) -> u32;
    fn title(&self) -> &'static str;
    /// The number of the activity on India's Article 6.2 activity list (REFERENCE §3.2).
    fn activity(&self) -> u16;
    fn parameters(&self) -> &'static [ParamSpec];
    fn criteria(&self) -> &'static [Criterion];
    /// The formulas in words and ASCII, shown to users.
    fn formulas(&self) -> &'static str;
    /// RE and PE for one monitoring period from the complete inputs (all parameters present,
    /// already validated by [`evaluate`]).
    fn reference_and_project(&self, p: &Params) -> (Decimal, Decimal);
}

/// Every executable methodology, every version.
pub fn catalogue() -> &'static [&'static dyn Methodology] {
    crate::jcm::methodologies::ALL
}

/// The methodology with this code and version, if the catalogue has it.
pub fn find(code: &str, version: u32) -> Option<&'static dyn Methodology> {
    catalogue()
        .iter()
        .copied()
        .find(|m| m.code() == code && m.version() == version)
}

/// SHA-256 over a canonical encoding (domain prefix `b"tanso-methodology/1\0"`) of code,
/// version, title, activity, every parameter spec (all fields), every criterion and the
/// formulas text. Recorded on chain at submission so a later code change to an approved
/// version is detectable.
///
/// Encoding (see `encode.rs` for the primitives): `str code, u32 version, str title,
/// u16 activity, len params, then per parameter: str name, str unit, str description,
/// u8 option (A 0, B 1, C 2), u8 stage (ExAnte 0, Monitored 1), opt(str value, str source),
/// opt(str min), opt(str max); len criteria, then per criterion: str code, str text;
/// str formulas`.
pub fn spec_hash(m: &dyn Methodology) -> [u8; 32] {
    let mut e = Enc::new();
    e.buf.extend_from_slice(b"tanso-methodology/1\0");
    e.str(m.code());
    e.u32(m.version());
    e.str(m.title());
    e.u16(m.activity());
    let params = m.parameters();
    e.len(params.len());
    for p in params {
        e.str(p.name);
        e.str(p.unit);
        e.str(p.description);
        e.u8(match p.option {
            MonitoringOption::A => 0,
            MonitoringOption::B => 1,
            MonitoringOption::C => 2,
        });
        e.u8(match p.stage {
            ParamStage::ExAnte => 0,
            ParamStage::Monitored => 1,
        });
        e.opt(&p.default, |e, d| {
            e.str(d.value);
            e.str(d.source);
        });
        e.opt(&p.min, |e, s| e.str(s));
        e.opt(&p.max, |e, s| e.str(s));
    }
    let criteria = m.criteria();
    e.len(criteria.len());
    for c in criteria {
        e.str(c.code);
        e.str(c.text);
    }
    e.str(m.formulas());
    Sha256::digest(&e.buf).into()
}

/// Checks the ex-ante values of a PDD: only `ExAnte` parameters are allowed (else 8021),
/// defaults fill in absent ones (else 8020), and every value is in range (else 8022).
pub fn check_ex_ante(m: &dyn Methodology, ex_ante: &Params) -> Result<(), Rejection> {
    merge(m, ex_ante, None).map(|_| ())
}

/// Evaluates one monitoring period: merges `ex_ante` (ExAnte parameters only) and `monitored`
/// (Monitored parameters only) with the defaults, collecting every failing check — unknown name
/// or wrong stage 8021, missing value without default 8020, negative or out-of-range value
/// 8022. Then ER = RE − PE and credited = ER rounded to whole tonnes by `rounding`; a negative
/// ER credits 0; a credited amount that does not fit in `u64` is 3008.
pub fn evaluate(
    m: &dyn Methodology,
    ex_ante: &Params,
    monitored: &Params,
    rounding: Rounding,
) -> Result<Computation, Rejection> {
    let inputs = merge(m, ex_ante, Some(monitored))?;
    let (re, pe) = m.reference_and_project(&inputs);
    let er = re.checked_sub(pe).ok_or_else(|| {
        Rejection::one(
            Code::QUANTITY_INVALID,
            format!("{}: emission reductions overflow", label(m)),
        )
    })?;
    let rounded = round(er, rounding);
    let credited = if rounded <= Decimal::ZERO {
        0
    } else {
        rounded.to_u64().ok_or_else(|| {
            Rejection::one(
                Code::QUANTITY_INVALID,
                format!(
                    "{}: credited reductions {rounded} tCO2e do not fit in 64 bits",
                    label(m)
                ),
            )
        })?
    };
    Ok(Computation {
        re,
        pe,
        er,
        credited,
        inputs,
    })
}

/// Every criterion code of the methodology must be in `affirmed`, and every affirmed code must
/// be one the methodology declares; otherwise 8023 naming the codes at fault.
pub fn check_criteria(m: &dyn Methodology, affirmed: &[String]) -> Result<(), Rejection> {
    let declared: BTreeSet<&str> = m.criteria().iter().map(|c| c.code).collect();
    let given: BTreeSet<&str> = affirmed.iter().map(String::as_str).collect();
    let missing: Vec<&str> = m
        .criteria()
        .iter()
        .map(|c| c.code)
        .filter(|c| !given.contains(c))
        .collect();
    let undeclared: Vec<&str> = given
        .iter()
        .copied()
        .filter(|c| !declared.contains(c))
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("criteria not affirmed: {}", missing.join(", ")));
    }
    if !undeclared.is_empty() {
        problems.push(format!(
            "criteria the methodology does not declare: {}",
            undeclared.join(", ")
        ));
    }
    let mut c = Checks::new();
    if !problems.is_empty() {
        c.fail(
            Code::CRITERIA_NOT_MET,
            format!("{}: {}", label(m), problems.join("; ")),
        );
    }
    c.finish()
}

/// Rounds to a whole number by the named policy.
pub fn round(d: Decimal, r: Rounding) -> Decimal {
    match r {
        Rounding::Floor => d.floor(),
        Rounding::HalfUp => d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero),
        Rounding::HalfEven => d.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven),
    }
}

/// The value of a parameter in complete inputs. Methodologies call this from
/// `reference_and_project`; a name absent (only possible when called with unvalidated inputs)
/// reads as zero rather than panicking.
pub(crate) fn param(p: &Params, name: &str) -> Decimal {
    p.get(name).copied().unwrap_or(Decimal::ZERO)
}

fn label(m: &dyn Methodology) -> String {
    format!("{} v{}", m.code(), m.version())
}

fn stage_word(s: ParamStage) -> &'static str {
    match s {
        ParamStage::ExAnte => "ex-ante",
        ParamStage::Monitored => "monitored",
    }
}

/// Merges the given values with defaults and checks them. With `monitored` absent, only the
/// ex-ante parameters are required (the PDD check).
fn merge(
    m: &dyn Methodology,
    ex_ante: &Params,
    monitored: Option<&Params>,
) -> Result<Params, Rejection> {
    let specs = m.parameters();
    let spec_of = |name: &str| specs.iter().find(|s| s.name == name);
    let mut unknown = Vec::new();
    let mut missing = Vec::new();
    let mut invalid = Vec::new();

    let mut sources: Vec<(ParamStage, &Params)> = vec![(ParamStage::ExAnte, ex_ante)];
    if let Some(mon) = monitored {
        sources.push((ParamStage::Monitored, mon));
    }
    for (stage, values) in &sources {
        for name in values.keys() {
            match spec_of(name) {
                None => unknown.push(format!("{name} is not a parameter")),
                Some(s) if s.stage != *stage => unknown.push(format!(
                    "{name} is {}, not {}",
                    stage_word(s.stage),
                    stage_word(*stage)
                )),
                Some(_) => {}
            }
        }
    }

    let mut inputs = Params::new();
    for s in specs {
        let given = match (s.stage, monitored) {
            (ParamStage::ExAnte, _) => ex_ante.get(s.name),
            (ParamStage::Monitored, Some(mon)) => mon.get(s.name),
            // The PDD check does not need monitored values.
            (ParamStage::Monitored, None) => continue,
        };
        let value = match (given, s.default) {
            (Some(v), _) => *v,
            (None, Some(d)) => match Decimal::from_str_exact(d.value) {
                Ok(v) => v,
                Err(_) => {
                    missing.push(format!("{} default {:?} is not a decimal", s.name, d.value));
                    continue;
                }
            },
            (None, None) => {
                missing.push(format!(
                    "{} ({}, {}) has no value",
                    s.name,
                    s.unit,
                    stage_word(s.stage)
                ));
                continue;
            }
        };
        if value < Decimal::ZERO {
            invalid.push(format!("{} = {value} is negative", s.name));
        }
        if let Some(min) = s.min {
            match Decimal::from_str_exact(min) {
                Ok(lo) if value < lo => {
                    invalid.push(format!("{} = {value} is below the minimum {lo}", s.name))
                }
                Ok(_) => {}
                Err(_) => invalid.push(format!("{} minimum {min:?} is not a decimal", s.name)),
            }
        }
        if let Some(max) = s.max {
            match Decimal::from_str_exact(max) {
                Ok(hi) if value > hi => {
                    invalid.push(format!("{} = {value} is above the maximum {hi}", s.name))
                }
                Ok(_) => {}
                Err(_) => invalid.push(format!("{} maximum {max:?} is not a decimal", s.name)),
            }
        }
        inputs.insert(s.name.to_owned(), value);
    }

    let mut c = Checks::new();
    for (code, problems) in [
        (Code::PARAMETER_MISSING, missing),
        (Code::PARAMETER_UNKNOWN, unknown),
        (Code::PARAMETER_INVALID, invalid),
    ] {
        if !problems.is_empty() {
            c.fail(code, format!("{}: {}", label(m), problems.join("; ")));
        }
    }
    c.finish()?;
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kv: &[(&str, &str)]) -> Params {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), Decimal::from_str_exact(v).unwrap()))
            .collect()
    }

    fn codes(r: Result<impl Sized, Rejection>) -> Vec<u16> {
        match r {
            Ok(_) => vec![],
            Err(e) => e.codes().iter().map(|c| c.0).collect(),
        }
    }

    #[test]
    fn every_default_and_bound_in_the_catalogue_parses() {
        for m in catalogue() {
            for p in m.parameters() {
                if let Some(d) = p.default {
                    assert!(
                        Decimal::from_str_exact(d.value).is_ok(),
                        "{} default",
                        p.name
                    );
                    assert!(!d.source.is_empty(), "{} default source", p.name);
                }
                for b in [p.min, p.max].into_iter().flatten() {
                    assert!(Decimal::from_str_exact(b).is_ok(), "{} bound {b}", p.name);
                }
            }
        }
    }

    #[test]
    fn every_default_lies_within_its_bounds() {
        let d = |s| Decimal::from_str_exact(s).unwrap();
        for m in catalogue() {
            for p in m.parameters() {
                if let Some(def) = p.default {
                    let v = d(def.value);
                    assert!(v >= Decimal::ZERO, "{}", p.name);
                    assert!(p.min.is_none_or(|lo| v >= d(lo)), "{} below min", p.name);
                    assert!(p.max.is_none_or(|hi| v <= d(hi)), "{} above max", p.name);
                }
            }
        }
    }

    #[test]
    fn parameter_bounds_keep_the_arithmetic_from_overflowing() {
        // Every parameter at its maximum, then each one in turn at its minimum (a divisor is
        // largest in effect at its minimum): evaluation must succeed, never overflow.
        let d = |s| Decimal::from_str_exact(s).unwrap();
        for m in catalogue() {
            let specs = m.parameters();
            for low in (0..specs.len()).map(Some).chain([None]) {
                let mut ex = Params::new();
                let mut mon = Params::new();
                for (i, p) in specs.iter().enumerate() {
                    let max = d(p.max.expect("every parameter has a maximum"));
                    let v = if low == Some(i) {
                        p.min.map_or(Decimal::ZERO, d)
                    } else {
                        max
                    };
                    match p.stage {
                        ParamStage::ExAnte => ex.insert(p.name.to_owned(), v),
                        ParamStage::Monitored => mon.insert(p.name.to_owned(), v),
                    };
                }
                let c = evaluate(*m, &ex, &mon, Rounding::Floor);
                assert!(c.is_ok(), "{} low {low:?}: {c:?}", m.code());
            }
        }
    }

    #[test]
    fn rounding_policies() {
        let d = |s| Decimal::from_str_exact(s).unwrap();
        assert_eq!(round(d("799.5"), Rounding::Floor), d("799"));
        assert_eq!(round(d("799.5"), Rounding::HalfUp), d("800"));
        assert_eq!(round(d("799.5"), Rounding::HalfEven), d("800"));
        assert_eq!(round(d("798.5"), Rounding::HalfEven), d("798"));
        assert_eq!(round(d("798.5"), Rounding::HalfUp), d("799"));
        assert_eq!(round(d("-0.5"), Rounding::Floor), d("-1"));
        assert_eq!(Rounding::default(), Rounding::Floor);
    }

    #[test]
    fn wrong_stage_and_unknown_are_8021_in_the_pdd_check() {
        let m = find("IN_AM001", 1).unwrap();
        assert_eq!(
            codes(check_ex_ante(m, &params(&[("EG_BESS", "1")]))),
            [8021]
        );
        assert_eq!(codes(check_ex_ante(m, &params(&[("FOO", "1")]))), [8021]);
        assert_eq!(codes(check_ex_ante(m, &Params::new())), Vec::<u16>::new());
        let ee = find("IN_AM002", 1).unwrap();
        // EF_elec and COP_PJ have no default.
        assert_eq!(codes(check_ex_ante(ee, &Params::new())), [8020]);
    }

    #[test]
    fn negative_zero_is_not_negative() {
        let m = find("IN_AM001", 1).unwrap();
        let c = evaluate(
            m,
            &Params::new(),
            &params(&[("EG_BESS", "-0")]),
            Rounding::Floor,
        )
        .unwrap();
        assert_eq!(c.credited, 0);
    }

    #[test]
    fn criteria_name_what_is_missing_and_undeclared() {
        let m = find("IN_AM001", 1).unwrap();
        let all: Vec<String> = m.criteria().iter().map(|c| c.code.to_owned()).collect();
        assert!(check_criteria(m, &all).is_ok());
        let err = check_criteria(m, &["C1".to_owned(), "C9".to_owned()]).unwrap_err();
        assert_eq!(err.codes(), [Code::CRITERIA_NOT_MET]);
        let msg = &err.failures[0].message;
        assert!(
            msg.contains("C2") && msg.contains("C3") && msg.contains("C9"),
            "{msg}"
        );
    }
}
