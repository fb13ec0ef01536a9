//! CCTS compliance arithmetic (REFERENCE §4.3, §6 TV-6 and TV-7): surplus and shortfall of one
//! entity-year, the named rounding policies, what stays outstanding after a surrender, and the
//! environmental compensation — in exact decimals, every rejection checked for its code.

use proptest::prelude::*;
use rust_decimal::Decimal;
use tanso_core::ccts::compliance::*;
use tanso_core::{Code, Date, Rejection};

fn d(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap_or_else(|e| panic!("bad decimal {s}: {e}"))
}

fn codes(r: Result<impl std::fmt::Debug, Rejection>) -> Vec<Code> {
    match r {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(rej) => rej.codes(),
    }
}

fn message(r: Result<impl std::fmt::Debug, Rejection>) -> String {
    match r {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(rej) => rej.failures[0].message.clone(),
    }
}

const VEDANTA_OUTPUT: &str = "1238336";
const TARGET_2025_26: &str = "13.2260";

#[test]
fn tv6_surplus_156030() {
    let p = CctsPolicy::default();
    let out = evaluate_gei(d(TARGET_2025_26), d("13.1000"), d(VEDANTA_OUTPUT), &p).unwrap();
    assert_eq!(
        out,
        Outcome::Surplus {
            exact: d("156030.336"),
            certificates: 156_030
        }
    );
    let out = evaluate_gei(d(TARGET_2025_26), d("13.1000"), d("1250000"), &p).unwrap();
    assert_eq!(
        out,
        Outcome::Surplus {
            exact: d("157500"),
            certificates: 157_500
        }
    );
    assert_eq!(out.certificates(), 157_500);
    assert_eq!(out.obligation(), 0);
}

#[test]
fn tv7_shortfall_91637_and_compensation_183273728() {
    let p = CctsPolicy::default();
    let out = evaluate_gei(d(TARGET_2025_26), d("13.3000"), d(VEDANTA_OUTPUT), &p).unwrap();
    assert_eq!(
        out,
        Outcome::Shortfall {
            exact: d("91636.864"),
            obligation: 91_637
        }
    );
    let ec = compensation(d("91636.864"), 91_637, 0, d("1000"), &p).unwrap();
    assert_eq!(ec, d("183273728"));
    assert_eq!(in_minor_units(ec).unwrap(), 18_327_372_800);

    let rounded = CctsPolicy {
        compensation_base: CompensationBase::RoundedObligationLessSurrendered,
        ..p
    };
    let ec = compensation(
        out.exact_shortfall(),
        out.obligation(),
        0,
        d("1000"),
        &rounded,
    )
    .unwrap();
    assert_eq!(ec, d("183274000"));
}

#[test]
fn partial_surrender_leaves_4250_outstanding() {
    let p = CctsPolicy::default();
    assert_eq!(outstanding(10_250, 6_000), 4_250);
    let ec = compensation(d("10250"), 10_250, 6_000, d("1000"), &p).unwrap();
    assert_eq!(ec, d("8500000"));
    let rounded = CctsPolicy {
        compensation_base: CompensationBase::RoundedObligationLessSurrendered,
        ..p
    };
    assert_eq!(
        compensation(d("10250"), 10_250, 6_000, d("1000"), &rounded).unwrap(),
        d("8500000")
    );
}

#[test]
fn surrendering_more_than_owed_leaves_nothing_and_no_compensation() {
    let p = CctsPolicy::default();
    assert_eq!(outstanding(10, 12), 0);
    assert_eq!(outstanding(u64::MAX, 0), u64::MAX);
    assert_eq!(
        compensation(d("9.5"), 10, 12, d("1000"), &p).unwrap(),
        Decimal::ZERO
    );
    // The exact base keeps the fraction the rounded obligation drops: 10 owed for 9.5, 9 given.
    assert_eq!(
        compensation(d("9.5"), 10, 9, d("1000"), &p).unwrap(),
        d("1000")
    );
}

