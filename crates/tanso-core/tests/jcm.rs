//! The JCM project cycle on the pure core: a mechanism chain (the Joint Committee) and India's
//! and Japan's registry chains, driven step by step. Every rejection is checked for its exact
//! code and for leaving the chain's state hash unchanged; the whole cycle replays to the same
//! state; every event survives its canonical encoding.

use std::collections::BTreeMap;
use std::str::FromStr;
use tanso_core::encode::{Dec, Enc};
use tanso_core::jcm::allocation::Share;
use tanso_core::jcm::methodology::{Decimal, Params};
use tanso_core::jcm::*;
use tanso_core::*;

const DAY: i64 = 86_400_000_000;

fn id<T>(s: &str, f: fn(&str) -> Result<T, Code>) -> T {
    f(s).unwrap_or_else(|c| panic!("bad id {s}: {c}"))
}
fn actor(s: &str) -> Actor {
    id(s, Actor::parse)
}
fn party(s: &str) -> PartyId {
    id(s, PartyId::parse)
}
fn reg(s: &str) -> RegistryId {
    id(s, RegistryId::parse)
}
fn project(s: &str) -> ProjectId {
    id(s, ProjectId::parse)
}
fn dec_id(s: &str) -> DecisionId {
    id(s, DecisionId::parse)
}
fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}
fn date(s: &str) -> Date {
    Date::parse(s).expect("date")
}
fn period(a: &str, b: &str) -> MitigationPeriod {
    MitigationPeriod::new(date(a), date(b)).expect("period")
}
fn doc(n: u8) -> DocRef {
    DocRef {
        hash: [n; 32],
        size: 1000 + n as u64,
    }
}
fn params(kv: &[(&str, &str)]) -> Params {
    kv.iter().map(|(k, v)| (k.to_string(), d(v))).collect()
}
fn solar() -> MethodologyRef {
    MethodologyRef {
        code: "IN_AM001".into(),
        version: 1,
    }
}
fn ee() -> MethodologyRef {
    MethodologyRef {
        code: "IN_AM002".into(),
        version: 1,
    }
}

/// TV-8c's split: 50 % Government of Japan, 40 % Japanese PP, 10 % Indian PP.
fn tv8_allocation() -> Allocation {
    Allocation {
        shares: vec![
            Share {
                registry: reg("JPN01"),
                account: AccountId(2001),
                percent: d("50"),
            },
            Share {
                registry: reg("JPN01"),
                account: AccountId(2002),
                percent: d("40"),
            },
            Share {
                registry: reg("IND01"),
                account: AccountId(1002),
                percent: d("10"),
            },
        ],
        remainder_to: 0,
    }
}

struct World {
    mech_id: ChainId,
    mech: ChainState,
    mech_log: Vec<(Actor, Command, Timestamp)>,
    mech_entries: Vec<Vec<Event>>,
    ind: ChainState,
    jpn: ChainState,
    now: Timestamp,
}

