//! Article 6.2 accounting on the pure core: ITMO identifiers (REFERENCE TV-1), the emissions
//! balance and the three corresponding-adjustment methods (TV-3, TV-4, TV-5), and one test per
//! UNDP audit finding this module answers (F1, F2, F10, F12, F13, F14). Each finding's test
//! asserts the exact figure or code, so the audited bug would fail it.
//!
//! Quantities in the TV tests are in Mt CO2e, as REFERENCE §6 states them: the accounting is
//! linear, so the unit is whatever the ledger holds.

use proptest::prelude::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;
use tanso_core::article6::accounting::*;
use tanso_core::article6::itmo::*;
use tanso_core::{Code, PartyId, RegistryId, Rejection, Vintage};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal literal")
}

fn codes<T: std::fmt::Debug>(r: Result<T, Rejection>) -> Vec<Code> {
    match r {
        Ok(v) => panic!("expected a rejection, got Ok({v:?})"),
        Err(e) => e.codes(),
    }
}

fn vintage(y: i64) -> Vintage {
    Vintage::new(y).expect("four-digit vintage")
}

fn years(pairs: &[(u16, &str)]) -> BTreeMap<u16, Decimal> {
    pairs.iter().map(|&(y, q)| (y, d(q))).collect()
}

fn single_year(method: CaMethod) -> Ndc {
    Ndc {
        kind: NdcKind::SingleYear,
        first_year: 2021,
        last_year: 2030,
        target_year: 2030,
        method,
        metric: Metric::Ghg,
    }
}

fn multi_year() -> Ndc {
    Ndc {
        kind: NdcKind::MultiYear,
        first_year: 2021,
        last_year: 2030,
        target_year: 2030,
        method: CaMethod::MultiYear,
        metric: Metric::Ghg,
    }
}

/// TV-4/TV-5: ITMOs first transferred by vintage 2021 … 2030, in Mt.
const SERIES: [(u16, &str); 10] = [
    (2021, "0"),
    (2022, "0"),
    (2023, "0"),
    (2024, "0"),
    (2025, "2"),
    (2026, "3"),
    (2027, "3"),
    (2028, "4"),
    (2029, "4"),
    (2030, "4"),
];

fn series_ledger() -> Ledger {
    Ledger {
        first_transferred: years(&SERIES),
        ..Ledger::default()
    }
}

// ---------------------------------------------------------------- ITMO identifiers

#[test]
fn tv1_itmo_ids() {
    let rows = [
        ("CA0042-IND01-IND-1-2026", true),
        ("CA0042-IND01-IND-1000000-2026", true),
        ("CA0042-IND01-IND-1,000,000-2026", true),
        ("CA0042-IND01-IND-1,00-2026", false),
        ("CA42-IND01-IND-1-2026", false),
        ("CA0042-IN01-IND-1-2026", false),
        ("CA0042-IND01-IND-0-2026", false),
        ("CA0042-IND01-IN-5-2026", false),
        ("CA0042-IND01-IND-5-26", false),
    ];
    for (input, valid) in rows {
        assert_eq!(ItmoId::is_valid(input), valid, "{input}");
        match ItmoId::parse(input) {
            Ok(_) => assert!(valid, "{input} parsed but is invalid"),
            Err(code) => {
                assert!(!valid, "{input} rejected but is valid");
                assert_eq!(code, Code::MALFORMED_ID, "{input}");
            }
        }
    }
}

#[test]
fn itmo_id_fields_round_trip_and_group() {
    let id = ItmoId::parse("CA0042-IND01-IND-1,000,000-2026").expect("valid");
    assert_eq!(id.ca, CaId::new(42).expect("ca"));
    assert_eq!(id.registry, RegistryId::parse("IND01").expect("registry"));
    assert_eq!(id.first_transferring, PartyId::parse("IND").expect("party"));
    assert_eq!(id.serial, 1_000_000);
    assert_eq!(id.vintage.year(), 2026);
    assert_eq!(id.to_string(), "CA0042-IND01-IND-1000000-2026");
    assert_eq!(id.grouped(), "CA0042-IND01-IND-1,000,000-2026");
    assert_eq!(ItmoId::parse(&id.to_string()), Ok(id));
    assert_eq!(ItmoId::parse(&id.grouped()), Ok(id));
    assert_eq!("CA0042-IND01-IND-1000000-2026".parse::<ItmoId>(), Ok(id));

    let small = ItmoId { serial: 999, ..id };
    assert_eq!(small.grouped(), "CA0042-IND01-IND-999-2026");
    let big = ItmoId {
        serial: 1_234,
        ..id
    };
    assert_eq!(big.grouped(), "CA0042-IND01-IND-1,234-2026");
}

