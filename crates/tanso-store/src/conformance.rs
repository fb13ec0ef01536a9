//! The conformance suite: the checks every `Store` backend must pass, written once and run
//! against each backend through a [`Harness`] that makes fresh stores and reopens them.
//!
//! It owns the observable contract of `Store` (conditional appends, all-or-nothing batches,
//! fencing, the durability boundary across reopen) and pins it with plain functions that panic
//! with a message naming the check. It must not look inside a backend or depend on one: what
//! cannot be observed through the trait is not part of the contract. Entry bodies and hashes
//! here are made-up bytes, since stores never interpret them.

use std::collections::BTreeMap;

use crate::{
    ChainHead, CheckpointRecord, CommitBatch, Digest, EntryRun, PersonalRecord, RejectionRecord,
    Store, StoreError, StoreResult, StoredRun,
};

/// Makes stores for the suite. `reopen` closes the store (drop it) and opens the same one
/// again, the way a process restarts on the same directory.
pub trait Harness {
    type S: Store;
    fn fresh(&mut self) -> Self::S;
    fn reopen(&mut self, s: Self::S) -> Self::S;
}

/// One check of the suite, by name.
pub type Check<H> = (&'static str, fn(&mut H));

/// Every check, in the order `run_all` runs them.
pub fn checks<H: Harness>() -> Vec<Check<H>> {
    vec![
        ("append_to_new_chain", append_to_new_chain::<H>),
        ("continue_chain", continue_chain::<H>),
        ("refuse_wrong_prev_hash", refuse_wrong_prev_hash::<H>),
        ("refuse_wrong_first_seq", refuse_wrong_first_seq::<H>),
        ("refuse_gap", refuse_gap::<H>),
        (
            "refuse_new_chain_not_at_one",
            refuse_new_chain_not_at_one::<H>,
        ),
        (
            "refused_batch_leaves_nothing",
            refused_batch_leaves_nothing::<H>,
        ),
        (
            "runs_of_one_chain_in_one_batch",
            runs_of_one_chain_in_one_batch::<H>,
        ),
        ("fenced_after_new_writer", fenced_after_new_writer::<H>),
        ("epoch_survives_reopen", epoch_survives_reopen::<H>),
        ("heads_sorted_by_chain", heads_sorted_by_chain::<H>),
        ("read_runs_from_any_seq", read_runs_from_any_seq::<H>),
        (
            "run_containing_first_middle_last_beyond",
            run_containing_first_middle_last_beyond::<H>,
        ),
        (
            "rejections_stored_and_scanned",
            rejections_stored_and_scanned::<H>,
        ),
        (
            "duplicate_rejection_refused_atomically",
            duplicate_rejection_refused_atomically::<H>,
        ),
        (
            "personal_erased_once_and_gone_after_reopen",
            personal_erased_once_and_gone_after_reopen::<H>,
        ),
        ("checkpoints_ascending", checkpoints_ascending::<H>),
        ("meta_survives_reopen", meta_survives_reopen::<H>),
        ("committed_survives_reopen", committed_survives_reopen::<H>),
        ("invalid_batch_refused", invalid_batch_refused::<H>),
    ]
}

/// Runs every check; panics at the first failure with a message naming it.
pub fn run_all<H: Harness>(h: &mut H) {
    for (_, check) in checks::<H>() {
        check(h);
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures: made-up but deterministic hashes and bodies.

/// A stand-in for the hash of entry `seq` of `chain` (never all zero).
pub fn entry_hash(chain: &str, seq: u64) -> Digest {
    // FNV-1a over the chain name and seq, spread over 32 bytes; collisions do not matter here,
    // only that different (chain, seq) give different values in the suite's small ranges.
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in chain.bytes().chain(seq.to_le_bytes()) {
        state ^= u64::from(byte);
        state = state.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut out = [0u8; 32];
    for (rotation, chunk) in (0u32..).step_by(13).zip(out.chunks_mut(8)) {
        let word = state.rotate_left(rotation) | 1;
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// The run `first..=last` of `chain`, continuing from entry `first - 1`.
pub fn run_of(chain: &str, first_seq: u64, last_seq: u64) -> EntryRun {
    let prev_hash = if first_seq <= 1 {
        [0; 32]
    } else {
        entry_hash(chain, first_seq - 1)
    };
    let mut body = Vec::new();
    for seq in first_seq..=last_seq {
        body.extend_from_slice(format!("{chain}#{seq};").as_bytes());
    }
    EntryRun {
        chain: chain.to_string(),
        first_seq,
        last_seq,
        prev_hash,
        head_hash: entry_hash(chain, last_seq),
        body,
    }
}

/// What `read_runs` should give back for an appended run.
pub fn stored(run: &EntryRun) -> StoredRun {
    StoredRun {
        chain: run.chain.clone(),
        first_seq: run.first_seq,
        last_seq: run.last_seq,
        body: run.body.clone(),
    }
}

pub fn head(chain: &str, seq: u64) -> ChainHead {
    ChainHead {
        chain: chain.to_string(),
        seq,
        hash: entry_hash(chain, seq),
    }
}

pub fn rejection_of(command_id: &str) -> RejectionRecord {
    RejectionRecord {
        command_id: command_id.to_string(),
        content_hash: entry_hash(command_id, 0),
        body: format!("rejected {command_id}: code 4001").into_bytes(),
    }
}

pub fn personal_of(text: &str) -> PersonalRecord {
    PersonalRecord {
        reference: entry_hash(text, 1),
        salt: entry_hash(text, 2),
        text: text.to_string(),
    }
}

pub fn checkpoint_of(chain: &str, seq: u64) -> CheckpointRecord {
    CheckpointRecord {
        chain: chain.to_string(),
        seq,
        body: format!("checkpoint {chain}@{seq} signed").into_bytes(),
    }
}

pub fn batch_of(epoch: u64, runs: Vec<EntryRun>) -> CommitBatch {
    CommitBatch {
        epoch,
        runs,
        ..CommitBatch::default()
    }
}

/// Everything observable in a store, given the personal references and meta keys to probe
/// (the trait cannot list those).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub epoch: u64,
    pub heads: Vec<ChainHead>,
    pub runs: BTreeMap<String, Vec<StoredRun>>,
    pub checkpoints: BTreeMap<String, Vec<CheckpointRecord>>,
    /// Sorted by command id.
    pub rejections: Vec<RejectionRecord>,
    pub personal: BTreeMap<Digest, Option<PersonalRecord>>,
    pub meta: BTreeMap<String, Option<Vec<u8>>>,
}

impl Snapshot {
    /// Reads the store. `extra_chains` are chains to read checkpoints of even without a head.
    pub fn take<S: Store>(
        s: &S,
        extra_chains: &[&str],
        personal: &[Digest],
        meta_keys: &[&str],
    ) -> StoreResult<Snapshot> {
        let heads = s.heads()?;
        let mut chains: Vec<String> = heads.iter().map(|h| h.chain.clone()).collect();
        chains.extend(extra_chains.iter().map(ToString::to_string));
        chains.sort();
        chains.dedup();
        let mut runs = BTreeMap::new();
        let mut checkpoints = BTreeMap::new();
        for chain in &chains {
            runs.insert(chain.clone(), s.read_runs(chain, 0)?);
            checkpoints.insert(chain.clone(), s.checkpoints(chain)?);
        }
        let mut rejections = Vec::new();
        s.scan_rejections(&mut |r| rejections.push(r))?;
        rejections.sort_by(|a, b| a.command_id.cmp(&b.command_id));
        let mut personal_map = BTreeMap::new();
        for reference in personal {
            personal_map.insert(*reference, s.personal(reference)?);
        }
        let mut meta = BTreeMap::new();
        for key in meta_keys {
            meta.insert(key.to_string(), s.meta_get(key)?);
        }
        Ok(Snapshot {
            epoch: s.writer_epoch()?,
            heads,
            runs,
            checkpoints,
            rejections,
            personal: personal_map,
            meta,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Assertion helpers: every failure names the check.

#[track_caller]
fn ok<T>(check: &str, what: &str, result: StoreResult<T>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("conformance {check}: {what}: unexpected error: {e}"),
    }
}

#[track_caller]
fn refused(check: &str, what: &str, result: StoreResult<()>, expected: StoreError) {
    match result {
        Ok(()) => panic!("conformance {check}: {what}: accepted, expected {expected:?}"),
        Err(e) => assert_eq!(
            e, expected,
            "conformance {check}: {what}: refused with the wrong error"
        ),
    }
}

#[track_caller]
fn refused_invalid(check: &str, what: &str, result: StoreResult<()>) {
    match result {
        Err(StoreError::InvalidBatch(_)) => {}
        other => panic!("conformance {check}: {what}: expected InvalidBatch, got {other:?}"),
    }
}

fn conflict(chain: &str, expected_seq: u64, stored_seq: u64) -> StoreError {
    StoreError::ChainConflict {
        chain: chain.to_string(),
        expected_seq,
        stored_seq,
    }
}

/// A fresh store with a writer: (store, epoch).
fn fresh_writer<H: Harness>(h: &mut H, check: &str) -> (H::S, u64) {
    let mut s = h.fresh();
    let epoch = ok(check, "acquire_writer on a fresh store", s.acquire_writer());
    (s, epoch)
}

#[track_caller]
fn commit_ok<S: Store>(check: &str, s: &mut S, batch: &CommitBatch) {
    ok(check, "commit of a valid batch", s.commit(batch));
}

#[track_caller]
fn expect_runs<S: Store>(check: &str, s: &S, chain: &str, expected: &[&EntryRun]) {
    let want: Vec<StoredRun> = expected.iter().map(|r| stored(r)).collect();
    let got = ok(check, "read_runs", s.read_runs(chain, 0));
    assert_eq!(got, want, "conformance {check}: runs of {chain}");
}

#[track_caller]
fn expect_heads<S: Store>(check: &str, s: &S, expected: &[ChainHead]) {
    let got = ok(check, "heads", s.heads());
    assert_eq!(got, expected, "conformance {check}: heads");
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// A new chain starts at seq 1 after an all-zero previous hash.
pub fn append_to_new_chain<H: Harness>(h: &mut H) {
    let check = "append_to_new_chain";
    let (mut s, epoch) = fresh_writer(h, check);
    expect_heads(check, &s, &[]);
    let run = run_of("alpha", 1, 3);
    commit_ok(check, &mut s, &batch_of(epoch, vec![run.clone()]));
    expect_heads(check, &s, &[head("alpha", 3)]);
    expect_runs(check, &s, "alpha", &[&run]);
}

/// Runs that continue the stored head (seq and hash) are appended in order.
pub fn continue_chain<H: Harness>(h: &mut H) {
    let check = "continue_chain";
    let (mut s, epoch) = fresh_writer(h, check);
    let runs = [
        run_of("alpha", 1, 3),
        run_of("alpha", 4, 4),
        run_of("alpha", 5, 9),
    ];
    for run in &runs {
        commit_ok(check, &mut s, &batch_of(epoch, vec![run.clone()]));
    }
    expect_heads(check, &s, &[head("alpha", 9)]);
    expect_runs(check, &s, "alpha", &[&runs[0], &runs[1], &runs[2]]);
}

/// The right next seq with the wrong previous hash is a conflict, and writes nothing.
pub fn refuse_wrong_prev_hash<H: Harness>(h: &mut H) {
    let check = "refuse_wrong_prev_hash";
    let (mut s, epoch) = fresh_writer(h, check);
    let first = run_of("alpha", 1, 3);
    commit_ok(check, &mut s, &batch_of(epoch, vec![first.clone()]));
    let mut forged = run_of("alpha", 4, 5);
    forged.prev_hash = entry_hash("beta", 3);
    refused(
        check,
        "run with a wrong prev_hash",
        s.commit(&batch_of(epoch, vec![forged])),
        conflict("alpha", 3, 3),
    );
    let mut zero = run_of("alpha", 4, 5);
    zero.prev_hash = [0; 32];
    refused(
        check,
        "run with an all-zero prev_hash on an existing chain",
        s.commit(&batch_of(epoch, vec![zero])),
        conflict("alpha", 3, 3),
    );
    expect_heads(check, &s, &[head("alpha", 3)]);
    expect_runs(check, &s, "alpha", &[&first]);
}

/// A run that overlaps the stored head (replays entries) is a conflict.
pub fn refuse_wrong_first_seq<H: Harness>(h: &mut H) {
    let check = "refuse_wrong_first_seq";
    let (mut s, epoch) = fresh_writer(h, check);
    let first = run_of("alpha", 1, 3);
    commit_ok(check, &mut s, &batch_of(epoch, vec![first.clone()]));
    refused(
        check,
        "run starting inside the stored chain",
        s.commit(&batch_of(epoch, vec![run_of("alpha", 3, 5)])),
        conflict("alpha", 2, 3),
    );
    refused(
        check,
        "run replaying the chain from seq 1",
        s.commit(&batch_of(epoch, vec![run_of("alpha", 1, 4)])),
        conflict("alpha", 0, 3),
    );
    // The right hash under the wrong seq is still a conflict.
    let mut shifted = run_of("alpha", 3, 4);
    shifted.prev_hash = entry_hash("alpha", 3);
    refused(
        check,
        "run with the head hash but an earlier seq",
        s.commit(&batch_of(epoch, vec![shifted])),
        conflict("alpha", 2, 3),
    );
    expect_heads(check, &s, &[head("alpha", 3)]);
    expect_runs(check, &s, "alpha", &[&first]);
}

/// A run that leaves a gap after the stored head is a conflict.
pub fn refuse_gap<H: Harness>(h: &mut H) {
    let check = "refuse_gap";
    let (mut s, epoch) = fresh_writer(h, check);
    let first = run_of("alpha", 1, 3);
    commit_ok(check, &mut s, &batch_of(epoch, vec![first.clone()]));
    refused(
        check,
        "run leaving a gap",
        s.commit(&batch_of(epoch, vec![run_of("alpha", 5, 6)])),
        conflict("alpha", 4, 3),
    );
    let mut gap_right_hash = run_of("alpha", 5, 6);
    gap_right_hash.prev_hash = entry_hash("alpha", 3);
    refused(
        check,
        "run leaving a gap but naming the head hash",
        s.commit(&batch_of(epoch, vec![gap_right_hash])),
        conflict("alpha", 4, 3),
    );
    expect_heads(check, &s, &[head("alpha", 3)]);
    expect_runs(check, &s, "alpha", &[&first]);
}

/// A chain the store does not hold must start at seq 1 after an all-zero hash.
pub fn refuse_new_chain_not_at_one<H: Harness>(h: &mut H) {
    let check = "refuse_new_chain_not_at_one";
    let (mut s, epoch) = fresh_writer(h, check);
    refused(
        check,
        "new chain starting at seq 2",
        s.commit(&batch_of(epoch, vec![run_of("alpha", 2, 3)])),
        conflict("alpha", 1, 0),
    );
    let mut nonzero = run_of("alpha", 1, 3);
    nonzero.prev_hash = entry_hash("alpha", 0);
    refused(
        check,
        "new chain at seq 1 with a non-zero prev_hash",
        s.commit(&batch_of(epoch, vec![nonzero])),
        conflict("alpha", 0, 0),
    );
    expect_heads(check, &s, &[]);
    expect_runs(check, &s, "alpha", &[]);
    // A chain other than the one refused is not affected by the refusal.
    commit_ok(check, &mut s, &batch_of(epoch, vec![run_of("alpha", 1, 1)]));
    expect_heads(check, &s, &[head("alpha", 1)]);
}

/// A batch whose second run conflicts writes neither run, nor its rejections, personal records
/// or checkpoints; and leaves nothing that would block the good part later.
pub fn refused_batch_leaves_nothing<H: Harness>(h: &mut H) {
    let check = "refused_batch_leaves_nothing";
    let (mut s, epoch) = fresh_writer(h, check);
    let alpha = run_of("alpha", 1, 2);
    commit_ok(check, &mut s, &batch_of(epoch, vec![alpha.clone()]));
    let good = run_of("beta", 1, 3);
    let person = personal_of("Asha Rao, Pune");
    let mut batch = CommitBatch {
        epoch,
        runs: vec![good.clone(), run_of("alpha", 4, 6)],
        rejections: vec![rejection_of("cmd-1")],
        personal: vec![person.clone()],
        checkpoints: vec![checkpoint_of("beta", 3)],
    };
    refused(
        check,
        "batch whose second run leaves a gap",
        s.commit(&batch),
        conflict("alpha", 3, 2),
    );
    let nothing = |s: &H::S, when: &str| {
        expect_heads(check, s, &[head("alpha", 2)]);
        expect_runs(check, s, "alpha", &[&alpha]);
        expect_runs(check, s, "beta", &[]);
        let what = format!("{when}: rejection of the refused batch");
        assert_eq!(
            ok(check, &what, s.rejection("cmd-1")),
            None,
            "conformance {check}: {what}"
        );
        let mut scanned = 0;
        ok(
            check,
            "scan_rejections",
            s.scan_rejections(&mut |_| scanned += 1),
        );
        assert_eq!(
            scanned, 0,
            "conformance {check}: {when}: rejections scanned"
        );
        let what = format!("{when}: personal record of the refused batch");
        assert_eq!(
            ok(check, &what, s.personal(&person.reference)),
            None,
            "conformance {check}: {what}"
        );
        let what = format!("{when}: checkpoint of the refused batch");
        assert_eq!(
            ok(check, &what, s.checkpoints("beta")),
            vec![],
            "conformance {check}: {what}"
        );
    };
    nothing(&s, "after the refusal");
    let mut s = h.reopen(s);
    nothing(&s, "after reopen");
    // Nothing staged survives to block the good part.
    batch.runs.truncate(1);
    commit_ok(check, &mut s, &batch);
    expect_heads(check, &s, &[head("alpha", 2), head("beta", 3)]);
    expect_runs(check, &s, "beta", &[&good]);
    assert_eq!(
        ok(check, "rejection", s.rejection("cmd-1")),
        Some(rejection_of("cmd-1")),
        "conformance {check}: rejection after the good part is committed"
    );
}

/// One batch may carry several runs of one chain if each continues the previous one; if one
/// does not, none is written.
pub fn runs_of_one_chain_in_one_batch<H: Harness>(h: &mut H) {
    let check = "runs_of_one_chain_in_one_batch";
    let (mut s, epoch) = fresh_writer(h, check);
    let (a, b) = (run_of("alpha", 1, 2), run_of("alpha", 3, 5));
    commit_ok(check, &mut s, &batch_of(epoch, vec![a.clone(), b.clone()]));
    expect_heads(check, &s, &[head("alpha", 5)]);
    refused(
        check,
        "second run of the chain leaves a gap after the first",
        s.commit(&batch_of(
            epoch,
            vec![run_of("alpha", 6, 7), run_of("alpha", 9, 9)],
        )),
        conflict("alpha", 8, 7),
    );
    refused(
        check,
        "two runs of the chain that both continue the stored head",
        s.commit(&batch_of(
            epoch,
            vec![run_of("alpha", 6, 7), run_of("alpha", 6, 6)],
        )),
        conflict("alpha", 5, 7),
    );
    expect_heads(check, &s, &[head("alpha", 5)]);
    expect_runs(check, &s, "alpha", &[&a, &b]);
}

/// After a second `acquire_writer`, the first writer's batches are fenced and write nothing.
pub fn fenced_after_new_writer<H: Harness>(h: &mut H) {
    let check = "fenced_after_new_writer";
    let (mut s, old) = fresh_writer(h, check);
    let first = run_of("alpha", 1, 2);
    commit_ok(check, &mut s, &batch_of(old, vec![first.clone()]));
    let new = ok(check, "second acquire_writer", s.acquire_writer());
    assert!(
        new > old,
        "conformance {check}: new epoch {new} not above old epoch {old}"
    );
    assert_eq!(
        ok(check, "writer_epoch", s.writer_epoch()),
        new,
        "conformance {check}: writer_epoch"
    );
    let stale = CommitBatch {
        epoch: old,
        runs: vec![run_of("alpha", 3, 4)],
        rejections: vec![rejection_of("cmd-stale")],
        personal: vec![personal_of("stale writer")],
        checkpoints: vec![checkpoint_of("alpha", 2)],
    };
    let fenced = || StoreError::Fenced {
        ours: old,
        current: new,
    };
    refused(
        check,
        "batch under the old epoch",
        s.commit(&stale),
        fenced(),
    );
    refused(
        check,
        "empty batch under the old epoch",
        s.commit(&batch_of(old, vec![])),
        fenced(),
    );
    refused(
        check,
        "batch under a future epoch",
        s.commit(&batch_of(new + 1, vec![run_of("alpha", 3, 4)])),
        StoreError::Fenced {
            ours: new + 1,
            current: new,
        },
    );
    expect_heads(check, &s, &[head("alpha", 2)]);
    expect_runs(check, &s, "alpha", &[&first]);
    assert_eq!(
        ok(check, "rejection", s.rejection("cmd-stale")),
        None,
        "conformance {check}: fenced rejection"
    );
    let reference = personal_of("stale writer").reference;
    assert_eq!(
        ok(check, "personal", s.personal(&reference)),
        None,
        "conformance {check}: fenced personal"
    );
    assert_eq!(
        ok(check, "checkpoints", s.checkpoints("alpha")),
        vec![],
        "conformance {check}: fenced checkpoint"
    );
    let mut current = stale.clone();
    current.epoch = new;
    commit_ok(check, &mut s, &current);
    expect_heads(check, &s, &[head("alpha", 4)]);
}

/// The writer epoch starts at 0, goes up by one per `acquire_writer`, and survives reopen, so
/// a writer from before a restart stays fenced.
pub fn epoch_survives_reopen<H: Harness>(h: &mut H) {
    let check = "epoch_survives_reopen";
    let mut s = h.fresh();
    assert_eq!(
        ok(check, "writer_epoch", s.writer_epoch()),
        0,
        "conformance {check}: fresh epoch"
    );
    let first = ok(check, "acquire_writer", s.acquire_writer());
    assert_eq!(first, 1, "conformance {check}: first epoch");
    let second = ok(check, "acquire_writer", s.acquire_writer());
    assert_eq!(second, 2, "conformance {check}: second epoch");
    let mut s = h.reopen(s);
    assert_eq!(
        ok(check, "writer_epoch", s.writer_epoch()),
        2,
        "conformance {check}: epoch after reopen"
    );
    refused(
        check,
        "batch under an epoch from before reopen",
        s.commit(&batch_of(first, vec![run_of("alpha", 1, 1)])),
        StoreError::Fenced {
            ours: first,
            current: second,
        },
    );
    assert_eq!(
        ok(check, "acquire_writer", s.acquire_writer()),
        3,
        "conformance {check}: epoch after reopen + acquire"
    );
    commit_ok(check, &mut s, &batch_of(3, vec![run_of("alpha", 1, 1)]));
}

/// `heads` lists every chain once, sorted by name (byte order), with its seq and hash.
pub fn heads_sorted_by_chain<H: Harness>(h: &mut H) {
    let check = "heads_sorted_by_chain";
    let (mut s, epoch) = fresh_writer(h, check);
    for chain in ["gamma", "alpha", "Zeta", "alpha2", "beta"] {
        commit_ok(check, &mut s, &batch_of(epoch, vec![run_of(chain, 1, 2)]));
    }
    commit_ok(
        check,
        &mut s,
        &batch_of(epoch, vec![run_of("alpha", 3, 7), run_of("beta", 3, 3)]),
    );
    expect_heads(
        check,
        &s,
        &[
            head("Zeta", 2),
            head("alpha", 7),
            head("alpha2", 2),
            head("beta", 3),
            head("gamma", 2),
        ],
    );
}

fn four_runs() -> Vec<EntryRun> {
    vec![
        run_of("alpha", 1, 3),
        run_of("alpha", 4, 4),
        run_of("alpha", 5, 9),
        run_of("alpha", 10, 12),
    ]
}

/// `read_runs(chain, from)` gives the runs whose last seq is at or after `from`, in order, for
/// every `from`, and only that chain's runs.
pub fn read_runs_from_any_seq<H: Harness>(h: &mut H) {
    let check = "read_runs_from_any_seq";
    let (mut s, epoch) = fresh_writer(h, check);
    let runs = four_runs();
    for (other_seq, run) in (1..).zip(&runs) {
        let other = run_of("beta", other_seq, other_seq);
        commit_ok(check, &mut s, &batch_of(epoch, vec![other, run.clone()]));
    }
    for from in 0..=14 {
        let want: Vec<StoredRun> = runs
            .iter()
            .filter(|r| r.last_seq >= from)
            .map(stored)
            .collect();
        let got = ok(check, "read_runs", s.read_runs("alpha", from));
        assert_eq!(got, want, "conformance {check}: read_runs(alpha, {from})");
    }
    assert_eq!(
        ok(check, "read_runs", s.read_runs("alpha", u64::MAX)),
        vec![],
        "conformance {check}: from u64::MAX"
    );
    assert_eq!(
        ok(check, "read_runs", s.read_runs("nobody", 0)),
        vec![],
        "conformance {check}: unknown chain"
    );
    assert_eq!(
        ok(check, "read_runs", s.read_runs("beta", 0)).len(),
        4,
        "conformance {check}: other chain"
    );
}

/// `run_containing` finds the run for its first, middle and last seq, and nothing for seq 0,
/// past the head, or on an unknown chain.
pub fn run_containing_first_middle_last_beyond<H: Harness>(h: &mut H) {
    let check = "run_containing_first_middle_last_beyond";
    let (mut s, epoch) = fresh_writer(h, check);
    let runs = four_runs();
    for run in &runs {
        commit_ok(
            check,
            &mut s,
            &batch_of(
                epoch,
                vec![run.clone(), run_of(&format!("x{}", run.first_seq), 1, 1)],
            ),
        );
    }
    for seq in 1..=12 {
        let want = runs
            .iter()
            .find(|r| r.first_seq <= seq && seq <= r.last_seq)
            .map(stored);
        let got = ok(check, "run_containing", s.run_containing("alpha", seq));
        assert_eq!(
            got, want,
            "conformance {check}: run_containing(alpha, {seq})"
        );
        assert!(
            want.is_some(),
            "conformance {check}: fixture covers seq {seq}"
        );
    }
    for seq in [0, 13, 100, u64::MAX] {
        let got = ok(check, "run_containing", s.run_containing("alpha", seq));
        assert_eq!(
            got, None,
            "conformance {check}: run_containing(alpha, {seq})"
        );
    }
    assert_eq!(
        ok(check, "run_containing", s.run_containing("nobody", 1)),
        None,
        "conformance {check}: unknown chain"
    );
}

/// Rejections are stored with their command ids, read back exactly, and all listed by a scan.
pub fn rejections_stored_and_scanned<H: Harness>(h: &mut H) {
    let check = "rejections_stored_and_scanned";
    let (mut s, epoch) = fresh_writer(h, check);
    let mut first = batch_of(epoch, vec![]);
    first.rejections = vec![rejection_of("cmd-b"), rejection_of("cmd-a")];
    commit_ok(check, &mut s, &first);
    let mut second = batch_of(epoch, vec![run_of("alpha", 1, 1)]);
    let mut odd = rejection_of("cmd-c");
    odd.body = vec![]; // an empty outcome body is stored as empty, not lost
    second.rejections = vec![odd.clone()];
    commit_ok(check, &mut s, &second);
    for id in ["cmd-a", "cmd-b"] {
        assert_eq!(
            ok(check, "rejection", s.rejection(id)),
            Some(rejection_of(id)),
            "conformance {check}: rejection {id}"
        );
    }
    assert_eq!(
        ok(check, "rejection", s.rejection("cmd-c")),
        Some(odd.clone()),
        "conformance {check}: rejection cmd-c"
    );
    assert_eq!(
        ok(check, "rejection", s.rejection("cmd-z")),
        None,
        "conformance {check}: unknown command"
    );
    let mut scanned = Vec::new();
    ok(
        check,
        "scan_rejections",
        s.scan_rejections(&mut |r| scanned.push(r)),
    );
    scanned.sort_by(|a, b| a.command_id.cmp(&b.command_id));
    assert_eq!(
        scanned,
        vec![rejection_of("cmd-a"), rejection_of("cmd-b"), odd],
        "conformance {check}: scan"
    );
}

/// A second rejection for a stored command id, or two in one batch, refuses the whole batch.
pub fn duplicate_rejection_refused_atomically<H: Harness>(h: &mut H) {
    let check = "duplicate_rejection_refused_atomically";
    let (mut s, epoch) = fresh_writer(h, check);
    let mut first = batch_of(epoch, vec![]);
    first.rejections = vec![rejection_of("cmd-1")];
    commit_ok(check, &mut s, &first);
    let mut again = rejection_of("cmd-1");
    again.body = b"a different outcome".to_vec();
    let batch = CommitBatch {
        epoch,
        runs: vec![run_of("alpha", 1, 1)],
        rejections: vec![rejection_of("cmd-2"), again],
        personal: vec![personal_of("dup batch")],
        checkpoints: vec![checkpoint_of("alpha", 1)],
    };
    refused(
        check,
        "batch repeating a stored command id",
        s.commit(&batch),
        StoreError::DuplicateRejection("cmd-1".to_string()),
    );
    let mut twice = batch_of(epoch, vec![run_of("alpha", 1, 1)]);
    twice.rejections = vec![rejection_of("cmd-3"), rejection_of("cmd-3")];
    refused(
        check,
        "batch naming one command id twice",
        s.commit(&twice),
        StoreError::DuplicateRejection("cmd-3".to_string()),
    );
    expect_heads(check, &s, &[]);
    assert_eq!(
        ok(check, "rejection", s.rejection("cmd-1")),
        Some(rejection_of("cmd-1")),
        "conformance {check}: original kept"
    );
    for id in ["cmd-2", "cmd-3"] {
        assert_eq!(
            ok(check, "rejection", s.rejection(id)),
            None,
            "conformance {check}: {id} of a refused batch"
        );
    }
    let reference = personal_of("dup batch").reference;
    assert_eq!(
        ok(check, "personal", s.personal(&reference)),
        None,
        "conformance {check}: personal of a refused batch"
    );
    assert_eq!(
        ok(check, "checkpoints", s.checkpoints("alpha")),
        vec![],
        "conformance {check}: checkpoint of a refused batch"
    );
}

/// Personal records read back exactly; erasing returns true once, then false, and the record
/// stays gone after reopen while others stay.
pub fn personal_erased_once_and_gone_after_reopen<H: Harness>(h: &mut H) {
    let check = "personal_erased_once_and_gone_after_reopen";
    let (mut s, epoch) = fresh_writer(h, check);
    let (one, two) = (
        personal_of("Asha Rao, Pune"),
        personal_of("Kenji Sato, Osaka"),
    );
    let mut batch = batch_of(epoch, vec![run_of("alpha", 1, 1)]);
    batch.personal = vec![one.clone(), two.clone()];
    commit_ok(check, &mut s, &batch);
    assert_eq!(
        ok(check, "personal", s.personal(&one.reference)),
        Some(one.clone()),
        "conformance {check}: stored"
    );
    assert!(
        ok(check, "erase_personal", s.erase_personal(&one.reference)),
        "conformance {check}: first erase returns true"
    );
    assert!(
        !ok(check, "erase_personal", s.erase_personal(&one.reference)),
        "conformance {check}: second erase returns false"
    );
    assert!(
        !ok(check, "erase_personal", s.erase_personal(&[7; 32])),
        "conformance {check}: erasing an unknown reference returns false"
    );
    assert_eq!(
        ok(check, "personal", s.personal(&one.reference)),
        None,
        "conformance {check}: gone after erase"
    );
    let mut s = h.reopen(s);
    assert_eq!(
        ok(check, "personal", s.personal(&one.reference)),
        None,
        "conformance {check}: gone after reopen"
    );
    assert_eq!(
        ok(check, "personal", s.personal(&two.reference)),
        Some(two.clone()),
        "conformance {check}: other record kept"
    );
    assert!(
        !ok(check, "erase_personal", s.erase_personal(&one.reference)),
        "conformance {check}: erase after reopen returns false"
    );
    assert!(
        ok(check, "erase_personal", s.erase_personal(&two.reference)),
        "conformance {check}: erase of the other record"
    );
    expect_heads(check, &s, &[head("alpha", 1)]);
}

/// Checkpoints of a chain come back ascending by seq, whatever order they were written in.
pub fn checkpoints_ascending<H: Harness>(h: &mut H) {
    let check = "checkpoints_ascending";
    let (mut s, epoch) = fresh_writer(h, check);
    let mut first = batch_of(epoch, vec![]);
    first.checkpoints = vec![
        checkpoint_of("alpha", 30),
        checkpoint_of("beta", 5),
        checkpoint_of("alpha", 9),
    ];
    commit_ok(check, &mut s, &first);
    let mut second = batch_of(epoch, vec![]);
    second.checkpoints = vec![checkpoint_of("alpha", 20), checkpoint_of("alpha", 100)];
    commit_ok(check, &mut s, &second);
    let want: Vec<CheckpointRecord> = [9, 20, 30, 100]
        .iter()
        .map(|seq| checkpoint_of("alpha", *seq))
        .collect();
    assert_eq!(
        ok(check, "checkpoints", s.checkpoints("alpha")),
        want,
        "conformance {check}: alpha"
    );
    assert_eq!(
        ok(check, "checkpoints", s.checkpoints("beta")),
        vec![checkpoint_of("beta", 5)],
        "conformance {check}: beta"
    );
    assert_eq!(
        ok(check, "checkpoints", s.checkpoints("alph")),
        vec![],
        "conformance {check}: prefix of a chain name"
    );
}

/// Metadata is absent until set, last write wins, an empty value is not absent, and values
/// survive reopen.
pub fn meta_survives_reopen<H: Harness>(h: &mut H) {
    let check = "meta_survives_reopen";
    let mut s = h.fresh();
    assert_eq!(
        ok(check, "meta_get", s.meta_get("node_secret")),
        None,
        "conformance {check}: unset key"
    );
    ok(check, "meta_set", s.meta_set("node_secret", b"first"));
    ok(
        check,
        "meta_set",
        s.meta_set("node_secret", &[0, 1, 2, 255]),
    );
    ok(check, "meta_set", s.meta_set("format_version", b""));
    assert_eq!(
        ok(check, "meta_get", s.meta_get("node_secret")),
        Some(vec![0, 1, 2, 255]),
        "conformance {check}: overwritten"
    );
    let s = h.reopen(s);
    assert_eq!(
        ok(check, "meta_get", s.meta_get("node_secret")),
        Some(vec![0, 1, 2, 255]),
        "conformance {check}: after reopen"
    );
    assert_eq!(
        ok(check, "meta_get", s.meta_get("format_version")),
        Some(vec![]),
        "conformance {check}: empty value after reopen"
    );
    assert_eq!(
        ok(check, "meta_get", s.meta_get("unset")),
        None,
        "conformance {check}: unset key after reopen"
    );
}

/// The durability boundary: everything committed reads back the same after reopen, and the
/// reopened store continues every chain.
pub fn committed_survives_reopen<H: Harness>(h: &mut H) {
    let check = "committed_survives_reopen";
    let (mut s, epoch) = fresh_writer(h, check);
    let people: Vec<PersonalRecord> = (0..4)
        .map(|i| personal_of(&format!("person {i}")))
        .collect();
    let mut people_left = people.iter();
    let mut next: BTreeMap<&str, u64> = BTreeMap::new();
    for i in 0..12u64 {
        let mut batch = batch_of(epoch, vec![]);
        let chains: &[&'static str] = match i % 3 {
            0 => &["alpha"],
            1 => &["alpha", "beta"],
            _ => &["alpha", "beta", "gamma"],
        };
        for &chain in chains {
            let first = next.get(chain).copied().unwrap_or(1);
            let last = first + i % 4;
            batch.runs.push(run_of(chain, first, last));
            next.insert(chain, last + 1);
        }
        if i % 2 == 0 {
            batch.rejections.push(rejection_of(&format!("cmd-{i}")));
        }
        if i % 3 == 0 {
            batch.personal.extend(people_left.next().cloned());
        }
        if i % 5 == 4 {
            batch
                .checkpoints
                .push(checkpoint_of("alpha", next["alpha"] - 1));
        }
        commit_ok(check, &mut s, &batch);
    }
    ok(check, "meta_set", s.meta_set("format_version", b"1"));
    assert!(
        ok(
            check,
            "erase_personal",
            s.erase_personal(&people[1].reference)
        ),
        "conformance {check}: erase"
    );
    let references: Vec<Digest> = people.iter().map(|p| p.reference).collect();
    let before = ok(
        check,
        "snapshot",
        Snapshot::take(&s, &[], &references, &["format_version"]),
    );
    assert_eq!(
        before.heads.len(),
        3,
        "conformance {check}: fixture writes three chains"
    );
    let mut s = h.reopen(s);
    let after = ok(
        check,
        "snapshot after reopen",
        Snapshot::take(&s, &[], &references, &["format_version"]),
    );
    assert_eq!(after, before, "conformance {check}: store after reopen");
    let mut batch = batch_of(epoch, vec![]);
    for chain in ["alpha", "beta", "gamma"] {
        batch.runs.push(run_of(chain, next[chain], next[chain] + 1));
    }
    commit_ok(check, &mut s, &batch);
}

/// Malformed batches are refused with `InvalidBatch` and write nothing, even next to valid
/// parts.
pub fn invalid_batch_refused<H: Harness>(h: &mut H) {
    let check = "invalid_batch_refused";
    let (mut s, epoch) = fresh_writer(h, check);
    let valid = run_of("alpha", 1, 2);
    let mut backwards = run_of("beta", 3, 3);
    backwards.last_seq = 2;
    let mut empty_body = run_of("beta", 1, 1);
    empty_body.body.clear();
    let mut at_zero = run_of("beta", 1, 1);
    at_zero.first_seq = 0;
    let mut no_chain = run_of("beta", 1, 1);
    no_chain.chain.clear();
    for (what, bad) in [
        ("last_seq < first_seq", backwards),
        ("empty body", empty_body),
        ("first_seq 0", at_zero),
        ("empty chain name", no_chain),
    ] {
        let mut batch = batch_of(epoch, vec![valid.clone(), bad]);
        batch.rejections.push(rejection_of("cmd-invalid"));
        refused_invalid(check, what, s.commit(&batch));
    }
    expect_heads(check, &s, &[]);
    assert_eq!(
        ok(check, "rejection", s.rejection("cmd-invalid")),
        None,
        "conformance {check}: rejection of an invalid batch"
    );
    commit_ok(check, &mut s, &batch_of(epoch, vec![valid.clone()]));
    expect_runs(check, &s, "alpha", &[&valid]);
}

// ---------------------------------------------------------------------------------------------
// The model-based property: any sequence of operations gives the same answers and the same
// store as the in-memory model.

/// splitmix64, so that a seed names one sequence of operations on every machine.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const MODEL_CHAINS: [&str; 3] = ["alpha", "beta", "gamma"];
const MODEL_TEXTS: [&str; 4] = ["ana", "bo", "chen", "dev"];
const MODEL_META: [&str; 2] = ["k1", "k2"];

/// Runs `steps` operations drawn from `seed` on `s` (a fresh store) and on a
/// [`crate::memory::MemoryStore`]: batches that continue a chain or conflict with it (wrong
/// seq, wrong previous hash), several runs of one chain in a batch, stale and future epochs,
/// new writers, rejections with repeated ids, personal records written and erased,
/// checkpoints, metadata. Every answer must equal the model's, and so must everything the
/// store shows at the end. Panics naming the seed and the step.
pub fn agrees_with_memory<S: Store>(s: &mut S, seed: u64, steps: usize) {
    let mut model = crate::memory::MemoryStore::new();
    let mut draw = Draw(seed);
    let same = |step: usize, what: &str, got: StoreResult<u64>, want: StoreResult<u64>| {
        assert_eq!(
            got, want,
            "model-based check, seed {seed}, step {step}: {what}: backend vs model"
        );
    };
    same(
        0,
        "acquire_writer",
        s.acquire_writer(),
        model.acquire_writer(),
    );
    for step in 1..=steps {
        let op = draw.below(100);
        if op < 5 {
            same(
                step,
                "acquire_writer",
                s.acquire_writer(),
                model.acquire_writer(),
            );
        } else if op < 10 {
            let text = MODEL_TEXTS[draw.below(4) as usize];
            let reference = personal_of(text).reference;
            let got = s.erase_personal(&reference).map(u64::from);
            let want = model.erase_personal(&reference).map(u64::from);
            same(step, "erase_personal", got, want);
        } else if op < 14 {
            let key = MODEL_META[draw.below(2) as usize];
            // Empty values too: an empty value is not an absent one.
            let value = vec![7u8; draw.below(3) as usize];
            let got = s.meta_set(key, &value).map(|()| 0);
            let want = model.meta_set(key, &value).map(|()| 0);
            same(step, "meta_set", got, want);
        } else {
            let epoch = model.writer_epoch().unwrap_or(0);
            let batch_epoch = match draw.below(20) {
                0 => epoch.saturating_sub(1),
                1 => epoch + 1,
                _ => epoch,
            };
            let mut batch = batch_of(batch_epoch, vec![]);
            let mut staged: BTreeMap<&str, u64> = BTreeMap::new();
            for _ in 0..draw.below(4) {
                let chain = MODEL_CHAINS[draw.below(3) as usize];
                let head = match staged.get(chain) {
                    Some(seq) => *seq,
                    None => model
                        .heads()
                        .unwrap_or_default()
                        .iter()
                        .find(|h| h.chain == chain)
                        .map_or(0, |h| h.seq),
                };
                let kind = draw.below(14);
                let first = match kind {
                    0 | 2 => head + 2,
                    1 => head.max(1),
                    _ => head + 1,
                };
                let last = first + draw.below(4);
                let mut run = run_of(chain, first, last);
                if kind == 2 {
                    // A gap whose previous hash is the head's: only the seq is wrong.
                    run.prev_hash = if head == 0 {
                        [0; 32]
                    } else {
                        entry_hash(chain, head)
                    };
                } else if draw.chance(4) {
                    run.prev_hash = entry_hash("elsewhere", first);
                }
                staged.insert(chain, last);
                batch.runs.push(run);
            }
            for _ in 0..draw.below(3) {
                batch
                    .rejections
                    .push(rejection_of(&format!("cmd-{}", draw.below(24))));
            }
            if draw.chance(20) {
                batch
                    .personal
                    .push(personal_of(MODEL_TEXTS[draw.below(4) as usize]));
            }
            if draw.chance(20) {
                let chain = MODEL_CHAINS[draw.below(3) as usize];
                batch
                    .checkpoints
                    .push(checkpoint_of(chain, 1 + draw.below(12)));
            }
            let got = s.commit(&batch).map(|()| 0);
            let want = model.commit(&batch).map(|()| 0);
            same(step, &format!("commit {batch:?}"), got, want);
        }
    }
    let references: Vec<Digest> = MODEL_TEXTS
        .iter()
        .map(|t| personal_of(t).reference)
        .collect();
    let got = Snapshot::take(&*s, &MODEL_CHAINS, &references, &MODEL_META);
    let want = Snapshot::take(&model, &MODEL_CHAINS, &references, &MODEL_META);
    assert_eq!(
        got, want,
        "model-based check, seed {seed}: the store after {steps} steps vs the model"
    );
}