impl World {
    fn new() -> Self {
        let mech_id = ChainId::parse("mechanism:JCM-IND-JPN").expect("chain");
        let mut w = World {
            mech: ChainState::new(&mech_id),
            mech_id,
            mech_log: Vec::new(),
            mech_entries: Vec::new(),
            ind: ChainState::new(&ChainId::Registry(reg("IND01"))),
            jpn: ChainState::new(&ChainId::Registry(reg("JPN01"))),
            now: Timestamp(1_750_000_000_000_000),
        };
        w.mech_cmd(
            "operator",
            Command::OpenMechanism {
                mechanism: id("JCM-IND-JPN", MechanismId::parse),
                parties: vec![party("IND"), party("JPN")],
            },
        )
        .expect("open mechanism");
        for (r, accounts) in [
            (
                "IND01",
                &[
                    (1001u64, "party-holding"),
                    (1002, "entity-holding"),
                    (1090, "retirement"),
                ][..],
            ),
            (
                "JPN01",
                &[
                    (2001, "party-holding"),
                    (2002, "entity-holding"),
                    (2090, "retirement"),
                ][..],
            ),
        ] {
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
            ];
            for (a, k) in accounts {
                cmds.push(Command::OpenAccount {
                    account: AccountId(*a),
                    holder: HolderId(1),
                    kind: id(k, AccountKindCode::parse),
                });
            }
            for c in cmds {
                w.registry(r, c).expect("registry setup");
            }
        }
        w
    }

    fn tick(&mut self, days: i64) {
        self.now = Timestamp(self.now.0 + days * DAY);
    }

    /// A command on the mechanism chain; a rejection must leave the state hash unchanged.
    fn mech_cmd(&mut self, by: &str, cmd: Command) -> Result<Vec<Event>, Rejection> {
        let before = self.mech.state_hash();
        let r = self.mech.execute(&self.mech_id, &actor(by), &cmd, self.now);
        match &r {
            Ok(events) => {
                self.mech_log.push((actor(by), cmd, self.now));
                self.mech_entries.push(events.clone());
            }
            Err(_) => assert_eq!(before, self.mech.state_hash(), "a rejection changed state"),
        }
        r
    }

    fn jcm(&mut self, by: &str, c: JcmCommand) -> Result<Vec<Event>, Rejection> {
        self.mech_cmd(by, Command::Jcm(c))
    }

    fn ok(&mut self, by: &str, c: JcmCommand) -> Vec<Event> {
        let name = c.name();
        self.jcm(by, c)
            .unwrap_or_else(|r| panic!("{name} by {by} rejected: {r}"))
    }

    fn codes(&mut self, by: &str, c: JcmCommand) -> Vec<Code> {
        match self.jcm(by, c) {
            Ok(ev) => panic!("accepted: {ev:?}"),
            Err(r) => r.codes(),
        }
    }

    fn registry(&mut self, r: &str, cmd: Command) -> Result<Vec<Event>, Rejection> {
        let chain = ChainId::Registry(reg(r));
        let now = self.now;
        let state = if r == "IND01" {
            &mut self.ind
        } else {
            &mut self.jpn
        };
        let before = state.state_hash();
        let res = state.execute(&chain, &actor("registry-manager"), &cmd, now);
        if res.is_err() {
            assert_eq!(
                before,
                state.state_hash(),
                "a registry rejection changed state"
            );
        }
        res
    }

    /// What the engine does for `issue_from_decision`: resolve the cited entry's events.
    fn issue_from(&mut self, r: &str, seq: u64) -> Result<Vec<Event>, Rejection> {
        let events = self.mech_entries[(seq - 1) as usize].clone();
        let citation = Citation {
            chain: self.mech_id.clone(),
            seq,
            hash: [7; 32],
        };
        self.registry(
            r,
            Command::IssueFromDecision {
                cited: Some(CitedEntry {
                    seq,
                    hash: citation.hash,
                    events,
                }),
                citation,
            },
        )
    }

    fn seq(&self) -> u64 {
        self.mech_entries.len() as u64
    }

    fn jcm_state(&self) -> &JcmState {
        &self.mech.decisions().expect("mechanism").jcm
    }

    fn decide(&mut self, decision: &str, subject: Subject) -> Vec<Event> {
        self.ok(
            "jc:ind-1",
            JcmCommand::Propose {
                decision: dec_id(decision),
                subject,
            },
        );
        self.ok(
            "jc:jpn-1",
            JcmCommand::Concur {
                decision: dec_id(decision),
            },
        )
    }

    /// The Committee, the secretariat, participants, a TPE, India's activity list and an
    /// approved methodology.
    fn constituted() -> Self {
        let mut w = World::new();
        for (who, role) in [
            ("jc:ind-1", Role::Member(party("IND"))),
            ("jc:jpn-1", Role::Member(party("JPN"))),
            ("secretariat", Role::Secretariat),
        ] {
            w.ok(
                "operator",
                JcmCommand::Appoint {
                    actor: actor(who),
                    role,
                },
            );
        }
        for (who, p) in [("pp:surya", "IND"), ("pp:nihon", "JPN")] {
            w.ok(
                "secretariat",
                JcmCommand::Appoint {
                    actor: actor(who),
                    role: Role::Participant(party(p)),
                },
            );
        }
        w.decide("JC-TPE-1", Subject::DesignateTpe(actor("tpe:epic")));
        w.decide(
            "JC-LIST-IND",
            Subject::SetActivityList {
                party: party("IND"),
                activities: (1..=13).collect(),
            },
        );
        for m in [solar(), ee()] {
            w.approve_methodology(m);
        }
        w
    }

    fn approve_methodology(&mut self, m: MethodologyRef) {
        self.ok(
            "pp:nihon",
            JcmCommand::SubmitMethodology {
                methodology: m.clone(),
                document: doc(1),
            },
        );
        self.ok(
            "secretariat",
            JcmCommand::CheckCompleteness {
                methodology: m.clone(),
                complete: true,
            },
        );
        self.tick(15);
        self.ok(
            "secretariat",
            JcmCommand::ClosePublicInput {
                target: InputTarget::Methodology(m.clone()),
            },
        );
        let name = format!("JC-AM-{}-{}", m.code, m.version);
        self.decide(&name, Subject::ApproveMethodology(m));
    }

    /// A project registered with `methodology`, `ex_ante` and TV-8's allocation.
    fn registered(&mut self, p: &str, activity: u16, m: MethodologyRef, ex_ante: Params) {
        self.ok(
            "pp:surya",
            JcmCommand::SubmitPin {
                project: project(p),
                host: party("IND"),
                activity,
                participants: vec![actor("pp:nihon")],
                document: doc(2),
            },
        );
        let criteria = methodology::find(&m.code, m.version)
            .expect("executable")
            .criteria()
            .iter()
            .map(|c| c.code.to_string())
            .collect();
        self.ok(
            "pp:nihon",
            JcmCommand::SubmitPdd {
                project: project(p),
                methodology: m,
                ex_ante,
                criteria,
                crediting: period("2025-10-01", "2035-09-30"),
                allocation: tv8_allocation(),
                document: doc(3),
            },
        );
        self.ok(
            "secretariat",
            JcmCommand::OpenPddPublicInput {
                project: project(p),
            },
        );
        self.tick(30);
        self.ok(
            "secretariat",
            JcmCommand::ClosePublicInput {
                target: InputTarget::Project(project(p)),
            },
        );
        self.ok(
            "tpe:epic",
            JcmCommand::Validate {
                project: project(p),
                positive: true,
                document: doc(4),
            },
        );
        self.ok(
            "pp:surya",
            JcmCommand::RequestRegistration {
                project: project(p),
                document: doc(5),
            },
        );
        self.decide(&format!("JC-REG-{p}"), Subject::RegisterProject(project(p)));
    }

    /// Monitoring period `no` reported, verified in full and requested in full.
    fn requested(&mut self, p: &str, no: u32, per: MitigationPeriod, values: Params) -> u64 {
        let ev = self.ok(
            "pp:surya",
            JcmCommand::ReportMonitoring {
                project: project(p),
                period_no: no,
                period: per,
                values,
                document: doc(6),
            },
        );
        let credited = match &ev[..] {
            [Event::Jcm(JcmEvent::MonitoringReported { credited, .. })] => *credited,
            other => panic!("unexpected events {other:?}"),
        };
        self.ok(
            "tpe:epic",
            JcmCommand::Verify {
                project: project(p),
                period_no: no,
                amount: credited,
                document: doc(7),
            },
        );
        self.ok(
            "pp:surya",
            JcmCommand::RequestIssuance {
                project: project(p),
                period_no: no,
                quantity: credited,
                document: doc(8),
            },
        );
        credited
    }

    /// Decides and notifies an issuance; returns the notification's sequence and lines.
    fn issued(&mut self, dec: &str, p: &str, no: u32, q: u64) -> (u64, Vec<IssuanceLine>) {
        self.decide(
            dec,
            Subject::DecideIssuance {
                project: project(p),
                period_no: no,
                quantity: q,
            },
        );
        let ev = self.ok(
            "secretariat",
            JcmCommand::Notify {
                decision: dec_id(dec),
            },
        );
        let lines = match &ev[..] {
            [Event::Jcm(JcmEvent::IssuanceNotified { lines, .. })] => lines.clone(),
            other => panic!("unexpected events {other:?}"),
        };
        (self.seq(), lines)
    }

    fn holding(&self, r: &str, account: u64) -> u64 {
        let s = if r == "IND01" { &self.ind } else { &self.jpn };
        s.registry()
            .expect("registry")
            .holdings(AccountId(account))
            .iter()
            .map(|b| b.range.len())
            .sum()
    }
}

