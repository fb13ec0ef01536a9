//! Article 6.2 on the core: a party's authority chain (approach, NDC, initial report,
//! authorizations) and the registries that apply its authorizations, use and cancel ITMOs;
//! the AEF projection of their journals. Named regression tests for the UNDP audit's findings
//! that live here (F3–F8, F11, F15; F1, F2, F10, F12–F14 are in `article6_accounting.rs`), and
//! a property test of the holdings identity over random histories.

use proptest::prelude::*;
use std::collections::BTreeMap;
use tanso_core::article6::accounting::{CaMethod, Metric, Ndc, NdcKind};
use tanso_core::article6::authority::*;
use tanso_core::article6::itmo::CaId;
use tanso_core::article6::report::{self, ActionRecord, ActionType, AuthInfo};
use tanso_core::jcm::{DocRef, ForeignIssuance, IssuanceLine, JcmEvent};
use tanso_core::registry::RegistryState;
use tanso_core::*;

const YEAR: i64 = 365 * 86_400_000_000;
/// 2026-01-01T00:00:00Z in microseconds.
const T2026: i64 = 1_767_225_600_000_000;

fn id<T>(s: &str, f: fn(&str) -> Result<T, Code>) -> T {
    f(s).unwrap_or_else(|c| panic!("bad id {s}: {c}"))
}
fn party(s: &str) -> PartyId {
    id(s, PartyId::parse)
}
fn reg(s: &str) -> RegistryId {
    id(s, RegistryId::parse)
}
fn doc(n: u8) -> DocRef {
    DocRef {
        hash: [n; 32],
        size: 10,
    }
}
fn dec(s: &str) -> rust_decimal::Decimal {
    s.parse().expect("decimal")
}
/// `n` units no authorization covers yet.
fn qty(n: u64) -> UnitSelection {
    UnitSelection::Quantity {
        quantity: Quantity::new(n).expect("q"),
        filter: SetFilter {
            labels: Some(Labels::default()),
            ..SetFilter::default()
        },
    }
}

/// `n` units first transferred under version 1 of `auth`.
fn itmos(n: u64, auth: &str) -> UnitSelection {
    UnitSelection::Quantity {
        quantity: Quantity::new(n).expect("q"),
        filter: SetFilter {
            labels: Some(Labels {
                authorization: Some(AuthorizationRef {
                    party: party("IND"),
                    authorization: id(auth, DecisionId::parse),
                    version: 1,
                }),
                first_transferred: true,
                adjustment: AdjustmentStatus::Pending,
            }),
            ..SetFilter::default()
        },
    }
}

struct World {
    ind_auth: ChainState,
    ind_entries: Vec<Vec<Event>>,
    ind: ChainState,
    jpn: ChainState,
    now: Timestamp,
    /// Every registry entry: (registry, time, state before, events).
    log: Vec<(RegistryId, Timestamp, RegistryState, Vec<Event>)>,
}

impl World {
    fn new() -> World {
        let auth_chain = ChainId::PartyAuthority(party("IND"));
        let mut w = World {
            ind_auth: ChainState::new(&auth_chain),
            ind_entries: Vec::new(),
            ind: ChainState::new(&ChainId::Registry(reg("IND01"))),
            jpn: ChainState::new(&ChainId::Registry(reg("JPN01"))),
            now: Timestamp(T2026),
            log: Vec::new(),
        };
        w.party(Command::OpenPartyAuthority {
            party: party("IND"),
        })
        .expect("open");
        for r in ["IND01", "JPN01"] {
            let mut cmds = vec![
                Command::OpenRegistry {
                    registry: reg(r),
                    straddle: StraddlePolicy::ProRataDaysRemainderLast,
                },
                Command::RegisterHolder {
                    holder: HolderId(1),
                    kind: id("government", HolderKind::parse),
                    name: PersonalRef([1; 32]),
                },
                Command::RegisterHolder {
                    holder: HolderId(2),
                    kind: id("company", HolderKind::parse),
                    name: PersonalRef([2; 32]),
                },
            ];
            for (a, h, k) in [
                (1, 1, "party-holding"),
                (2, 2, "entity-holding"),
                (90, 1, "retirement"),
                (91, 1, "voluntary-cancellation"),
                (92, 1, "omge-cancellation"),
            ] {
                cmds.push(Command::OpenAccount {
                    account: AccountId(a),
                    holder: HolderId(h),
                    kind: id(k, AccountKindCode::parse),
                });
            }
            for c in cmds {
                w.registry(r, c).expect("setup");
            }
        }
        w
    }

    fn party(&mut self, cmd: Command) -> Result<Vec<Event>, Rejection> {
        let chain = ChainId::PartyAuthority(party("IND"));
        let before = self.ind_auth.state_hash();
        let r = self
            .ind_auth
            .execute(&chain, &id("moefcc", Actor::parse), &cmd, self.now);
        match &r {
            Ok(ev) => self.ind_entries.push(ev.clone()),
            Err(_) => assert_eq!(before, self.ind_auth.state_hash()),
        }
        r
    }

    fn a6(&mut self, c: A6Command) -> Result<Vec<Event>, Rejection> {
        self.party(Command::A6(Box::new(c)))
    }

