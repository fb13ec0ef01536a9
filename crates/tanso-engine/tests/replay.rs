//! Engine properties over generated command sequences, through a real store: a cold replay
//! (reopening the node from the store) gives back exactly the live state, and resubmitting
//! every command changes nothing (each answer is the stored one, replayed). A reader that
//! follows the writer (`catch_up`) holds the same state, refuses commands, and once promoted
//! fences the old writer and replays every stored answer.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use sha2::{Digest, Sha256};
use tanso_core::*;
use tanso_engine::{Answer, Node, NodeConfig, Outcome, Submission};
use tanso_store::memory::MemoryStore;

const T0: Timestamp = Timestamp(1_767_225_600_000_000);

fn sub(n: usize, chain: &ChainId, cmd: Command) -> Submission {
    let id = CommandId::parse(&format!("c{n}")).unwrap();
    let mut h = Sha256::new();
    h.update(format!("{cmd:?}"));
    Submission {
        id,
        chain: chain.clone(),
        actor: Actor::parse("prop").unwrap(),
        content_hash: h.finalize().into(),
        command: Ok(cmd),
        personal: Vec::new(),
        dry_run: false,
    }
}

fn setup(chain: &ChainId) -> Vec<Command> {
    let reg = match chain {
        ChainId::Registry(r) => *r,
        _ => unreachable!(),
    };
    let mut v = vec![
        Command::OpenRegistry {
            registry: reg,
            straddle: StraddlePolicy::ProRataDaysRemainderLast,
        },
        Command::RegisterHolder {
            holder: HolderId(1),
            kind: HolderKind::parse("company").unwrap(),
            name: PersonalRef([1; 32]),
        },
    ];
    for a in 1..=4u64 {
        v.push(Command::OpenAccount {
            account: AccountId(a),
            holder: HolderId(1),
            kind: AccountKindCode::parse("entity-holding").unwrap(),
        });
    }
    v.push(Command::OpenAccount {
        account: AccountId(9),
        holder: HolderId(1),
        kind: AccountKindCode::parse("retirement").unwrap(),
    });
    v
}

#[derive(Clone, Debug)]
enum Op {
    Issue(u64, u64, i32),
    Transfer(u64, u64, u64),
    Retire(u64, u64),
    Deposit(u64, u64),
    Pay(u64, u64, u64),
    Hold(u64, u64),
    Release(u64),
    Dvp(u64, u64, u64, u64),
    Freeze(u64, bool),
}

/// Another account of 1..=4 (`d` = 0 gives the same one, to keep some 2508s).
fn other(a: u64, d: u64) -> u64 {
    (a - 1 + d) % 4 + 1
}

fn op() -> impl Strategy<Value = Op> {
    let acct = 1..=4u64;
    prop_oneof![
        3 => (acct.clone(), 1..300u64, 2025..2027i32).prop_map(|(a, q, y)| Op::Issue(a, q, y)),
        4 => (acct.clone(), 1..4u64, 1..40u64).prop_map(|(a, d, q)| Op::Transfer(a, other(a, d), q)),
        2 => (acct.clone(), 1..20u64).prop_map(|(a, q)| Op::Retire(a, q)),
        2 => (acct.clone(), 1..10_000u64).prop_map(|(a, m)| Op::Deposit(a, m)),
        2 => (acct.clone(), 1..4u64, 1..5_000u64).prop_map(|(a, d, m)| Op::Pay(a, other(a, d), m)),
        3 => (acct.clone(), 1..10u64).prop_map(|(a, q)| Op::Hold(a, q)),
        2 => (0..4u64).prop_map(Op::Release),
        2 => (acct.clone(), 0..4u64, 1..20u64, 1..3_000u64)
            .prop_map(|(a, d, q, m)| Op::Dvp(a, other(a, d), q, m)),
        1 => (acct, prop::bool::weighted(0.3)).prop_map(|(a, f)| Op::Freeze(a, f)),
    ]
}

fn jcm(q: u64, vintage: Option<i32>) -> UnitSelection {
    UnitSelection::Quantity {
        quantity: Quantity::new(q).unwrap(),
        filter: SetFilter {
            kind: Some(UnitKindCode::parse("JCM").unwrap()),
            vintage: vintage.map(|y| Vintage::new(y as i64).unwrap()),
            ..SetFilter::default()
        },
    }
}

