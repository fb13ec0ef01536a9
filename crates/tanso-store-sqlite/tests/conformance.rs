//! `SqliteStore` against the conformance suite: on a real temporary directory, and over the
//! crash-simulating VFS where every reopen is a crash and a power loss (the store gets no clean
//! close, so whatever the suite reads back after reopen is what the syncs made durable).

use std::path::{Path, PathBuf};

use tanso_store::conformance::{self, batch_of, head, run_of, Harness};
use tanso_store::Store;
use tanso_store_sqlite::crashsim::CrashSim;
use tanso_store_sqlite::{OpenOptions, SqliteStore, FILE_NAME};

/// Every run body in a segment file, and a new segment every few runs.
fn all_in_segments() -> OpenOptions {
    OpenOptions {
        segment_min_body: 1,
        segment_max_bytes: 512,
        ..OpenOptions::default()
    }
}

struct TempDirHarness {
    root: tempfile::TempDir,
    next: u32,
    options: OpenOptions,
}

impl TempDirHarness {
    fn new(options: OpenOptions) -> TempDirHarness {
        TempDirHarness {
            root: tempfile::tempdir().expect("create temp dir"),
            next: 0,
            options,
        }
    }
}

impl Harness for TempDirHarness {
    type S = SqliteStore;

    fn fresh(&mut self) -> SqliteStore {
        self.next += 1;
        // A directory that does not exist yet: open must create it.
        let dir = self
            .root
            .path()
            .join(format!("store-{}", self.next))
            .join("nested");
        SqliteStore::open_with(&dir, &self.options).expect("open fresh store")
    }

    fn reopen(&mut self, s: SqliteStore) -> SqliteStore {
        let dir = s.dir().to_path_buf();
        drop(s);
        SqliteStore::open_with(&dir, &self.options).expect("reopen store")
    }
}

struct CrashSimHarness {
    /// One machine per fresh store, kept alive for the test.
    machines: Vec<(PathBuf, CrashSim)>,
    options: OpenOptions,
}

impl CrashSimHarness {
    fn open(&self, dir: &Path, sim: &CrashSim) -> SqliteStore {
        let options = OpenOptions {
            vfs: Some(sim.vfs_name().to_string()),
            ..self.options.clone()
        };
        SqliteStore::open_with(dir, &options).expect("open store")
    }
}

impl Harness for CrashSimHarness {
    type S = SqliteStore;

    fn fresh(&mut self) -> SqliteStore {
        let sim = CrashSim::new().expect("register crashsim vfs");
        let dir = PathBuf::from(format!("/sim/store-{}", self.machines.len()));
        let store = self.open(&dir, &sim);
        self.machines.push((dir, sim));
        store
    }

    fn reopen(&mut self, s: SqliteStore) -> SqliteStore {
        let dir = s.dir().to_path_buf();
        let (_, sim) = self
            .machines
            .iter()
            .find(|(d, _)| *d == dir)
            .expect("machine of this store");
        sim.crash();
        drop(s);
        assert_eq!(sim.open_files(), 0, "closing the store closes every file");
        sim.power_loss();
        self.open(&dir, sim)
    }
}

#[test]
fn sqlite_on_temp_dir_passes_conformance() {
    conformance::run_all(&mut TempDirHarness::new(OpenOptions::default()));
}

#[test]
fn sqlite_with_every_body_in_segments_passes_conformance() {
    conformance::run_all(&mut TempDirHarness::new(all_in_segments()));
}

#[test]
fn sqlite_on_crashsim_with_crash_at_every_reopen_passes_conformance() {
    conformance::run_all(&mut CrashSimHarness {
        machines: Vec::new(),
        options: OpenOptions::default(),
    });
}

#[test]
fn sqlite_on_crashsim_with_every_body_in_segments_passes_conformance() {
    conformance::run_all(&mut CrashSimHarness {
        machines: Vec::new(),
        options: all_in_segments(),
    });
}

