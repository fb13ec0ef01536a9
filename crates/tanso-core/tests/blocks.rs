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

/// Accounts fragmented into thousands of blocks over three sets (vintages), so that blocks
/// arrive deep inside their owners' indexes and leave from the middle of them (a set below
/// another): every quantity transfer takes the sender's lowest serials of the
/// named set (and only of it), moves exactly the quantity, keeps every invariant of the index,
/// and a cold replay of the events (through the checked path, not the hand-over) gives the
/// same state.
#[test]
fn fragmented_accounts_keep_their_order_across_thousands_of_blocks() {
    let mut s = registry();
    for year in [2024, 2025, 2026] {
        issue(&mut s, 1, 30_000, year);
    }
    let mut journal = vec![];
    let mut next = below(0x9e37_79b9_7f4a_7c15u64);
    // Units held per (account, vintage), kept here independently of the core.
    let mut held: std::collections::BTreeMap<(u64, i32), u64> = Default::default();
    for year in [2024, 2025, 2026] {
        held.insert((1, year), 30_000);
    }
    let (mut accepted, mut short) = (0, 0);
    for step in 0..20_000 {
        // Account 1 sends most, so that the others fragment what they receive.
        let from = if step % 3 == 0 { 1 + next(5) } else { 1 };
        let to = 1 + (from + next(4)) % 5;
        let year = [2024, 2025, 2026][next(3) as usize];
        let q = 1 + next(7);
        let units = UnitSelection::Quantity {
            quantity: Quantity::new(q).unwrap(),
            filter: SetFilter {
                kind: Some(jcm()),
                vintage: Some(Vintage::new(year.into()).unwrap()),
                ..SetFilter::default()
            },
        };
        let have = held.get(&(from, year)).copied().unwrap_or(0);
        let held_before: Vec<(u64, u64)> = set_ranges(&s, from, year);
        let cmd = Command::Transfer {
            from: AccountId(from),
            to: AccountId(to),
            units,
        };
        match s.execute(&cmd, T0) {
            Ok(events) => {
                assert!(have >= q, "step {step}: accepted beyond what is held");
                accepted += 1;
                *held.get_mut(&(from, year)).unwrap() -= q;
                *held.entry((to, year)).or_default() += q;
                // What left is the sender's lowest q units of that set, block by block in
                // ascending serial order, the one block split keeping its low end (TV-2).
                let mut want = held_before.clone();
                let mut left = q;
                while left > 0 {
                    let (a, b) = want[0];
                    if b - a < left {
                        left -= b - a + 1;
                        want.remove(0);
                    } else {
                        want[0] = (a, b - left);
                        left = 0;
                    }
                }
                assert_eq!(set_ranges(&s, from, year), want, "step {step}");
                journal.push(events);
            }
            Err(r) => {
                assert!(have < q, "step {step}: refused with {have} held: {r}");
                assert_eq!(
                    r.codes(),
                    vec![Code::QUANTITY_EXCEEDS_AVAILABLE],
                    "step {step}"
                );
                short += 1;
            }
        }
        if step % 1_000 == 0 {
            s.check_invariants().unwrap();
        }
    }
    s.check_invariants().unwrap();
    for ((account, year), units) in &held {
        let got: u64 = set_ranges(&s, *account, *year)
            .iter()
            .map(|(a, b)| b - a + 1)
            .sum();
        assert_eq!(got, *units, "account {account} vintage {year}");
    }
    let most = (1..=5)
        .map(|a| s.holding_blocks(AccountId(a)))
        .max()
        .unwrap();
    assert!(
        most > 1_000,
        "the accounts fragmented: at most {most} blocks"
    );
    assert!(
        accepted > 15_000 && short > 0,
        "accepted {accepted}, short {short}"
    );
    let mut cold = registry();
    for year in [2024, 2025, 2026] {
        issue(&mut cold, 1, 30_000, year);
    }
    for events in &journal {
        cold.replay(events).unwrap();
    }
    cold.check_invariants().unwrap();
    assert_eq!(cold.state_hash(), s.state_hash());
}

/// An account's holdings list its sets by attributes, then labels (each in order of first
/// use), then serial, whatever order the account's index numbered them in: here the relabelled
/// 2024 units form a set first used after the 2026 one, and still come before it.
#[test]
fn holdings_list_sets_by_attributes_then_labels_however_first_used() {
    let mut s = registry();
    issue(&mut s, 1, 100, 2024);
    issue(&mut s, 1, 100, 2026);
    ok(
        &mut s,
        Command::SetLabels {
            ranges: vec![range(1, 50)],
            labels: Labels {
                first_transferred: true,
                ..Labels::default()
            },
            citation: None,
        },
    );
    let got: Vec<(Vintage, bool, u64, u64)> = s
        .holdings(AccountId(1))
        .iter()
        .map(|b| {
            (
                b.attributes.vintage,
                b.labels.first_transferred,
                b.range.start(),
                b.range.end(),
            )
        })
        .collect();
    let year = |y: i32| Vintage::new(y.into()).unwrap();
    assert_eq!(
        got,
        vec![
            (year(2024), false, 51, 100),
            (year(2024), true, 1, 50),
            (year(2026), false, 101, 200),
        ]
    );
    s.check_invariants().unwrap();
}