/// `holds`: ids of holds placed so far, so releases usually name one that exists.
fn to_command(op: &Op, n: usize, holds: &mut Vec<String>) -> Command {
    let inr = CurrencyCode::parse("INR").unwrap();
    match op {
        Op::Issue(a, q, y) => Command::Issue {
            account: AccountId(*a),
            kind: UnitKindCode::parse("JCM").unwrap(),
            project: Some(ProjectId::parse("IN001").unwrap()),
            period: MitigationPeriod::new(
                Date::from_ymd(*y, 1, 1).unwrap(),
                Date::from_ymd(*y, 12, 31).unwrap(),
            )
            .unwrap(),
            vintage: None,
            quantity: Quantity::new(*q).unwrap(),
            unit_start: None,
            citation: None,
            business_key: None,
        },
        Op::Transfer(a, b, q) => Command::Transfer {
            from: AccountId(*a),
            to: AccountId(*b),
            units: jcm(*q, Some(2026)),
        },
        Op::Retire(a, q) => Command::Retire {
            from: AccountId(*a),
            to: AccountId(9),
            units: jcm(*q, Some(2025)),
            purpose: PurposeCode::parse("voluntary").unwrap(),
            beneficiary: None,
            beneficiary_name: None,
            note: None,
        },
        Op::Deposit(a, m) => Command::DepositCash {
            account: AccountId(*a),
            currency: inr,
            amount: Money(*m),
        },
        Op::Pay(a, b, m) => Command::TransferCash {
            from: AccountId(*a),
            to: AccountId(*b),
            currency: inr,
            amount: Money(*m),
        },
        Op::Hold(a, q) => Command::PlaceHold {
            hold: {
                holds.push(format!("h{n}"));
                HoldId::parse(&format!("h{n}")).unwrap()
            },
            kind: HoldKind::MarketOrder,
            account: AccountId(*a),
            target: HoldTarget::Units(jcm(*q, Some(2026))),
            expires_at: None,
        },
        Op::Release(k) => Command::ReleaseHold {
            hold: HoldId::parse(
                holds
                    .iter()
                    .rev()
                    .nth(*k as usize)
                    .map_or("h-none", |h| h.as_str()),
            )
            .unwrap(),
            part: HoldPart::All,
            decision: None,
        },
        Op::Dvp(a, b, q, m) => Command::MultiLeg(vec![
            Command::Transfer {
                from: AccountId(*a),
                to: AccountId(*b),
                units: jcm(*q, Some(2026)),
            },
            Command::TransferCash {
                from: AccountId(*b),
                to: AccountId(*a),
                currency: inr,
                amount: Money(*m),
            },
        ]),
        Op::Freeze(a, f) => Command::SetAccountStatus {
            account: AccountId(*a),
            status: if *f {
                AccountStatus::Frozen
            } else {
                AccountStatus::Open
            },
        },
    }
}

/// The commands that open both registries, with holders and accounts.
fn opening(ind: &ChainId, jpn: &ChainId) -> Vec<Submission> {
    let mut subs = Vec::new();
    for c in setup(ind) {
        subs.push(sub(subs.len(), ind, c));
    }
    for c in setup(jpn) {
        subs.push(sub(subs.len(), jpn, c));
    }
    subs
}

fn hashes(node: &Node<MemoryStore>) -> Vec<(String, u64, [u8; 32], [u8; 32])> {
    node.chains()
        .filter(|c| c.seq > 0)
        .map(|c| (c.name.clone(), c.seq, c.head, c.state.state_hash()))
        .collect()
}

fn accepted(a: &[Answer]) -> usize {
    a.iter()
        .filter(|x| matches!(x.outcome, Outcome::Accepted(_)))
        .count()
}

