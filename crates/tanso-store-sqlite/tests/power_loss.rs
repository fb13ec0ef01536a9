//! Power loss at every sync point: the durability boundary of `SqliteStore`, checked on the
//! crash-simulating VFS.
//!
//! A fixed workload (open, acquire the writer, ~40 mixed commits, an erase, a meta write, close)
//! is first run clean to count its syncs, N. Then for every k in 1..=N and every kind of sync
//! fault, a fresh machine runs the workload with the k-th sync faulted, the writer stops at its
//! first error, the power goes, and the store is reopened on what survived. It must then equal
//! a `MemoryStore` oracle that applied exactly the acknowledged operations, or those plus the
//! one in doubt (never a part of it), and it must accept the next batch.

use std::path::{Path, PathBuf};

use tanso_store::conformance::{
    checkpoint_of, entry_hash, personal_of, rejection_of, run_of, Snapshot,
};
use tanso_store::memory::MemoryStore;
use tanso_store::{CommitBatch, Digest, EntryRun, Store, StoreError, StoreResult};
use tanso_store_sqlite::crashsim::{CrashSim, SyncFault};
use tanso_store_sqlite::{OpenOptions, SqliteStore, FILE_NAME};

const CHAINS: [&str; 3] = ["alpha", "beta", "gamma"];
const META_KEY: &str = "format_version";
/// The epoch the workload's one writer gets.
const EPOCH: u64 = 1;

#[derive(Clone, Debug)]
enum Op {
    Open,
    AcquireWriter,
    Commit(CommitBatch),
    Erase(Digest),
    MetaSet(Vec<u8>),
}

struct Workload {
    ops: Vec<Op>,
    people: Vec<Digest>,
    /// Every run body in a segment file (see `options`).
    segments: bool,
}

/// A run of `chain` with bodies of a few hundred bytes per entry, so the WAL grows past the
/// small autocheckpoint limit and checkpoints (and their syncs) happen mid-workload.
fn fat_run(chain: &str, first_seq: u64, last_seq: u64) -> EntryRun {
    let mut run = run_of(chain, first_seq, last_seq);
    let mut body = Vec::new();
    for seq in first_seq..=last_seq {
        let hash = entry_hash(chain, seq);
        for _ in 0..10 {
            body.extend_from_slice(&hash);
        }
    }
    run.body = body;
    run
}

fn workload(segments: bool) -> Workload {
    let mut ops = vec![Op::Open, Op::AcquireWriter];
    let mut people = Vec::new();
    let mut next = [1u64; 3];
    for i in 0..40u64 {
        let mut batch = CommitBatch {
            epoch: EPOCH,
            ..CommitBatch::default()
        };
        // Which chains this batch appends to; some batches append to none.
        let chains: &[usize] = match i % 5 {
            0 => &[0],
            1 => &[1, 0],
            2 => &[2],
            3 => &[0, 1, 2],
            _ if i % 10 == 9 => &[],
            _ => &[1],
        };
        for &c in chains {
            let len = 1 + (i * 7) % 13;
            batch
                .runs
                .push(fat_run(CHAINS[c], next[c], next[c] + len - 1));
            next[c] += len;
        }
        if i % 7 == 5 {
            // Two runs of one chain in one batch.
            batch.runs.push(fat_run("alpha", next[0], next[0] + 2));
            next[0] += 3;
        }
        if i % 3 == 0 || i % 10 == 9 {
            batch.rejections.push(rejection_of(&format!("cmd-{i}")));
        }
        if i % 10 == 9 {
            batch.rejections.push(rejection_of(&format!("cmd-{i}-b")));
        }
        if i % 5 == 2 {
            let person = personal_of(&format!("person {i}, Bengaluru"));
            people.push(person.reference);
            batch.personal.push(person);
        }
        if i % 6 == 5 && next[0] > 1 {
            batch.checkpoints.push(checkpoint_of("alpha", next[0] - 1));
        }
        assert!(!batch.is_empty(), "workload batch {i} writes something");
        ops.push(Op::Commit(batch));
        if i == 20 {
            ops.push(Op::Erase(people[0]));
        }
        if i == 30 {
            ops.push(Op::MetaSet(b"1".to_vec()));
        }
    }
    Workload {
        ops,
        people,
        segments,
    }
}

