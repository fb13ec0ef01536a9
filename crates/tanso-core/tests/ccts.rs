//! India's CCTS on the core: the administrator's chain and IND01, driven through a compliance
//! year — TV-6's surplus issued as certificates, TV-7's shortfall compensated, a partial
//! surrender — and the guarantees: the same certificates never clear two obligations,
//! surrendered certificates never move, expired ones cannot be surrendered.

use std::str::FromStr;
use tanso_core::ccts::compliance::Outcome;
use tanso_core::ccts::*;
use tanso_core::jcm::DocRef;
use tanso_core::*;

const DAY: i64 = 86_400_000_000;
/// 2026-05-01T00:00:00Z.
const T0: i64 = 1_777_593_600_000_000;

fn id<T>(s: &str, f: fn(&str) -> Result<T, Code>) -> T {
    f(s).unwrap_or_else(|c| panic!("bad id {s}: {c}"))
}
fn d(s: &str) -> rust_decimal::Decimal {
    rust_decimal::Decimal::from_str(s).expect("decimal")
}
fn actor(s: &str) -> Actor {
    id(s, Actor::parse)
}
fn entity(s: &str) -> ProjectId {
    id(s, ProjectId::parse)
}
fn doc() -> DocRef {
    DocRef {
        hash: [3; 32],
        size: 9,
    }
}

struct World {
    mech_id: ChainId,
    mech: ChainState,
    mech_entries: Vec<Vec<Event>>,
    ind: ChainState,
    ind_entries: Vec<Vec<Event>>,
    now: Timestamp,
}

impl World {
    fn new() -> World {
        let mech_id = ChainId::parse("mechanism:CCTS-IND").expect("chain");
        let mut w = World {
            mech: ChainState::new(&mech_id),
            mech_id,
            mech_entries: Vec::new(),
            ind: ChainState::new(&ChainId::Registry(id("IND01", RegistryId::parse))),
            ind_entries: Vec::new(),
            now: Timestamp(T0),
        };
        w.mech(
            "operator",
            Command::OpenMechanism {
                mechanism: id("CCTS-IND", MechanismId::parse),
                parties: vec![id("IND", PartyId::parse)],
            },
        )
        .expect("open");
        for (who, role) in [
            ("bee", CctsRole::Administrator),
            ("acva:one", CctsRole::Verifier),
            ("cpcb", CctsRole::Cpcb),
            ("rep:vedanta", CctsRole::Entity(entity("VEDANTA"))),
            ("rep:short", CctsRole::Entity(entity("SHORTCO"))),
            ("rep:partial", CctsRole::Entity(entity("PARTIALCO"))),
        ] {
            let by = if who == "bee" { "operator" } else { "bee" };
            w.ccts(
                by,
                CctsCommand::Appoint {
                    actor: actor(who),
                    role,
                },
            )
            .expect("appoint");
        }
        w.reg(Command::OpenRegistry {
            registry: id("IND01", RegistryId::parse),
            straddle: StraddlePolicy::ProRataDaysRemainderLast,
        })
        .expect("open registry");
        w.reg(Command::RegisterHolder {
            holder: HolderId(1),
            kind: id("company", HolderKind::parse),
            name: PersonalRef([1; 32]),
        })
        .expect("holder");
        for (a, k) in [
            (1301, "entity-holding"),
            (1302, "entity-holding"),
            (1303, "entity-holding"),
            (1390, "surrender"),
            (1391, "expired"),
        ] {
            w.reg(Command::OpenAccount {
                account: AccountId(a),
                holder: HolderId(1),
                kind: id(k, AccountKindCode::parse),
            })
            .expect("account");
        }
        // The Schedule: Vedanta (TV-6), a shortfall (TV-7), and a partial surrender case.
        let row = |e: &str, target: &str| ScheduleRow {
            entity: entity(e),
            sector: "aluminium".into(),
            baseline_output: d("1238336"),
            baseline_gei: d("13.4927"),
            targets: vec![(2025, d(target))],
        };
        w.ccts(
            "bee",
            CctsCommand::ImportSchedule(vec![
                row("VEDANTA", "13.2260"),
                row("SHORTCO", "13.2260"),
                row("PARTIALCO", "10"),
            ]),
        )
        .expect("schedule");
        for (e, a) in [("VEDANTA", 1301), ("SHORTCO", 1302), ("PARTIALCO", 1303)] {
            w.ccts(
                "bee",
                CctsCommand::RegisterAccount {
                    entity: entity(e),
                    registry: id("IND01", RegistryId::parse),
                    account: AccountId(a),
                },
            )
            .expect("account");
        }
        w
    }