#[test]
fn tv8b_full_cycle_issues_545_436_109_into_both_registries() {
    let mut w = World::constituted();
    w.registered("IN001", 1, solar(), params(&[("EF_RE", "0.727")]));
    let credited = w.requested(
        "IN001",
        1,
        period("2026-01-01", "2026-12-31"),
        params(&[("EG_BESS", "1500")]),
    );
    assert_eq!(credited, 1090, "TV-8b: 1,500 MWh × 0.727 = 1,090.5 → 1,090");
    let (seq, lines) = w.issued("JC-ISS-1", "IN001", 1, 1090);
    let q: Vec<(u64, u64)> = lines.iter().map(|l| (l.account.0, l.quantity)).collect();
    assert_eq!(q, vec![(2001, 545), (2002, 436), (1002, 109)]);
    assert_eq!(
        lines.iter().map(|l| l.unit_start).collect::<Vec<_>>(),
        vec![1, 546, 982],
        "the project's credit serials run on across registries"
    );
    w.issue_from("IND01", seq).expect("India issues");
    w.issue_from("JPN01", seq).expect("Japan issues");
    assert_eq!(w.holding("JPN01", 2001), 545);
    assert_eq!(w.holding("JPN01", 2002), 436);
    assert_eq!(w.holding("IND01", 1002), 109);
    // Never twice for one decision.
    let again = w.issue_from("IND01", seq).expect_err("second issuance");
    assert_eq!(again.codes(), vec![Code::BUSINESS_KEY_USED]);
    let p = &w.jcm_state().projects[&project("IN001")];
    assert_eq!(p.status, ProjectStatus::Registered);
    assert_eq!(p.periods[&1].status, PeriodStatus::Notified);
    assert!(p.article6_eligible && !p.flagged);
}

#[test]
fn tv8d_remainder_goes_to_the_designated_share() {
    let mut w = World::constituted();
    w.registered("IN001", 1, solar(), Params::new());
    let credited = w.requested(
        "IN001",
        1,
        period("2026-01-01", "2026-12-31"),
        params(&[("EG_BESS", "1500")]),
    );
    assert_eq!(credited, 799, "TV-8a: default EF 0.533 → 799.5 → 799");
    let (_, lines) = w.issued("JC-ISS-1", "IN001", 1, 799);
    let q: Vec<u64> = lines.iter().map(|l| l.quantity).collect();
    assert_eq!(
        q,
        vec![399 + 2, 319, 79],
        "floors 399/319/79, remainder 2 to share 0"
    );
}

