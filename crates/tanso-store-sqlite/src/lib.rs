//! The embedded store: one directory holding one SQLite database, `journal.sqlite`, in WAL mode,
//! and the segment files that hold large run bodies (`journal.sqlite-seg00000001`, …; see
//! `segments`), durable when `commit` returns.
//!
//! It owns the SQL schema and the mapping of the `tanso_store::Store` contract onto it; it must
//! not interpret entry bodies, and it must not be opened by two processes (the exclusive lock
//! refuses the second, on purpose: one writer).
//!
//! Schema (format version 2, in `PRAGMA user_version`, application id `TNSO`; opening a
//! version-1 file adds the `runs` segment columns and stamps it 2):
//! - `meta(key TEXT PRIMARY KEY, value BLOB NOT NULL)`: node metadata;
//! - `writer(id INTEGER PRIMARY KEY CHECK (id = 0), epoch INTEGER NOT NULL)`: the one writer
//!   epoch, kept out of `meta` so that no metadata key can move the fence;
//! - `heads(chain TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash BLOB NOT NULL)`;
//! - `runs(chain TEXT, first_seq INTEGER, last_seq INTEGER, body BLOB, seg INTEGER,
//!   seg_offset INTEGER, seg_len INTEGER, PRIMARY KEY (chain, first_seq))`, an ordinary rowid
//!   table: bodies may be large, and SQLite's WITHOUT ROWID tables do best with rows under a
//!   twentieth of a page; measured with the `commit_latency` example, WITHOUT ROWID made
//!   8,000-entry batches two to three times slower. A body of at least
//!   `OpenOptions::segment_min_body` bytes (64 KiB: a batch's run, never a single command's)
//!   is in segment `seg` at `seg_offset`, `seg_len` bytes long, and the row's `body` is empty;
//!   otherwise the three are NULL. Rows are only ever inserted;
//! - `rejections(command_id TEXT PRIMARY KEY, content_hash BLOB NOT NULL, body BLOB NOT NULL)`;
//! - `personal(reference BLOB PRIMARY KEY, salt BLOB NOT NULL, text TEXT NOT NULL)`;
//! - `checkpoints(chain TEXT, seq INTEGER, body BLOB NOT NULL, PRIMARY KEY (chain, seq))`.
//!
//! Durability. On open, in this order: `locking_mode=EXCLUSIVE` (before WAL, so SQLite keeps
//! the WAL index in heap memory and never uses the shared-memory VFS methods; there is no
//! `-shm` file), `page_size=4096` (new files only), `journal_mode=WAL`, `synchronous=FULL`
//! (the WAL is synced at every commit, so a commit is durable when COMMIT returns),
//! `wal_autocheckpoint` (default 1,000 pages of 4 KiB, so 4 MiB), `journal_size_limit`
//! 64 MiB, `secure_delete=ON` (erased personal text is overwritten, not left in free pages) and
//! `temp_store=MEMORY`. SQLite syncs the directory when it creates the WAL, and this module
//! syncs the parent directory when it creates the store's directory. The bundled SQLite is
//! built with `HAVE_FDATASYNC` (set in `.cargo/config.toml`), so a commit is one
//! `fdatasync(2)` of `journal.sqlite-wal` (checked with strace); without it SQLite's unix VFS
//! falls back to `fsync`, which also flushes the inode's timestamps. A commit with large
//! bodies first writes them to the last segment and syncs it (one more `fdatasync(2)`), then
//! commits the rows that point at them: no row is ever durable before its body. The synced
//! pages of a segment are then dropped from the page cache (see `segments`).
//!
//! Any SQLite error inside a write transaction (an fsync failure at COMMIT above all) is
//! `StoreError::Io`, and the store then refuses every later write: after a failed fsync nobody
//! can say what reached the disk, so the writer must stop and the store be reopened.

