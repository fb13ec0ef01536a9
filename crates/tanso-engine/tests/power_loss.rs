//! Power loss at every sync point of a node's life, on the real SQLite store through the
//! crash-simulating VFS.
//!
//! A fixed workload (create the store, open the node, then batches through
//! `Node::submit_batch`: genesis and accounts, issuances, transfers with a durable rejection, a
//! rejection-only batch, cash and a multi-leg delivery versus payment, a signed checkpoint,
//! more transfers with a replay of an earlier id) is first run clean to count its syncs, N.
//! Then for every k in 1..=N and every kind of sync fault, a fresh machine runs the workload
//! with the k-th sync faulted; the writer stops at its first error (fatal, as in production),
//! the power goes, and a node is reopened on what survived. It must then hold every
//! acknowledged answer, hold each batch entirely or not at all (and only a prefix of them),
//! equal the clean run's state after that prefix, verify if a checkpoint survived, and take
//! the whole workload again (replaying what it has, applying the rest) and new commands.

use std::collections::BTreeSet;
use std::path::Path;

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use tanso_core::*;
use tanso_engine::keys::TrustedKeys;
use tanso_engine::verify::{verify, VerifyError};
use tanso_engine::{Answer, Node, NodeConfig, Outcome, Submission};
use tanso_store::{PersonalRecord, Store};
use tanso_store_sqlite::crashsim::{CrashSim, SyncFault};
use tanso_store_sqlite::{OpenOptions, SqliteStore};

const REGISTRY: &str = "IND01";
const FAULTS: [SyncFault; 3] = [
    SyncFault::FailsLost,
    SyncFault::FailsPersisted,
    SyncFault::SucceedsThenDies,
];
/// 2026-01-01T00:00:00Z in microseconds; each step of the workload is a second later.
const T0: i64 = 1_767_225_600_000_000;

#[derive(Clone, Debug)]
enum Step {
    /// `SqliteStore::open` (creates the schema) and `Node::open` (fences, makes the secret).
    Open,
    Batch(Vec<Submission>, Timestamp),
    Checkpoint(Timestamp),
}

fn chain() -> ChainId {
    ChainId::parse(REGISTRY).expect("registry id")
}

fn jcm() -> UnitKindCode {
    UnitKindCode::parse("JCM").expect("unit kind")
}

fn inr() -> CurrencyCode {
    CurrencyCode::parse("INR").expect("currency")
}

fn units(quantity: u64) -> UnitSelection {
    UnitSelection::Quantity {
        quantity: Quantity::new(quantity).expect("non-zero quantity"),
        filter: SetFilter {
            kind: Some(jcm()),
            ..SetFilter::default()
        },
    }
}

fn transfer(from: u64, to: u64, quantity: u64) -> Command {
    Command::Transfer {
        from: AccountId(from),
        to: AccountId(to),
        units: units(quantity),
    }
}

fn issue(account: u64, quantity: u64) -> Command {
    Command::Issue {
        account: AccountId(account),
        kind: jcm(),
        project: Some(ProjectId::parse("IN001").expect("project")),
        period: MitigationPeriod::new(
            Date::parse("2026-01-01").expect("date"),
            Date::parse("2026-12-31").expect("date"),
        )
        .expect("period"),
        vintage: None,
        quantity: Quantity::new(quantity).expect("non-zero quantity"),
        unit_start: None,
        citation: None,
        business_key: Some(
            BusinessKey::parse(&format!("issuance:power-loss:{account}")).expect("business key"),
        ),
    }
}

/// A submission whose content hash is the hash of its id and command, as an edge would give.
fn sub(id: &str, command: Command) -> Submission {
    let content_hash: [u8; 32] = Sha256::new()
        .chain_update(id.as_bytes())
        .chain_update(format!("{command:?}").as_bytes())
        .finalize()
        .into();
    Submission {
        id: CommandId::parse(id).expect("command id"),
        chain: chain(),
        actor: Actor::parse("power-loss-test").expect("actor"),
        content_hash,
        command: Ok(command),
        personal: Vec::new(),
        dry_run: false,
    }
}