/// Runs the property over many generated cases and asserts, per command kind, that the
/// generators produced both acceptances and rejections (a generator that only produces
/// rejections would make the property vacuous).
#[test]
fn cold_replay_equals_live_state_and_resubmission_changes_nothing() {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    let tally: RefCell<BTreeMap<&'static str, (usize, usize)>> = RefCell::new(BTreeMap::new());
    let mut runner = runner(300);
    let strategy = (
        prop::collection::vec(op(), 1..120),
        prop::collection::vec(1..30usize, 1..10),
    );
    runner
        .run(&strategy, |(ops, splits)| {
            let store = MemoryStore::new();
            // Nodes provisioned for no commands, fewer than the case makes (the index grows
            // past it), or more: the same answers and state.
            let provisioned = NodeConfig {
                index_capacity: [0, 1, 40, 5000][ops.len() % 4],
                ..NodeConfig::default()
            };
            let mut node = Node::open(store.reopen(), provisioned.clone()).unwrap();
            // A second instance on the same store follows the writer.
            let mut reader = Node::open_reader(store.reopen(), NodeConfig::default()).unwrap();
            let ind = ChainId::parse("IND01").unwrap();
            let jpn = ChainId::parse("JPN01").unwrap();
            let mut subs = opening(&ind, &jpn);
            let (mut ind_holds, mut jpn_holds) = (Vec::new(), Vec::new());
            let mut dups: Vec<(usize, usize, bool)> = Vec::new();
            for (i, o) in ops.iter().enumerate() {
                let (chain, holds) = if i % 5 == 4 {
                    (&jpn, &mut jpn_holds)
                } else {
                    (&ind, &mut ind_holds)
                };
                let n = subs.len();
                subs.push(sub(n, chain, to_command(o, n, holds)));
                // Now and then the same command again (same id and content), and an id reused
                // with other content: within a batch or across batches.
                if i % 7 == 6 {
                    let mut k = subs.len() - 1 - (i % 3);
                    while dups.iter().any(|x| x.0 == k) {
                        k -= 1;
                    }
                    dups.push((subs.len(), k, true));
                    let again = subs[k].clone();
                    subs.push(again);
                }
                if i % 11 == 10 {
                    let mut k = subs.len() - 1 - (i % 4);
                    while dups.iter().any(|x| x.0 == k) {
                        k -= 1;
                    }
                    let mut other = subs[k].clone();
                    other.content_hash[0] ^= 1;
                    dups.push((subs.len(), k, false));
                    subs.push(other);
                }
            }
            // Apply in batches of generated sizes: group commit must not change the outcome.
            let mut answers = Vec::new();
            let mut rest = subs.clone();
            let mut k = 0;
            while !rest.is_empty() {
                let take = splits[k % splits.len()].min(rest.len());
                k += 1;
                let batch: Vec<_> = rest.drain(..take).collect();
                answers.extend(
                    node.submit_batch(batch, Timestamp(T0.0 + k as i64))
                        .unwrap(),
                );
                // What is read between batches has every owner change written.
                for c in node.chains() {
                    let pending = c.state.registry().map_or(0, |r| r.pending_owner_changes());
                    prop_assert_eq!(pending, 0, "owner changes left pending after a batch");
                }
                // The reader catches up now and then, so one catch-up may span batches.
                if k % 2 == 0 {
                    reader.catch_up().unwrap();
                }
            }
            let refused = reader.submit_batch(vec![subs[0].clone()], Timestamp(T0.0));
            prop_assert!(
                matches!(refused, Err(tanso_engine::NodeError::Fenced)),
                "a reader accepted a command"
            );
            prop_assert!(accepted(&answers) >= 14, "setup commands must be accepted");
            for &(d, k, same) in &dups {
                let first = (0..=k)
                    .rev()
                    .find(|&j| subs[j].id == subs[k].id && !dups.iter().any(|x| x.0 == j))
                    .unwrap_or(k);
                if same {
                    prop_assert!(
                        answers[d].replayed,
                        "duplicate {} not replayed",
                        answers[d].id
                    );
                    prop_assert_eq!(&answers[d].outcome, &answers[first].outcome);
                } else {
                    prop_assert_eq!(answers[d].codes(), vec![Code::ID_REUSED_WITH_OTHER_CONTENT]);
                }
            }
            for (s, a) in subs.iter().zip(&answers) {
                let name = s.command.as_ref().map(|c| c.name()).unwrap_or("edge");
                let mut t = tally.borrow_mut();
                let e = t.entry(name).or_default();
                match a.outcome {
                    Outcome::Accepted(_) => e.0 += 1,
                    Outcome::Rejected(ref r) => {
                        e.1 += 1;
                        if std::env::var("TALLY_CODES").is_ok() {
                            eprintln!("{name} {:?}", r.codes());
                        }
                    }
                }
            }
            let live = hashes(&node);
            for c in node.chains() {
                if let Some(r) = c.state.registry() {
                    r.check_invariants().unwrap();
                }
            }
            drop(node);

            // Cold replay through the store.
            let mut reopened = Node::open(store.reopen(), provisioned).unwrap();
            prop_assert_eq!(&hashes(&reopened), &live);

            // Idempotent resubmission: every answer comes back replayed and equal.
            let again = reopened
                .submit_batch(subs.clone(), Timestamp(T0.0 + 10_000))
                .unwrap();
            for (i, (a, b)) in answers.iter().zip(&again).enumerate() {
                if dups.iter().any(|x| x.0 == i && !x.2) {
                    prop_assert_eq!(b.codes(), vec![Code::ID_REUSED_WITH_OTHER_CONTENT]);
                    continue;
                }
                prop_assert!(b.replayed, "{} was not replayed", b.id);
                prop_assert_eq!(&a.outcome, &b.outcome);
            }
            prop_assert_eq!(&hashes(&reopened), &live);

            // The reader, caught up, holds the live state; promoted, it fences the other
            // writer and answers every command as the stored one.
            reader.catch_up().unwrap();
            prop_assert_eq!(&hashes(&reader), &live);
            reader.promote().unwrap();
            let late = sub(
                90_000,
                &ind,
                Command::OpenAccount {
                    account: AccountId(77),
                    holder: HolderId(1),
                    kind: AccountKindCode::parse("entity-holding").unwrap(),
                },
            );
            let fenced = reopened.submit_batch(vec![late], Timestamp(T0.0 + 20_000));
            prop_assert!(
                matches!(fenced, Err(tanso_engine::NodeError::Fenced)),
                "the old writer appended after the reader took over"
            );
            let third = reader.submit_batch(subs, Timestamp(T0.0 + 30_000)).unwrap();
            for (i, (a, b)) in answers.iter().zip(&third).enumerate() {
                if dups.iter().any(|x| x.0 == i && !x.2) {
                    continue;
                }
                prop_assert!(b.replayed, "{} was not replayed after promotion", b.id);
                prop_assert_eq!(&a.outcome, &b.outcome);
            }
            prop_assert_eq!(&hashes(&reader), &live);
            Ok(())
        })
        .unwrap();
    let t = tally.into_inner();
    println!("accepted/rejected per command: {t:?}");
    for kind in [
        "issue",
        "transfer",
        "retire",
        "transfer_cash",
        "place_hold",
        "release_hold",
        "multi_leg",
        "set_account_status",
    ] {
        let (a, r) = t.get(kind).copied().unwrap_or_default();
        assert!(a >= 20, "{kind}: only {a} accepted ({r} rejected): {t:?}");
        if kind != "set_account_status" && kind != "issue" {
            assert!(r >= 5, "{kind}: only {r} rejected ({a} accepted): {t:?}");
        }
    }
}