#[cfg(feature = "crashsim")]
pub mod crashsim;
pub mod history;
mod segments;

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use segments::{Place, Segments};
use tanso_store::sql::{from_sql_seq, to_digest, to_sql_seq};
use tanso_store::{
    ChainHead, CheckpointRecord, CommitBatch, Digest, EntryRun, PersonalRecord, RejectionRecord,
    Store, StoreError, StoreResult, StoredRun, SEQ_MAX,
};

/// The database file inside the store's directory.
pub const FILE_NAME: &str = "journal.sqlite";

/// The format this build writes and reads (`PRAGMA user_version`). Version 1 had no
/// segment columns in `runs`; opening a version-1 file adds them (see `migrate`).
const FORMAT_VERSION: i64 = 2;
/// Bytes per database page, for new files (an existing file keeps its own). 4 KiB, the
/// disk's block: a one-entry commit then writes a few 4 KiB WAL frames instead of 16 KiB ones.
/// Measured with `tanso bench transfers` (docs/BENCHMARKS.md), the same build with 16 KiB and
/// 4 KiB pages, alternating, on the same disk: one client 2,130 → 2,770 transfers/s (median
/// ack 0.42 → 0.31 ms), 16 clients about 10% more, batches of 8,000 unchanged (the entry
/// bodies are overflow pages either way).
const PAGE_SIZE: u32 = 4_096;
/// `PRAGMA application_id`: "TNSO".
const APPLICATION_ID: i64 = 0x544e_534f;

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE writer (id INTEGER PRIMARY KEY CHECK (id = 0), epoch INTEGER NOT NULL);
INSERT INTO writer (id, epoch) VALUES (0, 0);
CREATE TABLE heads (chain TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash BLOB NOT NULL);
CREATE TABLE runs (
    chain TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    seg INTEGER,
    seg_offset INTEGER,
    seg_len INTEGER,
    PRIMARY KEY (chain, first_seq)
);
CREATE TABLE rejections (command_id TEXT PRIMARY KEY, content_hash BLOB NOT NULL, body BLOB NOT NULL);
CREATE TABLE personal (reference BLOB PRIMARY KEY, salt BLOB NOT NULL, text TEXT NOT NULL);
CREATE TABLE checkpoints (
    chain TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (chain, seq)
);
";

const SQL_EPOCH: &str = "SELECT epoch FROM writer WHERE id = 0";
const SQL_SET_EPOCH: &str = "UPDATE writer SET epoch = ?1 WHERE id = 0";
const SQL_HEAD: &str = "SELECT seq, hash FROM heads WHERE chain = ?1";
const SQL_HEADS: &str = "SELECT chain, seq, hash FROM heads ORDER BY chain";
const SQL_SET_HEAD: &str = "INSERT INTO heads (chain, seq, hash) VALUES (?1, ?2, ?3)
     ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";
const SQL_INSERT_RUN: &str =
    "INSERT INTO runs (chain, first_seq, last_seq, body, seg, seg_offset, seg_len)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// The last segment and where its committed bytes end.
const SQL_SEGMENT_TAIL: &str = "SELECT seg, max(seg_offset + seg_len) FROM runs
     WHERE seg = (SELECT max(seg) FROM runs)";
/// Version 1 → 2: the segment columns.
const SQL_MIGRATE_1_TO_2: &str = "ALTER TABLE runs ADD COLUMN seg INTEGER;
     ALTER TABLE runs ADD COLUMN seg_offset INTEGER;
     ALTER TABLE runs ADD COLUMN seg_len INTEGER;
     PRAGMA user_version = 2;";
/// The run holding `?2` and every later run: runs of a chain are contiguous, so that is the
/// last run starting at or before `?2`, and all after it.
const SQL_READ_RUNS: &str = "SELECT first_seq, last_seq, body, seg, seg_offset, seg_len FROM runs
     WHERE chain = ?1 AND last_seq >= ?2 AND first_seq >= coalesce(
         (SELECT max(first_seq) FROM runs WHERE chain = ?1 AND first_seq <= ?2), 0)
     ORDER BY first_seq";