#[test]
fn itmo_id_is_a_full_match_only() {
    for bad in [
        "",
        " CA0042-IND01-IND-1-2026",
        "CA0042-IND01-IND-1-2026 ",
        "CA0042-IND01-IND-1-2026-",
        "CA0042-IND01-IND-1-20267",
        "XCA0042-IND01-IND-1-2026",
        "ca0042-IND01-IND-1-2026",
        "CA0042-ind01-IND-1-2026",
        "CA0042-IND01-ind-1-2026",
        "CA00042-IND01-IND-1-2026",
        "CA0042-IND001-IND-1-2026",
        "CA0042-IND01-INDI-1-2026",
        "CA0042-IND01-IND--2026",
        "CA0042-IND01-IND-1000,000-2026",
        "CA0042-IND01-IND-1,000,00-2026",
        "CA0042-IND01-IND-1,0000-2026",
        "CA0042-IND01-IND-1,000,-2026",
        "CA0042-IND01-IND-,100-2026",
        "CA0042-IND01-IND-01,000-2026",
        "CA0042-IND01-IND-1 000-2026",
        "CA0042-IND01-IND-+1-2026",
        "CA0042-IND01-IND-1-２０２６",
        // Matches the pattern, but the serial does not fit 64 bits.
        "CA0042-IND01-IND-18446744073709551616-2026",
    ] {
        assert_eq!(ItmoId::parse(bad), Err(Code::MALFORMED_ID), "{bad:?}");
        assert!(!ItmoId::is_valid(bad), "{bad:?}");
    }
    assert!(ItmoId::is_valid("CA0000-JPN01-JPN-123,456-2030"));
    assert!(ItmoId::is_valid(
        "CA9999-JPN99-IND-18446744073709551615-9999"
    ));
    assert!(ItmoId::is_valid("CA0001-IND01-IND-12345678901234-2026"));
}

#[test]
fn ca_id_is_ca_and_four_digits() {
    let ca = CaId::parse("CA0042").expect("valid");
    assert_eq!(ca.number(), 42);
    assert_eq!(ca.to_string(), "CA0042");
    assert_eq!(CaId::new(9999).map(|c| c.to_string()), Ok("CA9999".into()));
    assert_eq!(CaId::new(10_000), Err(Code::MALFORMED_ID));
    for bad in [
        "CA42", "CA00042", "ca0042", "CB0042", "CA00a2", "0042", "CA", "",
    ] {
        assert_eq!(CaId::parse(bad), Err(Code::MALFORMED_ID), "{bad:?}");
    }
    assert!(CaId::parse("CA0001") < CaId::parse("CA0002"));
}

#[test]
fn range_ids_name_the_first_and_last_serial_of_a_block() {
    let (first, last) = range_ids(
        CaId::new(4).expect("ca"),
        RegistryId::parse("IND01").expect("registry"),
        PartyId::parse("IND").expect("party"),
        1_000,
        2_999,
        vintage(2026),
    );
    assert_eq!(first.to_string(), "CA0004-IND01-IND-1000-2026");
    assert_eq!(last.grouped(), "CA0004-IND01-IND-2,999-2026");
}

proptest! {
    #[test]
    fn any_itmo_id_round_trips_plain_and_grouped(
        ca in 0u16..=9999,
        serial in 1u64..,
        year in 1000i64..=9999,
        registry in "[A-Z]{3}[0-9]{2}",
        party in "[A-Z]{3}",
    ) {
        let id = ItmoId {
            ca: CaId::new(ca).expect("ca"),
            registry: RegistryId::parse(&registry).expect("registry"),
            first_transferring: PartyId::parse(&party).expect("party"),
            serial,
            vintage: vintage(year),
        };
        prop_assert_eq!(ItmoId::parse(&id.to_string()), Ok(id));
        prop_assert_eq!(ItmoId::parse(&id.grouped()), Ok(id));
        prop_assert_eq!(id.grouped().replace(',', ""), id.to_string());
    }
}