fn holder_registration() -> Submission {
    let text = "Surya Solar Pvt Ltd".to_string();
    let salt = [0x5a; 32];
    let reference: [u8; 32] = Sha256::new()
        .chain_update(salt)
        .chain_update(text.as_bytes())
        .finalize()
        .into();
    let mut s = sub(
        "setup-holder-1",
        Command::RegisterHolder {
            holder: HolderId(1),
            kind: HolderKind::parse("company").expect("holder kind"),
            name: PersonalRef(reference),
        },
    );
    s.personal.push(PersonalRecord {
        reference,
        salt,
        text,
    });
    s
}

fn open_account(account: u64, kind: &str) -> Submission {
    sub(
        &format!("setup-account-{account}"),
        Command::OpenAccount {
            account: AccountId(account),
            holder: HolderId(1),
            kind: AccountKindCode::parse(kind).expect("account kind"),
        },
    )
}

fn workload() -> Vec<Step> {
    let at = |step: i64| Timestamp(T0 + step * 1_000_000);
    vec![
        Step::Open,
        Step::Batch(
            vec![
                sub(
                    "setup-open",
                    Command::OpenRegistry {
                        registry: RegistryId::parse(REGISTRY).expect("registry id"),
                        straddle: StraddlePolicy::ProRataDaysRemainderLast,
                    },
                ),
                holder_registration(),
                open_account(101, "entity-holding"),
                open_account(102, "entity-holding"),
                open_account(103, "entity-holding"),
                open_account(190, "retirement"),
            ],
            at(1),
        ),
        Step::Batch(
            vec![
                sub("issue-101", issue(101, 500)),
                sub("issue-102", issue(102, 300)),
            ],
            at(2),
        ),
        Step::Batch(
            vec![
                sub("transfer-1", transfer(101, 102, 120)),
                // Far more than account 103 holds: rejected (3005), and the rejection is bound
                // to its id durably in the same commit as the transfers around it.
                sub("transfer-too-many", transfer(103, 101, 1_000_000)),
                sub("transfer-2", transfer(102, 103, 75)),
                // The same id again in the same batch: answered from the batch, not re-applied.
                sub("transfer-1", transfer(101, 102, 120)),
            ],
            at(3),
        ),
        // A batch that writes nothing but a rejection.
        Step::Batch(vec![sub("transfer-to-self", transfer(101, 101, 1))], at(4)),
        Step::Batch(
            vec![
                sub(
                    "deposit-103",
                    Command::DepositCash {
                        account: AccountId(103),
                        currency: inr(),
                        amount: Money(50_000),
                    },
                ),
                // Delivery versus payment: units one way, cash the other, one entry.
                sub(
                    "dvp-1",
                    Command::MultiLeg(vec![
                        transfer(102, 103, 40),
                        Command::TransferCash {
                            from: AccountId(103),
                            to: AccountId(102),
                            currency: inr(),
                            amount: Money(20_000),
                        },
                    ]),
                ),
                // A multi-leg whose cash leg cannot be paid: rejected as a whole (3051).
                sub(
                    "dvp-unpaid",
                    Command::MultiLeg(vec![
                        transfer(102, 103, 10),
                        Command::TransferCash {
                            from: AccountId(103),
                            to: AccountId(102),
                            currency: inr(),
                            amount: Money(9_000_000),
                        },
                    ]),
                ),
            ],
            at(5),
        ),
        Step::Checkpoint(at(6)),
        Step::Batch(
            vec![
                sub("transfer-3", transfer(103, 101, 15)),
                sub(
                    "retire-1",
                    Command::Retire {
                        from: AccountId(103),
                        to: AccountId(190),
                        units: units(25),
                        purpose: PurposeCode::parse("voluntary").expect("purpose"),
                        beneficiary: Some(HolderId(1)),
                        beneficiary_name: None,
                        note: None,
                    },
                ),
                // An id acknowledged in an earlier batch: a replay, nothing written.
                sub("transfer-2", transfer(102, 103, 75)),
                sub("transfer-4", transfer(101, 102, 33)),
            ],
            at(7),
        ),
        Step::Batch(
            (0..12)
                .map(|i| {
                    let (from, to) = if i % 2 == 0 { (101, 102) } else { (102, 101) };
                    sub(&format!("burst-{i}"), transfer(from, to, 1 + i % 4))
                })
                .collect(),
            at(8),
        ),
    ]
}