#[test]
fn open_creates_wal_journal_with_16k_pages_and_no_shared_memory_file() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("a").join("b");
    let mut store = SqliteStore::open(&dir).expect("open");
    let epoch = store.acquire_writer().expect("acquire");
    store
        .commit(&batch_of(epoch, vec![run_of("alpha", 1, 3)]))
        .expect("commit");
    assert!(dir.join(FILE_NAME).is_file());
    assert!(dir.join(format!("{FILE_NAME}-wal")).is_file(), "WAL mode");
    assert!(
        !dir.join(format!("{FILE_NAME}-shm")).exists(),
        "exclusive locking keeps the WAL index in heap memory"
    );
    assert_eq!(
        store.sync_mode(),
        "sqlite wal synchronous=FULL locking=EXCLUSIVE segments_from=65536B"
    );
    // Schema creation, acquire_writer and the commit are the three commit points.
    assert_eq!(store.syncs(), 3);
    drop(store);
    let conn = rusqlite::Connection::open(dir.join(FILE_NAME)).expect("open with plain sqlite");
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .expect("page size");
    assert_eq!(page_size, 4_096, "the page size set before WAL");
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("journal mode");
    assert_eq!(journal, "wal", "WAL mode is persistent in the file");
}

#[test]
fn second_open_of_same_directory_is_refused_while_first_is_open() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut first = SqliteStore::open(root.path()).expect("open");
    first
        .acquire_writer()
        .expect("acquire takes the exclusive lock");
    let second = SqliteStore::open(root.path());
    assert!(
        second.is_err(),
        "a second writer must not open the store: {second:?}"
    );
    drop(first);
    let reopened = SqliteStore::open(root.path()).expect("open after the first closed");
    assert_eq!(reopened.writer_epoch().expect("epoch"), 1);
}

#[test]
fn foreign_sqlite_file_is_refused_as_corrupt() {
    let root = tempfile::tempdir().expect("temp dir");
    let conn = rusqlite::Connection::open(root.path().join(FILE_NAME)).expect("open");
    conn.execute_batch("CREATE TABLE other (x INTEGER)")
        .expect("create");
    drop(conn);
    let opened = SqliteStore::open(root.path());
    assert!(
        matches!(opened, Err(tanso_store::StoreError::Corrupt(_))),
        "got {opened:?}"
    );
}

#[test]
fn reopened_store_reads_back_a_large_batch() {
    // A batch as large as a busy group commit: 8,000 entries of 200 bytes in four runs.
    let root = tempfile::tempdir().expect("temp dir");
    let mut store = SqliteStore::open(root.path()).expect("open");
    let epoch = store.acquire_writer().expect("acquire");
    let mut batch = batch_of(epoch, vec![]);
    for chain in ["a", "b", "c", "d"] {
        let mut run = run_of(chain, 1, 2_000);
        run.body = vec![0xab; 2_000 * 200];
        batch.runs.push(run);
    }
    store.commit(&batch).expect("commit");
    let store = reopen(store, root.path());
    assert_eq!(
        store.heads().expect("heads"),
        ["a", "b", "c", "d"].map(|c| head(c, 2_000)).to_vec()
    );
    let runs = store.read_runs("c", 1_999).expect("read");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].body, vec![0xab; 400_000]);
    drop(store);
    // Bodies this large are written once, to a segment file, and their rows hold none.
    let segment = root.path().join(format!("{FILE_NAME}-seg00000001"));
    let len = std::fs::metadata(&segment).expect("segment file").len();
    assert_eq!(len, 4 * 400_000);
    let conn = rusqlite::Connection::open(root.path().join(FILE_NAME)).expect("open");
    let rows: Vec<(usize, i64, i64, i64)> = conn
        .prepare("SELECT length(body), seg, seg_offset, seg_len FROM runs ORDER BY chain")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(
        rows,
        (0..4)
            .map(|i| (0, 1, i * 400_000, 400_000))
            .collect::<Vec<_>>()
    );
}

/// A store with one small and one large run in chain "a", closed.
fn store_with_a_segment(dir: &Path) {
    let mut store = SqliteStore::open(dir).expect("open");
    let epoch = store.acquire_writer().expect("acquire");
    let mut small = run_of("a", 1, 1);
    small.body = vec![1; 100];
    store.commit(&batch_of(epoch, vec![small])).expect("commit");
    let mut large = run_of("a", 2, 3);
    large.body = vec![2; 100_000];
    store.commit(&batch_of(epoch, vec![large])).expect("commit");
}

