//! Rejections `tanso apply` cannot reach, through the node and the engine on the in-memory
//! store: 6005 (a node that hosts only some chains), 7001 (a store whose commit fails, or
//! whose read fails in the middle of a batch) and 7002 (a writer fenced by a newer one). The root package's `tests/rejections.rs` covers every
//! other catalogue code through the binary, and checks that these three are named here.

use std::collections::BTreeSet;
use tanso_core::checks::Code;
use tanso_core::*;
use tanso_engine::{Answer, Node, NodeConfig, Outcome, Submission};
use tanso_store::memory::{InjectedFailure, MemoryStore};
use tanso_store::Store;

mod support;
use support::{engine, open_registry};

fn dry(mut s: Submission) -> Submission {
    s.dry_run = true;
    s
}

fn hosting(chains: &[&str]) -> NodeConfig {
    NodeConfig {
        hosted: Some(
            chains
                .iter()
                .map(|c| ChainId::parse(c).expect("chain id"))
                .collect::<BTreeSet<_>>(),
        ),
        index_capacity: 0,
    }
}

fn now() -> Timestamp {
    Timestamp(1_767_225_600_000_000)
}

fn one(node: &mut Node<MemoryStore>, sub: Submission) -> Answer {
    let mut answers = node.submit_batch(vec![sub], now()).expect("batch commits");
    assert_eq!(answers.len(), 1);
    answers.remove(0)
}

fn rejection(a: &Answer) -> &Rejection {
    match &a.outcome {
        Outcome::Rejected(r) => r,
        Outcome::Accepted(x) => panic!("{} was accepted at seq {}", a.id, x.seq),
    }
}

fn accepted_seq(a: &Answer) -> u64 {
    match &a.outcome {
        Outcome::Accepted(x) => x.seq,
        Outcome::Rejected(r) => panic!("{} was rejected: {r}", a.id),
    }
}

fn heads(store: &MemoryStore) -> Vec<String> {
    store
        .heads()
        .expect("heads")
        .iter()
        .map(|h| h.to_string())
        .collect()
}

#[test]
fn a_chain_the_node_does_not_host_is_6005_and_bound() {
    let store = MemoryStore::new();
    let mut node = Node::open(store.clone(), hosting(&["IND01"])).expect("open node");

    let first = one(&mut node, open_registry("open-jpn", "JPN01"));
    assert_eq!(rejection(&first).codes(), [Code::CHAIN_NOT_HOSTED]);
    assert!(rejection(&first).is_permanent());
    assert!(!first.replayed);
    assert!(heads(&store).is_empty(), "a 6005 wrote a chain");

    let again = one(&mut node, open_registry("open-jpn", "JPN01"));
    assert!(again.replayed, "a permanent 6005 is bound to its id");
    assert_eq!(again.outcome, first.outcome);

    let hosted = one(&mut node, open_registry("open-ind", "IND01"));
    assert_eq!(accepted_seq(&hosted), 1);
    assert_eq!(heads(&store), ["IND01@1"]);
}

/// A dry run must predict the real answer: a node that would refuse a chain with 6005 must not
/// say it would accept the command.
#[test]
fn a_dry_run_on_a_chain_the_node_does_not_host_is_6005() {
    let mut node = Node::open(MemoryStore::new(), hosting(&["IND01"])).expect("open node");
    let answer = one(&mut node, dry(open_registry("dry-jpn", "JPN01")));
    assert_eq!(rejection(&answer).codes(), [Code::CHAIN_NOT_HOSTED]);
}

#[test]
fn a_commit_that_fails_is_7001_and_not_bound() {
    let store = MemoryStore::new();
    let engine = engine(&store, 16);
    store.fail_next_write(InjectedFailure::Lost);

    let failed = engine.submit(open_registry("open-ind", "IND01"));
    assert_eq!(rejection(&failed).codes(), [Code::STORAGE_UNAVAILABLE]);
    assert!(!rejection(&failed).is_permanent(), "7001 is transient");
    // After a failed commit the node refuses everything until it is reopened.
    let later = engine.submit(open_registry("open-jpn", "JPN01"));
    assert_eq!(rejection(&later).codes(), [Code::STORAGE_UNAVAILABLE]);
    let node = engine.shutdown().expect("writer stops");
    assert!(node.is_poisoned());
    assert!(heads(&store).is_empty(), "a lost commit reached the store");

    // Reopened, the same command is decided afresh: the 7001 was not bound to its id.
    let mut node = Node::open(store.reopen(), NodeConfig::default()).expect("reopen node");
    let retried = one(&mut node, open_registry("open-ind", "IND01"));
    assert!(!retried.replayed);
    assert_eq!(accepted_seq(&retried), 1);
}