#[test]
fn half_up_policies_round_differently_from_floor_and_ceil() {
    let half_up = CctsPolicy {
        issuance: IssuanceRounding::HalfUp,
        obligation: ObligationRounding::HalfUp,
        ..CctsPolicy::default()
    };
    // TV-6: 156,030.336 rounds down either way.
    let out = evaluate_gei(d(TARGET_2025_26), d("13.1000"), d(VEDANTA_OUTPUT), &half_up).unwrap();
    assert_eq!(out.certificates(), 156_030);
    // TV-7: 91,636.864 rounds up either way.
    let out = evaluate_gei(d(TARGET_2025_26), d("13.3000"), d(VEDANTA_OUTPUT), &half_up).unwrap();
    assert_eq!(out.obligation(), 91_637);

    // 0.5 × 3 = 1.5: floor 1, half-up 2; ceil 2, half-up 2.
    let floor = CctsPolicy::default();
    let surplus = |p| {
        evaluate_gei(d("2"), d("1.5"), d("3"), p)
            .unwrap()
            .certificates()
    };
    assert_eq!(surplus(&floor), 1);
    assert_eq!(surplus(&half_up), 2);
    // 0.1 × 3 = 0.3 short: ceil 1, half-up 0 (a shortfall that owes nothing under half-up).
    let owed = |p| evaluate_gei(d("1"), d("1.1"), d("3"), p).unwrap();
    assert_eq!(
        owed(&floor),
        Outcome::Shortfall {
            exact: d("0.3"),
            obligation: 1
        }
    );
    assert_eq!(
        owed(&half_up),
        Outcome::Shortfall {
            exact: d("0.3"),
            obligation: 0
        }
    );
}

#[test]
fn target_equal_to_achieved_is_balanced() {
    let p = CctsPolicy::default();
    let out = evaluate_gei(d("13.2260"), d("13.226"), d(VEDANTA_OUTPUT), &p).unwrap();
    assert_eq!(out, Outcome::Balanced);
    assert_eq!((out.certificates(), out.obligation()), (0, 0));
    assert_eq!(out.exact_shortfall(), Decimal::ZERO);
    let ev = evaluate(d("2"), d("10"), d("20"), &p).unwrap();
    assert_eq!(ev.outcome, Outcome::Balanced);
}

#[test]
fn evaluate_from_emissions_and_output_matches_tv6_and_tv7() {
    let p = CctsPolicy::default();
    // 13.1000 × 1,238,336 = 16,222,201.6 t; 13.3000 × 1,238,336 = 16,469,868.8 t.
    let ev = evaluate(d(TARGET_2025_26), d(VEDANTA_OUTPUT), d("16222201.6"), &p).unwrap();
    assert_eq!(ev.achieved_gei, d("13.1"));
    assert_eq!(ev.target_gei, d(TARGET_2025_26));
    assert_eq!(ev.output, d(VEDANTA_OUTPUT));
    assert_eq!(ev.emissions, d("16222201.6"));
    assert_eq!(
        ev.outcome,
        Outcome::Surplus {
            exact: d("156030.336"),
            certificates: 156_030
        }
    );
    let ev = evaluate(d(TARGET_2025_26), d(VEDANTA_OUTPUT), d("16469868.8"), &p).unwrap();
    assert_eq!(ev.achieved_gei, d("13.3"));
    assert_eq!(
        ev.outcome,
        Outcome::Shortfall {
            exact: d("91636.864"),
            obligation: 91_637
        }
    );
}

#[test]
fn evaluate_stays_exact_when_the_gei_division_is_not() {
    // Achieved GEI 1 ÷ 3 = 0.333…; target 1/3 is not a decimal, so take target 0.4 on output 3:
    // allowed 1.2, emitted 1 → surplus exactly 0.2, not 0.2000…0001 or 0.1999…9999.
    let p = CctsPolicy::default();
    let ev = evaluate(d("0.4"), d("3"), d("1"), &p).unwrap();
    assert_eq!(ev.achieved_gei, d("1") / d("3"));
    assert_eq!(
        ev.outcome,
        Outcome::Surplus {
            exact: d("0.2"),
            certificates: 0
        }
    );
    // Target 1, output 3, emissions 1: surplus exactly 2, floored to 2 (not 1 from 1.999…).
    let ev = evaluate(d("1"), d("3"), d("1"), &p).unwrap();
    assert_eq!(
        ev.outcome,
        Outcome::Surplus {
            exact: d("2"),
            certificates: 2
        }
    );
}