/// A seeded xorshift generator: each call gives a number below its argument.
fn below(mut rng: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    }
}

/// The ranges an account holds of one vintage, ascending.
fn set_ranges(s: &tanso_core::registry::RegistryState, account: u64, year: i32) -> Vec<(u64, u64)> {
    s.holdings(AccountId(account))
        .iter()
        .filter(|b| b.attributes.vintage == Vintage::new(year.into()).unwrap())
        .map(|b| (b.range.start(), b.range.end()))
        .collect()
}

/// A transfer between two of accounts 1..=5 (from `next`): of one block the sender holds in
/// `s`, by its range, if `ranged` (`None` if it holds too few), else of 1..=300 units by
/// quantity.
fn random_transfer(
    s: &tanso_core::registry::RegistryState,
    next: &mut impl FnMut(u64) -> u64,
    ranged: bool,
) -> Option<Command> {
    let from = 1 + next(5);
    let to = 1 + (from + next(4)) % 5;
    let units = if ranged {
        let b = s.holdings(AccountId(from)).get(next(4) as usize)?.clone();
        UnitSelection::Ranges(vec![range(b.range.start(), b.range.end())])
    } else {
        by_quantity(1 + next(300))
    };
    Some(Command::Transfer {
        from: AccountId(from),
        to: AccountId(to),
        units,
    })
}

/// Every block, accounts 1..=5's holdings, the blocks holding `serials` random serials of
/// 1..=10,000 (from `next`) and the state hash read the same in `s` and `other`.
fn same_reads(
    s: &tanso_core::registry::RegistryState,
    other: &tanso_core::registry::RegistryState,
    next: &mut impl FnMut(u64) -> u64,
    serials: usize,
    step: usize,
) {
    assert_eq!(s.blocks(), other.blocks(), "step {step}");
    for a in 1..=5 {
        assert_eq!(
            s.holdings(AccountId(a)),
            other.holdings(AccountId(a)),
            "step {step}"
        );
    }
    for _ in 0..serials {
        let serial = 1 + next(10_000);
        assert_eq!(
            s.block_at(ind01(), serial),
            other.block_at(ind01(), serial),
            "step {step}, serial {serial}"
        );
    }
    assert_eq!(s.state_hash(), other.state_hash(), "step {step}");
}

/// Quantity transfers keep their owner changes pending (`RegistryState::settle` writes them):
/// every read while they are pending — every block in serial order, an account's holdings, the
/// block holding a serial, the state hash, the invariants — equals the same read of a settled
/// copy, through thousands of transfers that split, merge (freeing slots that later splits
/// reuse with older changes still pending) and cross the point where the hand-over writes its
/// pending changes itself. Transfers by range (the general path) settle first.
#[test]
fn owner_changes_kept_pending_read_as_if_written() {
    let mut s = registry();
    issue(&mut s, 1, 10_000, 2026);
    let mut next = below(0x2545_f491_4f6c_dd1du64);
    let (mut by_range, mut pending_reads, mut merged_pending, mut flushed) = (0, 0, 0, 0);
    let mut most = 0;
    for step in 0..8_000 {
        let (pending_before, blocks_before) = (s.pending_owner_changes(), s.block_count());
        let ranged = step < 1_500 && step % 31 == 0;
        let Some(cmd) = random_transfer(&s, &mut next, ranged) else {
            continue;
        };
        if s.execute(&cmd, T0).is_err() {
            continue;
        }
        let pending = s.pending_owner_changes();
        most = most.max(pending);
        if ranged {
            by_range += 1;
            assert_eq!(pending, 0, "step {step}: the general path settles first");
        } else if pending < pending_before {
            flushed += 1;
        }
        if pending > 0 && s.block_count() < blocks_before + 1 {
            merged_pending += 1;
        }
        if pending == 0 {
            continue;
        }
        pending_reads += 1;
        let mut settled = s.clone();
        settled.settle();
        assert_eq!(settled.pending_owner_changes(), 0);
        same_reads(&s, &settled, &mut next, 8, step);
        if step % 100 == 0 {
            s.check_invariants().unwrap();
        }
    }
    s.check_invariants().unwrap();
    assert!(
        by_range > 30 && pending_reads > 2_500 && merged_pending > 200 && flushed > 0,
        "ranges {by_range}, reads {pending_reads}, merges {merged_pending}, flushed {flushed}, most {most}"
    );
    assert!(most >= 3_000, "at most {most} changes pending");
}