/// A tiny WAL autocheckpoint; with `segments`, every run body goes to a segment file, and a
/// segment takes no new run past 2 KiB, so the workload also starts new segments.
fn options(segments: bool) -> OpenOptions {
    let defaults = OpenOptions::default();
    OpenOptions {
        wal_autocheckpoint_pages: 4,
        segment_min_body: if segments {
            1
        } else {
            defaults.segment_min_body
        },
        segment_max_bytes: if segments {
            2_048
        } else {
            defaults.segment_max_bytes
        },
        ..defaults
    }
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Open => "open",
        Op::AcquireWriter => "acquire_writer",
        Op::Commit(_) => "commit",
        Op::Erase(_) => "erase",
        Op::MetaSet(_) => "meta_set",
    }
}

fn open(sim: &CrashSim, dir: &Path, segments: bool) -> StoreResult<SqliteStore> {
    let options = OpenOptions {
        vfs: Some(sim.vfs_name().to_string()),
        ..options(segments)
    };
    SqliteStore::open_with(dir, &options)
}

/// Applies one op; `store` is set by `Op::Open`.
fn apply<S: Store>(
    store: &mut Option<S>,
    op: &Op,
    open: impl FnOnce() -> StoreResult<S>,
) -> StoreResult<()> {
    if let Op::Open = op {
        *store = Some(open()?);
        return Ok(());
    }
    let Some(s) = store.as_mut() else {
        panic!("op {op:?} before open");
    };
    match op {
        Op::Open => Ok(()),
        Op::AcquireWriter => {
            assert_eq!(s.acquire_writer()?, EPOCH, "the workload's writer epoch");
            Ok(())
        }
        Op::Commit(batch) => s.commit(batch),
        Op::Erase(reference) => {
            assert!(
                s.erase_personal(reference)?,
                "the workload erases a stored record"
            );
            Ok(())
        }
        Op::MetaSet(value) => s.meta_set(META_KEY, value),
    }
}

/// What the store must hold after the first `count` ops.
fn oracle(w: &Workload, count: usize) -> Snapshot {
    let mut store: Option<MemoryStore> = None;
    for op in &w.ops[..count] {
        apply(&mut store, op, || Ok(MemoryStore::new())).expect("oracle applies the workload");
    }
    let store = store.unwrap_or_default();
    snapshot(&store, w).expect("oracle snapshot")
}

fn snapshot<S: Store>(s: &S, w: &Workload) -> StoreResult<Snapshot> {
    Snapshot::take(s, &CHAINS, &w.people, &[META_KEY])
}

/// How one faulted run ended.
#[derive(Debug)]
struct Run {
    /// Ops that returned Ok before the crash (a prefix of the workload).
    acknowledged: usize,
    /// Whether the op after them was in flight at the crash (returned an error, or returned Ok
    /// after a sync that killed the machine: the crash came before the caller saw the answer).
    in_doubt: bool,
}

fn run_workload(sim: &CrashSim, dir: &Path, w: &Workload, fault: Option<SyncFault>) -> Run {
    let mut store: Option<SqliteStore> = None;
    let mut acknowledged = 0;
    let mut in_doubt = false;
    for op in &w.ops {
        let dead_before = sim.is_dead();
        let result = apply(&mut store, op, || open(sim, dir, w.segments));
        let died_now = !dead_before && sim.is_dead();
        match result {
            Err(e) => {
                assert!(
                    matches!(e, StoreError::Io(_)),
                    "a sync fault gives an i/o error, got {e:?} at {op:?}"
                );
                if let Some(s) = &store {
                    assert!(s.is_poisoned(), "an i/o error poisons the store");
                }
                in_doubt = true;
                break;
            }
            Ok(()) if died_now && fault == Some(SyncFault::SucceedsThenDies) => {
                in_doubt = true;
                break;
            }
            Ok(()) => acknowledged += 1,
        }
    }
    // The process ends: closing a store on a dead machine cannot write anything.
    drop(store);
    assert_eq!(
        sim.open_files(),
        0,
        "every file closed before the power goes"
    );
    Run {
        acknowledged,
        in_doubt,
    }
}