#[test]
fn bad_inputs_are_rejected_with_their_codes_and_fields() {
    let p = CctsPolicy::default();
    let q = vec![Code::QUANTITY_INVALID];
    assert_eq!(codes(evaluate_gei(d("0"), d("1"), d("1"), &p)), q);
    assert!(message(evaluate_gei(d("-1"), d("1"), d("1"), &p)).contains("target GEI"));
    assert_eq!(codes(evaluate_gei(d("1"), d("-0.1"), d("1"), &p)), q);
    assert!(message(evaluate_gei(d("1"), d("-0.1"), d("1"), &p)).contains("achieved GEI"));
    assert_eq!(codes(evaluate_gei(d("1"), d("1"), d("0"), &p)), q);
    assert!(message(evaluate_gei(d("1"), d("1"), d("-5"), &p)).contains("output"));

    assert_eq!(codes(evaluate(d("1"), d("0"), d("1"), &p)), q);
    assert!(message(evaluate(d("1"), d("0"), d("1"), &p)).contains("output"));
    assert!(message(evaluate(d("1"), d("1"), d("-1"), &p)).contains("emissions"));
    assert!(message(evaluate(d("0"), d("1"), d("1"), &p)).contains("target GEI"));
    // Zero emissions are allowed: the whole allowance is surplus.
    assert_eq!(
        evaluate(d("2"), d("5"), d("0"), &p)
            .unwrap()
            .outcome
            .certificates(),
        10
    );

    assert_eq!(
        codes(compensation(d("1"), 1, 0, d("-1"), &p)),
        vec![Code::AMOUNT_INVALID]
    );
    assert!(message(compensation(d("1"), 1, 0, d("-1"), &p)).contains("price"));
    assert_eq!(codes(compensation(d("-1"), 1, 0, d("1"), &p)), q);
    assert!(message(compensation(d("-1"), 1, 0, d("1"), &p)).contains("shortfall"));

    assert_eq!(
        codes(in_minor_units(d("-0.01"))),
        vec![Code::AMOUNT_INVALID]
    );
}

#[test]
fn overflow_is_rejected_never_a_panic() {
    let p = CctsPolicy::default();
    let huge = Decimal::MAX;
    assert_eq!(
        codes(evaluate_gei(huge, d("0"), huge, &p)),
        vec![Code::QUANTITY_INVALID]
    );
    assert_eq!(
        codes(evaluate(huge, huge, d("0"), &p)),
        vec![Code::QUANTITY_INVALID]
    );
    // Fits a Decimal but not a u64 of certificates.
    assert_eq!(
        codes(evaluate_gei(d("100"), d("0"), d("1000000000000000000"), &p)),
        vec![Code::QUANTITY_INVALID]
    );
    // A product that would need rounding to fit 28 digits is refused, not rounded.
    let tiny = Decimal::new(1, 20);
    assert_eq!(
        codes(evaluate_gei(d("1"), d("1") - tiny, tiny, &p)),
        vec![Code::QUANTITY_INVALID]
    );
    assert_eq!(
        codes(compensation(huge, 0, 0, huge, &p)),
        vec![Code::AMOUNT_INVALID]
    );
    assert_eq!(codes(in_minor_units(huge)), vec![Code::AMOUNT_INVALID]);
    assert_eq!(
        codes(in_minor_units(d("184467440737095516.16"))),
        vec![Code::AMOUNT_INVALID]
    );
    assert_eq!(
        in_minor_units(d("184467440737095516.15")).unwrap(),
        u64::MAX
    );
}

#[test]
fn minor_units_round_half_up() {
    assert_eq!(in_minor_units(d("0")).unwrap(), 0);
    assert_eq!(in_minor_units(d("1.005")).unwrap(), 101);
    assert_eq!(in_minor_units(d("1.0049")).unwrap(), 100);
    assert_eq!(in_minor_units(d("183273728")).unwrap(), 18_327_372_800);
}

