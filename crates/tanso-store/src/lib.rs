//! The storage contract every Tanso backend implements (embedded SQLite, PostgreSQL), and the
//! conformance suite that proves a backend keeps it.
//!
//! This crate knows bytes, not the domain: a journal is a set of chains, each an append-only run
//! of entries whose encoding and hashing belong to `tanso-core`. A backend stores what it is
//! given, atomically and durably, and refuses any append that does not continue the chain it
//! holds (expected sequence, previous hash, writer epoch). It must not interpret entry bodies.
//!
//! The durability boundary: when `commit` returns `Ok`, everything in the batch is on stable
//! storage; when it returns `Err(StoreError::Io)`, the writer must stop (an fsync error is
//! fatal), because the backend can no longer say what is durable.

pub mod conformance;
pub mod memory;
pub mod sql;

use std::fmt;

/// SHA-256 digest bytes.
pub type Digest = [u8; 32];

/// The head of one chain as the store holds it. `seq` 0 with an all-zero hash means empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub chain: String,
    pub seq: u64,
    pub hash: Digest,
}

/// A run of consecutive entries of one chain, appended in one commit.
///
/// `body` is the concatenation of the entries' canonical encodings, opaque here. The append is
/// conditional: the chain's stored head must be exactly (`first_seq - 1`, `prev_hash`), or, for
/// a new chain, `first_seq == 1` and `prev_hash` all zero with no stored head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRun {
    pub chain: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub prev_hash: Digest,
    /// Hash of the entry at `last_seq`: the chain's new head.
    pub head_hash: Digest,
    pub body: Vec<u8>,
}

/// A permanent rejection, bound to its command id outside the chains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectionRecord {
    pub command_id: String,
    pub content_hash: Digest,
    /// Encoded outcome (codes and messages), opaque here.
    pub body: Vec<u8>,
}

/// Personal or free-text data kept outside the hashed chain, erasable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonalRecord {
    /// The salted hash that the chain carries.
    pub reference: Digest,
    pub salt: Digest,
    pub text: String,
}

/// A signed checkpoint of one chain, opaque here beyond its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRecord {
    pub chain: String,
    pub seq: u64,
    pub body: Vec<u8>,
}

/// Everything one group commit writes, atomically and durably.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitBatch {
    /// The writer epoch this batch was produced under; must equal the store's current epoch.
    pub epoch: u64,
    pub runs: Vec<EntryRun>,
    pub rejections: Vec<RejectionRecord>,
    pub personal: Vec<PersonalRecord>,
    pub checkpoints: Vec<CheckpointRecord>,
}

impl CommitBatch {
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
            && self.rejections.is_empty()
            && self.personal.is_empty()
            && self.checkpoints.is_empty()
    }

    /// The shape checks every backend applies before touching storage, so that all backends
    /// refuse the same batches with `InvalidBatch`: each run names a chain, starts at seq 1 or
    /// later, has `last_seq >= first_seq` and a non-empty body; rejections name a command;
    /// checkpoints name a chain; every seq fits in a signed 64-bit SQL integer.
    pub fn validate(&self) -> StoreResult<()> {
        let invalid = |detail: String| Err(StoreError::InvalidBatch(detail));
        for run in &self.runs {
            if run.chain.is_empty() {
                return invalid("run with an empty chain name".to_string());
            }
            if run.first_seq == 0 {
                return invalid(format!("run of {} starts at seq 0", run.chain));
            }
            if run.last_seq < run.first_seq {
                return invalid(format!(
                    "run of {} ends at seq {} before it starts at {}",
                    run.chain, run.last_seq, run.first_seq
                ));
            }
            if run.last_seq > SEQ_MAX {
                return invalid(format!("run of {} ends past seq {SEQ_MAX}", run.chain));
            }
            if run.body.is_empty() {
                return invalid(format!(
                    "run of {} seq {}..={} has an empty body",
                    run.chain, run.first_seq, run.last_seq
                ));
            }
        }
        for rejection in &self.rejections {
            if rejection.command_id.is_empty() {
                return invalid("rejection with an empty command id".to_string());
            }
        }
        for checkpoint in &self.checkpoints {
            if checkpoint.chain.is_empty() {
                return invalid("checkpoint with an empty chain name".to_string());
            }
            if checkpoint.seq > SEQ_MAX {
                return invalid(format!(
                    "checkpoint of {} past seq {SEQ_MAX}",
                    checkpoint.chain
                ));
            }
        }
        Ok(())
    }
}