/// After the power loss: the store reopens, matches the oracle for the acknowledged ops (or
/// those plus the one in doubt, whole), and takes the next batch from a new writer.
fn check_recovery(sim: &CrashSim, dir: &Path, w: &Workload, run: &Run, case: &str) -> bool {
    sim.power_loss();
    let mut store = open(sim, dir, w.segments)
        .unwrap_or_else(|e| panic!("{case}: reopen after power loss: {e}"));
    let got = snapshot(&store, w).unwrap_or_else(|e| panic!("{case}: read back: {e}"));
    let without = oracle(w, run.acknowledged);
    let doubt_present = if got == without {
        false
    } else if run.in_doubt && got == oracle(w, run.acknowledged + 1) {
        true
    } else {
        panic!(
            "{case}: store after power loss is not the acknowledged prefix ({run:?}):\n\
             got heads {:?}\nwant heads {:?}\ngot {got:?}\nwant {without:?}",
            got.heads, without.heads
        );
    };
    for (chain, runs) in &got.runs {
        for pair in runs.windows(2) {
            assert_eq!(
                pair[0].last_seq + 1,
                pair[1].first_seq,
                "{case}: chain {chain} continuous"
            );
        }
    }
    // A new writer continues every chain (and starts alpha if nothing survived).
    let epoch = store
        .acquire_writer()
        .unwrap_or_else(|e| panic!("{case}: acquire after reopen: {e}"));
    let mut batch = CommitBatch {
        epoch,
        ..CommitBatch::default()
    };
    for chain in CHAINS {
        let seq = got
            .heads
            .iter()
            .find(|h| h.chain == chain)
            .map_or(0, |h| h.seq);
        batch.runs.push(fat_run(chain, seq + 1, seq + 1));
    }
    store
        .commit(&batch)
        .unwrap_or_else(|e| panic!("{case}: next batch after reopen: {e}"));
    doubt_present
}

#[test]
fn power_loss_at_every_sync_keeps_exactly_the_acknowledged_batches() {
    power_loss_sweep(false);
}

#[test]
fn power_loss_at_every_sync_with_bodies_in_segments_keeps_exactly_the_acknowledged_batches() {
    power_loss_sweep(true);
}

fn power_loss_sweep(segments: bool) {
    let w = workload(segments);
    let dir = PathBuf::from("/sim/power-loss");

    // The clean run: count the sync points and check the workload reaches all of them.
    let sim = CrashSim::new().expect("crashsim");
    let clean = run_workload(&sim, &dir, &w, None);
    assert_eq!(clean.acknowledged, w.ops.len());
    let total = sim.sync_calls();
    let by_file = {
        // The WAL is gone after a clean close; what is left says how often the db was synced.
        sim.syncs_by_file()
    };
    let db_syncs = by_file
        .iter()
        .find(|(path, _)| path.ends_with(FILE_NAME))
        .map_or(0, |(_, n)| *n);
    assert!(
        db_syncs >= 4,
        "checkpoints must happen mid-workload, db synced {db_syncs} times"
    );
    assert!(
        total > 45,
        "expected a sync per commit at least, got {total}"
    );
    let segment_files = by_file
        .iter()
        .filter(|(path, n)| path.contains(&format!("{FILE_NAME}-seg")) && *n > 0)
        .count();
    if segments {
        assert!(
            segment_files >= 2,
            "bodies go to segments, and the workload fills more than one: {by_file:?}"
        );
    } else {
        assert_eq!(
            segment_files, 0,
            "small bodies stay in their rows: {by_file:?}"
        );
    }
    check_recovery(&sim, &dir, &w, &clean, "clean run");

    let mut cases = 0;
    let mut doubts_present = 0;
    for fault in [
        SyncFault::FailsLost,
        SyncFault::FailsPersisted,
        SyncFault::SucceedsThenDies,
    ] {
        for k in 1..=total {
            let sim = CrashSim::new().expect("crashsim");
            sim.plan_sync_fault(k, fault);
            let run = run_workload(&sim, &dir, &w, Some(fault));
            assert!(sim.is_dead(), "{fault:?} at sync {k} of {total} fired");
            let case = format!("{fault:?} at sync {k} of {total}");
            if check_recovery(&sim, &dir, &w, &run, &case) {
                doubts_present += 1;
                let op = w.ops.get(run.acknowledged).map_or("none", op_name);
                // A lost sync makes nothing durable, so the op it failed is absent, except an
                // erase: its transaction is durable before the checkpoint that follows it.
                assert!(
                    fault != SyncFault::FailsLost || op == "erase",
                    "{case}: {op} whose sync was lost is present"
                );
            }
            cases += 1;
        }
    }
    println!(
        "power loss: {total} sync points (db file synced {db_syncs} times) x 3 faults = {cases} \
         crashes; the op in doubt survived whole in {doubts_present}"
    );
    // The persisted faults must sometimes leave the op in doubt present: otherwise the oracle
    // comparison never exercised the "may be present, must be whole" branch.
    assert!(doubts_present > 0, "no crash left an in-doubt op present");
}

