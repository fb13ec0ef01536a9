//! Where the journal lives: the embedded store in `--data` (default), or PostgreSQL with
//! `--db postgres://…`. Every command opens its node through here, so every command takes
//! both. Side files (documents, `access.json`, the history index) stay in `--data` either way.

use std::path::{Path, PathBuf};

use tanso_store::{
    ChainHead, CheckpointRecord, CommitBatch, Digest, PersonalRecord, RejectionRecord, Store,
    StoreResult, StoredRun,
};
use tanso_store_postgres::{PgOptions, PgStore};
use tanso_store_sqlite::SqliteStore;

/// The store a command opens.
#[derive(Clone, Debug)]
pub enum Location {
    /// The embedded store in a directory.
    Dir(PathBuf),
    /// A PostgreSQL server: connection URL (as the service role) and options.
    Postgres { url: String, options: PgOptions },
}

impl Location {
    pub fn dir(path: &Path) -> Location {
        Location::Dir(path.to_path_buf())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres { .. })
    }

    /// How logs and errors name it (never with a password).
    pub fn describe(&self) -> String {
        match self {
            Location::Dir(p) => p.display().to_string(),
            Location::Postgres { url, options } => {
                let host = url.rsplit_once('@').map_or(url.as_str(), |(_, h)| h);
                format!("postgresql {host} schema {}", options.schema)
            }
        }
    }

    pub fn open(&self) -> StoreResult<AnyStore> {
        match self {
            Location::Dir(p) => SqliteStore::open(p).map(AnyStore::Sqlite),
            Location::Postgres { url, options } => {
                PgStore::open_with(url, options).map(|s| AnyStore::Postgres(Box::new(s)))
            }
        }
    }
}

/// Either backend, behind the one `Store` contract.
#[derive(Debug)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(Box<PgStore>),
}

impl AnyStore {
    pub fn as_postgres(&self) -> Option<&PgStore> {
        match self {
            AnyStore::Postgres(p) => Some(p),
            AnyStore::Sqlite(_) => None,
        }
    }
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
        }
    };
}

impl Store for AnyStore {
    fn acquire_writer(&mut self) -> StoreResult<u64> {
        both!(self, s => s.acquire_writer())
    }
    fn writer_epoch(&self) -> StoreResult<u64> {
        both!(self, s => s.writer_epoch())
    }
    fn commit(&mut self, batch: &CommitBatch) -> StoreResult<()> {
        both!(self, s => s.commit(batch))
    }
    fn heads(&self) -> StoreResult<Vec<ChainHead>> {
        both!(self, s => s.heads())
    }
    fn read_runs(&self, chain: &str, from_seq: u64) -> StoreResult<Vec<StoredRun>> {
        both!(self, s => s.read_runs(chain, from_seq))
    }
    fn run_containing(&self, chain: &str, seq: u64) -> StoreResult<Option<StoredRun>> {
        both!(self, s => s.run_containing(chain, seq))
    }
    fn rejection(&self, command_id: &str) -> StoreResult<Option<RejectionRecord>> {
        both!(self, s => s.rejection(command_id))
    }
    fn scan_rejections(&self, visit: &mut dyn FnMut(RejectionRecord)) -> StoreResult<()> {
        both!(self, s => s.scan_rejections(visit))
    }
    fn personal(&self, reference: &Digest) -> StoreResult<Option<PersonalRecord>> {
        both!(self, s => s.personal(reference))
    }
    fn erase_personal(&mut self, reference: &Digest) -> StoreResult<bool> {
        both!(self, s => s.erase_personal(reference))
    }
    fn checkpoints(&self, chain: &str) -> StoreResult<Vec<CheckpointRecord>> {
        both!(self, s => s.checkpoints(chain))
    }
    fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        both!(self, s => s.meta_get(key))
    }
    fn meta_set(&mut self, key: &str, value: &[u8]) -> StoreResult<()> {
        both!(self, s => s.meta_set(key, value))
    }
    fn sync_mode(&self) -> String {
        both!(self, s => s.sync_mode())
    }
    fn syncs(&self) -> u64 {
        both!(self, s => s.syncs())
    }
}