/// WAL pages after which a commit also copies the WAL into the database file: production's
/// setting, and a tiny one so that the workload crosses those checkpoints (and their syncs).
const WAL_PAGES_PRODUCTION: u32 = 4_000;
const WAL_PAGES_TINY: u32 = 4;

/// How the store lays out what it writes: the WAL autocheckpoint, and from what body size a
/// run goes to a segment file instead of its row.
#[derive(Clone, Copy, Debug)]
struct Layout {
    wal_pages: u32,
    segment_min_body: usize,
}

/// Production's layout (this workload's runs are small, so they stay in their rows).
const PRODUCTION: Layout = Layout {
    wal_pages: WAL_PAGES_PRODUCTION,
    segment_min_body: 64 * 1024,
};
/// A tiny autocheckpoint, so the workload crosses checkpoints and their syncs.
const TINY_WAL: Layout = Layout {
    wal_pages: WAL_PAGES_TINY,
    ..PRODUCTION
};
/// Every run body in a segment file, so every writing batch syncs a segment, then the WAL.
const SEGMENTS: Layout = Layout {
    segment_min_body: 1,
    ..PRODUCTION
};

/// Opens through the simulator.
fn options(sim: &CrashSim, layout: Layout) -> OpenOptions {
    OpenOptions {
        vfs: Some(sim.vfs_name().to_string()),
        wal_autocheckpoint_pages: layout.wal_pages,
        segment_min_body: layout.segment_min_body,
        ..OpenOptions::default()
    }
}

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn trusted() -> TrustedKeys {
    let mut keys = TrustedKeys::new();
    keys.insert(signing_key().verifying_key(), "power-loss-test")
        .expect("trust the test key");
    keys
}

/// The chain's (seq, state hash), or (0, none) before genesis.
fn chain_state(node: &Node<SqliteStore>) -> (u64, Option<[u8; 32]>) {
    node.chain(&chain())
        .map_or((0, None), |c| (c.seq, Some(c.state.state_hash())))
}

/// How a run of the workload ended.
struct Run {
    /// Steps that returned Ok, a prefix of the workload.
    acknowledged: usize,
    /// Answers of the acknowledged batch steps, by step index.
    answers: Vec<(usize, Vec<Answer>)>,
    /// Checkpoint seqs acknowledged.
    checkpoints: Vec<u64>,
    /// (seq, state hash) after each acknowledged step.
    states: Vec<(u64, Option<[u8; 32]>)>,
    /// Syncs seen when each acknowledged step returned.
    syncs_after: Vec<u64>,
}

fn run_workload(
    sim: &CrashSim,
    layout: Layout,
    dir: &Path,
    steps: &[Step],
) -> (Run, Option<Node<SqliteStore>>) {
    let mut node: Option<Node<SqliteStore>> = None;
    let mut run = Run {
        acknowledged: 0,
        answers: Vec::new(),
        checkpoints: Vec::new(),
        states: Vec::new(),
        syncs_after: Vec::new(),
    };
    for (i, step) in steps.iter().enumerate() {
        let ok = match (step, node.as_mut()) {
            (Step::Open, _) => match SqliteStore::open_with(dir, &options(sim, layout)) {
                Ok(store) => match Node::open(store, NodeConfig::default()) {
                    Ok(n) => {
                        node = Some(n);
                        true
                    }
                    Err(_) => false,
                },
                Err(_) => false,
            },
            (Step::Batch(subs, now), Some(n)) => match n.submit_batch(subs.clone(), *now) {
                Ok(answers) => {
                    assert_eq!(answers.len(), subs.len(), "one answer per submission");
                    run.answers.push((i, answers));
                    true
                }
                Err(_) => false,
            },
            (Step::Checkpoint(now), Some(n)) => match n.checkpoint(&signing_key(), *now) {
                Ok(signed) => {
                    run.checkpoints
                        .extend(signed.iter().map(|s| s.checkpoint.seq));
                    true
                }
                Err(_) => false,
            },
            (_, None) => panic!("step {i} before the node is open"),
        };
        if !ok {
            // The first error is fatal: the node is poisoned, and production restarts.
            break;
        }
        run.acknowledged += 1;
        let n = node
            .as_ref()
            .expect("an acknowledged step leaves an open node");
        run.states.push(chain_state(n));
        run.syncs_after.push(sim.sync_calls());
    }
    (run, node)
}