#[test]
fn fsync_failure_poisons_the_store_and_loses_only_the_failed_batch() {
    let w = workload(false);
    let dir = PathBuf::from("/sim/fsync-failure");
    let sim = CrashSim::new().expect("crashsim");
    let mut store = open(&sim, &dir, false).expect("open");
    store.acquire_writer().expect("acquire");
    let commits: Vec<&CommitBatch> = w
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Commit(b) => Some(b),
            _ => None,
        })
        .collect();
    for batch in &commits[..5] {
        store.commit(batch).expect("commit");
    }
    let syncs_before = store.syncs();
    sim.fail_at_sync(sim.sync_calls() + 1);
    let failed = store.commit(commits[5]);
    assert!(matches!(failed, Err(StoreError::Io(_))), "got {failed:?}");
    assert!(store.is_poisoned());
    assert_eq!(store.syncs(), syncs_before, "a failed commit is not a sync");
    // Poisoned: refused by the store itself, not by the dead disk.
    let refused = store.commit(commits[5]);
    assert!(
        matches!(refused, Err(StoreError::Io(ref m)) if m.contains("refuses writes")),
        "got {refused:?}"
    );
    drop(store);
    sim.power_loss();
    let store = open(&sim, &dir, false).expect("reopen");
    let mut oracle_store = MemoryStore::new();
    oracle_store.acquire_writer().expect("acquire");
    for batch in &commits[..5] {
        oracle_store.commit(batch).expect("oracle commit");
    }
    assert_eq!(
        snapshot(&store, &w).expect("snapshot"),
        snapshot(&oracle_store, &w).expect("oracle snapshot")
    );
}

#[test]
fn process_crash_without_close_keeps_every_acknowledged_commit() {
    let w = workload(false);
    let dir = PathBuf::from("/sim/no-close");
    let sim = CrashSim::new().expect("crashsim");
    let mut store = open(&sim, &dir, false).expect("open");
    store.acquire_writer().expect("acquire");
    let commits: Vec<&CommitBatch> = w
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Commit(b) => Some(b),
            _ => None,
        })
        .collect();
    for batch in &commits[..12] {
        store.commit(batch).expect("commit");
    }
    // The machine dies under the process: closing the store can flush nothing.
    sim.crash();
    drop(store);
    sim.power_loss();
    let store = open(&sim, &dir, false).expect("reopen");
    let mut oracle_store = MemoryStore::new();
    oracle_store.acquire_writer().expect("acquire");
    for batch in &commits[..12] {
        oracle_store.commit(batch).expect("oracle commit");
    }
    assert_eq!(
        snapshot(&store, &w).expect("snapshot"),
        snapshot(&oracle_store, &w).expect("oracle snapshot")
    );
}

#[test]
fn unsynced_writes_are_lost_at_power_loss() {
    // The simulator itself: with SQLite told never to sync, nothing written survives.
    let sim = CrashSim::new().expect("crashsim");
    let conn = rusqlite::Connection::open_with_flags_and_vfs(
        "/sim/unsynced.sqlite",
        rusqlite::OpenFlags::default(),
        sim.vfs_name(),
    )
    .expect("open");
    conn.execute_batch(
        "PRAGMA synchronous = OFF; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);",
    )
    .expect("write");
    assert_eq!(sim.sync_calls(), 0);
    assert_eq!(
        sim.file_sizes("/sim/unsynced.sqlite")
            .map(|(current, _)| current > 0),
        Some(true)
    );
    drop(conn);
    sim.power_loss();
    assert_eq!(
        sim.file_sizes("/sim/unsynced.sqlite"),
        Some((0, 0)),
        "created, never synced"
    );
}