    fn mech(&mut self, by: &str, cmd: Command) -> Result<Vec<Event>, Rejection> {
        let before = self.mech.state_hash();
        let r = self.mech.execute(&self.mech_id, &actor(by), &cmd, self.now);
        match &r {
            Ok(ev) => self.mech_entries.push(ev.clone()),
            Err(_) => assert_eq!(before, self.mech.state_hash(), "a rejection changed state"),
        }
        r
    }

    fn ccts(&mut self, by: &str, c: CctsCommand) -> Result<Vec<Event>, Rejection> {
        self.mech(by, Command::Ccts(c))
    }

    fn reg(&mut self, cmd: Command) -> Result<Vec<Event>, Rejection> {
        let chain = ChainId::Registry(id("IND01", RegistryId::parse));
        let before = self.ind.state_hash();
        let r = self.ind.execute(&chain, &actor("registry"), &cmd, self.now);
        match &r {
            Ok(ev) => self.ind_entries.push(ev.clone()),
            Err(_) => assert_eq!(before, self.ind.state_hash(), "a rejection changed state"),
        }
        r
    }

    /// Submits, verifies and evaluates an entity's year; returns the evaluation entry's seq.
    fn evaluated(&mut self, e: &str, rep: &str, output: &str, emissions: &str) -> (u64, Outcome) {
        self.ccts(
            rep,
            CctsCommand::SubmitPerformance {
                entity: entity(e),
                year: 2025,
                output: d(output),
                emissions: d(emissions),
                document: doc(),
            },
        )
        .expect("performance");
        self.ccts(
            "acva:one",
            CctsCommand::VerifyPerformance {
                entity: entity(e),
                year: 2025,
                document: doc(),
            },
        )
        .expect("verified");
        let ev = self
            .ccts(
                "bee",
                CctsCommand::Evaluate {
                    entity: entity(e),
                    year: 2025,
                },
            )
            .expect("evaluated");
        let outcome = match &ev[..] {
            [Event::Ccts(CctsEvent::Evaluated { outcome, .. })] => outcome.clone(),
            other => panic!("unexpected {other:?}"),
        };
        (self.mech_entries.len() as u64, outcome)
    }

    fn cite_mech(&self, seq: u64) -> (Citation, CitedEntry) {
        let c = Citation {
            chain: self.mech_id.clone(),
            seq,
            hash: [1; 32],
        };
        let e = CitedEntry {
            seq,
            hash: c.hash,
            events: self.mech_entries[(seq - 1) as usize].clone(),
        };
        (c, e)
    }

    fn cite_reg(&self, seq: u64) -> (Citation, CitedEntry) {
        let c = Citation {
            chain: ChainId::Registry(id("IND01", RegistryId::parse)),
            seq,
            hash: [2; 32],
        };
        let e = CitedEntry {
            seq,
            hash: c.hash,
            events: self.ind_entries[(seq - 1) as usize].clone(),
        };
        (c, e)
    }

    fn held(&self, account: u64) -> u64 {
        self.ind
            .registry()
            .expect("registry")
            .holdings(AccountId(account))
            .iter()
            .map(|b| b.range.len())
            .sum()
    }

    fn surrender(&mut self, from: u64, q: u64, e: &str) -> Result<u64, Rejection> {
        self.reg(Command::SurrenderCertificates {
            from: AccountId(from),
            to: AccountId(1390),
            units: UnitSelection::Quantity {
                quantity: Quantity::new(q).expect("q"),
                filter: SetFilter::default(),
            },
            entity: entity(e),
            year: 2025,
        })?;
        Ok(self.ind_entries.len() as u64)
    }