/// Ids a batch wrote for the first time, from the clean run: (accepted entries, stored
/// rejections).
fn first_writes(answers: &[Answer]) -> (Vec<String>, Vec<String>) {
    let mut entries = Vec::new();
    let mut rejections = Vec::new();
    for a in answers.iter().filter(|a| !a.replayed) {
        match &a.outcome {
            Outcome::Accepted(_) => entries.push(a.id.as_str().to_string()),
            Outcome::Rejected(r) if r.is_permanent() => {
                rejections.push(a.id.as_str().to_string());
            }
            Outcome::Rejected(r) => panic!("transient rejection {r} in the clean run"),
        }
    }
    (entries, rejections)
}

/// Every command id with an entry in the registry chain, read back from the store.
fn stored_entry_ids(node: &Node<SqliteStore>) -> BTreeSet<String> {
    let head = node.chain(&chain()).map_or(0, |c| c.seq);
    (1..=head)
        .map(|seq| {
            let (entry, _) = node
                .read_entry(&chain(), seq)
                .expect("read entry")
                .expect("every seq up to the head has an entry");
            entry.command_id.as_str().to_string()
        })
        .collect()
}

/// An outcome without its hash (the node secret differs between runs, so entry hashes do).
fn shape(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Accepted(a) => format!(
            "accepted {} #{} at {} {:?}",
            a.chain, a.seq, a.time, a.events
        ),
        Outcome::Rejected(r) => format!("rejected {:?}", r.failures),
    }
}

struct Clean {
    run: Run,
    syncs: u64,
    final_state: (u64, Option<[u8; 32]>),
}

fn clean_run(steps: &[Step], layout: Layout) -> Clean {
    let sim = CrashSim::new().expect("crash simulator");
    let (run, node) = run_workload(&sim, layout, Path::new("/clean"), steps);
    assert_eq!(
        run.acknowledged,
        steps.len(),
        "the clean run acknowledges every step"
    );
    let node = node.expect("open node");
    let final_state = chain_state(&node);
    Clean {
        syncs: sim.sync_calls(),
        run,
        final_state,
    }
}