const SQL_RUN_AT: &str = "SELECT first_seq, last_seq, body, seg, seg_offset, seg_len FROM runs
     WHERE chain = ?1 AND first_seq <= ?2 ORDER BY first_seq DESC LIMIT 1";
const SQL_INSERT_REJECTION: &str =
    "INSERT INTO rejections (command_id, content_hash, body) VALUES (?1, ?2, ?3)
     ON CONFLICT (command_id) DO NOTHING";
const SQL_REJECTION: &str = "SELECT content_hash, body FROM rejections WHERE command_id = ?1";
const SQL_REJECTIONS: &str = "SELECT command_id, content_hash, body FROM rejections";
const SQL_PUT_PERSONAL: &str =
    "INSERT OR REPLACE INTO personal (reference, salt, text) VALUES (?1, ?2, ?3)";
const SQL_PERSONAL: &str = "SELECT salt, text FROM personal WHERE reference = ?1";
const SQL_ERASE_PERSONAL: &str = "DELETE FROM personal WHERE reference = ?1";
const SQL_PUT_CHECKPOINT: &str =
    "INSERT OR REPLACE INTO checkpoints (chain, seq, body) VALUES (?1, ?2, ?3)";
const SQL_CHECKPOINTS: &str = "SELECT seq, body FROM checkpoints WHERE chain = ?1 ORDER BY seq";
const SQL_META: &str = "SELECT value FROM meta WHERE key = ?1";
const SQL_SET_META: &str = "INSERT INTO meta (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// How to open a store. `Default` is what production uses.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// A registered SQLite VFS to open through (tests use the crash simulator); `None` is the
    /// platform's default VFS.
    pub vfs: Option<String>,
    /// WAL pages after which a commit also checkpoints the WAL into the database.
    pub wal_autocheckpoint_pages: u32,
    /// Run bodies of at least this many bytes go to a segment file instead of their row
    /// (see `segments`): a batch's runs, not a single command's entry.
    pub segment_min_body: usize,
    /// A segment file takes no new run once it holds this many bytes.
    pub segment_max_bytes: u64,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions {
            vfs: None,
            wal_autocheckpoint_pages: 1_000,
            segment_min_body: 64 * 1024,
            segment_max_bytes: 1 << 30,
        }
    }
}

/// The SQLite backend. One value per process and directory.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    dir: PathBuf,
    vfs: Option<String>,
    /// Why the store refuses writes, after an i/o failure in a write transaction.
    poisoned: Option<String>,
    syncs: u64,
    /// Boxed, so the store stays small where it is moved by value (the commit thread, the
    /// CLI's store enum).
    segments: Box<Segments>,
}