    fn registry(&mut self, r: &str, cmd: Command) -> Result<Vec<Event>, Rejection> {
        let chain = ChainId::Registry(reg(r));
        let now = self.now;
        let state = if r == "IND01" {
            &mut self.ind
        } else {
            &mut self.jpn
        };
        let before = state.registry().expect("registry").clone();
        let h = state.state_hash();
        let res = state.execute(&chain, &id("officer", Actor::parse), &cmd, now);
        match &res {
            Ok(ev) => self.log.push((reg(r), now, before, ev.clone())),
            Err(_) => assert_eq!(h, state.state_hash(), "a rejection changed state"),
        }
        res
    }

    /// Approach CA0001 (IND, JPN), NDC 2021–2030 trajectory, complete initial report.
    fn set_up_party(&mut self) {
        self.a6(A6Command::RegisterApproach {
            ca: CaId::parse("CA0001").expect("ca"),
            parties: vec![party("IND"), party("JPN")],
            document: doc(1),
        })
        .expect("approach");
        self.a6(A6Command::SetNdc {
            ndc: Ndc {
                kind: NdcKind::SingleYear,
                first_year: 2021,
                last_year: 2030,
                target_year: 2030,
                method: CaMethod::Trajectory,
                metric: Metric::Ghg,
            },
            time_zone_minutes: 330,
            trajectory: BTreeMap::new(),
        })
        .expect("ndc");
        self.a6(A6Command::RecordInitialReport(complete_report()))
            .expect("initial report");
    }

    /// Records authorization `name` (next version) and returns the entry's sequence.
    fn authorize(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Authorization),
    ) -> Result<u64, Rejection> {
        let version = self
            .ind_auth
            .decisions()
            .and_then(|d| d.a6.authorizations.get(&id(name, DecisionId::parse)))
            .map_or(1, |v| v.len() as u32 + 1);
        let mut a = Authorization {
            id: id(name, DecisionId::parse),
            version,
            ca: CaId::parse("CA0001").expect("ca"),
            date: Date::parse("2026-06-01").expect("date"),
            purposes: Purposes {
                ndc: true,
                oimp: false,
            },
            parties: vec![party("JPN")],
            entities: vec![AuthorizedEntity {
                registry: reg("JPN01"),
                holder: HolderId(2),
            }],
            quantity: Some(1_000),
            first_vintage: 2021,
            last_vintage: 2030,
            activity_types: vec!["Solar".into()],
            sectors: vec!["Energy".into()],
            first_transfer_oimp: None,
            oimp_purpose: None,
            metric: Metric::Ghg,
            terms: doc(2),
        };
        f(&mut a);
        self.a6(A6Command::Authorize(a))?;
        Ok(self.ind_entries.len() as u64)
    }

    fn apply(
        &mut self,
        r: &str,
        seq: u64,
        account: u64,
        units: UnitSelection,
    ) -> Result<Vec<Event>, Rejection> {
        let events = self.ind_entries[(seq - 1) as usize].clone();
        let citation = Citation {
            chain: ChainId::PartyAuthority(party("IND")),
            seq,
            hash: [9; 32],
        };
        self.registry(
            r,
            Command::ApplyAuthorization {
                cited: Some(CitedEntry {
                    seq,
                    hash: citation.hash,
                    events,
                }),
                citation,
                account: AccountId(account),
                units,
            },
        )
    }

    fn issue(&mut self, r: &str, account: u64, q: u64, year: i32) {
        let period = MitigationPeriod::new(
            Date::from_ymd(year, 1, 1).expect("d"),
            Date::from_ymd(year, 12, 31).expect("d"),
        )
        .expect("p");
        self.registry(
            r,
            Command::Issue {
                account: AccountId(account),
                kind: id("JCM", UnitKindCode::parse),
                project: Some(id("IN001", ProjectId::parse)),
                period,
                vintage: None,
                quantity: Quantity::new(q).expect("q"),
                unit_start: None,
                citation: None,
                business_key: None,
            },
        )
        .expect("issue");
    }

    /// JCM credits of India's project IN001 issued into Japan's registry (a notified
    /// issuance, as the mechanism chain would cite it).
    fn issue_abroad(&mut self, q: u64, year: i32, key: &str) {
        let period = MitigationPeriod::new(
            Date::from_ymd(year, 1, 1).expect("d"),
            Date::from_ymd(year, 12, 31).expect("d"),
        )
        .expect("p");
        let ev = Event::Jcm(JcmEvent::IssuanceNotified {
            decision: id(key, DecisionId::parse),
            project: id("IN001", ProjectId::parse),
            host: party("IND"),
            period_no: 1,
            foreign: ForeignIssuance::NotYetAuthorized,
            eligible: true,
            lines: vec![IssuanceLine {
                registry: reg("JPN01"),
                account: AccountId(1),
                period,
                quantity: q,
                unit_start: 1,
            }],
            by: id("secretariat", Actor::parse),
        });
        let citation = Citation {
            chain: ChainId::parse("mechanism:JCM-IND-JPN").expect("chain"),
            seq: 1,
            hash: [5; 32],
        };
        self.registry(
            "JPN01",
            Command::IssueFromDecision {
                cited: Some(CitedEntry {
                    seq: 1,
                    hash: citation.hash,
                    events: vec![ev],
                }),
                citation,
            },
        )
        .expect("issue abroad");
    }

    fn auth_info(&self) -> impl Fn(&AuthorizationRef) -> Option<AuthInfo> + '_ {
        move |r| {
            let a = self
                .ind_auth
                .decisions()?
                .a6
                .authorization(&r.authorization, r.version)?;
            Some(AuthInfo {
                ca: a.ca,
                purposes: a.purposes,
                first_transfer_oimp: a.first_transfer_oimp,
                oimp_purpose: a.oimp_purpose.clone(),
                sector: a.sectors.join(", "),
            })
        }
    }

    fn actions(&self) -> Vec<ActionRecord> {
        let auth = self.auth_info();
        let tz = |p: PartyId| if p == party("IND") { 330 } else { 540 };
        self.log
            .iter()
            .flat_map(|(_, t, before, ev)| report::entry_actions(before, *t, ev, &auth, &tz))
            .collect()
    }

    fn labels(&self, r: &str, account: u64) -> Vec<(u64, bool, Option<u32>)> {
        let s = if r == "IND01" { &self.ind } else { &self.jpn };
        let mut blocks = s.registry().expect("registry").holdings(AccountId(account));
        blocks.sort_by_key(|b| b.range.start());
        blocks
            .iter()
            .map(|b| {
                (
                    b.range.len(),
                    b.labels.first_transferred,
                    b.labels.authorization.as_ref().map(|a| a.version),
                )
            })
            .collect()
    }
}

