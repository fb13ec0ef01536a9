//! Prints commit figures for the SQLite store; a benchmark program, not a test (it gates
//! nothing). Run in release:
//!
//! ```text
//! cargo run --release -p tanso-store-sqlite --example commit_latency [DIR]
//! ```
//!
//! `DIR` (default: the system temp dir) should be on the disk you care about. On a tmpfs
//! (`/dev/shm`) fsync costs nothing, so the figures there are the commit's own cost.
//! Figures: single-entry commits (fsync-bound on a disk), 8,000-entry group commits of
//! 200-byte entries in four runs, and single-entry commits over the crash simulator.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tanso_store::conformance::run_of;
use tanso_store::{CommitBatch, EntryRun, Store};
use tanso_store_sqlite::crashsim::CrashSim;
use tanso_store_sqlite::SqliteStore;

const ENTRY_BYTES: usize = 200;

fn run(chain: &str, first_seq: u64, entries: u64) -> EntryRun {
    let mut run = run_of(chain, first_seq, first_seq + entries - 1);
    let len = usize::try_from(entries).expect("entries fit in usize") * ENTRY_BYTES;
    run.body = (0..len)
        .map(|i| u8::try_from(i % 251).unwrap_or(0))
        .collect();
    run
}

/// `commits` batches of `runs_per_batch` runs of `entries` entries each, on chains c0, c1, …
fn measure(
    store: &mut SqliteStore,
    commits: u64,
    runs_per_batch: u64,
    entries: u64,
) -> Vec<Duration> {
    let epoch = store.acquire_writer().expect("acquire writer");
    let mut next = vec![1u64; usize::try_from(runs_per_batch).expect("runs fit")];
    let mut latencies = Vec::new();
    for _ in 0..commits {
        let mut batch = CommitBatch {
            epoch,
            ..CommitBatch::default()
        };
        for (c, seq) in next.iter_mut().enumerate() {
            batch.runs.push(run(&format!("c{c}"), *seq, entries));
            *seq += entries;
        }
        let start = Instant::now();
        store.commit(&batch).expect("commit");
        latencies.push(start.elapsed());
    }
    latencies
}

fn report(label: &str, mut latencies: Vec<Duration>) {
    let total: Duration = latencies.iter().sum();
    latencies.sort();
    let pick = |q: usize| latencies[(latencies.len() - 1) * q / 100];
    let per_second =
        f64::from(u32::try_from(latencies.len()).unwrap_or(u32::MAX)) / total.as_secs_f64();
    println!(
        "{label}: {} commits, {per_second:.0} commits/s, latency p50 {:?} p99 {:?} max {:?}",
        latencies.len(),
        pick(50),
        pick(99),
        latencies.last().copied().unwrap_or_default()
    );
}

fn main() {
    let base = std::env::args()
        .nth(1)
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    println!("directory: {}", base.display());

    let mut store = SqliteStore::open(&dir.path().join("single")).expect("open");
    println!("sync mode: {}", store.sync_mode());
    report("1 run of 1 entry", measure(&mut store, 1_000, 1, 1));
    drop(store);

    let mut store = SqliteStore::open(&dir.path().join("group")).expect("open");
    report(
        "4 runs of 2,000 entries",
        measure(&mut store, 200, 4, 2_000),
    );
    drop(store);

    // The crash simulator's cost is mostly its own memory traffic; this only shows that a
    // store over it is fast enough for tests.
    let sim = CrashSim::new().expect("crashsim");
    let mut store =
        SqliteStore::open_with_vfs(&PathBuf::from("/bench/single"), sim.vfs_name()).expect("open");
    report(
        "crashsim vfs, 1 run of 1 entry",
        measure(&mut store, 1_000, 1, 1),
    );
}
