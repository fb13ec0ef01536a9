//! Serial-block behaviour pinned by the reference's vectors and by regressions.
mod support;
use support::*;
use tanso_core::*;

#[test]
fn tv2_partial_transfer_sender_keeps_low_end_recipient_gets_high_end() {
    let mut s = registry();
    issue(&mut s, 1, 3000, 2023);
    ok(
        &mut s,
        Command::Transfer {
            from: AccountId(1),
            to: AccountId(2),
            units: by_quantity(1000),
        },
    );
    assert_eq!(held_ranges(&s, 1), vec![(1, 2000)]);
    assert_eq!(held_ranges(&s, 2), vec![(2001, 3000)]);
    s.check_invariants().unwrap();
}

#[test]
fn tv2_full_block_transfer_keeps_the_range_and_changes_only_the_owner() {
    let mut s = registry();
    issue(&mut s, 1, 3000, 2023);
    ok(
        &mut s,
        Command::Transfer {
            from: AccountId(1),
            to: AccountId(2),
            units: by_quantity(3000),
        },
    );
    assert_eq!(held_ranges(&s, 1), vec![]);
    assert_eq!(held_ranges(&s, 2), vec![(1, 3000)]);
}

#[test]
fn blocks_merge_when_they_come_back_together() {
    let mut s = registry();
    issue(&mut s, 1, 100, 2026);
    let before = s.state_hash();
    let ev = ok(
        &mut s,
        Command::Transfer {
            from: AccountId(1),
            to: AccountId(2),
            units: UnitSelection::Ranges(vec![range(40, 60)]),
        },
    );
    assert_eq!(held_ranges(&s, 1), vec![(1, 39), (61, 100)]);
    assert_eq!(ev.len(), 1);
    ok(
        &mut s,
        Command::Transfer {
            from: AccountId(2),
            to: AccountId(1),
            units: by_quantity(21),
        },
    );
    assert_eq!(held_ranges(&s, 1), vec![(1, 100)]);
    assert_eq!(s.state_hash(), before, "the partition is canonical");
}

#[test]
fn a_failing_later_leg_leaves_nothing_behind() {
    let mut s = registry();
    issue(&mut s, 1, 100, 2026);
    let before = s.state_hash();
    let c = codes(
        &mut s,
        Command::MultiLeg(vec![
            Command::Transfer {
                from: AccountId(1),
                to: AccountId(2),
                units: by_quantity(10),
            },
            Command::TransferCash {
                from: AccountId(2),
                to: AccountId(1),
                currency: CurrencyCode::parse("INR").unwrap(),
                amount: Money(500),
            },
        ]),
    );
    assert_eq!(c, vec![3051]);
    assert_eq!(s.state_hash(), before);
    s.check_invariants().unwrap();
}

#[test]
fn a_straddling_period_splits_into_vintages_pro_rata_by_days() {
    let mut s = registry();
    let ev = ok(
        &mut s,
        Command::Issue {
            account: AccountId(1),
            kind: jcm(),
            project: Some(project()),
            period: MitigationPeriod::new(
                Date::parse("2025-12-01").unwrap(),
                Date::parse("2026-01-31").unwrap(),
            )
            .unwrap(),
            vintage: None,
            quantity: Quantity::new(1001).unwrap(),
            unit_start: Some(500),
            citation: None,
            business_key: None,
        },
    );
    let parts: Vec<(u16, u64, u64, u64)> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Issued {
                attributes,
                range,
                unit_start,
                ..
            } => Some((
                attributes.vintage.year(),
                range.start(),
                range.end(),
                *unit_start,
            )),
            _ => None,
        })
        .collect();
    // 31 + 31 days: floor(1001 × 31 / 62) = 500 to 2025, the remainder 501 to 2026.
    assert_eq!(parts, vec![(2025, 1, 500, 500), (2026, 501, 1001, 1000)]);
}

#[test]
fn holds_reserve_units_and_posting_moves_them() {
    let mut s = registry();
    issue(&mut s, 1, 100, 2026);
    ok(
        &mut s,
        Command::PlaceHold {
            hold: HoldId::parse("order-1").unwrap(),
            kind: HoldKind::MarketOrder,
            account: AccountId(1),
            target: HoldTarget::Units(by_quantity(30)),
            expires_at: Some(Timestamp(T0.0 + 10)),
        },
    );
    // The held 71–100 cannot move; a transfer takes the free low end.
    assert_eq!(
        codes(
            &mut s,
            Command::Transfer {
                from: AccountId(1),
                to: AccountId(2),
                units: UnitSelection::Ranges(vec![range(71, 71)]),
            }
        ),
        vec![3034]
    );
    ok(
        &mut s,
        Command::PostHold {
            hold: HoldId::parse("order-1").unwrap(),
            to: AccountId(3),
            part: HoldPart::Ranges(vec![range(71, 80)]),
        },
    );
    assert_eq!(held_ranges(&s, 3), vec![(71, 80)]);
    let ev = ok(
        &mut s,
        Command::ExpireHolds {
            now: Timestamp(T0.0 + 10),
        },
    );
    assert_eq!(ev.len(), 1);
    assert!(s.holds().is_empty());
    assert_eq!(held_ranges(&s, 1), vec![(1, 70), (81, 100)]);
    s.check_invariants().unwrap();
}

/// Regression: the fold skips the account checks only for the transfer command, whose decide
/// has just run them; a correction's reversing transfer into a frozen account is refused.
#[test]
fn a_correction_never_moves_units_into_a_frozen_account() {
    let mut s = registry();
    issue(&mut s, 1, 100, 2026);
    let ev = ok(
        &mut s,
        Command::Transfer {
            from: AccountId(1),
            to: AccountId(2),
            units: by_quantity(10),
        },
    );
    ok(
        &mut s,
        Command::SetAccountStatus {
            account: AccountId(1),
            status: AccountStatus::Frozen,
        },
    );
    let before = s.state_hash();
    let c = codes(
        &mut s,
        Command::Correct {
            target: CitedEntry {
                seq: 7,
                hash: [0; 32],
                events: ev,
            },
            note: None,
        },
    );
    assert_eq!(c, vec![2004]);
    assert_eq!(s.state_hash(), before);
}