#[test]
fn compliance_year_label_period_and_parse() {
    let y = ComplianceYear(2025);
    assert_eq!(y.label(), "2025-26");
    assert_eq!(y.to_string(), "2025-26");
    assert_eq!(ComplianceYear(2099).label(), "2099-00");
    assert_eq!(ComplianceYear(2008).label(), "2008-09");
    let (start, end) = y.period().unwrap();
    assert_eq!(start, Date::from_ymd(2025, 4, 1).unwrap());
    assert_eq!(end, Date::from_ymd(2026, 3, 31).unwrap());
    assert!(y.contains(Date::from_ymd(2026, 1, 15).unwrap()));
    assert!(!y.contains(Date::from_ymd(2026, 4, 1).unwrap()));
    assert_eq!(
        ComplianceYear::containing(Date::from_ymd(2026, 3, 31).unwrap()),
        Ok(y)
    );
    assert_eq!(
        ComplianceYear::containing(Date::from_ymd(2026, 4, 1).unwrap()),
        Ok(ComplianceYear(2026))
    );
    assert_eq!(ComplianceYear(9999).period(), Err(Code::VINTAGE_INVALID));
    assert_eq!(ComplianceYear(999).period(), Err(Code::VINTAGE_INVALID));

    assert_eq!(ComplianceYear::parse("2025-26"), Ok(y));
    assert_eq!(ComplianceYear::parse("2025"), Ok(y));
    assert_eq!(ComplianceYear::parse("2099-00"), Ok(ComplianceYear(2099)));
    for bad in [
        "",
        "25-26",
        "2025-27",
        "2025-2026",
        "2025-6",
        "2025-",
        "-26",
        "20a5-26",
        "2025-2a",
        "+2025",
        "0999",
        "9999",
        "2025 -26",
        "2025/26",
    ] {
        assert_eq!(
            ComplianceYear::parse(bad),
            Err(Code::VINTAGE_INVALID),
            "{bad:?}"
        );
    }
    assert!(ComplianceYear(2025) < ComplianceYear(2026));
}

#[test]
fn policy_defaults_and_deadlines() {
    let p = CctsPolicy::default();
    assert_eq!(p.issuance, IssuanceRounding::Floor);
    assert_eq!(p.obligation, ObligationRounding::Ceil);
    assert_eq!(
        p.compensation_base,
        CompensationBase::ExactShortfallLessSurrendered
    );
    assert_eq!(p.compensation_multiple, 2);
    assert_eq!(p.surrender_deadline_days, 120);
    assert_eq!(p.compensation_due_days, 90);
    assert_eq!(p.validity_years, 3);

    let evaluated = Date::from_ymd(2026, 9, 1).unwrap();
    assert_eq!(
        p.surrender_deadline(evaluated).unwrap(),
        Date::from_ymd(2026, 12, 30).unwrap()
    );
    assert_eq!(
        p.compensation_due(evaluated).unwrap(),
        Date::from_ymd(2026, 11, 30).unwrap()
    );
    assert_eq!(
        p.last_valid_year(ComplianceYear(2025)).unwrap(),
        ComplianceYear(2028)
    );
    assert_eq!(
        codes(p.last_valid_year(ComplianceYear(9997))),
        vec![Code::VINTAGE_INVALID]
    );
    let long = CctsPolicy {
        surrender_deadline_days: u32::MAX,
        ..p
    };
    assert_eq!(
        codes(long.surrender_deadline(evaluated)),
        vec![Code::PERIOD_INVALID]
    );
    // A multiple of 3 triples the compensation.
    let triple = CctsPolicy {
        compensation_multiple: 3,
        ..p
    };
    assert_eq!(
        compensation(d("10"), 10, 0, d("1000"), &triple).unwrap(),
        d("30000")
    );
}

/// A GEI with up to 4 decimals in 0.0001..=99.9999, as the Schedule prints them.
fn gei() -> impl Strategy<Value = Decimal> {
    (1i64..=999_999).prop_map(|m| Decimal::new(m, 4))
}

