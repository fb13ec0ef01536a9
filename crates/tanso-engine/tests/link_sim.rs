//! Deterministic simulation of two registries (IND01 sends, JPN01 receives) over a lossy
//! network, with crashes of either registry before and after every durable write and every
//! send (LINK.md §7.6, §8). After every step the invariants I1–I4, I6 and I7 hold; after the
//! faults heal, every transfer ends the same way at both registries (I5).
//!
//! Replay a failing seed: `TANSO_SIM_SEED=1234 cargo test -p tanso-engine --test link_sim`.
//! More seeds: `TANSO_SIM_SEEDS=20000`.

use sha2::{Digest, Sha256};
use tanso_core::link::{Outbound, TransferStatus, Verdict};
use tanso_core::rangeset::RangeSet;
use tanso_core::registry::RegistryState;
use tanso_core::*;
use tanso_engine::link::{Faults, LinkDriver, LinkPolicy, LossyNet, Received, Rng, Transport};
use tanso_engine::{Node, NodeConfig, Submission};
use tanso_store::memory::{InjectedFailure, MemoryStore};

const SECOND: i64 = 1_000_000;

fn policy() -> LinkPolicy {
    LinkPolicy {
        t_accept: 90 * SECOND,
        t_query: 3 * SECOND,
        retry_initial: SECOND / 2,
        retry_cap: 8 * SECOND,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    S,
    R,
}

/// Where a crash is injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Point {
    BeforeWrite,
    AfterWrite,
    BeforeSend,
    AfterSend,
}

struct Reg {
    id: RegistryId,
    store: MemoryStore,
    node: Node<MemoryStore>,
    driver: LinkDriver,
}

impl Reg {
    fn new(id: &str, seed: u64) -> Self {
        let store = MemoryStore::new();
        let node = Node::open(store.reopen(), NodeConfig::default()).expect("open");
        Reg {
            id: RegistryId::parse(id).unwrap(),
            store,
            node,
            driver: LinkDriver::new(policy(), seed),
        }
    }
    fn state(&self) -> &RegistryState {
        self.node
            .chain(&ChainId::Registry(self.id))
            .and_then(|c| c.state.registry())
            .expect("registry open")
    }
    /// A crash: the process dies; what the store holds is what restarts.
    fn crash(&mut self, seed: u64) {
        self.node = Node::open(self.store.reopen(), NodeConfig::default()).expect("reopen");
        self.driver = LinkDriver::new(policy(), seed);
    }
}

struct Sim {
    rng: Rng,
    now: Timestamp,
    net: LossyNet,
    s: Reg,
    r: Reg,
    /// Crash points passed so far, and the planned ones (by number).
    points: u64,
    planned: Vec<u64>,
    /// Extra random crashes per mille at each point.
    crash_per_mille: u64,
    crashes: u64,
    next_cmd: u64,
    universe: RangeSet,
    trace: Vec<String>,
}

fn sub(id: String, chain: &str, cmd: Command) -> Submission {
    Submission {
        id: CommandId::parse(&id).unwrap(),
        chain: ChainId::parse(chain).unwrap(),
        actor: Actor::parse("sim").unwrap(),
        content_hash: Sha256::digest(format!("{cmd:?}")).into(),
        command: Ok(cmd),
        personal: Vec::new(),
        dry_run: false,
    }
}