/// The data reached the store although the sync reported failure: the caller got 7001, and
/// retrying the same command after a restart answers with the entry that did land.
#[test]
fn a_commit_that_landed_despite_failing_is_replayed_after_restart() {
    let store = MemoryStore::new();
    let engine = engine(&store, 16);
    store.fail_next_write(InjectedFailure::Persisted);
    let failed = engine.submit(open_registry("open-ind", "IND01"));
    assert_eq!(rejection(&failed).codes(), [Code::STORAGE_UNAVAILABLE]);
    drop(engine.shutdown());

    let mut node = Node::open(store.reopen(), NodeConfig::default()).expect("reopen node");
    let retried = one(&mut node, open_registry("open-ind", "IND01"));
    assert!(
        retried.replayed,
        "the landed entry is the command's outcome"
    );
    assert_eq!(accepted_seq(&retried), 1);
}

/// A second node opening the store fences the first; the first's next commit is refused with
/// the catalogue's code for exactly that (retry at the current writer), not a storage fault.
#[test]
fn a_writer_fenced_by_a_newer_one_is_7002() {
    let store = MemoryStore::new();
    let engine = engine(&store, 16);
    let mut newer = Node::open(store.reopen(), NodeConfig::default()).expect("open newer node");

    let fenced = engine.submit(open_registry("open-ind", "IND01"));
    assert!(
        !rejection(&fenced).is_permanent(),
        "a fenced writer's answer is transient"
    );
    drop(engine.shutdown());

    // At the current writer the same command succeeds: the answer was not bound.
    let retried = one(&mut newer, open_registry("open-ind", "IND01"));
    assert!(!retried.replayed);
    assert_eq!(accepted_seq(&retried), 1);

    assert_eq!(
        rejection(&fenced).codes(),
        [Code::WRITER_FENCED],
        "{fenced:?}"
    );
}

fn register_holder(id: &str, holder: u64) -> Submission {
    let cmd = Command::RegisterHolder {
        holder: HolderId(holder),
        kind: HolderKind::parse("company").expect("holder kind"),
        name: PersonalRef([1; 32]),
    };
    let mut content_hash = [0u8; 32];
    content_hash[..8].copy_from_slice(&holder.to_be_bytes());
    Submission {
        id: CommandId::parse(id).expect("command id"),
        chain: ChainId::parse("IND01").expect("chain id"),
        actor: Actor::parse("tester").expect("actor"),
        content_hash,
        command: Ok(cmd),
        personal: Vec::new(),
        dry_run: false,
    }
}

/// A store read that fails in the middle of a batch (here: looking up the stored answer of a
/// resubmitted id) fails the whole batch, and the node then refuses every command: the
/// commands decided before the failure changed its state in memory but were never committed.
/// Nothing of the batch reaches the store, and a reopened node decides them afresh. Checked for
/// a batch sealed in place and for one long enough to be sealed on the sealer thread.
#[test]
fn a_read_that_fails_in_a_batch_fails_it_and_stops_the_node() {
    for fresh in [3usize, tanso_engine::SEAL_ON_THREAD_MIN + 10] {
        let store = MemoryStore::new();
        let mut node = Node::open(store.reopen(), NodeConfig::default()).expect("open node");
        let first = one(&mut node, open_registry("open-ind", "IND01"));
        assert_eq!(accepted_seq(&first), 1);
        drop(node);
        // Cold, so that the resubmission's stored answer is read from the store.
        let mut node = Node::open(store.reopen(), NodeConfig::default()).expect("reopen");
        let mut batch: Vec<Submission> = (0..fresh)
            .map(|i| register_holder(&format!("h{i}"), i as u64 + 1))
            .collect();
        batch.push(open_registry("open-ind", "IND01"));
        store.fail_next_read();
        let failed = node.submit_batch(batch.clone(), now());
        assert!(
            matches!(failed, Err(tanso_engine::NodeError::Store(_))),
            "{failed:?}"
        );
        assert!(node.is_poisoned(), "the node went on after a failed batch");
        let refused = node.submit_batch(vec![batch[0].clone()], now());
        assert!(matches!(refused, Err(tanso_engine::NodeError::Poisoned)));
        assert_eq!(
            heads(&store),
            ["IND01@1"],
            "part of the failed batch was stored"
        );

        let mut node = Node::open(store.reopen(), NodeConfig::default()).expect("reopen");
        let answers = node.submit_batch(batch, now()).expect("batch commits");
        assert!(answers[..fresh].iter().all(|a| !a.replayed));
        assert_eq!(accepted_seq(&answers[fresh - 1]), fresh as u64 + 1);
        assert!(answers[fresh].replayed);
        assert_eq!(answers[fresh].outcome, first.outcome);
    }
}