fn complete_report() -> InitialReport {
    InitialReport {
        ndc_quantified: Some(dec("3500000000")),
        participation_demonstrated: true,
        sustainable_development: Some(doc(3)),
        human_rights: Some(doc(4)),
        gender: Some(doc(5)),
        safeguards: Some(doc(6)),
        environmental_integrity: Some(doc(7)),
        entities_listed: true,
        document: doc(8),
    }
}

fn codes(r: Result<impl std::fmt::Debug, Rejection>) -> Vec<Code> {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(r) => r.codes(),
    }
}

#[test]
fn f11_the_initial_report_needs_its_contents_and_comes_before_authorizations() {
    let mut w = World::new();
    w.a6(A6Command::RegisterApproach {
        ca: CaId::parse("CA0001").expect("ca"),
        parties: vec![party("IND"), party("JPN")],
        document: doc(1),
    })
    .expect("approach");
    // No authorization before the initial report (policy, on by default).
    assert_eq!(
        codes(w.authorize("AUTH-1", |_| {})),
        vec![Code::INITIAL_REPORT_MISSING]
    );
    // The NDC must be recorded, and the report cannot have an empty quantification.
    let mut r = complete_report();
    r.ndc_quantified = None;
    r.human_rights = None;
    assert_eq!(
        codes(w.a6(A6Command::RecordInitialReport(r.clone()))),
        vec![Code::INITIAL_REPORT_INCOMPLETE, Code::NDC_UNKNOWN]
    );
    w.a6(A6Command::SetNdc {
        ndc: Ndc {
            kind: NdcKind::SingleYear,
            first_year: 2021,
            last_year: 2030,
            target_year: 2030,
            method: CaMethod::Trajectory,
            metric: Metric::Ghg,
        },
        time_zone_minutes: 330,
        trajectory: BTreeMap::new(),
    })
    .expect("ndc");
    let rej = w
        .a6(A6Command::RecordInitialReport(r))
        .expect_err("incomplete");
    assert_eq!(rej.codes(), vec![Code::INITIAL_REPORT_INCOMPLETE]);
    assert!(rej.failures[0].message.contains("NDC quantification"));
    assert!(rej.failures[0].message.contains("human rights"));
    w.a6(A6Command::RecordInitialReport(complete_report()))
        .expect("complete");
    w.authorize("AUTH-1", |_| {}).expect("now it can");
    // Non-GHG NDCs are refused (F10, rejection path).
    let c = w.a6(A6Command::SetNdc {
        ndc: Ndc {
            kind: NdcKind::SingleYear,
            first_year: 2021,
            last_year: 2030,
            target_year: 2030,
            method: CaMethod::Trajectory,
            metric: Metric::NonGhg,
        },
        time_zone_minutes: 330,
        trajectory: BTreeMap::new(),
    });
    assert_eq!(codes(c), vec![Code::METRIC_UNSUPPORTED]);
}