fn setup_registry(reg: &mut Reg, accounts: &[(u64, &str)], issue: u64) {
    let chain = reg.id.as_str().to_owned();
    let mut subs = vec![
        sub(
            format!("{chain}-open"),
            &chain,
            Command::OpenRegistry {
                registry: reg.id,
                straddle: StraddlePolicy::ProRataDaysRemainderLast,
            },
        ),
        sub(
            format!("{chain}-holder"),
            &chain,
            Command::RegisterHolder {
                holder: HolderId(1),
                kind: HolderKind::parse("company").unwrap(),
                name: PersonalRef([3; 32]),
            },
        ),
    ];
    for (a, k) in accounts {
        subs.push(sub(
            format!("{chain}-acct-{a}"),
            &chain,
            Command::OpenAccount {
                account: AccountId(*a),
                holder: HolderId(1),
                kind: AccountKindCode::parse(k).unwrap(),
            },
        ));
        if issue > 0 && *k == "entity-holding" {
            subs.push(sub(
                format!("{chain}-issue-{a}"),
                &chain,
                Command::Issue {
                    account: AccountId(*a),
                    kind: UnitKindCode::parse("JCM").unwrap(),
                    project: Some(ProjectId::parse("IN001").unwrap()),
                    period: MitigationPeriod::new(
                        Date::from_ymd(2026, 1, 1).unwrap(),
                        Date::from_ymd(2026, 12, 31).unwrap(),
                    )
                    .unwrap(),
                    vintage: None,
                    quantity: Quantity::new(issue).unwrap(),
                    unit_start: None,
                    citation: None,
                    business_key: None,
                },
            ));
        }
    }
    let answers = reg.node.submit_batch(subs, Timestamp(0)).expect("setup");
    for a in answers {
        assert!(a.codes().is_empty(), "setup rejected: {:?}", a.codes());
    }
}

impl Sim {
    fn new(seed: u64, faults: Faults, planned: Vec<u64>, crash_per_mille: u64) -> Self {
        let mut s = Reg::new("IND01", seed ^ 1);
        let mut r = Reg::new("JPN01", seed ^ 2);
        setup_registry(
            &mut s,
            &[
                (1, "entity-holding"),
                (2, "entity-holding"),
                (3, "entity-holding"),
            ],
            500,
        );
        setup_registry(
            &mut r,
            &[
                (2001, "entity-holding"),
                (2002, "entity-holding"),
                (2099, "suspense"),
            ],
            0,
        );
        let ans = r
            .node
            .submit_batch(
                vec![sub(
                    "JPN01-suspense".into(),
                    "JPN01",
                    Command::SetSuspenseAccount {
                        account: AccountId(2099),
                    },
                )],
                Timestamp(0),
            )
            .unwrap();
        assert!(ans[0].codes().is_empty());
        let mut universe = RangeSet::default();
        universe.insert(&IssuedRange {
            issuing: s.id,
            range: SerialRange::new(1, 1500).unwrap(),
        });
        Sim {
            rng: Rng::new(seed),
            now: Timestamp(SECOND),
            net: LossyNet::new(seed ^ 3, faults),
            s,
            r,
            points: 0,
            planned,
            crash_per_mille,
            crashes: 0,
            next_cmd: 0,
            universe,
            trace: Vec::new(),
        }
    }

    fn reg(&mut self, side: Side) -> &mut Reg {
        match side {
            Side::S => &mut self.s,
            Side::R => &mut self.r,
        }
    }

    /// Passes a crash point; true if the registry crashes here.
    fn point(&mut self, side: Side, p: Point) -> bool {
        self.points += 1;
        let hit = self.planned.contains(&self.points) || self.rng.chance(self.crash_per_mille);
        if hit {
            self.trace
                .push(format!("crash {side:?} at point {} ({p:?})", self.points));
        }
        hit
    }

    fn crash(&mut self, side: Side) {
        self.crashes += 1;
        let seed = self.rng.next_u64();
        self.reg(side).crash(seed);
    }

    /// Runs a durable write, with crashes before (the write is lost) or after (it lands but
    /// the process dies before answering).
    fn write<T>(
        &mut self,
        side: Side,
        f: impl FnOnce(
            &mut LinkDriver,
            &mut Node<MemoryStore>,
            Timestamp,
        ) -> Result<T, tanso_engine::NodeError>,
    ) -> Option<T> {
        if self.point(side, Point::BeforeWrite) {
            self.reg(side).store.fail_next_write(InjectedFailure::Lost);
        } else if self.point(side, Point::AfterWrite) {
            self.reg(side)
                .store
                .fail_next_write(InjectedFailure::Persisted);
        }
        let now = self.now;
        let reg = self.reg(side);
        let result = f(&mut reg.driver, &mut reg.node, now);
        // A failure armed for a write that did not happen (nothing to write) is disarmed.
        reg.store.clear_failure();
        match result {
            Ok(v) => Some(v),
            Err(_) => {
                self.crash(side);
                None
            }
        }
    }