impl SqliteStore {
    /// Opens (creating if missing) the store in `dir`, creating the directory if needed.
    pub fn open(dir: &Path) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(dir, &OpenOptions::default())
    }

    /// Opens the store through the named SQLite VFS. The VFS owns the namespace: nothing is
    /// created on the real file system.
    pub fn open_with_vfs(dir: &Path, vfs_name: &str) -> StoreResult<SqliteStore> {
        let options = OpenOptions {
            vfs: Some(vfs_name.to_string()),
            ..OpenOptions::default()
        };
        SqliteStore::open_with(dir, &options)
    }

    /// Opens the store with explicit options: the VFS (see `open_with_vfs`) and the WAL size
    /// that triggers a checkpoint (tests make it small to exercise checkpoints).
    pub fn open_with(dir: &Path, options: &OpenOptions) -> StoreResult<SqliteStore> {
        let path = dir.join(FILE_NAME);
        let conn = match &options.vfs {
            Some(vfs) => Connection::open_with_flags_and_vfs(&path, OpenFlags::default(), vfs),
            None => {
                create_dir_durably(dir)?;
                Connection::open_with_flags(&path, OpenFlags::default())
            }
        }
        .map_err(sql_error("open journal"))?;
        // One writer: a second opener fails at once rather than waiting for the lock.
        conn.busy_timeout(std::time::Duration::ZERO)
            .map_err(sql_error("set busy timeout"))?;
        configure(&conn, options)?;
        let segments = Box::new(Segments::new(
            options.vfs.as_deref(),
            dir,
            options.segment_min_body,
            options.segment_max_bytes,
        ));
        let mut store = SqliteStore {
            conn,
            dir: dir.to_path_buf(),
            vfs: options.vfs.clone(),
            poisoned: None,
            syncs: 0,
            segments,
        };
        store.initialize()?;
        let tail = store
            .conn
            .query_row(SQL_SEGMENT_TAIL, [], |row| {
                Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, Option<i64>>(1)?))
            })
            .map_err(sql_error("read segment tail"))?;
        if let (Some(seg), Some(end)) = tail {
            let seg = u32::try_from(seg)
                .map_err(|_| StoreError::Corrupt(format!("segment number {seg}")))?;
            let end = u64::try_from(end)
                .map_err(|_| StoreError::Corrupt(format!("segment end {end}")))?;
            store.segments.committed((seg, end));
        }
        Ok(store)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether an earlier i/o failure made the store refuse writes.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// Closes the connection, reporting what dropping it would ignore (a failed final
    /// checkpoint of the WAL, for one).
    pub fn close(self) -> StoreResult<()> {
        self.conn
            .close()
            .map_err(|(_, e)| sql_error("close journal")(e))
    }

    /// Checks the file's identity and format, and creates the schema in a new file.
    fn initialize(&mut self) -> StoreResult<()> {
        if !is_new(&self.conn)? {
            return self.migrate();
        }
        self.write(|tx| {
            // Checked again inside the transaction that creates the schema.
            if !is_new(tx)? {
                return Ok(());
            }
            tx.execute_batch(SCHEMA)
                .map_err(sql_error("create schema"))?;
            tx.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {FORMAT_VERSION};"
            ))
            .map_err(sql_error("stamp format version"))?;
            Ok(())
        })
    }

    /// A `runs` row as a stored run, its body read from its segment if it is in one.
    fn to_stored_run(&self, chain: &str, row: RunRow) -> StoreResult<StoredRun> {
        let (first, last, body, seg, offset, len) = row;
        let body = match (seg, offset, len) {
            (None, None, None) => body,
            (Some(seg), Some(offset), Some(len)) if body.is_empty() => {
                let bad = || StoreError::Corrupt(format!("run {chain}@{first}: segment place"));
                self.segments.read(Place {
                    seg: u32::try_from(seg).map_err(|_| bad())?,
                    offset: u64::try_from(offset).map_err(|_| bad())?,
                    len: u64::try_from(len).map_err(|_| bad())?,
                })?
            }
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "run {chain}@{first}: a body both in its row and in a segment, or half a segment place"
                )))
            }
        };
        tanso_store::sql::to_stored_run(chain, first, last, body)
    }

    /// Brings a version-1 file to this build's format, in one transaction.
    fn migrate(&mut self) -> StoreResult<()> {
        let version = |conn: &Connection| -> StoreResult<i64> {
            conn.query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(sql_error("read format version"))
        };
        if version(&self.conn)? == FORMAT_VERSION {
            return Ok(());
        }
        self.write(|tx| {
            if version(tx)? == 1 {
                tx.execute_batch(SQL_MIGRATE_1_TO_2)
                    .map_err(sql_error("migrate format 1 to 2"))?;
            }
            Ok(())
        })
    }

    fn check_writable(&self) -> StoreResult<()> {
        match &self.poisoned {
            None => Ok(()),
            Some(why) => Err(StoreError::Io(format!(
                "store refuses writes after an earlier i/o failure ({why}); reopen it"
            ))),
        }
    }

    /// Runs `f` in one `BEGIN IMMEDIATE … COMMIT` transaction. A refusal from `f` rolls back;
    /// an i/o or corruption error anywhere poisons the store. Counts a sync per commit.
    fn write<T>(&mut self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.check_writable()?;
        let result = transaction(&mut self.conn, f);
        match &result {
            Ok(_) => self.syncs += 1,
            Err(e @ (StoreError::Io(_) | StoreError::Corrupt(_))) => {
                self.poisoned = Some(e.to_string());
            }
            Err(_) => {}
        }
        result
    }
}