#[test]
fn tv9_energy_efficiency_credits_50() {
    let mut w = World::constituted();
    w.registered(
        "IN002",
        7,
        ee(),
        params(&[("COP_PJ", "6.0"), ("COP_RE", "5.0"), ("EF_elec", "0.727")]),
    );
    let ev = w.ok(
        "pp:surya",
        JcmCommand::ReportMonitoring {
            project: project("IN002"),
            period_no: 1,
            period: period("2026-01-01", "2026-06-30"),
            values: params(&[("EC_PJ", "347.2")]),
            document: doc(6),
        },
    );
    match &ev[..] {
        [Event::Jcm(JcmEvent::MonitoringReported {
            re,
            pe,
            er,
            credited,
            ..
        })] => {
            assert_eq!(*re, d("302.89728"));
            assert_eq!(*pe, d("252.4144"));
            assert_eq!(*er, d("50.48288"));
            assert_eq!(*credited, 50);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_period_straddling_years_is_apportioned_to_vintages() {
    let mut w = World::constituted();
    w.registered("IN001", 1, solar(), params(&[("EF_RE", "0.727")]));
    // 2025-10-01 .. 2026-03-31: 92 days in 2025, 90 in 2026.
    let q = w.requested(
        "IN001",
        1,
        period("2025-10-01", "2026-03-31"),
        params(&[("EG_BESS", "1500")]),
    );
    let (seq, lines) = w.issued("JC-ISS-1", "IN001", 1, q);
    let total: u64 = lines.iter().map(|l| l.quantity).sum();
    assert_eq!(total, 1090);
    // Government of Japan's 545: floor(545 × 92 / 182) = 275 in 2025, 270 in 2026.
    let gov: Vec<(i32, u64)> = lines
        .iter()
        .filter(|l| l.account == AccountId(2001))
        .map(|l| (l.period.start().year(), l.quantity))
        .collect();
    assert_eq!(gov, vec![(2025, 275), (2026, 270)]);
    w.issue_from("JPN01", seq).expect("issue");
    let vintages: Vec<u16> = w
        .jpn
        .registry()
        .expect("registry")
        .holdings(AccountId(2001))
        .iter()
        .map(|b| b.attributes.vintage.year())
        .collect();
    assert_eq!(vintages, vec![2025, 2026]);
}

#[test]
fn foreign_credits_cannot_be_used_towards_japans_ndc_until_authorized() {
    let mut w = World::constituted();
    w.registered("IN001", 1, solar(), params(&[("EF_RE", "0.727")]));
    let q = w.requested(
        "IN001",
        1,
        period("2026-01-01", "2026-12-31"),
        params(&[("EG_BESS", "1500")]),
    );
    let (seq, _) = w.issued("JC-ISS-1", "IN001", 1, q);
    w.issue_from("JPN01", seq).expect("issue");
    w.issue_from("IND01", seq).expect("issue");
    let retire = |from: u64, to: u64, purpose: &str| Command::Retire {
        from: AccountId(from),
        to: AccountId(to),
        units: UnitSelection::Quantity {
            quantity: Quantity::new(10).expect("q"),
            filter: SetFilter::default(),
        },
        purpose: id(purpose, PurposeCode::parse),
        beneficiary: None,
        beneficiary_name: None,
        note: None,
    };
    let r = w
        .registry("JPN01", retire(2001, 2090, "ndc"))
        .expect_err("not yet authorized");
    assert_eq!(r.codes(), vec![Code::UNITS_NOT_AUTHORIZED]);
    // A voluntary retirement is not a use towards the NDC.
    w.registry("JPN01", retire(2001, 2090, "voluntary"))
        .expect("voluntary use");
    // The host's own registry is not an international movement.
    w.registry("IND01", retire(1002, 1090, "ndc"))
        .expect("host's own use");
    // Once the host's authorization covers them (recorded by a label), they can be used.
    let ranges: Vec<IssuedRange> = w
        .jpn
        .registry()
        .expect("registry")
        .holdings(AccountId(2001))
        .iter()
        .map(|b| IssuedRange {
            issuing: b.issuing,
            range: b.range,
        })
        .collect();
    w.registry(
        "JPN01",
        Command::SetLabels {
            ranges,
            labels: Labels {
                authorization: Some(AuthorizationRef {
                    party: party("IND"),
                    authorization: dec_id("IND-AUTH-1"),
                    version: 1,
                }),
                first_transferred: true,
                adjustment: AdjustmentStatus::Pending,
            },
            citation: None,
        },
    )
    .expect("labels");
    // Covered units are no longer "not yet authorized" (3060); their use towards the NDC now
    // goes through `use_towards_ndc`, which names the year (tests/article6.rs), so a plain
    // retirement is refused for that reason alone.
    let r = w
        .registry("JPN01", retire(2001, 2090, "ndc"))
        .expect_err("needs the year of use");
    assert_eq!(r.codes(), vec![Code::USE_YEAR_INVALID]);
}

// ----- rejections ------------------------------------------------------------------------------

#[test]
fn a_step_by_the_wrong_role_is_8001() {
    let mut w = World::constituted();
    // A participant cannot propose a decision.
    let c = w.codes(
        "pp:surya",
        JcmCommand::Propose {
            decision: dec_id("X"),
            subject: Subject::DesignateTpe(actor("tpe:other")),
        },
    );
    assert_eq!(c, vec![Code::ROLE_REQUIRED]);
    // Only the secretariat checks completeness.
    let c = w.codes(
        "jc:ind-1",
        JcmCommand::CheckCompleteness {
            methodology: solar(),
            complete: true,
        },
    );
    assert_eq!(c, vec![Code::ROLE_REQUIRED]);
    // A TPE must be designated by the Committee, not appointed.
    let c = w.codes(
        "secretariat",
        JcmCommand::Appoint {
            actor: actor("tpe:self"),
            role: Role::Tpe,
        },
    );
    assert_eq!(c, vec![Code::ROLE_REQUIRED]);
    // Once constituted, members come only by decision.
    let c = w.codes(
        "operator",
        JcmCommand::Appoint {
            actor: actor("jc:ind-2"),
            role: Role::Member(party("IND")),
        },
    );
    assert_eq!(c, vec![Code::ROLE_REQUIRED]);
    w.registered("IN001", 1, solar(), Params::new());
    // Verification by someone who is not a designated TPE.
    w.ok(
        "pp:surya",
        JcmCommand::ReportMonitoring {
            project: project("IN001"),
            period_no: 1,
            period: period("2026-01-01", "2026-06-30"),
            values: params(&[("EG_BESS", "100")]),
            document: doc(6),
        },
    );
    let c = w.codes(
        "pp:surya",
        JcmCommand::Verify {
            project: project("IN001"),
            period_no: 1,
            amount: 53,
            document: doc(7),
        },
    );
    assert_eq!(c, vec![Code::ROLE_REQUIRED]);
    // A participant of another project cannot report for this one.
    w.ok(
        "secretariat",
        JcmCommand::Appoint {
            actor: actor("pp:other"),
            role: Role::Participant(party("IND")),
        },
    );
    let c = w.codes(
        "pp:other",
        JcmCommand::RequestIssuance {
            project: project("IN001"),
            period_no: 1,
            quantity: 1,
            document: doc(8),
        },
    );
    assert_eq!(c, vec![Code::ROLE_REQUIRED]);
    // A non-member cannot concur; the secretariat cannot notify without the role.
    let c = w.codes(
        "tpe:epic",
        JcmCommand::Notify {
            decision: dec_id("JC-REG-IN001"),
        },
    );
    assert_eq!(c, vec![Code::ROLE_REQUIRED]);
}

#[test]
fn an_issuance_without_both_sides_is_refused() {
    let mut w = World::constituted();
    w.registered("IN001", 1, solar(), Params::new());
    let q = w.requested(
        "IN001",
        1,
        period("2026-01-01", "2026-12-31"),
        params(&[("EG_BESS", "1500")]),
    );
    w.ok(
        "jc:ind-1",
        JcmCommand::Propose {
            decision: dec_id("JC-ISS-1"),
            subject: Subject::DecideIssuance {
                project: project("IN001"),
                period_no: 1,
                quantity: q,
            },
        },
    );
    let proposal_seq = w.seq();
    // Another Indian member cannot complete it: a decision needs each side.
    w.decide(
        "JC-MEM-2",
        Subject::AppointMember {
            actor: actor("jc:ind-2"),
            party: party("IND"),
        },
    );
    let c = w.codes(
        "jc:ind-2",
        JcmCommand::Concur {
            decision: dec_id("JC-ISS-1"),
        },
    );
    assert_eq!(c, vec![Code::SAME_SIDE_CONCURRENCE]);
    // The secretariat cannot notify a decision one side has not taken.
    let c = w.codes(
        "secretariat",
        JcmCommand::Notify {
            decision: dec_id("JC-ISS-1"),
        },
    );
    assert_eq!(c, vec![Code::DECISION_NOT_ADOPTED]);
    // A registry cannot issue citing the proposal.
    let r = w
        .issue_from("IND01", proposal_seq)
        .expect_err("no notification");
    assert_eq!(r.codes(), vec![Code::NOT_A_NOTIFIED_ISSUANCE]);
    // Nor a motion that does not exist.
    let c = w.codes(
        "jc:jpn-1",
        JcmCommand::Concur {
            decision: dec_id("JC-NONE"),
        },
    );
    assert_eq!(c, vec![Code::MOTION_UNKNOWN]);
    // Japan refuses: the motion closes, nothing is issued.
    w.ok(
        "jc:jpn-1",
        JcmCommand::Refuse {
            decision: dec_id("JC-ISS-1"),
        },
    );
    let c = w.codes(
        "jc:jpn-1",
        JcmCommand::Concur {
            decision: dec_id("JC-ISS-1"),
        },
    );
    assert_eq!(c, vec![Code::MOTION_UNKNOWN]);
    assert_eq!(
        w.jcm_state().projects[&project("IN001")].periods[&1].status,
        PeriodStatus::IssuanceRequested
    );
}

#[test]
fn a_monitoring_period_cannot_be_issued_twice_nor_above_verified() {
    let mut w = World::constituted();
    w.registered("IN001", 1, solar(), Params::new());
    w.ok(
        "pp:surya",
        JcmCommand::ReportMonitoring {
            project: project("IN001"),
            period_no: 1,
            period: period("2026-01-01", "2026-12-31"),
            values: params(&[("EG_BESS", "1500")]),
            document: doc(6),
        },
    );
    // The TPE cannot verify more than the methodology computed (799).
    let c = w.codes(
        "tpe:epic",
        JcmCommand::Verify {
            project: project("IN001"),
            period_no: 1,
            amount: 800,
            document: doc(7),
        },
    );
    assert_eq!(c, vec![Code::VERIFIED_EXCEEDS_COMPUTED]);
    w.ok(
        "tpe:epic",
        JcmCommand::Verify {
            project: project("IN001"),
            period_no: 1,
            amount: 700,
            document: doc(7),
        },
    );
    // The request cannot exceed the verified amount.
    let c = w.codes(
        "pp:surya",
        JcmCommand::RequestIssuance {
            project: project("IN001"),
            period_no: 1,
            quantity: 701,
            document: doc(8),
        },
    );
    assert_eq!(c, vec![Code::EXCEEDS_VERIFIED]);
    w.ok(
        "pp:surya",
        JcmCommand::RequestIssuance {
            project: project("IN001"),
            period_no: 1,
            quantity: 700,
            document: doc(8),
        },
    );
    // Nor can the decision.
    let c = w.codes(
        "jc:ind-1",
        JcmCommand::Propose {
            decision: dec_id("JC-ISS-BIG"),
            subject: Subject::DecideIssuance {
                project: project("IN001"),
                period_no: 1,
                quantity: 701,
            },
        },
    );
    assert_eq!(c, vec![Code::EXCEEDS_VERIFIED]);
    let (seq, _) = w.issued("JC-ISS-1", "IN001", 1, 700);
    // A second decision for the same period.
    let c = w.codes(
        "jc:ind-1",
        JcmCommand::Propose {
            decision: dec_id("JC-ISS-2"),
            subject: Subject::DecideIssuance {
                project: project("IN001"),
                period_no: 1,
                quantity: 700,
            },
        },
    );
    assert_eq!(c, vec![Code::PERIOD_ALREADY_ISSUED]);
    // A second request for it.
    let c = w.codes(
        "pp:surya",
        JcmCommand::RequestIssuance {
            project: project("IN001"),
            period_no: 1,
            quantity: 1,
            document: doc(8),
        },
    );
    assert_eq!(c, vec![Code::PERIOD_ALREADY_ISSUED]);
    // A second notification.
    let c = w.codes(
        "secretariat",
        JcmCommand::Notify {
            decision: dec_id("JC-ISS-1"),
        },
    );
    assert_eq!(c, vec![Code::STEP_NOT_VALID_IN_STATE]);
    // A second issuance in a registry.
    w.issue_from("JPN01", seq).expect("first");
    let r = w.issue_from("JPN01", seq).expect_err("second");
    assert_eq!(r.codes(), vec![Code::BUSINESS_KEY_USED]);
    // The same period reported again, or overlapping.
    let c = w.codes(
        "pp:surya",
        JcmCommand::ReportMonitoring {
            project: project("IN001"),
            period_no: 2,
            period: period("2026-12-01", "2027-03-31"),
            values: params(&[("EG_BESS", "1")]),
            document: doc(6),
        },
    );
    assert_eq!(c, vec![Code::PERIOD_OVERLAPS]);
    let c = w.codes(
        "pp:surya",
        JcmCommand::ReportMonitoring {
            project: project("IN001"),
            period_no: 2,
            period: period("2036-01-01", "2036-03-31"),
            values: params(&[("EG_BESS", "1")]),
            document: doc(6),
        },
    );
    assert_eq!(c, vec![Code::PERIOD_OUTSIDE_CREDITING]);
}

#[test]
fn methodology_and_project_steps_out_of_order_are_refused() {
    let mut w = World::constituted();
    // Unknown executable module.
    let c = w.codes(
        "pp:surya",
        JcmCommand::SubmitMethodology {
            methodology: MethodologyRef {
                code: "IN_AM999".into(),
                version: 1,
            },
            document: doc(1),
        },
    );
    assert_eq!(c, vec![Code::METHODOLOGY_UNKNOWN]);
    w.ok(
        "pp:surya",
        JcmCommand::SubmitPin {
            project: project("IN009"),
            host: party("IND"),
            activity: 1,
            participants: vec![],
            document: doc(2),
        },
    );
    let c = w.codes(
        "pp:surya",
        JcmCommand::SubmitPin {
            project: project("IN010"),
            host: party("KOR"),
            activity: 1,
            participants: vec![],
            document: doc(2),
        },
    );
    assert_eq!(c, vec![Code::PARTY_NOT_IN_MECHANISM]);
    // Validation before public input.
    let c = w.codes(
        "tpe:epic",
        JcmCommand::Validate {
            project: project("IN009"),
            positive: true,
            document: doc(4),
        },
    );
    assert_eq!(c, vec![Code::STEP_NOT_VALID_IN_STATE]);
    let c = w.codes(
        "tpe:epic",
        JcmCommand::Validate {
            project: project("NOPE"),
            positive: true,
            document: doc(4),
        },
    );
    assert_eq!(c, vec![Code::PROJECT_UNKNOWN]);
    // A PDD that misses criteria, parameters and a valid allocation: every failure listed.
    let mut bad_alloc = tv8_allocation();
    bad_alloc.shares[0].percent = d("49.99");
    let c = w.codes(
        "pp:surya",
        JcmCommand::SubmitPdd {
            project: project("IN009"),
            methodology: solar(),
            ex_ante: params(&[("EG_BESS", "1")]),
            criteria: vec!["C1".into()],
            crediting: period("2026-01-01", "2035-12-31"),
            allocation: bad_alloc,
            document: doc(3),
        },
    );
    assert_eq!(
        c,
        vec![
            Code::PARAMETER_UNKNOWN,
            Code::CRITERIA_NOT_MET,
            Code::ALLOCATION_INVALID
        ]
    );
    // An approved methodology version cannot be submitted again: a revision is a new version.
    let c = w.codes(
        "pp:surya",
        JcmCommand::SubmitMethodology {
            methodology: ee(),
            document: doc(1),
        },
    );
    assert_eq!(c, vec![Code::ALREADY_EXISTS]);
}

#[test]
fn the_pdd_needs_an_approved_methodology_and_public_input_runs_its_length() {
    let mut w = World::new();
    for (who, role) in [
        ("jc:ind-1", Role::Member(party("IND"))),
        ("jc:jpn-1", Role::Member(party("JPN"))),
        ("secretariat", Role::Secretariat),
    ] {
        w.ok(
            "operator",
            JcmCommand::Appoint {
                actor: actor(who),
                role,
            },
        );
    }
    w.ok(
        "secretariat",
        JcmCommand::Appoint {
            actor: actor("pp:surya"),
            role: Role::Participant(party("IND")),
        },
    );
    let c = w.codes(
        "secretariat",
        JcmCommand::Appoint {
            actor: actor("pp:x"),
            role: Role::Participant(party("KOR")),
        },
    );
    assert_eq!(c, vec![Code::PARTY_NOT_IN_MECHANISM]);
    w.ok(
        "pp:surya",
        JcmCommand::SubmitMethodology {
            methodology: solar(),
            document: doc(1),
        },
    );
    w.ok(
        "secretariat",
        JcmCommand::CheckCompleteness {
            methodology: solar(),
            complete: true,
        },
    );
    w.tick(14);
    let c = w.codes(
        "secretariat",
        JcmCommand::ClosePublicInput {
            target: InputTarget::Methodology(solar()),
        },
    );
    assert_eq!(c, vec![Code::PUBLIC_INPUT_NOT_OVER]);
    w.ok(
        "pp:surya",
        JcmCommand::SubmitPin {
            project: project("IN001"),
            host: party("IND"),
            activity: 1,
            participants: vec![],
            document: doc(2),
        },
    );
    let c = w.codes(
        "pp:surya",
        JcmCommand::SubmitPdd {
            project: project("IN001"),
            methodology: solar(),
            ex_ante: Params::new(),
            criteria: vec!["C1".into(), "C2".into(), "C3".into()],
            crediting: period("2026-01-01", "2035-12-31"),
            allocation: tv8_allocation(),
            document: doc(3),
        },
    );
    assert_eq!(c, vec![Code::METHODOLOGY_NOT_APPROVED]);
}

#[test]
fn monitoring_values_are_checked_against_the_methodology() {
    let mut w = World::constituted();
    w.registered("IN001", 1, solar(), Params::new());
    let report = |values: Params| JcmCommand::ReportMonitoring {
        project: project("IN001"),
        period_no: 1,
        period: period("2026-01-01", "2026-06-30"),
        values,
        document: doc(6),
    };
    assert_eq!(
        w.codes("pp:surya", report(Params::new())),
        vec![Code::PARAMETER_MISSING]
    );
    assert_eq!(
        w.codes("pp:surya", report(params(&[("EG_BESS", "-1")]))),
        vec![Code::PARAMETER_INVALID]
    );
}

#[test]
fn a_project_outside_the_activity_list_is_flagged_or_blocked_by_policy() {
    let mut w = World::constituted();
    // Default policy (warn): registered, flagged, not eligible for Article 6.2.
    w.registered("IN050", 99, solar(), Params::new());
    let p = &w.jcm_state().projects[&project("IN050")];
    assert_eq!(p.status, ProjectStatus::Registered);
    assert!(p.flagged && !p.article6_eligible);
    assert!(w.mech_entries.iter().flatten().any(|e| matches!(
        e,
        Event::Jcm(JcmEvent::ProjectFlagged { code, .. }) if *code == Code::ACTIVITY_NOT_ELIGIBLE
    )));
    // Policy block: the registration decision is refused.
    let policy = JcmPolicy {
        outside_list_registration: OutsideListAtRegistration::Block,
        ..JcmPolicy::default()
    };
    w.decide("JC-POL-1", Subject::SetPolicy(policy));
    w.ok(
        "pp:surya",
        JcmCommand::SubmitPin {
            project: project("IN051"),
            host: party("IND"),
            activity: 99,
            participants: vec![],
            document: doc(2),
        },
    );
    let criteria = vec!["C1".into(), "C2".into(), "C3".into()];
    w.ok(
        "pp:surya",
        JcmCommand::SubmitPdd {
            project: project("IN051"),
            methodology: solar(),
            ex_ante: Params::new(),
            criteria,
            crediting: period("2026-01-01", "2035-12-31"),
            allocation: tv8_allocation(),
            document: doc(3),
        },
    );
    w.ok(
        "secretariat",
        JcmCommand::OpenPddPublicInput {
            project: project("IN051"),
        },
    );
    w.tick(30);
    w.ok(
        "secretariat",
        JcmCommand::ClosePublicInput {
            target: InputTarget::Project(project("IN051")),
        },
    );
    w.ok(
        "tpe:epic",
        JcmCommand::Validate {
            project: project("IN051"),
            positive: true,
            document: doc(4),
        },
    );
    w.ok(
        "pp:surya",
        JcmCommand::RequestRegistration {
            project: project("IN051"),
            document: doc(5),
        },
    );
    let c = w.codes(
        "jc:ind-1",
        JcmCommand::Propose {
            decision: dec_id("JC-REG-IN051"),
            subject: Subject::RegisterProject(project("IN051")),
        },
    );
    assert_eq!(c, vec![Code::ACTIVITY_NOT_ELIGIBLE]);
}

#[test]
fn post_registration_change_renewal_and_withdrawal() {
    let mut w = World::constituted();
    w.registered("IN001", 1, solar(), Params::new());
    let mut alloc = tv8_allocation();
    alloc.shares[0].percent = d("40");
    alloc.shares[2].percent = d("20");
    w.ok(
        "pp:surya",
        JcmCommand::RequestChange {
            project: project("IN001"),
            change: Change {
                allocation: Some(alloc.clone()),
                ex_ante: params(&[("EF_RE", "0.727")]),
            },
            document: doc(9),
        },
    );
    w.decide("JC-CHG-1", Subject::ApproveChange(project("IN001")));
    let p = &w.jcm_state().projects[&project("IN001")];
    assert_eq!(p.allocation.as_ref(), Some(&alloc));
    assert_eq!(p.ex_ante.get("EF_RE"), Some(&d("0.727")));
    w.ok(
        "pp:surya",
        JcmCommand::RequestRenewal {
            project: project("IN001"),
            until: date("2045-09-30"),
            document: doc(10),
        },
    );
    w.decide(
        "JC-REN-1",
        Subject::RenewCreditingPeriod {
            project: project("IN001"),
            until: date("2045-09-30"),
        },
    );
    assert_eq!(
        w.jcm_state().projects[&project("IN001")]
            .crediting
            .map(|c| c.end()),
        Some(date("2045-09-30"))
    );
    w.ok(
        "pp:nihon",
        JcmCommand::WithdrawProject {
            project: project("IN001"),
            document: doc(11),
        },
    );
    let c = w.codes(
        "pp:surya",
        JcmCommand::ReportMonitoring {
            project: project("IN001"),
            period_no: 1,
            period: period("2026-01-01", "2026-06-30"),
            values: params(&[("EG_BESS", "1")]),
            document: doc(6),
        },
    );
    assert_eq!(c, vec![Code::STEP_NOT_VALID_IN_STATE]);
}

// ----- replay and encoding ---------------------------------------------------------------------

#[test]
fn the_mechanism_chain_replays_to_the_same_state_and_its_events_round_trip() {
    let mut w = World::constituted();
    w.registered("IN001", 1, solar(), params(&[("EF_RE", "0.727")]));
    let q = w.requested(
        "IN001",
        1,
        period("2025-10-01", "2026-03-31"),
        params(&[("EG_BESS", "1500")]),
    );
    w.issued("JC-ISS-1", "IN001", 1, q);
    let mut cold = ChainState::new(&w.mech_id);
    let mut kinds = BTreeMap::<String, usize>::new();
    for events in &w.mech_entries {
        cold.replay(events).expect("replay");
        for ev in events {
            let mut e = Enc::new();
            e.event(ev);
            let back = Dec::new(&e.buf).event().expect("decode");
            assert_eq!(&back, ev);
            let name = format!("{ev:?}");
            *kinds
                .entry(name.split([' ', '(', '{']).nth(1).unwrap_or("").to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(cold.state_hash(), w.mech.state_hash());
    assert!(
        kinds.len() >= 15,
        "the cycle covered {} event kinds",
        kinds.len()
    );
    // An event that is not legal in the replayed state is refused.
    let mut fresh = ChainState::new(&w.mech_id);
    fresh.replay(&w.mech_entries[0]).expect("open");
    let illegal = vec![Event::Jcm(JcmEvent::DecisionAdopted {
        decision: dec_id("JC-ISS-1"),
    })];
    assert!(fresh.replay(&illegal).is_err());
}