    fn send(&mut self, side: Side, envs: Vec<tanso_core::link::Envelope>) {
        if envs.is_empty() {
            return;
        }
        if self.point(side, Point::BeforeSend) {
            self.crash(side);
            return;
        }
        for e in &envs {
            self.trace.push(format!(
                "{:?} sends {} {}",
                side,
                e.message.name(),
                e.message.transfer_id()
            ));
            self.net.send(e, self.now);
        }
        if self.point(side, Point::AfterSend) {
            self.crash(side);
        }
    }

    fn deliver(&mut self) -> bool {
        let Some((to, bytes)) = self.net.recv(self.now) else {
            return false;
        };
        let side = if to == self.s.id { Side::S } else { Side::R };
        let got = self.write(side, |d, n, now| d.receive(n, &bytes, now));
        if let Some(Received::Replies(replies)) = got {
            self.send(side, replies);
        }
        true
    }

    fn tick(&mut self, side: Side) {
        if side == Side::S {
            // The coordinator's timer is a durable write too.
            self.write(side, |d, n, now| d.expire(n, now));
        }
        let now = self.now;
        let reg = self.reg(side);
        let due = reg.driver.due(&reg.node, now);
        self.send(side, due);
    }

    fn transfer_out(&mut self) {
        self.next_cmd += 1;
        let from = 1 + self.rng.below(3);
        let to = [2001, 2002, 2001, 2002, 2001, 2999][self.rng.below(6) as usize];
        let q = 1 + self.rng.below(120);
        let id = format!("out-{}", self.next_cmd);
        let cmd = Command::TransferOut {
            from: AccountId(from),
            to_registry: self.r.id,
            to_account: AccountId(to),
            units: UnitSelection::Quantity {
                quantity: Quantity::new(q).unwrap(),
                filter: SetFilter {
                    kind: Some(UnitKindCode::parse("JCM").unwrap()),
                    ..SetFilter::default()
                },
            },
            decide_by: Timestamp(self.now.0 + policy().t_accept),
        };
        self.trace
            .push(format!("transfer-out {id}: {q} from {from} to {to}"));
        self.write(Side::S, |_, n, now| {
            n.submit_batch(vec![sub(id, "IND01", cmd)], now)
        });
    }

    fn cancel(&mut self) {
        let proposed: Vec<_> = self
            .s
            .state()
            .link()
            .outbound
            .iter()
            .filter(|(_, o)| o.status == TransferStatus::Proposed)
            .map(|(k, _)| k.clone())
            .collect();
        if proposed.is_empty() {
            return;
        }
        let t = proposed[self.rng.below(proposed.len() as u64) as usize].clone();
        self.next_cmd += 1;
        let id = format!("cancel-{}", self.next_cmd);
        self.trace.push(format!("operator cancels {t}"));
        self.write(Side::S, |_, n, now| {
            n.submit_batch(
                vec![sub(id, "IND01", Command::CancelTransfer { transfer_id: t })],
                now,
            )
        });
    }

