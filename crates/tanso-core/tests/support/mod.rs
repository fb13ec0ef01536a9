//! Shared fixtures for the core's integration tests: a registry with holders and accounts.
#![allow(dead_code)]

use tanso_core::registry::RegistryState;
use tanso_core::*;

pub const T0: Timestamp = Timestamp(1_767_225_600_000_000); // 2026-01-01T00:00:00Z

pub fn ind01() -> RegistryId {
    RegistryId::parse("IND01").unwrap()
}

pub fn kind(s: &str) -> AccountKindCode {
    AccountKindCode::parse(s).unwrap()
}

pub fn jcm() -> UnitKindCode {
    UnitKindCode::parse("JCM").unwrap()
}

pub fn project() -> ProjectId {
    ProjectId::parse("IN001").unwrap()
}

pub fn period(y: i32) -> MitigationPeriod {
    MitigationPeriod::new(
        Date::from_ymd(y, 1, 1).unwrap(),
        Date::from_ymd(y, 12, 31).unwrap(),
    )
    .unwrap()
}

pub fn ok(s: &mut RegistryState, c: Command) -> Vec<Event> {
    match s.execute(&c, T0) {
        Ok(e) => e,
        Err(r) => panic!("{} rejected: {r}", c.name()),
    }
}

pub fn codes(s: &mut RegistryState, c: Command) -> Vec<u16> {
    match s.execute(&c, T0) {
        Ok(_) => panic!("{} accepted, expected a rejection", c.name()),
        Err(r) => r.codes().into_iter().map(|c| c.0).collect(),
    }
}

/// Registry IND01 with holder 1 and accounts: 1..=5 entity holding, 90 retirement,
/// 91 voluntary cancellation, 92 OMGE cancellation, 80 pending issuance.
pub fn registry() -> RegistryState {
    let mut s = RegistryState::new();
    ok(
        &mut s,
        Command::OpenRegistry {
            registry: ind01(),
            straddle: StraddlePolicy::ProRataDaysRemainderLast,
        },
    );
    ok(
        &mut s,
        Command::RegisterHolder {
            holder: HolderId(1),
            kind: HolderKind::parse("company").unwrap(),
            name: PersonalRef([7; 32]),
        },
    );
    for (a, k) in [
        (1, "entity-holding"),
        (2, "entity-holding"),
        (3, "entity-holding"),
        (4, "entity-holding"),
        (5, "entity-holding"),
        (80, "pending-issuance"),
        (90, "retirement"),
        (91, "voluntary-cancellation"),
        (92, "omge-cancellation"),
    ] {
        ok(
            &mut s,
            Command::OpenAccount {
                account: AccountId(a),
                holder: HolderId(1),
                kind: kind(k),
            },
        );
    }
    s
}

pub fn issue(s: &mut RegistryState, account: u64, q: u64, year: i32) -> Vec<Event> {
    ok(
        s,
        Command::Issue {
            account: AccountId(account),
            kind: jcm(),
            project: Some(project()),
            period: period(year),
            vintage: None,
            quantity: Quantity::new(q).unwrap(),
            unit_start: None,
            citation: None,
            business_key: None,
        },
    )
}

pub fn by_quantity(q: u64) -> UnitSelection {
    UnitSelection::Quantity {
        quantity: Quantity::new(q).unwrap(),
        filter: SetFilter {
            kind: Some(jcm()),
            ..SetFilter::default()
        },
    }
}

pub fn range(s: u64, e: u64) -> IssuedRange {
    IssuedRange {
        issuing: ind01(),
        range: SerialRange::new(s, e).unwrap(),
    }
}

pub fn held_ranges(s: &RegistryState, account: u64) -> Vec<(u64, u64)> {
    s.holdings(AccountId(account))
        .iter()
        .map(|b| (b.range.start(), b.range.end()))
        .collect()
}