    fn cycle(&self, e: &str) -> CycleRecord {
        self.mech.decisions().expect("mechanism").ccts.entities[&entity(e)].cycles[&2025].clone()
    }
}

#[test]
fn a_compliance_year_tv6_tv7_and_a_partial_surrender() {
    let mut w = World::new();
    // TV-6: achieved 13.1000 → 156,030 certificates.
    let (seq, outcome) = w.evaluated("VEDANTA", "rep:vedanta", "1238336", "16222201.6");
    assert_eq!(
        outcome,
        Outcome::Surplus {
            exact: d("156030.3360"),
            certificates: 156_030
        }
    );
    let (c, e) = w.cite_mech(seq);
    w.reg(Command::IssueCertificates {
        citation: c.clone(),
        cited: Some(e.clone()),
    })
    .expect("issued");
    assert_eq!(w.held(1301), 156_030);
    let again = w
        .reg(Command::IssueCertificates {
            citation: c,
            cited: Some(e),
        })
        .expect_err("once");
    assert_eq!(again.codes(), vec![Code::BUSINESS_KEY_USED]);
    let b = &w.ind.registry().expect("r").holdings(AccountId(1301))[0];
    assert_eq!(
        (b.attributes.kind.as_str(), b.attributes.vintage.year()),
        ("CCC", 2025),
        "a compliance-year vintage, with the financial year as mitigation period"
    );
    assert_eq!(b.attributes.period.start().to_string(), "2025-04-01");

    // TV-7: achieved 13.3000 → owes 91,637; nothing surrendered.
    let (_, outcome) = w.evaluated("SHORTCO", "rep:short", "1238336", "16469868.8");
    assert_eq!(
        outcome,
        Outcome::Shortfall {
            exact: d("91636.8640"),
            obligation: 91_637
        }
    );
    // Partial: owes 10,250, buys 6,000 from Vedanta and surrenders them.
    let (_, outcome) = w.evaluated("PARTIALCO", "rep:partial", "10250", "112750");
    assert_eq!(outcome.obligation(), 10_250);
    w.reg(Command::Transfer {
        from: AccountId(1301),
        to: AccountId(1303),
        units: UnitSelection::Quantity {
            quantity: Quantity::new(6_000).expect("q"),
            filter: SetFilter::default(),
        },
    })
    .expect("bought");
    let s = w.surrender(1303, 6_000, "PARTIALCO").expect("surrendered");
    let (c, e) = w.cite_reg(s);
    w.ccts(
        "bee",
        CctsCommand::RecordSurrender {
            citation: c.clone(),
            cited: Some(e.clone()),
        },
    )
    .expect("credited");
    assert_eq!(w.cycle("PARTIALCO").surrendered, 6_000);
    // The same certificates cannot clear two obligations.
    let twice = w
        .ccts(
            "bee",
            CctsCommand::RecordSurrender {
                citation: c,
                cited: Some(e),
            },
        )
        .expect_err("twice");
    assert_eq!(twice.codes(), vec![Code::BUSINESS_KEY_USED]);
    // Surrendered certificates never move again.
    let moved = w
        .reg(Command::Transfer {
            from: AccountId(1390),
            to: AccountId(1302),
            units: UnitSelection::Quantity {
                quantity: Quantity::new(1).expect("q"),
                filter: SetFilter::default(),
            },
        })
        .expect_err("terminal");
    assert_eq!(moved.codes(), vec![Code::FROM_ACCOUNT_KIND_NOT_ALLOWED]);

    // Compensation only after the deadline; 2 × price × what is outstanding.
    let early = w
        .ccts(
            "cpcb",
            CctsCommand::ImposeCompensation {
                entity: entity("SHORTCO"),
                year: 2025,
                average_price: d("1000"),
            },
        )
        .expect_err("before the deadline");
    assert_eq!(early.codes(), vec![Code::STEP_NOT_VALID_IN_STATE]);
    w.now = Timestamp(T0 + 121 * DAY);
    for (e, expected, outstanding) in [
        ("SHORTCO", "183273728.0000", 91_637),
        ("PARTIALCO", "8500000", 4_250),
    ] {
        let ev = w
            .ccts(
                "cpcb",
                CctsCommand::ImposeCompensation {
                    entity: entity(e),
                    year: 2025,
                    average_price: d("1000"),
                },
            )
            .expect("imposed");
        match &ev[..] {
            [Event::Ccts(CctsEvent::CompensationImposed {
                amount,
                outstanding: o,
                ..
            })] => {
                assert_eq!(*amount, d(expected), "{e}");
                assert_eq!(*o, outstanding, "{e}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Vedanta owes nothing.
    let none = w
        .ccts(
            "cpcb",
            CctsCommand::ImposeCompensation {
                entity: entity("VEDANTA"),
                year: 2025,
                average_price: d("1000"),
            },
        )
        .expect_err("surplus");
    assert_eq!(none.codes(), vec![Code::STEP_NOT_VALID_IN_STATE]);
    // Cold replay of both chains gives the same state.
    let mut cold = ChainState::new(&w.mech_id);
    for e in &w.mech_entries {
        cold.replay(e).expect("replay");
    }
    assert_eq!(cold.state_hash(), w.mech.state_hash());
    let mut cold = ChainState::new(&ChainId::Registry(id("IND01", RegistryId::parse)));
    for e in &w.ind_entries {
        cold.replay(e).expect("replay");
    }
    assert_eq!(cold.state_hash(), w.ind.state_hash());
}

#[test]
fn expired_certificates_cannot_be_surrendered_and_the_expiry_run_moves_them() {
    let mut w = World::new();
    let (seq, _) = w.evaluated("VEDANTA", "rep:vedanta", "1238336", "16222201.6");
    let (c, e) = w.cite_mech(seq);
    w.reg(Command::IssueCertificates {
        citation: c,
        cited: Some(e),
    })
    .expect("issued");
    // Valid through compliance year 2028-29 (3 years after 2025-26): until 31 March 2029.
    w.now = Timestamp(T0 + 1_065 * DAY); // 2029-03-31
    w.surrender(1301, 1, "VEDANTA")
        .expect("still valid on the last day");
    w.now = Timestamp(T0 + 1_066 * DAY); // 2029-04-01
    let r = w.surrender(1301, 1, "VEDANTA").expect_err("expired");
    assert_eq!(r.codes(), vec![Code::CERTIFICATE_EXPIRED]);
    let ev = w
        .reg(Command::ExpireCertificates {
            now: w.now,
            to: AccountId(1391),
        })
        .expect("expiry run");
    assert_eq!(ev.len(), 1);
    assert_eq!(w.held(1391), 156_029);
    assert_eq!(w.held(1301), 0);
}

#[test]
fn steps_by_the_wrong_role_or_out_of_order_are_refused() {
    let mut w = World::new();
    // An entity cannot evaluate itself, nor can an unverified performance be evaluated.
    w.ccts(
        "rep:short",
        CctsCommand::SubmitPerformance {
            entity: entity("SHORTCO"),
            year: 2025,
            output: d("100"),
            emissions: d("1500"),
            document: doc(),
        },
    )
    .expect("submitted");
    let r = w
        .ccts(
            "rep:short",
            CctsCommand::Evaluate {
                entity: entity("SHORTCO"),
                year: 2025,
            },
        )
        .expect_err("role");
    assert_eq!(r.codes(), vec![Code::ROLE_REQUIRED]);
    let r = w
        .ccts(
            "bee",
            CctsCommand::Evaluate {
                entity: entity("SHORTCO"),
                year: 2025,
            },
        )
        .expect_err("unverified");
    assert_eq!(r.codes(), vec![Code::STEP_NOT_VALID_IN_STATE]);
    // One entity cannot report for another.
    let r = w
        .ccts(
            "rep:short",
            CctsCommand::SubmitPerformance {
                entity: entity("VEDANTA"),
                year: 2025,
                output: d("100"),
                emissions: d("1"),
                document: doc(),
            },
        )
        .expect_err("role");
    assert_eq!(r.codes(), vec![Code::ROLE_REQUIRED]);
    // A Schedule with a duplicate and a bad row is refused whole.
    let bad = ScheduleRow {
        entity: entity("NEWCO"),
        sector: "cement".into(),
        baseline_output: d("0"),
        baseline_gei: d("1"),
        targets: vec![(2025, d("1"))],
    };
    let r = w
        .ccts("bee", CctsCommand::ImportSchedule(vec![bad.clone(), bad]))
        .expect_err("bad schedule");
    assert_eq!(
        r.codes(),
        vec![Code::QUANTITY_INVALID, Code::ALREADY_EXISTS]
    );
    assert!(!w
        .mech
        .decisions()
        .expect("m")
        .ccts
        .entities
        .contains_key(&entity("NEWCO")));
}

/// Offsets: a non-obligated entity's project through the same project-cycle engine as the
/// JCM, on the scheme's own mechanism chain with India as its only party (the NSC decides
/// alone, BEE is the secretariat, an accredited agency the TPE); the registry issues CCCs.
#[test]
fn an_offset_project_earns_certificates_through_the_project_cycle_engine() {
    use tanso_core::jcm::allocation::Share;
    use tanso_core::jcm::*;
    let chain = ChainId::parse("mechanism:CCTS-OFFSETS").expect("chain");
    let mut m = ChainState::new(&chain);
    let mut now = Timestamp(T0);
    let mut entries: Vec<Vec<Event>> = Vec::new();
    let mut run = |m: &mut ChainState, now: Timestamp, by: &str, cmd: Command| {
        let ev = m
            .execute(&chain, &actor(by), &cmd, now)
            .unwrap_or_else(|r| panic!("{} by {by}: {r}", cmd.name()));
        entries.push(ev.clone());
        ev
    };
    let ind = id("IND", PartyId::parse);
    run(
        &mut m,
        now,
        "operator",
        Command::OpenMechanism {
            mechanism: id("CCTS-OFFSETS", MechanismId::parse),
            parties: vec![ind],
        },
    );
    for (who, role) in [("nsc:chair", Role::Member(ind)), ("bee", Role::Secretariat)] {
        run(
            &mut m,
            now,
            "operator",
            Command::Jcm(JcmCommand::Appoint {
                actor: actor(who),
                role,
            }),
        );
    }
    run(
        &mut m,
        now,
        "bee",
        Command::Jcm(JcmCommand::Appoint {
            actor: actor("dev:solar"),
            role: Role::Participant(ind),
        }),
    );
    let decide = |m: &mut ChainState,
                  run: &mut dyn FnMut(&mut ChainState, Timestamp, &str, Command) -> Vec<Event>,
                  now,
                  d: &str,
                  subject| {
        // One party: the proposal by the NSC's member is the decision.
        let ev = run(
            m,
            now,
            "nsc:chair",
            Command::Jcm(JcmCommand::Propose {
                decision: id(d, DecisionId::parse),
                subject,
            }),
        );
        assert!(ev
            .iter()
            .any(|e| matches!(e, Event::Jcm(JcmEvent::DecisionAdopted { .. }))));
    };
    decide(
        &mut m,
        &mut run,
        now,
        "NSC-1",
        Subject::DesignateTpe(actor("acva:tuv")),
    );
    decide(
        &mut m,
        &mut run,
        now,
        "NSC-2",
        Subject::SetActivityList {
            party: ind,
            activities: vec![1],
        },
    );
    let meth = MethodologyRef {
        code: "IN_AM001".into(),
        version: 1,
    };
    run(
        &mut m,
        now,
        "dev:solar",
        Command::Jcm(JcmCommand::SubmitMethodology {
            methodology: meth.clone(),
            document: doc(),
        }),
    );
    run(
        &mut m,
        now,
        "bee",
        Command::Jcm(JcmCommand::CheckCompleteness {
            methodology: meth.clone(),
            complete: true,
        }),
    );
    now = Timestamp(now.0 + 15 * DAY);
    run(
        &mut m,
        now,
        "bee",
        Command::Jcm(JcmCommand::ClosePublicInput {
            target: InputTarget::Methodology(meth.clone()),
        }),
    );
    decide(
        &mut m,
        &mut run,
        now,
        "NSC-3",
        Subject::ApproveMethodology(meth.clone()),
    );
    let p = entity("OFFSET-001");
    run(
        &mut m,
        now,
        "dev:solar",
        Command::Jcm(JcmCommand::SubmitPin {
            project: p.clone(),
            host: ind,
            activity: 1,
            participants: vec![],
            document: doc(),
        }),
    );
    run(
        &mut m,
        now,
        "dev:solar",
        Command::Jcm(JcmCommand::SubmitPdd {
            project: p.clone(),
            methodology: meth,
            ex_ante: [("EF_RE".to_string(), d("0.727"))].into_iter().collect(),
            criteria: vec!["C1".into(), "C2".into(), "C3".into()],
            crediting: MitigationPeriod::new(
                Date::parse("2026-04-01").expect("d"),
                Date::parse("2036-03-31").expect("d"),
            )
            .expect("p"),
            allocation: Allocation {
                shares: vec![Share {
                    registry: id("IND01", RegistryId::parse),
                    account: AccountId(1302),
                    percent: d("100"),
                }],
                remainder_to: 0,
            },
            document: doc(),
        }),
    );
    run(
        &mut m,
        now,
        "bee",
        Command::Jcm(JcmCommand::OpenPddPublicInput { project: p.clone() }),
    );
    now = Timestamp(now.0 + 30 * DAY);
    run(
        &mut m,
        now,
        "bee",
        Command::Jcm(JcmCommand::ClosePublicInput {
            target: InputTarget::Project(p.clone()),
        }),
    );
    run(
        &mut m,
        now,
        "acva:tuv",
        Command::Jcm(JcmCommand::Validate {
            project: p.clone(),
            positive: true,
            document: doc(),
        }),
    );
    run(
        &mut m,
        now,
        "dev:solar",
        Command::Jcm(JcmCommand::RequestRegistration {
            project: p.clone(),
            document: doc(),
        }),
    );
    decide(
        &mut m,
        &mut run,
        now,
        "NSC-4",
        Subject::RegisterProject(p.clone()),
    );
    run(
        &mut m,
        now,
        "dev:solar",
        Command::Jcm(JcmCommand::ReportMonitoring {
            project: p.clone(),
            period_no: 1,
            period: MitigationPeriod::new(
                Date::parse("2026-04-01").expect("d"),
                Date::parse("2026-09-30").expect("d"),
            )
            .expect("p"),
            values: [("EG_BESS".to_string(), d("1000"))].into_iter().collect(),
            document: doc(),
        }),
    );
    run(
        &mut m,
        now,
        "acva:tuv",
        Command::Jcm(JcmCommand::Verify {
            project: p.clone(),
            period_no: 1,
            amount: 727,
            document: doc(),
        }),
    );
    run(
        &mut m,
        now,
        "dev:solar",
        Command::Jcm(JcmCommand::RequestIssuance {
            project: p.clone(),
            period_no: 1,
            quantity: 727,
            document: doc(),
        }),
    );
    decide(
        &mut m,
        &mut run,
        now,
        "NSC-5",
        Subject::DecideIssuance {
            project: p.clone(),
            period_no: 1,
            quantity: 727,
        },
    );
    let note = run(
        &mut m,
        now,
        "bee",
        Command::Jcm(JcmCommand::Notify {
            decision: id("NSC-5", DecisionId::parse),
        }),
    );
    let seq = entries.len() as u64;
    let mut w = World::new();
    let citation = Citation {
        chain: chain.clone(),
        seq,
        hash: [4; 32],
    };
    w.reg(Command::IssueFromDecision {
        cited: Some(CitedEntry {
            seq,
            hash: citation.hash,
            events: note,
        }),
        citation,
    })
    .expect("issued as certificates");
    let blocks = w.ind.registry().expect("r").holdings(AccountId(1302));
    let got: Vec<(String, u16, u64)> = blocks
        .iter()
        .map(|b| {
            (
                b.attributes.kind.to_string(),
                b.attributes.vintage.year(),
                b.range.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("CCC".to_string(), 2026, 727)],
        "compliance year 2026-27"
    );
}