    fn account_status(&mut self) {
        let a = [2001u64, 2002][self.rng.below(2) as usize];
        let status = [
            AccountStatus::Frozen,
            AccountStatus::Open,
            AccountStatus::Open,
        ][self.rng.below(3) as usize];
        self.next_cmd += 1;
        let id = format!("status-{}", self.next_cmd);
        self.trace.push(format!("JPN01 account {a} -> {status:?}"));
        self.write(Side::R, |_, n, now| {
            n.submit_batch(
                vec![sub(
                    id,
                    "JPN01",
                    Command::SetAccountStatus {
                        account: AccountId(a),
                        status,
                    },
                )],
                now,
            )
        });
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=34 => {
                self.deliver();
            }
            35..=49 => self.tick(Side::S),
            50..=62 => self.tick(Side::R),
            63..=72 => self.transfer_out(),
            73..=75 => self.cancel(),
            76..=78 => self.account_status(),
            79..=81 => {
                let side = if self.rng.chance(500) {
                    Side::S
                } else {
                    Side::R
                };
                self.trace.push(format!("spontaneous crash of {side:?}"));
                self.crash(side);
            }
            _ => self.now = Timestamp(self.now.0 + self.rng.below(2 * SECOND as u64) as i64),
        }
    }

    /// I1–I4, I6, I7 on the two registries' committed states.
    fn check(&self) -> Result<(), String> {
        let (s, r) = (self.s.state(), self.r.state());
        s.check_invariants()?;
        r.check_invariants()?;
        let mut owned_s = RangeSet::default();
        for b in s.blocks() {
            owned_s.insert(&IssuedRange {
                issuing: b.issuing,
                range: b.range,
            });
        }
        let mut owned_r = RangeSet::default();
        for b in r.blocks() {
            let ir = IssuedRange {
                issuing: b.issuing,
                range: b.range,
            };
            if owned_s.overlaps(&ir) {
                return Err(format!(
                    "I1: serials {} {} are in both registries",
                    b.issuing, b.range
                ));
            }
            owned_r.insert(&ir);
        }
        // In transit: committed (and debited) at S, not yet credited at R.
        let mut transit = RangeSet::default();
        for (id, o) in &s.link().outbound {
            let inbound = r.link().inbound.get(id);
            match (&o.decision, inbound) {
                (Some(d), rec) if d.verdict == Verdict::Commit => {
                    let credited = rec.is_some_and(|x| x.status == TransferStatus::Completed);
                    if !credited {
                        let Some(rec) = rec else {
                            return Err(format!("I4/I2: {id} committed but unknown at R"));
                        };
                        if rec.status != TransferStatus::Accepted {
                            return Err(format!("I3: {id} committed at S, {:?} at R", rec.status));
                        }
                        for rg in o.proposal.ranges() {
                            if !r.link().pending.covers(&rg) {
                                return Err(format!("I2: {id} in transit but not pending at R"));
                            }
                            transit.insert(&rg);
                        }
                    }
                }
                _ => {}
            }
            check_hold(s, id, o)?;
        }
        for (id, rec) in &r.link().inbound {
            let o = s.link().outbound.get(id);
            match rec.status {
                TransferStatus::Completed => {
                    let Some(o) = o else {
                        return Err(format!("I4: {id} credited but unknown at S"));
                    };
                    let Some(d) = &o.decision else {
                        return Err(format!("I4: {id} credited before S decided"));
                    };
                    if d.verdict != Verdict::Commit || Some(d) != rec.decision.as_ref() {
                        return Err(format!("I3/I7: {id} credited without S's COMMIT decision"));
                    }
                    let q: u64 = rec.proposal.as_ref().map_or(0, |p| p.quantity);
                    if q != o.proposal.quantity {
                        return Err(format!("I3: {id} quantities differ"));
                    }
                }
                TransferStatus::Terminated
                    if rec.proposal.is_some()
                        && o.and_then(|o| o.decision.as_ref()).map(|d| d.verdict)
                            != Some(Verdict::Abort) =>
                {
                    return Err(format!("I3: {id} aborted at R without S's ABORT"));
                }
                _ => {}
            }
        }
        // I2: every serial exactly once, in S, in R, or in transit.
        let total = owned_s.total() + owned_r.total() + transit.total();
        if total != self.universe.total() {
            return Err(format!(
                "I2: {} owned by S + {} by R + {} in transit != {} issued",
                owned_s.total(),
                owned_r.total(),
                transit.total(),
                self.universe.total()
            ));
        }
        for rg in transit.ranges() {
            if owned_s.overlaps(&rg) || owned_r.overlaps(&rg) {
                return Err(format!("I2: in-transit serials {} also owned", rg.range));
            }
        }
        Ok(())
    }

    /// Faults stop; time passes; everything converges (I5).
    fn heal(&mut self) -> Result<(), String> {
        self.net.faults = Faults::default();
        self.planned.clear();
        self.crash_per_mille = 0;
        for round in 0..400 {
            self.now = Timestamp(self.now.0 + policy().retry_cap);
            self.tick(Side::S);
            self.tick(Side::R);
            while self.deliver() {}
            self.check()?;
            let open_s = self
                .s
                .state()
                .link()
                .outbound
                .values()
                .any(|o| o.decision.is_none() || !o.settled);
            let open_r = self
                .r
                .state()
                .link()
                .inbound
                .values()
                .any(|x| x.status == TransferStatus::Accepted);
            if !open_s && !open_r && self.net.in_flight() == 0 && round > 2 {
                break;
            }
        }
        let (s, r) = (self.s.state(), self.r.state());
        for (id, o) in &s.link().outbound {
            let Some(d) = &o.decision else {
                return Err(format!("I5: {id} never decided"));
            };
            if !o.settled {
                return Err(format!("I5: {id} decided but never acknowledged"));
            }
            let Some(rec) = r.link().inbound.get(id) else {
                return Err(format!("I5: {id} decided but R never learned it"));
            };
            let agree = match d.verdict {
                Verdict::Commit => rec.status == TransferStatus::Completed,
                Verdict::Abort => matches!(
                    rec.status,
                    TransferStatus::Terminated | TransferStatus::Rejected
                ),
            };
            if !agree {
                return Err(format!(
                    "I5: {id} is {:?} at S and {:?} at R",
                    d.verdict, rec.status
                ));
            }
        }
        if !s.holds().is_empty() {
            return Err("I6: a hold outlived every decision".into());
        }
        if !r.link().pending.is_empty() {
            return Err("I5: serials still pending at R".into());
        }
        if !r.link().alarms.is_empty() {
            return Err(format!("alarms raised: {:?}", r.link().alarms));
        }
        Ok(())
    }
}