/// Whether the file is empty (no schema yet); an error if it is not a journal this build reads.
fn is_new(conn: &Connection) -> StoreResult<bool> {
    let application_id: i64 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(sql_error("read application id"))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql_error("read format version"))?;
    match (application_id, version) {
        (APPLICATION_ID, 1 | FORMAT_VERSION) => Ok(false),
        (0, 0) => {
            let objects: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
                .map_err(sql_error("read schema"))?;
            if objects == 0 {
                Ok(true)
            } else {
                Err(StoreError::Corrupt(
                    "not a tanso journal (tables but no application id)".to_string(),
                ))
            }
        }
        (APPLICATION_ID, _) => Err(StoreError::Corrupt(format!(
            "journal format version {version}, this build reads {FORMAT_VERSION}"
        ))),
        _ => Err(StoreError::Corrupt(format!(
            "not a tanso journal (application id {application_id:#x})"
        ))),
    }
}

fn transaction<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error("begin transaction"))?;
    match f(&tx) {
        Ok(value) => {
            tx.commit().map_err(sql_error("commit"))?;
            Ok(value)
        }
        Err(e) => {
            tx.rollback().map_err(sql_error("roll back"))?;
            Err(e)
        }
    }
}

/// Creates `dir` if missing, and syncs its parent so the new directory entry is durable.
fn create_dir_durably(dir: &Path) -> StoreResult<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)
        .map_err(|e| StoreError::Io(format!("create {}: {e}", dir.display())))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::Io(format!("sync {}: {e}", parent.display())))?;
    }
    Ok(())
}

/// Applies the connection settings, in the order the module doc gives, and checks them.
fn configure(conn: &Connection, options: &OpenOptions) -> StoreResult<()> {
    let text_pragma = |sql: &str| -> StoreResult<String> {
        conn.query_row(sql, [], |row| row.get(0))
            .map_err(sql_error(sql))
    };
    let locking = text_pragma("PRAGMA locking_mode = EXCLUSIVE")?;
    if !locking.eq_ignore_ascii_case("exclusive") {
        return Err(StoreError::Io(format!(
            "locking mode is {locking}, want exclusive"
        )));
    }
    // Takes effect only while the file is new (the page size of a WAL database is fixed).
    conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE}"))
        .map_err(sql_error("set page size"))?;
    let journal = text_pragma("PRAGMA journal_mode = WAL")?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Io(format!(
            "journal mode is {journal}, want wal"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;")
        .map_err(sql_error("set synchronous and temp_store"))?;
    let synchronous: i64 = conn
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .map_err(sql_error("read synchronous"))?;
    if synchronous != 2 {
        return Err(StoreError::Io(format!(
            "synchronous is {synchronous}, want 2 (FULL)"
        )));
    }
    let int_pragma = |sql: &str| -> StoreResult<i64> {
        conn.query_row(sql, [], |row| row.get(0))
            .map_err(sql_error(sql))
    };
    int_pragma(&format!(
        "PRAGMA wal_autocheckpoint = {}",
        options.wal_autocheckpoint_pages
    ))?;
    int_pragma("PRAGMA journal_size_limit = 67108864")?;
    int_pragma("PRAGMA secure_delete = ON")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Maps a SQLite error to the store's: corruption is `Corrupt`, rows that do not decode are
/// `Corrupt`, everything else is `Io`.
fn sql_error(what: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            StoreError::Corrupt(format!("{what}: {e}"))
        }
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => {
            StoreError::Corrupt(format!("{what}: {e}"))
        }
        _ => StoreError::Io(format!("{what}: {e}")),
    }
}