/// An output in tonnes with up to 3 decimals, up to 10 million tonnes.
fn output() -> impl Strategy<Value = Decimal> {
    (1i64..=10_000_000_000).prop_map(|m| Decimal::new(m, 3))
}

fn any_policy() -> impl Strategy<Value = CctsPolicy> {
    (any::<bool>(), any::<bool>()).prop_map(|(i, o)| CctsPolicy {
        issuance: if i {
            IssuanceRounding::Floor
        } else {
            IssuanceRounding::HalfUp
        },
        obligation: if o {
            ObligationRounding::Ceil
        } else {
            ObligationRounding::HalfUp
        },
        ..CctsPolicy::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn issuance_never_exceeds_surplus_and_obligation_never_falls_below_shortfall(
        target in gei(),
        achieved in gei(),
        output in output(),
    ) {
        let p = CctsPolicy::default();
        let gap = target - achieved;
        let out = evaluate_gei(target, achieved, output, &p).unwrap();
        match &out {
            Outcome::Surplus { exact, certificates } => {
                prop_assert!(gap > Decimal::ZERO);
                prop_assert_eq!(*exact, gap * output);
                prop_assert!(Decimal::from(*certificates) <= *exact);
                prop_assert!(*exact - Decimal::from(*certificates) < Decimal::ONE);
            }
            Outcome::Shortfall { exact, obligation } => {
                prop_assert!(gap < Decimal::ZERO);
                prop_assert_eq!(*exact, -gap * output);
                prop_assert!(Decimal::from(*obligation) >= *exact);
                prop_assert!(Decimal::from(*obligation) - *exact < Decimal::ONE);
            }
            Outcome::Balanced => prop_assert_eq!(target, achieved),
        }
        // Surplus and shortfall are mutually exclusive.
        prop_assert!(out.certificates() == 0 || out.obligation() == 0);
        prop_assert!(out.certificates() == 0 || out.exact_shortfall().is_zero());
    }

    #[test]
    fn every_policy_rounds_within_one_certificate_of_the_exact_amount(
        target in gei(),
        achieved in gei(),
        output in output(),
        p in any_policy(),
    ) {
        let out = evaluate_gei(target, achieved, output, &p).unwrap();
        let (exact, whole) = match out {
            Outcome::Surplus { exact, certificates } => (exact, certificates),
            Outcome::Shortfall { exact, obligation } => (exact, obligation),
            Outcome::Balanced => return Ok(()),
        };
        prop_assert!((exact - Decimal::from(whole)).abs() < Decimal::ONE);
    }

    #[test]
    fn evaluate_agrees_with_evaluate_gei_when_the_gei_is_exact(
        target in gei(),
        achieved in gei(),
        output in output(),
    ) {
        let p = CctsPolicy::default();
        let emissions = achieved * output;
        let ev = evaluate(target, output, emissions, &p).unwrap();
        prop_assert_eq!(ev.achieved_gei, achieved);
        prop_assert_eq!(ev.outcome, evaluate_gei(target, achieved, output, &p).unwrap());
    }

    #[test]
    fn compensation_is_multiple_times_price_times_what_is_left(
        exact_milli in 0u64..=100_000_000_000,
        surrendered in 0u64..=200_000_000,
        price in 0u64..=100_000,
    ) {
        let p = CctsPolicy::default();
        let exact = Decimal::new(i64::try_from(exact_milli).unwrap(), 3);
        let obligation = exact.ceil().try_into().unwrap();
        let ec = compensation(exact, obligation, surrendered, Decimal::from(price), &p).unwrap();
        let left = (exact - Decimal::from(surrendered)).max(Decimal::ZERO);
        prop_assert_eq!(ec, Decimal::from(2 * price) * left);
        let rounded = CctsPolicy { compensation_base: CompensationBase::RoundedObligationLessSurrendered, ..p };
        let ec_rounded = compensation(exact, obligation, surrendered, Decimal::from(price), &rounded).unwrap();
        prop_assert!(ec_rounded >= ec);
        prop_assert_eq!(ec_rounded, Decimal::from(2 * price * outstanding(obligation, surrendered)));
    }
}