/// The largest sequence number a store accepts: SQL backends keep seqs in signed 64-bit
/// integers.
pub const SEQ_MAX: u64 = i64::MAX.unsigned_abs();

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// Another writer took over (our epoch is stale): we must never append again.
    #[error("writer fenced: batch epoch {ours}, store epoch {current}")]
    Fenced { ours: u64, current: u64 },
    /// The append does not continue the stored chain.
    #[error(
        "chain {chain} conflict: expected head seq {expected_seq}, stored head seq {stored_seq}"
    )]
    ChainConflict {
        chain: String,
        expected_seq: u64,
        stored_seq: u64,
    },
    /// A rejection for this command id is already stored.
    #[error("command {0} already has a stored rejection")]
    DuplicateRejection(String),
    /// The batch is malformed (seq range, empty body, …).
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    /// Storage failed; nothing can be said about durability. Fatal for the writer.
    #[error("storage i/o: {0}")]
    Io(String),
    /// Stored bytes fail their own integrity check.
    #[error("storage corrupt: {0}")]
    Corrupt(String),
    /// Another live instance is the writer (a shared backend's leadership lock is taken):
    /// this one may read, and try again later.
    #[error("writer held elsewhere: {0}")]
    WriterHeld(String),
}

impl StoreError {
    /// Whether the writer may keep going after this error (conflicts are permanent answers for
    /// one batch; i/o errors end the writer).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            StoreError::Io(_) | StoreError::Corrupt(_) | StoreError::Fenced { .. }
        )
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A stored run, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRun {
    pub chain: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub body: Vec<u8>,
}

/// The storage contract. One `Store` value is used by one thread at a time.
pub trait Store: Send {
    /// Becomes the writer: increments and returns the stored writer epoch, durably. Any batch
    /// carrying an older epoch is refused with `Fenced` from then on.
    fn acquire_writer(&mut self) -> StoreResult<u64>;

    /// The current writer epoch (0 before any writer).
    fn writer_epoch(&self) -> StoreResult<u64>;

    /// Writes the batch atomically and durably, or nothing. Checks, in the same transaction:
    /// epoch, every run's continuity with the stored head, rejection ids not already present.
    fn commit(&mut self, batch: &CommitBatch) -> StoreResult<()>;

    /// Heads of every chain, sorted by chain name.
    fn heads(&self) -> StoreResult<Vec<ChainHead>>;

    /// Runs of `chain` whose `last_seq >= from_seq`, in sequence order.
    fn read_runs(&self, chain: &str, from_seq: u64) -> StoreResult<Vec<StoredRun>>;

    /// The one run of `chain` that contains `seq`, if any.
    fn run_containing(&self, chain: &str, seq: u64) -> StoreResult<Option<StoredRun>>;

    /// The stored rejection for a command id, if any.
    fn rejection(&self, command_id: &str) -> StoreResult<Option<RejectionRecord>>;

    /// Every stored rejection, in no particular order (used to rebuild in-memory indexes).
    fn scan_rejections(&self, visit: &mut dyn FnMut(RejectionRecord)) -> StoreResult<()>;

    fn personal(&self, reference: &Digest) -> StoreResult<Option<PersonalRecord>>;

    /// Erases the text and salt behind a reference; the chain keeps only the hash. Returns
    /// whether anything was erased. Durable on return.
    fn erase_personal(&mut self, reference: &Digest) -> StoreResult<bool>;

    /// Checkpoints of `chain`, ascending by seq.
    fn checkpoints(&self, chain: &str) -> StoreResult<Vec<CheckpointRecord>>;

    fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Sets a metadata value durably (node secret, format version).
    fn meta_set(&mut self, key: &str, value: &[u8]) -> StoreResult<()>;

    /// A short description of how commits are made durable, for benchmarks and `tanso info`
    /// (e.g. "sqlite wal synchronous=FULL").
    fn sync_mode(&self) -> String;

    /// Number of durable syncs (commit points) performed since open, where the backend can
    /// count them.
    fn syncs(&self) -> u64;
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.chain, self.seq)
    }
}