/// I6: a cross-registry hold exists exactly while the transfer is undecided, over its ranges.
fn check_hold(
    s: &RegistryState,
    id: &tanso_core::link::TransferId,
    o: &Outbound,
) -> Result<(), String> {
    let hold = s.holds().get(&HoldId::parse(id.as_str()).unwrap());
    match (o.status, hold) {
        (TransferStatus::Proposed, Some(h)) => {
            let mut want = o.proposal.ranges();
            want.sort();
            let mut have = h.units.ranges();
            have.sort();
            // The hold's ranges are kept merged; compare totals and coverage.
            if h.units.total() != o.proposal.quantity || !want.iter().all(|r| h.units.covers(r)) {
                return Err(format!(
                    "I6: hold of {id} differs from its proposal: {have:?}"
                ));
            }
            Ok(())
        }
        (TransferStatus::Proposed, None) => Err(format!("I6: {id} proposed without a hold")),
        (_, Some(_)) => Err(format!("I6: {id} decided but its hold remains")),
        (_, None) => Ok(()),
    }
}

struct Outcome {
    crashes: u64,
    points: u64,
    transfers: usize,
    committed: usize,
}

fn run(
    seed: u64,
    steps: u64,
    faults: Faults,
    planned: Vec<u64>,
    crash_per_mille: u64,
) -> Result<Outcome, String> {
    let mut sim = Sim::new(seed, faults, planned, crash_per_mille);
    for step in 0..steps {
        sim.step();
        if let Err(e) = sim.check() {
            let tail: Vec<_> = sim.trace.iter().rev().take(25).rev().cloned().collect();
            return Err(format!(
                "seed {seed} step {step}: {e}\n  {}",
                tail.join("\n  ")
            ));
        }
    }
    if let Err(e) = sim.heal() {
        let tail: Vec<_> = sim.trace.iter().rev().take(25).rev().cloned().collect();
        return Err(format!(
            "seed {seed} after healing: {e}\n  {}",
            tail.join("\n  ")
        ));
    }
    let out = &sim.s.state().link().outbound;
    Ok(Outcome {
        crashes: sim.crashes,
        points: sim.points,
        transfers: out.len(),
        committed: out
            .values()
            .filter(|o| o.status == TransferStatus::Completed)
            .count(),
    })
}

fn lossy() -> Faults {
    Faults {
        drop_per_mille: 200,
        duplicate_per_mille: 150,
        max_delay: 6 * SECOND,
    }
}