// ---------------------------------------------------------------- emissions balance

#[test]
fn tv3_emissions_balance_india_3012_5_japan_747_5() {
    let mut india = Ledger::default();
    india.reported_emissions.insert(2030, d("3000.0"));
    india
        .record(&Action::FirstTransfer {
            action_year: 2030,
            vintage: vintage(2030),
            quantity: d("12.5"),
        })
        .expect("first transfer");
    assert_eq!(emissions_balance(&india, 2030), Ok(d("3012.5")));

    let mut japan = Ledger::default();
    japan.reported_emissions.insert(2030, d("760.0"));
    japan
        .record(&Action::Acquisition {
            action_year: 2030,
            quantity: d("12.5"),
        })
        .expect("acquisition");
    japan
        .record(&Action::Use {
            action_year: 2031,
            for_year: 2030,
            quantity: d("12.5"),
        })
        .expect("use");
    assert_eq!(emissions_balance(&japan, 2030), Ok(d("747.5")));

    // An acquisition that is not used changes nothing.
    for ledger in [&mut india, &mut japan] {
        ledger
            .record(&Action::Acquisition {
                action_year: 2030,
                quantity: d("7.0"),
            })
            .expect("acquisition");
    }
    assert_eq!(emissions_balance(&india, 2030), Ok(d("3012.5")));
    assert_eq!(emissions_balance(&japan, 2030), Ok(d("747.5")));
}

#[test]
fn a_2026_vintage_block_first_transferred_in_2027_changes_the_2026_balance() {
    let mut l = Ledger {
        reported_emissions: years(&[(2026, "1000"), (2027, "990")]),
        ..Ledger::default()
    };
    l.record(&Action::FirstTransfer {
        action_year: 2027,
        vintage: vintage(2026),
        quantity: d("25"),
    })
    .expect("first transfer");
    assert_eq!(emissions_balance(&l, 2026), Ok(d("1025")));
    assert_eq!(emissions_balance(&l, 2027), Ok(d("990")));

    // A use acted on in 2031 for 2027 counts in 2027, not 2031 (para 8(b)).
    l.record(&Action::Use {
        action_year: 2031,
        for_year: 2027,
        quantity: d("5"),
    })
    .expect("use");
    assert_eq!(emissions_balance(&l, 2027), Ok(d("985")));
    assert_eq!(l.used.keys().copied().collect::<Vec<_>>(), vec![2027]);
}

// ---------------------------------------------------------------- methods

#[test]
fn tv4_averaging_2_0_and_mid_period_0_8333() {
    let ndc = single_year(CaMethod::Averaging);
    let mut l = series_ledger();
    assert_eq!(
        annual_adjustments(&l, &ndc, 2030),
        Ok(BTreeMap::from([(2030, d("2.0"))]))
    );
    assert_eq!(averaging_indicative(&l, &ndc, 2030), Ok(d("2")));
    // At full precision, not rounded to a few places.
    let mid = averaging_indicative(&l, &ndc, 2026).expect("mid-period figure");
    assert_eq!(mid, Decimal::from(5) / Decimal::from(6));
    assert_ne!(mid, d("0.8333"));
    assert_eq!(mid.round_dp(4), d("0.8333"));
    // Before the target year no adjustment is applied; only the indicative figure exists.
    assert_eq!(annual_adjustments(&l, &ndc, 2026), Ok(BTreeMap::new()));

    // The target year's balance takes the average, not that year's own net (4).
    l.reported_emissions.insert(2030, d("760"));
    l.reported_emissions.insert(2026, d("800"));
    let row = structured_summary(&l, &ndc, 2030).expect("summary");
    assert_eq!(row.corresponding_adjustment, d("2"));
    assert_eq!(row.averaging, Some(d("2")));
    assert_eq!(row.net, d("4"));
    assert_eq!(row.cumulative_net, d("20"));
    assert_eq!(row.emissions_balance, d("762"));
    let row = structured_summary(&l, &ndc, 2026).expect("summary");
    assert_eq!(row.corresponding_adjustment, d("0"));
    assert_eq!(row.averaging, Some(mid));
    assert_eq!(row.emissions_balance, d("800"));
}