/// Runs the workload with the k-th sync faulted, cuts the power, reopens, and checks
/// everything the module doc promises. Returns how many batch steps survived.
fn crash_and_check(
    steps: &[Step],
    layout: Layout,
    clean: &Clean,
    k: u64,
    fault: SyncFault,
) -> usize {
    let ctx = format!("fault {fault:?} at sync {k} ({layout:?})");
    let sim = CrashSim::new().expect("crash simulator");
    sim.plan_sync_fault(k, fault);
    let dir = Path::new("/node");
    let (run, node) = run_workload(&sim, layout, dir, steps);
    assert!(sim.is_dead(), "{ctx}: the planned fault fired");
    drop(node);
    assert_eq!(
        sim.open_files(),
        0,
        "{ctx}: every file closed before the power goes"
    );
    sim.power_loss();

    let store = SqliteStore::open_with(dir, &options(&sim, layout))
        .unwrap_or_else(|e| panic!("{ctx}: reopening the store on the survivors failed: {e}"));
    // Opening the node replays and re-hashes every chain: a torn or reordered journal fails.
    let mut node = Node::open(store, NodeConfig::default())
        .unwrap_or_else(|e| panic!("{ctx}: reopening the node on the survivors failed: {e}"));

    // 1. Which batches survived: each entirely or not at all, and only a prefix of them.
    let entry_ids = stored_entry_ids(&node);
    let mut present_batches = Vec::new();
    for (step, answers) in &clean.run.answers {
        let (entries, rejections) = first_writes(answers);
        let mut found = 0;
        for id in &entries {
            found += usize::from(entry_ids.contains(id));
        }
        for id in &rejections {
            let stored = node.store().rejection(id).expect("read rejection");
            found += usize::from(stored.is_some());
        }
        let total = entries.len() + rejections.len();
        assert!(
            found == 0 || found == total,
            "{ctx}: batch step {step} is half-applied: {found} of its {total} writes survived"
        );
        if total > 0 {
            present_batches.push((*step, found == total));
        }
    }
    let survived = present_batches.iter().take_while(|(_, p)| *p).count();
    assert!(
        present_batches[survived..].iter().all(|(_, p)| !p),
        "{ctx}: surviving batches are not a prefix: {present_batches:?}"
    );
    let writes_expected = |s: &usize| {
        clean
            .run
            .answers
            .iter()
            .find(|(step, _)| step == s)
            .is_some_and(|(_, a)| {
                let (e, r) = first_writes(a);
                e.len() + r.len() > 0
            })
    };
    let acked_writing = run
        .answers
        .iter()
        .filter(|(step, _)| writes_expected(step))
        .count();
    assert!(
        survived == acked_writing || survived == acked_writing + 1,
        "{ctx}: {acked_writing} writing batches acknowledged, but {survived} survived"
    );
    // The one that may survive beyond the acknowledged ones is the one in flight.
    if survived > acked_writing {
        let in_doubt_step = present_batches[survived - 1].0;
        assert_eq!(
            in_doubt_step, run.acknowledged,
            "{ctx}: only the step in flight at the crash may survive unacknowledged"
        );
    }

    // 2. The state is exactly the clean run's after the same prefix of steps.
    let state = chain_state(&node);
    let acked_state = run.states.last().copied().unwrap_or((0, None));
    let next_state = clean
        .run
        .states
        .get(run.acknowledged)
        .copied()
        .unwrap_or(clean.final_state);
    assert!(
        state == acked_state || state == next_state,
        "{ctx}: reopened at seq {} which is neither the acknowledged seq {} nor the in-flight \
         step's seq {}",
        state.0,
        acked_state.0,
        next_state.0
    );

    // 3. Acknowledged checkpoints survive; any surviving checkpoint verifies.
    let stored_checkpoints: Vec<u64> = node
        .store()
        .checkpoints(REGISTRY)
        .expect("read checkpoints")
        .iter()
        .map(|c| c.seq)
        .collect();
    for seq in &run.checkpoints {
        assert!(
            stored_checkpoints.contains(seq),
            "{ctx}: acknowledged checkpoint at seq {seq} was lost"
        );
    }
    if !stored_checkpoints.is_empty() {
        let reports = verify(node.store(), &trusted())
            .unwrap_or_else(|e| panic!("{ctx}: verify after power loss failed: {e}"));
        assert_eq!(reports.len(), 1, "{ctx}: one chain verified");
        assert_eq!(
            reports[0].entries, state.0,
            "{ctx}: verify read every entry"
        );
    }

    // 4. The client retries the whole workload: every acknowledged answer comes back
    //    replayed and identical; the rest is applied once, as in the clean run.
    for (step_ix, step) in steps.iter().enumerate() {
        match step {
            Step::Open => {}
            Step::Checkpoint(now) => {
                node.checkpoint(&signing_key(), *now)
                    .unwrap_or_else(|e| panic!("{ctx}: checkpoint after reopen failed: {e}"));
            }
            Step::Batch(subs, now) => {
                let answers = node
                    .submit_batch(subs.clone(), *now)
                    .unwrap_or_else(|e| panic!("{ctx}: retry of step {step_ix} failed: {e}"));
                let acked = run.answers.iter().find(|(s, _)| *s == step_ix);
                let (_, clean_answers) = clean
                    .run
                    .answers
                    .iter()
                    .find(|(s, _)| *s == step_ix)
                    .expect("clean run answered every batch");
                let mut replayed_first_writes = BTreeSet::new();
                for (j, a) in answers.iter().enumerate() {
                    assert_eq!(
                        shape(&a.outcome),
                        shape(&clean_answers[j].outcome),
                        "{ctx}: step {step_ix} answer {j} ({}) differs from the clean run",
                        a.id
                    );
                    if let Some((_, acked)) = acked {
                        assert!(
                            a.replayed,
                            "{ctx}: acknowledged {} was not found after power loss",
                            a.id
                        );
                        assert_eq!(
                            a.outcome, acked[j].outcome,
                            "{ctx}: acknowledged {} came back with another outcome",
                            a.id
                        );
                    } else if !clean_answers[j].replayed {
                        replayed_first_writes.insert(a.replayed);
                    }
                }
                assert!(
                    replayed_first_writes.len() <= 1,
                    "{ctx}: the in-doubt step {step_ix} was partly durable"
                );
            }
        }
    }
    assert_eq!(
        chain_state(&node),
        clean.final_state,
        "{ctx}: retrying the workload does not converge to the clean run's state"
    );

    // 5. The reopened node takes new commands, and the result verifies.
    let (seq_before, _) = chain_state(&node);
    let answers = node
        .submit_batch(
            vec![sub("after-power-loss", transfer(101, 103, 2))],
            Timestamp(T0 + 60_000_000),
        )
        .unwrap_or_else(|e| panic!("{ctx}: a new batch after reopen failed: {e}"));
    match &answers[0].outcome {
        Outcome::Accepted(a) => assert_eq!(a.seq, seq_before + 1, "{ctx}: new entry's seq"),
        Outcome::Rejected(r) => panic!("{ctx}: a new command after reopen was rejected: {r}"),
    }
    node.checkpoint(&signing_key(), Timestamp(T0 + 61_000_000))
        .unwrap_or_else(|e| panic!("{ctx}: checkpoint after reopen failed: {e}"));
    verify(node.store(), &trusted())
        .unwrap_or_else(|e| panic!("{ctx}: verify after recovery failed: {e}"));
    survived
}