fn roots(node: &Node<MemoryStore>) -> Vec<(String, [u8; 32])> {
    node.chains()
        .filter(|c| c.seq > 0)
        .map(|c| (c.name.clone(), c.frontier.root()))
        .collect()
}

/// A node on a new store with a fixed secret: nodes compared in one case keep the same keyed
/// command hashes.
fn node_with_secret() -> (MemoryStore, Node<MemoryStore>) {
    use tanso_store::Store;
    let store = MemoryStore::new();
    store.reopen().meta_set("node_secret", &[7u8; 32]).unwrap();
    let node = Node::open(store.reopen(), NodeConfig::default()).unwrap();
    (store, node)
}

/// A proptest runner of `cases` cases.
fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases,
        ..proptest::test_runner::Config::default()
    })
}

/// Two runs of the same commands gave the same answers, in order (the first difference is the
/// failure).
fn same_answers(a: &[Answer], b: &[Answer], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len(), "{}: number of answers", what);
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        prop_assert!(false, "{what}: answer {i} differs: {:?} / {:?}", a[i], b[i]);
    }
    Ok(())
}

/// Two nodes hold the same chains (heads, state hashes, Merkle roots), and a cold replay of
/// each one's store gives them back.
fn same_nodes(
    (a, store_a): (&Node<MemoryStore>, &MemoryStore),
    (b, store_b): (&Node<MemoryStore>, &MemoryStore),
) -> Result<(), TestCaseError> {
    prop_assert_eq!(hashes(a), hashes(b));
    prop_assert_eq!(roots(a), roots(b));
    for store in [store_a, store_b] {
        let cold = Node::open(store.reopen(), NodeConfig::default()).unwrap();
        prop_assert_eq!(hashes(&cold), hashes(a));
        prop_assert_eq!(roots(&cold), roots(a));
    }
    Ok(())
}