#[test]
fn tv5_trajectory_by_vintage() {
    let ndc = single_year(CaMethod::Trajectory);
    let mut l = series_ledger();
    let adj = annual_adjustments(&l, &ndc, 2030).expect("adjustments");
    assert_eq!(adj, years(&SERIES));
    assert_eq!(adj[&2027], d("3"));
    assert_eq!(adj[&2030], d("4"));
    assert_eq!(adj.values().sum::<Decimal>(), d("20"));
    assert_eq!(cumulative(&l, &ndc, 2030), Ok(d("20")));

    // 1 Mt of vintage 2027, first transferred only in 2029.
    l.record(&Action::FirstTransfer {
        action_year: 2029,
        vintage: vintage(2027),
        quantity: d("1"),
    })
    .expect("first transfer");
    let adj = annual_adjustments(&l, &ndc, 2030).expect("adjustments");
    assert_eq!(adj[&2027], d("4"));
    assert_eq!(adj[&2029], d("4"));
    assert_eq!(adj.values().sum::<Decimal>(), d("21"));

    // Only the years through `as_of` are reported.
    let adj = annual_adjustments(&l, &ndc, 2026).expect("adjustments");
    assert_eq!(
        adj.keys().copied().collect::<Vec<_>>(),
        (2021..=2026).collect::<Vec<_>>()
    );
}

#[test]
fn f1_acquisition_is_not_a_balance_term() {
    // Japan acquires 12.5 and uses 5 of it for 2030. The audited formula (− acquired + used)
    // gives 752.5; para 8 gives 760 − 5 = 755.
    let l = Ledger {
        reported_emissions: years(&[(2030, "760")]),
        acquired: years(&[(2030, "12.5")]),
        used: years(&[(2030, "5")]),
        ..Ledger::default()
    };
    assert_eq!(emissions_balance(&l, 2030), Ok(d("755")));
    let row = structured_summary(&l, &single_year(CaMethod::Trajectory), 2030).expect("summary");
    assert_eq!(row.net, d("-5"));
    assert_eq!(row.corresponding_adjustment, d("-5"));
    assert_eq!(row.emissions_balance, d("755"));
}