#[test]
fn authorizations_are_append_only_versions_from_2021() {
    let mut w = World::new();
    w.set_up_party();
    assert_eq!(
        codes(w.authorize("AUTH-1", |a| a.first_vintage = 2020)),
        vec![Code::VINTAGE_NOT_AUTHORIZABLE]
    );
    assert_eq!(
        codes(w.authorize("AUTH-1", |a| a.version = 2)),
        vec![Code::AUTHORIZATION_VERSION]
    );
    assert_eq!(
        codes(w.authorize("AUTH-1", |a| a.ca = CaId::parse("CA0009").expect("ca"))),
        vec![Code::CA_UNKNOWN]
    );
    w.authorize("AUTH-1", |_| {}).expect("v1");
    w.authorize("AUTH-1", |a| a.quantity = Some(2_000))
        .expect("v2");
    let v = &w.ind_auth.decisions().expect("d").a6.authorizations[&id("AUTH-1", DecisionId::parse)];
    assert_eq!(v.iter().map(|a| a.version).collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn f5_f6_purposes_are_a_set_and_the_oimp_first_transfer_is_chosen_per_authorization() {
    let mut w = World::new();
    w.set_up_party();
    w.issue("IND01", 1, 300, 2026);
    // NDC and OIMP together; OIMP needs its first-transfer definition.
    assert_eq!(
        codes(w.authorize("AUTH-BOTH", |a| a.purposes.oimp = true)),
        vec![Code::PURPOSE_NOT_AUTHORIZED]
    );
    w.authorize("AUTH-BOTH", |a| {
        a.purposes.oimp = true;
        a.first_transfer_oimp = Some(FirstTransferDefinition::UseOrCancellation);
    })
    .expect("NDC and OIMP");
    assert_eq!(
        w.ind_auth.decisions().expect("d").a6.authorizations[&id("AUTH-BOTH", DecisionId::parse)]
            [0]
        .purposes
        .aef(),
        "NDC and OIMP"
    );
    // Two OIMP authorizations, each with its own definition.
    let at_auth = w
        .authorize("AUTH-OIMP-A", |a| {
            a.purposes = Purposes {
                ndc: false,
                oimp: true,
            };
            a.first_transfer_oimp = Some(FirstTransferDefinition::Authorization);
            a.oimp_purpose = Some("CORSIA".into());
        })
        .expect("A");
    let at_use = w
        .authorize("AUTH-OIMP-U", |a| {
            a.purposes = Purposes {
                ndc: false,
                oimp: true,
            };
            a.first_transfer_oimp = Some(FirstTransferDefinition::UseOrCancellation);
            a.oimp_purpose = Some("CORSIA".into());
        })
        .expect("U");
    w.apply("IND01", at_auth, 1, qty(100)).expect("apply A");
    w.apply("IND01", at_use, 1, qty(100)).expect("apply U");
    // Authorization is the first transfer for A, not for U.
    assert_eq!(
        w.labels("IND01", 1),
        vec![
            (100, false, None),
            (100, false, Some(1)),
            (100, true, Some(1))
        ]
    );
    // Using U's units for OIMP is their first transfer.
    w.registry(
        "IND01",
        Command::Retire {
            from: AccountId(1),
            to: AccountId(90),
            units: UnitSelection::Ranges(vec![IssuedRange {
                issuing: reg("IND01"),
                range: SerialRange::new(101, 110).expect("r"),
            }]),
            purpose: id("oimp", PurposeCode::parse),
            beneficiary: None,
            beneficiary_name: None,
            note: None,
        },
    )
    .expect("oimp use");
    let actions = w.actions();
    let kinds: Vec<(ActionType, &str, u64)> = actions
        .iter()
        .map(|a| (a.action, a.subtype, a.quantity()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                ActionType::FirstTransfer,
                "First transfer: authorization (OIMP)",
                100
            ),
            (
                ActionType::FirstTransfer,
                "First transfer: use for OIMP",
                10
            ),
            (ActionType::Use, "Use for OIMP", 10),
        ]
    );
    assert_eq!(actions[2].oimp_purpose.as_deref(), Some("CORSIA"));
}

#[test]
fn f4_the_purpose_travels_with_the_units() {
    let mut w = World::new();
    w.set_up_party();
    w.issue_abroad(100, 2026, "JC-1");
    let oimp = w
        .authorize("AUTH-OIMP", |a| {
            a.purposes = Purposes {
                ndc: false,
                oimp: true,
            };
            a.first_transfer_oimp = Some(FirstTransferDefinition::Issuance);
        })
        .expect("oimp");
    w.apply("JPN01", oimp, 1, qty(50)).expect("apply");
    // OIMP-only units cannot be used towards Japan's NDC.
    let c = w.registry(
        "JPN01",
        Command::UseTowardsNdc {
            from: AccountId(1),
            to: AccountId(90),
            units: UnitSelection::Ranges(vec![IssuedRange {
                issuing: reg("JPN01"),
                range: SerialRange::new(1, 10).expect("r"),
            }]),
            year: 2026,
            beneficiary: None,
        },
    );
    assert_eq!(codes(c), vec![Code::PURPOSE_NOT_AUTHORIZED]);
    // Units no authorization covers cannot either.
    let c = w.registry(
        "JPN01",
        Command::UseTowardsNdc {
            from: AccountId(1),
            to: AccountId(90),
            units: UnitSelection::Ranges(vec![IssuedRange {
                issuing: reg("JPN01"),
                range: SerialRange::new(60, 70).expect("r"),
            }]),
            year: 2026,
            beneficiary: None,
        },
    );
    assert_eq!(codes(c), vec![Code::PURPOSE_NOT_AUTHORIZED]);
}

#[test]
fn f7_f15_first_transfer_of_credits_issued_abroad_names_the_real_parties_and_splits_exactly() {
    let mut w = World::new();
    w.set_up_party();
    w.issue_abroad(300, 2026, "JC-1");
    let seq = w.authorize("AUTH-1", |_| {}).expect("auth");
    // A partial first transfer of a never-transferred block (F15): 120 of 300 (the high end,
    // as every selection by quantity takes it).
    w.apply("JPN01", seq, 1, qty(120)).expect("apply");
    assert_eq!(
        w.labels("JPN01", 1),
        vec![(180, false, None), (120, true, Some(1))],
        "the split halves keep their own flags"
    );
    // Units already first transferred keep their version: a second application is refused.
    let again = w.apply(
        "JPN01",
        seq,
        1,
        UnitSelection::Ranges(vec![IssuedRange {
            issuing: reg("JPN01"),
            range: SerialRange::new(170, 190).expect("r"),
        }]),
    );
    assert_eq!(codes(again), vec![Code::ALREADY_FIRST_TRANSFERRED]);
    // The rest can still be authorized (by a later version).
    let v2 = w
        .authorize("AUTH-1", |a| a.quantity = Some(1_000))
        .expect("v2");
    w.apply(
        "JPN01",
        v2,
        1,
        UnitSelection::Ranges(vec![IssuedRange {
            issuing: reg("JPN01"),
            range: SerialRange::new(121, 150).expect("r"),
        }]),
    )
    .expect("the untransferred half");
    // Japan uses 40 towards its 2026 NDC, for the entity the authorization names (F7).
    w.registry(
        "JPN01",
        Command::UseTowardsNdc {
            from: AccountId(1),
            to: AccountId(90),
            units: UnitSelection::Ranges(vec![IssuedRange {
                issuing: reg("JPN01"),
                range: SerialRange::new(181, 220).expect("r"),
            }]),
            year: 2026,
            beneficiary: Some(HolderId(2)),
        },
    )
    .expect("use");
    let a = w.actions();
    let ft: Vec<&ActionRecord> = a
        .iter()
        .filter(|r| r.action == ActionType::FirstTransfer)
        .collect();
    assert_eq!(ft.iter().map(|r| r.quantity()).sum::<u64>(), 150);
    assert!(ft.iter().all(|r| r.reporting == party("IND")
        && r.transferring == Some(party("IND"))
        && r.acquiring == Some(party("JPN"))));
    let acq: Vec<&ActionRecord> = a
        .iter()
        .filter(|r| r.action == ActionType::Acquisition)
        .collect();
    assert!(acq.iter().all(|r| r.reporting == party("JPN")));
    let u = a
        .iter()
        .find(|r| r.action == ActionType::Use)
        .expect("use row");
    assert_eq!(
        (u.reporting, u.using, u.entity, u.use_year, u.quantity()),
        (
            party("JPN"),
            Some(party("JPN")),
            Some(HolderId(2)),
            Some(2026),
            40
        )
    );
    // Dates are local: 2026-01-01T00:00Z is 2026-01-01 in India (UTC+5:30).
    assert!(a.iter().all(|r| r.date.year() == 2026));
    // The authorized quantity holds across versions.
    let v3 = w
        .authorize("AUTH-1", |a| a.quantity = Some(160))
        .expect("v3");
    let over = w.apply(
        "JPN01",
        v3,
        1,
        UnitSelection::Ranges(vec![IssuedRange {
            issuing: reg("JPN01"),
            range: SerialRange::new(151, 180).expect("r"),
        }]),
    );
    assert_eq!(codes(over), vec![Code::AUTHORIZED_QUANTITY_EXCEEDED]);
}

#[test]
fn f3_omge_cancellation_is_an_opt_in_action_that_moves_units() {
    let mut w = World::new();
    w.set_up_party();
    w.issue_abroad(100, 2026, "JC-1");
    // Issuance deducts nothing: all 100 arrive.
    assert_eq!(w.labels("JPN01", 1), vec![(100, false, None)]);
    let seq = w.authorize("AUTH-1", |_| {}).expect("auth");
    w.apply("JPN01", seq, 1, qty(100)).expect("apply");
    w.registry(
        "JPN01",
        Command::Cancel {
            from: AccountId(1),
            to: AccountId(92),
            units: itmos(5, "AUTH-1"),
            kind: CancellationKind::Omge,
            note: None,
        },
    )
    .expect("omge");
    assert_eq!(
        w.labels("JPN01", 92),
        vec![(5, true, Some(1))],
        "the units really moved"
    );
    let rows: Vec<(ActionType, &str, u64)> = w
        .actions()
        .iter()
        .filter(|r| r.action == ActionType::Cancellation)
        .map(|r| (r.action, r.subtype, r.quantity()))
        .collect();
    assert_eq!(
        rows,
        vec![(ActionType::Cancellation, "Cancellation for OMGE", 5)]
    );
    // A plain NDC retirement of authorized units must name its year (use_towards_ndc).
    let c = w.registry(
        "JPN01",
        Command::Retire {
            from: AccountId(1),
            to: AccountId(90),
            units: itmos(1, "AUTH-1"),
            purpose: id("ndc", PurposeCode::parse),
            beneficiary: None,
            beneficiary_name: None,
            note: None,
        },
    );
    assert_eq!(codes(c), vec![Code::USE_YEAR_INVALID]);
}

#[test]
fn f8_annual_information_aggregates_per_approach_party_and_vintage() {
    let mut w = World::new();
    w.set_up_party();
    w.issue_abroad(100, 2025, "JC-1");
    w.issue_abroad(100, 2026, "JC-2");
    let seq = w.authorize("AUTH-1", |_| {}).expect("auth");
    let v = |y: u16| SetFilter {
        vintage: Some(Vintage::new(y as i64).expect("v")),
        labels: Some(Labels::default()),
        ..SetFilter::default()
    };
    w.apply(
        "JPN01",
        seq,
        1,
        UnitSelection::Quantity {
            quantity: Quantity::new(100).expect("q"),
            filter: v(2025),
        },
    )
    .expect("2025 first");
    w.now = Timestamp(T2026 + YEAR); // 2027
    w.apply(
        "JPN01",
        seq,
        1,
        UnitSelection::Quantity {
            quantity: Quantity::new(60).expect("q"),
            filter: v(2026),
        },
    )
    .expect("2026 vintage first transferred in 2027");
    let info = report::annual_information(&w.actions());
    let ft = |year: u16, vintage: u16| {
        info.get(&(
            CaId::parse("CA0001").expect("ca"),
            "Energy".to_string(),
            party("IND"),
            year,
            vintage,
            ActionType::FirstTransfer,
        ))
        .copied()
        .unwrap_or(0)
    };
    assert_eq!(ft(2026, 2025), 100);
    assert_eq!(ft(2027, 2026), 60);
    assert_eq!(ft(2026, 2026), 0);
}

// ----- property: the holdings identity ---------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Apply { ndc: bool, q: u64 },
    Use { q: u64, year: u16 },
    Cancel { q: u64, omge: bool },
    Move { q: u64 },
    NextYear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 1..60u64).prop_map(|(ndc, q)| Op::Apply { ndc, q }),
        (1..40u64, 2021..2031u16).prop_map(|(q, year)| Op::Use { q, year }),
        (1..30u64, any::<bool>()).prop_map(|(q, omge)| Op::Cancel { q, omge }),
        (1..50u64).prop_map(|q| Op::Move { q }),
        Just(Op::NextYear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// For every party and year: holdings at 31 December = holdings a year before + the
    /// year's first-transfer acquisitions and acquisitions − transfers, uses and cancellations.
    #[test]
    fn holdings_identity_holds_for_every_party_and_year(ops in prop::collection::vec(op(), 1..40)) {
        let mut w = World::new();
        w.set_up_party();
        w.issue_abroad(2_000, 2026, "JC-1");
        w.issue("IND01", 1, 2_000, 2026);
        let ndc = w.authorize("AUTH-NDC", |a| a.quantity = None).expect("ndc");
        let oimp = w.authorize("AUTH-OIMP", |a| {
            a.purposes = Purposes { ndc: false, oimp: true };
            a.first_transfer_oimp = Some(FirstTransferDefinition::Authorization);
            a.quantity = None;
        }).expect("oimp");
        let auth_seq = |b: bool| if b { ndc } else { oimp };
        // Year-end holdings per registry, taken before each year change.
        let mut year_end: Vec<(BTreeMap<&str, u64>, usize)> = Vec::new();
        let mut accepted = BTreeMap::<&str, usize>::new();
        let snapshot = |w: &World| {
            let auth = w.auth_info();
            let mut m = BTreeMap::new();
            m.insert("IND01", report::held(&report::holdings(w.ind.registry().expect("r"), &auth)));
            m.insert("JPN01", report::held(&report::holdings(w.jpn.registry().expect("r"), &auth)));
            m
        };
        year_end.push((snapshot(&w), w.log.len()));
        for op in ops {
            let r = match op {
                // India's OIMP units (first transferred at authorization) and Japan's foreign
                // credits (first transferred when the coverage is recorded).
                Op::Apply { ndc, q } => {
                    if ndc { w.apply("JPN01", auth_seq(true), 1, qty(q)) } else { w.apply("IND01", auth_seq(false), 1, qty(q)) }
                }
                Op::Use { q, year } => w.registry("JPN01", Command::UseTowardsNdc {
                    from: AccountId(1), to: AccountId(90),
                    units: UnitSelection::Quantity { quantity: Quantity::new(q).expect("q"), filter: SetFilter {
                        labels: Some(Labels { authorization: Some(AuthorizationRef { party: party("IND"),
                            authorization: id("AUTH-NDC", DecisionId::parse), version: 1 }),
                            first_transferred: true, adjustment: AdjustmentStatus::Pending }),
                        ..SetFilter::default() } },
                    year, beneficiary: None }),
                Op::Cancel { q, omge } => {
                    let (r, from) = if omge { ("IND01", 1) } else { ("JPN01", 1) };
                    w.registry(r, Command::Cancel { from: AccountId(from), to: AccountId(if omge { 92 } else { 91 }),
                        units: UnitSelection::Quantity { quantity: Quantity::new(q).expect("q"), filter: SetFilter {
                            labels: Some(Labels { authorization: Some(AuthorizationRef { party: party("IND"),
                                authorization: id(if omge { "AUTH-OIMP" } else { "AUTH-NDC" }, DecisionId::parse), version: 1 }),
                                first_transferred: true, adjustment: AdjustmentStatus::Pending }),
                            ..SetFilter::default() } },
                        kind: if omge { CancellationKind::Omge } else { CancellationKind::Voluntary }, note: None })
                }
                Op::Move { q } => w.registry("JPN01", Command::Transfer { from: AccountId(1), to: AccountId(2),
                    units: UnitSelection::Quantity { quantity: Quantity::new(q).expect("q"), filter: SetFilter {
                        labels: Some(Labels { authorization: Some(AuthorizationRef { party: party("IND"),
                            authorization: id("AUTH-NDC", DecisionId::parse), version: 1 }),
                            first_transferred: true, adjustment: AdjustmentStatus::Pending }),
                        ..SetFilter::default() } } }),
                Op::NextYear => {
                    year_end.push((snapshot(&w), w.log.len()));
                    w.now = Timestamp(w.now.0 + YEAR);
                    continue;
                }
            };
            let name = match &r { Ok(_) => "ok", Err(_) => "rejected" };
            *accepted.entry(name).or_default() += 1;
        }
        year_end.push((snapshot(&w), w.log.len()));
        // Every consecutive pair of year ends: the identity, per registry (each registry is
        // one party's here).
        let actions_between = |from: usize, to: usize| -> Vec<ActionRecord> {
            let auth = w.auth_info();
            let tz = |_: PartyId| 0;
            w.log[from..to].iter()
                .flat_map(|(_, t, before, ev)| report::entry_actions(before, *t, ev, &auth, &tz))
                .collect()
        };
        for pair in year_end.windows(2) {
            let ((prev, a), (now, b)) = (&pair[0], &pair[1]);
            let acts = actions_between(*a, *b);
            for (r, p) in [("IND01", party("IND")), ("JPN01", party("JPN"))] {
                let mine: Vec<ActionRecord> = acts.iter().filter(|x| x.reporting == p).cloned().collect();
                prop_assert_eq!(report::holdings_identity(prev[r], now[r], &mine), Ok(()), "{}", r);
            }
        }
    }
}