fn read_epoch(conn: &Connection) -> StoreResult<u64> {
    let epoch: i64 = conn
        .prepare_cached(SQL_EPOCH)
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(sql_error("read writer epoch"))?;
    from_sql_seq(epoch)
}

fn stored_head(conn: &Connection, chain: &str) -> StoreResult<(u64, Digest)> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(SQL_HEAD)
        .and_then(|mut stmt| {
            stmt.query_row([chain], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(sql_error("read head"))?;
    match row {
        None => Ok((0, [0; 32])),
        Some((seq, hash)) => Ok((from_sql_seq(seq)?, to_digest(&hash, "head hash")?)),
    }
}

/// Checks that `run` continues the chain as stored so far in this transaction, then appends it
/// and moves the head. With a `place`, the body is in a segment and the row holds none.
fn append_run(conn: &Connection, run: &EntryRun, place: Option<Place>) -> StoreResult<()> {
    let (stored_seq, stored_hash) = stored_head(conn, &run.chain)?;
    if run.first_seq.checked_sub(1) != Some(stored_seq) || run.prev_hash != stored_hash {
        return Err(StoreError::ChainConflict {
            chain: run.chain.clone(),
            expected_seq: run.first_seq.saturating_sub(1),
            stored_seq,
        });
    }
    let (first, last) = (to_sql_seq(run.first_seq)?, to_sql_seq(run.last_seq)?);
    let (body, seg, offset, len): (&[u8], _, _, _) = match place {
        None => (&run.body, None, None, None),
        Some(p) => (
            &[],
            Some(i64::from(p.seg)),
            Some(to_sql_seq(p.offset)?),
            Some(to_sql_seq(p.len)?),
        ),
    };
    conn.prepare_cached(SQL_INSERT_RUN)
        .and_then(|mut stmt| stmt.execute(params![run.chain, first, last, body, seg, offset, len]))
        .map_err(|e| match e.sqlite_error_code() {
            // The head said the chain ends before `first_seq`, yet a run starts there.
            Some(ErrorCode::ConstraintViolation) => StoreError::Corrupt(format!(
                "run {}@{} already stored past head seq {stored_seq}",
                run.chain, run.first_seq
            )),
            _ => sql_error("insert run")(e),
        })?;
    conn.prepare_cached(SQL_SET_HEAD)
        .and_then(|mut stmt| stmt.execute(params![run.chain, last, run.head_hash]))
        .map_err(sql_error("update head"))?;
    Ok(())
}

/// A `runs` row: first and last seq, the body held in the row, and where the body is in
/// the segments, if it is.
type RunRow = (i64, i64, Vec<u8>, Option<i64>, Option<i64>, Option<i64>);

fn read_run_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

impl Store for SqliteStore {
    fn acquire_writer(&mut self) -> StoreResult<u64> {
        self.write(|tx| {
            let epoch = read_epoch(tx)?
                .checked_add(1)
                .ok_or_else(|| StoreError::Corrupt("writer epoch is at its maximum".to_string()))?;
            let value = to_sql_seq(epoch)
                .map_err(|_| StoreError::Corrupt("writer epoch is at its maximum".to_string()))?;
            tx.prepare_cached(SQL_SET_EPOCH)
                .and_then(|mut stmt| stmt.execute([value]))
                .map_err(sql_error("update writer epoch"))?;
            Ok(epoch)
        })
    }

    fn writer_epoch(&self) -> StoreResult<u64> {
        read_epoch(&self.conn)
    }

    fn commit(&mut self, batch: &CommitBatch) -> StoreResult<()> {
        batch.validate()?;
        self.check_writable()?;
        // Large bodies first, into a segment, synced before any row points at them.
        let (places, tail) = match self.segments.append(batch.runs.iter().map(|r| &r.body[..])) {
            Ok(appended) => appended,
            Err(e) => {
                self.poisoned = Some(e.to_string());
                return Err(e);
            }
        };
        if tail.is_some() {
            self.syncs += 1;
        }
        if batch.is_empty() {
            // Nothing to write, but a fenced writer still learns it is fenced.
            let current = read_epoch(&self.conn)?;
            if batch.epoch != current {
                return Err(StoreError::Fenced {
                    ours: batch.epoch,
                    current,
                });
            }
            return Ok(());
        }
        self.write(|tx| {
            let current = read_epoch(tx)?;
            if batch.epoch != current {
                return Err(StoreError::Fenced {
                    ours: batch.epoch,
                    current,
                });
            }
            for (run, &place) in batch.runs.iter().zip(&places) {
                append_run(tx, run, place)?;
            }
            if !batch.rejections.is_empty() {
                let mut insert = tx
                    .prepare_cached(SQL_INSERT_REJECTION)
                    .map_err(sql_error("prepare rejection insert"))?;
                for r in &batch.rejections {
                    let inserted = insert
                        .execute(params![r.command_id, r.content_hash, r.body])
                        .map_err(sql_error("insert rejection"))?;
                    if inserted == 0 {
                        return Err(StoreError::DuplicateRejection(r.command_id.clone()));
                    }
                }
            }
            if !batch.personal.is_empty() {
                let mut put = tx
                    .prepare_cached(SQL_PUT_PERSONAL)
                    .map_err(sql_error("prepare personal insert"))?;
                for p in &batch.personal {
                    put.execute(params![p.reference, p.salt, p.text])
                        .map_err(sql_error("insert personal record"))?;
                }
            }
            if !batch.checkpoints.is_empty() {
                let mut put = tx
                    .prepare_cached(SQL_PUT_CHECKPOINT)
                    .map_err(sql_error("prepare checkpoint insert"))?;
                for c in &batch.checkpoints {
                    put.execute(params![c.chain, to_sql_seq(c.seq)?, c.body])
                        .map_err(sql_error("insert checkpoint"))?;
                }
            }
            Ok(())
        })?;
        if let Some(tail) = tail {
            self.segments.committed(tail);
        }
        Ok(())
    }

    fn heads(&self) -> StoreResult<Vec<ChainHead>> {
        let mut stmt = self
            .conn
            .prepare_cached(SQL_HEADS)
            .map_err(sql_error("prepare heads"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(sql_error("read heads"))?;
        let mut heads = Vec::new();
        for row in rows {
            let (chain, seq, hash) = row.map_err(sql_error("read head"))?;
            let hash = to_digest(&hash, "head hash")?;
            heads.push(ChainHead {
                chain,
                seq: from_sql_seq(seq)?,
                hash,
            });
        }
        Ok(heads)
    }

    fn read_runs(&self, chain: &str, from_seq: u64) -> StoreResult<Vec<StoredRun>> {
        if from_seq > SEQ_MAX {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(SQL_READ_RUNS)
            .map_err(sql_error("prepare read runs"))?;
        let rows = stmt
            .query_map(params![chain, to_sql_seq(from_seq)?], read_run_row)
            .map_err(sql_error("read runs"))?;
        let mut runs: Vec<StoredRun> = Vec::new();
        for row in rows {
            // Continuity is checked by the reader of the chain (tanso-engine's `load_chain`),
            // which names the first missing entry; the store returns what it holds.
            runs.push(self.to_stored_run(chain, row.map_err(sql_error("read run"))?)?);
        }
        Ok(runs)
    }

    fn run_containing(&self, chain: &str, seq: u64) -> StoreResult<Option<StoredRun>> {
        if seq > SEQ_MAX {
            return Ok(None);
        }
        let seq_value = to_sql_seq(seq)?;
        let row = self
            .conn
            .prepare_cached(SQL_RUN_AT)
            .and_then(|mut stmt| {
                stmt.query_row(params![chain, seq_value], read_run_row)
                    .optional()
            })
            .map_err(sql_error("read run"))?;
        match row {
            None => Ok(None),
            Some(row) => {
                let run = self.to_stored_run(chain, row)?;
                Ok((run.last_seq >= seq).then_some(run))
            }
        }
    }

    fn rejection(&self, command_id: &str) -> StoreResult<Option<RejectionRecord>> {
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .conn
            .prepare_cached(SQL_REJECTION)
            .and_then(|mut stmt| {
                stmt.query_row([command_id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(sql_error("read rejection"))?;
        row.map(|(hash, body)| {
            Ok(RejectionRecord {
                command_id: command_id.to_string(),
                content_hash: to_digest(&hash, "rejection content hash")?,
                body,
            })
        })
        .transpose()
    }

    fn scan_rejections(&self, visit: &mut dyn FnMut(RejectionRecord)) -> StoreResult<()> {
        let mut stmt = self
            .conn
            .prepare_cached(SQL_REJECTIONS)
            .map_err(sql_error("prepare rejection scan"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(sql_error("scan rejections"))?;
        for row in rows {
            let (command_id, hash, body) = row.map_err(sql_error("scan rejection"))?;
            visit(RejectionRecord {
                command_id,
                content_hash: to_digest(&hash, "rejection content hash")?,
                body,
            });
        }
        Ok(())
    }

    fn personal(&self, reference: &Digest) -> StoreResult<Option<PersonalRecord>> {
        let row: Option<(Vec<u8>, String)> = self
            .conn
            .prepare_cached(SQL_PERSONAL)
            .and_then(|mut stmt| {
                stmt.query_row([reference], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(sql_error("read personal record"))?;
        row.map(|(salt, text)| {
            Ok(PersonalRecord {
                reference: *reference,
                salt: to_digest(&salt, "personal salt")?,
                text,
            })
        })
        .transpose()
    }

    fn erase_personal(&mut self, reference: &Digest) -> StoreResult<bool> {
        self.check_writable()?;
        if self.personal(reference)?.is_none() {
            return Ok(false);
        }
        let erased = self.write(|tx| {
            tx.prepare_cached(SQL_ERASE_PERSONAL)
                .and_then(|mut stmt| stmt.execute([reference]))
                .map_err(sql_error("erase personal record"))
        })?;
        // secure_delete zeroed the row in the new page image; checkpointing and truncating
        // the WAL also drops the older page images that still hold the text. Best effort: the
        // erasure itself is already durable.
        let checkpoint = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            })
            .map_err(sql_error("checkpoint after erase"));
        if let Err(e) = checkpoint {
            self.poisoned = Some(e.to_string());
            return Err(e);
        }
        Ok(erased > 0)
    }

    fn checkpoints(&self, chain: &str) -> StoreResult<Vec<CheckpointRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(SQL_CHECKPOINTS)
            .map_err(sql_error("prepare checkpoints"))?;
        let rows = stmt
            .query_map([chain], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .map_err(sql_error("read checkpoints"))?;
        let mut checkpoints = Vec::new();
        for row in rows {
            let (seq, body) = row.map_err(sql_error("read checkpoint"))?;
            checkpoints.push(CheckpointRecord {
                chain: chain.to_string(),
                seq: from_sql_seq(seq)?,
                body,
            });
        }
        Ok(checkpoints)
    }

    fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.conn
            .prepare_cached(SQL_META)
            .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
            .map_err(sql_error("read meta"))
    }

    fn meta_set(&mut self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.write(|tx| {
            tx.prepare_cached(SQL_SET_META)
                .and_then(|mut stmt| stmt.execute(params![key, value]))
                .map_err(sql_error("write meta"))?;
            Ok(())
        })
    }

    fn sync_mode(&self) -> String {
        let mode = format!(
            "sqlite wal synchronous=FULL locking=EXCLUSIVE segments_from={}B",
            self.segments.min_body()
        );
        match &self.vfs {
            None => mode,
            Some(vfs) => format!("{mode} vfs={vfs}"),
        }
    }

    fn syncs(&self) -> u64 {
        self.syncs
    }
}
