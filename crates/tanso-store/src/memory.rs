//! `MemoryStore`: the in-memory backend for fast engine tests and the deterministic simulation.
//!
//! It owns one "durable image" shared by every handle cloned or reopened from it: what a
//! `commit` wrote is what a reopened handle sees, exactly as if it had reached disk, so a
//! simulation can "crash" a writer by dropping its handle and reopening. It keeps the same
//! semantics as the real backends (shape checks, fencing, chain continuity, duplicate
//! rejections, all-or-nothing batches) and passes the same conformance suite. It must not do
//! I/O, read the clock or use randomness: the same calls give the same results, always.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{
    ChainHead, CheckpointRecord, CommitBatch, Digest, PersonalRecord, RejectionRecord, Store,
    StoreError, StoreResult, StoredRun,
};

/// How the next write (commit, `acquire_writer`, `erase_personal`, `meta_set`) fails, when a
/// test arms [`MemoryStore::fail_next_write`]. Either way the caller gets `StoreError::Io` and
/// the handle refuses every later write, as a real backend does after an fsync error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedFailure {
    /// Nothing reaches the image (the sync failed before anything was stable).
    Lost,
    /// The write reaches the image anyway (the data landed but the sync reported failure).
    Persisted,
}

/// An in-memory `Store`. `Clone` gives another handle on the same image; [`MemoryStore::reopen`]
/// gives a fresh handle (not poisoned, sync count zero) on the same image, like reopening a
/// directory after a crash.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    image: Arc<Mutex<Image>>,
    /// Set after an injected i/o failure: this handle refuses every later write.
    poisoned: bool,
    syncs: u64,
}

#[derive(Debug, Default)]
struct Image {
    epoch: u64,
    heads: BTreeMap<String, (u64, Digest)>,
    /// chain -> first_seq -> run.
    runs: BTreeMap<String, BTreeMap<u64, StoredRun>>,
    rejections: BTreeMap<String, RejectionRecord>,
    personal: BTreeMap<Digest, PersonalRecord>,
    /// (chain, seq) -> checkpoint, so a chain's checkpoints iterate ascending.
    checkpoints: BTreeMap<(String, u64), CheckpointRecord>,
    meta: BTreeMap<String, Vec<u8>>,
    /// Armed by `fail_next_write`; taken by the next write.
    failure: Option<InjectedFailure>,
    /// Armed by `fail_next_read`; taken by the next read of a run or a rejection.
    read_failure: bool,
}

impl MemoryStore {
    /// An empty store with its own image.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A fresh handle on the same image: what a process sees when it reopens the store.
    pub fn reopen(&self) -> MemoryStore {
        MemoryStore {
            image: Arc::clone(&self.image),
            poisoned: false,
            syncs: 0,
        }
    }

    /// Arms a failure for the next write through any handle on this image.
    pub fn fail_next_write(&self, failure: InjectedFailure) {
        self.lock().failure = Some(failure);
    }

    /// Arms an i/o failure for the next read of a run or a rejection (`run_containing`,
    /// `read_runs`, `rejection`) through any handle on this image.
    pub fn fail_next_read(&self) {
        self.lock().read_failure = true;
    }

    /// The armed read failure, if any (taking it).
    fn read_fault(image: &mut Image) -> StoreResult<()> {
        if std::mem::take(&mut image.read_failure) {
            return Err(StoreError::Io("injected read failure".to_string()));
        }
        Ok(())
    }

    /// Disarms a failure armed by [`MemoryStore::fail_next_write`] that no write took.
    pub fn clear_failure(&self) {
        self.lock().failure = None;
    }

    fn lock(&self) -> MutexGuard<'_, Image> {
        lock(&self.image)
    }

    fn check_writable(&self) -> StoreResult<()> {
        if self.poisoned {
            return Err(StoreError::Io(
                "store refuses writes after an earlier i/o failure; reopen it".to_string(),
            ));
        }
        Ok(())
    }

    /// Runs one write under the lock, honouring an armed failure. Counts a sync for every
    /// write that reached the image and was acknowledged.
    fn write<T>(&mut self, apply: impl FnOnce(&mut Image) -> StoreResult<T>) -> StoreResult<T> {
        self.check_writable()?;
        let mut image = lock(&self.image);
        match image.failure.take() {
            None => {
                let value = apply(&mut image)?;
                self.syncs += 1;
                Ok(value)
            }
            Some(failure) => {
                if failure == InjectedFailure::Persisted {
                    apply(&mut image)?;
                }
                self.poisoned = true;
                Err(StoreError::Io(format!(
                    "injected i/o failure ({failure:?})"
                )))
            }
        }
    }
}