#[test]
fn the_generators_reach_every_kind_of_action() {
    // A fixed history with each operation once: every action type appears in the projection,
    // so the property above exercises them.
    let mut w = World::new();
    w.set_up_party();
    w.issue_abroad(500, 2026, "JC-1");
    w.issue("IND01", 1, 500, 2026);
    let ndc = w.authorize("AUTH-NDC", |_| {}).expect("ndc");
    let oimp = w
        .authorize("AUTH-OIMP", |a| {
            a.purposes = Purposes {
                ndc: false,
                oimp: true,
            };
            a.first_transfer_oimp = Some(FirstTransferDefinition::Authorization);
        })
        .expect("oimp");
    w.apply("JPN01", ndc, 1, qty(100)).expect("a");
    w.apply("IND01", oimp, 1, qty(100)).expect("b");
    w.registry(
        "JPN01",
        Command::UseTowardsNdc {
            from: AccountId(1),
            to: AccountId(90),
            units: itmos(10, "AUTH-NDC"),
            year: 2026,
            beneficiary: None,
        },
    )
    .expect("use");
    w.registry(
        "IND01",
        Command::Cancel {
            from: AccountId(1),
            to: AccountId(92),
            units: UnitSelection::Ranges(vec![IssuedRange {
                issuing: reg("IND01"),
                range: SerialRange::new(401, 405).expect("r"),
            }]),
            kind: CancellationKind::Omge,
            note: None,
        },
    )
    .expect("cancel");
    let kinds: std::collections::BTreeSet<ActionType> =
        w.actions().iter().map(|a| a.action).collect();
    for k in [
        ActionType::FirstTransfer,
        ActionType::Acquisition,
        ActionType::Use,
        ActionType::Cancellation,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
}

#[test]
fn authorizations_apply_only_where_they_can() {
    let mut w = World::new();
    w.set_up_party();
    w.issue_abroad(100, 2026, "JC-1");
    // Citing an entry that is no authorization (the approach's registration).
    assert_eq!(
        codes(w.apply("JPN01", 2, 1, qty(10))),
        vec![Code::AUTHORIZATION_UNKNOWN]
    );
    // An authorization that does not name Japan cannot cover units Japan holds.
    let korea = w
        .authorize("AUTH-KOR", |a| a.parties = vec![party("KOR")])
        .expect("auth");
    assert_eq!(
        codes(w.apply("JPN01", korea, 1, qty(10))),
        vec![Code::PARTY_NOT_AUTHORIZED]
    );
}

#[test]
fn credits_of_a_project_outside_the_activity_list_cannot_be_authorized() {
    let mut w = World::new();
    w.set_up_party();
    let period = MitigationPeriod::new(
        Date::from_ymd(2026, 1, 1).expect("d"),
        Date::from_ymd(2026, 12, 31).expect("d"),
    )
    .expect("p");
    let ev = Event::Jcm(JcmEvent::IssuanceNotified {
        decision: id("JC-9", DecisionId::parse),
        project: id("IN050", ProjectId::parse),
        host: party("IND"),
        period_no: 1,
        foreign: ForeignIssuance::NotYetAuthorized,
        eligible: false,
        lines: vec![IssuanceLine {
            registry: reg("JPN01"),
            account: AccountId(1),
            period,
            quantity: 10,
            unit_start: 1,
        }],
        by: id("secretariat", Actor::parse),
    });
    let citation = Citation {
        chain: ChainId::parse("mechanism:JCM-IND-JPN").expect("chain"),
        seq: 1,
        hash: [5; 32],
    };
    w.registry(
        "JPN01",
        Command::IssueFromDecision {
            cited: Some(CitedEntry {
                seq: 1,
                hash: citation.hash,
                events: vec![ev],
            }),
            citation,
        },
    )
    .expect("issue");
    let seq = w.authorize("AUTH-1", |_| {}).expect("auth");
    assert_eq!(
        codes(w.apply("JPN01", seq, 1, qty(10))),
        vec![Code::NOT_ARTICLE6_ELIGIBLE]
    );
}

#[test]
fn f12_adjustment_records_on_the_party_chain_are_guarded_and_final() {
    let mut w = World::new();
    w.set_up_party();
    let step = |w: &mut World, s: AdjustmentStep| {
        w.a6(A6Command::Adjustment {
            year: 2026,
            step: s,
        })
    };
    assert_eq!(
        codes(step(&mut w, AdjustmentStep::Submit)),
        vec![Code::ADJUSTMENT_STATE]
    );
    step(&mut w, AdjustmentStep::Draft(dec("370"))).expect("draft");
    assert_eq!(
        codes(step(&mut w, AdjustmentStep::Approve)),
        vec![Code::ADJUSTMENT_STATE]
    );
    step(&mut w, AdjustmentStep::Submit).expect("submit");
    step(&mut w, AdjustmentStep::ReturnToDraft).expect("back");
    step(&mut w, AdjustmentStep::Submit).expect("submit again");
    step(&mut w, AdjustmentStep::Approve).expect("approve");
    step(&mut w, AdjustmentStep::Finalize).expect("final");
    assert_eq!(
        codes(step(&mut w, AdjustmentStep::Draft(dec("1")))),
        vec![Code::PERIOD_FINALIZED]
    );
    // The year's emissions are final too.
    let c = w.a6(A6Command::ReportEmissions {
        year: 2026,
        emissions: dec("1"),
    });
    assert_eq!(codes(c), vec![Code::PERIOD_FINALIZED]);
    // Replay gives the same state.
    let mut cold = ChainState::new(&ChainId::PartyAuthority(party("IND")));
    for e in &w.ind_entries {
        cold.replay(e).expect("replay");
    }
    assert_eq!(cold.state_hash(), w.ind_auth.state_hash());
}

#[test]
fn a_first_transfer_over_the_link_is_reported_by_both_parties() {
    let mut w = World::new();
    w.set_up_party();
    w.issue("IND01", 1, 100, 2026);
    let seq = w.authorize("AUTH-1", |_| {}).expect("auth");
    w.apply("IND01", seq, 1, qty(60))
        .expect("India's own units, not yet first transferred");
    assert_eq!(
        w.labels("IND01", 1),
        vec![(40, false, None), (60, false, Some(1))]
    );
    w.registry(
        "IND01",
        Command::TransferOut {
            from: AccountId(1),
            to_registry: reg("JPN01"),
            to_account: AccountId(2),
            units: UnitSelection::Ranges(vec![IssuedRange {
                issuing: reg("IND01"),
                range: SerialRange::new(41, 100).expect("r"),
            }]),
            decide_by: Timestamp(w.now.0 + 86_400_000_000),
        },
    )
    .expect("out");
    // Pump the messages until both sides are quiet.
    for _ in 0..4 {
        let to_jpn = w.ind.registry().expect("r").link_outbox();
        for env in to_jpn {
            let _ = w.registry("JPN01", Command::ReceiveLink(env.clone()));
            for reply in w.jpn.registry().expect("r").link_replies(&env) {
                let _ = w.registry("IND01", Command::ReceiveLink(reply.clone()));
            }
        }
        let to_ind = w.jpn.registry().expect("r").link_outbox();
        for env in to_ind {
            let _ = w.registry("IND01", Command::ReceiveLink(env));
        }
    }
    assert_eq!(
        w.labels("JPN01", 2).iter().map(|l| l.0).sum::<u64>(),
        60,
        "credited"
    );
    let a = w.actions();
    let rows: Vec<(PartyId, ActionType, u64)> = a
        .iter()
        .map(|r| (r.reporting, r.action, r.quantity()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (party("IND"), ActionType::FirstTransfer, 60),
            (party("JPN"), ActionType::Acquisition, 60)
        ]
    );
    assert_eq!(
        (a[0].transferring, a[0].acquiring),
        (Some(party("IND")), Some(party("JPN")))
    );
    // Japan's registry holds them as ITMOs.
    {
        let auth = w.auth_info();
        assert_eq!(
            report::held(&report::holdings(w.jpn.registry().expect("r"), &auth)),
            60
        );
    }
    // Before Japan records what the authorization allows, it cannot use them; then it can.
    let use_cmd = Command::UseTowardsNdc {
        from: AccountId(2),
        to: AccountId(90),
        units: UnitSelection::Ranges(vec![IssuedRange {
            issuing: reg("IND01"),
            range: SerialRange::new(41, 50).expect("r"),
        }]),
        year: 2026,
        beneficiary: Some(HolderId(2)),
    };
    assert_eq!(
        codes(w.registry("JPN01", use_cmd.clone())),
        vec![Code::AUTHORIZATION_UNKNOWN]
    );
    let recorded = w.apply(
        "JPN01",
        seq,
        2,
        UnitSelection::Ranges(vec![IssuedRange {
            issuing: reg("IND01"),
            range: SerialRange::new(41, 100).expect("r"),
        }]),
    );
    assert!(
        matches!(
            recorded.as_deref(),
            Ok([Event::AuthorizationApplied { .. }])
        ),
        "{recorded:?}"
    );
    w.registry("JPN01", use_cmd).expect("use");
    let a = w.actions();
    assert_eq!(
        a.len(),
        3,
        "recording the authorization is no action: {a:?}"
    );
    assert_eq!(
        (a[2].action, a[2].reporting, a[2].holding_effect),
        (ActionType::Use, party("JPN"), -1)
    );
}

/// A CCTS certificate carries what an Article 6.2 authorization needs (vintage, mitigation
/// period, project): it can be authorized later, with no migration.
#[test]
fn a_ccts_certificate_can_later_be_authorized_as_an_itmo() {
    let mut w = World::new();
    w.set_up_party();
    w.registry(
        "IND01",
        Command::Issue {
            account: AccountId(1),
            kind: id("CCC", UnitKindCode::parse),
            project: Some(id("VEDANTA", ProjectId::parse)),
            period: MitigationPeriod::new(
                Date::parse("2026-04-01").expect("d"),
                Date::parse("2027-03-31").expect("d"),
            )
            .expect("p"),
            vintage: Some(Vintage::new(2026).expect("v")),
            quantity: Quantity::new(500).expect("q"),
            unit_start: None,
            citation: None,
            business_key: None,
        },
    )
    .expect("certificates");
    let seq = w
        .authorize("AUTH-EXPORT", |a| {
            a.purposes = Purposes {
                ndc: false,
                oimp: true,
            };
            a.first_transfer_oimp = Some(FirstTransferDefinition::Authorization);
            a.oimp_purpose = Some("CORSIA".into());
        })
        .expect("auth");
    w.apply("IND01", seq, 1, qty(200)).expect("authorized");
    let rows = w.actions();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].action, rows[0].vintage, rows[0].quantity()),
        (ActionType::FirstTransfer, 2026, 200)
    );
}