#[test]
fn thousands_of_seeds_keep_the_invariants_under_loss_duplication_reordering_and_crashes() {
    if let Ok(seed) = std::env::var("TANSO_SIM_SEED") {
        let seed: u64 = seed.parse().expect("TANSO_SIM_SEED is a number");
        let o = run(seed, 300, lossy(), Vec::new(), 30).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "seed {seed}: {} transfers, {} committed, {} crashes",
            o.transfers, o.committed, o.crashes
        );
        return;
    }
    let seeds: u64 = std::env::var("TANSO_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let (mut transfers, mut committed, mut crashes) = (0, 0, 0);
    for seed in 0..seeds {
        match run(seed, 300, lossy(), Vec::new(), 30) {
            Ok(o) => {
                transfers += o.transfers;
                committed += o.committed;
                crashes += o.crashes;
            }
            Err(e) => panic!(
                "{e}\nreplay: TANSO_SIM_SEED={seed} cargo test -p tanso-engine --test link_sim"
            ),
        }
    }
    println!("{seeds} seeds: {transfers} transfers, {committed} committed, {crashes} crashes");
    // The simulation must exercise both outcomes and the crash paths, not just pass.
    assert!(
        committed * 4 > transfers,
        "too few commits: {committed} of {transfers}"
    );
    assert!(committed < transfers, "no aborts at all");
    assert!(crashes > seeds * 3, "too few crashes: {crashes}");
}

#[test]
fn a_crash_at_every_point_of_a_fault_free_run_still_ends_every_transfer_exactly_once() {
    // Count the crash points of a fault-free run (before and after every durable write and
    // every send, on both registries), then crash at each one in turn on a network that loses
    // nothing, so the crash is the only fault. A point whose write turns out empty (nothing to
    // write) does not crash; most do.
    let clean = run(7, 60, Faults::default(), Vec::new(), 0).expect("clean run");
    assert!(clean.points > 50, "{} points", clean.points);
    assert!(clean.committed > 0, "the clean run commits transfers");
    let mut crashed = 0;
    for k in 1..=clean.points {
        let o = run(7, 60, Faults::default(), vec![k], 0)
            .unwrap_or_else(|e| panic!("crash at point {k}: {e}"));
        crashed += u64::from(o.crashes > 0);
    }
    println!("crashed at {crashed} of {} points", clean.points);
    assert!(
        crashed * 2 > clean.points,
        "only {crashed} of {} points crashed",
        clean.points
    );
}

#[test]
fn a_failing_seed_replays_identically() {
    let a = run(42, 200, lossy(), Vec::new(), 30).unwrap();
    let b = run(42, 200, lossy(), Vec::new(), 30).unwrap();
    assert_eq!(
        (a.transfers, a.committed, a.crashes, a.points),
        (b.transfers, b.committed, b.crashes, b.points)
    );
}

#[test]
fn undecodable_or_misaddressed_messages_are_dropped_and_change_nothing() {
    let mut sim = Sim::new(11, Faults::default(), Vec::new(), 0);
    let before = (
        sim.r.state().state_hash(),
        sim.r
            .node
            .chain(&ChainId::parse("JPN01").unwrap())
            .unwrap()
            .seq,
    );
    let now = sim.now;
    let got = sim
        .r
        .driver
        .receive(&mut sim.r.node, b"not a message", now)
        .unwrap();
    assert!(
        matches!(got, Received::Dropped(ref why) if why.starts_with("6006")),
        "{got:?}"
    );
    // A message for a registry this node does not host.
    sim.transfer_out();
    let mut env = sim.s.state().link_outbox().remove(0);
    env.to = RegistryId::parse("KOR01").unwrap();
    let got = sim
        .r
        .driver
        .receive(&mut sim.r.node, &env.encode(), now)
        .unwrap();
    assert!(
        matches!(got, Received::Dropped(ref why) if why.starts_with("6005")),
        "{got:?}"
    );
    let after = (
        sim.r.state().state_hash(),
        sim.r
            .node
            .chain(&ChainId::parse("JPN01").unwrap())
            .unwrap()
            .seq,
    );
    assert_eq!(before, after);
}