#[test]
fn f2_three_methods_and_finality() {
    // Net by year: 2021 +10, 2025 +4, 2030 −4; cumulative +10.
    let mut l = Ledger {
        first_transferred: years(&[(2021, "10"), (2025, "6")]),
        used: years(&[(2025, "2"), (2030, "4")]),
        ..Ledger::default()
    };
    l.reported_emissions.insert(2030, d("500"));

    // Trajectory: annual, each year its own net.
    let t = single_year(CaMethod::Trajectory);
    let adj = annual_adjustments(&l, &t, 2030).expect("trajectory");
    assert_eq!(adj.len(), 10);
    assert_eq!(
        (adj[&2021], adj[&2025], adj[&2030]),
        (d("10"), d("4"), d("-4"))
    );
    assert_eq!(adj[&2023], d("0"));
    assert_eq!(
        structured_summary(&l, &t, 2030).map(|r| r.emissions_balance),
        Ok(d("496"))
    );

    // Averaging: only the target year, cumulative net ÷ elapsed years.
    let a = single_year(CaMethod::Averaging);
    assert_eq!(
        annual_adjustments(&l, &a, 2030),
        Ok(BTreeMap::from([(2030, d("1"))]))
    );
    assert_eq!(
        structured_summary(&l, &a, 2030).map(|r| r.emissions_balance),
        Ok(d("501"))
    );

    // Multi-year: annual as the trajectory, and cumulative at the end of the period.
    let m = multi_year();
    let adj = annual_adjustments(&l, &m, 2030).expect("multi-year");
    assert_eq!(
        (adj[&2021], adj[&2025], adj[&2030]),
        (d("10"), d("4"), d("-4"))
    );
    assert_eq!(cumulative(&l, &m, m.last_year), Ok(d("10")));
    assert_eq!(cumulative(&l, &m, 2024), Ok(d("10")));
    assert_eq!(
        structured_summary(&l, &m, 2030).map(|r| r.cumulative_net),
        Ok(d("10"))
    );

    // A method is chosen for the NDC's kind.
    let wrong = [
        Ndc {
            method: CaMethod::MultiYear,
            ..t
        },
        Ndc {
            method: CaMethod::Averaging,
            ..m
        },
        Ndc {
            method: CaMethod::Trajectory,
            ..m
        },
    ];
    for ndc in wrong {
        assert_eq!(
            codes(check_method(&ndc)),
            vec![Code::ADJUSTMENT_STATE],
            "{ndc:?}"
        );
        assert_eq!(
            codes(annual_adjustments(&l, &ndc, 2030)),
            vec![Code::ADJUSTMENT_STATE]
        );
    }
    for ndc in [t, a, m] {
        assert_eq!(check_method(&ndc), Ok(()));
    }
    let bad_period = Ndc {
        target_year: 2031,
        ..t
    };
    assert_eq!(codes(check_method(&bad_period)), vec![Code::PERIOD_INVALID]);
    let reversed = Ndc {
        first_year: 2031,
        ..t
    };
    assert_eq!(codes(check_method(&reversed)), vec![Code::PERIOD_INVALID]);

    // Finality (para 12): a finalized record takes no step and no change.
    let mut rec = AdjustmentRecord::new(2030, d("-4"));
    for step in [
        AdjustmentRecord::submit,
        AdjustmentRecord::approve,
        AdjustmentRecord::finalize,
    ] {
        step(&mut rec).expect("step towards finality");
    }
    assert_eq!(rec.status, AdjustmentStatus::Finalized);
    let before = rec.clone();
    for step in STEPS {
        assert_eq!(
            codes(step.1(&mut rec)),
            vec![Code::PERIOD_FINALIZED],
            "{}",
            step.0
        );
    }
    assert_eq!(codes(rec.amend(d("-3"))), vec![Code::PERIOD_FINALIZED]);
    assert_eq!(rec, before);
}

#[test]
fn f10_non_ghg_ndc_is_rejected() {
    let ndc = Ndc {
        metric: Metric::NonGhg,
        ..single_year(CaMethod::Trajectory)
    };
    let l = Ledger {
        reported_emissions: years(&[(2030, "100")]),
        first_transferred: years(&[(2030, "1")]),
        ..Ledger::default()
    };
    assert_eq!(codes(check_method(&ndc)), vec![Code::METRIC_UNSUPPORTED]);
    assert_eq!(
        codes(annual_adjustments(&l, &ndc, 2030)),
        vec![Code::METRIC_UNSUPPORTED]
    );
    assert_eq!(
        codes(cumulative(&l, &ndc, 2030)),
        vec![Code::METRIC_UNSUPPORTED]
    );
    assert_eq!(
        codes(averaging_indicative(&l, &ndc, 2030)),
        vec![Code::METRIC_UNSUPPORTED]
    );
    assert_eq!(
        codes(structured_summary(&l, &ndc, 2030)),
        vec![Code::METRIC_UNSUPPORTED]
    );
    // Both faults are reported, not only the first.
    let both = Ndc {
        method: CaMethod::MultiYear,
        ..ndc
    };
    assert_eq!(
        codes(check_method(&both)),
        vec![Code::METRIC_UNSUPPORTED, Code::ADJUSTMENT_STATE]
    );
}

type Step = (
    &'static str,
    fn(&mut AdjustmentRecord) -> Result<(), Rejection>,
);

const STEPS: [Step; 4] = [
    ("submit", AdjustmentRecord::submit),
    ("approve", AdjustmentRecord::approve),
    ("return_to_draft", AdjustmentRecord::return_to_draft),
    ("finalize", AdjustmentRecord::finalize),
];