fn lock(image: &Mutex<Image>) -> MutexGuard<'_, Image> {
    // Every mutation is checked before it is applied, so a panic elsewhere cannot leave the
    // image half-written; the data behind a poisoned lock is still whole.
    image.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Image {
    /// Every check a commit makes, without changing anything. Returns the chains' new heads.
    fn check(&self, batch: &CommitBatch) -> StoreResult<BTreeMap<String, (u64, Digest)>> {
        if batch.epoch != self.epoch {
            return Err(StoreError::Fenced {
                ours: batch.epoch,
                current: self.epoch,
            });
        }
        // Heads as they will be after each run, so a batch may carry several runs of one
        // chain as long as each continues the previous one.
        let mut staged: BTreeMap<String, (u64, Digest)> = BTreeMap::new();
        for run in &batch.runs {
            let stored = staged
                .get(&run.chain)
                .or_else(|| self.heads.get(&run.chain))
                .copied()
                .unwrap_or((0, [0; 32]));
            if run.first_seq.checked_sub(1) != Some(stored.0) || run.prev_hash != stored.1 {
                return Err(StoreError::ChainConflict {
                    chain: run.chain.clone(),
                    expected_seq: run.first_seq.saturating_sub(1),
                    stored_seq: stored.0,
                });
            }
            staged.insert(run.chain.clone(), (run.last_seq, run.head_hash));
        }
        let mut ids = BTreeSet::new();
        for rejection in &batch.rejections {
            let id = &rejection.command_id;
            if self.rejections.contains_key(id) || !ids.insert(id) {
                return Err(StoreError::DuplicateRejection(id.clone()));
            }
        }
        Ok(staged)
    }

    fn apply(&mut self, batch: &CommitBatch, heads: BTreeMap<String, (u64, Digest)>) {
        for run in &batch.runs {
            self.runs.entry(run.chain.clone()).or_default().insert(
                run.first_seq,
                StoredRun {
                    chain: run.chain.clone(),
                    first_seq: run.first_seq,
                    last_seq: run.last_seq,
                    body: run.body.clone(),
                },
            );
        }
        self.heads.extend(heads);
        for rejection in &batch.rejections {
            self.rejections
                .insert(rejection.command_id.clone(), rejection.clone());
        }
        for record in &batch.personal {
            self.personal.insert(record.reference, record.clone());
        }
        for checkpoint in &batch.checkpoints {
            self.checkpoints.insert(
                (checkpoint.chain.clone(), checkpoint.seq),
                checkpoint.clone(),
            );
        }
    }

    fn runs_of(&self, chain: &str) -> impl Iterator<Item = &StoredRun> {
        self.runs
            .get(chain)
            .into_iter()
            .flat_map(|runs| runs.values())
    }
}

impl Store for MemoryStore {
    fn acquire_writer(&mut self) -> StoreResult<u64> {
        self.write(|image| {
            image.epoch = image
                .epoch
                .checked_add(1)
                .ok_or_else(|| StoreError::Corrupt("writer epoch is at its maximum".to_string()))?;
            Ok(image.epoch)
        })
    }

    fn writer_epoch(&self) -> StoreResult<u64> {
        Ok(self.lock().epoch)
    }

    fn commit(&mut self, batch: &CommitBatch) -> StoreResult<()> {
        batch.validate()?;
        self.check_writable()?;
        // Refusals (fencing, conflicts, duplicates) come before an armed failure fires: they
        // are answers about the batch, not writes.
        self.lock().check(batch)?;
        if batch.is_empty() {
            return Ok(());
        }
        // Checked again under the same lock as the write, so the two cannot disagree.
        self.write(|image| {
            let heads = image.check(batch)?;
            image.apply(batch, heads);
            Ok(())
        })
    }

    fn heads(&self) -> StoreResult<Vec<ChainHead>> {
        Ok(self
            .lock()
            .heads
            .iter()
            .map(|(chain, (seq, hash))| ChainHead {
                chain: chain.clone(),
                seq: *seq,
                hash: *hash,
            })
            .collect())
    }

    fn read_runs(&self, chain: &str, from_seq: u64) -> StoreResult<Vec<StoredRun>> {
        let mut image = self.lock();
        MemoryStore::read_fault(&mut image)?;
        Ok(image
            .runs_of(chain)
            .filter(|run| run.last_seq >= from_seq)
            .cloned()
            .collect())
    }

    fn run_containing(&self, chain: &str, seq: u64) -> StoreResult<Option<StoredRun>> {
        let mut image = self.lock();
        MemoryStore::read_fault(&mut image)?;
        let found = image
            .runs
            .get(chain)
            .and_then(|runs| runs.range(..=seq).next_back())
            .map(|(_, run)| run)
            .filter(|run| run.last_seq >= seq)
            .cloned();
        Ok(found)
    }

    fn rejection(&self, command_id: &str) -> StoreResult<Option<RejectionRecord>> {
        let mut image = self.lock();
        MemoryStore::read_fault(&mut image)?;
        Ok(image.rejections.get(command_id).cloned())
    }

    fn scan_rejections(&self, visit: &mut dyn FnMut(RejectionRecord)) -> StoreResult<()> {
        // Copy out first so the visitor may call back into the store.
        let all: Vec<RejectionRecord> = self.lock().rejections.values().cloned().collect();
        all.into_iter().for_each(visit);
        Ok(())
    }

    fn personal(&self, reference: &Digest) -> StoreResult<Option<PersonalRecord>> {
        Ok(self.lock().personal.get(reference).cloned())
    }

    fn erase_personal(&mut self, reference: &Digest) -> StoreResult<bool> {
        self.check_writable()?;
        if !self.lock().personal.contains_key(reference) {
            return Ok(false);
        }
        self.write(|image| Ok(image.personal.remove(reference).is_some()))
    }

    fn checkpoints(&self, chain: &str) -> StoreResult<Vec<CheckpointRecord>> {
        let image = self.lock();
        let from = (chain.to_string(), 0);
        Ok(image
            .checkpoints
            .range(from..)
            .take_while(|((c, _), _)| c == chain)
            .map(|(_, checkpoint)| checkpoint.clone())
            .collect())
    }

    fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.lock().meta.get(key).cloned())
    }

    fn meta_set(&mut self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.write(|image| {
            image.meta.insert(key.to_string(), value.to_vec());
            Ok(())
        })
    }

    fn sync_mode(&self) -> String {
        "memory (no disk; the image survives reopen, not the process)".to_string()
    }

    fn syncs(&self) -> u64 {
        self.syncs
    }
}