/// The small run of `store_with_a_segment`, in its row, reads back whatever became of the
/// segment.
fn assert_small_run_reads_back(store: &SqliteStore) {
    let first = store
        .run_containing("a", 1)
        .expect("the small run")
        .expect("run");
    assert_eq!(first.body, vec![1; 100]);
}

#[test]
fn a_missing_segment_is_corruption_naming_the_file() {
    let root = tempfile::tempdir().expect("temp dir");
    store_with_a_segment(root.path());
    let segment = root.path().join(format!("{FILE_NAME}-seg00000001"));
    std::fs::remove_file(&segment).expect("remove segment");
    let store = SqliteStore::open(root.path()).expect("the rows still open");
    match store.read_runs("a", 2) {
        Err(tanso_store::StoreError::Corrupt(why)) => {
            assert!(
                why.contains("seg00000001") && why.contains("missing"),
                "{why}"
            )
        }
        other => panic!("want Corrupt, got {other:?}"),
    }
    assert!(!segment.exists(), "reading never creates a segment");
    assert_small_run_reads_back(&store);
}

#[test]
fn a_truncated_segment_is_corruption() {
    let root = tempfile::tempdir().expect("temp dir");
    store_with_a_segment(root.path());
    let segment = root.path().join(format!("{FILE_NAME}-seg00000001"));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open segment");
    file.set_len(99_999).expect("truncate");
    drop(file);
    let store = SqliteStore::open(root.path()).expect("open");
    match store.run_containing("a", 3) {
        Err(tanso_store::StoreError::Corrupt(why)) => assert!(why.contains("ends before"), "{why}"),
        other => panic!("want Corrupt, got {other:?}"),
    }
    assert_small_run_reads_back(&store);
}

#[test]
fn a_version_1_file_is_migrated_and_then_takes_segments() {
    let root = tempfile::tempdir().expect("temp dir");
    let mut store = SqliteStore::open(root.path()).expect("open");
    let epoch = store.acquire_writer().expect("acquire");
    let mut small = run_of("a", 1, 1);
    small.body = vec![1; 100];
    store.commit(&batch_of(epoch, vec![small])).expect("commit");
    drop(store);
    // What format 1 wrote: no segment columns, user_version 1.
    let conn = rusqlite::Connection::open(root.path().join(FILE_NAME)).expect("open");
    conn.execute_batch(
        "ALTER TABLE runs DROP COLUMN seg; ALTER TABLE runs DROP COLUMN seg_offset;
         ALTER TABLE runs DROP COLUMN seg_len; PRAGMA user_version = 1;",
    )
    .expect("make a version-1 file");
    drop(conn);
    let mut store = SqliteStore::open(root.path()).expect("open a version-1 file");
    assert_eq!(store.read_runs("a", 1).expect("read")[0].body, vec![1; 100]);
    let mut large = run_of("a", 2, 3);
    large.body = vec![2; 100_000];
    store.commit(&batch_of(epoch, vec![large])).expect("commit");
    let store = reopen(store, root.path());
    let runs = store.read_runs("a", 1).expect("read");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].body, vec![2; 100_000]);
    drop(store);
    let conn = rusqlite::Connection::open(root.path().join(FILE_NAME)).expect("open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, 2);
}

fn reopen(store: SqliteStore, dir: &Path) -> SqliteStore {
    drop(store);
    SqliteStore::open(dir).expect("reopen")
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any sequence of operations (seeded) gives the same answers and the same store on
    /// SQLite as on the in-memory model.
    #[test]
    fn sqlite_agrees_with_the_model(
        seed in proptest::prelude::any::<u64>(),
        segments in proptest::prelude::any::<bool>(),
    ) {
        let root = tempfile::tempdir().expect("temp dir");
        let options = if segments { all_in_segments() } else { OpenOptions::default() };
        let mut store = SqliteStore::open_with(root.path(), &options).expect("open");
        conformance::agrees_with_memory(&mut store, seed, 60);
    }
}