#[test]
fn f12_adjustment_workflow_is_guarded() {
    use AdjustmentStatus::*;
    let at = |status| AdjustmentRecord {
        year: 2030,
        quantity: d("2"),
        status,
    };
    // Expected outcome of submit, approve, return_to_draft, finalize from each state.
    let table: [(AdjustmentStatus, [Result<AdjustmentStatus, Code>; 4]); 4] = [
        (
            Draft,
            [
                Ok(Submitted),
                Err(Code::ADJUSTMENT_STATE),
                Err(Code::ADJUSTMENT_STATE),
                Err(Code::ADJUSTMENT_STATE),
            ],
        ),
        (
            Submitted,
            [
                Err(Code::ADJUSTMENT_STATE), // no resubmission
                Ok(Approved),
                Ok(Draft),
                Err(Code::ADJUSTMENT_STATE),
            ],
        ),
        (
            Approved,
            [
                Err(Code::ADJUSTMENT_STATE),
                Err(Code::ADJUSTMENT_STATE),
                Err(Code::ADJUSTMENT_STATE),
                Ok(Finalized),
            ],
        ),
        (Finalized, [Err(Code::PERIOD_FINALIZED); 4]),
    ];
    for (from, outcomes) in table {
        for ((name, step), want) in STEPS.into_iter().zip(outcomes) {
            let mut rec = at(from);
            let got = step(&mut rec);
            match want {
                Ok(to) => {
                    assert_eq!(got, Ok(()), "{name} from {from:?}");
                    assert_eq!(rec.status, to, "{name} from {from:?}");
                }
                Err(code) => {
                    assert_eq!(codes(got), vec![code], "{name} from {from:?}");
                    assert_eq!(rec, at(from), "a refused {name} changed the record");
                }
            }
        }
    }

    // Only a draft's quantity changes.
    let mut rec = AdjustmentRecord::new(2030, d("2"));
    rec.amend(d("3")).expect("amend a draft");
    assert_eq!(rec.quantity, d("3"));
    for status in [Submitted, Approved] {
        assert_eq!(
            codes(at(status).amend(d("3"))),
            vec![Code::ADJUSTMENT_STATE]
        );
    }

    // No dead states: from every state but Finalized, some path of steps reaches Finalized.
    for start in [Draft, Submitted, Approved] {
        let mut seen = vec![start];
        let mut frontier = vec![start];
        while let Some(s) = frontier.pop() {
            for (_, step) in STEPS {
                let mut rec = at(s);
                if step(&mut rec).is_ok() && !seen.contains(&rec.status) {
                    seen.push(rec.status);
                    frontier.push(rec.status);
                }
            }
        }
        assert!(
            seen.contains(&Finalized),
            "{start:?} cannot reach Finalized"
        );
    }
}

#[test]
fn f13_missing_data_does_not_pass() {
    let l = Ledger {
        first_transferred: years(&[(2030, "12.5")]),
        used: years(&[(2030, "2")]),
        ..Ledger::default()
    };
    let ndc = single_year(CaMethod::Trajectory);
    assert_eq!(codes(emissions_balance(&l, 2030)), vec![Code::DATA_MISSING]);
    assert_eq!(
        codes(structured_summary(&l, &ndc, 2030)),
        vec![Code::DATA_MISSING]
    );
    // Another year's data does not stand in for the missing one.
    let other = Ledger {
        reported_emissions: years(&[(2029, "100")]),
        ..l.clone()
    };
    assert_eq!(
        codes(emissions_balance(&other, 2030)),
        vec![Code::DATA_MISSING]
    );
    // Reported zero is data, not missing.
    let zero = Ledger {
        reported_emissions: years(&[(2030, "0")]),
        ..l
    };
    assert_eq!(emissions_balance(&zero, 2030), Ok(d("10.5")));
    // Adjustments need no emissions data.
    assert_eq!(
        annual_adjustments(&zero, &ndc, 2030).map(|a| a[&2030]),
        Ok(d("10.5"))
    );
}

