//! `SqliteStore` against the conformance suite: on a real temporary directory, and over the
//! crash-simulating VFS where every reopen is a crash and a power loss (the store gets no clean
//! close, so whatever the suite reads back after reopen is what the syncs made durable).

use std::path::{Path, PathBuf};

use tanso_store::conformance::{self, batch_of, head, run_of, Harness};
use tanso_store::Store;
use tanso_store_sqlite::crashsim::CrashSim;
use tanso_store_sqlite::{SqliteStore, FILE_NAME};

struct TempDirHarness {
    root: tempfile::TempDir,
    next: u32,
}

impl TempDirHarness {
    fn new() -> TempDirHarness {
        TempDirHarness {
            root: tempfile::tempdir().expect("create temp dir"),
            next: 0,
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
        SqliteStore::open(&dir).expect("open fresh store")
    }

    fn reopen(&mut self, s: SqliteStore) -> SqliteStore {
        let dir = s.dir().to_path_buf();
        drop(s);
        SqliteStore::open(&dir).expect("reopen store")
    }
}

struct CrashSimHarness {
    /// One machine per fresh store, kept alive for the test.
    machines: Vec<(PathBuf, CrashSim)>,
}

impl Harness for CrashSimHarness {
    type S = SqliteStore;

    fn fresh(&mut self) -> SqliteStore {
        let sim = CrashSim::new().expect("register crashsim vfs");
        let dir = PathBuf::from(format!("/sim/store-{}", self.machines.len()));
        let store = SqliteStore::open_with_vfs(&dir, sim.vfs_name()).expect("open fresh store");
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
        SqliteStore::open_with_vfs(&dir, sim.vfs_name()).expect("reopen store after power loss")
    }
}

#[test]
fn sqlite_on_temp_dir_passes_conformance() {
    conformance::run_all(&mut TempDirHarness::new());
}

#[test]
fn sqlite_on_crashsim_with_crash_at_every_reopen_passes_conformance() {
    conformance::run_all(&mut CrashSimHarness {
        machines: Vec::new(),
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
        "sqlite wal synchronous=FULL locking=EXCLUSIVE"
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
    assert_eq!(runs[0].body.len(), 400_000);
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
    fn sqlite_agrees_with_the_model(seed in proptest::prelude::any::<u64>()) {
        let root = tempfile::tempdir().expect("temp dir");
        let mut store = SqliteStore::open(root.path()).expect("open");
        conformance::agrees_with_memory(&mut store, seed, 60);
    }
}