#[test]
fn clean_workload_answers_as_designed() {
    let steps = workload();
    let clean = clean_run(&steps, PRODUCTION);
    let all: Vec<&Answer> = clean.run.answers.iter().flat_map(|(_, a)| a).collect();
    let by_id = |id: &str| -> Vec<&Answer> {
        all.iter()
            .copied()
            .filter(|a| a.id.as_str() == id)
            .collect()
    };
    let codes = |id: &str| by_id(id)[0].codes();
    assert_eq!(
        codes("transfer-too-many"),
        vec![Code::QUANTITY_EXCEEDS_AVAILABLE]
    );
    assert_eq!(codes("transfer-to-self"), vec![Code::SAME_ACCOUNT]);
    assert_eq!(codes("dvp-unpaid"), vec![Code::CASH_INSUFFICIENT]);
    for id in ["dvp-1", "retire-1", "transfer-4", "burst-11"] {
        assert!(
            matches!(by_id(id)[0].outcome, Outcome::Accepted(_)),
            "{id} is accepted"
        );
    }
    // Replays inside the workload: the same id in the same batch and in a later batch.
    for id in ["transfer-1", "transfer-2"] {
        let answers = by_id(id);
        assert_eq!(answers.len(), 2, "{id} is submitted twice");
        assert!(
            !answers[0].replayed && answers[1].replayed,
            "{id}: second is a replay"
        );
        assert_eq!(answers[0].outcome, answers[1].outcome, "{id}: same outcome");
    }
    assert_eq!(clean.run.checkpoints.len(), 1, "one checkpoint signed");
    let multi_leg = by_id("dvp-1")[0];
    if let Outcome::Accepted(a) = &multi_leg.outcome {
        assert_eq!(
            a.events.len(),
            2,
            "a multi-leg command is one entry with both legs"
        );
    }
    let mut syncs_per_step = Vec::new();
    let mut before = 0;
    for after in &clean.run.syncs_after {
        syncs_per_step.push(after - before);
        before = *after;
    }
    eprintln!(
        "power_loss: {} sync points, per step {syncs_per_step:?}",
        clean.syncs
    );
    assert!(
        syncs_per_step.iter().all(|&n| n > 0),
        "every step of the workload syncs at least once: {syncs_per_step:?}"
    );
}