/// The last accepted, committed entry of `chain` among `answers` (not a dry run's, not a
/// replay): what a correction in the next batch may cite.
fn last_entry(answers: &[Answer], subs: &[Submission], chain: &ChainId) -> Option<(u64, [u8; 32])> {
    answers
        .iter()
        .zip(subs)
        .rev()
        .find_map(|(a, s)| match &a.outcome {
            Outcome::Accepted(x) if &x.chain == chain && !a.replayed && !s.dry_run => {
                Some((x.seq, x.hash))
            }
            _ => None,
        })
}

/// A correction of the entry (seq, hash).
fn correct((seq, hash): (u64, [u8; 32])) -> Command {
    Command::Correct {
        target: CitedEntry {
            seq,
            hash,
            events: Vec::new(),
        },
        note: None,
    }
}

/// A batch long enough to be sealed on the sealer thread gives exactly what the same commands
/// give sealed in place, a few at a time, and what the same batch gives opened and decided one
/// command at a time (`Node::open_batch`, as the engine's writer does): the same answers,
/// heads, state hashes, Merkle roots and stored entries. The cases hold, by mode: only
/// commands that never wait for the sealer; those and one correction citing an entry earlier
/// in the same batch; those and ids repeated within the batch (with the same or other
/// content); or all of that with multi-leg commands (which may cite) and dry runs.
#[test]
fn a_batch_sealed_on_the_sealer_thread_equals_the_batch_sealed_in_place() {
    let mut runner = runner(40);
    let strategy = (
        prop::collection::vec(
            op(),
            tanso_engine::SEAL_ON_THREAD_MIN..2 * tanso_engine::SEAL_ON_THREAD_MIN,
        ),
        1..100usize,
    );
    let modes = std::cell::RefCell::new([0usize; 4]);
    let cited_in_batch = std::cell::Cell::new(0);
    runner
        .run(&strategy, |(ops, step)| {
            // The modes in turn, so that each gets a quarter of the cases.
            let mode = modes.borrow().iter().sum::<usize>() % 4;
            let (cite, dups, all) = (mode == 1 || mode == 3, mode >= 2, mode == 3);
            modes.borrow_mut()[mode] += 1;
            let ind = ChainId::parse("IND01").unwrap();
            let jpn = ChainId::parse("JPN01").unwrap();
            let mut subs = opening(&ind, &jpn);
            let (mut ind_holds, mut jpn_holds) = (Vec::new(), Vec::new());
            for (i, o) in ops.iter().enumerate() {
                let (chain, holds) = if i % 5 == 4 {
                    (&jpn, &mut jpn_holds)
                } else {
                    (&ind, &mut ind_holds)
                };
                let o = match o {
                    Op::Dvp(a, b, q, _) if !all => Op::Transfer(*a, *b, *q),
                    o => o.clone(),
                };
                let n = subs.len();
                subs.push(sub(n, chain, to_command(&o, n, holds)));
                if dups && i % 13 == 12 {
                    let again = subs[n - (i % 5)].clone();
                    subs.push(again);
                }
                if dups && i % 29 == 28 {
                    let mut other = subs[n - 3].clone();
                    other.content_hash[0] ^= 1;
                    subs.push(other);
                }
                if all && i % 31 == 30 {
                    let n = subs.len();
                    let mut d = sub(n, chain, to_command(&Op::Transfer(1, 2, 3), n, holds));
                    d.dry_run = true;
                    subs.push(d);
                }
            }
            let now = Timestamp(T0.0 + 5);
            // The first commands open the chains: commit them first on every node, so that
            // the long batch writes to chains that exist. Every node has the same secret, so
            // that all keep the same keyed command hashes.
            let n_open = setup(&ind).len() + setup(&jpn).len();
            let fresh = || {
                let (store, mut node) = node_with_secret();
                let answers = node.submit_batch(subs[..n_open].to_vec(), now).unwrap();
                (store, node, answers)
            };
            let mut rest = subs[n_open..].to_vec();
            // A correction in the middle of the batch cites the entry just before it, in the
            // same batch; its hash comes from a node that commits the batch's first half alone.
            let mut correction = None;
            if cite {
                let k = rest.len() / 2;
                let (_, mut d, _) = fresh();
                let first_half = d.submit_batch(rest[..k].to_vec(), now).unwrap();
                if let Some(cmd) = last_entry(&first_half, &rest[..k], &ind).map(correct) {
                    rest.insert(k, sub(80_000, &ind, cmd));
                    correction = Some(n_open + k);
                }
            }
            let subs: Vec<Submission> =
                subs[..n_open].iter().cloned().chain(rest.clone()).collect();
            let (store_a, mut a, mut answers_a) = fresh();
            let (store_b, mut b, mut answers_b) = fresh();
            prop_assert!(rest.len() >= tanso_engine::SEAL_ON_THREAD_MIN);
            answers_a.extend(a.submit_batch(rest.clone(), now).unwrap());
            for chunk in rest.chunks(step.min(tanso_engine::SEAL_ON_THREAD_MIN - 1)) {
                answers_b.extend(b.submit_batch(chunk.to_vec(), now).unwrap());
            }
            if let Some(c) = correction {
                // The citation was found in the batch (whatever the correction's own fate).
                prop_assert!(
                    !answers_a[c].codes().contains(&Code::CITATION_INVALID),
                    "the in-batch citation was not found: {:?} / in place: {:?}",
                    answers_a[c],
                    answers_b[c]
                );
                cited_in_batch.set(cited_in_batch.get() + 1);
            }
            prop_assert_eq!(answers_a.len(), subs.len());
            same_answers(&answers_a, &answers_b, "sealed on the thread / in place")?;
            prop_assert!(
                accepted(&answers_a) > n_open + 50,
                "too few commands accepted"
            );
            same_nodes((&a, &store_a), (&b, &store_b))?;
            // The same batch opened and decided one command at a time (the engine's writer
            // does so while it gathers): the same as the whole batch at once.
            let (store_c, mut c, mut answers_c) = fresh();
            let mut open = c.open_batch(now).unwrap();
            for s in &rest {
                c.decide_into(&mut open, s.clone()).unwrap();
            }
            prop_assert_eq!(open.len(), rest.len());
            answers_c.extend(c.commit_open(open).unwrap());
            same_answers(&answers_a, &answers_c, "whole batch / one at a time")?;
            same_nodes((&a, &store_a), (&c, &store_c))?;
            Ok(())
        })
        .unwrap();
    let modes = modes.into_inner();
    assert!(modes.iter().all(|&n| n >= 10), "cases per mode: {modes:?}");
    let n = cited_in_batch.get();
    assert!(n >= 4, "only {n} cases with a citation within the batch");
}