/// In a stream, a commit that fails on its thread stops the node: the batches before it were
/// answered once durable; the failed batch and the one decided while it was in flight are
/// never answered, nothing of either is stored, later commands are refused, and a reopened
/// node decides both afresh. Checked for an i/o failure that lost the write and for one that
/// reached the store anyway (then replayed after reopening), with batches sealed in place and
/// on the sealer thread.
#[test]
fn a_commit_that_fails_in_a_stream_stops_it_and_the_node() {
    for (failure, size) in [
        (InjectedFailure::Lost, 3usize),
        (InjectedFailure::Lost, tanso_engine::SEAL_ON_THREAD_MIN + 10),
        (InjectedFailure::Persisted, 5),
    ] {
        let store = MemoryStore::new();
        let mut node = Node::open(store.reopen(), NodeConfig::default()).expect("open node");
        let mut n = 0u64;
        let mut batch = |extra: Option<Submission>| -> Vec<Submission> {
            let mut b: Vec<Submission> = extra.into_iter().collect();
            for _ in 0..size {
                n += 1;
                b.push(register_holder(&format!("h{n}"), n));
            }
            b
        };
        let batches = [
            batch(Some(open_registry("open-ind", "IND01"))),
            batch(None),
            batch(None),
            batch(None),
        ];
        let mut answered: Vec<Vec<Answer>> = Vec::new();
        let result = node.submit_stream(batches.iter().map(|b| (b.clone(), now())), |answers| {
            // The second batch has been decided; its commit starts once this returns.
            if answered.is_empty() {
                store.fail_next_write(failure);
            }
            answered.push(answers);
            true
        });
        assert!(
            matches!(result, Err(tanso_engine::NodeError::Store(_))),
            "{failure:?}: {result:?}"
        );
        assert_eq!(answered.len(), 1, "{failure:?}: batches answered");
        assert_eq!(accepted_seq(&answered[0][size]), size as u64 + 1);
        assert!(node.is_poisoned());
        let refused = node.submit_batch(vec![batches[3][0].clone()], now());
        assert!(matches!(refused, Err(tanso_engine::NodeError::Poisoned)));
        let stored = if failure == InjectedFailure::Lost {
            size + 1
        } else {
            2 * size + 1
        };
        assert_eq!(
            heads(&store),
            [format!("IND01@{stored}")],
            "{failure:?}: what was stored"
        );
        drop(node);

        // Reopened, the node answers the failed batch (from the store if it landed) and the
        // one decided in flight afresh.
        let mut node = Node::open(store.reopen(), NodeConfig::default()).expect("reopen");
        let second = node
            .submit_batch(batches[1].clone(), now())
            .expect("second");
        assert!(
            second
                .iter()
                .all(|a| a.replayed == (failure == InjectedFailure::Persisted)),
            "{failure:?}: {second:?}"
        );
        let third = node.submit_batch(batches[2].clone(), now()).expect("third");
        assert!(third.iter().all(|a| !a.replayed));
        assert_eq!(accepted_seq(&third[size - 1]), 3 * size as u64 + 1);
    }
}