/// Crashes the workload at every sync point with every fault, checks each, and returns the
/// number of sync points.
fn sweep(layout: Layout) -> u64 {
    let steps = workload();
    let clean = clean_run(&steps, layout);
    assert!(clean.syncs > 0, "the workload syncs");
    let mut survivors = BTreeSet::new();
    for k in 1..=clean.syncs {
        for fault in FAULTS {
            survivors.insert(crash_and_check(&steps, layout, &clean, k, fault));
        }
    }
    eprintln!(
        "power_loss: {layout:?}: {} sync points x {} faults; \
         surviving batch counts seen: {survivors:?}",
        clean.syncs,
        FAULTS.len()
    );
    // The sweep reached every boundary: nothing survived, and everything survived.
    let writing_batches = clean
        .run
        .answers
        .iter()
        .filter(|(_, a)| {
            let (e, r) = first_writes(a);
            e.len() + r.len() > 0
        })
        .count();
    for n in 0..=writing_batches {
        assert!(
            survivors.contains(&n),
            "no crash left exactly {n} batches: the sweep missed a boundary ({survivors:?})"
        );
    }
    clean.syncs
}

#[test]
fn power_loss_at_every_sync_keeps_acknowledged_answers_and_whole_batches() {
    sweep(PRODUCTION);
}

#[test]
fn power_loss_at_every_sync_with_bodies_in_segments_keeps_acknowledged_answers() {
    let with_segments = sweep(SEGMENTS);
    let steps = workload();
    let production = clean_run(&steps, PRODUCTION).syncs;
    assert!(
        with_segments > production,
        "a batch whose body goes to a segment syncs it before the WAL ({with_segments} vs {production})"
    );
}

#[test]
fn power_loss_at_every_sync_across_wal_checkpoints_keeps_acknowledged_answers() {
    let tiny = sweep(TINY_WAL);
    let steps = workload();
    let production = clean_run(&steps, PRODUCTION).syncs;
    assert!(
        tiny > production,
        "a tiny autocheckpoint adds the syncs of copying the WAL ({tiny} vs {production})"
    );
}

/// With every run body in a segment file (beside the database, outside SQLite), one byte
/// changed there makes verify fail naming the chain and the entry whose stored bytes changed.
#[test]
fn a_changed_byte_in_a_segment_fails_verify_naming_the_entry() {
    let root = tempfile::tempdir().expect("temp dir");
    let options = OpenOptions {
        segment_min_body: 1,
        ..OpenOptions::default()
    };
    let store = SqliteStore::open_with(root.path(), &options).expect("open");
    let mut node = Node::open(store, NodeConfig::default()).expect("open node");
    for step in workload() {
        match step {
            Step::Open => {}
            Step::Batch(subs, now) => {
                node.submit_batch(subs, now).expect("batch");
            }
            Step::Checkpoint(now) => {
                node.checkpoint(&signing_key(), now).expect("checkpoint");
            }
        }
    }
    let head = node.chain(&chain()).expect("the registry chain").seq;
    drop(node);
    let reopen = || SqliteStore::open_with(root.path(), &options).expect("reopen");
    verify(&reopen(), &trusted()).expect("the untouched store verifies");
    // The last run appended ends with the chain's last entry, stored as
    // `length || body || hash`: the segment's last byte is that entry's stored hash.
    let segments: Vec<_> = std::fs::read_dir(root.path())
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains("journal.sqlite-seg"))
        .collect();
    assert_eq!(segments.len(), 1, "{segments:?}");
    let mut bytes = std::fs::read(&segments[0]).expect("read segment");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&segments[0], &bytes).expect("write segment");
    match verify(&reopen(), &trusted()) {
        Err(VerifyError::Fault(f)) => {
            assert_eq!((f.chain.as_str(), f.seq), (REGISTRY, head), "{f:?}");
        }
        other => panic!("want a fault at {REGISTRY} seq {head}, got {other:?}"),
    }
}