/// A stream of batches (`submit_stream`: each batch committed on its own thread while the next
/// is decided) gives exactly what the same batches give one `submit_batch` at a time: the same
/// answers, heads, state hashes, Merkle roots and stored entries. Every batch after the first
/// opens with a correction of the last entry of the batch before it (a citation read from the
/// store, so the commit in flight must land first) and ends with resubmissions of ids of the
/// batch before it (same and other content: answered from the store), except every third,
/// which reads nothing of the batch before: its seal starts while the one before is still
/// sealing, and takes that batch's tips when they are handed on. Some batches are long enough
/// to be sealed on the sealer thread. A batch whose quantity transfers kept owner changes
/// pending lends the owners to its commit thread, and a command of the next batch that may
/// read them (anything but a quantity transfer) waits for them.
#[test]
fn a_stream_of_batches_equals_the_batches_submitted_one_at_a_time() {
    let mut runner = runner(64);
    let strategy = (
        prop::collection::vec(op(), 200..1200),
        prop::collection::vec(1..2 * tanso_engine::SEAL_ON_THREAD_MIN, 1..5),
    );
    let (lent, waited) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let (cited, replayed, reused, sealed_behind) = (
        std::cell::Cell::new(0),
        std::cell::Cell::new(0),
        std::cell::Cell::new(0),
        std::cell::Cell::new(0),
    );
    runner
        .run(&strategy, |(ops, sizes)| {
            let ind = ChainId::parse("IND01").unwrap();
            let jpn = ChainId::parse("JPN01").unwrap();
            let mut first = opening(&ind, &jpn);
            let (mut ind_holds, mut jpn_holds) = (Vec::new(), Vec::new());
            let mut cmds = Vec::new();
            for (i, o) in ops.iter().enumerate() {
                let (chain, holds) = if i % 5 == 4 {
                    (&jpn, &mut jpn_holds)
                } else {
                    (&ind, &mut ind_holds)
                };
                let n = first.len() + cmds.len();
                let mut s = sub(n, chain, to_command(o, n, holds));
                s.dry_run = i % 37 == 36;
                cmds.push(s);
            }
            let now = Timestamp(T0.0 + 5);
            let fresh = node_with_secret;
            // The reference, one batch at a time; each batch after the first gets its
            // resubmissions and its correction from the answers to the one before.
            let (store_b, mut b) = fresh();
            let mut batches: Vec<Vec<Submission>> = Vec::new();
            let mut answers_b: Vec<Answer> = Vec::new();
            let mut rest = cmds.into_iter();
            let mut k = 0;
            loop {
                let mut batch: Vec<Submission> = if k == 0 {
                    std::mem::take(&mut first)
                } else {
                    rest.by_ref().take(sizes[k % sizes.len()]).collect()
                };
                if batch.is_empty() {
                    break;
                }
                let plain = k % 3 == 2;
                if plain && batch.len() >= tanso_engine::SEAL_ON_THREAD_MIN {
                    sealed_behind.set(sealed_behind.get() + 1);
                }
                if let Some(prev) = batches.last().filter(|_| !plain) {
                    // The correction first (its citation alone must land the commit in
                    // flight), the resubmissions last.
                    let prev_answers = &answers_b[answers_b.len() - prev.len()..];
                    if let Some(cmd) = last_entry(prev_answers, prev, &ind).map(correct) {
                        batch.insert(0, sub(90_000 + k, &ind, cmd));
                    }
                    batch.push(prev[prev.len() / 2].clone());
                    let mut other = prev[prev.len() - 1].clone();
                    other.content_hash[0] ^= 1;
                    batch.push(other);
                }
                answers_b.extend(b.submit_batch(batch.clone(), now).unwrap());
                batches.push(batch);
                k += 1;
            }
            prop_assert!(batches.len() >= 2);
            // The stream.
            let (store_a, mut a) = fresh();
            let mut answers_a: Vec<Answer> = Vec::new();
            let mut per_batch = Vec::new();
            a.submit_stream(batches.iter().map(|b| (b.clone(), now)), |answers| {
                per_batch.push(answers.len());
                answers_a.extend(answers);
                true
            })
            .unwrap();
            prop_assert_eq!(
                per_batch,
                batches.iter().map(Vec::len).collect::<Vec<_>>(),
                "answers by batch"
            );
            same_answers(&answers_a, &answers_b, "streamed / one at a time")?;
            for a in &answers_a {
                if a.id.as_str().starts_with("c9") && a.id.as_str().len() == 6 {
                    // c90000+k: the corrections.
                    if !a.codes().contains(&Code::CITATION_INVALID) {
                        cited.set(cited.get() + 1);
                    }
                }
                if a.replayed {
                    replayed.set(replayed.get() + 1);
                }
                if a.codes().contains(&Code::ID_REUSED_WITH_OTHER_CONTENT) {
                    reused.set(reused.get() + 1);
                }
            }
            prop_assert!(accepted(&answers_a) > 40, "too few commands accepted");
            let (l, w) = a.owner_loans();
            lent.set(lent.get() + l);
            waited.set(waited.get() + w);
            prop_assert_eq!(b.owner_loans(), (0, 0), "one batch at a time lends nothing");
            same_nodes((&a, &store_a), (&b, &store_b))?;
            Ok(())
        })
        .unwrap();
    let (c, r, u) = (cited.get(), replayed.get(), reused.get());
    assert!(c >= 20, "only {c} corrections found the entry they cite");
    assert!(r >= 20, "only {r} answers replayed from an earlier batch");
    assert!(u >= 20, "only {u} ids reused with other content");
    let (l, w) = (lent.get(), waited.get());
    assert!(
        l >= 16 && w >= 8,
        "owners lent {l} times, waited for {w} times"
    );
    let p = sealed_behind.get();
    assert!(
        p >= 5,
        "only {p} batches sealed on a thread right behind the one before"
    );
}