#[test]
fn f14_vintage_is_a_four_digit_year() {
    assert_eq!(check_vintage(2026).map(|v| v.year()), Ok(2026));
    assert_eq!(check_vintage(1000).map(|v| v.year()), Ok(1000));
    assert_eq!(check_vintage(9999).map(|v| v.year()), Ok(9999));
    for bad in [26, 999, 10_000, 0, -2026, i64::MAX, i64::MIN] {
        assert_eq!(
            codes(check_vintage(bad)),
            vec![Code::VINTAGE_INVALID],
            "{bad}"
        );
    }
    // In identifiers: two digits do not match; four digits below 1000 are not a year.
    assert_eq!(
        ItmoId::parse("CA0042-IND01-IND-1-26"),
        Err(Code::MALFORMED_ID)
    );
    assert_eq!(
        ItmoId::parse("CA0042-IND01-IND-1-0999"),
        Err(Code::VINTAGE_INVALID)
    );
    // In an NDC period.
    let ndc = Ndc {
        first_year: 21,
        ..single_year(CaMethod::Trajectory)
    };
    assert!(codes(check_method(&ndc)).contains(&Code::VINTAGE_INVALID));
}

#[test]
fn use_year_outside_the_ndc_period_is_rejected() {
    let ndc = single_year(CaMethod::Trajectory);
    assert_eq!(check_use_year(&ndc, 2021), Ok(()));
    assert_eq!(check_use_year(&ndc, 2030), Ok(()));
    for year in [2020, 2031] {
        assert_eq!(
            codes(check_use_year(&ndc, year)),
            vec![Code::USE_YEAR_INVALID],
            "{year}"
        );
    }
}

#[test]
fn summary_and_cumulative_years_lie_in_the_ndc_period() {
    let ndc = single_year(CaMethod::Averaging);
    let l = Ledger {
        reported_emissions: years(&[(2020, "1"), (2031, "1")]),
        ..series_ledger()
    };
    for year in [2020, 2031] {
        assert_eq!(
            codes(structured_summary(&l, &ndc, year)),
            vec![Code::PERIOD_INVALID]
        );
        assert_eq!(
            codes(cumulative(&l, &ndc, year)),
            vec![Code::PERIOD_INVALID]
        );
        assert_eq!(
            codes(averaging_indicative(&l, &ndc, year)),
            vec![Code::PERIOD_INVALID]
        );
    }
}

#[test]
fn ledger_records_positive_quantities_only() {
    let mut l = Ledger::default();
    for q in ["0", "-1"] {
        let r = l.record(&Action::Acquisition {
            action_year: 2030,
            quantity: d(q),
        });
        assert_eq!(codes(r), vec![Code::QUANTITY_INVALID], "{q}");
    }
    assert_eq!(l, Ledger::default());
}

fn mt() -> impl Strategy<Value = Decimal> {
    (0i64..10_000_000).prop_map(|n| Decimal::new(n, 1))
}

proptest! {
    /// Under trajectory and multi-year, the summary's balance is para 8's balance, the annual
    /// adjustments add up to the cumulative net, and acquisitions change none of it.
    #[test]
    fn balance_and_adjustments_agree(
        emissions in prop::collection::vec(mt(), 10),
        first in prop::collection::vec(mt(), 10),
        used in prop::collection::vec(mt(), 10),
        acquired in prop::collection::vec(mt(), 10),
        multi in any::<bool>(),
    ) {
        let ndc = if multi { multi_year() } else { single_year(CaMethod::Trajectory) };
        let by_year = |v: &[Decimal]| -> BTreeMap<u16, Decimal> {
            (2021u16..).zip(v.iter().copied()).collect()
        };
        let l = Ledger {
            reported_emissions: by_year(&emissions),
            first_transferred: by_year(&first),
            used: by_year(&used),
            ..Ledger::default()
        };
        let with_acquisitions = Ledger { acquired: by_year(&acquired), ..l.clone() };
        let adj = annual_adjustments(&l, &ndc, 2030).expect("adjustments");
        prop_assert_eq!(
            Ok(adj.values().copied().sum::<Decimal>()),
            cumulative(&l, &ndc, 2030)
        );
        for year in 2021..=2030 {
            let row = structured_summary(&l, &ndc, year).expect("summary");
            prop_assert_eq!(Ok(row.emissions_balance), emissions_balance(&l, year));
            prop_assert_eq!(
                emissions_balance(&with_acquisitions, year),
                emissions_balance(&l, year)
            );
            prop_assert_eq!(structured_summary(&with_acquisitions, &ndc, year), Ok(row));
        }
    }
}