/// The owners lent out (`RegistryState::lend_owners`) while quantity transfers go on: every
/// read while they are out (every block, holdings, the block holding a serial, the state hash,
/// the invariants) equals the same read of a twin that never lends them, whether the lent
/// changes are written on another thread and given back, or a command that needs the owners
/// comes first (they are rebuilt from the indexes, and the loan given back later is dropped).
#[test]
fn owners_lent_out_read_as_if_written() {
    let (mut s, mut twin) = (registry(), registry());
    issue(&mut s, 1, 10_000, 2026);
    issue(&mut twin, 1, 10_000, 2026);
    let mut next = below(0x9e37_79b9_7f4a_7c15u64);
    let mut loan: Option<tanso_core::OwnerStores> = None;
    let (mut lent, mut given_back, mut stale, mut reads_away, mut needed) = (0, 0, 0, 0, 0);
    for step in 0..6_000 {
        let ranged = step % 37 == 0;
        let Some(cmd) = random_transfer(&twin, &mut next, ranged) else {
            continue;
        };
        if ranged && s.owners_away() {
            needed += 1;
        }
        let (a, b) = (s.execute(&cmd, T0), twin.execute(&cmd, T0));
        assert_eq!(a, b, "step {step}");
        if ranged {
            assert!(
                !s.owners_away(),
                "step {step}: a ranged transfer brings them home"
            );
        }
        match (loan.take(), next(8)) {
            (None, 0..=2) => {
                if let Some(l) = s.lend_owners() {
                    assert!(l.changes() > 0 && s.owners_away() && s.pending_owner_changes() == 0);
                    assert!(s.lend_owners().is_none(), "step {step}: lent once");
                    lent += 1;
                    loan = Some(l);
                }
            }
            (Some(mut l), 0..=1) => {
                // Written on another thread, as a commit thread does.
                let away = s.owners_away();
                l = std::thread::spawn(move || {
                    l.apply();
                    l
                })
                .join()
                .unwrap();
                assert_eq!(l.changes(), 0);
                s.return_owners(l);
                assert!(!s.owners_away());
                if away {
                    given_back += 1;
                } else {
                    stale += 1;
                }
            }
            (l, _) => loan = l,
        }
        if s.owners_away() {
            reads_away += 1;
        }
        if step % 3 == 0 || s.owners_away() {
            same_reads(&s, &twin, &mut next, 4, step);
        }
        if step % 200 == 0 {
            s.check_invariants().unwrap();
        }
    }
    if let Some(l) = loan {
        s.return_owners(l);
    }
    s.settle();
    twin.settle();
    s.check_invariants().unwrap();
    assert_eq!(s.state_hash(), twin.state_hash());
    assert!(
        lent > 300 && given_back > 100 && stale > 5 && reads_away > 1_000 && needed > 5,
        "lent {lent}, given back {given_back}, stale {stale}, reads away {reads_away}, \
         needed {needed}"
    );
}

/// An owner's index keeps a block's end as a 32-bit length from its start; a block of 2^32
/// units or more reads its end from its record. Splits, merges and selections across that
/// edge keep every end exact.
#[test]
fn blocks_too_long_for_an_index_entry_keep_their_ends() {
    let mut s = registry();
    let big = (1u64 << 33) + 7;
    issue(&mut s, 1, big, 2024);
    let transfer = |s: &mut tanso_core::registry::RegistryState, from, to, units| {
        ok(
            s,
            Command::Transfer {
                from: AccountId(from),
                to: AccountId(to),
                units,
            },
        );
        s.check_invariants().unwrap();
    };
    transfer(&mut s, 1, 2, by_quantity(5));
    assert_eq!(held_ranges(&s, 1), vec![(1, big - 5)]);
    assert_eq!(held_ranges(&s, 2), vec![(big - 4, big)]);
    // Most of the long block: what is handed over joins the recipient's block.
    transfer(&mut s, 1, 2, by_quantity(big - 105));
    assert_eq!(held_ranges(&s, 1), vec![(1, 100)]);
    assert_eq!(held_ranges(&s, 2), vec![(101, big)]);
    // Exactly 2^32 units: a block whose length from its start is `u32::MAX`.
    transfer(&mut s, 2, 1, by_quantity(1 << 32));
    let cut = big - (1 << 32) + 1;
    assert_eq!(held_ranges(&s, 1), vec![(1, 100), (cut, big)]);
    assert_eq!(held_ranges(&s, 2), vec![(101, cut - 1)]);
    // A quantity reaching past the short block into the long one takes its high end.
    transfer(&mut s, 1, 3, by_quantity(150));
    assert_eq!(held_ranges(&s, 1), vec![(cut, big - 50)]);
    assert_eq!(held_ranges(&s, 3), vec![(1, 100), (big - 49, big)]);
    // Ranges out of the middle of a long block, and back: the pieces merge again.
    transfer(
        &mut s,
        2,
        3,
        UnitSelection::Ranges(vec![range(1 << 20, 1 << 31)]),
    );
    assert_eq!(
        held_ranges(&s, 2),
        vec![(101, (1 << 20) - 1), ((1 << 31) + 1, cut - 1)]
    );
    transfer(
        &mut s,
        3,
        2,
        UnitSelection::Ranges(vec![range(1 << 20, 1 << 31)]),
    );
    assert_eq!(held_ranges(&s, 2), vec![(101, cut - 1)]);
    assert_eq!(held_ranges(&s, 3), vec![(1, 100), (big - 49, big)]);
}
